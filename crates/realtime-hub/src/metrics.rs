//! The hub's Prometheus metrics.

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Open WebSocket connections by device kind.
    pub connections: IntGaugeVec,
    /// Distinct devices online by kind (presence).
    pub devices_online: IntGaugeVec,
    pub frames_sent: IntCounter,
    /// Connections cut because their send queue was full.
    pub slow_disconnects: IntCounter,
    /// Subscriptions that asked to resume, by outcome (recovered true/false).
    pub resumes: IntCounterVec,
    pub auth_refused: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let connections = IntGaugeVec::new(
            Opts::new("outpost_hub_connections", "Open WebSocket connections"),
            &["kind"],
        )
        .expect("valid metric");
        let devices_online = IntGaugeVec::new(
            Opts::new(
                "outpost_hub_devices_online",
                "Devices with at least one connection",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let frames_sent = IntCounter::new(
            "outpost_hub_frames_sent_total",
            "Event frames queued to clients",
        )
        .expect("valid metric");
        let slow_disconnects = IntCounter::new(
            "outpost_hub_slow_disconnects_total",
            "Clients cut because they did not read fast enough",
        )
        .expect("valid metric");
        let resumes = IntCounterVec::new(
            Opts::new(
                "outpost_hub_resumes_total",
                "Resumed subscriptions by outcome",
            ),
            &["recovered"],
        )
        .expect("valid metric");
        let auth_refused = IntCounter::new(
            "outpost_hub_auth_refused_total",
            "Connections or refreshes refused for a bad or expired ticket",
        )
        .expect("valid metric");
        for c in [
            Box::new(connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(devices_online.clone()),
            Box::new(frames_sent.clone()),
            Box::new(slow_disconnects.clone()),
            Box::new(resumes.clone()),
            Box::new(auth_refused.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Metrics {
            registry,
            connections,
            devices_online,
            frames_sent,
            slow_disconnects,
            resumes,
            auth_refused,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
