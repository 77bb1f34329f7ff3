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

/// The secret values the example settings files (`.env.example`,
/// `.env.cloud.example`) carry: never to be run with.
pub const EXAMPLE_SECRETS: [&str; 4] = [
    "change-me",
    "change-me-too",
    "change-me-to-a-long-random-string",
    "change-me-to-another-long-random-string",
];

/// The shortest secret taken: 32 characters (`outpost secrets generate`
/// writes 64 hex digits, 256 random bits).
pub const SECRET_MIN_CHARS: usize = 32;

/// Refuses a secret a service must not start with, naming its variable
/// `var`: an example file's value (or one built on it), fewer than
/// [`SECRET_MIN_CHARS`] characters, fewer than 6 kinds of character, a
/// group repeated ("abcabc…") or a long run ("0123456789…"). No rule can
/// tell that a secret is random; these catch the examples and the obvious.
pub fn check_secret(var: &str, value: &str) -> Result<(), String> {
    let fix = "make one with `outpost secrets generate` (or `openssl rand -hex 32`)";
    if EXAMPLE_SECRETS.contains(&value) || value.to_ascii_lowercase().contains("change-me") {
        return Err(format!("{var} is the example file's value: {fix}"));
    }
    let c: Vec<char> = value.chars().collect();
    let n = c.len();
    if n < SECRET_MIN_CHARS {
        return Err(format!(
            "{var} is {n} characters; a secret is at least {SECRET_MIN_CHARS}: {fix}"
        ));
    }
    let kinds = c.iter().collect::<std::collections::HashSet<_>>().len();
    let repeated = (1..=n / 2).any(|p| (p..n).all(|i| c[i] == c[i - p]));
    let mut run = 1;
    let mut longest = 1;
    for w in c.windows(2) {
        let step = w[1] as i64 - w[0] as i64;
        run = if step.abs() == 1 { run + 1 } else { 1 };
        longest = longest.max(run);
    }
    if kinds < 6 || repeated || longest >= 12 {
        return Err(format!(
            "{var} is patterned (too few kinds of character, a repeated group or a long run): {fix}"
        ));
    }
    Ok(())
}

/// A list of CIDR blocks, from a comma-separated setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Networks(Vec<ipnet::IpNet>);

impl Networks {
    /// This machine's own addresses.
    pub fn loopback() -> Networks {
        Networks::parse("127.0.0.0/8, ::1/128").expect("loopback parses")
    }

    pub fn parse(list: &str) -> Result<Networks, String> {
        list.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.parse()
                    .map_err(|_| format!("{n:?} is not a CIDR block such as 127.0.0.0/8"))
            })
            .collect::<Result<_, _>>()
            .map(Networks)
    }

    /// Whether `ip` (an IPv4 address mapped into IPv6 as itself) is in one.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }
}

impl TryFrom<String> for Networks {
    type Error = String;
    fn try_from(s: String) -> Result<Networks, String> {
        Networks::parse(&s)
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn example_short_and_patterned_secrets_are_refused_by_their_variable() {
        for (bad, why) in [
            ("change-me-to-a-long-random-string", "example"),
            ("change-me", "example"),
            ("0123456789abcdef0123456789abcde", "31 characters"),
            (&"a".repeat(64), "patterned"),
            (&"abc".repeat(20), "patterned"),
            (&"0123456789abcdef".repeat(2), "patterned"),
            ("change-me-to-a-long-random-string!", "example"),
            ("0123456789abcdefghijklmnopqrstuvwxyz", "patterned"),
        ] {
            let e = check_secret("OUTPOST_HW_TOKEN", bad).unwrap_err();
            assert!(e.starts_with("OUTPOST_HW_TOKEN"), "{e}");
            assert!(e.contains(why), "{bad}: {e}");
        }
        check_secret(
            "X",
            "1d6b0f3e9a4c27d85e3f6a01b9c42d7e8f05a1c3b6e9d2047a8c5f1e3b9d6a20",
        )
        .unwrap();
        // 32 random hex digits (`openssl rand -hex 16`) pass too.
        check_secret("X", "9f3c1a7e5b2d804c6e1f0a9b3d7c5e21").unwrap();
    }
}
