//! `/openapi.json` is a valid OpenAPI document (checked by
//! openapi-spec-validator from PyPI, in a venv this test makes once), and it
//! says what the server does: every operation answers a described success
//! and problem JSON for errors, declares every parameter of its path, and
//! declares a session or device token exactly when the server refuses it
//! without one, and its query parameters exactly when it reads a query.

mod venv;

use outpost_api::{Application, Settings};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// A running api on a fresh SQLite database with the demo staff, its base
/// URL, and a manager's session token.
async fn spawn(http: &reqwest::Client) -> (String, PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("outpost-openapi-{}", uuid::Uuid::now_v7()));
    let mut s = Settings::load(None).unwrap();
    s.server.port = 0;
    s.server.tls_port = Some(0);
    s.database.url = dir.join("outpost.sqlite").to_string_lossy().into_owned();
    s.demo.enabled = true;
    let app = Application::build(s).unwrap();
    let (name, _, pin) = app
        .demo_staff
        .clone()
        .unwrap()
        .into_iter()
        .find(|(_, role, _)| *role == outpost_domain::Role::Manager)
        .expect("a demo manager");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let staff: Value = http
        .get(format!("{base}/api/v1/login-staff"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = staff["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name.as_str())
        .unwrap()["id"]
        .clone();
    let session: Value = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&serde_json::json!({"staff_id": id, "pin": pin}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().expect("signed in").to_owned();
    (base, dir, token)
}

#[actix_web::test]
async fn the_served_document_is_valid_openapi_and_describes_every_operation_it_serves() {
    // First: making the venv blocks this thread for seconds, longer than
    // the server keeps an idle connection open.
    let python = venv::python();
    // reqwest's rustls has no provider of its own here (see the register
    // agent's manifest): ring, as the binaries install it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let (base, dir, token) = spawn(&http).await;
    let r = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();

    let mut count = 0;
    let mut failures = Vec::new();
    for (path, method, op) in operations(&doc) {
        count += 1;
        let name = format!("{} {path}", method.to_uppercase());
        failures.extend(
            responses_problems(&doc, op)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
        failures.extend(
            path_params_problems(path, &doc["paths"][path], op)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
        if let Some(p) = security_problem(&http, &base, path, method, op).await {
            failures.push(format!("{name}: {p}"));
        }
        if method == "get"
            && let Some(p) = query_problem(&http, &base, &token, path, op).await
        {
            failures.push(format!("{name}: {p}"));
        }
    }
    let file = dir.join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    validate_with_openapi_spec_validator(&python, &file);
    assert!(count >= 50, "only {count} operations documented");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["scheme"], "bearer", "{schemes}");
    assert_eq!(
        schemes["device_token"]["name"], "X-Device-Token",
        "{schemes}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Every (path, method, operation) of the document.
fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((path.as_str(), m, op));
            }
        }
    }
    out
}

/// What is missing from an operation's responses: a 2xx with a schema (or
/// an explicit 204); every error it describes in problem JSON (but the
/// health report's 503, which is the report); and, when it takes anything a
/// client can get wrong (credentials, parameters, a body), a 4xx.
fn responses_problems(doc: &Value, op: &Value) -> Vec<String> {
    let responses = op["responses"].as_object().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    let described_success = responses.iter().any(|(status, r)| {
        let content = resolve(doc, r)["content"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        status.starts_with('2')
            && (status == "204"
                || (!content.is_empty() && content.values().all(|m| m["schema"].is_object())))
    });
    if !described_success {
        problems.push("no 2xx response with a schema (or a 204)".to_owned());
    }
    let is_problem = |r: &Value| {
        resolve(doc, r)["content"]["application/problem+json"]["schema"]["$ref"]
            == "#/components/schemas/Problem"
    };
    for (status, r) in &responses {
        let report = status == "503" && resolve(doc, r)["content"]["application/json"].is_object();
        if !status.starts_with('2') && !report && !is_problem(r) {
            problems.push(format!("its {status} response is not problem JSON"));
        }
    }
    if !responses.contains_key("default") {
        problems.push("no default (problem JSON) response".to_owned());
    }
    let takes_input = op.get("security").is_some()
        || op.get("parameters").is_some()
        || op.get("requestBody").is_some();
    let client_errors = responses.keys().filter(|s| s.starts_with('4')).count();
    if takes_input && client_errors == 0 {
        problems.push("takes input but describes no 4xx".to_owned());
    }
    problems
}

fn resolve<'a>(doc: &'a Value, r: &'a Value) -> &'a Value {
    match r["$ref"].as_str() {
        Some(to) => to
            .trim_start_matches("#/")
            .split('/')
            .fold(doc, |v, k| &v[k]),
        None => r,
    }
}

/// Path parameters the template names and the operation does not declare,
/// or declares and the template does not name.
fn path_params_problems(path: &str, item: &Value, op: &Value) -> Vec<String> {
    let in_template: Vec<&str> = path
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(n, _)| n))
        .collect();
    let declared: Vec<&str> = [&item["parameters"], &op["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter(|p| p["in"] == "path")
        .filter_map(|p| p["name"].as_str())
        .collect();
    let undeclared = in_template
        .iter()
        .filter(|n| !declared.contains(n))
        .map(|n| format!("path parameter {{{n}}} is not declared"));
    let stray = declared
        .iter()
        .filter(|n| !in_template.contains(n))
        .map(|n| format!("declares path parameter {n} the path does not have"));
    undeclared.chain(stray).collect()
}

/// Calls a GET operation as a manager with a `?limit=` that is no number:
/// it answers 400 (bad query) when it reads a query, and then (and only
/// then) it must declare its query parameters.
async fn query_problem(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    op: &Value,
) -> Option<String> {
    let r = http
        .get(format!("{base}{}?limit=x", concrete(path)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let reads_query =
        status == 400 && body["type"] == outpost_telemetry::problem::type_uri("bad-query").as_str();
    let declares = op["parameters"].as_array().is_some_and(|ps| {
        ps.iter()
            .any(|p| p["in"] == "query" && p["name"] == "limit")
    });
    match (reads_query, declares) {
        (true, false) => Some(format!("reads ?limit= but does not declare it: {body}")),
        (false, true) => Some(format!("declares ?limit= but ignored a bad one ({status})")),
        _ => None,
    }
}

/// The path with each `{parameter}` filled in.
fn concrete(path: &str) -> String {
    path.split('{')
        .map(|s| s.split_once('}').map_or(s, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("x")
}

/// Calls the operation with no credentials: a 401 means it needs a session
/// or a device token, and then (and only then) it must declare one, with no
/// anonymous alternative. Also: a documented operation is served.
async fn security_problem(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    method: &str,
    op: &Value,
) -> Option<String> {
    let url = concrete(path);
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = http.request(m, format!("{base}{url}"));
    if op.get("requestBody").is_some() {
        req = req.header("content-type", "application/json").body("{}");
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status == 404 && body["detail"] == "no such route or method" {
        return Some("documented but not served".into());
    }
    let requirements: Vec<&Value> = op["security"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let declares = !requirements.is_empty();
    let anonymous = requirements
        .iter()
        .any(|r| r.as_object().is_some_and(|o| o.is_empty()));
    let refused = status == 401;
    if refused && ct.as_deref() != Some(outpost_telemetry::problem::CONTENT_TYPE) {
        return Some(format!("a 401 that is not problem JSON: {body}"));
    }
    match (refused, declares && !anonymous) {
        (true, false) => Some(format!(
            "refused without credentials (401) but declares no security requirement: {}",
            op["security"]
        )),
        (false, true) => Some(format!(
            "declares a security requirement but answered {status} without credentials"
        )),
        _ => None,
    }
}

/// Runs openapi-spec-validator on the document. It comes from PyPI into a
/// venv under the target folder, made once (a fresh CI machine makes it on
/// its first run).
fn validate_with_openapi_spec_validator(python: &Path, file: &Path) {
    let out = Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(file)
        .output()
        .expect("the venv's python runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
