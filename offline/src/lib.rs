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
mod progress;
pub mod sources;
pub mod stack;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// `outpost-offline COMMAND`.
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
        Offline::Images(a) => images(source()?, a),
        Offline::Bundle { sign } => {
            make_bundle(source()?, sign.as_deref()).map(|p| println!("{}", p.display()))
        }
        Offline::Keygen { out } => keygen(&out),
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
        Offline::Load { bundle, trust } => load(&bundle, &trust),
    }
}

pub fn image_id(r: &str) -> Option<String> {
    docker_quiet(&["image", "inspect", "--format", "{{.Id}}", r])
}

fn docker_quiet(args: &[&str]) -> Option<String> {
    let out = Command::new("docker")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Saves every image the compose files use into one bundle with the compose
/// files, their env examples, SHA256SUMS and manifest.json.
pub fn make_bundle(ws: &Workspace, sign: Option<&Path>) -> Result<PathBuf> {
    use crate::bundle::{
        Image, Manifest, SHIPPED, SOURCES, compose_images, pack, seal, sha256_file,
    };
    // The key first: a wrong key or password fails before minutes of saving.
    let sk = match sign {
        Some(p) => Some(secret_key(p)?),
        None => None,
    };
    need_engine()?;
    let root = ws.root();
    let refs = compose_images(root)?;
    let mut images = Vec::new();
    for (reference, services) in &refs {
        let Some(id) = image_id(reference) else {
            bail!(
                "image {reference} (used by {}) is not built: run `cargo xtask offline images --from-debian` first",
                services.join(", ")
            );
        };
        images.push(Image {
            reference: reference.clone(),
            id,
            services: services.clone(),
        });
    }
    let out_dir = root.join("offline");
    std::fs::create_dir_all(&out_dir)?;
    let stage = tempfile::Builder::new()
        .prefix(".stage-")
        .tempdir_in(&out_dir)?;
    let vendor = crate::sources::vendor(root)?;
    let sources_bytes = crate::sources::pack(root, &vendor, VERSION, &stage.path().join(SOURCES))?;
    println!("sources.tar.zst: {} MB", sources_bytes / 1_000_000);
    // The host's tool from the same vendored sources as the images, so an
    // air-gapped host needs no Rust toolchain.
    let tool = vendored_release_build(ws, HOST_TOOL)?;
    std::fs::copy(&tool, stage.path().join(HOST_TOOL))
        .with_context(|| format!("copy {tool} into the bundle"))?;
    let mut args = vec!["save", "-o"];
    let tar = stage.path().join("images.tar");
    let tar_s = tar.to_string_lossy().into_owned();
    args.push(&tar_s);
    args.extend(images.iter().map(|i| i.reference.as_str()));
    let spin = crate::progress::spinner(&format!("docker save of {} images", images.len()));
    println!("saving {} images …", images.len());
    docker(&args)?;
    spin.finish_and_clear();
    for f in SHIPPED {
        std::fs::copy(root.join(f), stage.path().join(f)).with_context(|| format!("copy {f}"))?;
    }
    // A bundle built from uncommitted changes says so ("…-dirty").
    let git = Command::new("git")
        .args(["describe", "--always", "--abbrev=40", "--dirty"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".into(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        });
    let requires = [
        ("docker".to_owned(), ">= 20.10".to_owned()),
        (
            "compose".to_owned(),
            "docker compose v2, or docker-compose >= 1.29".to_owned(),
        ),
    ]
    .into();
    let manifest = seal(
        stage.path(),
        Manifest {
            name: "outpost".into(),
            version: VERSION.into(),
            git_commit: git,
            created_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs(),
            platform: format!("linux/{}", docker_arch()),
            requires,
            uncompressed_bytes: 0,
            images,
            cargo_lock_sha256: sha256_file(&root.join("Cargo.lock"))?,
            sha256sums_sha256: String::new(),
            sources_bytes,
        },
    )?;
    if let Some(sk) = &sk {
        let comment = format!("outpost {VERSION} {}", manifest.git_commit);
        crate::bundle::sign(stage.path(), sk, &comment)?;
    } else {
        eprintln!(
            "warning: the bundle is not signed (--sign KEY); hosts will need --allow-unsigned"
        );
    }
    let out = out_dir.join(format!("outpost-{VERSION}.bundle.tar.zst"));
    println!(
        "compressing {} MB …",
        manifest.uncompressed_bytes / 1_000_000
    );
    pack(stage.path(), &out)?;
    Ok(out)
}

fn docker_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Verifies the bundle, checks free space, loads the images unless every one
/// is already here with the same id, confirms the ids, and records what is
/// installed.
fn load(bundle: &Path, trust: &TrustArgs) -> Result<()> {
    // Before unpacking hundreds of megabytes: is there anything to load into?
    need_engine()?;
    let v = crate::bundle::verify(bundle, &trust.trust()?)?;
    let stale: Vec<&str> = v
        .manifest
        .images
        .iter()
        .filter(|i| image_id(&i.reference).as_deref() != Some(i.id.as_str()))
        .map(|i| i.reference.as_str())
        .collect();
    if stale.is_empty() {
        println!("every image of the bundle is already loaded: nothing to do");
    } else {
        let root_dir = docker_quiet(&["info", "--format", "{{.DockerRootDir}}"])
            .unwrap_or_else(|| "/var/lib/docker".into());
        room_for(
            free_bytes(&root_dir),
            v.manifest.uncompressed_bytes,
            &root_dir,
        )?;
        println!("loading {} …", stale.join(", "));
        let spin = crate::progress::spinner("docker load");
        let tar = v.dir.path().join("images.tar");
        docker(&["load", "--quiet", "-i", &tar.to_string_lossy()])?;
        spin.finish_and_clear();
    }
    for i in &v.manifest.images {
        match image_id(&i.reference) {
            Some(id) if id == i.id => {}
            got => bail!(
                "after loading, {} has id {:?}, the bundle says {}",
                i.reference,
                got,
                i.id
            ),
        }
    }
    // The release's compose files and env examples, kept per version: `up`
    // starts the installed one, and an earlier one stays for a roll back.
    let state = crate::bundle::state_dir();
    let release = crate::bundle::release_dir(&v.manifest.version);
    std::fs::create_dir_all(&release).with_context(|| format!("create {}", release.display()))?;
    for f in crate::bundle::SHIPPED
        .iter()
        .chain(["manifest.json"].iter())
    {
        std::fs::copy(v.dir.path().join(f), release.join(f))
            .with_context(|| format!("install {f} into {}", release.display()))?;
    }
    // The release's own host tool, next to its compose files (`up` and
    // `status` of a roll back run with the tool that shipped with it).
    let tool = v.dir.path().join(HOST_TOOL);
    if tool.is_file() {
        use std::os::unix::fs::PermissionsExt;
        let to = release.join(HOST_TOOL);
        std::fs::copy(&tool, &to)
            .with_context(|| format!("install {HOST_TOOL} into {}", release.display()))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::write(
        state.join("installed.json"),
        serde_json::to_vec_pretty(&v.manifest)?,
    )?;
    // The key that vouched for this bundle is trusted for the next ones.
    if let Some(p) = &trust.pubkey
        && !state.join("trusted.pub").exists()
    {
        std::fs::copy(p, state.join("trusted.pub"))?;
        println!("trusting {} for later bundles", p.display());
    }
    println!(
        "installed {} {} ({} images); recorded in {}",
        v.manifest.name,
        v.manifest.version,
        v.manifest.images.len(),
        state.join("installed.json").display()
    );
    Ok(())
}

/// Refuses to load `need` bytes of images where only `free` are left (when
/// `df` could tell).
fn room_for(free: Option<u64>, need: u64, root_dir: &str) -> Result<()> {
    match free {
        Some(free) if free < need => bail!(
            "not enough disk for the images: {} MB free under {root_dir}, {} MB needed; free some space (docker image prune, old releases) and load again",
            free / 1_000_000,
            need / 1_000_000
        ),
        _ => Ok(()),
    }
}

/// Free bytes on the filesystem holding `dir` (`df`), when it can be told.
fn free_bytes(dir: &str) -> Option<u64> {
    let out = Command::new("df")
        .args(["--output=avail", "-B1", dir])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

pub fn docker(args: &[&str]) -> Result<String> {
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

/// Fails, saying what to check, unless a Docker engine answers.
pub fn need_engine() -> Result<()> {
    let answers = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !answers {
        bail!(
            "no Docker engine answers (`docker info` failed): start dockerd or check DOCKER_HOST"
        );
    }
    Ok(())
}

pub fn image_exists(r: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", r])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn images(ws: &Workspace, a: ImagesArgs) -> Result<()> {
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

/// A minisign secret key: unencrypted, or encrypted with
/// OUTPOST_BUNDLE_KEY_PASSWORD (asked for when that is unset).
fn secret_key(path: &Path) -> Result<minisign::SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read the signing key {}", path.display()))?;
    let sk_box = || minisign::SecretKeyBox::from_string(&text);
    let bad = |e: minisign::PError| anyhow::anyhow!("{}: {e}", path.display());
    match std::env::var("OUTPOST_BUNDLE_KEY_PASSWORD") {
        Ok(pw) => minisign::SecretKey::from_box(sk_box().map_err(bad)?, Some(pw)).map_err(bad),
        Err(_) => minisign::SecretKey::from_unencrypted_box(sk_box().map_err(bad)?)
            .or_else(|_| minisign::SecretKey::from_box(sk_box()?, None))
            .map_err(bad),
    }
}

fn keygen(out: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(out)?;
    let (sk_path, pk_path) = (
        out.join("outpost-bundle.key"),
        out.join("outpost-bundle.pub"),
    );
    if sk_path.exists() {
        bail!(
            "{} exists: refusing to overwrite a signing key",
            sk_path.display()
        );
    }
    let password = std::env::var("OUTPOST_BUNDLE_KEY_PASSWORD").ok();
    let minisign::KeyPair { pk, sk } = match &password {
        Some(pw) => minisign::KeyPair::generate_encrypted_keypair(Some(pw.clone())),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| anyhow::anyhow!("making a key pair: {e}"))?;
    let sk_text = sk
        .to_box(Some("Outpost bundle signing key"))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&sk_path)?
        .write_all(sk_text.as_bytes())?;
    let pk_text = pk
        .to_box()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    std::fs::write(&pk_path, pk_text)?;
    println!(
        "{} (secret{}; keep it off the stores' hosts) and {} (give to every host)",
        sk_path.display(),
        if password.is_some() {
            ", encrypted"
        } else {
            ", NOT encrypted: set OUTPOST_BUNDLE_KEY_PASSWORD to encrypt"
        },
        pk_path.display()
    );
    Ok(())
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

    #[test]
    fn a_load_that_would_fill_the_disk_is_refused_saying_how_much_is_needed() {
        let e = room_for(Some(400_000_000), 650_000_000, "/var/lib/docker")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("400 MB free under /var/lib/docker") && e.contains("650 MB needed"),
            "{e}"
        );
        assert!(room_for(Some(700_000_000), 650_000_000, "/").is_ok());
        // df could not tell: docker load says so itself if it runs out.
        assert!(room_for(None, 650_000_000, "/").is_ok());
        assert!(
            free_bytes("/").is_some_and(|b| b > 0),
            "df reads this machine"
        );
    }
}
