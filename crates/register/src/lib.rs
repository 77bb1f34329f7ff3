//! The register agent (`outpost register`): one per till PC, one level
//! below the edge. The till keeps selling cash and card when the edge or
//! the LAN is down.
//!
//! - It is the edge's api on the till's own SQLite: the same sales, shifts,
//!   sign-in and pages (`outpost_api::Application`), serving the till's
//!   page on a loopback address only ([`outpost_api::startup::LocalOnly`]).
//! - [`pair`] trades a manager's one-time code for the register's token on
//!   the edge, pulls the store's master data (`storage::till_feed`) and sets
//!   the till's database up (`storage::agent`).
//! - [`link`] keeps the edge in step while it runs: a heartbeat (the page's
//!   OK/OFFLINE), the till feed pulled by cursor, and every committed event
//!   pushed at once, in commit order, idempotently
//!   (`storage::register_events` on the edge).

pub mod link;
pub mod mdns;
pub mod settings;

pub use settings::RegisterSettings;

use anyhow::Context;
use outpost_storage::{Db, agent};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The till's database in its data folder.
pub fn database(data: &Path) -> PathBuf {
    data.join("register.sqlite")
}

/// What the edge answers a redeemed pairing code.
#[derive(Debug, Deserialize)]
struct Redeemed {
    device: RedeemedDevice,
    token: String,
}

#[derive(Debug, Deserialize)]
struct RedeemedDevice {
    id: String,
    store_id: String,
    register_no: i32,
    name: String,
}

/// The register as paired, for the pairing's output.
#[derive(Debug, Clone)]
pub struct Paired {
    pub register_no: i32,
    pub name: String,
    pub store_code: String,
    pub products: usize,
    /// The store CA pinned (None: plain HTTP).
    pub ca_fingerprint: Option<String>,
}

/// The edge's base URL as typed (`edge.local:8001`, `http://10.0.0.5:8001/`).
pub fn edge_url(typed: &str) -> anyhow::Result<String> {
    let t = typed.trim().trim_end_matches('/');
    let url = if t.contains("://") {
        t.to_owned()
    } else {
        format!("http://{t}")
    };
    let parsed = reqwest::Url::parse(&url).with_context(|| {
        format!("{typed:?} is not the edge's address (e.g. http://10.0.0.5:8001)")
    })?;
    anyhow::ensure!(
        matches!(parsed.scheme(), "http" | "https")
            && parsed.host().is_some()
            && parsed.path() == "/",
        "{typed:?} is not the edge's address: give https://HOST:8443 (e.g. https://10.0.0.5:8443)"
    );
    Ok(url)
}

/// The store CA as the edge serves it.
#[derive(Debug, Deserialize)]
struct ServedCa {
    pem: String,
}

