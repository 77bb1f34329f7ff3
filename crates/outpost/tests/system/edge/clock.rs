//! A clock set backwards between two starts reorders nothing and moves no
//! shift to another business day (run under `faketime`).

use crate::both_backends;
use crate::support::app::{Backend, Store, cash_sale, key, spawn, spawn_with};

async fn a_clock_set_back_between_starts_keeps_event_order_and_business_day(b: Backend) {
    let store = Store::new(b);
    let mut app = spawn(&store);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let first = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    app.relayed(&till.manager).await;
    let before = app.events(&till.manager, "sales").await;
    app.kill();
    drop(app);

    // The box reboots with its clock two days behind.
    let app = spawn_with(&store, Some("-2d"));
    let second = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(
        second.body["business_day"], first.body["business_day"],
        "the sale moved to another business day"
    );
    assert!(
        second.body["hlc"].as_i64() > first.body["hlc"].as_i64(),
        "HLC went backwards"
    );
    app.relayed(&till.manager).await;
    let after = app.events(&till.manager, "sales").await;
    assert_eq!(after.len(), before.len() + 1);
    assert!(after.last().unwrap()["hlc"].as_i64() > before.last().unwrap()["hlc"].as_i64());
    assert_eq!(after.last().unwrap()["aggregate_id"], second.body["id"]);
    // The health page says the clock looks wrong, without failing the till.
    let h = app.req(reqwest::Method::GET, "/health").send().await;
    assert_eq!(h.status, 200);
    assert_eq!(
        h.body["components"]["clock"]["status"], "degraded",
        "{}",
        h.body
    );
    assert_eq!(h.body["status"], "degraded");
}
both_backends!(a_clock_set_back_between_starts_keeps_event_order_and_business_day);

async fn a_register_clock_far_from_the_server_degrades_health(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let ok = app.req(reqwest::Method::GET, "/health").send().await;
    assert_eq!(
        ok.body["components"]["clock"]["status"], "ok",
        "{}",
        ok.body
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let r = app
        .req(reqwest::Method::GET, "/api/v1/login-staff")
        .header("X-Client-Time", &(now - 3_600_000).to_string())
        .send()
        .await;
    assert_eq!(r.status, 200);
    let h = app.req(reqwest::Method::GET, "/health").send().await;
    assert_eq!(
        h.status, 200,
        "a wrong clock must not make the till unhealthy"
    );
    assert_eq!(
        h.body["components"]["clock"]["status"], "degraded",
        "{}",
        h.body
    );
    assert!(
        h.body["components"]["clock"]["max_register_skew_ms"]
            .as_i64()
            .unwrap()
            >= 3_590_000
    );
}
both_backends!(a_register_clock_far_from_the_server_degrades_health);
