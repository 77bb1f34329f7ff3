//! What the edge holds of a till and the till lost comes back down: a till
//! restored from an older copy takes a new epoch, gets its later sales
//! from the edge as history (none of it sent back up), refunds against
//! them, and cannot return twice what was returned before its disk died.

mod common;

use common::till::till_of;
use common::{Store, demo_store, demo_store_on_pg};
use outpost_domain::PaymentMethod;
use outpost_storage::sales::{self, RefundRequest};
use outpost_storage::{Node, StorageError, agent, register_events, register_history, shifts};

fn refund_one(
    db: &outpost_storage::Db,
    node: &Node,
    actor: &outpost_storage::Actor,
    order: &sales::Order,
) -> Result<(), StorageError> {
    let req = RefundRequest {
        lines: vec![(order.lines[0].id.clone(), 1000)],
        method: PaymentMethod::Card,
        reason: "returned".into(),
        approval: None,
    };
    let key = uuid::Uuid::now_v7().to_string();
    sales::refund(
        &mut db.conn().unwrap(),
        node,
        actor,
        &order.order.id,
        &key,
        "sha",
        &req,
    )
    .map(|_| ())
}

fn lost_sales_come_back(edge: Store) {
    let till = till_of(&edge);
    let early = till.sell(&edge);
    till.push_all(&edge);
    let backup = till.copy();
    // After the backup: a sale, and a return of the early one.
    let late = till.sell(&edge);
    refund_one(&till.db, &till.node, &till.actor, &early).unwrap();
    till.push_all(&edge);
    drop(till);

    // The disk is restored from the backup.
    let up = register_events::standing(
        &mut edge.db.conn().unwrap(),
        &backup.device_id,
        &backup.node.node_epoch,
    )
    .unwrap();
    let mut c = backup.db.conn().unwrap();
    assert!(!register_history::due(&mut c).unwrap());
    agent::hello(
        &mut c,
        &agent::Upstream {
            marks: up.marks,
            last_number: up.last_number,
        },
    )
    .unwrap()
    .expect("a new epoch");
    assert!(register_history::due(&mut c).unwrap(), "history is due");
    assert!(
        sales::get(&mut c, &late.order.id).is_err(),
        "lost with the disk"
    );

    // One order a page: the till asks until the last.
    let (mut after, mut written) = (String::new(), 0);
    loop {
        let page = register_history::page(
            &mut edge.db.conn().unwrap(),
            &backup.device_id,
            0,
            &after,
            1,
        )
        .unwrap();
        written += register_history::install(&mut c, &page).unwrap();
        match page.next {
            Some(n) => after = n,
            None => break,
        }
    }
    register_history::done(&mut c).unwrap();
    assert!(!register_history::due(&mut c).unwrap());
    // The late sale, and the early one at its newer version (returned).
    assert_eq!(written, 2);
    let back = sales::get(&mut c, &late.order.id).unwrap();
    assert_eq!(back.order.number, late.order.number);
    assert_eq!(back.order.total_minor, late.order.total_minor);
    let early_here = sales::get(&mut c, &early.order.id).unwrap();
    assert_eq!(early_here.lines[0].refunded_milli, 1000);
    // None of it waits to be sent back up.
    assert_eq!(agent::queue(&mut c).unwrap().count, 0);
    drop(c);

    // The early sale's item was returned before the disk died: not twice.
    let node = Node::load(&mut backup.db.conn().unwrap()).unwrap();
    let twice = refund_one(&backup.db, &node, &backup.actor, &early_here).unwrap_err();
    assert!(
        matches!(
            twice,
            StorageError::Conflict(_) | StorageError::Unprocessable(_)
        ),
        "{twice:?}"
    );
    // The late one is returned at the restored till and reaches the edge.
    refund_one(&backup.db, &node, &backup.actor, &back).unwrap();
    backup.push_all(&edge);
    let there = sales::get(&mut edge.db.conn().unwrap(), &late.order.id).unwrap();
    assert_eq!(there.lines[0].refunded_milli, 1000);
    assert!(there.order.refunded_minor > 0);

    // Installed again (a pull repeated): nothing new.
    let page = register_history::page(&mut edge.db.conn().unwrap(), &backup.device_id, 0, "", 200)
        .unwrap();
    let mut c = backup.db.conn().unwrap();
    assert_eq!(register_history::install(&mut c, &page).unwrap(), 0);
}

