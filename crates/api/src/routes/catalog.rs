//! Products, barcodes, companies, tax categories and customers.

use super::openapi::{
    BadRequest, BodyLimits, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable,
};
use super::{ApiScope, Scope};
use crate::auth::Signed;
use crate::body::Json;
use crate::problem::ApiResult;
use crate::routes::Search;
use crate::state::AppState;
use crate::views::{self, views};
use actix_web::{HttpResponse, get, patch, post, web};
use outpost_storage::catalog::{self, NewProduct, ProductEdit, Shelf};
use serde::Deserialize;

pub fn mount<T: ApiScope>(s: Scope<T>) -> Scope<T> {
    s.service(search)
        .service(categories)
        .service(create_product)
        .service(product)
        .service(update_product)
        .service(by_barcode)
        .service(companies)
        .service(taxes)
        .service(customers)
        .service(create_customer)
}

/// Which shelf of the item grid a product search looks at.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShelfQuery {
    /// Only this category's products.
    category: Option<String>,
    /// Only the favourites (`true`).
    favourites: Option<bool>,
}

impl ShelfQuery {
    fn shelf(&self) -> ApiResult<Shelf> {
        Ok(match (&self.category, self.favourites) {
            (Some(_), Some(true)) => {
                return Err(crate::problem::ApiError::BadRequest(
                    "ask for a category or for the favourites, not both".into(),
                ));
            }
            (Some(c), _) => Shelf::Category(c.clone()),
            (None, Some(true)) => Shelf::Favourites,
            (None, _) => Shelf::All,
        })
    }
}

/// Searches products by name or SKU, on one shelf of the item grid (a
/// category or the favourites) or all of them.
#[utoipa::path(
    tag = "catalog",
    params(Search, ShelfQuery),
    responses(
        (status = 200, description = "Matching products", body = Vec<views::Product>),
        BadRequest, Unauthorized,
    ),
    security(("session" = [])),
)]
#[get("/products")]
async fn search(
    state: web::Data<AppState>,
    _who: Signed,
    page: web::Query<Search>,
    shelf: web::Query<ShelfQuery>,
) -> ApiResult<HttpResponse> {
    let (q, limit, shelf) = (page.q(), page.limit(50), shelf.shelf()?);
    let found = state
        .db(move |c, n| catalog::search(c, n, &q, &shelf, limit))
        .await?;
    Ok(HttpResponse::Ok().json(views::<_, views::Product>(found)))
}

/// The item grid's categories: those of the active products, by name.
#[utoipa::path(
    tag = "catalog",
    responses(
        (status = 200, description = "Every category in use", body = Vec<views::Category>),
        Unauthorized,
    ),
    security(("session" = [])),
)]
#[get("/categories")]
async fn categories(state: web::Data<AppState>, _who: Signed) -> ApiResult<HttpResponse> {
    let all = state.db(|c, _| catalog::categories(c)).await?;
    Ok(HttpResponse::Ok().json(views::<_, views::Category>(all)))
}

/// One product.
#[utoipa::path(
    tag = "catalog",
    params(("id" = String, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = views::Product),
        Unauthorized, NotFound,
    ),
    security(("session" = [])),
)]
#[get("/products/{id}")]
async fn product(
    state: web::Data<AppState>,
    _who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let p = state.db(move |c, n| catalog::by_id(c, n, &id)).await?;
    Ok(HttpResponse::Ok().json(views::Product::from(p)))
}

/// The product a scanned code sells: its barcode, or a scale label
/// (GS1 variable-measure EAN-13 by the store's `scale_labels` rules) with
/// the weight to sell as `label_qty_milli`. A code whose check digit is
/// wrong is said to be misread (422).
#[utoipa::path(
    tag = "catalog",
    params(("code" = String, Path, description = "A barcode (EAN, UPC, the store's own) or a scale label")),
    responses(
        (status = 200, description = "The product", body = views::Scanned),
        Unauthorized, NotFound, Unprocessable,
    ),
    security(("session" = [])),
)]
#[get("/barcodes/{code}")]
async fn by_barcode(
    state: web::Data<AppState>,
    _who: Signed,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let rules = state.settings.scale_labels.clone();
    let s = state
        .db(move |c, n| catalog::scan(c, n, &rules, &code))
        .await?;
    Ok(HttpResponse::Ok().json(views::Scanned {
        product: views::Product::from(s.product),
        label_qty_milli: s.qty_milli,
    }))
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
    /// The item grid's tab ('' or absent for none).
    #[serde(default)]
    category: String,
    #[serde(default)]
    favourite: bool,
}

