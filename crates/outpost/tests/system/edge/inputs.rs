//! hw-proxy's serial scanner and scales, each simulated by a `socat`
//! pseudo-terminal pair: hw-proxy opens one end as its device file, the test
//! plays the device on the other. What they send reaches a client of
//! `GET /api/v1/inputs/events` (server-sent events, as the register page
//! reads them).

use crate::support::app::{Backend, Opts, Store, free_port, spawn_opts};
use crate::support::printer::{Hw, exe, get_json, http};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Two linked pseudo-terminals: `dev` for hw-proxy, `dev-host` for the test.
struct Pty {
    child: Child,
    dev: PathBuf,
    host: PathBuf,
}

impl Pty {
    fn open(dir: &Path, name: &str) -> Pty {
        let (dev, host) = (dir.join(name), dir.join(format!("{name}-host")));
        let child = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", dev.display()))
            .arg(format!("pty,raw,echo=0,link={}", host.display()))
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (apt-get install socat)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(dev.exists() && host.exists()) {
            assert!(Instant::now() < deadline, "socat made no ptys");
            std::thread::sleep(Duration::from_millis(20));
        }
        Pty { child, dev, host }
    }

    fn send(&self, bytes: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.host)
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    /// Unplugged: socat ends and hw-proxy's end of the pair goes away.
    fn unplug(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.unplug();
    }
}

/// A Toledo 8217 scale on the host end of `pty`: answers each `W` with the
/// reply currently set.
struct Toledo {
    reply: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
}

