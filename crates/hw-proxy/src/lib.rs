//! hw-proxy: the registers' printers and cash drawers.
//!
//! Jobs (receipts, kitchen tickets, drawer kicks) arrive over HTTP with the
//! caller's job id, are encoded to ESC/POS (`outpost_receipt::document`), stored in a
//! persistent queue ([`printq`], its own SQLite file) and printed in order, one at
//! a time per printer, by one worker each ([`worker`]). A job is written to a
//! printer at most once by itself: one that was being sent when the process
//! died comes back *uncertain*, for a person to reprint.
//!
//! [`virtual_printer`] is a printer on TCP for tests and demos; it reads
//! what it is sent back into text with `outpost_receipt::render`.

pub mod grpc;
pub mod http;
pub mod inputs;
pub mod jobs;
pub mod metrics;
pub mod printq;
pub mod status;
pub mod transport;
pub mod virtual_printer;
pub mod worker;

pub use outpost_receipt::printer::{PrinterConfig, check_id};
use serde::Deserialize;
use std::collections::HashSet;
use std::time::Duration;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct HwConfig {
    pub host: String,
    pub port: u16,
    pub grpc_port: u16,
    pub queue: std::path::PathBuf,
    pub max_body_bytes: usize,
    pub receipt_max_age_s: i64,
    pub drawer_max_age_s: i64,
    pub fallback_after_s: u64,
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
    pub connect_timeout_ms: u64,
    pub write_timeout_ms: u64,
    pub status_timeout_ms: u64,
    pub probe_interval_ms: u64,
    /// A TOML file of `[[printers]]` read at start, in addition to
    /// `printers`; a missing file means no printers yet (a container's
    /// mounted folder before anyone wrote it).
    pub printers_file: String,
    pub printers: Vec<PrinterConfig>,
    /// Serial barcode scanners and scales.
    pub inputs: Vec<inputs::InputConfig>,
    /// When set, the jobs API and the page need it (bearer token or the
    /// page's cookie), and so does the PrintService (`authorization`
    /// metadata). Empty: open, for a hw-proxy on the register's loopback.
    pub token: String,
    /// Where a printer the edge sends may be (comma-separated CIDR blocks,
    /// ports or ranges, device path prefixes): see `outpost_receipt::reach`.
    /// The settings file's own printers are the operator's and not held to
    /// it.
    #[serde(default = "printer_networks")]
    pub printer_networks: String,
    #[serde(default = "printer_ports")]
    pub printer_ports: String,
    #[serde(default = "printer_devices")]
    pub printer_devices: String,
    /// The page and API over TLS on the LAN, with the certificate the api
    /// writes to `tls_dir` (its `server.tls_dir`); both unset: plain only.
    #[serde(default)]
    pub tls_port: Option<u16>,
    /// The PrintService over TLS too, for an edge reaching this hw-proxy
    /// across the LAN (`https://HOST:PORT`, checked against the store CA).
    #[serde(default)]
    pub grpc_tls_port: Option<u16>,
    #[serde(default)]
    pub tls_dir: String,
    /// How long hw-proxy waits at start for that certificate.
    #[serde(default = "tls_wait_s")]
    pub tls_wait_s: u64,
}

fn tls_wait_s() -> u64 {
    120
}

