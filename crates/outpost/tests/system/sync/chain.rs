//! A chain's stores on one cloud over time: a batch the cloud cannot apply
//! parks without stopping anyone, credentials are rotated and revoked without
//! stranding a store, and an edge set up as another store is refused — while
//! every till keeps selling.

use crate::support::app::{App, Backend, Opts, Store, key, spawn_opts, within};
use crate::support::cloud::{Cloud, Rabbit};
use crate::support::cloud::{converged, edge, health, sell_n};
use diesel::connection::SimpleConnection;
use serde_json::json;
use std::time::{Duration, Instant};

fn heartbeat_fast() -> Vec<(&'static str, String)> {
    vec![
        ("OUTPOST__SYNC__HEARTBEAT_MS", "300".into()),
        ("OUTPOST__SYNC__OFFLINE_AFTER_MS", "2000".into()),
    ]
}

async fn sync_error(app: &App) -> String {
    health(app).await["components"]["sync"]["last_error"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// Store A's orders cannot be projected (a trigger plays the bug). A's
/// batches are parked after the delivery limit with the reason — their
/// positions counted, so A's stream goes on — while store B's batches apply.
/// After the fix a retry from the admin applies A's sales once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_batch_from_one_store_is_parked_while_another_stores_batches_apply() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start_with(&rabbit, &[("OUTPOST__CLOUD__DELIVERY_LIMIT", "3")]);
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let (cred_a, cred_b) = (cloud.add_store(&a, "SA"), cloud.add_store(&b, "SB"));
    cloud
        .pg()
        .batch_execute(&format!(
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
               IF NEW.store_id = '{a}' THEN RAISE EXCEPTION 'simulated bug in the order projection'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION poison();"
        ))
        .unwrap();
    let code = |c: &str| vec![("OUTPOST__STORE__CODE", c.to_owned())];
    let (store_a, store_b) = (Store::new(Backend::Sqlite), Store::new(Backend::Sqlite));
    let app_a = edge(&store_a, &cloud, &cred_a, &code("SA"));
    let app_b = edge(&store_b, &cloud, &cred_b, &code("SB"));
    let (till_a, till_b) = (
        app_a.register("Till 1").await,
        app_b.register("Till 1").await,
    );
    let mut totals_a = sell_n(&app_a, &till_a, 3).await;
    let totals_b = sell_n(&app_b, &till_b, 3).await;

    // B flows; A's stream is processed to its head too (parked, not stuck).
    converged(&app_b, &till_b.manager, &cloud, &b, 60).await;
    converged(&app_a, &till_a.manager, &cloud, &a, 60).await;
    let orders = |s: &str| format!("SELECT count(*) AS n FROM orders WHERE store_id = '{s}'");
    assert_eq!(cloud.count(&orders(&b)), 3);
    assert_eq!(cloud.count(&orders(&a)), 0);
    assert!(
        cloud.count(&format!(
            "SELECT count(*) AS n FROM parked_batches WHERE store_id = '{a}'"
        )) >= 1
    );
    assert!(
        cloud.count(&format!(
            "SELECT count(*) AS n FROM rejected_events WHERE store_id = '{a}'"
        )) >= 3
    );
    assert_eq!(
        cloud.count(&format!(
            "SELECT count(*) AS n FROM parked_batches WHERE store_id = '{b}'"
        )),
        0
    );
    let (_, page) = cloud.admin_get("/", true).await;
    assert!(
        page.contains("Parked batches") && page.contains("simulated bug"),
        "{page}"
    );
    assert!(!cloud.logged(&["parking a batch", &a]).is_empty());

    // A retry before the fix says it still fails and changes nothing.
    let (_, parked) = cloud.admin_get("/api/v1/parked", true).await;
    let parked: Vec<serde_json::Value> = serde_json::from_str(&parked).unwrap();
    let ids: Vec<i64> = parked.iter().filter_map(|p| p["id"].as_i64()).collect();
    let (st, body) = cloud
        .admin_post(&format!("/api/v1/parked/{}/retry", ids[0]), json!({}))
        .await;
    assert_eq!(st, 409, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("simulated bug"),
        "{body}"
    );

    // The fix; every parked batch retried; A's sales are there once.
    cloud
        .pg()
        .batch_execute("DROP TRIGGER poison ON orders; DROP FUNCTION poison();")
        .unwrap();
    for id in &ids {
        let (st, body) = cloud
            .admin_post(&format!("/api/v1/parked/{id}/retry"), json!({}))
            .await;
        assert_eq!(st, 200, "{body}");
    }
    assert_eq!(cloud.count(&orders(&a)), 3);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM rejected_events"), 0);
    // A's stream was never blocked: new sales apply as usual.
    totals_a.extend(sell_n(&app_a, &till_a, 2).await);
    converged(&app_a, &till_a.manager, &cloud, &a, 30).await;
    assert_eq!(cloud.count(&orders(&a)), 5);
    let sum = |s: &str| {
        format!("SELECT sum(total_minor)::bigint AS n FROM orders WHERE store_id = '{s}'")
    };
    assert_eq!(cloud.count(&sum(&a)), totals_a.iter().sum::<i64>());
    assert_eq!(cloud.count(&sum(&b)), totals_b.iter().sum::<i64>());
}

/// A client with `credential` that says hello as `store`: its result code.
async fn hello_with(cloud: &Cloud, store: &str, credential: &str) -> tonic::Code {
    let cfg = outpost_sync_worker::edge::EdgeConfig {
        ca_pem: Some(std::fs::read(cloud.certs.join("ca.pem")).unwrap()),
        ..outpost_sync_worker::edge::EdgeConfig::new(
            &format!("https://localhost:{}", cloud.sync_port),
            credential,
        )
    };
    let mut c = outpost_sync_worker::edge::connect(&cfg).await.unwrap();
    let r = c
        .hello(outpost_proto::sync_v1::HelloRequest {
            store_id: store.to_owned(),
            node_epoch: "probe".into(),
            schema_version: 1,
            ..Default::default()
        })
        .await;
    r.map_or_else(|s| s.code(), |_| tonic::Code::Ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_credential_works_through_the_change_over_then_alone_and_a_revoked_one_is_refused_at_once()
 {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let id = uuid::Uuid::now_v7().to_string();
    let first = cloud.add_store(&id, "S01");
    let store = Store::new(Backend::Sqlite);
    let mut app = edge(&store, &cloud, &first, &heartbeat_fast());
    let till = app.register("Till 1").await;
    sell_n(&app, &till, 3).await;
    converged(&app, &till.manager, &cloud, &id, 30).await;

    // Bad requests to the admin change nothing.
    let rotate = format!("/api/v1/stores/{id}/credential/rotate");
    for bad in [json!({"expires_days": "ten"}), json!({"expire_days": 10})] {
        let (st, body) = cloud.admin_post(&rotate, bad).await;
        assert_eq!(st, 400, "{body}");
    }
    assert_eq!(
        cloud
            .admin_post("/api/v1/parked/abc/retry", json!({}))
            .await
            .0,
        400
    );
    assert_eq!(
        cloud.count("SELECT count(*) AS n FROM stores WHERE rotate_requested_at IS NOT NULL"),
        0
    );

    // Rotated: the store takes the new credential up over its link.
    cloud.cli(&["store-rotate", "--store", "S01"]);
    let state =
        |s: &str| format!("SELECT count(*) AS n FROM store_credentials WHERE state = '{s}'");
    let t0 = Instant::now();
    while cloud.count(&state("replaced")) < 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the store never took the new credential up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cloud.count(&state("active")), 1);
    assert_eq!(cloud.count(&state("pending")), 0);
    sell_n(&app, &till, 3).await;
    converged(&app, &till.manager, &cloud, &id, 30).await;
    // The old one is refused now, and the refusal is logged with the store
    // and the address.
    assert_eq!(
        hello_with(&cloud, &id, &first).await,
        tonic::Code::Unauthenticated
    );
    within(Duration::from_secs(5), "the refusal logged", || async {
        !cloud
            .logged(&["sync credential refused", &id, "127.0.0.1", "replaced"])
            .is_empty()
    })
    .await;
    // A restarted edge keeps the rotated credential (its settings still name
    // the first one).
    app.kill();
    let app = edge(&store, &cloud, &first, &heartbeat_fast());
    sell_n(&app, &till, 1).await;
    converged(&app, &till.manager, &cloud, &id, 30).await;

    // Revoked: refused at once; the edge says why, and keeps selling.
    cloud.cli(&["store-revoke", "--store", "S01"]);
    sell_n(&app, &till, 1).await;
    within(
        Duration::from_secs(10),
        "the edge saying it was revoked",
        || async { sync_error(&app).await.contains("revoked") },
    )
    .await;
    assert!(
        !cloud
            .logged(&["sync credential refused", &id, "revoked"])
            .is_empty()
    );
    let h = health(&app).await;
    assert_eq!(h["components"]["sync"]["status"], "degraded", "{h}");
    assert_ne!(h["status"], "unhealthy", "{h}");

    // A new credential from the operator, set in the edge's settings.
    let fresh = cloud.cli(&["store-credential", "--store", "S01"]);
    drop(app);
    let app = edge(&store, &cloud, &fresh, &heartbeat_fast());
    converged(&app, &till.manager, &cloud, &id, 30).await;
    assert_eq!(
        cloud.count(&format!(
            "SELECT count(*) AS n FROM orders WHERE store_id = '{id}'"
        )),
        8
    );
}

/// A yen sale of `qty` espressos (350 each).
fn yen_sale(espresso: &str, qty: i64, method: &str) -> serde_json::Value {
    let total = 350 * qty;
    json!({
        "currency": "JPY",
        "lines": [{"barcode": espresso, "quantity_milli": qty * 1000}],
        "payments": [{"method": method, "amount_minor": total, "tendered_minor": total}],
    })
}

/// The demo honours the store settings (code, name, currency, offset); an
/// edge whose code is not the one the cloud registered for its credential is
/// refused sync with a clear reason on both sides, and sells on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edge_set_up_as_another_store_is_refused_sync_and_sells_on() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&id, "S08");
    let mut env = cloud.edge_env(&credential);
    env.extend([
        ("OUTPOST__STORE__CODE", "S07".to_owned()),
        ("OUTPOST__STORE__NAME", "Kiosk Shinjuku".to_owned()),
        ("OUTPOST__STORE__CURRENCY", "JPY".to_owned()),
        ("OUTPOST__STORE__UTC_OFFSET_MINUTES", "540".to_owned()),
    ]);
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env,
            ..Opts::default()
        },
    );
    let h = health(&app).await;
    assert_eq!(h["store"], "S07", "{h}");
    let till = app.register("Till 1").await;
    let (espresso, _, price) = app.barcode(&till.cashier, "Espresso").await;
    assert_eq!(price, 350, "220 euro cents as a yen price");
    let r = app
        .sell(&till.cashier, &key(), &yen_sale(&espresso, 1, "cash"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body["number"].as_str().unwrap().starts_with("S07-R1-"),
        "{}",
        r.body
    );

    within(
        Duration::from_secs(15),
        "the refusal shown at the edge",
        || async { sync_error(&app).await.contains("set up as store S07") },
    )
    .await;
    let h = health(&app).await;
    assert_eq!(h["components"]["sync"]["online"], false, "{h}");
    assert!(
        h["components"]["sync"]["last_error"]
            .as_str()
            .unwrap()
            .contains("S08"),
        "{h}"
    );
    let (_, page) = cloud.admin_get("/", true).await;
    assert!(
        page.contains("refused") && page.contains("set up as store S07"),
        "{page}"
    );
    assert_eq!(
        cloud.count("SELECT count(*) AS n FROM alarms WHERE kind = 'store-code-mismatch'"),
        1
    );
    assert_eq!(cloud.count("SELECT count(*) AS n FROM inbox"), 0);
    // Selling never stopped.
    let r = app
        .sell(&till.cashier, &key(), &yen_sale(&espresso, 2, "card"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// A credential that expires within the warning window is warned about on
/// both sides — the edge's /health (and so its manager page) and the
/// cloud's admin page — while sync goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_credential_near_its_expiry_is_warned_about_on_both_sides() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.cli(&[
        "store-add",
        "--id",
        &id,
        "--code",
        "S01",
        "--name",
        "S01",
        "--expires-days",
        "10",
    ]);
    let store = Store::new(Backend::Sqlite);
    let app = edge(&store, &cloud, &credential, &heartbeat_fast());
    within(
        Duration::from_secs(15),
        "the warning on the edge",
        || async {
            let h = health(&app).await;
            h["components"]["sync"]["warning"]
                .as_str()
                .is_some_and(|w| w.contains("expires in 9 day") || w.contains("expires in 10 day"))
        },
    )
    .await;
    let h = health(&app).await;
    assert_eq!(h["components"]["sync"]["online"], true, "sync goes on: {h}");
    assert_eq!(h["components"]["sync"]["status"], "degraded", "{h}");
    let (_, page) = cloud.admin_get("/", true).await;
    assert!(
        page.contains("expires in 9 day") || page.contains("expires in 10 day"),
        "{page}"
    );
}
