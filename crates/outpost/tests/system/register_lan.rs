//! A till on the store's LAN: paired with the edge by the name the edge
//! announces over mDNS; its events the edge refuses for good (one it may
//! not send, one too large to take) parked there with the reason, shown in
//! health and on the manager's list until cleared, while the till's queue
//! goes on draining.

use super::register::{edge_orders, product, sell};
use crate::support::agent;
use crate::support::app::{Backend, Opts, Store, free_port, spawn_opts};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_paired_by_the_edges_mdns_name_sells_through_it() {
    let store = Store::new(Backend::Sqlite);
    // A name and an mDNS port of this test's own: a store's own edge on
    // this machine announces outpost-edge.local on 5353.
    let name = format!(
        "outpost-t-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let mdns_port = free_port().to_string();
    let edge = spawn_opts(
        &store,
        &Opts {
            env: vec![
                ("OUTPOST__SERVER__HOST", "0.0.0.0".into()),
                ("OUTPOST__MDNS__NAME", name.clone()),
                ("OUTPOST__MDNS__PORT", mdns_port.clone()),
            ],
            ..Opts::default()
        },
    );
    let manager = edge.manager().await;
    let tls = edge.tls_base.as_ref().unwrap();
    let port = tls.rsplit(':').next().unwrap();
    let url = format!("https://{name}.local:{port}");
    let code = agent::code(&edge, &manager, "Till 21").await;
    let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
    let env = [("OUTPOST__REGISTER__MDNS_PORT", mdns_port.as_str())];
    let out = agent::pair_with(&url, &code, &dir, &env);
    assert!(
        out.status.success(),
        "pairing by name failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let till = agent::start_with(dir, &env).await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (barcode, price) = product(&till, &cashier).await;
    let sold = sell(&till, &cashier, &barcode, price, "card").await;
    till.drained().await;
    let there = edge_orders(&edge, &manager).await;
    assert!(
        there.iter().any(|o| o["number"] == sold["number"]),
        "{} not on the edge",
        sold["number"]
    );
    // A name nobody answers to is said plainly.
    let code = agent::code(&edge, &manager, "Till 22").await;
    let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
    let out = agent::pair_with(
        &format!("https://{name}-gone.local:{port}"),
        &code,
        &dir,
        &env,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not answer"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tills_events_the_edge_refuses_for_good_are_parked_and_shown_until_cleared() {
    let store = Store::new(Backend::Sqlite);
    // A push limit smaller than a sale's events: the agent sends each such
    // event without its payload, and the edge parks it.
    let edge = spawn_opts(
        &store,
        &Opts {
            env: vec![("OUTPOST__SERVER__MAX_PUSH_BYTES", "1200".into())],
            ..Opts::default()
        },
    );
    let manager = edge.manager().await;
    let till = agent::paired(&edge, &manager, "Till 23").await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (barcode, price) = product(&till, &cashier).await;
    let product_id = till
        .req(reqwest::Method::GET, "/api/v1/products?q=")
        .bearer(&cashier)
        .send()
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["barcodes"][0] == barcode.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = super::register::level(&edge, &manager, &product_id).await;
    sell(&till, &cashier, &barcode, price, "card").await;
    sell(&till, &cashier, &barcode, price, "cash").await;
    // Nothing waits on the till behind them, and what could be taken was:
    // the sales' stock movements, but not the sales themselves.
    till.drained().await;
    assert_eq!(
        super::register::level(&edge, &manager, &product_id).await,
        before - 2000
    );
    let orders = edge_orders(&edge, &manager).await;
    assert!(orders.is_empty(), "{orders:?}");
    let health = edge.get("/health", "").await;
    let registers = &health.body["components"]["registers"];
    assert_eq!(registers["status"], "degraded", "{}", health.body);
    assert!(registers["parked"].as_i64().unwrap() >= 1, "{registers}");
    let latest = &registers["latest_parked"][0];
    assert_eq!(latest["register"], "Till 23");
    assert!(
        latest["reason"].as_str().unwrap().contains("larger than"),
        "{latest}"
    );

    // An event a till may not send, pushed by hand with its token: parked.
    let sent = till
        .push_one(&edge, ("stock", 1), ("product", "product.changed"))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.body["parked"], 1, "{}", sent.body);

    // The manager's list; a cashier may not read it; clearing empties it.
    let list = edge.get("/api/v1/register-events/parked", &manager).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let parked = list.body.as_array().unwrap().clone();
    assert!(parked.iter().any(|p| p["event_type"] == "product.changed"));
    let cashier = edge.register("Tablet").await.cashier;
    let refused = edge.get("/api/v1/register-events/parked", &cashier).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    for p in &parked {
        let id = p["event_id"].as_str().unwrap();
        let r = edge
            .post(
                &format!("/api/v1/register-events/parked/{id}/clear"),
                &manager,
                json!(null),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let health = edge.get("/health", "").await;
    assert_eq!(
        health.body["components"]["registers"]["status"], "ok",
        "{}",
        health.body
    );
}

/// A café item sold at a till with its edge there prints its kitchen slip
/// at the edge's kitchen printer; one sold with the edge away printed at
/// the till, and the edge shows it on the display without printing it
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_edge_prints_no_kitchen_slip_a_till_printed_with_the_edge_away() {
    use crate::support::app::{port_of, within};
    use crate::support::cloud::Proxy;
    use crate::support::printer::{Hw, Printer, edge_printing_to};
    use std::time::Duration;
    let front = Printer::start().await;
    let kitchen = Printer::start().await;
    let mut hw = Hw::new(front.port, &[]);
    hw.printers(&[("front", front.port, None), ("kitchen", kitchen.port, None)])
        .await;
    let store = Store::new(Backend::Sqlite);
    let edge = edge_printing_to(
        &store,
        &hw,
        &[("OUTPOST__PRINTING__KITCHEN_PRINTER", "kitchen")],
    );
    let manager = edge.manager().await;
    let proxy = Proxy::start(port_of(edge.tls_base.as_ref().unwrap())).await;
    let at_till = Printer::start().await;
    let config = agent::printer_config(&store.dir, at_till.port);
    let env = [("OUTPOST_CONFIG", config.as_str())];
    let code = agent::code(&edge, &manager, "Till 24").await;
    let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
    let url = format!("https://127.0.0.1:{}", proxy.port);
    let out = agent::pair_with(&url, &code, &dir, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let till = agent::start_with(dir, &env).await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (cafe, price) = super::register::kitchen_product(&till, &cashier).await;

    // Until its first heartbeat is answered, a till takes its edge to be
    // away (and would print the slip itself).
    till.drained().await;
    let first = sell(&till, &cashier, &cafe, price, "card").await;
    till.drained().await;
    proxy.blackhole();
    within(Duration::from_secs(3), "the till shows OFFLINE", || async {
        till.link().await["online"] == false
    })
    .await;
    let away = sell(&till, &cashier, &cafe, price, "card").await;
    let number = away["number"].as_str().unwrap();
    within(Duration::from_secs(30), "its slip at the till", || async {
        at_till
            .jobs()
            .await
            .iter()
            .filter(|j| j["text"].as_str().unwrap_or("").contains(number))
            .count()
            >= 2
    })
    .await;
    proxy.restore();
    till.drained().await;
    // A third, with the edge there: once the edge printed it, it had passed
    // the one before it in the kitchen stream.
    let third = sell(&till, &cashier, &cafe, price, "card").await;
    till.drained().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while kitchen.jobs().await.len() < 2 {
        if std::time::Instant::now() > deadline {
            let tickets = edge.get("/api/v1/kitchen/tickets", &manager).await;
            panic!(
                "the third slip at the edge: not within 30 s; kitchen {:?}; front {}; till {}; tickets {}",
                kitchen
                    .jobs()
                    .await
                    .iter()
                    .map(|j| j["text"].clone())
                    .collect::<Vec<_>>(),
                front.jobs().await.len(),
                at_till.jobs().await.len(),
                tickets.body
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let printed: Vec<String> = kitchen
        .jobs()
        .await
        .iter()
        .map(|j| j["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(printed.len(), 2, "{printed:?}");
    for (slip, sale) in printed.iter().zip([&first, &third]) {
        assert!(slip.contains(sale["number"].as_str().unwrap()), "{slip}");
    }
    // The display shows all three, the one from the till already preparing.
    let tickets = edge.get("/api/v1/kitchen/tickets", &manager).await;
    let shown = tickets.body.as_array().unwrap();
    let it = shown
        .iter()
        .find(|t| t["order_number"] == number)
        .unwrap_or_else(|| panic!("{number} not on the display: {}", tickets.body));
    assert_eq!(it["status"], "preparing");
    assert!(it["printed_at_register"].is_i64(), "{it}");
}

/// A sale of the most lines a sale may have makes an event larger than the
/// edge's usual body limit; a till's push has a limit of its own, so it
/// reaches the edge whole rather than being parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tills_sale_of_the_most_lines_reaches_the_edge_whole() {
    let store = Store::new(Backend::Sqlite);
    let edge = spawn_opts(&store, &Opts::default());
    let manager = edge.manager().await;
    let till = agent::paired(&edge, &manager, "Till 25").await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (barcode, price) = product(&till, &cashier).await;
    let lines: Vec<serde_json::Value> = (0..outpost_domain::order::MAX_LINES)
        .map(|_| json!({"barcode": barcode, "quantity_milli": 1000}))
        .collect();
    let total = price * outpost_domain::order::MAX_LINES as i64;
    let r = till
        .req(reqwest::Method::POST, "/api/v1/orders")
        .bearer(&cashier)
        .header("Idempotency-Key", &crate::support::app::key())
        .json(&json!({"lines": lines, "payments": [{"method": "card", "amount_minor": total}]}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    till.drained().await;
    let there = edge_orders(&edge, &manager).await;
    assert_eq!(there.len(), 1, "{there:?}");
    assert_eq!(there[0]["number"], r.body["number"]);
    let health = edge.get("/health", "").await;
    assert_eq!(health.body["components"]["registers"]["parked"], 0);
}
