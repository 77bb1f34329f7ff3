//! What each kind of a register agent's event writes on the edge: the
//! till's rows, keyed by their ids, each checked to be its own register's,
//! merged with what the edge changed since (its flags on an order, the
//! kitchen's progress on a ticket); the price rule and PIN lockouts.

use super::AgentEvent;
use crate::audit::{self, AuditEntry};
use crate::db::AnyConnection;
use crate::error::{Result, StorageError};
use crate::kitchen::Ticket;
use crate::node::{Actor, Node};
use crate::sales::{self, LineRow, Order, OrderRow, PaymentRow};
use crate::schema::{
    audit_log, cash_movements, kitchen_tickets, order_lines, orders, payments, pin_attempts,
    products, shifts, staff, stock_movements,
};
use crate::shifts::Shift;
use crate::stock::Movement;
use crate::till_feed::upsert_row;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An event whose rows name one the edge does not have (a product, a
/// shift, an order it never got): the push is refused whole, saying which
/// (what the edge holds may change: it is not the event's own fault).
pub(super) fn named(e: &AgentEvent, err: StorageError) -> StorageError {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        StorageError::Db(Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)) => {
            StorageError::Conflict(format!(
                "event {} ({}) names something this edge does not have: {}",
                e.event_id,
                e.event_type,
                info.message()
            ))
        }
        other => other,
    }
}

fn parse<T: serde::de::DeserializeOwned>(e: &AgentEvent) -> Result<T> {
    serde_json::from_str(&e.payload).map_err(|err| {
        StorageError::Unprocessable(format!(
            "event {} ({}): its payload is not what that event carries: {err}",
            e.event_id, e.event_type
        ))
    })
}

/// The shift a Z report closes (the rest of the report is the agent's).
#[derive(Deserialize)]
struct Closed {
    shift: Shift,
}

/// Cash put in or taken out of a drawer during a shift.
#[derive(Deserialize)]
struct CashMoved {
    shift: String,
    amount_minor: i64,
    reason: String,
}

/// Writes an event's rows on the edge as the agent wrote them on the till.
/// Events without rows of their own here (a customer the till made, a
/// newer agent's kind) are only handed on.
///
/// Returns the payload to hand on when the edge's state differs from the
/// till's (the edge flagged the order, or the kitchen moved the ticket on):
/// the merged row, with its version past both.
pub(super) fn materialize(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    e: &AgentEvent,
) -> Result<Option<(String, i64)>> {
    let device = actor.device()?;
    let not_ours = |what: &str| {
        StorageError::Unprocessable(format!(
            "event {}: {what} belongs to another register",
            e.event_id
        ))
    };
    match e.event_type.as_str() {
        t if t.starts_with("order.") => {
            let o: Order = parse(e)?;
            if o.order.device_id != device || o.order.id != e.aggregate_id {
                return Err(not_ours(&format!("order {}", o.order.number)));
            }
            let merged = order(conn, node, actor, &o)?;
            if t == "order.created" {
                price_rule(conn, node, actor, &o)?;
            }
            return Ok(merged);
        }
        "stock.moved" => {
            let moves: Vec<Movement> = parse(e)?;
            for m in moves {
                let here = stock_movements::table
                    .find(&m.id)
                    .count()
                    .get_result::<i64>(conn)?;
                if here == 0 {
                    diesel::insert_into(stock_movements::table)
                        .values((
                            stock_movements::id.eq(&m.id),
                            stock_movements::product_id.eq(&m.product_id),
                            stock_movements::qty_milli.eq(m.qty_milli),
                            stock_movements::reason.eq(&m.reason),
                            stock_movements::ref_id.eq(&m.ref_id),
                            stock_movements::staff_id.eq(Some(&actor.staff_id)),
                            stock_movements::at.eq(e.occurred_at),
                        ))
                        .execute(conn)?;
                }
            }
        }
        t if t.starts_with("ticket.") => {
            let t: Ticket = parse(e)?;
            let of: Option<String> = orders::table
                .find(&t.order_id)
                .select(orders::device_id)
                .first(conn)
                .optional()?;
            match of.as_deref() {
                None => {
                    return Err(StorageError::Unprocessable(format!(
                        "event {}: kitchen ticket {} names an order this edge does not have",
                        e.event_id, t.order_number
                    )));
                }
                Some(d) if d != device || t.id != e.aggregate_id => {
                    return Err(not_ours(&format!("kitchen ticket {}", t.order_number)));
                }
                Some(_) => {}
            }
            return ticket(conn, t);
        }
        "shift.opened" | "shift.closed" => {
            let shift = if e.event_type == "shift.opened" {
                parse::<Shift>(e)?
            } else {
                parse::<Closed>(e)?.shift
            };
            let stored: Option<String> = shifts::table
                .find(&shift.id)
                .select(shifts::device_id)
                .first(conn)
                .optional()?;
            if shift.device_id != device || stored.is_some_and(|d| d != device) {
                return Err(not_ours("a shift"));
            }
            if e.event_type == "shift.opened" {
                close_orphans(conn, node, actor, &shift)?;
            }
            upsert_row!(conn, shifts, id, Shift, value(&shift)?);
        }
        "shift.cash_moved" => {
            let m: CashMoved = parse(e)?;
            let of: Option<String> = shifts::table
                .find(&m.shift)
                .select(shifts::device_id)
                .first(conn)
                .optional()?;
            if of.as_deref() != Some(device) {
                return Err(not_ours("a shift"));
            }
            let here = cash_movements::table
                .find(&e.event_id)
                .count()
                .get_result::<i64>(conn)?;
            if here == 0 {
                diesel::insert_into(cash_movements::table)
                    .values((
                        cash_movements::id.eq(&e.event_id),
                        cash_movements::shift_id.eq(&m.shift),
                        cash_movements::amount_minor.eq(m.amount_minor),
                        cash_movements::reason.eq(&m.reason),
                        cash_movements::staff_id.eq(&actor.staff_id),
                        cash_movements::at.eq(e.occurred_at),
                    ))
                    .execute(conn)?;
            }
        }
        "audit.recorded" => {
            let mut a: AuditEntry = parse(e)?;
            // Recorded at this till, whatever the entry says.
            a.device_id = Some(device.to_owned());
            let here = audit_log::table
                .find(&a.id)
                .count()
                .get_result::<i64>(conn)?;
            if here == 0 {
                diesel::insert_into(audit_log::table)
                    .values(&a)
                    .execute(conn)?;
                if a.action == "staff.locked_out" {
                    lockout(conn, device, &a)?;
                }
            }
        }
        _ => {}
    }
    Ok(None)
}

