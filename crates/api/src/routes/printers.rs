//! Printers: configured on the manager page (which hw-proxy drives each, how
//! it reaches it, what prints there, a logo), and seen from the register
//! (its receipt printer's queue, reprint and cancel, a receipt's picture).

use super::openapi::{
    BadRequest, BodyLimits, Conflict, Forbidden, HwProxyAway, NotFound, Png, Unauthorized,
    Unprocessable,
};
use super::{ApiScope, Scope};
use crate::after_commit::hardware::{self, Target};
use crate::auth::Signed;
use crate::body::Json;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;
use actix_web::{HttpResponse, delete, get, post, put, web};
use base64::Engine;
use futures_util::future::join_all;
use outpost_domain::Permission;
use outpost_proto::hw_v1 as pb;
use outpost_storage::printers::{self, Printer};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

pub fn mount<T: ApiScope>(s: Scope<T>) -> Scope<T> {
    s.service(list_printers)
        .service(put_printer)
        .service(remove_printer)
        .service(jobs)
        .service(reprint)
        .service(cancel)
        .service(receipt_png)
}

/// A printer as the manager page sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrinterBody {
    /// hw-proxy's gRPC address, e.g. `http://10.0.0.5:7072`.
    hw_proxy_url: String,
    /// `tcp://host:9100` or `file:///dev/usb/lp0`, as that hw-proxy reaches it.
    address: String,
    /// Characters per line: 48 on 80 mm paper, 32 on 58 mm.
    #[serde(default = "default_width")]
    width: i32,
    /// Code pages the printer holds, e.g. `["CP858", "CP437"]`; none = all.
    #[serde(default)]
    code_pages: Vec<String>,
    /// Where kitchen tickets go while this printer is away.
    #[serde(default)]
    fallback: Option<String>,
    /// `receipt` or `kitchen`.
    role: String,
    /// A receipt printer for this register only.
    #[serde(default)]
    device_id: Option<String>,
    /// A PNG printed at the top of receipts, base64. Left out: the logo
    /// stays as it was; empty: no logo.
    #[serde(default)]
    logo_png_base64: Option<String>,
}

fn default_width() -> i32 {
    48
}

fn require(who: &Signed, what: &str) -> ApiResult<()> {
    Ok(who.actor.require(Permission::ManageDevices, what)?)
}

