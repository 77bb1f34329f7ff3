//! The realtime hub (port 3001): serves each store's committed events to its
//! kitchen displays and registers over WebSockets, from the realtime log
//! (Redis streams under compose, or the api's in-process log in the embedded
//! edge — the same protocol either way).
//!
//! Clients connect with a ticket from the api (`/ws?ticket=`), subscribe to
//! channels with their last `(epoch, offset)`, and get what they missed, then
//! live events; see `outpost_realtime::wire` for the protocol.

mod conn;
pub mod fanout;
pub mod metrics;
pub mod presence;
pub mod revocation;

use actix_web::{App, HttpResponse, HttpServer, web};
use outpost_realtime::Log;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `[hub]`'s defaults.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

/// `[hub]`: where the hub listens and how it treats slow or silent clients.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct HubSettings {
    pub host: String,
    pub port: u16,
    pub queue: usize,
    pub ping_interval_ms: u64,
    pub dead_after_ms: u64,
    pub send_buffer: usize,
    pub workers: usize,
    /// The WebSocket port for pages served over TLS (`wss://`).
    #[serde(default)]
    pub tls_port: Option<u16>,
    /// Where the api writes the certificate to serve there (its
    /// `server.tls_dir`); `outpost hub` alone serves TLS only with one.
    #[serde(default)]
    pub tls_dir: String,
    /// How long `outpost hub` waits for that certificate at start.
    #[serde(default = "tls_wait_s")]
    pub tls_wait_s: u64,
}

fn tls_wait_s() -> u64 {
    120
}

impl HubSettings {
    /// The hub's running configuration, checking tickets with `secret`.
    pub fn config(&self, secret: &[u8]) -> HubConfig {
        HubConfig {
            host: self.host.clone(),
            port: self.port,
            secret: secret.to_vec(),
            queue: self.queue,
            ping_interval: Duration::from_millis(self.ping_interval_ms.max(100)),
            dead_after: Duration::from_millis(self.dead_after_ms.max(500)),
            send_buffer: self.send_buffer,
            workers: self.workers,
        }
    }
}

/// What the hub needs to run.
#[derive(Clone)]
pub struct HubConfig {
    pub host: String,
    pub port: u16,
    /// Shared with the api, which signs the tickets.
    pub secret: Vec<u8>,
    /// Frames a connection may have waiting before it counts as too slow.
    pub queue: usize,
    pub ping_interval: Duration,
    /// A client silent this long (no pong, no message) is disconnected.
    pub dead_after: Duration,
    /// Kernel send buffer per connection: bounds what a stalled client can
    /// hold beyond its queue (Linux would otherwise grow it to megabytes).
    pub send_buffer: usize,
    pub workers: usize,
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("queue", &self.queue)
            .field("ping_interval", &self.ping_interval)
            .field("dead_after", &self.dead_after)
            .finish_non_exhaustive()
    }
}

/// Shared by every connection.
pub struct Hub {
    pub config: HubConfig,
    pub metrics: metrics::Metrics,
    pub registry: fanout::Registry,
    pub presence: presence::Presence,
    pub revocations: revocation::Revocations,
    /// Tickets already used: each opens one connection or one refresh.
    pub spent: outpost_realtime::ticket::Spent,
    started: Instant,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A bound, not yet running hub.
pub struct Server {
    port: u16,
    tls_port: Option<u16>,
    server: actix_web::dev::Server,
}

impl Server {
    /// Prepares the server on a listener bound by the caller (port 0 picks
    /// a free one; the embedded edge binds it first, to tell the api the
    /// port), and on `tls` when
    /// given: a second listener serving the same hub over TLS.
    pub fn on(
        listener: TcpListener,
        tls: Option<(TcpListener, rustls::ServerConfig)>,
        config: HubConfig,
        log: Log,
    ) -> std::io::Result<Server> {
        // Accepted connections inherit the listener's buffer sizes.
        socket2::SockRef::from(&listener).set_send_buffer_size(config.send_buffer.max(4096))?;
        let port = listener.local_addr()?.port();
        let tls_port = match &tls {
            Some((l, _)) => {
                socket2::SockRef::from(l).set_send_buffer_size(config.send_buffer.max(4096))?;
                Some(l.local_addr()?.port())
            }
            None => None,
        };
        let metrics = metrics::Metrics::new();
        let hub = web::Data::new(Hub {
            registry: fanout::Registry::new(log, metrics.clone()),
            presence: presence::Presence::new(metrics.clone()),
            revocations: Default::default(),
            spent: Default::default(),
            metrics,
            started: Instant::now(),
            config: config.clone(),
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(outpost_telemetry::headers::security())
                .app_data(hub.clone())
                .route("/ws", web::get().to(conn::upgrade))
                .route("/health", web::get().to(health))
                .route("/metrics", web::get().to(render_metrics))
        })
        // Small frames must leave at once: with Nagle on, a frame waits for
        // the client's delayed ACK (~40 ms on Linux).
        .tcp_nodelay(true)
        .listen(listener)?
        .shutdown_timeout(5);
        if let Some((l, tls)) = tls {
            server = server.listen_rustls_0_23(l, tls)?;
        }
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        Ok(Server {
            port,
            tls_port,
            server: server.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS port, as bound.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// Serves until SIGINT/SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The hub is unhealthy only when it cannot serve; an unreachable log makes it
/// "degraded" (clients stay connected and catch up when it returns).
async fn health(hub: web::Data<Hub>) -> HttpResponse {
    let log_ok = hub.registry.log_ok.load(Ordering::Relaxed);
    let log_status = if log_ok {
        outpost_telemetry::Status::Ok
    } else {
        outpost_telemetry::Status::Degraded
    };
    let backend = match hub.registry.log() {
        Log::Memory(_) => "memory",
        Log::Redis(_) => "redis",
    };
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "status": log_status,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": hub.started.elapsed().as_secs(),
            "components": {
                "log": {"status": log_status, "backend": backend},
            },
        }))
}

async fn render_metrics(hub: web::Data<Hub>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(outpost_telemetry::render(&hub.metrics.registry))
}
