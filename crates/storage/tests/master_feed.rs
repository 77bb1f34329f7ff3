//! The store's side of the master-data feed on the embedded SQLite database:
//! price-list versions take effect at their time and once, staff edits merge
//! by last writer on the hybrid logical clock, and changes the store cannot
//! apply are recorded, not dropped.

mod common;

use common::{Store, demo_store, manager};
use diesel::prelude::*;
use outpost_domain::{Pin, Role};
use outpost_storage::master::{self, Applied, Change};
use outpost_storage::schema::{audit_log, outbox, sessions};
use outpost_storage::{Actor, catalog, db::now_millis, staff};
use serde_json::json;

/// Applies one change of `kind` at the next cursor.
fn apply(s: &Store, kind: &str, hlc: i64, body: serde_json::Value) -> Applied {
    let mut c = s.db.conn().unwrap();
    let cursor = master::cursor(&mut c).unwrap() + 1;
    let change = Change {
        cursor,
        kind: kind.into(),
        hlc,
        body: body.to_string(),
        resent: false,
    };
    master::apply(&mut c, &[change], cursor).unwrap()
}

/// Applies `changes` (kind, hlc, body) as one re-send at the next cursors.
fn resend(s: &Store, changes: &[(&str, i64, serde_json::Value)]) -> Applied {
    let mut c = s.db.conn().unwrap();
    let from = master::cursor(&mut c).unwrap();
    let changes: Vec<Change> = changes
        .iter()
        .zip(from + 1..)
        .map(|((kind, hlc, body), cursor)| Change {
            cursor,
            kind: (*kind).into(),
            hlc: *hlc,
            body: body.to_string(),
            resent: true,
        })
        .collect();
    master::apply(&mut c, &changes, from + changes.len() as i64).unwrap()
}

fn events_of(s: &Store, id: &str) -> i64 {
    outbox::table
        .filter(outbox::aggregate_id.eq(id))
        .count()
        .get_result(&mut **s.db.conn().unwrap())
        .unwrap()
}

fn price_of(s: &Store, sku: &str) -> i64 {
    let mut c = s.db.conn().unwrap();
    catalog::search(&mut c, &s.node, sku, &catalog::Shelf::All, 5)
        .unwrap()
        .into_iter()
        .find(|p| p.sku == sku)
        .unwrap()
        .price_minor
}

fn audited(s: &Store, action: &str) -> Vec<String> {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .select(audit_log::detail)
        .load(&mut **s.db.conn().unwrap())
        .unwrap()
}

fn cloud_hlc(at_millis: i64) -> i64 {
    at_millis << 16
}

#[test]
fn a_price_list_takes_effect_at_its_time_once_and_as_the_stores_own_edit() {
    let s = demo_store();
    let p = {
        let mut c = s.db.conn().unwrap();
        catalog::search(&mut c, &s.node, "", &catalog::Shelf::All, 1)
            .unwrap()
            .remove(0)
    };
    let now = now_millis();
    let at = now + 3_600_000;
    let list = |version: &str, price: i64| {
        json!({"version": version, "effective_at": at,
            "prices": [{"sku": p.sku, "price_minor": price}, {"sku": "NO-SUCH-SKU", "price_minor": 5}]})
    };
    let got = apply(
        &s,
        "price_list",
        cloud_hlc(now),
        list("v1", p.price_minor + 100),
    );
    assert_eq!(got.created, 1);
    assert_eq!(price_of(&s, &p.sku), p.price_minor, "not before its time");

    let mut c = s.db.conn().unwrap();
    let events_before: i64 = outbox::table
        .filter(outbox::aggregate_id.eq(&p.id))
        .count()
        .get_result(&mut **c)
        .unwrap();
    assert_eq!(master::activate_due(&mut c, &s.node, at - 1).unwrap(), 0);
    assert_eq!(master::activate_due(&mut c, &s.node, at).unwrap(), 1);
    assert_eq!(price_of(&s, &p.sku), p.price_minor + 100);
    let events_after: i64 = outbox::table
        .filter(outbox::aggregate_id.eq(&p.id))
        .filter(outbox::event_type.eq("product.updated"))
        .count()
        .get_result(&mut **c)
        .unwrap();
    assert_eq!(events_after, events_before + 1, "the new price syncs back");
    assert_eq!(
        master::activate_due(&mut c, &s.node, at + 10).unwrap(),
        0,
        "once"
    );
    let applied = audited(&s, "master.price_list_applied");
    assert_eq!(applied.len(), 1);
    assert!(applied[0].contains("NO-SUCH-SKU"), "{applied:?}");

    // The same version again is refused: a correction needs a new name.
    let again = apply(&s, "price_list", cloud_hlc(now + 1), list("v1", 1));
    assert_eq!(again.skipped, 1);
    assert_eq!(master::activate_due(&mut c, &s.node, at + 20).unwrap(), 0);
    assert_eq!(price_of(&s, &p.sku), p.price_minor + 100);

    // A version already due applies as it arrives.
    let due_now = json!({"version": "v2", "effective_at": now - 1,
        "prices": [{"sku": p.sku, "price_minor": p.price_minor + 7}]});
    apply(&s, "price_list", cloud_hlc(now + 2), due_now);
    assert_eq!(price_of(&s, &p.sku), p.price_minor + 7);
}

