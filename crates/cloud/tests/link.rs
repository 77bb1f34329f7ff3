//! The cloud's side of the sync link against a real PostgreSQL: credentials
//! through rotation, revocation and expiry; a batch that cannot apply parked
//! without blocking its stream, and retried after a fix; the order numbers a
//! restored store must number past; and a rewound store's status.

mod common;

use common::*;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use outpost_cloud::db::{self as cloud, CloudDb, Refusal, credentials};
use std::collections::BTreeMap;

fn auth(db: &CloudDb, credential: &str) -> Result<cloud::Authenticated, Refusal> {
    cloud::authenticate(&mut db.conn().unwrap(), credential).unwrap()
}

#[test]
fn a_rotated_credential_works_beside_the_old_one_until_first_used_then_alone() {
    let db = fresh_db();
    let (id, old) = cloud::add_store(&mut db.conn().unwrap(), None, "S01", "Main", None).unwrap();
    let a = auth(&db, &old).unwrap();
    assert_eq!(a.store_id, id);
    // No rotation asked: nothing handed out.
    let n = credentials::notice(&mut db.conn().unwrap(), &a, 0).unwrap();
    assert_eq!((n.rotated, n.expires_at), (None, None));

    credentials::request_rotation(&mut db.conn().unwrap(), "S01", None).unwrap();
    let n = credentials::notice(&mut db.conn().unwrap(), &a, 0).unwrap();
    let new = n.rotated.expect("a rotated credential");
    assert!(new.starts_with(&format!("{id}.")));
    // The reply carrying it was lost: the next contact hands out another,
    // and the lost one never works.
    let n = credentials::notice(&mut db.conn().unwrap(), &a, 0).unwrap();
    let newer = n.rotated.expect("handed out again");
    assert_eq!(auth(&db, &new), Err(Refusal::WrongSecret));
    // Both work during the change-over …
    assert!(auth(&db, &old).is_ok());
    let b = auth(&db, &newer).unwrap();
    assert!(b.promoted, "first use of the new one");
    // … and once the new one was used, only it does.
    assert_eq!(auth(&db, &old), Err(Refusal::Replaced));
    assert!(!auth(&db, &newer).unwrap().promoted);
    let n = credentials::notice(&mut db.conn().unwrap(), &b, 0).unwrap();
    assert_eq!(n.rotated, None, "the rotation is done");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM store_credentials WHERE state = 'active'"
        ),
        1
    );
}

#[test]
fn a_revoked_store_is_refused_at_once_until_it_gets_a_new_credential() {
    let db = fresh_db();
    let (_, old) = cloud::add_store(&mut db.conn().unwrap(), None, "S02", "Kiosk", None).unwrap();
    assert!(auth(&db, &old).is_ok());
    let (_, n) = credentials::revoke(&mut db.conn().unwrap(), "S02").unwrap();
    assert_eq!(n, 1);
    assert_eq!(auth(&db, &old), Err(Refusal::Revoked));
    let fresh = credentials::reissue(&mut db.conn().unwrap(), "S02", None).unwrap();
    assert!(auth(&db, &fresh).is_ok());
    assert_eq!(auth(&db, &old), Err(Refusal::Revoked));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM alarms WHERE kind = 'credential-revoked'"
        ),
        1
    );
}

/// Moves a credential's life on: created `ago` ms back, expiring in `left` ms.
fn age(db: &CloudDb, credential_id: &str, ago: i64, left: i64) {
    let now = outpost_domain::ids::now_millis();
    diesel::sql_query(format!(
        "UPDATE store_credentials SET created_at = {}, expires_at = {} WHERE id = '{credential_id}'",
        now - ago,
        now + left
    ))
    .execute(&mut db.conn().unwrap())
    .unwrap();
}

