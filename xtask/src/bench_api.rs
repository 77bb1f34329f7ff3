//! `cargo xtask bench api`: simulated registers make realistic sales (3–5 lines,
//! one payment) against the edge api on PostgreSQL and SQLite.
//!
//! - closed loop: each register sends its next sale when the last returns
//!   (throughput);
//! - open loop: sales offered at a fixed rate, latency measured from when each
//!   was due, so a stall shows up instead of hiding (latency); it starts once
//!   the relay positioned what the closed loop left behind;
//! - baseline, in the same run: the very same sale path as the api's
//!   (`SaleWriter::create_sale`: checked and priced, then committed with
//!   whatever other sales wait) called directly on the database by as many
//!   threads, without HTTP. ratio = api / baseline.
//!
//! The three phases run `--rounds` times per backend (3 by default), each
//! round on fresh databases, and the figures reported last are the medians:
//! on two shared cores one run's figures swing by a third from one minute to
//! the next.

use anyhow::{Context, Result, bail};
use diesel::{Connection, PgConnection, RunQueryDsl};
use outpost_domain::{PaymentMethod, Role};
use outpost_storage::sales::{LineRequest, PaymentRequest, ProductRef, SaleRequest, Seller};
use outpost_storage::{Actor, Db, Node, catalog, seed, shifts, staff};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent simulated registers.
    #[arg(long, default_value_t = 32)]
    registers: usize,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Offered sales per second in the open-loop phase.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Rounds per backend (baseline, closed loop, open loop each); the
    /// figures printed last are each one's median over the rounds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Which backends to measure.
    #[arg(long, default_value = "postgres,sqlite", value_delimiter = ',')]
    backends: Vec<String>,
    /// PostgreSQL server (a database is created and dropped per run).
    #[arg(
        long,
        env = "OUTPOST_BENCH_PG",
        default_value = "postgres://postgres:outpost@127.0.0.1:5432"
    )]
    pg: String,
}

/// A basket the registers sell: lines and the exact total the server computes.
#[derive(Debug, Clone)]
struct Basket {
    lines: Vec<(String, i64)>,
    total: i64,
    card: bool,
}

/// Small deterministic PRNG so every run sells the same baskets.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Debug, Default)]
struct Figures {
    sales: usize,
    errors: usize,
    secs: f64,
    lat_ms: Vec<f64>,
}

