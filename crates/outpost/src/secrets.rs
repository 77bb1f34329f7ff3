//! Secrets at start and `outpost secrets generate` (issue 30): a service
//! refuses to start with a secret from an example file, a short one, or
//! one too patterned to be random, naming the variable; `generate` writes a
//! fresh `.env` from an example with every secret drawn anew.

use outpost_domain::secrets::new_secret;
use outpost_telemetry::settings::check_secret;
use std::path::Path;

/// The variables of the env examples that hold secrets.
pub const SECRET_VARS: [&str; 8] = [
    "POSTGRES_PASSWORD",
    "POSTGRES_APP_PASSWORD",
    "POSTGRES_API_PASSWORD",
    "POSTGRES_WORKER_PASSWORD",
    "RABBITMQ_PASSWORD",
    "OUTPOST_REALTIME_SECRET",
    "OUTPOST_HW_TOKEN",
    "OUTPOST_METRICS_TOKEN",
];

/// The password in a PostgreSQL URL whose server is not on this host
/// (compose's `postgres`, another machine): checked as a secret, named as
/// `var`. A URL on loopback or a socket, or SQLite, is not checked.
pub fn check_database_url(var: &str, url: &str) -> anyhow::Result<()> {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return Ok(());
    };
    let Some((auth, after)) = rest.split_once('@') else {
        return Ok(());
    };
    let host = after.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if host.is_empty() || matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        return Ok(());
    }
    let password = auth.split_once(':').map_or("", |(_, p)| p);
    check_secret(&format!("the password in {var}"), password).map_err(anyhow::Error::msg)
}

/// Any secret, named as `var`.
pub fn check(var: &str, value: &str) -> anyhow::Result<()> {
    check_secret(var, value).map_err(anyhow::Error::msg)
}

/// Writes `out` from the example `example`: its lines as they are, every
/// secret variable's value drawn anew. Refuses to replace an existing
/// file unless `force`.
pub fn generate(example: &Path, out: &Path, force: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        force || !out.exists(),
        "{} exists: its secrets are in use (pass --force to replace them)",
        out.display()
    );
    let text = std::fs::read_to_string(example)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", example.display()))?;
    let (written, drawn) = fill(&text);
    anyhow::ensure!(
        !drawn.is_empty(),
        "{} holds none of {SECRET_VARS:?}",
        example.display()
    );
    // Made readable by its owner only from the first byte, and never over
    // a file that appeared meanwhile unless --force.
    if force && out.exists() {
        std::fs::remove_file(out)
            .map_err(|e| anyhow::anyhow!("replacing {}: {e}", out.display()))?;
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open
        .open(out)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    std::io::Write::write_all(&mut file, written.as_bytes())
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    println!(
        "wrote {} with fresh {} (only this file holds them: keep it, and a copy where backups go)",
        out.display(),
        drawn.join(", ")
    );
    Ok(())
}

/// `text` with each secret variable's value replaced, and which were.
fn fill(text: &str) -> (String, Vec<String>) {
    let mut drawn = Vec::new();
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.lines() {
        match line.split_once('=') {
            Some((k, _)) if SECRET_VARS.contains(&k.trim()) => {
                out.push_str(&format!("{}={}\n", k.trim(), new_secret()));
                drawn.push(k.trim().to_owned());
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    (out, drawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_are_refused_and_a_generated_file_passes() {
        let example = include_str!("../../../.env.example");
        for line in example.lines() {
            if let Some((k, v)) = line.split_once('=')
                && SECRET_VARS.contains(&k)
            {
                assert!(check(k, v).is_err(), "{k}={v} passed");
            }
        }
        let (written, drawn) = fill(example);
        assert_eq!(
            drawn,
            [
                "POSTGRES_PASSWORD",
                "POSTGRES_APP_PASSWORD",
                "OUTPOST_REALTIME_SECRET",
                "OUTPOST_HW_TOKEN"
            ]
        );
        for line in written.lines() {
            if let Some((k, v)) = line.split_once('=')
                && SECRET_VARS.contains(&k)
            {
                check(k, v).unwrap();
            }
        }
        // The rest of the example is kept as it was.
        assert!(written.contains("OUTPOST_STORE_CODE=S01\n"));
        let (cloud, drawn) = fill(include_str!("../../../.env.cloud.example"));
        assert_eq!(
            drawn,
            [
                "POSTGRES_PASSWORD",
                "POSTGRES_API_PASSWORD",
                "POSTGRES_WORKER_PASSWORD",
                "RABBITMQ_PASSWORD",
                "OUTPOST_METRICS_TOKEN"
            ],
            "{cloud}"
        );
    }

    #[test]
    fn a_database_password_is_checked_off_this_host_only() {
        let strong = new_secret();
        check_database_url(
            "X",
            &format!("postgres://postgres:{strong}@postgres:5432/outpost"),
        )
        .unwrap();
        let e = check_database_url(
            "OUTPOST__DATABASE__URL",
            "postgres://postgres:change-me@postgres:5432/outpost",
        )
        .unwrap_err();
        assert!(e.to_string().contains("OUTPOST__DATABASE__URL"), "{e}");
        check_database_url("X", "postgres://postgres:outpost@127.0.0.1:5432/x").unwrap();
        check_database_url("X", "data/outpost.sqlite").unwrap();
    }
}
