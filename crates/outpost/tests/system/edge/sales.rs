//! Selling: server-side totals, idempotent retries, roles, refunds, voids, shifts.

use crate::both_backends;
use crate::support::app::{Backend, Store, cash_sale, key, spawn};
use serde_json::json;

async fn a_sale_is_priced_by_the_server_and_recorded_with_its_events(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let till = app.register("Till 1").await;
    let (milk, _, milk_price) = app.barcode(&till.cashier, "milk").await;
    let (banana, _, banana_price) = app.barcode(&till.cashier, "Bananas").await;
    // 2 × 1.19 + 0.375 kg × 1.69 = 2.38 + 0.63375 → 0.63 = 3.01
    let expected = 2 * milk_price + (banana_price * 375 + 500) / 1000;
    let quote = app.post("/api/v1/orders/quote", &till.cashier, json!({"lines": [{"barcode": milk, "quantity_milli": 2000}, {"barcode": banana, "quantity_milli": 375}]})).await;
    assert_eq!(quote.status, 200, "{}", quote.body);
    assert_eq!(quote.body["total_minor"], expected);

    let body = json!({"currency": "EUR", "lines": [{"barcode": milk, "quantity_milli": 2000}, {"barcode": banana, "quantity_milli": 375}],
        "payments": [{"method": "cash", "amount_minor": expected, "tendered_minor": 500}]});
    let r = app.sell(&till.cashier, &key(), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body;
    assert_eq!(o["total_minor"], expected);
    assert_eq!(o["change_minor"], 500 - expected);
    assert_eq!(o["status"], "paid");
    assert!(o["number"].as_str().unwrap().starts_with("S01-R1-"));
    // Taxes reproducible from the stored lines: each line's net + tax = total.
    let lines = o["lines"].as_array().unwrap();
    let sum: i64 = lines
        .iter()
        .map(|l| l["total_minor"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, expected);
    for l in lines {
        assert_eq!(
            l["net_minor"].as_i64().unwrap() + l["tax_minor"].as_i64().unwrap(),
            l["total_minor"].as_i64().unwrap()
        );
    }
    let stored = app
        .get(
            &format!("/api/v1/orders/{}", o["id"].as_str().unwrap()),
            &till.cashier,
        )
        .await;
    assert_eq!(&stored.body, o);

    app.relayed(&till.manager).await;
    let sales = app.events(&till.manager, "sales").await;
    let ev = sales
        .iter()
        .find(|e| e["aggregate_id"] == o["id"])
        .expect("the sale's event");
    assert_eq!(ev["event_type"], "order.created");
    assert_eq!(ev["stream"], "sales");
    assert_eq!(
        ev["schema_version"],
        outpost_storage::outbox::SCHEMA_VERSION
    );
    for field in [
        "event_id",
        "store_id",
        "device_id",
        "node_epoch",
        "payload_sha256",
        "actor",
    ] {
        assert!(
            ev[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} in {ev}"
        );
    }
    assert!(ev["hlc"].as_i64().unwrap() > 0 && ev["position"].as_i64().unwrap() >= 1);
    let payload: serde_json::Value = serde_json::from_str(ev["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["total_minor"], expected);
    assert!(
        app.events(&till.manager, "stock")
            .await
            .iter()
            .any(|e| e["event_type"] == "stock.moved")
    );
}
both_backends!(a_sale_is_priced_by_the_server_and_recorded_with_its_events);

async fn a_retried_sale_returns_the_same_order_and_never_a_second_one(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let body = cash_sale(&[(&milk, 1000)], price);
    let k = key();
    let first = app.sell(&till.cashier, &k, &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = app.sell(&till.cashier, &k, &body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");

    // The same key with another body is refused, not a second sale.
    let other = app
        .sell(&till.cashier, &k, &cash_sale(&[(&milk, 2000)], 2 * price))
        .await;
    other.assert_problem(409);

    // Concurrent retries of one new sale: exactly one order.
    let k2 = key();
    let tries = (0..16).map(|_| app.sell(&till.cashier, &k2, &body));
    let results = futures_util::future::join_all(tries).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);

    // Attempts that wrote nothing (the retries, the refused body, a sale the
    // server refuses) took no order number: the register's numbers have no gap.
    app.sell(
        &till.cashier,
        &key(),
        &cash_sale(&[(&milk, 1000)], price - 1),
    )
    .await
    .assert_problem(422);
    let third = app.sell(&till.cashier, &key(), &body).await;
    assert_eq!(third.status, 201, "{}", third.body);
    let seq = |r: &serde_json::Value| -> u64 {
        let n = r["number"].as_str().unwrap();
        n.rsplit('-').next().unwrap().parse().unwrap()
    };
    let concurrent = &results[0].body;
    assert_eq!(
        (seq(&first.body), seq(concurrent), seq(&third.body)),
        (1, 2, 3),
        "{} {} {}",
        first.body["number"],
        concurrent["number"],
        third.body["number"]
    );

    let orders = app.get("/api/v1/orders?limit=100", &till.cashier).await;
    assert_eq!(orders.body.as_array().unwrap().len(), 3, "{}", orders.body);
    app.relayed(&till.manager).await;
    assert_eq!(app.events(&till.manager, "sales").await.len(), 3);
}
both_backends!(a_retried_sale_returns_the_same_order_and_never_a_second_one);

async fn a_cashier_needs_a_supervisor_to_refund_void_or_override_a_price(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(&[(&milk, 3000)], 3 * price),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    let id = sale.body["id"].as_str().unwrap();
    let line = sale.body["lines"][0]["id"].as_str().unwrap();
    let refund = |approval: Option<serde_json::Value>| {
        let mut body = json!({"lines": [{"line_id": line, "quantity_milli": 1000}], "method": "cash", "reason": "damaged"});
        if let Some(a) = approval {
            body["approval"] = a;
        }
        app.req(
            reqwest::Method::POST,
            &format!("/api/v1/orders/{id}/refunds"),
        )
        .bearer(&till.cashier)
        .header("Idempotency-Key", &key())
        .json(&body)
        .send()
    };
    refund(None).await.assert_problem(403);
    let sam = app.staff_id("Sam Supervisor", Some(&till.device)).await;
    refund(Some(json!({"staff_id": sam, "pin": "00000000"})))
        .await
        .assert_problem(401);
    let carl = app.staff_id("Carl Cashier", Some(&till.device)).await;
    refund(Some(
        json!({"staff_id": carl, "pin": app.pins["Carl Cashier"]}),
    ))
    .await
    .assert_problem(403);
    let ok = refund(Some(
        json!({"staff_id": sam, "pin": app.pins["Sam Supervisor"]}),
    ))
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["refunded_minor"], price);
    assert_eq!(ok.body["lines"][0]["refunded_milli"], 1000);

    // An open (unpaid) order is voided only with a supervisor.
    let open = app
        .sell(
            &till.cashier,
            &key(),
            &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}]}),
        )
        .await;
    assert_eq!(open.body["status"], "open", "{}", open.body);
    let void_url = format!("/api/v1/orders/{}/void", open.body["id"].as_str().unwrap());
    app.post(&void_url, &till.cashier, json!({"reason": "customer left"}))
        .await
        .assert_problem(403);
    let v = app.post(&void_url, &till.cashier, json!({"reason": "customer left", "approval": {"staff_id": sam, "pin": app.pins["Sam Supervisor"]}})).await;
    assert_eq!(v.body["status"], "voided", "{}", v.body);

    // A line comes off an open tab only with a supervisor; the rest is re-priced.
    let (bread, _, bread_price) = app.barcode(&till.cashier, "Sourdough").await;
    let tab = app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}, {"barcode": bread, "quantity_milli": 1000}]})).await;
    assert_eq!(tab.body["total_minor"], price + bread_price, "{}", tab.body);
    let line_url = format!(
        "/api/v1/orders/{}/lines/{}/void",
        tab.body["id"].as_str().unwrap(),
        tab.body["lines"][1]["id"].as_str().unwrap()
    );
    app.post(&line_url, &till.cashier, json!({"reason": "changed mind"}))
        .await
        .assert_problem(403);
    let t = app.post(&line_url, &till.cashier, json!({"reason": "changed mind", "approval": {"staff_id": sam, "pin": app.pins["Sam Supervisor"]}})).await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.body["total_minor"], price);
    assert_eq!(t.body["lines"].as_array().unwrap().len(), 1);
    let last = format!(
        "/api/v1/orders/{}/lines/{}/void",
        tab.body["id"].as_str().unwrap(),
        tab.body["lines"][0]["id"].as_str().unwrap()
    );
    app.post(
        &last,
        &till.cashier,
        json!({"reason": "x", "approval": {"staff_id": sam, "pin": app.pins["Sam Supervisor"]}}),
    )
    .await
    .assert_problem(409);

    // Price override: refused for a cashier; a supervisor's flags the order.
    // Within a supervisor's discount limit (50 %) they override alone;
    // further under the list it is a discount beyond it.
    let at = |charged: i64| {
        let mut body = cash_sale(&[(&milk, 1000)], charged);
        body["lines"][0]["unit_price_minor"] = json!(charged);
        body
    };
    let body = at(price * 6 / 10);
    app.sell(&till.cashier, &key(), &body)
        .await
        .assert_problem(403);
    let sup = app.sign_in(&till.device, "Sam Supervisor").await;
    app.sell(&sup, &key(), &at(price / 4))
        .await
        .assert_problem(422);
    let o = app.sell(&sup, &key(), &body).await;
    assert_eq!(o.status, 201, "{}", o.body);
    assert_eq!(o.body["needs_adjustment"], true);
    let queue = app.get("/api/v1/adjustments", &till.manager).await;
    assert!(
        queue
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["id"] == o.body["id"])
    );

    let audit = app.get("/api/v1/audit", &till.manager).await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "order.refunded",
        "order.voided",
        "order.price_override",
        "device.paired",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let levels = app.get("/api/v1/stock", &till.manager).await;
    let milk_level = levels
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Whole milk 1 l")
        .unwrap()["qty_milli"]
        .as_i64()
        .unwrap();
    // sold 3, returned 1, sold 1 (open, then voided: back in), 1 on the tab, sold 1 at override
    assert_eq!(milk_level, -4000);
    assert_eq!(
        levels
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "Whole milk 1 l")
            .unwrap()["negative"],
        true
    );
}
both_backends!(a_cashier_needs_a_supervisor_to_refund_void_or_override_a_price);