/// Every configured printer with what its hw-proxy says of it now, and the
/// printers each hw-proxy drives from its own settings file (manager).
#[utoipa::path(
    tag = "printers",
    responses(
        (status = 200, description = "Printers and hw-proxies", body = views::PrinterList),
        Unauthorized, Forbidden,
    ),
    security(("session" = [])),
)]
#[get("/printers")]
async fn list_printers(state: web::Data<AppState>, who: Signed) -> ApiResult<HttpResponse> {
    require(&who, "see the printers")?;
    let all = state.db(|c, _| printers::list(c)).await?;
    let pushed = state.after.hardware.pushed();
    let mut urls: BTreeSet<String> = all.iter().map(|p| p.hw_proxy_url.clone()).collect();
    urls.extend(pushed.keys().cloned());
    if all.is_empty() && !state.settings.printing.hw_proxy_url.is_empty() {
        urls.insert(state.settings.printing.hw_proxy_url.clone());
    }
    let live: BTreeMap<String, Result<pb::Printers, String>> =
        join_all(urls.iter().map(|url| async {
            let r = match state.after.hardware.client(url) {
                Ok(mut c) => c
                    .list_printers(pb::ListPrintersRequest {})
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(|s| s.message().to_owned()),
                Err(e) => Err(e.to_string()),
            };
            (url.clone(), r)
        }))
        .await
        .into_iter()
        .collect();
    let info = |url: &str, id: &str| {
        live.get(url)
            .and_then(|r| r.as_ref().ok())
            .and_then(|ps| {
                ps.printers
                    .iter()
                    .find(|i| i.definition.as_ref().is_some_and(|d| d.id == id))
            })
            .cloned()
    };
    let from_settings = all.is_empty() && !state.settings.printing.hw_proxy_url.is_empty();
    let printers = all
        .into_iter()
        .map(|p| {
            let now = info(&p.hw_proxy_url, &p.id);
            let push = pushed.get(&p.hw_proxy_url);
            let applied = now.as_ref().is_some_and(|i| {
                i.managed && i.definition.as_ref() == Some(&hardware::definition(&p))
            });
            views::PrinterRow {
                has_logo: p.logo_png.is_some(),
                applied,
                push_error: push.and_then(|x| x.error.clone()),
                live: now.as_ref().map(views::LivePrinter::from),
                printer: p.into(),
            }
        })
        .collect();
    let hw_proxies = urls
        .iter()
        .map(|url| {
            let r = &live[url];
            let own = |ps: &pb::Printers| {
                ps.printers
                    .iter()
                    .filter(|i| !i.managed)
                    .map(|i| views::OwnPrinter {
                        id: i
                            .definition
                            .as_ref()
                            .map(|d| d.id.clone())
                            .unwrap_or_default(),
                        address: i
                            .definition
                            .as_ref()
                            .map(|d| d.address.clone())
                            .unwrap_or_default(),
                        live: i.into(),
                    })
                    .collect()
            };
            views::HwProxyRow {
                url: url.clone(),
                reachable: r.is_ok(),
                error: r.as_ref().err().cloned(),
                last_push: pushed.get(url).cloned(),
                own_printers: r.as_ref().map(own).unwrap_or_default(),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(views::PrinterList {
        printers,
        hw_proxies,
        from_settings,
    }))
}

/// Adds or changes a printer, then hands the hw-proxies concerned their
/// printers at once; the answer says whether they took them (manager).
#[utoipa::path(
    tag = "printers",
    params(("id" = String, Path, description = "The printer's id")),
    responses(
        (status = 200, description = "The printer as stored, and the hand-over", body = views::PrinterSaved),
        BadRequest, BodyLimits, Unauthorized, Forbidden, Unprocessable, HwProxyAway,
    ),
    security(("session" = [])),
)]
#[put("/printers/{id}")]
async fn put_printer(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<PrinterBody>,
) -> ApiResult<HttpResponse> {
    require(&who, "configure printers")?;
    let id = id.into_inner();
    let b = body.value;
    let i = id.clone();
    let before = state.db(move |c, _| printers::get(c, &i)).await?;
    let logo_png = match b.logo_png_base64.as_deref() {
        None => before.as_ref().and_then(|p| p.logo_png.clone()),
        Some("") => None,
        Some(text) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| ApiError::BadBody(format!("logo_png_base64 is not base64: {e}")))?,
        ),
    };
    let p = Printer {
        id,
        hw_proxy_url: b.hw_proxy_url.trim().to_owned(),
        address: b.address.trim().to_owned(),
        width: b.width,
        code_pages: b.code_pages.join(","),
        fallback: b.fallback.filter(|f| !f.is_empty()),
        role: b.role,
        device_id: b.device_id.filter(|d| !d.is_empty()),
        logo_png,
        updated_at: 0,
        removed_at: None,
    };
    hardware::check(&p, &state.settings.printing).map_err(|e| {
        ApiError::Storage(outpost_storage::StorageError::Unprocessable(e.to_string()))
    })?;
    let actor = who.actor.clone();
    let saved = state
        .write(move |c, n| printers::put(c, n, &actor, p))
        .await?;
    let mut urls = vec![saved.hw_proxy_url.clone()];
    if let Some(old) = before.filter(|o| o.hw_proxy_url != saved.hw_proxy_url) {
        urls.push(old.hw_proxy_url);
    }
    let pushed = push(&state, &urls).await?;
    Ok(HttpResponse::Ok().json(views::PrinterSaved {
        has_logo: saved.logo_png.is_some(),
        printer: saved.into(),
        pushed,
    }))
}

