//! Connections, pools, migrations and write transactions for both backends.

use crate::error::{Result, StorageError};
pub use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// One connection type for both databases, so queries are written once.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Settings each SQLite connection gets. WAL with `synchronous=FULL` fsyncs the
/// log on every commit, so a sale acknowledged to the till survives a power cut,
/// not just a process crash. `busy_timeout` lets writers queue instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON;";

/// Establishes the backend the URL names, never another one: diesel's own
/// `MultiConnection::establish` falls back to SQLite for any string, which would
/// silently create a file named after an unreachable PostgreSQL URL.
#[derive(Debug)]
pub struct Manager {
    url: String,
    backend: Backend,
}

/// A pooled connection and when it was last handed back.
pub struct Pooled {
    conn: AnyConnection,
    returned: Instant,
}

impl std::ops::Deref for Pooled {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// A connection handed back less than this long ago is handed out again
/// without a `SELECT 1` first. The ping on every checkout was one round trip in
/// eight of a sale; a connection that broke while in use is dropped when it is
/// handed back (see `has_broken`), so only one that broke while idle for under
/// this long can fail its next request.
const FRESH: Duration = Duration::from_secs(1);

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> std::result::Result<Pooled, r2d2::Error> {
        let conn = match self.backend {
            Backend::Postgres => {
                // Bounded connect and statements (`outpost_domain::pg`): a
                // statement stuck on a lock fails its request, which the
                // register retries with its idempotency key, instead of
                // holding a pooled connection for good.
                let mut c =
                    PgConnection::establish(&outpost_domain::pg::with_connect_timeout(&self.url))
                        .map_err(r2d2::Error::ConnectionError)?;
                if let Some(sql) = outpost_domain::pg::session_setup(&self.url) {
                    c.batch_execute(&sql).map_err(r2d2::Error::QueryError)?;
                }
                AnyConnection::Postgresql(c)
            }
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut c =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                c.batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                AnyConnection::Sqlite(c)
            }
        };
        Ok(Pooled {
            conn,
            returned: Instant::now(),
        })
    }
    fn is_valid(&self, conn: &mut Pooled) -> std::result::Result<(), r2d2::Error> {
        if conn.returned.elapsed() < FRESH {
            return Ok(());
        }
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }
    /// Called as a connection is handed back. diesel marks a connection whose
    /// server went away (libpq reports its transaction status unknown) or
    /// whose transaction could not be closed as broken; r2d2 then drops it.
    fn has_broken(&self, conn: &mut Pooled) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.returned = Instant::now();
        std::thread::panicking()
            || match &mut conn.conn {
                AnyConnection::Postgresql(c) => c.is_broken(),
                AnyConnection::Sqlite(c) => c.is_broken(),
            }
    }
}

pub type PooledConn = r2d2::PooledConnection<Manager>;

/// The database: a pool of connections to one backend.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// SQLite admits one writer at a time anyway. Queuing writers on a mutex
    /// here hands the lock over at once, where SQLite's busy handler sleeps
    /// and retries (measured: second-long p99 tails under 32 registers).
    writer: Option<Arc<Mutex<()>>>,
    /// Told of each successful write (one per database and its clones).
    after_write: Arc<std::sync::OnceLock<Arc<dyn AfterWrite>>>,
}

/// Told of every write that succeeded through [`Db::write`], while it is
/// still the writer's turn, so it sees writes in commit order (the SQLite
/// edge's feed of committed events is one: `crate::feed`).
pub trait AfterWrite: Send + Sync {
    fn written(&self, conn: &mut AnyConnection);
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Opens a pool (a `postgres://` URL, or a SQLite file path) and runs the
    /// embedded migrations.
    pub fn open(url: &str, pool_size: u32) -> Result<Db> {
        let backend = Backend::of_url(url);
        if backend == Backend::Sqlite {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StorageError::Migration(format!("create {dir:?}: {e}")))?;
            }
            // Switch a new file to WAL (which stays with the file) from one
            // connection first: the pool opens several at once, and a journal
            // mode change racing others fails at once with "database is
            // locked" rather than waiting on busy_timeout.
            SqliteConnection::establish(path)
                .map_err(|e| StorageError::Migration(format!("open {path}: {e}")))?
                .batch_execute(SQLITE_PRAGMAS)
                .map_err(|e| StorageError::Migration(format!("set up {path}: {e}")))?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(2))
            // Open connections as they are needed, not all up front: several
            // services share one PostgreSQL server.
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(10))
            .build(Manager {
                url: url.to_owned(),
                backend,
            })?;
        let writer = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let db = Db {
            pool,
            backend,
            writer,
            after_write: Arc::default(),
        };
        db.migrate()?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&self) -> Result<PooledConn> {
        Ok(self.pool.get()?)
    }

    /// Has `hook` told of every later write through [`Db::write`] (on this
    /// database and its clones). One hook per database: false, and `hook`
    /// left out, when one is installed already.
    pub fn after_write(&self, hook: Arc<dyn AfterWrite>) -> bool {
        self.after_write.set(hook).is_ok()
    }

    /// Runs `f` in the writer's turn (SQLite: no write commits meanwhile).
    pub fn in_writers_turn<T>(&self, f: impl FnOnce() -> T) -> T {
        let _turn = self
            .writer
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
        f()
    }

    /// Runs work that writes, one writer at a time on SQLite.
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<StorageError>,
    {
        let mut conn = self.conn()?;
        let _turn = self
            .writer
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
        let r = f(&mut conn);
        // Still this writer's turn, so the hook sees commits in order.
        if r.is_ok()
            && let Some(hook) = self.after_write.get()
        {
            hook.written(&mut conn);
        }
        r
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn()?;
        let mig =
            |e: Box<dyn std::error::Error + Send + Sync>| StorageError::Migration(e.to_string());
        match &mut **conn {
            AnyConnection::Postgresql(c) => {
                // Read first, not through the harness: it would try to
                // create its table, which a service's role may not.
                if !pg_pending(c)? {
                    return Ok(());
                }
                // Migrations may run long on a large database (and wait for
                // the lock below): without the statement timeout, then back.
                #[derive(diesel::QueryableByName)]
                struct Setting {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    statement_timeout: String,
                }
                let was = diesel::sql_query("SHOW statement_timeout")
                    .get_result::<Setting>(c)?
                    .statement_timeout;
                c.batch_execute("SET statement_timeout = 0")?;
                // Several services may start at once against one database.
                c.batch_execute("SELECT pg_advisory_lock(7400001)")?;
                let r = c
                    .run_pending_migrations(PG_MIGRATIONS)
                    .map(|_| ())
                    .map_err(|e| {
                        let e = e.to_string();
                        let why = if e.contains("permission denied") || e.contains("must be owner")
                        {
                            " (this role may not change the schema: run `outpost migrate` with the database owner's URL first)"
                        } else {
                            ""
                        };
                        StorageError::Migration(format!("{e}{why}"))
                    });
                c.batch_execute("SELECT pg_advisory_unlock(7400001)")?;
                c.batch_execute(&format!(
                    "SET statement_timeout = {}",
                    outpost_domain::pg::literal(&was)
                ))?;
                r
            }
            AnyConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|_| ())
                .map_err(mig),
        }
    }
}