#[test]
fn a_staff_edit_from_the_cloud_wins_only_when_it_is_later() {
    let s = demo_store();
    let pin = Pin::parse("2468").unwrap();
    let member = {
        let mut c = s.db.conn().unwrap();
        staff::create_staff(
            &mut c,
            &s.node,
            &manager(),
            "Bo Cashier",
            Role::Cashier,
            &pin,
        )
        .unwrap()
    };
    // An edit the cloud made before the store's own: older, kept out, and
    // logged as a conflict.
    let older = cloud_hlc(now_millis() - 600_000);
    let got = apply(
        &s,
        "staff",
        older,
        json!({"id": member.id, "name": "Old name"}),
    );
    assert_eq!(got.conflicts, 1);
    let mut c = s.db.conn().unwrap();
    assert_eq!(
        staff::list_staff(&mut c)
            .unwrap()
            .iter()
            .find(|m| m.id == member.id)
            .unwrap()
            .name,
        "Bo Cashier"
    );
    assert_eq!(audited(&s, "master.conflict").len(), 1);

    // A later edit wins: new name, role and PIN; open sessions end.
    let admin = Actor {
        role: Role::Admin,
        ..manager()
    };
    let paired = staff::pair_device(&mut c, &s.node, &admin, "Till", "register").unwrap();
    let till = staff::device_by_token(&mut c, &paired.token).unwrap();
    staff::login(&mut c, &s.node, &member.id, "2468", Some(&till), "t").unwrap();
    let open = |c: &mut outpost_storage::AnyConnection| -> i64 {
        sessions::table
            .filter(sessions::staff_id.eq(&member.id))
            .count()
            .get_result(c)
            .unwrap()
    };
    assert_eq!(open(&mut c), 1);
    let hash = outpost_storage::secrets::hash_pin(&Pin::parse("13579").unwrap());
    let later = s.node.tick().raw() + cloud_hlc(1000);
    let got = apply(
        &s,
        "staff",
        later,
        json!({"id": member.id, "name": "Bo Supervisor", "role": "supervisor", "pin_hash": hash}),
    );
    assert_eq!(got.changed, 1);
    let now = staff::list_staff(&mut c)
        .unwrap()
        .into_iter()
        .find(|m| m.id == member.id)
        .unwrap();
    assert_eq!(
        (now.name.as_str(), now.role.as_str()),
        ("Bo Supervisor", "supervisor")
    );
    assert_eq!(open(&mut c), 0, "a changed PIN or role ends the sessions");
    assert!(staff::login(&mut c, &s.node, &member.id, "2468", Some(&till), "t").is_err());
    staff::login(&mut c, &s.node, &member.id, "13579", Some(&till), "t").unwrap();
    for d in audited(&s, "master.staff") {
        assert!(!d.contains("argon2"), "a PIN hash in the audit log: {d}");
    }

    // A new member without a PIN cannot be created: recorded, not dropped.
    let got = apply(
        &s,
        "staff",
        later + 1,
        json!({"id": "new-one", "name": "Nobody", "role": "cashier"}),
    );
    assert_eq!(got.skipped, 1);
    assert_eq!(audited(&s, "master.skipped").len(), 1);
    // So is a kind this edge does not know.
    let got = apply(&s, "loyalty_scheme", later + 2, json!({"x": 1}));
    assert_eq!(got.skipped, 1);
    assert_eq!(audited(&s, "master.skipped").len(), 2);
}

