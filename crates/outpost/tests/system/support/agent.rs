//! A register agent (`outpost register`) as a process: paired with a code
//! from the edge's manager, started on a free loopback port, and driven the
//! way its till's page drives it (Host, Origin, the page's token).

use super::app::{App, Req, within};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Agent {
    child: Option<Child>,
    pub dir: PathBuf,
    pub base: String,
    pub port: u16,
    /// The page's token for this start (also the till's device token there).
    pub token: String,
    pub http: reqwest::Client,
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The link timers a test wants: OFFLINE fast, pulls often.
const QUICK: [(&str, &str); 4] = [
    ("OUTPOST__REGISTER__HEARTBEAT_MS", "250"),
    ("OUTPOST__REGISTER__TIMEOUT_MS", "500"),
    ("OUTPOST__REGISTER__PULL_EVERY_MS", "500"),
    ("OUTPOST__RELAY__INTERVAL_MS", "50"),
];

/// A settings file in `dir` giving a till's agent its own receipt printer
/// (with its drawer) on TCP `port`: its path, for `OUTPOST_CONFIG`.
pub fn printer_config(dir: &std::path::Path, port: u16) -> String {
    let config = dir.join(format!("till-{port}.toml"));
    std::fs::write(
        &config,
        format!(
            "[hw]\nport = {}\ngrpc_port = {}\nretry_min_ms = 50\nprobe_interval_ms = 500\n\
             [[hw.printers]]\nid = \"till\"\naddress = \"tcp://127.0.0.1:{port}\"\nwidth = 48\n",
            super::app::free_port(),
            super::app::free_port(),
        ),
    )
    .unwrap();
    config.to_string_lossy().into_owned()
}

/// A one-time code for an agent, made by the edge's manager.
pub async fn code(edge: &App, manager: &str, name: &str) -> String {
    let made = edge
        .post(
            "/api/v1/pairing-codes",
            manager,
            json!({"name": name, "kind": "agent"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    made.body["code"].as_str().unwrap().to_owned()
}

/// `outpost register pair`: its exit status and what it printed.
/// Over the edge's TLS port, pinning its store CA.
pub fn pair(edge: &App, code: &str, dir: &std::path::Path) -> std::process::Output {
    pair_at(
        edge.tls_base.as_ref().expect("the edge's TLS port"),
        code,
        dir,
    )
}

/// [`pair`] with the edge at `url` (through a proxy, say).
pub fn pair_at(url: &str, code: &str, dir: &std::path::Path) -> std::process::Output {
    pair_with(url, code, dir, &[])
}

/// [`pair_at`] with settings of the test's own.
pub fn pair_with(
    url: &str,
    code: &str,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["register", "pair", "--edge", url, "--code", code, "--data"])
        .arg(dir)
        .env("OUTPOST__LOG__FILTER", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("run outpost register pair")
}

/// Pairs a new till with `edge` and starts its agent.
pub async fn paired(edge: &App, manager: &str, name: &str) -> Agent {
    paired_with(edge, manager, name, &[]).await
}

/// [`paired`], the agent started with settings of the test's own.
pub async fn paired_with(edge: &App, manager: &str, name: &str, env: &[(&str, &str)]) -> Agent {
    let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
    let code = code(edge, manager, name).await;
    let out = pair(edge, &code, &dir);
    assert!(
        out.status.success(),
        "pairing failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    start_with(dir, env).await
}

/// Pairs a new till with `edge` through a TCP proxy in front of its TLS
/// port, and starts its agent.
pub async fn paired_through(edge: &App, manager: &str, name: &str, proxy_port: u16) -> Agent {
    let code = code(edge, manager, name).await;
    let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
    let out = pair_at(&format!("https://127.0.0.1:{proxy_port}"), &code, &dir);
    assert!(
        out.status.success(),
        "pairing failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start(dir).await
}

/// Starts the agent of the till in `dir` on a free port and waits until it
/// serves its page.
pub async fn start(dir: PathBuf) -> Agent {
    start_with(dir, &[]).await
}

/// [`start`] with settings of the test's own (they win).
pub async fn start_with(dir: PathBuf, env: &[(&str, &str)]) -> Agent {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["register", "--data"])
        .arg(&dir)
        .env("OUTPOST__REGISTER__PORT", "0")
        .env("OUTPOST__LOG__FORMAT", "json")
        .env("OUTPOST__LOG__FILTER", "warn")
        .envs(QUICK)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start outpost register");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let port = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the agent did not start within 60 s");
        if let Some(rest) = line.strip_prefix("Outpost register agent: the till's page is on ") {
            let url = rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/');
            break super::app::port_of(url);
        }
    };
    let base = format!("http://127.0.0.1:{port}");
    let http = crate::support::client()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let page = http
        .get(format!("{base}/"))
        .send()
        .await
        .expect("the till's page")
        .text()
        .await
        .unwrap();
    let token = page_token(&page);
    Agent {
        child: Some(child),
        dir,
        base,
        port,
        token,
        http,
    }
}

/// The per-start token in the page's `outpost-page` meta tag.
pub fn page_token(html: &str) -> String {
    let at = html
        .find(r#"name="outpost-page" content=""#)
        .expect("the page carries its token");
    let rest = &html[at + r#"name="outpost-page" content=""#.len()..];
    let token = &rest[..rest.find('"').unwrap()];
    assert_eq!(token.len(), 64, "{token}");
    token.to_owned()
}

impl Agent {
    /// SIGKILL.
    pub fn kill(&mut self) {
        let c = self.child.as_mut().expect("running");
        c.kill().unwrap();
        c.wait().unwrap();
        self.child = None;
    }

    /// A request as the till's page makes it: its token for this start is
    /// also the till's device token there.
    pub fn req(&self, method: reqwest::Method, path: &str) -> Req {
        Req {
            rb: self
                .http
                .request(method, format!("{}{path}", self.base))
                .header("X-Page-Token", &self.token)
                .header("X-Device-Token", &self.token),
        }
    }

    /// A session of `who` (PIN from `edge`'s demo staff) on this till.
    pub async fn sign_in(&self, edge: &App, who: &str) -> String {
        let list = self
            .req(reqwest::Method::GET, "/api/v1/login-staff")
            .send()
            .await;
        assert_eq!(list.status, 200, "{}", list.body);
        let id = list.body["staff"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == who)
            .unwrap_or_else(|| panic!("{who} not in {}", list.body))["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = self
            .req(reqwest::Method::POST, "/api/v1/sessions")
            .json(&json!({"staff_id": id, "pin": edge.pins[who]}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// Opens the till's shift with `float` in the drawer.
    pub async fn open_shift(&self, session: &str, float: i64) {
        let r = self
            .req(reqwest::Method::POST, "/api/v1/shifts")
            .bearer(session)
            .json(&json!({ "opening_float_minor": float }))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    /// The link as the page shows it.
    pub async fn link(&self) -> Value {
        let r = self.req(reqwest::Method::GET, "/agent/link").send().await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    /// Waits until the edge answers the till and its queue is empty.
    pub async fn drained(&self) {
        within(
            Duration::from_secs(30),
            "the till's queue drains",
            || async {
                let l = self.link().await;
                l["online"] == true && l["queued"] == 0
            },
        )
        .await;
    }

    /// Pushes one hand-made event to the edge with the till's token, in
    /// epoch `e-test`: on `stream` at `position`, of `aggregate_type` and
    /// `event_type`, with an empty payload.
    pub async fn push_one(
        &self,
        edge: &App,
        (stream, position): (&str, i64),
        (aggregate_type, event_type): (&str, &str),
    ) -> super::app::Resp {
        let payload = "{}";
        edge.req(reqwest::Method::POST, "/api/v1/register-events")
            .header("X-Device-Token", &self.edge_token())
            .json(&json!({
                "schema": outpost_storage::register_events::SCHEMA,
                "epoch": "e-test",
                "events": [{
                    "event_id": uuid::Uuid::now_v7().to_string(),
                    "stream": stream, "position": position,
                    "aggregate_type": aggregate_type, "aggregate_id": "x", "aggregate_version": 1,
                    "event_type": event_type, "schema_version": outpost_domain::ids::SCHEMA_VERSION,
                    "occurred_at": 1, "hlc": 1, "actor": "x",
                    "payload": payload,
                    "payload_sha256": outpost_storage::secrets::sha256_hex(payload.as_bytes()),
                }],
            }))
            .send()
            .await
    }

    /// The till's token on the edge, as its database keeps it.
    pub fn edge_token(&self) -> String {
        use diesel::prelude::*;
        let mut c =
            diesel::SqliteConnection::establish(self.dir.join("register.sqlite").to_str().unwrap())
                .unwrap();
        diesel::sql_query("SELECT token FROM agent_link")
            .load::<Token>(&mut c)
            .unwrap()
            .remove(0)
            .token
    }
}

#[derive(diesel::QueryableByName)]
struct Token {
    #[diesel(sql_type = diesel::sql_types::Text)]
    token: String,
}
