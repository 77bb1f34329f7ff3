//! Building the api: open storage, set the store up on first start, bind the
//! listener (port 0 in tests), start the relay and housekeeping.

use crate::after_commit::{AfterCommit, wait};
use crate::metrics::Metrics;
use crate::problem;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
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
    /// The TLS port the LAN and register agents use.
    tls: Option<Tls>,
    server: actix_web::dev::Server,
    state: web::Data<AppState>,
    /// Demo staff created on this (first) start, with their PINs, to print once.
    pub demo_staff: Option<Vec<(String, Role, String)>>,
}

/// Routes a caller adds beside the api's own (a register agent's link
/// status), registered on every worker's app.
pub type Extra = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// A register agent's page server answers only its own page: the Host is
/// its loopback address and port (never a name a DNS rebinding points
/// here), an Origin is that page's, and everything but the page, its
/// static files and health carries the per-start token the page was
/// served with. A page from another origin can neither read nor act.
#[derive(Debug, Clone)]
pub struct LocalOnly {
    hosts: Vec<String>,
    token: String,
}

impl LocalOnly {
    fn new(port: u16, token: &str) -> LocalOnly {
        LocalOnly {
            hosts: ["127.0.0.1", "localhost", "[::1]"]
                .iter()
                .map(|h| format!("{h}:{port}"))
                .collect(),
            token: token.to_owned(),
        }
    }

    /// Why a request is refused, if it is.
    fn refusal(&self, req: &ServiceRequest) -> Option<&'static str> {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let host = header("host").unwrap_or("");
        if !self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Some("this register's page answers only on its own loopback address");
        }
        if let Some(origin) = header("origin")
            && !self
                .hosts
                .iter()
                .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")))
        {
            return Some("a page from another origin may not use this register");
        }
        let path = req.path();
        let open = req.method() == actix_web::http::Method::GET
            && (path == "/" || path.starts_with("/static/") || path.starts_with("/health"));
        let token_ok = header("x-page-token").is_some_and(|t| {
            outpost_domain::secrets::hash_token(t)
                == outpost_domain::secrets::hash_token(&self.token)
        });
        if !open && !token_ok {
            return Some("reload this register's page: its token is from an earlier start");
        }
        None
    }
}

async fn local_only(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let refusal = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.local_only.as_ref())
        .and_then(|g| g.refusal(&req));
    if let Some(why) = refusal {
        let res = problem::plain(StatusCode::FORBIDDEN, "not-this-page", "Refused", why);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Plain HTTP is for the store server itself (`server.plain_networks`):
/// a client elsewhere is sent to the TLS port before its request is read,
/// so its PIN or token never crosses the LAN in clear a second time.
async fn plain_here_only(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>();
    let to = match (state, req.peer_addr()) {
        (Some(state), Some(peer))
            if !req.app_config().secure()
                && state.local_only.is_none()
                && !state.settings.server.plain_networks.contains(peer.ip()) =>
        {
            state.tls_port
        }
        _ => None,
    };
    if let Some(port) = to {
        let res = outpost_telemetry::tls::to_tls(req.request(), port);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The api's TLS port, as bound.
pub struct Tls {
    pub port: u16,
    /// The store CA's, which a till pins.
    pub fingerprint: String,
    /// What the port serves (the embedded edge's hub serves it too).
    pub config: rustls::ServerConfig,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartError> {
        Application::build_with(settings, None)
    }

    /// [`Application::build`] with `extra` routes beside the api's own.
    pub fn build_with(settings: Settings, extra: Option<Extra>) -> Result<Application, StartError> {
        // Listen first: if the port is taken, fail before the first start seeds
        // demo data whose PINs would then never be shown.
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
        // Register agents' link: TLS with the store's own CA (not on a
        // till's agent, which serves its page on loopback only).
        let tls_listener = match settings.server.tls_port {
            Some(p) if settings.server.page_token.0.is_empty() => {
                let addr = format!("{}:{p}", settings.server.host);
                Some(TcpListener::bind(&addr).map_err(|source| StartError::Bind { addr, source })?)
            }
            _ => None,
        };
        let tls_port = match &tls_listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|source| StartError::Bind {
                        addr: "the TLS port".into(),
                        source,
                    })?
                    .port(),
            ),
            None => None,
        };
        let db = Db::open(&settings.database.url, settings.database.pool_size)?;
        let mut conn = db.conn()?;
        let demo_staff = if settings.demo.enabled {
            seed::demo(&mut conn, &settings.store_setup())?
        } else {
            None
        };
        seed::setup(&mut conn, &settings.store_setup())?;
        let node = Arc::new(Node::load(&mut conn)?);
        node.set_discount_limits(settings.sales.discount_limits());
        // What search compares, for products written before it was kept
        // (or by an older fold): at start, not in a cashier's first search.
        outpost_storage::catalog::fold_missing(&mut conn)?;
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
            local_only: (!settings.server.page_token.0.is_empty())
                .then(|| LocalOnly::new(port, &settings.server.page_token.0)),
            tls_port,
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
            let app = routes::mount(app);
            let app = match &extra {
                Some(f) => app.configure(|c| f(c)),
                None => app,
            };
            app.wrap(from_fn(local_only))
                .wrap(from_fn(plain_here_only))
                .wrap(outpost_telemetry::headers::security())
                .default_service(web::to(|| async {
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
        let mut tls = None;
        if let (Some(listener), Some(bound)) = (tls_listener, tls_port) {
            let ca = crate::tls::store_ca(&mut *state.db.conn()?, &state.node.store_code)?;
            state.after.hardware.trust(&ca.cert_pem);
            let leaf = crate::tls::leaf(
                &ca,
                &crate::tls::names(&settings.mdns.host(), &settings.server.tls_names),
            )?;
            if !settings.server.tls_dir.is_empty() {
                let dir = std::path::Path::new(&settings.server.tls_dir);
                outpost_telemetry::tls::write(dir, &leaf.chain_pem, &leaf.key_pem).map_err(
                    |source| StartError::Bind {
                        addr: format!("{} (server.tls_dir)", dir.display()),
                        source,
                    },
                )?;
            }
            let config = crate::tls::server_config(&leaf)?;
            server = server
                .listen_rustls_0_23(listener, config.clone())
                .map_err(|source| StartError::Bind {
                    addr: format!("port {bound}"),
                    source,
                })?;
            tls = Some(Tls {
                port: bound,
                fingerprint: crate::tls::fingerprint(&ca),
                config,
            });
        }
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.shutdown_timeout(10).run();
        Ok(Application {
            port,
            tls,
            server,
            state,
            demo_staff,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS port register agents and LAN pages use, the store CA's
    /// fingerprint and the certificate served (none on a till's agent).
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// This node (a register agent tells it when its edge is away).
    pub fn node(&self) -> Arc<Node> {
        self.state.node.clone()
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
