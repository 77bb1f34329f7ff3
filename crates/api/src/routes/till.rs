//! What a register agent talks to: the master-data change feed it pulls so
//! its till sells with the edge away (`storage::till_feed`), and the events
//! it pushes (`storage::register_events`). For agents' tokens only.

use super::openapi::{
    BadRequest, BodyLimits, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable,
};
use super::{ApiScope, Scope};
use crate::auth::Signed;
use crate::body::PushJson;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use outpost_storage::register_events::{self, AgentEvent, Push};
use outpost_storage::staff::{self, Device};
use outpost_storage::{StorageError, till_feed};
use serde::Deserialize;

pub fn mount<T: ApiScope>(s: Scope<T>) -> Scope<T> {
    s.service(feed)
        .service(push)
        .service(marks)
        .service(ca)
        .service(ca_file)
        .service(parked)
        .service(clear_parked)
        .service(history)
}

/// The store's own CA, which a register agent pins when it pairs: compare
/// its fingerprint with the manager page's. Public (it is a certificate).
#[utoipa::path(
    tag = "registers",
    responses(
        (status = 200, description = "The store CA", body = views::StoreCa),
        NotFound,
    ),
)]
#[get("/store/ca")]
async fn ca(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let ca = state
        .db(|c, _| outpost_storage::store_ca::get(c))
        .await?
        .ok_or_else(|| StorageError::not_found("the store CA (this is not an edge)"))?;
    Ok(HttpResponse::Ok().json(views::StoreCa {
        fingerprint: crate::tls::fingerprint(&ca),
        pem: ca.cert_pem,
    }))
}

/// The store's CA as a certificate file, for a tablet or kitchen screen to
/// install as trusted (compare the fingerprint it shows with the manager
/// page's first): then the edge's pages, hub and hw-proxy open over TLS
/// without a warning. Public.
#[utoipa::path(
    tag = "registers",
    responses(
        (status = 200, description = "The store CA (PEM)", body = String,
            content_type = "application/x-x509-ca-cert"),
        NotFound,
    ),
)]
#[get("/store/ca.crt")]
async fn ca_file(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let found = state
        .db(|c, _| outpost_storage::store_ca::get(c))
        .await?
        .ok_or_else(|| StorageError::not_found("the store CA (this is not an edge)"))?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-x509-ca-cert")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"outpost-store-ca.crt\"",
        ))
        .body(found.cert_pem))
}

/// The register agent whose `X-Device-Token` came with the request, checked
/// before the request's body or query is read. Revoked or not: see
/// [`Active`].
struct AgentDevice(Device);

trait Active {
    /// Refuses a revoked device.
    fn active(&self) -> ApiResult<()>;
}

impl Active for Device {
    fn active(&self) -> ApiResult<()> {
        match self.revoked_at {
            Some(_) => Err(ApiError::Unauthenticated),
            None => Ok(()),
        }
    }
}

impl actix_web::FromRequest for AgentDevice {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = ApiResult<AgentDevice>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or(ApiError::Unauthenticated)?;
            let token = crate::auth::device_token(&req)?.ok_or(ApiError::Unauthenticated)?;
            // Revoked ones too: a revoked till's events from before its
            // revocation are still taken (the push decides); everything
            // else refuses it below.
            let device = state
                .db(move |c, _| staff::any_device_by_token(c, &token))
                .await?;
            // Agents only: the feed carries staff PIN hashes (kept on the
            // till PC, never in a browser's localStorage), and the events
            // are a till's own sales.
            if device.kind != "agent" {
                return Err(StorageError::Forbidden(format!(
                    "call this as a {} (register agents only)",
                    device.kind
                ))
                .into());
            }
            Ok(AgentDevice(device))
        })
    }
}

/// Where a till's pull starts.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Cursor {
    /// The edge's epoch the till's cursor belongs to (absent on its first
    /// pull); another epoch is answered from the start, marked `reset`.
    pub epoch: Option<String>,
    /// The `next` of the till's last page (0 or absent: from the start).
    pub after: Option<i64>,
    /// At most this many changes (1 to 1000, 500 unless given).
    pub limit: Option<i64>,
}

