//! The PrintService (`outpost.hw.v1`) the api uses: the same job intake as
//! the HTTP side, with gRPC status codes.

use crate::jobs::{self, JobRequest, Refusal};
use crate::printq::QueueError;
use crate::worker::SetRefusal;
use crate::worker::Shared;
use outpost_proto::hw_v1 as pb;
use outpost_proto::hw_v1::print_service_server::PrintService;
use outpost_receipt::wire;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct Service {
    pub shared: Arc<Shared>,
}

fn job(j: crate::printq::Job) -> pb::Job {
    pb::Job {
        id: j.id,
        printer: j.printer,
        kind: j.kind,
        state: j.state,
        attempts: j.attempts,
        last_error: j.last_error.unwrap_or_default(),
        created_at_ms: j.created_at,
        updated_at_ms: j.updated_at,
        preview: j.preview,
    }
}

async fn printers(shared: &Shared) -> pb::Printers {
    let mut out = Vec::new();
    for (p, c) in jobs::printers(shared).await {
        let s = p.state();
        out.push(pb::PrinterInfo {
            definition: Some(wire::definition(&p.config, &p.logo_png)),
            managed: p.managed,
            reachable: s.reachable,
            ready: s.ready,
            problem: s.problem.unwrap_or_default(),
            since_ms: s.since_ms,
            queued: c.queued,
            uncertain: c.uncertain,
            held: c.held,
        });
    }
    pb::Printers { printers: out }
}

fn storage(e: QueueError) -> Status {
    match e {
        QueueError::NotFound(m) => Status::not_found(m),
        QueueError::Conflict(m) => Status::failed_precondition(m),
        QueueError::Refused(m) => Status::invalid_argument(m),
        e => status(Refusal::Storage(e)),
    }
}

fn status(r: Refusal) -> Status {
    match r {
        Refusal::UnknownPrinter(m) => Status::not_found(m),
        Refusal::Invalid(m) => Status::invalid_argument(m),
        Refusal::Storage(QueueError::Conflict(m)) => Status::already_exists(m),
        Refusal::Storage(e) => {
            tracing::error!(error = %e, "print queue");
            Status::unavailable("the print queue cannot be written now")
        }
    }
}

#[tonic::async_trait]
impl PrintService for Service {
    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitReply>, Status> {
        let r = request.into_inner();
        let (kind, rec, tic) = match r.document {
            Some(pb::submit_request::Document::Receipt(x)) => ("receipt", Some(x.into()), None),
            Some(pb::submit_request::Document::Ticket(x)) => ("kitchen", None, Some(x.into())),
            Some(pb::submit_request::Document::Drawer(_)) => ("drawer", None, None),
            None => {
                return Err(Status::invalid_argument(
                    "a job needs a receipt, a ticket or a drawer kick",
                ));
            }
        };
        let req = JobRequest {
            id: r.id,
            printer: r.printer,
            kind: kind.into(),
            receipt: rec,
            ticket: tic,
            open_drawer: r.open_drawer,
        };
        let a = jobs::submit(&self.shared, req).await.map_err(status)?;
        Ok(Response::new(pb::SubmitReply {
            job: Some(job(a.job)),
            created: a.created,
            replaced: a.replaced.iter().map(char::to_string).collect(),
        }))
    }

    async fn get_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let id = request.into_inner().id;
        let i = id.clone();
        match self.shared.q(move |q| q.get(&i)).await {
            Ok(Some(j)) => Ok(Response::new(job(j))),
            Ok(None) => Err(Status::not_found(format!("job {id} not found"))),
            Err(e) => Err(status(Refusal::Storage(e))),
        }
    }

    async fn list_jobs(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsReply>, Status> {
        let r = request.into_inner();
        if self.shared.printer(&r.printer).is_none() {
            return Err(Status::not_found(format!(
                "no printer {:?} here",
                r.printer
            )));
        }
        let limit = if r.limit == 0 {
            20
        } else {
            r.limit.clamp(1, 100)
        };
        let jobs = self
            .shared
            .q(move |q| q.list(Some(&r.printer), None, i64::from(limit)))
            .await
            .map_err(storage)?;
        Ok(Response::new(pb::ListJobsReply {
            jobs: jobs.into_iter().map(job).collect(),
        }))
    }

    async fn reprint(
        &self,
        request: Request<pb::ReprintRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        if uuid::Uuid::parse_str(&r.new_id).is_err() {
            return Err(Status::invalid_argument(format!(
                "new_id {:?} is not a UUID",
                r.new_id
            )));
        }
        let j = jobs::reprint(&self.shared, r.id, r.new_id)
            .await
            .map_err(storage)?;
        Ok(Response::new(job(j)))
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let id = request.into_inner().id;
        let j = self
            .shared
            .q(move |q| q.cancel(&id, crate::now_ms()))
            .await
            .map_err(storage)?;
        Ok(Response::new(job(j)))
    }

    async fn set_printers(
        &self,
        request: Request<pb::SetPrintersRequest>,
    ) -> Result<Response<pb::Printers>, Status> {
        let set = request
            .into_inner()
            .printers
            .into_iter()
            .map(wire::config)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.shared.set_managed(set).await.map_err(|r| match r {
            SetRefusal::Invalid(m) => Status::invalid_argument(m),
            SetRefusal::Taken(m) => Status::already_exists(m),
            SetRefusal::Busy(m) => Status::failed_precondition(m),
            SetRefusal::Storage(e) => status(Refusal::Storage(e)),
        })?;
        Ok(Response::new(printers(&self.shared).await))
    }

    async fn list_printers(
        &self,
        _: Request<pb::ListPrintersRequest>,
    ) -> Result<Response<pb::Printers>, Status> {
        Ok(Response::new(printers(&self.shared).await))
    }
}

/// The PrintService's door: with `hw.token` set, a call must carry
/// `authorization: Bearer TOKEN`.
#[allow(clippy::result_large_err)] // tonic's interceptor signature
pub fn check_token(
    token: &str,
    req: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    if token.is_empty() {
        return Ok(req);
    }
    let given = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if crate::token_matches(token, given) {
        Ok(req)
    } else {
        Err(tonic::Status::unauthenticated(
            "send hw-proxy's token (hw.token) as `authorization: Bearer …`",
        ))
    }
}
