//! Shifts and reports, stock, kitchen tickets, the audit log and the outbox.

use crate::auth::{KitchenActor, Signed};
use crate::body::Json;
use crate::problem::{ApiError, ApiResult};
use crate::routes::Page;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use outpost_domain::Permission;
use outpost_storage::{audit, kitchen, outbox, relay, shifts, stock};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/money", web::get().to(money))
        .route("/shifts", web::get().to(list_shifts))
        .route("/shifts", web::post().to(open_shift))
        .route("/shifts/current", web::get().to(current_shift))
        .route("/shifts/current/cash", web::post().to(cash))
        .route("/shifts/{id}/report", web::get().to(report))
        .route("/shifts/{id}/close", web::post().to(close))
        .route("/stock", web::get().to(levels))
        .route("/stock/movements", web::post().to(move_stock))
        .route("/kitchen/tickets", web::get().to(tickets))
        .route("/kitchen/tickets/{id}/status", web::post().to(bump))
        .route("/audit", web::get().to(audit_log))
        .route("/outbox", web::get().to(outbox_status))
        .route("/outbox/{stream}", web::get().to(outbox_events));
}

async fn list_shifts(
    state: web::Data<AppState>,
    who: Signed,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    who.actor.require(Permission::ViewReports, "list shifts")?;
    let limit = page.limit(50);
    Ok(HttpResponse::Ok().json(state.db(move |c, _| shifts::list(c, limit)).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    opening_float_minor: i64,
}

async fn open_shift(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<OpenBody>,
) -> ApiResult<HttpResponse> {
    let f = body.value.opening_float_minor;
    Ok(HttpResponse::Created().json(
        state
            .write(move |c, n| shifts::open(c, n, &who.actor, f))
            .await?,
    ))
}

async fn current_shift(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    let device = who.actor.device()?.to_owned();
    match state.db(move |c, _| shifts::current(c, &device)).await? {
        Some(s) => Ok(HttpResponse::Ok().json(s)),
        None => Err(ApiError::NotFound("open shift on this register".into())),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashBody {
    amount_minor: i64,
    reason: String,
}

async fn cash(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<CashBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    state
        .write(move |c, n| shifts::cash_movement(c, n, &who.actor, b.amount_minor, &b.reason))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

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
    Ok(HttpResponse::Ok().json(r))
}

/// How this store's money is written and counted: the currency's entry in
/// the table every formatter reads (exponent, rounding units, notes and
/// coins) and the store's locale with its marks. Public: the pages read it
/// before anyone signs in, and it is no secret.
async fn money(state: web::Data<AppState>) -> HttpResponse {
    let c = state.node.currency.info();
    let locale = state.node.store().locale;
    let nf = outpost_domain::NumberFormat::get(&locale);
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(serde_json::json!({
            "currency": c.code,
            "exponent": c.exponent,
            "decimals": c.decimals(),
            "shown_step": c.shown_step(),
            "rounding_minor": c.rounding,
            "cash_rounding_minor": c.cash_rounding,
            "symbol": c.symbol,
            "notes": c.notes,
            "coins": c.coins,
            "locale": locale,
            "decimal": nf.map(|n| n.decimal.to_string()),
            "group": nf.map(|n| n.group.to_string()),
        }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    counted_cash_minor: i64,
    /// What to do with the shift's unpaid orders, when it has any: without
    /// a decision the close is refused (409) with the list.
    #[serde(default)]
    open_orders: Option<OpenOrdersChoice>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpenOrdersChoice {
    Void,
    CarryOver,
}

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
    Ok(HttpResponse::Ok().json(
        state
            .write(move |c, n| shifts::close(c, n, &who.actor, &id, counted, open))
            .await?,
    ))
}

async fn levels(state: web::Data<AppState>, _who: Signed) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.db(|c, _| stock::levels(c)).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    product_id: String,
    quantity_milli: i64,
    reason: String,
}

async fn move_stock(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<MoveBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    Ok(HttpResponse::Ok().json(
        state
            .write(move |c, n| {
                stock::manual(c, n, &who.actor, &b.product_id, b.quantity_milli, &b.reason)
            })
            .await?,
    ))
}

async fn tickets(
    state: web::Data<AppState>,
    _who: KitchenActor,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit(200);
    Ok(HttpResponse::Ok().json(
        state
            .db(move |c, _| kitchen::open_tickets(c, limit))
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
}

async fn bump(
    state: web::Data<AppState>,
    who: KitchenActor,
    id: web::Path<String>,
    body: Json<StatusBody>,
) -> ApiResult<HttpResponse> {
    let s = body.value.status;
    Ok(HttpResponse::Ok().json(
        state
            .write(move |c, n| kitchen::set_status(c, n, &who.0, &id, &s))
            .await?,
    ))
}

async fn audit_log(
    state: web::Data<AppState>,
    who: Signed,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    who.actor
        .require(Permission::ViewAudit, "read the audit log")?;
    let limit = page.limit(200);
    Ok(HttpResponse::Ok().json(state.db(move |c, _| audit::list(c, limit)).await?))
}

/// Stream heads and what is still waiting for the relay.
async fn outbox_status(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    who.actor
        .require(Permission::ViewReports, "see the outbox")?;
    let p = state.db(|c, _| relay::progress(c)).await?;
    let heads: serde_json::Map<String, serde_json::Value> =
        p.heads.into_iter().map(|(s, p)| (s, p.into())).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"streams": heads, "unrelayed": p.unrelayed})))
}

#[derive(Debug, Deserialize)]
struct After {
    after: Option<i64>,
    limit: Option<i64>,
}

/// Positioned events of one stream after `?after=`, with their full envelope:
/// what the relay has handed on, for ops and for checking sync.
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
    Ok(HttpResponse::Ok().json(
        state
            .db(move |c, _| outbox::read_stream(c, &stream, after, limit))
            .await?,
    ))
}
