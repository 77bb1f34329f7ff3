//! Sign-in, staff and devices.

use crate::auth::{self, Signed};
use crate::body::Json;
use crate::problem::ApiResult;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use outpost_domain::{Pin, Role};
use outpost_storage::staff;
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login-staff", web::get().to(login_staff))
        .route("/sessions", web::post().to(login))
        .route("/sessions/current", web::delete().to(logout))
        .route("/me", web::get().to(me))
        .route("/staff", web::get().to(list_staff))
        .route("/staff", web::post().to(create_staff))
        .route("/staff/{id}/pin", web::put().to(set_pin))
        .route("/staff/{id}/unlock", web::post().to(unlock))
        .route("/devices", web::get().to(list_devices))
        .route("/devices", web::post().to(pair))
        .route("/devices/{id}", web::delete().to(revoke));
}

/// Who can sign in here: everyone at a paired register, managers at the back office.
async fn login_staff(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let device = auth::device(&req, &state).await?;
    let all = state.db(|c, _| staff::list_staff(c)).await?;
    let list: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|s| device.is_some() || matches!(s.role.as_str(), "manager" | "admin"))
        .map(|s| serde_json::json!({"id": s.id, "name": s.name, "role": s.role}))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"device": device, "staff": list})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    staff_id: String,
    pin: String,
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<LoginBody>,
) -> ApiResult<HttpResponse> {
    let device = auth::device(&req, &state).await?;
    // The socket's peer, never X-Forwarded-For: a header would let anyone
    // rotate addresses past the back-office lockout.
    let client = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let b = body.value;
    let s = state
        .write(move |c, n| staff::login(c, n, &b.staff_id, &b.pin, device.as_ref(), &client))
        .await?;
    Ok(HttpResponse::Created().json(s))
}

async fn logout(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    state.db(move |c, _| staff::logout(c, &who.token)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn me(who: Signed) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "staff_id": who.actor.staff_id, "name": who.name, "role": who.actor.role, "device_id": who.actor.device_id,
    }))
}

async fn list_staff(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    who.actor
        .require(outpost_domain::Permission::ManageStaff, "list staff")?;
    Ok(HttpResponse::Ok().json(state.db(|c, _| staff::list_staff(c)).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    name: String,
    role: String,
    pin: String,
}

async fn create_staff(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<NewStaff>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let role = Role::parse(&b.role).map_err(outpost_storage::StorageError::from)?;
    let pin = Pin::parse(&b.pin).map_err(outpost_storage::StorageError::from)?;
    let s = state
        .write(move |c, n| staff::create_staff(c, n, &who.actor, &b.name, role, &pin))
        .await?;
    Ok(HttpResponse::Created().json(s))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinBody {
    pin: String,
}

async fn set_pin(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<PinBody>,
) -> ApiResult<HttpResponse> {
    let pin = Pin::parse(&body.value.pin).map_err(outpost_storage::StorageError::from)?;
    state
        .write(move |c, n| staff::set_pin(c, n, &who.actor, &id, &pin))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn unlock(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state
        .write(move |c, n| staff::unlock(c, n, &who.actor, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_devices(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    who.actor
        .require(outpost_domain::Permission::ManageDevices, "list devices")?;
    Ok(HttpResponse::Ok().json(state.db(|c, _| staff::devices(c)).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairBody {
    name: String,
    #[serde(default = "register")]
    kind: String,
}

fn register() -> String {
    "register".into()
}

async fn pair(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<PairBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let p = state
        .write(move |c, n| staff::pair_device(c, n, &who.actor, &b.name, &b.kind))
        .await?;
    Ok(HttpResponse::Created().json(p))
}

async fn revoke(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state
        .write(move |c, n| staff::revoke_device(c, n, &who.actor, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