impl Figures {
    fn per_s(&self) -> f64 {
        self.sales as f64 / self.secs
    }
    fn pct(&self, p: f64) -> f64 {
        if self.lat_ms.is_empty() {
            return f64::NAN;
        }
        let mut v = self.lat_ms.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn run(a: Args) -> Result<()> {
    let bin = build_release()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut out = serde_json::Map::new();
    out.insert("bench".into(), json!("api"));
    out.insert("registers".into(), json!(a.registers));
    out.insert("rounds".into(), json!(a.rounds));
    for backend in &a.backends {
        println!("== {backend}");
        let mut rounds = Vec::with_capacity(a.rounds as usize);
        for round in 1..=a.rounds {
            let r = measure(&rt, &bin, backend, &a)?;
            println!(
                "round {round}/{}: baseline (no HTTP) {:.0} sales/s; api closed loop {:.0} sales/s ({} errors), p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms; ratio {:.2}; open loop {:.0}/s offered: {:.0} done/s ({} errors), p50 {:.2} ms, p99 {:.2} ms; server peak RSS {:.1} MB",
                a.rounds,
                r.base.per_s(),
                r.closed.per_s(),
                r.closed.errors,
                r.closed.pct(0.5),
                r.closed.pct(0.99),
                r.closed.pct(0.999),
                r.closed.per_s() / r.base.per_s(),
                a.rate,
                r.open.per_s(),
                r.open.errors,
                r.open.pct(0.5),
                r.open.pct(0.99),
                r.rss_mb
            );
            rounds.push(r);
        }
        // Each figure's median over the rounds; the ratio is each round's own
        // (api and baseline a minute apart), then their median.
        let med = |f: &dyn Fn(&Round) -> f64| round2(median(rounds.iter().map(f)));
        let fig = json!({
            "sales_per_s": med(&|r| r.closed.per_s()),
            "p50_ms": med(&|r| r.closed.pct(0.5)),
            "p99_ms": med(&|r| r.closed.pct(0.99)),
            "p999_ms": med(&|r| r.closed.pct(0.999)),
            "baseline_sales_per_s": med(&|r| r.base.per_s()),
            "ratio": med(&|r| r.closed.per_s() / r.base.per_s()),
            "server_peak_rss_mb": med(&|r| r.rss_mb),
            "open_loop": {
                "offered_per_s": a.rate,
                "p50_ms": med(&|r| r.open.pct(0.5)),
                "p99_ms": med(&|r| r.open.pct(0.99)),
            },
        });
        println!(
            "{backend}, median of {} rounds: api {} sales/s, baseline {} sales/s, ratio {}; open-loop p99 {} ms",
            a.rounds,
            fig["sales_per_s"],
            fig["baseline_sales_per_s"],
            fig["ratio"],
            fig["open_loop"]["p99_ms"]
        );
        out.insert(backend.clone(), fig);
    }
    println!("{}", Value::Object(out));
    Ok(())
}

/// One round on one backend: the baseline, then the api's closed and open
/// loops, each on a fresh database.
struct Round {
    base: Figures,
    closed: Figures,
    open: Figures,
    rss_mb: f64,
}

fn measure(rt: &tokio::runtime::Runtime, bin: &str, backend: &str, a: &Args) -> Result<Round> {
    let base_url = fresh_database(backend, &a.pg)?;
    let base = baseline(&base_url, a.registers, a.seconds);
    drop_database(backend, &a.pg, &base_url);
    let url = fresh_database(backend, &a.pg)?;
    let api = rt.block_on(api(bin, &url, a));
    drop_database(backend, &a.pg, &url);
    let (closed, open, rss_mb) = api?;
    Ok(Round {
        base: base?,
        closed,
        open,
        rss_mb,
    })
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `cargo xtask` is a dev build (it shares the test build's crates); a
/// benchmark measures in-process code too, so it runs again from the
/// release build of xtask, with the same arguments.
pub(crate) fn rerun_optimised() -> Result<()> {
    let status = Command::new(outpost_offline::sources::cargo())
        .args([
            "run",
            "--quiet",
            "--release",
            "--locked",
            "-p",
            "xtask",
            "--",
        ])
        .args(std::env::args_os().skip(1))
        .status()
        .context("cargo run --release -p xtask")?;
    std::process::exit(status.code().unwrap_or(1))
}

pub(crate) fn build_release() -> Result<String> {
    let mut built = outpost_offline::images::release_build(
        Command::new(outpost_offline::sources::cargo()),
        &["outpost"],
    )?;
    Ok(built
        .remove("outpost")
        .expect("release_build returns what it built"))
}

pub(crate) fn fresh_database(backend: &str, pg: &str) -> Result<String> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    match backend {
        "postgres" => {
            let mut c = PgConnection::establish(&format!("{pg}/postgres")).with_context(|| {
                format!(
                    "connect to PostgreSQL (set OUTPOST_BENCH_PG; scripts/test starts one on {pg})"
                )
            })?;
            diesel::sql_query(format!("CREATE DATABASE outpost_bench_{id}")).execute(&mut c)?;
            Ok(format!("{pg}/outpost_bench_{id}"))
        }
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("outpost-bench-{id}"));
            std::fs::create_dir_all(&dir)?;
            Ok(dir.join("outpost.sqlite").to_string_lossy().into_owned())
        }
        other => bail!("unknown backend {other:?} (postgres or sqlite)"),
    }
}

pub(crate) fn drop_database(backend: &str, pg: &str, url: &str) {
    if backend == "postgres" {
        if let (Ok(mut c), Some(name)) = (
            PgConnection::establish(&format!("{pg}/postgres")),
            url.rsplit('/').next(),
        ) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c);
        }
    } else if let Some(dir) = std::path::Path::new(url).parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// 64 baskets of 3–5 distinct unit products, half paid by card.
