//! What the edge does with a till's event it refuses for good (its own
//! fault, the same however often it is sent): parks it with its reason,
//! writes nothing of it, counts its position as taken so the till's stream
//! goes on, shows it until a manager clears it. An event refused for what
//! the edge holds (rows naming what it lacks) refuses the push whole
//! instead: it may go through once that is mended. And a lockout lifted at
//! the edge reaching the till.

mod common;

use common::till::till_of;
use common::{Store, demo_store, demo_store_on_pg, the_manager};
use diesel::prelude::*;
use outpost_domain::Role;
use outpost_storage::register_events::parked;
use outpost_storage::schema::orders;
use outpost_storage::secrets::sha256_hex;
use outpost_storage::{Actor, StorageError, staff};

fn held(edge: &Store, order_id: &str) -> bool {
    orders::table
        .find(order_id)
        .count()
        .get_result::<i64>(&mut **edge.db.conn().unwrap())
        .unwrap()
        > 0
}

fn a_bad_event_is_parked_and_the_tills_stream_goes_on(edge: Store) {
    let till = till_of(&edge);
    let bad = till.sell(&edge);
    let good = till.sell(&edge);
    let mut events = till.waiting();
    // The first sale's order event does not match its hash.
    let created = events
        .iter_mut()
        .find(|(_, e)| e.event_type == "order.created" && e.aggregate_id == bad.order.id)
        .map(|(_, e)| e)
        .unwrap();
    created.payload = created
        .payload
        .replace("\"total_minor\"", "\"total_minor\" ");
    let bad_event = created.event_id.clone();

    let p = till.push(&edge, &events).unwrap();
    assert!(p.parked >= 1, "{p:?}");
    assert_eq!(p.applied + p.parked, events.len(), "{p:?}");
    // Nothing of the parked event is written; the sale after it is taken.
    assert!(!held(&edge, &bad.order.id), "a parked event left its order");
    assert!(held(&edge, &good.order.id));
    // Every position is taken: nothing waits behind the parked one.
    for (_, e) in &events {
        assert!(p.marks[&e.stream] >= e.position, "{e:?} {p:?}");
    }
    let (open, n) = parked::open(&mut edge.db.conn().unwrap(), 10).unwrap();
    assert_eq!(n as usize, p.parked);
    let it = open.iter().find(|x| x.event_id == bad_event).unwrap();
    assert!(it.reason.contains("sha256"), "{}", it.reason);
    assert_eq!(it.register, "Till 9");
    assert!(
        it.event.contains(&bad.order.number),
        "the event is kept as sent"
    );

    // Sent again (a lost answer): a repeat, not a rewound till.
    let again = till.push(&edge, &events).unwrap();
    assert_eq!((again.applied, again.parked), (0, 0));
    assert_eq!(again.repeated, events.len());

    // A cashier may not clear it; a manager may, once, audited.
    let cashier = Actor {
        staff_id: till.actor.staff_id.clone(),
        role: Role::Cashier,
        device_id: None,
    };
    let mut e = edge.db.conn().unwrap();
    let refused = parked::clear(&mut e, &edge.node, &cashier, &bad_event).unwrap_err();
    assert!(matches!(refused, StorageError::Forbidden(_)), "{refused:?}");
    let manager = the_manager(&edge);
    for x in &open {
        parked::clear(&mut e, &edge.node, &manager, &x.event_id).unwrap();
    }
    assert_eq!(parked::open(&mut e, 10).unwrap().1, 0);
    let twice = parked::clear(&mut e, &edge.node, &manager, &bad_event).unwrap_err();
    assert!(matches!(twice, StorageError::NotFound(_)), "{twice:?}");
}

#[test]
fn a_bad_event_is_parked_with_its_reason_and_the_tills_stream_goes_on_on_sqlite() {
    a_bad_event_is_parked_and_the_tills_stream_goes_on(demo_store());
}

#[test]
fn a_bad_event_is_parked_with_its_reason_and_the_tills_stream_goes_on_on_postgres() {
    a_bad_event_is_parked_and_the_tills_stream_goes_on(demo_store_on_pg(2));
}