/// Removes a printer; refused while jobs wait on it (manager).
#[utoipa::path(
    tag = "printers",
    params(("id" = String, Path, description = "The printer's id")),
    responses(
        (status = 200, description = "The printer removed, and the hand-over", body = views::PrinterRemoved),
        Unauthorized, Forbidden, NotFound, Conflict, HwProxyAway,
    ),
    security(("session" = [])),
)]
#[delete("/printers/{id}")]
async fn remove_printer(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require(&who, "remove printers")?;
    let id = id.into_inner();
    // Jobs still waiting would be stranded: hw-proxy keeps the printer
    // until they are printed or cancelled, so say so before forgetting it.
    let i = id.clone();
    if let Some(p) = state.db(move |c, _| printers::get(c, &i)).await?
        && let Ok(mut c) = state.after.hardware.client(&p.hw_proxy_url)
        && let Ok(r) = c.list_printers(pb::ListPrintersRequest {}).await
        && let Some(live) = r
            .into_inner()
            .printers
            .into_iter()
            .find(|x| x.managed && x.definition.as_ref().is_some_and(|d| d.id == id))
    {
        let waiting = live.queued + live.uncertain + live.held;
        if waiting > 0 {
            return Err(ApiError::Storage(outpost_storage::StorageError::Conflict(
                format!(
                    "printer {id} still has {waiting} job(s) waiting: print or cancel them first"
                ),
            )));
        }
    }
    let actor = who.actor.clone();
    let gone = state
        .write(move |c, n| printers::remove(c, n, &actor, &id))
        .await?;
    let pushed = push(&state, std::slice::from_ref(&gone.hw_proxy_url)).await?;
    Ok(HttpResponse::Ok().json(views::PrinterRemoved {
        removed: gone.into(),
        pushed,
    }))
}

async fn push(
    state: &web::Data<AppState>,
    urls: &[String],
) -> ApiResult<BTreeMap<String, hardware::Pushed>> {
    let rows = hardware::rows(&state.after)
        .await
        .map_err(|e| ApiError::HwProxy(e.to_string()))?;
    let mut out = BTreeMap::new();
    for url in urls {
        out.insert(url.clone(), hardware::push(&state.after, url, &rows).await);
    }
    // The reconciler keeps at it if a hw-proxy was away.
    state.after.hardware.changed.notify_one();
    Ok(out)
}

/// The printer this register's receipts go to.
async fn receipt_printer(state: &web::Data<AppState>, who: &Signed) -> ApiResult<Target> {
    let device = who.actor.device()?.to_owned();
    let all = state.db(|c, _| printers::list(c)).await?;
    hardware::receipt_target(&state.settings.printing, &all, &device).ok_or_else(|| {
        ApiError::NotFound(
            "a receipt printer for this register (set one on the manager page)".into(),
        )
    })
}

fn client(state: &web::Data<AppState>, t: &Target) -> ApiResult<hardware::Client> {
    state
        .after
        .hardware
        .client(&t.url)
        .map_err(|e| ApiError::HwProxy(e.to_string()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// At most this many jobs (default 10, at most 100).
    limit: Option<i32>,
}

/// This register's receipt printer: its state and its latest jobs.
#[utoipa::path(
    tag = "printers",
    params(JobsQuery),
    responses(
        (status = 200, description = "The printer and its jobs", body = views::PrinterJobs),
        BadRequest, Unauthorized, Forbidden, NotFound, HwProxyAway,
    ),
    security(("session" = [])),
)]
#[get("/printing/jobs")]
async fn jobs(
    state: web::Data<AppState>,
    who: Signed,
    q: web::Query<JobsQuery>,
) -> ApiResult<HttpResponse> {
    who.actor.require(Permission::Sell, "see the printer")?;
    let t = receipt_printer(&state, &who).await?;
    let mut c = client(&state, &t)?;
    let grpc = |s| ApiError::from_grpc(&t.url, s);
    let jobs = c
        .list_jobs(pb::ListJobsRequest {
            printer: t.printer.clone(),
            limit: q.limit.unwrap_or(10).clamp(1, 100),
        })
        .await
        .map_err(grpc)?
        .into_inner()
        .jobs;
    let info = c
        .list_printers(pb::ListPrintersRequest {})
        .await
        .map_err(grpc)?
        .into_inner()
        .printers
        .into_iter()
        .find(|i| i.definition.as_ref().is_some_and(|d| d.id == t.printer));
    Ok(HttpResponse::Ok().json(views::PrinterJobs {
        printer: t.printer,
        state: info.as_ref().map(views::LivePrinter::from),
        jobs: jobs.into_iter().map(views::PrintJob::from).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReprintBody {
    /// The new job's id (a UUID), so a repeated click prints once.
    id: String,
}

/// A job of this register's printer, or 404.
async fn own_job(
    state: &web::Data<AppState>,
    who: &Signed,
    id: &str,
) -> ApiResult<(Target, hardware::Client)> {
    let t = receipt_printer(state, who).await?;
    let mut c = client(state, &t)?;
    let job = c
        .get_job(pb::GetJobRequest { id: id.to_owned() })
        .await
        .map_err(|s| ApiError::from_grpc(&t.url, s))?
        .into_inner();
    if job.printer != t.printer {
        return Err(ApiError::NotFound(format!(
            "job {id} on this register's printer"
        )));
    }
    Ok((t, c))
}

/// Prints a job of this register's printer again.
#[utoipa::path(
    tag = "printers",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 201, description = "The new job", body = views::JobState),
        BadRequest, BodyLimits, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable,
        HwProxyAway,
    ),
    security(("session" = [])),
)]
#[post("/printing/jobs/{id}/reprint")]
async fn reprint(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
    body: Json<ReprintBody>,
) -> ApiResult<HttpResponse> {
    who.actor.require(Permission::Sell, "reprint")?;
    let (t, mut c) = own_job(&state, &who, &id).await?;
    let job = c
        .reprint(pb::ReprintRequest {
            id: id.into_inner(),
            new_id: body.value.id,
        })
        .await
        .map_err(|s| ApiError::from_grpc(&t.url, s))?
        .into_inner();
    Ok(HttpResponse::Created().json(views::JobState {
        id: job.id,
        state: job.state,
    }))
}

