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
    fn up() -> Stack {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let project = format!(
            "outpost-t-{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let dir = std::env::temp_dir().join(&project);
        std::fs::create_dir_all(&dir).unwrap();
        let (api_port, hub_port) = (free_port(), free_port());
        let env_file = dir.join(".env");
        std::fs::write(
            &env_file,
            format!(
                "POSTGRES_PASSWORD=pw-{project}\nOUTPOST_REALTIME_SECRET=secret-{project}-0123456789\n\
                 OUTPOST_DEMO=true\nOUTPOST_API_PORT={api_port}\nOUTPOST_HUB_PORT={hub_port}\n"
            ),
        )
        .unwrap();
        let s = Stack {
            compose: compose_cli(),
            project,
            env_file,
            api_port,
            hub_port,
        };
        let file = root.join("compose.edge.yml");
        let out = s.run(&["-f", &file.to_string_lossy(), "up", "-d"]);
        assert!(
            out.status.success(),
            "compose up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    fn run(&self, args: &[&str]) -> Output {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let file = root.join("compose.edge.yml");
        let mut c = Command::new(&self.compose[0]);
        c.args(&self.compose[1..])
            .args(["-p", &self.project, "--env-file"])
            .arg(&self.env_file);
        if !args.contains(&"-f") {
            c.arg("-f").arg(&file);
        }
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

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--remove-orphans"]);
        if let Some(d) = self.env_file.parent() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_edge_sells_shows_the_kitchen_and_survives_an_api_sigkill() {
    if std::env::var("OUTPOST_TEST_STACK").as_deref() != Ok("1") {
        eprintln!(
            "\n*** SKIPPED the compose stack test: OUTPOST_TEST_STACK is not 1 (scripts/test sets it when a Docker engine answers) ***\n"
        );
        return;
    }
    let stack = Stack::up();
    let all = ["postgres", "redis", "api", "realtime-hub"];
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
