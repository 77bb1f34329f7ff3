//! The admin's JSON API: stores, alarms, orders and parked batches seen
//! by the account's role, and the writes (master data, re-sends, retries,
//! credential rotations), each audited.

use super::*;

pub(super) async fn stores(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    match blocking(&state.db, cloud::store_sync).await {
        Ok(mut s) => {
            s.retain(|x| who.account.sees(&x.store.id));
            HttpResponse::Ok().json(s)
        }
        Err(r) => r,
    }
}

pub(super) async fn parked(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let account = who.account.clone();
    match blocking(&state.db, move |c| parked_seen(c, &account)).await {
        Ok(p) => HttpResponse::Ok().json(p),
        Err(r) => r,
    }
}

/// Applies a parked batch's parked events again (after a fix). A form post
/// from the page is sent back to the page; the API answers JSON.
pub(super) async fn retry_parked(
    req: HttpRequest,
    state: web::Data<AdminState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let who = match authed(&req, &state, form_csrf(&body)).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if let Some(r) = who.refused(Right::Retry, "retry parked batches") {
        return r;
    }
    let Ok(id) = id.parse::<i64>() else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid-id",
            "a parked batch's id is a number",
        );
    };
    let from_page = from_form(&req);
    let db = state.db.clone();
    let r = web::block(move || {
        let mut c = db.conn()?;
        // The retry and its audit commit together.
        diesel::Connection::transaction(&mut c, |c| {
            let r = cloud::retry_parked(c, id)?;
            let detail = match &r {
                Ok(applied) => format!("applied {applied}"),
                Err(reason) => format!("still failing: {reason}"),
            };
            audited(c, &who, "parked.retry", &id.to_string(), &detail)?;
            Ok::<_, crate::CloudError>(r)
        })
    })
    .await;
    let answer = match r {
        Ok(Ok(Ok(applied))) => {
            tracing::info!(id, applied, "a parked batch was retried and applied");
            HttpResponse::Ok().json(json!({"id": id, "resolved": true, "applied": applied}))
        }
        Ok(Ok(Err(reason))) => problem(StatusCode::CONFLICT, "still-failing", &reason),
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        Ok(Err(crate::CloudError::Unprocessable(m))) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, "cannot-retry", &m)
        }
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "the central database is unavailable",
        ),
    };
    if from_page {
        return HttpResponse::SeeOther()
            .insert_header(("Location", "/#parked"))
            .finish();
    }
    answer
}

/// Sends a store its master data again (see `master::resend`). A form post
/// from the store's page is sent back to it; the API answers what was
/// appended.
pub(super) async fn resend_master(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let who = match authed(&req, &state, form_csrf(&body)).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let store = store_id.into_inner();
    if let Some(r) = who
        .refused(Right::Resend, "re-send master data")
        .or_else(|| who.hidden(&store))
    {
        return r;
    }
    let db = state.db.clone();
    let target = store.clone();
    let r = web::block(move || {
        let mut c = db.conn()?;
        diesel::Connection::transaction(&mut c, |c| {
            let sent = cloud::master::resend(c, &target)?;
            let detail = serde_json::to_string(&sent).unwrap_or_default();
            audited(c, &who, "master.resend", &target, &detail)?;
            Ok::<_, crate::CloudError>(sent)
        })
    })
    .await;
    let answer = match r {
        Ok(Ok(sent)) => {
            tracing::info!(store = %store, first = sent.first_cursor, last = sent.last_cursor, "master data re-sent");
            HttpResponse::Ok().json(sent)
        }
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        Ok(Err(crate::CloudError::Conflict(m))) => {
            problem(StatusCode::CONFLICT, "edge-too-old", &m)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "re-sending master data");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "the central database is unavailable",
            )
        }
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, "busy", "try again"),
    };
    if from_form(&req) && answer.status().is_success() {
        return HttpResponse::SeeOther()
            .insert_header(("Location", format!("/stores/{store}#master")))
            .finish();
    }
    answer
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Rotate {
    /// The new credential expires after this many days (none: never).
    pub(super) expires_days: Option<u32>,
}

