//! A receipt printer on TCP, for tests, demos and the benchmark: it records
//! each connection's bytes as one job, answers status requests (DLE EOT) as
//! a real printer does, and can be told to fail the ways real ones do.
//!
//! Control (HTTP): `GET /jobs` (each job's bytes, rendered text and arrival
//! time, and `open`: connections not finished yet, whose job is recorded
//! when they end), `GET /jobs/{n}.png` (job n, from 1, as a picture of the paper;
//! `?dots=` its width, 576 for 80 mm paper by default), `PUT /mode` with
//! `{"mode": …}`, `GET /mode`, `DELETE /jobs`.

use crate::status::Status;
use actix_web::{App, HttpResponse, HttpServer, web};
use outpost_receipt::render::{Page, render};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How the printer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Ready,
    PaperNearEnd,
    /// Answers status with paper out; prints nothing.
    PaperOut,
    CoverOpen,
    /// Switched off: connections are refused.
    Off,
    /// Accepts connections and then says and reads nothing.
    Hang,
    /// Answers the first status request, then stops reading and answering:
    /// a printer that froze while receiving a job.
    Stall,
    /// Drops the connection after a few bytes of a job (a printer reset).
    Reset,
}

impl Mode {
    fn status(self) -> Status {
        Status {
            paper_out: self == Mode::PaperOut,
            cover_open: self == Mode::CoverOpen,
            paper_near_end: self == Mode::PaperNearEnd,
            ..Status::default()
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceivedJob {
    pub n: usize,
    /// Milliseconds since the epoch at the job's first byte.
    pub first_byte_ms: i64,
    pub bytes: usize,
    /// Whether the connection ended before the job did (reset, hang-up).
    pub cut_short: bool,
    pub page: Page,
    pub text: String,
    #[serde(skip)]
    pub raw: Vec<u8>,
}

#[derive(Default)]
struct State {
    mode: Mode,
    jobs: Vec<ReceivedJob>,
    /// Connections accepted and not finished.
    open: usize,
}

/// Counts a connection as open while it lives.
struct Open(VirtualPrinter);

impl Open {
    fn new(vp: &VirtualPrinter) -> Open {
        vp.lock().open += 1;
        Open(vp.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.lock().open -= 1;
    }
}

#[derive(Clone, Default)]
pub struct VirtualPrinter {
    state: Arc<Mutex<State>>,
}

impl VirtualPrinter {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn mode(&self) -> Mode {
        self.lock().mode
    }
    pub fn set_mode(&self, m: Mode) {
        self.lock().mode = m;
    }
    pub fn jobs(&self) -> Vec<ReceivedJob> {
        self.lock().jobs.clone()
    }

    fn record(&self, raw: Vec<u8>, first_byte_ms: i64, cut_short: bool) {
        if raw.is_empty() {
            return;
        }
        let page = render(&raw);
        if page.lines.is_empty() && page.drawer_kicks == 0 && page.cuts == 0 {
            return; // Only status requests.
        }
        let mut s = self.lock();
        let n = s.jobs.len() + 1;
        tracing::info!(
            job = n,
            bytes = raw.len(),
            cut_short,
            "virtual printer received a job"
        );
        s.jobs.push(ReceivedJob {
            n,
            first_byte_ms,
            bytes: raw.len(),
            cut_short,
            text: page.text(),
            page,
            raw,
        });
    }

    /// Serves printer connections on `listener` forever; while the mode is
    /// `Off` the port is closed, so connections are refused.
    pub async fn serve(self, addr: std::net::SocketAddr) -> std::io::Result<()> {
        loop {
            if self.mode() == Mode::Off {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let listener = tokio::net::TcpListener::bind(addr).await?;
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => Some(a?),
                    _ = tokio::time::sleep(Duration::from_millis(50)) => None,
                };
                if self.mode() == Mode::Off {
                    break; // Drops the listener: the port refuses.
                }
                if let Some((sock, _)) = accepted {
                    let open = Open::new(&self);
                    let me = self.clone();
                    tokio::spawn(async move {
                        me.connection(sock).await;
                        drop(open);
                    });
                }
            }
        }
    }

    async fn connection(self, mut sock: tokio::net::TcpStream) {
        // A printer answers status at once: no Nagle delay on our side.
        let _ = sock.set_nodelay(true);
        let mode = self.mode();
        if mode == Mode::Hang {
            // Hold the connection open, silent, until the mode changes.
            let _ = tokio::time::timeout(Duration::from_secs(120), async {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if self.mode() != Mode::Hang {
                        break;
                    }
                }
            })
            .await;
            return;
        }
        let mut data = Vec::new();
        let mut first_byte_ms = 0;
        let mut buf = [0u8; 8192];
        let mut pending_dle = Vec::new();
        let mut answered = 0usize;
        let mut cut_short = false;
        loop {
            let n = match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // Status requests (DLE EOT n) are answered at once and not part
            // of the job; everything else is.
            let mut i = 0;
            let mut chunk = std::mem::take(&mut pending_dle);
            chunk.extend_from_slice(&buf[..n]);
            let mut job_bytes = Vec::new();
            let mut answers = Vec::new();
            while i < chunk.len() {
                if chunk[i] == 0x10 {
                    if i + 2 >= chunk.len() {
                        pending_dle = chunk[i..].to_vec();
                        break;
                    }
                    if chunk[i + 1] == 0x04 {
                        let which = chunk[i + 2];
                        let mode = self.mode();
                        if mode == Mode::Stall
                            && answered > 0
                            && !(data.is_empty() && job_bytes.is_empty())
                        {
                            if data.is_empty() {
                                first_byte_ms = crate::now_ms();
                            }
                            data.extend_from_slice(&job_bytes);
                            // Frozen: neither answers nor reads on.
                            self.freeze().await;
                            self.record(std::mem::take(&mut data), first_byte_ms, true);
                            return;
                        }
                        let b = mode.status().bytes();
                        let answer = match which {
                            1..=4 => b[which as usize - 1],
                            _ => 0x12,
                        };
                        answers.push(answer);
                        answered += 1;
                        i += 3;
                        continue;
                    }
                }
                job_bytes.push(chunk[i]);
                i += 1;
            }
            if !answers.is_empty() && sock.write_all(&answers).await.is_err() {
                break;
            }
            if !job_bytes.is_empty() {
                let mode = self.mode();
                if matches!(mode, Mode::PaperOut | Mode::CoverOpen) {
                    // A real printer holds it until it can print; this one
                    // records that it arrived at a bad moment.
                    tracing::warn!(
                        bytes = job_bytes.len(),
                        ?mode,
                        "job data received while not ready"
                    );
                }
                if data.is_empty() {
                    first_byte_ms = crate::now_ms();
                }
                data.extend_from_slice(&job_bytes);
                if mode == Mode::Reset && data.len() >= 16 {
                    data.truncate(16);
                    cut_short = true;
                    // Linger zero: the close is a reset, as a printer that rebooted.
                    let _ = socket2::SockRef::from(&sock).set_linger(Some(Duration::ZERO));
                    break;
                }
                if mode == Mode::Stall {
                    self.freeze().await;
                    self.record(std::mem::take(&mut data), first_byte_ms, true);
                    return;
                }
            }
        }
        self.record(data, first_byte_ms, cut_short);
    }

    /// Stays silent while the mode is `Stall` (at most two minutes).
    async fn freeze(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(120), async {
            while self.mode() == Mode::Stall {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: Mode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsQuery {
    /// Skip the first jobs (0-based index of the first one shown).
    #[serde(default)]
    from: usize,
}

async fn get_jobs(vp: web::Data<VirtualPrinter>, q: web::Query<JobsQuery>) -> HttpResponse {
    let s = vp.lock();
    let jobs: Vec<&ReceivedJob> = s.jobs.iter().skip(q.from).collect();
    HttpResponse::Ok().json(serde_json::json!({ "jobs": jobs, "open": s.open }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PngQuery {
    #[serde(default = "default_dots")]
    dots: usize,
}

fn default_dots() -> usize {
    576
}

async fn get_job_png(
    vp: web::Data<VirtualPrinter>,
    n: web::Path<String>,
    q: web::Query<PngQuery>,
) -> HttpResponse {
    if !(64..=2048).contains(&q.dots) {
        return HttpResponse::BadRequest().body("dots: the paper's width in dots, 64 to 2048");
    }
    let raw = n
        .strip_suffix(".png")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| {
            vp.lock()
                .jobs
                .iter()
                .find(|j| j.n == n)
                .map(|j| j.raw.clone())
        });
    match raw {
        Some(raw) => HttpResponse::Ok()
            .content_type("image/png")
            .body(outpost_receipt::render::png(&raw, q.dots)),
        None => HttpResponse::NotFound().body("no such job: GET /jobs lists them"),
    }
}

async fn clear_jobs(vp: web::Data<VirtualPrinter>) -> HttpResponse {
    vp.lock().jobs.clear();
    HttpResponse::NoContent().finish()
}

async fn get_mode(vp: web::Data<VirtualPrinter>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "mode": vp.mode() }))
}

async fn put_mode(vp: web::Data<VirtualPrinter>, body: web::Json<ModeBody>) -> HttpResponse {
    vp.set_mode(body.mode);
    tracing::info!(mode = ?body.mode, "virtual printer mode");
    HttpResponse::Ok().json(serde_json::json!({ "mode": body.mode }))
}

/// Runs the printer on `printer` and its control side on `control`.
pub async fn run(
    printer: std::net::SocketAddr,
    control: std::net::SocketAddr,
) -> Result<(), String> {
    let vp = VirtualPrinter::default();
    let data = web::Data::new(vp.clone());
    let listener = std::net::TcpListener::bind(control)
        .map_err(|e| format!("cannot listen on {control}: {e}"))?;
    // Bind once up front so a taken port fails here, clearly.
    drop(
        std::net::TcpListener::bind(printer)
            .map_err(|e| format!("cannot listen on {printer}: {e}"))?,
    );
    let server = HttpServer::new(move || {
        App::new()
            .wrap(outpost_telemetry::headers::security())
            .app_data(data.clone())
            .route("/jobs", web::get().to(get_jobs))
            .route("/jobs", web::delete().to(clear_jobs))
            .route("/jobs/{n}", web::get().to(get_job_png))
            .route("/mode", web::get().to(get_mode))
            .route("/mode", web::put().to(put_mode))
            .route(
                "/health",
                web::get().to(|| async { HttpResponse::Ok().body("ok") }),
            )
    })
    .workers(1)
    .listen(listener)
    .map_err(|e| e.to_string())?
    .run();
    tracing::info!(%printer, %control, "virtual printer listening");
    tokio::select! {
        r = vp.serve(printer) => r.map_err(|e| format!("printer port {printer}: {e}")),
        r = server => r.map_err(|e| e.to_string()),
    }
}