#[test]
fn a_restored_till_gets_its_lost_sales_back_as_history_and_refunds_against_them_on_sqlite() {
    lost_sales_come_back(demo_store());
}

#[test]
fn a_restored_till_gets_its_lost_sales_back_as_history_and_refunds_against_them_on_postgres() {
    lost_sales_come_back(demo_store_on_pg(2));
}

/// The till's disk dies mid-shift; restored from last night's copy (its
/// shift of then still open), the cashier closes that one and opens a new
/// shift before the edge answers. The edge closes the shift the till lost
/// (audited), takes the new one and its sales, and the history that comes
/// down keeps the till's own shift the open one.
#[test]
fn a_restored_till_that_opened_a_new_shift_sells_on_and_gets_its_history() {
    let edge = demo_store();
    let till = till_of(&edge);
    till.sell(&edge);
    till.push_all(&edge);
    let backup = till.copy();
    // After the copy: the shift closed, another opened and sold in.
    let mut c = till.db.conn().unwrap();
    let first = shifts::current(&mut c, &till.device_id).unwrap().unwrap();
    shifts::close(&mut c, &till.node, &till.actor, &first.id, 0, None).unwrap();
    shifts::open(&mut c, &till.node, &till.actor, 0).unwrap();
    drop(c);
    let lost = till.sell(&edge);
    till.push_all(&edge);
    drop(till);

    // Restored: at start it asks what the edge holds (a new epoch); before
    // the history comes down, the old shift is closed and a new one opened.
    let up = register_events::standing(
        &mut edge.db.conn().unwrap(),
        &backup.device_id,
        &backup.node.node_epoch,
    )
    .unwrap();
    let mut c = backup.db.conn().unwrap();
    agent::hello(
        &mut c,
        &agent::Upstream {
            marks: up.marks,
            last_number: up.last_number,
        },
    )
    .unwrap();
    let node = Node::load(&mut c).unwrap();
    let old = shifts::current(&mut c, &backup.device_id).unwrap().unwrap();
    shifts::close(&mut c, &node, &backup.actor, &old.id, 0, None).unwrap();
    let mine = shifts::open(&mut c, &node, &backup.actor, 0).unwrap();
    drop(c);
    let key = uuid::Uuid::now_v7().to_string();
    let req = common::one_line_card_sale(&edge, &backup.actor);
    sales::create_sale(
        &mut backup.db.conn().unwrap(),
        &node,
        &backup.actor,
        &key,
        "sha",
        &req,
    )
    .unwrap();
    backup.push_all(&edge);
    let mut e = edge.db.conn().unwrap();
    let open_there = shifts::current(&mut e, &backup.device_id).unwrap().unwrap();
    assert_eq!(
        open_there.id, mine.id,
        "the till's new shift is the open one"
    );
    drop(e);
    // The history comes down without a clash: the lost shift kept closed.
    let page = register_history::page(&mut edge.db.conn().unwrap(), &backup.device_id, 0, "", 200)
        .unwrap();
    let mut c = backup.db.conn().unwrap();
    register_history::install(&mut c, &page).unwrap();
    assert_eq!(
        shifts::current(&mut c, &backup.device_id)
            .unwrap()
            .unwrap()
            .id,
        mine.id
    );
    assert!(
        sales::get(&mut c, &lost.order.id).is_ok(),
        "the lost sale is back"
    );
}
