//! The cloud's apply against a real PostgreSQL (a fresh database per test):
//! exactly once in effect whatever the transport does, in position order per
//! stream, rejections parked without blocking, epochs, and the conflict rules
//! that live in the cloud.

mod common;

use common::*;
use outpost_cloud::db as cloud;
use outpost_domain::secrets::sha256_hex;
use serde_json::json;
use std::collections::BTreeMap;

#[test]
fn the_same_batch_delivered_twice_applies_once() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let batch = sales(&s, "e1", 1, 50);
    let first = apply(&db, &s, "sales", batch.clone());
    assert_eq!((first.applied, first.duplicates), (50, 0));
    let total = count(&db, "SELECT sum(total_minor)::bigint AS n FROM orders");
    let again = apply(&db, &s, "sales", batch);
    assert_eq!((again.applied, again.duplicates), (0, 50));
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 50);
    assert_eq!(
        count(&db, "SELECT sum(total_minor)::bigint AS n FROM orders"),
        total
    );
    assert_eq!(mark(&db, &s, "sales"), 50);
}

#[test]
fn batches_arriving_out_of_order_wait_for_the_gap_and_apply_in_position_order() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let all = sales(&s, "e1", 1, 30);
    let r = apply(&db, &s, "sales", all[20..].to_vec());
    assert_eq!((r.applied, r.held), (0, 10));
    let r = apply(&db, &s, "sales", all[10..20].to_vec());
    assert_eq!((r.applied, r.held), (0, 10));
    assert_eq!(mark(&db, &s, "sales"), 0);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 0);
    let r = apply(&db, &s, "sales", all[..10].to_vec());
    assert_eq!(
        r.applied, 30,
        "the gap filled: everything behind it applies"
    );
    assert_eq!(mark(&db, &s, "sales"), 30);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM pending_events"), 0);
    // Applied in position order: inbox insertion order follows positions.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM (SELECT position, lag(position) OVER (ORDER BY applied_at, position) AS prev FROM inbox) x WHERE prev IS NOT NULL AND position <> prev + 1"
        ),
        0
    );
}

#[test]
fn an_event_that_cannot_apply_is_parked_and_does_not_block_the_stream() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let mut batch = sales(&s, "e1", 1, 3);
    batch[1] = event(
        &s,
        "e1",
        "sales",
        2,
        "order.created",
        "{\"not\": \"an order\"}".into(),
    );
    let mut too_new = sales(&s, "e1", 4, 1);
    too_new[0].schema_version = 99;
    batch.extend(too_new);
    let r = apply(&db, &s, "sales", batch);
    assert_eq!((r.applied, r.rejected), (2, 2));
    assert_eq!(
        mark(&db, &s, "sales"),
        4,
        "parked positions count as processed"
    );
    let reasons = count(
        &db,
        "SELECT count(*) AS n FROM rejected_events WHERE reason <> ''",
    );
    assert_eq!(reasons, 2);
    let r = apply(&db, &s, "sales", sales(&s, "e1", 5, 2));
    assert_eq!(r.applied, 2);
    assert_eq!(mark(&db, &s, "sales"), 6);
}

#[test]
fn the_same_event_id_with_a_different_payload_raises_an_alarm_and_changes_nothing() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let batch = sales(&s, "e1", 1, 2);
    apply(&db, &s, "sales", batch.clone());
    let mut forged = batch[1].clone();
    forged.payload = order_payload("x", "S01-R1-999999", 1, 2);
    forged.payload_sha256 = sha256_hex(forged.payload.as_bytes());
    let r = apply(&db, &s, "sales", vec![forged]);
    assert_eq!((r.applied, r.alarms), (0, 1));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM alarms WHERE kind = 'event-id-reused'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM orders WHERE number = 'S01-R1-999999'"
        ),
        0
    );
}

#[test]
fn an_event_of_another_store_in_a_batch_is_refused() {
    let db = fresh_db();
    let a = store(&db, "S01");
    let b = store(&db, "S02");
    let r = apply(&db, &a, "sales", sales(&b, "e1", 1, 1));
    assert_eq!((r.applied, r.rejected), (0, 1));
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) AS n FROM orders WHERE store_id = '{b}'")
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 0);
}

#[test]
fn an_order_number_imported_twice_keeps_both_orders_and_is_logged() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let other = store(&db, "S02");
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let e1 = event(
        &s,
        "e1",
        "sales",
        1,
        "order.created",
        order_payload(&a, "S01-R1-000001", 500, 1),
    );
    let e2 = event(
        &s,
        "e1",
        "sales",
        2,
        "order.created",
        order_payload(&b, "S01-R1-000001", 700, 1),
    );
    apply(&db, &s, "sales", vec![e1, e2]);
    // The same display number at another store is no collision at all.
    let c = uuid::Uuid::now_v7().to_string();
    apply(
        &db,
        &other,
        "sales",
        vec![event(
            &other,
            "e9",
            "sales",
            1,
            "order.created",
            order_payload(&c, "S01-R1-000001", 900, 1),
        )],
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM orders WHERE number = 'S01-R1-000001'"
        ),
        3
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM alarms WHERE kind = 'order-number-collision'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) AS n FROM alarms WHERE kind = 'order-number-collision' AND store_id = '{other}'"
            )
        ),
        0
    );
}

