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

/// The version of the payload schemas this build writes.
pub const SCHEMA_VERSION: i32 = 1;

/// A store's events are ordered per stream; the relay and sync send the sales
/// stream first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Sales,
    Stock,
    Kitchen,
    Shifts,
    Master,
    Audit,
}

impl Stream {
    pub const ALL: [Stream; 6] = [
        Stream::Sales,
        Stream::Stock,
        Stream::Kitchen,
        Stream::Shifts,
        Stream::Master,
        Stream::Audit,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Sales => "sales",
            Stream::Stock => "stock",
            Stream::Kitchen => "kitchen",
            Stream::Shifts => "shifts",
            Stream::Master => "master",
            Stream::Audit => "audit",
        }
    }
}

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

#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewOutboxRow<'a> {
    event_id: String,
    position: Option<i64>,
    store_id: &'a str,
    device_id: Option<&'a str>,
    stream: &'a str,
    node_epoch: &'a str,
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    aggregate_version: i64,
    event_type: &'a str,
    schema_version: i32,
    occurred_at: i64,
    hlc: i64,
    master_version: i64,
    actor: &'a str,
    payload: String,
    payload_sha256: String,
}

/// Appends one event. Call inside the transaction that makes the change.
pub fn append<P: Serialize>(
    conn: &mut AnyConnection,
    node: &Node,
    hlc: Hlc,
    ev: Event<'_, P>,
) -> Result<String> {
    let payload = serde_json::to_string(ev.payload)
        .map_err(|e| crate::StorageError::Corrupt(format!("event payload: {e}")))?;
    let event_id = new_id();
    // SQLite has one writer at a time, so the transaction itself takes the next
    // position (no contention, and no second fsync by the relay). PostgreSQL
    // leaves it to the relay, so concurrent sales never queue on a counter row.
    let position = match conn {
        AnyConnection::Sqlite(_) => Some(next_position(conn, ev.stream.as_str())?),
        AnyConnection::Postgresql(_) => None,
    };
    diesel::insert_into(outbox::table)
        .values(NewOutboxRow {
            event_id: event_id.clone(),
            position,
            store_id: &node.store_id,
            device_id: ev.device_id,
            stream: ev.stream.as_str(),
            node_epoch: &node.node_epoch,
            aggregate_type: ev.aggregate_type,
            aggregate_id: ev.aggregate_id,
            aggregate_version: ev.aggregate_version,
            event_type: ev.event_type,
            schema_version: SCHEMA_VERSION,
            occurred_at: now_millis(),
            hlc: hlc.raw(),
            master_version: node.master_version(),
            actor: ev.actor,
            payload_sha256: sha256_hex(payload.as_bytes()),
            payload,
        })
        .execute(conn)?;
    Ok(event_id)
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
