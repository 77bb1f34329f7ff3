//! Sign-in, staff and devices.

use super::openapi::{
    BadRequest, BodyLimits, Forbidden, NotFound, PinRefused, Unauthorized, Unprocessable,
};
use super::{ApiScope, Scope};
use crate::auth::{self, Signed};
use crate::body::Json;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::{self, views};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use outpost_domain::{Pin, Role};
use outpost_storage::{pairing, staff};
use serde::Deserialize;

pub fn mount<T: ApiScope>(s: Scope<T>) -> Scope<T> {
    s.service(login_staff)
        .service(login)
        .service(logout)
        .service(me)
        .service(list_staff)
        .service(create_staff)
        .service(set_pin)
        .service(unlock)
        .service(list_devices)
        .service(pair)
        .service(revoke)
        .service(create_pairing_code)
        .service(redeem_pairing_code)
}

/// Without a paired device, only a client on the store server's own screen
/// (`server.office_networks`) signs in: elsewhere on the LAN, a computer
/// that was never paired cannot try a manager's PIN.
fn office_here(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    // The socket's peer, never a forwarded-for header anyone can write.
    match req.peer_addr() {
        Some(a) if state.settings.server.is_office(a.ip()) => Ok(()),
        _ => Err(ApiError::PairFirst),
    }
}

/// Who can sign in here: everyone at a paired register, managers at a
/// paired office computer or on the store server's own screen.
#[utoipa::path(
    tag = "staff",
    responses(
        (status = 200, description = "Who may sign in", body = views::SignInList),
        Unauthorized, Forbidden,
    ),
    security((), ("device_token" = [])),
)]
#[get("/login-staff")]
async fn login_staff(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let device = auth::device(&req, &state).await?;
    if device.is_none() {
        office_here(&req, &state)?;
    }
    // Who may sign in at this device: everyone at a register, managers at
    // the back office, nobody at a display or through an agent's token.
    let kind = device.as_ref().map(|d| d.kind.as_str());
    let everyone = kind == Some("register");
    let managers = matches!(kind, None | Some("office"));
    let all = state.db(|c, _| staff::list_staff(c)).await?;
    let staff = all
        .into_iter()
        .filter(|s| everyone || managers && matches!(s.role.as_str(), "manager" | "admin"))
        .map(|s| views::StaffName {
            id: s.id,
            name: s.name,
            role: s.role,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views::SignInList {
        device: device.map(Into::into),
        staff,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    staff_id: String,
    pin: String,
}

/// Signs in with a PIN (at a register, with its `X-Device-Token`).
#[utoipa::path(
    tag = "staff",
    responses(
        (status = 201, description = "Signed in", body = views::Session),
        BadRequest, BodyLimits, PinRefused, Forbidden,
    ),
    security((), ("device_token" = [])),
)]
#[post("/sessions")]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<LoginBody>,
) -> ApiResult<HttpResponse> {
    let device = auth::device(&req, &state).await?;
    if device.is_none() {
        office_here(&req, &state)?;
    }
    // A register with an agent numbers its own orders: the edge takes its
    // sales as the agent pushes them, never from a session here.
    if device.as_ref().is_some_and(|d| d.kind == "agent") {
        return Err(outpost_storage::StorageError::Forbidden(
            "sign in here with a register agent's token: the till sells through its agent (http://127.0.0.1:7070 on the till)".into(),
        )
        .into());
    }
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
    let mut session = views::Session::from(s);
    let mut res = HttpResponse::Created();
    // A page keeps its session in an HttpOnly cookie, out of its scripts'
    // reach: the answer then carries no token.
    if let Some(page) = auth::page(&req) {
        let left_s = (session.expires_at - outpost_storage::db::now_millis()) / 1000;
        res.cookie(auth::session_cookie(&req, page, &session.token, left_s));
        session.token = String::new();
    }
    Ok(res.json(session))
}

/// Signs out.
#[utoipa::path(
    tag = "staff",
    responses((status = 204, description = "Signed out"), Unauthorized),
    security(("session" = [])),
)]
#[delete("/sessions/current")]
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Signed,
) -> ApiResult<HttpResponse> {
    state.db(move |c, _| staff::logout(c, &who.token)).await?;
    let mut res = HttpResponse::NoContent();
    if let Some(page) = auth::page(&req) {
        res.cookie(auth::session_cookie(&req, page, "", 0));
    }
    Ok(res.finish())
}

/// The signed-in staff member.
#[utoipa::path(
    tag = "staff",
    responses((status = 200, description = "Who is signed in", body = views::Me), Unauthorized),
    security(("session" = [])),
)]
#[get("/me")]
async fn me(who: Signed) -> HttpResponse {
    HttpResponse::Ok().json(views::Me {
        staff_id: who.actor.staff_id,
        name: who.name,
        role: who.actor.role,
        device_id: who.actor.device_id,
    })
}

