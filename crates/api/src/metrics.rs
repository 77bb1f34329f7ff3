//! Prometheus metrics of the api. Request labels come from route templates,
//! never raw paths or ids, so cardinality stays bounded.

use actix_web::dev::ServiceResponse;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub sales: IntCounter,
    pub sales_replayed: IntCounter,
    pub outbox_unrelayed: IntGauge,
    pub relayed: IntCounter,
    pub realtime_published: IntCounter,
    pub realtime_lag: IntGauge,
    pub sync_pending_events: IntGauge,
    pub sync_pending_bytes: IntGauge,
    pub sync_oldest_unsent_seconds: IntGauge,
    pub sync_online: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route template and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route template",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let sales = IntCounter::new("outpost_sales_total", "Sales created").expect("valid metric");
        let sales_replayed = IntCounter::new(
            "outpost_sales_replayed_total",
            "Sale requests answered from an idempotency key",
        )
        .expect("valid metric");
        let outbox_unrelayed = IntGauge::new(
            "outpost_outbox_unrelayed",
            "Committed events not yet positioned by the relay",
        )
        .expect("valid metric");
        let relayed = IntCounter::new(
            "outpost_relay_events_total",
            "Events positioned and handed on by the relay",
        )
        .expect("valid metric");
        let realtime_published = IntCounter::new(
            "outpost_realtime_published_total",
            "Event frames written to the realtime log for screens",
        )
        .expect("valid metric");
        let realtime_lag = IntGauge::new(
            "outpost_realtime_lag_events",
            "Positioned events not yet in the realtime log (as of the last /health)",
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let sync_pending_events = gauge(
            "outpost_sync_pending_events",
            "Events not yet acknowledged by the cloud (as of the last scrape or /health)",
        );
        let sync_pending_bytes = gauge(
            "outpost_sync_pending_bytes",
            "Payload bytes of the events not yet acknowledged by the cloud",
        );
        let sync_oldest_unsent_seconds = gauge(
            "outpost_sync_oldest_unsent_seconds",
            "Age of the oldest event not yet acknowledged by the cloud",
        );
        let sync_online = gauge(
            "outpost_sync_online",
            "1 when the sync worker's last attempt reached the cloud",
        );
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(sales.clone()),
            Box::new(sales_replayed.clone()),
            Box::new(outbox_unrelayed.clone()),
            Box::new(relayed.clone()),
            Box::new(realtime_published.clone()),
            Box::new(realtime_lag.clone()),
            Box::new(sync_pending_events.clone()),
            Box::new(sync_pending_bytes.clone()),
            Box::new(sync_oldest_unsent_seconds.clone()),
            Box::new(sync_online.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Metrics {
            registry,
            requests,
            latency,
            sales,
            sales_replayed,
            outbox_unrelayed,
            relayed,
            realtime_published,
            realtime_lag,
            sync_pending_events,
            sync_pending_bytes,
            sync_oldest_unsent_seconds,
            sync_online,
        }
    }

    pub fn observe(&self, res: &ServiceResponse, secs: f64) {
        let req = res.request();
        let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
        let method = req.method().as_str();
        self.requests
            .with_label_values(&[method, &route, res.status().as_str()])
            .inc();
        self.latency
            .with_label_values(&[method, &route])
            .observe(secs);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
