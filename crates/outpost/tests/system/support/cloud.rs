//! A real cloud for sync tests: a private RabbitMQ broker per test, a fresh
//! central PostgreSQL database, and the `outpost cloud serve` and
//! `outpost sync-worker --mode cloud` processes, with a private CA.

use crate::support::app::{App, Opts, Store, Till, cash_sale, free_port, key, spawn_opts};
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_outpost")
}

/// A RabbitMQ node of this test's own (its own ports and data folder), so a
/// test can restart it without touching anyone else.
pub struct Rabbit {
    pub dir: PathBuf,
    pub port: u16,
    dist_port: u16,
    child: Option<Child>,
}

impl Rabbit {
    pub fn start() -> Rabbit {
        let dir = std::env::temp_dir().join(format!("outpost-rmq-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        let mut r = Rabbit {
            dir,
            port: free_port(),
            dist_port: free_port(),
            child: None,
        };
        std::fs::write(
            r.dir.join("rabbitmq.conf"),
            format!("listeners.tcp.default = 127.0.0.1:{}\n", r.port),
        )
        .unwrap();
        r.boot();
        r
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn boot(&mut self) {
        // The real script, not /usr/sbin/rabbitmq-server: that wrapper switches
        // to the rabbitmq user, who cannot write this test's folder.
        let script = "/usr/lib/rabbitmq/bin/rabbitmq-server";
        assert!(
            Path::new(script).exists(),
            "sync tests need RabbitMQ (apt-get install rabbitmq-server; scripts/test does)"
        );
        let d = &self.dir;
        let node = format!("outpost{}@localhost", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("server.log"))
            .unwrap();
        let child = Command::new(script)
            .env("HOME", d)
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .env("RABBITMQ_LOGS", "-")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start rabbitmq-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "RabbitMQ did not start within 90 s; see {}",
                d.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the node (its whole process group) hard.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_kill_group(c.id());
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "RabbitMQ did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops (SIGSTOP) or continues (SIGCONT) the whole node: a broker that
    /// still holds its connections open and answers nothing.
    pub fn freeze(&self, frozen: bool) {
        let pid = self.child.as_ref().expect("a running node").id();
        let sig = if frozen { "-STOP" } else { "-CONT" };
        let st = Command::new("kill")
            .args([sig, "--", &format!("-{pid}")])
            .status()
            .unwrap();
        assert!(st.success(), "kill {sig}");
    }

    /// Kills the node and starts it again on the same data (messages on disk
    /// survive, as they must).
    pub fn restart(&mut self) {
        self.kill();
        self.boot();
    }
}

/// SIGKILL to a process group, through the `kill` command (no unsafe code).
fn unsafe_kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            unsafe_kill_group(c.id());
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The password of the owner account every test cloud has.
pub const OWNER_PASSWORD: &str = "correct horse battery staple";

/// The cloud's processes and database.
pub struct Cloud {
    pub db_url: String,
    pub certs: PathBuf,
    pub sync_port: u16,
    pub admin_port: u16,
    pub amqp_url: String,
    /// An owner account's API token (the account `Olga Owner`, password
    /// [`OWNER_PASSWORD`]).
    pub admin_token: String,
    /// Prometheus's token for /metrics.
    pub metrics_token: String,
    /// The database URLs the api and the worker use when they run as roles
    /// of their own (as every test cloud does, [`Cloud::start_with`]).
    pub role_urls: Option<(String, String)>,
    pub api: Option<Child>,
    pub workers: Vec<Child>,
    /// Settings for every cloud process this test changed.
    env: Vec<(&'static str, String)>,
    /// What the cloud's processes logged (warnings and errors, JSON lines).
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Cloud {
    pub fn start(rabbit: &Rabbit) -> Cloud {
        Cloud::start_with(rabbit, &[])
    }

    /// A cloud whose processes run with `env` on top of the test settings.
    /// Its api and worker connect as roles of their own, made by `outpost
    /// cloud migrate`, as under compose: every test through the cloud runs
    /// on the rights those roles are given.
    pub fn start_with(rabbit: &Rabbit, env: &[(&'static str, &str)]) -> Cloud {
        Cloud::start_opts(rabbit, env, true)
    }

    fn start_opts(rabbit: &Rabbit, env: &[(&'static str, &str)], roles: bool) -> Cloud {
        let admin = std::env::var("OUTPOST_TEST_PG").expect(
            "sync tests need OUTPOST_TEST_PG=postgres://user:pass@127.0.0.1:5432 (scripts/test sets it up)",
        );
        let name = format!("outpost_t_{}", uuid::Uuid::now_v7().simple());
        let mut c = PgConnection::establish(&format!("{admin}/postgres")).unwrap();
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .unwrap();
        let certs = std::env::temp_dir().join(format!("outpost-certs-{}", uuid::Uuid::now_v7()));
        let st = Command::new(exe())
            .args(["cloud", "certs", "--out"])
            .arg(&certs)
            .args(["--host", "localhost", "--host", "127.0.0.1"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "outpost cloud certs");
        let mut cloud = Cloud {
            db_url: format!("{admin}/{name}"),
            certs,
            sync_port: free_port(),
            admin_port: free_port(),
            amqp_url: rabbit.url(),
            admin_token: String::new(),
            metrics_token: outpost_domain::secrets::new_secret(),
            role_urls: None,
            api: None,
            workers: Vec::new(),
            env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            logs: Default::default(),
        };
        cloud.admin_add("Olga Owner", "owner", &[], OWNER_PASSWORD);
        cloud.admin_token = cloud.api_token("Olga Owner");
        if roles {
            // As compose runs it: `outpost cloud migrate` as the owner
            // makes the services' roles; they connect as those, and do not
            // migrate.
            let (api_pw, worker_pw) = (
                outpost_domain::secrets::new_secret(),
                outpost_domain::secrets::new_secret(),
            );
            let out = cloud
                .command(&["cloud", "migrate"])
                .env("OUTPOST__CLOUD__API_DB_PASSWORD", &api_pw)
                .env("OUTPOST__CLOUD__WORKER_DB_PASSWORD", &worker_pw)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "outpost cloud migrate: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (server, db) = cloud
                .db_url
                .split_once('@')
                .unwrap()
                .1
                .split_once('/')
                .unwrap();
            let url = |role: &str, pw: &str| format!("postgres://{db}_{role}:{pw}@{server}/{db}");
            cloud.role_urls = Some((url("api", &api_pw), url("worker", &worker_pw)));
            cloud
                .env
                .push(("OUTPOST__CLOUD__MIGRATE_ON_START", "false".into()));
        }
        cloud.start_api();
        cloud.start_worker();
        cloud
    }

    /// `outpost cloud admin-add`, the password on stdin.
    pub fn admin_add(&self, name: &str, role: &str, stores: &[&str], password: &str) {
        use std::io::Write;
        let mut cmd = self.command(&["cloud", "admin-add", "--name", name, "--role", role]);
        for s in stores {
            cmd.args(["--store", s]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        assert!(
            child.wait().unwrap().success(),
            "outpost cloud admin-add {name}"
        );
    }

    /// `outpost cloud admin-token` for the account `name`.
    pub fn api_token(&self, name: &str) -> String {
        let out = self
            .command(&["cloud", "admin-token", "--name", name, "--label", "tests"])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "outpost cloud admin-token {name}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Runs `outpost ARGS` at the cloud's console with `stdin` as its input;
    /// whether it succeeded, and what it printed (stdout, then stderr).
    pub fn console(&self, args: &[&str], stdin: &str) -> (bool, String) {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{stdin}").unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(exe());
        cmd.args(args)
            .env("OUTPOST__CLOUD__DATABASE_URL", &self.db_url)
            .env("OUTPOST__CLOUD__AMQP_URL", &self.amqp_url)
            .env("OUTPOST__CLOUD__SYNC_HOST", "127.0.0.1")
            .env("OUTPOST__CLOUD__SYNC_PORT", self.sync_port.to_string())
            .env("OUTPOST__CLOUD__ADMIN_PORT", self.admin_port.to_string())
            .env("OUTPOST__CLOUD__METRICS_TOKEN", &self.metrics_token)
            .env("OUTPOST__CLOUD__WORKER_PORT", "0")
            .env("OUTPOST__CLOUD__TLS_CERT", self.certs.join("server.pem"))
            .env("OUTPOST__CLOUD__TLS_KEY", self.certs.join("server.key"))
            .env("OUTPOST__LOG__FORMAT", "json")
            .env("OUTPOST__LOG__FILTER", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Keeps what `child` writes to stderr in `logs` (and passes it on).
    fn keep_logs(&self, child: &mut Child) {
        let err = child.stderr.take().unwrap();
        let logs = self.logs.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("{l}");
                logs.lock().unwrap().push(l);
            }
        });
    }

    /// Log lines of the cloud's processes that contain every one of `words`.
    pub fn logged(&self, words: &[&str]) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .cloned()
            .collect()
    }

    /// Starts `outpost cloud serve` and waits until the sync port listens.
    pub fn start_api(&mut self) {
        let mut cmd = self.command(&["cloud", "serve"]);
        if let Some((api, _)) = &self.role_urls {
            cmd.env("OUTPOST__CLOUD__DATABASE_URL", api);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.keep_logs(&mut child);
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        loop {
            let l = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the cloud api did not start within 60 s");
            if l.starts_with("Outpost cloud: SyncService") {
                break;
            }
        }
        self.api = Some(child);
    }

    pub fn kill_api(&mut self) {
        if let Some(mut c) = self.api.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Starts one more cloud sync-worker.
    pub fn start_worker(&mut self) {
        let mut cmd = self.command(&["sync-worker", "--mode", "cloud"]);
        if let Some((_, worker)) = &self.role_urls {
            cmd.env("OUTPOST__CLOUD__DATABASE_URL", worker);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.keep_logs(&mut child);
        self.workers.push(child);
    }

    /// SIGKILLs every cloud sync-worker.
    pub fn kill_workers(&mut self) {
        for mut c in self.workers.drain(..) {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Runs `outpost cloud ARGS…` against this cloud; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut all = vec!["cloud"];
        all.extend_from_slice(args);
        let out = self.command(&all).output().unwrap();
        assert!(
            out.status.success(),
            "outpost {all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Registers a store under `id` and returns its credential.
    pub fn add_store(&self, id: &str, code: &str) -> String {
        let out = self
            .command(&[
                "cloud",
                "store-add",
                "--id",
                id,
                "--code",
                code,
                "--name",
                code,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// The edge settings that make a store push to this cloud.
    pub fn edge_env(&self, credential: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "OUTPOST__SYNC__CLOUD_URL",
                format!("https://localhost:{}", self.sync_port),
            ),
            ("OUTPOST__SYNC__CREDENTIAL", credential.to_owned()),
            (
                "OUTPOST__SYNC__CA_FILE",
                self.certs.join("ca.pem").to_string_lossy().into_owned(),
            ),
            ("OUTPOST__SYNC__BACKOFF_MIN_MS", "50".into()),
            ("OUTPOST__SYNC__BACKOFF_MAX_MS", "500".into()),
            ("OUTPOST__SYNC__INTERVAL_MS", "50".into()),
            ("OUTPOST__SYNC__PULL_INTERVAL_MS", "200".into()),
        ]
    }

    pub fn pg(&self) -> PgConnection {
        PgConnection::establish(&self.db_url).unwrap()
    }

    /// One number from the central database.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let r: N = diesel::sql_query(sql).get_result(&mut self.pg()).unwrap();
        r.n
    }

    /// Waits until `sql` (a count) reaches `want`, failing with the last
    /// figure after `secs`.
    pub async fn wait_count(&self, sql: &str, want: i64, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let n = self.count(sql);
            if n == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{sql}: {n}, expected {want} within {secs} s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.kill_api();
        self.kill_workers();
        let _ = std::fs::remove_dir_all(&self.certs);
    }
}

/// What the proxy does with the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Bytes flow both ways.
    Up,
    /// Every connection is closed, and new ones are closed at once: the
    /// cloud going away cleanly.
    Cut,
    /// Nothing flows and nothing is closed: open connections go silent for
    /// good (their bytes are lost), new ones are accepted and never
    /// answered — a NAT that dropped its state, a captive portal, a
    /// half-dead load balancer.
    Blackhole,
}

/// A TCP proxy in front of the cloud's sync port that the test controls:
/// the internet going away in its several shapes while the cloud itself
/// keeps running.
pub struct Proxy {
    pub port: u16,
    link: tokio::sync::watch::Sender<Link>,
    /// Connections accepted, whatever became of them.
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: u16) -> Proxy {
        Proxy::start_as(upstream, Link::Up).await
    }

    pub async fn start_as(upstream: u16, link: Link) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::watch::channel(link);
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        let accept = tokio::spawn(async move {
            let mut held = Vec::new(); // blackholed sockets, kept open and silent
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                match *rx.borrow() {
                    Link::Cut => continue, // dropped: closed at once
                    Link::Blackhole => {
                        held.push(inbound);
                        continue;
                    }
                    Link::Up => {}
                }
                tokio::spawn(forward(inbound, upstream, rx.clone()));
            }
        });
        Proxy {
            port,
            link: tx,
            accepted,
            accept,
        }
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }

    pub fn cut(&self) {
        self.set(Link::Cut);
    }

    pub fn blackhole(&self) {
        self.set(Link::Blackhole);
    }

    pub fn restore(&self) {
        self.set(Link::Up);
    }
}

/// Copies both ways until the link leaves `Up`: a cut closes both sides, a
/// blackhole keeps them open and copies nothing ever again.
async fn forward(
    mut inbound: tokio::net::TcpStream,
    upstream: u16,
    mut link: tokio::sync::watch::Receiver<Link>,
) {
    let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let changed = async {
        loop {
            if link.changed().await.is_err() {
                return Link::Cut;
            }
            let now = *link.borrow();
            if now != Link::Up {
                return now;
            }
        }
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
        now = changed => {
            if now == Link::Blackhole {
                // Silent for good: hold both ends until the proxy goes.
                let _ = link.wait_for(|_| false).await;
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

impl Cloud {
    /// Edge settings that reach the cloud through `proxy`.
    pub fn edge_env_via(&self, credential: &str, proxy: &Proxy) -> Vec<(&'static str, String)> {
        let mut env = self.edge_env(credential);
        env[0].1 = format!("https://localhost:{}", proxy.port);
        env
    }

    /// An admin GET (with the token when `auth`): status and body text.
    pub async fn admin_get(&self, path: &str, auth: bool) -> (u16, String) {
        let mut r = crate::support::client()
            .build()
            .unwrap()
            .get(format!("http://127.0.0.1:{}{path}", self.admin_port));
        if auth {
            r = r.bearer_auth(&self.admin_token);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// An admin API call to the cloud, as the owner.
    pub async fn admin_post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.admin_post_as(&self.admin_token, path, body).await
    }

    /// An admin API call to the cloud with an account's API `token`.
    pub async fn admin_post_as(
        &self,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = crate::support::client()
            .build()
            .unwrap()
            .post(format!("http://127.0.0.1:{}{path}", self.admin_port))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or_default())
    }
}

/// An edge set up as the store `id` and pushing to `cloud`.
pub(crate) fn edge(
    store: &Store,
    cloud: &Cloud,
    credential: &str,
    extra: &[(&'static str, String)],
) -> App {
    let mut env = cloud.edge_env(credential);
    env.extend(extra.iter().cloned());
    spawn_opts(
        store,
        &Opts {
            env,
            ..Opts::default()
        },
    )
}

/// Sells `n` cash sales of one espresso; returns their totals.
pub(crate) async fn sell_n(app: &App, till: &Till, n: usize) -> Vec<i64> {
    let (espresso, _, price) = app.barcode(&till.cashier, "Espresso").await;
    let mut totals = Vec::with_capacity(n);
    for i in 0..n {
        let qty = 1000 * (1 + (i as i64 % 3));
        let r = app
            .sell(
                &till.cashier,
                &key(),
                &cash_sale(&[(&espresso, qty)], price * (qty / 1000)),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        totals.push(r.body["total_minor"].as_i64().unwrap());
    }
    totals
}

/// Waits until the cloud has applied every stream of the edge up to its head
/// (the stream marks of the store's current epoch). Returns the events.
pub(crate) async fn converged(
    app: &App,
    manager: &str,
    cloud: &Cloud,
    store_id: &str,
    secs: u64,
) -> i64 {
    let streams = app.relayed(manager).await;
    let mut total = 0;
    for (stream, head) in streams.as_object().unwrap() {
        let head = head.as_i64().unwrap_or(0);
        total += head;
        cloud
            .wait_count(
                &format!(
                    "SELECT COALESCE(max(position), 0) AS n FROM stream_marks \
                     WHERE store_id = '{store_id}' AND stream = '{stream}'"
                ),
                head,
                secs,
            )
            .await;
    }
    total
}

pub(crate) async fn health(app: &App) -> serde_json::Value {
    app.req(reqwest::Method::GET, "/health").send().await.body
}
