//! The edge as compose runs it: the images from `cargo xtask offline images`,
//! `compose.edge.yml` started with `docker compose` (or Debian's
//! docker-compose 1.29) under a project of its own, nothing pulled. Runs when
//! `OUTPOST_TEST_STACK=1` (scripts/test sets it once the images are built).

use crate::helpers::{App, cash_sale, free_port, key};
use crate::screens::Screen;
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
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let project = format!(
            "outpost-t-{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let dir = std::env::temp_dir().join(&project);
        std::fs::create_dir_all(&dir).unwrap();
        let (api_port, hub_port) = (free_port(), free_port());
        let env_file = dir.join(".env");
        let extra = env(&project, &dir);
        std::fs::write(
            &env_file,
            format!(
                "POSTGRES_PASSWORD=pw-{project}\nOUTPOST_REALTIME_SECRET=secret-{project}-0123456789\n\
                 OUTPOST_DEMO=true\nOUTPOST_API_PORT={api_port}\nOUTPOST_HUB_PORT={hub_port}\n{extra}"
            ),
        )
        .unwrap();
        let s = Stack {
            compose: compose_cli(),
            file: root.join(format!("compose.{which}.yml")),
            project,
            env_file,
            api_port,
            hub_port,
        };
        let out = s.run(&["up", "-d"]);
        assert!(
            out.status.success(),
            "compose up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
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
    let app = App {
        child: None,
        base: format!("http://127.0.0.1:{}", stack.api_port),
        hub_port: Some(stack.hub_port),
        pins: stack.pins(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };
    assert!(
        app.pins.contains_key("Maria Manager"),
        "{:?}",
        app.pins.keys()
    );
    let h = app.get("/health", "").await;
    assert_eq!(h.body["components"]["database"]["backend"], "postgres");
    assert_eq!(h.body["components"]["realtime"]["backend"], "redis");

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
    let (sync_port, admin_port) = (free_port(), free_port());
    let token = "admin-token-for-the-stack-test";
    let stack = Stack::up("cloud", |project, dir| {
        let certs = dir.join("certs");
        let ok = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(["cloud", "certs", "--out"])
            .arg(&certs)
            .args(["--host", "localhost"])
            .output()
            .unwrap();
        assert!(ok.status.success());
        // The container runs as uid 10001: it must be able to read the key.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            certs.join("server.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        format!(
            "RABBITMQ_PASSWORD=mq-{project}\nOUTPOST_ADMIN_TOKEN={token}\nOUTPOST_CERTS_DIR={}\n\
             OUTPOST_SYNC_PORT={sync_port}\nOUTPOST_ADMIN_PORT={admin_port}\n",
            certs.display()
        )
    });
    stack.healthy(&["postgres", "rabbitmq", "api", "sync-worker"]);
    let store_id = uuid::Uuid::now_v7().to_string();
    let out = stack.run(&[
        "exec",
        "-T",
        "api",
        "outpost",
        "cloud",
        "store-add",
        "--id",
        &store_id,
        "--code",
        "S01",
        "--name",
        "Stack",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let credential = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let certs = stack.env_file.parent().unwrap().join("certs");

    let store = crate::helpers::Store::new(crate::helpers::Backend::Sqlite);
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
    let app = crate::helpers::spawn_opts(
        &store,
        &crate::helpers::Opts {
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
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let stores: serde_json::Value = http
            .get(format!("http://127.0.0.1:{admin_port}/api/v1/stores"))
            .bearer_auth(token)
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
