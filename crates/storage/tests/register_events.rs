//! A register agent's events at the edge, on both backends: a till set up
//! from the edge's till feed sells on its own database; its push applies
//! once (the same order id, number and event ids on the edge); a repeated
//! push changes nothing; a gap is refused whole and the till sends again
//! from where the edge stands; a position the edge holds with another
//! event is refused; a price changed at the edge meanwhile flags the
//! order; a malformed event writes nothing.

mod common;

use common::till::{Till, till_of};
use common::{Store, demo_store, demo_store_on_pg, the_manager};
use diesel::prelude::*;
use outpost_storage::register_events::{self, Push};
use outpost_storage::schema::{audit_log, orders, products, stock_movements};
use outpost_storage::{Node, StorageError, agent, sales, staff};

fn orders_on(edge: &Store) -> i64 {
    orders::table
        .count()
        .get_result(&mut **edge.db.conn().unwrap())
        .unwrap()
}

fn a_till_sale_reaches_the_edge_once(edge: Store) {
    let till = till_of(&edge);
    let before = orders_on(&edge);
    let sold = till.sell(&edge);
    // Numbered by the till, as the edge would have for that register.
    assert!(
        sold.order.number.starts_with("S01-R") && sold.order.number.ends_with("-000001"),
        "{}",
        sold.order.number
    );
    let events = till.waiting();
    // The shift, the stock movement and the order at least.
    assert!(events.len() >= 3, "{events:?}");
    let queue = agent::queue(&mut till.db.conn().unwrap()).unwrap();
    assert_eq!(queue.count, events.len() as i64);
    assert!(queue.oldest_at.is_some());

    let p = till.push(&edge, &events).unwrap();
    assert_eq!((p.applied, p.repeated), (events.len(), 0));
    assert_eq!(p.marks.get("sales"), Some(&1));
    let mut e = edge.db.conn().unwrap();
    let there = sales::get(&mut e, &sold.order.id).unwrap();
    assert_eq!(there.order.number, sold.order.number);
    assert_eq!(there.order.total_minor, sold.order.total_minor);
    assert_eq!(there.order.device_id, till.device_id);
    assert_eq!(there.payments.len(), 1);
    assert_eq!(there.lines.len(), sold.lines.len());
    let moved: i64 = stock_movements::table
        .filter(stock_movements::ref_id.eq(&sold.order.id))
        .count()
        .get_result(&mut **e)
        .unwrap();
    assert_eq!(moved, 1);
    for (_, ev) in &events {
        assert!(
            outpost_storage::outbox::holds(&mut e, &ev.event_id).unwrap(),
            "the edge hands on the till's event id {}",
            ev.event_id
        );
    }
    drop(e);

    // The answer was lost: the same push again changes nothing.
    let again = till.push(&edge, &events).unwrap();
    assert_eq!((again.applied, again.repeated), (0, events.len()));
    assert_eq!(orders_on(&edge), before + 1);
    let last = events.last().unwrap().0;
    agent::pushed(&mut till.db.conn().unwrap(), last).unwrap();
    assert_eq!(agent::queue(&mut till.db.conn().unwrap()).unwrap().count, 0);
}

#[test]
fn a_till_sale_reaches_the_edge_once_with_its_number_and_event_ids_on_sqlite() {
    a_till_sale_reaches_the_edge_once(demo_store());
}

#[test]
fn a_till_sale_reaches_the_edge_once_with_its_number_and_event_ids_on_postgres() {
    a_till_sale_reaches_the_edge_once(demo_store_on_pg(2));
}

fn a_gap_is_refused_whole_and_the_till_resends(edge: Store) {
    let till = till_of(&edge);
    till.sell(&edge);
    till.push_all(&edge);
    let second = till.sell(&edge);
    let third = till.sell(&edge);
    let events = till.waiting();
    // The till believes the edge took the second sale (an edge restored
    // from a copy older than its last answer): the third is a gap.
    let (seq, _) = events
        .iter()
        .find(|(_, e)| e.aggregate_id == second.order.id)
        .unwrap();
    agent::pushed(&mut till.db.conn().unwrap(), *seq).unwrap();
    let rest = till.waiting();
    assert!(rest.iter().any(|(_, e)| e.aggregate_id == third.order.id));
    let e = till.push(&edge, &rest).unwrap_err();
    assert!(
        matches!(&e, StorageError::Conflict(m) if m.contains("send from")),
        "{e:?}"
    );
    assert!(
        sales::get(&mut edge.db.conn().unwrap(), &second.order.id).is_err(),
        "nothing of a refused push is written"
    );
    // Where the edge stands, and from there again.
    let marks = register_events::marks(
        &mut edge.db.conn().unwrap(),
        &till.device_id,
        &till.node.node_epoch,
    )
    .unwrap();
    agent::rewind(&mut till.db.conn().unwrap(), &till.node.node_epoch, &marks).unwrap();
    assert_eq!(till.waiting().len(), events.len());
    let p = till.push_all(&edge);
    assert_eq!(p.applied, events.len());
    assert!(sales::get(&mut edge.db.conn().unwrap(), &second.order.id).is_ok());
}