#[test]
fn an_event_a_till_may_not_send_or_sent_without_its_payload_is_parked() {
    let edge = demo_store();
    let till = till_of(&edge);
    till.sell(&edge);
    let events = till.waiting();
    till.push(&edge, &events).unwrap();
    // Two more on the stock stream, made by hand after the till's own.
    let (_, last) = events
        .iter()
        .rev()
        .find(|(_, e)| e.stream == "stock")
        .unwrap()
        .clone();
    let mut more = Vec::new();
    for (i, kind) in ["not allowed", "withheld"].into_iter().enumerate() {
        let mut e = last.clone();
        e.event_id = uuid::Uuid::now_v7().to_string();
        e.position = last.position + 1 + i as i64;
        if kind == "not allowed" {
            // Master data is never a till's to send.
            e.aggregate_type = "product".into();
            e.event_type = "product.changed".into();
        } else {
            // Too large for the edge: sent without its payload.
            e.withheld = Some(e.payload.len() as u64 * 1000);
            e.payload.clear();
        }
        more.push((0, e));
    }
    let p = till.push(&edge, &more).unwrap();
    assert_eq!((p.applied, p.parked), (0, 2), "{p:?}");
    assert_eq!(p.marks["stock"], last.position + 2, "both positions taken");
    let (open, _) = parked::open(&mut edge.db.conn().unwrap(), 10).unwrap();
    let reasons: Vec<&str> = open.iter().map(|x| x.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("sends no")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("larger than")),
        "{reasons:?}"
    );
}

#[test]
fn a_lockout_lifted_on_the_manager_page_is_lifted_at_the_till() {
    let edge = demo_store();
    let till = till_of(&edge);
    let cashier = staff::list_staff(&mut till.db.conn().unwrap())
        .unwrap()
        .into_iter()
        .find(|m| m.role == "cashier")
        .unwrap();
    let wrong = |till_db: &outpost_storage::Db, node: &outpost_storage::Node, key: &str| {
        staff::check_pin(
            &mut till_db.conn().unwrap(),
            node,
            &cashier.id,
            "00000000",
            key,
        )
        .unwrap_err()
    };
    for _ in 0..5 {
        wrong(&till.db, &till.node, &till.device_id);
    }
    let e = wrong(&till.db, &till.node, &till.device_id);
    assert!(matches!(e, StorageError::LockedOut(_)), "{e:?}");
    // A manager lifts it on the edge before the till's lockout reaches it.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let manager = the_manager(&edge);
    staff::unlock(
        &mut edge.db.conn().unwrap(),
        &edge.node,
        &manager,
        &cashier.id,
    )
    .unwrap();
    // Counted before the unlock: the edge does not add it.
    till.push_all(&edge);
    let e = wrong(&edge.db, &edge.node, &till.device_id);
    assert!(matches!(e, StorageError::WrongPin { .. }), "{e:?}");
    // Down the feed, the till lifts its own count.
    let done = till.pull(&edge);
    assert!(done.written >= 1, "{done:?}");
    let e = wrong(&till.db, &till.node, &till.device_id);
    assert!(matches!(e, StorageError::WrongPin { .. }), "{e:?}");
    // The same unlock pulled again (from the start) lifts nothing new.
    for _ in 0..5 {
        wrong(&till.db, &till.node, &till.device_id);
    }
    diesel::delete(outpost_storage::schema::till_feed_cursor::table)
        .execute(&mut **till.db.conn().unwrap())
        .unwrap();
    till.pull(&edge);
    let e = wrong(&till.db, &till.node, &till.device_id);
    assert!(matches!(e, StorageError::LockedOut(_)), "{e:?}");
    // Unlocking someone who does not exist says so.
    let e =
        staff::unlock(&mut edge.db.conn().unwrap(), &edge.node, &manager, "nobody").unwrap_err();
    assert!(matches!(e, StorageError::NotFound(_)), "{e:?}");
}

#[test]
fn an_event_naming_what_the_edge_lacks_refuses_the_push_whole() {
    let edge = demo_store();
    let till = till_of(&edge);
    let sold = till.sell(&edge);
    let mut events = till.waiting();
    // The sale's payment names a shift the edge does not have: its order
    // row and lines would go in before the payment fails.
    let created = events
        .iter_mut()
        .find(|(_, e)| e.event_type == "order.created")
        .map(|(_, e)| e)
        .unwrap();
    let mut payload: serde_json::Value = serde_json::from_str(&created.payload).unwrap();
    payload["payments"][0]["shift_id"] = "no-such-shift".into();
    created.payload = payload.to_string();
    created.payload_sha256 = sha256_hex(created.payload.as_bytes());
    let e = till.push(&edge, &events).unwrap_err();
    assert!(
        matches!(&e, StorageError::Conflict(m) if m.contains("does not have")),
        "{e:?}"
    );
    // Nothing of the push is written, nothing parked.
    assert!(!held(&edge, &sold.order.id));
    assert_eq!(parked::open(&mut edge.db.conn().unwrap(), 10).unwrap().1, 0);
    let standing = outpost_storage::register_events::standing(
        &mut edge.db.conn().unwrap(),
        &till.device_id,
        &till.node.node_epoch,
    )
    .unwrap();
    assert!(standing.marks.is_empty(), "{standing:?}");
}