/// Asks for a rotation of a store's credential (delivered over its link).
pub(super) async fn rotate_credential(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let store = store_id.into_inner();
    if let Some(r) = who
        .refused(Right::Write, "rotate a store's credential")
        .or_else(|| who.hidden(&store))
    {
        return r;
    }
    // No body: a credential that never expires; a body must be a Rotate.
    let rotate = if body.iter().all(u8::is_ascii_whitespace) {
        Rotate { expires_days: None }
    } else {
        match serde_json::from_slice::<Rotate>(&body) {
            Ok(r) => r,
            Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid-body", &e.to_string()),
        }
    };
    let lifetime = rotate.expires_days.map(|d| i64::from(d) * 86_400_000);
    let db = state.db.clone();
    match web::block(move || {
        let mut c = db.conn()?;
        let id = cloud::credentials::request_rotation(&mut c, &store, lifetime)?;
        audited(
            &mut c,
            &who,
            "credential.rotate",
            &id,
            &format!("{:?} days", rotate.expires_days),
        )?;
        Ok::<_, crate::CloudError>(id)
    })
    .await
    {
        Ok(Ok(id)) => {
            tracing::info!(store = %id, "credential rotation requested from the admin");
            HttpResponse::Accepted().json(json!({"store_id": id, "rotation": "requested"}))
        }
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "the central database is unavailable",
        ),
    }
}

pub(super) async fn alarms(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let account = who.account.clone();
    match blocking(&state.db, move |c| alarms_seen(c, &account)).await {
        Ok(a) => HttpResponse::Ok().json(a),
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
pub(super) struct AuditQuery {
    pub(super) limit: Option<i64>,
}

/// The admin audit, newest first (owners).
pub(super) async fn audit(
    req: HttpRequest,
    state: web::Data<AdminState>,
    q: web::Query<AuditQuery>,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if who.account.role != admins::Role::Owner {
        return problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the audit is for owners",
        );
    }
    let limit = q.limit.unwrap_or(200);
    match blocking(&state.db, move |c| admins::audit_log(c, limit)).await {
        Ok(a) => HttpResponse::Ok().json(a),
        Err(r) => r,
    }
}

/// One POST route per kind of master data: parses the change and appends it
/// to the store's feed.
macro_rules! authoring {
    ($($(#[$doc:meta])* $route:ident => $write:path;)*) => {$(
        $(#[$doc])*
        pub(super) async fn $route(
            req: HttpRequest,
            state: web::Data<AdminState>,
            store_id: web::Path<String>,
            body: web::Bytes,
        ) -> HttpResponse {
            author(req, state, store_id.into_inner(), body, stringify!($route), $write).await
        }
    )*};
}

authoring! {
    /// A product edit (price, name, active, barcodes, company, weighed,
    /// kitchen, or a new product with its tax category).
    author_product => cloud::master::author_product;
    /// A tax category edit (a new category, or its name, rate or mode).
    author_tax => cloud::master::author_tax;
    /// A company (legal entity) the store sells for, or its name or tax id.
    author_company => cloud::master::author_company;
    /// A staff member (new: name, role, PIN) or an edit of one by id.
    author_staff => cloud::master::author_staff;
    /// The store's name, UTC offset or default invoicing company.
    author_settings => cloud::master::author_settings;
    /// A price-list version that takes effect at a set time.
    author_price_list => cloud::master::author_price_list;
}

/// Parses a master-data change and appends it to the store's feed: 201 with
/// the cursor, or a problem (400 body, 422 change, 404 store).
pub(super) async fn author<C: serde::de::DeserializeOwned + Send + 'static>(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store: String,
    body: web::Bytes,
    action: &'static str,
    write: fn(&mut cloud::CloudConn, &str, &C) -> crate::error::Result<cloud::master::Authored>,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if let Some(r) = who
        .refused(Right::Write, "change a store's master data")
        .or_else(|| who.hidden(&store))
    {
        return r;
    }
    let change: C = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid-body", &e.to_string()),
    };
    let db = state.db.clone();
    let detail = redacted(&body);
    let action = action.replace("author_", "master.");
    let r = web::block(move || {
        let mut c = db.conn()?;
        diesel::Connection::transaction(&mut c, |c| {
            let done = write(c, &store, &change)?;
            audited(c, &who, &action, &store, &detail)?;
            Ok(done)
        })
    })
    .await;
    match r {
        Ok(Ok(done)) => HttpResponse::Created().json(done),
        Ok(Err(crate::CloudError::Unprocessable(m))) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-change", &m)
        }
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "authoring a master-data change");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "the central database is unavailable",
            )
        }
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, "busy", "try again"),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct OrdersQuery {
    pub(super) store: Option<String>,
    pub(super) adjustments: Option<bool>,
    pub(super) limit: Option<i64>,
}