#[test]
fn a_credential_is_renewed_before_it_expires_and_refused_after() {
    let db = fresh_db();
    let day = 86_400_000;
    let notice = |a: &cloud::Authenticated, warn: i64| {
        credentials::notice(&mut db.conn().unwrap(), a, warn).unwrap()
    };
    let (id, long) = cloud::add_store(
        &mut db.conn().unwrap(),
        None,
        "S03",
        "Market",
        Some(90 * day),
    )
    .unwrap();
    let a = auth(&db, &long).unwrap();
    assert!(a.expires_at.is_some());
    // Outside the warning window: nothing happens.
    let n = notice(&a, 14 * day);
    assert_eq!((n.rotated, n.expires_at), (None, a.expires_at));
    // Inside it: renewed with the same lifetime while the store is connected.
    age(&db, &a.credential_id, 80 * day, 10 * day);
    let renewed = notice(&a, 14 * day).rotated.expect("renewed before expiry");
    let b = auth(&db, &renewed).unwrap();
    let lifetime = b.expires_at.unwrap() - outpost_domain::ids::now_millis();
    assert!(lifetime > 89 * day && lifetime <= 90 * day, "{lifetime}");

    // A credential shorter than the window is renewed in the second half of
    // its life, not at once (its successor would be as short: a loop).
    let (_, short) =
        cloud::add_store(&mut db.conn().unwrap(), None, "S05", "Kiosk", Some(3 * day)).unwrap();
    let c = auth(&db, &short).unwrap();
    assert_eq!(notice(&c, 14 * day).rotated, None, "fresh: not renewed");
    age(&db, &c.credential_id, 5 * day / 2, 2 * day / 5);
    let next = notice(&c, 14 * day)
        .rotated
        .expect("renewed past half its life");
    let d = auth(&db, &next).unwrap();
    assert_eq!(
        notice(&d, 14 * day).rotated,
        None,
        "its successor is not renewed at once"
    );

    // A credential past its expiry is refused, and says so.
    diesel::sql_query(format!(
        "UPDATE store_credentials SET expires_at = 1 WHERE store_id = '{id}' AND state = 'active'"
    ))
    .execute(&mut db.conn().unwrap())
    .unwrap();
    assert_eq!(auth(&db, &renewed), Err(Refusal::Expired(1)));
}

#[test]
fn malformed_and_unknown_credentials_are_refused_by_kind() {
    let db = fresh_db();
    let (id, good) = cloud::add_store(&mut db.conn().unwrap(), None, "S04", "X", None).unwrap();
    assert_eq!(auth(&db, "no-dot"), Err(Refusal::Malformed));
    assert_eq!(auth(&db, "not-a-uuid.abc"), Err(Refusal::Malformed));
    let other = uuid::Uuid::now_v7();
    assert_eq!(
        auth(&db, &format!("{other}.{}", "0".repeat(64))),
        Err(Refusal::UnknownStore)
    );
    assert_eq!(
        auth(&db, &format!("{id}.{}", "0".repeat(64))),
        Err(Refusal::WrongSecret)
    );
    assert!(auth(&db, &good).is_ok());
}

/// A trigger stands in for a bug in the apply (or data the projection cannot
/// hold): orders of one store fail to insert.
fn break_orders_of(db: &CloudDb, store: &str) {
    let sql = format!(
        "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
           IF NEW.store_id = '{store}' AND NEW.number LIKE '%-000003' THEN RAISE EXCEPTION 'simulated bug in the projection'; END IF; \
           RETURN NEW; END $$ LANGUAGE plpgsql; \
         CREATE TRIGGER poison BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION poison();"
    );
    db.conn().unwrap().batch_execute(&sql).unwrap();
}

fn fix_orders(db: &CloudDb) {
    db.conn()
        .unwrap()
        .batch_execute("DROP TRIGGER poison ON orders; DROP FUNCTION poison();")
        .unwrap();
}