#[test]
fn a_gap_is_refused_whole_and_the_till_sends_from_where_the_edge_stands_on_sqlite() {
    a_gap_is_refused_whole_and_the_till_resends(demo_store());
}

#[test]
fn a_gap_is_refused_whole_and_the_till_sends_from_where_the_edge_stands_on_postgres() {
    a_gap_is_refused_whole_and_the_till_resends(demo_store_on_pg(2));
}

#[test]
fn another_event_at_a_position_the_edge_holds_is_refused_as_a_restored_till() {
    let edge = demo_store();
    let till = till_of(&edge);
    till.sell(&edge);
    let mut events = till.waiting();
    till.push(&edge, &events).unwrap();
    // A till restored from an older copy sells again at the same positions.
    events[0].1.event_id = uuid::Uuid::now_v7().to_string();
    let e = till.push(&edge, &events[..1]).unwrap_err();
    assert!(
        matches!(&e, StorageError::Conflict(m) if m.contains(register_events::REWOUND)),
        "{e:?}"
    );
}

#[test]
fn a_price_changed_at_the_edge_while_the_till_sold_flags_the_order() {
    let edge = demo_store();
    let till = till_of(&edge);
    let sold = till.sell(&edge);
    // Meanwhile the manager changed that product's price on the edge.
    let product = sold.lines[0].product_id.clone();
    diesel::update(products::table.find(&product))
        .set(products::price_minor.eq(products::price_minor + 50))
        .execute(&mut **edge.db.conn().unwrap())
        .unwrap();
    till.push_all(&edge);
    let mut e = edge.db.conn().unwrap();
    let there = sales::get(&mut e, &sold.order.id).unwrap();
    assert!(
        there.order.needs_adjustment,
        "the order waits for a manager"
    );
    assert_eq!(
        there.order.total_minor, sold.order.total_minor,
        "it keeps the price paid"
    );
    let queue = sales::adjustment_queue(&mut e, 10).unwrap();
    assert!(queue.iter().any(|o| o.id == sold.order.id));
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("order.price_override"))
        .filter(audit_log::subject.eq(&sold.order.id))
        .count()
        .get_result(&mut **e)
        .unwrap();
    assert_eq!(audited, 1);
}

#[test]
fn a_push_to_an_unknown_stream_is_refused_and_nothing_of_it_is_written() {
    let edge = demo_store();
    let till = till_of(&edge);
    let sold = till.sell(&edge);
    let events = till.waiting();
    let mut bad = events.clone();
    bad[0].1.stream = "lunch".into();
    let e = till.push(&edge, &bad).unwrap_err();
    assert!(matches!(&e, StorageError::Unprocessable(_)), "{e:?}");
    let mut bad = events.clone();
    bad.last_mut().unwrap().1.position = 0;
    let e = till.push(&edge, &bad).unwrap_err();
    assert!(matches!(&e, StorageError::Unprocessable(_)), "{e:?}");
    assert!(sales::get(&mut edge.db.conn().unwrap(), &sold.order.id).is_err());
    assert_eq!(till.push(&edge, &events).unwrap().applied, events.len());
}

