//! One connected session: open the link, say hello, then push and pull while
//! a heartbeat runs beside them. Returns an error when anything fails (the
//! caller waits and starts a fresh session), or `Ok` when the session should
//! simply start again at once (the cloud rotated the credential).

use super::epoch::{self, Opened};
use super::{Client, EdgeConfig, SyncError, blocking, link};
use crate::convert;
use outpost_domain::Stream;
use outpost_proto::sync_v1::{
    CredentialNotice, EventBatch, HeartbeatRequest, PullRequest, PushRequest, StreamPosition,
};
use outpost_storage::{Db, sync};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub(super) async fn run(db: &Db, cfg: &EdgeConfig, wake: &Notify) -> Result<(), SyncError> {
    let settings_credential = cfg.credential.clone();
    let credential = blocking(db, move |c| sync::credential(c, &settings_credential)).await?;
    // Recorded before the handshake, so a link that hangs in it still shows
    // an attempt (and its error, once the deadline passes).
    blocking(db, sync::record_try).await?;
    let mut client = link::open(cfg, &credential).await?;
    let opened = epoch::handshake(db, cfg, &mut client).await?;
    blocking(db, |c| sync::record_attempt(c, Ok(()))).await?;
    if rotated(db, cfg, opened.credential.clone()).await? {
        return Ok(());
    }
    pull(db, &mut client, &opened.store_id).await?;
    // Any answer from the cloud (a push acknowledged, a heartbeat) proves the
    // link alive; a heartbeat that times out only ends the session when
    // nothing else got through meanwhile (a slow link busy with a large push
    // is alive).
    let alive = Arc::new(AtomicI64::new(outpost_storage::db::now_millis()));
    tokio::select! {
        r = pipeline(db, cfg, wake, client.clone(), &opened, &alive) => r,
        r = heartbeats(db, cfg, client, &opened, &alive) => r,
    }
}

/// Keeps a credential the cloud rotated (and the expiry it announced);
/// `true` when the session must start again to use the new credential.
async fn rotated(
    db: &Db,
    cfg: &EdgeConfig,
    notice: Option<CredentialNotice>,
) -> Result<bool, SyncError> {
    let Some(n) = notice else { return Ok(false) };
    let expires = (n.expires_at_ms > 0).then_some(n.expires_at_ms);
    if n.rotated.is_empty() {
        blocking(db, move |c| sync::record_credential_expiry(c, expires)).await?;
        return Ok(false);
    }
    let same_store = n.rotated.split_once('.').map(|(id, _)| id)
        == cfg.credential.split_once('.').map(|(id, _)| id);
    if super::check_credential(&n.rotated).is_err() || !same_store {
        return Err(SyncError::Config(
            "the cloud sent a rotated credential that is not this store's; keeping the current one"
                .into(),
        ));
    }
    let settings_credential = cfg.credential.clone();
    blocking(db, move |c| {
        sync::keep_rotated_credential(c, &settings_credential, &n.rotated)
    })
    .await?;
    tracing::info!("the cloud rotated this store's sync credential; reconnecting with the new one");
    Ok(true)
}

