//! A register's order numbers on PostgreSQL stay gapless and each is taken
//! once (the brief's receipt numbers per register): two processes selling on
//! one register at once, a retried key that must not take a number, and a
//! shift closed by the other process refusing the next sale without writing.

mod common;

use diesel::prelude::*;
use outpost_domain::Role;
use outpost_storage::sales::{self, SaleRequest};
use outpost_storage::schema::orders;
use outpost_storage::{Actor, Node, StorageError, shifts, staff};
use std::collections::BTreeSet;

fn sell(
    s: &common::Store,
    node: &Node,
    actor: &Actor,
    key: &str,
    req: &SaleRequest,
) -> sales::Answer {
    let mut c = s.db.conn().unwrap();
    sales::create_sale(&mut c, node, actor, key, key, req).unwrap()
}

fn number(a: &sales::Answer) -> String {
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    v["number"].as_str().unwrap().to_owned()
}

#[test]
fn on_postgres_a_registers_numbers_stay_gapless_with_two_processes_selling_on_it() {
    let s = common::demo_store_on_pg(8);
    // The other process: a node of its own on the same database.
    let other = Node::load(&mut s.db.conn().unwrap()).unwrap();
    let mut c = s.db.conn().unwrap();
    let people = staff::list_staff(&mut c).unwrap();
    let id_of = |role: &str| people.iter().find(|m| m.role == role).unwrap().id.clone();
    let manager = Actor {
        staff_id: id_of("manager"),
        role: Role::Manager,
        device_id: None,
    };
    let device = staff::pair_device(&mut c, &s.node, &manager, "Till", "register")
        .unwrap()
        .device;
    let actor = Actor {
        staff_id: id_of("cashier"),
        role: Role::Cashier,
        device_id: Some(device.id.clone()),
    };
    let shift = shifts::open(&mut c, &s.node, &actor, 10_000).unwrap();
    drop(c);
    let req = common::one_line_card_sale(&s, &actor);

    // Four threads, two per process, 25 sales each, all on the one register.
    let numbers: Vec<String> = std::thread::scope(|t| {
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (s, req, actor) = (&s, &req, &actor);
                let node = if i % 2 == 0 { &s.node } else { &other };
                t.spawn(move || {
                    (0..25)
                        .map(|_| {
                            let key = uuid::Uuid::now_v7().to_string();
                            number(&sell(s, node, actor, &key, req))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    let taken: BTreeSet<String> = numbers.iter().cloned().collect();
    assert_eq!(taken.len(), 100, "a number twice: {numbers:?}");
    let prefix = numbers[0].rsplit_once('-').unwrap().0.to_owned();
    let expected: BTreeSet<String> = (1..=100).map(|n| format!("{prefix}-{n:06}")).collect();
    assert_eq!(taken, expected, "numbers with gaps");

    // A retried key: the first answer, no new number.
    let key = uuid::Uuid::now_v7().to_string();
    let first = sell(&s, &s.node, &actor, &key, &req);
    let again = sell(&s, &s.node, &actor, &key, &req);
    assert!(again.replayed);
    assert_eq!(again.body, first.body);
    assert_eq!(number(&first), format!("{prefix}-000101"));

    // The other process closes the shift: the next sale here is refused
    // and writes nothing.
    shifts::close(
        &mut s.db.conn().unwrap(),
        &other,
        &manager,
        &shift.id,
        0,
        None,
    )
    .unwrap();
    let refused = sales::create_sale(
        &mut s.db.conn().unwrap(),
        &s.node,
        &actor,
        "after-close",
        "after-close",
        &req,
    );
    assert!(
        matches!(refused, Err(StorageError::Conflict(_))),
        "{refused:?}"
    );
    let orders: i64 = orders::table
        .count()
        .get_result(&mut **s.db.conn().unwrap())
        .unwrap();
    assert_eq!(orders, 101);
}
