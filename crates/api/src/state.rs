//! What every handler shares: the database, this node, settings, metrics and
//! the tasks that run after a commit.

use crate::after_commit::AfterCommit;
use crate::metrics::Metrics;
use crate::problem::{ApiError, ApiResult};
use crate::settings::Settings;
use actix_web::web;
use outpost_storage::{AnyConnection, Db, Node, SaleWriter, StorageError};
use std::sync::Arc;
use std::time::Instant;

pub struct AppState {
    pub db: Db,
    pub node: Arc<Node>,
    /// Commits sales several to a transaction under load.
    pub sales: SaleWriter,
    pub settings: Settings,
    pub metrics: Metrics,
    /// The relay, realtime publisher, printing and printers: handlers wake
    /// them after a commit and read how far they got.
    pub after: Arc<AfterCommit>,
    pub started: Instant,
    /// The largest register clock offset seen lately (see `ClientClocks`).
    pub client_clocks: ClientClocks,
    /// Idempotency keys of sales being written right now.
    pub in_flight: InFlight,
    /// Set on a register agent's page server: who may call it.
    pub local_only: Option<crate::startup::LocalOnly>,
    /// The TLS port as bound, where plain requests from beyond
    /// `server.plain_networks` are sent.
    pub tls_port: Option<u16>,
}

/// The idempotency keys of sales this process is writing right now, so
/// "what became of this key" can answer "not yet" rather than "nothing"
/// while the sale may still commit. A key leaves the set only when the
/// write is over (committed or failed), even if its client went away.
#[derive(Debug, Default)]
pub struct InFlight(std::sync::Mutex<std::collections::HashSet<String>>);

/// Removes its key from the set when dropped.
pub struct Writing(web::Data<AppState>, String);

impl InFlight {
    pub fn contains(&self, key: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    }
}

impl Writing {
    /// Marks `key` in flight until the returned guard is dropped.
    pub fn start(state: &web::Data<AppState>, key: &str) -> Writing {
        state
            .in_flight
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned());
        Writing(state.clone(), key.to_owned())
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        self.0
            .in_flight
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

/// How far the registers' clocks are from ours, from the `X-Client-Time` header
/// the pages send: the largest offset seen in the last ten minutes.
#[derive(Debug, Default)]
pub struct ClientClocks {
    max_abs_skew_ms: std::sync::atomic::AtomicI64,
    window_start_ms: std::sync::atomic::AtomicI64,
}

impl ClientClocks {
    const WINDOW_MS: i64 = 600_000;

    pub fn observe(&self, client_ms: i64, now_ms: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        let skew = client_ms.saturating_sub(now_ms).saturating_abs();
        if now_ms - self.window_start_ms.load(Relaxed) > Self::WINDOW_MS {
            self.window_start_ms.store(now_ms, Relaxed);
            self.max_abs_skew_ms.store(skew, Relaxed);
        } else {
            self.max_abs_skew_ms.fetch_max(skew, Relaxed);
        }
    }

    /// The largest offset in the current window, if any register reported.
    pub fn max_skew_ms(&self, now_ms: i64) -> Option<i64> {
        use std::sync::atomic::Ordering::Relaxed;
        let start = self.window_start_ms.load(Relaxed);
        (start > 0 && now_ms - start <= 2 * Self::WINDOW_MS)
            .then(|| self.max_abs_skew_ms.load(Relaxed))
    }
}

impl AppState {
    /// Runs blocking database work on the blocking pool with a pooled connection.
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection, &Node) -> Result<T, StorageError> + Send + 'static,
    {
        Ok(self.after.db(f).await?)
    }

    /// Like [`AppState::db`] for work that writes (one writer at a time on
    /// SQLite); wakes the relay once it committed.
    pub async fn write<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection, &Node) -> Result<T, StorageError> + Send + 'static,
    {
        Ok(self.after.write(f).await?)
    }

    /// Runs blocking work that takes its own connections and may write;
    /// wakes the relay afterwards.
    pub async fn blocking<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Db, &Node) -> Result<T, StorageError> + Send + 'static,
    {
        let db = self.db.clone();
        let node = self.node.clone();
        let r = web::block(move || f(&db, &node))
            .await
            .map_err(|_| ApiError::Blocking)?
            .map_err(ApiError::from);
        self.after.committed();
        r
    }
}
