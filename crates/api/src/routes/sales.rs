//! Orders: sell, pay, void, refund, look up. Creating, paying and refunding
//! need an `Idempotency-Key`; a retry returns the first answer verbatim.

use super::openapi::{
    BadRequest, BodyLimits, Conflict, Forbidden, NotFound, PinRefused, Unauthorized, Unprocessable,
};
use super::{ApiScope, Scope};
use crate::auth::{Bearer, Signed, idempotency_key};
use crate::body::Json;
use crate::problem::{ApiError, ApiResult};
use crate::routes::Page;
use crate::state::{AppState, Writing};
use crate::views::{self, views};
use actix_web::{HttpRequest, HttpResponse, get, http::StatusCode, post, web};
use outpost_domain::PaymentMethod;
use outpost_storage::StorageError;
use outpost_storage::sales::{
    self, Answer, Approval, LineRequest, PaymentRequest, ProductRef, RefundRequest, SaleRequest,
    Seller,
};
use serde::Deserialize;

pub fn mount<T: ApiScope>(s: Scope<T>) -> Scope<T> {
    s.service(create_sale)
        .service(quote)
        .service(by_key)
        .service(list_orders)
        .service(get_order)
        .service(pay)
        .service(refund)
        .service(void)
        .service(void_line)
        .service(adjustments)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    product_id: Option<String>,
    barcode: Option<String>,
    /// Thousandths: 1000 = one piece, 375 = 0.375 kg.
    quantity_milli: i64,
    #[serde(default)]
    discount_minor: i64,
    unit_price_minor: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    method: String,
    amount_minor: i64,
    tendered_minor: Option<i64>,
    #[serde(default)]
    card_type: String,
    #[serde(default)]
    reference: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleBody {
    currency: Option<String>,
    lines: Vec<LineBody>,
    #[serde(default)]
    order_discount_minor: i64,
    #[serde(default)]
    payments: Vec<PaymentBody>,
    customer_id: Option<String>,
    company_id: Option<String>,
    #[serde(default)]
    note: String,
    /// Why the sale is discounted (recorded in the audit log with it).
    #[serde(default)]
    discount_reason: String,
    /// Why `company_id` invoices goods of another company (needed then;
    /// recorded in the audit log, not printed).
    #[serde(default)]
    company_reason: String,
    /// A supervisor's or manager's PIN, for a discount beyond the seller's
    /// role's limit (`sales.cashier_discount_pct`, …).
    approval: Option<ApprovalBody>,
}

fn short(s: &str, max: usize, what: &str) -> Result<String, StorageError> {
    if s.chars().count() > max || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(StorageError::Unprocessable(format!(
            "{what} must be at most {max} printable characters"
        )));
    }
    Ok(s.to_owned())
}

impl TryFrom<PaymentBody> for PaymentRequest {
    type Error = StorageError;
    fn try_from(p: PaymentBody) -> Result<Self, StorageError> {
        Ok(PaymentRequest {
            method: PaymentMethod::parse(&p.method)?,
            amount_minor: p.amount_minor,
            tendered_minor: p.tendered_minor,
            card_type: short(&p.card_type, 40, "card_type")?,
            reference: short(&p.reference, 100, "reference")?,
        })
    }
}

