//! One worker per printer: prints its queue in order, one job at a time.
//!
//! For each job: connect, ask the status, and only if the printer can print
//! mark the job `sending` (on disk) and write it; then ask the status again.
//! A printer that is away or not ready leaves the job queued (retried with
//! backoff); a failure after the first byte left makes it `uncertain`.

use crate::metrics::Metrics;
use crate::printq::{Job, JobState, PrintQueue, QueueError};
use crate::status::Status;
use crate::transport::{Address, Link, LinkError};
use crate::{HwConfig, PrinterConfig, now_ms};
use outpost_receipt::{PrinterError, Profile};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// What the pages show about a printer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrinterState {
    /// Answered its last status request, ready or not.
    pub reachable: bool,
    /// Can print now.
    pub ready: bool,
    pub status: Option<Status>,
    pub problem: Option<String>,
    /// Since when it has been as it is (ms since the epoch).
    pub since_ms: i64,
    pub checked_ms: i64,
}

pub struct Printer {
    pub config: PrinterConfig,
    pub address: Address,
    pub profile: Profile,
    /// Configured by the edge (`SetPrinters`), not hw-proxy's own settings.
    pub managed: bool,
    /// The PNG its logo was made from, as the edge sent it.
    pub logo_png: Vec<u8>,
    pub wake: Notify,
    /// Set when the printer is removed or replaced, or hw-proxy stops: its
    /// worker finishes the job in hand and returns.
    stop: watch::Sender<bool>,
    state: Mutex<PrinterState>,
}

impl Printer {
    /// A printer from its settings; `Err` names what is wrong with them
    /// (`PrinterConfig::check` and `profile`: the one check of a printer,
    /// which the api runs too before it stores one).
    pub fn new(
        config: PrinterConfig,
        logo_png: Vec<u8>,
        managed: bool,
    ) -> Result<Printer, PrinterError> {
        Ok(Printer {
            address: config.check()?,
            profile: config.profile(&logo_png)?,
            config,
            managed,
            logo_png,
            wake: Notify::new(),
            stop: watch::Sender::new(false),
            state: Mutex::new(PrinterState::default()),
        })
    }

    /// A printer the edge sent: checked as any, and held to where such a
    /// printer may be (`reach`).
    pub fn managed(
        config: PrinterConfig,
        logo_png: Vec<u8>,
        reach: &outpost_receipt::reach::Reach,
    ) -> Result<Printer, String> {
        let address = config.check().map_err(|e| e.to_string())?;
        reach
            .allows(&address)
            .map_err(|e| format!("printer {:?}: {e}", config.id))?;
        Printer::new(config, logo_png, true).map_err(|e| e.to_string())
    }

    pub fn state(&self) -> PrinterState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(
        &self,
        metrics: &Metrics,
        reachable: bool,
        status: Option<Status>,
        problem: Option<String>,
    ) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ready = problem.is_none();
        let now = now_ms();
        if s.ready != ready || s.reachable != reachable || s.since_ms == 0 {
            if s.ready != ready {
                match &problem {
                    Some(p) => {
                        tracing::warn!(printer = %self.config.id, problem = %p, "printer not ready")
                    }
                    None => tracing::info!(printer = %self.config.id, "printer ready"),
                }
            }
            s.since_ms = now;
        }
        s.reachable = reachable;
        s.ready = ready;
        s.status = status;
        s.problem = problem;
        s.checked_ms = now;
        metrics
            .printer_ready
            .with_label_values(&[&self.config.id])
            .set(i64::from(ready));
    }
}

/// Everything the workers and the HTTP side share.
pub struct Shared {
    pub config: HwConfig,
    pub queue: Arc<PrintQueue>,
    printers: RwLock<BTreeMap<String, Arc<Printer>>>,
    /// Each printer's worker, to wait for before a replacement starts (two
    /// workers on one printer could send one job twice).
    workers: Mutex<BTreeMap<String, JoinHandle<()>>>,
    /// One `SetPrinters` at a time.
    configuring: tokio::sync::Mutex<()>,
    pub metrics: Metrics,
    /// Serial scanners and scales.
    pub inputs: crate::inputs::Inputs,
}

/// Why a set of managed printers was refused; nothing of it applied.
#[derive(Debug)]
pub enum SetRefusal {
    Invalid(String),
    /// A managed printer would take the id of one from the settings file.
    Taken(String),
    /// A printer to remove still has jobs waiting.
    Busy(String),
    Storage(QueueError),
}