impl Toledo {
    fn start(pty: &Pty) -> Toledo {
        let reply = Arc::new(Mutex::new(b"\x0200.000\r".to_vec()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&pty.host)
            .unwrap();
        let (r, s) = (reply.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut b = [0u8; 1];
            while !s.load(Ordering::Relaxed) {
                match f.read(&mut b) {
                    Ok(1) if b[0] == b'W' => {
                        let reply = r.lock().unwrap().clone();
                        if f.write_all(&reply).is_err() {
                            return;
                        }
                    }
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        Toledo { reply, stop }
    }

    fn set(&self, reply: &[u8]) {
        *self.reply.lock().unwrap() = reply.to_vec();
    }
}

impl Drop for Toledo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn matches(e: &Value, want: &Value) -> bool {
    want.as_object()
        .unwrap()
        .iter()
        .all(|(k, v)| e.get(k) == Some(v))
}

/// A client of the event stream.
struct Events {
    resp: reqwest::Response,
    buf: String,
    seen: Vec<Value>,
}

impl Events {
    async fn open(base: &str) -> Events {
        let resp = http()
            .get(format!("{base}/api/v1/inputs/events"))
            .timeout(Duration::from_secs(300))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Events {
            resp,
            buf: String::new(),
            seen: Vec::new(),
        }
    }

    /// An event matching `want` received already, or else the next one.
    async fn has(&mut self, want: Value) -> Value {
        match self.seen.iter().find(|e| matches(e, &want)) {
            Some(e) => e.clone(),
            None => self.until(want).await,
        }
    }

    /// Waits for the next event matching `want` (every key of it equal).
    async fn until(&mut self, want: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            while let Some(i) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..i + 2).collect();
                if let Some(data) = frame.strip_prefix("data: ") {
                    let e: Value = serde_json::from_str(data.trim()).unwrap();
                    self.seen.push(e.clone());
                    if matches(&e, &want) {
                        return e;
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no event {want} within 20 s; seen {:?}",
                self.seen
            );
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(c))) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                Ok(other) => panic!("the event stream ended: {other:?}"),
                Err(_) => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_scanner_and_scales_reach_the_event_stream_and_an_unplugged_device_shows() {
    let dir = std::env::temp_dir().join(format!("outpost-inputs-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut scanner = Pty::open(&dir, "scanner");
    let scale = Pty::open(&dir, "scale");
    let deli = Pty::open(&dir, "deli");
    let toledo = Toledo::start(&deli);

    let mut hw = Hw::new(free_port(), &[]);
    let mut cfg = std::fs::OpenOptions::new()
        .append(true)
        .open(hw.dir.join("hw.toml"))
        .unwrap();
    write!(
        cfg,
        "\n[[hw.inputs]]\nid = \"scanner\"\nkind = \"scanner\"\ndevice = \"{}\"\n\
         \n[[hw.inputs]]\nid = \"scale\"\nkind = \"scale_continuous\"\ndevice = \"{}\"\n\
         \n[[hw.inputs]]\nid = \"deli\"\nkind = \"scale_toledo\"\ndevice = \"{}\"\npoll_ms = 100\n",
        scanner.dev.display(),
        scale.dev.display(),
        deli.dev.display()
    )
    .unwrap();
    drop(cfg);
    hw.restart().await;
    let mut ev = Events::open(&hw.base).await;
    for id in ["scanner", "scale", "deli"] {
        ev.has(json!({"type": "device", "device": id, "connected": true}))
            .await;
    }

    scanner.send(b"4006381333931\r\n");
    ev.until(json!({"type": "scan", "device": "scanner", "code": "4006381333931"}))
        .await;

    // Settling, then stable: the stable weight is what a sale may use.
    scale.send(b"US,GS,+  0.480kg\r\nST,GS,+  0.500kg\r\n");
    ev.until(json!({"type": "weight", "device": "scale", "grams": 480, "stable": false}))
        .await;
    ev.until(json!({"type": "weight", "device": "scale", "grams": 500, "stable": true}))
        .await;

    toledo.set(b"\x0201.234\r");
    ev.until(json!({"type": "weight", "device": "deli", "grams": 1234, "stable": true}))
        .await;
    // In motion: no weight to use.
    toledo.set(b"\x02?\x21\r");
    ev.until(json!({"type": "weight", "device": "deli", "grams": null, "stable": false}))
        .await;

    // The list gives the same state a page starts from.
    let list = get_json(&format!("{}/api/v1/inputs", hw.base)).await;
    assert!(
        list["inputs"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "weight", "device": "scale", "grams": 500, "stable": true})),
        "{list}"
    );

    scanner.unplug();
    let gone = ev
        .until(json!({"type": "device", "device": "scanner", "connected": false}))
        .await;
    assert!(
        gone["error"].as_str().unwrap().contains("scanner"),
        "{gone}"
    );
    // Each scan arrived once.
    let scans = ev.seen.iter().filter(|e| e["type"] == "scan").count();
    assert_eq!(scans, 1, "{:?}", ev.seen);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_input_configuration_stops_hw_proxy_with_a_clear_message() {
    let dir = std::env::temp_dir().join(format!("outpost-inputs-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    for (cfg, says) in [
        (
            "[[hw.inputs]]\nid = \"s\"\nkind = \"scanner\"\ndevice = \"/dev/ttyS0\"\nbaud = 5\n",
            "baud 5",
        ),
        (
            "[[hw.inputs]]\nid = \"s\"\nkind = \"laser\"\ndevice = \"/dev/ttyS0\"\n",
            "laser",
        ),
        (
            "[[hw.inputs]]\nid = \"s\"\nkind = \"scanner\"\ndevice = \"/dev/a\"\n\
             [[hw.inputs]]\nid = \"s\"\nkind = \"scanner\"\ndevice = \"/dev/b\"\n",
            "listed twice",
        ),
    ] {
        let file = dir.join("hw.toml");
        std::fs::write(&file, cfg).unwrap();
        let out = Command::new(exe())
            .arg("--config")
            .arg(&file)
            .arg("hw-proxy")
            .env("OUTPOST__HW__PORT", free_port().to_string())
            .env("OUTPOST__HW__GRPC_PORT", free_port().to_string())
            .env("OUTPOST__HW__QUEUE", dir.join("q.sqlite"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cfg} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{cfg}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The register page reads hw-proxy's stream (`printing.inputs_url`): the
/// scale's stable weight shows and becomes the weight of a weighed item that
/// the serial scanner scans, with no typing at the register.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_page_takes_a_serial_scan_and_the_scales_weight() {
    use crate::support::browser::{browser, open_shift_as_cashier, text, visible};
    let dir = std::env::temp_dir().join(format!("outpost-inputs-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let scanner = Pty::open(&dir, "scanner");
    let scale = Pty::open(&dir, "scale");
    let mut hw = Hw::new(free_port(), &[]);
    std::fs::write(
        hw.dir.join("hw.toml"),
        format!(
            "[[hw.inputs]]\nid = \"scanner\"\nkind = \"scanner\"\ndevice = \"{}\"\n\
             [[hw.inputs]]\nid = \"scale\"\nkind = \"scale_continuous\"\ndevice = \"{}\"\n",
            scanner.dev.display(),
            scale.dev.display()
        ),
    )
    .unwrap();
    hw.restart().await;

    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![("OUTPOST__PRINTING__INPUTS_URL", hw.base.clone())],
            ..Default::default()
        },
    );
    let m = app.manager().await;
    let (bananas, _, _) = app.barcode(&m, "Bananas").await;
    let (c, _driver) = browser().await;
    c.goto(&app.base).await.unwrap();
    open_shift_as_cashier(&c, &app).await;
    visible(&c, "#scan").await;

    let until = async |css: &str, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = text(&c, css).await;
            if got.contains(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} shows {got:?}, not {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    scale.send(b"ST,GS,+  0.750kg\r\n");
    until("#scale", "0.750 kg").await;
    scanner.send(format!("{bananas}\r\n").as_bytes());
    until("#cart", "Bananas").await;
    until("#cart", "0.750").await;
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
