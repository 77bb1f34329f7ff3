//! Invariant 1: an acknowledged sale survives `kill -9`, with its events, and
//! every stream's positions stay gap-free. Invariant 3 across the crash: a
//! retried sale never becomes a second one.

use crate::both_backends;
use crate::support::app::{Backend, Store, cash_sale, key, spawn};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn acknowledged_sales_survive_sigkill_with_gap_free_streams(b: Backend) {
    let store = Store::new(b);
    let mut app = spawn(&store);
    let mut tills = Vec::new();
    for i in 0..6 {
        tills.push(app.register(&format!("Till {i}")).await);
    }
    let (milk, _, price) = app.barcode(&tills[0].cashier, "milk").await;
    let (bread, _, bread_price) = app.barcode(&tills[0].cashier, "Sourdough").await;
    let body = cash_sale(&[(&milk, 2000), (&bread, 1000)], 2 * price + bread_price);
    let acked: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let unsure: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let base = app.base.clone();
    let mut tasks = Vec::new();
    for t in &tills {
        let (token, body, acked, unsure, base) = (
            t.cashier.clone(),
            body.clone(),
            acked.clone(),
            unsure.clone(),
            base.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = crate::support::client()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            for _ in 0..400 {
                let k = key();
                let r =
                    crate::support::app::signed(http.post(format!("{base}/api/v1/orders")), &token)
                        .header("Idempotency-Key", &k)
                        .json(&body)
                        .send()
                        .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let v: serde_json::Value = r.json().await.unwrap();
                        acked.lock().unwrap().push(v);
                    }
                    Ok(r) => panic!("sale refused before the crash: {}", r.status()),
                    Err(_) => {
                        // In flight when the server died: unknown outcome.
                        unsure.lock().unwrap().push((token.clone(), k));
                        return;
                    }
                }
            }
        }));
    }
    // Let the burst run, then kill the server mid-flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 150 {
        assert!(std::time::Instant::now() < deadline, "sales too slow");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.kill();
    for t in tasks {
        t.await.unwrap();
    }
    drop(app);

    let app = spawn(&store);
    let manager = app.manager().await;
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150);
    for o in &acked {
        let stored = app
            .get(
                &format!("/api/v1/orders/{}", o["id"].as_str().unwrap()),
                &manager,
            )
            .await;
        assert_eq!(stored.status, 200, "acknowledged sale {} lost", o["number"]);
        assert_eq!(&stored.body, o, "acknowledged sale changed");
    }
    // Retrying the in-flight requests with their keys: one order each, never two.
    let unsure = unsure.lock().unwrap().clone();
    for (token, k) in &unsure {
        let r = app.sell(token, k, &body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let again = app.sell(token, k, &body).await;
        assert_eq!(again.body["id"], r.body["id"]);
    }
    let heads = app.relayed(&manager).await;
    for (stream, head) in heads.as_object().unwrap() {
        let events = app.events(&manager, stream).await;
        let positions: Vec<i64> = events
            .iter()
            .map(|e| e["position"].as_i64().unwrap())
            .collect();
        let expected: Vec<i64> = (1..=head.as_i64().unwrap()).collect();
        assert_eq!(positions, expected, "stream {stream} has gaps");
    }
    let sales = app.events(&manager, "sales").await;
    let with_event: std::collections::HashSet<&str> = sales
        .iter()
        .map(|e| e["aggregate_id"].as_str().unwrap())
        .collect();
    for o in &acked {
        assert!(
            with_event.contains(o["id"].as_str().unwrap()),
            "sale {} has no outbox event",
            o["number"]
        );
    }
    // Each order once: no event twice for one order creation.
    let creations = sales
        .iter()
        .filter(|e| e["event_type"] == "order.created")
        .count();
    assert_eq!(creations, with_event.len());
}
both_backends!(acknowledged_sales_survive_sigkill_with_gap_free_streams);
