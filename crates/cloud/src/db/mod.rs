//! The cloud's central database (PostgreSQL only): the stores and their sync
//! credentials, what the api acknowledged to each, and the idempotent apply of
//! their events (inbox, high-water marks, rejected events, alarms, projections).

pub mod admins;
mod apply;
pub mod credentials;
pub mod master;
mod parked;
mod stores;

pub use apply::{ApplyReport, Incoming, apply_batch};
pub use credentials::{Authenticated, Refusal, authenticate};
pub use parked::{
    ParkedBatch, can_write, db_reason, park_batch, park_message, parked, retry_parked,
};
pub use stores::{
    Acked, Alarm, Hello, OrderRow, StoreRow, StoreSync, add_store, alarms, check_code, event_at,
    heartbeat, hello, hello_epoch, orders, record_acks, record_numbers, register_numbers,
    store_sync, touch,
};

use crate::error::{CloudError, Result};
use diesel::PgConnection;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;

const CLOUD_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type CloudConn = PooledConnection<ConnectionManager<PgConnection>>;

/// A pool of connections to the central database.
#[derive(Clone)]
pub struct CloudDb {
    pool: Pool<ConnectionManager<PgConnection>>,
}

impl std::fmt::Debug for CloudDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudDb").finish_non_exhaustive()
    }
}

/// How long one statement may run, and how long opening a connection may
/// take, unless the URL says otherwise: a query stuck on a lock or a server
/// that stopped answering fails the call instead of holding a pool
/// connection (and a store's push) for good.
const STATEMENT_TIMEOUT_MS: u64 = 30_000;
const CONNECT_TIMEOUT_S: u64 = 10;

/// Sets each new connection's statement timeout.
#[derive(Debug, Clone, Copy)]
struct Timeouts;

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for Timeouts {
    fn on_acquire(&self, c: &mut PgConnection) -> std::result::Result<(), diesel::r2d2::Error> {
        c.batch_execute(&format!("SET statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// `url` with libpq's `connect_timeout` when it names none.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout={CONNECT_TIMEOUT_S}")
}

impl CloudDb {
    /// Opens a pool on a `postgres://` URL and runs the cloud's migrations.
    pub fn open(url: &str, pool_size: u32) -> Result<CloudDb> {
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(CloudError::Migration(
                "the cloud database must be PostgreSQL (a postgres:// URL)".into(),
            ));
        }
        let url = with_connect_timeout(url);
        let pool = Pool::builder()
            .connection_customizer(Box::new(Timeouts))
            .max_size(pool_size.max(2))
            // Open connections as they are needed, not all up front: several
            // services share one PostgreSQL server.
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(10))
            .build(ConnectionManager::<PgConnection>::new(url))?;
        let db = CloudDb { pool };
        let mut c = db.conn()?;
        // Migrations may run long on a large database (and wait for the
        // lock below); back to the pool's timeout after.
        c.batch_execute("SET statement_timeout = 0")?;
        // The api and the sync-workers may start at once against one database.
        c.batch_execute("SELECT pg_advisory_lock(7400011)")?;
        let r = c
            .run_pending_migrations(CLOUD_MIGRATIONS)
            .map(|_| ())
            .map_err(|e| CloudError::Migration(e.to_string()));
        c.batch_execute("SELECT pg_advisory_unlock(7400011)")?;
        c.batch_execute(&format!("SET statement_timeout = {STATEMENT_TIMEOUT_MS}"))?;
        r?;
        Ok(db)
    }

    pub fn conn(&self) -> Result<CloudConn> {
        Ok(self.pool.get()?)
    }

    /// Whether the database answers a query (for health checks).
    pub fn answers(&self) -> bool {
        self.conn()
            .is_ok_and(|mut c| c.batch_execute("SELECT 1").is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::with_connect_timeout;

    #[test]
    fn a_url_gets_a_connect_timeout_unless_it_names_one() {
        assert_eq!(
            with_connect_timeout("postgres://u:p@db/cloud"),
            "postgres://u:p@db/cloud?connect_timeout=10"
        );
        assert_eq!(
            with_connect_timeout("postgres://u:p@db/cloud?sslmode=require"),
            "postgres://u:p@db/cloud?sslmode=require&connect_timeout=10"
        );
        assert_eq!(
            with_connect_timeout("postgres://u:p@db/cloud?connect_timeout=3"),
            "postgres://u:p@db/cloud?connect_timeout=3"
        );
    }
}
