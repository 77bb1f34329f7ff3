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
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::{PgConnection, RunQueryDsl};
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

use outpost_domain::pg::with_connect_timeout;

/// Sets each new connection's statement timeout.
#[derive(Debug, Clone)]
struct Timeouts(Option<String>);

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for Timeouts {
    fn on_acquire(&self, c: &mut PgConnection) -> std::result::Result<(), diesel::r2d2::Error> {
        match &self.0 {
            Some(sql) => c
                .batch_execute(sql)
                .map_err(diesel::r2d2::Error::QueryError),
            None => Ok(()),
        }
    }
}

fn postgres_only(url: &str) -> Result<()> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(CloudError::Migration(
            "the cloud database must be PostgreSQL (a postgres:// URL)".into(),
        ));
    }
    Ok(())
}

/// The services that connect to the central database, each as a role of
/// its own (`outpost cloud migrate` makes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `outpost cloud serve`: the SyncService and the admin.
    Api,
    /// `outpost sync-worker --mode cloud`.
    Worker,
}

/// What the api may do with each table, from following every query of its
/// code paths (the SyncService, the admin, the console's commands that run
/// in its container); nothing else.
const API_RIGHTS: &[(&str, &str)] = &[
    ("stores", "SELECT, INSERT, UPDATE"),
    ("store_credentials", "SELECT, INSERT, UPDATE, DELETE"),
    ("store_epochs", "SELECT, INSERT"),
    ("sync_acks", "SELECT, INSERT, UPDATE"),
    ("stream_marks", "SELECT"),
    // A parked batch's retry applies its events again.
    ("inbox", "SELECT, INSERT, DELETE"),
    ("pending_events", "SELECT"),
    ("rejected_events", "SELECT, INSERT, DELETE"),
    ("alarms", "SELECT, INSERT"),
    ("orders", "SELECT, INSERT, UPDATE"),
    ("stock_movements", "SELECT, INSERT"),
    ("stock_levels", "SELECT, INSERT, UPDATE"),
    ("store_products", "SELECT, INSERT, UPDATE"),
    ("master_changes", "SELECT, INSERT"),
    ("master_conflicts", "INSERT"),
    ("register_numbers", "SELECT, INSERT, UPDATE"),
    ("parked_batches", "SELECT, UPDATE"),
    ("admin_accounts", "SELECT, INSERT, UPDATE"),
    ("admin_account_stores", "SELECT, INSERT"),
    ("admin_sessions", "SELECT, INSERT, DELETE"),
    ("admin_api_tokens", "SELECT, INSERT, UPDATE"),
    ("admin_audit", "SELECT, INSERT"),
];

/// What the cloud sync-worker may do: apply batches, hold and park them.
/// Nothing of the stores' credentials, the master feed or the admin.
const WORKER_RIGHTS: &[(&str, &str)] = &[
    ("store_epochs", "SELECT"),
    ("stream_marks", "SELECT, INSERT, UPDATE"),
    ("pending_events", "SELECT, INSERT, DELETE"),
    ("inbox", "SELECT, INSERT"),
    ("rejected_events", "INSERT"),
    ("alarms", "INSERT"),
    ("orders", "SELECT, INSERT, UPDATE"),
    ("register_numbers", "SELECT, INSERT, UPDATE"),
    ("stock_movements", "SELECT, INSERT"),
    ("stock_levels", "SELECT, INSERT, UPDATE"),
    ("store_products", "SELECT, INSERT, UPDATE"),
    ("master_conflicts", "INSERT"),
    ("parked_batches", "INSERT"),
    ("write_probe", "SELECT, INSERT, UPDATE"),
];

impl Service {
    /// Its rights on each table it uses.
    pub fn rights(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Service::Api => API_RIGHTS,
            Service::Worker => WORKER_RIGHTS,
        }
    }

    /// The role's name: the database's, then the service's
    /// (`outpost_api` for the database `outpost`).
    pub fn role(self, database: &str) -> String {
        let suffix = match self {
            Service::Api => "api",
            Service::Worker => "worker",
        };
        format!("{database}_{suffix}")
    }
}

/// The database a URL names.
fn database_of(url: &str) -> Result<String> {
    outpost_domain::pg::database_of(url).map_err(CloudError::Migration)
}

