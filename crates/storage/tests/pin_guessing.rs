//! PINs cannot be guessed in bulk (issue 30): wrong PINs count for the
//! person wherever they are tried, each one counted before it is checked,
//! so 200 guesses at once are checked exactly five times and the fifth
//! locks the PIN everywhere; the tries refused while it is locked are not
//! counted, and the lockout is audited once.

mod common;

use common::{Store, demo_store, demo_store_on_pg};
use diesel::prelude::*;
use outpost_storage::schema::{audit_log, pin_attempts};
use outpost_storage::{StorageError, staff};

fn two_hundred_guesses_at_once_are_checked_five_times(store: Store) {
    let carl = {
        let mut c = store.db.conn().unwrap();
        staff::list_staff(&mut c)
            .unwrap()
            .into_iter()
            .find(|m| m.name == "Carl Cashier")
            .unwrap()
            .id
    };
    let manager = common::the_manager(&store);
    let right = "731946";
    staff::set_pin(
        &mut store.db.conn().unwrap(),
        &store.node,
        &manager,
        &carl,
        &outpost_domain::Pin::parse(right).unwrap(),
    )
    .unwrap();
    let wrong = "2468";
    let outcomes: Vec<StorageError> = std::thread::scope(|s| {
        let tries: Vec<_> = (0..200)
            .map(|i| {
                let (store, carl) = (&store, &carl);
                s.spawn(move || {
                    let mut c = store.db.conn().unwrap();
                    // From many devices and the back office alike.
                    let device = format!("till-{}", i % 7);
                    staff::check_pin(&mut c, &store.node, carl, wrong, &device).unwrap_err()
                })
            })
            .collect();
        tries.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let checked = outcomes
        .iter()
        .filter(|e| matches!(e, StorageError::WrongPin { .. }))
        .count();
    let refused = outcomes
        .iter()
        .filter(|e| matches!(e, StorageError::LockedOut(_)))
        .count();
    assert_eq!((checked, refused), (5, 195), "{outcomes:?}");
    let mut c = store.db.conn().unwrap();
    let counted: Vec<i32> = pin_attempts::table
        .filter(pin_attempts::staff_id.eq(&carl))
        .select(pin_attempts::failures)
        .load(&mut **c)
        .unwrap();
    assert_eq!(counted, vec![5], "one count for Carl, of the five checked");
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("staff.locked_out"))
        .filter(audit_log::subject.eq(&carl))
        .count()
        .get_result(&mut **c)
        .unwrap();
    assert_eq!(audited, 1);
    // Locked on every device and at the back office, the right PIN too…
    for device in ["till-9", "office:10.0.0.5"] {
        let e = staff::check_pin(&mut c, &store.node, &carl, right, device).unwrap_err();
        assert!(matches!(e, StorageError::LockedOut(_)), "{e:?}");
    }
    // …until a manager lifts it.
    staff::unlock(&mut c, &store.node, &manager, &carl).unwrap();
    staff::check_pin(&mut c, &store.node, &carl, right, "till-9").unwrap();
}

#[test]
fn two_hundred_guesses_at_once_are_checked_five_times_on_postgres() {
    two_hundred_guesses_at_once_are_checked_five_times(demo_store_on_pg(16));
}

#[test]
fn two_hundred_guesses_at_once_are_checked_five_times_on_sqlite() {
    two_hundred_guesses_at_once_are_checked_five_times(demo_store());
}

/// A guesser on the LAN without a paired device (the back office) locks
/// the person out of that address only, never out of the tills: no one
/// can shut every manager out of the store from the network.
#[test]
fn back_office_guesses_lock_out_that_address_only() {
    let store = demo_store();
    let manager = common::the_manager(&store);
    let mut c = store.db.conn().unwrap();
    let right = "731946";
    staff::set_pin(
        &mut c,
        &store.node,
        &outpost_storage::Actor {
            staff_id: "root".into(),
            role: outpost_domain::Role::Admin,
            device_id: None,
        },
        &manager.staff_id,
        &outpost_domain::Pin::parse(right).unwrap(),
    )
    .unwrap();
    for _ in 0..5 {
        let e = staff::check_pin(
            &mut c,
            &store.node,
            &manager.staff_id,
            "2468",
            "office:10.9.9.9",
        )
        .unwrap_err();
        assert!(matches!(e, StorageError::WrongPin { .. }), "{e:?}");
    }
    let e = staff::check_pin(
        &mut c,
        &store.node,
        &manager.staff_id,
        right,
        "office:10.9.9.9",
    )
    .unwrap_err();
    assert!(matches!(e, StorageError::LockedOut(_)), "{e:?}");
    staff::check_pin(
        &mut c,
        &store.node,
        &manager.staff_id,
        right,
        "office:10.0.0.7",
    )
    .unwrap();
    staff::check_pin(&mut c, &store.node, &manager.staff_id, right, "till-1").unwrap();
}