#[test]
fn a_till_restored_from_an_older_copy_takes_a_new_epoch_and_reuses_no_number() {
    let edge = demo_store();
    let till = till_of(&edge);
    till.sell(&edge);
    till.push_all(&edge);
    let backup = till.copy();
    till.sell(&edge);
    till.sell(&edge);
    till.push_all(&edge);
    drop(till);

    // The till's disk is restored from the backup: it sold two more since.
    let mut e = edge.db.conn().unwrap();
    let up = register_events::standing(&mut e, &backup.device_id, &backup.node.node_epoch).unwrap();
    drop(e);
    assert_eq!(up.last_number, 3);
    let hello = |t: &Till| {
        agent::hello(
            &mut t.db.conn().unwrap(),
            &agent::Upstream {
                marks: up.marks.clone(),
                last_number: up.last_number,
            },
        )
        .unwrap()
    };
    let new_epoch = hello(&backup).expect("an older copy takes a new epoch");
    assert_ne!(new_epoch, backup.node.node_epoch);
    // Once is enough: asked again, it is not behind in its new epoch.
    let again =
        register_events::standing(&mut edge.db.conn().unwrap(), &backup.device_id, &new_epoch)
            .unwrap();
    assert_eq!(
        agent::hello(
            &mut backup.db.conn().unwrap(),
            &agent::Upstream {
                marks: again.marks,
                last_number: again.last_number,
            },
        )
        .unwrap(),
        None
    );
    let mut restored = backup;
    restored.node = Node::load(&mut restored.db.conn().unwrap()).unwrap();
    let sold = restored.sell(&edge);
    assert!(
        sold.order.number.ends_with("-000004"),
        "{}",
        sold.order.number
    );
    let p = restored.push_all(&edge);
    assert!(p.applied > 0, "{p:?}");
    let numbers: Vec<String> = orders::table
        .select(orders::number)
        .filter(orders::device_id.eq(&restored.device_id))
        .order(orders::number)
        .load(&mut **edge.db.conn().unwrap())
        .unwrap();
    assert_eq!(numbers.len(), 4);
    assert!(
        numbers
            .iter()
            .enumerate()
            .all(|(i, n)| n.ends_with(&format!("-{:06}", i + 1))),
        "{numbers:?}"
    );
}

#[test]
fn a_restored_till_that_sold_before_it_could_ask_forks_and_both_sales_are_kept() {
    let edge = demo_store();
    let till = till_of(&edge);
    till.sell(&edge);
    till.push_all(&edge);
    let backup = till.copy();
    till.sell(&edge);
    till.sell(&edge);
    till.push_all(&edge);
    drop(till);

    // Restored while the edge was away: it sells number 2 again.
    let restored = backup;
    let again = restored.sell(&edge);
    assert!(again.order.number.ends_with("-000002"));
    let b = agent::to_push(&mut restored.db.conn().unwrap(), 500)
        .unwrap()
        .unwrap();
    let e = restored.push(&edge, &b.events).unwrap_err();
    assert!(
        matches!(&e, StorageError::Conflict(m) if m.contains(register_events::REWOUND)),
        "{e:?}"
    );
    // The agent forks what waits into a new epoch and pushes it.
    let up = register_events::standing(&mut edge.db.conn().unwrap(), &restored.device_id, &b.epoch)
        .unwrap();
    let fork = agent::fork(&mut restored.db.conn().unwrap(), &b.epoch, up.last_number).unwrap();
    assert_ne!(fork, b.epoch);
    let p = restored.push_all(&edge);
    assert!(p.applied > 0, "{p:?}");
    let mut e = edge.db.conn().unwrap();
    let kept = sales::get(&mut e, &again.order.id).unwrap();
    assert!(
        kept.order
            .number
            .starts_with(&format!("{}/", again.order.number)),
        "kept beside the other: {}",
        kept.order.number
    );
    assert!(kept.order.needs_adjustment);
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("order.number_collision"))
        .count()
        .get_result(&mut **e)
        .unwrap();
    assert_eq!(audited, 1);
    drop(e);
    // And it numbers on past the edge's highest.
    let mut restored = restored;
    restored.node = Node::load(&mut restored.db.conn().unwrap()).unwrap();
    let next = restored.sell(&edge);
    assert!(
        next.order.number.ends_with("-000004"),
        "{}",
        next.order.number
    );
    restored.push_all(&edge);
    assert_eq!(orders_on(&edge), 5);
}

