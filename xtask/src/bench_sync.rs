//! `cargo xtask bench sync`: a store with queued sales reconnects to the cloud;
//! how long until the central database holds every event, against the same
//! events applied straight to a central database (no gRPC, no RabbitMQ).
//! Then many stores reconnect at once: sustained events/s and the p99 time to
//! acknowledge a push.
//!
//! Real processes throughout: the release `outpost` binary as the edge, the
//! cloud api and one cloud sync-worker; PostgreSQL (OUTPOST_BENCH_PG) and a
//! RabbitMQ node of the benchmark's own.

use crate::bench_api::{
    AsCashier, build_release, call, drop_database, fresh_database, start_with, tills,
};
use anyhow::{Context, Result, bail};
use outpost_cloud::db::{self as cloud, CloudDb, Incoming};
use outpost_proto::sync_v1::{EventBatch, EventEnvelope, HelloRequest, PushRequest};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sales queued at the store before it reconnects.
    #[arg(long, default_value_t = 10_000)]
    sales: usize,
    /// Registers selling them (concurrent requests).
    #[arg(long, default_value_t = 8)]
    registers: usize,
    /// Stores reconnecting at once in the fleet run (0 skips it).
    #[arg(long, default_value_t = 500)]
    stores: usize,
    /// Events each fleet store pushes (in batches of 50).
    #[arg(long, default_value_t = 200)]
    fleet_events: usize,
    /// Seconds an idle store is watched for staying online at both ends (0
    /// skips the link phases).
    #[arg(long, default_value_t = 600)]
    idle_soak_s: u64,
    /// Seconds of each outage (a clean cut, then a blackhole) while the
    /// store sells.
    #[arg(long, default_value_t = 300)]
    outage_s: u64,
}

