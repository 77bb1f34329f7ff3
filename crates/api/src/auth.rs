//! Who is calling: a signed-in staff member (a session token, as a bearer
//! header or a page's `HttpOnly` cookie, with the token of the device it
//! was opened at) and, for the sign-in screen, the paired device
//! (`X-Device-Token`).

use crate::problem::ApiError;
use crate::state::AppState;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use outpost_storage::{Actor, staff};
use std::future::Future;
use std::pin::Pin;

/// A valid session: the actor and the staff member's name.
#[derive(Debug, Clone)]
pub struct Signed {
    pub actor: Actor,
    pub name: String,
    pub token: String,
}

/// The header the register and manager pages send with every call, naming
/// which page they are (`register` or `office`): their session then comes
/// from that page's cookie. No other site can make a browser send a custom
/// header to the edge (there is no CORS), so a cookie never acts for a
/// request another site forged.
pub const PAGE_HEADER: &str = "X-Outpost-Page";

/// The page a request says it comes from.
pub fn page(req: &HttpRequest) -> Option<&'static str> {
    match req.headers().get(PAGE_HEADER)?.to_str().ok()? {
        "register" => Some("register"),
        "office" => Some("office"),
        _ => None,
    }
}

/// The cookie holding `page`'s session: one per page and per port, since
/// a browser shares a host's cookies across its ports (the edge on
/// 127.0.0.1:8001 and a till's agent on 127.0.0.1:7070 are two servers).
pub fn cookie_name(req: &HttpRequest, page: &str) -> String {
    let port = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<actix_web::http::uri::Authority>().ok())
        .and_then(|a| a.port_u16())
        .unwrap_or(if req.app_config().secure() { 443 } else { 80 });
    format!("outpost_{page}_{port}")
}

fn valid(t: &str) -> Option<String> {
    let t = t.trim();
    (!t.is_empty() && t.len() <= 128).then(|| t.to_owned())
}

/// The session token: an `Authorization: Bearer` header (API clients, the
/// register agent), or a page's `HttpOnly` cookie when the page header
/// says which and the request comes from this origin.
fn bearer(req: &HttpRequest) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return valid(
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))?,
        );
    }
    let page = page(req)?;
    if !outpost_telemetry::headers::same_origin(req) {
        return None;
    }
    valid(req.cookie(&cookie_name(req, page))?.value())
}

/// The cookie a page's sign-in sets: `HttpOnly` (no script reads it),
/// `SameSite=Strict`, `Secure` when served over TLS, for the session's life.
pub fn session_cookie(
    req: &HttpRequest,
    page: &str,
    token: &str,
    max_age_s: i64,
) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(cookie_name(req, page), token.to_owned())
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .secure(req.app_config().secure())
        .path("/")
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_s.max(0)))
        .finish()
}

impl FromRequest for Signed {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let presented = Bearer::from_request(req, payload).into_inner();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (presented, state) = match (presented, state) {
                (Ok(p), Some(s)) => (p, s),
                _ => return Err(ApiError::Unauthenticated),
            };
            let p = presented.clone();
            let (actor, name) = state
                .db(move |c, _| staff::authenticate(c, p.presented()))
                .await?;
            Ok(Signed {
                actor,
                name,
                token: presented.token,
            })
        })
    }
}

/// A session token and the device token sent beside it, not yet checked:
/// the sale path checks them in the sale's first query (`Seller::Session`),
/// not in a database trip of its own.
#[derive(Debug, Clone)]
pub struct Bearer {
    token: String,
    device: Option<String>,
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(match (bearer(req), device_token(req)) {
            (Some(token), Ok(device)) => Ok(Bearer { token, device }),
            _ => Err(ApiError::Unauthenticated),
        })
    }
}

impl Bearer {
    /// The tokens as sent, unchecked: whoever takes them must check them
    /// (the sale route passes them on as `Seller::Session`).
    pub fn presented(&self) -> staff::Presented<'_> {
        staff::Presented {
            token: &self.token,
            device: self.device.as_deref(),
        }
    }
}

/// The `X-Device-Token` sent, if any; one that cannot be a token is refused.
pub fn device_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(t) = req
        .headers()
        .get("X-Device-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    if t.is_empty() || t.len() > 128 {
        return Err(ApiError::Unauthenticated);
    }
    Ok(Some(t))
}

/// The device a register's `X-Device-Token` belongs to, when one is sent.
pub async fn device(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<staff::Device>, ApiError> {
    let Some(t) = device_token(req)? else {
        return Ok(None);
    };
    Ok(Some(
        state.db(move |c, _| staff::device_by_token(c, &t)).await?,
    ))
}

/// The `Idempotency-Key` header: a UUID the register generates per operation.
pub fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let v = req
        .headers()
        .get("Idempotency-Key")
        .ok_or(ApiError::MissingIdempotencyKey)?
        .to_str()
        .map_err(|_| ApiError::BadRequest("Idempotency-Key must be a UUID".into()))?;
    uuid::Uuid::parse_str(v.trim())
        .map(|u| u.to_string())
        .map_err(|_| ApiError::BadRequest("Idempotency-Key must be a UUID".into()))
}

/// Who works the kitchen screen: a signed-in staff member, or a paired kitchen
/// display on its own (kitchen staff do not type a PIN to bump a ticket; the
/// display was paired by a manager and is recorded as the actor).
#[derive(Debug, Clone)]
pub struct KitchenActor(pub Actor);

impl FromRequest for KitchenActor {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if bearer(req).is_some() {
            let signed = Signed::from_request(req, payload);
            return Box::pin(async move { Ok(KitchenActor(signed.await?.actor)) });
        }
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or(ApiError::Unauthenticated)?;
            match device(&req, &state).await? {
                Some(d) if d.kind == "display" => Ok(KitchenActor(Actor {
                    staff_id: format!("device:{}", d.id),
                    role: outpost_domain::Role::Cashier,
                    device_id: Some(d.id),
                })),
                _ => Err(ApiError::Unauthenticated),
            }
        })
    }
}
