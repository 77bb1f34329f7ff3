//! The processes `cargo xtask bench register` starts and drives: the edge,
//! the tills' agents (paired, signed in, a shift open), their sales, and
//! what their logs said.

use crate::bench_api::{Server, call};
use crate::bench_sync::Proc;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The edge: `outpost edge --demo` on `port` and, for the agents' link,
/// `tls_port` (0: any) with its database in `dir`; stderr appended to
/// `log`. Returns it, its agents' address (`https://…`) and how long it
/// took to listen.
pub(super) fn edge(
    bin: &str,
    dir: &Path,
    port: u16,
    tls_port: u16,
    log: &Path,
) -> Result<(Server, Option<String>, Duration)> {
    std::fs::create_dir_all(dir)?;
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .args(["edge", "--demo", "--data"])
        .arg(dir)
        .env("OUTPOST__SERVER__HOST", "127.0.0.1")
        .env("OUTPOST__SERVER__PORT", port.to_string())
        .env("OUTPOST__SERVER__TLS_PORT", tls_port.to_string())
        .env("OUTPOST__HUB__PORT", "0")
        .env("OUTPOST__HUB__TLS_PORT", "0")
        .env(
            "OUTPOST__DATABASE__URL",
            dir.join("outpost.sqlite").to_string_lossy().as_ref(),
        )
        .env("OUTPOST__LOG__FORMAT", "json")
        .env("OUTPOST__LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(append(log)?)
        .spawn()
        .context("start the edge")?;
    let lines = read_lines(child.stdout.take().context("stdout")?);
    let mut pins = HashMap::new();
    let mut tls = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the edge did not listen within 60 s (its log: {})",
                log.display()
            );
        };
        if let Some(rest) = line.trim().strip_prefix("demo staff: ")
            && let Some((name, pin)) = rest.split_once(" PIN ")
        {
            let name = name.rsplit_once(" (").map_or(name, |(n, _)| n);
            pins.insert(name.to_owned(), pin.to_owned());
        }
        if let Some(rest) = line.strip_prefix("Outpost edge for register agents on ") {
            let url = rest.split_whitespace().next().context("TLS address")?;
            let port = url.rsplit(':').next().context("TLS port")?;
            tls = Some(format!("https://127.0.0.1:{port}"));
        }
        if let Some(url) = line.strip_prefix("Outpost edge listening on ") {
            let port = url.rsplit(':').next().context("port")?.trim().to_owned();
            let up = t0.elapsed();
            return Ok((
                Server {
                    child,
                    base: format!("http://127.0.0.1:{port}"),
                    pins,
                },
                tls,
                up,
            ));
        }
    }
}

/// A file to append a process's stderr to.
pub(super) fn append(log: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open {}", log.display()))
}

