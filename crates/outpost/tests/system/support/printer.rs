//! The printing side for tests: `outpost virtual-printer` and `outpost
//! hw-proxy` as real processes, and what the tests ask of them.

use crate::support::app::{Opts, Store, free_port, spawn_opts};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_outpost")
}

pub(crate) fn http() -> reqwest::Client {
    crate::support::client()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A GET that must answer JSON.
pub(crate) async fn get_json(url: &str) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

pub(crate) async fn wait_http(url: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http().get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `outpost virtual-printer` on free ports.
pub(crate) struct Printer {
    pub(crate) port: u16,
    pub(crate) control: String,
    child: Child,
}

impl Printer {
    pub(crate) async fn start() -> Printer {
        let (port, control) = (free_port(), free_port());
        let child = Command::new(exe())
            .args(["virtual-printer", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--control")
            .arg(format!("127.0.0.1:{control}"))
            .env("OUTPOST__LOG__FILTER", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start the virtual printer");
        let p = Printer {
            port,
            control: format!("http://127.0.0.1:{control}"),
            child,
        };
        wait_http(&format!("{}/health", p.control), "the virtual printer").await;
        p
    }
    pub(crate) async fn mode(&self, mode: &str) {
        let r = http()
            .put(format!("{}/mode", self.control))
            .json(&json!({ "mode": mode }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    /// What the printer has received, once no connection is half-way: a job
    /// is recorded when its connection ends, a moment after hw-proxy has
    /// its last status answer and calls it printed.
    pub(crate) async fn jobs(&self) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = get_json(&format!("{}/jobs", self.control)).await;
            if v["open"] == 0 {
                return v["jobs"].as_array().unwrap().clone();
            }
            assert!(
                Instant::now() < deadline,
                "a printer connection never ended"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The edge's settings that let the manager page set printers on this
/// host's loopback, where the tests' virtual printers listen (the default
/// reach is the private networks' printer ports only).
pub(crate) fn loopback_printers() -> Vec<(&'static str, String)> {
    vec![
        ("OUTPOST__PRINTING__PRINTER_NETWORKS", "127.0.0.0/8".into()),
        ("OUTPOST__PRINTING__PRINTER_PORTS", "1024-65535".into()),
    ]
}

/// `outpost hw-proxy` driving one printer, its queue in a folder that
/// survives restarts.
pub(crate) struct Hw {
    pub(crate) dir: PathBuf,
    pub(crate) base: String,
    port: u16,
    pub(crate) grpc_port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Hw {
    pub(crate) async fn start(printer_port: u16, env: &[(&str, &str)]) -> Hw {
        let mut hw = Hw::new(printer_port, env);
        hw.restart().await;
        hw
    }

    /// Configured, not started yet.
    pub(crate) fn new(printer_port: u16, env: &[(&str, &str)]) -> Hw {
        let dir = std::env::temp_dir().join(format!("outpost-hw-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("hw.toml"),
            format!(
                "[[hw.printers]]\nid = \"front\"\naddress = \"tcp://127.0.0.1:{printer_port}\"\nwidth = 42\n"
            ),
        )
        .unwrap();
        let port = free_port();
        Hw {
            base: format!("http://127.0.0.1:{port}"),
            port,
            grpc_port: free_port(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            dir,
            child: None,
        }
    }

    /// hw-proxy with no printers of its own: the edge will give it some,
    /// on this host's loopback (as [`loopback_printers`] lets the edge).
    pub(crate) async fn bare() -> Hw {
        let mut hw = Hw::new(0, &[]);
        std::fs::write(
            hw.dir.join("hw.toml"),
            "[hw]\nprinter_networks = \"127.0.0.0/8\"\nprinter_ports = \"1024-65535\"\n",
        )
        .unwrap();
        hw.restart().await;
        hw
    }

    pub(crate) fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// Restarts with these printers (id, virtual printer port, fallback).
    pub(crate) async fn printers(&mut self, printers: &[(&str, u16, Option<&str>)]) {
        let toml: String = printers
            .iter()
            .map(|(id, port, fallback)| {
                let fallback = fallback.map_or(String::new(), |f| format!("fallback = \"{f}\"\n"));
                format!("[[hw.printers]]\nid = \"{id}\"\naddress = \"tcp://127.0.0.1:{port}\"\n{fallback}")
            })
            .collect();
        std::fs::write(self.dir.join("hw.toml"), toml).unwrap();
        self.restart().await;
    }

    pub(crate) async fn restart(&mut self) {
        let child = Command::new(exe())
            .arg("--config")
            .arg(self.dir.join("hw.toml"))
            .arg("hw-proxy")
            .env("OUTPOST__HW__PORT", self.port.to_string())
            .env("OUTPOST__HW__GRPC_PORT", self.grpc_port.to_string())
            .env("OUTPOST__HW__QUEUE", self.dir.join("queue.sqlite"))
            .env("OUTPOST__HW__RETRY_MIN_MS", "100")
            .env("OUTPOST__HW__RETRY_MAX_MS", "400")
            .env("OUTPOST__HW__PROBE_INTERVAL_MS", "200")
            .env("OUTPOST__HW__STATUS_TIMEOUT_MS", "1000")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("OUTPOST__LOG__FILTER", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start hw-proxy");
        self.child = Some(child);
        wait_http(&format!("{}/api/v1/printers", self.base), "hw-proxy").await;
    }

    pub(crate) fn kill(&mut self) {
        let mut c = self.child.take().expect("running");
        c.kill().expect("SIGKILL");
        c.wait().unwrap();
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = http()
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        get_json(&format!("{}{path}", self.base)).await
    }

    pub(crate) async fn job(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/jobs/{id}")).await
    }

    /// Waits until every job named is in `state`.
    pub(crate) async fn wait_state(&self, ids: &[String], state: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for id in ids {
            loop {
                let j = self.job(id).await;
                if j["state"] == state {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "job {id} never became {state}: {j}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    pub(crate) async fn front(&self) -> Value {
        self.get("/api/v1/printers").await["printers"][0].clone()
    }
}

impl Drop for Hw {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn receipt_job(id: &str, number: &str) -> Value {
    json!({
        "id": id,
        "printer": "front",
        "kind": "receipt",
        "open_drawer": false,
        "receipt": {
            "store": "Corner Deli",
            "order_number": number,
            "order_id": uuid::Uuid::now_v7().to_string(),
            "time": "2026-11-23 10:15",
            "lines": [{"name": "Milk 1l", "quantity": "2", "amount": "3.98"}],
            "total": "3.98",
            "payments": [{"label": "Card", "amount": "3.98"}]
        }
    })
}

/// The order numbers on the virtual printer's paper, in the order printed.
pub(crate) async fn printed_numbers(p: &Printer) -> Vec<String> {
    p.jobs()
        .await
        .iter()
        .flat_map(|j| {
            j["page"]["barcodes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A PNG's width and height, from its IHDR chunk.
pub(crate) async fn png_size(url: &str) -> (u32, u32) {
    let r = http().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    assert_eq!(r.headers()["content-type"], "image/png", "{url}");
    let b = r.bytes().await.unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{url}");
    let be = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The edge with receipts going to `hw`, and these other settings.
pub(crate) fn edge_printing_to(
    store: &Store,
    hw: &Hw,
    more: &[(&'static str, &str)],
) -> crate::support::app::App {
    let mut env = vec![("OUTPOST__PRINTING__HW_PROXY_URL", hw.grpc_url())];
    env.extend(more.iter().map(|(k, v)| (*k, (*v).to_owned())));
    spawn_opts(
        store,
        &Opts {
            env,
            ..Opts::default()
        },
    )
}