/// Staff (manager).
#[utoipa::path(
    tag = "staff",
    responses(
        (status = 200, description = "Every staff member", body = Vec<views::StaffMember>),
        Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/staff")]
async fn list_staff(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    who.actor
        .require(outpost_domain::Permission::ManageStaff, "list staff")?;
    let all = state.db(|c, _| staff::list_staff(c)).await?;
    Ok(HttpResponse::Ok().json(views::<_, views::StaffMember>(all)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    name: String,
    role: String,
    pin: String,
}

/// Adds a staff member (manager; audited).
#[utoipa::path(
    tag = "staff",
    responses(
        (status = 201, description = "The new staff member", body = views::StaffMember),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/staff")]
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
    Ok(HttpResponse::Created().json(views::StaffMember::from(s)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinBody {
    pin: String,
}

/// Sets a staff member's PIN (manager; audited).
#[utoipa::path(
    tag = "staff",
    params(("id" = String, Path, description = "The staff member's id")),
    responses(
        (status = 204, description = "The PIN is set"),
        BadRequest, BodyLimits, Unauthorized, Forbidden, NotFound, Unprocessable,
    ),
    security(("session" = [])),
)]
#[put("/staff/{id}/pin")]
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

/// Lifts a staff member's PIN lockouts (manager; audited).
#[utoipa::path(
    tag = "staff",
    params(("id" = String, Path, description = "The staff member's id")),
    responses(
        (status = 204, description = "Unlocked"),
        Unauthorized, Forbidden, NotFound,
    ),
    security(("session" = [])),
)]
#[post("/staff/{id}/unlock")]
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

/// Registers and displays (manager).
#[utoipa::path(
    tag = "staff",
    responses(
        (status = 200, description = "Every paired device", body = Vec<views::Device>),
        Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/devices")]
async fn list_devices(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    who.actor
        .require(outpost_domain::Permission::ManageDevices, "list devices")?;
    let all = state.db(|c, _| staff::devices(c)).await?;
    Ok(HttpResponse::Ok().json(views::<_, views::Device>(all)))
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

/// Pairs a device; its token is shown this once (manager; audited).
#[utoipa::path(
    tag = "staff",
    responses(
        (status = 201, description = "The device and its token", body = views::Paired),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/devices")]
async fn pair(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<PairBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let p = state
        .write(move |c, n| staff::pair_device(c, n, &who.actor, &b.name, &b.kind))
        .await?;
    Ok(HttpResponse::Created().json(views::Paired::from(p)))
}

/// Revokes a device (manager; audited).
#[utoipa::path(
    tag = "staff",
    params(("id" = String, Path, description = "The device's id")),
    responses(
        (status = 204, description = "Revoked"),
        Unauthorized, Forbidden, NotFound,
    ),
    security(("session" = [])),
)]
#[delete("/devices/{id}")]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairingCodeBody {
    /// The device's name to be ("Till 2", "Kitchen").
    name: String,
    /// `register` (a register page; the default), `display`, `agent` (a
    /// register agent on a till PC) or `office` (a manager's computer).
    #[serde(default = "register")]
    kind: String,
}

/// Makes a one-time code that pairs one device (manager; audited). The
/// code is shown this once and works once, within
/// `devices.pairing_code_ttl_s` (10 minutes unless set).
#[utoipa::path(
    tag = "staff",
    responses(
        (status = 201, description = "The code, shown once", body = views::PairingCode),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Unprocessable,
    ),
    security(("session" = [])),
)]
#[post("/pairing-codes")]
async fn create_pairing_code(
    state: web::Data<AppState>,
    who: Signed,
    body: Json<PairingCodeBody>,
) -> ApiResult<HttpResponse> {
    let b = body.value;
    let ttl_ms = state.settings.devices.pairing_code_ttl_s.max(1) * 1000;
    let code = state
        .write(move |c, n| pairing::create_code(c, n, &who.actor, &b.name, &b.kind, ttl_ms))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(views::PairingCode::from(code)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    /// The code as the manager read it out (case, spaces and dashes do not matter).
    code: String,
    /// The kind of device asking (`register`, `display`, `agent` or `office`): a code
    /// made for another kind is refused (422) and stays good.
    kind: Option<String>,
}

/// Pairs this device with a one-time code from the manager page: its token,
/// shown this once. A code that is unknown, used or expired is refused (403).
#[utoipa::path(
    tag = "staff",
    responses(
        (status = 201, description = "The device and its token", body = views::Paired),
        BadRequest, BodyLimits, Forbidden, Unprocessable,
    ),
)]
#[post("/pairing-codes/redeem")]
async fn redeem_pairing_code(
    state: web::Data<AppState>,
    body: Json<RedeemBody>,
) -> ApiResult<HttpResponse> {
    let RedeemBody { code, kind } = body.value;
    let p = state
        .write(move |c, n| pairing::redeem(c, n, &code, kind.as_deref()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(views::Paired::from(p)))
}
