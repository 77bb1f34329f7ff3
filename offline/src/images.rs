//! `images`: every image compose uses, on one base (a registry's, or built
//! here from Debian's packages), with the `outpost` binary built from the
//! vendored crates; and that vendored release build, which the bundle uses
//! for the tool too.

use crate::docker::{docker, image_exists, need_engine};
use crate::{IMAGES, ImagesArgs, VERSION, Workspace};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds every image compose uses, tagged with the release version.
pub(crate) fn images(ws: &Workspace, a: ImagesArgs) -> Result<()> {
    need_engine()?;
    let base = match (a.from_debian, a.base) {
        (true, _) => debian_base(a.mirror)?,
        (false, Some(b)) => b,
        (false, None) => bail!("say where the base comes from: --from-debian, or --base IMAGE"),
    };
    let bin = vendored_release_build(ws, "outpost")?;
    let ctx = std::env::temp_dir().join(format!("outpost-image-{}", std::process::id()));
    std::fs::create_dir_all(&ctx)?;
    std::fs::copy(&bin, ctx.join("outpost")).context("copy the release binary")?;
    let docker_dir = ws.root().join("docker");
    for name in IMAGES {
        let tag = format!("outpost/{name}:{VERSION}");
        let context = if name == "outpost" { &ctx } else { &docker_dir };
        println!("building {tag} on {base}");
        docker(&[
            "build",
            "--quiet",
            "--build-arg",
            &format!("BASE={base}"),
            "-f",
            &docker_dir
                .join(format!("{name}.Dockerfile"))
                .to_string_lossy(),
            "-t",
            &tag,
            &context.to_string_lossy(),
        ])?;
        println!(
            "  {tag} {}",
            docker(&["image", "inspect", "--format", "{{.Id}}", &tag])?
        );
    }
    let _ = std::fs::remove_dir_all(&ctx);
    Ok(())
}

/// The release executable of `package` (`outpost` for the images,
/// `outpost-offline` for the bundle) built from the vendored crates, offline,
/// with an empty CARGO_HOME: the sources a bundle carries are the ones that
/// built its images and its tool. One package per build, so each is built
/// with the features it asks for, as `cargo build -p PACKAGE` from the
/// bundle's sources builds it.
pub fn vendored_release_build(ws: &Workspace, package: &str) -> Result<String> {
    let root = ws.root();
    let vendor = crate::sources::vendor(root)?;
    let home = crate::sources::empty_cargo_home()?;
    // A target folder of its own: the vendored crates have the registry's
    // package ids but other source paths, so sharing one folder with the
    // registry builds (the test build's) would rebuild every crate at each switch.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("vendored");
    println!(
        "cargo build --release -p {package} --offline --locked from offline/vendor, empty CARGO_HOME, into {}",
        target.display()
    );
    let mut cargo = Command::new(crate::sources::cargo());
    cargo
        .current_dir(root)
        .env("CARGO_HOME", home.path())
        .env("CARGO_TARGET_DIR", &target)
        // What is shipped is built by plain rustc with the workspace's own
        // settings, whatever the calling shell set for its checks.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS")
        .args(["--offline", "--locked"])
        .args(crate::sources::replace_with(&vendor));
    let mut built = release_build(cargo, &[package])?;
    Ok(built
        .remove(package)
        .expect("release_build returns what it built"))
}

/// Runs `cargo build --release -p PACKAGE…` on `cargo` (a Command with any
/// extra arguments or environment already set) and returns each package's
/// executable by name.
pub fn release_build(
    mut cargo: Command,
    packages: &[&str],
) -> Result<std::collections::BTreeMap<String, String>> {
    cargo.args([
        "build",
        "--release",
        "--message-format=json-render-diagnostics",
    ]);
    for p in packages {
        cargo.args(["-p", p]);
    }
    let out = cargo
        .stderr(Stdio::inherit())
        .output()
        .context("cargo build --release")?;
    if !out.status.success() {
        bail!("release build failed");
    }
    let mut built = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
            && let Some(exe) = v["executable"].as_str()
            && let Some(name) = v["target"]["name"].as_str()
            && packages.contains(&name)
        {
            built.insert(name.to_owned(), exe.to_owned());
        }
    }
    for p in packages {
        if !built.contains_key(*p) {
            bail!("no {p} executable in the build output");
        }
    }
    Ok(built)
}

/// `outpost/base:bookworm-VERSION`, imported from a debootstrap'd folder
/// (kept under the cache folder, so a rebuild does not fetch again).
fn debian_base(mirror: Option<String>) -> Result<String> {
    let tag = format!("outpost/base:bookworm-{VERSION}");
    if image_exists(&tag) {
        println!("base image {tag} is already here");
        return Ok(tag);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .context("no HOME")?
        .join("outpost/debian-bookworm-minbase");
    if !cache.join("etc/debian_version").exists() {
        let mirror = mirror.unwrap_or_else(apt_mirror);
        println!("debootstrap --variant=minbase bookworm from {mirror} …");
        let _ = std::fs::remove_dir_all(&cache);
        let ok = Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&cache)
            .arg(&mirror)
            .stdout(Stdio::null())
            .status()
            .context("debootstrap (apt-get install debootstrap)")?
            .success();
        if !ok {
            let _ = std::fs::remove_dir_all(&cache);
            bail!("debootstrap failed");
        }
    }
    println!("importing {tag}");
    // Package lists and downloaded .debs are only needed to build the folder;
    // leaving them out saves ~80 MB in every image.
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&cache)
        .args([
            "--exclude=./var/lib/apt/lists/*",
            "--exclude=./var/cache/apt/*",
            "-c",
            ".",
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let import = Command::new("docker")
        .args(["import", "-", &tag])
        .stdin(tar.stdout.take().context("tar stdout")?)
        .stdout(Stdio::null())
        .status()?;
    if !tar.wait()?.success() || !import.success() {
        bail!("docker import of the Debian base failed");
    }
    Ok(tag)
}

/// The mirror apt on this host uses (deb822 `URIs:` or a `deb` line).
fn apt_mirror() -> String {
    // Only enabled sources (`*.sources`, `*.list`), and only an entry that
    // serves the `bookworm` suite itself: not a security mirror, not a
    // third-party repository.
    let mut files: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|f| f.extension().is_some_and(|e| e == "sources" || e == "list"));
    files.sort();
    files.push("/etc/apt/sources.list".into());
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        // deb822 stanzas are separated by blank lines.
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
            };
            if let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:"))
                && suites.split_whitespace().any(|s| s == "bookworm")
                && let Some(u) = uris.split_whitespace().next()
            {
                return u.to_owned();
            }
        }
        for line in text.lines().map(str::trim) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first() == Some(&"deb")
                && let Some(i) = words.iter().position(|w| w.starts_with("http"))
                && words.get(i + 1) == Some(&"bookworm")
            {
                return words[i].to_owned();
            }
        }
    }
    "http://deb.debian.org/debian".into()
}
