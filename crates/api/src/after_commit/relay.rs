//! The relay task: the one path that hands committed events on. It positions
//! events (see `outpost_storage::relay`) and wakes the durable consumers that
//! read them by position: the realtime publisher (and later the sync push).

use super::AfterCommit;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// What the relay reports to `/health`.
#[derive(Debug, Clone, Default)]
pub struct RelayStatus {
    /// Milliseconds since the Unix epoch of the last successful pass.
    pub last_ok_ms: Arc<AtomicI64>,
}

impl RelayStatus {
    pub fn last_ok(&self) -> i64 {
        self.last_ok_ms.load(Ordering::Relaxed)
    }
}

/// Runs until `shutdown` resolves, positioning events as they commit.
pub async fn run(state: Arc<AfterCommit>, shutdown: impl std::future::Future<Output = ()>) {
    let interval = Duration::from_millis(state.relay_settings.interval_ms.max(5));
    let batch = state.relay_settings.batch.clamp(1, 10_000);
    tokio::pin!(shutdown);
    // Position only what commits from now on (older rows have positions);
    // consumers keep their own positions and read the outbox from there.
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
            let r = state
                .db(move |c, _| outpost_storage::relay::next_batch(c, after, batch))
                .await;
            match r {
                Ok(b) => {
                    after = b.last_seq.max(after);
                    state
                        .relay
                        .last_ok_ms
                        .store(outpost_storage::db::now_millis(), Ordering::Relaxed);
                    state.metrics.relayed.inc_by(b.count as u64);
                    if b.count > 0 {
                        // The publisher heard of what went through the feed
                        // from the writer already.
                        if !state.fed_through(b.last_seq) {
                            state.realtime.wake.notify_one();
                        }
                        state.sync_wake.notify_one();
                        state.print_wake.notify_one();
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