/// Creates a product (manager).
#[utoipa::path(
    tag = "catalog",
    responses(
        (status = 201, description = "The new product", body = views::Product),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/products")]
async fn create_product(
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
        category: b.category,
        favourite: b.favourite,
    };
    let made = state
        .write(move |c, n| catalog::create_product(c, n, &who.actor, p))
        .await?;
    Ok(HttpResponse::Created().json(views::Product::from(made)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    price_minor: Option<i64>,
    name: Option<String>,
    active: Option<bool>,
    /// The item grid's tab ('' for none).
    category: Option<String>,
    favourite: Option<bool>,
}

/// Changes a product's price, name, whether it is sold, its category or
/// whether it is a favourite (manager; price changes audited).
#[utoipa::path(
    tag = "catalog",
    params(("id" = String, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product as changed", body = views::Product),
        BadRequest, BodyLimits, Unauthorized, Forbidden, NotFound, Unprocessable,
    ),
    security(("session" = [])),
)]
#[patch("/products/{id}")]
async fn update_product(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<ProductPatch>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let edit = ProductEdit {
        price_minor: b.price_minor,
        name: b.name,
        active: b.active,
        category: b.category,
        favourite: b.favourite,
    };
    let changed = state
        .write(move |c, n| catalog::update_product(c, n, &who.actor, &id, edit))
        .await?;
    Ok(HttpResponse::Ok().json(views::Product::from(changed)))
}

/// The companies (legal entities) the store sells for.
#[utoipa::path(
    tag = "catalog",
    responses(
        (status = 200, description = "Every company", body = Vec<views::Company>),
        Unauthorized,
    ),
    security(("session" = [])),
)]
#[get("/companies")]
async fn companies(state: web::Data<AppState>, _who: Signed) -> ApiResult<HttpResponse> {
    let all = state.db(|c, _| catalog::companies(c)).await?;
    Ok(HttpResponse::Ok().json(views::<_, views::Company>(all)))
}

/// Tax categories.
#[utoipa::path(
    tag = "catalog",
    responses(
        (status = 200, description = "Every tax category", body = Vec<views::TaxCategory>),
        Unauthorized,
    ),
    security(("session" = [])),
)]
#[get("/tax-categories")]
async fn taxes(state: web::Data<AppState>, _who: Signed) -> ApiResult<HttpResponse> {
    let all = state.db(|c, _| catalog::tax_categories(c)).await?;
    Ok(HttpResponse::Ok().json(views::<_, views::TaxCategory>(all)))
}

/// Searches customers by name.
#[utoipa::path(
    tag = "catalog",
    params(Search),
    responses(
        (status = 200, description = "Matching customers", body = Vec<views::Customer>),
        BadRequest, Unauthorized,
    ),
    security(("session" = [])),
)]
#[get("/customers")]
async fn customers(
    state: web::Data<AppState>,
    _who: Signed,
    page: web::Query<Search>,
) -> ApiResult<HttpResponse> {
    let (q, limit) = (page.q(), page.limit(50));
    let found = state
        .db(move |c, _| catalog::customers(c, &q, limit))
        .await?;
    Ok(HttpResponse::Ok().json(views::<_, views::Customer>(found)))
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

/// Adds a customer.
#[utoipa::path(
    tag = "catalog",
    responses(
        (status = 201, description = "The new customer", body = views::Customer),
        BadRequest, BodyLimits, Unauthorized, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/customers")]
async fn create_customer(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<CustomerBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let made = state
        .write(move |c, n| catalog::create_customer(c, n, &who.actor, &b.name, &b.phone, &b.email))
        .await?;
    Ok(HttpResponse::Created().json(views::Customer::from(made)))
}
