//! The cloud's HTTP side: `/health`, `/metrics` (with the admin token), and the admin page and API
//! over every store's sync state (behind `cloud.admin_token`).

use crate::db::{self as cloud, CloudDb};
use crate::server::CloudMetrics;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use outpost_telemetry::problem::{self, Problem};
use serde_json::json;

#[derive(Clone)]
pub struct AdminState {
    pub db: CloudDb,
    pub metrics: CloudMetrics,
    pub token: String,
    /// The broker, for the dead-letter queue's depth on the page.
    pub amqp_url: String,
    pub amqp_timers: outpost_bus::Timers,
    /// Warn about a credential expiring within this.
    pub credential_warn_ms: i64,
    /// A store silent for longer than this is shown offline.
    pub offline_after_ms: i64,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics))
        .route("/", web::get().to(page))
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

/// `None` when the request carries the admin token (Basic password or Bearer).
fn refuse(req: &HttpRequest, state: &AdminState) -> Option<HttpResponse> {
    use actix_web::http::StatusCode;
    if state.token.is_empty() {
        return Some(problem(
            StatusCode::FORBIDDEN,
            "admin-disabled",
            "set cloud.admin_token (OUTPOST__CLOUD__ADMIN_TOKEN) to use the admin pages",
        ));
    }
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            if let Some(t) = v.strip_prefix("Bearer ") {
                Some(t.to_owned())
            } else {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(v.strip_prefix("Basic ")?)
                    .ok()?;
                let s = String::from_utf8(raw).ok()?;
                Some(s.split_once(':')?.1.to_owned())
            }
        });
    let ok = given.is_some_and(|g| {
        g.len() == state.token.len()
            && g.bytes()
                .zip(state.token.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0
    });
    (!ok).then(|| {
        let mut r = problem(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the admin token is missing or wrong",
        );
        r.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static("Basic realm=\"Outpost cloud\""),
        );
        r
    })
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

/// The cloud's metrics, behind the admin token: the admin port faces the
/// internet, and the counts say how many stores push and how often
/// credentials are refused. Prometheus sends it as a bearer token.
async fn metrics(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(outpost_telemetry::render(&state.metrics.registry))
}

async fn stores(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    match blocking(&state.db, cloud::store_sync).await {
        Ok(s) => HttpResponse::Ok().json(s),
        Err(r) => r,
    }
}

