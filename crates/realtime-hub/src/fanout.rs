//! Channels and their subscribers. One tailer task per (store, channel) reads
//! the realtime log from the hub's own last offset and hands each frame to
//! every subscriber's bounded queue without waiting: a subscriber whose queue
//! is full is cut (close code 4008) and resumes by offset when it reconnects,
//! so one slow tablet never delays the others.

use crate::metrics::Metrics;
use outpost_realtime::{Entry, Head, Log, Tail};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};

/// Tells a connection to close, and why.
#[derive(Debug, Default)]
pub struct Kick {
    code: AtomicU16,
    notify: Notify,
}

impl Kick {
    pub fn kick(&self, code: u16) {
        // The first reason wins.
        let _ = self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
        self.notify.notify_one();
    }
    pub fn code(&self) -> u16 {
        self.code.load(Ordering::Acquire)
    }
    pub async fn kicked(&self) {
        self.notify.notified().await
    }
}

/// A connection's side of a subscription.
#[derive(Debug, Clone)]
pub struct Sub {
    pub conn: u64,
    pub tx: mpsc::Sender<Arc<str>>,
    pub kick: Arc<Kick>,
}

impl Sub {
    /// Queues a frame without waiting; false when the connection is gone or
    /// was cut for being too slow.
    pub fn offer(&self, frame: &Arc<str>, metrics: &Metrics) -> bool {
        match self.tx.try_send(frame.clone()) {
            Ok(()) => {
                metrics.frames_sent.inc();
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics.slow_disconnects.inc();
                self.kick.kick(outpost_realtime::wire::close::TOO_SLOW);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Empty until the log told us the channel's epoch.
    epoch: String,
    last: i64,
    subs: HashMap<u64, Sub>,
}

/// One store's channel as the hub follows it.
#[derive(Debug)]
pub struct Channel {
    store: String,
    name: String,
    state: Mutex<State>,
    ready: watch::Sender<bool>,
}

/// Where a new subscriber stands.
#[derive(Debug)]
pub struct Joined {
    pub epoch: String,
    /// The channel's last offset when the subscriber joined: everything after
    /// it reaches the subscriber's queue live.
    pub last: i64,
}

impl Channel {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a subscriber once the channel's epoch is known (waits up to `wait`).
    pub async fn join(&self, sub: Sub, wait: Duration) -> Option<Joined> {
        let mut ready = self.ready.subscribe();
        tokio::time::timeout(wait, ready.wait_for(|r| *r))
            .await
            .ok()?
            .ok()?;
        let mut s = self.lock();
        s.subs.insert(sub.conn, sub);
        Some(Joined {
            epoch: s.epoch.clone(),
            last: s.last,
        })
    }

    pub fn leave(&self, conn: u64) {
        self.lock().subs.remove(&conn);
    }

    fn deliver(&self, entries: Vec<Entry>, metrics: &Metrics) {
        let mut s = self.lock();
        for e in entries {
            if e.offset <= s.last {
                continue;
            }
            s.last = e.offset;
            s.subs.retain(|_, sub| sub.offer(&e.json, metrics));
        }
    }

    /// The log's epoch changed (the store's database was restored): every
    /// subscriber reconnects and is told its offsets no longer hold.
    fn reset(&self, head: Head) {
        let mut s = self.lock();
        let first = s.epoch.is_empty();
        s.epoch = head.epoch;
        s.last = if first { head.last } else { 0 };
        for sub in s.subs.values() {
            sub.kick.kick(outpost_realtime::wire::close::RESYNC);
        }
        s.subs.clear();
    }

    fn position(&self) -> (String, i64) {
        let s = self.lock();
        (s.epoch.clone(), s.last)
    }
}

/// Every channel the hub follows, created when first subscribed.
pub struct Registry {
    log: Log,
    metrics: Metrics,
    channels: Mutex<HashMap<(String, String), Arc<Channel>>>,
    /// False while the log cannot be read (for `/health`).
    pub log_ok: Arc<AtomicBool>,
}

impl Registry {
    pub fn new(log: Log, metrics: Metrics) -> Registry {
        Registry {
            log,
            metrics,
            channels: Mutex::default(),
            log_ok: Arc::new(AtomicBool::new(true)),
        }
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The channel, starting its tailer on first use.
    pub fn channel(&self, store: &str, name: &str) -> Arc<Channel> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((store.to_owned(), name.to_owned()))
            .or_insert_with(|| {
                let ch = Arc::new(Channel {
                    store: store.to_owned(),
                    name: name.to_owned(),
                    state: Mutex::default(),
                    ready: watch::channel(false).0,
                });
                tokio::spawn(tail(
                    self.log.clone(),
                    ch.clone(),
                    self.metrics.clone(),
                    self.log_ok.clone(),
                ));
                ch
            })
            .clone()
    }
}

/// Follows one channel for as long as the hub runs, reconnecting to the log
/// with backoff when it fails.
async fn tail(log: Log, ch: Arc<Channel>, metrics: Metrics, log_ok: Arc<AtomicBool>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let r: outpost_realtime::Result<()> = async {
            let mut tailer = log.tailer(&ch.store, &ch.name).await?;
            if !*ch.ready.borrow() {
                // Start from the log's head: there is nobody to catch up yet,
                // and subscribers ask for their own history.
                match log.head(&ch.store, &ch.name).await? {
                    Some(h) => ch.reset(h),
                    None => {
                        // Nothing published yet; the api writes every
                        // channel's epoch on its first pass.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        return Ok(());
                    }
                }
                ch.ready.send_replace(true);
            }
            log_ok.store(true, Ordering::Relaxed);
            backoff = Duration::from_millis(100);
            loop {
                let (epoch, after) = ch.position();
                match tailer.next(&epoch, after, 500).await? {
                    Tail::Entries(es) => ch.deliver(es, &metrics),
                    Tail::Reset(h) => {
                        tracing::warn!(store = %ch.store, channel = %ch.name, epoch = %h.epoch,
                            "the channel's epoch changed; subscribers resync");
                        ch.reset(h);
                    }
                }
            }
        }
        .await;
        if let Err(e) = r {
            if log_ok.swap(false, Ordering::Relaxed) {
                tracing::warn!(error = %e, "the realtime log is unreachable; retrying");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}
