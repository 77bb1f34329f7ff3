//! The gRPC SyncService: stores push their events and say hello here.
//!
//! A push is acknowledged only once it is durable: every batch is published to
//! the quorum queue and confirmed by the broker before the reply, and the
//! acknowledged positions are recorded for the store to resume from. Applying
//! is the cloud sync-worker's job.

use crate::db::{self as cloud, CloudDb};
use crate::refusals::{Logging, Refusals};
use crate::server::CloudMetrics;
use outpost_bus::Publisher;
use outpost_domain::secrets::sha256_hex;
use outpost_proto::sync_v1::sync_service_server::SyncService;
use outpost_proto::sync_v1::{
    CredentialNotice, EventAtReply, EventAtRequest, EventBatch, HeartbeatReply, HeartbeatRequest,
    HelloReply, HelloRequest, MasterChange, PullReply, PullRequest, PushReply, PushRequest,
    RegisterNumber, StreamPosition,
};
use prost::Message;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct Sync {
    pub db: CloudDb,
    pub bus: Arc<Publisher>,
    pub metrics: CloudMetrics,
    pub refusals: Arc<Refusals>,
    /// A credential this close to its expiry is rotated while the store is
    /// connected.
    pub credential_warn_ms: i64,
}

impl std::fmt::Debug for Sync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sync").finish_non_exhaustive()
    }
}

/// The cloud is up but cannot serve now (its database or queue is away):
/// marked, so stores wait their backoff instead of retrying the moment the
/// cloud's port answers (which it does all along).
pub(crate) fn busy(message: &str) -> Status {
    let mut s = Status::unavailable(message);
    s.metadata_mut()
        .insert(BUSY, tonic::metadata::MetadataValue::from_static("1"));
    s
}

/// The metadata key of [`busy`].
pub const BUSY: &str = "x-outpost-cloud-busy";

/// Runs a blocking database call off the async threads.
async fn db<T: Send + 'static>(
    db: &CloudDb,
    f: impl FnOnce(&mut cloud::CloudConn) -> crate::error::Result<T> + Send + 'static,
) -> Result<T, Status> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = db.conn()?;
        f(&mut c)
    })
    .await
    .map_err(|_| Status::internal("database task failed"))?
    .map_err(|e| {
        tracing::error!(error = %e, "cloud database");
        match e {
            crate::CloudError::Pool(_) | crate::CloudError::Connection(_) => {
                busy("the cloud database is unavailable; retry")
            }
            _ => Status::internal("cloud database error"),
        }
    })
}

