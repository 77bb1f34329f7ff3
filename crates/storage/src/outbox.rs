//! The transactional outbox: every state change appends its event here in the
//! same transaction, with the full envelope. Positions come later, from the relay.

use crate::db::{AnyConnection, new_id, now_millis};
use crate::error::Result;
use crate::node::Node;
use crate::schema::outbox;
use crate::secrets::sha256_hex;
use diesel::prelude::*;
use outpost_domain::Hlc;
use serde::Serialize;

pub use outpost_domain::ids::SCHEMA_VERSION;

pub use outpost_domain::Stream;

/// What a use case says about its change; the envelope is filled in here.
#[derive(Debug)]
pub struct Event<'a, P: Serialize> {
    pub stream: Stream,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub aggregate_version: i64,
    pub event_type: &'a str,
    pub actor: &'a str,
    pub device_id: Option<&'a str>,
    pub payload: &'a P,
}

/// An event ready to write: its envelope filled in, its position (SQLite) not
/// yet taken.
#[derive(Debug)]
pub struct Prepared {
    event_id: String,
    position: Option<i64>,
    store_id: String,
    device_id: Option<String>,
    stream: &'static str,
    node_epoch: String,
    aggregate_type: String,
    aggregate_id: String,
    aggregate_version: i64,
    event_type: String,
    schema_version: i32,
    occurred_at: i64,
    hlc: i64,
    master_version: i64,
    actor: String,
    payload: String,
    payload_sha256: String,
}

/// Fills in an event's envelope; write it with [`write`] in the same
/// transaction as the change.
pub fn prepare<P: Serialize>(node: &Node, hlc: Hlc, ev: Event<'_, P>) -> Result<Prepared> {
    let payload = serde_json::to_string(ev.payload)
        .map_err(|e| crate::StorageError::Corrupt(format!("event payload: {e}")))?;
    Ok(Prepared {
        event_id: new_id(),
        position: None,
        store_id: node.store_id.clone(),
        device_id: ev.device_id.map(str::to_owned),
        stream: ev.stream.as_str(),
        node_epoch: node.node_epoch.clone(),
        aggregate_type: ev.aggregate_type.to_owned(),
        aggregate_id: ev.aggregate_id.to_owned(),
        aggregate_version: ev.aggregate_version,
        event_type: ev.event_type.to_owned(),
        schema_version: SCHEMA_VERSION,
        occurred_at: now_millis(),
        hlc: hlc.raw(),
        master_version: node.master_version(),
        actor: ev.actor.to_owned(),
        payload_sha256: sha256_hex(payload.as_bytes()),
        payload,
    })
}

/// A register agent's event, to hand on from the edge's outbox: the id,
/// time, clock, actor and payload the till gave it (or, with `merged`, the
/// row as the edge now has it and its version); this store's id, this
/// node's epoch and, once written, this node's position in `stream`.
pub(crate) fn from_register(
    node: &Node,
    device_id: &str,
    stream: &'static str,
    e: &crate::register_events::AgentEvent,
    merged: Option<(String, i64)>,
) -> Prepared {
    let (payload, payload_sha256, aggregate_version) = match merged {
        Some((p, v)) => (p.clone(), sha256_hex(p.as_bytes()), v),
        None => (
            e.payload.clone(),
            e.payload_sha256.clone(),
            e.aggregate_version,
        ),
    };
    Prepared {
        event_id: e.event_id.clone(),
        position: None,
        store_id: node.store_id.clone(),
        device_id: Some(device_id.to_owned()),
        stream,
        node_epoch: node.node_epoch.clone(),
        aggregate_type: e.aggregate_type.clone(),
        aggregate_id: e.aggregate_id.clone(),
        aggregate_version,
        event_type: e.event_type.clone(),
        schema_version: e.schema_version,
        occurred_at: e.occurred_at,
        hlc: e.hlc,
        master_version: node.master_version(),
        actor: e.actor.clone(),
        payload,
        payload_sha256,
    }
}

/// Writes prepared events in one statement. Call inside the transaction that
/// makes the change.
pub fn write(conn: &mut AnyConnection, mut events: Vec<Prepared>) -> Result<()> {
    take_positions(conn, &mut events)?;
    Ok(crate::bulk::write(conn, vec![table(events)])?)
}

/// On SQLite (one writer at a time) the writing transaction takes the next
/// positions itself: no contention, and no second fsync by the relay. On
/// PostgreSQL positions come later, from the relay, so concurrent sales never
/// queue on a counter row.
pub(crate) fn take_positions(conn: &mut AnyConnection, events: &mut [Prepared]) -> Result<()> {
    if matches!(conn, AnyConnection::Sqlite(_)) {
        for e in events {
            e.position = Some(next_position(conn, e.stream)?);
        }
    }
    Ok(())
}