#[test]
fn a_products_category_and_favourite_come_from_the_cloud_and_leave_the_rest_as_it_is() {
    let s = demo_store();
    let espresso = {
        let mut c = s.db.conn().unwrap();
        catalog::search(&mut c, &s.node, "espresso", &catalog::Shelf::All, 1)
            .unwrap()
            .remove(0)
    };
    assert_eq!(
        (espresso.category.as_str(), espresso.favourite),
        ("Hot drinks", true)
    );
    let later = cloud_hlc(now_millis() + 60_000);
    let out = apply(
        &s,
        "product",
        later,
        json!({"sku": espresso.sku, "category": "Coffee", "favourite": false}),
    );
    assert_eq!(out.changed, 1, "{out:?}");
    // A new product from the cloud lands on its tab.
    let out = apply(
        &s,
        "product",
        later + 1,
        json!({"sku": "X-RISTRETTO", "name": "Ristretto", "price_minor": 200,
               "tax_category": "standard", "category": "Coffee", "favourite": true}),
    );
    assert_eq!(out.created, 1, "{out:?}");
    let mut c = s.db.conn().unwrap();
    let coffee: Vec<(String, bool, i64)> = catalog::search(
        &mut c,
        &s.node,
        "",
        &catalog::Shelf::Category("Coffee".into()),
        50,
    )
    .unwrap()
    .into_iter()
    .map(|p| (p.name, p.favourite, p.price_minor))
    .collect();
    assert_eq!(
        coffee,
        vec![
            ("Espresso".to_owned(), false, espresso.price_minor),
            ("Ristretto".to_owned(), true, 200)
        ]
    );
    let favourites = catalog::search(&mut c, &s.node, "", &catalog::Shelf::Favourites, 50).unwrap();
    assert!(favourites.iter().any(|p| p.sku == "X-RISTRETTO"));
    assert!(!favourites.iter().any(|p| p.sku == espresso.sku));
}

/// A change timed more than the clock's drift bound ahead waits for a
/// later pull (the cursor stays before it): applied now, an edit made here
/// after it would order before it, and the cloud would drop that edit.
#[test]
fn a_change_timed_too_far_ahead_waits_and_the_ones_before_it_apply() {
    let s = demo_store();
    let p = {
        let mut c = s.db.conn().unwrap();
        catalog::search(&mut c, &s.node, "", &catalog::Shelf::All, 1)
            .unwrap()
            .remove(0)
    };
    let mut c = s.db.conn().unwrap();
    let from = master::cursor(&mut c).unwrap();
    let change = |cursor: i64, hlc: i64, name: &str| Change {
        cursor,
        kind: "product".into(),
        hlc,
        body: json!({"sku": p.sku, "name": name}).to_string(),
        resent: false,
    };
    let now = now_millis();
    let out = master::apply(
        &mut c,
        &[
            change(from + 1, cloud_hlc(now + 1_000), "Within the bound"),
            change(from + 2, cloud_hlc(now + 3_600_000), "An hour ahead"),
            change(from + 3, cloud_hlc(now + 2_000), "After it"),
        ],
        from + 3,
    )
    .unwrap();
    assert_eq!((out.changed, out.held_back), (1, 2), "{out:?}");
    assert_eq!(master::cursor(&mut c).unwrap(), from + 1);
    let name = catalog::by_id(&mut c, &s.node, &p.id).unwrap().name;
    assert_eq!(name, "Within the bound");
}

