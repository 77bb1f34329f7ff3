//! What the edge holds of a till and the till lost comes back down: a till
//! restored from an older copy takes a new epoch, gets its later sales
//! from the edge as history (none of it sent back up), refunds against
//! them, and cannot return twice what was returned before its disk died.

mod common;

use common::demo_store;
use common::till::till_of;
use outpost_domain::PaymentMethod;
use outpost_storage::sales::{self, RefundRequest};
use outpost_storage::{Node, StorageError, agent, register_events, register_history};

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

#[test]
fn a_restored_till_gets_its_lost_sales_back_as_history_and_refunds_against_them() {
    let edge = demo_store();
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
