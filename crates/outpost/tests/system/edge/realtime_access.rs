//! Each device follows on the hub only what its job needs (issue 30): a
//! kitchen display its tickets, never the sales with their payments and
//! staff; a register and the back office every live stream.

use crate::support::app::{Backend, Store, spawn};
use crate::support::hub::Screen;
use serde_json::json;
use std::time::Duration;

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
