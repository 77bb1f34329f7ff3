//! `outpost-offline`: the command line of the crate's library (see lib.rs).

use clap::FromArgMatches;

fn main() -> anyhow::Result<()> {
    let ws = outpost_offline::Workspace::here();
    let matches = outpost_offline::command(ws.is_some()).get_matches();
    let cli = outpost_offline::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    outpost_offline::run(cli.which, ws.as_ref())
}