impl Sync {
    /// The store a credential (`authorization: Bearer <store id>.<secret>`)
    /// belongs to. A refusal is logged with the store the credential names
    /// and the client's address; an address that was refused too often this
    /// minute is refused before the database is asked. The gate
    /// ([`crate::gate`]) calls this before a request's body is read.
    pub(crate) async fn credential(
        &self,
        header: Option<String>,
        addr: Option<std::net::IpAddr>,
    ) -> Result<cloud::Authenticated, Status> {
        let now = Instant::now();
        let digest = header.as_deref().map(|h| sha256_hex(h.as_bytes()));
        if self.refusals.blocked(addr, now)
            && !digest
                .as_deref()
                .is_some_and(|d| self.refusals.vouched(d, now))
        {
            self.metrics
                .refused
                .with_label_values(&["rate-limited"])
                .inc();
            return Err(Status::resource_exhausted(
                "too many refused credentials from this address: wait a minute",
            ));
        }
        let credential = header
            .as_deref()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let named = credential
            .as_deref()
            .and_then(|c| c.split_once('.'))
            .map(|(id, _)| id.chars().take(64).collect::<String>())
            .unwrap_or_default();
        let checked = match credential {
            Some(c) => db(&self.db, move |conn| cloud::authenticate(conn, &c)).await?,
            None => Err(cloud::Refusal::Malformed),
        };
        let a = match checked {
            Ok(a) => a,
            Err(why) => {
                self.metrics
                    .refused
                    .with_label_values(&["credential"])
                    .inc();
                let address = addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
                // Only what looks like guessing counts against the address:
                // a known credential that was revoked, replaced or expired
                // is a store to help, and stores may share an address (NAT).
                let guess = matches!(
                    why,
                    cloud::Refusal::Malformed
                        | cloud::Refusal::UnknownStore
                        | cloud::Refusal::WrongSecret
                );
                let logging = if guess {
                    self.refusals.count(addr, now)
                } else {
                    Logging::Log
                };
                match logging {
                    Logging::Log => {
                        tracing::warn!(store = %named, %address, reason = why.label(), "sync credential refused")
                    }
                    Logging::LimitReached => {
                        tracing::warn!(store = %named, %address, reason = why.label(), "sync credential refused; further refusals from this address are not logged and refused at once for a minute")
                    }
                    Logging::Quiet => {}
                }
                return Err(match why {
                    cloud::Refusal::Expired(at) => Status::unauthenticated(format!(
                        "this store's credential expired at {at} (ms since 1970): ask central ops for a new one (outpost cloud store-credential)"
                    )),
                    cloud::Refusal::Revoked => Status::unauthenticated(
                        "this store's credential was revoked: ask central ops for a new one",
                    ),
                    _ => Status::unauthenticated(
                        "unknown or wrong store credential: send authorization: Bearer <store id>.<secret>",
                    ),
                });
            }
        };
        if a.promoted {
            self.metrics.rotations.inc();
        }
        if let Some(d) = &digest {
            self.refusals.passed(d, now);
        }
        Ok(a)
    }

    /// The store the request's credential belongs to (as the gate found it,
    /// or checked now when the service runs without the gate), and that it
    /// speaks for `claimed`: a store can only push and pull its own data.
    async fn store<T>(
        &self,
        req: &Request<T>,
        claimed: &str,
    ) -> Result<cloud::Authenticated, Status> {
        let addr = req.remote_addr().map(|a| a.ip());
        let a = match req.extensions().get::<cloud::Authenticated>() {
            Some(a) => a.clone(),
            None => {
                let header = req
                    .metadata()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                self.credential(header, addr).await?
            }
        };
        if a.store_id != claimed {
            self.metrics
                .refused
                .with_label_values(&["other-store"])
                .inc();
            tracing::warn!(store = %a.store_id, claimed, address = ?addr, "a store's credential was used for another store");
            return Err(Status::permission_denied(
                "this credential belongs to another store",
            ));
        }
        Ok(a)
    }

    /// What to tell the store about its credential (a rotated one, when due).
    async fn notice(&self, a: &cloud::Authenticated) -> Result<Option<CredentialNotice>, Status> {
        let (a, warn) = (a.clone(), self.credential_warn_ms);
        let n = db(&self.db, move |c| cloud::credentials::notice(c, &a, warn)).await?;
        Ok(Some(CredentialNotice {
            rotated: n.rotated.unwrap_or_default(),
            expires_at_ms: n.expires_at.unwrap_or(0),
        }))
    }
}

/// The order numbers in a push's order events (read from one field only).
fn order_numbers(batches: &[&EventBatch]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Numbered {
        number: String,
    }
    batches
        .iter()
        .flat_map(|b| &b.events)
        .filter(|e| e.aggregate_type == "order")
        .filter_map(|e| serde_json::from_slice::<Numbered>(&e.payload).ok())
        .map(|n| n.number)
        .collect()
}

fn pos(stream: &str, position: i64, event_id: &str) -> StreamPosition {
    StreamPosition {
        stream: stream.to_owned(),
        position,
        event_id: event_id.to_owned(),
    }
}

