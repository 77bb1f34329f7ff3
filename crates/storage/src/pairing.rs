//! One-time pairing codes. A manager makes a code on the manager page for a
//! device to be (its name and kind); whoever types it on that device within
//! its time gets the device's token, once. No PIN is typed on the device,
//! so pairing is no PIN oracle. Only the code's hash is kept; both steps
//! are audited, the pairing in the name of the manager who made the code.

use crate::audit;
use crate::db::{AnyConnection, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::{pairing_codes, staff as staff_table};
use crate::secrets;
use crate::staff::{self, Paired};
use diesel::prelude::*;
use outpost_domain::{Permission, Role};
use serde::Serialize;

/// How long a code may wait for its device, unless the settings say.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// A code as made: shown once, to the manager who made it.
#[derive(Debug, Clone, Serialize)]
pub struct Code {
    /// As the manager reads it out (`7KQ4M-X2P9C`).
    pub code: String,
    pub name: String,
    pub kind: String,
    pub expires_at: i64,
}

/// Makes a one-time code for a device of `kind` named `name`, good for
/// `ttl_ms`. Audited.
pub fn create_code(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    name: &str,
    kind: &str,
    ttl_ms: i64,
) -> Result<Code> {
    actor.require(Permission::ManageDevices, "pair devices")?;
    staff::check_device(name, kind)?;
    let code = secrets::new_pairing_code();
    let one = secrets::pairing_code(&code).expect("a new code reads back");
    let now = now_millis();
    let expires_at = now + ttl_ms.max(1);
    write_tx(conn, |conn| {
        diesel::insert_into(pairing_codes::table)
            .values((
                pairing_codes::code_hash.eq(secrets::hash_token(&one)),
                pairing_codes::kind.eq(kind),
                pairing_codes::name.eq(name),
                pairing_codes::created_by.eq(&actor.staff_id),
                pairing_codes::created_at.eq(now),
                pairing_codes::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        audit::by(
            conn,
            node,
            actor,
            "device.pairing_code",
            name,
            serde_json::json!({"name": name, "kind": kind, "expires_at": expires_at}),
        )
    })?;
    Ok(Code {
        code,
        name: name.to_owned(),
        kind: kind.to_owned(),
        expires_at,
    })
}

/// Pairs the device a code was made for: its token, once. A code that is
/// unknown, used or past its time pairs nothing and says only that. With
/// `kind`, a code made for another kind of device is refused and stays
/// good (a kitchen display's code typed on a register).
pub fn redeem(
    conn: &mut AnyConnection,
    node: &Node,
    typed: &str,
    kind: Option<&str>,
) -> Result<Paired> {
    let refused = || {
        StorageError::Forbidden(
            "use a pairing code that is new: this one is unknown, used or expired \
             (a manager makes one on the manager page, Registers)"
                .into(),
        )
    };
    let one = secrets::pairing_code(typed).ok_or_else(refused)?;
    let hash = secrets::hash_token(&one);
    write_tx(conn, |conn| {
        let now = now_millis();
        let made_for: Option<String> = pairing_codes::table
            .find(&hash)
            .filter(pairing_codes::used_at.is_null())
            .filter(pairing_codes::expires_at.gt(now))
            .select(pairing_codes::kind)
            .first(conn)
            .optional()?;
        if let (Some(want), Some(made)) = (kind, &made_for)
            && want != made.as_str()
        {
            return Err(StorageError::Unprocessable(format!(
                "this code pairs a {made}, not a {want}: type it on that device, or make a code for a {want}"
            )));
        }
        // Claimed by the update itself: two devices typing one code at once
        // cannot both get past it.
        let claimed = diesel::update(
            pairing_codes::table
                .find(&hash)
                .filter(pairing_codes::used_at.is_null())
                .filter(pairing_codes::expires_at.gt(now)),
        )
        .set(pairing_codes::used_at.eq(now))
        .execute(conn)?;
        if claimed == 0 {
            return Err(refused());
        }
        let (name, device_kind, by): (String, String, String) = pairing_codes::table
            .find(&hash)
            .select((
                pairing_codes::name,
                pairing_codes::kind,
                pairing_codes::created_by,
            ))
            .first(conn)?;
        // The maker must still be allowed to pair devices: a code outlives
        // nobody's rights.
        let (role, active): (String, bool) = staff_table::table
            .find(&by)
            .select((staff_table::role, staff_table::active))
            .first(conn)?;
        let maker = Actor {
            staff_id: by,
            role: Role::parse(&role).map_err(|e| StorageError::Corrupt(e.to_string()))?,
            device_id: None,
        };
        if !active || !maker.role.allows(Permission::ManageDevices) {
            return Err(StorageError::Forbidden(
                "the manager who made this pairing code may no longer pair devices: ask another for a new code"
                    .into(),
            ));
        }
        let paired = staff::new_device(conn, node, &name, &device_kind)?;
        diesel::update(pairing_codes::table.find(&hash))
            .set(pairing_codes::device_id.eq(&paired.device.id))
            .execute(conn)?;
        audit::by(
            conn,
            node,
            &maker,
            "device.paired",
            &paired.device.id,
            serde_json::json!({"name": name, "kind": device_kind, "by": "pairing code"}),
        )?;
        Ok(paired)
    })
}