/// A child process (and its process group, when it leads one) killed when
/// dropped.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            // Not every child leads a process group: then there is none.
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A RabbitMQ node of our own (ports and data folder), as the tests run one.
fn rabbit(dir: &std::path::Path) -> Result<(Proc, String)> {
    use std::os::unix::process::CommandExt;
    let script = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    if !std::path::Path::new(script).exists() {
        bail!("this benchmark needs RabbitMQ: apt-get install rabbitmq-server (scripts/test does)");
    }
    let (port, dist) = (free_port()?, free_port()?);
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
    std::fs::write(
        dir.join("rabbitmq.conf"),
        format!("listeners.tcp.default = 127.0.0.1:{port}\n"),
    )?;
    let log = std::fs::File::create(dir.join("server.log"))?;
    let child = Command::new(script)
        .env("HOME", dir)
        .env("RABBITMQ_NODENAME", format!("bench{port}@localhost"))
        .env("RABBITMQ_NODE_PORT", port.to_string())
        .env("RABBITMQ_DIST_PORT", dist.to_string())
        .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
        .env("RABBITMQ_LOG_BASE", dir.join("log"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
        .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq"))
        .env("RABBITMQ_LOGS", "-")
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("start rabbitmq-server")?;
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "RabbitMQ did not start; see {}",
                dir.join("server.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok((p, format!("amqp://guest:guest@127.0.0.1:{port}/%2f")))
}

struct CloudEnv {
    db_url: String,
    amqp: String,
    certs: std::path::PathBuf,
    sync_port: u16,
    admin_port: u16,
}

impl CloudEnv {
    fn cmd(&self, bin: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.args(args)
            .env("OUTPOST__CLOUD__DATABASE_URL", &self.db_url)
            .env("OUTPOST__CLOUD__AMQP_URL", &self.amqp)
            .env("OUTPOST__CLOUD__SYNC_HOST", "127.0.0.1")
            .env("OUTPOST__CLOUD__SYNC_PORT", self.sync_port.to_string())
            .env("OUTPOST__CLOUD__ADMIN_PORT", self.admin_port.to_string())
            .env("OUTPOST__CLOUD__WORKER_PORT", "0")
            .env("OUTPOST__CLOUD__TLS_CERT", self.certs.join("server.pem"))
            .env("OUTPOST__CLOUD__TLS_KEY", self.certs.join("server.key"))
            .env("OUTPOST__LOG__FORMAT", "json")
            .env("OUTPOST__LOG__FILTER", "error");
        c
    }

    fn start(&self, bin: &str) -> Result<(Proc, Proc)> {
        let mut api = self
            .cmd(bin, &["cloud", "serve"])
            .stdout(Stdio::piped())
            .process_group_0()
            .spawn()?;
        let out = api.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(out).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("Outpost cloud: SyncService") => break,
                Some(_) => {}
                None => bail!("the cloud api exited"),
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let worker = self
            .cmd(bin, &["sync-worker", "--mode", "cloud"])
            .stdout(Stdio::null())
            .process_group_0()
            .spawn()?;
        Ok((Proc(api), Proc(worker)))
    }
}

trait Group {
    fn process_group_0(&mut self) -> &mut Self;
}

impl Group for Command {
    fn process_group_0(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        self.process_group(0)
    }
}

fn hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Each stream's head at the edge, as `/api/v1/outbox` gives them.
pub(crate) async fn heads(
    http: &reqwest::Client,
    base: &str,
    manager: &str,
) -> Result<Vec<(String, i64)>> {
    let heads = call(
        http.get(format!("{base}/api/v1/outbox"))
            .bearer_auth(manager),
        "outbox",
    )
    .await?;
    Ok(heads["streams"]
        .as_object()
        .context("streams")?
        .iter()
        .map(|(s, h)| (s.clone(), h.as_i64().unwrap_or(0)))
        .collect())
}

/// Whether the cloud applied every stream of `store_id` up to `heads`.
pub(crate) fn applied(db: &CloudDb, store_id: &str, heads: &[(String, i64)]) -> Result<bool> {
    for (s, h) in heads {
        let m = count(
            db,
            &format!(
                "SELECT COALESCE(max(position), 0) AS n FROM stream_marks WHERE store_id = '{store_id}' AND stream = '{s}'"
            ),
        )?;
        if m < *h {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) fn count(db: &CloudDb, sql: &str) -> Result<i64> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    Ok(diesel::sql_query(sql).get_result::<N>(&mut db.conn()?)?.n)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn run(a: Args) -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin = build_release()?;
    let pg = std::env::var("OUTPOST_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres:outpost@127.0.0.1:5432".into());
    let work = std::env::temp_dir().join(format!(
        "outpost-bench-sync-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(bench(&a, &bin, &pg, &work));
    let _ = std::fs::remove_dir_all(&work);
    r
}

async fn bench(a: &Args, bin: &str, pg: &str, work: &std::path::Path) -> Result<()> {
    let (_rabbit, amqp) = rabbit(&work.join("rabbitmq"))?;
    let cloud_url = fresh_database("postgres", pg)?;
    let certs = work.join("certs");
    let st = Command::new(bin)
        .args(["cloud", "certs", "--out"])
        .arg(&certs)
        .args(["--host", "localhost"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(st.success(), "outpost cloud certs");
    let env = CloudEnv {
        db_url: cloud_url.clone(),
        amqp,
        certs: certs.clone(),
        sync_port: free_port()?,
        admin_port: free_port()?,
    };
    let cdb = CloudDb::open(&cloud_url, 4, true)?;
    let store_id = uuid::Uuid::now_v7().to_string();
    let (_, credential) = cloud::add_store(
        &mut cdb.conn()?,
        Some(&store_id),
        "S01",
        "Bench store",
        None,
    )?;

    // The store sells while the cloud is away.
    let edge_url = fresh_database("sqlite", pg)?;
    let sync_env = vec![
        (
            "OUTPOST__SYNC__CLOUD_URL",
            format!("https://localhost:{}", env.sync_port),
        ),
        ("OUTPOST__SYNC__CREDENTIAL", credential.clone()),
        (
            "OUTPOST__SYNC__CA_FILE",
            certs.join("ca.pem").to_string_lossy().into_owned(),
        ),
        ("OUTPOST__SYNC__BACKOFF_MIN_MS", "50".into()),
        ("OUTPOST__SYNC__BACKOFF_MAX_MS", "100".into()),
    ];
    let srv = start_with(bin, &edge_url, false, &sync_env)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.registers * 2)
        .build()?;
    let (manager, tokens) = tills(&http, &srv, a.registers).await?;
    let b = srv.base.clone();
    let products = call(
        http.get(format!("{b}/api/v1/products?limit=500"))
            .bearer_auth(&manager),
        "products",
    )
    .await?;
    let list: Vec<&Value> = products
        .as_array()
        .context("products")?
        .iter()
        .filter(|p| !p["weighed"].as_bool().unwrap_or(false))
        .collect();
    let kitchen = list
        .iter()
        .find(|p| p["kitchen"] == true)
        .context("a kitchen product")?;
    let other = list
        .iter()
        .find(|p| p["kitchen"] != true)
        .context("a shelf product")?;
    let (k, o) = (
        (
            kitchen["id"].clone(),
            kitchen["price_minor"].as_i64().unwrap_or(0),
        ),
        (
            other["id"].clone(),
            other["price_minor"].as_i64().unwrap_or(0),
        ),
    );
    println!(
        "selling {} sales on {} registers while the cloud is away …",
        a.sales, a.registers
    );
    let t_sell = Instant::now();
    let per = a.sales.div_ceil(a.registers);
    let mut tasks = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let (http, b, t, k, o) = (http.clone(), b.clone(), t.clone(), k.clone(), o.clone());
        let n = per.min(a.sales.saturating_sub(i * per));
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                let total = k.1 + o.1;
                let body = json!({"lines": [{"product_id": k.0, "quantity_milli": 1000}, {"product_id": o.0, "quantity_milli": 1000}],
                    "payments": [{"method": "cash", "amount_minor": total, "tendered_minor": total}]});
                call(
                    http.post(format!("{b}/api/v1/orders")).cashier(&t).header("Idempotency-Key", uuid::Uuid::now_v7().to_string()).json(&body),
                    "sale",
                )
                .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!("  sold in {:.1} s", t_sell.elapsed().as_secs_f64());
    let heads = heads(&http, &b, &manager).await?;
    let events: i64 = heads.iter().map(|(_, h)| h).sum();
    println!("  {events} events queued ({heads:?})");

    // The cloud comes up: time until every event is applied.
    let t0 = Instant::now();
    let (api, worker) = env.start(bin)?;
    loop {
        if applied(&cdb, &store_id, &heads)? {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("the cloud did not catch up within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let catch_up = t0.elapsed().as_secs_f64();
    let rss_mb = (hwm_kib(api.0.id()) + hwm_kib(worker.0.id())) as f64 / 1024.0;
    let orders = count(
        &cdb,
        &format!("SELECT count(*) AS n FROM orders WHERE store_id = '{store_id}'"),
    )?;
    anyhow::ensure!(
        orders == a.sales as i64,
        "the cloud holds {orders} orders, expected {}",
        a.sales
    );
    let eps = events as f64 / catch_up;
    println!(
        "catch-up: {events} events in {catch_up:.2} s = {eps:.0} events/s; cloud peak RSS {rss_mb:.1} MB (api + worker)"
    );
    drop(srv);

    // Baseline: the same events applied straight to a fresh central database.
    let base_url = fresh_database("postgres", pg)?;
    let base_db = CloudDb::open(&base_url, 2, true)?;
    cloud::add_store(
        &mut base_db.conn()?,
        Some(&store_id),
        "S01",
        "Bench store",
        None,
    )?;
    let edge = outpost_storage::Db::open(&edge_url, 2)?;
    let mut all = Vec::new();
    for (s, _) in &heads {
        let mut after = 0;
        loop {
            let batch = outpost_storage::outbox::read_stream(&mut *edge.conn()?, s, after, 1000)?;
            let Some(last) = batch.last() else { break };
            after = last.position.unwrap_or(after);
            all.push((s.clone(), batch));
        }
    }
    let t1 = Instant::now();
    for (s, batch) in all {
        let incoming: Vec<Incoming> = batch
            .into_iter()
            .map(|e| Incoming::from(outpost_sync_worker::convert::envelope(e, "bench")))
            .collect();
        cloud::apply_batch(&mut *base_db.conn()?, &store_id, &s, incoming)?;
    }
    let base_s = t1.elapsed().as_secs_f64();
    let base_eps = events as f64 / base_s;
    println!(
        "baseline (apply straight to the database, same batches): {base_s:.2} s = {base_eps:.0} events/s; ratio {:.2}",
        eps / base_eps
    );
    drop_database("postgres", pg, &base_url);
    drop_database("sqlite", pg, &edge_url);

    let fleet = if a.stores > 0 {
        Some(fleet(a, &env, &cdb, &certs).await?)
    } else {
        None
    };
    let link = if a.idle_soak_s > 0 {
        let id = uuid::Uuid::now_v7().to_string();
        let (_, credential) =
            cloud::add_store(&mut cdb.conn()?, Some(&id), "L01", "Link store", None)?;
        let edge_url = fresh_database("sqlite", pg)?;
        let mut env_link = sync_env.clone();
        for (k, v) in &mut env_link {
            if *k == "OUTPOST__SYNC__CREDENTIAL" {
                v.clone_from(&credential);
            }
        }
        env_link.push(("OUTPOST__STORE__CODE", "L01".into()));
        let r = crate::bench_link::run(
            bin,
            &edge_url,
            env.sync_port,
            env_link,
            &cdb,
            &id,
            a.idle_soak_s,
            a.outage_s,
        )
        .await?;
        drop_database("sqlite", pg, &edge_url);
        r
    } else {
        Value::Null
    };
    drop(api);
    drop(worker);
    drop_database("postgres", pg, &cloud_url);
    let target = if catch_up < 5.0 { "met" } else { "NOT met" };
    println!("target (10,000 queued sales in under 5 s): {target}");
    let fleet_json = fleet.map_or(
        Value::Null,
        |(s, e, p)| json!({"stores": s, "events_per_s": round2(e), "p99_ack_ms": round2(p)}),
    );
    println!(
        "{}",
        json!({"bench": "sync", "sales": a.sales, "events": events, "catch_up_s": round2(catch_up),
            "events_per_s": round2(eps), "baseline_events_per_s": round2(base_eps), "ratio": round2(eps / base_eps),
            "cloud_peak_rss_mb": round2(rss_mb), "fleet": fleet_json, "link": link})
    );
    Ok(())
}

/// Many stores reconnect at once, each pushing its queued events in batches
/// of 50 over its own TLS connection. Returns (stores, events/s until every
/// event is applied, p99 push-acknowledgement latency in ms).
async fn fleet(
    a: &Args,
    env: &CloudEnv,
    cdb: &CloudDb,
    certs: &std::path::Path,
) -> Result<(usize, f64, f64)> {
    println!(
        "fleet: {} stores reconnect at once, {} events each …",
        a.stores, a.fleet_events
    );
    let ca = std::fs::read(certs.join("ca.pem"))?;
    let mut creds = Vec::new();
    for i in 0..a.stores {
        let id = uuid::Uuid::now_v7().to_string();
        let (_, c) =
            cloud::add_store(&mut cdb.conn()?, Some(&id), &format!("F{i}"), "fleet", None)?;
        creds.push((id, c));
    }
    let before = count(cdb, "SELECT count(*) AS n FROM inbox")?;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (id, cred) in creds {
        let cfg = outpost_sync_worker::edge::EdgeConfig {
            ca_pem: Some(ca.clone()),
            batch_events: 50,
            in_flight: 1,
            ..outpost_sync_worker::edge::EdgeConfig::new(
                &format!("https://localhost:{}", env.sync_port),
                &cred,
            )
        };
        let n = a.fleet_events;
        tasks.push(tokio::spawn(async move {
            let mut c = outpost_sync_worker::edge::connect(&cfg).await?;
            let epoch = uuid::Uuid::now_v7().to_string();
            c.hello(HelloRequest { store_id: id.clone(), node_epoch: epoch.clone(), schema_version: 1, ..Default::default() }).await?;
            let mut lat = Vec::new();
            let mut pos = 0i64;
            while (pos as usize) < n {
                let events: Vec<EventEnvelope> = (0..50.min(n - pos as usize))
                    .map(|_| {
                        pos += 1;
                        let oid = uuid::Uuid::now_v7().to_string();
                        let payload = json!({"id": oid, "number": format!("F-R1-{pos:06}"), "device_id": "d", "shift_id": "s",
                            "business_day": "2026-11-23", "company_id": "c", "staff_id": "st", "customer_id": null, "status": "paid",
                            "currency": "EUR", "subtotal_minor": 450, "discount_minor": 0, "tax_minor": 72, "total_minor": 450,
                            "refunded_minor": 0, "needs_adjustment": false, "note": "", "created_at": 1, "hlc": pos, "version": 1,
                            "lines": [{"product_id": "p", "quantity_milli": 1000, "unit_price_minor": 450}], "payments": [], "change_minor": 0})
                        .to_string()
                        .into_bytes();
                        EventEnvelope {
                            event_id: uuid::Uuid::now_v7().to_string(),
                            store_id: id.clone(),
                            stream: "sales".into(),
                            position: pos,
                            node_epoch: epoch.clone(),
                            aggregate_type: "order".into(),
                            aggregate_id: oid,
                            aggregate_version: 1,
                            event_type: "order.created".into(),
                            schema_version: 1,
                            hlc: pos,
                            payload_sha256: outpost_storage::secrets::sha256_hex(&payload),
                            payload,
                            ..Default::default()
                        }
                    })
                    .collect();
                let t = Instant::now();
                c.push(PushRequest {
                    store_id: id.clone(),
                    node_epoch: epoch.clone(),
                    batches: vec![EventBatch { store_id: id.clone(), stream: "sales".into(), events }],
                })
                .await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let acked_s = t0.elapsed().as_secs_f64();
    let total = (a.stores * a.fleet_events) as i64;
    loop {
        if count(cdb, "SELECT count(*) AS n FROM inbox")? - before >= total {
            break;
        }
        if t0.elapsed() > Duration::from_secs(900) {
            bail!("the fleet's events were not applied within 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let applied_s = t0.elapsed().as_secs_f64();
    let p50 = pct(&mut lat, 0.5);
    let p99 = pct(&mut lat, 0.99);
    let eps = total as f64 / applied_s;
    println!(
        "fleet: {total} events acknowledged in {acked_s:.2} s ({:.0}/s), applied in {applied_s:.2} s ({eps:.0}/s); push ack p50 {p50:.1} ms, p99 {p99:.1} ms",
        total as f64 / acked_s
    );
    Ok((a.stores, eps, p99))
}
