//! The SQLite edge's in-memory feed of committed events: what a consumer takes
//! from it is exactly what committed, in commit order, and a write that did
//! not go through the feed is picked up by the next one rather than skipped.

mod common;

use common::{Store, demo_store};
use outpost_storage::db::write_tx;
use outpost_storage::feed::Feed;
use outpost_storage::outbox::{self, StoredEvent};
use outpost_storage::{AnyConnection, StorageError};

fn receive(s: &Store, conn: &mut AnyConnection) -> Result<(), StorageError> {
    common::receive(&s.node, conn)
}

fn outbox_after(s: &Store, seq: i64) -> Vec<StoredEvent> {
    outbox::read_after_seq(&mut s.db.conn().unwrap(), seq, 1000).unwrap()
}

fn seqs(events: &[StoredEvent]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

#[test]
fn the_feed_carries_what_committed_in_commit_order_and_nothing_that_rolled_back() {
    let s = demo_store();
    let before = outbox_after(&s, 0).last().map_or(0, |e| e.seq);
    let feed = Feed::start(&s.db).unwrap().expect("the SQLite edge feeds");
    assert!(feed.take().is_empty(), "nothing from before the start");

    s.db.write(|c| receive(&s, c)).unwrap();
    s.db.write(|c| receive(&s, c)).unwrap();
    // Written, then rolled back: the feed must not hand it on.
    let failed: Result<(), StorageError> = s.db.write(|c| {
        write_tx(c, |c| {
            receive(&s, c)?;
            Err(StorageError::Corrupt("changed my mind".into()))
        })
    });
    assert!(failed.is_err());

    let fed = feed.take();
    let committed = outbox_after(&s, before);
    assert_eq!(committed.len(), 2);
    assert_eq!(seqs(&fed), seqs(&committed));
    let positions: Vec<_> = fed.iter().map(|e| e.position.unwrap()).collect();
    assert_eq!(positions[1], positions[0] + 1, "gap-free stream positions");
    assert!(feed.fed_through(committed[1].seq));
    assert!(feed.take().is_empty(), "taken once");
}

#[test]
fn a_write_past_the_feed_is_not_claimed_and_the_next_write_carries_it() {
    let s = demo_store();
    let feed = Feed::start(&s.db).unwrap().expect("the SQLite edge feeds");
    // Straight on a connection, not through Db::write.
    receive(&s, &mut s.db.conn().unwrap()).unwrap();
    let last = outbox_after(&s, 0).last().unwrap().seq;
    assert!(
        !feed.fed_through(last),
        "the relay must still wake the consumer"
    );
    assert!(feed.take().is_empty());

    s.db.write(|c| receive(&s, c)).unwrap();
    let fed = feed.take();
    assert_eq!(fed.len(), 2, "the earlier write is carried too, first");
    assert_eq!(fed[0].seq, last);
    assert!(feed.fed_through(fed[1].seq));
}

#[test]
fn only_the_sqlite_edge_feeds_and_to_one_consumer() {
    let s = demo_store();
    s.db.write(|c| receive(&s, c)).unwrap();
    let feed = Feed::start(&s.db).unwrap().expect("the SQLite edge feeds");
    assert!(feed.take().is_empty(), "nothing from before the start");
    assert!(
        Feed::start(&s.db).is_err(),
        "a second consumer would take the first one's events"
    );
    let pg = common::demo_store_on_pg(2);
    assert!(
        Feed::start(&pg.db).unwrap().is_none(),
        "on PostgreSQL the relay positions events after commit"
    );
}
