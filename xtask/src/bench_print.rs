//! `cargo xtask bench print`: receipts from a sale to the paper, with real
//! processes: the release `outpost` binary as the edge (SQLite), as hw-proxy
//! and as virtual printers.
//!
//! - first byte: from a cash sale's 201 (the commit is done) to the first
//!   byte of its receipt at the virtual printer, one sale at a time, p50/p99;
//! - throughput: receipts submitted to hw-proxy as fast as it takes them,
//!   through one printer and spread over four; baseline, in the same run:
//!   the same bytes written straight to a virtual printer over TCP, one
//!   connection per receipt, no queue (ratio = hw-proxy / baseline);
//! - detection: a printer switched off, until hw-proxy reports it not ready
//!   (with the default probe interval).

use crate::bench_api::{AsCashier, build_release, call, start_with, tills};
use crate::bench_sync::{Proc, free_port};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sales timed one at a time for the first-byte figures.
    #[arg(long, default_value_t = 200)]
    sales: usize,
    /// Receipts per throughput phase.
    #[arg(long, default_value_t = 400)]
    receipts: usize,
}

struct Printer {
    _proc: Proc,
    port: u16,
    control: String,
}

async fn printer(bin: &str, http: &reqwest::Client) -> Result<Printer> {
    let (port, control) = (free_port()?, free_port()?);
    let child = Command::new(bin)
        .args(["virtual-printer", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--control")
        .arg(format!("127.0.0.1:{control}"))
        .env("OUTPOST__LOG__FILTER", "error")
        .stdout(Stdio::null())
        .spawn()
        .context("start a virtual printer")?;
    let p = Printer {
        _proc: Proc(child),
        port,
        control: format!("http://127.0.0.1:{control}"),
    };
    wait_up(http, &format!("{}/health", p.control)).await?;
    Ok(p)
}

async fn wait_up(http: &reqwest::Client, url: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not come up")
}

async fn jobs(http: &reqwest::Client, p: &Printer) -> Result<Vec<Value>> {
    jobs_from(http, p, 0).await
}

/// The printer's jobs from the `from`-th on (0-based).
async fn jobs_from(http: &reqwest::Client, p: &Printer, from: usize) -> Result<Vec<Value>> {
    let v = call(
        http.get(format!("{}/jobs?from={from}", p.control)),
        "printer jobs",
    )
    .await?;
    Ok(v["jobs"].as_array().cloned().unwrap_or_default())
}

struct Hw {
    _proc: Proc,
    base: String,
    grpc: u16,
    _dir: tempfile::TempDir,
}

async fn hw_proxy(bin: &str, http: &reqwest::Client, printers: &[&Printer]) -> Result<Hw> {
    let dir = tempfile::tempdir()?;
    let mut toml = String::new();
    for (i, p) in printers.iter().enumerate() {
        toml.push_str(&format!(
            "[[hw.printers]]\nid = \"p{i}\"\naddress = \"tcp://127.0.0.1:{}\"\n",
            p.port
        ));
    }
    std::fs::write(dir.path().join("hw.toml"), toml)?;
    let (port, grpc) = (free_port()?, free_port()?);
    let child = Command::new(bin)
        .arg("--config")
        .arg(dir.path().join("hw.toml"))
        .arg("hw-proxy")
        .env("OUTPOST__HW__PORT", port.to_string())
        .env("OUTPOST__HW__GRPC_PORT", grpc.to_string())
        .env("OUTPOST__HW__QUEUE", dir.path().join("q.sqlite"))
        .env("OUTPOST__LOG__FILTER", "error")
        .stdout(Stdio::null())
        .spawn()
        .context("start hw-proxy")?;
    let hw = Hw {
        _proc: Proc(child),
        base: format!("http://127.0.0.1:{port}"),
        grpc,
        _dir: dir,
    };
    wait_up(http, &format!("{}/health", hw.base)).await?;
    Ok(hw)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn now_ms_f() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

fn receipt(i: usize, printer: &str) -> Value {
    json!({
        "id": uuid::Uuid::now_v7().to_string(),
        "printer": printer,
        "kind": "receipt",
        "receipt": {
            "store": "Outpost Bench",
            "order_number": format!("S01-R1-{i:06}"),
            "order_id": uuid::Uuid::now_v7().to_string(),
            "time": "2026-11-23 10:15",
            "lines": [
                {"name": "Espresso", "quantity": "2", "amount": "5.00"},
                {"name": "Croissant au beurre", "quantity": "1", "amount": "2.40"},
                {"name": "Orange juice, fresh", "quantity": "1", "amount": "3.90"},
                {"name": "Sourdough loaf", "quantity": "1", "amount": "4.50"}
            ],
            "taxes": [{"label": "Tax 7%", "amount": "1.03"}],
            "total": "15.80",
            "payments": [{"label": "Card", "amount": "15.80"}]
        }
    })
}

/// Submits `n` receipts spread over `printers` and waits until all printed;
/// returns receipts per second.
async fn through_hw(
    http: &reqwest::Client,
    hw: &Hw,
    printers: &[&Printer],
    n: usize,
) -> Result<f64> {
    use futures_util::StreamExt;
    let t0 = Instant::now();
    // Sixteen registers' worth of submissions in flight.
    let results: Vec<Result<Value>> = futures_util::stream::iter(0..n)
        .map(|i| {
            call(
                http.post(format!("{}/api/v1/jobs", hw.base))
                    .json(&receipt(i, &format!("p{}", i % printers.len()))),
                "submit",
            )
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for r in results {
        r?;
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let mut done = 0;
        for p in printers {
            done += jobs(http, p).await?.len();
        }
        if done >= n {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {done} of {n} receipts printed");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

pub fn run(a: Args) -> Result<()> {
    let bin = build_release()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(&bin, a))
}

async fn bench(bin: &str, a: Args) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    // 1. A sale's commit to its receipt's first byte.
    let p = printer(bin, &http).await?;
    let hw = hw_proxy(bin, &http, &[&p]).await?;
    let data = tempfile::tempdir()?;
    let url = data
        .path()
        .join("outpost.sqlite")
        .to_string_lossy()
        .into_owned();
    let srv = start_with(
        bin,
        &url,
        false,
        &[
            (
                "OUTPOST__PRINTING__HW_PROXY_URL",
                format!("http://127.0.0.1:{}", hw.grpc),
            ),
            ("OUTPOST__PRINTING__RECEIPT_PRINTER", "p0".into()),
        ],
    )?;
    let (_, cashiers) = tills(&http, &srv, 1).await?;
    let b = &srv.base;
    let products = call(
        http.get(format!("{b}/api/v1/products?q=milk"))
            .cashier(&cashiers[0]),
        "products",
    )
    .await?;
    let barcode = products[0]["barcodes"][0]
        .as_str()
        .context("barcode")?
        .to_owned();
    let price = products[0]["price_minor"].as_i64().context("price")?;
    let mut first_byte = Vec::new();
    for i in 0..a.sales {
        let body = json!({
            "currency": "EUR",
            "lines": [{"barcode": barcode, "quantity_milli": 1000}],
            "payments": [{"method": "card", "amount_minor": price, "card_type": "VISA"}],
        });
        call(
            http.post(format!("{b}/api/v1/orders"))
                .cashier(&cashiers[0])
                .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                .json(&body),
            "sale",
        )
        .await?;
        let acked = now_ms_f();
        let deadline = Instant::now() + Duration::from_secs(30);
        let got = loop {
            let js = jobs_from(&http, &p, i).await?;
            if let Some(j) = js.first() {
                break j["first_byte_ms"].as_f64().unwrap_or(f64::NAN);
            }
            if Instant::now() > deadline {
                bail!("sale {i}'s receipt never printed");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        // The printer stamps whole milliseconds: never below zero.
        first_byte.push((got - acked.floor()).max(0.0));
    }
    let (p50, p99) = (pct(&mut first_byte, 0.50), pct(&mut first_byte, 0.99));
    println!(
        "sale → receipt first byte ({} sales, one at a time): p50 {:.1} ms, p99 {:.1} ms",
        a.sales, p50, p99
    );
    drop(srv);
    drop(hw);
    drop(p);

    // 2. Baseline: the same bytes straight to a printer, one connection each.
    let raw = printer(bin, &http).await?;
    let doc: outpost_receipt::document::Receipt =
        serde_json::from_value(receipt(0, "p0")["receipt"].clone())?;
    let payload = outpost_receipt::document::receipt(
        &doc,
        &outpost_receipt::document::Profile::default(),
        false,
    )?
    .bytes;
    let bytes = payload.len();
    let t0 = Instant::now();
    for _ in 0..a.receipts {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", raw.port)).await?;
        s.write_all(&payload).await?;
        s.shutdown().await?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while jobs(&http, &raw).await?.len() < a.receipts {
        if Instant::now() > deadline {
            bail!("the baseline printer did not record every job");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let baseline = a.receipts as f64 / t0.elapsed().as_secs_f64();
    println!("baseline: {bytes}-byte receipts straight over TCP: {baseline:.0}/s");
    drop(raw);

    // 3. Through hw-proxy: one printer, then four.
    let one = printer(bin, &http).await?;
    let hw1 = hw_proxy(bin, &http, &[&one]).await?;
    let per_s_1 = through_hw(&http, &hw1, &[&one], a.receipts).await?;
    println!(
        "through hw-proxy, 1 printer: {per_s_1:.0} receipts/s (ratio {:.2})",
        per_s_1 / baseline
    );
    drop(hw1);
    let four = [
        printer(bin, &http).await?,
        printer(bin, &http).await?,
        printer(bin, &http).await?,
        printer(bin, &http).await?,
    ];
    let refs: Vec<&Printer> = four.iter().collect();
    let hw4 = hw_proxy(bin, &http, &refs).await?;
    let per_s_4 = through_hw(&http, &hw4, &refs, a.receipts).await?;
    println!(
        "through hw-proxy, 4 printers: {per_s_4:.0} receipts/s (ratio {:.2})",
        per_s_4 / baseline
    );

    // 4. A printer switched off, until hw-proxy says so (default probe interval).
    let ready = |v: &Value| v["printers"][0]["state"]["ready"] == true;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(
        &call(
            http.get(format!("{}/api/v1/printers", hw4.base)),
            "printers",
        )
        .await?,
    ) {
        if Instant::now() > deadline {
            bail!("printer p0 never became ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    call(
        http.put(format!("{}/mode", four[0].control))
            .json(&json!({"mode": "off"})),
        "switch off",
    )
    .await?;
    let t0 = Instant::now();
    while ready(
        &call(
            http.get(format!("{}/api/v1/printers", hw4.base)),
            "printers",
        )
        .await?,
    ) {
        if t0.elapsed() > Duration::from_secs(60) {
            bail!("hw-proxy never noticed the printer went away");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let detect_s = t0.elapsed().as_secs_f64();
    println!("a printer switched off is reported not ready after {detect_s:.2} s");

    println!(
        "{}",
        json!({
            "bench": "print",
            "first_byte_p50_ms": round2(p50),
            "first_byte_p99_ms": round2(p99),
            "receipts_per_s_1": per_s_1.round(),
            "receipts_per_s_4": per_s_4.round(),
            "baseline_receipts_per_s": baseline.round(),
            "ratio_1": round2(per_s_1 / baseline),
            "detect_offline_s": round2(detect_s),
        })
    );
    Ok(())
}