impl Shared {
    /// The printers from the settings and those the edge configured (kept
    /// in the queue's file), workers not started yet ([`Shared::start`]).
    pub fn new(config: HwConfig, queue: PrintQueue) -> Result<Shared, String> {
        let metrics = Metrics::new();
        let mut printers = BTreeMap::new();
        for p in &config.printers {
            printers.insert(
                p.id.clone(),
                Arc::new(Printer::new(p.clone(), Vec::new(), false).map_err(|e| e.to_string())?),
            );
        }
        let managed = queue
            .managed_printers()
            .map_err(|e| format!("reading the edge's printers: {e}"))?;
        // One the edge sent that this hw-proxy cannot drive now (a rule a
        // newer version added) is left out, not a reason to refuse to start:
        // the settings file's printers still print, and the edge is told
        // what is wrong when it sends its printers again.
        let reach = config.reach()?;
        for (json, logo) in managed {
            let printer = serde_json::from_str::<PrinterConfig>(&json)
                .map_err(|e| e.to_string())
                .and_then(|c| Printer::managed(c, logo, &reach));
            match printer {
                Ok(p) if printers.contains_key(&p.config.id) => {
                    tracing::warn!(printer = %p.config.id, "the settings file now names this printer too: the file's wins until the edge sends its printers again");
                }
                Ok(p) => {
                    printers.insert(p.config.id.clone(), Arc::new(p));
                }
                Err(e) => {
                    tracing::error!(error = %e, "a printer the edge sent cannot be driven: left out until the edge sends its printers again");
                }
            }
        }
        Ok(Shared {
            inputs: crate::inputs::Inputs::new(&config.inputs),
            config,
            queue: Arc::new(queue),
            printers: RwLock::new(printers),
            workers: Mutex::new(BTreeMap::new()),
            configuring: tokio::sync::Mutex::new(()),
            metrics,
        })
    }

    pub fn printer(&self, id: &str) -> Option<Arc<Printer>> {
        self.printers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Every printer, by id.
    pub fn printers(&self) -> Vec<Arc<Printer>> {
        self.printers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Starts every printer's worker.
    pub fn start(self: &Arc<Self>) {
        for p in self.printers() {
            self.spawn(p);
        }
    }

    fn spawn(self: &Arc<Self>, p: Arc<Printer>) {
        let id = p.config.id.clone();
        let handle = tokio::spawn(run(self.clone(), p));
        self.workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, handle);
    }

    /// Stops a printer's worker and waits until it has let go of its job.
    async fn retire(&self, p: &Printer) {
        p.stop.send_replace(true);
        p.wake.notify_one();
        let handle = self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&p.config.id);
        if let Some(h) = handle {
            let _ = h.await;
        }
    }

    /// Stops every worker (hw-proxy is stopping).
    pub async fn stop(&self) {
        for p in self.printers() {
            self.retire(&p).await;
        }
    }

    /// Replaces the printers the edge manages with `set` (settings and logo
    /// PNG each): all of it or, refused, none of it.
    pub async fn set_managed(
        self: &Arc<Self>,
        set: Vec<(PrinterConfig, Vec<u8>)>,
    ) -> Result<(), SetRefusal> {
        let _one = self.configuring.lock().await;
        let reach = self.config.reach().map_err(SetRefusal::Invalid)?;
        let current = self.printers();
        let mut seen = std::collections::BTreeSet::new();
        let mut new = Vec::new();
        for (c, logo) in set {
            if !seen.insert(c.id.clone()) {
                return Err(SetRefusal::Invalid(format!(
                    "printer {:?} is sent twice",
                    c.id
                )));
            }
            if current.iter().any(|p| p.config.id == c.id && !p.managed) {
                return Err(SetRefusal::Taken(format!(
                    "printer {:?} is already defined in hw-proxy's own settings; choose another id",
                    c.id
                )));
            }
            new.push(Printer::managed(c, logo, &reach).map_err(SetRefusal::Invalid)?);
        }
        let after: Vec<&str> = current
            .iter()
            .filter(|p| !p.managed)
            .map(|p| p.config.id.as_str())
            .chain(new.iter().map(|p| p.config.id.as_str()))
            .collect();
        for p in &new {
            if let Some(f) = &p.config.fallback
                && (f == &p.config.id || !after.contains(&f.as_str()))
            {
                return Err(SetRefusal::Invalid(format!(
                    "printer {:?}: fallback {f:?} is not another printer of this hw-proxy",
                    p.config.id
                )));
            }
        }
        let removed: Vec<Arc<Printer>> = current
            .iter()
            .filter(|p| p.managed && !seen.contains(&p.config.id))
            .cloned()
            .collect();
        for p in &removed {
            let id = p.config.id.clone();
            let n = self
                .q(move |q| q.counts(&id))
                .await
                .map_err(SetRefusal::Storage)?;
            let waiting = n.queued + n.uncertain + n.held;
            if waiting > 0 {
                return Err(SetRefusal::Busy(format!(
                    "printer {:?} still has {waiting} job(s) waiting: print or cancel them before removing it",
                    p.config.id
                )));
            }
        }
        let rows: Vec<(String, String, Vec<u8>)> = new
            .iter()
            .map(|p| {
                let json = serde_json::to_string(&p.config).expect("plain data");
                (p.config.id.clone(), json, p.logo_png.clone())
            })
            .collect();
        self.q(move |q| q.set_managed_printers(&rows))
            .await
            .map_err(SetRefusal::Storage)?;
        for p in &removed {
            self.retire(p).await;
            self.printers
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&p.config.id);
            tracing::info!(printer = %p.config.id, "printer removed by the edge");
        }
        for p in new {
            let old = current.iter().find(|o| o.config.id == p.config.id);
            if old.is_some_and(|o| o.config == p.config && o.logo_png == p.logo_png) {
                continue;
            }
            if let Some(o) = old {
                self.retire(o).await;
            }
            tracing::info!(printer = %p.config.id, address = %p.config.address, "printer set by the edge");
            let p = Arc::new(p);
            self.printers
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(p.config.id.clone(), p.clone());
            self.spawn(p);
        }
        Ok(())
    }

    /// Runs queue work off the async threads (each write is fsynced).
    pub async fn q<T: Send + 'static>(
        &self,
        f: impl FnOnce(&PrintQueue) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let q = self.queue.clone();
        tokio::task::spawn_blocking(move || f(&q))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

