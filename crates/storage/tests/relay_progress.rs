//! What the relay reports of its progress holds for a reader that waits for
//! "everything relayed" (ops, the health page, the tests): with sales
//! committing and the relay positioning them at the same time, every event
//! committed before the report is either under a stream's head or counted as
//! not yet relayed, never in neither.

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
