//! hw-proxy: the registers' printers and cash drawers.
//!
//! Jobs (receipts, kitchen tickets, drawer kicks) arrive over HTTP with the
//! caller's job id, are encoded to ESC/POS ([`document`]), stored in a
//! persistent queue (`outpost_storage::printq`) and printed in order, one at
//! a time per printer, by one worker each ([`worker`]). A job is written to a
//! printer at most once by itself: one that was being sent when the process
//! died comes back *uncertain*, for a person to reprint.
//!
//! [`virtual_printer`] is a printer on TCP for tests and demos, and
//! [`render`] reads ESC/POS back into text for it and for previews.

pub mod document;
pub mod http;
pub mod metrics;
pub mod render;
pub mod status;
pub mod transport;
pub mod virtual_printer;
pub mod worker;

use serde::Deserialize;
use std::time::Duration;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct HwConfig {
    pub host: String,
    pub port: u16,
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
    pub printers: Vec<PrinterConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    pub id: String,
    pub address: String,
    #[serde(default = "default_width")]
    pub width: usize,
    #[serde(default)]
    pub code_pages: Vec<document::CodePage>,
    #[serde(default)]
    pub fallback: Option<String>,
}

fn default_width() -> usize {
    48
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
        let hw: HwConfig = cfg.get("hw").map_err(|e| e.to_string())?;
        hw.check()?;
        Ok(hw)
    }

    /// Refuses a configuration that would misroute jobs.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for p in &self.printers {
            if p.id.is_empty()
                || !p
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "printer id {:?}: use letters, digits, - and _",
                    p.id
                ));
            }
            if !seen.insert(p.id.as_str()) {
                return Err(format!("printer {:?} is listed twice", p.id));
            }
            transport::Address::parse(&p.address)
                .map_err(|e| format!("printer {:?}: {e}", p.id))?;
            if !(16..=96).contains(&p.width) {
                return Err(format!(
                    "printer {:?}: width {} is not 16–96 characters",
                    p.id, p.width
                ));
            }
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

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
