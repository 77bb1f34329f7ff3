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

use crate::bench_api::{AsCashier, build_release, call, tills};
use crate::bench_sync::free_port;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod procs;

use procs::*;

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
            .cashier(&cashiers[0]),
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
                ms.push(sell(http, url, None, (&c.session, &c.device), body).await?);
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
                .cashier(c),
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
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
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
