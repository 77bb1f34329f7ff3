//! Building the api: open storage, set the store up on first start, bind the
//! listener (port 0 in tests), start the relay and housekeeping.

use crate::after_commit::{AfterCommit, wait};
use crate::metrics::Metrics;
use crate::problem;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use actix_web::dev::Service;
use actix_web::{App, HttpServer, http::StatusCode, web};
use outpost_domain::Role;
use outpost_storage::{Db, Node, SaleWriter, seed};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening the database")]
    Storage(#[from] outpost_storage::StorageError),
    #[error(
        "sync.credential is for store {credential}, but this database belongs to store {database}"
    )]
    WrongStore {
        credential: String,
        database: String,
    },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    state: web::Data<AppState>,
    /// Demo staff created on this (first) start, with their PINs, to print once.
    pub demo_staff: Option<Vec<(String, Role, String)>>,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartError> {
        // Listen first: if the port is taken, fail before the first start seeds
        // demo data whose PINs would then never be shown.
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let db = Db::open(&settings.database.url, settings.database.pool_size)?;
        let mut conn = db.conn()?;
        let demo_staff = if settings.demo.enabled {
            seed::demo(&mut conn, &settings.store_setup())?
        } else {
            None
        };
        seed::setup(&mut conn, &settings.store_setup())?;
        let node = Arc::new(Node::load(&mut conn)?);
        if let Some(id) = settings.store_id()
            && id != node.store_id
        {
            return Err(StartError::WrongStore {
                credential: id,
                database: node.store_id.clone(),
            });
        }
        drop(conn);

        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?
            .port();

        let metrics = Metrics::new();
        let state = web::Data::new(AppState {
            sales: SaleWriter::start(db.clone(), node.clone()),
            after: Arc::new(AfterCommit::new(
                db.clone(),
                node.clone(),
                metrics.clone(),
                &settings,
            )),
            db,
            node,
            metrics,
            started: Instant::now(),
            settings: settings.clone(),
            client_clocks: Default::default(),
            in_flight: Default::default(),
        });
        let data = state.clone();
        let mut server = HttpServer::new(move || {
            let metrics = data.metrics.clone();
            let app = App::new()
                .app_data(data.clone())
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    let detail = e.to_string();
                    actix_web::error::InternalError::from_response(
                        e,
                        problem::plain(
                            StatusCode::BAD_REQUEST,
                            "bad-query",
                            "The query string is not valid",
                            &detail,
                        ),
                    )
                    .into()
                }))
                .wrap_fn(move |req, srv| {
                    let t0 = Instant::now();
                    let metrics = metrics.clone();
                    if let Some(client) = req
                        .headers()
                        .get("X-Client-Time")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i64>().ok())
                        && let Some(state) = req.app_data::<web::Data<AppState>>()
                    {
                        state
                            .client_clocks
                            .observe(client, outpost_storage::db::now_millis());
                    }
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        metrics.observe(&res, t0.elapsed().as_secs_f64());
                        Ok(res)
                    }
                });
            routes::mount(app).default_service(web::to(|| async {
                problem::plain(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "Not found",
                    "no such route or method",
                )
            }))
        })
        .tcp_nodelay(true)
        .listen(listener)
        .map_err(|source| StartError::Bind {
            addr: format!("port {port}"),
            source,
        })?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.shutdown_timeout(10).run();
        Ok(Application {
            port,
            server,
            state,
            demo_staff,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database (the in-process sync worker pushes from it).
    pub fn db(&self) -> outpost_storage::Db {
        self.state.db.clone()
    }

    /// Notified when the relay handed new events on.
    pub fn sync_wake(&self) -> Arc<Notify> {
        self.state.after.sync_wake.clone()
    }

    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// The in-process realtime log (when no Redis is configured): the embedded
    /// hub in `outpost edge` serves screens from it.
    pub fn realtime_log(&self) -> Option<outpost_realtime::Log> {
        self.state
            .after
            .realtime
            .memory
            .clone()
            .map(outpost_realtime::Log::Memory)
    }

    /// This store's id and node epoch, as the realtime log keys them.
    pub fn store_id(&self) -> &str {
        &self.state.node.store_id
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM), running the
    /// relay and housekeeping beside it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let after = self.state.after.spawn(&stop_rx);
        let house_task = tokio::spawn(housekeeping(self.state.clone(), wait(stop_rx)));
        let r = self.server.await;
        let _ = stop_tx.send(true);
        for task in after {
            let _ = task.await;
        }
        let _ = house_task.await;
        let state = self.state.clone();
        let _ = state.write(|c, n| n.persist_clock(c)).await;
        r
    }
}

/// Every few seconds persists the clock's high-water mark, picks up what the
/// sync worker changed (master-data cursor, store settings) and applies
/// price-list versions that became due; purges old idempotency keys daily.
async fn housekeeping(state: web::Data<AppState>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last_purge = Instant::now() - Duration::from_secs(86_400);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = state.write(|c, n| n.persist_clock(c)).await {
            tracing::warn!(error = %e, "could not persist the clock");
        }
        if let Err(e) = state.db(|c, n| n.refresh(c)).await {
            tracing::warn!(error = %e, "could not re-read the store's settings");
        }
        match state
            .write(|c, n| {
                outpost_storage::master::activate_due(c, n, outpost_storage::db::now_millis())
            })
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(versions = n, "price-list versions took effect"),
            Err(e) => tracing::warn!(error = %e, "could not apply due price-list versions"),
        }
        if last_purge.elapsed() >= Duration::from_secs(86_400) {
            let days = state.settings.idempotency.retention_days;
            match state
                .db(move |c, _| outpost_storage::idempotency::purge(c, days))
                .await
            {
                Ok(n) => {
                    last_purge = Instant::now();
                    tracing::info!(purged = n, "old idempotency keys purged");
                }
                Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
            }
        }
    }
}
