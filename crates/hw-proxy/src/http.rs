//! hw-proxy's HTTP side (port 7071): jobs in, the queue and the printers
//! out, for the api, the register page and ops.

use crate::document::{self, KitchenTicket, Receipt};
use crate::render::render;
use crate::worker::{self, Shared};
use crate::{HwConfig, now_ms};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use outpost_storage::StorageError;
use outpost_storage::printq::{JobState, NewJob, PrintQueue, Submitted};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// An RFC 9457 problem.
fn problem(status: StatusCode, kind: &str, detail: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(serde_json::json!({
            "type": format!("https://outpost.example/problems/{kind}"),
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": detail.into(),
        }))
}

fn storage_problem(e: StorageError) -> HttpResponse {
    match e {
        StorageError::NotFound(m) => {
            problem(StatusCode::NOT_FOUND, "not-found", format!("{m} not found"))
        }
        StorageError::Conflict(m) => problem(StatusCode::CONFLICT, "conflict", m),
        StorageError::Unprocessable(m) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-job", m)
        }
        e => {
            tracing::error!(error = %e, "print queue");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue-unavailable",
                "the print queue cannot be read or written now",
            )
        }
    }
}

/// A job as the api or a register sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The caller's idempotency id (a UUID): a retry returns the same job.
    pub id: String,
    pub printer: String,
    /// receipt | kitchen | drawer
    pub kind: String,
    #[serde(default)]
    pub receipt: Option<Receipt>,
    #[serde(default)]
    pub ticket: Option<KitchenTicket>,
    /// With a receipt: kick the drawer first (a cash sale).
    #[serde(default)]
    pub open_drawer: bool,
}

