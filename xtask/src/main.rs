//! `cargo xtask …`: project automation that is easier in Rust than in shell.
//!
//! - `cargo xtask bench api`: sales throughput and latency of the edge api on
//!   PostgreSQL and SQLite, against the same sale transaction run directly on
//!   the database as the baseline.
//! - `cargo xtask offline images --from-debian`: every image, on a Debian base
//!   built here (no registry needed); `offline bundle | verify | load`: the
//!   air-gapped bundle.
//! - `cargo xtask bench realtime`: kitchen screens on the realtime hub, with a
//!   python-socketio server on the same Redis stream as the peer.
//! - `cargo xtask bench sync`: a store's queued sales reaching the cloud, vs.
//!   applying the same events straight to the central database; and a fleet
//!   of stores reconnecting at once.
//! - `cargo xtask bench print`: a sale's receipt to the virtual printer's
//!   first byte, receipts/s through hw-proxy vs. raw TCP, offline detection.
//! - `cargo xtask bench bundle`: the air-gapped bundle's sizes, verify, load
//!   and reload times against a bare `docker load`, up to healthy.
//! - `cargo xtask offline vendor | up | status`: the crate sources for an
//!   offline build; start an installed release and wait for its health
//!   checks; what is installed and how it runs.
//!
//! The same executable ships in every bundle as `outpost-offline` (built
//! from the vendored crates with the images): called by that name it is the
//! air-gapped host's tool, `outpost-offline verify | load | up | status`, so
//! the host needs no Rust toolchain.
//!
//! `cargo xtask` builds in the dev profile, sharing the test build's crates
//! (CI builds no second optimised copy of the workspace for it); benchmarks
//! run themselves again from an optimised build.

mod bench_api;
mod bench_bundle;
mod bench_link;
mod bench_print;
mod bench_realtime;
mod bench_sync;
mod borders;
mod bundle;
mod offline;
mod progress;
mod sources;
mod stack;
mod tidy;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Benchmarks; each prints its figures and, last, one JSON line.
    Bench {
        #[command(subcommand)]
        which: Bench,
    },
    /// Images for compose and the air-gapped bundle.
    Offline {
        #[command(subcommand)]
        which: offline::Offline,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Sales through the edge api vs. the same transaction without HTTP.
    Api(bench_api::Args),
    /// Commit-to-screen latency through the realtime hub vs. python-socketio.
    Realtime(bench_realtime::Args),
    /// A store's queued sales reaching the central database, and a fleet of
    /// stores reconnecting at once.
    Sync(bench_sync::Args),
    /// A sale's receipt to the printer, receipts/s through hw-proxy, and how
    /// soon a printer that went away is noticed.
    Print(bench_print::Args),
    /// The air-gapped bundle: sizes, verify, load, reload, up to healthy.
    Bundle(bench_bundle::Args),
}

/// The air-gapped host's tool: `cargo xtask offline`'s commands, run as
/// `outpost-offline COMMAND`.
#[derive(Parser)]
#[command(name = "outpost-offline", version = offline::VERSION)]
struct HostCli {
    #[command(subcommand)]
    which: offline::Offline,
}

/// The host's command line. The commands that build from the source tree are
/// refused there (with a message saying where they run), so its --help leaves
/// them out.
fn host_cli() -> clap::Command {
    offline::SOURCE_ONLY
        .iter()
        .fold(HostCli::command(), |c, name| {
            c.mut_subcommand(*name, |s| s.hide(true))
        })
}

fn main() -> anyhow::Result<()> {
    let called = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()));
    if called.as_deref() == Some(offline::HOST_TOOL) {
        let host =
            HostCli::from_arg_matches(&host_cli().get_matches()).unwrap_or_else(|e| e.exit());
        return offline::run_on_host(host.which);
    }
    let cli = Cli::parse();
    if matches!(cli.cmd, Cmd::Bench { .. }) && cfg!(debug_assertions) {
        return bench_api::rerun_optimised();
    }
    match cli.cmd {
        Cmd::Bench {
            which: Bench::Api(a),
        } => bench_api::run(a),
        Cmd::Bench {
            which: Bench::Realtime(a),
        } => bench_realtime::run(a),
        Cmd::Bench {
            which: Bench::Sync(a),
        } => bench_sync::run(a),
        Cmd::Bench {
            which: Bench::Print(a),
        } => bench_print::run(a),
        Cmd::Bench {
            which: Bench::Bundle(a),
        } => bench_bundle::run(a),
        Cmd::Offline { which } => offline::run(which),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_tools_help_lists_only_what_it_can_do() {
        let help = host_cli().render_help().to_string();
        for cmd in ["verify", "load", "up", "status"] {
            assert!(
                help.contains(&format!("\n  {cmd} ")),
                "{cmd} missing: {help}"
            );
        }
        for cmd in offline::SOURCE_ONLY {
            assert!(
                !help.contains(&format!("\n  {cmd} ")),
                "{cmd} listed: {help}"
            );
        }
        // Still understood, to be refused with a message saying where it runs.
        let m = host_cli()
            .try_get_matches_from([offline::HOST_TOOL, "vendor"])
            .unwrap();
        let host = HostCli::from_arg_matches(&m).unwrap();
        let e = offline::run_on_host(host.which).unwrap_err().to_string();
        assert!(e.contains("cargo xtask offline"), "{e}");
    }
}
