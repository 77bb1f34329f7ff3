//! Scanning at the edge's api: a scale's label (GS1 variable-measure
//! EAN-13) sells its item at the label's weight, or at the weight its price
//! buys; a misread code is said to be one.

use crate::support::app::{Backend, Opts, Store, key, spawn, spawn_opts};
use outpost_domain::gs1::{verifier_digit, with_check_digit};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_label_sells_its_weight_and_a_misread_code_says_so() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let till = app.register("Till 1").await;
    // Bananas are the demo's item 5: 1.27 under price prefix 21.
    let r = app
        .get("/api/v1/barcodes/2100005001274", &till.cashier)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Bananas (kg)");
    let per_kg = r.body["price_minor"].as_i64().unwrap();
    let grams = r.body["label_qty_milli"].as_i64().unwrap();
    // Sold at that weight, it costs what the label says.
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &json!({"lines": [{"product_id": r.body["id"], "quantity_milli": grams}]}),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    assert_eq!(
        sale.body["total_minor"].as_i64().unwrap(),
        127,
        "{grams} g at {per_kg} a kilo"
    );
    // 750 g under weight prefix 26.
    let code = outpost_domain::gs1::with_check_digit("260000500750");
    let r = app
        .get(&format!("/api/v1/barcodes/{code}"), &till.cashier)
        .await;
    assert_eq!(r.body["label_qty_milli"], 750, "{}", r.body);
    // 1.274 kg at the bananas' price a kilo rings up to the cent.
    let code = with_check_digit("260000501274");
    let r = app
        .get(&format!("/api/v1/barcodes/{code}"), &till.cashier)
        .await;
    assert_eq!(r.body["label_qty_milli"], 1274, "{}", r.body);
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &json!({"lines": [{"product_id": r.body["id"], "quantity_milli": 1274}]}),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    assert_eq!(
        sale.body["total_minor"].as_i64().unwrap(),
        (1274 * per_kg + 500) / 1000,
        "1.274 kg at {per_kg} a kilo"
    );
    // A misread label, and an unknown code.
    let r = app
        .get("/api/v1/barcodes/2100005001275", &till.cashier)
        .await;
    r.assert_problem(422);
    assert!(
        r.body["detail"].as_str().unwrap().contains("misread"),
        "{}",
        r.body
    );
    let r = app
        .get("/api/v1/barcodes/4006381333931", &till.cashier)
        .await;
    r.assert_problem(404);
    // A label for an item the store has no product for says which barcode
    // to give it.
    let code = outpost_domain::gs1::with_check_digit("219999900100");
    let r = app
        .get(&format!("/api/v1/barcodes/{code}"), &till.cashier)
        .await;
    r.assert_problem(404);
    let said = r.body["detail"].as_str().unwrap();
    assert!(said.contains("scale item 99999"), "{said}");
}

/// A store whose scale prints GS1's price verifier digit before a 4-digit
/// price: the label sells the weight its price buys, and a label whose
/// price fails its verifier is a misread, though its EAN check digit is
/// right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_with_a_price_verifier_digit_reads_and_a_wrong_verifier_is_misread() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![("OUTPOST__SCALE_LABELS__VERIFIER_DIGIT", "true".into())],
            ..Opts::default()
        },
    );
    let till = app.register("Till 1").await;
    let v = verifier_digit("0127").unwrap();
    let code = with_check_digit(&format!("2100005{v}0127"));
    let r = app
        .get(&format!("/api/v1/barcodes/{code}"), &till.cashier)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Bananas (kg)");
    let per_kg = r.body["price_minor"].as_i64().unwrap();
    let grams = r.body["label_qty_milli"].as_i64().unwrap();
    assert!(
        (grams * per_kg + 500) / 1000 <= 127,
        "{grams} g at {per_kg}"
    );
    let wrong = with_check_digit(&format!("2100005{}0127", (v + 1) % 10));
    let r = app
        .get(&format!("/api/v1/barcodes/{wrong}"), &till.cashier)
        .await;
    r.assert_problem(422);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("price check digit"),
        "{}",
        r.body
    );
}
