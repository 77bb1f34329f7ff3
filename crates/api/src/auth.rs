//! Who is calling: a signed-in staff member (bearer session token, with the
//! token of the device it was opened at) and, for the sign-in screen, the
//! paired device (`X-Device-Token`).

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

fn bearer(req: &HttpRequest) -> Option<String> {
    let v = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let t = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?
        .trim();
    (!t.is_empty() && t.len() <= 128).then(|| t.to_owned())
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
