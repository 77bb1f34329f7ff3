//! `outpost-offline up` and `status`: start an installed release's stack
//! with nothing pulled and wait for every health check; say what is
//! installed and how each service is. Works with `docker compose` (v2) and
//! Debian's `docker-compose` 1.29, which has no `--wait` and no
//! `--pull never`: the images are checked to be present before compose runs,
//! so compose has nothing to pull, and the waiting is done here.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    Edge,
    Cloud,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Which stack: the store's edge or the cloud.
    which: Which,
    /// The settings (a copy of .env.example / .env.cloud.example, filled in).
    #[arg(long, default_value = ".env")]
    env_file: PathBuf,
    /// The compose project name (default: compose's own, the folder name).
    #[arg(short = 'p', long)]
    project: Option<String>,
    /// The compose files from this folder instead of the installed release's.
    #[arg(long)]
    compose_dir: Option<PathBuf>,
    /// Give up waiting for the health checks after this long.
    #[arg(long, default_value_t = 180)]
    timeout_s: u64,
}

/// One compose project of one stack file.
pub struct Compose {
    cli: Vec<String>,
    file: PathBuf,
    env_file: PathBuf,
    project: Option<String>,
}

/// `docker compose` when the plugin answers, else `docker-compose`.
pub fn compose_cli() -> Result<Vec<String>> {
    let answers = |c: &mut Command| {
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if answers(Command::new("docker").args(["compose", "version"])) {
        return Ok(vec!["docker".into(), "compose".into()]);
    }
    if answers(Command::new("docker-compose").arg("version")) {
        return Ok(vec!["docker-compose".into()]);
    }
    bail!(
        "neither `docker compose` nor `docker-compose` answers: install Docker's compose plugin or Debian's docker-compose"
    )
}

impl Compose {
    pub fn new(file: PathBuf, env_file: PathBuf, project: Option<String>) -> Result<Compose> {
        if !file.is_file() {
            bail!("{} does not exist", file.display());
        }
        if !env_file.is_file() {
            bail!(
                "{} does not exist: copy the release's .env example there and fill it in",
                env_file.display()
            );
        }
        Ok(Compose {
            cli: compose_cli()?,
            file,
            env_file,
            project,
        })
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.cli[0]);
        c.args(&self.cli[1..]);
        if let Some(p) = &self.project {
            c.args(["-p", p]);
        }
        c.arg("--env-file")
            .arg(&self.env_file)
            .arg("-f")
            .arg(&self.file)
            .args(args);
        c
    }

    fn output(&self, args: &[&str]) -> Result<Output> {
        let out = self
            .command(args)
            .output()
            .with_context(|| format!("running compose {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "compose {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out)
    }

    fn lines(&self, args: &[&str]) -> Result<Vec<String>> {
        Ok(String::from_utf8_lossy(&self.output(args)?.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect())
    }

    /// The images the stack uses with these settings, as compose resolves them.
    pub fn images(&self) -> Result<Vec<String>> {
        let mut images: Vec<String> = self
            .lines(&["config"])?
            .iter()
            .filter_map(|l| l.strip_prefix("image:"))
            .map(|i| i.trim().trim_matches(['"', '\'']).to_owned())
            .collect();
        images.sort();
        images.dedup();
        Ok(images)
    }

    pub fn services(&self) -> Result<Vec<String>> {
        self.lines(&["config", "--services"])
    }

    /// Each service's state: (running state, health), by service name,
    /// one-shot services (the migration) that already exited included.
    pub fn states(&self) -> Result<BTreeMap<String, State>> {
        let ids = self.lines(&["ps", "-a", "-q"])?;
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut args = vec![
            "inspect",
            "--format",
            "{{index .Config.Labels \"com.docker.compose.service\"}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.ExitCode}}|{{index .Config.Labels \"outpost.one-shot\"}}",
        ];
        args.extend(ids.iter().map(String::as_str));
        let out = Command::new("docker").args(&args).output()?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut f = l.split('|');
                let service = f.next()?.to_owned();
                Some((
                    service,
                    State {
                        status: f.next()?.to_owned(),
                        health: f.next().unwrap_or("").to_owned(),
                        exit_code: f.next().and_then(|c| c.parse().ok()).unwrap_or(0),
                        one_shot: f.next() == Some("true"),
                    },
                ))
            })
            .collect())
    }

    pub fn logs(&self, service: &str, lines: u32) -> String {
        self.command(&["logs", "--no-color", "--tail", &lines.to_string(), service])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// docker's: created, running, restarting, exited, …
    pub status: String,
    /// healthy, unhealthy, starting, or empty without a health check.
    pub health: String,
    pub exit_code: i32,
    /// A step that runs once and exits (label `outpost.one-shot`): the
    /// central database's migration.
    pub one_shot: bool,
}

impl State {
    /// Running and healthy; for a one-shot step, done without an error.
    pub fn ready(&self) -> bool {
        if self.one_shot {
            return self.status == "exited" && self.exit_code == 0;
        }
        self.status == "running" && (self.health.is_empty() || self.health == "healthy")
    }

    fn describe(&self) -> String {
        if self.one_shot && self.status == "exited" {
            return format!("exited ({})", self.exit_code);
        }
        if self.health.is_empty() {
            self.status.clone()
        } else {
            format!("{}, {}", self.status, self.health)
        }
    }
}

/// The compose file of the installed release (or of `dir`).
fn compose_file(which: Which, dir: Option<&Path>) -> Result<PathBuf> {
    let name = match which {
        Which::Edge => "compose.edge.yml",
        Which::Cloud => "compose.cloud.yml",
    };
    if let Some(d) = dir {
        return Ok(d.join(name));
    }
    let installed = installed()?;
    Ok(crate::bundle::release_dir(&installed.version).join(name))
}

fn installed() -> Result<crate::bundle::Manifest> {
    let path = crate::bundle::state_dir().join("installed.json");
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "no bundle is installed ({} is missing): run `outpost-offline load BUNDLE` first",
            path.display()
        )
    })?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not a manifest", path.display()))
}

