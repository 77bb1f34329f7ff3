//! `cargo xtask bench register`: the register agent (`outpost register`,
//! issue 28) at the till and catching up with its edge, with real processes:
//! the release `outpost` binary as the edge (SQLite, `outpost edge --demo`)
//! and as the agents, every port chosen at run time. The tills pair with
//! the edge's TLS port (the store's CA pinned), as shipped; `--plain-link`
//! pairs them over plain HTTP instead.
//!
//! - at the till: one agent, `--sales` cash sales one at a time, each
//!   `POST /api/v1/orders` timed as the till's page makes it (loopback, the
//!   page's token); first with the edge up (each sale pushed to it at once),
//!   then with the edge SIGKILLed and the agent showing OFFLINE (each sale
//!   queued); p50/p99 of each;
//! - catch-up: `--tills` agents each sell `--queued` cash sales with the
//!   edge down; the edge comes back on its ports and database, and the time
//!   is taken from its listening until every agent's `/agent/link` shows
//!   nothing queued (the edge answered every push: committed there); the
//!   edge's shift reports of those tills must then hold every sale;
//!   **baseline** in the same run: the same sales sent straight to a fresh
//!   edge's api by as many registers paired the ordinary way, concurrently,
//!   until the last is answered (committed); ratio = catch-up / baseline;
//! - the agents' peak RSS (VmHWM), the largest of them.
//!
//! Timers are the shipped defaults (heartbeat 1 s, relay 200 ms): the
//! catch-up includes the agents noticing the edge is back.

use crate::bench_api::{Server, build_release, call, tills};
use crate::bench_sync::{Proc, free_port};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sales timed one at a time at one till, with the edge up and again
    /// with it down.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    sales: u32,
    /// Tills selling while the edge is down, for the catch-up.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    tills: u32,
    /// Sales queued at each of those tills.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u32).range(1..))]
    queued: u32,
    /// Pair the tills over the edge's plain HTTP port instead of its TLS
    /// port (what the link's TLS costs).
    #[arg(long)]
    plain_link: bool,
    /// Keep the work folder (databases and every process's log).
    #[arg(long)]
    keep: bool,
}

/// Untimed sales before the online figures (connections, caches).
const WARM_UP: usize = 10;

pub fn run(a: Args) -> Result<()> {
    let bin = build_release()?;
    let work = tempfile::Builder::new()
        .prefix("outpost-bench-register-")
        .tempdir()?;
    let r = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(&bin, work.path(), &a));
    // What the processes logged, whether or not the run went through.
    logs(work.path());
    if a.keep {
        println!("work folder kept: {}", work.keep().display());
    }
    println!("{}", r?.json());
    Ok(())
}

