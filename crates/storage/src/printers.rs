//! The store's printers as the manager page configures them: the hw-proxy
//! that drives each one, how that hw-proxy reaches it, and what prints on it
//! (receipts, for one register or for every register without its own, or
//! kitchen tickets). Whether the settings make sense for a printer (address,
//! width, code pages, logo) is hw-proxy's to judge; the api asks it before
//! calling [`put`].

use crate::audit;
use crate::db::{AnyConnection, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::{devices, printers};
use diesel::prelude::*;
use outpost_domain::Permission;
use serde::Serialize;

#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset, Serialize,
)]
#[diesel(table_name = printers, treat_none_as_null = true)]
pub struct Printer {
    pub id: String,
    pub hw_proxy_url: String,
    pub address: String,
    pub width: i32,
    pub code_pages: String,
    pub fallback: Option<String>,
    pub role: String,
    pub device_id: Option<String>,
    #[serde(skip)]
    pub logo_png: Option<Vec<u8>>,
    pub updated_at: i64,
    /// Removed on the page; the row stays until its hw-proxy let go of it.
    #[serde(skip)]
    pub removed_at: Option<i64>,
}

pub const ROLES: [&str; 2] = ["receipt", "kitchen"];

/// Every printer, by id.
pub fn list(conn: &mut AnyConnection) -> Result<Vec<Printer>> {
    Ok(printers::table
        .filter(printers::removed_at.is_null())
        .order(printers::id)
        .select(Printer::as_select())
        .load(conn)?)
}

/// Every printer and every removed one its hw-proxy still has.
pub fn with_removed(conn: &mut AnyConnection) -> Result<Vec<Printer>> {
    Ok(printers::table
        .order(printers::id)
        .select(Printer::as_select())
        .load(conn)?)
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Printer>> {
    Ok(printers::table
        .find(id)
        .filter(printers::removed_at.is_null())
        .select(Printer::as_select())
        .first(conn)
        .optional()?)
}

/// Forgets these removed printers: their hw-proxy has been handed a set
/// without them. One added again since keeps its row.
pub fn purge_removed(conn: &mut AnyConnection, ids: &[String]) -> Result<usize> {
    Ok(diesel::delete(
        printers::table
            .filter(printers::id.eq_any(ids))
            .filter(printers::removed_at.is_not_null()),
    )
    .execute(conn)?)
}

/// Adds or replaces a printer, audited. `p.updated_at` is set here.
pub fn put(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    mut p: Printer,
) -> Result<Printer> {
    actor.require(Permission::ManageDevices, "configure printers")?;
    if !ROLES.contains(&p.role.as_str()) {
        return Err(StorageError::Unprocessable(format!(
            "role {:?}: a printer prints `receipt` or `kitchen`",
            p.role
        )));
    }
    if p.role != "receipt" && p.device_id.is_some() {
        return Err(StorageError::Unprocessable(
            "only a receipt printer belongs to one register".into(),
        ));
    }
    p.updated_at = now_millis();
    p.removed_at = None;
    write_tx(conn, |conn| {
        if let Some(d) = &p.device_id {
            let active: i64 = devices::table
                .filter(devices::id.eq(d))
                .filter(devices::revoked_at.is_null())
                .count()
                .get_result(conn)?;
            if active == 0 {
                return Err(StorageError::Unprocessable(format!(
                    "device {d:?} is not an active register"
                )));
            }
        }
        let before = get(conn, &p.id)?;
        // A removed printer's row may still be there, waiting for its hw-proxy.
        let n = diesel::update(printers::table.find(&p.id))
            .set(&p)
            .execute(conn)?;
        if n == 0 {
            diesel::insert_into(printers::table)
                .values(&p)
                .execute(conn)?;
        }
        audit::by(
            conn,
            node,
            actor,
            if before.is_some() {
                "printer.changed"
            } else {
                "printer.added"
            },
            &p.id,
            serde_json::json!({
                "hw_proxy_url": p.hw_proxy_url,
                "address": p.address,
                "role": p.role,
                "device_id": p.device_id,
                "logo": p.logo_png.as_ref().map(Vec::len),
            }),
        )?;
        Ok(p)
    })
}

/// Removes a printer, audited; returns it. Its row stays, marked, until
/// its hw-proxy has been handed a set without it ([`purge_removed`]).
pub fn remove(conn: &mut AnyConnection, node: &Node, actor: &Actor, id: &str) -> Result<Printer> {
    actor.require(Permission::ManageDevices, "remove printers")?;
    write_tx(conn, |conn| {
        let p = get(conn, id)?.ok_or_else(|| StorageError::not_found(format!("printer {id:?}")))?;
        diesel::update(printers::table.find(id))
            .set(printers::removed_at.eq(now_millis()))
            .execute(conn)?;
        audit::by(
            conn,
            node,
            actor,
            "printer.removed",
            id,
            serde_json::json!({"hw_proxy_url": p.hw_proxy_url}),
        )?;
        Ok(p)
    })
}

/// Where a register's receipts print: its own receipt printer, else the
/// one for every register without its own.
pub fn for_receipts<'a>(all: &'a [Printer], device_id: &str) -> Option<&'a Printer> {
    let receipts = || all.iter().filter(|p| p.role == "receipt");
    receipts()
        .find(|p| p.device_id.as_deref() == Some(device_id))
        .or_else(|| receipts().find(|p| p.device_id.is_none()))
}

/// Whether any printer takes receipts (of one register or of all).
pub fn any_for_receipts(all: &[Printer]) -> bool {
    all.iter().any(|p| p.role == "receipt")
}

/// Where kitchen tickets print.
pub fn for_kitchen(all: &[Printer]) -> Option<&Printer> {
    all.iter().find(|p| p.role == "kitchen")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, role: &str, device: Option<&str>) -> Printer {
        Printer {
            id: id.into(),
            hw_proxy_url: "http://hw:7072".into(),
            address: "tcp://10.0.0.5:9100".into(),
            width: 48,
            code_pages: String::new(),
            fallback: None,
            role: role.into(),
            device_id: device.map(Into::into),
            logo_png: None,
            updated_at: 0,
            removed_at: None,
        }
    }

    #[test]
    fn a_register_prints_on_its_own_printer_else_on_the_shared_one() {
        let all = [
            p("bar", "kitchen", None),
            p("front", "receipt", None),
            p("till2", "receipt", Some("d2")),
        ];
        assert_eq!(for_receipts(&all, "d2").unwrap().id, "till2");
        assert_eq!(for_receipts(&all, "d1").unwrap().id, "front");
        assert_eq!(for_kitchen(&all).unwrap().id, "bar");
        assert!(for_receipts(&all[2..], "d1").is_none());
        assert!(for_kitchen(&all[1..]).is_none());
    }
}
