//! Sync with the cloud, edge side: what the cloud acknowledged per stream, the
//! backlog still to push, and the node's epochs.
//!
//! An epoch names one unbroken history of this database. When the sync worker
//! finds the database rewound against what the cloud holds (restored from a
//! backup, cloned), it enters a new epoch that records the epoch it left and,
//! per stream, the last position both sides agree on. Positions go on counting
//! across epochs; the cloud files events by (epoch, stream, position), so the
//! events the store lost and the ones it wrote since never overwrite each other.

use crate::db::{AnyConnection, new_id, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::outbox::StoredEvent;
use crate::schema::{node, node_epochs, outbox, sync_acks};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

diesel::define_sql_function! {
    /// Size of a text in bytes (both backends). Unlike `length`, which counts
    /// characters, PostgreSQL reads it from a compressed value's header
    /// without decompressing it: over 50,000 payloads of 3 KiB, 7 ms against
    /// 300 ms.
    fn octet_length(x: diesel::sql_types::Text) -> diesel::sql_types::Integer;
}

/// The cloud's acknowledgement of one stream, as last recorded here.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = sync_acks)]
pub struct Ack {
    pub stream: String,
    pub node_epoch: String,
    pub position: i64,
    pub event_id: String,
    pub acked_at: i64,
}

pub fn acks(conn: &mut AnyConnection) -> Result<BTreeMap<String, Ack>> {
    Ok(sync_acks::table
        .select(Ack::as_select())
        .load(conn)?
        .into_iter()
        .map(|a| (a.stream.clone(), a))
        .collect())
}

/// Records that the cloud holds `stream` up to `position` (never moves back
/// within an epoch).
pub fn record_ack(
    conn: &mut AnyConnection,
    epoch: &str,
    stream: &str,
    position: i64,
    event_id: &str,
) -> Result<()> {
    let now = now_millis();
    let n = diesel::update(
        sync_acks::table.find(stream).filter(
            sync_acks::node_epoch
                .ne(epoch)
                .or(sync_acks::position.lt(position)),
        ),
    )
    .set((
        sync_acks::node_epoch.eq(epoch),
        sync_acks::position.eq(position),
        sync_acks::event_id.eq(event_id),
        sync_acks::acked_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        let exists: i64 = sync_acks::table
            .filter(sync_acks::stream.eq(stream))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            diesel::insert_into(sync_acks::table)
                .values((
                    sync_acks::stream.eq(stream),
                    sync_acks::node_epoch.eq(epoch),
                    sync_acks::position.eq(position),
                    sync_acks::event_id.eq(event_id),
                    sync_acks::acked_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The next events of `stream` after `after`, in position order: at most
/// `max_events`, and no more than `max_bytes` of payload (but always at least
/// one event, so an oversized event still travels).
pub fn batch(
    conn: &mut AnyConnection,
    stream: &str,
    after: i64,
    max_events: i64,
    max_bytes: usize,
) -> Result<Vec<StoredEvent>> {
    let mut events = crate::outbox::read_stream(conn, stream, after, max_events)?;
    let mut bytes = 0usize;
    let keep = events
        .iter()
        .position(|e| {
            bytes += e.payload.len() + 256;
            bytes > max_bytes
        })
        .map_or(events.len(), |i| i.max(1));
    events.truncate(keep);
    Ok(events)
}

/// The id of this database's event at `position` of `stream`.
pub fn event_id_at(
    conn: &mut AnyConnection,
    stream: &str,
    position: i64,
) -> Result<Option<String>> {
    Ok(outbox::table
        .filter(outbox::stream.eq(stream))
        .filter(outbox::position.eq(position))
        .select(outbox::event_id)
        .first(conn)
        .optional()?)
}

/// The highest assigned position of `stream` (0 when none).
pub fn head(conn: &mut AnyConnection, stream: &str) -> Result<i64> {
    Ok(outbox::table
        .filter(outbox::stream.eq(stream))
        .select(diesel::dsl::max(outbox::position))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// What one stream still has to send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    pub stream: String,
    pub acked: i64,
    pub head: i64,
    pub events: i64,
    /// The payloads' size in bytes (UTF-8), as they will be sent.
    pub bytes: i64,
    /// When the oldest unsent event happened (ms since the Unix epoch).
    pub oldest_at: Option<i64>,
}

/// Per stream: events positioned but not yet acknowledged by the cloud.
/// (Events the relay has not positioned yet are counted by
/// `relay::unpositioned_count`.)
pub fn backlog(conn: &mut AnyConnection, streams: &[&str]) -> Result<Vec<Backlog>> {
    let acks = acks(conn)?;
    let mut out = Vec::with_capacity(streams.len());
    for &stream in streams {
        let acked = acks.get(stream).map_or(0, |a| a.position);
        let (events, bytes, oldest, head): (i64, Option<i64>, Option<i64>, Option<i64>) =
            outbox::table
                .filter(outbox::stream.eq(stream))
                .filter(outbox::position.gt(acked))
                .select((
                    diesel::dsl::count_star(),
                    diesel::dsl::sum(octet_length(outbox::payload)),
                    diesel::dsl::min(outbox::occurred_at),
                    diesel::dsl::max(outbox::position),
                ))
                .first(conn)?;
        out.push(Backlog {
            stream: stream.to_owned(),
            acked,
            head: head.unwrap_or(acked),
            events,
            bytes: bytes.unwrap_or(0),
            oldest_at: oldest,
        });
    }
    Ok(out)
}

/// This node's store id.
pub fn store_id(conn: &mut AnyConnection) -> Result<String> {
    Ok(node::table.select(node::store_id).first(conn)?)
}

/// This node's store code ("S01"), as the store was set up.
pub fn store_code(conn: &mut AnyConnection) -> Result<String> {
    use crate::schema::stores;
    Ok(stores::table.select(stores::code).first(conn)?)
}

impl Status {
    /// Online counts only while the worker keeps proving it: the cloud
    /// answered within the last `fresh_ms` (a heartbeat every few seconds
    /// does it on an idle link). A worker that died, or a link that went
    /// silent, leaves its last word behind; this does not believe it.
    pub fn online_now(&self, fresh_ms: i64) -> bool {
        self.online
            && self
                .last_success_at
                .is_some_and(|t| now_millis() - t < fresh_ms)
    }
}

/// The epoch this database is in, and the epoch it left for it (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    pub node_epoch: String,
    pub parent: Option<Parent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub node_epoch: String,
    /// Per stream, the last position both this store and the cloud agree on.
    pub fork: BTreeMap<String, i64>,
    pub reason: String,
}

pub fn epoch(conn: &mut AnyConnection) -> Result<Epoch> {
    let current: String = node::table.select(node::node_epoch).first(conn)?;
    let parent = node_epochs::table
        .find(&current)
        .select((
            node_epochs::parent_epoch,
            node_epochs::fork,
            node_epochs::reason,
        ))
        .first::<(String, String, String)>(conn)
        .optional()?
        .map(|(p, fork, reason)| -> Result<Parent> {
            Ok(Parent {
                node_epoch: p,
                fork: serde_json::from_str(&fork)
                    .map_err(|e| StorageError::Corrupt(format!("node_epochs.fork: {e}")))?,
                reason,
            })
        })
        .transpose()?;
    Ok(Epoch {
        node_epoch: current,
        parent,
    })
}

/// Leaves the current history: a fresh epoch whose parent is `parent` (the
/// epoch the cloud holds), forked at `fork`. Returns the new epoch. One
/// transaction; the acknowledgements move to the new epoch at the fork.
pub fn enter_epoch(
    conn: &mut AnyConnection,
    parent: &str,
    fork: &BTreeMap<String, i64>,
    reason: &str,
) -> Result<String> {
    let fresh = new_id();
    let fork_json =
        serde_json::to_string(fork).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    write_tx(conn, |conn| {
        diesel::insert_into(node_epochs::table)
            .values((
                node_epochs::node_epoch.eq(&fresh),
                node_epochs::parent_epoch.eq(parent),
                node_epochs::fork.eq(&fork_json),
                node_epochs::reason.eq(reason),
                node_epochs::created_at.eq(now_millis()),
            ))
            .execute(conn)?;
        diesel::update(node::table)
            .set(node::node_epoch.eq(&fresh))
            .execute(conn)?;
        diesel::delete(sync_acks::table).execute(conn)?;
        for (stream, &position) in fork {
            if position > 0 {
                let id = event_id_at(conn, stream, position)?.unwrap_or_default();
                record_ack(conn, &fresh, stream, position, &id)?;
            }
        }
        // The rows after the fork belong to the new history.
        for (stream, &position) in fork {
            diesel::update(
                outbox::table
                    .filter(outbox::stream.eq(stream))
                    .filter(outbox::position.gt(position)),
            )
            .set(outbox::node_epoch.eq(&fresh))
            .execute(conn)?;
        }
        diesel::update(outbox::table.filter(outbox::position.is_null()))
            .set(outbox::node_epoch.eq(&fresh))
            .execute(conn)?;
        Ok::<_, StorageError>(())
    })?;
    Ok(fresh)
}

/// The sync worker's last word on the link.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = crate::schema::sync_status)]
pub struct Status {
    pub online: bool,
    pub last_attempt_at: i64,
    pub last_success_at: Option<i64>,
    pub last_error: String,
    /// When the store's credential expires, as the cloud last said.
    pub credential_expires_at: Option<i64>,
}

pub fn status(conn: &mut AnyConnection) -> Result<Option<Status>> {
    use crate::schema::sync_status as s;
    Ok(s::table
        .find(1)
        .select(Status::as_select())
        .first(conn)
        .optional()?)
}

/// Records one attempt to reach the cloud: `Ok` when it answered, or the error.
pub fn record_attempt(
    conn: &mut AnyConnection,
    outcome: std::result::Result<(), &str>,
) -> Result<()> {
    use crate::schema::sync_status as s;
    let now = now_millis();
    let (online, error) = match outcome {
        Ok(()) => (true, String::new()),
        Err(e) => (false, e.chars().take(500).collect()),
    };
    let success = online.then_some(now);
    let n = diesel::update(s::table.find(1))
        .set((
            s::online.eq(online),
            s::last_attempt_at.eq(now),
            s::last_error.eq(&error),
        ))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(s::table)
            .values((
                s::id.eq(1),
                s::online.eq(online),
                s::last_attempt_at.eq(now),
                s::last_success_at.eq(success),
                s::last_error.eq(&error),
            ))
            .execute(conn)?;
    } else if online {
        diesel::update(s::table.find(1))
            .set(s::last_success_at.eq(success))
            .execute(conn)?;
    }
    Ok(())
}

/// Records that this process has not reached the cloud yet: a status left by
/// an earlier process (or restored with a backup) must not say "online".
pub fn record_start(conn: &mut AnyConnection) -> Result<()> {
    use crate::schema::sync_status as s;
    diesel::update(s::table.find(1))
        .set(s::online.eq(false))
        .execute(conn)?;
    Ok(())
}

/// Records that an attempt to reach the cloud starts now (before the TLS
/// handshake, which may hang until its deadline), leaving the last outcome
/// as it is.
pub fn record_try(conn: &mut AnyConnection) -> Result<()> {
    use crate::schema::sync_status as s;
    let now = now_millis();
    let n = diesel::update(s::table.find(1))
        .set(s::last_attempt_at.eq(now))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(s::table)
            .values((
                s::id.eq(1),
                s::online.eq(false),
                s::last_attempt_at.eq(now),
                s::last_error.eq(""),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Records when the store's credential expires (`None`: never), as the cloud
/// said at hello or heartbeat.
pub fn record_credential_expiry(conn: &mut AnyConnection, at: Option<i64>) -> Result<()> {
    use crate::schema::sync_status as s;
    diesel::update(s::table.find(1))
        .set(s::credential_expires_at.eq(at))
        .execute(conn)?;
    Ok(())
}

/// The credential to sync with: one the cloud rotated, while the settings
/// still name the credential it replaced; else the settings' own.
pub fn credential(conn: &mut AnyConnection, from_settings: &str) -> Result<String> {
    use crate::schema::sync_credential as k;
    let kept: Option<(String, String)> = k::table
        .find(1)
        .select((k::credential, k::settings_sha256))
        .first(conn)
        .optional()?;
    Ok(match kept {
        Some((credential, sha)) if sha == crate::secrets::sha256_hex(from_settings.as_bytes()) => {
            credential
        }
        _ => from_settings.to_owned(),
    })
}

/// Keeps a credential the cloud rotated. The settings' credential it stands
/// in for is remembered by hash (the first rotation's, across later ones).
pub fn keep_rotated_credential(
    conn: &mut AnyConnection,
    from_settings: &str,
    rotated: &str,
) -> Result<()> {
    use crate::schema::sync_credential as k;
    let sha = crate::secrets::sha256_hex(from_settings.as_bytes());
    write_tx(conn, |conn| {
        diesel::delete(k::table).execute(conn)?;
        diesel::insert_into(k::table)
            .values((
                k::id.eq(1),
                k::credential.eq(rotated),
                k::settings_sha256.eq(&sha),
                k::rotated_at.eq(now_millis()),
            ))
            .execute(conn)?;
        Ok::<_, StorageError>(())
    })
}

/// Moves each register's order counter past `numbers` — (register number,
/// highest sequence the cloud holds) — where it is behind, so a database
/// restored from a backup never hands out a number already used. Returns
/// how many registers moved.
pub fn number_past(conn: &mut AnyConnection, numbers: &[(i32, i64)]) -> Result<usize> {
    use crate::schema::devices as d;
    if numbers.is_empty() {
        return Ok(0);
    }
    write_tx(conn, |conn| {
        let mut moved = 0;
        for &(register_no, last_seq) in numbers {
            moved += diesel::update(
                d::table
                    .filter(d::register_no.eq(register_no))
                    .filter(d::last_seq.lt(last_seq)),
            )
            .set(d::last_seq.eq(last_seq))
            .execute(conn)?;
        }
        Ok::<_, StorageError>(moved)
    })
}