/// Orders across stores (`?store=` one store, `?adjustments=true` only the
/// adjustment queue).
pub(super) async fn orders(
    req: HttpRequest,
    state: web::Data<AdminState>,
    q: web::Query<OrdersQuery>,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let q = q.into_inner();
    if let Some(r) = q.store.as_deref().and_then(|s| who.hidden(s)) {
        return r;
    }
    let r = blocking(&state.db, move |c| {
        orders_seen(
            c,
            &who.account,
            q.store.as_deref(),
            q.adjustments.unwrap_or(false),
            q.limit.unwrap_or(100),
        )
    })
    .await;
    match r {
        Ok(o) => HttpResponse::Ok().json(o),
        Err(r) => r,
    }
}

/// `read` over the stores `account` sees: once over all for the accounts
/// that see every store, once per store for an area manager (so a list cut
/// to its newest rows is cut among its stores', not everyone's).
pub(super) fn per_store<T>(
    c: &mut cloud::CloudConn,
    account: &Account,
    mut read: impl FnMut(&mut cloud::CloudConn, Option<&str>) -> crate::error::Result<Vec<T>>,
) -> crate::error::Result<Vec<T>> {
    if account.role != admins::Role::AreaManager {
        return read(c, None);
    }
    let mut all = Vec::new();
    for s in &account.stores {
        all.extend(read(c, Some(s))?);
    }
    Ok(all)
}

pub(super) fn alarms_seen(
    c: &mut cloud::CloudConn,
    account: &Account,
) -> crate::error::Result<Vec<cloud::Alarm>> {
    let mut a = per_store(c, account, cloud::alarms)?;
    a.sort_by_key(|x| std::cmp::Reverse(x.id));
    Ok(a)
}

pub(super) fn parked_seen(
    c: &mut cloud::CloudConn,
    account: &Account,
) -> crate::error::Result<Vec<cloud::ParkedBatch>> {
    let mut p = per_store(c, account, cloud::parked)?;
    p.sort_by_key(|x| (x.resolved_at.is_some(), std::cmp::Reverse(x.id)));
    Ok(p)
}

/// Orders of `store` (which the caller checked `account` sees), or of every
/// store it sees, newest first.
pub(super) fn orders_seen(
    c: &mut cloud::CloudConn,
    account: &Account,
    store: Option<&str>,
    adjustments: bool,
    limit: i64,
) -> crate::error::Result<Vec<cloud::OrderRow>> {
    if store.is_some() {
        return cloud::orders(c, store, adjustments, limit);
    }
    let mut o = per_store(c, account, |c, s| cloud::orders(c, s, adjustments, limit))?;
    o.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    o.truncate(limit.max(0) as usize);
    Ok(o)
}

/// The store's products the cloud knows of, as JSON.
pub(super) async fn products(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
) -> HttpResponse {
    let who = match authed(&req, &state, None).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let store = store_id.into_inner();
    if let Some(r) = who.hidden(&store) {
        return r;
    }
    let db = state.db.clone();
    match web::block(move || cloud::master::products(&mut db.conn()?, &store)).await {
        Ok(Ok(p)) => HttpResponse::Ok().json(p),
        Ok(Err(crate::CloudError::NotFound(m))) => problem(
            actix_web::http::StatusCode::NOT_FOUND,
            "not-found",
            &format!("{m} not found"),
        ),
        _ => problem(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "the central database is unavailable",
        ),
    }
}
