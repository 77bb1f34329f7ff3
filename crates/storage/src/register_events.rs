//! A register agent's events arriving at the edge (issue 28).
//!
//! An agent commits every sale, payment, refund, shift and stock change to
//! its own database with its outbox event, numbers its orders itself, and
//! pushes the events here in its commit order. The edge:
//! - applies them in order per agent epoch and stream: an event at the next
//!   position applies, one at or before it is a repeat (answered, not
//!   applied again), one after it is a gap and the whole push is refused
//!   with where each stream stands, so the agent sends what is missing;
//! - writes each event's rows as the agent wrote them (the order with its
//!   number, lines and payments; stock movements; the kitchen ticket; the
//!   shift; the audit entry), keyed by their ids;
//! - hands each event on in its own outbox with the agent's event id, so
//!   the cloud sees the ids the till made (positions are the edge's own);
//! - applies the price rule: a line sold at a list price the edge no longer
//!   has (changed while the till was away) flags the order for a manager's
//!   review, with an audit entry and an event of its own.
//!
//! A push is one transaction: it applies whole or not at all.

use crate::audit::{self, AuditEntry};
use crate::db::{AnyConnection, write_tx};
use crate::error::{Result, StorageError};
use crate::kitchen::Ticket;
use crate::node::{Actor, Node};
use crate::outbox::{self, StoredEvent};
use crate::sales::{self, LineRow, Order, OrderRow, PaymentRow};
use crate::schema::{
    audit_log, cash_movements, kitchen_tickets, order_lines, orders, payments, pin_attempts,
    products, register_marks, register_refusals, shifts, stock_movements,
};
use crate::secrets::sha256_hex;
use crate::shifts::Shift;
use crate::stock::Movement;
use crate::till_feed::upsert_row;
use diesel::prelude::*;
use outpost_domain::{Hlc, Role, Stream};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shape of [`Push`] and [`Pushed`]; the edge takes this one and the one
/// before.
pub const SCHEMA: i32 = 1;

/// Said when a push repeats a position with another event: the agent
/// then moves what it has not pushed to a new epoch (`agent::fork`).
pub const REWOUND: &str = "the till's database went back to an older copy";

/// How far ahead of the edge's wall clock a till's event time may pull the
/// edge's clock (5 minutes).
const MAX_AHEAD_MS: i64 = 300_000;

/// The events a register agent may send: its own sales, stock movements,
/// kitchen tickets, shifts and audit entries, never master data.
const ALLOWED: [(&str, &str, &str); 5] = [
    ("sales", "order", "order."),
    ("stock", "stock", "stock.moved"),
    ("kitchen", "kitchen_ticket", "ticket."),
    ("shifts", "shift", "shift."),
    ("audit", "audit", "audit.recorded"),
];

/// The most events one push carries.
pub const PUSH_MAX: usize = 500;

/// One event as the agent wrote it in its outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEvent {
    pub event_id: String,
    pub stream: String,
    /// Its position in the agent's stream (of the push's epoch).
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub aggregate_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub occurred_at: i64,
    pub hlc: i64,
    pub actor: String,
    pub payload: String,
    pub payload_sha256: String,
}

impl AgentEvent {
    /// An event of the agent's own outbox, as it pushes it. `None` for one
    /// that has no position yet (never on SQLite, where the writing
    /// transaction takes it).
    pub fn of(e: StoredEvent) -> Option<AgentEvent> {
        Some(AgentEvent {
            position: e.position?,
            event_id: e.event_id,
            stream: e.stream,
            aggregate_type: e.aggregate_type,
            aggregate_id: e.aggregate_id,
            aggregate_version: e.aggregate_version,
            event_type: e.event_type,
            schema_version: e.schema_version,
            occurred_at: e.occurred_at,
            hlc: e.hlc,
            actor: e.actor,
            payload: e.payload,
            payload_sha256: e.payload_sha256,
        })
    }
}

/// What an agent sends: its epoch and events in its commit order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push {
    pub schema: i32,
    /// The agent's epoch (its database's; a restored copy takes a new one).
    pub epoch: String,
    /// Where each stream stood when this epoch began (a till restored from
    /// an older copy goes on from its heads in a new epoch); absent: 0.
    #[serde(default)]
    pub since: BTreeMap<String, i64>,
    pub events: Vec<AgentEvent>,
}

/// What a push did, and where each of the agent's streams now stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    pub applied: usize,
    /// Events the edge already had (a push repeated after a lost answer).
    pub repeated: usize,
    /// Per stream, the agent's last position the edge holds (this epoch).
    pub marks: BTreeMap<String, i64>,
    /// The highest order number the edge holds for this register (its last
    /// part: 123 for `S01-R2-000123`), whatever the epoch.
    pub last_number: i64,
}