/// Runs the cloud's migrations with `url` (the database's owner: the only
/// role that changes the schema), then, for each service given a password,
/// makes or updates its login role with the rights it needs and no more:
/// no superuser, no role or database creation, no DDL (the owner keeps
/// the schema); on each table only what [`Service::rights`] lists. Returns
/// the roles made.
pub fn migrate(url: &str, passwords: &[(Service, &str)]) -> Result<Vec<String>> {
    use diesel::Connection;
    postgres_only(url)?;
    let database = database_of(url)?;
    let mut c = PgConnection::establish(&with_connect_timeout(url))
        .map_err(|e| CloudError::Migration(format!("connecting to migrate: {e}")))?;
    c.batch_execute("SELECT pg_advisory_lock(7400011)")?;
    let r = c
        .run_pending_migrations(CLOUD_MIGRATIONS)
        .map(|_| ())
        .map_err(|e| CloudError::Migration(e.to_string()))
        .and_then(|()| grant(&mut c, &database, passwords));
    c.batch_execute("SELECT pg_advisory_unlock(7400011)")?;
    r
}

fn grant(
    c: &mut PgConnection,
    database: &str,
    passwords: &[(Service, &str)],
) -> Result<Vec<String>> {
    let mut made = Vec::new();
    for (service, password) in passwords {
        if password.is_empty() {
            continue;
        }
        let role = service.role(database);
        let sql = outpost_domain::pg::service_role_sql(database, &role, password, service.rights())
            .map_err(CloudError::Migration)?;
        c.batch_execute(&sql)?;
        made.push(role);
    }
    Ok(made)
}

impl CloudDb {
    /// Opens a pool on a `postgres://` URL; with `migrate`, runs the
    /// cloud's migrations first (a single-role install), else refuses a
    /// schema that is not current (`outpost cloud migrate` first).
    pub fn open(url: &str, pool_size: u32, migrate: bool) -> Result<CloudDb> {
        postgres_only(url)?;
        let setup = outpost_domain::pg::session_setup(url);
        let url = with_connect_timeout(url);
        let pool = Pool::builder()
            .connection_customizer(Box::new(Timeouts(setup.clone())))
            .max_size(pool_size.max(2))
            // Open connections as they are needed, not all up front: several
            // services share one PostgreSQL server.
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(10))
            .build(ConnectionManager::<PgConnection>::new(url))?;
        let db = CloudDb { pool };
        let mut c = db.conn()?;
        if !migrate {
            // Read, not through the harness: it would try to create its
            // table, which a service's role may not.
            use diesel::migration::MigrationSource;
            #[derive(diesel::QueryableByName)]
            struct Applied {
                #[diesel(sql_type = diesel::sql_types::Text)]
                version: String,
            }
            let applied: Vec<String> =
                diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
                    .load::<Applied>(&mut c)
                    .map(|v| v.into_iter().map(|a| a.version).collect())
                    .unwrap_or_default();
            let known = MigrationSource::<diesel::pg::Pg>::migrations(&CLOUD_MIGRATIONS)
                .map_err(|e| CloudError::Migration(e.to_string()))?;
            let pending = known
                .iter()
                .any(|m| !applied.contains(&m.name().version().to_string()));
            if pending {
                return Err(CloudError::Migration(
                    "the central database's schema is not current: run `outpost cloud migrate` with the database owner's URL first".into(),
                ));
            }
            return Ok(db);
        }
        // Migrations may run long on a large database (and wait for the
        // lock below); back to the connection's own timeout after.
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            statement_timeout: String,
        }
        let was = diesel::sql_query("SHOW statement_timeout")
            .get_result::<Setting>(&mut c)?
            .statement_timeout;
        c.batch_execute("SET statement_timeout = 0")?;
        // The api and the sync-workers may start at once against one database.
        c.batch_execute("SELECT pg_advisory_lock(7400011)")?;
        let r = c
            .run_pending_migrations(CLOUD_MIGRATIONS)
            .map(|_| ())
            .map_err(|e| CloudError::Migration(e.to_string()));
        c.batch_execute("SELECT pg_advisory_unlock(7400011)")?;
        c.batch_execute(&format!(
            "SET statement_timeout = {}",
            outpost_domain::pg::literal(&was)
        ))?;
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