/// Only the hex digits of a fingerprint, upper case ("sha256:ab:cd…" and
/// "ABCD…" compare equal).
fn hex_only(f: &str) -> String {
    let f = f.trim();
    let f = f
        .strip_prefix("SHA256:")
        .or_else(|| f.strip_prefix("sha256:"))
        .unwrap_or(f);
    f.chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The edge's store CA for an `https://` edge: fetched once without
/// checking (there is nothing to check it against yet), and held to
/// `expected` when the manager's fingerprint was given. Returns the PEM and
/// its fingerprint.
async fn fetch_ca(
    edge: &str,
    expected: Option<&str>,
    mdns_port: u16,
) -> anyhow::Result<(String, String)> {
    let first_look = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .tls_danger_accept_invalid_certs(true)
        .dns_resolver(Arc::new(mdns::Resolver::new(
            mdns_port,
            Duration::from_secs(3),
        )))
        .build()?;
    let res = first_look
        .get(format!("{edge}/api/v1/store/ca"))
        .send()
        .await
        .with_context(|| format!("the edge at {edge} does not answer"))?;
    let served: ServedCa = link::answer(res).await.context("fetching the store CA")?;
    let fingerprint = outpost_domain::secrets::pem_fingerprint(&served.pem)
        .context("the edge's store CA is not a certificate")?;
    if let Some(want) = expected
        && hex_only(want) != hex_only(&fingerprint)
    {
        anyhow::bail!(
            "the edge at {edge} presents the store CA {fingerprint}, not {want}: \
             check the address, and the fingerprint on the manager page (Registers)"
        );
    }
    Ok((served.pem, fingerprint))
}

/// Pairs this till with the edge at `edge` with a manager's one-time
/// `code`, into the empty data folder `data`.
pub async fn pair(
    edge: &str,
    code: &str,
    ca_fingerprint: Option<&str>,
    data: &Path,
    cfg: &RegisterSettings,
) -> anyhow::Result<Paired> {
    let edge = edge_url(edge)?;
    let db = Db::open(&database(data).to_string_lossy(), 2)
        .with_context(|| format!("opening the till's database in {}", data.display()))?;
    // Before the code is spent: a till already paired keeps its pairing.
    if outpost_storage::seed::is_set_up(&mut *db.conn()?)? {
        anyhow::bail!(
            "{} already holds a paired register: pair into an empty data folder",
            data.display()
        );
    }
    let ca = if edge.starts_with("https://") {
        Some(fetch_ca(&edge, ca_fingerprint, cfg.mdns_port).await?)
    } else {
        anyhow::ensure!(
            ca_fingerprint.is_none(),
            "a CA fingerprint pins an https:// edge: give the edge's https address"
        );
        None
    };
    // From here on the edge must prove it holds that CA's certificate.
    let http = link::client(
        ca.as_ref().map(|(pem, _)| pem.as_str()),
        Duration::from_secs(15),
        Duration::from_secs(15),
        cfg.mdns_port,
    )?;
    let res = http
        .post(format!("{edge}/api/v1/pairing-codes/redeem"))
        .json(&serde_json::json!({"code": code, "kind": "agent"}))
        .send()
        .await
        .with_context(|| format!("the edge at {edge} does not answer"))?;
    let redeemed: Redeemed = link::answer(res).await.context("pairing refused")?;
    let pages = link::pull_all(&http, &edge, &redeemed.token, None)
        .await
        .context("fetching the store's master data")?;
    let products = pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter(|c| c.kind == "product" && c.row.is_some())
        .count();
    let pairing = agent::Pairing {
        edge_url: edge,
        store_id: redeemed.device.store_id,
        device_id: redeemed.device.id,
        register_no: redeemed.device.register_no,
        name: redeemed.device.name,
        token: redeemed.token,
        ca_pem: ca.as_ref().map(|(pem, _)| pem.clone()),
    };
    let mut conn = db.conn()?;
    agent::set_up(&mut conn, &pairing, &pages).context("setting the till's database up")?;
    let node = outpost_storage::Node::load(&mut conn)?;
    Ok(Paired {
        register_no: pairing.register_no,
        name: pairing.name,
        store_code: node.store_code.clone(),
        products,
        ca_fingerprint: ca.map(|(_, f)| f),
    })
}

/// Before the till sells: asks the edge what it holds of this till, and
/// takes a new epoch when this database is an older copy
/// (`agent::hello`). With the edge away the till starts as it is.
async fn hello(db: &Db, l: &agent::Link, cfg: &RegisterSettings) {
    let asked = async {
        let epoch = outpost_storage::Node::load(&mut *db.conn()?)?.node_epoch;
        let http = link::client(
            l.ca_pem.as_deref(),
            cfg.timeout() * 3,
            cfg.timeout() * 3,
            cfg.mdns_port,
        )?;
        let up = link::standing(&http, &l.edge_url, &l.token, &epoch).await?;
        let up = agent::Upstream {
            marks: up.marks,
            last_number: up.last_number,
        };
        let db = db.clone();
        let new =
            tokio::task::spawn_blocking(move || agent::hello(&mut *db.conn()?, &up)).await??;
        anyhow::Ok(new)
    };
    match asked.await {
        Ok(Some(epoch)) => println!(
            "This till's database is older than what the edge holds of it: new epoch {epoch}, numbering on from the edge's highest"
        ),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "the edge did not answer at start: selling on as this database stands")
        }
    }
}