/// Checks a batch before anything is published: a bad batch is refused whole,
/// so the store sees the error and nothing half-arrives.
fn check_batch(store: &str, epoch: &str, b: &EventBatch, accepted: &[i32]) -> Result<(), Status> {
    let bad = |m: String| Err(Status::invalid_argument(m));
    if b.store_id != store {
        return bad(format!(
            "a batch of store {} in store {store}'s push",
            b.store_id
        ));
    }
    if b.stream.parse::<outpost_domain::Stream>().is_err() {
        return bad(format!("unknown stream {:?}", b.stream));
    }
    let mut last = 0i64;
    for e in &b.events {
        if e.store_id != store {
            return bad(format!(
                "event {} belongs to store {}",
                e.event_id, e.store_id
            ));
        }
        if e.stream != b.stream {
            return bad(format!(
                "event {} of stream {} in a {} batch",
                e.event_id, e.stream, b.stream
            ));
        }
        if e.node_epoch != epoch {
            return bad(format!(
                "event {} is of epoch {}, the push of {epoch}",
                e.event_id, e.node_epoch
            ));
        }
        if e.position <= last {
            return bad(format!(
                "{} positions must increase ({} after {last})",
                b.stream, e.position
            ));
        }
        last = e.position;
        if uuid::Uuid::parse_str(&e.event_id).is_err() {
            return bad(format!("event id {:?} is not a UUID", e.event_id));
        }
        if sha256_hex(&e.payload) != e.payload_sha256 {
            return bad(format!(
                "event {}: the payload does not match its sha256",
                e.event_id
            ));
        }
        if std::str::from_utf8(&e.payload).is_err() {
            return bad(format!(
                "event {}: the payload is not UTF-8 JSON",
                e.event_id
            ));
        }
        if !accepted.contains(&e.schema_version) {
            return Err(Status::failed_precondition(format!(
                "event schema version {} is newer than this cloud reads ({accepted:?}): upgrade the cloud; the store keeps the events until then",
                e.schema_version
            )));
        }
    }
    Ok(())
}

