//! Revocation: a device a manager revokes loses its open connections at
//! once, not when its ticket expires. The api publishes the store's audit
//! trail to the log's `audit` channel, which no client may follow; one
//! watcher per store follows it, cuts every connection of a device revoked
//! there (close code 4001), and remembers the device so a ticket issued
//! before the revocation cannot connect again.

use crate::Hub;
use crate::fanout::{Kick, Sub};
use outpost_realtime::wire::close;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The log channel the api publishes the audit trail to.
pub const AUDIT: &str = "audit";

/// The audit action that revokes a device; its subject is the device's id.
const REVOKED: &str = "device.revoked";

/// How far back a store's watcher looks when it starts: revocations older
/// than this many audit entries are past any ticket's life.
const LOOK_BACK: i64 = 500;

#[derive(Default)]
struct Watched {
    /// Per device: its open connections' kicks.
    conns: HashMap<String, HashMap<u64, Arc<Kick>>>,
    revoked: HashSet<String>,
}

/// The stores whose audit trail the hub follows, and their connections.
#[derive(Default)]
pub struct Revocations {
    stores: Mutex<HashMap<String, Watched>>,
}

impl Revocations {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Watched>) -> T) -> T {
        f(&mut self.stores.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether `device` was revoked in `store` since the hub watched it.
    pub fn is_revoked(&self, store: &str, device: &str) -> bool {
        self.with(|m| m.get(store).is_some_and(|w| w.revoked.contains(device)))
    }

    /// Cuts `device`'s connections in `store` and refuses its later ones.
    fn revoke(&self, store: &str, device: &str) {
        let cut = self.with(|m| {
            let w = m.entry(store.to_owned()).or_default();
            w.revoked.insert(device.to_owned());
            w.conns.remove(device).unwrap_or_default()
        });
        if !cut.is_empty() {
            tracing::info!(
                store,
                device,
                connections = cut.len(),
                "device revoked: closing its connections"
            );
        }
        for k in cut.values() {
            k.kick(close::UNAUTHORIZED);
        }
    }

    pub fn leave(&self, store: &str, device: &str, conn: u64) {
        self.with(|m| {
            if let Some(c) = m.get_mut(store).and_then(|w| w.conns.get_mut(device)) {
                c.remove(&conn);
                if c.is_empty() {
                    m.get_mut(store).map(|w| w.conns.remove(device));
                }
            }
        });
    }
}

/// Registers a connection of `device` so a revocation cuts it; false (and
/// not registered) when the device was revoked meanwhile. The store's
/// watcher starts with its first connection, and looks back.
pub fn join(hub: &Arc<Hub>, store: &str, device: &str, conn: u64, kick: Arc<Kick>) -> bool {
    let (first, revoked) = hub.revocations.with(|m| {
        let first = !m.contains_key(store);
        let w = m.entry(store.to_owned()).or_default();
        if w.revoked.contains(device) {
            return (first, true);
        }
        w.conns
            .entry(device.to_owned())
            .or_default()
            .insert(conn, kick);
        (first, false)
    });
    if first {
        tokio::spawn(watch(hub.clone(), store.to_owned()));
    }
    !revoked
}

/// The device an audit frame revokes, if it is a revocation.
fn revoked_device(frame: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Frame {
        data: Entry,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        action: String,
        subject: String,
    }
    let f: Frame = serde_json::from_str(frame).ok()?;
    (f.data.action == REVOKED).then_some(f.data.subject)
}

/// Follows `store`'s audit channel for as long as the hub runs.
async fn watch(hub: Arc<Hub>, store: String) {
    // A subscriber id no connection takes.
    let id = u64::MAX - crate::conn::next_id();
    let ch = hub.registry.channel(&store, AUDIT);
    loop {
        let (tx, mut rx) = mpsc::channel(1024);
        let kick = Arc::new(Kick::default());
        let sub = Sub {
            conn: id,
            tx,
            kick: kick.clone(),
        };
        let Some(j) = ch.join(sub, Duration::from_secs(5)).await else {
            // No audit channel yet: the api writes it on its first pass.
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let back = hub
            .registry
            .log()
            .range(&store, AUDIT, &j.epoch, (j.last - LOOK_BACK).max(0), j.last)
            .await;
        for e in back.ok().flatten().unwrap_or_default() {
            if let Some(d) = revoked_device(&e.json) {
                hub.revocations.revoke(&store, &d);
            }
        }
        loop {
            tokio::select! {
                // Cut for being slow, or the channel's epoch changed: join again.
                _ = kick.kicked() => break,
                frame = rx.recv() => match frame {
                    Some(f) => {
                        if let Some(d) = revoked_device(&f) {
                            hub.revocations.revoke(&store, &d);
                        }
                    }
                    None => break,
                },
            }
        }
        ch.leave(id);
    }
}

#[cfg(test)]
mod tests {
    use super::revoked_device;

    #[test]
    fn only_a_device_revocation_names_a_device() {
        let frame = |action: &str| {
            format!(
                r#"{{"type":"event","channel":"audit","offset":3,"epoch":"e","event_id":"x","event_type":"audit.recorded","aggregate_id":"a","device_id":null,"occurred_at":1,"data":{{"id":"a","at":1,"hlc":1,"staff_id":"m","device_id":null,"action":"{action}","subject":"dev-7","detail":"{{}}"}}}}"#
            )
        };
        assert_eq!(
            revoked_device(&frame("device.revoked")).as_deref(),
            Some("dev-7")
        );
        assert_eq!(revoked_device(&frame("staff.locked_out")), None);
        assert_eq!(revoked_device("not json"), None);
    }
}
