//! `cargo xtask …`: project automation that is easier in Rust than in shell.
//!
//! - `cargo xtask bench api`: sales throughput and latency of the edge api on
//!   PostgreSQL and SQLite, against the same sale transaction run directly on
//!   the database as the baseline.

mod bench_api;

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
}

#[derive(Subcommand)]
enum Bench {
    /// Sales through the edge api vs. the same transaction without HTTP.
    Api(bench_api::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Bench {
            which: Bench::Api(a),
        } => bench_api::run(a),
    }
}
