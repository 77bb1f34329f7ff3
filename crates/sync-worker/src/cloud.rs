//! Cloud mode: consume the ingestion queue, apply each batch to the central
//! database in one transaction, ack after the commit.

use crate::convert;
use outpost_proto::sync_v1::EventBatch;
use outpost_storage::cloud::{CloudDb, apply_batch};
use prometheus::{IntCounterVec, Opts, Registry};
use prost::Message;

#[derive(Clone)]
pub struct WorkerMetrics {
    pub registry: Registry,
    /// Events by outcome: applied, duplicate, rejected, held.
    pub events: IntCounterVec,
}

impl WorkerMetrics {
    pub fn new() -> WorkerMetrics {
        let registry = Registry::new();
        let events = IntCounterVec::new(
            Opts::new(
                "outpost_sync_applied_events_total",
                "Events handled by the cloud sync-worker, by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(events.clone()))
            .expect("unique metric");
        WorkerMetrics { registry, events }
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("database: {0}")]
    Storage(#[from] outpost_storage::StorageError),
    #[error("apply task failed")]
    Join,
}

/// Applies one queued message (an encoded `EventBatch`). A message that does
/// not decode is logged and dropped: it can never apply, and the api only
/// publishes batches it decoded itself.
pub async fn apply_message(
    db: &CloudDb,
    metrics: &WorkerMetrics,
    body: Vec<u8>,
) -> Result<(), ApplyError> {
    let batch = match EventBatch::decode(body.as_slice()) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, bytes = body.len(), "undecodable message in the ingestion queue: dropped");
            return Ok(());
        }
    };
    let store = batch.store_id.clone();
    let stream = batch.stream.clone();
    let events: Vec<_> = batch.events.into_iter().map(convert::incoming).collect();
    let db = db.clone();
    let report = tokio::task::spawn_blocking(move || {
        let mut c = db.conn()?;
        apply_batch(&mut c, &store, &stream, events)
    })
    .await
    .map_err(|_| ApplyError::Join)??;
    let m = &metrics.events;
    m.with_label_values(&["applied"])
        .inc_by(report.applied as u64);
    m.with_label_values(&["duplicate"])
        .inc_by(report.duplicates as u64);
    m.with_label_values(&["rejected"])
        .inc_by(report.rejected as u64);
    m.with_label_values(&["held"]).inc_by(report.held as u64);
    Ok(())
}

/// Consumes forever.
pub async fn run(db: CloudDb, amqp_url: String, prefetch: u16, metrics: WorkerMetrics) -> ! {
    outpost_bus::consume(&amqp_url, prefetch, |body| {
        let (db, metrics) = (db.clone(), metrics.clone());
        async move { apply_message(&db, &metrics, body).await }
    })
    .await
}
