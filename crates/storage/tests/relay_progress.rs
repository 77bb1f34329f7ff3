//! What the relay reports of its progress holds for a reader that waits for
//! "everything relayed" (ops, the health page, the tests): with sales
//! committing and the relay positioning them at the same time, every event
//! committed before the report is either under a stream's head or counted as
//! not yet relayed, never in neither. And one pass numbers a stream's events
//! in commit order.

mod common;

use diesel::prelude::*;
use outpost_storage::relay;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

struct Stop<'a>(&'a AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn on_postgres_every_committed_event_is_under_a_head_or_counted_as_unrelayed() {
    let s = common::demo_store_on_pg(4);
    let stop = AtomicBool::new(false);
    let (mut checks, mut caught_up) = (0, 0);
    std::thread::scope(|t| {
        // Stops the other two however this thread leaves the scope (a failed
        // check included), or the scope would wait for them for ever.
        let _stop = Stop(&stop);
        t.spawn(|| {
            let mut c = s.db.conn().unwrap();
            while !stop.load(Ordering::Relaxed) {
                common::receive(&s.node, &mut c).unwrap();
            }
        });
        t.spawn(|| {
            let mut c = s.db.conn().unwrap();
            while !stop.load(Ordering::Relaxed) {
                relay::next_batch(&mut c, 0, 50).unwrap();
            }
        });
        let mut c = s.db.conn().unwrap();
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            let committed = diesel::sql_query("SELECT count(*) AS n FROM outbox")
                .get_result::<N>(&mut **c)
                .unwrap()
                .n;
            let p = relay::progress(&mut c).unwrap();
            let positioned: i64 = p.heads.iter().map(|(_, h)| h).sum();
            assert!(
                positioned + p.unrelayed >= committed,
                "{committed} committed before the report, but {positioned} positioned and \
                 {} unrelayed",
                p.unrelayed
            );
            checks += 1;
            caught_up += usize::from(p.unrelayed == 0);
        }
    });
    // The check must have met the relay mid-way as well as caught up.
    assert!(checks > 100, "only {checks} reports in 3 s");
    assert!(
        caught_up > 0 && caught_up < checks,
        "{caught_up} of {checks}"
    );
}

/// Relay passes over several events of a stream number them in the order
/// their transactions committed, right after the stream's head, and move
/// the head to the last of them.
#[test]
fn on_postgres_one_pass_numbers_a_streams_events_in_commit_order() {
    let s = common::demo_store_on_pg(2);
    let mut c = s.db.conn().unwrap();
    while relay::next_batch(&mut c, 0, 500).unwrap().count > 0 {}
    let head = |c: &mut outpost_storage::AnyConnection| {
        relay::heads(c)
            .unwrap()
            .into_iter()
            .find(|(s, _)| s == "stock")
            .map_or(0, |(_, h)| h)
    };
    let before = head(&mut c);
    for _ in 0..6 {
        common::receive(&s.node, &mut c).unwrap();
    }
    // The relay takes only rows older than every transaction still running
    // on the server (any database's: tests run beside this one), so the
    // six may take a few passes to be free.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut taken = 0;
    while taken < 6 {
        taken += relay::next_batch(&mut c, 0, 500).unwrap().count;
        assert!(
            std::time::Instant::now() < deadline,
            "only {taken} of 6 positioned"
        );
    }
    assert_eq!(taken, 6);
    let events = outpost_storage::outbox::read_stream(&mut c, "stock", before, 50).unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    let mut committed = seqs.clone();
    committed.sort_unstable();
    assert_eq!(seqs, committed, "positions in commit order");
    let positions: Vec<Option<i64>> = events.iter().map(|e| e.position).collect();
    let want: Vec<Option<i64>> = (before + 1..=before + 6).map(Some).collect();
    assert_eq!(positions, want);
    assert_eq!(head(&mut c), before + 6);
    assert_eq!(relay::next_batch(&mut c, 0, 500).unwrap().count, 0);
}
