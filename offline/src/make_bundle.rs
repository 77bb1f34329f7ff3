//! `bundle`: the built images, the compose files, the vendored sources, the
//! tool itself and the register agent for till PCs, sealed (and signed) into
//! one file (see bundle.rs for the format).

use crate::docker::{copy_from_image, docker, docker_arch, image_id, need_engine};
use crate::images::vendored_release_build;
use crate::keys::secret_key;
use crate::{HOST_TOOL, VERSION, Workspace};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Saves every image the compose files use into one bundle with the compose
/// files, their env examples, SHA256SUMS and manifest.json.
pub fn make_bundle(ws: &Workspace, sign: Option<&Path>) -> Result<PathBuf> {
    use crate::bundle::{
        Image, Manifest, REGISTER_UNIT, SHIPPED, SOURCES, TILL_BINARY, compose_images, pack, seal,
        sha256_file,
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
    // For till PCs, the register agent: the `outpost` binary of the bundle's
    // own image (built from the vendored crates by `images`, not built a
    // second time), so a till runs what its edge runs; and its unit.
    let outpost = format!("outpost/outpost:{VERSION}");
    if !images.iter().any(|i| i.reference == outpost) {
        bail!("the compose files do not use {outpost}: the bundle has no `outpost` for till PCs");
    }
    // Where docker/outpost.Dockerfile puts it.
    copy_from_image(
        &outpost,
        "/usr/local/bin/outpost",
        &stage.path().join(TILL_BINARY),
    )
    .with_context(|| format!("copy the outpost binary out of {outpost}"))?;
    std::fs::copy(
        root.join("offline/register").join(REGISTER_UNIT),
        stage.path().join(REGISTER_UNIT),
    )
    .with_context(|| format!("copy offline/register/{REGISTER_UNIT}"))?;
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
