//! hw-proxy's HTTP side (port 7071): jobs in, the queue and the printers
//! out, for the api, the register page and ops.

use crate::jobs::{self, JobRequest, Refusal};
use crate::printq::{JobState, PrintQueue, QueueError};
use crate::worker::Shared;
use crate::{HwConfig, now_ms};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use outpost_proto::hw_v1::print_service_server::PrintServiceServer;
use outpost_telemetry::problem::{self, Problem};
use serde::Deserialize;
use std::sync::Arc;

/// Problem JSON (the one shape every Outpost surface answers errors with).
fn problem(status: StatusCode, kind: &str, detail: impl Into<String>) -> HttpResponse {
    let title = status.canonical_reason().unwrap_or("Error");
    HttpResponse::build(status)
        .content_type(problem::CONTENT_TYPE)
        .json(Problem::new(status.as_u16(), kind, title, detail))
}

/// The cookie the page's token form gets from `POST /page-token`:
/// `HttpOnly` (no script reads it back), `SameSite=Strict` (no other
/// site's page can send it along), `Secure` over TLS.
const TOKEN_COOKIE: &str = "outpost_hw";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageToken {
    token: String,
}

/// The page's token form: the right token comes back as the page's cookie;
/// a wrong one is refused and sets nothing.
async fn page_token(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Json<PageToken>,
) -> HttpResponse {
    let token = &shared.config.token;
    if token.is_empty() || !crate::token_matches(token, &body.token) {
        return problem(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "that is not hw-proxy's token (hw.token)",
        );
    }
    let cookie = actix_web::cookie::Cookie::build(TOKEN_COOKIE, body.into_inner().token)
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .secure(req.app_config().secure())
        .path("/")
        .finish();
    HttpResponse::NoContent().cookie(cookie).finish()
}

/// Whether a request carries hw-proxy's token (`hw.token`), as a bearer
/// token or the page's cookie; every request does when no token is set.
fn authorized(token: &str, req: &HttpRequest) -> bool {
    if token.is_empty() {
        return true;
    }
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = req
        .headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='));
    [bearer, cookie]
        .into_iter()
        .flatten()
        .any(|t| crate::token_matches(token, t))
}

/// Guards the jobs API: printing, reprinting, cancelling and reading
/// receipts need the token when one is set.
async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let token = req
        .app_data::<web::Data<Shared>>()
        .map(|s| s.config.token.clone())
        .unwrap_or_default();
    // A change from another page of this host (another port: the cookie
    // goes there too) is refused; the page's own, and API clients that send
    // no Origin, pass.
    if !matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) && !outpost_telemetry::headers::same_origin(req.request())
    {
        let resp = problem(
            StatusCode::FORBIDDEN,
            "cross-origin",
            "a change must come from hw-proxy's own page",
        );
        return Ok(req.into_response(resp).map_into_right_body());
    }
    if authorized(&token, req.request()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let resp = problem(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send hw-proxy's token (hw.token): Authorization: Bearer …",
    );
    Ok(req.into_response(resp).map_into_right_body())
}

