//! The relay and the realtime publisher hand on exactly the committed events,
//! once each, in position order per stream; a request that failed publishes
//! nothing.

use outpost_api::{Application, Settings};
use outpost_realtime::Tail;
use serde_json::{Value, json};
use std::time::Duration;

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut r = http.post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn on_sqlite_the_realtime_log_gets_each_committed_event_once_in_order_and_nothing_for_a_failed_sale()
 {
    let dir = std::env::temp_dir().join(format!("outpost-relay-{}", uuid::Uuid::now_v7()));
    log_gets_committed_events_once(dir.join("outpost.sqlite").to_string_lossy().into_owned()).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn on_postgres_the_realtime_log_gets_each_committed_event_once_in_order_and_nothing_for_a_failed_sale()
 {
    use diesel::{Connection, RunQueryDsl};
    let admin = std::env::var("OUTPOST_TEST_PG")
        .expect("PostgreSQL tests need OUTPOST_TEST_PG (scripts/test sets it up)");
    let name = format!("outpost_t_{}", uuid::Uuid::now_v7().simple());
    let mut c = diesel::PgConnection::establish(&format!("{admin}/postgres")).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .unwrap();
    log_gets_committed_events_once(format!("{admin}/{name}")).await;
}

async fn log_gets_committed_events_once(url: String) {
    let mut s = Settings::load(None).unwrap();
    s.server.port = 0;
    s.server.tls_port = Some(0);
    s.database.url = url;
    s.demo.enabled = true;
    s.relay.interval_ms = 20;
    let app = Application::build(s).unwrap();
    let pins: std::collections::HashMap<String, String> = app
        .demo_staff
        .clone()
        .unwrap()
        .into_iter()
        .map(|(n, _, p)| (n, p))
        .collect();
    let log = app.realtime_log().expect("the in-process realtime log");
    let store = app.store_id().to_owned();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    // reqwest's rustls has no provider of its own here (see the register
    // agent's manifest): ring, as the binaries install it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    let staff: Value = http
        .get(format!("{base}/api/v1/login-staff"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let maria = staff["staff"][0]["id"].as_str().unwrap().to_owned();
    let (_, m) = post(
        &http,
        format!("{base}/api/v1/sessions"),
        None,
        None,
        json!({"staff_id": maria, "pin": pins["Maria Manager"]}),
    )
    .await;
    let m = m["token"].as_str().unwrap().to_owned();
    let (_, d) = post(
        &http,
        format!("{base}/api/v1/devices"),
        Some(&m),
        None,
        json!({"name": "Till"}),
    )
    .await;
    let dt = d["token"].as_str().unwrap();
    let list: Value = http
        .get(format!("{base}/api/v1/login-staff"))
        .header("X-Device-Token", dt)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let carl = list["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Carl Cashier")
        .unwrap()["id"]
        .clone();
    let r = http
        .post(format!("{base}/api/v1/sessions"))
        .header("X-Device-Token", dt)
        .json(&json!({"staff_id": carl, "pin": pins["Carl Cashier"]}))
        .send()
        .await
        .unwrap();
    let c = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The register's calls: its session counts only with its device token.
    let till = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::HeaderName::from_static("x-device-token"),
            dt.parse().unwrap(),
        )]))
        .build()
        .unwrap();
    assert_eq!(
        post(
            &till,
            format!("{base}/api/v1/shifts"),
            Some(&c),
            None,
            json!({"opening_float_minor": 0})
        )
        .await
        .0,
        201
    );

    let sale = json!({"lines": [{"barcode": "4000000000013", "quantity_milli": 1000}], "payments": [{"method": "card", "amount_minor": 119}]});
    let mut ids = Vec::new();
    let first_key = uuid::Uuid::now_v7().to_string();
    for i in 0..3 {
        let k = if i == 0 {
            first_key.clone()
        } else {
            uuid::Uuid::now_v7().to_string()
        };
        let (st, o) = post(
            &till,
            format!("{base}/api/v1/orders"),
            Some(&c),
            Some(&k),
            sale.clone(),
        )
        .await;
        assert_eq!(st, 201, "{o}");
        ids.push(o["id"].as_str().unwrap().to_owned());
    }
    // Fails after the lines are priced: wrong payment total, rolled back.
    let bad = json!({"lines": [{"barcode": "4000000000013", "quantity_milli": 1000}], "payments": [{"method": "card", "amount_minor": 1}]});
    assert_eq!(
        post(
            &till,
            format!("{base}/api/v1/orders"),
            Some(&c),
            Some(&uuid::Uuid::now_v7().to_string()),
            bad
        )
        .await
        .0,
        422
    );
    // A retry of a committed sale publishes nothing new either.
    let (st, o) = post(
        &till,
        format!("{base}/api/v1/orders"),
        Some(&c),
        Some(&first_key),
        sale.clone(),
    )
    .await;
    assert_eq!((st, o["id"].as_str().unwrap()), (201, ids[0].as_str()));

    // What screens get: the sales channel of the realtime log, which only
    // the relay and its publisher feed.
    let mut tail = log.tailer(&store, "sales").await.unwrap();
    let mut sales = Vec::new();
    let mut after = 0;
    let mut epoch = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sales.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "events in the log");
        if epoch.is_empty() {
            epoch = log
                .head(&store, "sales")
                .await
                .unwrap()
                .map(|h| h.epoch)
                .unwrap_or_default();
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let Tail::Entries(entries) = tail.next(&epoch, after, 100).await.unwrap() else {
            panic!("the epoch does not change")
        };
        for e in entries {
            assert_eq!(e.offset, after + 1, "out of order or with a gap");
            after = e.offset;
            let v: Value = serde_json::from_str(&e.json).unwrap();
            assert_eq!(v["offset"], e.offset);
            assert_eq!(v["channel"], "sales");
            sales.push(v["aggregate_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(sales, ids);
    // Nothing more arrives: not for the failed request, not for the retry.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let head = log.head(&store, "sales").await.unwrap().unwrap();
    assert_eq!(head.last, 3, "unexpected sales events");
}