/// Heartbeats every `cfg.heartbeat` until one fails with nothing else
/// getting through, or the cloud rotates the credential (`Ok`).
async fn heartbeats(
    db: &Db,
    cfg: &EdgeConfig,
    mut client: Client,
    opened: &Opened,
    alive: &AtomicI64,
) -> Result<(), SyncError> {
    let mut tick = tokio::time::interval(cfg.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is now: hello just said it all
    let mut legacy = false; // a cloud without Heartbeat: say hello instead
    loop {
        tick.tick().await;
        let notice = if legacy {
            let req = epoch::hello_request(db, cfg).await?;
            match tokio::time::timeout(cfg.heartbeat, client.hello(req)).await {
                Ok(r) => r.map(|r| r.into_inner().credential),
                Err(_) => Err(tonic::Status::deadline_exceeded("heartbeat")),
            }
        } else {
            let req = heartbeat_request(db, opened).await?;
            match tokio::time::timeout(cfg.heartbeat, client.heartbeat(req)).await {
                Ok(r) => r.map(|r| r.into_inner().credential),
                Err(_) => Err(tonic::Status::deadline_exceeded("heartbeat")),
            }
        };
        match notice {
            Ok(notice) => {
                alive.store(outpost_storage::db::now_millis(), Ordering::Relaxed);
                blocking(db, |c| sync::record_attempt(c, Ok(()))).await?;
                if rotated(db, cfg, notice).await? {
                    return Ok(());
                }
            }
            Err(s) if s.code() == tonic::Code::Unimplemented && !legacy => legacy = true,
            Err(s) if s.code() == tonic::Code::DeadlineExceeded => {
                // Nothing at all for two intervals: the link is gone.
                let quiet = outpost_storage::db::now_millis() - alive.load(Ordering::Relaxed);
                if quiet > 2 * cfg.heartbeat.as_millis() as i64 {
                    return Err(SyncError::Timeout("a heartbeat", cfg.heartbeat));
                }
            }
            Err(s) => return Err(s.into()),
        }
    }
}

async fn heartbeat_request(db: &Db, opened: &Opened) -> Result<HeartbeatRequest, SyncError> {
    let backlog = blocking(db, |c| sync::backlog(c, &Stream::NAMES)).await?;
    let now = outpost_storage::db::now_millis();
    Ok(HeartbeatRequest {
        store_id: opened.store_id.clone(),
        node_epoch: opened.epoch.clone(),
        pending_events: backlog.iter().map(|b| b.events).sum(),
        oldest_unsent_age_ms: backlog
            .iter()
            .filter_map(|b| b.oldest_at)
            .min()
            .map_or(0, |t| (now - t).max(0)),
        clock_ms: now,
    })
}

/// Pushes in flight; aborted with the session so none outlives its channel.
struct Flight(VecDeque<JoinHandle<Result<Vec<StreamPosition>, tonic::Status>>>);

impl Drop for Flight {
    fn drop(&mut self) {
        for f in &self.0 {
            f.abort();
        }
    }
}

/// Pushes batches (up to `in_flight` outstanding), records the
/// acknowledgements in send order, and pulls master data when it is due.
async fn pipeline(
    db: &Db,
    cfg: &EdgeConfig,
    wake: &Notify,
    mut client: Client,
    opened: &Opened,
    alive: &AtomicI64,
) -> Result<(), SyncError> {
    let epoch = &opened.epoch;
    let mut last_pull = Instant::now();
    let mut sent = opened.after.clone();
    let mut flight = Flight(VecDeque::new());
    loop {
        // Fill the pipe.
        while flight.0.len() < cfg.in_flight.max(1) {
            let batches = next_batches(db, cfg, epoch, &sent).await?;
            if batches.is_empty() {
                break;
            }
            for b in &batches {
                if let Some(e) = b.events.last() {
                    sent.insert(b.stream.clone(), e.position);
                }
            }
            let mut client = client.clone();
            let req = PushRequest {
                store_id: batches[0].store_id.clone(),
                node_epoch: epoch.clone(),
                batches,
            };
            flight.0.push_back(tokio::spawn(async move {
                client.push(req).await.map(|r| r.into_inner().acked)
            }));
        }
        let Some(front) = flight.0.pop_front() else {
            if last_pull.elapsed() >= cfg.pull_interval {
                pull(db, &mut client, &opened.store_id).await?;
                alive.store(outpost_storage::db::now_millis(), Ordering::Relaxed);
                last_pull = Instant::now();
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(cfg.interval) => {}
            }
            continue;
        };
        let acked = front.await.map_err(|_| SyncError::Join)??;
        alive.store(outpost_storage::db::now_millis(), Ordering::Relaxed);
        let e2 = epoch.clone();
        blocking(db, move |c| {
            for a in &acked {
                sync::record_ack(c, &e2, &a.stream, a.position, &a.event_id)?;
            }
            Ok(())
        })
        .await?;
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
                feed_version: outpost_storage::master::FEED_VERSION,
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
                resent: c.resent,
            })
            .collect();
        let to = reply.cursor;
        let applied =
            blocking(db, move |c| outpost_storage::master::apply(c, &changes, to)).await?;
        tracing::info!(?applied, cursor = to, "master data from the cloud applied");
        if applied.held_back > 0 {
            // Asked again at the next pull, when this clock may have caught up.
            return Ok(());
        }
    }
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
        for stream in Stream::NAMES {
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
