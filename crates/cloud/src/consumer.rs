//! Cloud mode: consume the ingestion queue, apply each batch to the central
//! database in one transaction, ack after the commit; park a batch that
//! keeps failing, so the queue goes on.

use crate::db::{CloudDb, Incoming, apply_batch};
use outpost_proto::sync_v1::EventBatch;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use prost::Message;

#[derive(Clone)]
pub struct WorkerMetrics {
    pub registry: Registry,
    /// Events by outcome: applied, duplicate, rejected, held, parked.
    pub events: IntCounterVec,
    /// Batches parked after their delivery limit.
    pub parked: IntCounter,
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
        let parked = IntCounter::new(
            "outpost_sync_parked_batches_total",
            "Batches the cloud sync-worker parked after its delivery limit",
        )
        .expect("valid metric");
        registry
            .register(Box::new(events.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(parked.clone()))
            .expect("unique metric");
        WorkerMetrics {
            registry,
            events,
            parked,
        }
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{}", storage_reason(.0))]
    Storage(#[from] crate::CloudError),
    #[error("apply task failed (it panicked)")]
    Join,
    /// The apply failed and the database refuses writes altogether (a
    /// read-only failover, a full disk): the message is not to blame.
    #[error("the central database takes no writes now: {0}")]
    CannotWrite(String),
}

/// The database's own words, which the storage error hides, for the reason
/// a parked batch shows.
fn storage_reason(e: &crate::CloudError) -> String {
    format!("database: {}", crate::db::db_reason(e))
}

impl outpost_bus::HandleError for ApplyError {
    /// An unreachable database says nothing about the batch: it must not
    /// bring the batch closer to being parked.
    fn counts(&self) -> bool {
        match self {
            ApplyError::Storage(e) => !e.is_unreachable(),
            // The apply panicked: the message did it, and will again.
            ApplyError::Join => true,
            ApplyError::CannotWrite(_) => false,
        }
    }
}

async fn on_db<T: Send + 'static>(
    db: &CloudDb,
    f: impl FnOnce(&mut crate::db::CloudConn) -> crate::error::Result<T> + Send + 'static,
) -> Result<T, ApplyError> {
    let db = db.clone();
    Ok(tokio::task::spawn_blocking(move || {
        let mut c = db.conn()?;
        f(&mut c)
    })
    .await
    .map_err(|_| ApplyError::Join)??)
}

/// Applies one queued message (an encoded `EventBatch`). A message that does
/// not decode can never apply: it fails, and after the delivery limit it is
/// parked as it is.
pub async fn apply_message(
    db: &CloudDb,
    metrics: &WorkerMetrics,
    body: Vec<u8>,
) -> Result<(), ApplyError> {
    let batch = EventBatch::decode(body.as_slice()).map_err(|e| {
        crate::CloudError::Corrupt(format!("the queued message does not decode: {e}"))
    })?;
    let store = batch.store_id.clone();
    let stream = batch.stream.clone();
    let events: Vec<_> = batch.events.into_iter().map(Incoming::from).collect();
    let report = match on_db(db, move |c| apply_batch(c, &store, &stream, events)).await {
        Ok(r) => r,
        Err(e) if outpost_bus::HandleError::counts(&e) => {
            // Blame the message only if the database takes other writes.
            if let Err(w) = on_db(db, crate::db::can_write).await {
                return Err(ApplyError::CannotWrite(w.to_string()));
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
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

/// Parks a message that failed `attempts` times (see
/// `crate::db::park_batch`).
pub async fn park_message(
    db: &CloudDb,
    metrics: &WorkerMetrics,
    body: Vec<u8>,
    reason: String,
    attempts: u32,
) -> Result<(), ApplyError> {
    let attempts = attempts.min(i32::MAX as u32) as i32;
    let parked = match EventBatch::decode(body.as_slice()) {
        Ok(batch) => {
            let (store, stream) = (batch.store_id.clone(), batch.stream.clone());
            let events: Vec<_> = batch.events.into_iter().map(Incoming::from).collect();
            tracing::error!(store = %store, stream = %stream, %reason, attempts, "parking a batch that keeps failing");
            on_db(db, move |c| {
                crate::db::park_batch(c, &store, &stream, events, &reason, attempts)
            })
            .await?
        }
        Err(_) => {
            on_db(db, move |c| {
                crate::db::park_message(c, &body, &reason, attempts)
            })
            .await?;
            0
        }
    };
    metrics.parked.inc();
    metrics
        .events
        .with_label_values(&["parked"])
        .inc_by(parked as u64);
    Ok(())
}

/// Consumes forever.
pub async fn run(
    db: CloudDb,
    amqp_url: String,
    delivery: outpost_bus::Delivery,
    metrics: WorkerMetrics,
) -> ! {
    let (db2, metrics2) = (db.clone(), metrics.clone());
    outpost_bus::consume(
        &amqp_url,
        delivery,
        move |body| {
            let (db, metrics) = (db.clone(), metrics.clone());
            async move { apply_message(&db, &metrics, body).await }
        },
        move |body, reason, attempts| {
            let (db, metrics) = (db2.clone(), metrics2.clone());
            async move { park_message(&db, &metrics, body, reason, attempts).await }
        },
    )
    .await
}
