//! The relay's storage side: gives committed outbox events their gap-free,
//! per-stream positions in commit order.
//!
//! Request handlers never publish; they only append to the outbox. The relay
//! assigns positions afterwards and hands the positioned events on, so nothing
//! is published for a rolled-back transaction and nothing twice.
//!
//! SQLite has a single writer, so the writing transaction takes its positions
//! itself (see `outbox::append`) and the relay only reads what committed.
//!
//! Commit order without a hot row on PostgreSQL: transactions commit
//! concurrently, so each row records its transaction id, and the relay takes only
//! rows whose transaction is older than every transaction still running
//! (`txid < pg_snapshot_xmin(pg_current_snapshot())`): no row can appear later
//! that would sort before them, so positions never need to be rewritten.

use crate::db::{AnyConnection, write_tx};
use crate::error::Result;
use crate::schema::{outbox, stream_heads};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use std::collections::HashMap;

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    got: bool,
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = BigInt)]
    txid: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    stream: String,
}

/// The relay's keyset: (last_txid, last_seq) of the last positioned row.
fn keyset(conn: &mut AnyConnection) -> Result<(i64, i64)> {
    use crate::schema::relay_state as r;
    Ok(r::table
        .find(1)
        .select((r::last_txid, r::last_seq))
        .first(conn)
        .optional()?
        .unwrap_or((0, 0)))
}

/// What one relay pass handed on.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events positioned (PostgreSQL) or newly committed (SQLite) in this pass.
    pub count: usize,
    /// The highest `seq` seen: the next pass's `after_seq`.
    pub last_seq: i64,
}

/// The next committed events to hand on, at most `limit`. On PostgreSQL this
/// positions them (a write); on SQLite they were positioned when written and
/// this only reads those after `after_seq`. Consumers read the events by
/// position afterwards (`outbox::read_stream`).
pub fn next_batch(conn: &mut AnyConnection, after_seq: i64, limit: i64) -> Result<Batch> {
    match conn {
        AnyConnection::Sqlite(_) => {
            let seqs: Vec<i64> = outbox::table
                .filter(outbox::seq.gt(after_seq))
                .order(outbox::seq.asc())
                .limit(limit)
                .select(outbox::seq)
                .load(conn)?;
            Ok(Batch {
                count: seqs.len(),
                last_seq: seqs.last().copied().unwrap_or(after_seq),
            })
        }
        AnyConnection::Postgresql(_) => assign_positions(conn, after_seq, limit),
    }
}

