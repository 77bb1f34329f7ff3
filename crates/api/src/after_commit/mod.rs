//! What runs after a commit, off the request path: the relay pass that
//! positions committed events and wakes their readers ([`relay`]), the
//! realtime publisher ([`realtime`]), receipts and kitchen tickets
//! ([`printing`]) and the printers kept in step on their hw-proxies
//! ([`hardware`]).
//!
//! The tasks get an [`AfterCommit`] handle, not the api's `AppState`: they
//! see the database, this node, their own settings and wake-ups, and nothing
//! of the HTTP side. Handlers reach them through the same handle
//! (`AppState::after`), to wake them or read how far they got.

pub mod hardware;
pub mod printing;
pub mod realtime;
pub mod relay;

use crate::metrics::Metrics;
use crate::settings::{Printing, Relay, Settings};
use outpost_storage::feed::Feed;
use outpost_storage::{AnyConnection, Db, Node, StorageError};
use std::sync::{Arc, OnceLock};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub struct AfterCommit {
    pub db: Db,
    pub node: Arc<Node>,
    pub metrics: Metrics,
    pub relay_settings: Relay,
    pub printing: Printing,
    /// Events kept per realtime channel (`realtime.history`).
    pub history: usize,
    /// Poked after every committed write so the relay positions it at once;
    /// handlers never publish events themselves.
    pub relay_wake: Arc<Notify>,
    /// Woken by the relay when it handed new events on (the sync push waits on it).
    pub sync_wake: Arc<Notify>,
    /// Woken by the relay too, for the receipt printer feed.
    pub print_wake: Arc<Notify>,
    /// The printers and the hw-proxies that drive them.
    pub hardware: hardware::Hardware,
    pub relay: relay::RelayStatus,
    /// The realtime publisher: its log, its ticket secret, how far it got.
    pub realtime: realtime::Realtime,
    /// The SQLite edge's feed of committed events, once the publisher
    /// started it.
    pub feed: OnceLock<Arc<Feed>>,
}

impl AfterCommit {
    pub fn new(db: Db, node: Arc<Node>, metrics: Metrics, settings: &Settings) -> AfterCommit {
        AfterCommit {
            db,
            node,
            metrics,
            relay_settings: settings.relay.clone(),
            printing: settings.printing.clone(),
            history: settings.realtime.history,
            relay_wake: Arc::new(Notify::new()),
            sync_wake: Arc::new(Notify::new()),
            print_wake: Arc::new(Notify::new()),
            hardware: hardware::Hardware::new(&settings.printing),
            relay: relay::RelayStatus::default(),
            realtime: realtime::Realtime::new(&settings.realtime),
            feed: OnceLock::new(),
        }
    }

    /// Runs blocking database work on the blocking pool with a pooled connection.
    pub async fn db<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection, &Node) -> Result<T, StorageError> + Send + 'static,
    {
        let (db, node) = (self.db.clone(), self.node.clone());
        tokio::task::spawn_blocking(move || f(&mut *db.conn()?, &node))
            .await
            .map_err(|_| StorageError::Unavailable("a blocking task failed".into()))?
    }

    /// Like [`AfterCommit::db`] for work that writes (one writer at a time on
    /// SQLite); wakes the relay once it committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection, &Node) -> Result<T, StorageError> + Send + 'static,
    {
        let (db, node) = (self.db.clone(), self.node.clone());
        let r = tokio::task::spawn_blocking(move || db.write(|c| f(c, &node)))
            .await
            .map_err(|_| StorageError::Unavailable("a blocking task failed".into()))?;
        self.committed();
        r
    }

    /// Whether every event up to `seq` went through the feed, so the
    /// publisher heard of it from the writer already.
    pub fn fed_through(&self, seq: i64) -> bool {
        self.feed.get().is_some_and(|f| f.fed_through(seq))
    }

    /// Wakes what reads committed events: the relay, and on SQLite (which
    /// positions events in the writing transaction) the realtime publisher,
    /// so screens need not wait for a relay pass.
    pub fn committed(&self) {
        self.relay_wake.notify_one();
        if self.db.backend() == outpost_storage::Backend::Sqlite {
            self.realtime.wake.notify_one();
        }
    }

    /// Starts the tasks; each returns once `stop` turns true.
    pub fn spawn(self: &Arc<Self>, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        vec![
            tokio::spawn(relay::run(self.clone(), wait(stop.clone()))),
            tokio::spawn(realtime::run(self.clone(), wait(stop.clone()))),
            tokio::spawn(printing::run(self.clone(), wait(stop.clone()))),
            tokio::spawn(hardware::reconcile(self.clone(), wait(stop.clone()))),
        ]
    }
}

/// Resolves once `rx` turns true.
pub async fn wait(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stopped| *stopped).await;
}