#[tonic::async_trait]
impl SyncService for Sync {
    async fn hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let auth = self.store(&req, &req.get_ref().store_id).await?;
        let store = auth.store_id.clone();
        let r = req.into_inner();
        if r.node_epoch.is_empty() {
            return Err(Status::invalid_argument("node_epoch is empty"));
        }
        let (id, code) = (store.clone(), r.store_code.clone());
        if let Some(why) = db(&self.db, move |c| cloud::check_code(c, &id, &code)).await? {
            self.metrics
                .refused
                .with_label_values(&["store-code"])
                .inc();
            return Err(Status::failed_precondition(why));
        }
        let fork: BTreeMap<String, i64> = r
            .fork
            .iter()
            .map(|p| (p.stream.clone(), p.position))
            .collect();
        let parent = r.parent_epoch.clone();
        let (h, numbers) = db(&self.db, move |c| {
            let parent = (!parent.is_empty()).then_some((parent.as_str(), &fork));
            let h = cloud::hello(
                c,
                &store,
                &r.node_epoch,
                parent,
                &r.software_version,
                r.clock_ms,
            )?;
            Ok((h, cloud::register_numbers(c, &store)?))
        })
        .await?;
        Ok(Response::new(HelloReply {
            node_epoch: h.node_epoch,
            acked: h.acked.iter().map(|(s, (p, id))| pos(s, *p, id)).collect(),
            accepted_schema_versions: outpost_domain::ids::accepted_schema_versions(),
            clock_ms: outpost_domain::ids::now_millis(),
            credential: self.notice(&auth).await?,
            registers: numbers
                .into_iter()
                .map(|(register_no, last_seq)| RegisterNumber {
                    register_no,
                    last_seq,
                })
                .collect(),
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatReply>, Status> {
        let auth = self.store(&req, &req.get_ref().store_id).await?;
        let r = req.into_inner();
        let store = auth.store_id.clone();
        db(&self.db, move |c| {
            cloud::heartbeat(
                c,
                &store,
                r.pending_events,
                r.oldest_unsent_age_ms,
                r.clock_ms,
            )
        })
        .await?;
        self.metrics.heartbeats.inc();
        Ok(Response::new(HeartbeatReply {
            clock_ms: outpost_domain::ids::now_millis(),
            credential: self.notice(&auth).await?,
        }))
    }

    async fn push(&self, req: Request<PushRequest>) -> Result<Response<PushReply>, Status> {
        let started = Instant::now();
        let store = self.store(&req, &req.get_ref().store_id).await?.store_id;
        let r = req.into_inner();
        let epoch = r.node_epoch.clone();
        let current = {
            let store = store.clone();
            db(&self.db, move |c| cloud::hello_epoch(c, &store)).await?
        };
        if current != epoch {
            return Err(Status::failed_precondition(format!(
                "epoch {epoch} is not the store's current epoch {current:?}: say hello first"
            )));
        }
        let accepted = outpost_domain::ids::accepted_schema_versions();
        let mut streams = HashSet::new();
        for b in &r.batches {
            check_batch(&store, &epoch, b, &accepted)?;
            if !streams.insert(b.stream.as_str()) {
                return Err(Status::invalid_argument(format!(
                    "two batches of stream {}",
                    b.stream
                )));
            }
        }
        let batches: Vec<&EventBatch> = r.batches.iter().filter(|b| !b.events.is_empty()).collect();
        let bodies: Vec<Vec<u8>> = batches.iter().map(|b| b.encode_to_vec()).collect();
        self.bus.publish_all(&bodies).await.map_err(|e| {
            tracing::warn!(error = %e, "publishing a push");
            busy("the cloud's queue is unavailable; retry")
        })?;
        let acks: Vec<cloud::Acked> = batches
            .iter()
            .filter_map(|b| {
                let last = b.events.last()?;
                Some(cloud::Acked {
                    stream: b.stream.clone(),
                    last: last.position,
                    last_event_id: last.event_id.clone(),
                })
            })
            .collect();
        let events: usize = batches.iter().map(|b| b.events.len()).sum();
        // The order numbers now durable here: a store restored from a backup
        // numbers past them at its next hello, applied yet or not.
        let numbers = order_numbers(&batches);
        {
            let (store, epoch, acks) = (store.clone(), epoch.clone(), acks.clone());
            db(&self.db, move |c| {
                cloud::record_acks(c, &store, &epoch, &acks)?;
                cloud::record_numbers(c, &store, numbers.iter().map(String::as_str))
            })
            .await?;
        }
        self.metrics.pushes.inc();
        self.metrics.events.inc_by(events as u64);
        self.metrics
            .push_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(Response::new(PushReply {
            acked: acks
                .iter()
                .map(|a| pos(&a.stream, a.last, &a.last_event_id))
                .collect(),
        }))
    }

    async fn event_at(
        &self,
        req: Request<EventAtRequest>,
    ) -> Result<Response<EventAtReply>, Status> {
        let store = self.store(&req, &req.get_ref().store_id).await?.store_id;
        let r = req.into_inner();
        let id = db(&self.db, move |c| {
            cloud::event_at(c, &store, &r.node_epoch, &r.stream, r.position)
        })
        .await?;
        Ok(Response::new(EventAtReply {
            event_id: id.unwrap_or_default(),
        }))
    }

    async fn pull(&self, req: Request<PullRequest>) -> Result<Response<PullReply>, Status> {
        let store = self.store(&req, &req.get_ref().store_id).await?.store_id;
        let r = req.into_inner();
        let limit = i64::from(r.limit.clamp(1, 5000));
        let after = r.cursor.max(0);
        let changes = db(&self.db, move |c| {
            cloud::touch(c, &store)?;
            cloud::master::pulled(c, &store, after, r.feed_version)?;
            cloud::master::changes(c, &store, after, limit, r.feed_version)
        })
        .await?;
        let cursor = changes.last().map_or(after, |c| c.cursor);
        Ok(Response::new(PullReply {
            changes: changes
                .into_iter()
                .map(|c| MasterChange {
                    cursor: c.cursor,
                    kind: c.kind,
                    entity_id: c.entity_id,
                    hlc: c.hlc,
                    body: c.body.into_bytes(),
                    resent: c.resent,
                })
                .collect(),
            cursor,
        }))
    }
}