#[test]
fn a_revoked_tills_earlier_sales_are_taken_and_flagged_and_later_ones_refused() {
    let edge = demo_store();
    let till = till_of(&edge);
    let before = till.sell(&edge);
    let waiting = till.waiting();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let manager = the_manager(&edge);
    staff::revoke_device(
        &mut edge.db.conn().unwrap(),
        &edge.node,
        &manager,
        &till.device_id,
    )
    .unwrap();
    let revoked_at = staff::devices(&mut edge.db.conn().unwrap())
        .unwrap()
        .into_iter()
        .find(|d| d.id == till.device_id)
        .unwrap()
        .revoked_at;
    std::thread::sleep(std::time::Duration::from_millis(5));
    let after = till.sell(&edge);
    let all = till.waiting();
    assert!(all.len() > waiting.len());
    let push = Push {
        schema: register_events::SCHEMA,
        epoch: till.node.node_epoch.clone(),
        since: Default::default(),
        events: all.iter().map(|(_, e)| e.clone()).collect(),
    };
    let mut e = edge.db.conn().unwrap();
    let p = register_events::apply(&mut e, &edge.node, &till.device_id, revoked_at, &push).unwrap();
    assert_eq!(p.applied, waiting.len(), "only what was made before");
    let kept = sales::get(&mut e, &before.order.id).unwrap();
    assert!(kept.order.needs_adjustment, "flagged for a manager");
    assert!(sales::get(&mut e, &after.order.id).is_err());
    // What was made after: refused.
    let rest = Push {
        events: all[waiting.len()..]
            .iter()
            .map(|(_, e)| e.clone())
            .collect(),
        ..push
    };
    let refused =
        register_events::apply(&mut e, &edge.node, &till.device_id, revoked_at, &rest).unwrap_err();
    assert!(matches!(refused, StorageError::Forbidden(_)), "{refused:?}");
}

/// A sale of a kitchen product at the till, paid by card.
fn kitchen_sale(edge: &Store, till: &Till) -> sales::Order {
    let mut c = till.db.conn().unwrap();
    let p = outpost_storage::catalog::search(
        &mut c,
        &till.node,
        "",
        &outpost_storage::catalog::Shelf::All,
        200,
    )
    .unwrap()
    .into_iter()
    .find(|p| p.kitchen && !p.weighed)
    .expect("a café product");
    let mut req = outpost_storage::sales::SaleRequest {
        lines: vec![outpost_storage::sales::LineRequest {
            product: outpost_storage::sales::ProductRef::Id(p.id),
            qty_milli: 1000,
            discount_minor: 0,
            unit_price_minor: None,
        }],
        ..Default::default()
    };
    let total = sales::quote(&mut c, &till.node, &till.actor, &req)
        .unwrap()
        .total_minor;
    req.payments = vec![outpost_storage::sales::PaymentRequest {
        method: outpost_domain::PaymentMethod::Card,
        amount_minor: total,
        tendered_minor: None,
        card_type: "visa".into(),
        reference: String::new(),
    }];
    let key = uuid::Uuid::now_v7().to_string();
    let a = sales::create_sale(&mut c, &till.node, &till.actor, &key, "sha", &req).unwrap();
    let _ = edge;
    serde_json::from_str(&a.body).unwrap()
}

#[test]
fn a_kitchen_ticket_sold_with_the_edge_away_is_marked_printed_at_the_till_and_preparing() {
    let edge = demo_store();
    let till = till_of(&edge);
    let online = kitchen_sale(&edge, &till);
    till.node.set_upstream_away(true);
    let away = kitchen_sale(&edge, &till);
    till.node.set_upstream_away(false);
    till.push_all(&edge);
    let tickets =
        outpost_storage::kitchen::open_tickets(&mut edge.db.conn().unwrap(), 100).unwrap();
    let of = |o: &sales::Order| {
        tickets
            .iter()
            .find(|t| t.order_id == o.order.id)
            .unwrap_or_else(|| panic!("no ticket for {}", o.order.number))
            .clone()
    };
    let (t_online, t_away) = (of(&online), of(&away));
    assert_eq!(t_online.status, "pending");
    assert_eq!(t_online.printed_at_register, None);
    assert_eq!(t_away.status, "preparing");
    assert!(t_away.printed_at_register.is_some());
}