#[test]
fn stock_movements_merge_and_negative_stock_is_flagged_not_refused() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let mv = |id: &str, qty: i64| json!({"id": id, "product_id": "p1", "qty_milli": qty, "reason": "sale", "ref_id": "o"});
    let e1 = event(
        &s,
        "e1",
        "stock",
        1,
        "stock.moved",
        json!([mv("m1", 2000)]).to_string(),
    );
    let e2 = event(
        &s,
        "e1",
        "stock",
        2,
        "stock.moved",
        json!([mv("m2", -3000), mv("m3", -500)]).to_string(),
    );
    apply(&db, &s, "stock", vec![e1.clone(), e2]);
    assert_eq!(count(&db, "SELECT qty_milli AS n FROM stock_levels"), -1500);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM stock_levels WHERE negative_since IS NOT NULL"
        ),
        1
    );
    // Replayed movements do not count twice.
    apply(&db, &s, "stock", vec![e1]);
    assert_eq!(count(&db, "SELECT qty_milli AS n FROM stock_levels"), -1500);
    let e3 = event(
        &s,
        "e1",
        "stock",
        3,
        "stock.moved",
        json!([mv("m4", 5000)]).to_string(),
    );
    apply(&db, &s, "stock", vec![e3]);
    assert_eq!(count(&db, "SELECT qty_milli AS n FROM stock_levels"), 3500);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM stock_levels WHERE negative_since IS NOT NULL"
        ),
        0
    );
}

#[test]
fn a_rewound_store_forks_into_a_new_epoch_without_overwriting_what_the_cloud_holds() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let mut c = db.conn().unwrap();
    cloud::hello(&mut c, &s, "e1", None, "t", 0).unwrap();
    let old = sales(&s, "e1", 1, 10);
    apply(&db, &s, "sales", old.clone());
    cloud::record_acks(
        &mut c,
        &s,
        "e1",
        &[cloud::Acked {
            stream: "sales".into(),
            last: 10,
            last_event_id: old[9].event_id.clone(),
        }],
    )
    .unwrap();
    // The store was restored to position 6 and sold 3 new sales since.
    let fork = BTreeMap::from([("sales".to_owned(), 6i64)]);
    let h = cloud::hello(&mut c, &s, "e2", Some(("e1", &fork)), "t", 0).unwrap();
    assert_eq!(h.node_epoch, "e2");
    assert_eq!(count(&db, "SELECT lost_events AS n FROM store_epochs"), 4);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM alarms WHERE kind = 'store-rewound'"
        ),
        1
    );
    assert_eq!(
        cloud::event_at(&mut c, &s, "e2", "sales", 5).unwrap(),
        Some(old[4].event_id.clone())
    );
    let new = sales(&s, "e2", 7, 3);
    let r = apply(&db, &s, "sales", new);
    assert_eq!(r.applied, 3);
    // Nothing the cloud held was overwritten: 10 old + 3 new orders.
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 13);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM inbox WHERE node_epoch = 'e1'"
        ),
        10
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM inbox WHERE node_epoch = 'e2'"
        ),
        3
    );
    assert_eq!(mark(&db, &s, "sales"), 9);
    assert!(
        cloud::event_at(&mut c, &s, "e2", "sales", 8)
            .unwrap()
            .is_some()
    );
    // A late duplicate of the old epoch changes nothing.
    let r = apply(&db, &s, "sales", old[8..].to_vec());
    assert_eq!((r.applied, r.duplicates), (0, 2));
}

#[test]
fn the_new_epoch_waits_until_the_old_one_reached_its_fork() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let mut c = db.conn().unwrap();
    cloud::hello(&mut c, &s, "e1", None, "t", 0).unwrap();
    let old = sales(&s, "e1", 1, 6);
    apply(&db, &s, "sales", old[..3].to_vec());
    let fork = BTreeMap::from([("sales".to_owned(), 6i64)]);
    cloud::hello(&mut c, &s, "e2", Some(("e1", &fork)), "t", 0).unwrap();
    // The new epoch's events arrive before the old epoch's 4..6.
    let r = apply(&db, &s, "sales", sales(&s, "e2", 7, 2));
    assert_eq!((r.applied, r.held), (0, 2));
    let r = apply(&db, &s, "sales", old[3..].to_vec());
    assert_eq!(r.applied, 5);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 8);
    assert_eq!(mark(&db, &s, "sales"), 8);
}
