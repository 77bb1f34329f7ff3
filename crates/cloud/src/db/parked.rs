//! Parked batches: what the consumer does with a batch it could not apply
//! within its delivery limit, so one poison batch never stops the queue.
//!
//! Parking tries the batch's events one by one (each in a savepoint): those
//! that apply alone are applied; each one that still fails is parked with
//! the database's reason, by the rule of every rejected event — kept in the
//! inbox as `rejected`, listed in `rejected_events`, its position counted as
//! processed — so the store's stream goes on without a gap. Events that
//! waited behind the batch's gap and fail when it drains them are parked the
//! same way and kept with it. The batch itself is kept (`parked_batches`) to
//! show on the admin page and to retry after a fix.

use super::CloudConn;
use super::apply::{self, ApplyReport, Incoming};
use super::stores::raise;
use crate::error::{CloudError, Result};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bytea, Integer, Nullable, Text};
use outpost_domain::ids::now_millis;
use serde::Serialize;
use std::collections::HashSet;

/// The database's own words for a failure (our error enum hides them).
pub fn db_reason(e: &CloudError) -> String {
    match e {
        CloudError::Db(d) => d.to_string(),
        other => other.to_string(),
    }
}

/// Whether the central database takes writes at all (a one-row upsert):
/// when it does not, a failed apply says nothing about the batch.
pub fn can_write(conn: &mut CloudConn) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO write_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at",
    )
    .bind::<BigInt, _>(now_millis())
    .execute(conn)?;
    Ok(())
}

/// Parks a batch of `store_id`'s `stream` that failed `attempts` times with
/// `why`. Returns how many of its events were parked (the rest applied).
pub fn park_batch(
    conn: &mut CloudConn,
    store_id: &str,
    stream: &str,
    mut events: Vec<Incoming>,
    why: &str,
    attempts: i32,
) -> Result<usize> {
    events.sort_by_key(|e| e.position);
    conn.transaction(|conn| {
        let mut rejected = 0;
        // Events held behind this batch's gap that fail when it drains
        // them: parked there, kept here so a retry applies them too.
        let mut drained = Vec::new();
        for e in events.clone() {
            let report = match apply_parking(conn, store_id, stream, vec![e.clone()]) {
                Ok(report) => report,
                Err(err) => {
                    let because = format!("parked after {attempts} failed attempts: {}", db_reason(&err));
                    rejected += 1;
                    reject_batch(conn, store_id, stream, vec![e], &because)?
                }
            };
            rejected += report.parked.len();
            drained.extend(report.parked);
        }
        events.extend(drained);
        events.sort_by_key(|e| e.position);
        let body = serde_json::to_vec(&events).map_err(|e| CloudError::Corrupt(e.to_string()))?;
        let (first, last) = (
            events.first().map_or(0, |e| e.position),
            events.last().map_or(0, |e| e.position),
        );
        insert(conn, store_id, stream, (first, last), (events.len(), rejected), why, attempts, "events", &body)?;
        raise(
            conn,
            store_id,
            "batch-parked",
            &format!(
                "a {stream} batch (positions {first}–{last}) could not be applied after {attempts} attempts: {why}; \
                 {rejected} of its {} events are parked, the stream goes on. Retry it from the admin page after a fix.",
                events.len()
            ),
        )?;
        Ok(rejected)
    })
}

/// Keeps a queued message that does not even decode (nothing can apply it).
pub fn park_message(conn: &mut CloudConn, body: &[u8], why: &str, attempts: i32) -> Result<()> {
    insert(conn, "", "", (0, 0), (0, 0), why, attempts, "message", body)?;
    tracing::error!(
        bytes = body.len(),
        "an undecodable message was parked: {why}"
    );
    Ok(())
}

/// [`apply::apply_batch`] while parking: an event held behind a gap that this
/// fills, and that fails alone, is parked with the database's reason rather
/// than failing the whole (so a poison event that arrived early cannot make
/// the events after it unparkable).
fn apply_parking(
    conn: &mut PgConnection,
    store_id: &str,
    stream: &str,
    events: Vec<Incoming>,
) -> Result<ApplyReport> {
    apply::apply_with(conn, store_id, stream, events, None, true)
}

/// Parks a batch's events as they come, with `reason`, by the same ordering
/// rules as applying them: each goes into the inbox as `rejected` with a row
/// in `rejected_events`, and its position counts as processed, so the stream
/// goes on. Text the database cannot hold (NUL) is replaced in what is
/// stored; the caller keeps the original to retry.
fn reject_batch(
    conn: &mut PgConnection,
    store_id: &str,
    stream: &str,
    events: Vec<Incoming>,
    reason: &str,
) -> Result<ApplyReport> {
    let events = events.into_iter().map(apply::storable).collect();
    apply::apply_with(conn, store_id, stream, events, Some(reason), true)
}

