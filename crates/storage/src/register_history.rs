//! What the edge holds of a till and the till lost comes back down to it.
//!
//! A till restored from an older copy of its database takes a new epoch at
//! hello (`agent::hello`, or `agent::fork` after a refused push) and numbers
//! on past the edge's highest; the sales it made after that copy are on the
//! edge only. [`page`] answers, on the edge, the till's own orders (from a
//! given day, by number) with the shifts they and their payments name and
//! the registers of those shifts; [`install`] writes them into the till's
//! database as history: no outbox event, never sent back up. The till then
//! shows them under its recent orders and refunds against them (with what
//! was refunded already, so nothing is returned twice). An order the till
//! holds at the same or a newer version keeps the till's.

use crate::db::{AnyConnection, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::sales::{self, LineRow, Order, OrderRow, PaymentRow};
use crate::schema::{agent_link, customers, devices, node, order_lines, orders, payments, shifts};
use crate::shifts::Shift;
use crate::till_feed::upsert_row;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The shape of [`History`]; a till takes this one and the one before.
pub const SCHEMA: i32 = 1;

/// The most orders one page holds.
pub const PAGE_MAX: i64 = 200;

/// A register an order's shift or payment names (another till, a tablet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Queryable)]
pub struct Register {
    pub id: String,
    pub register_no: i32,
    pub name: String,
    pub kind: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// One page of a till's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct History {
    pub schema: i32,
    pub orders: Vec<Order>,
    pub shifts: Vec<Shift>,
    pub registers: Vec<Register>,
    /// The number to ask after for the next page; `None`: this was the last.
    pub next: Option<String>,
}

/// On the edge: the orders of the register `device_id` made at or after
/// `since` (ms), numbered after `after`, at most `limit` (1 to
/// [`PAGE_MAX`]), with what they name.
pub fn page(
    conn: &mut AnyConnection,
    device_id: &str,
    since: i64,
    after: &str,
    limit: i64,
) -> Result<History> {
    let limit = limit.clamp(1, PAGE_MAX);
    let mut ids: Vec<(String, String)> = orders::table
        .filter(orders::device_id.eq(device_id))
        .filter(orders::created_at.ge(since))
        .filter(orders::number.gt(after))
        .order(orders::number)
        .limit(limit + 1)
        .select((orders::id, orders::number))
        .load(conn)?;
    let more = ids.len() as i64 > limit;
    ids.truncate(limit as usize);
    let orders = ids
        .iter()
        .map(|(id, _)| sales::get(conn, id))
        .collect::<Result<Vec<Order>>>()?;
    let shift_ids: BTreeSet<&str> = orders
        .iter()
        .flat_map(|o| {
            std::iter::once(o.order.shift_id.as_str())
                .chain(o.payments.iter().map(|p| p.shift_id.as_str()))
        })
        .collect();
    let mut shifts: Vec<Shift> = shifts::table
        .filter(shifts::id.eq_any(&shift_ids))
        .order(shifts::opened_at)
        .select(Shift::as_select())
        .load(conn)?;
    // Another register's drawer counts are not this till's to read.
    for s in shifts.iter_mut().filter(|s| s.device_id != device_id) {
        s.counted_cash_minor = None;
        s.expected_cash_minor = None;
    }
    let others: BTreeSet<&str> = shifts
        .iter()
        .map(|s| s.device_id.as_str())
        .filter(|d| *d != device_id)
        .collect();
    let registers = devices::table
        .filter(devices::id.eq_any(&others))
        .select((
            devices::id,
            devices::register_no,
            devices::name,
            devices::kind,
            devices::created_at,
            devices::revoked_at,
        ))
        .load::<Register>(conn)?;
    Ok(History {
        schema: SCHEMA,
        next: more.then(|| ids.last().map(|(_, n)| n.clone())).flatten(),
        orders,
        shifts,
        registers,
    })
}

/// On the till: whether history is due (an epoch was taken since it last
/// came down).
pub fn due(conn: &mut AnyConnection) -> Result<bool> {
    Ok(agent_link::table
        .select(agent_link::history_due)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(false))
}

/// On the till: all of it came down.
pub fn done(conn: &mut AnyConnection) -> Result<()> {
    diesel::update(agent_link::table)
        .set(agent_link::history_due.eq(false))
        .execute(conn)?;
    Ok(())
}

/// On the till: writes one page as history, in one transaction. Returns how
/// many orders it wrote (new, or newer than the till's).
pub fn install(conn: &mut AnyConnection, h: &History) -> Result<usize> {
    if !(SCHEMA - 1..=SCHEMA).contains(&h.schema) {
        return Err(StorageError::Unprocessable(format!(
            "a history page of schema {} (this till takes {} and {})",
            h.schema,
            SCHEMA - 1,
            SCHEMA
        )));
    }
    write_tx(conn, |conn| {
        let store: String = node::table.select(node::store_id).first(conn)?;
        for r in &h.registers {
            let here = devices::table.find(&r.id).count().get_result::<i64>(conn)?;
            if here == 0 {
                // Named only: no token here can act as it.
                let (_, unusable) = crate::secrets::new_token();
                diesel::insert_into(devices::table)
                    .values((
                        devices::id.eq(&r.id),
                        devices::store_id.eq(&store),
                        devices::register_no.eq(r.register_no),
                        devices::name.eq(&r.name),
                        devices::kind.eq(&r.kind),
                        devices::token_hash.eq(unusable),
                        devices::last_seq.eq(0),
                        devices::created_at.eq(r.created_at),
                        devices::revoked_at.eq(r.revoked_at.or(Some(now_millis()))),
                    ))
                    .execute(conn)?;
            }
        }
        // Closed ones first: the one this copy still has open may be closed
        // on the edge, before the edge's open one comes in.
        let mut shifts: Vec<&Shift> = h.shifts.iter().collect();
        shifts.sort_by_key(|s| s.closed_at.is_none());
        for s in shifts {
            let here: Option<i64> = shifts::table
                .find(&s.id)
                .select(shifts::version)
                .first(conn)
                .optional()?;
            if here.is_some_and(|v| v >= s.version) {
                continue;
            }
            let mut s = s.clone();
            // Open on the edge while another of this register is open here
            // (opened since the copy): the till lost it, and the edge closes
            // it when the till's own shift reaches it. Kept closed here.
            let other_open = shifts::table
                .filter(shifts::device_id.eq(&s.device_id))
                .filter(shifts::closed_at.is_null())
                .filter(shifts::id.ne(&s.id))
                .count()
                .get_result::<i64>(conn)?;
            if s.closed_at.is_none() && other_open > 0 {
                s.closed_at = Some(now_millis());
                s.closed_by = Some(s.opened_by.clone());
            }
            upsert_row!(conn, shifts, id, Shift, value(&s)?);
        }
        let mut written = 0;
        for o in &h.orders {
            let here: Option<i64> = orders::table
                .find(&o.order.id)
                .select(orders::version)
                .first(conn)
                .optional()?;
            if here.is_some_and(|v| v >= o.order.version) {
                continue;
            }
            let taken = orders::table
                .filter(orders::number.eq(&o.order.number))
                .filter(orders::id.ne(&o.order.id))
                .count()
                .get_result::<i64>(conn)?;
            if taken > 0 {
                tracing::warn!(number = %o.order.number, "a sale in the edge's history has a number this till gave another: left out");
                continue;
            }
            let mut row = o.order.clone();
            // The till holds no customer accounts.
            if let Some(c) = &row.customer_id
                && customers::table.find(c).count().get_result::<i64>(conn)? == 0
            {
                row.customer_id = None;
            }
            upsert_row!(conn, orders, id, OrderRow, value(&row)?);
            for l in &o.lines {
                upsert_row!(conn, order_lines, id, LineRow, value(l)?);
            }
            for p in &o.payments {
                upsert_row!(conn, payments, id, PaymentRow, value(p)?);
            }
            written += 1;
        }
        Ok(written)
    })
}

fn value(row: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(row).map_err(|e| StorageError::Corrupt(e.to_string()))
}
