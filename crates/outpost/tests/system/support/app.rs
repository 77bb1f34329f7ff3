//! Spawning the edge as a process and talking to it like a register would.

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                super::$name($crate::support::app::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                super::$name($crate::support::app::Backend::Postgres).await
            }
        }
    };
}

/// Where this test's data lives; the same place is reused across restarts.
pub struct Store {
    pub dir: PathBuf,
    pub url: String,
}

impl Store {
    pub fn new(backend: Backend) -> Store {
        let dir = std::env::temp_dir().join(format!("outpost-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = match backend {
            Backend::Sqlite => dir.join("outpost.sqlite").to_string_lossy().into_owned(),
            Backend::Postgres => fresh_pg_database(),
        };
        Store { dir, url }
    }
}

/// A new, empty PostgreSQL database on the server named by OUTPOST_TEST_PG.
fn fresh_pg_database() -> String {
    let admin = std::env::var("OUTPOST_TEST_PG").expect(
        "PostgreSQL tests need OUTPOST_TEST_PG=postgres://user:pass@127.0.0.1:5432 (scripts/test sets it up)",
    );
    let name = format!("outpost_t_{}", uuid::Uuid::now_v7().simple());
    let mut c = PgConnection::establish(&format!("{admin}/postgres"))
        .expect("connect to the test PostgreSQL");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .expect("create test database");
    format!("{admin}/{name}")
}

pub struct App {
    /// The server process; `None` when it runs elsewhere (a container).
    pub child: Option<Child>,
    pub base: String,
    /// The realtime hub's port, when it runs in this process (`outpost edge`).
    pub hub_port: Option<u16>,
    /// The hub's TLS port (`wss://`), in the same process.
    pub hub_tls_port: Option<u16>,
    /// The TLS address register agents pair with (`https://127.0.0.1:PORT`).
    pub tls_base: Option<String>,
    pub pins: HashMap<String, String>,
    pub http: reqwest::Client,
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn spawn(store: &Store) -> App {
    spawn_opts(store, &Opts::default())
}

pub fn spawn_with(store: &Store, faketime: Option<&str>) -> App {
    spawn_opts(
        store,
        &Opts {
            faketime,
            ..Opts::default()
        },
    )
}

/// How to start the edge for a test.
#[derive(Debug, Default)]
pub struct Opts<'a> {
    /// A libfaketime clock offset such as "-2d".
    pub faketime: Option<&'a str>,
    /// `outpost api` alone instead of every edge service in one process.
    pub api_only: bool,
    pub env: Vec<(&'a str, String)>,
}

/// Starts `outpost edge --demo` (or `outpost api`) on free ports and waits
/// until it listens.
pub fn spawn_opts(store: &Store, opts: &Opts) -> App {
    let exe = env!("CARGO_BIN_EXE_outpost");
    let mut cmd = Command::new(exe);
    if let Some(offset) = opts.faketime {
        // libfaketime in the process itself (not the `faketime` wrapper, which
        // forks): killing the child then kills the server.
        let lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
        assert!(
            std::path::Path::new(lib).exists(),
            "clock tests need libfaketime (apt-get install faketime; scripts/test does)"
        );
        cmd.env("LD_PRELOAD", lib).env("FAKETIME", offset);
    }
    if opts.api_only {
        cmd.arg("api").env("OUTPOST__DEMO__ENABLED", "true");
    } else {
        cmd.args(["edge", "--demo", "--data"]).arg(&store.dir);
    }
    // The test's own settings last: they win over these.
    cmd.env("OUTPOST__SERVER__PORT", "0")
        .env("OUTPOST__SERVER__TLS_PORT", "0")
        .env("OUTPOST__HUB__PORT", "0")
        .env("OUTPOST__HUB__TLS_PORT", "0")
        .env("OUTPOST__DATABASE__URL", &store.url)
        .env("OUTPOST__LOG__FORMAT", "json")
        .env("OUTPOST__LOG__FILTER", "warn")
        .env("OUTPOST__RELAY__INTERVAL_MS", "50")
        .envs(opts.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("start outpost");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut pins = pins_file(store);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut hub_port = None;
    let mut hub_tls_port = None;
    let mut tls_base = None;
    let port = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("outpost did not start within 60 s");
        if let Some(rest) = line.trim().strip_prefix("demo staff: ") {
            // "Maria Manager (manager) PIN 1234"
            let (name, pin) = rest.split_once(" PIN ").expect("demo staff line");
            let name = name.rsplit_once(" (").map(|(n, _)| n).unwrap_or(name);
            pins.insert(name.to_owned(), pin.to_owned());
        }
        if let Some(rest) = line.strip_prefix("Outpost edge for register agents on ") {
            let url = rest.split_whitespace().next().unwrap();
            tls_base = Some(format!("https://127.0.0.1:{}", port_of(url)));
        }
        if let Some(url) = line.strip_prefix("Outpost realtime hub listening on ") {
            hub_port = Some(port_of(url));
        }
        if let Some(url) = line.strip_prefix("Outpost realtime hub over TLS on ") {
            hub_tls_port = Some(port_of(url));
        }
        if let Some(url) = line.strip_prefix("Outpost edge listening on ") {
            break url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
    };
    // PINs are printed only on the first start: keep them for restarts.
    std::fs::write(
        store.dir.join("pins.json"),
        serde_json::to_string(&pins).unwrap(),
    )
    .unwrap();
    App {
        child: Some(child),
        hub_port,
        hub_tls_port,
        tls_base,
        base: format!("http://127.0.0.1:{port}"),
        pins,
        http: crate::support::client()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    }
}

impl App {
    /// SIGKILL, as a crash or `kill -9` would.
    pub fn kill(&mut self) {
        let c = self.child.as_mut().expect("a server this test started");
        c.kill().expect("SIGKILL");
        c.wait().unwrap();
    }
}

/// A port nobody listens on right now and no other test of this run was
/// given, below Linux's ephemeral range (32768–60999): a port from that
/// range, once its test lets it go (a printer switched off and on again), can
/// meanwhile become the local end of any outgoing connection on the machine.
///
/// Each port handed out is reserved by a file in a folder every test process
/// shares, for 20 to 40 minutes (longer than a test may run): checking that nobody listens is
/// not enough, since the tests hand their ports to processes that bind them
/// later (and a printer switched off lets its port go for a while), and two
/// tests drawing the same number in that gap would take each other's.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    // A mark made in one window holds its port through the next one too.
    const WINDOW_S: u64 = 20 * 60;
    let dir = std::env::temp_dir().join("outpost-test-ports");
    std::fs::create_dir_all(&dir).expect("the port reservations folder");
    let window = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / WINDOW_S;
    let mark = |port: u16, w: u64| dir.join(format!("{port}.{w}"));
    // Marks from windows over hold nothing any more: swept once a process.
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name();
            let w = name
                .to_str()
                .and_then(|n| n.split_once('.')?.1.parse::<u64>().ok());
            if w.is_some_and(|w| w + 1 < window) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    });
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(uuid::Uuid::now_v7().as_u128());
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if mark(port, window - 1).exists() {
            continue;
        }
        // Of the processes that drew this port, the one whose create_new
        // wins has it.
        if std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(mark(port, window))
            .is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
}

