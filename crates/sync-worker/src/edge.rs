//! Edge mode: push the outbox to the cloud.
//!
//! A session says hello (learning what the cloud acknowledged and whether this
//! database was rewound), then pushes batches — one per stream, the sales
//! stream first, up to `batch_events` events or `batch_bytes` bytes each —
//! with up to `in_flight` pushes outstanding. Acknowledgements are recorded
//! locally in send order, so the recorded position of a stream never passes
//! a batch that was not acknowledged. Any error ends the session; the next
//! one starts after an exponential, jittered wait and resumes from the
//! acknowledged positions, so an interrupted batch is simply sent again (the
//! cloud applies each event once by its id).

use crate::convert;
use outpost_proto::sync_v1::sync_service_client::SyncServiceClient;
use outpost_proto::sync_v1::{
    EventAtRequest, EventBatch, HelloReply, HelloRequest, PullRequest, PushRequest, StreamPosition,
};
use outpost_storage::{Db, StorageError, sync};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// Streams in the order their batches go: orders and payments first.
pub const PRIORITY: [&str; 6] = ["sales", "stock", "kitchen", "shifts", "master", "audit"];

/// Largest message either side accepts.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct EdgeConfig {
    /// `https://host:port` of the cloud's SyncService.
    pub cloud_url: String,
    /// `<store id>.<secret>`. Never logged.
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
    /// Refuses settings that cannot work, with the reason.
    pub fn check(&self) -> Result<(), String> {
        if !self.cloud_url.starts_with("https://") {
            return Err(format!(
                "sync.cloud_url must be an https:// URL (the link carries the store's data and credential), not {:?}",
                self.cloud_url
            ));
        }
        let Some((id, secret)) = self.credential.split_once('.') else {
            return Err("sync.credential must be \"<store id>.<secret>\" as `outpost cloud store-add` printed it".into());
        };
        if id.is_empty() || secret.len() < 32 {
            return Err(
                "sync.credential looks truncated: expected \"<store id>.<64 hex digits>\"".into(),
            );
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot reach the cloud: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("the cloud answered: {}", .0.message())]
    Status(#[from] tonic::Status),
    #[error("local database: {0}")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Config(String),
    #[error("a database task failed")]
    Join,
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

/// Connects to the cloud with TLS and the store's credential.
pub async fn connect(cfg: &EdgeConfig) -> Result<Client, SyncError> {
    cfg.check().map_err(SyncError::Config)?;
    let mut tls = ClientTlsConfig::new();
    tls = match &cfg.ca_pem {
        Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
        None => tls.with_native_roots(),
    };
    if let Some(d) = &cfg.tls_domain {
        tls = tls.domain_name(d.clone());
    }
    let channel = Endpoint::from_shared(cfg.cloud_url.clone())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_while_idle(true)
        .tls_config(tls)?
        .connect()
        .await?;
    let auth: MetadataValue<Ascii> =
        format!("Bearer {}", cfg.credential).parse().map_err(|_| {
            SyncError::Config("sync.credential has characters a header cannot carry".into())
        })?;
    Ok(SyncServiceClient::with_interceptor(channel, Auth(auth))
        .send_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

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
    let mut wait = cfg.backoff_min;
    loop {
        let started = std::time::Instant::now();
        let err = match session(&db, &cfg, &wake).await {
            Ok(()) => continue,
            Err(e) => e,
        };
        let msg = err.to_string();
        tracing::warn!(error = %msg, "sync with the cloud interrupted");
        let _ = blocking(&db, move |c| sync::record_attempt(c, Err(&msg))).await;
        if started.elapsed() > Duration::from_secs(30) {
            wait = cfg.backoff_min; // a long session was healthy: start over
        }
        tokio::time::sleep(jitter(wait)).await;
        wait = (wait * 2).min(cfg.backoff_max);
    }
}

/// Full jitter in [wait/2, wait], so stores that lost the link together do
/// not all come back in the same instant.
fn jitter(wait: Duration) -> Duration {
    let mut b = [0u8; 4];
    let r = if getrandom::fill(&mut b).is_ok() {
        u32::from_le_bytes(b)
    } else {
        0
    };
    let half = wait / 2;
    half + half.mul_f64(f64::from(r) / f64::from(u32::MAX))
}

/// One connected session: hello, then push until an error.
async fn session(db: &Db, cfg: &EdgeConfig, wake: &Notify) -> Result<(), SyncError> {
    let mut client = connect(cfg).await?;
    let (epoch, mut after) = handshake(db, cfg, &mut client).await?;
    blocking(db, |c| sync::record_attempt(c, Ok(()))).await?;
    let store_id = hello_request(db, cfg, &epoch).await?.store_id;
    pull(db, &mut client, &store_id).await?;
    let mut last_pull = std::time::Instant::now();
    let mut last_ok = std::time::Instant::now();
    let mut sent = after.clone();
    let mut flight: VecDeque<tokio::task::JoinHandle<Result<Vec<StreamPosition>, tonic::Status>>> =
        VecDeque::new();
    loop {
        // Fill the pipe.
        while flight.len() < cfg.in_flight.max(1) {
            let batches = next_batches(db, cfg, &epoch, &sent).await?;
            if batches.is_empty() {
                break;
            }
            for b in &batches {
                if let Some(e) = b.events.last() {
                    sent.insert(b.stream.clone(), e.position);
                }
            }
            let store_id = batches[0].store_id.clone();
            let mut client = client.clone();
            let req = PushRequest {
                store_id,
                node_epoch: epoch.clone(),
                batches,
            };
            flight.push_back(tokio::spawn(async move {
                client.push(req).await.map(|r| r.into_inner().acked)
            }));
        }
        let Some(front) = flight.pop_front() else {
            if last_pull.elapsed() >= cfg.pull_interval {
                pull(db, &mut client, &store_id).await?;
                last_pull = std::time::Instant::now();
                last_ok = last_pull;
            }
            if last_ok.elapsed() > Duration::from_secs(10) {
                // Idle but connected: say so now and then (health shows it).
                client.hello(hello_request(db, cfg, &epoch).await?).await?;
                blocking(db, |c| sync::record_attempt(c, Ok(()))).await?;
                last_ok = std::time::Instant::now();
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(cfg.interval) => {}
            }
            continue;
        };
        let acked = match front.await {
            Ok(r) => r,
            Err(_) => return Err(SyncError::Join),
        };
        let acked = match acked {
            Ok(a) => a,
            Err(e) => {
                for f in flight {
                    f.abort();
                }
                return Err(e.into());
            }
        };
        let e2 = epoch.clone();
        let acked2 = acked.clone();
        blocking(db, move |c| {
            for a in &acked2 {
                sync::record_ack(c, &e2, &a.stream, a.position, &a.event_id)?;
            }
            if last_ok_due() {
                sync::record_attempt(c, Ok(()))?;
            }
            Ok(())
        })
        .await?;
        for a in acked {
            after.insert(a.stream, a.position);
        }
        last_ok = std::time::Instant::now();
    }
}

/// Pulls master data until the cloud has no more, applying each reply in one
/// transaction with the cursor.
async fn pull(db: &Db, client: &mut Client, store_id: &str) -> Result<(), SyncError> {
    loop {
        let cursor = blocking(db, outpost_storage::master::cursor).await?;
        let reply = client
            .pull(PullRequest {
                store_id: store_id.to_owned(),
                cursor,
                limit: 500,
            })
            .await?
            .into_inner();
        if reply.changes.is_empty() {
            return Ok(());
        }
        let changes: Vec<outpost_storage::master::Change> = reply
            .changes
            .into_iter()
            .map(|c| outpost_storage::master::Change {
                cursor: c.cursor,
                kind: c.kind,
                hlc: c.hlc,
                body: String::from_utf8_lossy(&c.body).into_owned(),
            })
            .collect();
        let to = reply.cursor;
        let applied =
            blocking(db, move |c| outpost_storage::master::apply(c, &changes, to)).await?;
        tracing::info!(?applied, cursor = to, "master data from the cloud applied");
    }
}

/// Records "online" at most about once a second (it is a write).
fn last_ok_due() -> bool {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = outpost_storage::db::now_millis();
    let prev = LAST.load(Ordering::Relaxed);
    now - prev >= 1000
        && LAST
            .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// The next batch of each stream after `sent`, sales first, within about two
/// batches' worth of bytes per push.
async fn next_batches(
    db: &Db,
    cfg: &EdgeConfig,
    epoch: &str,
    sent: &BTreeMap<String, i64>,
) -> Result<Vec<EventBatch>, SyncError> {
    let sent = sent.clone();
    let (max_events, max_bytes) = (cfg.batch_events, cfg.batch_bytes);
    let epoch = epoch.to_owned();
    blocking(db, move |c| {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for stream in PRIORITY {
            if bytes >= max_bytes.saturating_mul(2) {
                break;
            }
            let after = sent.get(stream).copied().unwrap_or(0);
            let events = sync::batch(c, stream, after, max_events, max_bytes)?;
            if events.is_empty() {
                continue;
            }
            bytes += events.iter().map(|e| e.payload.len() + 256).sum::<usize>();
            let store_id = events[0].store_id.clone();
            out.push(EventBatch {
                store_id,
                stream: stream.to_owned(),
                events: events
                    .into_iter()
                    .map(|e| convert::envelope(e, &epoch))
                    .collect(),
            });
        }
        Ok(out)
    })
    .await
}

async fn hello_request(db: &Db, cfg: &EdgeConfig, _epoch: &str) -> Result<HelloRequest, SyncError> {
    let (store_id, ep) = blocking(db, |c| Ok((sync::store_id(c)?, sync::epoch(c)?))).await?;
    let (parent_epoch, fork) = match &ep.parent {
        Some(p) => (
            p.node_epoch.clone(),
            p.fork
                .iter()
                .map(|(s, pos)| StreamPosition {
                    stream: s.clone(),
                    position: *pos,
                    event_id: String::new(),
                })
                .collect(),
        ),
        None => (String::new(), Vec::new()),
    };
    Ok(HelloRequest {
        store_id,
        node_epoch: ep.node_epoch,
        parent_epoch,
        fork,
        schema_version: outpost_storage::outbox::SCHEMA_VERSION,
        software_version: cfg.software_version.clone(),
        clock_ms: outpost_storage::db::now_millis(),
    })
}

/// Says hello and settles the epoch: when the cloud holds a history this
/// database does not continue (it was restored from a backup, cloned, or
/// replaced), the database enters a new epoch forked where both agree, and
/// says hello again. Returns the epoch and, per stream, the position to push
/// after.
async fn handshake(
    db: &Db,
    cfg: &EdgeConfig,
    client: &mut Client,
) -> Result<(String, BTreeMap<String, i64>), SyncError> {
    for _ in 0..3 {
        let req = hello_request(db, cfg, "").await?;
        let local_epoch = req.node_epoch.clone();
        let store_id = req.store_id.clone();
        let reply = client.hello(req).await?.into_inner();
        let HelloReply {
            node_epoch: cloud_epoch,
            acked,
            ..
        } = reply;
        let verdict = {
            let acked = acked.clone();
            let cloud_epoch = cloud_epoch.clone();
            let local_epoch = local_epoch.clone();
            blocking(db, move |c| {
                if cloud_epoch != local_epoch {
                    return Ok(Some(format!(
                        "the cloud holds epoch {cloud_epoch} for this store, and this database is in {local_epoch}"
                    )));
                }
                for a in &acked {
                    if a.position == 0 || a.event_id.is_empty() {
                        continue;
                    }
                    let mine = sync::event_id_at(c, &a.stream, a.position)?;
                    if mine.as_deref() != Some(a.event_id.as_str()) {
                        return Ok(Some(format!(
                            "the cloud acknowledged {} up to position {} ({}), which this database {}",
                            a.stream,
                            a.position,
                            a.event_id,
                            if mine.is_some() { "holds a different event at" } else { "does not reach" }
                        )));
                    }
                }
                Ok(None)
            })
            .await?
        };
        match verdict {
            None => {
                // Resume from our own record: it is kept in send order, so it
                // never passes a batch the cloud did not take (the cloud's
                // figure may, with several pushes in flight).
                let local = blocking(db, sync::acks).await?;
                let mut after = BTreeMap::new();
                for s in PRIORITY {
                    let mine = local
                        .get(s)
                        .filter(|a| a.node_epoch == local_epoch)
                        .map_or(0, |a| a.position);
                    after.insert(s.to_owned(), mine);
                }
                return Ok((local_epoch, after));
            }
            Some(why) if cloud_epoch.is_empty() => {
                return Err(SyncError::Config(format!("unexpected hello: {why}")));
            }
            Some(why) => {
                tracing::warn!(
                    "this database was rewound or replaced: {why}; moving it to a new epoch"
                );
                let fork = find_fork(db, client, &store_id, &cloud_epoch, &acked).await?;
                let reason = why.clone();
                let parent = cloud_epoch.clone();
                let fresh =
                    blocking(db, move |c| sync::enter_epoch(c, &parent, &fork, &reason)).await?;
                tracing::warn!(epoch = %fresh, parent = %cloud_epoch, "entered a new epoch");
            }
        }
    }
    Err(SyncError::Config(
        "the cloud did not accept this store's new epoch; see the cloud's alarms".into(),
    ))
}

/// Per stream, the last position where this database and the cloud's epoch
/// hold the same event (binary search: histories agree on a prefix).
async fn find_fork(
    db: &Db,
    client: &mut Client,
    store_id: &str,
    cloud_epoch: &str,
    acked: &[StreamPosition],
) -> Result<BTreeMap<String, i64>, SyncError> {
    let mut fork = BTreeMap::new();
    for stream in PRIORITY {
        let cloud_head = acked
            .iter()
            .find(|a| a.stream == stream)
            .map_or(0, |a| a.position);
        let local_head = blocking(db, move |c| sync::head(c, stream)).await?;
        let (mut lo, mut hi) = (0i64, cloud_head.min(local_head));
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            let theirs = client
                .event_at(EventAtRequest {
                    store_id: store_id.to_owned(),
                    node_epoch: cloud_epoch.to_owned(),
                    stream: stream.to_owned(),
                    position: mid,
                })
                .await?
                .into_inner()
                .event_id;
            let mine = blocking(db, move |c| sync::event_id_at(c, stream, mid)).await?;
            if !theirs.is_empty() && mine.as_deref() == Some(theirs.as_str()) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        fork.insert(stream.to_owned(), lo);
    }
    Ok(fork)
}