fn printer_networks() -> String {
    outpost_receipt::reach::NETWORKS.into()
}
fn printer_ports() -> String {
    outpost_receipt::reach::PORTS.into()
}
fn printer_devices() -> String {
    outpost_receipt::reach::DEVICES.into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrintersFile {
    #[serde(default)]
    printers: Vec<PrinterConfig>,
    #[serde(default)]
    inputs: Vec<inputs::InputConfig>,
}

impl HwConfig {
    /// Defaults → optional file → `OUTPOST__HW__KEY` environment variables.
    pub fn load(file: Option<&std::path::Path>) -> Result<HwConfig, String> {
        let mut b = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(f) = file {
            b = b.add_source(config::File::from(f).required(true));
        }
        let cfg = b
            .add_source(
                config::Environment::with_prefix("OUTPOST")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| e.to_string())?;
        let mut hw: HwConfig = cfg.get("hw").map_err(|e| e.to_string())?;
        if !hw.printers_file.is_empty() {
            let path = std::path::Path::new(&hw.printers_file);
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let file: PrintersFile = config::Config::builder()
                        .add_source(config::File::from_str(&text, config::FileFormat::Toml))
                        .build()
                        .and_then(|c| c.try_deserialize())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    hw.printers.extend(file.printers);
                    hw.inputs.extend(file.inputs);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(file = %path.display(), "no printers file yet: hw-proxy runs with no printers until it is written and hw-proxy restarted");
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        hw.check()?;
        Ok(hw)
    }

    /// Where the edge's printers may be.
    pub fn reach(&self) -> Result<outpost_receipt::reach::Reach, String> {
        outpost_receipt::reach::Reach::parse(
            &self.printer_networks,
            &self.printer_ports,
            &self.printer_devices,
        )
        .map_err(|e| format!("hw.printer_*: {e}"))
    }

    /// Refuses a configuration that would misroute jobs.
    pub fn check(&self) -> Result<(), String> {
        self.reach()?;
        if !self.token.is_empty() {
            if !self
                .token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err("hw.token (OUTPOST__HW__TOKEN): letters, digits, - and _ only (`outpost secrets generate` makes one)".into());
            }
            outpost_telemetry::settings::check_secret(
                "hw.token (OUTPOST__HW__TOKEN)",
                &self.token,
            )?;
        }
        let mut seen = HashSet::new();
        for p in &self.printers {
            if !seen.insert(p.id.as_str()) {
                return Err(format!("printer {:?} is listed twice", p.id));
            }
            p.check().map_err(|e| e.to_string())?;
        }
        let mut seen = HashSet::new();
        for i in &self.inputs {
            check_id("input", &i.id).map_err(|e| e.to_string())?;
            if !seen.insert(i.id.as_str()) {
                return Err(format!("input {:?} is listed twice", i.id));
            }
            i.check()?;
        }
        for p in &self.printers {
            if let Some(f) = &p.fallback
                && (f == &p.id || !self.printers.iter().any(|o| &o.id == f))
            {
                return Err(format!(
                    "printer {:?}: fallback {f:?} is not another listed printer",
                    p.id
                ));
            }
        }
        Ok(())
    }

    pub fn timeouts(&self) -> transport::Timeouts {
        transport::Timeouts {
            connect: Duration::from_millis(self.connect_timeout_ms),
            write: Duration::from_millis(self.write_timeout_ms),
            status: Duration::from_millis(self.status_timeout_ms),
        }
    }
}

/// Whether `given` is `hw.token`. Compared as digests: no early exit that
/// times how much of it matched.
pub fn token_matches(token: &str, given: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(given.as_bytes()) == Sha256::digest(token.as_bytes())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(main: &str) -> Result<HwConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("hw.toml");
        std::fs::write(&f, main.replace("DIR", &dir.path().display().to_string())).unwrap();
        HwConfig::load(Some(&f))
    }

    #[test]
    fn printers_come_from_the_settings_and_the_printers_file() {
        let dir = tempfile::tempdir().unwrap();
        let printers = dir.path().join("printers.toml");
        std::fs::write(
            &printers,
            "[[printers]]\nid = \"grill\"\naddress = \"tcp://10.0.0.22:9100\"\nfallback = \"front\"\n",
        )
        .unwrap();
        let cfg = load_with(&format!(
            "[hw]\nprinters_file = \"{}\"\n[[hw.printers]]\nid = \"front\"\naddress = \"file:///dev/usb/lp0\"\nwidth = 32\n",
            printers.display()
        ))
        .unwrap();
        let ids: Vec<&str> = cfg.printers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["front", "grill"]);
        assert_eq!(cfg.printers[0].width, 32);
        // Not written yet: no printers, no error.
        let cfg = load_with("[hw]\nprinters_file = \"DIR/none.toml\"\n").unwrap();
        assert!(cfg.printers.is_empty());
    }

    #[test]
    fn a_configuration_that_would_misroute_jobs_is_refused_by_name() {
        for (toml, says) in [
            (
                "[[hw.printers]]\nid = \"a\"\naddress = \"tcp://h:9100\"\n[[hw.printers]]\nid = \"a\"\naddress = \"tcp://h:9101\"\n",
                "twice",
            ),
            (
                "[[hw.printers]]\nid = \"a\"\naddress = \"10.0.0.1\"\n",
                "tcp://",
            ),
            (
                "[[hw.printers]]\nid = \"a\"\naddress = \"tcp://h:9100\"\nfallback = \"b\"\n",
                "fallback",
            ),
            (
                "[[hw.printers]]\nid = \"a\"\naddress = \"tcp://h:9100\"\nwidth = 4\n",
                "width",
            ),
            (
                "[[hw.printers]]\nid = \"a b\"\naddress = \"tcp://h:9100\"\n",
                "letters",
            ),
            ("[hw]\ntoken = \"short\"\n", "hw.token"),
            ("[hw]\nprinter_ports = \"91OO\"\n", "printer port"),
            ("[hw]\nprinter_networks = \"the lan\"\n", "printer network"),
            (
                "[hw]\ntoken = \"long enough but with spaces\"\n",
                "hw.token",
            ),
        ] {
            let e = load_with(toml).unwrap_err();
            assert!(e.contains(says), "{toml}: {e}");
        }
    }

    /// A printer the edge sends is held to `hw.printer_*`: not Redis on the
    /// compose network, not a name, not a file outside the printer devices;
    /// nothing of a refused set is applied.
    #[tokio::test]
    async fn the_edges_printers_are_held_to_where_printers_may_be() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = load_with("").unwrap();
        let (queue, _) = printq::PrintQueue::open(&dir.path().join("q.sqlite")).unwrap();
        let shared = std::sync::Arc::new(worker::Shared::new(cfg, queue).unwrap());
        for (address, says) in [
            ("tcp://172.18.0.3:6379", "port 6379"),
            ("tcp://redis:9100", "is a name"),
            ("tcp://127.0.0.1:9100", "outside"),
            ("file:///etc/passwd", "not a printer device"),
        ] {
            let p = PrinterConfig {
                id: "front".into(),
                address: address.into(),
                width: 48,
                code_pages: Vec::new(),
                fallback: None,
            };
            match shared.set_managed(vec![(p, Vec::new())]).await {
                Err(worker::SetRefusal::Invalid(e)) => assert!(e.contains(says), "{address}: {e}"),
                other => panic!("{address}: {:?}", other.err()),
            }
            assert!(shared.printers().is_empty(), "{address}");
        }
    }
}
