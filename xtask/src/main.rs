//! `cargo xtask …`: project automation that is easier in Rust than in shell.
//!
//! - `cargo xtask bench api`: sales throughput and latency of the edge api on
//!   PostgreSQL and SQLite, against the same sale transaction run directly on
//!   the database as the baseline.
//! - `cargo xtask offline …`: the air-gapped install's commands (images,
//!   vendor, bundle, keygen, verify, load, up, status), forwarded to the
//!   `outpost-offline` crate (`offline/`), which is also the tool every
//!   bundle ships: the benchmarks stay here, out of what a store's host runs.
//! - `cargo xtask bench realtime`: kitchen screens on the realtime hub, with a
//!   python-socketio server on the same Redis stream as the peer.
//! - `cargo xtask bench sync`: a store's queued sales reaching the cloud, vs.
//!   applying the same events straight to the central database; and a fleet
//!   of stores reconnecting at once.
//! - `cargo xtask bench print`: a sale's receipt to the virtual printer's
//!   first byte, receipts/s through hw-proxy vs. raw TCP, offline detection.
//! - `cargo xtask bench bundle`: the air-gapped bundle's sizes, verify, load
//!   and reload times against a bare `docker load`, up to healthy.
//! - `cargo xtask bench register`: the register agent's sale latency at the
//!   till with the edge up and down, its tills catching up with the edge vs.
//!   the same sales sent straight to it, and the agent's peak RSS.
//!
//! `cargo xtask` builds in the dev profile, sharing the test build's crates
//! (CI builds no second optimised copy of the workspace for it); benchmarks
//! run themselves again from an optimised build.

mod bench_api;
mod bench_bundle;
mod bench_link;
mod bench_print;
mod bench_realtime;
mod bench_register;
mod bench_sync;
mod borders;
mod tidy;

use clap::{Parser, Subcommand};

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
    /// Images for compose and the air-gapped bundle (outpost-offline's
    /// commands).
    Offline {
        #[command(subcommand)]
        which: outpost_offline::Offline,
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
    /// The register agent: sale latency at the till with the edge up and
    /// down, catch-up of queued sales when it is back, peak RSS.
    Register(bench_register::Args),
}

fn main() -> anyhow::Result<()> {
    // reqwest's rustls has no provider of its own in this workspace (the
    // register agent's feature): ring, as the binaries install it.
    let _ = rustls::crypto::ring::default_provider().install_default();
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
        Cmd::Bench {
            which: Bench::Register(a),
        } => bench_register::run(a),
        Cmd::Offline { which } => {
            outpost_offline::run(which, outpost_offline::Workspace::here().as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cargo_xtask_offline_takes_every_command_of_the_shipped_tool() {
        let names = |c: &clap::Command| -> Vec<String> {
            c.get_subcommands()
                .map(|s| s.get_name().to_owned())
                .filter(|n| n != "help")
                .collect()
        };
        let xtask = Cli::command();
        let forwarded = xtask.find_subcommand("offline").expect("offline");
        let tool = outpost_offline::command(true);
        assert_eq!(names(forwarded), names(&tool));
        let cli = Cli::try_parse_from([
            "xtask",
            "offline",
            "verify",
            "b.tar.zst",
            "--allow-unsigned",
        ])
        .expect("parses");
        assert!(matches!(
            cli.cmd,
            Cmd::Offline {
                which: outpost_offline::Offline::Verify { .. }
            }
        ));
    }
}