/// Why a job is refused: status, problem kind, detail.
type Refusal = (StatusCode, &'static str, String);

fn encode(req: &JobRequest, shared: &Shared) -> Result<(NewJob, Vec<char>), Refusal> {
    let invalid = |m: String| (StatusCode::UNPROCESSABLE_ENTITY, "invalid-job", m);
    if uuid::Uuid::parse_str(&req.id).is_err() {
        return Err(invalid(format!("job id {:?} is not a UUID", req.id)));
    }
    let Some(printer) = shared.printers.get(&req.printer) else {
        return Err((
            StatusCode::NOT_FOUND,
            "unknown-printer",
            format!(
                "no printer {:?} here; this hw-proxy drives {:?}",
                req.printer,
                shared.printers.keys().collect::<Vec<_>>()
            ),
        ));
    };
    let encoded = match (req.kind.as_str(), &req.receipt, &req.ticket) {
        ("receipt", Some(r), None) => document::receipt(r, &printer.profile, req.open_drawer),
        ("kitchen", None, Some(t)) if !req.open_drawer => {
            document::kitchen_ticket(t, &printer.profile)
        }
        ("drawer", None, None) => Ok(document::drawer_kick()),
        ("receipt", ..) => {
            return Err(invalid(
                "kind receipt takes a receipt and nothing else".into(),
            ));
        }
        ("kitchen", ..) => {
            return Err(invalid(
                "kind kitchen takes a ticket and nothing else".into(),
            ));
        }
        ("drawer", ..) => return Err(invalid("kind drawer takes no document".into())),
        (k, ..) => {
            return Err(invalid(format!(
                "unknown kind {k:?}: receipt, kitchen or drawer"
            )));
        }
    }
    .map_err(|e| invalid(e.to_string()))?;
    let preview = render(&encoded.bytes).text();
    Ok((
        NewJob {
            id: req.id.clone(),
            printer: req.printer.clone(),
            kind: req.kind.clone(),
            request: serde_json::to_vec(req).unwrap_or_default(),
            payload: encoded.bytes,
            preview,
            fallback: None,
        },
        encoded.replaced,
    ))
}

async fn submit(shared: web::Data<Shared>, body: web::Json<JobRequest>) -> HttpResponse {
    let req = body.into_inner();
    let (job, replaced) = match encode(&req, &shared) {
        Ok(j) => j,
        Err((status, kind, detail)) => return problem(status, kind, detail),
    };
    let printer = job.printer.clone();
    match shared.q(move |q| q.submit(&job, now_ms())).await {
        Ok(Submitted::New(j)) => {
            if let Some(p) = shared.printers.get(&printer) {
                p.wake.notify_one();
            }
            if !replaced.is_empty() {
                tracing::warn!(job = %j.id, ?replaced, "characters no code page of the printer holds print as ?");
            }
            HttpResponse::Created().json(serde_json::json!({"job": j, "replaced": replaced}))
        }
        Ok(Submitted::Again(j)) => {
            HttpResponse::Ok().json(serde_json::json!({"job": j, "replaced": replaced}))
        }
        Err(e) => storage_problem(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    printer: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
}

async fn list(shared: web::Data<Shared>, q: web::Query<ListQuery>) -> HttpResponse {
    let q = q.into_inner();
    let state = match q.state.as_deref().map(|s| (s, JobState::parse(s))) {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((s, None)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad-query",
                format!("unknown state {s:?}"),
            );
        }
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    match shared
        .q(move |pq| pq.list(q.printer.as_deref(), state, limit))
        .await
    {
        Ok(jobs) => HttpResponse::Ok().json(serde_json::json!({ "jobs": jobs })),
        Err(e) => storage_problem(e),
    }
}

async fn get(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    let i = id.clone();
    match shared.q(move |q| q.get(&i)).await {
        Ok(Some(j)) => HttpResponse::Ok().json(j),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("job {id} not found"),
        ),
        Err(e) => storage_problem(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReprintBody {
    /// The new job's id, so a repeated click prints once.
    id: String,
}

async fn reprint(
    shared: web::Data<Shared>,
    id: web::Path<String>,
    body: web::Json<ReprintBody>,
) -> HttpResponse {
    let new_id = body.into_inner().id;
    if uuid::Uuid::parse_str(&new_id).is_err() {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-job",
            format!("job id {new_id:?} is not a UUID"),
        );
    }
    let id = id.into_inner();
    match shared.q(move |q| q.reprint(&id, &new_id, now_ms())).await {
        Ok(j) => {
            if let Some(p) = shared.printers.get(&j.printer) {
                p.wake.notify_one();
            }
            tracing::info!(job = %j.id, of = ?j.reprint_of, "reprint asked");
            HttpResponse::Created().json(serde_json::json!({ "job": j }))
        }
        Err(e) => storage_problem(e),
    }
}

async fn cancel(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    match shared.q(move |q| q.cancel(&id, now_ms())).await {
        Ok(j) => HttpResponse::Ok().json(serde_json::json!({ "job": j })),
        Err(e) => storage_problem(e),
    }
}

async fn printers(shared: web::Data<Shared>) -> HttpResponse {
    let mut out = Vec::new();
    for (id, p) in &shared.printers {
        let i = id.clone();
        let counts = shared.q(move |q| q.counts(&i)).await.unwrap_or_default();
        out.push(serde_json::json!({
            "id": id,
            "address": p.address.to_string(),
            "width": p.profile.width,
            "fallback": p.config.fallback,
            "state": p.state(),
            "jobs": counts,
        }));
    }
    HttpResponse::Ok().json(serde_json::json!({ "printers": out }))
}

async fn health(shared: web::Data<Shared>) -> HttpResponse {
    let queue_ok = shared.q(|q| q.list(None, None, 1)).await.is_ok();
    let printers: serde_json::Map<String, serde_json::Value> = shared
        .printers
        .iter()
        .map(|(id, p)| {
            let s = p.state();
            (
                id.clone(),
                serde_json::json!({"ready": s.ready, "problem": s.problem}),
            )
        })
        .collect();
    // A printer being away makes hw-proxy degraded, never unhealthy: a
    // restart would not bring the paper back.
    let status = if !queue_ok {
        "unhealthy"
    } else if shared.printers.values().any(|p| !p.state().ready) {
        "degraded"
    } else {
        "ok"
    };
    let body = serde_json::json!({"status": status, "queue": queue_ok, "printers": printers});
    if queue_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(shared: web::Data<Shared>) -> HttpResponse {
    for id in shared.printers.keys() {
        let i = id.clone();
        if let Ok(c) = shared.q(move |q| q.counts(&i)).await {
            for (state, n) in [
                ("queued", c.queued),
                ("uncertain", c.uncertain),
                ("held", c.held),
            ] {
                shared
                    .metrics
                    .waiting
                    .with_label_values(&[id, state])
                    .set(n);
            }
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(outpost_telemetry::render(&shared.metrics.registry))
}

/// The routes, for the server and for tests.
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    let json = web::JsonConfig::default()
        .limit(max_body)
        .error_handler(move |err, _req| {
            let resp = match &err {
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    format!("a job is at most {max_body} bytes"),
                ),
                actix_web::error::JsonPayloadError::ContentType => problem(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "content-type",
                    "send application/json",
                ),
                e => problem(StatusCode::BAD_REQUEST, "bad-json", e.to_string()),
            };
            actix_web::error::InternalError::from_response(err, resp).into()
        });
    let query = web::QueryConfig::default().error_handler(|err, _req| {
        let resp = problem(StatusCode::BAD_REQUEST, "bad-query", err.to_string());
        actix_web::error::InternalError::from_response(err, resp).into()
    });
    cfg.app_data(json)
        .app_data(query)
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics))
        .route("/api/v1/printers", web::get().to(printers))
        .route("/api/v1/jobs", web::post().to(submit))
        .route("/api/v1/jobs", web::get().to(list))
        .route("/api/v1/jobs/{id}", web::get().to(get))
        .route("/api/v1/jobs/{id}/reprint", web::post().to(reprint))
        .route("/api/v1/jobs/{id}/cancel", web::post().to(cancel));
}

/// Runs hw-proxy until SIGINT/SIGTERM: the queue, a worker per printer and
/// the HTTP side.
pub async fn run(config: HwConfig) -> Result<(), String> {
    let (queue, interrupted) = PrintQueue::open(&config.queue)
        .map_err(|e| format!("opening the print queue {}: {e}", config.queue.display()))?;
    for id in &interrupted {
        tracing::warn!(job = %id, "was being sent when hw-proxy stopped: marked uncertain, not reprinted by itself");
    }
    let addr = (config.host.clone(), config.port);
    let max_body = config.max_body_bytes;
    let shared = web::Data::new(Shared::new(config, queue)?);
    let listener = std::net::TcpListener::bind(&addr)
        .map_err(|e| format!("cannot listen on {}:{}: {e}", addr.0, addr.1))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shared_arc: Arc<Shared> = shared.clone().into_inner();
    let mut workers = Vec::new();
    for p in shared.printers.values() {
        workers.push(tokio::spawn(worker::run(
            shared_arc.clone(),
            p.clone(),
            stop_rx.clone(),
        )));
    }
    let data = shared.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(|c| configure(c, max_body))
    })
    .workers(2)
    .listen(listener)
    .map_err(|e| e.to_string())?
    .run();
    tracing::info!(host = %addr.0, port = addr.1, printers = shared.printers.len(), "hw-proxy listening");
    let r = server.await.map_err(|e| e.to_string());
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    r
}
