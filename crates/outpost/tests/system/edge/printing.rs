//! Printing from the api: receipts and kitchen tickets from the relayed
//! streams, each once, through hw-proxy going away, going silent and
//! coming back, and a printer's fallback.

use crate::both_backends;
use crate::support::app::{Backend, Opts, Store, cash_sale, key, spawn_opts};
use crate::support::printer::{
    Hw, Printer, edge_printing_to, id, printed_numbers, receipt_job, wait_until,
};
use serde_json::json;
use std::time::{Duration, Instant};

async fn a_paid_sale_prints_its_receipt_once_with_the_drawer_for_cash(b: Backend) {
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let store = Store::new(b);
    let app = edge_printing_to(&store, &hw, &[]);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let cash = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(&[(&milk, 2000)], 2 * price),
        )
        .await;
    assert_eq!(cash.status, 201, "{}", cash.body);
    let mut card_body = cash_sale(&[(&milk, 1000)], price);
    card_body["payments"] =
        json!([{"method": "card", "amount_minor": price, "card_type": "VISA", "reference": "T-1"}]);
    let card = app.sell(&till.cashier, &key(), &card_body).await;
    assert_eq!(card.status, 201, "{}", card.body);
    wait_until("two receipts", || async { p.jobs().await.len() >= 2 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs = p.jobs().await;
    assert_eq!(jobs.len(), 2, "one receipt per sale: {jobs:?}");
    let numbers: Vec<&str> = jobs
        .iter()
        .map(|j| j["page"]["barcodes"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [
            cash.body["number"].as_str().unwrap(),
            card.body["number"].as_str().unwrap()
        ]
    );
    assert_eq!(jobs[0]["page"]["drawer_kicks"], 2, "cash opens the drawer");
    assert_eq!(jobs[1]["page"]["drawer_kicks"], 0, "a card sale does not");
    let text = jobs[0]["text"].as_str().unwrap();
    let total = cash.body["total_minor"].as_i64().unwrap();
    let total = crate::support::app::euros(total);
    assert!(
        text.lines()
            .any(|l| l.starts_with("TOTAL") && l.ends_with(&total)),
        "{text}"
    );
    assert!(text.contains("2 x ") && text.contains("Cash"), "{text}");
    assert!(jobs[1]["text"].as_str().unwrap().contains("Card VISA"));
    assert_eq!(jobs[0]["page"]["qr"][0], cash.body["id"]);
}
both_backends!(a_paid_sale_prints_its_receipt_once_with_the_drawer_for_cash);

/// Kitchen tickets from the api: a sale's kitchen lines on the kitchen
/// printer (nothing else there), a cancellation slip when the order is
/// voided; and each refund's own receipt with what it took back.
async fn kitchen_tickets_cancellations_and_refund_receipts_print_from_the_api(b: Backend) {
    let front = Printer::start().await;
    let kitchen = Printer::start().await;
    let mut hw = Hw::new(front.port, &[]);
    hw.printers(&[("front", front.port, None), ("kitchen", kitchen.port, None)])
        .await;
    let store = Store::new(b);
    let app = edge_printing_to(
        &store,
        &hw,
        &[("OUTPOST__PRINTING__KITCHEN_PRINTER", "kitchen")],
    );
    let till = app.register("Till 1").await;
    let (milk, _, milk_price) = app.barcode(&till.cashier, "milk").await;
    let (espresso, _, espresso_price) = app.barcode(&till.cashier, "Espresso").await;
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(
                &[(&milk, 3000), (&espresso, 1000)],
                3 * milk_price + espresso_price,
            ),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    wait_until("the kitchen ticket", || async {
        kitchen.jobs().await.len() == 1
    })
    .await;
    let ticket = kitchen.jobs().await[0]["text"].as_str().unwrap().to_owned();
    let number = sale.body["number"].as_str().unwrap();
    assert!(
        ticket.contains(number) && ticket.contains("1 x Espresso") && !ticket.contains("milk"),
        "only the kitchen's lines: {ticket}"
    );
    assert!(!ticket.contains("CANCELLED"));

    // An open order with a coffee, voided: the kitchen gets a cancellation.
    let open = app
        .sell(
            &till.cashier,
            &key(),
            &json!({"lines": [{"barcode": espresso, "quantity_milli": 2000}]}),
        )
        .await;
    assert_eq!(open.body["status"], "open", "{}", open.body);
    let sam = app.staff_id("Sam Supervisor", Some(&till.device)).await;
    let approval = json!({"staff_id": sam, "pin": app.pins["Sam Supervisor"]});
    let v = app
        .post(
            &format!("/api/v1/orders/{}/void", open.body["id"].as_str().unwrap()),
            &till.cashier,
            json!({"reason": "customer left", "approval": approval}),
        )
        .await;
    assert_eq!(v.body["status"], "voided", "{}", v.body);
    wait_until("the ticket and its cancellation", || async {
        kitchen.jobs().await.len() == 3
    })
    .await;
    let jobs = kitchen.jobs().await;
    let (made, cancelled) = (
        jobs[1]["text"].as_str().unwrap(),
        jobs[2]["text"].as_str().unwrap(),
    );
    let open_number = open.body["number"].as_str().unwrap();
    assert!(
        made.contains("2 x Espresso") && !made.contains("CANCELLED"),
        "{made}"
    );
    assert!(
        cancelled.contains("CANCELLED")
            && cancelled.contains(open_number)
            && cancelled.contains("2 x Espresso"),
        "{cancelled}"
    );

    // Two partial returns of the milk: each prints what it took back.
    let line = sale.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["qty_milli"] == 3000)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = sale.body["id"].as_str().unwrap();
    let refund = |qty: i64, method: &str| {
        app.req(
            reqwest::Method::POST,
            &format!("/api/v1/orders/{id}/refunds"),
        )
        .bearer(&till.cashier)
        .header("Idempotency-Key", &key())
        .json(
            &json!({"lines": [{"line_id": line, "quantity_milli": qty}], "method": method,
                      "reason": "damaged", "approval": approval}),
        )
        .send()
    };
    assert_eq!(refund(1000, "cash").await.status, 200);
    assert_eq!(refund(2000, "card").await.status, 200);
    wait_until("the sale's receipt and two refund receipts", || async {
        front.jobs().await.len() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let jobs = front.jobs().await;
    assert_eq!(
        jobs.len(),
        3,
        "no receipt for the voided open order: {jobs:?}"
    );
    let amount = |minor: i64| crate::support::app::euros(-minor);
    for (job, qty, method, kicks) in [
        (&jobs[1], 1, "Cash refunded", 2),
        (&jobs[2], 2, "Card refunded", 0),
    ] {
        let text = job["text"].as_str().unwrap();
        let total = amount(qty * milk_price);
        assert!(text.contains("REFUND") && text.contains(number), "{text}");
        assert!(
            text.contains(&format!("{qty} x Whole milk")) && !text.contains("Espresso"),
            "only what this refund took back: {text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("TOTAL") && l.ends_with(&total)),
            "{total}: {text}"
        );
        assert!(text.contains(method), "{text}");
        assert_eq!(
            job["page"]["drawer_kicks"], kicks,
            "the drawer opens for cash going out"
        );
    }
}
both_backends!(kitchen_tickets_cancellations_and_refund_receipts_print_from_the_api);

#[tokio::test]
async fn receipts_wait_for_hw_proxy_and_a_restarted_edge_prints_none_twice() {
    let p = Printer::start().await;
    let mut hw = Hw::new(p.port, &[]);
    let store = Store::new(Backend::Sqlite);
    let mut app = edge_printing_to(&store, &hw, &[]);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let r = app
            .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
            .await;
        assert_eq!(r.status, 201, "hw-proxy being away never stops a sale");
        numbers.push(r.body["number"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    hw.restart().await;
    wait_until("three receipts", || async { p.jobs().await.len() >= 3 }).await;
    // The edge dies and comes back: what it already handed over is not sent again.
    app.kill();
    drop(app);
    let app = edge_printing_to(&store, &hw, &[]);
    let _ = app.manager().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(printed_numbers(&p).await, numbers, "each once, in order");
}

/// The link to hw-proxy goes silent (connections open, nothing answered):
/// sales go on, and once hw-proxy answers again the receipts print, each
/// once and in order, on a fresh connection (the silent one is never
/// trusted again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_print_once_after_the_link_to_hw_proxy_went_silent_and_came_back() {
    use crate::support::cloud::Proxy;
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let proxy = Proxy::start(crate::support::app::port_of(&hw.grpc_url())).await;
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![(
                "OUTPOST__PRINTING__HW_PROXY_URL",
                format!("http://127.0.0.1:{}", proxy.port),
            )],
            ..Opts::default()
        },
    );
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sell = || async {
        let t0 = Instant::now();
        let r = app
            .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "a sale waited on hw-proxy"
        );
        r.body["number"].as_str().unwrap().to_owned()
    };
    let mut numbers = vec![sell().await];
    wait_until("the first receipt", || async { !p.jobs().await.is_empty() }).await;

    proxy.blackhole();
    numbers.push(sell().await);
    numbers.push(sell().await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    wait_until("every receipt", || async { p.jobs().await.len() >= 3 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(printed_numbers(&p).await, numbers, "each once, in order");
}

/// A sale refunded while hw-proxy was away still gets its receipt, showing
/// the sale as paid, and the refund prints its own, each once.
#[tokio::test]
async fn a_sale_refunded_before_its_receipt_printed_still_prints_as_paid() {
    let p = Printer::start().await;
    let mut hw = Hw::new(p.port, &[]);
    let store = Store::new(Backend::Sqlite);
    let app = edge_printing_to(&store, &hw, &[]);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(&[(&milk, 3000)], 3 * price),
        )
        .await;
    assert_eq!(sale.status, 201);
    let (id, number) = (
        sale.body["id"].as_str().unwrap(),
        sale.body["number"].as_str().unwrap(),
    );
    let line = sale.body["lines"][0]["id"].as_str().unwrap();
    let sam = app.staff_id("Sam Supervisor", Some(&till.device)).await;
    let r = app
        .req(
            reqwest::Method::POST,
            &format!("/api/v1/orders/{id}/refunds"),
        )
        .bearer(&till.cashier)
        .header("Idempotency-Key", &key())
        .json(
            &json!({"lines": [{"line_id": line, "quantity_milli": 3000}], "method": "cash",
                      "reason": "damaged",
                      "approval": {"staff_id": sam, "pin": app.pins["Sam Supervisor"]}}),
        )
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    hw.restart().await;
    wait_until("the sale's receipt and the refund's", || async {
        p.jobs().await.len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs = p.jobs().await;
    assert_eq!(jobs.len(), 2, "each once: {jobs:?}");
    let (paid, refund) = (
        jobs[0]["text"].as_str().unwrap(),
        jobs[1]["text"].as_str().unwrap(),
    );
    let total = crate::support::app::euros(3 * price);
    assert!(
        paid.contains("3 x Whole milk") && !paid.contains("REFUND"),
        "{paid}"
    );
    assert!(
        paid.lines()
            .any(|l| l.starts_with("TOTAL") && l.ends_with(&total) && !l.contains('-')),
        "the sale's total as paid, {total}: {paid}"
    );
    assert!(
        refund.contains("REFUND") && refund.contains(number),
        "{refund}"
    );
}

/// A receipt for a printer its hw-proxy does not have yet (NOT_FOUND: one
/// just added on the manager page, its set still on the way) waits, and
/// prints once when the printer is there.
#[tokio::test]
async fn a_receipt_for_a_printer_hw_proxy_does_not_have_yet_waits_and_prints_once() {
    let p = Printer::start().await;
    let other = Printer::start().await;
    let mut hw = Hw::start(other.port, &[]).await;
    let store = Store::new(Backend::Sqlite);
    let app = edge_printing_to(
        &store,
        &hw,
        &[("OUTPOST__PRINTING__RECEIPT_PRINTER", "later")],
    );
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sale = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(sale.status, 201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        hw.get("/api/v1/jobs").await["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    hw.kill();
    hw.printers(&[("front", other.port, None), ("later", p.port, None)])
        .await;
    wait_until("the receipt", || async { !p.jobs().await.is_empty() }).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        printed_numbers(&p).await,
        [sale.body["number"].as_str().unwrap()]
    );
    assert!(other.jobs().await.is_empty());
}

#[tokio::test]
async fn a_kitchen_ticket_moves_to_the_fallback_printer_when_its_own_stays_away() {
    let grill = Printer::start().await;
    let front = Printer::start().await;
    let mut hw = Hw::new(grill.port, &[("OUTPOST__HW__FALLBACK_AFTER_S", "1")]);
    hw.printers(&[
        ("grill", grill.port, Some("front")),
        ("front", front.port, None),
    ])
    .await;
    grill.mode("cover_open").await;
    let ticket = |i: &str| {
        json!({"id": i, "printer": "grill", "kind": "kitchen", "ticket": {
            "order_number": "S01-R1-000060", "time": "10:16",
            "lines": [{"quantity": "2", "name": "Burger", "note": "no onions"}]
        }})
    };
    let t = id();
    assert_eq!(hw.post("/api/v1/jobs", &ticket(&t)).await.0, 201);
    hw.wait_state(std::slice::from_ref(&t), "printed").await;
    let j = hw.job(&t).await;
    assert_eq!(j["printer"], "front", "{j}");
    assert!(grill.jobs().await.is_empty());
    let printed = front.jobs().await;
    assert_eq!(printed.len(), 1);
    assert!(printed[0]["text"].as_str().unwrap().contains("2 x Burger"));
    // A receipt for the away printer waits for it instead.
    let mut r = receipt_job(&id(), "S01-R1-000061");
    r["printer"] = json!("grill");
    assert_eq!(hw.post("/api/v1/jobs", &r).await.0, 201);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(front.jobs().await.len(), 1, "receipts do not move");
    grill.mode("ready").await;
    wait_until("the receipt on its own printer", || async {
        grill.jobs().await.len() == 1
    })
    .await;
}
