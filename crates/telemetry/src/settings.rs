//! How every Outpost process reads its settings: each crate's compiled
//! defaults (its own `config/default.toml`, one TOML section per settings
//! type it owns) → an optional file → `OUTPOST__SECTION__KEY` environment
//! variables. Each crate deserializes its own sections from the result.

use serde::Deserialize;

pub const LOG_DEFAULTS: &str = include_str!("../config/default.toml");

/// The layered settings, for [`config::Config::get`] of each section.
pub fn layered(
    defaults: &[&str],
    file: Option<&std::path::Path>,
) -> Result<config::Config, config::ConfigError> {
    let mut b = defaults.iter().fold(config::Config::builder(), |b, d| {
        b.add_source(config::File::from_str(d, config::FileFormat::Toml))
    });
    if let Some(f) = file {
        b = b.add_source(config::File::from(f).required(true));
    }
    b.add_source(
        config::Environment::with_prefix("OUTPOST")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true),
    )
    .build()
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// json | pretty | auto (pretty on a terminal).
    pub format: String,
    pub filter: String,
}