/// Whether the PostgreSQL schema lacks one of the embedded migrations.
fn pg_pending(c: &mut PgConnection) -> Result<bool> {
    use diesel::migration::MigrationSource;
    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    // No table yet (a new database): every migration is pending.
    let applied: Vec<String> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load::<Applied>(c)
        .map(|v| v.into_iter().map(|a| a.version).collect())
        .unwrap_or_default();
    let known = MigrationSource::<diesel::pg::Pg>::migrations(&PG_MIGRATIONS)
        .map_err(|e| StorageError::Migration(e.to_string()))?;
    Ok(known
        .iter()
        .any(|m| !applied.contains(&m.name().version().to_string())))
}

/// `outpost migrate`: brings the store database's schema up to date with
/// `url` (the database's owner) and, given a password, makes or updates the
/// role the edge's services connect as, `<database>_app`: reads and writes
/// every table, and nothing more (no DDL, not superuser, so no `COPY …
/// PROGRAM` either). Returns the role when made (PostgreSQL only).
pub fn migrate_as_owner(url: &str, app_password: &str) -> Result<Option<String>> {
    let db = Db::open(url, 2)?;
    if db.backend() != Backend::Postgres || app_password.is_empty() {
        return Ok(None);
    }
    let database = outpost_domain::pg::database_of(url).map_err(StorageError::Migration)?;
    let role = format!("{database}_app");
    let sql = outpost_domain::pg::service_role_sql(
        &database,
        &role,
        app_password,
        &[(
            "ALL TABLES IN SCHEMA public",
            "SELECT, INSERT, UPDATE, DELETE",
        )],
    )
    .map_err(StorageError::Migration)?;
    let mut conn = db.conn()?;
    if let AnyConnection::Postgresql(c) = &mut **conn {
        c.batch_execute(&sql)?;
    }
    Ok(Some(role))
}

/// Runs `f` in a write transaction. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so two writers queue on `busy_timeout` instead of one
/// failing when it upgrades a read lock. The transaction is opened through the
/// inner connection's own transaction manager, so diesel's nested work (batch
/// inserts) uses savepoints inside it.
pub fn write_tx<T, E>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Tm = AnsiTransactionManager;
    match conn {
        AnyConnection::Postgresql(_) => conn.transaction(f),
        AnyConnection::Sqlite(c) => {
            Tm::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            let r = f(conn);
            let AnyConnection::Sqlite(c) = conn else {
                return r;
            };
            match r {
                Ok(v) => {
                    match <Tm as TransactionManager<SqliteConnection>>::commit_transaction(c) {
                        Ok(()) => Ok(v),
                        Err(e) => {
                            let _ =
                                <Tm as TransactionManager<SqliteConnection>>::rollback_transaction(
                                    c,
                                );
                            Err(e.into())
                        }
                    }
                }
                Err(e) => {
                    let _ = <Tm as TransactionManager<SqliteConnection>>::rollback_transaction(c);
                    Err(e)
                }
            }
        }
    }
}

/// Ids and wall-clock time, the same on every tier.
pub use outpost_domain::ids::{new_id, now_millis};

/// `SUM(column)` as a BIGINT on both backends (diesel types a PostgreSQL sum of
/// BIGINT as NUMERIC). `column` is a fixed column name, never user input.
pub fn sum_i64(
    column: &'static str,
) -> diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::BigInt>> {
    diesel::dsl::sql(&format!("CAST(SUM({column}) AS BIGINT)"))
}

/// A fixed statement with text parameters (`?` in `sql`) that diesel prepares
/// once per connection and reuses; `sql_query`'s statements never are, so a
/// statement on every sale pays its parse and plan each time.
pub(crate) struct Fixed<'a> {
    pub sql: &'static str,
    pub binds: Vec<&'a str>,
}

impl diesel::query_builder::QueryId for Fixed<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for Fixed<'_>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        let mut parts = self.sql.split('?');
        out.push_sql(parts.next().unwrap_or_default());
        for (part, bind) in parts.zip(&self.binds) {
            out.push_bind_param::<diesel::sql_types::Text, str>(bind)?;
            out.push_sql(part);
        }
        Ok(())
    }
}

impl diesel::query_builder::Query for Fixed<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Fixed<'_> {}
