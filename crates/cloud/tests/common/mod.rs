//! What the central database's tests share: a fresh central database, a
//! store in it, events and sales as a store would push them, and a few
//! readings.
#![allow(dead_code)]

use diesel::{Connection, PgConnection, RunQueryDsl};
use outpost_cloud::db::{self as cloud, ApplyReport, CloudDb, Incoming};
use outpost_domain::secrets::sha256_hex;
use serde_json::json;

/// A new, empty central database on the server named by OUTPOST_TEST_PG
/// (scripts/test drops those a run left behind).
pub fn fresh_db() -> CloudDb {
    let admin = std::env::var("OUTPOST_TEST_PG")
        .expect("PostgreSQL tests need OUTPOST_TEST_PG (scripts/test sets it up)");
    let name = format!("outpost_t_{}", uuid::Uuid::now_v7().simple());
    let mut root = PgConnection::establish(&format!("{admin}/postgres")).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut root)
        .unwrap();
    CloudDb::open(&format!("{admin}/{name}"), 4, true).unwrap()
}

pub fn store(db: &CloudDb, code: &str) -> String {
    let (id, _) = cloud::add_store(&mut db.conn().unwrap(), None, code, code, None).unwrap();
    id
}

pub fn order_payload(id: &str, number: &str, total: i64, version: i64) -> String {
    json!({
        "id": id, "number": number, "device_id": "dev", "shift_id": "sh", "business_day": "2026-11-23",
        "company_id": "c1", "staff_id": "st", "customer_id": null, "status": "paid", "currency": "EUR",
        "subtotal_minor": total, "discount_minor": 0, "tax_minor": total / 10, "total_minor": total,
        "refunded_minor": 0, "needs_adjustment": false, "note": "", "created_at": 1, "hlc": 1,
        "version": version, "lines": [], "payments": [], "change_minor": 0
    })
    .to_string()
}

pub fn event(
    store: &str,
    epoch: &str,
    stream: &str,
    position: i64,
    kind: &str,
    payload: String,
) -> Incoming {
    Incoming {
        event_id: uuid::Uuid::now_v7().to_string(),
        store_id: store.into(),
        device_id: "dev".into(),
        stream: stream.into(),
        position,
        node_epoch: epoch.into(),
        aggregate_type: if stream == "sales" { "order" } else { "stock" }.into(),
        aggregate_id: "agg".into(),
        aggregate_version: 1,
        event_type: kind.into(),
        schema_version: outpost_domain::ids::SCHEMA_VERSION,
        occurred_at: 1,
        hlc: position,
        master_version: 0,
        actor: "st".into(),
        payload_sha256: sha256_hex(payload.as_bytes()),
        payload,
    }
}

/// `n` order events from `from`, one order each.
pub fn sales(store: &str, epoch: &str, from: i64, n: i64) -> Vec<Incoming> {
    (from..from + n)
        .map(|p| {
            let id = uuid::Uuid::now_v7().to_string();
            event(
                store,
                epoch,
                "sales",
                p,
                "order.created",
                order_payload(&id, &format!("S01-R1-{p:06}"), 100 * p, 1),
            )
        })
        .collect()
}

pub fn count(db: &CloudDb, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(&mut db.conn().unwrap())
        .unwrap()
        .n
}

pub fn apply(db: &CloudDb, store: &str, stream: &str, events: Vec<Incoming>) -> ApplyReport {
    cloud::apply_batch(&mut db.conn().unwrap(), store, stream, events).unwrap()
}

pub fn mark(db: &CloudDb, store: &str, stream: &str) -> i64 {
    count(
        db,
        &format!(
            "SELECT position AS n FROM stream_marks WHERE store_id = '{store}' AND stream = '{stream}'"
        ),
    )
}
