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
    cfg.route("/health", web::get().to(health))
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

/// The admin page's session cookie.
const SESSION_COOKIE: &str = "outpost_cloud";

/// How a caller proved who they are.
#[derive(Debug, Clone)]
enum Via {
    /// The page's cookie: writes need its CSRF token.
    Session { token: String, csrf: String },
    /// An account's API token (`Authorization: Bearer`).
    Token,
}

/// A caller that proved who they are.
struct Who {
    account: Account,
    via: Via,
}

impl Who {
    fn via(&self) -> &'static str {
        match self.via {
            Via::Session { .. } => "session",
            Via::Token => "token",
        }
    }

    /// A 403 unless the account may do what `right` covers.
    fn refused(&self, right: Right, what: &str) -> Option<HttpResponse> {
        if self.account.may(right) {
            return None;
        }
        Some(problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!(
                "the account {} ({}) may not {what}",
                self.account.name,
                self.account.role.as_str()
            ),
        ))
    }

    /// A 404 for a store this account does not see (it is not told the
    /// store exists).
    fn hidden(&self, store: &str) -> Option<HttpResponse> {
        if self.account.sees(store) {
            return None;
        }
        Some(problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("store {store} not found"),
        ))
    }
}

/// The `csrf` field of a page's form (hex: never percent-encoded).
fn form_csrf(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("csrf="))
}

fn unauthenticated() -> HttpResponse {
    problem(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "sign in at /login, or send an account's API token as Authorization: Bearer",
    )
}

/// Who is calling: an account's API token (`Authorization: Bearer`), or
/// the page's session cookie. A write (any method but GET and HEAD) with
/// the cookie must come from this origin and carry the session's CSRF
/// token (`X-CSRF-Token`, or `form_csrf` from a form's `csrf` field):
/// another site's page cannot make one. HTTP Basic is refused.
async fn authed(
    req: &HttpRequest,
    state: &AdminState,
    form_csrf: Option<&str>,
) -> Result<Who, HttpResponse> {
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        let Some(t) = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .map(str::to_owned)
        else {
            return Err(unauthenticated());
        };
        return match blocking(&state.db, move |c| admins::by_api_token(c, &t)).await? {
            Some(account) => Ok(Who {
                account,
                via: Via::Token,
            }),
            None => Err(unauthenticated()),
        };
    }
    let Some(token) = req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 128)
    else {
        return Err(unauthenticated());
    };
    let t = token.clone();
    let Some((account, csrf)) = blocking(&state.db, move |c| admins::session(c, &t)).await? else {
        return Err(unauthenticated());
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        if !outpost_telemetry::headers::same_origin(req) {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "cross-origin",
                "a change must come from this admin's own pages",
            ));
        }
        let given = req
            .headers()
            .get("X-CSRF-Token")
            .and_then(|v| v.to_str().ok())
            .or(form_csrf);
        if !given.is_some_and(|g| same(g, &csrf)) {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "csrf",
                "the page's CSRF token is missing or wrong: reload the page",
            ));
        }
    }
    Ok(Who {
        account,
        via: Via::Session { token, csrf },
    })
}

/// [`authed`] for a page: a browser that is not signed in is sent to the
/// sign-in page.
async fn page_authed(req: &HttpRequest, state: &AdminState) -> Result<Who, HttpResponse> {
    authed(req, state, None).await.map_err(|r| {
        if r.status() == StatusCode::UNAUTHORIZED {
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish()
        } else {
            r
        }
    })
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

async fn stores(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    match blocking(&state.db, cloud::store_sync).await {
        Ok(mut s) => {
            s.retain(|x| who.account.sees(&x.store.id));
            HttpResponse::Ok().json(s)
        }
        Err(r) => r,
    }
}

async fn parked(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let account = who.account.clone();
    match blocking(&state.db, move |c| parked_seen(c, &account)).await {
        Ok(p) => HttpResponse::Ok().json(p),
        Err(r) => r,
    }
}

/// Applies a parked batch's parked events again (after a fix). A form post
/// from the page is sent back to the page; the API answers JSON.
async fn retry_parked(
    req: HttpRequest,
    state: web::Data<AdminState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let who = match authed(&req, &state, form_csrf(&body)).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if let Some(r) = who.refused(Right::Retry, "retry parked batches") {
        return r;
    }
    let Ok(id) = id.parse::<i64>() else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid-id",
            "a parked batch's id is a number",
        );
    };
    let from_page = from_form(&req);
    let db = state.db.clone();
    let r = web::block(move || {
        let mut c = db.conn()?;
        // The retry and its audit commit together.
        diesel::Connection::transaction(&mut c, |c| {
            let r = cloud::retry_parked(c, id)?;
            let detail = match &r {
                Ok(applied) => format!("applied {applied}"),
                Err(reason) => format!("still failing: {reason}"),
            };
            audited(c, &who, "parked.retry", &id.to_string(), &detail)?;
            Ok::<_, crate::CloudError>(r)
        })
    })
    .await;
    let answer = match r {
        Ok(Ok(Ok(applied))) => {
            tracing::info!(id, applied, "a parked batch was retried and applied");
            HttpResponse::Ok().json(json!({"id": id, "resolved": true, "applied": applied}))
        }
        Ok(Ok(Err(reason))) => problem(StatusCode::CONFLICT, "still-failing", &reason),
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        Ok(Err(crate::CloudError::Unprocessable(m))) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, "cannot-retry", &m)
        }
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "the central database is unavailable",
        ),
    };
    if from_page {
        return HttpResponse::SeeOther()
            .insert_header(("Location", "/#parked"))
            .finish();
    }
    answer
}

