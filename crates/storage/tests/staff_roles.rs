//! Nobody reaches above their own role through a PIN (issue 30): a manager
//! can neither set an admin's PIN (and then sign in as the admin) nor lift
//! an admin's lockout; an admin can.

mod common;

use common::{demo_store, the_manager};
use outpost_domain::{Pin, Role};
use outpost_storage::{Actor, StorageError, staff};

#[test]
fn a_manager_cannot_set_or_unlock_an_admins_pin() {
    let store = demo_store();
    let mut c = store.db.conn().unwrap();
    let root = Actor {
        staff_id: "root".into(),
        role: Role::Admin,
        device_id: None,
    };
    let pin = Pin::parse("482913").unwrap();
    let admin = staff::create_staff(&mut c, &store.node, &root, "Ada Admin", Role::Admin, &pin)
        .unwrap()
        .id;
    let manager = the_manager(&store);
    let other = Pin::parse("731946").unwrap();
    let e = staff::set_pin(&mut c, &store.node, &manager, &admin, &other).unwrap_err();
    assert!(matches!(e, StorageError::Forbidden(_)), "{e:?}");
    let e = staff::unlock(&mut c, &store.node, &manager, &admin).unwrap_err();
    assert!(matches!(e, StorageError::Forbidden(_)), "{e:?}");
    // The admin's PIN is as it was.
    staff::check_pin(&mut c, &store.node, &admin, "482913", "test").unwrap();
    // A manager still manages those below; an admin manages an admin.
    let carl = staff::list_staff(&mut c)
        .unwrap()
        .into_iter()
        .find(|m| m.role == "cashier")
        .unwrap()
        .id;
    staff::set_pin(&mut c, &store.node, &manager, &carl, &other).unwrap();
    staff::set_pin(&mut c, &store.node, &root, &admin, &other).unwrap();
    staff::unlock(&mut c, &store.node, &root, &admin).unwrap();
    staff::check_pin(&mut c, &store.node, &admin, "731946", "test").unwrap();
}
