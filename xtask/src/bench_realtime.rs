//! `cargo xtask bench realtime`: kitchen screens on the realtime hub while
//! registers sell at a steady rate. Latency is from the moment a register has
//! the sale's 201 (the sale is committed) to the moment a screen receives its
//! kitchen ticket; figures for our hub (`outpost hub` on Redis, as compose runs
//! it) and, in the same run and from the same Redis stream, for a
//! python-socketio server as the peer.

use crate::bench_api::{AsCashier, Cashier, build_release, call, start_with, tills};
use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// WebSocket subscribers on the kitchen channel.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Sales per second offered by the registers together.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Registers selling.
    #[arg(long, default_value_t = 4)]
    registers: usize,
    /// Seconds of selling per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Orders in the burst phase, sold as fast as the registers can while one
    /// more screen is stalled (reads nothing).
    #[arg(long, default_value_t = 1000)]
    burst: usize,
    /// The hub's per-connection queue (`hub.queue`): shorter than the burst,
    /// so the stalled screen is cut for being slow, as in the tests.
    #[arg(long, default_value_t = 256)]
    queue: usize,
}

/// How the registers sell in a phase.
#[derive(Clone, Copy)]
enum Load {
    /// `rate` sales/s together for `seconds`.
    Steady,
    /// This many sales, each register sending its next as soon as the last
    /// returns.
    Burst(usize),
}

use crate::bench_sync::{Proc, free_port};

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Waits for a line starting with `prefix` on the child's stdout and keeps
/// draining it afterwards.
fn wait_line(child: &mut Child, prefix: &str) -> Result<String> {
    let out = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    loop {
        let l = rx
            .recv_timeout(Duration::from_secs(60))
            .with_context(|| format!("waiting for {prefix:?}"))?;
        if let Some(rest) = l.strip_prefix(prefix) {
            return Ok(rest.to_owned());
        }
    }
}

/// One screen's deliveries: (order id, receive time µs).
type Got = Arc<Mutex<Vec<(String, i64)>>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Outpost,
    SocketIo,
}

/// Connects one subscriber; returns once it is subscribed.
async fn subscriber(url: String, proto: Proto, got: Got) -> Result<tokio::task::JoinHandle<()>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .with_context(|| format!("connect {url}"))?;
    match proto {
        Proto::Outpost => {
            ws.send(Message::text(
                json!({"type": "subscribe", "channels": [{"channel": "kitchen"}]}).to_string(),
            ))
            .await?;
            loop {
                let m = ws.next().await.context("closed before subscribed")??;
                if let Message::Text(t) = m
                    && t.contains("\"subscribed\"")
                {
                    break;
                }
            }
        }
        Proto::SocketIo => {
            // Engine.IO v4 open packet, then connect to the default namespace.
            let _open = ws.next().await.context("no open packet")??;
            ws.send(Message::text("40")).await?;
            loop {
                let m = ws.next().await.context("closed before connected")??;
                if let Message::Text(t) = m
                    && t.starts_with("40")
                {
                    break;
                }
            }
        }
    }
    Ok(tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            // Stamp on arrival, before parsing: with a hundred screens in one
            // process, parse time would otherwise queue into the figures.
            let at = now_us();
            let Message::Text(t) = m else { continue };
            let t = t.as_str();
            if proto == Proto::SocketIo && t == "2" {
                let _ = ws.send(Message::text("3")).await;
                continue;
            }
            if let Some(order) = ticket_order(t) {
                got.lock()
                    .expect("not poisoned")
                    .push((order.to_owned(), at));
            }
        }
    }))
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A kitchen screen that subscribes and then reads nothing, with a small
/// receive buffer so the hub's side fills soon (a tablet that froze).
async fn stalled_screen(hub_url: &str, ticket: &str) -> Result<Ws> {
    let addr: std::net::SocketAddr = hub_url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("the hub's address in {hub_url}"))?;
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.set_recv_buffer_size(4096)?;
    let tcp = sock.connect(addr).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("{hub_url}?ticket={ticket}"), tcp)
        .await
        .context("the stalled screen's handshake")?;
    ws.send(Message::text(
        json!({"type": "subscribe", "channels": [{"channel": "kitchen"}]}).to_string(),
    ))
    .await?;
    loop {
        if let Message::Text(t) = ws.next().await.context("closed before subscribed")??
            && t.contains("\"subscribed\"")
        {
            return Ok(ws);
        }
    }
}

