//! Every kind of bad input gets a clear 4xx problem JSON and writes nothing.

use crate::both_backends;
use crate::support::app::{Backend, Store, key, spawn};
use serde_json::json;

async fn bad_input_gets_a_problem_and_writes_nothing(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let till = app.register("Till 1").await;
    let (milk, milk_id, price) = app.barcode(&till.cashier, "milk").await;
    let line = |q: serde_json::Value| json!({"lines": [{"barcode": milk, "quantity_milli": q}], "payments": [{"method": "cash", "amount_minor": price}]});
    let post_raw = |ct: &str, bytes: Vec<u8>| {
        app.req(reqwest::Method::POST, "/api/v1/orders")
            .bearer(&till.cashier)
            .header("Idempotency-Key", &key())
            .raw(ct, bytes)
            .send()
    };
    let cases: Vec<(&str, u16, crate::support::app::Resp)> = vec![
        ("malformed JSON", 400, post_raw("application/json", br#"{"lines": ["#.to_vec()).await),
        ("invalid UTF-8", 400, post_raw("application/json", b"{\"note\": \"\xff\xfe\"}".to_vec()).await),
        ("not JSON content type", 415, post_raw("text/plain", b"{}".to_vec()).await),
        ("wrong type", 400, app.sell(&till.cashier, &key(), &line(json!("two"))).await),
        ("unknown field", 400, app.sell(&till.cashier, &key(), &json!({"lines": [], "colour": "red"})).await),
        ("number beyond i64", 400, post_raw("application/json", format!(r#"{{"lines":[{{"barcode":"{milk}","quantity_milli":9223372036854775808}}]}}"#).into_bytes()).await),
        ("unknown product", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"product_id": "nope", "quantity_milli": 1000}]})).await),
        ("unknown barcode", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": "0000000000000", "quantity_milli": 1000}]})).await),
        ("SQL metacharacters", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": "'; DROP TABLE orders; --", "quantity_milli": 1000}]})).await),
        ("zero quantity", 422, app.sell(&till.cashier, &key(), &line(json!(0))).await),
        ("negative quantity", 422, app.sell(&till.cashier, &key(), &line(json!(-1000))).await),
        ("huge quantity", 422, app.sell(&till.cashier, &key(), &line(json!(1_000_000_000_000i64))).await),
        ("fractional piece", 422, app.sell(&till.cashier, &key(), &line(json!(1500))).await),
        ("no lines", 422, app.sell(&till.cashier, &key(), &json!({"lines": []})).await),
        ("too many lines", 422, app.sell(&till.cashier, &key(), &json!({"lines": vec![json!({"barcode": milk, "quantity_milli": 1000}); 501]})).await),
        ("both id and barcode", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "product_id": milk_id, "quantity_milli": 1000}]})).await),
        ("overflowing discount", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}], "order_discount_minor": i64::MAX})).await),
        ("negative discount", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000, "discount_minor": -5}]})).await),
        ("overflowing payment", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}], "payments": [{"method": "cash", "amount_minor": i64::MAX}]})).await),
        ("underpaid", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}], "payments": [{"method": "card", "amount_minor": price - 1}]})).await),
        ("change on card", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}], "payments": [{"method": "card", "amount_minor": price, "tendered_minor": price + 100}]})).await),
        ("unknown payment method", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}], "payments": [{"method": "bitcoin", "amount_minor": price}]})).await),
        ("on account without customer", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}], "payments": [{"method": "on_account", "amount_minor": price}]})).await),
        ("wrong currency", 422, app.sell(&till.cashier, &key(), &json!({"currency": "USD", "lines": [{"barcode": milk, "quantity_milli": 1000}]})).await),
        ("control characters", 422, app.sell(&till.cashier, &key(), &json!({"lines": [{"barcode": milk, "quantity_milli": 1000}], "note": "a\u{0007}b"})).await),
        ("missing idempotency key", 400, app.req(reqwest::Method::POST, "/api/v1/orders").bearer(&till.cashier).json(&line(json!(1000))).send().await),
        ("malformed idempotency key", 400, app.sell(&till.cashier, "not-a-uuid", &line(json!(1000))).await),
        ("oversized body", 413, post_raw("application/json", vec![b' '; 300 * 1024]).await),
        ("not signed in", 401, app.req(reqwest::Method::POST, "/api/v1/orders").header("Idempotency-Key", &key()).json(&line(json!(1000))).send().await),
        ("forged session", 401, app.sell("f".repeat(64).as_str(), &key(), &line(json!(1000))).await),
        ("bad query string", 400, app.get("/api/v1/orders?limit=lots", &till.cashier).await),
        ("unknown route", 404, app.get("/api/v1/nothing-here", &till.cashier).await),
    ];
    for (what, status, resp) in &cases {
        assert_eq!(resp.status, *status, "{what}: {}", resp.body);
        resp.assert_problem(*status);
    }
    // Nothing was written: no order, no sales or stock events.
    let orders = app.get("/api/v1/orders", &till.cashier).await;
    assert_eq!(orders.body, json!([]), "an order was written");
    app.relayed(&till.manager).await;
    assert!(app.events(&till.manager, "sales").await.is_empty());
    assert!(app.events(&till.manager, "stock").await.is_empty());
    // Searching with SQL metacharacters is just a search.
    let s = app
        .get(
            "/api/v1/products?q=%27%3B%20DROP%20TABLE%20products%3B%20--",
            &till.cashier,
        )
        .await;
    assert_eq!(s.status, 200);
    // And the till still sells.
    let ok = app.sell(&till.cashier, &key(), &line(json!(1000))).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
}
both_backends!(bad_input_gets_a_problem_and_writes_nothing);