/// Sends a store its master data again (see `master::resend`). A form post
/// from the store's page is sent back to it; the API answers what was
/// appended.
async fn resend_master(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let who = match authed(&req, &state, form_csrf(&body)).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let store = store_id.into_inner();
    if let Some(r) = who
        .refused(Right::Resend, "re-send master data")
        .or_else(|| who.hidden(&store))
    {
        return r;
    }
    let db = state.db.clone();
    let target = store.clone();
    let r = web::block(move || {
        let mut c = db.conn()?;
        diesel::Connection::transaction(&mut c, |c| {
            let sent = cloud::master::resend(c, &target)?;
            let detail = serde_json::to_string(&sent).unwrap_or_default();
            audited(c, &who, "master.resend", &target, &detail)?;
            Ok::<_, crate::CloudError>(sent)
        })
    })
    .await;
    let answer = match r {
        Ok(Ok(sent)) => {
            tracing::info!(store = %store, first = sent.first_cursor, last = sent.last_cursor, "master data re-sent");
            HttpResponse::Ok().json(sent)
        }
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "re-sending master data");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "the central database is unavailable",
            )
        }
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, "busy", "try again"),
    };
    if from_form(&req) && answer.status().is_success() {
        return HttpResponse::SeeOther()
            .insert_header(("Location", format!("/stores/{store}#master")))
            .finish();
    }
    answer
}

/// A post from one of the pages' forms (not the API).
fn from_form(req: &HttpRequest) -> bool {
    req.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotate {
    /// The new credential expires after this many days (none: never).
    expires_days: Option<u32>,
}

/// Asks for a rotation of a store's credential (delivered over its link).
async fn rotate_credential(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let store = store_id.into_inner();
    if let Some(r) = who
        .refused(Right::Write, "rotate a store's credential")
        .or_else(|| who.hidden(&store))
    {
        return r;
    }
    // No body: a credential that never expires; a body must be a Rotate.
    let rotate = if body.iter().all(u8::is_ascii_whitespace) {
        Rotate { expires_days: None }
    } else {
        match serde_json::from_slice::<Rotate>(&body) {
            Ok(r) => r,
            Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid-body", &e.to_string()),
        }
    };
    let lifetime = rotate.expires_days.map(|d| i64::from(d) * 86_400_000);
    let db = state.db.clone();
    match web::block(move || {
        let mut c = db.conn()?;
        let id = cloud::credentials::request_rotation(&mut c, &store, lifetime)?;
        audited(
            &mut c,
            &who,
            "credential.rotate",
            &id,
            &format!("{:?} days", rotate.expires_days),
        )?;
        Ok::<_, crate::CloudError>(id)
    })
    .await
    {
        Ok(Ok(id)) => {
            tracing::info!(store = %id, "credential rotation requested from the admin");
            HttpResponse::Accepted().json(json!({"store_id": id, "rotation": "requested"}))
        }
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "the central database is unavailable",
        ),
    }
}

