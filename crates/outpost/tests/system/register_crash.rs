//! The main scene with real processes: two tills, each with its
//! own register agent and virtual printer, sell 100 cash and card sales
//! each with the edge SIGKILLed; when it is back every sale arrives once,
//! numbered gap-free, with the same totals and the stock merged, and the
//! café item printed at the till shows on the kitchen display once.

use super::register::{edge_on, edge_orders, kitchen_product, level, product, sell};
use crate::support::agent::{self, Agent};
use crate::support::app::{Backend, Store, free_port, key, within};
use crate::support::printer::Printer;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// A till of the crash test: its agent, its own printer, its cashier.
struct Counter {
    till: Agent,
    printer: Printer,
    cashier: String,
    sold: Vec<Value>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_tills_sell_through_an_edge_crash_and_every_sale_arrives_once_gap_free() {
    const AWAY: usize = 100;
    let store = Store::new(Backend::Sqlite);
    let port = (free_port(), free_port());
    let mut edge = edge_on(&store, port);
    let manager = edge.manager().await;
    let mut tills = Vec::new();
    for name in ["Till 7", "Till 8"] {
        // Each till's own receipt printer, with its cash drawer.
        let printer = Printer::start().await;
        let config = agent::printer_config(&store.dir, printer.port);
        let till = agent::paired_with(&edge, &manager, name, &[("OUTPOST_CONFIG", &config)]).await;
        let cashier = till.sign_in(&edge, "Carl Cashier").await;
        till.open_shift(&cashier, 10000).await;
        tills.push(Counter {
            till,
            printer,
            cashier,
            sold: Vec::new(),
        });
    }
    let (barcode, price) = product(&tills[0].till, &tills[0].cashier).await;
    let product_id = {
        let r = edge.get("/api/v1/products?q=", &manager).await;
        let all = r.body.as_array().unwrap();
        let p = all.iter().find(|p| {
            p["barcodes"]
                .as_array()
                .is_some_and(|b| b.iter().any(|c| c == barcode.as_str()))
        });
        p.expect("the product on the edge")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let stock_before = level(&edge, &manager, &product_id).await;

    // With the edge up: sold at the tills, on the edge at once.
    for t in &mut tills {
        for i in 0..5 {
            let method = if i % 2 == 0 { "cash" } else { "card" };
            t.sold
                .push(sell(&t.till, &t.cashier, &barcode, price, method).await);
        }
    }
    within(
        Duration::from_secs(20),
        "the edge has the tills' sales",
        || async { edge_orders(&edge, &manager).await.len() == 10 },
    )
    .await;

    // The edge crashes: OFFLINE within 3 s, and the tills sell on.
    edge.kill();
    for t in &tills {
        let took = within(Duration::from_secs(3), "the till shows OFFLINE", || async {
            t.till.link().await["online"] == false
        })
        .await;
        assert!(took <= Duration::from_secs(3), "{took:?}");
    }
    for t in &mut tills {
        for i in 0..AWAY {
            let method = if i % 2 == 0 { "cash" } else { "card" };
            t.sold
                .push(sell(&t.till, &t.cashier, &barcode, price, method).await);
        }
        let link = t.till.link().await;
        assert!(link["queued"].as_i64().unwrap() >= AWAY as i64, "{link}");
        assert!(link["oldest_at"].as_i64().is_some(), "{link}");
    }
    // Every receipt printed at its till, the drawer kicked for each cash
    // sale, with the edge away.
    let receipts = 5 + AWAY;
    for t in &tills {
        within(
            Duration::from_secs(60),
            "every receipt at the till",
            || async { t.printer.jobs().await.len() >= receipts },
        )
        .await;
        let jobs = t.printer.jobs().await;
        assert_eq!(jobs.len(), receipts, "one receipt per sale");
        let kicked = jobs
            .iter()
            .filter(|j| j["page"]["drawer_kicks"].as_i64().unwrap_or(0) > 0)
            .count();
        assert_eq!(kicked, 3 + AWAY / 2, "the drawer opens for each cash sale");
        let printed: BTreeSet<String> = jobs
            .iter()
            .map(|j| j["page"]["barcodes"][0].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(printed.len(), receipts);
    }
    // A café item with the edge away: its kitchen slip prints at the till.
    let t = &mut tills[0];
    let cafe = kitchen_product(&t.till, &t.cashier).await;
    let slip_sale = sell(&t.till, &t.cashier, &cafe.0, cafe.1, "card").await;
    t.sold.push(slip_sale.clone());
    within(
        Duration::from_secs(30),
        "a kitchen slip at the till",
        || async { t.printer.jobs().await.len() >= receipts + 2 },
    )
    .await;
    let jobs = t.printer.jobs().await;
    assert_eq!(
        jobs.len(),
        receipts + 2,
        "the café sale's receipt and its slip"
    );
    let number = slip_sale["number"].as_str().unwrap();
    assert_eq!(
        jobs[receipts..]
            .iter()
            .filter(|j| j["text"].as_str().unwrap().contains(number))
            .count(),
        2,
        "{jobs:?}"
    );
    // On account, and a return of an order this till does not hold:
    // refused, each saying what to do.
    let r = t
        .till
        .req(reqwest::Method::POST, "/api/v1/orders")
        .bearer(&t.cashier)
        .header("Idempotency-Key", &key())
        .json(&json!({
            "lines": [{"barcode": barcode, "quantity_milli": 1000}],
            "payments": [{"method": "on_account", "amount_minor": price}],
            "customer_id": "someone",
        }))
        .send()
        .await;
    r.assert_problem(409);
    let said = r.body["detail"].as_str().unwrap();
    assert!(
        said.contains("on-account sales wait for the store server"),
        "{said}"
    );
    let other = tills[1].sold[0]["id"].as_str().unwrap().to_owned();
    let t = &tills[0];
    let r = t
        .till
        .req(reqwest::Method::POST, &format!("/api/v1/orders/{other}/refunds"))
        .bearer(&t.cashier)
        .header("Idempotency-Key", &key())
        .json(&json!({"lines": [{"line_id": "x", "quantity_milli": 1000}], "method": "cash", "reason": "returned"}))
        .send()
        .await;
    r.assert_problem(409);
    let said = r.body["detail"].as_str().unwrap();
    assert!(said.contains("is returned at that till"), "{said}");

    // The edge is back: every sale arrives once, the badges are OK by
    // themselves.
    let edge = edge_on(&store, port);
    for t in &tills {
        t.till.drained().await;
    }
    let manager = edge.manager().await;
    let there = edge_orders(&edge, &manager).await;
    let sold: Vec<Value> = tills.iter().flat_map(|t| t.sold.clone()).collect();
    assert_eq!(there.len(), sold.len(), "each sale once");
    let numbers: BTreeSet<String> = there
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect();
    let ours: BTreeSet<String> = sold
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers, ours, "the tills' numbers, kept");
    for t in &tills {
        let mut seqs: Vec<usize> = t
            .sold
            .iter()
            .map(|o| {
                o["number"]
                    .as_str()
                    .unwrap()
                    .rsplit('-')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        seqs.sort();
        assert_eq!(seqs, (1..=t.sold.len()).collect::<Vec<usize>>(), "gap-free");
    }
    let total = |os: &[Value]| {
        os.iter()
            .map(|o| o["total_minor"].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(total(&there), total(&sold), "the same totals");
    // Stock merged from both tills' movements.
    let plain = sold.len() as i64 - 1;
    assert_eq!(
        level(&edge, &manager, &product_id).await,
        stock_before - plain * 1000
    );
    // The kitchen display shows the café ticket once, already preparing,
    // marked as printed at the till.
    let tickets = edge.get("/api/v1/kitchen/tickets", &manager).await;
    assert_eq!(tickets.status, 200, "{}", tickets.body);
    let mine: Vec<&Value> = tickets
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["order_number"] == slip_sale["number"])
        .collect();
    assert_eq!(mine.len(), 1, "{}", tickets.body);
    assert_eq!(mine[0]["status"], "preparing");
    assert!(mine[0]["printed_at_register"].as_i64().is_some());
}
