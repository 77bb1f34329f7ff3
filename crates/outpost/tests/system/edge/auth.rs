//! PIN sign-in and its lockout, per staff member wherever the PIN is tried.

use crate::both_backends;
use crate::support::app::{Backend, Store, spawn};
use serde_json::json;

async fn wrong_pins_lock_out_one_staff_member_everywhere_until_a_manager_lifts_it(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let m = app.manager().await;
    let till1 = app.pair(&m, "Till 1").await;
    let till2 = app.pair(&m, "Till 2").await;
    let carl = app.staff_id("Carl Cashier", Some(&till1)).await;
    // A PIN guessed first is refused when it is set.
    for weak in ["1234", "0000", "2580", "121212"] {
        let r = app
            .post(
                "/api/v1/staff",
                &m,
                json!({"name": "Wendy", "role": "cashier", "pin": weak}),
            )
            .await;
        r.assert_problem(422);
        assert!(
            r.body["detail"].as_str().unwrap().contains("guessed"),
            "{}",
            r.body
        );
        app.req(reqwest::Method::PUT, &format!("/api/v1/staff/{carl}/pin"))
            .bearer(&m)
            .json(&json!({"pin": weak}))
            .send()
            .await
            .assert_problem(422);
    }
    let attempt = |device: &str, pin: &str| {
        app.req(reqwest::Method::POST, "/api/v1/sessions")
            .header("X-Device-Token", device)
            .json(&json!({"staff_id": carl, "pin": pin}))
            .send()
    };
    let wrong = if app.pins["Carl Cashier"] == "0000" {
        "1111"
    } else {
        "0000"
    };
    for _ in 0..4 {
        attempt(&till1, wrong).await.assert_problem(401);
    }
    let fifth = attempt(&till1, wrong).await;
    fifth.assert_problem(401);
    assert_eq!(fifth.body["retry_after_s"], 30);
    // Now even the right PIN is refused on this device…
    let locked = attempt(&till1, &app.pins["Carl Cashier"]).await;
    locked.assert_problem(429);
    assert!(locked.headers.contains_key("retry-after"));
    // …and on every other device: the count is the person's, wherever
    // the guesses are made.
    attempt(&till2, &app.pins["Carl Cashier"])
        .await
        .assert_problem(429);
    // A cashier cannot lift it; a manager can, and it is audited.
    let cashier = app.sign_in(&till2, "Cleo Cashier").await;
    app.post(&format!("/api/v1/staff/{carl}/unlock"), &cashier, json!({}))
        .await
        .assert_problem(403);
    let r = app
        .req(
            reqwest::Method::POST,
            &format!("/api/v1/staff/{carl}/unlock"),
        )
        .bearer(&m)
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(attempt(&till1, &app.pins["Carl Cashier"]).await.status, 201);
    let audit = app.get("/api/v1/audit", &m).await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"staff.locked_out") && actions.contains(&"staff.unlocked"),
        "{actions:?}"
    );
    // A cashier cannot use the back office, nor a revoked register.
    let office = app
        .req(reqwest::Method::POST, "/api/v1/sessions")
        .json(&json!({"staff_id": carl, "pin": app.pins["Carl Cashier"]}))
        .send()
        .await;
    office.assert_problem(403);
    let dev = app.get("/api/v1/devices", &m).await;
    let id2 = dev
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Till 2")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .req(reqwest::Method::DELETE, &format!("/api/v1/devices/{id2}"))
        .bearer(&m)
        .send()
        .await;
    assert_eq!(r.status, 204);
    app.get("/api/v1/me", &cashier).await.assert_problem(401);
    attempt(&till2, &app.pins["Carl Cashier"])
        .await
        .assert_problem(401);
}
both_backends!(wrong_pins_lock_out_one_staff_member_everywhere_until_a_manager_lifts_it);

