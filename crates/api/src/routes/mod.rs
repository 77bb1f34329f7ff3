//! HTTP routes. Handlers are thin: parse the wire type, call one storage use
//! case, shape the answer. Errors become problem JSON in `problem.rs`. Each
//! handler is registered once, with its OpenAPI operation (`openapi.rs`).

mod catalog;
pub mod openapi;
mod ops;
mod pages;
mod people;
mod printers;
mod realtime;
mod sales;
mod store;
mod till;

use actix_web::App;
use actix_web::dev::{ServiceFactory, ServiceRequest};
use utoipa_actix_web::AppExt;

/// A scope the route modules mount their handlers on: registering a
/// handler there serves it and adds its operation to the document.
pub type Scope<T> = utoipa_actix_web::scope::Scope<T>;

/// What a scope's service factory must be to take handlers.
pub trait ApiScope:
    ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>
{
}

impl<T> ApiScope for T where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>
{
}

/// Adds every route to `app`: the documented API (`/health`, `/metrics`,
/// `/api/v1/…`), its document at `/openapi.json`, and the pages.
pub fn mount<T: ApiScope>(app: App<T>) -> App<T> {
    let v1 = utoipa_actix_web::scope("/api/v1");
    let v1 = people::mount(catalog::mount(sales::mount(v1)));
    let v1 = till::mount(realtime::mount(printers::mount(store::mount(v1))));
    let (app, doc) = app
        .into_utoipa_app()
        .openapi(openapi::frame())
        .service(ops::health)
        .service(ops::live)
        .service(ops::metrics)
        .service(v1)
        .split_for_parts();
    app.service(openapi::serve(&openapi::finish(doc)))
        .configure(pages::configure)
}

/// `?limit=` bounded to something a page can show.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// At most this many (1 to 500; each list has its own default).
    pub limit: Option<i64>,
}

impl Page {
    pub fn limit(&self, default: i64) -> i64 {
        self.limit.unwrap_or(default).clamp(1, 500)
    }
}

/// A search: `?q=` and a bounded `?limit=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Search {
    /// What to look for (the first 100 characters count).
    pub q: Option<String>,
    /// At most this many (1 to 500, 50 unless given).
    pub limit: Option<i64>,
}

impl Search {
    pub fn limit(&self, default: i64) -> i64 {
        Page { limit: self.limit }.limit(default)
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
