//! The cloud's HTTP side: `/health`, `/metrics` (with the metrics token),
//! and the admin pages and API over every store's sync state, for named
//! accounts (`db::admins`): the pages with a session cookie and a CSRF
//! token on every write, scripts and BI tools with an account's API token.
//! Pages are rendered with maud, which escapes every value it is given.

use crate::db::admins::{self, Account, Right};
use crate::db::credentials::same;
use crate::db::{self as cloud, CloudDb};
use crate::server::CloudMetrics;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use outpost_telemetry::problem::{self, Problem};
use serde_json::json;

mod api;
mod auth;
mod pages;

use api::*;
use auth::*;
use pages::*;

#[derive(Clone)]
pub struct AdminState {
    pub db: CloudDb,
    pub metrics: CloudMetrics,
    /// Prometheus's bearer token for /metrics (`cloud.metrics_token`).
    pub metrics_token: String,
    /// The broker, for the dead-letter queue's depth on the page.
    pub amqp_url: String,
    pub amqp_timers: outpost_bus::Timers,
    /// Warn about a credential expiring within this.
    pub credential_warn_ms: i64,
    /// A store silent for longer than this is shown offline.
    pub offline_after_ms: i64,
    /// The admin's TLS port as bound, where plain requests from beyond
    /// `plain_networks` are sent.
    pub tls_port: Option<u16>,
    pub plain_networks: outpost_telemetry::settings::Networks,
}

/// Plain HTTP is for this machine (`cloud.admin_plain_networks`): with a
/// TLS port, anyone else is sent there before a password or a cookie is
/// read.
pub async fn plain_here_only(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let to = match (req.app_data::<web::Data<AdminState>>(), req.peer_addr()) {
        (Some(state), Some(peer))
            if !req.app_config().secure() && !state.plain_networks.contains(peer.ip()) =>
        {
            state.tls_port
        }
        _ => None,
    };
    if let Some(port) = to {
        let res = outpost_telemetry::tls::to_tls(req.request(), port);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // A form or query string that does not parse gets problem JSON, as
    // every other refusal here does.
    let form = web::FormConfig::default()
        .limit(16 * 1024)
        .error_handler(|e, _| {
            // Too large, no length, another content type: their own status.
            let status = actix_web::ResponseError::status_code(&e);
            let res = problem(status, "invalid-form", &e.to_string());
            actix_web::error::InternalError::from_response(e, res).into()
        });
    let query = web::QueryConfig::default().error_handler(|e, _| {
        let res = problem(StatusCode::BAD_REQUEST, "invalid-query", &e.to_string());
        actix_web::error::InternalError::from_response(e, res).into()
    });
    cfg.app_data(form)
        .app_data(query)
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics))
        .route("/", web::get().to(page))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/api/v1/audit", web::get().to(audit))
        .route("/api/v1/stores", web::get().to(stores))
        .route("/api/v1/alarms", web::get().to(alarms))
        .route("/api/v1/orders", web::get().to(orders))
        .route("/api/v1/parked", web::get().to(parked))
        .route("/api/v1/parked/{id}/retry", web::post().to(retry_parked))
        .route(
            "/api/v1/stores/{store_id}/credential/rotate",
            web::post().to(rotate_credential),
        )
        .route(
            "/api/v1/stores/{store_id}/products",
            web::post().to(author_product),
        )
        .route(
            "/api/v1/stores/{store_id}/products",
            web::get().to(products),
        )
        .route(
            "/api/v1/stores/{store_id}/tax-categories",
            web::post().to(author_tax),
        )
        .route(
            "/api/v1/stores/{store_id}/companies",
            web::post().to(author_company),
        )
        .route(
            "/api/v1/stores/{store_id}/staff",
            web::post().to(author_staff),
        )
        .route(
            "/api/v1/stores/{store_id}/settings",
            web::post().to(author_settings),
        )
        .route(
            "/api/v1/stores/{store_id}/price-lists",
            web::post().to(author_price_list),
        )
        .route(
            "/api/v1/stores/{store_id}/master/resend",
            web::post().to(resend_master),
        )
        .route("/stores/{store_id}", web::get().to(store_page))
        .route("/admin.js", web::get().to(script));
}

/// Problem JSON (the one shape every Outpost surface answers errors with),
/// titled with the status's reason phrase.
fn problem(status: actix_web::http::StatusCode, slug: &str, detail: &str) -> HttpResponse {
    let title = status.canonical_reason().unwrap_or("Error");
    HttpResponse::build(status)
        .content_type(problem::CONTENT_TYPE)
        .json(Problem::new(status.as_u16(), slug, title, detail))
}

/// A change as the audit keeps it: a PIN or a password in it is replaced,
/// so reading the audit gives no one a staff member's PIN.
fn redacted(body: &[u8]) -> String {
    fn hide(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    let k = k.to_ascii_lowercase();
                    if k.contains("pin") || k.contains("password") || k.contains("secret") {
                        *x = serde_json::Value::String("(hidden)".into());
                    } else {
                        hide(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(hide),
            _ => {}
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            hide(&mut v);
            v.to_string()
        }
        Err(_) => "(not JSON)".into(),
    }
}

/// Records `who`'s action (after it succeeded).
fn audited(
    c: &mut cloud::CloudConn,
    who: &Who,
    action: &str,
    target: &str,
    detail: &str,
) -> crate::error::Result<()> {
    let detail: String = detail.chars().take(2000).collect();
    admins::audit(c, &who.account.name, who.via(), action, target, &detail)
}

async fn blocking<T: Send + 'static>(
    db: &CloudDb,
    f: impl FnOnce(&mut cloud::CloudConn) -> crate::error::Result<T> + Send + 'static,
) -> Result<T, HttpResponse> {
    let db = db.clone();
    web::block(move || {
        let mut c = db.conn()?;
        f(&mut c)
    })
    .await
    .map_err(|_| {
        problem(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "try again",
        )
    })?
    .map_err(|e| {
        tracing::error!(error = %e, "cloud database");
        problem(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "the central database is unavailable",
        )
    })
}

async fn health(state: web::Data<AdminState>) -> HttpResponse {
    let db = blocking(&state.db, |c| {
        use diesel::connection::SimpleConnection;
        c.batch_execute("SELECT 1")?;
        Ok(())
    })
    .await;
    let ok = db.is_ok();
    let body = json!({
        "status": if ok { "ok" } else { "unhealthy" },
        "components": {"database": {"status": if ok { "ok" } else { "unhealthy" }}},
    });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The cloud's metrics, behind a token: the admin port faces the internet,
/// and the counts say how many stores push and how often credentials are
/// refused. Prometheus sends `cloud.metrics_token` as a bearer token; an
/// owner's API token is taken too.
async fn metrics(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let by_token = !state.metrics_token.is_empty()
        && given.is_some_and(|g| same(g.trim(), &state.metrics_token));
    if !by_token {
        match authed(&req, &state, None).await {
            Ok(w) if w.account.role == admins::Role::Owner => {}
            Ok(_) => {
                return problem(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "the metrics are for the metrics token or an owner",
                );
            }
            Err(r) => return r,
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(outpost_telemetry::render(&state.metrics.registry))
}

/// A post from one of the pages' forms (not the API).
fn from_form(req: &HttpRequest) -> bool {
    req.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}