/// A re-send carries each entity as the cloud holds it with the time of its
/// last edit: the store fills in what it lacks, keeps an edit of its own
/// made since (no conflict: that was settled when the edit first came), and
/// an entity it already holds changes nothing (no new version, no event, no
/// one signed out).
#[test]
fn a_resent_entity_fills_what_the_store_lacks_and_keeps_its_later_edits() {
    let s = demo_store();
    let find = |sku: &str| {
        let mut c = s.db.conn().unwrap();
        catalog::search(&mut c, &s.node, sku, &catalog::Shelf::All, 5)
            .unwrap()
            .into_iter()
            .find(|p| p.sku == sku)
            .unwrap()
    };
    let espresso = {
        let mut c = s.db.conn().unwrap();
        catalog::search(&mut c, &s.node, "espresso", &catalog::Shelf::All, 1)
            .unwrap()
            .remove(0)
    };
    let t = cloud_hlc(now_millis() + 60_000);
    let edit = json!({"sku": espresso.sku, "name": "Espresso doppio", "price_minor": 310});
    assert_eq!(apply(&s, "product", t, edit.clone()).changed, 1);
    let held = find(&espresso.sku);
    let events = events_of(&s, &espresso.id);

    // The same edit again, with the category an older edge did not know,
    // and a product the store never got: the category is filled in, the
    // product created.
    let mut with_category = edit.clone();
    with_category["category"] = json!("Coffee");
    let got = resend(
        &s,
        &[
            ("product", t, edit.clone()),
            ("product", t, with_category),
            (
                "product",
                t + 1,
                json!({"sku": "X-LUNGO", "name": "Lungo", "price_minor": 290, "tax_category": "standard"}),
            ),
        ],
    );
    assert_eq!(
        (got.kept, got.changed, got.created, got.conflicts),
        (1, 1, 1, 0),
        "{got:?}"
    );
    assert_eq!(find(&espresso.sku).category, "Coffee");
    assert_eq!(find("X-LUNGO").price_minor, 290);

    // Held already: nothing moves.
    let held_now = find(&espresso.sku);
    let events_now = events_of(&s, &espresso.id);
    assert!(events_now > events && held_now.version > held.version);
    let mut again = edit.clone();
    again["category"] = json!("Coffee");
    let got = resend(&s, &[("product", t, again.clone())]);
    assert_eq!((got.kept, got.changed), (1, 0), "{got:?}");
    assert_eq!(find(&espresso.sku).version, held_now.version);
    assert_eq!(
        events_of(&s, &espresso.id),
        events_now,
        "no event for what the store holds"
    );

    // The store's own later edit stays, and it is no conflict (its clock
    // has seen the cloud's edit, as the edge's has once it pulled it).
    s.node.observe(outpost_domain::Hlc::from_raw(t + 10));
    let manager = manager();
    catalog::update_product(
        &mut s.db.conn().unwrap(),
        &s.node,
        &manager,
        &espresso.id,
        catalog::ProductEdit {
            price_minor: Some(330),
            ..Default::default()
        },
    )
    .unwrap();
    let got = resend(&s, &[("product", t, again)]);
    assert_eq!((got.kept, got.changed, got.conflicts), (1, 0, 0), "{got:?}");
    assert_eq!(price_of(&s, &espresso.sku), 330);
    assert!(audited(&s, "master.conflict").is_empty());

    // A staff member held as sent keeps their session.
    let hash = outpost_storage::secrets::hash_pin(&Pin::parse("2468").unwrap());
    let member = json!({"id": "st-re", "name": "Re Sent", "role": "cashier", "pin_hash": hash, "active": true});
    assert_eq!(apply(&s, "staff", t + 2, member.clone()).created, 1);
    let admin = Actor {
        role: Role::Admin,
        ..manager
    };
    let mut c = s.db.conn().unwrap();
    let paired = staff::pair_device(&mut c, &s.node, &admin, "Till", "register").unwrap();
    let till = staff::device_by_token(&mut c, &paired.token).unwrap();
    staff::login(&mut c, &s.node, "st-re", "2468", Some(&till), "t").unwrap();
    drop(c);
    let got = resend(&s, &[("staff", t + 2, member.clone())]);
    assert_eq!((got.kept, got.changed), (1, 0), "{got:?}");
    let open: i64 = sessions::table
        .filter(sessions::staff_id.eq("st-re"))
        .count()
        .get_result(&mut **s.db.conn().unwrap())
        .unwrap();
    assert_eq!(open, 1, "a re-send that changes nothing signs nobody out");
    // An older copy than the store's is kept out without a conflict.
    let got = resend(
        &s,
        &[("staff", t + 1, json!({"id": "st-re", "name": "Older"}))],
    );
    assert_eq!((got.kept, got.conflicts), (1, 0), "{got:?}");
    assert!(audited(&s, "master.conflict").is_empty());

    // The manager sets a new PIN here; the cloud then renames the member.
    // The re-send carries the cloud's old PIN with the time of its own
    // edit: it loses to the store's, and only the name counts.
    s.node.observe(outpost_domain::Hlc::from_raw(t + 2));
    staff::set_pin(
        &mut s.db.conn().unwrap(),
        &s.node,
        &admin,
        "st-re",
        &Pin::parse("97531").unwrap(),
    )
    .unwrap();
    let renamed = s.node.tick().raw() + 1;
    let got = apply(
        &s,
        "staff",
        renamed,
        json!({"id": "st-re", "name": "Re Named"}),
    );
    assert_eq!(got.changed, 1, "{got:?}");
    let folded = json!({"id": "st-re", "name": "Re Named", "role": "cashier", "pin_hash": hash,
        "active": true, "hlc_of": {"name": renamed, "role": t + 2, "pin_hash": t + 2, "active": t + 2}});
    let got = resend(&s, &[("staff", renamed, folded)]);
    assert_eq!((got.kept, got.changed), (1, 0), "{got:?}");
    let mut c = s.db.conn().unwrap();
    staff::login(&mut c, &s.node, "st-re", "97531", Some(&till), "t").unwrap();
    assert!(
        staff::login(&mut c, &s.node, "st-re", "2468", Some(&till), "t").is_err(),
        "the cloud's old PIN does not come back"
    );
}
