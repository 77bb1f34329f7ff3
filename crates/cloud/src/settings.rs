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
    /// Whether `cloud serve` and the cloud sync-worker run the migrations
    /// at start (one role for everything); false where the services connect
    /// as roles of their own and `outpost cloud migrate` runs them.
    #[serde(default = "yes")]
    pub migrate_on_start: bool,
    /// `outpost cloud migrate`: the database owner's URL (empty: the
    /// database_url), and the passwords of the roles it makes for the
    /// services (empty: that role is not made).
    #[serde(default)]
    pub migrate_url: String,
    #[serde(default)]
    pub api_db_password: String,
    #[serde(default)]
    pub worker_db_password: String,
    pub amqp_url: String,
    pub sync_host: String,
    pub sync_port: u16,
    pub tls_cert: String,
    pub tls_key: String,
    pub admin_host: String,
    pub admin_port: u16,
    /// The admin over TLS (the port the internet uses); none: plain only.
    #[serde(default)]
    pub admin_tls_port: Option<u16>,
    /// Its certificate chain and key (PEM): the operator's, or empty for
    /// the SyncService's (`tls_cert`, `tls_key`, from the cloud's CA).
    #[serde(default)]
    pub admin_tls_cert: String,
    #[serde(default)]
    pub admin_tls_key: String,
    /// Who the plain admin port serves (CIDR blocks; default this machine):
    /// anyone else is sent to `admin_tls_port`.
    #[serde(default = "outpost_telemetry::settings::Networks::loopback")]
    pub admin_plain_networks: outpost_telemetry::settings::Networks,
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

fn yes() -> bool {
    true
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
