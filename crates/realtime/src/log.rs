//! The realtime log: per store and channel, a bounded history of event frames
//! keyed by offset, under an epoch. Appends are idempotent (an offset at or
//! below the channel's last is skipped), so the publisher may resend after any
//! failure without doubling anything; a new epoch wipes the channel's history.
//! An append may also say which last offset it expects: if the log holds
//! something else (Redis restarted empty, another writer), nothing is written
//! and the publisher learns the log's state again, so a lost history is
//! refilled before anything newer lands on top of it.
//!
//! Redis: one stream per channel whose entry ids are `<offset>-0`, and a meta
//! hash `{epoch, last}`; the append is one Lua script, so the check, the XADD
//! (trimmed to a bounded length) and the meta update are one atomic step.
//! Memory: the same, in a mutex, for the embedded edge.

use crate::{Error, Result};
use redis::AsyncCommands;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// One event frame at its offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub offset: i64,
    pub json: Arc<str>,
}

/// A channel's epoch and the last offset it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub epoch: String,
    pub last: i64,
}

/// What a tailer saw.
#[derive(Debug)]
pub enum Tail {
    /// Entries after the asked offset, in order (empty when nothing came in time).
    Entries(Vec<Entry>),
    /// The channel's epoch changed: start again from this head.
    Reset(Head),
}

#[derive(Clone)]
pub enum Log {
    Memory(Arc<MemoryLog>),
    Redis(RedisLog),
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Log::Memory(_) => "Log::Memory",
            Log::Redis(_) => "Log::Redis",
        })
    }
}

impl Log {
    /// Appends entries (ascending offsets) under `epoch`; returns the channel's
    /// last offset afterwards, or `None` — writing nothing — when `expect` is
    /// given and the channel's epoch or last offset differ from it.
    pub async fn append(
        &self,
        store: &str,
        channel: &str,
        epoch: &str,
        expect: Option<i64>,
        entries: &[Entry],
    ) -> Result<Option<i64>> {
        match self {
            Log::Memory(m) => Ok(m.append(store, channel, epoch, expect, entries)),
            Log::Redis(r) => r.append(store, channel, epoch, expect, entries).await,
        }
    }

    pub async fn head(&self, store: &str, channel: &str) -> Result<Option<Head>> {
        match self {
            Log::Memory(m) => Ok(m.head(store, channel)),
            Log::Redis(r) => r.head(store, channel).await,
        }
    }

    /// The entries in `(after, upto]` under `epoch`, or `None` when the history
    /// no longer covers them (trimmed, lost, or another epoch).
    pub async fn range(
        &self,
        store: &str,
        channel: &str,
        epoch: &str,
        after: i64,
        upto: i64,
    ) -> Result<Option<Vec<Entry>>> {
        if after >= upto {
            return Ok(Some(Vec::new()));
        }
        match self {
            Log::Memory(m) => Ok(m.range(store, channel, epoch, after, upto)),
            Log::Redis(r) => r.range(store, channel, epoch, after, upto).await,
        }
    }

    /// A reader that follows one channel from an offset on.
    pub async fn tailer(&self, store: &str, channel: &str) -> Result<Tailer> {
        Ok(match self {
            Log::Memory(m) => Tailer::Memory {
                log: m.clone(),
                changed: m.changed.subscribe(),
                store: store.to_owned(),
                channel: channel.to_owned(),
            },
            Log::Redis(r) => Tailer::Redis {
                conn: r.blocking_connection().await?,
                stream: r.stream_key(store, channel),
                meta: r.meta_key(store, channel),
            },
        })
    }
}

/// Follows one channel; each `next` waits up to about a second.
pub enum Tailer {
    Memory {
        log: Arc<MemoryLog>,
        changed: watch::Receiver<u64>,
        store: String,
        channel: String,
    },
    Redis {
        conn: redis::aio::MultiplexedConnection,
        stream: String,
        meta: String,
    },
}

const TAIL_WAIT: Duration = Duration::from_secs(1);