async fn alarms(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let account = who.account.clone();
    match blocking(&state.db, move |c| alarms_seen(c, &account)).await {
        Ok(a) => HttpResponse::Ok().json(a),
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
struct AuditQuery {
    limit: Option<i64>,
}

/// The admin audit, newest first (owners).
async fn audit(
    req: HttpRequest,
    state: web::Data<AdminState>,
    q: web::Query<AuditQuery>,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if who.account.role != admins::Role::Owner {
        return problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the audit is for owners",
        );
    }
    let limit = q.limit.unwrap_or(200);
    match blocking(&state.db, move |c| admins::audit_log(c, limit)).await {
        Ok(a) => HttpResponse::Ok().json(a),
        Err(r) => r,
    }
}

/// One POST route per kind of master data: parses the change and appends it
/// to the store's feed.
macro_rules! authoring {
    ($($(#[$doc:meta])* $route:ident => $write:path;)*) => {$(
        $(#[$doc])*
        async fn $route(
            req: HttpRequest,
            state: web::Data<AdminState>,
            store_id: web::Path<String>,
            body: web::Bytes,
        ) -> HttpResponse {
            author(req, state, store_id.into_inner(), body, stringify!($route), $write).await
        }
    )*};
}

authoring! {
    /// A product edit (price, name, active, barcodes, company, weighed,
    /// kitchen, or a new product with its tax category).
    author_product => cloud::master::author_product;
    /// A tax category edit (a new category, or its name, rate or mode).
    author_tax => cloud::master::author_tax;
    /// A company (legal entity) the store sells for, or its name or tax id.
    author_company => cloud::master::author_company;
    /// A staff member (new: name, role, PIN) or an edit of one by id.
    author_staff => cloud::master::author_staff;
    /// The store's name, UTC offset or default invoicing company.
    author_settings => cloud::master::author_settings;
    /// A price-list version that takes effect at a set time.
    author_price_list => cloud::master::author_price_list;
}

/// Parses a master-data change and appends it to the store's feed: 201 with
/// the cursor, or a problem (400 body, 422 change, 404 store).
async fn author<C: serde::de::DeserializeOwned + Send + 'static>(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store: String,
    body: web::Bytes,
    action: &'static str,
    write: fn(&mut cloud::CloudConn, &str, &C) -> crate::error::Result<cloud::master::Authored>,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if let Some(r) = who
        .refused(Right::Write, "change a store's master data")
        .or_else(|| who.hidden(&store))
    {
        return r;
    }
    let change: C = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid-body", &e.to_string()),
    };
    let db = state.db.clone();
    let detail = redacted(&body);
    let action = action.replace("author_", "master.");
    let r = web::block(move || {
        let mut c = db.conn()?;
        diesel::Connection::transaction(&mut c, |c| {
            let done = write(c, &store, &change)?;
            audited(c, &who, &action, &store, &detail)?;
            Ok(done)
        })
    })
    .await;
    match r {
        Ok(Ok(done)) => HttpResponse::Created().json(done),
        Ok(Err(crate::CloudError::Unprocessable(m))) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-change", &m)
        }
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "authoring a master-data change");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "the central database is unavailable",
            )
        }
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, "busy", "try again"),
    }
}

#[derive(serde::Deserialize)]
struct OrdersQuery {
    store: Option<String>,
    adjustments: Option<bool>,
    limit: Option<i64>,
}

/// Orders across stores (`?store=` one store, `?adjustments=true` only the
/// adjustment queue).
async fn orders(
    req: HttpRequest,
    state: web::Data<AdminState>,
    q: web::Query<OrdersQuery>,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let q = q.into_inner();
    if let Some(r) = q.store.as_deref().and_then(|s| who.hidden(s)) {
        return r;
    }
    let r = blocking(&state.db, move |c| {
        orders_seen(
            c,
            &who.account,
            q.store.as_deref(),
            q.adjustments.unwrap_or(false),
            q.limit.unwrap_or(100),
        )
    })
    .await;
    match r {
        Ok(o) => HttpResponse::Ok().json(o),
        Err(r) => r,
    }
}

/// Minor units as people read them (the currency table's decimals), or
/// as they are when the currency is unknown to this cloud.
fn amount(minor: i64, currency: &str) -> String {
    outpost_domain::Currency::parse(currency).map_or_else(
        |_| minor.to_string(),
        |currency| outpost_domain::Money { minor, currency }.amount(),
    )
}

