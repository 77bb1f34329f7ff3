//! `outpost-offline`: the air-gapped install's tool, shipped in every bundle
//! and run from a clone as `cargo xtask offline …` (xtask forwards here).
//!
//! On the machine that makes releases (a clone of the workspace): `images`
//! builds every image for compose (base images from a registry, `--base`, or
//! built here from Debian's packages, `--from-debian`: debootstrap into a
//! folder, then `docker import`; PostgreSQL, Redis and our services are all
//! built on that one base, so its layer is stored once); `vendor` vendors the
//! crates; `bundle` writes the signed bundle (`bundle.rs`); `keygen` makes its
//! key. On the store's host, from the bundle alone: `verify`, `load`, `up` and
//! `status` (`stack.rs`). The commands that build need the source tree: away
//! from it (the tool as a bundle ships it) they are refused, saying where they
//! run, and left out of `--help`.
//!
//! It links no service crate, no database and no benchmark (xtask's borders
//! test checks it on `cargo tree`): what a host runs is this crate and the
//! few libraries it names.

pub mod bundle;
pub mod docker;
pub mod images;
mod install;
mod keys;
pub mod make_bundle;
mod progress;
pub mod sources;
pub mod stack;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum Offline {
    /// Builds every image, tagged with the release version.
    Images(ImagesArgs),
    /// Writes offline/outpost-VERSION.bundle.tar.zst from the built images.
    Bundle {
        /// Sign the manifest with this minisign secret key (see `keygen`).
        #[arg(long)]
        sign: Option<PathBuf>,
    },
    /// Checks a bundle: signature, checksums, no unlisted files, every image.
    Verify {
        bundle: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Verifies a bundle, then loads the images that are missing or differ.
    Load {
        bundle: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Vendors every crate of Cargo.lock into offline/vendor (cargo vendor).
    Vendor,
    /// Starts the installed release's edge or cloud stack, nothing pulled,
    /// and waits until every service is healthy.
    Up(crate::stack::UpArgs),
    /// The installed release, its images and how each service is.
    Status,
    /// Makes a minisign key pair for signing bundles (OUTPOST_BUNDLE_KEY_PASSWORD
    /// set: the secret key is encrypted with it).
    Keygen {
        /// Folder for outpost-bundle.key (secret, mode 0600) and outpost-bundle.pub.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// The trusted public key (minisign format). Default: the one `load`
    /// installed with an earlier bundle, if any.
    #[arg(long)]
    pubkey: Option<PathBuf>,
    /// Accept a bundle that is not signed, or whose signature cannot be
    /// checked for want of a trusted key.
    #[arg(long)]
    allow_unsigned: bool,
}

impl TrustArgs {
    fn trust(&self) -> Result<crate::bundle::Trust> {
        let installed = crate::bundle::state_dir().join("trusted.pub");
        let path = self
            .pubkey
            .clone()
            .or_else(|| installed.exists().then_some(installed));
        let key = match path {
            Some(p) => Some(minisign::PublicKey::from_file(&p).map_err(|e| {
                anyhow::anyhow!("{} is not a minisign public key: {e}", p.display())
            })?),
            None => None,
        };
        Ok(crate::bundle::Trust {
            key,
            allow_unsigned: self.allow_unsigned,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Build the base image from Debian's packages (no registry needed).
    #[arg(long)]
    from_debian: bool,
    /// A base image from a registry instead (e.g. debian:bookworm-slim).
    #[arg(long, conflicts_with = "from_debian")]
    base: Option<String>,
    /// Debian mirror for debootstrap (default: the one apt uses here).
    #[arg(long, env = "OUTPOST_DEBIAN_MIRROR")]
    mirror: Option<String>,
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The images compose files reference, by service image name.
pub const IMAGES: [&str; 4] = ["outpost", "postgres", "redis", "rabbitmq"];

/// The tool's name, in a bundle and on the host.
pub const HOST_TOOL: &str = "outpost-offline";

/// The commands that need the source tree, which the tool refuses without it.
pub const SOURCE_ONLY: [&str; 3] = ["images", "bundle", "vendor"];

/// Outpost's air-gap tool: in a clone of the workspace it builds the images
/// and the bundle; on a store's host it verifies, loads, starts and reports
/// on a bundle.
#[derive(Debug, Parser)]
#[command(name = HOST_TOOL, version = VERSION)]
pub struct Cli {
    #[command(subcommand)]
    pub which: Offline,
}

/// The command line; without the source tree (`source` false) its --help
/// leaves out the commands that build from it (they are still understood, to
/// be refused with a message saying where they run).
pub fn command(source: bool) -> clap::Command {
    let cli = Cli::command();
    if source {
        return cli;
    }
    SOURCE_ONLY
        .iter()
        .fold(cli, |c, name| c.mut_subcommand(*name, |s| s.hide(true)))
}

/// The source tree the build commands work in.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// The workspace this crate was built from, if it is still there: so in
    /// a clone (`cargo xtask offline`, or the tool built there), not on a
    /// store's host.
    pub fn here() -> Option<Workspace> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
        (root.join("Cargo.lock").is_file() && root.join("offline/Cargo.toml").is_file()).then(
            || Workspace {
                root: root.to_path_buf(),
            },
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Runs one command; `ws` is the source tree, when there is one.
pub fn run(o: Offline, ws: Option<&Workspace>) -> Result<()> {
    let source = || {
        ws.context(
            "this command builds from the source tree: run it in a clone of the workspace (`cargo xtask offline …`); from a bundle, outpost-offline does verify, load, up, status and keygen",
        )
    };
    match o {
        Offline::Images(a) => images::images(source()?, a),
        Offline::Bundle { sign } => make_bundle::make_bundle(source()?, sign.as_deref())
            .map(|p| println!("{}", p.display())),
        Offline::Keygen { out } => keys::keygen(&out),
        Offline::Vendor => {
            crate::sources::vendor(source()?.root()).map(|d| println!("{}", d.display()))
        }
        Offline::Up(a) => crate::stack::up(a),
        Offline::Status => crate::stack::status(),
        Offline::Verify { bundle, trust } => {
            let v = crate::bundle::verify(&bundle, &trust.trust()?)?;
            println!(
                "{}: verified — {} {} ({}), {} images, every checksum matches",
                bundle.display(),
                v.manifest.name,
                v.manifest.version,
                &v.manifest.git_commit[..v.manifest.git_commit.len().min(12)],
                v.manifest.images.len()
            );
            Ok(())
        }
        Offline::Load { bundle, trust } => install::load(&bundle, &trust),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    #[test]
    fn away_from_the_source_tree_help_lists_only_what_the_tool_can_do() {
        let help = command(false).render_help().to_string();
        for cmd in ["verify", "load", "up", "status", "keygen"] {
            assert!(
                help.contains(&format!("\n  {cmd} ")),
                "{cmd} missing: {help}"
            );
        }
        for cmd in SOURCE_ONLY {
            assert!(
                !help.contains(&format!("\n  {cmd} ")),
                "{cmd} listed: {help}"
            );
        }
        // Still understood, to be refused with a message saying where it runs.
        let m = command(false)
            .try_get_matches_from([HOST_TOOL, "vendor"])
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        let e = run(cli.which, None).unwrap_err().to_string();
        assert!(e.contains("cargo xtask offline"), "{e}");
        // In a clone, every command is listed.
        let help = command(true).render_help().to_string();
        for cmd in SOURCE_ONLY {
            assert!(help.contains(&format!("\n  {cmd} ")), "{cmd}: {help}");
        }
    }
}