fn baskets(
    products: &[(String, i64)],
    mut total_of: impl FnMut(&[(String, i64)]) -> Result<i64>,
) -> Result<Vec<Basket>> {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::new();
    for i in 0..64 {
        let n = 3 + (rng.next() % 3) as usize;
        let mut lines: Vec<(String, i64)> = Vec::new();
        while lines.len() < n {
            let (id, _) = &products[(rng.next() % products.len() as u64) as usize];
            if !lines.iter().any(|(l, _)| l == id) {
                lines.push((id.clone(), 1000 * (1 + (rng.next() % 3) as i64)));
            }
        }
        let total = total_of(&lines)?;
        out.push(Basket {
            lines,
            total,
            card: i % 2 == 0,
        });
    }
    Ok(out)
}

fn sale_request(b: &Basket) -> SaleRequest {
    SaleRequest {
        lines: b
            .lines
            .iter()
            .map(|(id, q)| LineRequest {
                product: ProductRef::Id(id.clone()),
                qty_milli: *q,
                discount_minor: 0,
                unit_price_minor: None,
            })
            .collect(),
        payments: vec![PaymentRequest {
            method: if b.card {
                PaymentMethod::Card
            } else {
                PaymentMethod::Cash
            },
            amount_minor: b.total,
            tendered_minor: None,
            card_type: if b.card { "visa".into() } else { String::new() },
            reference: String::new(),
        }],
        ..SaleRequest::default()
    }
}

fn sale_json(b: &Basket) -> Value {
    json!({
        "currency": "EUR",
        "lines": b.lines.iter().map(|(id, q)| json!({"product_id": id, "quantity_milli": q})).collect::<Vec<_>>(),
        "payments": [if b.card { json!({"method": "card", "amount_minor": b.total, "card_type": "visa"}) } else { json!({"method": "cash", "amount_minor": b.total}) }],
    })
}

/// The same sale path as the api runs, called directly, one thread per
/// register.
fn baseline(url: &str, registers: usize, seconds: u64) -> Result<Figures> {
    let db = Db::open(url, registers as u32 + 2)?;
    let mut conn = db.conn()?;
    seed::demo(&mut conn, &seed::StoreSetup::example())?;
    let node = Arc::new(Node::load(&mut conn)?);
    let people = staff::list_staff(&mut conn)?;
    let manager = people
        .iter()
        .find(|s| s.role == "manager")
        .context("demo manager")?;
    let cashier = people
        .iter()
        .find(|s| s.role == "cashier")
        .context("demo cashier")?;
    let boss = Actor {
        staff_id: manager.id.clone(),
        role: Role::Manager,
        device_id: None,
    };
    let mut actors = Vec::new();
    for i in 0..registers {
        let d = staff::pair_device(&mut conn, &node, &boss, &format!("Bench {i}"), "register")?;
        let a = Actor {
            staff_id: cashier.id.clone(),
            role: Role::Cashier,
            device_id: Some(d.device.id),
        };
        shifts::open(&mut conn, &node, &a, 10_000)?;
        actors.push(a);
    }
    let products: Vec<(String, i64)> =
        catalog::search(&mut conn, &node, "", &catalog::Shelf::All, 500)?
            .into_iter()
            .filter(|p| !p.weighed)
            .map(|p| (p.id, p.price_minor))
            .collect();
    let a0 = actors[0].clone();
    let baskets = Arc::new(baskets(&products, |lines| {
        let b = Basket {
            lines: lines.to_vec(),
            total: 0,
            card: true,
        };
        Ok(outpost_storage::sales::quote(&mut conn, &node, &a0, &sale_request(&b))?.total_minor)
    })?);
    drop(conn);
    let writer = outpost_storage::SaleWriter::start(db.clone(), node.clone());
    let until = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let threads: Vec<_> = actors
        .into_iter()
        .enumerate()
        .map(|(i, actor)| {
            let (db, node, baskets, writer) =
                (db.clone(), node.clone(), baskets.clone(), writer.clone());
            std::thread::spawn(move || -> Result<Figures> {
                let mut f = Figures::default();
                let mut n = i;
                while Instant::now() < until {
                    let b = &baskets[n % baskets.len()];
                    n += 7;
                    let req = sale_request(b);
                    let key = uuid::Uuid::now_v7().to_string();
                    let s = Instant::now();
                    match writer.create_sale(&db, &node, Seller::Actor(&actor), &key, &key, req) {
                        Ok(_) => {
                            f.sales += 1;
                            f.lat_ms.push(s.elapsed().as_secs_f64() * 1000.0);
                        }
                        Err(_) => f.errors += 1,
                    }
                }
                Ok(f)
            })
        })
        .collect();
    let mut all = Figures::default();
    for t in threads {
        let f = t
            .join()
            .map_err(|_| anyhow::anyhow!("baseline thread panicked"))??;
        all.sales += f.sales;
        all.errors += f.errors;
        all.lat_ms.extend(f.lat_ms);
    }
    all.secs = t0.elapsed().as_secs_f64();
    Ok(all)
}