/// `read` over the stores `account` sees: once over all for the accounts
/// that see every store, once per store for an area manager (so a list cut
/// to its newest rows is cut among its stores', not everyone's).
fn per_store<T>(
    c: &mut cloud::CloudConn,
    account: &Account,
    mut read: impl FnMut(&mut cloud::CloudConn, Option<&str>) -> crate::error::Result<Vec<T>>,
) -> crate::error::Result<Vec<T>> {
    if account.role != admins::Role::AreaManager {
        return read(c, None);
    }
    let mut all = Vec::new();
    for s in &account.stores {
        all.extend(read(c, Some(s))?);
    }
    Ok(all)
}

fn alarms_seen(
    c: &mut cloud::CloudConn,
    account: &Account,
) -> crate::error::Result<Vec<cloud::Alarm>> {
    let mut a = per_store(c, account, cloud::alarms)?;
    a.sort_by_key(|x| std::cmp::Reverse(x.id));
    Ok(a)
}

fn parked_seen(
    c: &mut cloud::CloudConn,
    account: &Account,
) -> crate::error::Result<Vec<cloud::ParkedBatch>> {
    let mut p = per_store(c, account, cloud::parked)?;
    p.sort_by_key(|x| (x.resolved_at.is_some(), std::cmp::Reverse(x.id)));
    Ok(p)
}

/// Orders of `store` (which the caller checked `account` sees), or of every
/// store it sees, newest first.
fn orders_seen(
    c: &mut cloud::CloudConn,
    account: &Account,
    store: Option<&str>,
    adjustments: bool,
    limit: i64,
) -> crate::error::Result<Vec<cloud::OrderRow>> {
    if store.is_some() {
        return cloud::orders(c, store, adjustments, limit);
    }
    let mut o = per_store(c, account, |c, s| cloud::orders(c, s, adjustments, limit))?;
    o.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    o.truncate(limit.max(0) as usize);
    Ok(o)
}

fn order_rows(orders: &[cloud::OrderRow]) -> Markup {
    html! {
        @for o in orders {
            tr {
                td { (o.store_code) } td { (o.number) } td { (o.status) }
                td { (amount(o.total_minor, &o.currency)) " " (o.currency) }
                td { @if o.needs_adjustment { "adjust" } }
            }
        }
    }
}

/// "12 s ago", "5 min ago", "3 h ago", "2 days ago".
fn ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..120 => format!("{s} s ago"),
        120..7200 => format!("{} min ago", s / 60),
        7200..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// One store's line on the page: is its link up, what it still has to send,
/// what went wrong, and how long its credential lasts.
fn store_row(s: &cloud::StoreSync, now: i64, offline_after_ms: i64, warn_ms: i64) -> Markup {
    let st = &s.store;
    let streams: Vec<String> = s
        .streams
        .iter()
        .map(|x| format!("{} {}/{}", x.stream, x.applied, x.acked))
        .collect();
    html! {
        tr {
            td { a href={ "/stores/" (st.id) } { (st.code) } }
            td { (st.name) }
            td {
                @match st.last_contact_at {
                    None => span.bad { "never connected" },
                    Some(t) if now - t < offline_after_ms => { span.ok { "online" } " (" (ago(now - t)) ")" },
                    Some(t) => { span.bad { "offline" } ", last contact " (ago(now - t)) },
                }
                @if !st.sync_refusal.is_empty() {
                    br; span.bad { "refused: " (st.sync_refusal) }
                }
            }
            td {
                @match (st.pending_events, st.oldest_unsent_age_ms) {
                    (Some(0), _) => "nothing waiting",
                    (Some(n), Some(age)) => { (n) " events, the oldest from " (ago(age)) },
                    (Some(n), None) => { (n) " events" },
                    (None, _) => "",
                }
            }
            td { (streams.join(", ")) }
            td { (s.pending) } td { (s.rejected) } td { (s.parked) } td { (s.alarms) }
            td {
                @match (st.has_credential, st.credential_expires_at) {
                    (false, _) => span.bad { "none (revoked)" },
                    (true, None) => "does not expire",
                    (true, Some(at)) if at <= now => span.bad { "expired" },
                    (true, Some(at)) if at - now < warn_ms => {
                        span.bad { "expires in " ((at - now) / 86_400_000) " day(s)" }
                        ": renewed at the store's next contact"
                    },
                    (true, Some(at)) => { "expires in " ((at - now) / 86_400_000) " days" },
                }
            }
        }
    }
}

/// The pages' policy: nothing but this origin's script and the inline
/// style; no framing.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'";