/// Runs a paired agent until SIGINT/SIGTERM: the till's page and api on
/// loopback, the link to the edge beside them.
pub async fn run(
    mut api: outpost_api::Settings,
    cfg: RegisterSettings,
    hw: outpost_hw_proxy::HwConfig,
    data: &Path,
) -> anyhow::Result<()> {
    let url = database(data).to_string_lossy().into_owned();
    let db = Db::open(&url, 4).with_context(|| format!("opening {url}"))?;
    let link_row = agent::link(&mut *db.conn()?)?;
    hello(&db, &link_row, &cfg).await;
    let token = agent::page_token(&mut *db.conn()?)?;
    drop(db);
    api.database.url = url;
    api.database.pool_size = 4;
    api.server.host = cfg.host.clone();
    api.server.port = cfg.port;
    api.server.page_token = outpost_api::settings::PageToken(token);
    api.server.tls_port = None;
    // One page on loopback: one HTTP worker (each costs memory; a till PC
    // may have many cores), its database work on the blocking pool.
    api.server.workers = 1;
    api.demo.enabled = false;
    let printing = till_printer(&mut api, hw, data);
    let status = Arc::new(link::Status::default());
    let extra = link::routes(status.clone());
    let app = outpost_api::Application::build_with(api, Some(extra))
        .context("starting the till's page server")?;
    println!(
        "Outpost register agent: the till's page is on http://{}:{}/ (edge {})",
        cfg.host,
        app.port(),
        link_row.edge_url
    );
    let link = link::Link::new(
        app.db(),
        app.node(),
        app.sync_wake(),
        status,
        &cfg,
        link_row,
        printing.is_some(),
    )?;
    let mut tasks = link.spawn();
    if let Some(hw) = printing {
        tasks.push(tokio::spawn(async move {
            if let Err(e) = outpost_hw_proxy::http::run(hw).await {
                tracing::error!(error = %e, "the till's printer queue stopped: receipts and the drawer wait");
            }
        }));
    }
    let r = app.run_until_stopped().await.context("serving");
    for t in tasks {
        t.abort();
    }
    r
}

/// The till's own receipt printer and cash drawer, when `[hw]` lists
/// printers: hw-proxy's queue in this process (its SQLite file in the data
/// folder, so a receipt is printed once, and one cut off by a crash comes
/// back as uncertain rather than printed twice), and the api's printing
/// pointed at it: each paid sale's receipt, the drawer kicked for cash,
/// with the edge away or not.
fn till_printer(
    api: &mut outpost_api::Settings,
    mut hw: outpost_hw_proxy::HwConfig,
    data: &Path,
) -> Option<outpost_hw_proxy::HwConfig> {
    let first = hw.printers.first()?.id.clone();
    hw.queue = data.join("hw-proxy.sqlite");
    // On loopback, but a page from another site in the till's browser could
    // still reach it: print jobs and drawer kicks need a token of this
    // start, which only the agent's printing holds.
    if hw.token.is_empty() {
        hw.token = outpost_domain::secrets::new_token().0;
    }
    let p = &mut api.printing;
    p.hw_proxy_url = format!("http://127.0.0.1:{}", hw.grpc_port);
    p.hw_proxy_token = hw.token.clone();
    if !hw.printers.iter().any(|x| x.id == p.receipt_printer) {
        p.receipt_printer = first;
    }
    // Kitchen tickets are the edge's (its display and printers), but for
    // those sold with the edge away: a slip at the till.
    p.kitchen_printer = p.receipt_printer.clone();
    p.kitchen_at_register = true;
    println!(
        "Outpost register agent: receipts print on {} (cash drawer: {})",
        p.receipt_printer,
        if p.open_drawer {
            "kicked for cash"
        } else {
            "off"
        }
    );
    Some(hw)
}
