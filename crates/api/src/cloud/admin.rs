//! The cloud's HTTP side: `/health`, `/metrics`, and the admin page and API
//! over every store's sync state (behind `cloud.admin_token`).

use super::CloudMetrics;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use outpost_storage::cloud::{self, CloudDb};
use serde_json::json;

#[derive(Clone)]
pub struct AdminState {
    pub db: CloudDb,
    pub metrics: CloudMetrics,
    pub token: String,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics))
        .route("/", web::get().to(page))
        .route("/api/v1/stores", web::get().to(stores))
        .route("/api/v1/alarms", web::get().to(alarms))
        .route("/api/v1/orders", web::get().to(orders))
        .route(
            "/api/v1/stores/{store_id}/products",
            web::post().to(author_product),
        )
        .route(
            "/api/v1/stores/{store_id}/tax-categories",
            web::post().to(author_tax),
        );
}

fn problem(status: actix_web::http::StatusCode, slug: &str, detail: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(json!({"type": format!("https://outpost.dev/problems/{slug}"), "title": slug, "status": status.as_u16(), "detail": detail}))
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
        HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Basic realm=\"Outpost cloud\""))
            .content_type("application/problem+json")
            .json(json!({"type": "https://outpost.dev/problems/unauthenticated", "title": "unauthenticated", "status": 401, "detail": "the admin token is missing or wrong"}))
    })
}

async fn blocking<T: Send + 'static>(
    db: &CloudDb,
    f: impl FnOnce(&mut cloud::CloudConn) -> outpost_storage::Result<T> + Send + 'static,
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

async fn metrics(state: web::Data<AdminState>) -> HttpResponse {
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

async fn alarms(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(r) = refuse(&req, &state) {
        return r;
    }
    match blocking(&state.db, |c| cloud::alarms(c, None)).await {
        Ok(a) => HttpResponse::Ok().json(a),
        Err(r) => r,
    }
}

/// A product edit for one store (price, name, active, barcodes, or a new
/// product with its tax category), delivered through the store's change feed.
async fn author_product(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    author(
        req,
        state,
        store_id.into_inner(),
        body,
        cloud::master::author_product,
    )
    .await
}

/// A tax category edit for one store (a new category, or its name, rate or
/// mode); later sales use it.
async fn author_tax(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    author(
        req,
        state,
        store_id.into_inner(),
        body,
        cloud::master::author_tax,
    )
    .await
}

/// Parses a master-data change and appends it to the store's feed: 201 with
/// the cursor, or a problem (400 body, 422 change, 404 store).
async fn author<C: serde::de::DeserializeOwned + Send + 'static>(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store: String,
    body: web::Bytes,
    write: fn(&mut cloud::CloudConn, &str, &C) -> outpost_storage::Result<i64>,
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
        Ok(Ok(cursor)) => HttpResponse::Created().json(json!({"cursor": cursor})),
        Ok(Err(outpost_storage::StorageError::Unprocessable(m))) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-change", &m)
        }
        Ok(Err(outpost_storage::StorageError::NotFound(m))) => problem(
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

/// Minor units as a decimal amount in the currency's exponent.
fn amount(minor: i64, currency: &str) -> String {
    let exp = outpost_domain::Currency::parse(currency).map_or(2, |c| c.exponent()) as u32;
    if exp == 0 {
        return minor.to_string();
    }
    let div = 10i64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let (whole, frac) = (minor.abs() / div, minor.abs() % div);
    format!("{sign}{whole}.{frac:0width$}", width = exp as usize)
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

/// Stores with their sync state, the alarms, the adjustment queue and recent
/// orders across stores, as one server-rendered page.
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
        ))
    })
    .await;
    let (stores, alarms, recent, adjust) = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let now = outpost_storage::db::now_millis();
    let mut rows = String::new();
    for s in &stores {
        let contact = s.store.last_contact_at.map_or("never".to_owned(), |t| {
            format!("{} s ago", (now - t) / 1000)
        });
        let streams: Vec<String> = s
            .streams
            .iter()
            .map(|x| format!("{} {}/{}", esc(&x.stream), x.applied, x.acked))
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.store.code),
            esc(&s.store.name),
            contact,
            streams.join(", "),
            s.pending,
            s.rejected,
            s.alarms
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
    let html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Outpost cloud</title>\
         <style>body{{font:15px system-ui,sans-serif;margin:1.5rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}</style>\
         <h1>Outpost cloud</h1><h2>Stores</h2><table><tr><th>Code</th><th>Name</th><th>Last contact</th>\
         <th>Streams (applied/acknowledged)</th><th>Waiting behind a gap</th><th>Rejected</th><th>Alarms</th></tr>{rows}</table>\
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
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(html)
}
