//! The store's printers as the edge knows them: which hw-proxy drives each
//! one, and a PrintService client per hw-proxy.
//!
//! The printers configured on the manager page (`outpost_storage::printers`)
//! are the edge's; [`reconcile`] hands each hw-proxy its set (`SetPrinters`)
//! at start, after every change, and every half minute, so a hw-proxy that
//! was away or replaced catches up by itself. Until the manager page has a
//! printer, the settings' `printing.hw_proxy_url` with `receipt_printer` /
//! `kitchen_printer` name them (a one-box store configured by compose).

use super::AfterCommit;
use crate::settings::Printing;
use outpost_proto::hw_v1 as pb;
use outpost_proto::hw_v1::print_service_client::PrintServiceClient;
use outpost_receipt::PrinterError;
use outpost_storage::StorageError;
use outpost_storage::printers::{self, Printer};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// hw-proxy's PrintService, called with its token.
pub type Client = PrintServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Token>,
>;

/// Adds `authorization: Bearer printing.hw_proxy_token` to every call.
#[derive(Clone)]
pub struct Token(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Token {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// A printer a job goes to: the hw-proxy that drives it and its id there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub printer: String,
    /// Its row, when the manager page configured it.
    pub row: Option<Printer>,
}

/// How the last `SetPrinters` to a hw-proxy went.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Pushed {
    pub ok: bool,
    pub error: Option<String>,
    pub at_ms: i64,
}

/// Why a hw-proxy was not reached or did not take what was sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HwProxyError {
    #[error("{url:?} is not a URL: {reason}")]
    NotAUrl { url: String, reason: String },
    #[error("printing.hw_proxy_token cannot be sent as a header")]
    Token,
    #[error("{0}")]
    NotAllowed(String),
    #[error("{url} has no printer {printer:?} (yet): {message}")]
    NoPrinter {
        url: String,
        printer: String,
        message: String,
    },
    #[error("{url}: {message}")]
    Call { url: String, message: String },
}

pub struct Hardware {
    token: Result<Token, HwProxyError>,
    /// Which hw-proxies the token may go to.
    printing: Printing,
    clients: Mutex<HashMap<String, Client>>,
    /// Poked when the manager page changed a printer.
    pub changed: Notify,
    pushed: Mutex<BTreeMap<String, Pushed>>,
    /// The store CA (PEM) an `https://` hw-proxy's certificate must chain
    /// to: it serves the one the api wrote (`server.tls_dir`).
    store_ca: std::sync::OnceLock<String>,
}

impl Hardware {
    pub fn new(cfg: &Printing) -> Hardware {
        Hardware {
            token: format!("Bearer {}", cfg.hw_proxy_token)
                .parse()
                .map(Token)
                .map_err(|_| HwProxyError::Token),
            printing: cfg.clone(),
            clients: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            store_ca: std::sync::OnceLock::new(),
            pushed: Mutex::new(BTreeMap::new()),
        }
    }

    /// The client for the hw-proxy at `url` (connecting when first used).
    pub fn client(&self, url: &str) -> Result<Client, HwProxyError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(url) {
            return Ok(c.clone());
        }
        // A printer stored before the rule, or a hand-edited row: the
        // token never leaves for a host not allowed.
        self.printing
            .hw_proxy_allowed(url)
            .map_err(HwProxyError::NotAllowed)?;
        // HTTP/2 pings close a connection that went silent (a hw-proxy host
        // that hung, a link that dropped its state); the next call opens a
        // fresh one instead of timing out on the dead one for good.
        let mut endpoint =
            tonic::transport::Endpoint::from_shared(url.to_owned()).map_err(|e| {
                HwProxyError::NotAUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                }
            })?;
        if url.starts_with("https://") {
            let ca = self.store_ca.get().ok_or_else(|| HwProxyError::Call {
                url: url.to_owned(),
                message: "no store CA to check its certificate with (this api serves no TLS)"
                    .into(),
            })?;
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca));
            endpoint = endpoint.tls_config(tls).map_err(|e| HwProxyError::Call {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        }
        let channel = endpoint
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5))
            .keep_alive_while_idle(true)
            .connect_lazy();
        let c = PrintServiceClient::with_interceptor(channel, self.token.clone()?);
        clients.insert(url.to_owned(), c.clone());
        Ok(c)
    }

    /// Trusts `ca_pem`, the store's CA, for `https://` hw-proxies.
    pub fn trust(&self, ca_pem: &str) {
        let _ = self.store_ca.set(ca_pem.to_owned());
    }

    /// Forgets the client for `url` after a call on it failed, so the next
    /// call connects afresh rather than trusting a connection that may have
    /// gone silent.
    pub fn forget(&self, url: &str) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(url);
    }

    pub fn pushed(&self) -> BTreeMap<String, Pushed> {
        self.pushed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Hands the hw-proxy at `url` this set of printers.
    async fn set(&self, url: &str, set: Vec<&Printer>) -> Result<(), HwProxyError> {
        let set = set.into_iter().map(definition).collect();
        self.client(url)?
            .set_printers(pb::SetPrintersRequest { printers: set })
            .await
            .map(|_| ())
            .map_err(|s| {
                self.forget(url);
                HwProxyError::Call {
                    url: url.to_owned(),
                    message: s.message().to_owned(),
                }
            })
    }

    fn record(&self, url: &str, r: Result<(), HwProxyError>) -> Pushed {
        let p = Pushed {
            ok: r.is_ok(),
            // The page names the hw-proxy itself: its own words only.
            error: r.err().map(|e| match e {
                HwProxyError::Call { message, .. } => message,
                e => e.to_string(),
            }),
            at_ms: outpost_storage::db::now_millis(),
        };
        if let Some(e) = &p.error {
            tracing::warn!(hw_proxy = %url, error = %e, "hw-proxy did not take the printers");
        }
        self.pushed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_owned(), p.clone());
        p
    }
}

