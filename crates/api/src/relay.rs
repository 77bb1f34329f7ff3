//! The relay task: the one path that hands committed events on. It positions
//! events (see `outpost_storage::relay`) and publishes them, in position order,
//! on the in-process bus; later the sync push and Redis attach here too.

use crate::state::AppState;
use actix_web::web;
use outpost_storage::outbox::StoredEvent;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;

/// What the relay reports to `/health`.
#[derive(Debug, Clone, Default)]
pub struct RelayStatus {
    /// Milliseconds since the Unix epoch of the last successful pass.
    pub last_ok_ms: Arc<AtomicI64>,
    pub bus: Option<broadcast::Sender<Arc<StoredEvent>>>,
}

impl RelayStatus {
    pub fn new(bus: broadcast::Sender<Arc<StoredEvent>>) -> Self {
        RelayStatus {
            last_ok_ms: Arc::default(),
            bus: Some(bus),
        }
    }
    pub fn last_ok(&self) -> i64 {
        self.last_ok_ms.load(Ordering::Relaxed)
    }
}

/// Runs until `shutdown` resolves, positioning events as they commit.
pub async fn run(state: web::Data<AppState>, shutdown: impl std::future::Future<Output = ()>) {
    let interval = Duration::from_millis(state.settings.relay.interval_ms.max(5));
    let batch = state.settings.relay.batch.clamp(1, 10_000);
    tokio::pin!(shutdown);
    // Hand on only what commits from now on; durable consumers (sync, Redis)
    // keep their own positions and read what they missed from the outbox.
    let mut after = loop {
        match state.db(|c, _| outpost_storage::relay::start_seq(c)).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(error = %e, "relay cannot read the outbox yet; retrying");
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        }
    };
    loop {
        loop {
            // Payloads are loaded only when someone is listening on the bus.
            let listening = state
                .relay
                .bus
                .as_ref()
                .is_some_and(|b| b.receiver_count() > 0);
            let r = state
                .db(move |c, _| outpost_storage::relay::next_batch(c, after, batch, listening))
                .await;
            match r {
                Ok(b) => {
                    after = b.last_seq.max(after);
                    state
                        .relay
                        .last_ok_ms
                        .store(outpost_storage::db::now_millis(), Ordering::Relaxed);
                    state.metrics.relayed.inc_by(b.count as u64);
                    if let Some(bus) = &state.relay.bus {
                        for e in b.events {
                            // Nobody listening is fine: durable consumers read by position.
                            let _ = bus.send(Arc::new(e));
                        }
                    }
                    if (b.count as i64) < batch {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "relay pass failed; retrying");
                    break;
                }
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = state.relay_wake.notified() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
