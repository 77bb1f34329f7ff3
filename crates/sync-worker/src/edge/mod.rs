//! Edge mode: push the outbox to the cloud, and keep the link alive.
//!
//! A session opens the link (TCP, TLS and HTTP/2 under one deadline), says
//! hello (learning what the cloud acknowledged and whether this database was
//! rewound), then pushes batches — one per stream, the sales stream first, up
//! to `batch_events` events or `batch_bytes` bytes each — with up to
//! `in_flight` pushes outstanding, while a heartbeat goes every few seconds
//! whatever else the session is doing. Acknowledgements are recorded locally
//! in send order, so the recorded position of a stream never passes a batch
//! that was not acknowledged.
//!
//! Any failure ends the session and its channel; the next session opens a
//! fresh one. Between sessions the worker waits an exponential, jittered
//! backoff — cut short, when the link itself failed, as soon as a cheap probe
//! (a TCP connect) finds the cloud's address answering again — and resumes
//! from the acknowledged positions, so an interrupted batch is simply sent
//! again (the cloud applies each event once by its id). Nothing here can hang
//! for good: every step has a deadline from [`EdgeConfig`].

mod epoch;
mod link;
mod session;

pub use link::connect;

use outpost_proto::sync_v1::sync_service_client::SyncServiceClient;
use outpost_storage::{Db, StorageError, sync};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Largest message either side accepts.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct EdgeConfig {
    /// `https://host:port` of the cloud's SyncService.
    pub cloud_url: String,
    /// `<store id>.<secret>` as the settings give it. Never logged. A
    /// credential the cloud rotated since is kept in the database and used
    /// instead, until the settings name another one.
    pub credential: String,
    /// PEM of the private CA that signed the cloud's certificate; `None` = the
    /// system's roots.
    pub ca_pem: Option<Vec<u8>>,
    pub tls_domain: Option<String>,
    pub batch_events: i64,
    pub batch_bytes: usize,
    pub in_flight: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub interval: Duration,
    /// How often to ask for master data while connected.
    pub pull_interval: Duration,
    /// Deadline for opening the link: TCP connect, TLS handshake and HTTP/2
    /// set-up together.
    pub connect_timeout: Duration,
    /// Deadline for each call (hello, a push of a full batch, a pull).
    pub call_timeout: Duration,
    /// A heartbeat goes this often, whatever else the session does; it is
    /// also each heartbeat's deadline, so a silent link is noticed within
    /// two of these.
    pub heartbeat: Duration,
    /// While waiting to retry after the link failed, how often a TCP connect
    /// checks whether the cloud's address answers again.
    pub probe_interval: Duration,
    pub software_version: String,
}

impl std::fmt::Debug for EdgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeConfig")
            .field("cloud_url", &self.cloud_url)
            .field("batch_events", &self.batch_events)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl EdgeConfig {
    /// Settings for `cloud_url` and `credential` with the shipped timers.
    pub fn new(cloud_url: &str, credential: &str) -> EdgeConfig {
        EdgeConfig {
            cloud_url: cloud_url.to_owned(),
            credential: credential.to_owned(),
            ca_pem: None,
            tls_domain: None,
            batch_events: 1000,
            batch_bytes: 1 << 20,
            in_flight: 4,
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            interval: Duration::from_millis(250),
            pull_interval: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(60),
            heartbeat: Duration::from_secs(5),
            probe_interval: Duration::from_secs(2),
            software_version: String::new(),
        }
    }

    /// Refuses settings that cannot work, with the reason.
    pub fn check(&self) -> Result<(), String> {
        if !self.cloud_url.starts_with("https://") {
            return Err(format!(
                "sync.cloud_url must be an https:// URL (the link carries the store's data and credential), not {:?}",
                self.cloud_url
            ));
        }
        check_credential(&self.credential)
    }
}

fn check_credential(credential: &str) -> Result<(), String> {
    let Some((id, secret)) = credential.split_once('.') else {
        return Err(
            "sync.credential must be \"<store id>.<secret>\" as `outpost cloud store-add` printed it"
                .into(),
        );
    };
    if id.is_empty() || secret.len() < 32 {
        return Err(
            "sync.credential looks truncated: expected \"<store id>.<64 hex digits>\"".into(),
        );
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot reach the cloud: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("{0} timed out after {1:?}")]
    Timeout(&'static str, Duration),
    #[error("the cloud answered: {}", .0.message())]
    Status(#[from] tonic::Status),
    #[error("local database: {0}")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Config(String),
    #[error("a database task failed")]
    Join,
}

impl SyncError {
    /// The link failed (unreachable, silent, reset, timed out), as opposed
    /// to the cloud answering and refusing: a link failure is retried as soon
    /// as the cloud's address answers again, a refusal only after the full
    /// backoff (it will not change by itself within seconds).
    pub fn is_link(&self) -> bool {
        use tonic::Code;
        match self {
            SyncError::Transport(_) | SyncError::Timeout(..) => true,
            // A cloud that answers "busy" (its database or queue is away)
            // is reachable: probing its port would not tell when to retry.
            SyncError::Status(s) if s.metadata().contains_key("x-outpost-cloud-busy") => false,
            SyncError::Status(s) => matches!(
                s.code(),
                Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
            ),
            SyncError::Storage(_) | SyncError::Config(_) | SyncError::Join => false,
        }
    }
}

/// Adds the store's credential to every call.
#[derive(Clone)]
pub struct Auth(MetadataValue<Ascii>);

impl Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

pub type Client = SyncServiceClient<InterceptedService<Channel, Auth>>;

async fn blocking<T: Send + 'static>(
    db: &Db,
    f: impl FnOnce(&mut outpost_storage::AnyConnection) -> outpost_storage::Result<T> + Send + 'static,
) -> Result<T, SyncError> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = db.conn()?;
        f(&mut c)
    })
    .await
    .map_err(|_| SyncError::Join)?
    .map_err(SyncError::from)
}

/// Runs sessions forever, waiting between failed ones. `wake` is notified
/// when the relay positioned new events.
pub async fn run(db: Db, cfg: EdgeConfig, wake: Arc<Notify>) {
    if let Err(e) = cfg.check() {
        tracing::error!("sync disabled: {e}");
        return;
    }
    if let Err(e) = blocking(&db, sync::record_start).await {
        tracing::warn!(error = %e, "could not record the sync status");
    }
    let mut wait = cfg.backoff_min;
    loop {
        let started = Instant::now();
        let err = match session::run(&db, &cfg, &wake).await {
            Ok(()) => continue, // e.g. a rotated credential: reconnect with it now
            Err(e) => e,
        };
        let msg = err.to_string();
        tracing::warn!(error = %msg, "sync with the cloud interrupted");
        let _ = blocking(&db, move |c| sync::record_attempt(c, Err(&msg))).await;
        if started.elapsed() > Duration::from_secs(30) {
            wait = cfg.backoff_min; // a long session was healthy: start over
        }
        link::wait_to_retry(&cfg, wait, err.is_link()).await;
        wait = (wait * 2).min(cfg.backoff_max);
    }
}