/// A kitchen ticket as the till has it. The kitchen works the ticket on the
/// edge: when the edge's is as new or newer, a cancellation from the till
/// (the order voided) still stops it, anything else of the till's is older
/// news; the merged ticket is handed on.
fn ticket(conn: &mut AnyConnection, t: Ticket) -> Result<Option<(String, i64)>> {
    let stored: Option<Ticket> = kitchen_tickets::table
        .find(&t.id)
        .select(Ticket::as_select())
        .first(conn)
        .optional()?;
    let Some(mut here) = stored.filter(|h| h.version >= t.version) else {
        upsert_row!(conn, kitchen_tickets, id, Ticket, value(&t)?);
        return Ok(None);
    };
    if t.status == crate::kitchen::CANCELLED && here.status != crate::kitchen::CANCELLED {
        here.status = t.status;
        here.updated_at = crate::db::now_millis();
        here.version += 1;
        upsert_row!(conn, kitchen_tickets, id, Ticket, value(&here)?);
    }
    Ok(Some((to_text(&here)?, here.version)))
}

/// A till opens a shift only with none open, so another of its shifts
/// open here is one the till lost (its disk restored from an older copy):
/// closed here, uncounted, audited, so the till's new shift can open.
fn close_orphans(conn: &mut AnyConnection, node: &Node, actor: &Actor, new: &Shift) -> Result<()> {
    let open: Vec<String> = shifts::table
        .filter(shifts::device_id.eq(&new.device_id))
        .filter(shifts::closed_at.is_null())
        .filter(shifts::id.ne(&new.id))
        .select(shifts::id)
        .load(conn)?;
    for id in open {
        diesel::update(shifts::table.find(&id))
            .set((
                shifts::closed_at.eq(Some(new.opened_at)),
                shifts::closed_by.eq(Some(&new.opened_by)),
                shifts::version.eq(shifts::version + 1),
            ))
            .execute(conn)?;
        audit::by(
            conn,
            node,
            actor,
            "shift.closed_as_lost",
            &id,
            serde_json::json!({"why": "the till opened another shift: it no longer had this one", "by_shift": new.id}),
        )?;
    }
    Ok(())
}

