//! Each device follows on the hub only what its job needs (issue 30): a
//! kitchen display its tickets, never the sales with their payments and
//! staff; a register and the back office every live stream. A revoked
//! device's connections close at once, not when its ticket runs out.

use crate::support::app::{App, Backend, Store, cash_sale, key, spawn};
use crate::support::hub::{Closed, HubProc, Redis, Screen, api_on_redis};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kitchen_display_follows_its_tickets_and_is_refused_the_sales() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let hub = app.hub_port.expect("the hub runs in `outpost edge`");
    let till = app.register("Till 1").await;
    let kds = app.display(&till.manager, "Kitchen").await;
    let ticket = |device: String| {
        let app = &app;
        async move {
            let r = app
                .req(reqwest::Method::POST, "/api/v1/realtime/tickets")
                .header("X-Device-Token", &device)
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body
        }
    };
    let t = ticket(kds).await;
    assert_eq!(t["channels"], json!(["kitchen"]));
    let mut screen = Screen::connect(hub, t["ticket"].as_str().unwrap())
        .await
        .unwrap();
    for refused in ["sales", "shifts", "presence"] {
        screen
            .send(json!({"type": "subscribe", "channels": [{"channel": refused}]}))
            .await;
        let m = screen
            .next(Duration::from_secs(10))
            .await
            .expect("an answer");
        assert_eq!(m["type"], "error", "{m}");
        assert!(
            m["detail"].as_str().unwrap().contains("may not follow"),
            "{m}"
        );
    }
    screen.subscribe("kitchen").await;

    // A register follows every live stream and who is online.
    let t = ticket(till.device.clone()).await;
    let mut live: Vec<&str> = outpost_domain::Stream::LIVE.to_vec();
    live.push("presence");
    assert_eq!(t["channels"], json!(live));
    let mut register = Screen::connect(hub, t["ticket"].as_str().unwrap())
        .await
        .unwrap();
    register.subscribe("sales").await;
}

/// Revokes a connected kitchen display on `app` (the hub on `hub`): its
/// socket closes within a second with 4001, its ticket from before is
/// refused, and a register's connection goes on.
async fn a_revoked_display_is_cut_at_once(app: &App, hub: u16) {
    let till = app.register("Till 1").await;
    let kds = app.display(&till.manager, "Kitchen").await;
    let id = app
        .get("/api/v1/devices", &till.manager)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Kitchen")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket = app.ticket(&kds).await;
    let mut display = Screen::connect(hub, &ticket).await.unwrap();
    display.subscribe("kitchen").await;
    let mut register = Screen::connect(hub, &app.ticket(&till.device).await)
        .await
        .unwrap();
    register.subscribe("sales").await;

    let r = app
        .req(reqwest::Method::DELETE, &format!("/api/v1/devices/{id}"))
        .bearer(&till.manager)
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let revoked = Instant::now();
    match display.closed(Duration::from_secs(1)).await {
        Closed::Code(c) => assert_eq!(c, 4001),
        Closed::Dropped => panic!("closed without saying why"),
    }
    eprintln!("revoked display cut after {:?}", revoked.elapsed());
    // Its ticket, issued before, opens nothing now; nor does it get another.
    assert_eq!(Screen::connect(hub, &ticket).await.err(), Some(401));
    let again = app
        .req(reqwest::Method::POST, "/api/v1/realtime/tickets")
        .header("X-Device-Token", &kds)
        .send()
        .await;
    again.assert_problem(401);
    // The register's connection goes on.
    let (code, _, price) = app.barcode(&till.cashier, "Espresso").await;
    let sale = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&code, 1000)], price))
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    let order = sale.body["id"].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !register.events.iter().any(|e| e["aggregate_id"] == order) {
        assert!(
            Instant::now() < deadline,
            "the sale on the register's connection"
        );
        assert!(
            register.next(Duration::from_millis(200)).await.is_none(),
            "only events on the register's connection"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_devices_connection_closes_at_once_in_the_embedded_edge() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let hub = app.hub_port.expect("the hub runs in `outpost edge`");
    a_revoked_display_is_cut_at_once(&app, hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_devices_connection_closes_at_once_through_redis() {
    let redis = Redis::start();
    let hub = HubProc::start(&redis, &[]);
    let store = Store::new(Backend::Sqlite);
    let app = api_on_redis(&store, &redis, hub.port);
    a_revoked_display_is_cut_at_once(&app, hub.port).await;
}
