//! The realtime publisher: copies committed, positioned events from the outbox
//! into the realtime log (Redis, or memory in the embedded edge) that the hub
//! serves to screens.
//!
//! It runs beside the relay, never in a request: a sale only writes the outbox
//! and wakes the relay, which wakes this task. On SQLite, where a writer
//! positions its own events, the writer hands what it committed over in
//! memory (`outpost_storage::feed`) and wakes this task itself, so a sale reaches the
//! log without this task querying the outbox; anything the feed did not carry
//! (another process's writes, a channel not learnt yet) is read from the
//! outbox as on PostgreSQL. It keeps its own position per
//! channel, learnt from the log itself, so after a Redis outage, a Redis that
//! lost its data, or a restart of the api it resends exactly what the log is
//! missing (the log skips offsets it already has). A failing Redis only makes
//! `/health` say "degraded"; no sale waits for it.

use super::AfterCommit;
use outpost_domain::Stream;
use outpost_realtime::{Entry, Log, MemoryLog, RedisLog, wire::EventMsg};
use outpost_storage::StorageError;
use outpost_storage::feed::Feed;
use outpost_storage::outbox::StoredEvent;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Events read from the outbox per channel and pass.
const BATCH: i64 = 500;

/// The channels published: every stream, the live ones screens follow
/// and the audit trail, which no client may follow: the hub reads device
/// revocations there and closes their connections at once.
const PUBLISHED: [&str; 6] = Stream::NAMES;

/// The publisher's shared state: where the log is and how far it got.
pub struct Realtime {
    /// The in-process log, when there is no Redis (shared with the embedded hub).
    pub memory: Option<Arc<MemoryLog>>,
    redis_url: String,
    history: usize,
    /// Signs hub tickets.
    pub secret: Vec<u8>,
    /// Poked by the relay after it handed events on.
    pub wake: Notify,
    /// Milliseconds since the Unix epoch of the last pass that reached the log.
    pub last_ok_ms: AtomicI64,
    /// The last error, cleared by a successful pass.
    pub last_error: Mutex<Option<String>>,
    /// Per channel: the last offset the log is known to hold.
    pub published: Mutex<HashMap<&'static str, i64>>,
}

impl Realtime {
    pub fn new(settings: &crate::settings::Realtime) -> Realtime {
        let secret = if settings.secret.is_empty() {
            let mut s = vec![0u8; 32];
            getrandom::fill(&mut s).expect("the OS random source");
            s
        } else {
            settings.secret.as_bytes().to_vec()
        };
        Realtime {
            memory: settings
                .redis_url
                .is_empty()
                .then(|| MemoryLog::new(settings.history)),
            redis_url: settings.redis_url.clone(),
            history: settings.history,
            secret,
            wake: Notify::new(),
            last_ok_ms: AtomicI64::new(0),
            last_error: Mutex::new(None),
            published: Mutex::default(),
        }
    }

    pub fn backend(&self) -> &'static str {
        if self.memory.is_some() {
            "memory"
        } else {
            "redis"
        }
    }

    /// The last error, if the last pass failed.
    pub fn error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_error(&self, e: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }

    fn published(&self, ch: &'static str, offset: i64) {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ch, offset);
    }

    /// How far the log is behind the outbox, per channel, given the stream heads.
    pub fn lag(&self, heads: &[(String, i64)]) -> i64 {
        let published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        heads
            .iter()
            .filter_map(|(stream, head)| {
                let ch = Stream::LIVE.iter().find(|c| **c == stream.as_str())?;
                Some((head - published.get(ch).copied().unwrap_or(0)).max(0))
            })
            .sum()
    }
}

