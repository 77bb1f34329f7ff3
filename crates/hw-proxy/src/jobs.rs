//! Taking a job in, the same way over HTTP and gRPC: check it, encode it
//! for its printer, queue it once per id and wake the printer's worker.

use crate::now_ms;
use crate::printq::{Job, NewJob, QueueError, Submitted};
use crate::worker::Shared;
use outpost_receipt::document::{self, KitchenTicket, Receipt};
use outpost_receipt::render::render;
use serde::{Deserialize, Serialize};

/// A job as the api or a register sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The caller's idempotency id (a UUID): a retry returns the same job.
    pub id: String,
    pub printer: String,
    /// receipt | kitchen | drawer
    pub kind: String,
    #[serde(default)]
    pub receipt: Option<Receipt>,
    #[serde(default)]
    pub ticket: Option<KitchenTicket>,
    /// With a receipt: kick the drawer first (a cash sale).
    #[serde(default)]
    pub open_drawer: bool,
}

/// Why a job is refused.
#[derive(Debug)]
pub enum Refusal {
    UnknownPrinter(String),
    Invalid(String),
    Storage(QueueError),
}

fn encode(req: &JobRequest, shared: &Shared) -> Result<(NewJob, Vec<char>), Refusal> {
    let invalid = Refusal::Invalid;
    if uuid::Uuid::parse_str(&req.id).is_err() {
        return Err(invalid(format!("job id {:?} is not a UUID", req.id)));
    }
    let Some(printer) = shared.printer(&req.printer) else {
        return Err(Refusal::UnknownPrinter(format!(
            "no printer {:?} here; this hw-proxy drives {:?}",
            req.printer,
            shared
                .printers()
                .iter()
                .map(|p| p.config.id.as_str())
                .collect::<Vec<_>>()
        )));
    };
    let encoded = match (req.kind.as_str(), &req.receipt, &req.ticket) {
        ("receipt", Some(r), None) => document::receipt(r, &printer.profile, req.open_drawer),
        ("kitchen", None, Some(t)) if !req.open_drawer => {
            document::kitchen_ticket(t, &printer.profile)
        }
        ("drawer", None, None) => Ok(document::drawer_kick()),
        ("receipt", ..) => {
            return Err(invalid(
                "kind receipt takes a receipt and nothing else".into(),
            ));
        }
        ("kitchen", ..) => {
            return Err(invalid(
                "kind kitchen takes a ticket and nothing else".into(),
            ));
        }
        ("drawer", ..) => return Err(invalid("kind drawer takes no document".into())),
        (k, ..) => {
            return Err(invalid(format!(
                "unknown kind {k:?}: receipt, kitchen or drawer"
            )));
        }
    }
    .map_err(|e| invalid(e.to_string()))?;
    let preview = render(&encoded.bytes).text();
    Ok((
        NewJob {
            id: req.id.clone(),
            printer: req.printer.clone(),
            kind: req.kind.clone(),
            request: serde_json::to_vec(req).unwrap_or_default(),
            payload: encoded.bytes,
            preview,
            fallback: None,
        },
        encoded.replaced,
    ))
}

/// A job taken in.
#[derive(Debug)]
pub struct Accepted {
    pub job: Job,
    /// False when the id was already queued (a retry).
    pub created: bool,
    pub replaced: Vec<char>,
}

pub async fn submit(shared: &Shared, req: JobRequest) -> Result<Accepted, Refusal> {
    let (job, replaced) = encode(&req, shared)?;
    let printer = job.printer.clone();
    match shared.q(move |q| q.submit(&job, now_ms())).await {
        Ok(Submitted::New(job)) => {
            if let Some(p) = shared.printer(&printer) {
                p.wake.notify_one();
            }
            if !replaced.is_empty() {
                tracing::warn!(job = %job.id, ?replaced, "characters no code page of the printer holds print as ?");
            }
            Ok(Accepted {
                job,
                created: true,
                replaced,
            })
        }
        Ok(Submitted::Again(job)) => Ok(Accepted {
            job,
            created: false,
            replaced,
        }),
        Err(e) => Err(Refusal::Storage(e)),
    }
}

/// A person asks for a job again (see `PrintQueue::reprint`).
pub async fn reprint(shared: &Shared, id: String, new_id: String) -> Result<Job, QueueError> {
    let j = shared.q(move |q| q.reprint(&id, &new_id, now_ms())).await?;
    if let Some(p) = shared.printer(&j.printer) {
        p.wake.notify_one();
    }
    tracing::info!(job = %j.id, of = ?j.reprint_of, "reprint asked");
    Ok(j)
}

/// Every printer with the jobs waiting on it.
pub async fn printers(
    shared: &Shared,
) -> Vec<(
    std::sync::Arc<crate::worker::Printer>,
    crate::printq::Counts,
)> {
    let mut out = Vec::new();
    for p in shared.printers() {
        let id = p.config.id.clone();
        let counts = shared.q(move |q| q.counts(&id)).await.unwrap_or_default();
        out.push((p, counts));
    }
    out
}
