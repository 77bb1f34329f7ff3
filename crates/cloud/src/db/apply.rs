//! Applying a store's events to the central database, exactly once in effect.
//!
//! Transport is at least once (a batch may arrive twice, or out of order after
//! a redelivery), so apply is idempotent and ordered here:
//! - the inbox holds every event by id (`ON CONFLICT DO NOTHING`, in the same
//!   transaction as the projections), and a second arrival changes nothing — or
//!   raises an alarm when the same id comes with a different payload hash;
//! - per store and stream a high-water mark says which positions are done; an
//!   event ahead of a gap waits in `pending_events` until the gap fills, so
//!   events apply in position order within a stream;
//! - an event that cannot be applied is parked (inbox outcome `rejected`, and a
//!   row in `rejected_events` with the reason): its position still counts as
//!   processed, so it never blocks the rest of the stream.
//!
//! Epochs: when a store enters a new epoch (its database was rewound), the
//! stream's mark moves to the new epoch at the fork once the old epoch's
//! events up to the fork are in. Events of the old epoch arriving later are
//! still applied by id (they are real sales the store lost), in their own
//! epoch's positions, which never collide with the new epoch's.

use super::stores::{Epochs, epochs, raise};
use crate::error::{CloudError, Result};
use diesel::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Text};
use outpost_domain::ids::now_millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One event as it arrives from a store (the envelope's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incoming {
    pub event_id: String,
    pub store_id: String,
    pub device_id: String,
    pub stream: String,
    pub position: i64,
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

/// A received envelope. The SyncService checked that the payload is UTF-8
/// and matches its hash before acknowledging it.
impl From<outpost_proto::sync_v1::EventEnvelope> for Incoming {
    fn from(e: outpost_proto::sync_v1::EventEnvelope) -> Incoming {
        Incoming {
            event_id: e.event_id,
            store_id: e.store_id,
            device_id: e.device_id,
            stream: e.stream,
            position: e.position,
            node_epoch: e.node_epoch,
            aggregate_type: e.aggregate_type,
            aggregate_id: e.aggregate_id,
            aggregate_version: e.aggregate_version,
            event_type: e.event_type,
            schema_version: e.schema_version,
            occurred_at: e.occurred_at_ms,
            hlc: e.hlc,
            master_version: e.master_version,
            actor: e.actor,
            payload: String::from_utf8_lossy(&e.payload).into_owned(),
            payload_sha256: e.payload_sha256,
        }
    }
}

/// What one apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// Held in `pending_events` behind a gap (or an epoch not yet reached).
    pub held: usize,
    pub alarms: usize,
    /// Events that waited behind a gap and, when a parking apply drained
    /// them, failed alone: parked with the database's reason. The batch
    /// being parked keeps them (as they came), so a retry after the fix
    /// applies them too.
    pub parked: Vec<Incoming>,
}

#[derive(QueryableByName)]
struct MarkRow {
    #[diesel(sql_type = Text)]
    node_epoch: String,
    #[diesel(sql_type = BigInt)]
    position: i64,
}

/// Applies one batch of one store's stream in one transaction. Call it again
/// with the same batch and nothing changes.
pub fn apply_batch(
    conn: &mut PgConnection,
    store_id: &str,
    stream: &str,
    events: Vec<Incoming>,
) -> Result<ApplyReport> {
    apply_with(conn, store_id, stream, events, None, false)
}

/// The event with every NUL (which PostgreSQL text cannot hold) replaced.
pub(super) fn storable(e: Incoming) -> Incoming {
    let t = |s: String| {
        if s.contains('\0') {
            s.replace('\0', "\u{FFFD}")
        } else {
            s
        }
    };
    Incoming {
        event_id: t(e.event_id),
        store_id: t(e.store_id),
        device_id: t(e.device_id),
        stream: t(e.stream),
        node_epoch: t(e.node_epoch),
        aggregate_type: t(e.aggregate_type),
        aggregate_id: t(e.aggregate_id),
        event_type: t(e.event_type),
        actor: t(e.actor),
        payload: t(e.payload),
        payload_sha256: t(e.payload_sha256),
        ..e
    }
}