/// Applies events of a parked batch again after a fix: those still parked
/// (rejected) are taken out of the inbox and applied by id, as events of an
/// epoch the stream has left are (their positions were counted long ago).
/// Events that were applied meanwhile are left alone. Runs in the caller's
/// transaction.
fn reapply(
    conn: &mut PgConnection,
    store_id: &str,
    stream: &str,
    events: Vec<Incoming>,
) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let parked: Vec<apply::Inserted> = diesel::sql_query(
        "DELETE FROM inbox WHERE store_id = $1 AND event_id = ANY($2) AND outcome = 'rejected' \
         RETURNING event_id",
    )
    .bind::<Text, _>(store_id)
    .bind::<Array<Text>, _>(&ids)
    .load(conn)?;
    let parked: HashSet<String> = parked.into_iter().map(|r| r.event_id).collect();
    diesel::sql_query("DELETE FROM rejected_events WHERE store_id = $1 AND event_id = ANY($2)")
        .bind::<Text, _>(store_id)
        .bind::<Array<Text>, _>(&ids)
        .execute(conn)?;
    let again: Vec<Incoming> = events
        .into_iter()
        .filter(|e| parked.contains(&e.event_id))
        .collect();
    apply::insert(conn, store_id, stream, again, None, &mut report)?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn insert(
    conn: &mut PgConnection,
    store_id: &str,
    stream: &str,
    (first, last): (i64, i64),
    (events, rejected): (usize, usize),
    why: &str,
    attempts: i32,
    kind: &str,
    body: &[u8],
) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO parked_batches (store_id, stream, first_position, last_position, events, rejected, \
           reason, attempts, body_kind, body, parked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(stream)
    .bind::<BigInt, _>(first)
    .bind::<BigInt, _>(last)
    .bind::<Integer, _>(events as i32)
    .bind::<Integer, _>(rejected as i32)
    .bind::<Text, _>(why.replace('\0', "\u{FFFD}"))
    .bind::<Integer, _>(attempts)
    .bind::<Text, _>(kind)
    .bind::<Bytea, _>(body)
    .bind::<BigInt, _>(now_millis())
    .execute(conn)?;
    Ok(())
}

/// A parked batch as people see it.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct ParkedBatch {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub store_id: String,
    #[diesel(sql_type = Text)]
    pub stream: String,
    #[diesel(sql_type = BigInt)]
    pub first_position: i64,
    #[diesel(sql_type = BigInt)]
    pub last_position: i64,
    #[diesel(sql_type = Integer)]
    pub events: i32,
    #[diesel(sql_type = Integer)]
    pub rejected: i32,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = BigInt)]
    pub parked_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub retried_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub resolved_at: Option<i64>,
}

/// Parked batches, unresolved first, newest first.
pub fn parked(conn: &mut CloudConn, store_id: Option<&str>) -> Result<Vec<ParkedBatch>> {
    Ok(diesel::sql_query(
        "SELECT id, store_id, stream, first_position, last_position, events, rejected, reason, attempts, \
           parked_at, retried_at, resolved_at FROM parked_batches \
         WHERE $1::text IS NULL OR store_id = $1 \
         ORDER BY resolved_at IS NOT NULL, id DESC LIMIT 500",
    )
    .bind::<Nullable<Text>, _>(store_id)
    .load(conn)?)
}

#[derive(QueryableByName)]
struct Body {
    #[diesel(sql_type = Text)]
    store_id: String,
    #[diesel(sql_type = Text)]
    stream: String,
    #[diesel(sql_type = Text)]
    body_kind: String,
    #[diesel(sql_type = Bytea)]
    body: Vec<u8>,
}

/// Applies a parked batch's parked events again (after a fix). `Ok(Ok(n))`:
/// they applied (n events), the batch is resolved; `Ok(Err(reason))`: it
/// still fails, nothing changed but the reason and the time of the retry.
pub fn retry_parked(conn: &mut CloudConn, id: i64) -> Result<std::result::Result<usize, String>> {
    conn.transaction(|conn| {
        let b: Option<Body> = diesel::sql_query(
            "SELECT store_id, stream, body_kind, body FROM parked_batches \
             WHERE id = $1 AND resolved_at IS NULL FOR UPDATE",
        )
        .bind::<BigInt, _>(id)
        .get_result(conn)
        .optional()?;
        let b = b.ok_or_else(|| CloudError::not_found(format!("unresolved parked batch {id}")))?;
        if b.body_kind != "events" {
            return Err(CloudError::Unprocessable(
                "this message did not decode: there is nothing to apply (see the reason)".into(),
            ));
        }
        let events: Vec<Incoming> = serde_json::from_slice(&b.body)
            .map_err(|e| CloudError::Corrupt(format!("parked_batches.body: {e}")))?;
        let outcome = conn.transaction(|conn| reapply(conn, &b.store_id, &b.stream, events));
        let now = now_millis();
        match outcome {
            Ok(report) => {
                diesel::sql_query(
                    "UPDATE parked_batches SET retried_at = $2, resolved_at = $2 WHERE id = $1",
                )
                .bind::<BigInt, _>(id)
                .bind::<BigInt, _>(now)
                .execute(conn)?;
                Ok(Ok(report.applied))
            }
            Err(e) => {
                let why = format!("retried: {}", db_reason(&e));
                diesel::sql_query(
                    "UPDATE parked_batches SET retried_at = $2, reason = $3 WHERE id = $1",
                )
                .bind::<BigInt, _>(id)
                .bind::<BigInt, _>(now)
                .bind::<Text, _>(&why)
                .execute(conn)?;
                Ok(Err(why))
            }
        }
    })
}
