//! `cargo xtask offline …`: the images for compose and, later, the air-gapped
//! bundle. Base images come from a registry when there is one (`--base`), or
//! are built here from Debian's packages (`--from-debian`: debootstrap into a
//! folder, then `docker import`). PostgreSQL, Redis and our services are all
//! built on that one base, so its layer is stored once.

use crate::bench_api::build_release;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, clap::Subcommand)]
pub enum Offline {
    /// Builds every image, tagged with the release version.
    Images(ImagesArgs),
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

pub fn run(o: Offline) -> Result<()> {
    match o {
        Offline::Images(a) => images(a),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn docker(args: &[&str]) -> Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .context("running docker (is the Docker CLI installed?)")?;
    if !out.status.success() {
        bail!("docker {} failed", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn engine_answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn image_exists(r: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", r])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn images(a: ImagesArgs) -> Result<()> {
    if !engine_answers() {
        bail!(
            "no Docker engine answers (`docker info` failed): start dockerd or check DOCKER_HOST"
        );
    }
    let base = match (a.from_debian, a.base) {
        (true, _) => debian_base(a.mirror)?,
        (false, Some(b)) => b,
        (false, None) => bail!("say where the base comes from: --from-debian, or --base IMAGE"),
    };
    let bin = build_release()?;
    let ctx = std::env::temp_dir().join(format!("outpost-image-{}", std::process::id()));
    std::fs::create_dir_all(&ctx)?;
    std::fs::copy(&bin, ctx.join("outpost")).context("copy the release binary")?;
    let docker_dir = root().join("docker");
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