impl Tailer {
    /// Entries after `after` under `epoch`, at most `limit`.
    pub async fn next(&mut self, epoch: &str, after: i64, limit: usize) -> Result<Tail> {
        match self {
            Tailer::Memory {
                log,
                changed,
                store,
                channel,
            } => {
                changed.mark_unchanged();
                loop {
                    if let Some(t) = log.after(store, channel, epoch, after, limit) {
                        return Ok(t);
                    }
                    if tokio::time::timeout(TAIL_WAIT, changed.changed())
                        .await
                        .is_err()
                    {
                        return Ok(Tail::Entries(Vec::new()));
                    }
                }
            }
            Tailer::Redis { conn, stream, meta } => {
                let opts = redis::streams::StreamReadOptions::default()
                    .count(limit)
                    .block(TAIL_WAIT.as_millis() as usize);
                let reply: Option<redis::streams::StreamReadReply> = conn
                    .xread_options(&[stream.as_str()], &[format!("{after}-0")], &opts)
                    .await?;
                let entries = reply
                    .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect::<Vec<_>>())
                    .unwrap_or_default();
                if entries.is_empty() {
                    // Quiet channel: make sure the epoch did not change under us
                    // (a restored store starts its offsets again).
                    let (e, last): (Option<String>, Option<i64>) = redis::cmd("HMGET")
                        .arg(meta.as_str())
                        .arg("epoch")
                        .arg("last")
                        .query_async(conn)
                        .await?;
                    if let Some(e) = e
                        && e != epoch
                    {
                        return Ok(Tail::Reset(Head {
                            epoch: e,
                            last: last.unwrap_or(0),
                        }));
                    }
                    return Ok(Tail::Entries(Vec::new()));
                }
                entries
                    .into_iter()
                    .map(stream_entry)
                    .collect::<Result<Vec<_>>>()
                    .map(Tail::Entries)
            }
        }
    }
}

fn stream_entry(id: redis::streams::StreamId) -> Result<Entry> {
    let offset = id
        .id
        .split_once('-')
        .and_then(|(o, _)| o.parse().ok())
        .ok_or_else(|| Error::Unexpected(format!("stream id {}", id.id)))?;
    let json: String = id
        .get("m")
        .ok_or_else(|| Error::Unexpected(format!("entry {} has no message", id.id)))?;
    Ok(Entry {
        offset,
        json: json.into(),
    })
}

