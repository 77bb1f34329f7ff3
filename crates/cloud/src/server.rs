//! The cloud api's process: its metrics, the central database opened, and
//! the gRPC SyncService served over TLS (the admin HTTP side is [`crate::admin`]).

use crate::db::CloudDb;
use crate::settings::CloudSettings;
use anyhow::Context;
use outpost_bus::Publisher;
use outpost_proto::sync_v1::sync_service_server::SyncServiceServer;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};
use std::sync::Arc;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Identity, Server, ServerTlsConfig};

/// Largest push accepted: a store's push holds a batch per stream and
/// stops adding once it has twice `sync.batch_bytes` (1 MiB by default, 16
/// MiB at most), so 64 MiB is its worst case with room to spare. Only a
/// caller past the gate's credential check is read at all.
pub const MAX_PUSH_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct CloudMetrics {
    pub registry: Registry,
    pub pushes: IntCounter,
    pub events: IntCounter,
    pub push_seconds: Histogram,
    pub refused: IntCounterVec,
    pub heartbeats: IntCounter,
    /// Stores that took up a rotated credential.
    pub rotations: IntCounter,
}

impl CloudMetrics {
    pub fn new() -> CloudMetrics {
        let registry = Registry::new();
        let pushes = IntCounter::new("outpost_sync_pushes_total", "Pushes acknowledged")
            .expect("valid metric");
        let events = IntCounter::new(
            "outpost_sync_events_acked_total",
            "Events acknowledged to stores (durable in the queue)",
        )
        .expect("valid metric");
        let push_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "outpost_sync_push_duration_seconds",
                "Time from a push's arrival to its acknowledgement",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        )
        .expect("valid metric");
        let refused = IntCounterVec::new(
            Opts::new(
                "outpost_sync_refused_total",
                "Sync requests refused, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let heartbeats = IntCounter::new("outpost_sync_heartbeats_total", "Store heartbeats")
            .expect("valid metric");
        let rotations = IntCounter::new(
            "outpost_sync_credential_rotations_total",
            "Stores that took up a rotated credential",
        )
        .expect("valid metric");
        for m in [
            Box::new(pushes.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(events.clone()),
            Box::new(push_seconds.clone()),
            Box::new(refused.clone()),
            Box::new(heartbeats.clone()),
            Box::new(rotations.clone()),
        ] {
            registry.register(m).expect("unique metric");
        }
        CloudMetrics {
            registry,
            pushes,
            events,
            push_seconds,
            refused,
            heartbeats,
            rotations,
        }
    }
}

impl Default for CloudMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Opens the central database (running its migrations).
pub fn open_db(c: &CloudSettings) -> anyhow::Result<CloudDb> {
    anyhow::ensure!(
        !c.database_url.is_empty(),
        "set cloud.database_url (OUTPOST__CLOUD__DATABASE_URL) to the central PostgreSQL"
    );
    CloudDb::open(&c.database_url, c.pool_size, c.migrate_on_start)
        .context("opening the central database")
}

/// Serves the SyncService over TLS on `listener` until `shutdown` resolves.
pub async fn serve_sync(
    c: &CloudSettings,
    db: CloudDb,
    metrics: CloudMetrics,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !c.tls_cert.is_empty() && !c.tls_key.is_empty(),
        "the sync port serves TLS only: set cloud.tls_cert and cloud.tls_key (PEM files; `outpost cloud certs` makes a private CA and a certificate)"
    );
    let cert = std::fs::read(&c.tls_cert).with_context(|| format!("reading {}", c.tls_cert))?;
    let key = std::fs::read(&c.tls_key).with_context(|| format!("reading {}", c.tls_key))?;
    let svc = crate::sync_service::Sync {
        db,
        bus: Arc::new(Publisher::new(&c.amqp_url, c.amqp_timers())),
        metrics,
        refusals: Arc::new(crate::refusals::Refusals::new(c.refusals_per_minute)),
        credential_warn_ms: c.credential_warn_ms(),
    };
    let timeout = std::time::Duration::from_secs(c.sync_timeout_s.max(1));
    let gate = crate::gate::Gate::new(svc.clone(), timeout);
    let svc = SyncServiceServer::new(svc)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(MAX_PUSH_BYTES);
    Server::builder()
        .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
        .context("the TLS certificate or key")?
        .timeout(timeout)
        // The gate first: a call without a good credential is answered
        // before it takes a place among the calls served, and before its
        // body is read.
        .layer(gate)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            c.sync_max_calls.max(1),
        ))
        .add_service(svc)
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
        .context("serving the SyncService")
}