pub(crate) fn storage_problem(e: QueueError) -> HttpResponse {
    match e {
        QueueError::NotFound(m) => {
            problem(StatusCode::NOT_FOUND, "not-found", format!("{m} not found"))
        }
        QueueError::Conflict(m) => problem(StatusCode::CONFLICT, "conflict", m),
        QueueError::Refused(m) => problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-job", m),
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

async fn submit(shared: web::Data<Shared>, body: web::Json<JobRequest>) -> HttpResponse {
    match jobs::submit(&shared, body.into_inner()).await {
        Ok(s) => {
            let body = serde_json::json!({"job": s.job, "replaced": s.replaced});
            if s.created {
                HttpResponse::Created().json(body)
            } else {
                HttpResponse::Ok().json(body)
            }
        }
        Err(r) => refusal(r),
    }
}

fn refusal(r: Refusal) -> HttpResponse {
    match r {
        Refusal::UnknownPrinter(m) => problem(StatusCode::NOT_FOUND, "unknown-printer", m),
        Refusal::Invalid(m) => problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-job", m),
        Refusal::Storage(e) => storage_problem(e),
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

/// A job as its paper would look: a PNG the printer's width (12 dots a
/// character).
async fn preview_png(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    let i = id.clone();
    let found = shared.q(move |q| Ok(q.get(&i)?.zip(q.payload(&i)?))).await;
    match found {
        Ok(Some((job, bytes))) => {
            let width = shared.printer(&job.printer).map_or(48, |p| p.profile.width);
            let png = web::block(move || {
                outpost_receipt::render::png(&bytes, width * outpost_receipt::raster::CELL_W)
            })
            .await
            .unwrap_or_default();
            HttpResponse::Ok()
                .content_type("image/png")
                .insert_header(("Cache-Control", "no-store"))
                .body(png)
        }
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
    match crate::jobs::reprint(&shared, id.into_inner(), new_id).await {
        Ok(j) => HttpResponse::Created().json(serde_json::json!({ "job": j })),
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
    for (p, counts) in crate::jobs::printers(&shared).await {
        out.push(serde_json::json!({
            "id": p.config.id,
            "address": p.address.to_string(),
            "width": p.profile.width,
            "fallback": p.config.fallback,
            "managed": p.managed,
            "state": p.state(),
            "jobs": counts,
        }));
    }
    HttpResponse::Ok().json(serde_json::json!({ "printers": out }))
}

async fn health(shared: web::Data<Shared>) -> HttpResponse {
    let queue_ok = shared.q(|q| q.list(None, None, 1)).await.is_ok();
    let all = shared.printers();
    let printers: serde_json::Map<String, serde_json::Value> = all
        .iter()
        .map(|p| {
            let s = p.state();
            (
                p.config.id.clone(),
                serde_json::json!({"ready": s.ready, "problem": s.problem}),
            )
        })
        .collect();
    // A printer being away makes hw-proxy degraded, never unhealthy: a
    // restart would not bring the paper back.
    let status = if !queue_ok {
        "unhealthy"
    } else if all.iter().any(|p| !p.state().ready) {
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
    for p in shared.printers() {
        let id = &p.config.id;
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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The queue as people see it: each printer's state and the latest jobs,
/// with reprint and cancel buttons (`hw.js`).
async fn page(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    if !authorized(&shared.config.token, &req) {
        return HttpResponse::Unauthorized()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Content-Security-Policy", PAGE_CSP))
            .body(
                "<!doctype html><html lang=en><meta charset=utf-8>\
                 <meta name=viewport content=\"width=device-width,initial-scale=1\">\
                 <title>Printers · Outpost</title><script src=/hw.js defer></script>\
                 <h1>Printers</h1><form id=token-form><label>hw-proxy's token \
                 <input id=token type=password autocomplete=current-password required></label> \
                 <button>Open</button></form>",
            );
    }
    let jobs = shared
        .q(|q| q.list(None, None, 50))
        .await
        .unwrap_or_default();
    let mut html = String::from(
        "<!doctype html><html lang=en><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>Printers · Outpost</title><style>\
         body{font:15px system-ui,sans-serif;margin:1rem;max-width:60rem}\
         table{border-collapse:collapse;width:100%}td,th{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
         .ready{color:#060}.away{color:#b00;font-weight:600}.uncertain,.held{background:#fff4d6}\
         button{font:inherit;padding:.3rem .7rem}pre{font-size:12px;background:#f6f6f6;padding:.5rem}\
         #message.ok{color:#060}#message.bad{color:#b00}</style>\
         <script src=/hw.js defer></script><h1>Printers</h1><table><tr><th>Printer<th>State<th>Waiting",
    );
    for (p, c) in crate::jobs::printers(&shared).await {
        let s = p.state();
        let id = &p.config.id;
        let state = match &s.problem {
            None => "<span class=ready>ready</span>".to_owned(),
            Some(problem) => format!("<span class=away>{}</span>", esc(problem)),
        };
        html.push_str(&format!(
            "<tr id=\"printer-{}\"><td>{} <small>{}</small><td>{state}<td>{} queued, {} uncertain, {} held",
            esc(id),
            esc(id),
            esc(&p.address.to_string()),
            c.queued,
            c.uncertain,
            c.held
        ));
    }
    html.push_str("</table><p id=message role=status></p><h2>Jobs</h2><table><tr><th>Job<th>Printer<th>State<th><th>");
    for j in &jobs {
        let state = j.state();
        let reprint = !matches!(state, JobState::Queued | JobState::Sending) && j.kind != "drawer";
        let cancel = matches!(
            state,
            JobState::Queued | JobState::Held | JobState::Uncertain
        );
        let mut buttons = String::new();
        if reprint {
            buttons.push_str(&format!(
                "<button data-act=reprint data-job=\"{}\">Print again</button> ",
                esc(&j.id)
            ));
        }
        if cancel {
            buttons.push_str(&format!(
                "<button data-act=cancel data-job=\"{}\">Cancel</button>",
                esc(&j.id)
            ));
        }
        html.push_str(&format!(
            "<tr class={} id=\"job-{}\"><td>{}<details><summary>preview</summary><pre>{}</pre>\
             <img loading=lazy alt=\"the job as printed\" src=\"/api/v1/jobs/{}/preview.png\"></details>\
             <td>{}<td class=state>{}<td>{}<td>{}",
            state.as_str(),
            esc(&j.id),
            esc(&j.kind),
            esc(&j.preview),
            esc(&j.id),
            esc(&j.printer),
            state.as_str(),
            esc(j.last_error.as_deref().unwrap_or("")),
            buttons
        ));
    }
    html.push_str("</table>");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", PAGE_CSP))
        .body(html)
}

/// The printers page's policy: its own script, styles and previews only,
/// never framed.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'";

/// The serial scanners and scales, each with its state (and a scale's
/// latest weight) — the same objects the event stream starts with.
async fn inputs(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(serde_json::json!({ "inputs": shared.inputs.snapshot() }))
}

/// Server-sent events for the register page: first each device's state,
/// then scans, weights and devices coming and going. Readable from the
/// register page's origin (the api's port): it only reads.
async fn input_events(shared: web::Data<Shared>) -> HttpResponse {
    use crate::inputs::InputEvent;
    use tokio::sync::broadcast::error::RecvError;
    let rx = shared.inputs.subscribe();
    let first: std::collections::VecDeque<InputEvent> = shared.inputs.snapshot().into();
    let sse = |e: &InputEvent| {
        web::Bytes::from(format!(
            "data: {}\n\n",
            serde_json::to_string(e).unwrap_or_default()
        ))
    };
    let stream = futures_util::stream::unfold((rx, first), move |(mut rx, mut first)| async move {
        if let Some(e) = first.pop_front() {
            return Some((Ok::<_, actix_web::Error>(sse(&e)), (rx, first)));
        }
        let chunk = match tokio::time::timeout(std::time::Duration::from_secs(15), rx.recv()).await
        {
            Ok(Ok(e)) => sse(&e),
            // A page that fell behind by this many events reloads its state.
            Ok(Err(RecvError::Lagged(n))) => {
                web::Bytes::from(format!("event: lagged\ndata: {n}\n\n"))
            }
            Ok(Err(RecvError::Closed)) => return None,
            Err(_) => web::Bytes::from_static(b": keep-alive\n\n"),
        };
        Some((Ok(chunk), (rx, first)))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .streaming(stream)
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(include_str!("hw.js"))
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
        .route("/", web::get().to(page))
        .route("/hw.js", web::get().to(script))
        .route("/page-token", web::post().to(page_token))
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics))
        .route("/api/v1/printers", web::get().to(printers))
        .route("/api/v1/inputs", web::get().to(inputs))
        .route("/api/v1/inputs/events", web::get().to(input_events))
        .service(
            web::scope("/api/v1/jobs")
                .wrap(from_fn(require_token))
                .route("", web::post().to(submit))
                .route("", web::get().to(list))
                .route("/{id}", web::get().to(get))
                .route("/{id}/preview.png", web::get().to(preview_png))
                .route("/{id}/reprint", web::post().to(reprint))
                .route("/{id}/cancel", web::post().to(cancel)),
        );
}

/// The PrintService on `host:port` (over TLS with `tls`) until `stop`: the
/// bound port and the server's task.
async fn serve_grpc(
    shared: &Arc<Shared>,
    host: &str,
    port: u16,
    tls: Option<tonic::transport::ServerTlsConfig>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<
    (
        u16,
        tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    ),
    String,
> {
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port} (gRPC): {e}"))?;
    let bound = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let token = shared.config.token.clone();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let service = PrintServiceServer::with_interceptor(
        crate::grpc::Service {
            shared: shared.clone(),
        },
        move |req: tonic::Request<()>| crate::grpc::check_token(&token, req),
    );
    let server = builder.add_service(service).serve_with_incoming_shutdown(
        // No Nagle: a reply held back for the client's delayed ACK costs 40 ms.
        tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        async move {
            let _ = stop.wait_for(|s| *s).await;
        },
    );
    Ok((bound, tokio::spawn(server)))
}

/// Runs hw-proxy until SIGINT/SIGTERM: the queue, a worker per printer and
/// the HTTP side.
pub async fn run(config: HwConfig) -> Result<(), String> {
    let (queue, interrupted) = PrintQueue::open(&config.queue)
        .map_err(|e| format!("opening the print queue {}: {e}", config.queue.display()))?;
    for id in &interrupted {
        tracing::warn!(job = %id, "was being sent when hw-proxy stopped: marked uncertain, not reprinted by itself");
    }
    if config.token.is_empty() && !matches!(config.host.as_str(), "127.0.0.1" | "::1" | "localhost")
    {
        tracing::warn!(host = %config.host, "hw-proxy listens beyond this machine with no hw.token: anyone on the network can print and open drawers");
    }
    let addr = (config.host.clone(), config.port);
    let max_body = config.max_body_bytes;
    let shared = web::Data::new(Shared::new(config, queue)?);
    let listener = std::net::TcpListener::bind(&addr)
        .map_err(|e| format!("cannot listen on {}:{}: {e}", addr.0, addr.1))?;
    let listener_port = listener.local_addr().map(|a| a.port()).unwrap_or(addr.1);
    // The certificate the api wrote, for the page's and the PrintService's
    // TLS ports.
    let cfg = &shared.config;
    let pem = match (cfg.tls_port, cfg.grpc_tls_port) {
        (None, None) => None,
        _ if cfg.tls_dir.is_empty() => {
            return Err("hw.tls_port and hw.grpc_tls_port serve the certificate in hw.tls_dir: set it (the api's server.tls_dir)".into());
        }
        _ => {
            let dir = std::path::PathBuf::from(&cfg.tls_dir);
            let wait = std::time::Duration::from_secs(cfg.tls_wait_s);
            let pem = tokio::task::spawn_blocking(move || outpost_telemetry::tls::read(&dir, wait))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("hw.tls_dir: {e}"))?;
            Some(pem)
        }
    };
    let tls = match (cfg.tls_port, &pem) {
        (Some(p), Some((chain, key))) => {
            let l = std::net::TcpListener::bind((addr.0.as_str(), p))
                .map_err(|e| format!("cannot listen on {}:{p} (TLS): {e}", addr.0))?;
            Some((l, outpost_telemetry::tls::config(chain, key)?))
        }
        _ => None,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shared_arc: Arc<Shared> = shared.clone().into_inner();
    shared_arc.start();
    shared.inputs.spawn(shared.config.inputs.clone());
    let (grpc_port, grpc) = serve_grpc(
        &shared_arc,
        &addr.0,
        shared.config.grpc_port,
        None,
        stop_rx.clone(),
    )
    .await?;
    let grpc_tls = match (shared.config.grpc_tls_port, pem) {
        (Some(p), Some((chain, key))) => {
            let tls = tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(chain, key));
            Some(serve_grpc(&shared_arc, &addr.0, p, Some(tls), stop_rx.clone()).await?)
        }
        _ => None,
    };
    let data = shared.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(outpost_telemetry::headers::security())
            .app_data(data.clone())
            .configure(|c| configure(c, max_body))
    })
    .workers(2)
    .listen(listener)
    .map_err(|e| e.to_string())?;
    let mut tls_port = None;
    let server = match tls {
        Some((l, config)) => {
            tls_port = l.local_addr().map(|a| a.port()).ok();
            server
                .listen_rustls_0_23(l, config)
                .map_err(|e| e.to_string())?
        }
        None => server,
    }
    .run();
    let port = listener_port;
    tracing::info!(host = %addr.0, port, ?tls_port, grpc_port, printers = shared.printers().len(), "hw-proxy listening");
    println!(
        "Outpost hw-proxy listening on http://{}:{port} (gRPC {grpc_port})",
        addr.0
    );
    if let Some(p) = tls_port {
        println!("Outpost hw-proxy listening on https://{}:{p}", addr.0);
    }
    if let Some((p, _)) = &grpc_tls {
        println!("Outpost hw-proxy PrintService over TLS on {}:{p}", addr.0);
    }
    let r = server.await.map_err(|e| e.to_string());
    let _ = stop_tx.send(true);
    let _ = grpc.await;
    if let Some((_, g)) = grpc_tls {
        let _ = g.await;
    }
    shared_arc.stop().await;
    r
}