#[test]
fn a_parked_batch_rejects_only_what_fails_alone_keeps_the_stream_going_and_retries_after_a_fix() {
    let db = fresh_db();
    let s = store(&db, "S01");
    break_orders_of(&db, &s);
    let batch = sales(&s, "e1", 1, 5);
    let err = cloud::apply_batch(&mut db.conn().unwrap(), &s, "sales", batch.clone());
    assert!(err.is_err(), "the whole batch fails while the bug is there");
    let parked = cloud::park_batch(
        &mut db.conn().unwrap(),
        &s,
        "sales",
        batch.clone(),
        "simulated",
        5,
    )
    .unwrap();
    assert_eq!(parked, 1, "only position 3 fails alone");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 4);
    assert_eq!(
        mark(&db, &s, "sales"),
        5,
        "its position counts as processed"
    );
    let reason: Vec<String> = cloud::parked(&mut db.conn().unwrap(), None)
        .unwrap()
        .into_iter()
        .map(|p| p.reason)
        .collect();
    assert_eq!(reason, vec!["simulated".to_owned()]);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM rejected_events WHERE reason LIKE '%simulated bug%'"
        ),
        1
    );
    // The stream goes on.
    let r = apply(&db, &s, "sales", sales(&s, "e1", 6, 2));
    assert_eq!(r.applied, 2);
    assert_eq!(mark(&db, &s, "sales"), 7);

    // Retried before the fix: still failing, nothing changes but the reason.
    let id = cloud::parked(&mut db.conn().unwrap(), None).unwrap()[0].id;
    let again = cloud::retry_parked(&mut db.conn().unwrap(), id).unwrap();
    assert!(again.unwrap_err().contains("simulated bug"));
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 6);
    // After the fix: the parked event applies, once.
    fix_orders(&db);
    let done = cloud::retry_parked(&mut db.conn().unwrap(), id).unwrap();
    assert_eq!(done, Ok(1));
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 7);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM rejected_events"), 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM inbox WHERE outcome = 'applied'"
        ),
        7
    );
    assert!(
        cloud::retry_parked(&mut db.conn().unwrap(), id).is_err(),
        "resolved once"
    );
    // A second delivery of the batch changes nothing.
    let r = apply(&db, &s, "sales", batch);
    assert_eq!((r.applied, r.duplicates), (0, 5));
}

#[test]
fn a_batch_with_text_the_database_cannot_hold_is_parked_with_the_reason() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let mut batch = sales(&s, "e1", 1, 2);
    // A JSON escape that decodes to NUL, which PostgreSQL text refuses.
    batch[1].payload = batch[1].payload.replace("S01-R1-000002", "S01-R1-\\u0000");
    batch[1].payload_sha256 = outpost_domain::secrets::sha256_hex(batch[1].payload.as_bytes());
    assert!(cloud::apply_batch(&mut db.conn().unwrap(), &s, "sales", batch.clone()).is_err());
    let parked = cloud::park_batch(&mut db.conn().unwrap(), &s, "sales", batch, "nul", 5).unwrap();
    assert_eq!(parked, 1);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 1);
    assert_eq!(mark(&db, &s, "sales"), 2);
    // An undecodable message is kept as it came.
    cloud::park_message(&mut db.conn().unwrap(), b"\x00\xff", "does not decode", 5).unwrap();
    let all = cloud::parked(&mut db.conn().unwrap(), None).unwrap();
    assert_eq!(all.len(), 2);
    let raw = all.iter().find(|p| p.events == 0).unwrap().id;
    assert!(matches!(
        cloud::retry_parked(&mut db.conn().unwrap(), raw),
        Err(outpost_cloud::CloudError::Unprocessable(_))
    ));
}

#[test]
fn the_cloud_remembers_each_registers_highest_number() {
    let db = fresh_db();
    let s = store(&db, "S01");
    apply(&db, &s, "sales", sales(&s, "e1", 1, 7));
    let mut c = db.conn().unwrap();
    assert_eq!(cloud::register_numbers(&mut c, &s).unwrap(), vec![(1, 7)]);
    // A late, lower number never lowers it.
    let late = event(
        &s,
        "e1",
        "sales",
        8,
        "order.created",
        order_payload(&uuid::Uuid::now_v7().to_string(), "S01-R1-000002", 5, 1),
    );
    apply(&db, &s, "sales", vec![late]);
    assert_eq!(cloud::register_numbers(&mut c, &s).unwrap(), vec![(1, 7)]);
}

