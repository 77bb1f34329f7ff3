//! Tickets for the realtime hub: a paired device (or a signed-in manager on
//! the back-office page) trades its credentials for a short-lived ticket the
//! hub checks on its own.

use super::openapi::{Forbidden, Unauthorized};
use super::{ApiScope, Scope};
use crate::auth::{self, Signed};
use crate::problem::ApiResult;
use crate::state::AppState;
use crate::views;
use actix_web::{FromRequest, HttpRequest, HttpResponse, post, web};
use outpost_domain::Permission;
use outpost_realtime::ticket::{self, Claims};

pub fn mount<T: ApiScope>(s: Scope<T>) -> Scope<T> {
    s.service(issue)
}

/// A short-lived ticket for the realtime hub: for a paired device (its
/// `X-Device-Token`), or a manager's session at the back office.
#[utoipa::path(
    tag = "realtime",
    responses(
        (status = 200, description = "A signed ticket", body = views::RealtimeTicket),
        Unauthorized, Forbidden,
    ),
    security(("device_token" = []), ("session" = [])),
)]
#[post("/realtime/tickets")]
async fn issue(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let ttl_ms = state.settings.realtime.ticket_ttl_s.clamp(10, 86_400) * 1000;
    let exp = outpost_storage::db::now_millis() + ttl_ms;
    let store = state.node.store_id.clone();
    let claims = match auth::device(&req, &state).await? {
        Some(d) => Claims {
            store,
            device: d.id,
            kind: d.kind,
            name: d.name,
            exp,
            nonce: outpost_domain::secrets::new_secret(),
        },
        None => {
            let who = Signed::extract(&req).await?;
            who.actor
                .require(Permission::ViewReports, "watch the store's screens")?;
            Claims {
                store,
                device: format!("staff:{}", who.actor.staff_id),
                kind: "back-office".into(),
                name: who.name,
                exp,
                nonce: outpost_domain::secrets::new_secret(),
            }
        }
    };
    let rt = &state.settings.realtime;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(views::RealtimeTicket {
            ticket: ticket::sign(&state.after.realtime.secret, &claims),
            expires_at: exp,
            url: (!rt.public_url.is_empty()).then(|| rt.public_url.clone()),
            // A page served over TLS connects over TLS.
            hub_port: match rt.hub_tls_port {
                Some(p) if req.app_config().secure() => p,
                _ => rt.hub_port,
            },
            store_id: claims.store,
            epoch: state.node.node_epoch.clone(),
            channels: ticket::channels_for(&claims.kind)
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
        }))
}
