//! `[cloud]`: the cloud's settings, read by `outpost cloud …` and
//! `outpost sync-worker --mode cloud`.

use std::time::Duration;

/// `[cloud]`'s defaults.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

/// `[cloud]`: the central database, the broker, the SyncService and the
/// admin side.
#[derive(Clone, serde::Deserialize)]
pub struct CloudSettings {
    pub database_url: String,
    pub pool_size: u32,
    pub amqp_url: String,
    pub sync_host: String,
    pub sync_port: u16,
    pub tls_cert: String,
    pub tls_key: String,
    pub admin_host: String,
    pub admin_port: u16,
    /// Prometheus's bearer token for /metrics.
    pub metrics_token: String,
    pub prefetch: u16,
    pub delivery_limit: u32,
    pub amqp_connect_timeout_ms: u64,
    pub amqp_confirm_timeout_ms: u64,
    pub amqp_heartbeat_s: u64,
    pub credential_warn_days: i64,
    pub refusals_per_minute: u32,
    /// A SyncService call (a push, a pull) is cut after this long.
    #[serde(default = "sync_timeout_s")]
    pub sync_timeout_s: u64,
    /// SyncService calls decoded and served at once, past the gate; more wait.
    #[serde(default = "sync_max_calls")]
    pub sync_max_calls: usize,
    pub worker_host: String,
    pub worker_port: u16,
}

fn sync_timeout_s() -> u64 {
    120
}
fn sync_max_calls() -> usize {
    64
}

/// Never prints URLs (they carry passwords).
impl std::fmt::Debug for CloudSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudSettings")
            .field("sync_port", &self.sync_port)
            .field("tls_cert", &self.tls_cert)
            .field("admin_port", &self.admin_port)
            .finish_non_exhaustive()
    }
}

impl CloudSettings {
    /// The broker link's deadlines and heartbeat.
    pub fn amqp_timers(&self) -> outpost_bus::Timers {
        outpost_bus::Timers {
            connect: Duration::from_millis(self.amqp_connect_timeout_ms.max(100)),
            confirm: Duration::from_millis(self.amqp_confirm_timeout_ms.max(100)),
            heartbeat: Duration::from_secs(self.amqp_heartbeat_s.clamp(1, 600)),
        }
    }

    /// `credential_warn_days` in milliseconds.
    pub fn credential_warn_ms(&self) -> i64 {
        self.credential_warn_days.max(0) * 86_400_000
    }
}
