//! Kitchen tickets: pending → preparing → ready → served, or cancelled when
//! their order is voided (so the kitchen stops cooking it).

use crate::db::{AnyConnection, new_id, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::outbox::{self, Event, Stream};
use crate::schema::kitchen_tickets as kt;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

pub const STATUSES: [&str; 4] = ["pending", "preparing", "ready", "served"];

/// A ticket whose order was voided; final, like `served`.
pub const CANCELLED: &str = "cancelled";

/// How long a cancelled ticket stays on the screens, so cooks see it stop.
const CANCELLED_SHOWN_MS: i64 = 30 * 60 * 1000;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = kt, treat_none_as_null = true)]
pub struct Ticket {
    pub id: String,
    pub order_id: String,
    pub order_number: String,
    pub status: String,
    pub lines_json: String,
    pub note: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    /// When a register agent printed it as a slip at the till, the edge
    /// being away (it is then made `preparing`). Absent before schema 3.
    #[serde(default)]
    pub printed_at_register: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketLine {
    pub name: String,
    pub qty_milli: i64,
}

/// The ticket for an order's kitchen lines and its event, for the sale to
/// write with its other rows (see [`table`]).
pub(crate) fn new_ticket(
    node: &Node,
    actor: &Actor,
    order_id: &str,
    number: &str,
    lines: &[TicketLine],
    note: &str,
) -> Result<(Ticket, outbox::Prepared)> {
    let now = now_millis();
    // Sold at a till whose edge is away: the till prints the slip, and the
    // kitchen takes it from paper (already preparing when the edge gets it).
    let at_register = node.upstream_away().then_some(now);
    let t = Ticket {
        id: new_id(),
        order_id: order_id.to_owned(),
        order_number: number.to_owned(),
        status: if at_register.is_some() {
            "preparing".into()
        } else {
            "pending".into()
        },
        lines_json: serde_json::to_string(lines)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        note: note.to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
        printed_at_register: at_register,
    };
    let ev = prepare(node, actor, &t, "ticket.created")?;
    Ok((t, ev))
}

/// The ticket as a row for [`crate::bulk::write`].
pub(crate) fn table(t: &Ticket) -> crate::bulk::Table {
    use crate::bulk::Col;
    let text = |s: &str| Col::Text(vec![s.to_owned()]);
    crate::bulk::Table::new(
        "kitchen_tickets",
        vec![
            ("id", text(&t.id)),
            ("order_id", text(&t.order_id)),
            ("order_number", text(&t.order_number)),
            ("status", text(&t.status)),
            ("lines_json", text(&t.lines_json)),
            ("note", text(&t.note)),
            ("created_at", Col::Big(vec![t.created_at])),
            ("updated_at", Col::Big(vec![t.updated_at])),
            ("version", Col::Big(vec![t.version])),
            (
                "printed_at_register",
                Col::OptBig(vec![t.printed_at_register]),
            ),
        ],
    )
}

fn prepare(node: &Node, actor: &Actor, t: &Ticket, kind: &str) -> Result<outbox::Prepared> {
    outbox::prepare(
        node,
        node.tick(),
        Event {
            stream: Stream::Kitchen,
            aggregate_type: "kitchen_ticket",
            aggregate_id: &t.id,
            aggregate_version: t.version,
            event_type: kind,
            actor: &actor.staff_id,
            device_id: actor.device_id.as_deref(),
            payload: t,
        },
    )
}

/// Moves a ticket one step on (or to a later status); never backwards.
pub fn set_status(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    id: &str,
    status: &str,
) -> Result<Ticket> {
    let to = STATUSES.iter().position(|s| *s == status).ok_or_else(|| {
        StorageError::Unprocessable(format!("status must be one of {STATUSES:?}"))
    })?;
    write_tx(conn, |conn| {
        let mut t = kt::table
            .find(id)
            .select(Ticket::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| StorageError::not_found(format!("kitchen ticket {id:?}")))?;
        if t.status == CANCELLED {
            return Err(StorageError::Conflict(
                "the order was voided: this ticket is cancelled".into(),
            ));
        }
        let from = STATUSES.iter().position(|s| *s == t.status).unwrap_or(0);
        if to <= from {
            return Err(StorageError::Conflict(format!(
                "ticket is already {}",
                t.status
            )));
        }
        t.status = status.to_owned();
        t.version += 1;
        t.updated_at = now_millis();
        diesel::update(kt::table.find(id))
            .set((
                kt::status.eq(&t.status),
                kt::version.eq(t.version),
                kt::updated_at.eq(t.updated_at),
            ))
            .execute(conn)?;
        outbox::write(
            conn,
            vec![prepare(node, actor, &t, "ticket.status_changed")?],
        )?;
        Ok(t)
    })
}

/// Cancels the unserved tickets of a voided order and returns their events,
/// for the void to write with its others. Call inside the void's transaction.
pub fn cancel_for_order(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    order_id: &str,
) -> Result<Vec<outbox::Prepared>> {
    let open: Vec<Ticket> = kt::table
        .filter(kt::order_id.eq(order_id))
        .filter(kt::status.ne_all(["served", CANCELLED]))
        .select(Ticket::as_select())
        .load(conn)?;
    let now = now_millis();
    let mut events = Vec::with_capacity(open.len());
    for mut t in open {
        t.status = CANCELLED.to_owned();
        t.version += 1;
        t.updated_at = now;
        diesel::update(kt::table.find(&t.id))
            .set((
                kt::status.eq(&t.status),
                kt::version.eq(t.version),
                kt::updated_at.eq(now),
            ))
            .execute(conn)?;
        events.push(prepare(node, actor, &t, "ticket.cancelled")?);
    }
    Ok(events)
}

/// Tickets not yet served (and those cancelled in the last half hour), oldest
/// first.
pub fn open_tickets(conn: &mut AnyConnection, limit: i64) -> Result<Vec<Ticket>> {
    let shown_since = now_millis() - CANCELLED_SHOWN_MS;
    Ok(kt::table
        .filter(kt::status.ne("served"))
        .filter(kt::status.ne(CANCELLED).or(kt::updated_at.ge(shown_since)))
        .order(kt::created_at.asc())
        .limit(limit)
        .select(Ticket::as_select())
        .load(conn)?)
}