/// Where a relay starting now begins: after everything already committed.
pub fn start_seq(conn: &mut AnyConnection) -> Result<i64> {
    Ok(outbox::table
        .select(diesel::dsl::max(outbox::seq))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// The next committed events after the keyset `($1, $2)`, at most `$3`, in
/// commit order: an index range scan of `outbox_commit_order` that reads only
/// those rows, however long the outbox (a test checks the plan).
const CANDIDATES: &str = "SELECT txid, seq, stream FROM outbox \
     WHERE (txid, seq) > ($1, $2) \
       AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
     ORDER BY txid, seq LIMIT $3";

/// Positions up to `limit` committed events (PostgreSQL).
fn assign_positions(conn: &mut AnyConnection, after_seq: i64, limit: i64) -> Result<Batch> {
    write_tx(conn, |conn| {
        let (last_txid, last_seq) = keyset(conn)?;
        let AnyConnection::Postgresql(c) = conn else {
            return Ok(Batch::default());
        };
        // One relay at a time per database, even with several api processes.
        let lock: Locked =
            diesel::sql_query("SELECT pg_try_advisory_xact_lock(7400002) AS got").get_result(c)?;
        if !lock.got {
            return Ok(Batch {
                last_seq: after_seq,
                ..Batch::default()
            });
        }
        let got: Vec<Candidate> = diesel::sql_query(CANDIDATES)
            .bind::<BigInt, _>(last_txid)
            .bind::<BigInt, _>(last_seq)
            .bind::<BigInt, _>(limit)
            .load(c)?;
        let Some(last) = got.last() else {
            return Ok(Batch {
                last_seq: after_seq,
                ..Batch::default()
            });
        };
        let mut heads: HashMap<String, i64> = stream_heads::table
            .select((stream_heads::stream, stream_heads::position))
            .load::<(String, i64)>(c)?
            .into_iter()
            .collect();
        let mut seqs = Vec::with_capacity(got.len());
        let mut positions = Vec::with_capacity(got.len());
        for cand in &got {
            let head = heads.entry(cand.stream.clone()).or_insert(0);
            *head += 1;
            seqs.push(cand.seq);
            positions.push(*head);
        }
        // One statement for the whole batch.
        diesel::sql_query(
            "UPDATE outbox SET position = x.pos \
             FROM unnest($1::bigint[], $2::bigint[]) AS x(seq, pos) WHERE outbox.seq = x.seq",
        )
        .bind::<diesel::sql_types::Array<BigInt>, _>(&seqs)
        .bind::<diesel::sql_types::Array<BigInt>, _>(&positions)
        .execute(c)?;
        // The heads of the streams this batch moved, in one statement.
        let moved: std::collections::BTreeSet<&str> =
            got.iter().map(|cand| cand.stream.as_str()).collect();
        let (streams, heads): (Vec<&str>, Vec<i64>) =
            moved.into_iter().map(|s| (s, heads[s])).unzip();
        diesel::sql_query(
            "INSERT INTO stream_heads (stream, position) \
             SELECT * FROM unnest($1::text[], $2::bigint[]) \
             ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&streams)
        .bind::<diesel::sql_types::Array<BigInt>, _>(&heads)
        .execute(c)?;
        {
            use crate::schema::relay_state as r;
            diesel::insert_into(r::table)
                .values((
                    r::id.eq(1),
                    r::last_txid.eq(last.txid),
                    r::last_seq.eq(last.seq),
                ))
                .on_conflict(r::id)
                .do_update()
                .set((r::last_txid.eq(last.txid), r::last_seq.eq(last.seq)))
                .execute(c)?;
        }
        Ok(Batch {
            count: got.len(),
            last_seq: after_seq,
        })
    })
}

/// Committed events the relay has not positioned yet (0 on SQLite, where the
/// writing transaction positions them).
pub fn unpositioned_count(conn: &mut AnyConnection) -> Result<i64> {
    if let AnyConnection::Sqlite(_) = conn {
        return Ok(0);
    }
    let (last_txid, last_seq) = keyset(conn)?;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let AnyConnection::Postgresql(c) = conn else {
        return Ok(0);
    };
    let r: Count =
        diesel::sql_query("SELECT count(*) AS n FROM outbox WHERE (txid, seq) > ($1, $2)")
            .bind::<BigInt, _>(last_txid)
            .bind::<BigInt, _>(last_seq)
            .get_result(c)?;
    Ok(r.n)
}

/// The last assigned position of every stream.
pub fn heads(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>> {
    Ok(stream_heads::table
        .select((stream_heads::stream, stream_heads::position))
        .order(stream_heads::stream.asc())
        .load(conn)?)
}

/// Where the relay stands at one moment.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// The last assigned position of every stream.
    pub heads: Vec<(String, i64)>,
    /// Committed events not positioned yet.
    pub unrelayed: i64,
}

/// The heads and the count of unpositioned events read from one snapshot, so
/// every event committed before the call is in one or the other. Read apart,
/// a batch the relay positioned between the two reads is in neither: heads
/// from before it and a count of 0 from after it, which a reader waiting for
/// "everything relayed" takes for the final heads.
pub fn progress(conn: &mut AnyConnection) -> Result<Progress> {
    conn.transaction(|conn| {
        if let AnyConnection::Postgresql(c) = conn {
            // The first statement of the transaction, so it takes effect.
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(c)?;
        }
        Ok(Progress {
            heads: heads(conn)?,
            unrelayed: unpositioned_count(conn)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        plan: String,
    }

    /// The relay runs several times a second for as long as the store runs;
    /// a pass that reads the whole outbox costs nothing in a small test and
    /// tens of milliseconds a pass in a store (a rewrite did once, and every
    /// other test passed).
    #[test]
    fn on_postgres_a_pass_reads_only_the_events_after_its_keyset() {
        let s = common::demo_store_on_pg(2);
        let mut c = s.db.conn().unwrap();
        diesel::sql_query(
            "INSERT INTO outbox (event_id, store_id, stream, node_epoch, aggregate_type, \
               aggregate_id, aggregate_version, event_type, schema_version, occurred_at, hlc, \
               master_version, actor, payload, payload_sha256) \
             SELECT 'e' || g, 's', 'test', 'n', 't', 'a' || g, 1, 'test.done', 1, g, g, 0, \
               'x', '{}', '' FROM generate_series(1, 20000) g",
        )
        .execute(&mut **c)
        .unwrap();
        while unpositioned_count(&mut c).unwrap() > 0 {
            next_batch(&mut c, 0, 5_000).unwrap();
        }
        common::receive(&s.node, &mut c).unwrap();
        diesel::sql_query("ANALYZE outbox")
            .execute(&mut **c)
            .unwrap();
        let (txid, seq) = keyset(&mut c).unwrap();
        let plan: Vec<Plan> =
            diesel::sql_query(format!("EXPLAIN (ANALYZE, FORMAT JSON) {CANDIDATES}"))
                .bind::<BigInt, _>(txid)
                .bind::<BigInt, _>(seq)
                .bind::<BigInt, _>(50)
                .load(&mut **c)
                .unwrap();
        let plan: serde_json::Value = serde_json::from_str(&plan[0].plan).unwrap();
        // The node that reads the outbox, wherever it sits in the plan.
        fn scan(node: &serde_json::Value) -> Option<&serde_json::Value> {
            if node["Relation Name"] == "outbox" {
                return Some(node);
            }
            node["Plans"].as_array()?.iter().find_map(scan)
        }
        let scan = scan(&plan[0]["Plan"]).expect("a node reads the outbox");
        assert_eq!(scan["Index Name"], "outbox_commit_order", "{plan:#}");
        assert!(
            scan["Index Cond"]
                .as_str()
                .is_some_and(|c| c.contains("txid")),
            "{plan:#}"
        );
        // The new event, not the 20,000 before it.
        let read = scan["Actual Rows"].as_i64().unwrap()
            + scan["Rows Removed by Filter"].as_i64().unwrap_or(0);
        assert!(read <= 5, "{read} rows read: {plan:#}");
    }
}
