//! The register page, the manager page and their static files: hand-written
//! HTML/JS/CSS compiled into the binary (no CDN, no build step), so a store
//! with no internet serves them all.

use crate::problem;
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| page(REGISTER)))
        .route("/admin", web::get().to(|| page(ADMIN)))
        .route("/static/{file}", web::get().to(asset));
}

const REGISTER: &str = include_str!("../../static/register.html");
const ADMIN: &str = include_str!("../../static/admin.html");

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
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/admin.js"),
    ),
];

async fn page(html: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self'; script-src 'self'",
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