async fn parked(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    match blocking(&state.db, |c| cloud::parked(c, None)).await {
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
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    let Ok(id) = id.parse::<i64>() else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid-id",
            "a parked batch's id is a number",
        );
    };
    let from_page = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let db = state.db.clone();
    let r = web::block(move || cloud::retry_parked(&mut db.conn()?, id)).await;
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
    use actix_web::http::StatusCode;
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    let store = store_id.into_inner();
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
        cloud::credentials::request_rotation(&mut db.conn()?, &store, lifetime)
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
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    match blocking(&state.db, |c| cloud::alarms(c, None)).await {
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
            author(req, state, store_id.into_inner(), body, $write).await
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
    write: fn(&mut cloud::CloudConn, &str, &C) -> crate::error::Result<cloud::master::Authored>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    let change: C = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid-body", &e.to_string()),
    };
    let db = state.db.clone();
    let r = web::block(move || {
        let mut c = db.conn()?;
        write(&mut c, &store, &change)
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
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    let q = q.into_inner();
    let r = blocking(&state.db, move |c| {
        cloud::orders(
            c,
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

fn order_rows(orders: &[cloud::OrderRow]) -> String {
    orders
        .iter()
        .map(|o| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>",
                esc(&o.store_code),
                esc(&o.number),
                esc(&o.status),
                amount(o.total_minor, &o.currency),
                esc(&o.currency),
                if o.needs_adjustment { "adjust" } else { "" }
            )
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
fn store_row(s: &cloud::StoreSync, now: i64, offline_after_ms: i64, warn_ms: i64) -> String {
    let st = &s.store;
    let link = match st.last_contact_at {
        None => "<span class=bad>never connected</span>".to_owned(),
        Some(t) if now - t < offline_after_ms => {
            format!("<span class=ok>online</span> ({})", ago(now - t))
        }
        Some(t) => format!(
            "<span class=bad>offline</span>, last contact {}",
            ago(now - t)
        ),
    };
    let link = if st.sync_refusal.is_empty() {
        link
    } else {
        format!(
            "{link}<br><span class=bad>refused: {}</span>",
            esc(&st.sync_refusal)
        )
    };
    let backlog = match (st.pending_events, st.oldest_unsent_age_ms) {
        (Some(0), _) => "nothing waiting".to_owned(),
        (Some(n), Some(age)) => format!("{n} events, the oldest from {}", ago(age)),
        (Some(n), None) => format!("{n} events"),
        (None, _) => String::new(),
    };
    let credential = match (st.has_credential, st.credential_expires_at) {
        (false, _) => "<span class=bad>none (revoked)</span>".to_owned(),
        (true, None) => "does not expire".to_owned(),
        (true, Some(at)) if at <= now => "<span class=bad>expired</span>".to_owned(),
        (true, Some(at)) if at - now < warn_ms => format!(
            "<span class=bad>expires in {} day(s)</span>: renewed at the store's next contact",
            (at - now) / 86_400_000
        ),
        (true, Some(at)) => format!("expires in {} days", (at - now) / 86_400_000),
    };
    let streams: Vec<String> = s
        .streams
        .iter()
        .map(|x| format!("{} {}/{}", esc(&x.stream), x.applied, x.acked))
        .collect();
    format!(
        "<tr><td><a href=\"/stores/{}\">{}</a></td><td>{}</td><td>{link}</td><td>{backlog}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{credential}</td></tr>",
        esc(&st.id),
        esc(&st.code),
        esc(&st.name),
        streams.join(", "),
        s.pending,
        s.rejected,
        s.parked,
        s.alarms
    )
}

/// Stores with their sync state, parked batches, the alarms, the adjustment
/// queue and recent orders across stores, as one server-rendered page.
async fn page(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    let data = blocking(&state.db, |c| {
        Ok((
            cloud::store_sync(c)?,
            cloud::alarms(c, None)?,
            cloud::orders(c, None, false, 50)?,
            cloud::orders(c, None, true, 100)?,
            cloud::parked(c, None)?,
        ))
    })
    .await;
    let (stores, alarms, recent, adjust, parked) = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let dead = match outpost_bus::dead_letters(&state.amqp_url, state.amqp_timers).await {
        Ok(0) => String::new(),
        Ok(n) => format!(
            "<p class=bad>{n} message(s) could not even be parked and wait in the RabbitMQ queue {}: look at them there.</p>",
            outpost_bus::DEAD_QUEUE
        ),
        Err(e) => format!("<p class=bad>RabbitMQ: {}</p>", esc(&e.to_string())),
    };
    let now = outpost_domain::ids::now_millis();
    let mut rows = String::new();
    for s in &stores {
        rows.push_str(&store_row(
            s,
            now,
            state.offline_after_ms,
            state.credential_warn_ms,
        ));
    }
    let mut alarm_rows = String::new();
    for a in alarms.iter().take(100) {
        alarm_rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.kind),
            esc(&a.store_id),
            esc(&a.detail)
        ));
    }
    let code_of = |id: &str| {
        stores
            .iter()
            .find(|s| s.store.id == id)
            .map_or_else(|| id.to_owned(), |s| s.store.code.clone())
    };
    let mut parked_rows = String::new();
    for p in parked.iter().filter(|p| p.resolved_at.is_none()) {
        parked_rows.push_str(&format!(
            "<tr><td>{}</td><td>{} {}–{}</td><td>{} of {}</td><td>{}</td><td>{}</td>\
             <td><form method=post action=\"/api/v1/parked/{}/retry\"><button>Retry</button></form></td></tr>",
            esc(&code_of(&p.store_id)),
            esc(&p.stream),
            p.first_position,
            p.last_position,
            p.rejected,
            p.events,
            esc(&p.reason),
            ago(now - p.parked_at),
            p.id
        ));
    }
    let html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Outpost cloud</title>\
         <style>body{{font:15px system-ui,sans-serif;margin:1.5rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}.bad{{color:#a00}}.ok{{color:#070}}</style>\
         <h1>Outpost cloud</h1><h2>Stores</h2><table><tr><th>Code</th><th>Name</th><th>Link</th><th>Backlog at the store</th>\
         <th>Streams (applied/acknowledged)</th><th>Waiting behind a gap</th><th>Rejected</th><th>Parked batches</th><th>Alarms</th><th>Credential</th></tr>{rows}</table>\
         <h2 id=parked>Parked batches</h2>{dead}<table><tr><th>Store</th><th>Positions</th><th>Events parked</th><th>Reason</th><th>Parked</th><th></th></tr>{parked_rows}</table>\
         <h2>Alarms</h2><table><tr><th>Kind</th><th>Store</th><th>Detail</th></tr>{alarm_rows}</table>\
         <h2>Adjustment queue</h2><table><tr><th>Store</th><th>Order</th><th>Status</th><th>Total</th><th></th></tr>{}</table>\
         <h2>Recent orders</h2><table><tr><th>Store</th><th>Order</th><th>Status</th><th>Total</th><th></th></tr>{}</table></html>",
        order_rows(&adjust),
        order_rows(&recent)
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ))
        .body(html)
}

/// The store's products the cloud knows of, as JSON.
async fn products(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
) -> HttpResponse {
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    let store = store_id.into_inner();
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
/// whether they are sold, and a form for a new product. Changes go through
/// the store's feed; the store applies them on its next pull.
async fn store_page(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    let id = store_id.into_inner();
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
    let currency = products
        .iter()
        .find_map(|p| p.body.get("currency")?.as_str().filter(|c| !c.is_empty()))
        .unwrap_or("")
        .to_owned();
    let exponent = outpost_domain::Currency::parse(&currency).map_or(2, |c| c.exponent());
    let action = format!("/api/v1/stores/{}/products", esc(&id));
    let mut rows = String::new();
    for p in &products {
        let text = |k: &str| {
            p.body
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let price = p
            .body
            .get("price_minor")
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        let active = p
            .body
            .get("active")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        let favourite = p
            .body
            .get("favourite")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let price = amount(price, &currency);
        rows.push_str(&format!(
            "<tr><td>{sku}</td><td>{tax}</td><td>{origin}</td><td><form data-product method=post action=\"{action}\">\
             <input type=hidden name=sku value=\"{sku}\">\
             <input name=title aria-label=Name value=\"{name}\" data-was=\"{name}\" maxlength=200 required> \
             <input name=price aria-label=Price value=\"{price}\" data-was=\"{price}\" inputmode=decimal size=8 required> \
             <input name=category aria-label=\"Till category\" placeholder=Category value=\"{category}\" data-was=\"{category}\" maxlength=40 size=12> \
             <label><input type=checkbox name=active{checked} data-was={active}> sold</label> \
             <label><input type=checkbox name=favourite{fav_checked} data-was={favourite}> favourite</label> \
             <button>Save</button> <output></output></form></td></tr>",
            sku = esc(&p.sku),
            tax = esc(&text("tax_category")),
            origin = esc(&p.origin),
            name = esc(&text("name")),
            checked = if active { " checked" } else { "" },
            category = esc(&text("category")),
            fav_checked = if favourite { " checked" } else { "" },
        ));
    }
    let html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{name} · Outpost cloud</title>\
         <style>body{{font:15px system-ui,sans-serif;margin:1.5rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}output{{color:#555}}\
         output.bad{{color:#b00}}</style><script src=/admin.js defer></script>\
         <body data-exponent={exponent}><p><a href=/>All stores</a></p><h1>{code} · {name}</h1>\
         <p>Prices in {currency_label}. A change reaches the store on its next pull (within seconds when it is online); \
         sales it made before it keep the price they were sold at.</p>\
         <h2>Products</h2><table><tr><th>SKU</th><th>Tax</th><th>Last edit</th><th>Name, price, till category, sold, favourite</th></tr>{rows}</table>\
         <h2>New product</h2><form data-product data-new method=post action=\"{action}\">\
         <input name=sku aria-label=SKU placeholder=SKU maxlength=64 required> \
         <input name=title aria-label=Name placeholder=Name maxlength=200 required> \
         <input name=price aria-label=Price placeholder=Price inputmode=decimal size=8 required> \
         <input name=tax_category aria-label=\"Tax category\" placeholder=\"Tax category code\" maxlength=32 required> \
         <input name=category aria-label=\"Till category\" placeholder=\"Till category\" maxlength=40 size=12> \
         <label><input type=checkbox name=favourite> favourite</label> \
         <button>Add</button> <output></output></form></body></html>",
        name = esc(&store.store.name),
        code = esc(&store.store.code),
        currency_label = if currency.is_empty() {
            "the store's currency".to_owned()
        } else {
            esc(&currency)
        },
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ))
        .body(html)
}