/// The edge: `outpost edge --demo` on `port` and, for the agents' link,
/// `tls_port` (0: any) with its database in `dir`; stderr appended to
/// `log`. Returns it, its agents' address (`https://…`) and how long it
/// took to listen.
fn edge(
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
fn append(log: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open {}", log.display()))
}

/// A process's stdout, line by line, read to its end on a thread of its own
/// (the process never blocks on a full pipe).
fn read_lines(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// The demo manager's session on `edge`.
async fn manager(
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
async fn pair(
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
struct Till {
    name: String,
    proc: Option<Proc>,
    base: String,
    /// The page's token for this start.
    page: String,
    /// Carl Cashier's session, once signed in.
    session: String,
    shift: String,
}

impl Till {
    fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.0.id())
    }

    fn req(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        http.request(method, format!("{}{path}", self.base))
            .header("X-Page-Token", &self.page)
    }

    /// `GET /agent/link`: online, queued.
    async fn link(&self, http: &reqwest::Client) -> Result<(bool, i64)> {
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
    fn stop(&mut self) {
        self.proc = None;
    }
}

/// Starts the agent of the till in `dir` on a free loopback port (stderr
/// appended to `log`) and reads its page's token.
async fn start(
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
async fn open(
    http: &reqwest::Client,
    till: &mut Till,
    pins: &HashMap<String, String>,
) -> Result<()> {
    let list = call(
        till.req(http, reqwest::Method::GET, "/api/v1/login-staff")
            .header("X-Device-Token", &till.page),
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
            .header("X-Device-Token", &till.page)
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
async fn product(req: reqwest::RequestBuilder) -> Result<(String, i64)> {
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
fn sale_body(barcode: &str, price: i64) -> Vec<u8> {
    json!({
        "lines": [{"barcode": barcode, "quantity_milli": 1000}],
        "payments": [{"method": "cash", "amount_minor": price, "tendered_minor": price}],
    })
    .to_string()
    .into_bytes()
}

/// Sends one sale (`page`: the till's page token, at an agent) and returns
/// the milliseconds to its 201.
async fn sell(
    http: &reqwest::Client,
    url: &str,
    page: Option<&str>,
    session: &str,
    body: &[u8],
) -> Result<f64> {
    let mut rb = http
        .post(url)
        .bearer_auth(session)
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
async fn sell_at(http: &reqwest::Client, till: &Till, body: &[u8], n: usize) -> Result<Vec<f64>> {
    let url = format!("{}/api/v1/orders", till.base);
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        ms.push(sell(http, &url, Some(&till.page), &till.session, body).await?);
    }
    Ok(ms)
}

/// Polls `what` every 20 ms until it holds; the time it took.
async fn until<F, Fut>(limit: Duration, what: &str, mut f: F) -> Result<Duration>
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
async fn reported(
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

/// A process's memory as `/proc/PID/status` has it, in MB: the peak
/// resident set (VmHWM), and of what is resident now, the anonymous part
/// (heap, stacks) and the file-backed part (mostly the binary's pages).
#[derive(Debug, Clone, Copy)]
struct Mem {
    peak: f64,
    anon: f64,
    file: f64,
}

fn mem(pid: Option<u32>) -> Mem {
    let status = pid
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .unwrap_or_default();
    let mb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    Mem {
        peak: mb("VmHWM:"),
        anon: mb("RssAnon:"),
        file: mb("RssFile:"),
    }
}

/// The `p`-quantile (nearest rank).
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The figures the last line carries.
#[derive(Debug, Clone, Copy)]
struct Figures {
    online: (f64, f64),
    offline: (f64, f64),
    catch_up_s: f64,
    ratio: f64,
    agent_peak_rss_mb: f64,
}

impl Figures {
    /// `{"bench":"register",…}` with its keys in the order the issue gives
    /// them (serde_json's map would sort them); NaN (not measured) as null.
    fn json(&self) -> String {
        let n = |x: f64| {
            if x.is_finite() {
                round2(x).to_string()
            } else {
                "null".to_owned()
            }
        };
        format!(
            r#"{{"bench":"register","online":{{"p50_ms":{},"p99_ms":{}}},"offline":{{"p50_ms":{},"p99_ms":{}}},"catch_up_s":{},"ratio":{},"agent_peak_rss_mb":{}}}"#,
            n(self.online.0),
            n(self.online.1),
            n(self.offline.0),
            n(self.offline.1),
            n(self.catch_up_s),
            n(self.ratio),
            n(self.agent_peak_rss_mb),
        )
    }
}

async fn bench(bin: &str, work: &Path, a: &Args) -> Result<Figures> {
    let (sales, tills_n, queued) = (a.sales as usize, a.tills as usize, a.queued as usize);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()?;
    // The api (the agent's too) starts one HTTP worker per core, and the
    // agent's memory grows with them.
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "work folder {}; {sales} sales at one till online and offline; {tills_n} tills × {queued} queued sales; {cores} cores",
        work.display()
    );

    // The edge, on ports chosen now so it comes back where the agents look.
    let (port, tls_port) = (free_port()?, free_port()?);
    let edge_dir = work.join("edge");
    let edge_log = work.join("edge.log");
    let (srv, tls, boot) = edge(bin, &edge_dir, port, tls_port, &edge_log)?;
    let pins = srv.pins.clone();
    let link = if a.plain_link {
        srv.base.clone()
    } else {
        tls.context("the edge serves no TLS port for agents")?
    };
    println!(
        "edge up on {} in {:.2} s; the tills pair with {link}",
        srv.base,
        boot.as_secs_f64()
    );
    let boss = manager(&http, &srv, &pins).await?;

    // Every till paired now (the edge is needed for that); only the first
    // runs for the latency phase.
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    for i in 0..=tills_n {
        let name = if i == 0 {
            "Till L".to_owned()
        } else {
            format!("Till {i}")
        };
        let dir = work.join(format!("till-{i}"));
        pair(&http, bin, &srv, &link, &boss, &name, &dir).await?;
        dirs.push((name, dir));
    }
    println!("{} tills paired", dirs.len());

    // 1. Latency at the till, the edge up and then down.
    let (name, dir) = &dirs[0];
    let mut t = start(&http, bin, name, dir, &work.join("till-0.log")).await?;
    open(&http, &mut t, &pins).await?;
    let (barcode, price) = product(
        t.req(&http, reqwest::Method::GET, "/api/v1/products?q=")
            .bearer_auth(&t.session),
    )
    .await?;
    let body = sale_body(&barcode, price);
    sell_at(&http, &t, &body, WARM_UP).await?;
    let online = sell_at(&http, &t, &body, sales).await?;
    let on = (pct(&online, 0.5), pct(&online, 0.99));
    println!(
        "at the till, edge up: {sales} cash sales one at a time: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        on.0,
        on.1,
        pct(&online, 1.0)
    );
    let (tr, h) = (&t, &http);
    let drained = until(
        Duration::from_secs(120),
        "the till's queue drains",
        || async move {
            let (up, q) = tr.link(h).await?;
            Ok(up && q == 0)
        },
    )
    .await?;
    println!(
        "  every sale on the edge {:.2} s after the last one",
        drained.as_secs_f64()
    );
    drop(srv); // SIGKILL
    let (tr, h) = (&t, &http);
    let noticed = until(
        Duration::from_secs(30),
        "the till shows OFFLINE",
        || async move { Ok(!tr.link(h).await?.0) },
    )
    .await?;
    println!(
        "edge SIGKILLed: the till shows OFFLINE after {:.2} s",
        noticed.as_secs_f64()
    );
    let offline = sell_at(&http, &t, &body, sales).await?;
    let off = (pct(&offline, 0.5), pct(&offline, 0.99));
    let (_, q) = t.link(&http).await?;
    println!(
        "at the till, edge down: {sales} cash sales one at a time: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({q} events queued)",
        off.0,
        off.1,
        pct(&offline, 1.0)
    );
    if q < sales as i64 {
        bail!("only {q} events queued after {sales} sales with the edge down");
    }
    let m = mem(t.pid());
    println!(
        "  its agent's peak RSS: {:.1} MB (resident now: {:.1} MB anonymous, {:.1} MB file-backed)",
        m.peak, m.anon, m.file
    );
    let mut rss = vec![(t.name.clone(), m)];
    // Its queue stays out of the catch-up.
    t.stop();

    // 2. Catch-up: the tills sell with the edge down.
    let mut ts = Vec::new();
    for (i, (name, dir)) in dirs.iter().enumerate().skip(1) {
        let mut t = start(&http, bin, name, dir, &work.join(format!("till-{i}.log"))).await?;
        open(&http, &mut t, &pins).await?;
        ts.push(t);
    }
    let t0 = Instant::now();
    let sold =
        futures_util::future::join_all(ts.iter().map(|t| sell_at(&http, t, &body, queued))).await;
    for s in sold {
        s?;
    }
    let selling = t0.elapsed().as_secs_f64();
    let mut events = 0;
    for t in &ts {
        let (up, q) = t.link(&http).await?;
        if up || q < queued as i64 {
            bail!(
                "{}: online {up}, {q} queued after {queued} sales with the edge down",
                t.name
            );
        }
        events += q;
    }
    println!(
        "edge down: {tills_n} tills sold {} sales in {selling:.2} s ({:.0}/s together); {events} events queued",
        tills_n * queued,
        (tills_n * queued) as f64 / selling
    );
    let (srv, _, boot) = edge(bin, &edge_dir, port, tls_port, &edge_log)?;
    let t_up = Instant::now();
    // Tills that drained stay drained (nobody sells): one polled at a time,
    // the first also for when it hears the edge again (its heartbeat).
    let mut heard = None;
    for t in &ts {
        loop {
            let (up, q) = t.link(&http).await?;
            if up && heard.is_none() {
                heard = Some(t_up.elapsed().as_secs_f64());
            }
            if up && q == 0 {
                break;
            }
            if t_up.elapsed() > Duration::from_secs(600) {
                bail!(
                    "{}: {q} events still queued 600 s after the edge came back",
                    t.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let catch_up = t_up.elapsed().as_secs_f64();
    let boss = manager(&http, &srv, &pins).await?;
    let (mut orders, mut total) = (0, 0);
    for t in &ts {
        let (n, sum) = reported(&http, &srv, &boss, &t.shift).await?;
        if n != queued as i64 {
            bail!("the edge holds {n} of {}'s {queued} sales", t.name);
        }
        orders += n;
        total += sum;
    }
    if total != orders * price {
        bail!(
            "the edge's reports total {total}, the tills sold {}",
            orders * price
        );
    }
    println!(
        "edge back (listening {:.2} s after its start): all {orders} sales committed on it {catch_up:.2} s after it listened ({:.0} sales/s)",
        boot.as_secs_f64(),
        orders as f64 / catch_up
    );
    println!(
        "  {} showed the edge online again {:.2} s after it listened (heartbeat every 1 s)",
        ts[0].name,
        heard.unwrap_or(f64::NAN)
    );
    for t in &ts {
        rss.push((t.name.clone(), mem(t.pid())));
    }
    drop(ts);
    drop(srv);

    // Baseline: the same sales straight to a fresh edge's api, from as many
    // registers paired the ordinary way.
    let (srv, _, _) = edge(
        bin,
        &work.join("edge-baseline"),
        0,
        0,
        &work.join("edge-baseline.log"),
    )?;
    let (boss, cashiers) = tills(&http, &srv, tills_n).await?;
    let (b_barcode, b_price) = product(
        http.get(format!("{}/api/v1/products?q=", srv.base))
            .bearer_auth(&cashiers[0]),
    )
    .await?;
    if (b_barcode.as_str(), b_price) != (barcode.as_str(), price) {
        println!("  (baseline sells {b_barcode} at {b_price}, the tills {barcode} at {price})");
    }
    let b_body = sale_body(&b_barcode, b_price);
    let url = format!("{}/api/v1/orders", srv.base);
    let t0 = Instant::now();
    let sent = futures_util::future::join_all(cashiers.iter().map(|c| {
        let (http, url, body) = (&http, &url, &b_body);
        async move {
            let mut ms = Vec::with_capacity(queued);
            for _ in 0..queued {
                ms.push(sell(http, url, None, c, body).await?);
            }
            anyhow::Ok(ms)
        }
    }))
    .await;
    let baseline = t0.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    for s in sent {
        lat.extend(s?);
    }
    let mut b_orders = 0;
    for c in &cashiers {
        let shift = call(
            http.get(format!("{}/api/v1/shifts/current", srv.base))
                .bearer_auth(c),
            "current shift",
        )
        .await?;
        let (n, _) = reported(
            &http,
            &srv,
            &boss,
            shift["id"].as_str().context("shift id")?,
        )
        .await?;
        b_orders += n;
    }
    if b_orders != (tills_n * queued) as i64 {
        bail!(
            "the baseline edge holds {b_orders} of {} sales",
            tills_n * queued
        );
    }
    println!(
        "baseline: the same {b_orders} sales straight to the edge from {tills_n} registers at once: {baseline:.2} s ({:.0} sales/s; each p50 {:.2} ms, p99 {:.2} ms)",
        b_orders as f64 / baseline,
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
    drop(srv);
    let ratio = catch_up / baseline;
    println!("catch-up / baseline: {ratio:.2}");

    let peak = rss.iter().map(|(_, m)| m.peak).fold(f64::NAN, f64::max);
    println!(
        "agents' peak RSS (VmHWM): {}",
        rss.iter()
            .map(|(n, m)| format!("{n} {:.1} MB", m.peak))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some((n, m)) = rss.iter().max_by(|a, b| a.1.peak.total_cmp(&b.1.peak)) {
        println!(
            "  {n}, resident at the end: {:.1} MB anonymous (heap, stacks), {:.1} MB file-backed (the binary's pages)",
            m.anon, m.file
        );
    }
    let f = Figures {
        online: on,
        offline: off,
        catch_up_s: catch_up,
        ratio,
        agent_peak_rss_mb: peak,
    };
    let goals = [
        ("offline p99 no worse than online", off.1 <= on.1),
        ("online p99 < 20 ms", on.1 < 20.0),
        ("offline p99 < 20 ms", off.1 < 20.0),
        ("catch-up < 5 s", catch_up < 5.0),
        ("agent peak RSS < 40 MB", peak < 40.0),
    ];
    for (goal, met) in goals {
        println!("goal: {goal}: {}", if met { "met" } else { "NOT met" });
    }
    Ok(f)
}

/// What the processes logged at WARN and above, by process and message.
fn logs(work: &Path) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_is_json_of_the_issues_shape_in_its_order() {
        let f = Figures {
            online: (1.234, 5.0),
            offline: (0.5, 2.999),
            catch_up_s: 3.21,
            ratio: 1.5,
            agent_peak_rss_mb: f64::NAN,
        };
        let line = f.json();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["bench"], "register");
        assert_eq!(v["online"]["p50_ms"], 1.23);
        assert_eq!(v["offline"]["p99_ms"], 3.0);
        assert_eq!(v["catch_up_s"], 3.21);
        assert!(v["agent_peak_rss_mb"].is_null());
        assert!(line.starts_with(r#"{"bench":"register","online":{"p50_ms":"#));
        assert!(line.find("catch_up_s") < line.find("ratio"));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(pct(&v, 0.5), 50.0);
        assert_eq!(pct(&v, 0.99), 99.0);
        assert_eq!(pct(&v, 1.0), 100.0);
        assert!(pct(&[], 0.5).is_nan());
    }
}