/// Hands the hw-proxy at `url` its printers of `rows` (as
/// `printers::with_removed` read them), and forgets the ones removed from it
/// once it took a set without them.
pub async fn push(state: &AfterCommit, url: &str, rows: &[Printer]) -> Pushed {
    let (removed, active): (Vec<&Printer>, Vec<&Printer>) = rows
        .iter()
        .filter(|p| p.hw_proxy_url == url)
        .partition(|p| p.removed_at.is_some());
    let r = state.hardware.set(url, active).await;
    if r.is_ok() && !removed.is_empty() {
        let ids: Vec<String> = removed.iter().map(|p| p.id.clone()).collect();
        if let Err(e) = state
            .write(move |c, _| printers::purge_removed(c, &ids))
            .await
        {
            tracing::warn!(error = %e, "cannot forget removed printers yet");
        }
    }
    state.hardware.record(url, r)
}

/// Every printer, with the removed ones their hw-proxy still has.
pub async fn rows(state: &AfterCommit) -> Result<Vec<Printer>, StorageError> {
    state.db(|c, _| printers::with_removed(c)).await
}

/// A printer's row as hw-proxy takes it.
pub fn definition(p: &Printer) -> pb::PrinterDefinition {
    pb::PrinterDefinition {
        id: p.id.clone(),
        address: p.address.clone(),
        width: p.width.max(0) as u32,
        code_pages: p
            .code_pages
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        fallback: p.fallback.clone().unwrap_or_default(),
        logo_png: p.logo_png.clone().unwrap_or_default(),
    }
}

/// Whether hw-proxy would take this printer as it is: its id, address,
/// width, code pages and logo, checked by hw-proxy's own rules; and whether
/// `cfg` lets it be: its address within `printing.printer_*`, its
/// hw-proxy one the print token may go to.
pub fn check(p: &Printer, cfg: &Printing) -> Result<(), CheckError> {
    let url = &p.hw_proxy_url;
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || tonic::transport::Endpoint::from_shared(url.clone()).is_err()
    {
        return Err(CheckError::HwProxyUrl(url.clone()));
    }
    cfg.hw_proxy_allowed(url).map_err(CheckError::NotAllowed)?;
    if p.fallback.as_deref() == Some(p.id.as_str()) {
        return Err(CheckError::OwnFallback);
    }
    profile(p)?;
    let address = outpost_receipt::printer::Address::parse(&p.address)
        .map_err(|e| CheckError::NotAllowed(e.to_owned()))?;
    cfg.reach()
        .and_then(|r| r.allows(&address))
        .map_err(|e| CheckError::NotAllowed(format!("printer {:?}: {e}", p.id)))?;
    Ok(())
}

/// Why a printer is not stored.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("hw_proxy_url {0:?}: give hw-proxy's gRPC address, such as http://10.0.0.5:7072")]
    HwProxyUrl(String),
    #[error("a printer cannot be its own fallback")]
    OwnFallback,
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Printer(#[from] PrinterError),
}

/// The printer as hw-proxy would drive it (its checks included): its
/// paper, code pages and logo.
pub fn profile(p: &Printer) -> Result<outpost_receipt::Profile, PrinterError> {
    let (config, logo) = outpost_receipt::wire::config(definition(p))?;
    config.profile(&logo)
}

/// Where a register's receipts print.
pub fn receipt_target(cfg: &Printing, all: &[Printer], device_id: &str) -> Option<Target> {
    if all.is_empty() {
        return from_settings(cfg, &cfg.receipt_printer);
    }
    printers::for_receipts(all, device_id).map(target)
}

/// Whether any receipt prints at all, whichever register sells.
pub fn prints_receipts(cfg: &Printing, all: &[Printer]) -> bool {
    if all.is_empty() {
        return from_settings(cfg, &cfg.receipt_printer).is_some();
    }
    printers::any_for_receipts(all)
}

/// Where kitchen tickets print.
pub fn kitchen_target(cfg: &Printing, all: &[Printer]) -> Option<Target> {
    if all.is_empty() {
        return from_settings(cfg, &cfg.kitchen_printer);
    }
    printers::for_kitchen(all).map(target)
}

fn target(p: &Printer) -> Target {
    Target {
        url: p.hw_proxy_url.clone(),
        printer: p.id.clone(),
        row: Some(p.clone()),
    }
}

