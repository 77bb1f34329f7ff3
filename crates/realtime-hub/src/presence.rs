//! Presence: which displays and registers are connected right now. Clients that
//! subscribe to the `presence` pseudo-channel get the store's list whenever it
//! changes; `/metrics` counts devices online by kind.

use crate::fanout::Sub;
use crate::metrics::Metrics;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub device: String,
    pub kind: String,
    pub name: String,
    /// When its oldest open connection started (ms since the Unix epoch).
    pub since: i64,
    pub connections: usize,
}

#[derive(Default)]
struct Store {
    /// Per device: (connection id → connected at).
    devices: BTreeMap<String, (String, String, HashMap<u64, i64>)>,
    watchers: HashMap<u64, Sub>,
}

pub struct Presence {
    metrics: Metrics,
    stores: Mutex<HashMap<String, Store>>,
}

impl Presence {
    pub fn new(metrics: Metrics) -> Presence {
        Presence {
            metrics,
            stores: Mutex::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Store>) -> T) -> T {
        f(&mut self.stores.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn join(&self, store: &str, conn: u64, c: &outpost_realtime::ticket::Claims, now: i64) {
        self.with(|m| {
            let s = m.entry(store.to_owned()).or_default();
            let d = s
                .devices
                .entry(c.device.clone())
                .or_insert_with(|| (c.kind.clone(), c.name.clone(), HashMap::new()));
            if d.2.is_empty() {
                self.metrics
                    .devices_online
                    .with_label_values(&[&c.kind])
                    .inc();
            }
            d.2.insert(conn, now);
            self.broadcast(s);
        });
        self.metrics.connections.with_label_values(&[&c.kind]).inc();
    }

    pub fn leave(&self, store: &str, conn: u64, c: &outpost_realtime::ticket::Claims) {
        self.with(|m| {
            let Some(s) = m.get_mut(store) else { return };
            s.watchers.remove(&conn);
            if let Some(d) = s.devices.get_mut(&c.device) {
                d.2.remove(&conn);
                if d.2.is_empty() {
                    s.devices.remove(&c.device);
                    self.metrics
                        .devices_online
                        .with_label_values(&[&c.kind])
                        .dec();
                }
            }
            self.broadcast(s);
        });
        self.metrics.connections.with_label_values(&[&c.kind]).dec();
    }

    /// Adds a watcher and sends it the current list.
    pub fn watch(&self, store: &str, sub: Sub) {
        self.with(|m| {
            let s = m.entry(store.to_owned()).or_default();
            sub.offer(&Self::frame(s), &self.metrics);
            s.watchers.insert(sub.conn, sub);
        });
    }

    pub fn list(&self, store: &str) -> Vec<Device> {
        self.with(|m| m.get(store).map(Self::devices).unwrap_or_default())
    }

    fn devices(s: &Store) -> Vec<Device> {
        s.devices
            .iter()
            .map(|(id, (kind, name, conns))| Device {
                device: id.clone(),
                kind: kind.clone(),
                name: name.clone(),
                since: conns.values().copied().min().unwrap_or(0),
                connections: conns.len(),
            })
            .collect()
    }

    fn frame(s: &Store) -> Arc<str> {
        serde_json::json!({"type": "presence", "online": Self::devices(s)})
            .to_string()
            .into()
    }

    fn broadcast(&self, s: &mut Store) {
        if s.watchers.is_empty() {
            return;
        }
        let f = Self::frame(s);
        s.watchers.retain(|_, w| w.offer(&f, &self.metrics));
    }
}