/// Where an agent's streams stand on the edge, for its epoch.
pub fn marks(
    conn: &mut AnyConnection,
    device_id: &str,
    epoch: &str,
) -> Result<BTreeMap<String, i64>> {
    Ok(register_marks::table
        .filter(register_marks::device_id.eq(device_id))
        .filter(register_marks::epoch.eq(epoch))
        .select((register_marks::stream, register_marks::position))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// The highest order number the edge holds for a register (its counter).
pub fn last_number(conn: &mut AnyConnection, device_id: &str) -> Result<i64> {
    // Numbers are zero-padded: the greatest string is the greatest number.
    let top: Option<String> = orders::table
        .filter(orders::device_id.eq(device_id))
        .select(diesel::dsl::max(orders::number))
        .first(conn)?;
    // A number kept beside another's (`…-000005/abc123`) counts as its own.
    Ok(top
        .and_then(|n| n.split('/').next()?.rsplit('-').next()?.parse().ok())
        .unwrap_or(0))
}

/// Where an agent's streams stand on the edge for its epoch, and its
/// highest order number there: what it is told at hello.
pub fn standing(conn: &mut AnyConnection, device_id: &str, epoch: &str) -> Result<Pushed> {
    Ok(Pushed {
        marks: marks(conn, device_id, epoch)?,
        last_number: last_number(conn, device_id)?,
        ..Pushed::default()
    })
}

/// Notes that a push of `device_id` was refused and why, for health (after
/// the push's own transaction rolled back).
pub fn refused(conn: &mut AnyConnection, device_id: &str, reason: &str) -> Result<()> {
    write_tx(conn, |conn| {
        diesel::delete(register_refusals::table.find(device_id)).execute(conn)?;
        diesel::insert_into(register_refusals::table)
            .values((
                register_refusals::device_id.eq(device_id),
                register_refusals::at.eq(crate::db::now_millis()),
                register_refusals::reason.eq(reason),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// A register agent whose last push was refused: never silently.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub device_id: String,
    pub register: String,
    pub at: i64,
    pub reason: String,
}

/// The active registers whose last push was refused (a revoked one's are
/// expected).
pub fn refusals(conn: &mut AnyConnection) -> Result<Vec<Refusal>> {
    use crate::schema::devices;
    Ok(register_refusals::table
        .inner_join(devices::table.on(devices::id.eq(register_refusals::device_id)))
        .filter(devices::revoked_at.is_null())
        .select((
            register_refusals::device_id,
            devices::name,
            register_refusals::at,
            register_refusals::reason,
        ))
        .load::<(String, String, i64, String)>(conn)?
        .into_iter()
        .map(|(device_id, register, at, reason)| Refusal {
            device_id,
            register,
            at,
            reason,
        })
        .collect())
}

/// A gap: the push skipped events the edge has not had.
fn gap(stream: &str, mark: i64, got: i64) -> StorageError {
    StorageError::Conflict(format!(
        "register events out of order: the {stream} stream is at position {mark} here, \
         the push sent {got}; send from {} on",
        mark + 1
    ))
}

/// Checks one event's envelope before anything is written.
fn check(e: &AgentEvent) -> Result<&'static str> {
    let stream = Stream::NAMES
        .iter()
        .find(|s| **s == e.stream)
        .ok_or_else(|| StorageError::Unprocessable(format!("unknown stream {:?}", e.stream)))?;
    if !ALLOWED.iter().any(|(s, aggregate, kind)| {
        s == stream && *aggregate == e.aggregate_type && e.event_type.starts_with(kind)
    }) {
        return Err(StorageError::Unprocessable(format!(
            "event {}: a register sends no {} event on the {} stream",
            e.event_id, e.event_type, e.stream
        )));
    }
    if uuid::Uuid::parse_str(&e.event_id).is_err() {
        return Err(StorageError::Unprocessable(format!(
            "event id {:?} is not a UUID",
            e.event_id
        )));
    }
    if e.position < 1 {
        return Err(StorageError::Unprocessable(format!(
            "event {} has position {}: positions start at 1",
            e.event_id, e.position
        )));
    }
    if !(outbox::SCHEMA_VERSION - 1..=outbox::SCHEMA_VERSION).contains(&e.schema_version) {
        return Err(StorageError::Unprocessable(format!(
            "event {} is of schema version {} (this edge takes {} and {})",
            e.event_id,
            e.schema_version,
            outbox::SCHEMA_VERSION - 1,
            outbox::SCHEMA_VERSION
        )));
    }
    if sha256_hex(e.payload.as_bytes()) != e.payload_sha256 {
        return Err(StorageError::Unprocessable(format!(
            "event {}: the payload does not match its sha256",
            e.event_id
        )));
    }
    Ok(stream)
}

/// Applies a push from the agent `device_id`, whole or not at all.
///
/// A revoked register's events made before its revocation (`revoked_at`)
/// are taken, each order flagged for a manager; the push stops at the first
/// made after it, and a push that starts there is refused: those stay on
/// the till.
pub fn apply(
    conn: &mut AnyConnection,
    node: &Node,
    device_id: &str,
    revoked_at: Option<i64>,
    push: &Push,
) -> Result<Pushed> {
    if !(SCHEMA - 1..=SCHEMA).contains(&push.schema) {
        return Err(StorageError::Unprocessable(format!(
            "a push of schema {} (this edge takes {} and {})",
            push.schema,
            SCHEMA - 1,
            SCHEMA
        )));
    }
    if push.events.len() > PUSH_MAX {
        return Err(StorageError::Unprocessable(format!(
            "a push of {} events: send at most {PUSH_MAX} at a time",
            push.events.len()
        )));
    }
    if push.epoch.is_empty() || push.epoch.len() > 64 {
        return Err(StorageError::Unprocessable(
            "a push needs its agent's epoch".into(),
        ));
    }
    if push.since.values().any(|p| *p < 0) {
        return Err(StorageError::Unprocessable(
            "an epoch's start positions are 0 or more".into(),
        ));
    }
    let streams = push
        .events
        .iter()
        .map(check)
        .collect::<Result<Vec<&'static str>>>()?;
    let taken = revoked_at.map_or(push.events.len(), |at| {
        push.events
            .iter()
            .position(|e| e.occurred_at >= at)
            .unwrap_or(push.events.len())
    });
    if taken == 0 && !push.events.is_empty() {
        return Err(StorageError::Forbidden(
            "send sales from a register that was revoked: what it made after its revocation \
             stays on the till (pair it anew to sell again)"
                .into(),
        ));
    }
    write_tx(conn, |conn| {
        // One push of an agent at a time (two of its pushes racing would
        // read the same marks).
        if let AnyConnection::Postgresql(c) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind::<diesel::sql_types::Text, _>(device_id)
                .execute(c)?;
        }
        let before = marks(conn, device_id, &push.epoch)?;
        // A stream this epoch has not pushed yet begins where the till says
        // the epoch began.
        let mut marks = push.since.clone();
        marks.extend(before.clone());
        let mut out = Pushed::default();
        let actor_of = |e: &AgentEvent| Actor {
            staff_id: e.actor.clone(),
            role: Role::Cashier,
            device_id: Some(device_id.to_owned()),
        };
        for (e, stream) in push.events[..taken].iter().zip(&streams) {
            let mark = marks.get(*stream).copied().unwrap_or(0);
            if e.position <= mark {
                // A repeat is the same event: another one at a position the
                // edge has is a till whose database went back in time.
                if !outbox::holds(conn, &e.event_id)? {
                    return Err(StorageError::Conflict(format!(
                        "position {} of this register's {stream} stream holds another event here: \
                         {REWOUND}; it must take a new epoch",
                        e.position
                    )));
                }
                out.repeated += 1;
                continue;
            }
            if e.position != mark + 1 {
                return Err(gap(stream, mark, e.position));
            }
            // An event the edge already has under another epoch (a till
            // restored from a copy that forked what it had sent before
            // its disk was lost): the same event, taken once.
            if outbox::holds(conn, &e.event_id)? {
                marks.insert((*stream).to_owned(), e.position);
                out.repeated += 1;
                continue;
            }
            // The till's clock moves the edge's only within reason: a till
            // whose clock runs days ahead must not drag the store's.
            let hlc = Hlc::from_raw(e.hlc);
            if hlc.millis() <= crate::db::now_millis() + MAX_AHEAD_MS {
                node.observe(hlc);
            }
            let merged = materialize(conn, node, &actor_of(e), e).map_err(|err| named(e, err))?;
            if revoked_at.is_some() && e.event_type == "order.created" {
                sales::flag_for_adjustment(
                    conn,
                    node,
                    &actor_of(e),
                    &e.aggregate_id,
                    "order.from_revoked_register",
                    serde_json::json!({"why": "sold before the register was revoked, sent after"}),
                )?;
            }
            outbox::write(
                conn,
                vec![outbox::from_register(node, device_id, stream, e, merged)],
            )?;
            marks.insert((*stream).to_owned(), e.position);
            out.applied += 1;
        }
        for (stream, position) in &marks {
            if before.get(stream) == Some(position) {
                continue;
            }
            let n = diesel::update(
                register_marks::table
                    .filter(register_marks::device_id.eq(device_id))
                    .filter(register_marks::epoch.eq(&push.epoch))
                    .filter(register_marks::stream.eq(stream)),
            )
            .set(register_marks::position.eq(position))
            .execute(conn)?;
            if n == 0 {
                diesel::insert_into(register_marks::table)
                    .values((
                        register_marks::device_id.eq(device_id),
                        register_marks::epoch.eq(&push.epoch),
                        register_marks::stream.eq(stream),
                        register_marks::position.eq(position),
                    ))
                    .execute(conn)?;
            }
        }
        out.marks = marks;
        out.last_number = last_number(conn, device_id)?;
        // Taken again: whatever was refused before is behind it.
        diesel::delete(register_refusals::table.find(device_id)).execute(conn)?;
        Ok(out)
    })
}

/// An event whose rows name one the edge does not have (a product, a
/// shift, an order it never got): the push is refused, saying which.
fn named(e: &AgentEvent, err: StorageError) -> StorageError {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        StorageError::Db(Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)) => {
            StorageError::Unprocessable(format!(
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
fn materialize(
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