/// The master data that changed after the till's cursor: each row as it is
/// now, or that it is gone, in commit order. For a paired register agent's
/// `X-Device-Token`; it asks again while `more` and installs the pages
/// together.
#[utoipa::path(
    tag = "registers",
    params(Cursor),
    responses(
        (status = 200, description = "One page of the feed", body = views::TillFeedPage),
        BadRequest, Unauthorized, Forbidden,
    ),
    security(("device_token" = [])),
)]
#[get("/till-feed")]
async fn feed(
    cursor: web::Query<Cursor>,
    AgentDevice(agent): AgentDevice,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    agent.active()?;
    let Cursor {
        epoch,
        after,
        limit,
    } = cursor.into_inner();
    if after.is_some_and(|a| a < 0) {
        return Err(ApiError::BadRequest("after must be 0 or more".into()));
    }
    let page = state
        .db(move |c, _| {
            till_feed::changes(
                c,
                epoch.as_deref(),
                after.unwrap_or(0),
                limit.unwrap_or(500),
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(views::TillFeedPage::from(page)))
}

/// A register agent's events, in its commit order (`storage::register_events::Push`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    /// The shape of this body (the edge takes the current and the one before).
    schema: i32,
    /// The agent's epoch.
    epoch: String,
    /// Where each stream stood when this epoch began (absent: 0).
    #[serde(default)]
    since: std::collections::BTreeMap<String, i64>,
    #[schema(max_items = 500)]
    events: Vec<EventBody>,
}

/// One event as the agent wrote it in its outbox.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    event_id: String,
    stream: String,
    /// Its position in the agent's stream (1, 2, …, per epoch).
    position: i64,
    aggregate_type: String,
    aggregate_id: String,
    aggregate_version: i64,
    event_type: String,
    schema_version: i32,
    occurred_at: i64,
    hlc: i64,
    actor: String,
    /// The payload as JSON text, exactly as hashed.
    payload: String,
    payload_sha256: String,
    /// Sent without its payload (empty), which is this many bytes: more
    /// than this edge takes in one request. The edge parks the event.
    #[serde(default)]
    withheld: Option<u64>,
}

impl From<EventBody> for AgentEvent {
    fn from(e: EventBody) -> AgentEvent {
        let EventBody {
            event_id,
            stream,
            position,
            aggregate_type,
            aggregate_id,
            aggregate_version,
            event_type,
            schema_version,
            occurred_at,
            hlc,
            actor,
            payload,
            payload_sha256,
            withheld,
        } = e;
        AgentEvent {
            event_id,
            stream,
            position,
            aggregate_type,
            aggregate_id,
            aggregate_version,
            event_type,
            schema_version,
            occurred_at,
            hlc,
            actor,
            payload,
            payload_sha256,
            withheld,
        }
    }
}

/// Takes a register agent's events: each applied once, in order per stream
/// (a repeat is answered, not applied again; a gap refuses the whole push
/// with 409 and the agent sends from where the edge stands, `GET
/// /register-events/marks`), its rows written as the till wrote them and
/// the event handed on to the cloud with the till's event id.
#[utoipa::path(
    tag = "registers",
    request_body = PushBody,
    responses(
        (status = 200, description = "Applied; where each stream now stands", body = views::RegisterPushed),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Conflict, Unprocessable,
    ),
    security(("device_token" = [])),
)]
#[post("/register-events")]
async fn push(
    AgentDevice(device): AgentDevice,
    state: web::Data<AppState>,
    PushJson(body): PushJson<PushBody>,
) -> ApiResult<HttpResponse> {
    let PushBody {
        schema,
        epoch,
        since,
        events,
    } = body.value;
    let push = Push {
        schema,
        epoch,
        since,
        events: events.into_iter().map(AgentEvent::from).collect(),
    };
    let id = device.id.clone();
    let pushed = state
        .write(move |c, n| register_events::apply(c, n, &device.id, device.revoked_at, &push))
        .await;
    // A refused push shows in health until the till's next one is taken.
    if let Err(ApiError::Storage(
        e @ (StorageError::Conflict(_)
        | StorageError::Unprocessable(_)
        | StorageError::Forbidden(_)),
    )) = &pushed
    {
        let reason = e.to_string();
        if let Err(err) = state
            .write(move |c, _| register_events::refused(c, &id, &reason))
            .await
        {
            tracing::warn!(error = %err, "could not note a refused register push");
        }
    }
    let pushed = pushed?;
    Ok(HttpResponse::Ok().json(views::RegisterPushed::from(pushed)))
}