pub fn up(a: UpArgs) -> Result<()> {
    crate::docker::need_engine()?;
    let compose = Compose::new(
        compose_file(a.which, a.compose_dir.as_deref())?,
        a.env_file,
        a.project,
    )?;
    // Nothing may be pulled: every image must be here already.
    let missing: Vec<String> = compose
        .images()?
        .into_iter()
        .filter(|i| !crate::docker::image_exists(i))
        .collect();
    if !missing.is_empty() {
        bail!(
            "not loaded: {} — nothing is pulled; load the bundle that holds them (`outpost-offline load`), or fix the image settings in the env file",
            missing.join(", ")
        );
    }
    let services = compose.services()?;
    let t0 = Instant::now();
    println!(
        "starting {} ({} services) …",
        compose.file.display(),
        services.len()
    );
    // compose itself waits for the `service_healthy` dependencies; a failure
    // there is reported below with the service that failed.
    let started = compose.command(&["up", "-d", "--no-build"]).status()?;
    let deadline = t0 + Duration::from_secs(a.timeout_s);
    let spin = crate::progress::spinner("waiting for the health checks");
    let mut healthy_at: BTreeMap<String, Duration> = BTreeMap::new();
    let states = loop {
        let states = compose.states()?;
        for (s, st) in &states {
            if st.ready() {
                healthy_at.entry(s.clone()).or_insert_with(|| t0.elapsed());
            }
        }
        let all = services
            .iter()
            .all(|s| states.get(s).is_some_and(State::ready));
        // When `compose up` failed (a dependency unhealthy, a port taken)
        // nothing more will start by itself: report at once.
        if all || Instant::now() > deadline || !started.success() {
            break states;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    spin.finish_and_clear();
    let mut bad = Vec::new();
    for s in &services {
        match (states.get(s), healthy_at.get(s)) {
            (Some(st), Some(at)) if st.ready() => {
                println!(
                    "  {s:<14} {:<20} after {:.1} s",
                    st.describe(),
                    at.as_secs_f64()
                )
            }
            (st, _) => {
                let what = st.map_or("not created".to_owned(), State::describe);
                println!("  {s:<14} {what:<20} NOT HEALTHY");
                bad.push((s.clone(), what));
            }
        }
    }
    if bad.is_empty() {
        println!(
            "every service is healthy after {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    for (s, what) in &bad {
        eprintln!(
            "\n--- {s} is {what}; its last log lines:\n{}",
            compose.logs(s, 30)
        );
    }
    bail!(
        "not healthy after {:.0} s: {}",
        t0.elapsed().as_secs_f64(),
        bad.iter()
            .map(|(s, w)| format!("{s} ({w})"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// What is installed, whether its images are here, and every container that
/// runs one of them (by compose project and service) with its health. Fails
/// when an image is missing or a service is not healthy, so a monitor can
/// run it.
pub fn status() -> Result<()> {
    let m = installed()?;
    println!(
        "installed: {} {} (commit {}, bundle made at unix time {}, {})",
        m.name,
        m.version,
        &m.git_commit[..m.git_commit.len().min(12)],
        m.created_at,
        m.platform
    );
    println!(
        "compose files: {}",
        crate::bundle::release_dir(&m.version).display()
    );
    let mut problems = Vec::new();
    println!("images:");
    for i in &m.images {
        let what = match crate::docker::image_id(&i.reference) {
            Some(id) if id == i.id => "loaded".to_owned(),
            Some(id) => {
                problems.push(format!("{} differs", i.reference));
                format!("DIFFERS from the bundle ({id})")
            }
            None => {
                problems.push(format!("{} missing", i.reference));
                "MISSING".to_owned()
            }
        };
        println!("  {:<28} {what}", i.reference);
    }
    crate::docker::need_engine()?;
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            "{{.Label \"com.docker.compose.project\"}}|{{.Label \"com.docker.compose.service\"}}|{{.Image}}|{{.State}}|{{.Status}}|{{.Label \"outpost.one-shot\"}}",
        ])
        .output()
        .context("docker ps")?;
    let ours: Vec<&str> = m.images.iter().map(|i| i.reference.as_str()).collect();
    let mut rows: Vec<(String, String, String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f.len() == 6 && !f[0].is_empty() && ours.contains(&f[2])).then(|| {
                // A one-shot step that finished well is as it should be.
                let state = if f[5] == "true" && f[4].starts_with("Exited (0)") {
                    "done"
                } else {
                    f[3]
                };
                (f[0].into(), f[1].into(), state.into(), f[4].into())
            })
        })
        .collect();
    rows.sort();
    println!("services:");
    if rows.is_empty() {
        println!("  none running (`up edge|cloud` starts them)");
    }
    for (project, service, state, status) in &rows {
        let healthy = state == "done" || state == "running" && !status.contains("unhealthy");
        let starting = status.contains("health: starting");
        let mark = if starting {
            "starting"
        } else if healthy {
            "ok"
        } else {
            problems.push(format!("{project}/{service} {status}"));
            "NOT HEALTHY"
        };
        println!("  {project:<20} {service:<14} {status:<32} {mark}");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("{}", problems.join("; "))
    }
}
