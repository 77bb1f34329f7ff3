//! The crate sources for an offline build: `cargo vendor` of every crate in
//! Cargo.lock into `offline/vendor`, and `sources.tar.zst` for the bundle (the
//! workspace as git tracks it, the vendored crates and a `.cargo/config.toml`
//! that points cargo at them), so `cargo build --offline --locked` works on a
//! host that never saw the crate registry.
//!
//! The release binary in the images is itself built from `offline/vendor`
//! with `--offline --locked` and an empty CARGO_HOME: every image build
//! proves that the vendored sources are complete.

use crate::bundle::sha256_file;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Written into the vendor folder after a complete `cargo vendor`: the
/// Cargo.lock digest it vendored.
const STAMP: &str = ".outpost-cargo-lock.sha256";

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Vendors every crate into `root/offline/vendor`, unless it already holds
/// this Cargo.lock's crates.
pub fn vendor(root: &Path) -> Result<PathBuf> {
    let dir = root.join("offline/vendor");
    let lock = sha256_file(&root.join("Cargo.lock"))?;
    let stamp = dir.join(STAMP);
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(lock.as_str()) {
        println!("offline/vendor holds this Cargo.lock's crates already");
        return Ok(dir);
    }
    let _ = std::fs::remove_file(&stamp);
    println!("cargo vendor --locked into offline/vendor …");
    let ok = Command::new(cargo())
        .args(["vendor", "--locked", "--versioned-dirs", "--quiet"])
        .arg(&dir)
        .current_dir(root)
        .stdout(Stdio::null())
        .status()
        .context("running cargo vendor")?
        .success();
    if !ok {
        bail!("cargo vendor failed: it needs the crate registry (or every crate in ~/.cargo)");
    }
    std::fs::write(&stamp, lock)?;
    Ok(dir)
}

/// `--config` arguments replacing crates.io with the vendored folder.
pub fn replace_with(dir: &Path) -> Vec<String> {
    vec![
        "--config".into(),
        "source.crates-io.replace-with=\"vendored-sources\"".into(),
        "--config".into(),
        format!(
            "source.vendored-sources.directory={:?}",
            dir.to_string_lossy()
        ),
    ]
}

/// A CARGO_HOME with nothing in it: no registry cache, no git checkouts, no
/// config. A build that succeeds with it used nothing but the vendored crates.
pub fn empty_cargo_home() -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix("outpost-empty-cargo-home-")
        .tempdir()?)
}

/// Writes `out` (tar, zstd): `outpost-VERSION/` holding the files git tracks
/// (as they are in the working tree), `vendor/` and a `.cargo/config.toml`
/// with the source replacement. Returns its size.
pub fn pack(root: &Path, vendor: &Path, version: &str, out: &Path) -> Result<u64> {
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--cached"])
        .current_dir(root)
        .output()
        .context("git ls-files (the sources are taken from a git checkout)")?;
    if !listed.status.success() {
        bail!("git ls-files failed: the sources are taken from a git checkout");
    }
    let tracked: Vec<String> = listed
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .filter(|p| p != ".cargo/config.toml" && root.join(p).is_file())
        .collect();
    let prefix = PathBuf::from(format!("outpost-{version}"));
    let f = std::fs::File::create(out).with_context(|| format!("create {}", out.display()))?;
    let mut z = zstd::Encoder::new(f, 3)?;
    z.multithread(std::thread::available_parallelism().map_or(1, |n| n.get() as u32))?;
    let mut b = tar::Builder::new(z);
    b.follow_symlinks(false);
    let bar = crate::progress::files("packing the sources", tracked.len() as u64);
    for p in &tracked {
        b.append_path_with_name(root.join(p), prefix.join(p))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let config = std::fs::read_to_string(root.join(".cargo/config.toml")).unwrap_or_default();
    let config = format!(
        "{config}\n# Added by `outpost-offline bundle`: the crates come from vendor/,\n\
         # so `cargo build --offline --locked` needs no registry.\n\
         [source.crates-io]\nreplace-with = \"vendored-sources\"\n\n\
         [source.vendored-sources]\ndirectory = \"vendor\"\n"
    );
    let mut h = tar::Header::new_gnu();
    h.set_size(config.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, prefix.join(".cargo/config.toml"), config.as_bytes())?;
    let spin = crate::progress::spinner("packing the vendored crates");
    b.append_dir_all(prefix.join("vendor"), vendor)?;
    spin.finish_and_clear();
    b.into_inner()?.finish()?.sync_all()?;
    Ok(std::fs::metadata(out)?.len())
}
