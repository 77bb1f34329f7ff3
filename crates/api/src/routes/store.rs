//! Shifts and reports, stock, kitchen tickets, the audit log and the outbox.

use super::openapi::{
    BadRequest, BodyLimits, Conflict, Forbidden, NotFound, PinRefused, Unauthorized, Unprocessable,
};
use super::{ApiScope, Scope};
use crate::auth::{KitchenActor, Signed};
use crate::body::Json;
use crate::problem::{ApiError, ApiResult};
use crate::routes::Page;
use crate::state::AppState;
use crate::views::{self, views};
use actix_web::{HttpResponse, get, post, web};
use outpost_domain::Permission;
use outpost_storage::{audit, kitchen, outbox, relay, shifts, stock};
use serde::Deserialize;

pub fn mount<T: ApiScope>(s: Scope<T>) -> Scope<T> {
    s.service(money)
        .service(list_shifts)
        .service(open_shift)
        .service(current_shift)
        .service(cash)
        .service(no_sale)
        .service(report)
        .service(close)
        .service(levels)
        .service(move_stock)
        .service(tickets)
        .service(bump)
        .service(audit_log)
        .service(outbox_status)
        .service(outbox_events)
}

/// Shifts, newest first (manager).
#[utoipa::path(
    tag = "shifts",
    params(Page),
    responses(
        (status = 200, description = "Shifts", body = Vec<views::Shift>),
        BadRequest, Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/shifts")]
async fn list_shifts(
    state: web::Data<AppState>,
    who: Signed,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    who.actor.require(Permission::ViewReports, "list shifts")?;
    let limit = page.limit(50);
    let all = state.db(move |c, _| shifts::list(c, limit)).await?;
    Ok(HttpResponse::Ok().json(views::<_, views::Shift>(all)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    opening_float_minor: i64,
}

/// Opens a shift on this register.
#[utoipa::path(
    tag = "shifts",
    responses(
        (status = 201, description = "The open shift", body = views::Shift),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/shifts")]
async fn open_shift(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<OpenBody>,
) -> ApiResult<HttpResponse> {
    let f = body.value.opening_float_minor;
    let opened = state
        .write(move |c, n| shifts::open(c, n, &who.actor, f))
        .await?;
    Ok(HttpResponse::Created().json(views::Shift::from(opened)))
}

/// This register's open shift.
#[utoipa::path(
    tag = "shifts",
    responses(
        (status = 200, description = "The open shift", body = views::Shift),
        Unauthorized, Forbidden, NotFound,
    ),
    security(("session" = [])),
)]
#[get("/shifts/current")]
async fn current_shift(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    let device = who.actor.device()?.to_owned();
    match state.db(move |c, _| shifts::current(c, &device)).await? {
        Some(s) => Ok(HttpResponse::Ok().json(views::Shift::from(s))),
        None => Err(ApiError::NotFound("open shift on this register".into())),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashBody {
    amount_minor: i64,
    reason: String,
    /// A supervisor's PIN, when a cashier asks.
    approval: Option<super::sales::ApprovalBody>,
}

/// Cash into or out of the drawer (supervisor; audited).
#[utoipa::path(
    tag = "shifts",
    responses(
        (status = 204, description = "Recorded"),
        BadRequest, BodyLimits, Unauthorized, Forbidden, NotFound, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/shifts/current/cash")]
async fn cash(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<CashBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    state
        .write(move |c, n| {
            let approval = b
                .approval
                .as_ref()
                .map(|a| (a.staff_id.as_str(), a.pin.as_str()));
            shifts::cash_movement(c, n, &who.actor, b.amount_minor, &b.reason, approval)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoSaleBody {
    /// Why (change for a customer, a check of the float, …).
    reason: String,
    /// A supervisor's PIN, when a cashier asks.
    approval: Option<super::sales::ApprovalBody>,
}

/// Opens the register's drawer without a sale: a supervisor, or a cashier
/// with a supervisor's PIN. Audited as `drawer.no_sale`; the register's
/// receipt printer kicks the drawer.
#[utoipa::path(
    tag = "shifts",
    request_body = NoSaleBody,
    responses(
        (status = 204, description = "Recorded; the drawer opens"),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/shifts/current/no-sale")]
async fn no_sale(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<NoSaleBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    state
        .write(move |c, n| {
            let approval = b
                .approval
                .as_ref()
                .map(|a| (a.staff_id.as_str(), a.pin.as_str()));
            shifts::no_sale(c, n, &who.actor, &b.reason, approval)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The X report of an open shift, or the Z report of a closed one.
#[utoipa::path(
    tag = "shifts",
    params(("id" = String, Path, description = "The shift's id")),
    responses(
        (status = 200, description = "The report", body = views::Report),
        Unauthorized, Forbidden, NotFound,
    ),
    security(("session" = [])),
)]
#[get("/shifts/{id}/report")]
async fn report(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    // A cashier may see the X report of their own register's shift.
    let own = who.actor.device_id.clone();
    let r = state.db(move |c, n| shifts::report(c, n, &id)).await?;
    if !who.actor.role.allows(Permission::ViewReports)
        && own.as_deref() != Some(r.shift.device_id.as_str())
    {
        return Err(outpost_storage::StorageError::Forbidden(
            "see another register's report".into(),
        )
        .into());
    }
    Ok(HttpResponse::Ok().json(views::Report::from(r)))
}

/// How this store's money is written and counted: the currency's entry in
/// the table every formatter reads (exponent, rounding units, notes and
/// coins) and the store's locale with its marks. Public: the pages read it
/// before anyone signs in, and it is no secret.
#[utoipa::path(
    tag = "store",
    responses((status = 200, description = "The store's money format", body = views::MoneyFormat)),
)]
#[get("/money")]
async fn money(state: web::Data<AppState>) -> HttpResponse {
    let c = state.node.currency.info();
    let locale = state.node.store().locale;
    let nf = outpost_domain::NumberFormat::get(&locale);
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(views::MoneyFormat {
            currency: c.code.to_owned(),
            exponent: c.exponent,
            decimals: c.decimals(),
            shown_step: c.shown_step(),
            rounding_minor: c.rounding,
            cash_rounding_minor: c.cash_rounding,
            symbol: c.symbol.to_owned(),
            notes: c.notes.to_vec(),
            coins: c.coins.to_vec(),
            decimal: nf.map(|n| n.decimal.to_string()),
            group: nf.map(|n| n.group.to_string()),
            locale,
        })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    counted_cash_minor: i64,
    /// What to do with the shift's unpaid orders, when it has any: without
    /// a decision the close is refused (409) with the list.
    #[serde(default)]
    open_orders: Option<OpenOrdersChoice>,
    /// A manager's PIN, for a cashier or supervisor closing their own
    /// register's shift.
    #[serde(default)]
    approval: Option<super::sales::ApprovalBody>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpenOrdersChoice {
    Void,
    CarryOver,
}

/// Closes a shift with the counted cash; answers its Z report (a manager;
/// or at the till, a cashier with a manager's PIN in `approval`).
#[utoipa::path(
    tag = "shifts",
    params(("id" = String, Path, description = "The shift's id")),
    responses(
        (status = 200, description = "The Z report", body = views::Report),
        BadRequest, BodyLimits, Unauthorized, PinRefused, Forbidden, NotFound, Conflict, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/shifts/{id}/close")]
async fn close(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<CloseBody>,
) -> ApiResult<HttpResponse> {
    let counted = body.value.counted_cash_minor;
    let open = body.value.open_orders.map(|c| match c {
        OpenOrdersChoice::Void => shifts::OpenOrders::Void,
        OpenOrdersChoice::CarryOver => shifts::OpenOrders::CarryOver,
    });
    let approval = body.value.approval;
    let z = state
        .write(move |c, n| match &approval {
            Some(a) if !who.actor.role.allows(Permission::ManageShifts) => {
                let a = (a.staff_id.as_str(), a.pin.as_str());
                shifts::close_approved(c, n, &who.actor, &id, counted, open, a)
            }
            _ => shifts::close(c, n, &who.actor, &id, counted, open),
        })
        .await?;
    Ok(HttpResponse::Ok().json(views::Report::from(z)))
}

/// Stock levels: sums of movements, negative ones flagged.
#[utoipa::path(
    tag = "stock",
    responses(
        (status = 200, description = "Every product's level", body = Vec<views::Level>),
        Unauthorized,
    ),
    security(("session" = [])),
)]
#[get("/stock")]
async fn levels(state: web::Data<AppState>, _who: Signed) -> ApiResult<HttpResponse> {
    let all = state.db(|c, _| stock::levels(c)).await?;
    Ok(HttpResponse::Ok().json(views::<_, views::Level>(all)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    product_id: String,
    quantity_milli: i64,
    reason: String,
}

/// Receives, adjusts, wastes or counts stock (manager).
#[utoipa::path(
    tag = "stock",
    responses(
        (status = 200, description = "The product's level after the movement", body = views::Level),
        BadRequest, BodyLimits, Unauthorized, Forbidden, NotFound, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/stock/movements")]
async fn move_stock(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<MoveBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let level = state
        .write(move |c, n| {
            stock::manual(c, n, &who.actor, &b.product_id, b.quantity_milli, &b.reason)
        })
        .await?;
    Ok(HttpResponse::Ok().json(views::Level::from(level)))
}

/// Kitchen tickets not yet served (a session, or a paired kitchen display).
#[utoipa::path(
    tag = "kitchen",
    params(Page),
    responses(
        (status = 200, description = "Open tickets", body = Vec<views::Ticket>),
        BadRequest, Unauthorized,
    ),
    security(("session" = []), ("device_token" = [])),
)]
#[get("/kitchen/tickets")]
async fn tickets(
    state: web::Data<AppState>,
    _who: KitchenActor,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit(200);
    let open = state
        .db(move |c, _| kitchen::open_tickets(c, limit))
        .await?;
    Ok(HttpResponse::Ok().json(views::<_, views::Ticket>(open)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
}

/// Moves a ticket on: pending → preparing → ready → served (a session,
/// or a paired kitchen display).
#[utoipa::path(
    tag = "kitchen",
    params(("id" = String, Path, description = "The ticket's id")),
    responses(
        (status = 200, description = "The ticket as moved", body = views::Ticket),
        BadRequest, BodyLimits, Unauthorized, NotFound, Conflict, Unprocessable,
    ),
    security(("session" = []), ("device_token" = [])),
)]
#[post("/kitchen/tickets/{id}/status")]
async fn bump(
    state: web::Data<AppState>,
    who: KitchenActor,
    id: web::Path<String>,
    body: Json<StatusBody>,
) -> ApiResult<HttpResponse> {
    let s = body.value.status;
    let t = state
        .write(move |c, n| kitchen::set_status(c, n, &who.0, &id, &s))
        .await?;
    Ok(HttpResponse::Ok().json(views::Ticket::from(t)))
}

/// The audit log, newest first (manager).
#[utoipa::path(
    tag = "store",
    params(Page),
    responses(
        (status = 200, description = "Audit entries", body = Vec<views::AuditEntry>),
        BadRequest, Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/audit")]
async fn audit_log(
    state: web::Data<AppState>,
    who: Signed,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    who.actor
        .require(Permission::ViewAudit, "read the audit log")?;
    let limit = page.limit(200);
    let entries = state.db(move |c, _| audit::list(c, limit)).await?;
    Ok(HttpResponse::Ok().json(views::<_, views::AuditEntry>(entries)))
}

/// Stream heads and what is still waiting for the relay (manager).
#[utoipa::path(
    tag = "store",
    responses(
        (status = 200, description = "Heads and waiting events", body = views::OutboxStatus),
        Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/outbox")]
async fn outbox_status(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    who.actor
        .require(Permission::ViewReports, "see the outbox")?;
    let p = state.db(|c, _| relay::progress(c)).await?;
    Ok(HttpResponse::Ok().json(views::OutboxStatus {
        streams: p.heads.into_iter().collect(),
        unrelayed: p.unrelayed,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct After {
    /// Events after this position (default 0: from the start).
    after: Option<i64>,
    /// At most this many (default 500, at most 5000).
    limit: Option<i64>,
}

/// Positioned events of one stream after `?after=`, with their full envelope:
/// what the relay has handed on, for ops and for checking sync (manager).
#[utoipa::path(
    tag = "store",
    params(After, ("stream" = String, Path, description = "A stream: sales, stock, kitchen, shifts, master or audit")),
    responses(
        (status = 200, description = "Events in position order", body = Vec<views::StoredEvent>),
        BadRequest, Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/outbox/{stream}")]
async fn outbox_events(
    state: web::Data<AppState>,
    who: Signed,
    stream: web::Path<String>,
    q: web::Query<After>,
) -> ApiResult<HttpResponse> {
    who.actor
        .require(Permission::ViewAudit, "read the event log")?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let events = state
        .db(move |c, _| outbox::read_stream(c, &stream, after, limit))
        .await?;
    Ok(HttpResponse::Ok().json(views::<_, views::StoredEvent>(events)))
}
