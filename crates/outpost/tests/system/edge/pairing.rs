//! Pairing a device with a one-time code over HTTP: made by a manager,
//! traded once for a device token, refused when used, expired (the time is
//! a setting), typed on the wrong kind of device, or made by a cashier.

use crate::support::app::{Backend, Opts, Store, spawn_opts};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_from_a_manager_pairs_one_device_once_and_only_within_its_time() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![("OUTPOST__DEVICES__PAIRING_CODE_TTL_S", "2".into())],
            ..Opts::default()
        },
    );
    let m = app.manager().await;
    let made = app
        .post("/api/v1/pairing-codes", &m, json!({"name": "Till 2"}))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["kind"], "register");
    let code = made.body["code"].as_str().unwrap().to_owned();
    let redeem = |code: String| {
        app.req(reqwest::Method::POST, "/api/v1/pairing-codes/redeem")
            .json(&json!({ "code": code }))
            .send()
    };
    let paired = redeem(code.to_lowercase()).await;
    assert_eq!(paired.status, 201, "{}", paired.body);
    assert_eq!(paired.body["device"]["name"], "Till 2");
    // The token works: the device is a register.
    let token = paired.body["token"].as_str().unwrap();
    let signed = app
        .req(reqwest::Method::GET, "/api/v1/login-staff")
        .header("X-Device-Token", token)
        .send()
        .await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    redeem(code).await.assert_problem(403);

    // Past its time: refused.
    let late = app
        .post(
            "/api/v1/pairing-codes",
            &m,
            json!({"name": "Kitchen", "kind": "display"}),
        )
        .await;
    // Typed on a register: refused, and still good for its display …
    let on_a_register = app
        .req(reqwest::Method::POST, "/api/v1/pairing-codes/redeem")
        .json(&json!({"code": late.body["code"], "kind": "register"}))
        .send()
        .await;
    on_a_register.assert_problem(422);
    // … until its time is up.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    redeem(late.body["code"].as_str().unwrap().to_owned())
        .await
        .assert_problem(403);
    // Bad bodies and a cashier.
    let r = app
        .req(reqwest::Method::POST, "/api/v1/pairing-codes/redeem")
        .json(&json!({"code": 7}))
        .send()
        .await;
    r.assert_problem(400);
    app.post("/api/v1/pairing-codes", &m, json!({"name": ""}))
        .await
        .assert_problem(422);
    let till = app.pair(&m, "Till 1").await;
    let cashier = app.sign_in(&till, "Carl Cashier").await;
    app.post("/api/v1/pairing-codes", &cashier, json!({"name": "Till 3"}))
        .await
        .assert_problem(403);
}
