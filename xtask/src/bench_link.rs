//! `cargo xtask bench sync`, its link phases: what the test suite checks in
//! seconds with shortened timers, here at full length with the shipped ones.
//!
//! - An idle store for `--idle-soak-s` (ten minutes by default): is it
//!   online at both ends all the while (the edge's health every second; the
//!   cloud's last contact never older than the edge's offline threshold)?
//! - The link cut cleanly for `--outage-s` while the store sells (the
//!   baseline), then the same outage as a blackhole (connections go silent,
//!   new ones are accepted and never answered): how long until the edge says
//!   offline, until it is online again after the link returns, until the
//!   backlog is in the cloud — and the blackhole's catch-up against the cut's.
//!
//! The proxy is this module's own (the test suite has its twin in the test
//! binary, which xtask cannot link).

use crate::bench_api::{AsCashier, Cashier, Server, call, start_with, tills};
use anyhow::{Context, Result, bail};
use outpost_cloud::db::CloudDb;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    Cut,
    Blackhole,
}

/// A TCP proxy in front of the cloud's sync port.
struct Proxy {
    port: u16,
    link: watch::Sender<Link>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: u16) -> Result<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (tx, rx) = watch::channel(Link::Up);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((inbound, _)) = listener.accept().await {
                match *rx.borrow() {
                    Link::Cut => continue,
                    Link::Blackhole => {
                        held.push(inbound);
                        continue;
                    }
                    Link::Up => {}
                }
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let mut inbound = inbound;
                    let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let left = async {
                        while rx.changed().await.is_ok() {
                            let now = *rx.borrow();
                            if now != Link::Up {
                                return now;
                            }
                        }
                        Link::Cut
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                        now = left => {
                            if now == Link::Blackhole {
                                while rx.changed().await.is_ok() {} // silent for good
                            }
                        }
                    }
                });
            }
        });
        Ok(Proxy {
            port,
            link: tx,
            task,
        })
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.set(Link::Cut);
    }
}

async fn sync_health(http: &reqwest::Client, srv: &Server) -> Result<Value> {
    let h = call(http.get(format!("{}/health", srv.base)), "health").await?;
    Ok(h["components"]["sync"].clone())
}

/// Polls until `f` holds; the time it took, or an error after `limit`.
async fn until<F: std::future::Future<Output = Result<bool>>>(
    limit: Duration,
    what: &str,
    mut f: impl FnMut() -> F,
) -> Result<f64> {
    let t0 = Instant::now();
    while !f().await? {
        if t0.elapsed() > limit {
            bail!("{what}: not within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// What an outage of one shape cost.
struct Outage {
    noticed_s: f64,
    online_s: f64,
    caught_up_s: f64,
}

/// The link phases; returns their figures as JSON. `sync_env` points the
/// edge at the cloud; its URL is replaced by the proxy's.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    bin: &str,
    edge_url: &str,
    sync_port: u16,
    mut sync_env: Vec<(&'static str, String)>,
    cdb: &CloudDb,
    store_id: &str,
    idle_soak_s: u64,
    outage_s: u64,
) -> Result<Value> {
    let proxy = Proxy::start(sync_port).await?;
    sync_env.retain(|(k, _)| !k.starts_with("OUTPOST__SYNC__BACKOFF"));
    for (k, v) in &mut sync_env {
        if *k == "OUTPOST__SYNC__CLOUD_URL" {
            *v = format!("https://localhost:{}", proxy.port);
        }
    }
    let srv = start_with(bin, edge_url, false, &sync_env)?;
    let http = reqwest::Client::new();
    let (manager, tokens) = tills(&http, &srv, 1).await?;
    let online = || async { Ok(sync_health(&http, &srv).await?["online"] == true) };
    until(Duration::from_secs(60), "online", online).await?;

    println!("link: an idle store for {idle_soak_s} s …");
    let contact = format!(
        "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint - COALESCE(last_contact_at, 0) AS n \
         FROM stores WHERE id = '{store_id}'"
    );
    let (mut samples, mut online_samples, mut worst_contact) = (0u64, 0u64, 0i64);
    let soak = Instant::now();
    while soak.elapsed() < Duration::from_secs(idle_soak_s) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples += 1;
        online_samples += u64::from(sync_health(&http, &srv).await?["online"] == true);
        worst_contact = worst_contact.max(crate::bench_sync::count(cdb, &contact)?);
    }
    let online_share = if samples == 0 {
        1.0
    } else {
        online_samples as f64 / samples as f64
    };
    println!(
        "link: idle {idle_soak_s} s: online in {online_samples} of {samples} samples; the cloud's last contact at most {worst_contact} ms old"
    );

    let mut shapes = Vec::new();
    for link in [Link::Cut, Link::Blackhole] {
        let o = outage(
            &http, &srv, &manager, &tokens[0], &proxy, link, outage_s, cdb, store_id,
        )
        .await?;
        println!(
            "link: {link:?} for {outage_s} s: offline noticed after {:.1} s; online {:.1} s and everything in {:.1} s after the link returned",
            o.noticed_s, o.online_s, o.caught_up_s
        );
        shapes.push(o);
    }
    let (cut, hole) = (&shapes[0], &shapes[1]);
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    let shape = |o: &Outage| json!({"noticed_s": r2(o.noticed_s), "online_s": r2(o.online_s), "caught_up_s": r2(o.caught_up_s)});
    Ok(json!({
        "idle_soak_s": idle_soak_s,
        "idle_online_share": (online_share * 1000.0).round() / 1000.0,
        "idle_worst_contact_ms": worst_contact,
        "outage_s": outage_s,
        "cut": shape(cut),
        "blackhole": shape(hole),
        "blackhole_vs_cut": r2(hole.caught_up_s / cut.caught_up_s.max(0.001)),
    }))
}

/// One outage of `link`'s shape for `secs`, a sale every two seconds.
#[allow(clippy::too_many_arguments)]
async fn outage(
    http: &reqwest::Client,
    srv: &Server,
    manager: &str,
    cashier: &Cashier,
    proxy: &Proxy,
    link: Link,
    secs: u64,
    cdb: &CloudDb,
    store_id: &str,
) -> Result<Outage> {
    let b = &srv.base;
    let products = call(
        http.get(format!("{b}/api/v1/products?q=Espresso"))
            .bearer_auth(manager),
        "products",
    )
    .await?;
    let (id, price) = (
        products[0]["id"].clone(),
        products[0]["price_minor"].as_i64().context("price")?,
    );
    proxy.set(link);
    let down = Instant::now();
    let mut noticed = None;
    while down.elapsed() < Duration::from_secs(secs) {
        let body = json!({"lines": [{"product_id": id, "quantity_milli": 1000}],
            "payments": [{"method": "cash", "amount_minor": price, "tendered_minor": price}]});
        call(
            http.post(format!("{b}/api/v1/orders"))
                .cashier(cashier)
                .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                .json(&body),
            "sale",
        )
        .await?;
        if noticed.is_none() && sync_health(http, srv).await?["online"] == false {
            noticed = Some(down.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    proxy.set(Link::Up);
    let up = Instant::now();
    let online_s = until(Duration::from_secs(120), "online again", || async {
        Ok(sync_health(http, srv).await?["online"] == true)
    })
    .await?;
    let heads = crate::bench_sync::heads(http, b, manager).await?;
    until(Duration::from_secs(300), "caught up", || async {
        crate::bench_sync::applied(cdb, store_id, &heads)
    })
    .await?;
    Ok(Outage {
        noticed_s: noticed.unwrap_or(f64::NAN),
        online_s,
        caught_up_s: up.elapsed().as_secs_f64(),
    })
}