enum Outcome {
    Printed,
    /// Nothing was sent: the job stays queued.
    NotSent(String),
    Uncertain(String),
    /// A person cancelled it while we connected.
    Gone,
}

/// Runs one printer's worker until shutdown.
async fn run(shared: Arc<Shared>, printer: Arc<Printer>) {
    let mut stop = printer.stop.subscribe();
    let min = Duration::from_millis(shared.config.retry_min_ms);
    let max = Duration::from_millis(shared.config.retry_max_ms.max(shared.config.retry_min_ms));
    let probe_every = Duration::from_millis(shared.config.probe_interval_ms);
    let mut backoff = min;
    let id = printer.config.id.clone();
    probe(&shared, &printer).await;
    loop {
        if *stop.borrow() {
            return;
        }
        let head = {
            let id = id.clone();
            shared.q(move |q| q.head(&id)).await
        };
        let (job, bytes) = match head {
            Ok(Some(j)) => j,
            Ok(None) => {
                tokio::select! {
                    _ = printer.wake.notified() => {}
                    _ = tokio::time::sleep(probe_every) => probe(&shared, &printer).await,
                    _ = stop.changed() => return,
                }
                continue;
            }
            Err(e) => {
                tracing::error!(printer = %id, error = %e, "cannot read the print queue");
                tokio::time::sleep(max).await;
                continue;
            }
        };
        if let Some((to, why)) = too_late(&shared.config, &job, now_ms()) {
            let jid = job.id.clone();
            let why2 = why.clone();
            if let Err(e) = shared
                .q(move |q| q.transition(&jid, JobState::Queued, to, Some(&why2), now_ms()))
                .await
            {
                tracing::error!(job = %job.id, error = %e, "cannot update the job");
            }
            tracing::warn!(job = %job.id, kind = %job.kind, reason = %why, "job not printed");
            shared.metrics.outcome(&id, to.as_str());
            continue;
        }
        match attempt(&shared, &printer, &job, &bytes).await {
            Outcome::Printed => {
                backoff = min;
                shared.metrics.outcome(&id, "printed");
            }
            Outcome::Gone => {}
            Outcome::NotSent(why) => {
                let jid = job.id.clone();
                let w = why.clone();
                let _ = shared.q(move |q| q.note(&jid, &w, now_ms())).await;
                if reroute(&shared, &printer, &job).await {
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(max);
            }
            Outcome::Uncertain(why) => {
                tracing::warn!(job = %job.id, reason = %why, "job uncertain: shown for a reprint");
                shared.metrics.outcome(&id, "uncertain");
                backoff = min;
            }
        }
    }
}

/// Whether a job has waited too long to print by itself.
fn too_late(cfg: &HwConfig, job: &Job, now: i64) -> Option<(JobState, String)> {
    let age_s = (now - job.created_at) / 1000;
    if job.kind == "drawer" && now - job.created_at > cfg.drawer_max_age_s * 1000 {
        return Some((
            JobState::Expired,
            format!("not fired: the drawer would have opened {age_s} s after it was asked"),
        ));
    }
    if job.kind == "receipt" && !job.asked && now - job.created_at > cfg.receipt_max_age_s * 1000 {
        return Some((
            JobState::Held,
            format!("{age_s} s old: printed only if someone asks for it"),
        ));
    }
    None
}

/// Moves a kitchen ticket to its printer's fallback once the printer has
/// been away long enough.
async fn reroute(shared: &Shared, printer: &Printer, job: &Job) -> bool {
    let Some(fallback) = job
        .fallback
        .clone()
        .or_else(|| printer.config.fallback.clone())
    else {
        return false;
    };
    if job.kind != "kitchen" {
        return false;
    }
    let away_ms = now_ms() - printer.state().since_ms;
    if printer.state().ready || away_ms < (shared.config.fallback_after_s * 1000) as i64 {
        return false;
    }
    let Some(target) = shared.printer(&fallback) else {
        return false;
    };
    let (jid, f) = (job.id.clone(), fallback.clone());
    match shared.q(move |q| q.reroute(&jid, &f, now_ms())).await {
        Ok(true) => {
            tracing::warn!(job = %job.id, from = %printer.config.id, to = %fallback, "kitchen ticket sent to the fallback printer");
            target.wake.notify_one();
            true
        }
        _ => false,
    }
}

async fn probe(shared: &Shared, printer: &Printer) {
    let t = shared.config.timeouts();
    match Link::open(&printer.address, &t).await {
        Ok(mut link) => match link.status(&t).await {
            Ok(st) => printer.set(
                &shared.metrics,
                true,
                st,
                st.and_then(|s| s.problem()).map(str::to_owned),
            ),
            Err(e) => printer.set(&shared.metrics, false, None, Some(e.to_string())),
        },
        Err(e) => printer.set(&shared.metrics, false, None, Some(e.to_string())),
    }
}

async fn attempt(shared: &Shared, printer: &Printer, job: &Job, bytes: &[u8]) -> Outcome {
    let t = shared.config.timeouts();
    let m = &shared.metrics;
    let mut link = match Link::open(&printer.address, &t).await {
        Ok(l) => l,
        Err(e) => {
            printer.set(m, false, None, Some(e.to_string()));
            return Outcome::NotSent(e.to_string());
        }
    };
    match link.status(&t).await {
        Ok(st) => {
            let problem = st.and_then(|s| s.problem());
            printer.set(m, true, st, problem.map(str::to_owned));
            if let Some(p) = problem {
                return Outcome::NotSent(format!("printer {p}"));
            }
        }
        Err(e) => {
            printer.set(m, false, None, Some(e.to_string()));
            return Outcome::NotSent(e.to_string());
        }
    }
    let jid = job.id.clone();
    match shared
        .q(move |q| q.transition(&jid, JobState::Queued, JobState::Sending, None, now_ms()))
        .await
    {
        Ok(true) => {}
        Ok(false) => return Outcome::Gone,
        Err(e) => return Outcome::NotSent(format!("queue: {e}")),
    }
    let started = std::time::Instant::now();
    let failed = match link.write(bytes, &t).await {
        Err(e) => Some(e),
        Ok(()) => match link.status(&t).await {
            Ok(st) => {
                let problem = st.and_then(|s| s.problem());
                printer.set(m, true, st, problem.map(str::to_owned));
                problem
                    .map(|p| LinkError::Broken(format!("the printer reported {p} during the job")))
            }
            Err(e) => {
                printer.set(m, false, None, Some(e.to_string()));
                Some(LinkError::Broken(format!("no status after the job: {e}")))
            }
        },
    };
    m.send_seconds
        .with_label_values(&[&printer.config.id])
        .observe(started.elapsed().as_secs_f64());
    let jid = job.id.clone();
    match failed {
        None => {
            let _ = shared
                .q(move |q| {
                    q.transition(&jid, JobState::Sending, JobState::Printed, None, now_ms())
                })
                .await;
            Outcome::Printed
        }
        Some(e) => {
            let why = format!("{e}: it may have printed in part; reprint if it did not");
            let w = why.clone();
            let _ = shared
                .q(move |q| {
                    q.transition(
                        &jid,
                        JobState::Sending,
                        JobState::Uncertain,
                        Some(&w),
                        now_ms(),
                    )
                })
                .await;
            Outcome::Uncertain(why)
        }
    }
}