pub(crate) struct Server {
    pub child: std::process::Child,
    pub base: String,
    pub pins: std::collections::HashMap<String, String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(bin: &str, url: &str) -> Result<Server> {
    start_with(bin, url, false, &[])
}

/// `outpost edge --demo` (or `outpost api` with demo data when `api_only`) on
/// a free port, with `extra` settings, returning the demo staff's PINs.
pub(crate) fn start_with(
    bin: &str,
    url: &str,
    api_only: bool,
    extra: &[(&str, String)],
) -> Result<Server> {
    let dir = std::env::temp_dir().join(format!(
        "outpost-bench-data-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let mut cmd = Command::new(bin);
    if api_only {
        cmd.arg("api").env("OUTPOST__DEMO__ENABLED", "true");
    } else {
        cmd.args(["edge", "--demo", "--data"]).arg(&dir);
    }
    let mut child = cmd
        .env("OUTPOST__SERVER__PORT", "0")
        .env("OUTPOST__SERVER__TLS_PORT", "0")
        .env("OUTPOST__DATABASE__URL", url)
        .env(
            "OUTPOST__DATABASE__POOL_SIZE",
            std::env::var("OUTPOST_BENCH_POOL").unwrap_or_else(|_| "16".into()),
        )
        .env("OUTPOST__LOG__FORMAT", "json")
        .env("OUTPOST__LOG__FILTER", "error")
        .env("OUTPOST__HUB__PORT", "0")
        .env("OUTPOST__HUB__TLS_PORT", "0")
        .envs(extra.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .spawn()
        .context("start the edge")?;
    let mut pins = std::collections::HashMap::new();
    let lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    for line in lines {
        let line = line?;
        if let Some(rest) = line.trim().strip_prefix("demo staff: ")
            && let Some((name, pin)) = rest.split_once(" PIN ")
        {
            pins.insert(
                name.rsplit_once(" (")
                    .map(|(n, _)| n)
                    .unwrap_or(name)
                    .to_owned(),
                pin.to_owned(),
            );
        }
        if let Some(u) = line.strip_prefix("Outpost edge listening on ") {
            let port = u.rsplit(':').next().context("port")?.to_owned();
            return Ok(Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
                pins,
            });
        }
    }
    bail!("the edge exited before listening")
}

pub(crate) async fn call(req: reqwest::RequestBuilder, what: &str) -> Result<Value> {
    let r = req.send().await.with_context(|| what.to_owned())?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{what}: {status} {v}");
    }
    Ok(v)
}

/// A cashier signed in at a paired register: the session counts only with
/// that register's device token beside it.
#[derive(Debug, Clone)]
pub(crate) struct Cashier {
    pub session: String,
    pub device: String,
}

/// Sends a request as a cashier at their register.
pub(crate) trait AsCashier {
    fn cashier(self, c: &Cashier) -> Self;
}

impl AsCashier for reqwest::RequestBuilder {
    fn cashier(self, c: &Cashier) -> Self {
        self.bearer_auth(&c.session)
            .header("X-Device-Token", &c.device)
    }
}

/// Signs the demo manager in and opens `n` registers (paired, Carl signed in,
/// shift open); returns the manager's token and the cashiers.
pub(crate) async fn tills(
    http: &reqwest::Client,
    srv: &Server,
    n: usize,
) -> Result<(String, Vec<Cashier>)> {
    let b = &srv.base;
    let staff = call(http.get(format!("{b}/api/v1/login-staff")), "staff").await?;
    let maria = staff["staff"][0]["id"]
        .as_str()
        .context("manager")?
        .to_owned();
    let m = call(
        http.post(format!("{b}/api/v1/sessions"))
            .json(&json!({"staff_id": maria, "pin": srv.pins["Maria Manager"]})),
        "manager sign-in",
    )
    .await?;
    let mtok = m["token"].as_str().context("token")?.to_owned();
    let mut tokens = Vec::new();
    for i in 0..n {
        let d = call(
            http.post(format!("{b}/api/v1/devices"))
                .bearer_auth(&mtok)
                .json(&json!({"name": format!("Bench {i}")})),
            "pair",
        )
        .await?;
        let dt = d["token"].as_str().context("device token")?.to_owned();
        let list = call(
            http.get(format!("{b}/api/v1/login-staff"))
                .header("X-Device-Token", &dt),
            "staff",
        )
        .await?;
        let carl = list["staff"]
            .as_array()
            .context("staff")?
            .iter()
            .find(|s| s["name"] == "Carl Cashier")
            .context("Carl")?["id"]
            .clone();
        let s = call(
            http.post(format!("{b}/api/v1/sessions"))
                .header("X-Device-Token", &dt)
                .json(&json!({"staff_id": carl, "pin": srv.pins["Carl Cashier"]})),
            "cashier sign-in",
        )
        .await?;
        let t = Cashier {
            session: s["token"].as_str().context("token")?.to_owned(),
            device: dt,
        };
        call(
            http.post(format!("{b}/api/v1/shifts"))
                .cashier(&t)
                .json(&json!({"opening_float_minor": 10000})),
            "open shift",
        )
        .await?;
        tokens.push(t);
    }
    Ok((mtok, tokens))
}

async fn api(bin: &str, url: &str, a: &Args) -> Result<(Figures, Figures, f64)> {
    let srv = start_server(bin, url)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.registers * 2)
        .build()?;
    let b = &srv.base;
    let (_, tokens) = tills(&http, &srv, a.registers).await?;
    let list = call(
        http.get(format!("{b}/api/v1/products?limit=500"))
            .cashier(&tokens[0]),
        "products",
    )
    .await?;
    let products: Vec<(String, i64)> = list
        .as_array()
        .context("products")?
        .iter()
        .filter(|p| p["weighed"] == false)
        .map(|p| {
            (
                p["id"].as_str().unwrap_or_default().to_owned(),
                p["price_minor"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let mut quoted = Vec::new();
    for lines in baskets(&products, |_| Ok(0))? {
        let body = sale_json(&lines);
        let q = call(
            http.post(format!("{b}/api/v1/orders/quote"))
                .cashier(&tokens[0])
                .json(&body),
            "quote",
        )
        .await?;
        quoted.push(Basket {
            total: q["total_minor"].as_i64().context("total")?,
            ..lines
        });
    }
    // What each sale sends, made once: the load generator shares the two
    // cores with the server, so every cycle it spends is one the server
    // does not get.
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        quoted
            .iter()
            .map(|q| serde_json::to_vec(&sale_json(q)))
            .collect::<Result<_, _>>()?,
    );
    let url: reqwest::Url = format!("{b}/api/v1/orders").parse()?;
    let auths: Vec<(HeaderValue, HeaderValue)> = tokens
        .iter()
        .map(|t| {
            Ok((
                HeaderValue::from_str(&format!("Bearer {}", t.session))?,
                HeaderValue::from_str(&t.device)?,
            ))
        })
        .collect::<Result<_>>()?;

    // Closed loop.
    let until = Instant::now() + Duration::from_secs(a.seconds);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (i, auth) in auths.iter().enumerate() {
        let (http, url, auth, bodies) = (http.clone(), url.clone(), auth.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let mut f = Figures::default();
            let mut n = i;
            while Instant::now() < until {
                let body = bodies[n % bodies.len()].clone();
                n += 7;
                let s = Instant::now();
                if sell(&http, url.clone(), auth.clone(), body).await {
                    f.sales += 1;
                    f.lat_ms.push(s.elapsed().as_secs_f64() * 1000.0);
                } else {
                    f.errors += 1;
                }
            }
            f
        }));
    }
    let mut closed = Figures::default();
    for t in tasks {
        let f = t.await?;
        closed.sales += f.sales;
        closed.errors += f.errors;
        closed.lat_ms.extend(f.lat_ms);
    }
    closed.secs = t0.elapsed().as_secs_f64();
    // The open loop measures a till's latency at a steady rate, not the
    // drain of the burst before it: start once the relay positioned every
    // event the closed loop left behind.
    let drain = relayed(&http, b).await?;
    println!("closed loop's events all positioned {drain:.1} s after it ended");

    // Open loop: one sale due every 1/rate s, round-robin over the registers.
    let interval = Duration::from_secs_f64(1.0 / a.rate.max(1.0));
    let total = (a.rate * a.seconds as f64) as usize;
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = t0 + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (http, url, auth, body) = (
            http.clone(),
            url.clone(),
            auths[i % auths.len()].clone(),
            bodies[i % bodies.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            sell(&http, url, auth, body)
                .await
                .then(|| due.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut open = Figures::default();
    for t in tasks {
        match t.await? {
            Some(ms) => {
                open.sales += 1;
                open.lat_ms.push(ms);
            }
            None => open.errors += 1,
        }
    }
    open.secs = t0.elapsed().as_secs_f64();
    let rss = outpost_telemetry::peak_rss_kib(srv.child.id()).unwrap_or(0) as f64 / 1024.0;
    Ok((closed, open, rss))
}

/// Waits until the edge's `/health` reports no event waiting for the relay;
/// returns the seconds it took.
async fn relayed(http: &reqwest::Client, base: &str) -> Result<f64> {
    let t0 = Instant::now();
    loop {
        let h: Value = http
            .get(format!("{base}/health"))
            .send()
            .await?
            .json()
            .await?;
        if h["components"]["outbox"]["unrelayed"].as_i64() == Some(0) {
            return Ok(t0.elapsed().as_secs_f64());
        }
        if t0.elapsed() > Duration::from_secs(120) {
            bail!("the relay did not catch up within 120 s: {h}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One sale with a fresh idempotency key: whether it was created.
async fn sell(
    http: &reqwest::Client,
    url: reqwest::Url,
    (auth, device): (HeaderValue, HeaderValue),
    body: Vec<u8>,
) -> bool {
    let r = http
        .post(url)
        .header(AUTHORIZATION, auth)
        .header("X-Device-Token", device)
        .header(CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) if r.status().as_u16() == 201 => r.bytes().await.is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_is_the_middle_round_or_the_mean_of_the_two_middle_ones() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([0.9, 0.6, 0.7, 0.8].into_iter()), 0.75);
        assert_eq!(median([5.0].into_iter()), 5.0);
        assert!(median(std::iter::empty()).is_nan());
    }
}