/// Applies (or, with `reject`, parks) a batch in one transaction; with
/// `parking`, held events it releases are applied one by one and parked
/// when they fail alone.
pub(super) fn apply_with(
    conn: &mut PgConnection,
    store_id: &str,
    stream: &str,
    events: Vec<Incoming>,
    reject: Option<&str>,
    parking: bool,
) -> Result<ApplyReport> {
    conn.transaction(|conn| {
        let mut report = ApplyReport::default();
        let Some(first) = events.first() else {
            return Ok(report);
        };
        let epochs = epochs(conn, store_id)?;
        let (mut epoch, mut position) =
            lock_mark(conn, store_id, stream, &first.node_epoch, &epochs)?;
        let mut events = events;
        events.sort_by_key(|e| e.position);
        let (mut now, mut later, mut hold) = (Vec::new(), Vec::new(), Vec::new());
        let mut next = position + 1;
        for e in events {
            if e.node_epoch == epoch {
                if e.position < next {
                    now.push(e); // done before: deduplicated by the inbox
                } else if e.position == next {
                    next += 1;
                    now.push(e);
                } else {
                    hold.push(e);
                }
            } else if is_ancestor(&epochs, &e.node_epoch, &epoch) {
                later.push(e); // an epoch the stream has left: applied by id
            } else {
                hold.push(e);
            }
        }
        position = next - 1;
        insert(conn, store_id, stream, now, reject, &mut report)?;
        insert(conn, store_id, stream, later, reject, &mut report)?;
        report.held += hold_events(conn, store_id, &hold)?;
        // Drain what waited behind the gap, and move to a newer epoch once
        // this one reached its fork.
        loop {
            let run = take_pending(conn, store_id, &epoch, stream, position)?;
            if !run.is_empty() {
                position += run.len() as i64;
                if parking {
                    for e in run {
                        let one = vec![e.clone()];
                        let r = conn
                            .transaction(|c| insert(c, store_id, stream, one, None, &mut report));
                        if let Err(err) = r {
                            let why = format!("parked: {}", super::parked::db_reason(&err));
                            insert(
                                conn,
                                store_id,
                                stream,
                                vec![storable(e.clone())],
                                Some(&why),
                                &mut report,
                            )?;
                            report.parked.push(e);
                        }
                    }
                } else {
                    insert(conn, store_id, stream, run, None, &mut report)?;
                }
                continue;
            }
            let child = epochs.iter().find(|(_, (parent, fork))| {
                *parent == epoch && fork.get(stream).copied().unwrap_or(0) <= position
            });
            match child {
                Some((child, (_, fork))) => {
                    epoch = child.clone();
                    position = fork.get(stream).copied().unwrap_or(0);
                }
                None => break,
            }
        }
        diesel::sql_query(
            "UPDATE stream_marks SET node_epoch = $3, position = $4, applied_at = $5 \
             WHERE store_id = $1 AND stream = $2",
        )
        .bind::<Text, _>(store_id)
        .bind::<Text, _>(stream)
        .bind::<Text, _>(&epoch)
        .bind::<BigInt, _>(position)
        .bind::<BigInt, _>(now_millis())
        .execute(conn)?;
        Ok(report)
    })
}

/// `old` is `epoch` or one of the epochs it descends from.
fn is_ancestor(epochs: &Epochs, old: &str, epoch: &str) -> bool {
    let mut e = epoch;
    let mut seen = 0;
    loop {
        if e == old {
            return true;
        }
        match epochs.get(e) {
            Some((parent, _)) if seen < 10_000 => {
                e = parent;
                seen += 1;
            }
            _ => return false,
        }
    }
}