/// The port in `ws://host:PORT/ws` or `http://host:PORT`.
pub fn port_of(url: &str) -> u16 {
    let rest = url.rsplit_once(':').expect("a port").1;
    rest.trim_end_matches("/ws").parse().expect("a port number")
}

fn pins_file(store: &Store) -> HashMap<String, String> {
    std::fs::read_to_string(store.dir.join("pins.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

/// A response: status and JSON body (problem JSON for errors).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// Asserts a client error in problem JSON form.
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert_one_problem_base(&self.body);
    }
}

/// Every surface's problems have their `type` under the one base.
pub fn assert_one_problem_base(body: &Value) {
    let t = body["type"].as_str().unwrap_or_default();
    let slug = t
        .strip_prefix(outpost_telemetry::problem::TYPE_BASE)
        .unwrap_or_else(|| panic!("problem type {t:?} is not under the one base: {body}"));
    assert!(!slug.is_empty(), "{body}");
}

pub struct Req {
    pub rb: reqwest::RequestBuilder,
}

impl App {
    pub fn req(&self, method: reqwest::Method, path: &str) -> Req {
        Req {
            rb: self.http.request(method, format!("{}{path}", self.base)),
        }
    }
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.req(reqwest::Method::GET, path)
            .bearer(token)
            .send()
            .await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.req(reqwest::Method::POST, path)
            .bearer(token)
            .json(&body)
            .send()
            .await
    }

    pub async fn staff_id(&self, name: &str, device_token: Option<&str>) -> String {
        let mut r = self.req(reqwest::Method::GET, "/api/v1/login-staff");
        if let Some(t) = device_token {
            r = r.header("X-Device-Token", t);
        }
        let list = r.send().await.body;
        list["staff"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {list}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A back-office session of the demo manager: on the server's own
    /// screen, or at the office device paired for this server
    /// ([`office_at`]).
    pub async fn manager(&self) -> String {
        let office = OFFICE_OF.lock().unwrap().get(&self.base).cloned();
        let id = self.staff_id("Maria Manager", office.as_deref()).await;
        let r = self
            .req(reqwest::Method::POST, "/api/v1/sessions")
            .json(&json!({"staff_id": id, "pin": self.pins["Maria Manager"]}))
            .device(office.as_deref())
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let session = r.body["token"].as_str().unwrap().to_owned();
        if let Some(o) = &office {
            opened_at(&session, o);
        }
        session
    }

    /// Pairs a new register and returns its device token.
    pub async fn pair(&self, manager: &str, name: &str) -> String {
        let r = self
            .post("/api/v1/devices", manager, json!({"name": name}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// Signs `who` in at the register with `device`; returns the session token.
    pub async fn sign_in(&self, device: &str, who: &str) -> String {
        let id = self.staff_id(who, Some(device)).await;
        let r = self
            .req(reqwest::Method::POST, "/api/v1/sessions")
            .header("X-Device-Token", device)
            .json(&json!({"staff_id": id, "pin": self.pins[who]}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let session = r.body["token"].as_str().unwrap().to_owned();
        opened_at(&session, device);
        session
    }

    /// A paired register with a cashier signed in and a shift open.
    pub async fn register(&self, name: &str) -> Till {
        let m = self.manager().await;
        let device = self.pair(&m, name).await;
        let cashier = self.sign_in(&device, "Carl Cashier").await;
        let r = self
            .post(
                "/api/v1/shifts",
                &cashier,
                json!({"opening_float_minor": 10000}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        Till {
            device,
            cashier,
            manager: m,
        }
    }

    pub async fn barcode(&self, token: &str, name_part: &str) -> (String, String, i64) {
        let r = self
            .get(&format!("/api/v1/products?q={name_part}"), token)
            .await;
        let p = &r.body[0];
        (
            p["barcodes"][0].as_str().unwrap().to_owned(),
            p["id"].as_str().unwrap().to_owned(),
            p["price_minor"].as_i64().unwrap(),
        )
    }

    /// Posts a sale with an idempotency key.
    pub async fn sell(&self, token: &str, key: &str, body: &Value) -> Resp {
        self.req(reqwest::Method::POST, "/api/v1/orders")
            .bearer(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
    }

    /// All events of a stream, in position order.
    pub async fn events(&self, manager: &str, stream: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/api/v1/outbox/{stream}?limit=5000"), manager)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body.as_array().unwrap().clone()
    }

    /// Waits until the relay has positioned every committed event.
    pub async fn relayed(&self, manager: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.get("/api/v1/outbox", manager).await;
            if r.body["unrelayed"] == 0 {
                return r.body["streams"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "relay did not catch up: {}",
                r.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A register ready to sell.
pub struct Till {
    pub device: String,
    pub cashier: String,
    pub manager: String,
}

/// The device each register session was opened at (session token →
/// device token): a register's session counts only with its device's token,
/// so [`Req::bearer`] sends it too, as the register page does.
static DEVICE_OF: std::sync::LazyLock<std::sync::Mutex<HashMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

/// Per server (its base URL): the office device the tests sign managers in
/// with, where the tests are not on the server's own screen (a compose
/// stack, reached through its network's gateway).
static OFFICE_OF: std::sync::LazyLock<std::sync::Mutex<HashMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

/// Signs managers in at `base` with the office device `token` from now on.
pub fn office_at(base: &str, token: &str) {
    OFFICE_OF
        .lock()
        .unwrap()
        .insert(base.to_owned(), token.to_owned());
}

/// The code in what `outpost pairing-code` printed
/// (`pairing code for office "Office": 7KQ4M-X2P9C (works once, …)`).
pub fn printed_code(printed: &str) -> String {
    printed
        .rsplit_once("\": ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .unwrap_or_else(|| panic!("a code in {printed:?}"))
        .to_owned()
}

/// Remembers that `session` was opened at the device with token `device`.
pub fn opened_at(session: &str, device: &str) {
    DEVICE_OF
        .lock()
        .unwrap()
        .insert(session.to_owned(), device.to_owned());
}

/// `rb` with the session token, and the token of the device it was opened
/// at when a helper signed it in there ([`opened_at`]).
pub fn signed(rb: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    let rb = rb.bearer_auth(token);
    match DEVICE_OF.lock().unwrap().get(token) {
        Some(d) => rb.header("X-Device-Token", d),
        None => rb,
    }
}

impl Req {
    /// The session token and its device's ([`signed`]).
    pub fn bearer(mut self, token: &str) -> Self {
        self.rb = signed(self.rb, token);
        self
    }
    /// `X-Device-Token: device`, when there is one.
    pub fn device(mut self, device: Option<&str>) -> Self {
        if let Some(d) = device {
            self.rb = self.rb.header("X-Device-Token", d);
        }
        self
    }
    /// The session token alone, without its device's.
    pub fn bearer_alone(mut self, token: &str) -> Self {
        self.rb = self.rb.bearer_auth(token);
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.rb = self.rb.header(k, v);
        self
    }
    pub fn json(mut self, v: &Value) -> Self {
        self.rb = self.rb.json(v);
        self
    }
    pub fn raw(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.rb = self.rb.header("Content-Type", content_type).body(body);
        self
    }
    pub async fn send(self) -> Resp {
        let r = self.rb.send().await.expect("request reaches the server");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
            content_type,
            headers,
        }
    }
}

/// Polls `f` until it is true, failing after `limit`; returns how long it took.
pub async fn within<F: std::future::Future<Output = bool>>(
    limit: Duration,
    what: &str,
    mut f: impl FnMut() -> F,
) -> Duration {
    let t0 = Instant::now();
    loop {
        if f().await {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Euro cents as the demo store (EUR, so de-DE) writes them: "1.234,50".
/// Written out here, not with the code under test.
pub fn euros(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let (whole, cents) = (minor.abs() / 100, minor.abs() % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped},{cents:02}")
}

pub fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A cash sale of `lines` (barcode, quantity in thousandths) paying `total` exactly.
pub fn cash_sale(lines: &[(&str, i64)], total: i64) -> Value {
    json!({
        "currency": "EUR",
        "lines": lines.iter().map(|(b, q)| json!({"barcode": b, "quantity_milli": q})).collect::<Vec<_>>(),
        "payments": [{"method": "cash", "amount_minor": total, "tendered_minor": total}],
    })
}
