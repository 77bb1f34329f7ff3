//! The settings of every Outpost process, composed from the sections each
//! crate owns: the edge api's (`[server]`, `[database]`, `[store]`, …,
//! `[printing]`), the hub's `[hub]`, the sync worker's `[sync]`, the cloud's
//! `[cloud]` and `[log]`. Each crate's compiled defaults, then the file,
//! then `OUTPOST__SECTION__KEY` environment variables.

use outpost_cloud::CloudSettings;
use outpost_realtime_hub::HubSettings;
use outpost_sync_worker::SyncSettings;
use outpost_telemetry::settings::LogSettings;

#[derive(Debug, Clone)]
pub struct Settings {
    pub api: outpost_api::Settings,
    pub hub: HubSettings,
    pub sync: SyncSettings,
    pub cloud: CloudSettings,
    pub register: outpost_register::RegisterSettings,
    pub log: LogSettings,
}

impl Settings {
    pub fn load(file: Option<&std::path::Path>) -> Result<Settings, config::ConfigError> {
        let cfg = outpost_telemetry::settings::layered(
            &[
                outpost_api::settings::DEFAULTS,
                outpost_realtime_hub::DEFAULTS,
                outpost_sync_worker::settings::DEFAULTS,
                outpost_cloud::settings::DEFAULTS,
                outpost_register::settings::DEFAULTS,
                outpost_telemetry::settings::LOG_DEFAULTS,
            ],
            file,
        )?;
        Ok(Settings {
            api: outpost_api::Settings::from_config(&cfg)?,
            hub: cfg.get("hub")?,
            sync: cfg.get("sync")?,
            cloud: cfg.get("cloud")?,
            register: cfg
                .get::<outpost_register::RegisterSettings>("register")?
                .check()?,
            log: cfg.get("log")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crates_defaults_compose_and_a_file_overrides_them() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.api.server.port, 8001);
        assert_eq!(s.hub.port, 3001);
        assert_eq!(s.sync.health_port, 8004);
        assert_eq!(s.cloud.admin_port, 8002);
        assert_eq!(s.log.format, "auto");
        // The api reads its part of `[sync]` from the same layers, and its
        // own fallback (the api loaded alone) is the sync-worker's default.
        assert_eq!(s.api.sync.offline_after_ms, s.sync.offline_after_ms);
        let alone = outpost_api::settings::SyncView::default();
        assert_eq!(
            (alone.offline_after_ms, alone.credential_warn_days),
            (s.sync.offline_after_ms, s.sync.credential_warn_days)
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("outpost.toml");
        std::fs::write(
            &f,
            "[sync]\noffline_after_ms = 4000\n[hub]\nport = 3999\n[cloud]\nadmin_port = 8999\n",
        )
        .unwrap();
        let s = Settings::load(Some(&f)).unwrap();
        assert_eq!(
            (s.sync.offline_after_ms, s.api.sync.offline_after_ms),
            (4000, 4000)
        );
        assert_eq!((s.hub.port, s.cloud.admin_port), (3999, 8999));
    }
}