async fn x_and_z_reports_account_for_every_payment(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    assert_eq!(
        app.sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
            .await
            .status,
        201
    );
    let card = json!({"lines": [{"barcode": milk, "quantity_milli": 2000}], "payments": [{"method": "card", "amount_minor": 2 * price, "card_type": "visa", "reference": "T-1"}]});
    assert_eq!(app.sell(&till.cashier, &key(), &card).await.status, 201);
    // Split: part card, part cash with change.
    let split = json!({"lines": [{"barcode": milk, "quantity_milli": 3000}], "payments": [
        {"method": "card", "amount_minor": price, "card_type": "debit"},
        {"method": "cash", "amount_minor": 2 * price, "tendered_minor": 1000}]});
    let s = app.sell(&till.cashier, &key(), &split).await;
    assert_eq!(s.body["change_minor"], 1000 - 2 * price, "{}", s.body);
    let shift = app.get("/api/v1/shifts/current", &till.cashier).await;
    let sid = shift.body["id"].as_str().unwrap().to_owned();
    let x = app
        .get(&format!("/api/v1/shifts/{sid}/report"), &till.cashier)
        .await;
    assert_eq!(x.body["kind"], "X");
    assert_eq!(x.body["orders"], 3);
    assert_eq!(x.body["expected_cash_minor"], 10000 + 3 * price);
    app.post(
        &format!("/api/v1/shifts/{sid}/close"),
        &till.cashier,
        json!({"counted_cash_minor": 0}),
    )
    .await
    .assert_problem(403);
    let z = app
        .post(
            &format!("/api/v1/shifts/{sid}/close"),
            &till.manager,
            json!({"counted_cash_minor": 10000 + 3 * price - 5}),
        )
        .await;
    assert_eq!(z.status, 200, "{}", z.body);
    assert_eq!(z.body["kind"], "Z");
    assert_eq!(z.body["difference_minor"], -5);
    // No sales on a closed shift.
    app.sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await
        .assert_problem(409);
}
both_backends!(x_and_z_reports_account_for_every_payment);
