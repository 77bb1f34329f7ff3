//! The edge as compose runs it: the images from `cargo xtask offline images`,
//! `compose.edge.yml` started with `docker compose` (or Debian's
//! docker-compose 1.29) under a project of its own, nothing pulled. Runs when
//! `OUTPOST_TEST_STACK=1` (scripts/test sets it once the images are built).

use crate::support::app::{App, cash_sale, free_port, key};
use crate::support::hub::Screen;
use outpost_domain::secrets::new_secret;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A compose project that is taken down (with its volumes) when dropped.
struct Stack {
    compose: Vec<String>,
    file: PathBuf,
    project: String,
    env_file: PathBuf,
    api_port: u16,
    hub_port: u16,
    /// The LAN's ports (TLS): the api's, the hub's, hw-proxy's.
    tls_port: u16,
    hub_tls_port: u16,
    hw_tls_port: u16,
    /// The mDNS port the edge's announcer answers on (its name: the
    /// project's).
    mdns_port: u16,
}

fn compose_cli() -> Vec<String> {
    let v2 = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if v2 {
        vec!["docker".into(), "compose".into()]
    } else {
        vec!["docker-compose".into()]
    }
}

impl Stack {
    /// `compose.<which>.yml` under a project of its own, with the .env that
    /// `env` writes (given the project name and the folder for its files).
    fn up(which: &str, env: impl FnOnce(&str, &std::path::Path) -> String) -> Stack {
        let s = Stack::prepare(which, env);
        let out = s.run(&["up", "-d"]);
        assert!(
            out.status.success(),
            "compose up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    /// The installed release's `compose.<which>.yml` (scripts/test loaded the
    /// bundle into `$OUTPOST_STATE_DIR`), started by `outpost-offline up`,
    /// which returns once every service is healthy.
    fn up_from_bundle(which: &str, env: impl FnOnce(&str, &std::path::Path) -> String) -> Stack {
        let state = std::env::var("OUTPOST_STATE_DIR")
            .expect("OUTPOST_STATE_DIR names where scripts/test installed the bundle");
        let mut s = Stack::prepare(which, env);
        s.file = PathBuf::from(state)
            .join("releases")
            .join(env!("CARGO_PKG_VERSION"))
            .join(format!("compose.{which}.yml"));
        // The host's tool from the bundle (scripts/test sets it), as an
        // air-gapped host runs it; `cargo xtask offline` when run by hand.
        let mut tool = match std::env::var_os("OUTPOST_OFFLINE_TOOL") {
            Some(t) => Command::new(t),
            None => {
                let mut c = Command::new("cargo");
                c.args(["xtask", "offline"])
                    .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."));
                c
            }
        };
        let out = tool
            .args(["up", which, "-p", &s.project, "--env-file"])
            .arg(&s.env_file)
            .output()
            .expect("the offline tool runs");
        assert!(
            out.status.success(),
            "offline up {which}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
        s
    }

    fn prepare(which: &str, env: impl FnOnce(&str, &std::path::Path) -> String) -> Stack {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let project = format!(
            "outpost-t-{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let dir = std::env::temp_dir().join(&project);
        std::fs::create_dir_all(&dir).unwrap();
        let (api_port, hub_port, tls_port, mdns_port) =
            (free_port(), free_port(), free_port(), free_port());
        let (hub_tls_port, hw_tls_port) = (free_port(), free_port());
        let env_file = dir.join(".env");
        let extra = env(&project, &dir);
        std::fs::write(
            &env_file,
            format!(
                "POSTGRES_PASSWORD={}\nPOSTGRES_APP_PASSWORD={}\nOUTPOST_REALTIME_SECRET={}\n\
                 OUTPOST_HW_TOKEN={}\n\
                 OUTPOST_DEMO=true\nOUTPOST_API_PORT={api_port}\nOUTPOST_API_TLS_PORT={tls_port}\n\
                 OUTPOST_HUB_PORT={hub_port}\nOUTPOST_HUB_TLS_PORT={hub_tls_port}\n\
                 OUTPOST_HW_TLS_PORT={hw_tls_port}\n\
                 OUTPOST_MDNS_NAME={project}\nOUTPOST_MDNS_PORT={mdns_port}\n{extra}",
                new_secret(),
                new_secret(),
                new_secret(),
                new_secret(),
            ),
        )
        .unwrap();
        Stack {
            compose: compose_cli(),
            file: root.join(format!("compose.{which}.yml")),
            project,
            env_file,
            api_port,
            hub_port,
            tls_port,
            hub_tls_port,
            hw_tls_port,
            mdns_port,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(&self.compose[0]);
        c.args(&self.compose[1..])
            .args(["-p", &self.project, "--env-file"])
            .arg(&self.env_file)
            .arg("-f")
            .arg(&self.file);
        c.args(args).output().expect("compose runs")
    }

    fn container(&self, service: &str) -> String {
        let out = self.run(&["ps", "-q", service]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn health(&self, service: &str) -> String {
        let out = Command::new("docker")
            .args([
                "inspect",
                "--format",
                "{{.State.Health.Status}}",
                &self.container(service),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Waits until every service's health check passes.
    fn healthy(&self, services: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(120);
        for s in services {
            while self.health(s) != "healthy" {
                if Instant::now() > deadline {
                    let logs = self.run(&["logs", "--tail", "30", s]);
                    panic!(
                        "{s} is {:?}: {}",
                        self.health(s),
                        String::from_utf8_lossy(&logs.stdout)
                    );
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }

    /// Pairs the tests as an office computer with a code made at the api's
    /// console: the host's requests reach the api through the compose
    /// network's gateway, not on the server's own screen.
    async fn office(&self, app: &App) {
        let out = self.run(&[
            "exec",
            "-T",
            "api",
            "outpost",
            "pairing-code",
            "--name",
            "Tests",
            "--by",
            "Maria Manager",
        ]);
        assert!(
            out.status.success(),
            "pairing-code: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let code = crate::support::app::printed_code(&String::from_utf8_lossy(&out.stdout));
        let r = app
            .req(reqwest::Method::POST, "/api/v1/pairing-codes/redeem")
            .json(&serde_json::json!({"code": code, "kind": "office"}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        crate::support::app::office_at(&app.base, r.body["token"].as_str().unwrap());
    }

    /// The LAN's ports (the api's, the hub's, hw-proxy's) serve the
    /// certificate the api made from the store's CA, and let in no client
    /// that does not trust it.
    async fn lan_is_tls_with_the_store_ca(&self, app: &App) {
        use crate::edge::lan_tls::{handshake, https, trusting};
        let ca_pem = app
            .http
            .get(format!("{}/api/v1/store/ca.crt", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let ca = https(&ca_pem);
        for port in [self.tls_port, self.hub_tls_port, self.hw_tls_port] {
            let r = ca
                .get(format!("https://127.0.0.1:{port}/health"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string());
            assert_eq!(r, Ok(200), "port {port}");
            let refused = handshake(port, rustls::RootCertStore::empty()).await;
            assert!(
                refused.is_err(),
                "port {port} let in a client without the CA"
            );
            assert!(handshake(port, trusting(&ca_pem)).await.is_ok());
        }
    }

    /// The api on its published port, with the demo PINs.
    fn app(&self) -> App {
        App {
            child: None,
            base: format!("http://127.0.0.1:{}", self.api_port),
            hub_port: Some(self.hub_port),
            hub_tls_port: Some(self.hub_tls_port),
            tls_base: Some(format!("https://127.0.0.1:{}", self.tls_port)),
            pins: self.pins(),
            http: crate::support::client()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// Runs `sql` in the stack's PostgreSQL; its rows, one per line.
    fn psql(&self, sql: &str) -> String {
        self.try_psql(sql).unwrap_or_else(|e| panic!("psql: {e}"))
    }

    /// Runs `sql` in the stack's PostgreSQL: its rows, or its error.
    fn try_psql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("docker")
            .args(["exec", &self.container("postgres")])
            .args([
                "psql",
                "-U",
                "postgres",
                "-d",
                "outpost",
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ])
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The demo PINs the api printed on its first start.
    fn pins(&self) -> HashMap<String, String> {
        let logs = self.run(&["logs", "--no-color", "api"]);
        String::from_utf8_lossy(&logs.stdout)
            .lines()
            .filter_map(|l| l.split_once("demo staff: ").map(|(_, r)| r.to_owned()))
            .filter_map(|r| {
                let (name, pin) = r.split_once(" PIN ")?;
                let name = name.rsplit_once(" (").map(|(n, _)| n).unwrap_or(name);
                Some((name.to_owned(), pin.trim().to_owned()))
            })
            .collect()
    }
}

/// `outpost virtual-printer` in a container on a stack's network, named
/// `<project>-printer`, its control port published on the host.
struct VirtualPrinterContainer {
    name: String,
}

impl VirtualPrinterContainer {
    fn start(stack: &Stack, control: u16) -> VirtualPrinterContainer {
        let name = format!("{}-printer", stack.project);
        let image =
            std::env::var("OUTPOST_IMAGE").unwrap_or_else(|_| "outpost/outpost:0.1.0".into());
        let out = Command::new("docker")
            .args(["run", "-d", "--name", &name, "--network"])
            .arg(format!("{}_default", stack.project))
            .arg("-p")
            .arg(format!("127.0.0.1:{control}:9101"))
            .args([
                &image,
                "virtual-printer",
                "--listen",
                "0.0.0.0:9100",
                "--control",
                "0.0.0.0:9101",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker run the virtual printer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        VirtualPrinterContainer { name }
    }
}

impl Drop for VirtualPrinterContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--remove-orphans"]);
        if let Some(d) = self.env_file.parent() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The cloud stack's .env for `Stack::up*`: a private CA and a server
/// certificate for `host` in `<dir>/certs`, the metrics token, the ports.
fn cloud_env(
    host: &str,
    token: &str,
    sync_port: u16,
    admin_port: u16,
    admin_tls_port: u16,
) -> impl FnOnce(&str, &std::path::Path) -> String {
    move |project, dir| {
        let certs = dir.join("certs");
        let ok = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(["cloud", "certs", "--out"])
            .arg(&certs)
            .args(["--host", host])
            .output()
            .unwrap();
        assert!(ok.status.success());
        // The api's folder holds no key that could sign a certificate.
        assert!(!certs.join("ca.key").exists());
        // The container runs as uid 10001: it must be able to read the key.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            certs.join("server.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        format!(
            "RABBITMQ_PASSWORD=mq-{project}\nOUTPOST_METRICS_TOKEN={token}\nOUTPOST_CERTS_DIR={}\n\
             POSTGRES_API_PASSWORD={}\nPOSTGRES_WORKER_PASSWORD={}\n\
             OUTPOST_SYNC_PORT={sync_port}\nOUTPOST_ADMIN_PORT={admin_port}\n\
             OUTPOST_ADMIN_TLS_PORT={admin_tls_port}\n",
            certs.display(),
            new_secret(),
            new_secret(),
        )
    }
}

impl Stack {
    /// A store added to this cloud stack; its sync credential.
    fn store_add(&self, id: &str, code: &str) -> String {
        let out = self.run(&[
            "exec",
            "-T",
            "api",
            "outpost",
            "cloud",
            "store-add",
            "--id",
            id,
            "--code",
            code,
            "--name",
            "Stack",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// An owner account in the cloud and its API token (`outpost cloud
    /// admin-add` and `admin-token` in the api's container).
    fn owner_token(&self) -> String {
        let add = self.run(&[
            "exec",
            "-T",
            "-e",
            "OUTPOST_ADMIN_PASSWORD=a long test password",
            "api",
            "outpost",
            "cloud",
            "admin-add",
            "--name",
            "Ops",
            "--role",
            "owner",
        ]);
        assert!(
            add.status.success(),
            "{}",
            String::from_utf8_lossy(&add.stderr)
        );
        let out = self.run(&[
            "exec",
            "-T",
            "api",
            "outpost",
            "cloud",
            "admin-token",
            "--name",
            "Ops",
            "--label",
            "tests",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn certs(&self) -> PathBuf {
        self.env_file.parent().unwrap().join("certs")
    }
}

fn stack_tests_enabled() -> bool {
    if std::env::var("OUTPOST_TEST_STACK").as_deref() != Ok("1") {
        eprintln!(
            "\n*** SKIPPED a compose stack test: OUTPOST_TEST_STACK is not 1 (scripts/test sets it when a Docker engine answers) ***\n"
        );
        return false;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_edge_sells_shows_the_kitchen_and_survives_an_api_sigkill() {
    if !stack_tests_enabled() {
        return;
    }
    let (hw_port, printer_control) = (free_port(), free_port());
    let stack = Stack::up("edge", |project, dir| {
        // hw-proxy's printers: a virtual printer in a container of its own on
        // the stack's network (started below, once compose made the network).
        let hw = dir.join("hw");
        std::fs::create_dir_all(&hw).unwrap();
        std::fs::write(
            hw.join("printers.toml"),
            format!("[[printers]]\nid = \"front\"\naddress = \"tcp://{project}-printer:9100\"\n"),
        )
        .unwrap();
        format!(
            "OUTPOST_HW_PORT={hw_port}\nOUTPOST_HW_DIR={}\n",
            hw.display()
        )
    });
    let printer = VirtualPrinterContainer::start(&stack, printer_control);
    let all = [
        "postgres",
        "redis",
        "api",
        "realtime-hub",
        "sync-worker",
        "hw-proxy",
    ];
    stack.healthy(&all);
    // The migrate step made the services' role; they connect as it, and it
    // may read and write but not change the schema or reach the server's
    // files.
    let users = stack.psql(
        "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity \
         WHERE datname = 'outpost' AND pid <> pg_backend_pid()",
    );
    assert_eq!(users, "outpost_app");
    for sql in [
        "CREATE TABLE intruder (x int)",
        "DROP TABLE orders",
        "COPY orders TO '/tmp/orders.csv'",
        "DELETE FROM __diesel_schema_migrations",
    ] {
        let e = stack
            .try_psql(&format!("SET ROLE outpost_app; {sql}"))
            .expect_err(sql);
        assert!(
            e.contains("permission denied") || e.contains("must be"),
            "{sql}: {e}"
        );
    }
    let app = stack.app();
    // The host is not the server's own screen: a manager there gets a
    // pair-first refusal until this computer is paired.
    app.req(reqwest::Method::GET, "/api/v1/login-staff")
        .send()
        .await
        .assert_problem(403);
    stack.office(&app).await;
    assert!(
        app.pins.contains_key("Maria Manager"),
        "{:?}",
        app.pins.keys()
    );
    let h = app.get("/health", "").await;
    assert_eq!(h.body["components"]["database"]["backend"], "postgres");
    assert_eq!(h.body["components"]["realtime"]["backend"], "redis");
    stack.lan_is_tls_with_the_store_ca(&app).await;
    // The announcer, on the host's network, answers for the edge's name.
    let name = format!("{}.local", stack.project);
    let found = outpost_register::mdns::Resolver::new(stack.mdns_port, Duration::from_secs(3))
        .lookup(&name)
        .await;
    assert!(
        found.as_ref().is_ok_and(|ips| !ips.is_empty()),
        "{name} over mDNS: {found:?}"
    );

    let till = app.register("Till 1").await;
    let kds = app.display(&till.manager, "Kitchen").await;
    let mut screen = Screen::connect(stack.hub_port, &app.ticket(&kds).await)
        .await
        .unwrap();
    screen.subscribe("kitchen").await;
    let at = screen.at["kitchen"].1;
    let (code, _, price) = app.barcode(&till.cashier, "Espresso").await;
    let sale = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&code, 1000)], price))
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    screen
        .until("kitchen", at + 1, Duration::from_secs(20))
        .await;
    assert_eq!(
        screen.events.last().unwrap()["data"]["order_id"],
        sale.body["id"]
    );

    // The sale's receipt: the api hands it to hw-proxy's PrintService, which
    // prints it from its queue on a volume to the printer it reaches by name
    // on the stack's network; cash, so the drawer opens too.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: serde_json::Value = match app
            .http
            .get(format!("http://127.0.0.1:{printer_control}/jobs"))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        if v["jobs"][0]["page"]["barcodes"][0] == sale.body["number"] {
            assert_eq!(v["jobs"][0]["page"]["drawer_kicks"], 2, "{v}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sale's receipt never reached the printer: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(printer);

    // The api process dies with SIGKILL (sent from the host, as the OOM killer
    // or a crash would end it — `docker kill` would count as a deliberate
    // stop): its restart policy brings it back by itself, healthy, and the
    // acknowledged sale is still there.
    let api = stack.container("api");
    let pid = Command::new("docker")
        .args(["inspect", "--format", "{{.State.Pid}}", &api])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&pid.stdout).trim().to_owned();
    let k = Command::new("kill").args(["-9", &pid]).status().unwrap();
    assert!(k.success(), "kill -9 {pid}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while stack.health("api") == "healthy" {
        assert!(Instant::now() < deadline, "the api never went down");
        std::thread::sleep(Duration::from_millis(100));
    }
    let t0 = Instant::now();
    stack.healthy(&["api"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let order = loop {
        let r = app
            .get(
                &format!("/api/v1/orders/{}", sale.body["id"].as_str().unwrap()),
                &till.cashier,
            )
            .await;
        if r.status == 200 {
            break r;
        }
        assert!(Instant::now() < deadline, "api never came back: {}", r.body);
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(order.body["total_minor"], json!(price));
    eprintln!("api back and healthy {:?} after SIGKILL", t0.elapsed());
}

/// The cloud as compose runs it: PostgreSQL, RabbitMQ, the cloud api and
/// sync-worker in containers; a store (the edge on this host) pushes to the
/// published SyncService over TLS and its sales land in the central database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_cloud_receives_a_stores_sales() {
    if !stack_tests_enabled() {
        return;
    }
    let (sync_port, admin_port, admin_tls_port) = (free_port(), free_port(), free_port());
    let token = &new_secret();
    let stack = Stack::up(
        "cloud",
        cloud_env("localhost", token, sync_port, admin_port, admin_tls_port),
    );
    stack.healthy(&["postgres", "rabbitmq", "api", "sync-worker"]);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = stack.store_add(&store_id, "S01");
    let certs = stack.certs();
    let owner = stack.owner_token();
    // The admin for the internet is TLS (here with the SyncService's
    // certificate from the cloud's CA); a client without the CA is refused.
    let ca = std::fs::read_to_string(certs.join("ca.pem")).unwrap();
    let health = crate::edge::lan_tls::https(&ca)
        .get(format!("https://localhost:{admin_tls_port}/health"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string());
    assert_eq!(health, Ok(200));
    assert!(
        crate::edge::lan_tls::handshake(admin_tls_port, rustls::RootCertStore::empty())
            .await
            .is_err()
    );

    let store = crate::support::app::Store::new(crate::support::app::Backend::Sqlite);
    let env = vec![
        (
            "OUTPOST__SYNC__CLOUD_URL",
            format!("https://localhost:{sync_port}"),
        ),
        ("OUTPOST__SYNC__CREDENTIAL", credential),
        (
            "OUTPOST__SYNC__CA_FILE",
            certs.join("ca.pem").to_string_lossy().into_owned(),
        ),
        ("OUTPOST__SYNC__BACKOFF_MAX_MS", "500".to_owned()),
    ];
    let app = crate::support::app::spawn_opts(
        &store,
        &crate::support::app::Opts {
            env,
            ..Default::default()
        },
    );
    let till = app.register("Till 1").await;
    let (code, _, price) = app.barcode(&till.cashier, "Espresso").await;
    for _ in 0..5 {
        let r = app
            .sell(&till.cashier, &key(), &cash_sale(&[(&code, 1000)], price))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let http = crate::support::client().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let stores: serde_json::Value = http
            .get(format!("http://127.0.0.1:{admin_port}/api/v1/stores"))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let applied = stores[0]["streams"]
            .as_array()
            .and_then(|s| s.iter().find(|x| x["stream"] == "sales"))
            .and_then(|s| s["applied"].as_i64())
            .unwrap_or(0);
        if applied >= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sales never reached the cloud: {stores}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let h = app.get("/health", "").await;
    assert_eq!(h.body["components"]["sync"]["online"], true, "{}", h.body);
}

/// A docker network standing for the internet between a store and the cloud,
/// removed when dropped (letting go of any container still on it).
struct Wan {
    name: String,
}

impl Wan {
    fn create(name: String) -> Wan {
        let out = Command::new("docker")
            .args(["network", "create", &name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker network create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Wan { name }
    }

    fn connect(&self, container: &str, alias: Option<&str>) {
        let mut c = Command::new("docker");
        c.args(["network", "connect"]);
        if let Some(a) = alias {
            c.args(["--alias", a]);
        }
        let out = c.args([&self.name, container]).output().unwrap();
        assert!(
            out.status.success(),
            "docker network connect: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn disconnect(&self, container: &str) {
        let out = Command::new("docker")
            .args(["network", "disconnect", &self.name, container])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker network disconnect: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Wan {
    fn drop(&mut self) {
        // Containers of a stack still up are let go first.
        if let Ok(out) = Command::new("docker")
            .args([
                "network",
                "inspect",
                "--format",
                "{{range .Containers}}{{.Name}} {{end}}",
                &self.name,
            ])
            .output()
        {
            for c in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("docker")
                    .args(["network", "disconnect", "-f", &self.name, c])
                    .output();
            }
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.name])
            .output();
    }
}

/// The air-gapped install end to end: both stacks from the bundle that
/// scripts/test loaded into an engine holding none of our images (it removed
/// every one first), started by `outpost-offline up`. The store sells on
/// its LAN port, its sales reach the cloud's database; the link between them
/// is cut (the cloud api leaves the "internet" network) while the store keeps
/// selling, then restored: every sale is in the cloud exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_stacks_sync_every_sale_exactly_once_across_a_cut_link() {
    if !stack_tests_enabled() {
        return;
    }
    let token = &new_secret();
    let (sync_port, admin_port, admin_tls_port) = (free_port(), free_port(), free_port());
    let cloud = Stack::up_from_bundle(
        "cloud",
        cloud_env("cloud", token, sync_port, admin_port, admin_tls_port),
    );
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.store_add(&store_id, "S07");
    let certs_dir = cloud.certs();
    let wan = Wan::create(format!("{}-wan", cloud.project));
    let cloud_api = cloud.container("api");
    wan.connect(&cloud_api, Some("cloud"));

    let hw_port = free_port();
    let edge = Stack::up_from_bundle("edge", |_, dir| {
        // The store trusts the cloud's CA only (not its server key).
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(certs_dir.join("ca.pem"), certs.join("ca.pem")).unwrap();
        let hw = dir.join("hw");
        std::fs::create_dir_all(&hw).unwrap();
        std::fs::write(
            hw.join("printers.toml"),
            "[[printers]]\nid = \"front\"\naddress = \"tcp://127.0.0.1:9\"\n",
        )
        .unwrap();
        format!(
            "OUTPOST_STORE_CODE=S07\nOUTPOST_CLOUD_URL=https://cloud:7443\n\
             OUTPOST_SYNC_CREDENTIAL={credential}\nOUTPOST_SYNC_CA_FILE=/etc/outpost/certs/ca.pem\n\
             OUTPOST_CERTS_DIR={}\nOUTPOST_SYNC_BACKOFF_MAX_MS=1000\nOUTPOST_PRINT_URL=\n\
             OUTPOST_HW_PORT={hw_port}\nOUTPOST_HW_DIR={}\n",
            certs.display(),
            hw.display()
        )
    });
    wan.connect(&edge.container("sync-worker"), None);

    let app = edge.app();
    edge.office(&app).await;
    let till = app.register("Till 1").await;
    let (code, _, price) = app.barcode(&till.cashier, "Espresso").await;
    let mut sold = std::collections::BTreeSet::new();
    let mut sell = async |n: usize| {
        for _ in 0..n {
            let r = app
                .sell(&till.cashier, &key(), &cash_sale(&[(&code, 1000)], price))
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            sold.insert(r.body["id"].as_str().unwrap().to_owned());
        }
    };
    let in_cloud = |cloud: &Stack| {
        let ids = cloud.psql(&format!(
            "SELECT id FROM orders WHERE store_id = '{store_id}' ORDER BY id"
        ));
        ids.lines()
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let until_in_cloud = |cloud: &Stack, want: usize| {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let got = in_cloud(cloud);
            if got.len() >= want {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {want} sales reached the cloud; edge sync-worker: {}",
                got.len(),
                String::from_utf8_lossy(&edge.run(&["logs", "--tail", "20", "sync-worker"]).stdout)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };

    sell(5).await;
    until_in_cloud(&cloud, 5);

    // The link goes down; the store keeps selling.
    wan.disconnect(&cloud_api);
    sell(10).await;
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(in_cloud(&cloud).len(), 5, "the cut did not cut");

    wan.connect(&cloud_api, Some("cloud"));
    let got = until_in_cloud(&cloud, 15);
    assert_eq!(got, sold, "the cloud holds exactly the store's sales");
    let numbers = cloud.psql(&format!(
        "SELECT count(*), count(DISTINCT number) FROM orders WHERE store_id = '{store_id}'"
    ));
    assert_eq!(numbers, "15|15");
}