/// A process's stdout, line by line, read to its end on a thread of its own
/// (the process never blocks on a full pipe).
pub(super) fn read_lines(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// The demo manager's session on `edge`.
pub(super) async fn manager(
    http: &reqwest::Client,
    edge: &Server,
    pins: &HashMap<String, String>,
) -> Result<String> {
    let b = &edge.base;
    let staff = call(http.get(format!("{b}/api/v1/login-staff")), "staff").await?;
    let id = staff["staff"]
        .as_array()
        .context("staff")?
        .iter()
        .find(|s| s["name"] == "Maria Manager")
        .context("Maria Manager among the demo staff")?["id"]
        .clone();
    let pin = pins.get("Maria Manager").context("Maria's PIN")?;
    let s = call(
        http.post(format!("{b}/api/v1/sessions"))
            .json(&json!({"staff_id": id, "pin": pin})),
        "manager sign-in",
    )
    .await?;
    Ok(s["token"].as_str().context("token")?.to_owned())
}

/// `outpost register pair` of a new till into `dir` with a code the
/// manager makes, with the edge at `link` (its TLS address: the CA pinned).
pub(super) async fn pair(
    http: &reqwest::Client,
    bin: &str,
    edge: &Server,
    link: &str,
    manager: &str,
    name: &str,
    dir: &Path,
) -> Result<()> {
    let made = call(
        http.post(format!("{}/api/v1/pairing-codes", edge.base))
            .bearer_auth(manager)
            .json(&json!({"name": name, "kind": "agent"})),
        "pairing code",
    )
    .await?;
    let code = made["code"].as_str().context("code")?.to_owned();
    let out = Command::new(bin)
        .args([
            "register", "pair", "--edge", link, "--code", &code, "--data",
        ])
        .arg(dir)
        .env("OUTPOST__LOG__FILTER", "warn")
        .output()
        .context("outpost register pair")?;
    if !out.status.success() {
        bail!(
            "pairing {name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A register agent as a process, driven as its till's page drives it.
pub(super) struct Till {
    pub(super) name: String,
    pub(super) proc: Option<Proc>,
    pub(super) base: String,
    /// The page's token for this start.
    pub(super) page: String,
    /// Carl Cashier's session, once signed in.
    pub(super) session: String,
    pub(super) shift: String,
}

impl Till {
    pub(super) fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.0.id())
    }

    pub(super) fn req(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        // As the till's page does: its token is this till's device there.
        http.request(method, format!("{}{path}", self.base))
            .header("X-Page-Token", &self.page)
            .header("X-Device-Token", &self.page)
    }

    /// `GET /agent/link`: online, queued.
    pub(super) async fn link(&self, http: &reqwest::Client) -> Result<(bool, i64)> {
        let l = call(
            self.req(http, reqwest::Method::GET, "/agent/link"),
            "agent link",
        )
        .await?;
        Ok((
            l["online"].as_bool().context("online")?,
            l["queued"].as_i64().context("queued")?,
        ))
    }

    /// SIGKILL.
    pub(super) fn stop(&mut self) {
        self.proc = None;
    }
}

/// Starts the agent of the till in `dir` on a free loopback port (stderr
/// appended to `log`) and reads its page's token.
pub(super) async fn start(
    http: &reqwest::Client,
    bin: &str,
    name: &str,
    dir: &Path,
    log: &Path,
) -> Result<Till> {
    let mut child = Command::new(bin)
        .args(["register", "--data"])
        .arg(dir)
        .env("OUTPOST__REGISTER__PORT", "0")
        .env("OUTPOST__LOG__FORMAT", "json")
        .env("OUTPOST__LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(append(log)?)
        .spawn()
        .context("start outpost register")?;
    let lines = read_lines(child.stdout.take().context("stdout")?);
    let proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| {
                anyhow::anyhow!(
                    "{name}'s agent did not start within 60 s (its log: {})",
                    log.display()
                )
            })?;
        if let Some(rest) = line.strip_prefix("Outpost register agent: the till's page is on ") {
            let url = rest.split_whitespace().next().context("url")?;
            break url.trim_end_matches('/').to_owned();
        }
    };
    let html = http
        .get(format!("{base}/"))
        .send()
        .await
        .context("the till's page")?
        .text()
        .await?;
    const META: &str = r#"name="outpost-page" content=""#;
    let at = html.find(META).context("the page's token")? + META.len();
    let page = html[at..]
        .split('"')
        .next()
        .context("the page's token")?
        .to_owned();
    Ok(Till {
        name: name.to_owned(),
        proc: Some(proc),
        base,
        page,
        session: String::new(),
        shift: String::new(),
    })
}

/// Carl Cashier signs in at the till (its own staff list and PINs, from
/// the edge's feed) and opens a shift there.
pub(super) async fn open(
    http: &reqwest::Client,
    till: &mut Till,
    pins: &HashMap<String, String>,
) -> Result<()> {
    let list = call(
        till.req(http, reqwest::Method::GET, "/api/v1/login-staff"),
        "till staff",
    )
    .await?;
    let id = list["staff"]
        .as_array()
        .context("staff")?
        .iter()
        .find(|s| s["name"] == "Carl Cashier")
        .context("Carl at the till")?["id"]
        .clone();
    let s = call(
        till.req(http, reqwest::Method::POST, "/api/v1/sessions")
            .json(&json!({"staff_id": id, "pin": pins.get("Carl Cashier").context("Carl's PIN")?})),
        "till sign-in",
    )
    .await?;
    till.session = s["token"].as_str().context("token")?.to_owned();
    let shift = call(
        till.req(http, reqwest::Method::POST, "/api/v1/shifts")
            .bearer_auth(&till.session)
            .json(&json!({"opening_float_minor": 10000})),
        "open shift at the till",
    )
    .await?;
    till.shift = shift["id"].as_str().context("shift id")?.to_owned();
    Ok(())
}

/// The first plain product (neither weighed nor for the kitchen) of a
/// catalog: its barcode and price.
pub(super) async fn product(req: reqwest::RequestBuilder) -> Result<(String, i64)> {
    let list = call(req, "products").await?;
    let p = list
        .as_array()
        .context("products")?
        .iter()
        .find(|p| p["weighed"] == false && p["kitchen"] == false)
        .context("a plain product")?;
    Ok((
        p["barcodes"][0].as_str().context("barcode")?.to_owned(),
        p["price_minor"].as_i64().context("price")?,
    ))
}

/// One cash sale of one of the product, as the body of `POST /orders`.
pub(super) fn sale_body(barcode: &str, price: i64) -> Vec<u8> {
    json!({
        "lines": [{"barcode": barcode, "quantity_milli": 1000}],
        "payments": [{"method": "cash", "amount_minor": price, "tendered_minor": price}],
    })
    .to_string()
    .into_bytes()
}

/// Sends one sale (`page`: the till's page token, at an agent) and returns
/// the milliseconds to its 201.
pub(super) async fn sell(
    http: &reqwest::Client,
    url: &str,
    page: Option<&str>,
    (session, device): (&str, &str),
    body: &[u8],
) -> Result<f64> {
    let mut rb = http
        .post(url)
        .bearer_auth(session)
        .header("X-Device-Token", device)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec());
    if let Some(p) = page {
        rb = rb.header("X-Page-Token", p);
    }
    let t0 = Instant::now();
    let r = rb.send().await.context("sale")?;
    let status = r.status();
    let text = r.text().await?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    if status.as_u16() != 201 {
        bail!("sale: {status} {text}");
    }
    Ok(ms)
}