const STYLE: &str = "body{font:15px system-ui,sans-serif;margin:1.5rem}table{border-collapse:collapse}\
     td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}.bad{color:#a00}.ok{color:#070}\
     output{color:#555}output.bad{color:#b00}header{display:flex;gap:1rem;align-items:baseline}";

/// A page: its title, the signed-in account with a sign-out button (and
/// the session's CSRF token for the script), then `body`.
fn layout(title: &str, who: Option<(&Who, &str)>, body: Markup) -> HttpResponse {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                @if let Some((_, csrf)) = who { meta name="csrf" content=(csrf); }
                style { (PreEscaped(STYLE)) }
                script src="/admin.js" defer {}
            }
            body {
                @if let Some((w, csrf)) = who {
                    header {
                        span { (w.account.name) " · " (w.account.role.as_str()) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button { "Sign out" }
                        }
                    }
                }
                (body)
            }
        }
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", PAGE_CSP))
        // Its forms then send their real Origin (with no-referrer a
        // browser sends "null"), which the cloud checks; other sites
        // still get no Referer.
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header(("Cache-Control", "no-store"))
        .body(page.into_string())
}

impl Who {
    /// The CSRF token a page shows (none through an API token).
    fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token => "",
        }
    }
}

/// Stores with their sync state, parked batches, the alarms, the adjustment
/// queue and recent orders across stores, as one server-rendered page.
async fn page(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let who = match page_authed(&req, &state).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let account = who.account.clone();
    let data = blocking(&state.db, move |c| {
        let mut stores = cloud::store_sync(c)?;
        stores.retain(|s| account.sees(&s.store.id));
        let alarms = alarms_seen(c, &account)?;
        let recent = orders_seen(c, &account, None, false, 50)?;
        let adjust = orders_seen(c, &account, None, true, 100)?;
        let mut parked = parked_seen(c, &account)?;
        parked.retain(|p| p.resolved_at.is_none());
        Ok((stores, alarms, recent, adjust, parked))
    })
    .await;
    let (stores, alarms, recent, adjust, parked) = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let csrf = who.csrf().to_owned();
    let dead = outpost_bus::dead_letters(&state.amqp_url, state.amqp_timers).await;
    let now = outpost_domain::ids::now_millis();
    let code_of = |id: &str| {
        stores
            .iter()
            .find(|s| s.store.id == id)
            .map_or_else(|| id.to_owned(), |s| s.store.code.clone())
    };
    let retry = who.account.may(Right::Retry);
    let body = html! {
        h1 { "Outpost cloud" }
        h2 { "Stores" }
        table {
            tr { th { "Code" } th { "Name" } th { "Link" } th { "Backlog at the store" }
                 th { "Streams (applied/acknowledged)" } th { "Waiting behind a gap" } th { "Rejected" }
                 th { "Parked batches" } th { "Alarms" } th { "Credential" } }
            @for s in &stores { (store_row(s, now, state.offline_after_ms, state.credential_warn_ms)) }
        }
        h2 #parked { "Parked batches" }
        @match dead {
            Ok(0) => {},
            Ok(n) => p.bad { (n) " message(s) could not even be parked and wait in the RabbitMQ queue "
                (outpost_bus::DEAD_QUEUE) ": look at them there." },
            Err(e) => p.bad { "RabbitMQ: " (e.to_string()) },
        }
        table {
            tr { th { "Store" } th { "Positions" } th { "Events parked" } th { "Reason" } th { "Parked" } th {} }
            @for p in &parked {
                tr {
                    td { (code_of(&p.store_id)) }
                    td { (p.stream) " " (p.first_position) "–" (p.last_position) }
                    td { (p.rejected) " of " (p.events) }
                    td { (p.reason) }
                    td { (ago(now - p.parked_at)) }
                    td { @if retry {
                        form method="post" action={ "/api/v1/parked/" (p.id) "/retry" } {
                            input type="hidden" name="csrf" value=(csrf);
                            button { "Retry" }
                        }
                    } }
                }
            }
        }
        h2 { "Alarms" }
        table {
            tr { th { "Kind" } th { "Store" } th { "Detail" } }
            @for a in alarms.iter().take(100) { tr { td { (a.kind) } td { (a.store_id) } td { (a.detail) } } }
        }
        h2 { "Adjustment queue" }
        table { tr { th { "Store" } th { "Order" } th { "Status" } th { "Total" } th {} } (order_rows(&adjust)) }
        h2 { "Recent orders" }
        table { tr { th { "Store" } th { "Order" } th { "Status" } th { "Total" } th {} } (order_rows(&recent)) }
    };
    layout("Outpost cloud", Some((&who, &csrf)), body)
}