/// The in-memory log of the embedded edge.
#[derive(Debug)]
pub struct MemoryLog {
    cap: usize,
    channels: Mutex<HashMap<(String, String), Chan>>,
    changed: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Chan {
    epoch: String,
    last: i64,
    entries: VecDeque<Entry>,
}

impl MemoryLog {
    /// A log keeping at most `cap` entries per channel.
    pub fn new(cap: usize) -> Arc<MemoryLog> {
        Arc::new(MemoryLog {
            cap: cap.max(1),
            channels: Mutex::default(),
            changed: watch::channel(0).0,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Chan>> {
        // A panic elsewhere cannot leave a half-updated channel: every update
        // below completes without calling out.
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(
        &self,
        store: &str,
        channel: &str,
        epoch: &str,
        expect: Option<i64>,
        entries: &[Entry],
    ) -> Option<i64> {
        let last = {
            let mut map = self.lock();
            let c = map.entry((store.into(), channel.into())).or_default();
            if expect.is_some_and(|x| c.epoch != epoch || c.last != x) {
                return None;
            }
            if c.epoch != epoch {
                *c = Chan {
                    epoch: epoch.to_owned(),
                    ..Chan::default()
                };
            }
            for e in entries {
                if e.offset > c.last {
                    c.entries.push_back(e.clone());
                    c.last = e.offset;
                }
            }
            while c.entries.len() > self.cap {
                c.entries.pop_front();
            }
            c.last
        };
        self.changed.send_modify(|g| *g += 1);
        Some(last)
    }

    fn head(&self, store: &str, channel: &str) -> Option<Head> {
        self.lock()
            .get(&(store.into(), channel.into()))
            .map(|c| Head {
                epoch: c.epoch.clone(),
                last: c.last,
            })
    }

    fn range(
        &self,
        store: &str,
        channel: &str,
        epoch: &str,
        after: i64,
        upto: i64,
    ) -> Option<Vec<Entry>> {
        let map = self.lock();
        let c = map.get(&(store.into(), channel.into()))?;
        let first = c.entries.front()?.offset;
        if c.epoch != epoch || first > after + 1 || c.last < upto {
            return None;
        }
        Some(
            c.entries
                .iter()
                .filter(|e| e.offset > after && e.offset <= upto)
                .cloned()
                .collect(),
        )
    }

    /// `None` when there is nothing yet to return.
    fn after(
        &self,
        store: &str,
        channel: &str,
        epoch: &str,
        after: i64,
        limit: usize,
    ) -> Option<Tail> {
        let map = self.lock();
        let c = map.get(&(store.into(), channel.into()))?;
        if c.epoch != epoch {
            return Some(Tail::Reset(Head {
                epoch: c.epoch.clone(),
                last: c.last,
            }));
        }
        if c.last <= after {
            return None;
        }
        // Entries are in offset order: skip to the first after `after`.
        let start = c.entries.partition_point(|e| e.offset <= after);
        Some(Tail::Entries(
            c.entries.range(start..).take(limit).cloned().collect(),
        ))
    }
}

/// The Redis-backed log.
#[derive(Clone)]
pub struct RedisLog {
    client: redis::Client,
    /// Connected on first use, so services start (and report "degraded")
    /// while Redis is away; reconnects by itself afterwards. Dropped after a
    /// command timed out: a connection that went silent is never trusted
    /// again (the manager itself reconnects only after a broken one).
    conn: Arc<tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>>,
    maxlen: usize,
    append: Arc<redis::Script>,
}

const APPEND: &str = r#"
-- KEYS[1] the channel's stream, KEYS[2] its meta hash
-- ARGV[1] epoch, ARGV[2] max length, ARGV[3] the expected last offset ('' =
-- no expectation), then offset, frame, offset, frame, ...
-- Returns the last offset, or -1 (writing nothing) when the expectation fails.
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if ARGV[3] ~= '' then
  if epoch ~= ARGV[1] or tonumber(redis.call('HGET', KEYS[2], 'last')) ~= tonumber(ARGV[3]) then
    return -1
  end
end
if epoch ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', ARGV[1], 'last', 0)
end
local last = tonumber(redis.call('HGET', KEYS[2], 'last'))
for i = 4, #ARGV, 2 do
  local offset = tonumber(ARGV[i])
  if offset > last then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], offset .. '-0', 'm', ARGV[i + 1])
    last = offset
  end
end
redis.call('HSET', KEYS[2], 'last', last)
return last
"#;

impl RedisLog {
    /// A log on the Redis at `url` (checked here; connected on first use).
    pub fn new(url: &str, maxlen: usize) -> Result<RedisLog> {
        Ok(RedisLog {
            client: redis::Client::open(url)?,
            conn: Arc::default(),
            maxlen: maxlen.max(1),
            append: Arc::new(redis::Script::new(APPEND)),
        })
    }

    /// Runs a command, once more if the connection broke (Redis restarted):
    /// the connection manager reconnects, and every command here is safe to
    /// repeat (the append is idempotent).
    async fn retry<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: Fn(redis::aio::ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let r = match f(self.conn().await?).await {
            Err(e)
                if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
                f(self.conn().await?).await
            }
            r => r,
        };
        if r.as_ref().is_err_and(|e| e.is_timeout()) {
            *self.conn.lock().await = None;
        }
        Ok(r?)
    }

    async fn conn(&self) -> Result<redis::aio::ConnectionManager> {
        let mut g = self.conn.lock().await;
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let c = tokio::time::timeout(
            Duration::from_secs(3),
            redis::aio::ConnectionManager::new_with_config(self.client.clone(), cfg),
        )
        .await
        .map_err(|_| {
            redis::RedisError::from((redis::ErrorKind::Io, "connecting to Redis timed out"))
        })??;
        *g = Some(c.clone());
        Ok(c)
    }

    fn stream_key(&self, store: &str, channel: &str) -> String {
        // The braces are a Redis Cluster hash tag: a store's keys share a slot.
        format!("outpost:{{{store}}}:rt:{channel}")
    }

    fn meta_key(&self, store: &str, channel: &str) -> String {
        format!("outpost:{{{store}}}:rt:{channel}:meta")
    }

    /// A connection of its own for blocking reads.
    async fn blocking_connection(&self) -> Result<redis::aio::MultiplexedConnection> {
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(TAIL_WAIT + Duration::from_secs(2)));
        Ok(self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?)
    }

    async fn append(
        &self,
        store: &str,
        channel: &str,
        epoch: &str,
        expect: Option<i64>,
        entries: &[Entry],
    ) -> Result<Option<i64>> {
        let invocation = || {
            let mut inv = self.append.key(self.stream_key(store, channel));
            inv.key(self.meta_key(store, channel))
                .arg(epoch)
                .arg(self.maxlen)
                .arg(expect.map(|x| x.to_string()).unwrap_or_default());
            for e in entries {
                inv.arg(e.offset).arg(e.json.as_ref());
            }
            inv
        };
        let last: i64 = self
            .retry(|mut c| {
                let inv = invocation();
                async move { inv.invoke_async(&mut c).await }
            })
            .await?;
        Ok((last >= 0).then_some(last))
    }