#[test]
fn a_rewound_store_shows_quiet_streams_as_applied_up_to_the_fork() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let mut c = db.conn().unwrap();
    cloud::hello(&mut c, &s, "e1", None, "t", 0).unwrap();
    let old = sales(&s, "e1", 1, 5);
    apply(&db, &s, "sales", old.clone());
    let acks = [cloud::Acked {
        stream: "sales".into(),
        last: 5,
        last_event_id: old[4].event_id.clone(),
    }];
    cloud::record_acks(&mut c, &s, "e1", &acks).unwrap();
    // Restored with everything in: a new epoch forked at 5, and nothing new
    // on this stream since.
    let fork = BTreeMap::from([("sales".to_owned(), 5i64)]);
    cloud::hello(&mut c, &s, "e2", Some(("e1", &fork)), "t", 0).unwrap();
    let status = cloud::store_sync(&mut c).unwrap();
    let sales = status[0]
        .streams
        .iter()
        .find(|x| x.stream == "sales")
        .unwrap();
    assert_eq!((sales.applied, sales.acked), (5, 5), "{status:?}");
}

#[test]
fn a_store_code_other_than_the_registered_one_is_refused_and_raised_once() {
    let db = fresh_db();
    let s = store(&db, "S01");
    let mut c = db.conn().unwrap();
    assert_eq!(cloud::check_code(&mut c, &s, "S01").unwrap(), None);
    assert_eq!(
        cloud::check_code(&mut c, &s, "").unwrap(),
        None,
        "an older edge"
    );
    let why = cloud::check_code(&mut c, &s, "S07").unwrap().unwrap();
    assert!(
        why.contains("set up as store S07") && why.contains("store S01"),
        "{why}"
    );
    cloud::check_code(&mut c, &s, "S07").unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM alarms WHERE kind = 'store-code-mismatch'"
        ),
        1
    );
    assert_eq!(
        cloud::store_sync(&mut c).unwrap()[0].store.sync_refusal,
        why
    );
    assert_eq!(cloud::check_code(&mut c, &s, "S01").unwrap(), None);
    assert_eq!(cloud::store_sync(&mut c).unwrap()[0].store.sync_refusal, "");
}

#[test]
fn a_poison_event_held_behind_a_gap_is_parked_with_the_batch_that_fills_the_gap_and_retried_with_it()
 {
    let db = fresh_db();
    let s = store(&db, "S01");
    break_orders_of(&db, &s);
    let all = sales(&s, "e1", 1, 3);
    // 2 and 3 (the poison) arrive first and wait for 1.
    let r = apply(&db, &s, "sales", all[1..].to_vec());
    assert_eq!(r.held, 2);
    // 1 fills the gap: the drain hits the poison, the batch fails as a whole …
    assert!(cloud::apply_batch(&mut db.conn().unwrap(), &s, "sales", all[..1].to_vec()).is_err());
    // … and parking it parks only the poison, applying the rest.
    let parked = cloud::park_batch(
        &mut db.conn().unwrap(),
        &s,
        "sales",
        all[..1].to_vec(),
        "held poison",
        5,
    )
    .unwrap();
    assert_eq!(
        parked, 1,
        "event 1 itself applied; the held poison is parked"
    );
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 2);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM rejected_events"), 1);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM pending_events"), 0);
    assert_eq!(mark(&db, &s, "sales"), 3);
    // The parked batch holds the poison it drained (its own batch applied
    // long ago, as a hold): after the fix one retry applies it, once.
    let batch = &cloud::parked(&mut db.conn().unwrap(), None).unwrap()[0];
    assert_eq!(
        (batch.first_position, batch.last_position, batch.rejected),
        (1, 3, 1)
    );
    fix_orders(&db);
    let done = cloud::retry_parked(&mut db.conn().unwrap(), batch.id).unwrap();
    assert_eq!(done, Ok(1));
    assert_eq!(count(&db, "SELECT count(*) AS n FROM orders"), 3);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM rejected_events"), 0);
}