/// Which of its orders a till asks for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Orders made at or after this time (ms since the epoch; absent: all).
    pub since: Option<i64>,
    /// Orders numbered after this one (the last page's `next`; absent:
    /// from the first).
    pub after: Option<String>,
    /// At most this many orders (1 to 200, 200 unless given).
    pub limit: Option<i64>,
}

/// The calling till's own orders as the edge holds them, by number, with
/// the shifts and registers they name: what a till restored from an older
/// copy of its database lost comes back down as history it shows and
/// refunds against (`storage::register_history`).
#[utoipa::path(
    tag = "registers",
    params(HistoryQuery),
    responses(
        (status = 200, description = "One page of the till's orders", body = views::RegisterHistory),
        BadRequest, Unauthorized, Forbidden,
    ),
    security(("device_token" = [])),
)]
#[get("/register-history")]
async fn history(
    q: web::Query<HistoryQuery>,
    AgentDevice(device): AgentDevice,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    device.active()?;
    let HistoryQuery {
        since,
        after,
        limit,
    } = q.into_inner();
    let page = state
        .db(move |c, _| {
            outpost_storage::register_history::page(
                c,
                &device.id,
                since.unwrap_or(0),
                after.as_deref().unwrap_or(""),
                limit.unwrap_or(outpost_storage::register_history::PAGE_MAX),
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(views::RegisterHistory::from(page)))
}

/// Which agent epoch the marks are asked for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Epoch {
    /// The agent's epoch (required).
    pub epoch: Option<String>,
}

/// What the edge holds of the calling agent, asked at its start and after a
/// refused push: per stream, its last position the edge holds in that
/// epoch, and the register's highest order number here.
#[utoipa::path(
    tag = "registers",
    params(Epoch),
    responses(
        (status = 200, description = "Per stream, the last position held", body = views::RegisterPushed),
        BadRequest, Unauthorized, Forbidden,
    ),
    security(("device_token" = [])),
)]
#[get("/register-events/marks")]
async fn marks(
    AgentDevice(device): AgentDevice,
    state: web::Data<AppState>,
    q: web::Query<Epoch>,
) -> ApiResult<HttpResponse> {
    device.active()?;
    let epoch = q
        .into_inner()
        .epoch
        .ok_or_else(|| ApiError::BadRequest("say which epoch: ?epoch=".into()))?;
    let standing = state
        .db(move |c, _| register_events::standing(c, &device.id, &epoch))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(views::RegisterPushed::from(standing)))
}

/// The tills' events the edge refused for good and no manager has cleared
/// yet, newest first (at most 200), with why and the event as sent
/// (manager).
#[utoipa::path(
    tag = "registers",
    responses(
        (status = 200, description = "Parked till events", body = [views::ParkedEvent]),
        Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/register-events/parked")]
async fn parked(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    who.actor.require(
        outpost_domain::Permission::ManageDevices,
        "read the tills' parked events",
    )?;
    let (list, _) = state
        .db(|c, _| register_events::parked::open(c, 200))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(
            list.into_iter()
                .map(views::ParkedEvent::from)
                .collect::<Vec<_>>(),
        ))
}

/// Clears a parked till event once a manager has dealt with it (re-entered
/// the sale, told the till's owner): health no longer shows it. Audited;
/// the event is kept.
#[utoipa::path(
    tag = "registers",
    params(("id" = String, Path, description = "The parked event's id")),
    responses(
        (status = 204, description = "Cleared"),
        Unauthorized, Forbidden, NotFound,
    ),
    security(("session" = [])),
)]
#[post("/register-events/parked/{id}/clear")]
async fn clear_parked(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state
        .write(move |c, n| register_events::parked::clear(c, n, &who.actor, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