#[test]
fn a_lockout_counted_at_the_till_is_added_to_the_edges_count() {
    let edge = demo_store();
    let till = till_of(&edge);
    let cashier = staff::list_staff(&mut till.db.conn().unwrap())
        .unwrap()
        .into_iter()
        .find(|m| m.role == "cashier")
        .unwrap();
    for _ in 0..5 {
        let e = staff::check_pin(
            &mut till.db.conn().unwrap(),
            &till.node,
            &cashier.id,
            "00000000",
            &till.device_id,
        )
        .unwrap_err();
        assert!(matches!(e, StorageError::WrongPin { .. }), "{e:?}");
    }
    till.push_all(&edge);
    // At the edge, on that till: locked out too.
    let e = staff::check_pin(
        &mut edge.db.conn().unwrap(),
        &edge.node,
        &cashier.id,
        "00000000",
        &till.device_id,
    )
    .unwrap_err();
    assert!(matches!(e, StorageError::LockedOut(_)), "{e:?}");
}

#[test]
fn a_restored_till_whose_backup_held_sales_the_edge_already_had_sends_them_once() {
    let edge = demo_store();
    let till = till_of(&edge);
    let first = till.sell(&edge);
    // The backup is taken before the first sale was sent.
    let backup = till.copy();
    till.push_all(&edge);
    till.sell(&edge);
    till.push_all(&edge);
    drop(till);

    // Restored with the edge away: it sells, then learns it went back.
    let mut restored = backup;
    let again = restored.sell(&edge);
    let b = agent::to_push(&mut restored.db.conn().unwrap(), 500)
        .unwrap()
        .unwrap();
    let e = restored.push(&edge, &b.events).unwrap_err();
    assert!(
        matches!(&e, StorageError::Conflict(m) if m.contains(register_events::REWOUND)),
        "{e:?}"
    );
    let up = register_events::standing(&mut edge.db.conn().unwrap(), &restored.device_id, &b.epoch)
        .unwrap();
    agent::fork(&mut restored.db.conn().unwrap(), &b.epoch, up.last_number).unwrap();
    restored.node = Node::load(&mut restored.db.conn().unwrap()).unwrap();
    // The first sale, which the edge had, is taken once; the new one kept.
    let p = restored.push_all(&edge);
    assert!(p.repeated > 0, "{p:?}");
    assert_eq!(orders_on(&edge), 3);
    assert!(sales::get(&mut edge.db.conn().unwrap(), &first.order.id).is_ok());
    assert!(sales::get(&mut edge.db.conn().unwrap(), &again.order.id).is_ok());
    assert_eq!(
        agent::queue(&mut restored.db.conn().unwrap())
            .unwrap()
            .count,
        0
    );
}

#[test]
fn the_edges_flag_on_a_till_order_outlives_the_tills_later_change_of_it() {
    let edge = demo_store();
    let till = till_of(&edge);
    let sold = till.sell(&edge);
    let product = sold.lines[0].product_id.clone();
    diesel::update(products::table.find(&product))
        .set(products::price_minor.eq(products::price_minor + 50))
        .execute(&mut **edge.db.conn().unwrap())
        .unwrap();
    till.push_all(&edge);
    let flagged = sales::get(&mut edge.db.conn().unwrap(), &sold.order.id).unwrap();
    assert!(flagged.order.needs_adjustment);
    // The till refunds it afterwards (its copy of the order knows no flag).
    sales::refund(
        &mut till.db.conn().unwrap(),
        &till.node,
        &till.actor,
        &sold.order.id,
        &uuid::Uuid::now_v7().to_string(),
        "sha",
        &sales::RefundRequest {
            lines: vec![(sold.lines[0].id.clone(), sold.lines[0].qty_milli)],
            method: outpost_domain::PaymentMethod::Card,
            reason: "broken".into(),
            approval: None,
        },
    )
    .unwrap();
    till.push_all(&edge);
    let mut e = edge.db.conn().unwrap();
    let now = sales::get(&mut e, &sold.order.id).unwrap();
    assert_eq!(now.order.refunded_minor, sold.order.total_minor);
    assert!(now.order.needs_adjustment, "the edge's flag stays");
    assert!(now.order.version > flagged.order.version);
    // What the edge hands on for the void is the order as it now stands,
    // past the flag's version (the cloud takes only a higher one).
    let last = outpost_storage::outbox::read_stream(&mut e, "sales", 0, 100)
        .unwrap()
        .into_iter()
        .rev()
        .find(|ev| ev.aggregate_id == sold.order.id)
        .unwrap();
    assert_eq!(last.event_type, "order.refunded");
    assert_eq!(last.aggregate_version, now.order.version);
    let handed: sales::Order = serde_json::from_str(&last.payload).unwrap();
    assert!(handed.order.needs_adjustment);
}