/// Sells `n` sales at `till` one after the other; their latencies.
pub(super) async fn sell_at(
    http: &reqwest::Client,
    till: &Till,
    body: &[u8],
    n: usize,
) -> Result<Vec<f64>> {
    let url = format!("{}/api/v1/orders", till.base);
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        ms.push(
            sell(
                http,
                &url,
                Some(&till.page),
                (&till.session, &till.page),
                body,
            )
            .await?,
        );
    }
    Ok(ms)
}

/// Polls `what` every 20 ms until it holds; the time it took.
pub(super) async fn until<F, Fut>(limit: Duration, what: &str, mut f: F) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let t0 = Instant::now();
    loop {
        if f().await? {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > limit {
            bail!("{what}: not within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The number of orders and their total in the edge's report of `shift`.
pub(super) async fn reported(
    http: &reqwest::Client,
    edge: &Server,
    manager: &str,
    shift: &str,
) -> Result<(i64, i64)> {
    let r = call(
        http.get(format!("{}/api/v1/shifts/{shift}/report", edge.base))
            .bearer_auth(manager),
        "shift report",
    )
    .await?;
    Ok((
        r["orders"].as_i64().context("orders")?,
        r["sales_total_minor"]
            .as_i64()
            .context("sales_total_minor")?,
    ))
}

/// What the processes logged at WARN and above, by process and message.
pub(super) fn logs(work: &Path) {
    let Ok(entries) = std::fs::read_dir(work) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let mut quiet = true;
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let key = match serde_json::from_str::<Value>(line) {
                Ok(v) => format!(
                    "{} {}",
                    v["level"].as_str().unwrap_or("?"),
                    v["fields"]["message"]
                        .as_str()
                        .or_else(|| v["message"].as_str())
                        .unwrap_or(line)
                ),
                Err(_) => line.chars().take(200).collect(),
            };
            *seen.entry(key).or_default() += 1;
        }
        if seen.is_empty() {
            continue;
        }
        quiet = false;
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
        println!("log {}:", name.unwrap_or_default());
        for (what, n) in seen {
            println!("  {n} × {what}");
        }
    }
    if quiet {
        println!("no process logged a warning or an error");
    }
}