fn from_settings(cfg: &Printing, printer: &str) -> Option<Target> {
    (!cfg.hw_proxy_url.is_empty() && !printer.is_empty()).then(|| Target {
        url: cfg.hw_proxy_url.clone(),
        printer: printer.to_owned(),
        row: None,
    })
}

/// Keeps every hw-proxy's managed printers as the manager page says, until
/// shutdown.
pub async fn reconcile(state: Arc<AfterCommit>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    // Every hw-proxy with a printer, or a removed one it has not let go of
    // yet, and those handed printers since start (a printer moved to
    // another hw-proxy leaves the old one with an empty set).
    let mut known = BTreeSet::new();
    loop {
        let mut failing = false;
        match rows(&state).await {
            Ok(rows) => {
                known.extend(rows.iter().map(|p| p.hw_proxy_url.clone()));
                for url in &known {
                    failing |= !push(&state, url, &rows).await.ok;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the printers");
                failing = true;
            }
        }
        let pause = Duration::from_secs(if failing { 5 } else { 30 });
        tokio::select! {
            _ = &mut shutdown => return,
            _ = state.hardware.changed.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printing() -> Printing {
        crate::settings::Settings::load(None).unwrap().printing
    }

    fn row(id: &str, role: &str) -> Printer {
        Printer {
            id: id.into(),
            hw_proxy_url: "http://10.0.0.5:7072".into(),
            address: "tcp://10.0.0.9:9100".into(),
            width: 42,
            code_pages: "cp858, CP437".into(),
            fallback: None,
            role: role.into(),
            device_id: None,
            logo_png: None,
            updated_at: 0,
            removed_at: None,
        }
    }

    #[test]
    fn the_manager_pages_printers_replace_the_settings_ones() {
        let mut cfg = printing();
        cfg.hw_proxy_url = "http://hw:7072".into();
        cfg.receipt_printer = "front".into();
        cfg.kitchen_printer = String::new();
        let t = receipt_target(&cfg, &[], "d1").unwrap();
        assert_eq!(
            (t.url.as_str(), t.printer.as_str()),
            ("http://hw:7072", "front")
        );
        assert!(kitchen_target(&cfg, &[]).is_none());
        let all = [row("bar", "kitchen")];
        assert!(
            receipt_target(&cfg, &all, "d1").is_none(),
            "once the page has printers, the settings' do not apply"
        );
        assert_eq!(kitchen_target(&cfg, &all).unwrap().printer, "bar");
    }

    /// The settings with the rows' hw-proxy named as the api's.
    fn allowed() -> Printing {
        Printing {
            hw_proxy_url: "http://10.0.0.5:7072".into(),
            ..printing()
        }
    }

    #[test]
    fn a_printer_is_checked_by_hw_proxys_rules() {
        let cfg = allowed();
        assert_eq!(check(&row("front", "receipt"), &cfg), Ok(()));
        assert_eq!(
            definition(&row("front", "receipt")).code_pages,
            ["cp858", "CP437"]
        );
        for (change, says) in [
            (
                Box::new(|p: &mut Printer| p.address = "10.0.0.9".into())
                    as Box<dyn Fn(&mut Printer)>,
                "tcp://",
            ),
            (Box::new(|p| p.width = 8), "width"),
            (Box::new(|p| p.code_pages = "cp1252".into()), "code page"),
            (Box::new(|p| p.id = "front desk".into()), "letters"),
            (
                Box::new(|p| p.hw_proxy_url = "hw:7072".into()),
                "hw_proxy_url",
            ),
            (
                Box::new(|p| p.fallback = Some("front".into())),
                "own fallback",
            ),
            (Box::new(|p| p.logo_png = Some(b"GIF89a".to_vec())), "PNG"),
            // Where it may be (issue 30): not Redis on the compose network,
            // not a file, and the token not to another host.
            (
                Box::new(|p| p.address = "tcp://redis:6379".into()),
                "is a name",
            ),
            (
                Box::new(|p| p.address = "tcp://172.18.0.3:6379".into()),
                "port 6379",
            ),
            (
                Box::new(|p| p.address = "file:///var/lib/outpost/edge.sqlite".into()),
                "not a printer device",
            ),
            (
                Box::new(|p| p.hw_proxy_url = "http://10.0.0.66:7072".into()),
                "print token",
            ),
        ] {
            let mut p = row("front", "receipt");
            change(&mut p);
            let e = check(&p, &cfg).unwrap_err().to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
        // Loopback and the hosts named in hw_proxy_hosts take the token.
        let mut p = row("front", "receipt");
        p.hw_proxy_url = "http://127.0.0.1:7072".into();
        assert_eq!(check(&p, &cfg), Ok(()));
        p.hw_proxy_url = "http://[::1]:7072".into();
        assert_eq!(check(&p, &cfg), Ok(()));
        p.hw_proxy_url = "http://till-3:7072".into();
        assert!(check(&p, &cfg).is_err());
        let cfg = Printing {
            hw_proxy_hosts: "till-2, Till-3".into(),
            ..allowed()
        };
        assert_eq!(check(&p, &cfg), Ok(()));
    }
}
