//! Telemetry shared by every Outpost service: the tracing subscriber (set once),
//! Prometheus text exposition, and the health report's shape, so `/metrics` and
//! `/health` read the same everywhere; how settings are layered
//! ([`settings`]); the problem JSON every HTTP surface answers errors
//! with ([`problem`]), the security headers it answers everything with
//! ([`headers`]) and the TLS certificate it serves on the LAN ([`tls`]).

pub mod headers;
pub mod problem;
pub mod settings;
pub mod tls;

use serde::Serialize;
use std::sync::Once;
use tracing_subscriber::{EnvFilter, fmt};

static INIT: Once = Once::new();

/// Log output: JSON lines in containers, human-readable on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    /// `json`, `pretty`, or `auto` (pretty when stdout is a terminal).
    pub fn parse(s: &str) -> LogFormat {
        use std::io::IsTerminal;
        match s {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            _ if std::io::stdout().is_terminal() => LogFormat::Pretty,
            _ => LogFormat::Json,
        }
    }
}

/// Installs the global subscriber once; later calls do nothing. `RUST_LOG`
/// overrides `default_filter`.
pub fn init(format: LogFormat, default_filter: &str) {
    INIT.call_once(|| {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
        let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
        let _ = match format {
            LogFormat::Json => builder.json().flatten_event(true).try_init(),
            LogFormat::Pretty => builder.try_init(),
        };
    });
}

/// Renders a registry in the Prometheus text format.
pub fn render(registry: &prometheus::Registry) -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// A component's state in `/health`. A service is unhealthy only when it cannot
/// do its own job; anything else away makes it degraded, so a container health
/// check never restarts a working till.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Degraded,
    Unhealthy,
}

/// Free bytes on the filesystem holding `path`.
pub fn disk_free_bytes(path: &std::path::Path) -> Option<u64> {
    fs4::available_space(path).ok()
}

/// Resident memory high-water mark of this process in KiB (Linux), for benchmarks.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_order_from_ok_to_unhealthy() {
        assert!(Status::Ok < Status::Degraded && Status::Degraded < Status::Unhealthy);
        assert_eq!(
            [Status::Ok, Status::Degraded].into_iter().max(),
            Some(Status::Degraded)
        );
    }

    #[test]
    fn this_process_has_a_peak_rss_and_disk_space() {
        assert!(peak_rss_kib(std::process::id()).unwrap() > 0);
        assert!(disk_free_bytes(std::path::Path::new("/")).is_some());
    }
}