/// What happened to the stalled screen once it reads again: the close code
/// the hub cut it with, or None if it was never cut.
async fn cut_with(mut ws: Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| f.code.into()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// The order id of a `ticket.created` frame, found by scanning rather than
/// parsing: a hundred screens share this process's two threads with the
/// server, and a full JSON parse per frame would delay the next screen's
/// arrival stamp. Works on our frames and on the peer's (the same JSON,
/// escaped inside a Socket.IO string).
fn ticket_order(frame: &str) -> Option<&str> {
    if !frame.contains("ticket.created") {
        return None;
    }
    let rest = &frame[frame.find("\"order_id")? + "\"order_id".len()..];
    let start = rest.find(|c: char| c.is_ascii_hexdigit())?;
    let id = rest.get(start..start + 36)?;
    id.bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'-')
        .then_some(id)
}

struct Phase {
    /// Commit (201 at the register) to the frame being in Redis, p50 and p99.
    to_redis: (f64, f64),
    /// The frame in Redis to the first and to the last screen having it, per
    /// sale: p50 and p99 of each (the spread is the fan-out).
    to_first: (f64, f64),
    to_last: (f64, f64),
    p50: f64,
    p99: f64,
    p999: f64,
    msgs_per_s: f64,
    lost: usize,
}

/// Microseconds as milliseconds (clock steps between processes read as 0).
fn ms(us: i64) -> f64 {
    us.max(0) as f64 / 1000.0
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// Sells as `load` says while screens at `urls` listen.
#[allow(clippy::too_many_arguments)]
async fn phase(
    a: &Args,
    load: Load,
    tap: (&str, &str),
    base: &str,
    cashiers: &[Cashier],
    sale: &Value,
    urls: Vec<String>,
    proto: Proto,
) -> Result<Phase> {
    let mut gots = Vec::new();
    let mut tasks = Vec::new();
    for u in urls {
        let g: Got = Arc::default();
        tasks.push(subscriber(u, proto, g.clone()).await?);
        gots.push(g);
    }
    // A tap on the Redis stream itself splits the latency in two: commit to
    // Redis (the api's relay and publisher) and Redis to screen (the hub).
    let in_redis: Got = Arc::default();
    let tap_task = {
        let (url, key, in_redis) = (tap.0.to_owned(), tap.1.to_owned(), in_redis.clone());
        let client = redis::Client::open(url)?;
        let mut c = client.get_multiplexed_async_connection().await?;
        tokio::spawn(async move {
            let mut last = "$".to_owned();
            loop {
                let opts = redis::streams::StreamReadOptions::default()
                    .block(1000)
                    .count(1000);
                let r: redis::RedisResult<Option<redis::streams::StreamReadReply>> =
                    redis::AsyncCommands::xread_options(
                        &mut c,
                        &[key.as_str()],
                        &[last.as_str()],
                        &opts,
                    )
                    .await;
                let at = now_us();
                let Ok(Some(r)) = r else { continue };
                for id in r.keys.into_iter().flat_map(|k| k.ids) {
                    last = id.id.clone();
                    let m: Option<String> = id.get("m");
                    if let Some(f) = m.and_then(|m| serde_json::from_str::<Value>(&m).ok())
                        && f["event_type"] == "ticket.created"
                        && let Some(o) = f["data"]["order_id"].as_str()
                    {
                        in_redis
                            .lock()
                            .expect("not poisoned")
                            .push((o.to_owned(), at));
                    }
                }
            }
        })
    };
    let acked: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let http = reqwest::Client::new();
    let per_register = Duration::from_secs_f64(cashiers.len() as f64 / a.rate);
    let sold = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut sellers = Vec::new();
    for c in cashiers {
        let (http, base, c, sale, acked) = (
            http.clone(),
            base.to_owned(),
            c.clone(),
            sale.clone(),
            acked.clone(),
        );
        let (seconds, sold) = (a.seconds, sold.clone());
        sellers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(per_register);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                match load {
                    Load::Steady if t0.elapsed() < Duration::from_secs(seconds) => {
                        tick.tick().await;
                    }
                    Load::Burst(n)
                        if sold.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n => {}
                    _ => break,
                }
                let r = http
                    .post(format!("{base}/api/v1/orders"))
                    .cashier(&c)
                    .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                    .json(&sale)
                    .send()
                    .await;
                let at = now_us();
                if let Ok(r) = r
                    && r.status().as_u16() == 201
                    && let Ok(v) = r.json::<Value>().await
                    && let Some(id) = v["id"].as_str()
                {
                    acked
                        .lock()
                        .expect("not poisoned")
                        .insert(id.to_owned(), at);
                }
            }
        }));
    }
    for s in sellers {
        s.await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    // Let the last frames arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for t in tasks {
        t.abort();
    }
    tap_task.abort();
    let acked = acked.lock().expect("not poisoned").clone();
    let mut lat = Vec::new();
    let mut lost = 0;
    for g in &gots {
        let got = g.lock().expect("not poisoned");
        let seen: HashMap<&str, i64> = got.iter().map(|(o, t)| (o.as_str(), *t)).collect();
        for (order, t_ack) in &acked {
            match seen.get(order.as_str()) {
                Some(t) => lat.push(ms(t - t_ack)),
                None => lost += 1,
            }
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let in_redis: HashMap<String, i64> = in_redis
        .lock()
        .expect("not poisoned")
        .iter()
        .cloned()
        .collect();
    let mut to_redis: Vec<f64> = in_redis
        .iter()
        .filter_map(|(o, t)| acked.get(o).map(|a| ms(t - a)))
        .collect();
    // Per sale, the first and the last screen's arrival.
    let mut spread: HashMap<&str, (i64, i64)> = HashMap::new();
    for g in &gots {
        for (o, t) in g.lock().expect("not poisoned").iter() {
            if let Some((k, _)) = in_redis.get_key_value(o) {
                let e = spread.entry(k.as_str()).or_insert((*t, *t));
                e.0 = e.0.min(*t);
                e.1 = e.1.max(*t);
            }
        }
    }
    let (mut to_first, mut to_last): (Vec<f64>, Vec<f64>) = spread
        .iter()
        .map(|(o, (first, last))| (ms(first - in_redis[*o]), ms(last - in_redis[*o])))
        .unzip();
    let p50_p99 = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        (pct(v, 0.5), pct(v, 0.99))
    };
    Ok(Phase {
        to_redis: p50_p99(&mut to_redis),
        to_first: p50_p99(&mut to_first),
        to_last: p50_p99(&mut to_last),
        p50: pct(&lat, 0.5),
        p99: pct(&lat, 0.99),
        p999: pct(&lat, 0.999),
        msgs_per_s: lat.len() as f64 / secs,
        lost,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A venv with python-socketio, aiohttp and redis from PyPI, made once.
fn peer_python() -> Result<std::path::PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .context("no HOME")?
        .join("outpost/bench-venv");
    let py = cache.join("bin/python");
    if !py.exists() {
        println!("making the peer's venv in {} …", cache.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&cache)
            .status()?
            .success()
            && Command::new(&py)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "python-socketio==5.*",
                    "aiohttp==3.*",
                    "redis==8.*",
                ])
                .status()?
                .success();
        if !ok {
            let _ = std::fs::remove_dir_all(&cache);
            bail!("could not install the python-socketio peer from PyPI");
        }
    }
    Ok(py)
}

