//! HTTP routes. Handlers are thin: parse the wire type, call one storage use
//! case, shape the answer. Errors become problem JSON in `problem.rs`.

mod catalog;
pub mod openapi;
mod ops;
mod pages;
mod people;
mod printers;
mod realtime;
mod sales;
mod store;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    ops::configure(cfg);
    openapi::configure(cfg);
    pages::configure(cfg);
    cfg.service(
        web::scope("/api/v1")
            .configure(people::configure)
            .configure(catalog::configure)
            .configure(sales::configure)
            .configure(store::configure)
            .configure(printers::configure)
            .configure(realtime::configure),
    );
}

/// `?limit=` bounded to something a page can show.
#[derive(Debug, serde::Deserialize)]
pub struct Page {
    pub limit: Option<i64>,
    pub q: Option<String>,
}

impl Page {
    pub fn limit(&self, default: i64) -> i64 {
        self.limit.unwrap_or(default).clamp(1, 500)
    }
    pub fn q(&self) -> String {
        self.q
            .clone()
            .unwrap_or_default()
            .chars()
            .take(100)
            .collect()
    }
}
