//! `[register]`: the agent's page address and the timers of its link to the
//! edge (settings, so tests can shorten them).

use serde::Deserialize;
use std::time::Duration;

/// The agent's defaults.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct RegisterSettings {
    pub host: String,
    pub port: u16,
    pub heartbeat_ms: u64,
    pub timeout_ms: u64,
    pub pull_every_ms: u64,
    pub push_batch: usize,
    pub push_max_bytes: usize,
    /// The mDNS port an edge paired by its `.local` name is asked on.
    pub mdns_port: u16,
    /// A till restored from an older copy gets back its sales of this many
    /// days from the edge.
    pub history_days: u32,
}

impl RegisterSettings {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.max(50))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(50))
    }

    pub fn pull_every(&self) -> Duration {
        Duration::from_millis(self.pull_every_ms.max(100))
    }

    /// Refuses a page address off loopback: the till's page is for the
    /// browser on the till, and the agent's api sells and refunds.
    pub fn check(self) -> Result<RegisterSettings, config::ConfigError> {
        let ip: std::net::IpAddr = self.host.parse().map_err(|_| {
            config::ConfigError::Message(format!(
                "register.host {:?} must be a loopback IP address (127.0.0.1)",
                self.host
            ))
        })?;
        if !ip.is_loopback() {
            return Err(config::ConfigError::Message(format!(
                "register.host {ip} is not a loopback address: the till's page is served to this PC only"
            )));
        }
        if !(1..=outpost_storage::register_events::PUSH_MAX).contains(&self.push_batch) {
            return Err(config::ConfigError::Message(format!(
                "register.push_batch must be 1 to {}",
                outpost_storage::register_events::PUSH_MAX
            )));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &str) -> Result<RegisterSettings, config::ConfigError> {
        config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from_str(extra, config::FileFormat::Toml))
            .build()?
            .get::<RegisterSettings>("register")?
            .check()
    }

    #[test]
    fn the_defaults_serve_loopback_port_7070_and_other_hosts_are_refused() {
        let s = load("").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 7070));
        // OFFLINE within 3 s: a missed heartbeat and the page's next look.
        assert!(s.heartbeat_ms + s.timeout_ms + 1000 <= 3000);
        let e = load("[register]\nhost = \"0.0.0.0\"").unwrap_err();
        assert!(e.to_string().contains("not a loopback"), "{e}");
        let e = load("[register]\nhost = \"till.local\"").unwrap_err();
        assert!(e.to_string().contains("loopback IP"), "{e}");
        assert!(load("[register]\npush_batch = 501").is_err());
    }
}