/// Locks the stream's mark, creating it at the root of `epoch`'s history.
fn lock_mark(
    conn: &mut PgConnection,
    store_id: &str,
    stream: &str,
    epoch: &str,
    epochs: &Epochs,
) -> Result<(String, i64)> {
    let mut root = epoch;
    let mut hops = 0;
    while let Some((parent, _)) = epochs.get(root) {
        if hops > 10_000 {
            break;
        }
        root = parent;
        hops += 1;
    }
    diesel::sql_query(
        "INSERT INTO stream_marks (store_id, stream, node_epoch, position, applied_at) \
         VALUES ($1, $2, $3, 0, $4) ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(stream)
    .bind::<Text, _>(root)
    .bind::<BigInt, _>(now_millis())
    .execute(conn)?;
    let m: MarkRow = diesel::sql_query(
        "SELECT node_epoch, position FROM stream_marks WHERE store_id = $1 AND stream = $2 FOR UPDATE",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(stream)
    .get_result(conn)?;
    Ok((m.node_epoch, m.position))
}

fn hold_events(conn: &mut PgConnection, store_id: &str, events: &[Incoming]) -> Result<usize> {
    let mut n = 0;
    for e in events {
        let json = serde_json::to_string(e).map_err(|x| CloudError::Corrupt(x.to_string()))?;
        n += diesel::sql_query(
            "INSERT INTO pending_events (store_id, node_epoch, stream, position, event, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(store_id)
        .bind::<Text, _>(&e.node_epoch)
        .bind::<Text, _>(&e.stream)
        .bind::<BigInt, _>(e.position)
        .bind::<Text, _>(json)
        .bind::<BigInt, _>(now_millis())
        .execute(conn)?;
    }
    Ok(n)
}

#[derive(QueryableByName)]
struct PendingRow {
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = Text)]
    event: String,
}

/// Removes and returns the held events that now follow `after` without a gap.
fn take_pending(
    conn: &mut PgConnection,
    store_id: &str,
    epoch: &str,
    stream: &str,
    after: i64,
) -> Result<Vec<Incoming>> {
    let rows: Vec<PendingRow> = diesel::sql_query(
        "SELECT position, event FROM pending_events \
         WHERE store_id = $1 AND node_epoch = $2 AND stream = $3 AND position > $4 \
         ORDER BY position LIMIT 5000",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(epoch)
    .bind::<Text, _>(stream)
    .bind::<BigInt, _>(after)
    .load(conn)?;
    let mut run = Vec::new();
    for r in rows {
        if r.position != after + 1 + run.len() as i64 {
            break;
        }
        run.push(
            serde_json::from_str::<Incoming>(&r.event)
                .map_err(|e| CloudError::Corrupt(format!("pending_events: {e}")))?,
        );
    }
    if let Some(last) = run.last() {
        diesel::sql_query(
            "DELETE FROM pending_events WHERE store_id = $1 AND node_epoch = $2 AND stream = $3 \
             AND position > $4 AND position <= $5",
        )
        .bind::<Text, _>(store_id)
        .bind::<Text, _>(epoch)
        .bind::<Text, _>(stream)
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(last.position)
        .execute(conn)?;
    }
    Ok(run)
}

/// The fields of an order event the cloud projects (the payload is the whole
/// order as the store holds it).
#[derive(Deserialize)]
struct OrderSnap {
    id: String,
    number: String,
    device_id: String,
    business_day: String,
    company_id: String,
    status: String,
    currency: String,
    total_minor: i64,
    tax_minor: i64,
    refunded_minor: i64,
    needs_adjustment: bool,
    created_at: i64,
    hlc: i64,
    version: i64,
}

#[derive(Deserialize)]
struct MoveSnap {
    id: String,
    product_id: String,
    qty_milli: i64,
    reason: String,
}

enum Parsed {
    Order(Box<OrderSnap>),
    Moves(Vec<MoveSnap>),
    Product(Box<super::master::StoreProduct>),
    Kept,
}

/// Checks an event before it is applied; an error is the reason to park it.
fn parse(store_id: &str, stream: &str, e: &Incoming) -> std::result::Result<Parsed, String> {
    if e.store_id != store_id {
        return Err(format!(
            "event of store {} in store {store_id}'s batch",
            e.store_id
        ));
    }
    if e.stream != stream {
        return Err(format!("event of stream {} in a {stream} batch", e.stream));
    }
    let accepted = outpost_domain::ids::accepted_schema_versions();
    if !accepted.contains(&e.schema_version) {
        return Err(format!(
            "schema version {} is not one this cloud reads ({accepted:?})",
            e.schema_version
        ));
    }
    match (e.aggregate_type.as_str(), e.event_type.as_str()) {
        ("order", _) => serde_json::from_str::<OrderSnap>(&e.payload)
            .map(|o| Parsed::Order(Box::new(o)))
            .map_err(|x| format!("order payload: {x}")),
        (_, "stock.moved") => serde_json::from_str::<Vec<MoveSnap>>(&e.payload)
            .map(Parsed::Moves)
            .map_err(|x| format!("stock.moved payload: {x}")),
        ("product", _) if e.stream == outpost_domain::Stream::Master.as_str() => {
            serde_json::from_str::<super::master::StoreProduct>(&e.payload)
                .map(|p| Parsed::Product(Box::new(p)))
                .map_err(|x| format!("product payload: {x}"))
        }
        _ => Ok(Parsed::Kept),
    }
}

#[derive(QueryableByName)]
pub(super) struct Inserted {
    #[diesel(sql_type = Text)]
    pub(super) event_id: String,
}

#[derive(QueryableByName)]
struct Known {
    #[diesel(sql_type = Text)]
    event_id: String,
    #[diesel(sql_type = Text)]
    payload_sha256: String,
}

/// Inserts events into the inbox (applied or rejected), projects the new ones,
/// and sorts out the ones already there.
pub(super) fn insert(
    conn: &mut PgConnection,
    store_id: &str,
    stream: &str,
    events: Vec<Incoming>,
    reject: Option<&str>,
    report: &mut ApplyReport,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let parsed: Vec<std::result::Result<Parsed, String>> = events
        .iter()
        .map(|e| match reject {
            Some(why) => Err(why.to_owned()),
            None => parse(store_id, stream, e),
        })
        .collect();
    let now = now_millis();
    macro_rules! col {
        ($f:ident) => {
            events.iter().map(|e| e.$f.clone()).collect::<Vec<_>>()
        };
    }
    let outcome: Vec<String> = parsed
        .iter()
        .map(|p| if p.is_ok() { "applied" } else { "rejected" }.to_owned())
        .collect();
    let inserted: Vec<Inserted> = diesel::sql_query(
        "INSERT INTO inbox (event_id, store_id, node_epoch, stream, position, device_id, aggregate_type, \
           aggregate_id, aggregate_version, event_type, schema_version, occurred_at, hlc, master_version, \
           actor, payload, payload_sha256, outcome, applied_at) \
         SELECT e.*, $19 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
           $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::int[], $12::bigint[], \
           $13::bigint[], $14::bigint[], $15::text[], $16::text[], $17::text[], $18::text[]) AS e \
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind::<Array<Text>, _>(col!(event_id))
    .bind::<Array<Text>, _>(vec![store_id.to_owned(); events.len()])
    .bind::<Array<Text>, _>(col!(node_epoch))
    .bind::<Array<Text>, _>(col!(stream))
    .bind::<Array<BigInt>, _>(col!(position))
    .bind::<Array<Text>, _>(col!(device_id))
    .bind::<Array<Text>, _>(col!(aggregate_type))
    .bind::<Array<Text>, _>(col!(aggregate_id))
    .bind::<Array<BigInt>, _>(col!(aggregate_version))
    .bind::<Array<Text>, _>(col!(event_type))
    .bind::<Array<Integer>, _>(col!(schema_version))
    .bind::<Array<BigInt>, _>(col!(occurred_at))
    .bind::<Array<BigInt>, _>(col!(hlc))
    .bind::<Array<BigInt>, _>(col!(master_version))
    .bind::<Array<Text>, _>(col!(actor))
    .bind::<Array<Text>, _>(col!(payload))
    .bind::<Array<Text>, _>(col!(payload_sha256))
    .bind::<Array<Text>, _>(outcome)
    .bind::<BigInt, _>(now)
    .load(conn)?;
    let inserted: HashSet<String> = inserted.into_iter().map(|r| r.event_id).collect();

    // Not inserted: seen before (same id), or another event holds the position.
    let missing: Vec<&Incoming> = events
        .iter()
        .filter(|e| !inserted.contains(&e.event_id))
        .collect();
    if !missing.is_empty() {
        let ids: Vec<&str> = missing.iter().map(|e| e.event_id.as_str()).collect();
        let known: HashMap<String, String> = diesel::sql_query(
            "SELECT event_id, payload_sha256 FROM inbox WHERE event_id = ANY($1)",
        )
        .bind::<Array<Text>, _>(&ids)
        .load::<Known>(conn)?
        .into_iter()
        .map(|k| (k.event_id, k.payload_sha256))
        .collect();
        for e in missing {
            match known.get(&e.event_id) {
                Some(h) if *h == e.payload_sha256 => report.duplicates += 1,
                Some(h) => {
                    report.alarms += 1;
                    raise(
                        conn,
                        store_id,
                        "event-id-reused",
                        &format!(
                            "event {} ({} {} #{}) arrived again with payload sha256 {} but {} was applied",
                            e.event_id, e.event_type, e.stream, e.position, e.payload_sha256, h
                        ),
                    )?;
                }
                None => {
                    report.rejected += 1;
                    report.alarms += 1;
                    let reason = format!(
                        "position {} of {} (epoch {}) is held by another event: was the store's database cloned?",
                        e.position, e.stream, e.node_epoch
                    );
                    park(conn, store_id, e, &reason, now)?;
                    raise(conn, store_id, "position-conflict", &reason)?;
                }
            }
        }
    }

    let mut orders: HashMap<String, (OrderSnap, String)> = HashMap::new();
    let mut moves: Vec<MoveSnap> = Vec::new();
    for (e, p) in events.iter().zip(parsed) {
        if !inserted.contains(&e.event_id) {
            continue;
        }
        match p {
            Err(reason) => {
                report.rejected += 1;
                park(conn, store_id, e, &reason, now)?;
            }
            Ok(p) => {
                report.applied += 1;
                match p {
                    Parsed::Order(o) => {
                        let newer = orders
                            .get(&o.id)
                            .is_none_or(|(have, _)| have.version < o.version);
                        if newer {
                            orders.insert(o.id.clone(), (*o, e.payload.clone()));
                        }
                    }
                    Parsed::Moves(m) => moves.extend(m),
                    Parsed::Product(p) => super::master::apply_store_product(
                        conn,
                        store_id,
                        &p,
                        e.hlc,
                        e.master_version,
                    )?,
                    Parsed::Kept => {}
                }
            }
        }
    }
    project_orders(conn, store_id, orders.into_values().collect(), report)?;
    project_stock(conn, store_id, moves, now)?;
    Ok(())
}

fn park(
    conn: &mut PgConnection,
    store_id: &str,
    e: &Incoming,
    reason: &str,
    now: i64,
) -> Result<()> {
    tracing::warn!(store = store_id, event = %e.event_id, "event parked: {reason}");
    diesel::sql_query(
        "INSERT INTO rejected_events (event_id, store_id, stream, position, event_type, reason, rejected_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(&e.event_id)
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(&e.stream)
    .bind::<BigInt, _>(e.position)
    .bind::<Text, _>(&e.event_type)
    .bind::<Text, _>(reason)
    .bind::<BigInt, _>(now)
    .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Upserted {
    #[diesel(sql_type = Text)]
    number: String,
    #[diesel(sql_type = Bool)]
    inserted: bool,
}

/// Upserts the orders (the newest version wins) and logs an order number
/// imported twice under different ids: both orders are kept.
fn project_orders(
    conn: &mut PgConnection,
    store_id: &str,
    orders: Vec<(OrderSnap, String)>,
    report: &mut ApplyReport,
) -> Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    macro_rules! col {
        ($f:ident) => {
            orders.iter().map(|(o, _)| o.$f.clone()).collect::<Vec<_>>()
        };
    }
    let bodies: Vec<&str> = orders.iter().map(|(_, b)| b.as_str()).collect();
    let done: Vec<Upserted> = diesel::sql_query(
        "INSERT INTO orders (id, store_id, number, device_id, business_day, company_id, status, currency, \
           total_minor, tax_minor, refunded_minor, needs_adjustment, created_at, hlc, version, body) \
         SELECT o.id, $2, o.number, o.device_id, o.business_day, o.company_id, o.status, o.currency, \
           o.total_minor, o.tax_minor, o.refunded_minor, o.needs_adjustment, o.created_at, o.hlc, o.version, o.body \
         FROM unnest($1::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
           $9::bigint[], $10::bigint[], $11::bigint[], $12::bool[], $13::bigint[], $14::bigint[], \
           $15::bigint[], $16::text[]) \
           AS o(id, number, device_id, business_day, company_id, status, currency, total_minor, tax_minor, \
                refunded_minor, needs_adjustment, created_at, hlc, version, body) \
         ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, total_minor = EXCLUDED.total_minor, \
           tax_minor = EXCLUDED.tax_minor, refunded_minor = EXCLUDED.refunded_minor, \
           needs_adjustment = EXCLUDED.needs_adjustment, version = EXCLUDED.version, body = EXCLUDED.body \
         WHERE orders.version < EXCLUDED.version AND orders.store_id = EXCLUDED.store_id \
         RETURNING number, (xmax = 0) AS inserted",
    )
    .bind::<Array<Text>, _>(col!(id))
    .bind::<Text, _>(store_id)
    .bind::<Array<Text>, _>(col!(number))
    .bind::<Array<Text>, _>(col!(device_id))
    .bind::<Array<Text>, _>(col!(business_day))
    .bind::<Array<Text>, _>(col!(company_id))
    .bind::<Array<Text>, _>(col!(status))
    .bind::<Array<Text>, _>(col!(currency))
    .bind::<Array<BigInt>, _>(col!(total_minor))
    .bind::<Array<BigInt>, _>(col!(tax_minor))
    .bind::<Array<BigInt>, _>(col!(refunded_minor))
    .bind::<Array<Bool>, _>(col!(needs_adjustment))
    .bind::<Array<BigInt>, _>(col!(created_at))
    .bind::<Array<BigInt>, _>(col!(hlc))
    .bind::<Array<BigInt>, _>(col!(version))
    .bind::<Array<Text>, _>(&bodies)
    .load(conn)?;
    let fresh: Vec<&Upserted> = done.iter().filter(|u| u.inserted).collect();
    if fresh.is_empty() {
        return Ok(());
    }
    super::stores::record_numbers(conn, store_id, fresh.iter().map(|u| u.number.as_str()))?;
    #[derive(QueryableByName)]
    struct Twin {
        #[diesel(sql_type = Text)]
        number: String,
        #[diesel(sql_type = Text)]
        ids: String,
    }
    let numbers: Vec<&str> = fresh.iter().map(|u| u.number.as_str()).collect();
    let twins: Vec<Twin> = diesel::sql_query(
        "SELECT number, string_agg(id, ', ' ORDER BY id) AS ids FROM orders \
         WHERE store_id = $1 AND number = ANY($2) GROUP BY number HAVING count(*) > 1",
    )
    .bind::<Text, _>(store_id)
    .bind::<Array<Text>, _>(&numbers)
    .load(conn)?;
    for t in twins {
        report.alarms += 1;
        raise(
            conn,
            store_id,
            "order-number-collision",
            &format!(
                "order number {} was imported for several orders ({}); all are kept",
                t.number, t.ids
            ),
        )?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct MovedRow {
    #[diesel(sql_type = Text)]
    product_id: String,
    #[diesel(sql_type = BigInt)]
    qty_milli: i64,
}

/// Adds the movements once each and updates the levels; a level below zero is
/// flagged with the time it went negative, never refused.
fn project_stock(
    conn: &mut PgConnection,
    store_id: &str,
    moves: Vec<MoveSnap>,
    now: i64,
) -> Result<()> {
    if moves.is_empty() {
        return Ok(());
    }
    macro_rules! col {
        ($f:ident) => {
            moves.iter().map(|m| m.$f.clone()).collect::<Vec<_>>()
        };
    }
    let added: Vec<MovedRow> = diesel::sql_query(
        "INSERT INTO stock_movements (id, store_id, product_id, qty_milli, reason, occurred_at) \
         SELECT m.id, $2, m.product_id, m.qty_milli, m.reason, $6 \
         FROM unnest($1::text[], $3::text[], $4::bigint[], $5::text[]) AS m(id, product_id, qty_milli, reason) \
         ON CONFLICT DO NOTHING RETURNING product_id, qty_milli",
    )
    .bind::<Array<Text>, _>(col!(id))
    .bind::<Text, _>(store_id)
    .bind::<Array<Text>, _>(col!(product_id))
    .bind::<Array<BigInt>, _>(col!(qty_milli))
    .bind::<Array<Text>, _>(col!(reason))
    .bind::<BigInt, _>(now)
    .load(conn)?;
    let mut delta: BTreeMap<String, i64> = BTreeMap::new();
    for r in added {
        *delta.entry(r.product_id).or_default() += r.qty_milli;
    }
    let (products, qty): (Vec<String>, Vec<i64>) = delta.into_iter().unzip();
    diesel::sql_query(
        "INSERT INTO stock_levels (store_id, product_id, qty_milli, negative_since) \
         SELECT $1, d.product_id, d.qty, CASE WHEN d.qty < 0 THEN $4::bigint END \
         FROM unnest($2::text[], $3::bigint[]) AS d(product_id, qty) \
         ON CONFLICT (store_id, product_id) DO UPDATE \
         SET qty_milli = stock_levels.qty_milli + EXCLUDED.qty_milli, \
             negative_since = CASE WHEN stock_levels.qty_milli + EXCLUDED.qty_milli < 0 \
               THEN COALESCE(stock_levels.negative_since, $4) END",
    )
    .bind::<Text, _>(store_id)
    .bind::<Array<Text>, _>(&products)
    .bind::<Array<BigInt>, _>(&qty)
    .bind::<BigInt, _>(now)
    .execute(conn)?;
    Ok(())
}