/// The frame screens receive for one stored event.
pub fn frame(e: &StoredEvent, channel: &str) -> Option<Entry> {
    let offset = e.position?;
    // Payloads are JSON written by this program; one that is not is skipped
    // rather than blocking the channel (the outbox keeps it for sync).
    let data = serde_json::value::RawValue::from_string(e.payload.clone()).ok()?;
    let text = EventMsg {
        kind: "event",
        channel,
        offset,
        epoch: &e.node_epoch,
        event_id: &e.event_id,
        event_type: &e.event_type,
        aggregate_id: &e.aggregate_id,
        device_id: e.device_id.as_deref(),
        occurred_at: e.occurred_at,
        data: &data,
    }
    .to_text();
    Some(Entry {
        offset,
        json: text.into(),
    })
}

/// Runs until `shutdown` resolves.
pub async fn run(state: Arc<AfterCommit>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let rt = &state.realtime;
    let mut log: Option<Log> = rt.memory.clone().map(Log::Memory);
    let mut cursors: HashMap<&'static str, Cursor> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    let started = tokio::task::spawn_blocking({
        let db = state.db.clone();
        move || Feed::start(&db)
    })
    .await
    .map_err(|_| StorageError::Unavailable("a blocking task failed".into()))
    .and_then(|r| r);
    match started {
        Ok(Some(feed)) => {
            let _ = state.feed.set(feed);
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "no feed of committed events; the publisher reads the outbox")
        }
    }
    loop {
        // Taken whether or not the log answers: what it misses, a full pass
        // reads from the outbox later.
        let fed = state.feed.get().map(|f| f.take()).unwrap_or_default();
        let r = async {
            if log.is_none() {
                let redis = RedisLog::new(&rt.redis_url, rt.history).map_err(|e| e.to_string())?;
                log = Some(Log::Redis(redis));
            }
            let l = log.as_ref().expect("set above");
            if !fed.is_empty() && pass_fed(&state, l, &mut cursors, &fed).await? {
                return Ok(());
            }
            pass(&state, l, &mut cursors).await
        }
        .await;
        let pause = match r {
            Ok(()) => {
                if rt.error().is_some() {
                    tracing::info!("realtime log reachable again; screens are caught up");
                }
                rt.set_error(None);
                rt.last_ok_ms
                    .store(outpost_storage::db::now_millis(), Ordering::Relaxed);
                backoff = Duration::from_millis(100);
                Duration::from_secs(1)
            }
            Err(e) => {
                if rt.error().is_none() {
                    tracing::warn!(error = %e, "realtime log unreachable; sales go on, screens catch up later");
                }
                rt.set_error(Some(e));
                // Learn the log's state again once it answers: it may have lost data.
                cursors.clear();
                let b = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                b
            }
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = rt.wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Where the publisher is in one channel.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The last offset handed to the log.
    after: i64,
    /// Whether the log confirmed holding exactly `after` (then appends check
    /// it, so a log that lost its data is noticed and refilled).
    confirmed: bool,
}

/// Copies what the log is missing, channel by channel.
async fn pass(
    state: &AfterCommit,
    log: &Log,
    cursors: &mut HashMap<&'static str, Cursor>,
) -> Result<(), String> {
    let store = state.node.store_id.clone();
    let epoch = state.node.node_epoch.clone();
    let history = state.history as i64;
    // One trip to the database for the heads and, where the cursor is known,
    // the new events: each trip is a hop to the blocking pool, and on a quiet
    // till every hop is a wake-up that a screen waits for.
    let known: Vec<(&'static str, i64)> = PUBLISHED
        .iter()
        .filter_map(|ch| cursors.get(ch).map(|c| (*ch, c.after)))
        .collect();
    let (heads, mut prefetched) = state
        .db(move |c, _| {
            let heads: HashMap<String, i64> =
                outpost_storage::relay::heads(c)?.into_iter().collect();
            let mut got = HashMap::new();
            for (ch, after) in known {
                if heads.get(ch).copied().unwrap_or(0) > after {
                    got.insert(
                        ch,
                        outpost_storage::outbox::read_stream(c, ch, after, BATCH)?,
                    );
                }
            }
            Ok((heads, got))
        })
        .await
        .map_err(|e| e.to_string())?;
    for ch in PUBLISHED {
        let head = heads.get(ch).copied().unwrap_or(0);
        let mut cur = match cursors.get(ch) {
            Some(c) => *c,
            None => match log.head(&store, ch).await.map_err(|e| e.to_string())? {
                Some(h) if h.epoch == epoch && h.last <= head => Cursor {
                    after: h.last,
                    confirmed: true,
                },
                // Empty, lost, or another epoch: set this epoch (so hubs know
                // it before the first event) and resend the recent history;
                // screens that reconnect are told what it covers.
                _ => {
                    log.append(&store, ch, &epoch, None, &[])
                        .await
                        .map_err(|e| e.to_string())?;
                    Cursor {
                        after: (head - history).max(0),
                        confirmed: false,
                    }
                }
            },
        };
        while cur.after < head {
            let after = cur.after;
            let events = match prefetched.remove(ch) {
                Some(events) => events,
                None => state
                    .db(move |c, _| outpost_storage::outbox::read_stream(c, ch, after, BATCH))
                    .await
                    .map_err(|e| e.to_string())?,
            };
            if !publish(state, log, ch, &mut cur, &events).await? {
                cursors.remove(ch);
                return Ok(());
            }
            if cur.after == after {
                break;
            }
        }
        cursors.insert(ch, cur);
        state.realtime.published(ch, cur.after);
    }
    Ok(())
}

/// Publishes what the write path handed over (see `outpost_storage::feed`) without a
/// trip to the database. False when the outbox must be read: a channel not
/// learnt yet, or positions that do not run on from the cursor (events this
/// process did not feed, or a feed that overflowed).
async fn pass_fed(
    state: &AfterCommit,
    log: &Log,
    cursors: &mut HashMap<&'static str, Cursor>,
    fed: &[StoredEvent],
) -> Result<bool, String> {
    let mut complete = true;
    for ch in PUBLISHED {
        let mut events: Vec<StoredEvent> = fed.iter().filter(|e| e.stream == ch).cloned().collect();
        if events.is_empty() {
            continue;
        }
        let Some(mut cur) = cursors.get(ch).copied() else {
            complete = false;
            continue;
        };
        // A full pass may have published some of them already.
        events.retain(|e| e.position.is_some_and(|p| p > cur.after));
        events.sort_by_key(|e| e.position);
        let runs_on = events
            .iter()
            .zip(cur.after + 1..)
            .all(|(e, p)| e.position == Some(p));
        if !runs_on {
            complete = false;
            continue;
        }
        if events.is_empty() {
            continue;
        }
        if !publish(state, log, ch, &mut cur, &events).await? {
            cursors.remove(ch);
            return Ok(true);
        }
        cursors.insert(ch, cur);
        state.realtime.published(ch, cur.after);
    }
    Ok(complete)
}

/// Appends `events` (the channel's next, in position order) to the log and
/// moves the cursor past them. False when the log is not where the cursor
/// says (Redis restarted empty, or another api wrote): the caller forgets the
/// cursor, and the next pass learns the log again.
async fn publish(
    state: &AfterCommit,
    log: &Log,
    ch: &'static str,
    cur: &mut Cursor,
    events: &[StoredEvent],
) -> Result<bool, String> {
    let Some(last) = events.last().and_then(|e| e.position) else {
        return Ok(true);
    };
    let entries: Vec<Entry> = events.iter().filter_map(|e| frame(e, ch)).collect();
    let expect = cur.confirmed.then_some(cur.after);
    let appended = log
        .append(
            &state.node.store_id,
            ch,
            &state.node.node_epoch,
            expect,
            &entries,
        )
        .await
        .map_err(|e| e.to_string())?;
    if appended.is_none() {
        tracing::info!(channel = ch, "realtime log changed under us; refilling");
        state.realtime.wake.notify_one();
        return Ok(false);
    }
    *cur = Cursor {
        after: last,
        confirmed: true,
    };
    state
        .metrics
        .realtime_published
        .inc_by(entries.len() as u64);
    Ok(true)
}
