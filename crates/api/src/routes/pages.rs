//! The register page, the manager page and their static files: hand-written
//! HTML/JS/CSS compiled into the binary (no CDN, no build step), so a store
//! with no internet serves them all.

use crate::problem;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(register))
        .route("/admin", web::get().to(|s| page(s, ADMIN)))
        .route("/kitchen", web::get().to(|s| page(s, KITCHEN)))
        .route("/static/{file}", web::get().to(asset));
}

const REGISTER: &str = include_str!("../../static/register.html");
const ADMIN: &str = include_str!("../../static/admin.html");
const KITCHEN: &str = include_str!("../../static/kitchen.html");

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/common.js"),
    ),
    (
        "register.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/register.js"),
    ),
    (
        "realtime.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/realtime.js"),
    ),
    (
        "kitchen.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/kitchen.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/admin.js"),
    ),
];

/// Pages may talk to this server and to the realtime hub (its own port, or
/// the configured public URL), nothing else.
async fn page(state: web::Data<AppState>, html: &'static str) -> HttpResponse {
    respond(&state, html.into(), "")
}

/// The register page: may also read hw-proxy's input events (serial
/// scanners and scales) when `printing.inputs_url` is set (checked at
/// start to be a plain http(s) address).
/// Served by a register agent, it carries the agent's per-start token (a
/// hex string), which is also the till's device token there.
async fn register(state: web::Data<AppState>) -> HttpResponse {
    let inputs = state.settings.printing.inputs_url.clone();
    let html = REGISTER
        .replace("{{inputs_url}}", &inputs)
        .replace("{{page_token}}", &state.settings.server.page_token.0);
    let mut res = respond(&state, html, &inputs);
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    res
}

fn respond(state: &AppState, html: String, extra_connect: &str) -> HttpResponse {
    let rt = &state.settings.realtime;
    let hub = if rt.public_url.is_empty() {
        format!("ws://*:{0} wss://*:{0}", rt.hub_port)
    } else {
        rt.public_url.clone()
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' blob:; connect-src 'self' {hub} {extra_connect}; {}",
                outpost_telemetry::headers::FRAME_ANCESTORS
            ),
        ))
        .body(html)
}

async fn asset(req: HttpRequest) -> HttpResponse {
    let name = req.match_info().get("file").unwrap_or("");
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => HttpResponse::Ok()
            .content_type(*ct)
            .insert_header(("Cache-Control", "no-cache"))
            .body(*body),
        None => problem::plain(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such static file",
        ),
    }
}