    async fn head(&self, store: &str, channel: &str) -> Result<Option<Head>> {
        let key = self.meta_key(store, channel);
        let (epoch, last): (Option<String>, Option<i64>) = self
            .retry(|mut c| {
                let key = key.clone();
                async move { c.hmget(key, &["epoch", "last"]).await }
            })
            .await?;
        Ok(epoch.map(|epoch| Head {
            epoch,
            last: last.unwrap_or(0),
        }))
    }

    async fn range(
        &self,
        store: &str,
        channel: &str,
        epoch: &str,
        after: i64,
        upto: i64,
    ) -> Result<Option<Vec<Entry>>> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hget(self.meta_key(store, channel), "epoch")
            .xrange(
                self.stream_key(store, channel),
                format!("{}-0", after + 1),
                format!("{upto}-0"),
            );
        let (e, reply): (Option<String>, redis::streams::StreamRangeReply) = self
            .retry(|mut c| {
                let pipe = pipe.clone();
                async move { pipe.query_async(&mut c).await }
            })
            .await?;
        if e.as_deref() != Some(epoch) {
            return Ok(None);
        }
        let entries = reply
            .ids
            .into_iter()
            .map(stream_entry)
            .collect::<Result<Vec<_>>>()?;
        let complete = entries.first().map(|e| e.offset) == Some(after + 1)
            && entries.last().map(|e| e.offset) == Some(upto)
            && entries.len() as i64 == upto - after;
        Ok(complete.then_some(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(range: std::ops::RangeInclusive<i64>) -> Vec<Entry> {
        range
            .map(|o| Entry {
                offset: o,
                json: format!("{{\"offset\":{o}}}").into(),
            })
            .collect()
    }

    #[tokio::test]
    async fn appends_are_idempotent_and_bounded_and_a_new_epoch_starts_over() {
        let log = Log::Memory(MemoryLog::new(5));
        let append = |e: &'static str, x: Option<i64>, r| {
            let log = log.clone();
            async move { log.append("s", "kitchen", e, x, &entries(r)).await.unwrap() }
        };
        assert_eq!(append("e1", None, 1..=3).await, Some(3));
        assert_eq!(
            append("e1", Some(2), 4..=4).await,
            None,
            "expected 2, holds 3"
        );
        assert_eq!(append("e1", Some(3), 2..=8).await, Some(8));
        let got = log
            .range("s", "kitchen", "e1", 5, 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, entries(6..=8));
        assert!(
            log.range("s", "kitchen", "e1", 2, 8)
                .await
                .unwrap()
                .is_none(),
            "trimmed"
        );
        assert!(
            log.range("s", "kitchen", "e2", 5, 8)
                .await
                .unwrap()
                .is_none()
        );
        assert!(log.range("s", "other", "e1", 5, 8).await.unwrap().is_none());
        assert_eq!(append("e2", Some(8), 1..=1).await, None, "another epoch");
        assert_eq!(append("e2", None, 1..=1).await, Some(1));
        assert_eq!(
            log.head("s", "kitchen").await.unwrap(),
            Some(Head {
                epoch: "e2".into(),
                last: 1
            })
        );
    }

    #[tokio::test]
    async fn a_tailer_sees_what_is_appended_after_its_offset() {
        let mem = MemoryLog::new(100);
        let log = Log::Memory(mem.clone());
        log.append("s", "kitchen", "e1", None, &entries(1..=2))
            .await
            .unwrap();
        let mut t = log.tailer("s", "kitchen").await.unwrap();
        let appender = {
            let log = log.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                log.append("s", "kitchen", "e1", None, &entries(3..=4))
                    .await
                    .unwrap();
            })
        };
        let Tail::Entries(got) = t.next("e1", 2, 10).await.unwrap() else {
            panic!("no reset expected")
        };
        assert_eq!(got, entries(3..=4));
        appender.await.unwrap();
        assert!(matches!(t.next("e0", 4, 10).await.unwrap(), Tail::Reset(h) if h.epoch == "e1"));
    }
}