/// The store's products the cloud knows of, as JSON.
async fn products(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let store = store_id.into_inner();
    if let Some(r) = who.hidden(&store) {
        return r;
    }
    let db = state.db.clone();
    match web::block(move || cloud::master::products(&mut db.conn()?, &store)).await {
        Ok(Ok(p)) => HttpResponse::Ok().json(p),
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            actix_web::http::StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        _ => problem(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "the central database is unavailable",
        ),
    }
}

/// The page's script: sends the product forms as JSON (same origin only).
async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(include_str!("admin.js"))
}

/// One store: its products with forms to change their name, price and
/// whether they are sold (for an owner; others read them), and a form for
/// a new product. Changes go through the store's feed; the store applies
/// them on its next pull.
async fn store_page(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
) -> HttpResponse {
    let who = match page_authed(&req, &state).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let id = store_id.into_inner();
    if let Some(r) = who.hidden(&id) {
        return r;
    }
    let data = blocking(&state.db, {
        let id = id.clone();
        move |c| {
            let store = cloud::store_sync(c)?.into_iter().find(|s| s.store.id == id);
            let products = match &store {
                Some(_) => cloud::master::products(c, &id)?,
                None => Vec::new(),
            };
            Ok((store, products))
        }
    })
    .await;
    let (store, products) = match data {
        Ok((Some(s), p)) => (s, p),
        Ok((None, _)) => {
            return problem(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("store {id} not found"),
            );
        }
        Err(r) => return r,
    };
    let csrf = who.csrf().to_owned();
    let currency = products
        .iter()
        .find_map(|p| p.body.get("currency")?.as_str().filter(|c| !c.is_empty()))
        .unwrap_or("")
        .to_owned();
    let exponent = outpost_domain::Currency::parse(&currency).map_or(2, |c| c.exponent());
    let action = format!("/api/v1/stores/{id}/products");
    let edits = who.account.may(Right::Write);
    let resends = who.account.may(Right::Resend);
    let text = |p: &cloud::master::KnownProduct, k: &str| {
        p.body
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let flag = |p: &cloud::master::KnownProduct, k: &str, default: bool| {
        p.body.get(k).and_then(|v| v.as_bool()).unwrap_or(default)
    };
    let st = &store.store;
    let body = html! {
        p { a href="/" { "All stores" } }
        h1 { (st.code) " · " (st.name) }
        p {
            "Prices in " @if currency.is_empty() { "the store's currency" } @else { (currency) } ". "
            "A change reaches the store on its next pull (within seconds when it is online); "
            "sales it made before it keep the price they were sold at."
        }
        h2 #master { "Master data" }
        p {
            @if st.master_pulled >= st.master_latest {
                "The store has every change of its master data (" (st.master_latest) ")."
            } @else {
                "The store has applied " (st.master_pulled) " of " (st.master_latest)
                " changes of its master data; it takes the rest at its next pull."
            }
        }
        @if resends {
            form method="post" action={ "/api/v1/stores/" (st.id) "/master/resend" } {
                input type="hidden" name="csrf" value=(csrf);
                button { "Re-send master data" }
                " Sends the store every product, tax category, company, staff member, setting and coming "
                "price list as they stand here. Edits made at the store since are kept."
            }
        }
        h2 { "Products" }
        table {
            tr { th { "SKU" } th { "Tax" } th { "Last edit" } th { "Name, price, till category, sold, favourite" } }
            @for p in &products {
                @let price = amount(p.body.get("price_minor").and_then(|v| v.as_i64()).unwrap_or(0), &currency);
                @let (name, category) = (text(p, "name"), text(p, "category"));
                @let (active, favourite) = (flag(p, "active", true), flag(p, "favourite", false));
                tr {
                    td { (p.sku) } td { (text(p, "tax_category")) } td { (p.origin) }
                    td {
                        @if edits {
                            form data-product method="post" action=(action) {
                                input type="hidden" name="sku" value=(p.sku);
                                input name="title" aria-label="Name" value=(name) data-was=(name) maxlength="200" required;
                                " "
                                input name="price" aria-label="Price" value=(price) data-was=(price) inputmode="decimal" size="8" required;
                                " "
                                input name="category" aria-label="Till category" placeholder="Category" value=(category) data-was=(category) maxlength="40" size="12";
                                " "
                                label { input type="checkbox" name="active" checked[active] data-was=(active); " sold" }
                                " "
                                label { input type="checkbox" name="favourite" checked[favourite] data-was=(favourite); " favourite" }
                                " " button { "Save" } " " output {}
                            }
                        } @else {
                            (name) ", " (price) @if !category.is_empty() { ", " (category) }
                            @if !active { ", not sold" } @if favourite { ", favourite" }
                        }
                    }
                }
            }
        }
        @if edits {
            h2 { "New product" }
            form data-product data-new method="post" action=(action) {
                input name="sku" aria-label="SKU" placeholder="SKU" maxlength="64" required; " "
                input name="title" aria-label="Name" placeholder="Name" maxlength="200" required; " "
                input name="price" aria-label="Price" placeholder="Price" inputmode="decimal" size="8" required; " "
                input name="tax_category" aria-label="Tax category" placeholder="Tax category code" maxlength="32" required; " "
                input name="category" aria-label="Till category" placeholder="Till category" maxlength="40" size="12"; " "
                label { input type="checkbox" name="favourite"; " favourite" } " "
                button { "Add" } " " output {}
            }
        }
    };
    let mut res = layout(
        &format!("{} · Outpost cloud", st.name),
        Some((&who, &csrf)),
        html! { div #store data-exponent=(exponent) { (body) } },
    );
    res.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Cookie"));
    res
}

/// The sign-in page.
async fn login_page() -> HttpResponse {
    login_form(None)
}

fn login_form(said: Option<&str>) -> HttpResponse {
    let mut res = layout(
        "Sign in · Outpost cloud",
        None,
        html! {
            h1 { "Outpost cloud" }
            @if let Some(s) = said { p.bad { (s) } }
            form method="post" action="/login" {
                p { label { "Name " input name="name" autocomplete="username" maxlength="64" required autofocus; } }
                p { label { "Password " input type="password" name="password" autocomplete="current-password" maxlength="256" required; } }
                button { "Sign in" }
            }
        },
    );
    if said.is_some() {
        *res.status_mut() = StatusCode::UNAUTHORIZED;
    }
    res
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    name: String,
    password: String,
}

/// Signs in: the session in an `HttpOnly`, `SameSite=Strict` cookie
/// (`Secure` over TLS), then back to the page. A wrong name or password,
/// or a locked account, says so and sets nothing.
async fn login(
    req: HttpRequest,
    state: web::Data<AdminState>,
    form: web::Form<SignIn>,
) -> HttpResponse {
    if !outpost_telemetry::headers::same_origin(&req) {
        return problem(
            StatusCode::FORBIDDEN,
            "cross-origin",
            "sign in on this admin's own page",
        );
    }
    let SignIn { name, password } = form.into_inner();
    let r = blocking(&state.db, move |c| admins::sign_in(c, &name, &password)).await;
    match r {
        Ok(Ok(token)) => {
            let cookie = actix_web::cookie::Cookie::build(SESSION_COOKIE, token)
                .http_only(true)
                .same_site(actix_web::cookie::SameSite::Strict)
                .secure(req.app_config().secure())
                .path("/")
                .max_age(actix_web::cookie::time::Duration::milliseconds(
                    admins::SESSION_MS,
                ))
                .finish();
            HttpResponse::SeeOther()
                .cookie(cookie)
                .insert_header((header::LOCATION, "/"))
                .finish()
        }
        // The same answer for both: it tells no one which names exist.
        Ok(Err(_)) => login_form(Some(
            "Wrong name or password. After 10 wrong passwords an account is locked for 15 minutes.",
        )),
        Err(r) => r,
    }
}

/// Signs out (the form's CSRF token), and drops the cookie.
async fn logout(req: HttpRequest, state: web::Data<AdminState>, body: web::Bytes) -> HttpResponse {
    let who = match authed(&req, &state, form_csrf(&body)).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if let Via::Session { token, .. } = &who.via {
        let (t, name) = (token.clone(), who.account.name.clone());
        if let Err(r) = blocking(&state.db, move |c| admins::sign_out(c, &t, &name)).await {
            return r;
        }
    }
    let gone = actix_web::cookie::Cookie::build(SESSION_COOKIE, "")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .path("/")
        .max_age(actix_web::cookie::time::Duration::ZERO)
        .finish();
    HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header((header::LOCATION, "/login"))
        .finish()
}