/// Cancels a job of this register's printer that has not printed.
#[utoipa::path(
    tag = "printers",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The cancelled job", body = views::JobState),
        Unauthorized, Forbidden, NotFound, Conflict, HwProxyAway,
    ),
    security(("session" = [])),
)]
#[post("/printing/jobs/{id}/cancel")]
async fn cancel(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    who.actor.require(Permission::Sell, "cancel a print job")?;
    let (t, mut c) = own_job(&state, &who, &id).await?;
    let job = c
        .cancel(pb::CancelRequest {
            id: id.into_inner(),
        })
        .await
        .map_err(|s| ApiError::from_grpc(&t.url, s))?
        .into_inner();
    Ok(HttpResponse::Ok().json(views::JobState {
        id: job.id,
        state: job.state,
    }))
}

/// An order's receipt as this register's printer prints it (its width,
/// code pages and logo), drawn by the renderer hw-proxy's previews use.
#[utoipa::path(
    tag = "printers",
    params(("id" = String, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The receipt as a picture", body = Png, content_type = "image/png"),
        Unauthorized, Forbidden, NotFound, Unprocessable,
    ),
    security(("session" = [])),
)]
#[get("/orders/{id}/receipt.png")]
async fn receipt_png(
    state: web::Data<AppState>,
    who: Signed,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    who.actor.require(Permission::Sell, "see a receipt")?;
    let id = id.into_inner();
    let device = who.actor.device_id.clone().unwrap_or_default();
    let (order, cashier, all) = state
        .db(move |c, _| {
            let o = outpost_storage::sales::get(c, &id)?;
            let name = outpost_storage::staff::name(c, &o.order.staff_id)?;
            Ok((o, name, printers::list(c)?))
        })
        .await?;
    let store = state.node.store();
    let r = crate::after_commit::printing::receipt(
        &order,
        &store,
        cashier,
        &state.settings.printing.footer,
    )
    .map_err(|e| ApiError::Storage(outpost_storage::StorageError::Unprocessable(e.to_string())))?;
    let row = hardware::receipt_target(&state.settings.printing, &all, &device).and_then(|t| t.row);
    let png = web::block(move || -> Result<Vec<u8>, PreviewError> {
        let profile = match &row {
            Some(p) => hardware::profile(p)?,
            None => outpost_receipt::Profile::default(),
        };
        let encoded = outpost_receipt::document::receipt(&r.into(), &profile, false)?;
        Ok(outpost_receipt::render::png(
            &encoded.bytes,
            profile.width * outpost_receipt::raster::CELL_W,
        ))
    })
    .await
    .map_err(|_| ApiError::Blocking)?
    .map_err(|e| ApiError::Storage(outpost_storage::StorageError::Unprocessable(e.to_string())))?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "no-store"))
        .body(png))
}

/// Why a receipt's picture could not be drawn.
#[derive(Debug, thiserror::Error)]
enum PreviewError {
    #[error(transparent)]
    Printer(#[from] outpost_receipt::PrinterError),
    #[error(transparent)]
    Document(#[from] outpost_receipt::DocumentError),
}