fn to_text(v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// A PIN lockout the till counted (with the edge away or not): the edge
/// adds it to the staff member's count on that till, so the manager page
/// shows it and can lift it. A later or longer lockout here stands.
fn lockout(conn: &mut AnyConnection, device: &str, a: &AuditEntry) -> Result<()> {
    #[derive(Deserialize)]
    struct Locked {
        failures: i32,
        seconds: i64,
    }
    let (Some(staff_id), Ok(l)) = (&a.staff_id, serde_json::from_str::<Locked>(&a.detail)) else {
        return Ok(());
    };
    // Counted before a manager lifted this person's lockouts: lifted.
    let unlocked: Option<i64> = staff::table
        .find(staff_id)
        .select(staff::pins_unlocked_at)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
    if unlocked.is_some_and(|at| a.at <= at) {
        return Ok(());
    }
    // On this till only, and never longer than the longest lockout there is.
    let seconds = l.seconds.clamp(0, 3600);
    let until = a.at.min(crate::db::now_millis()) + seconds * 1000;
    let l = Locked {
        failures: l.failures.clamp(0, 1000),
        seconds,
    };
    let device = device.to_owned();
    let here: Option<(i32, i64)> = pin_attempts::table
        .find((staff_id, &device))
        .select((pin_attempts::failures, pin_attempts::locked_until))
        .first(conn)
        .optional()?;
    let (failures, until) = here.map_or((l.failures, until), |(f, u)| {
        (f.max(l.failures), u.max(until))
    });
    diesel::delete(pin_attempts::table.find((staff_id, &device))).execute(conn)?;
    diesel::insert_into(pin_attempts::table)
        .values((
            pin_attempts::staff_id.eq(staff_id),
            pin_attempts::device_key.eq(&device),
            pin_attempts::failures.eq(failures),
            pin_attempts::locked_until.eq(until),
        ))
        .execute(conn)?;
    Ok(())
}

/// The order as the event has it: its row, lines and payments, each
/// written by id (inserted, or brought to the event's state).
///
/// A number another order already has here (a till restored from an older
/// copy that sold before it could ask the edge) keeps both: this one is
/// stored as `NUMBER/xxxxxx` (the end of its id), flagged for a manager,
/// and audited.
///
/// The edge's own marks on the order (flagged for a manager: a price
/// override, a revoked register, a number kept beside another's) stay, and
/// when the edge changed it since, its version goes past both and the
/// merged order is what is handed on (the cloud takes an order only at a
/// higher version).
fn order(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    o: &Order,
) -> Result<Option<(String, i64)>> {
    let mut row = o.order.clone();
    let stored: Option<OrderRow> = orders::table
        .find(&row.id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?;
    let mut merged = false;
    if let Some(here) = &stored {
        row.number = here.number.clone();
        row.needs_adjustment |= here.needs_adjustment;
        if here.version >= row.version {
            row.version = here.version + 1;
            merged = true;
        }
    } else if orders::table
        .filter(orders::number.eq(&row.number))
        .count()
        .get_result::<i64>(conn)?
        > 0
    {
        let till_number = std::mem::take(&mut row.number);
        row.number = format!(
            "{till_number}/{}",
            &row.id[row.id.len().saturating_sub(6)..]
        );
        row.needs_adjustment = true;
        audit::by(
            conn,
            node,
            actor,
            "order.number_collision",
            &row.id,
            serde_json::json!({"till_number": till_number, "stored_as": row.number}),
        )?;
    }
    // Lines and payments are this order's: an id another order has here is
    // not the till's to take.
    let line_ids: Vec<&str> = o.lines.iter().map(|l| l.id.as_str()).collect();
    let pay_ids: Vec<&str> = o.payments.iter().map(|p| p.id.as_str()).collect();
    let foreign = order_lines::table
        .filter(order_lines::id.eq_any(&line_ids))
        .filter(order_lines::order_id.ne(&row.id))
        .count()
        .get_result::<i64>(conn)?
        + payments::table
            .filter(payments::id.eq_any(&pay_ids))
            .filter(payments::order_id.ne(&row.id))
            .count()
            .get_result::<i64>(conn)?;
    if foreign > 0
        || o.lines.iter().any(|l| l.order_id != row.id)
        || o.payments.iter().any(|p| p.order_id != row.id)
    {
        return Err(StorageError::Unprocessable(format!(
            "order {}: its lines and payments must be its own",
            row.number
        )));
    }
    upsert_row!(conn, orders, id, OrderRow, value(&row)?);
    for l in &o.lines {
        upsert_row!(conn, order_lines, id, LineRow, value(l)?);
    }
    for p in &o.payments {
        upsert_row!(conn, payments, id, PaymentRow, value(p)?);
    }
    if !merged && row.number == o.order.number && row.needs_adjustment == o.order.needs_adjustment {
        return Ok(None);
    }
    let now = sales::get(conn, &row.id)?;
    Ok(Some((to_text(&now)?, now.order.version)))
}

/// A row as JSON, for `upsert_row!`.
fn value(row: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(row).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// A line sold at a list price the edge no longer has (it changed while the
/// till was away): the order keeps what the customer paid and is flagged
/// for a manager, with the lines and both prices.
fn price_rule(conn: &mut AnyConnection, node: &Node, actor: &Actor, o: &Order) -> Result<()> {
    let ids: Vec<&str> = o.lines.iter().map(|l| l.product_id.as_str()).collect();
    let now: BTreeMap<String, i64> = products::table
        .filter(products::id.eq_any(&ids))
        .select((products::id, products::price_minor))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let changed: Vec<serde_json::Value> = o
        .lines
        .iter()
        .filter_map(|l| {
            let edge = *now.get(&l.product_id)?;
            (edge != l.list_price_minor).then(|| {
                serde_json::json!({
                    "sku": l.sku,
                    "till_list": l.list_price_minor,
                    "edge_list": edge,
                    "charged": l.unit_price_minor,
                })
            })
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    sales::flag_for_adjustment(
        conn,
        node,
        actor,
        &o.order.id,
        "order.price_override",
        serde_json::json!({"number": o.order.number, "lines": changed, "why": "sold at the till's price while the edge had another"}),
    )
}
