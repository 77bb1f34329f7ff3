//! The Docker CLI, as the commands use it: run it, ask an image's id, check
//! that an engine answers, copy a file out of an image.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Command, Stdio};

/// The id of the image `r` names, if it is here.
pub fn image_id(r: &str) -> Option<String> {
    docker_quiet(&["image", "inspect", "--format", "{{.Id}}", r])
}

/// docker's output when it succeeds, its errors kept off the terminal.
pub(crate) fn docker_quiet(args: &[&str]) -> Option<String> {
    let out = Command::new("docker")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// This machine's platform as Docker names it (the manifest's `platform`).
pub(crate) fn docker_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Runs docker, its errors on our stderr; its output, trimmed.
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

/// Copies the file `path` of the image `image` to `dest`, through a
/// container that is created, never started, and removed.
pub fn copy_from_image(image: &str, path: &str, dest: &Path) -> Result<()> {
    let container = docker(&["create", image])?;
    let copied = docker(&[
        "cp",
        &format!("{container}:{path}"),
        &dest.to_string_lossy(),
    ]);
    let _ = docker_quiet(&["rm", &container]);
    copied.map(drop)
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

/// Whether the image `r` names is here.
pub fn image_exists(r: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", r])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
