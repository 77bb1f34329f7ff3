//! What a store still has to send, as `/health` and `/metrics` report it: per
//! stream, the events after the cloud's acknowledgement, their payloads' size
//! in bytes, and when the oldest of them happened.

mod common;

use outpost_storage::db::write_tx;
use outpost_storage::{audit, outbox, relay, sync};

fn the_backlog_is_what_follows_the_acknowledgement_in_bytes(s: common::Store) {
    let mut c = s.db.conn().unwrap();
    // Entries whose payloads are not plain ASCII: a count of characters
    // would come short of the bytes to send.
    for i in 0..3 {
        write_tx(&mut c, |c| {
            audit::record(
                c,
                &s.node,
                Some("test-manager"),
                None,
                "test.noted",
                &format!("Crème brûlée №{i}"),
                serde_json::json!({"note": "Größe ✓"}),
            )
        })
        .unwrap();
    }
    while relay::unpositioned_count(&mut c).unwrap() > 0 {
        relay::next_batch(&mut c, 0, 100).unwrap();
    }
    let all = outbox::read_stream(&mut c, "audit", 0, 10_000).unwrap();
    let position = |e: &outbox::StoredEvent| e.position.unwrap();
    let mine = &all[all.len() - 3..];
    // The cloud holds the stream up to the first of them: two remain.
    let acked = position(&mine[0]);
    let epoch = sync::epoch(&mut c).unwrap().node_epoch;
    sync::record_ack(&mut c, &epoch, "audit", acked, &mine[0].event_id).unwrap();

    let got = sync::backlog(&mut c, &["audit"]).unwrap();
    let rest: Vec<_> = all.iter().filter(|e| position(e) > acked).collect();
    assert_eq!(rest.len(), 2);
    assert!(
        rest.iter()
            .all(|e| e.payload.len() > e.payload.chars().count())
    );
    assert_eq!(
        got,
        vec![sync::Backlog {
            stream: "audit".into(),
            acked,
            head: position(all.last().unwrap()),
            events: 2,
            bytes: rest.iter().map(|e| e.payload.len() as i64).sum(),
            oldest_at: rest.iter().map(|e| e.occurred_at).min(),
        }]
    );
}

#[test]
fn on_sqlite_the_backlog_is_what_follows_the_acknowledgement_in_bytes() {
    the_backlog_is_what_follows_the_acknowledgement_in_bytes(common::demo_store());
}

#[test]
fn on_postgres_the_backlog_is_what_follows_the_acknowledgement_in_bytes() {
    the_backlog_is_what_follows_the_acknowledgement_in_bytes(common::demo_store_on_pg(2));
}