async fn a_forged_forwarded_for_header_does_not_dodge_the_back_office_lockout(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let m = app.manager().await;
    let device = app.pair(&m, "Till 1").await;
    let sam = app.staff_id("Sam Supervisor", Some(&device)).await;
    let wrong = if app.pins["Sam Supervisor"] == "0000" {
        "1111"
    } else {
        "0000"
    };
    for i in 0..5 {
        let r = app
            .req(reqwest::Method::POST, "/api/v1/sessions")
            .header("X-Forwarded-For", &format!("10.9.8.{i}"))
            .json(&json!({"staff_id": sam, "pin": wrong}))
            .send()
            .await;
        r.assert_problem(401);
    }
    let r = app
        .req(reqwest::Method::POST, "/api/v1/sessions")
        .header("X-Forwarded-For", "10.9.8.200")
        .json(&json!({"staff_id": sam, "pin": app.pins["Sam Supervisor"]}))
        .send()
        .await;
    r.assert_problem(429);
}
both_backends!(a_forged_forwarded_for_header_does_not_dodge_the_back_office_lockout);

/// When every manager is locked out, the store's console lifts it:
/// `outpost staff unlock --name …` (audited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lifts_a_lockout_no_manager_can() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let maria = app.staff_id("Maria Manager", None).await;
    let attempt = |pin: &str| {
        app.req(reqwest::Method::POST, "/api/v1/sessions")
            .json(&json!({"staff_id": maria, "pin": pin}))
            .send()
    };
    let right = app.pins["Maria Manager"].clone();
    let wrong = if right == "2468" { "1357" } else { "2468" };
    for _ in 0..5 {
        attempt(wrong).await.assert_problem(401);
    }
    attempt(&right).await.assert_problem(429);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["staff", "unlock", "--name", "Maria Manager"])
        .env("OUTPOST__DATABASE__URL", &store.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(attempt(&right).await.status, 201);
}

/// A session opened at a register is that register's: its token sent from
/// another paired register, or alone, signs nobody in and sells nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashiers_session_works_only_from_the_register_it_was_opened_at() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let till1 = app.register("Till 1").await;
    let till2 = app.register("Till 2").await;
    let (code, _, price) = app.barcode(&till1.cashier, "Espresso").await;
    let sale = crate::support::app::cash_sale(&[(&code, 1000)], price);
    let as_at = |session: &str, device: Option<&str>, method, path: &str| {
        app.req(method, path).bearer_alone(session).device(device)
    };
    let forged = "0".repeat(64);
    for (device, what) in [
        (
            Some(till2.device.as_str()),
            "another register's device token",
        ),
        (None, "no device token"),
        (Some(forged.as_str()), "a forged device token"),
    ] {
        let me = as_at(&till1.cashier, device, reqwest::Method::GET, "/api/v1/me")
            .send()
            .await;
        assert_eq!(me.status, 401, "{what}: {}", me.body);
        let r = as_at(
            &till1.cashier,
            device,
            reqwest::Method::POST,
            "/api/v1/orders",
        )
        .header("Idempotency-Key", &uuid::Uuid::now_v7().to_string())
        .json(&sale)
        .send()
        .await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        r.assert_problem(401);
    }
    // Nothing was sold by any of them; from its own register it sells.
    let orders = app.get("/api/v1/orders?limit=100", &till1.manager).await;
    assert_eq!(
        orders.body.as_array().map(Vec::len),
        Some(0),
        "{}",
        orders.body
    );
    let me = as_at(
        &till1.cashier,
        Some(&till1.device),
        reqwest::Method::GET,
        "/api/v1/me",
    )
    .send()
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    let r = app
        .sell(&till1.cashier, &uuid::Uuid::now_v7().to_string(), &sale)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["device_id"], me.body["device_id"], "{}", r.body);
    // The back office's session has no device: it works alone.
    let office = app.get("/api/v1/me", &till2.manager).await;
    assert_eq!(office.status, 200, "{}", office.body);
}