pub fn run(a: Args) -> Result<()> {
    let bin = build_release()?;
    let py = peer_python()?;
    let dir = std::env::temp_dir().join(format!("outpost-bench-rt-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let redis_port = free_port()?;
    let _redis = Proc(
        Command::new("redis-server")
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .context("redis-server (apt-get install redis-server)")?,
    );
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    std::thread::sleep(Duration::from_millis(300));
    let secret = "bench-secret-0123456789abcdef".to_owned();
    let env = [
        ("OUTPOST__REALTIME__REDIS_URL", redis_url.clone()),
        ("OUTPOST__REALTIME__SECRET", secret.clone()),
        ("OUTPOST__RELAY__INTERVAL_MS", "50".into()),
    ];
    let url = dir.join("outpost.sqlite").to_string_lossy().into_owned();
    let srv = start_with(&bin, &url, true, &env)?;
    let mut hub = Command::new(&bin)
        .arg("hub")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("OUTPOST__HUB__PORT", "0")
        .env("OUTPOST__HUB__TLS_PORT", "0")
        .env("OUTPOST__HUB__QUEUE", a.queue.to_string())
        .env("OUTPOST__LOG__FILTER", "error")
        .env("OUTPOST__LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()?;
    let hub_url = wait_line(&mut hub, "Outpost realtime hub listening on ")?;
    let hub = Proc(hub);
    let hub_pid = hub.0.id();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let http = reqwest::Client::new();
        let b = &srv.base;
        let (mtok, cashiers) = tills(&http, &srv, a.registers).await?;
        let p = call(
            http.get(format!("{b}/api/v1/products?q=Espresso")).cashier(&cashiers[0]),
            "products",
        )
        .await?;
        let sale = json!({
            "lines": [{"product_id": p[0]["id"], "quantity_milli": 1000}],
            "payments": [{"method": "card", "amount_minor": p[0]["price_minor"], "card_type": "visa"}],
        });
        let d = call(
            http.post(format!("{b}/api/v1/devices"))
                .bearer_auth(&mtok)
                .json(&json!({"name": "Bench kitchen", "kind": "display"})),
            "pair display",
        )
        .await?;
        let t = call(
            http.post(format!("{b}/api/v1/realtime/tickets"))
                .header("X-Device-Token", d["token"].as_str().context("display token")?),
            "ticket",
        )
        .await?;
        let ticket = t["ticket"].as_str().context("ticket")?.to_owned();
        let store = t["store_id"].as_str().context("store")?.to_owned();

        // Ours.
        let rss0 = rss_kib(hub_pid);
        let urls = vec![format!("{hub_url}?ticket={ticket}"); a.subscribers];
        let key = format!("outpost:{{{store}}}:rt:kitchen");
        let tap = (redis_url.as_str(), key.as_str());
        let ours = phase(&a, Load::Steady, tap, b, &cashiers, &sale, urls.clone(), Proto::Outpost).await?;
        let rss1 = rss_kib(hub_pid);

        // A burst while one more screen is stalled: the others' figures, and
        // whether the hub cut the stalled one.
        let stalled = stalled_screen(&hub_url, &ticket).await?;
        let burst = phase(&a, Load::Burst(a.burst), tap, b, &cashiers, &sale, urls, Proto::Outpost).await?;
        let cut = cut_with(stalled).await;

        // The peer, from the same Redis stream.
        let peer_port = free_port()?;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peer/socketio_peer.py");
        let mut peer = Command::new(&py)
            .arg(script)
            .arg(&redis_url)
            .arg(format!("outpost:{{{store}}}:rt:kitchen"))
            .arg(peer_port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .context("start the python-socketio peer")?;
        wait_line(&mut peer, "peer listening")?;
        let _peer = Proc(peer);
        let urls = vec![
            format!("ws://127.0.0.1:{peer_port}/socket.io/?EIO=4&transport=websocket");
            a.subscribers
        ];
        let theirs = phase(&a, Load::Steady, tap, b, &cashiers, &sale, urls, Proto::SocketIo).await?;

        let hub_mb = rss1 as f64 / 1024.0;
        let per_conn_kb = rss1.saturating_sub(rss0) as f64 / a.subscribers as f64;
        println!(
            "outpost hub: {} subscribers at {:.0} sales/s: p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, {:.0} msgs/s, {} lost; RSS {:.1} MB ({:.0} KiB per connection)",
            a.subscribers, a.rate, ours.p50, ours.p99, ours.p999, ours.msgs_per_s, ours.lost, hub_mb, per_conn_kb
        );
        println!(
            "  commit → in Redis (relay + publisher): p50 {:.2} ms, p99 {:.2} ms",
            ours.to_redis.0, ours.to_redis.1
        );
        println!(
            "  in Redis → first screen: p50 {:.2} ms, p99 {:.2} ms; → last screen: p50 {:.2} ms, p99 {:.2} ms",
            ours.to_first.0, ours.to_first.1, ours.to_last.0, ours.to_last.1
        );
        println!(
            "burst of {} orders ({:.0}/s) with one more screen stalled: the {} others p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, {} lost; the stalled one {}",
            a.burst,
            burst.msgs_per_s / a.subscribers as f64,
            a.subscribers,
            burst.p50,
            burst.p99,
            burst.p999,
            burst.lost,
            match cut {
                Some(code) => format!("cut with close code {code}"),
                None => "never cut".to_owned(),
            }
        );
        println!(
            "python-socketio peer: p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, {:.0} msgs/s, {} lost",
            theirs.p50, theirs.p99, theirs.p999, theirs.msgs_per_s, theirs.lost
        );
        let ratio = theirs.p99 / ours.p99;
        println!("ratio (peer p99 / ours): {ratio:.2}");
        println!(
            "{}",
            json!({
                "bench": "realtime",
                "subscribers": a.subscribers,
                "p50_ms": round2(ours.p50),
                "p99_ms": round2(ours.p99),
                "p999_ms": round2(ours.p999),
                "msgs_per_s": round2(ours.msgs_per_s),
                "lost": ours.lost,
                "hub_rss_mb": round2(hub_mb),
                "rss_per_conn_kb": round2(per_conn_kb),
                "peer_p99_ms": round2(theirs.p99),
                "ratio_p99": round2(ratio),
                "burst": {
                    "orders": a.burst,
                    "orders_per_s": round2(burst.msgs_per_s / a.subscribers as f64),
                    "p50_ms": round2(burst.p50),
                    "p99_ms": round2(burst.p99),
                    "p999_ms": round2(burst.p999),
                    "lost": burst.lost,
                    "stalled_cut_code": cut,
                },
            })
        );
        anyhow::Ok(())
    })?;
    drop(hub);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ticket_order;

    #[test]
    fn finds_the_order_in_our_frames_and_the_peers() {
        let id = "019a0c3e-7d2b-7c41-9a55-3f1e2d4c5b6a";
        let ours = format!(
            r#"{{"type":"event","event_type":"ticket.created","data":{{"id":"x","order_id":"{id}"}}}}"#
        );
        assert_eq!(ticket_order(&ours), Some(id));
        let peer = format!("42[\"event\",{}]", serde_json::to_string(&ours).unwrap());
        assert_eq!(ticket_order(&peer), Some(id));
        let other = ours.replace("ticket.created", "ticket.status_changed");
        assert_eq!(ticket_order(&other), None);
        assert_eq!(
            ticket_order(r#"{"event_type":"ticket.created","order_id":"zz"}"#),
            None
        );
    }
}