/// The events as rows for [`crate::bulk::write`], after [`take_positions`].
pub(crate) fn table(events: Vec<Prepared>) -> crate::bulk::Table {
    use crate::bulk::Col;
    crate::bulk::Table::new(
        "outbox",
        vec![
            ("event_id", Col::text(&events, |e| &e.event_id)),
            (
                "position",
                Col::OptBig(events.iter().map(|e| e.position).collect()),
            ),
            ("store_id", Col::text(&events, |e| &e.store_id)),
            (
                "device_id",
                Col::OptText(events.iter().map(|e| e.device_id.clone()).collect()),
            ),
            ("stream", Col::text(&events, |e| e.stream)),
            ("node_epoch", Col::text(&events, |e| &e.node_epoch)),
            ("aggregate_type", Col::text(&events, |e| &e.aggregate_type)),
            ("aggregate_id", Col::text(&events, |e| &e.aggregate_id)),
            (
                "aggregate_version",
                Col::big(&events, |e| e.aggregate_version),
            ),
            ("event_type", Col::text(&events, |e| &e.event_type)),
            (
                "schema_version",
                Col::Int(events.iter().map(|e| e.schema_version).collect()),
            ),
            ("occurred_at", Col::big(&events, |e| e.occurred_at)),
            ("hlc", Col::big(&events, |e| e.hlc)),
            ("master_version", Col::big(&events, |e| e.master_version)),
            ("actor", Col::text(&events, |e| &e.actor)),
            ("payload", Col::text(&events, |e| &e.payload)),
            ("payload_sha256", Col::text(&events, |e| &e.payload_sha256)),
        ],
    )
}

/// Appends one event. Call inside the transaction that makes the change.
pub fn append<P: Serialize>(
    conn: &mut AnyConnection,
    node: &Node,
    hlc: Hlc,
    ev: Event<'_, P>,
) -> Result<String> {
    let p = prepare(node, hlc, ev)?;
    let id = p.event_id.clone();
    write(conn, vec![p])?;
    Ok(id)
}

/// Bumps and returns a stream's head. Only for a single-writer database.
fn next_position(conn: &mut AnyConnection, stream: &str) -> Result<i64> {
    use crate::schema::stream_heads as h;
    let n = diesel::update(h::table.find(stream))
        .set(h::position.eq(h::position + 1))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(h::table)
            .values((h::stream.eq(stream), h::position.eq(1)))
            .execute(conn)?;
    }
    Ok(h::table.find(stream).select(h::position).first(conn)?)
}

/// Whether an event with this id is in the outbox.
pub fn holds(conn: &mut AnyConnection, event_id: &str) -> Result<bool> {
    Ok(outbox::table
        .filter(outbox::event_id.eq(event_id))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// An event as stored, with its envelope.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = outbox)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_id: String,
    pub store_id: String,
    pub device_id: Option<String>,
    pub stream: String,
    pub position: Option<i64>,
    pub node_epoch: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub aggregate_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub occurred_at: i64,
    pub hlc: i64,
    pub master_version: i64,
    pub actor: String,
    pub payload: String,
    pub payload_sha256: String,
}

/// The payload of an aggregate's latest event in `stream` before `position`
/// (how it was before the event at `position`).
pub fn previous_payload(
    conn: &mut AnyConnection,
    stream: &str,
    aggregate_id: &str,
    position: i64,
) -> Result<Option<String>> {
    Ok(outbox::table
        .filter(outbox::stream.eq(stream))
        .filter(outbox::aggregate_id.eq(aggregate_id))
        .filter(outbox::position.lt(position))
        .order(outbox::position.desc())
        .select(outbox::payload)
        .first(conn)
        .optional()?)
}

/// Events after `seq`, oldest first, at most `limit`: on SQLite, where one
/// writer at a time takes both, `seq` order is commit order.
pub fn read_after_seq(
    conn: &mut AnyConnection,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>> {
    Ok(outbox::table
        .filter(outbox::seq.gt(after_seq))
        .order(outbox::seq.asc())
        .limit(limit)
        .select(StoredEvent::as_select())
        .load(conn)?)
}

/// Events of one stream after `after`, in position order.
pub fn read_stream(
    conn: &mut AnyConnection,
    stream: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>> {
    Ok(outbox::table
        .filter(outbox::stream.eq(stream))
        .filter(outbox::position.gt(after))
        .order(outbox::position.asc())
        .limit(limit)
        .select(StoredEvent::as_select())
        .load(conn)?)
}
