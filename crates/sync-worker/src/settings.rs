//! `[sync]`: the edge's link to the cloud, as the settings give it, and the
//! checked configuration the edge mode runs with.

use crate::edge::EdgeConfig;
use std::time::Duration;

/// `[sync]`'s defaults.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

/// `[sync]`: the edge's link to the cloud.
#[derive(Clone, serde::Deserialize)]
pub struct SyncSettings {
    pub cloud_url: String,
    pub credential: String,
    pub ca_file: String,
    pub tls_domain: String,
    pub batch_events: i64,
    pub batch_bytes: usize,
    pub in_flight: usize,
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    pub interval_ms: u64,
    pub pull_interval_ms: u64,
    pub connect_timeout_ms: u64,
    pub call_timeout_ms: u64,
    pub heartbeat_ms: u64,
    pub probe_interval_ms: u64,
    pub offline_after_ms: i64,
    pub credential_warn_days: i64,
    pub health_host: String,
    pub health_port: u16,
}

/// Never prints the credential.
impl std::fmt::Debug for SyncSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSettings")
            .field("cloud_url", &self.cloud_url)
            .field("credential_set", &!self.credential.is_empty())
            .field("ca_file", &self.ca_file)
            .field("batch_events", &self.batch_events)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

/// The edge sync settings, checked.
impl SyncSettings {
    /// The checked configuration the edge mode runs with.
    pub fn edge_config(&self) -> Result<EdgeConfig, String> {
        let s = self;
        let ca_pem = if s.ca_file.is_empty() {
            None
        } else {
            Some(
                std::fs::read(&s.ca_file)
                    .map_err(|e| format!("reading sync.ca_file {}: {e}", s.ca_file))?,
            )
        };
        let cfg = EdgeConfig {
            cloud_url: s.cloud_url.clone(),
            credential: s.credential.clone(),
            ca_pem,
            tls_domain: (!s.tls_domain.is_empty()).then(|| s.tls_domain.clone()),
            batch_events: s.batch_events.clamp(1, 10_000),
            batch_bytes: s.batch_bytes.clamp(64 * 1024, 16 * 1024 * 1024),
            in_flight: s.in_flight.clamp(1, 16),
            backoff_min: Duration::from_millis(s.backoff_min_ms.max(10)),
            backoff_max: Duration::from_millis(s.backoff_max_ms.max(s.backoff_min_ms.max(10))),
            interval: Duration::from_millis(s.interval_ms.max(10)),
            pull_interval: Duration::from_millis(s.pull_interval_ms.max(50)),
            connect_timeout: Duration::from_millis(s.connect_timeout_ms.max(100)),
            call_timeout: Duration::from_millis(s.call_timeout_ms.max(100)),
            heartbeat: Duration::from_millis(s.heartbeat_ms.max(50)),
            probe_interval: Duration::from_millis(s.probe_interval_ms.max(20)),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        cfg.check()?;
        Ok(cfg)
    }
}
