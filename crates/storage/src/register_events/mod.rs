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
//! - parks an event it refuses for good (one a till may not send, one whose
//!   rows do not fit here, one too large to take) with its reason, and
//!   counts its position as taken: one bad event never stops a till.
//!
//! A push is one transaction: it applies whole or not at all (each event in
//! a savepoint of its own, so a parked one leaves nothing half-written).
//! Here: the envelope, the order and marks, and the refusals; [`rows`]:
//! what each kind of event writes on the edge; [`parked`]: the events
//! refused for good.

pub mod parked;
mod rows;

use crate::db::{AnyConnection, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::outbox::{self, StoredEvent};
use crate::sales;
use crate::schema::{orders, register_marks, register_refusals};
use crate::secrets::sha256_hex;
use diesel::prelude::*;
use outpost_domain::{Hlc, Role, Stream};
use rows::{materialize, named};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shape of [`Push`] and [`Pushed`]; the edge takes this one and the one
/// before. 2: an event may be sent with its payload withheld
/// ([`AgentEvent::withheld`]); the answer counts parked events.
pub const SCHEMA: i32 = 2;

/// Said when a push repeats a position with another event: the agent
/// then moves what it has not pushed to a new epoch (`agent::fork`).
pub const REWOUND: &str = "the till's database went back to an older copy";

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
    /// Sent without its payload, which is this many bytes: more than the
    /// edge takes in one push. The edge parks it; the till keeps it whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<u64>,
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
            withheld: None,
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
    /// Events refused for good and parked (their positions are taken).
    #[serde(default)]
    pub parked: usize,
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

/// Whether the edge has this event: taken, or parked.
fn held(conn: &mut AnyConnection, event_id: &str) -> Result<bool> {
    Ok(outbox::holds(conn, event_id)? || parked::holds(conn, event_id)?)
}

/// A gap: the push skipped events the edge has not had.
fn gap(stream: &str, mark: i64, got: i64) -> StorageError {
    StorageError::Conflict(format!(
        "register events out of order: the {stream} stream is at position {mark} here, \
         the push sent {got}; send from {} on",
        mark + 1
    ))
}

/// Checks where an event goes before anything is written: a push that
/// fails here is refused whole.
fn check(e: &AgentEvent) -> Result<&'static str> {
    let stream = Stream::NAMES
        .iter()
        .find(|s| **s == e.stream)
        .ok_or_else(|| StorageError::Unprocessable(format!("unknown stream {:?}", e.stream)))?;
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
    // A till newer than its edge waits for the edge's update: its events
    // are kept, not parked.
    if !(outbox::SCHEMA_VERSION - 1..=outbox::SCHEMA_VERSION).contains(&e.schema_version) {
        return Err(StorageError::Unprocessable(format!(
            "event {} is of schema version {} (this edge takes {} and {}): update the edge",
            e.event_id,
            e.schema_version,
            outbox::SCHEMA_VERSION - 1,
            outbox::SCHEMA_VERSION
        )));
    }
    Ok(stream)
}

/// Checks what an event carries: one that fails here is parked.
fn check_content(e: &AgentEvent, stream: &str) -> Result<()> {
    if let Some(bytes) = e.withheld {
        return Err(StorageError::Unprocessable(format!(
            "event {}: its payload ({bytes} bytes) is larger than this edge takes in one \
             request (server.max_push_bytes); the till keeps it whole",
            e.event_id
        )));
    }
    if !ALLOWED.iter().any(|(s, aggregate, kind)| {
        *s == stream && *aggregate == e.aggregate_type && e.event_type.starts_with(kind)
    }) {
        return Err(StorageError::Unprocessable(format!(
            "event {}: a register sends no {} event on the {} stream",
            e.event_id, e.event_type, e.stream
        )));
    }
    if sha256_hex(e.payload.as_bytes()) != e.payload_sha256 {
        return Err(StorageError::Unprocessable(format!(
            "event {}: the payload does not match its sha256",
            e.event_id
        )));
    }
    Ok(())
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
                if !held(conn, &e.event_id)? {
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
            if held(conn, &e.event_id)? {
                marks.insert((*stream).to_owned(), e.position);
                out.repeated += 1;
                continue;
            }
            // Within the clock's drift bound: a till whose clock runs days
            // ahead does not drag the store's.
            node.observe(Hlc::from_raw(e.hlc));
            // Each event in a savepoint: one parked leaves nothing behind.
            let took = conn.transaction(|conn| {
                check_content(e, stream)?;
                let merged =
                    materialize(conn, node, &actor_of(e), e).map_err(|err| named(e, err))?;
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
                )
            });
            match took {
                Ok(()) => out.applied += 1,
                Err(err) if parked::for_good(&err) => {
                    parked::park(conn, device_id, &push.epoch, e, &err.to_string())?;
                    out.parked += 1;
                }
                Err(err) => return Err(err),
            }
            marks.insert((*stream).to_owned(), e.position);
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
