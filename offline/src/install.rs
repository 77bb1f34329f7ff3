//! `load`: a verified bundle's images into the engine (only those missing or
//! different), and the release recorded under the state folder for `up` and
//! `status`.

use crate::docker::{docker, docker_quiet, image_id, need_engine};
use crate::{HOST_TOOL, TrustArgs};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// Verifies the bundle, checks free space, loads the images unless every one
/// is already here with the same id, confirms the ids, and records what is
/// installed.
pub(crate) fn load(bundle: &Path, trust: &TrustArgs) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
