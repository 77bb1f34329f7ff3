//! Products, barcodes, companies, tax categories and customers.

use crate::auth::Signed;
use crate::body::Json;
use crate::problem::ApiResult;
use crate::routes::Page;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use outpost_storage::catalog::{self, NewProduct};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/products", web::get().to(search))
        .route("/products", web::post().to(create))
        .route("/products/{id}", web::get().to(get))
        .route("/products/{id}", web::patch().to(update))
        .route("/barcodes/{code}", web::get().to(by_barcode))
        .route("/companies", web::get().to(companies))
        .route("/tax-categories", web::get().to(taxes))
        .route("/customers", web::get().to(customers))
        .route("/customers", web::post().to(create_customer));
}

async fn search(
    state: web::Data<AppState>,
    _who: Signed,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let (q, limit) = (page.q(), page.limit(50));
    Ok(HttpResponse::Ok().json(
        state
            .db(move |c, n| catalog::search(c, n, &q, limit))
            .await?,
    ))
}

async fn get(
    state: web::Data<AppState>,
    _who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.db(move |c, n| catalog::by_id(c, n, &id)).await?))
}

async fn by_barcode(
    state: web::Data<AppState>,
    _who: Signed,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        state
            .db(move |c, n| catalog::by_barcode(c, n, &code))
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    sku: String,
    name: String,
    company_id: Option<String>,
    price_minor: i64,
    tax_category: String,
    #[serde(default)]
    weighed: bool,
    #[serde(default)]
    kitchen: bool,
    #[serde(default)]
    barcodes: Vec<String>,
}

async fn create(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<ProductBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let p = NewProduct {
        sku: b.sku,
        name: b.name,
        company_id: b.company_id,
        price_minor: b.price_minor,
        tax_category: b.tax_category,
        weighed: b.weighed,
        kitchen: b.kitchen,
        barcodes: b.barcodes,
    };
    Ok(HttpResponse::Created().json(
        state
            .write(move |c, n| catalog::create_product(c, n, &who.actor, p))
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    price_minor: Option<i64>,
    name: Option<String>,
    active: Option<bool>,
}

async fn update(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<ProductPatch>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    Ok(HttpResponse::Ok().json(
        state
            .write(move |c, n| {
                catalog::update_product(c, n, &who.actor, &id, b.price_minor, b.name, b.active)
            })
            .await?,
    ))
}

async fn companies(state: web::Data<AppState>, _who: Signed) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.db(|c, _| catalog::companies(c)).await?))
}

async fn taxes(state: web::Data<AppState>, _who: Signed) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.db(|c, _| catalog::tax_categories(c)).await?))
}

async fn customers(
    state: web::Data<AppState>,
    _who: Signed,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let (q, limit) = (page.q(), page.limit(50));
    Ok(HttpResponse::Ok().json(
        state
            .db(move |c, _| catalog::customers(c, &q, limit))
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

async fn create_customer(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<CustomerBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    Ok(HttpResponse::Created().json(
        state
            .write(move |c, n| {
                catalog::create_customer(c, n, &who.actor, &b.name, &b.phone, &b.email)
            })
            .await?,
    ))
}
