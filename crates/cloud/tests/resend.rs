//! Re-sending a store's master data in the cloud: what the feed gets (each
//! entity once, with the time of its last edit; a staff member's fields
//! with their own times; no price list already due), and who gets it (an
//! edge that understands re-sends, and no other).

mod common;

use common::*;
use outpost_cloud::CloudError;
use outpost_cloud::db::master::{self, ListPrice, PriceListChange, StaffChange, TaxChange};

#[test]
fn a_resend_appends_each_entity_once_and_only_an_edge_that_understands_it_gets_it() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let mut c = db.conn().unwrap();
    let tax = |name: &str| TaxChange {
        code: "std".into(),
        name: Some(name.into()),
        rate_ppm: Some(200_000),
        mode: Some("inclusive".into()),
    };
    master::author_tax(&mut c, &s, &tax("Standard")).unwrap();
    master::author_tax(&mut c, &s, &tax("Standard rate")).unwrap();
    let member = master::author_staff(
        &mut c,
        &s,
        &StaffChange {
            name: Some("Ann".into()),
            role: Some("cashier".into()),
            pin: Some("2468".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let renamed = master::author_staff(
        &mut c,
        &s,
        &StaffChange {
            id: Some(member.entity_id.clone()),
            name: Some("Ann B".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let list = |version: &str, at: i64| PriceListChange {
        version: version.into(),
        effective_at: at,
        prices: vec![ListPrice {
            sku: "X".into(),
            price_minor: 100,
        }],
    };
    let now = outpost_domain::ids::now_millis();
    master::author_price_list(&mut c, &s, &list("past", now - 60_000)).unwrap();
    master::author_price_list(&mut c, &s, &list("coming", now + 3_600_000)).unwrap();

    // The store's edge has not said it understands re-sends.
    let refused = master::resend(&mut c, &s);
    assert!(
        matches!(refused, Err(CloudError::Conflict(_))),
        "{refused:?}"
    );
    master::pulled(&mut c, &s, 0, 2).unwrap();
    let sent = master::resend(&mut c, &s).unwrap();
    assert_eq!(
        sent.kinds,
        [
            ("price_list".to_owned(), 1),
            ("staff".to_owned(), 1),
            ("tax_category".to_owned(), 1)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(sent.past_price_lists, 1);

    let feed = master::changes(&mut c, &s, 0, 100, 2).unwrap();
    let resent: Vec<_> = feed.iter().filter(|ch| ch.resent).collect();
    assert_eq!(resent.len(), 3);
    assert_eq!(resent[0].cursor, sent.first_cursor);
    let tax_sent = resent.iter().find(|ch| ch.kind == "tax_category").unwrap();
    let body: serde_json::Value = serde_json::from_str(&tax_sent.body).unwrap();
    assert_eq!(
        body["name"], "Standard rate",
        "the edits laid over each other"
    );
    let staff_sent = resent.iter().find(|ch| ch.kind == "staff").unwrap();
    let body: serde_json::Value = serde_json::from_str(&staff_sent.body).unwrap();
    let rename_hlc = feed
        .iter()
        .find(|ch| ch.cursor == renamed.cursor)
        .unwrap()
        .hlc;
    let create_hlc = feed
        .iter()
        .find(|ch| ch.cursor == member.cursor)
        .unwrap()
        .hlc;
    assert_eq!(staff_sent.hlc, rename_hlc, "the time of its last edit");
    assert_eq!(body["name"], "Ann B");
    assert_eq!(body["hlc_of"]["name"], rename_hlc);
    assert_eq!(
        body["hlc_of"]["pin_hash"], create_hlc,
        "the PIN keeps its own time"
    );
    assert!(
        body["pin_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("$argon2"))
    );

    // An older edge (rolled back, say) does not get them.
    let old = master::changes(&mut c, &s, 0, 100, 0).unwrap();
    assert_eq!(old.len(), feed.len() - 3);
    assert!(old.iter().all(|ch| !ch.resent));
}
