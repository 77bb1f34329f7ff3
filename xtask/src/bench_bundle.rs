//! `cargo xtask bench bundle`: the air-gapped bundle's size, and how long a
//! host takes to verify it, load it into an engine without our images, load
//! it again, and bring the stacks up to healthy — each step run as the
//! operator runs it (`xtask offline …` as a process, its own state folder).
//! Baseline, in the same run: a bare `docker load` of the same images.tar
//! (no verification, no unpacking); ratio = our load / bare load.
//!
//! It removes and reloads the images the bundle holds (the bench ends with
//! them loaded, same ids), and starts compose projects named
//! `outpost-bench-…` that it takes down with their volumes.

use anyhow::{Context, Result, bail};
use outpost_offline::Workspace;
use outpost_offline::bundle::{Manifest, Trust, verify};
use outpost_offline::docker::{docker, image_id};
use outpost_offline::stack::Compose;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A bundle to measure (default: make one from the images built now).
    #[arg(long)]
    bundle: Option<PathBuf>,
}

fn mb(bytes: u64) -> f64 {
    (bytes as f64 / 1e6 * 10.0).round() / 10.0
}

/// Runs this xtask binary with `args`, its state in `state`; returns the
/// seconds it took and its stdout.
fn xtask(state: &Path, args: &[&str]) -> Result<(f64, String)> {
    let t0 = Instant::now();
    let out = Command::new(std::env::current_exe()?)
        .args(args)
        .env("OUTPOST_STATE_DIR", state)
        .stderr(Stdio::inherit())
        .output()?;
    let secs = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("xtask {} failed:\n{stdout}", args.join(" "));
    }
    Ok((secs, stdout))
}

fn remove_images(m: &Manifest) -> Result<()> {
    let mut args = vec!["image", "rm", "-f"];
    args.extend(m.images.iter().map(|i| i.reference.as_str()));
    docker(&args)?;
    Ok(())
}

/// A zstd-compressed `docker save` of one image alone (its base included).
fn compressed_alone(reference: &str) -> Result<u64> {
    let mut save = Command::new("docker")
        .args(["save", reference])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = zstd::Encoder::new(Counter(0), 3)?;
    std::io::copy(
        &mut save.stdout.take().context("docker save stdout")?,
        &mut out,
    )?;
    if !save.wait()?.success() {
        bail!("docker save {reference} failed");
    }
    Ok(out.finish()?.0)
}

struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the env file a stack needs to start (ports free on this host).
fn env_file(dir: &Path, which: &str, bin: &str) -> Result<PathBuf> {
    let port = crate::bench_sync::free_port;
    let mut env = format!(
        "POSTGRES_PASSWORD=bench-pw-0123456789abcdef0123456789\nPOSTGRES_APP_PASSWORD=bench-app-0123456789abcdef0123456789\n\
         OUTPOST_REALTIME_SECRET=bench-secret-0123456789abcdef-realtime\n\
         OUTPOST_HW_TOKEN=bench-hw-token-0123456789abcdef-printing\n\
         OUTPOST_API_PORT={}\nOUTPOST_HUB_PORT={}\nOUTPOST_HW_PORT={}\nOUTPOST_PRINT_URL=\n\
         OUTPOST_API_TLS_PORT={}\nOUTPOST_HUB_TLS_PORT={}\nOUTPOST_HW_TLS_PORT={}\n",
        port()?,
        port()?,
        port()?,
        port()?,
        port()?,
        port()?
    );
    let hw = dir.join("hw");
    std::fs::create_dir_all(&hw)?;
    std::fs::write(
        hw.join("printers.toml"),
        "[[printers]]\nid = \"front\"\naddress = \"tcp://127.0.0.1:9\"\n",
    )?;
    env.push_str(&format!("OUTPOST_HW_DIR={}\n", hw.display()));
    if which == "cloud" {
        let certs = dir.join("certs");
        let ok = Command::new(bin)
            .args(["cloud", "certs", "--out"])
            .arg(&certs)
            .args(["--host", "localhost"])
            .stdout(Stdio::null())
            .status()?
            .success();
        if !ok {
            bail!("outpost cloud certs failed");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            certs.join("server.key"),
            std::fs::Permissions::from_mode(0o644),
        )?;
        env.push_str(&format!(
            "RABBITMQ_PASSWORD=bench-mq-0123456789abcdef0123456789\nOUTPOST_METRICS_TOKEN=bench-metrics-token-0123456789abcdef\nOUTPOST_CERTS_DIR={}\n\
             POSTGRES_API_PASSWORD=bench-api-0123456789abcdef0123456789\n\
             POSTGRES_WORKER_PASSWORD=bench-worker-0123456789abcdef01234567\n\
             OUTPOST_SYNC_PORT={}\nOUTPOST_ADMIN_PORT={}\nOUTPOST_ADMIN_TLS_PORT={}\n",
            certs.display(),
            port()?,
            port()?,
            port()?
        ));
    }
    let path = dir.join(format!("{which}.env"));
    std::fs::write(&path, env)?;
    Ok(path)
}

