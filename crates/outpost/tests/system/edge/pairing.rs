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

/// `outpost pairing-code` at the store server's console: an office code
/// made for Maria Manager.
fn console_code(store: &Store, name: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["pairing-code", "--name", name, "--by", "Maria Manager"])
        .env("OUTPOST__DATABASE__URL", &store.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::support::app::printed_code(&String::from_utf8(out.stdout).unwrap())
}

/// Away from the store server's own screen (`server.office_networks`), an
/// unpaired client cannot list the managers nor try a PIN: the computer
/// pairs first, with a code made at the server's console, as an office
/// where only managers sign in. A display's token signs nobody in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_from_the_server_only_a_paired_office_signs_managers_in() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            // Loopback is not the office here: these requests come from "the LAN".
            env: vec![("OUTPOST__SERVER__OFFICE_NETWORKS", "192.0.2.0/24".into())],
            ..Opts::default()
        },
    );
    let list = |device: Option<&str>| {
        app.req(reqwest::Method::GET, "/api/v1/login-staff")
            .device(device)
            .send()
    };
    let refused = list(None).await;
    refused.assert_problem(403);
    assert!(
        refused.body["type"]
            .as_str()
            .unwrap()
            .ends_with("/pair-first"),
        "{}",
        refused.body
    );
    // Not even the right PIN is tried: nothing to guess from here.
    let sign_in = |device: Option<&str>, who: &str, staff_id: &str| {
        app.req(reqwest::Method::POST, "/api/v1/sessions")
            .json(&json!({"staff_id": staff_id, "pin": app.pins[who]}))
            .device(device)
            .send()
    };
    let code = console_code(&store, "Office");
    let bogus = app
        .req(reqwest::Method::POST, "/api/v1/pairing-codes/redeem")
        .json(&json!({"code": "AAAAA-AAAAA", "kind": "office"}))
        .send()
        .await;
    bogus.assert_problem(403);
    let paired = app
        .req(reqwest::Method::POST, "/api/v1/pairing-codes/redeem")
        .json(&json!({"code": code, "kind": "office"}))
        .send()
        .await;
    assert_eq!(paired.status, 201, "{}", paired.body);
    assert_eq!(paired.body["device"]["kind"], "office");
    let office = paired.body["token"].as_str().unwrap().to_owned();

    let names = list(Some(&office)).await;
    assert_eq!(names.status, 200, "{}", names.body);
    let staff = names.body["staff"].as_array().unwrap();
    assert!(
        staff
            .iter()
            .all(|s| matches!(s["role"].as_str(), Some("manager" | "admin"))),
        "an office lists managers only: {}",
        names.body
    );
    let maria = staff.iter().find(|s| s["name"] == "Maria Manager").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sign_in(None, "Maria Manager", &maria)
        .await
        .assert_problem(403);
    let s = sign_in(Some(&office), "Maria Manager", &maria).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let session = s.body["token"].as_str().unwrap().to_owned();
    crate::support::app::opened_at(&session, &office);
    let devices = app.get("/api/v1/devices", &session).await;
    assert_eq!(devices.status, 200, "{}", devices.body);

    // A register paired from the office: its cashier signs in there, not at
    // the office, and never with a display's token.
    let till = app.pair(&session, "Till 1").await;
    let carl = app.staff_id("Carl Cashier", Some(&till)).await;
    sign_in(Some(&office), "Carl Cashier", &carl)
        .await
        .assert_problem(403);
    let at_till = sign_in(Some(&till), "Carl Cashier", &carl).await;
    assert_eq!(at_till.status, 201, "{}", at_till.body);
    let display = app
        .post(
            "/api/v1/devices",
            &session,
            json!({"name": "Kitchen", "kind": "display"}),
        )
        .await;
    assert_eq!(display.status, 201, "{}", display.body);
    sign_in(
        Some(display.body["token"].as_str().unwrap()),
        "Maria Manager",
        &maria,
    )
    .await
    .assert_problem(403);
}

/// In headless Chromium, away from the server's screen: the manager page
/// asks for a pairing code, takes one made at the console, then signs a
/// manager in, and the session works with this computer's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_page_pairs_an_office_computer_with_a_code_in_a_browser() {
    use crate::support::browser::{browser, click, type_into, visible};
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![("OUTPOST__SERVER__OFFICE_NETWORKS", "192.0.2.0/24".into())],
            ..Opts::default()
        },
    );
    let (c, _driver) = browser().await;
    c.goto(&format!("{}/admin", app.base)).await.unwrap();
    type_into(&c, "#pair-code", &console_code(&store, "Back office")).await;
    click(&c, "#pair-code-go").await;
    type_into(&c, "#login-pin", &app.pins["Maria Manager"]).await;
    click(&c, "#login-go").await;
    visible(&c, "#tabs button[data-tab=Registers]").await;
    click(&c, "#tabs button[data-tab=Registers]").await;
    let row = crate::support::browser::wait_text(&c, "#main", "Back office").await;
    assert!(row.contains("office"), "{row}");
}
