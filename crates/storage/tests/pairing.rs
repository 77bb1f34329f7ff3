//! One-time pairing codes on both backends: a code pairs the device it was
//! made for once, however it is typed, and only within its time; two
//! devices typing one code at once get one pairing; only a manager makes
//! codes, and a code pairs nothing once its maker lost that right; both
//! steps are audited.

mod common;

use common::{Store, demo_store, demo_store_on_pg, the_manager};
use diesel::prelude::*;
use outpost_domain::Role;
use outpost_storage::{Actor, StorageError, audit, pairing, staff};

fn a_code_pairs_its_device_once_as_typed_and_both_steps_are_audited(s: Store) {
    let m = the_manager(&s);
    let mut c = s.db.conn().unwrap();
    let code = pairing::create_code(&mut c, &s.node, &m, "Till 2", "register", 60_000).unwrap();
    assert_eq!(
        (code.name.as_str(), code.kind.as_str()),
        ("Till 2", "register")
    );
    // Typed on a kitchen screen: refused, and the code stays good.
    assert!(matches!(
        pairing::redeem(&mut c, &s.node, &code.code, Some("display")),
        Err(StorageError::Unprocessable(_))
    ));
    let typed = format!(" {} ", code.code.to_lowercase().replace('-', " "));
    let paired = pairing::redeem(&mut c, &s.node, &typed, Some("register")).unwrap();
    assert_eq!(
        (paired.device.name.as_str(), paired.device.kind.as_str()),
        ("Till 2", "register")
    );
    assert_eq!(
        staff::device_by_token(&mut c, &paired.token).unwrap().id,
        paired.device.id
    );
    // Once only.
    assert!(matches!(
        pairing::redeem(&mut c, &s.node, &code.code, None),
        Err(StorageError::Forbidden(_))
    ));
    let log = audit::list(&mut c, 50).unwrap();
    let by = |action: &str| {
        log.iter()
            .filter(|e| e.action == action)
            .map(|e| e.staff_id.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(by("device.pairing_code"), vec![m.staff_id.clone()]);
    assert_eq!(by("device.paired"), vec![m.staff_id.clone()]);
    // Unknown and malformed codes pair nothing.
    for bad in ["00000-00000", "not a code", ""] {
        assert!(matches!(
            pairing::redeem(&mut c, &s.node, bad, None),
            Err(StorageError::Forbidden(_))
        ));
    }
    assert_eq!(staff::devices(&mut c).unwrap().len(), 1);
}

#[test]
fn a_code_pairs_its_device_once_as_typed_and_both_steps_are_audited_on_sqlite() {
    a_code_pairs_its_device_once_as_typed_and_both_steps_are_audited(demo_store());
}

#[test]
fn a_code_pairs_its_device_once_as_typed_and_both_steps_are_audited_on_postgres() {
    a_code_pairs_its_device_once_as_typed_and_both_steps_are_audited(demo_store_on_pg(2));
}

#[test]
fn an_expired_code_pairs_nothing_and_only_a_manager_makes_one() {
    let s = demo_store();
    let m = the_manager(&s);
    let mut c = s.db.conn().unwrap();
    let code = pairing::create_code(&mut c, &s.node, &m, "Kitchen", "display", 1).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(matches!(
        pairing::redeem(&mut c, &s.node, &code.code, None),
        Err(StorageError::Forbidden(_))
    ));
    let cashier = Actor {
        role: Role::Cashier,
        ..m.clone()
    };
    assert!(matches!(
        pairing::create_code(&mut c, &s.node, &cashier, "Till 9", "register", 60_000),
        Err(StorageError::Forbidden(_))
    ));
    for (name, kind) in [
        ("", "register"),
        ("Till", "toaster"),
        ("a\u{7}b", "register"),
    ] {
        assert!(matches!(
            pairing::create_code(&mut c, &s.node, &m, name, kind, 60_000),
            Err(StorageError::Unprocessable(_))
        ));
    }
    assert!(staff::devices(&mut c).unwrap().is_empty());

    // A code made by someone who since lost the right pairs nothing.
    let code = pairing::create_code(&mut c, &s.node, &m, "Till", "register", 60_000).unwrap();
    diesel::update(outpost_storage::schema::staff::table.find(&m.staff_id))
        .set(outpost_storage::schema::staff::active.eq(false))
        .execute(&mut **c)
        .unwrap();
    assert!(matches!(
        pairing::redeem(&mut c, &s.node, &code.code, None),
        Err(StorageError::Forbidden(_))
    ));
    assert!(staff::devices(&mut c).unwrap().is_empty());
}

#[test]
fn on_postgres_two_devices_typing_one_code_at_once_get_one_pairing() {
    let s = demo_store_on_pg(8);
    let m = the_manager(&s);
    for _ in 0..5 {
        let code = {
            let mut c = s.db.conn().unwrap();
            pairing::create_code(&mut c, &s.node, &m, "Till", "register", 60_000).unwrap()
        };
        let barrier = std::sync::Barrier::new(4);
        let won = std::thread::scope(|t| {
            let runs: Vec<_> = (0..4)
                .map(|_| {
                    t.spawn(|| {
                        let mut c = s.db.conn().unwrap();
                        barrier.wait();
                        match pairing::redeem(&mut c, &s.node, &code.code, None) {
                            Ok(_) => true,
                            Err(StorageError::Forbidden(_)) => false,
                            Err(e) => panic!("a loser is told the code is used, not {e:?}"),
                        }
                    })
                })
                .collect();
            runs.into_iter()
                .map(|r| r.join().unwrap())
                .filter(|won| *won)
                .count()
        });
        assert_eq!(won, 1);
    }
    assert_eq!(staff::devices(&mut s.db.conn().unwrap()).unwrap().len(), 5);
}