/// Takes a compose project down with its volumes when dropped.
struct Down(Compose);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = self
            .0
            .command(&["down", "-v", "--remove-orphans"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn health(container: &str) -> String {
    Command::new("docker")
        .args(["inspect", "--format", "{{.State.Health.Status}}", container])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// SIGKILL to the api's process (from the host, as a crash or the OOM killer
/// would end it), then the time until its health check passes again.
fn api_kill_to_healthy(c: &Compose) -> Result<f64> {
    let out = c.command(&["ps", "-q", "api"]).output()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let pid = docker(&["inspect", "--format", "{{.State.Pid}}", &id])?;
    let t0 = Instant::now();
    if !Command::new("kill").args(["-9", &pid]).status()?.success() {
        bail!("kill -9 {pid} (the api's process) failed: the bench needs to run as root");
    }
    let deadline = t0 + Duration::from_secs(120);
    while health(&id) == "healthy" {
        if Instant::now() > deadline {
            bail!("the api never went down");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    while health(&id) != "healthy" {
        if Instant::now() > deadline {
            bail!("the api was not healthy again within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(t0.elapsed().as_secs_f64())
}

pub fn run(a: Args) -> Result<()> {
    outpost_offline::docker::need_engine()?;
    let ws = Workspace::here().context("the bundle bench runs in a clone of the workspace")?;
    let bundle = match a.bundle {
        Some(b) => b,
        None => outpost_offline::make_bundle::make_bundle(&ws, None)?,
    };
    let work = tempfile::tempdir()?;
    let state = work.path().join("state");
    let trust = Trust {
        key: None,
        allow_unsigned: true,
    };

    let t0 = Instant::now();
    let v = verify(&bundle, &trust)?;
    let verify_s = t0.elapsed().as_secs_f64();
    let m = v.manifest.clone();
    let compressed = std::fs::metadata(&bundle)?.len();
    let sources = m.sources_bytes;
    let images_tar = std::fs::metadata(v.dir.path().join("images.tar"))?.len();
    println!("bundle {}", bundle.display());
    println!(
        "  compressed {} MB: images and compose {} MB + sources {} MB",
        mb(compressed),
        mb(compressed - sources),
        mb(sources)
    );
    println!(
        "  uncompressed {} MB (images.tar {} MB)",
        mb(m.uncompressed_bytes - sources),
        mb(images_tar)
    );
    println!("  per image, saved alone (base included), zstd -3 / docker's size:");
    for i in &m.images {
        let size: u64 = docker(&["image", "inspect", "--format", "{{.Size}}", &i.reference])?
            .parse()
            .unwrap_or(0);
        println!(
            "    {:<28} {:>7} MB / {:>7} MB  ({})",
            i.reference,
            mb(compressed_alone(&i.reference)?),
            mb(size),
            i.services.join(", ")
        );
    }
    println!("  verify {verify_s:.1} s");

    let b = bundle.to_string_lossy().into_owned();
    remove_images(&m)?;
    let (load_s, _) = xtask(&state, &["offline", "load", &b, "--allow-unsigned"])?;
    println!("  load into an engine without our images {load_s:.1} s");
    let (reload_s, out) = xtask(&state, &["offline", "load", &b, "--allow-unsigned"])?;
    if !out.contains("nothing to do") {
        bail!("the second load did something:\n{out}");
    }
    println!("  load again {reload_s:.1} s");

    // Baseline: the same images.tar through a bare `docker load`.
    remove_images(&m)?;
    let t0 = Instant::now();
    docker(&[
        "load",
        "--quiet",
        "-i",
        &v.dir.path().join("images.tar").to_string_lossy(),
    ])?;
    let bare_s = t0.elapsed().as_secs_f64();
    for i in &m.images {
        if image_id(&i.reference).as_deref() != Some(i.id.as_str()) {
            bail!("{} has another id after the bare load", i.reference);
        }
    }
    drop(v);
    println!(
        "  baseline: bare docker load {bare_s:.1} s (ratio load / bare {:.2})",
        load_s / bare_s
    );

    let bin = outpost_offline::images::vendored_release_build(&ws, "outpost")?;
    let up = |which: &str| -> Result<(f64, Down)> {
        let env = env_file(work.path(), which, &bin)?;
        let project = format!("outpost-bench-{which}-{}", std::process::id());
        let c = Compose::new(
            outpost_offline::bundle::release_dir_in(&state, &m.version)
                .join(format!("compose.{which}.yml")),
            env.clone(),
            Some(project.clone()),
        )?;
        let down = Down(c);
        let (s, _) = xtask(
            &state,
            &[
                "offline",
                "up",
                which,
                "-p",
                &project,
                "--env-file",
                &env.to_string_lossy(),
            ],
        )?;
        Ok((s, down))
    };
    let (edge_s, edge) = up("edge")?;
    println!("  up edge to every service healthy {edge_s:.1} s");
    let restart_s = api_kill_to_healthy(&edge.0)?;
    println!("  edge api SIGKILL to healthy again {restart_s:.1} s");
    drop(edge);
    let (cloud_s, cloud) = up("cloud")?;
    println!("  up cloud to every service healthy {cloud_s:.1} s");
    drop(cloud);

    println!(
        "{}",
        json!({
            "bench": "bundle",
            "compressed_mb": mb(compressed - sources),
            "uncompressed_mb": mb(m.uncompressed_bytes - sources),
            "sources_mb": mb(sources),
            "verify_s": (verify_s * 10.0).round() / 10.0,
            "load_s": (load_s * 10.0).round() / 10.0,
            "reload_s": (reload_s * 10.0).round() / 10.0,
            "bare_docker_load_s": (bare_s * 10.0).round() / 10.0,
            "load_ratio": ((load_s / bare_s) * 100.0).round() / 100.0,
            "up_to_healthy_s": (edge_s * 10.0).round() / 10.0,
            "cloud_up_to_healthy_s": (cloud_s * 10.0).round() / 10.0,
            "api_sigkill_to_healthy_s": (restart_s * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