impl TryFrom<SaleBody> for SaleRequest {
    type Error = StorageError;
    fn try_from(b: SaleBody) -> Result<Self, StorageError> {
        let lines = b
            .lines
            .into_iter()
            .map(|l| {
                let product = match (l.product_id, l.barcode) {
                    (Some(id), None) => ProductRef::Id(short(&id, 64, "product_id")?),
                    (None, Some(code)) => ProductRef::Barcode(short(&code, 64, "barcode")?),
                    _ => {
                        return Err(StorageError::Unprocessable(
                            "each line needs exactly one of product_id or barcode".into(),
                        ));
                    }
                };
                Ok(LineRequest {
                    product,
                    qty_milli: l.quantity_milli,
                    discount_minor: l.discount_minor,
                    unit_price_minor: l.unit_price_minor,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(SaleRequest {
            currency: b.currency,
            lines,
            order_discount_minor: b.order_discount_minor,
            payments: b
                .payments
                .into_iter()
                .map(PaymentRequest::try_from)
                .collect::<Result<_, _>>()?,
            customer_id: b.customer_id,
            company_id: b.company_id,
            note: short(&b.note, 500, "note")?,
            discount_reason: short(&b.discount_reason, 200, "discount_reason")?,
            company_reason: short(&b.company_reason, 200, "company_reason")?,
            approval: b.approval.map(Approval::from),
            approved: None,
        })
    }
}

fn answer(a: Answer, metrics: Option<&crate::metrics::Metrics>) -> HttpResponse {
    if let Some(m) = metrics {
        if a.replayed {
            m.sales_replayed.inc()
        } else {
            m.sales.inc()
        }
    }
    HttpResponse::build(StatusCode::from_u16(a.status as u16).unwrap_or(StatusCode::OK))
        .content_type("application/json")
        .insert_header((
            "Idempotent-Replayed",
            if a.replayed { "true" } else { "false" },
        ))
        .body(a.body)
}

/// Creates a sale, paid or left open. A retry with the same
/// `Idempotency-Key` and body returns the first answer.
#[utoipa::path(
    tag = "sales",
    params(IdempotencyKey),
    responses(
        (status = 201, description = "The order", body = views::Order,
            headers(("Idempotent-Replayed" = bool, description = "true when this is a retry's stored answer"))),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/orders")]
#[tracing::instrument(skip_all)]
async fn create_sale(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Bearer,
    body: Json<SaleBody>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let sha = body.sha256;
    let mut sale = SaleRequest::try_from(body.value)?;
    on_account_here(&state, &sale.payments)?;
    // An approver's PIN is checked where a wrong one is written (it counts
    // toward their lockout), before the sale's read-only pricing.
    if let Some(a) = sale.approval.take() {
        let presented = who.clone();
        sale.approved = Some(
            state
                .write(move |c, n| {
                    let (actor, _) =
                        outpost_storage::staff::authenticate(c, presented.presented())?;
                    let key = actor.device_id.unwrap_or_else(|| "office".into());
                    outpost_storage::staff::approver(c, n, &a.staff_id, &a.pin, &key)
                })
                .await?,
        );
    }
    let writer = state.sales.clone();
    // Marked before the blocking work is queued and cleared when it is
    // over, whether or not this request is still there to hear it.
    let writing = Writing::start(&state, &key);
    let a = state
        .blocking(move |db, n| {
            let _writing = writing;
            writer.create_sale(db, n, Seller::Session(who.presented()), &key, &sha, sale)
        })
        .await?;
    Ok(answer(a, Some(&state.metrics)))
}

/// On a till's register agent (which holds no customer accounts), a sale
/// on account is refused with what to do instead.
fn on_account_here(state: &AppState, pays: &[PaymentRequest]) -> ApiResult<()> {
    if state.local_only.is_some()
        && pays
            .iter()
            .any(|p| p.method == outpost_domain::PaymentMethod::OnAccount)
    {
        return Err(outpost_storage::StorageError::Conflict(
            "on-account sales wait for the store server: this till sells cash and card on its own; \
             put the sale on the customer's account from the manager page"
                .into(),
        )
        .into());
    }
    Ok(())
}

/// What became of the sale sent under an idempotency key from this
/// register, for a till whose answer was lost: `committed` (with the
/// order), `pending` (still being written: ask again), or `unknown` (no sale
/// was made under it here: nothing was charged, and sending it again with
/// the same key is safe).
#[utoipa::path(
    tag = "sales",
    params(("key" = uuid::Uuid, Path, description = "The Idempotency-Key the sale was sent with")),
    responses(
        (status = 200, description = "committed, pending or unknown", body = views::SaleByKey),
        BadRequest, Unauthorized, Unprocessable,
    ),
    security(("session" = [])),
)]
#[get("/orders/by-key/{key}")]
async fn by_key(
    state: web::Data<AppState>,
    who: Signed,
    key: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = key.into_inner();
    if uuid::Uuid::parse_str(&key).is_err() {
        return Err(ApiError::BadRequest("the key is not a UUID".into()));
    }
    let device = who.actor.device()?.to_owned();
    let pending = state.in_flight.contains(&key);
    let k = key.clone();
    let stored = state
        .db(move |c, _| outpost_storage::idempotency::answer(c, &device, &k))
        .await?;
    let (state, status, order) = match stored {
        Some(s) if s.status_code >= 200 && s.status_code < 300 => {
            let order: serde_json::Value =
                serde_json::from_str(&s.body).unwrap_or(serde_json::Value::Null);
            (views::KeyState::Committed, Some(s.status_code), Some(order))
        }
        _ if pending => (views::KeyState::Pending, None, None),
        _ => (views::KeyState::Unknown, None, None),
    };
    let body = views::SaleByKey {
        state,
        status,
        order,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

/// Prices a cart exactly as a sale would, writing nothing: the till's display.
#[utoipa::path(
    tag = "sales",
    responses(
        (status = 200, description = "The priced cart", body = views::Quote),
        BadRequest, BodyLimits, Unauthorized, NotFound, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/orders/quote")]
async fn quote(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<SaleBody>,
) -> ApiResult<HttpResponse> {
    let sale = SaleRequest::try_from(body.value)?;
    let q = state
        .db(move |c, n| sales::quote(c, n, &who.actor, &sale))
        .await?;
    Ok(HttpResponse::Ok().json(views::Quote::from(q)))
}

/// Recent orders of this register (or of the store, at the back office).
#[utoipa::path(
    tag = "sales",
    params(Page),
    responses(
        (status = 200, description = "Newest first", body = Vec<views::OrderRow>),
        BadRequest, Unauthorized,
    ),
    security(("session" = [])),
)]
#[get("/orders")]
async fn list_orders(
    state: web::Data<AppState>,
    who: Signed,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit(20);
    // A register sees its own orders; managers at the back office see the store's.
    let device = who.actor.device_id.clone();
    let recent = state
        .db(move |c, _| sales::recent(c, device.as_deref(), limit))
        .await?;
    Ok(HttpResponse::Ok().json(views::<_, views::OrderRow>(recent)))
}

/// One order with its lines and payments.
#[utoipa::path(
    tag = "sales",
    params(("id" = String, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = views::Order),
        Unauthorized, NotFound,
    ),
    security(("session" = [])),
)]
#[get("/orders/{id}")]
async fn get_order(
    state: web::Data<AppState>,
    _who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let o = state.db(move |c, _| sales::get(c, &id)).await?;
    Ok(HttpResponse::Ok().json(views::Order::from(o)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    payments: Vec<PaymentBody>,
}

/// Pays an open order. A retry with the same `Idempotency-Key` and body
/// returns the first answer.
#[utoipa::path(
    tag = "sales",
    params(
        ("id" = String, Path, description = "The order's id"),
        IdempotencyKey,
    ),
    responses(
        (status = 200, description = "The paid order", body = views::Order,
            headers(("Idempotent-Replayed" = bool, description = "true when this is a retry's stored answer"))),
        BadRequest, BodyLimits, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/orders/{id}/payments")]
async fn pay(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<PayBody>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let sha = body.sha256;
    let pays: Vec<PaymentRequest> = body
        .value
        .payments
        .into_iter()
        .map(PaymentRequest::try_from)
        .collect::<Result<_, _>>()?;
    on_account_here(&state, &pays)?;
    let a = state
        .write(move |c, n| sales::pay(c, n, &who.actor, &id, &key, &sha, &pays))
        .await?;
    Ok(answer(a, None))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    pub(crate) staff_id: String,
    pub(crate) pin: String,
}

impl From<ApprovalBody> for Approval {
    fn from(a: ApprovalBody) -> Self {
        Approval {
            staff_id: a.staff_id,
            pin: a.pin,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineBody {
    line_id: String,
    quantity_milli: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    lines: Vec<RefundLineBody>,
    method: String,
    reason: String,
    approval: Option<ApprovalBody>,
}

/// Returns goods: a supervisor, or a cashier with a supervisor's PIN
/// (audited). A retry with the same `Idempotency-Key` and body returns the
/// first answer.
#[utoipa::path(
    tag = "sales",
    params(
        ("id" = String, Path, description = "The order's id"),
        IdempotencyKey,
    ),
    responses(
        (status = 200, description = "The order with its refund", body = views::Order,
            headers(("Idempotent-Replayed" = bool, description = "true when this is a retry's stored answer"))),
        BadRequest, BodyLimits, PinRefused, Forbidden, NotFound, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/orders/{id}/refunds")]
async fn refund(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<RefundBody>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let sha = body.sha256;
    let b = body.value;
    let r = RefundRequest {
        lines: b
            .lines
            .into_iter()
            .map(|l| (l.line_id, l.quantity_milli))
            .collect(),
        method: PaymentMethod::parse(&b.method).map_err(StorageError::from)?,
        reason: b.reason,
        approval: b.approval.map(Approval::from),
    };
    let here = state.local_only.is_some();
    let a = state
        .write(move |c, n| {
            // A till's agent holds its own orders (and those the edge sent
            // back down): another till's is returned there.
            if here && matches!(sales::get(c, &id), Err(StorageError::NotFound(_))) {
                return Err(StorageError::Conflict(
                    if outpost_storage::register_history::due(c)? {
                        format!(
                            "this till does not hold order {id} yet: its sales from before its \
                             database was restored come back from the store server; return it \
                             once the badge shows OK"
                        )
                    } else {
                        format!(
                            "this till holds no order {id}: an order sold at another till is \
                             returned at that till (or on the store server's register page)"
                        )
                    },
                ));
            }
            sales::refund(c, n, &who.actor, &id, &key, &sha, &r)
        })
        .await?;
    Ok(answer(a, None))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidBody {
    reason: String,
    approval: Option<ApprovalBody>,
}

/// Voids an open order: a supervisor, or a cashier with a supervisor's PIN
/// (audited).
#[utoipa::path(
    tag = "sales",
    params(("id" = String, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The voided order", body = views::Order),
        BadRequest, BodyLimits, PinRefused, Forbidden, NotFound, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/orders/{id}/void")]
async fn void(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<VoidBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let reason = short(&b.reason, 200, "reason")?;
    let approval = b.approval.map(Approval::from);
    let o = state
        .write(move |c, n| sales::void(c, n, &who.actor, &id, approval.as_ref(), &reason))
        .await?;
    Ok(HttpResponse::Ok().json(views::Order::from(o)))
}

/// Voids one line of an open order, with the same approval as a void.
#[utoipa::path(
    tag = "sales",
    params(
        ("id" = String, Path, description = "The order's id"),
        ("line" = String, Path, description = "The line's id"),
    ),
    responses(
        (status = 200, description = "The order without the line", body = views::Order),
        BadRequest, BodyLimits, PinRefused, Forbidden, NotFound, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/orders/{id}/lines/{line}/void")]
async fn void_line(
    state: web::Data<AppState>,
    who: Signed,
    path: web::Path<(String, String)>,
    body: Json<VoidBody>,
) -> ApiResult<HttpResponse> {
    let (id, line) = path.into_inner();
    let b = body.value;
    let reason = short(&b.reason, 200, "reason")?;
    let approval = b.approval.map(Approval::from);
    let o = state
        .write(move |c, n| {
            sales::void_line(c, n, &who.actor, &id, &line, approval.as_ref(), &reason)
        })
        .await?;
    Ok(HttpResponse::Ok().json(views::Order::from(o)))
}

/// Orders needing a manager's look: sold at a price that had changed
/// centrally (manager).
#[utoipa::path(
    tag = "sales",
    params(Page),
    responses(
        (status = 200, description = "The adjustment queue", body = Vec<views::OrderRow>),
        BadRequest, Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/adjustments")]
async fn adjustments(
    state: web::Data<AppState>,
    who: Signed,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    who.actor.require(
        outpost_domain::Permission::ViewReports,
        "see the adjustment queue",
    )?;
    let limit = page.limit(100);
    let queue = state
        .db(move |c, _| sales::adjustment_queue(c, limit))
        .await?;
    Ok(HttpResponse::Ok().json(views::<_, views::OrderRow>(queue)))
}

/// The `Idempotency-Key` header a sale, payment or refund is sent with.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Only its description is used: `auth::idempotency_key` reads the header.
struct IdempotencyKey {
    /// A UUID the register generates per operation and reuses for every
    /// retry of it.
    #[param(rename = "Idempotency-Key")]
    idempotency_key: uuid::Uuid,
}
