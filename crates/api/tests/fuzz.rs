//! Schemathesis (from PyPI) over every operation of the OpenAPI document,
//! as a manager on the server's screen and as a cashier at a paired
//! register with a shift open, with valid and deliberately invalid cases:
//! no answer may be a 5xx, and a refused request (4xx) may write nothing
//! (every table's row count is compared around it; `fuzz/fuzz.py` says
//! which writes a refused PIN makes on purpose). Capped by
//! `OUTPOST_FUZZ_EXAMPLES` (cases per operation, caller and kind; 25 unless
//! set), about a minute and a half on two cores.

mod venv;

use outpost_api::{Application, Settings};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

/// A call that must succeed; its JSON.
async fn call(rb: reqwest::RequestBuilder) -> Value {
    let r = rb.send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[actix_web::test]
async fn no_operation_answers_5xx_and_no_refused_request_writes_anything() {
    // First: making the venv blocks this thread for a while.
    let python = venv::python();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("outpost-fuzz-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("outpost.sqlite");
    let mut s = Settings::load(None).unwrap();
    s.server.port = 0;
    s.server.tls_port = Some(0);
    s.database.url = db.to_string_lossy().into_owned();
    s.demo.enabled = true;
    let app = Application::build(s).unwrap();
    let pins: std::collections::HashMap<String, String> = app
        .demo_staff
        .clone()
        .unwrap()
        .into_iter()
        .map(|(name, _, pin)| (name, pin))
        .collect();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());

    let http = reqwest::Client::new();
    let id_of = |list: &Value, name: &str| {
        list["staff"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["id"]
            .clone()
    };
    let office = call(http.get(format!("{base}/api/v1/login-staff"))).await;
    let manager =
        call(http.post(format!("{base}/api/v1/sessions")).json(
            &json!({"staff_id": id_of(&office, "Maria Manager"), "pin": pins["Maria Manager"]}),
        ))
        .await["token"]
            .as_str()
            .unwrap()
            .to_owned();
    let device = call(
        http.post(format!("{base}/api/v1/devices"))
            .bearer_auth(&manager)
            .json(&json!({"name": "Till 1"})),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let till = call(
        http.get(format!("{base}/api/v1/login-staff"))
            .header("X-Device-Token", &device),
    )
    .await;
    let cashier = call(
        http.post(format!("{base}/api/v1/sessions"))
            .header("X-Device-Token", &device)
            .json(&json!({"staff_id": id_of(&till, "Carl Cashier"), "pin": pins["Carl Cashier"]})),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        http.post(format!("{base}/api/v1/shifts"))
            .bearer_auth(&cashier)
            .header("X-Device-Token", &device)
            .json(&json!({"opening_float_minor": 10000})),
    )
    .await;
    let doc = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let openapi = dir.join("openapi.json");
    std::fs::write(&openapi, doc).unwrap();

    let examples: u32 = std::env::var("OUTPOST_FUZZ_EXAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let input = json!({
        "base": base,
        "openapi": openapi,
        "db": db,
        "examples": examples,
        "callers": [
            {"name": "manager", "headers": {"Authorization": format!("Bearer {manager}")}},
            {"name": "cashier", "headers": {
                "Authorization": format!("Bearer {cashier}"),
                "X-Device-Token": device,
            }},
        ],
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz/fuzz.py");
    // The fuzzer blocks; the server runs on this test's runtime meanwhile.
    let out = actix_web::rt::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the venv's python runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the fuzzer failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    eprintln!("fuzzed: {}", report["tried"]);
    let tried = &report["tried"];
    assert!(tried["operations"].as_u64().unwrap() >= 50, "{tried}");
    assert!(
        tried["requests"].as_u64().unwrap() >= 40 * u64::from(examples),
        "{tried}"
    );
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.is_empty(),
        "{} findings:\n{}",
        findings.len(),
        findings
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let _ = std::fs::remove_dir_all(dir);
}
