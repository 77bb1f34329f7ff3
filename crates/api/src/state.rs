//! What every handler shares: the database, this node, settings, metrics and
//! the relay's wake-up.

use crate::metrics::Metrics;
use crate::problem::{ApiError, ApiResult};
use crate::settings::Settings;
use actix_web::web;
use outpost_storage::{AnyConnection, Db, Node, StorageError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

pub struct AppState {
    pub db: Db,
    pub node: Arc<Node>,
    pub settings: Settings,
    pub metrics: Metrics,
    /// Poked after every committed write so the relay positions it at once;
    /// handlers never publish events themselves.
    pub relay_wake: Arc<Notify>,
    pub relay: crate::relay::RelayStatus,
    pub started: Instant,
}

impl AppState {
    /// Runs blocking database work on actix's blocking pool with a pooled connection.
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection, &Node) -> Result<T, StorageError> + Send + 'static,
    {
        let db = self.db.clone();
        let node = self.node.clone();
        web::block(move || {
            let mut c = db.conn()?;
            f(&mut c, &node)
        })
        .await
        .map_err(|_| ApiError::Blocking)?
        .map_err(ApiError::from)
    }

    /// Like [`AppState::db`] for work that writes (one writer at a time on
    /// SQLite); wakes the relay once it committed.
    pub async fn write<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection, &Node) -> Result<T, StorageError> + Send + 'static,
    {
        let db = self.db.clone();
        let node = self.node.clone();
        let r = web::block(move || db.write(|c| f(c, &node)))
            .await
            .map_err(|_| ApiError::Blocking)?
            .map_err(ApiError::from);
        self.relay_wake.notify_one();
        r
    }
}
