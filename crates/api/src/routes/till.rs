//! What a register agent pulls from the edge so its till sells with the edge
//! away: the master-data change feed (`storage::till_feed`), for agents only.

use super::openapi::{BadRequest, Forbidden, Unauthorized};
use super::{ApiScope, Scope};
use crate::auth;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;
use actix_web::{HttpRequest, HttpResponse, get, web};
use outpost_storage::{StorageError, till_feed};

pub fn mount<T: ApiScope>(s: Scope<T>) -> Scope<T> {
    s.service(feed)
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
    req: HttpRequest,
    state: web::Data<AppState>,
    cursor: web::Query<Cursor>,
) -> ApiResult<HttpResponse> {
    let device = auth::device(&req, &state)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    // It carries staff PIN hashes: only a register agent's token, kept on
    // its till PC, reads it; a browser's token (in its localStorage) never.
    if device.kind != "agent" {
        return Err(StorageError::Forbidden(format!(
            "read the till feed as a {} (register agents only)",
            device.kind
        ))
        .into());
    }
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
