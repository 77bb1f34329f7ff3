//! hw-proxy's Prometheus metrics.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// 1 when the printer can print now.
    pub printer_ready: IntGaugeVec,
    /// Jobs by printer and how they ended (printed, uncertain, held, expired).
    pub jobs: IntCounterVec,
    /// Jobs waiting, by printer and state (queued, uncertain, held); set on scrape.
    pub waiting: IntGaugeVec,
    /// Time to write a job and read the status after it.
    pub send_seconds: HistogramVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let printer_ready = IntGaugeVec::new(
            Opts::new(
                "outpost_hw_printer_ready",
                "1 when the printer can print now",
            ),
            &["printer"],
        )
        .expect("valid metric");
        let jobs = IntCounterVec::new(
            Opts::new("outpost_hw_jobs_total", "Print jobs by how they ended"),
            &["printer", "outcome"],
        )
        .expect("valid metric");
        let waiting = IntGaugeVec::new(
            Opts::new(
                "outpost_hw_jobs_waiting",
                "Jobs waiting for their printer or for a person",
            ),
            &["printer", "state"],
        )
        .expect("valid metric");
        let send_seconds = HistogramVec::new(
            HistogramOpts::new(
                "outpost_hw_send_seconds",
                "Writing one job and reading the printer's status after it",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["printer"],
        )
        .expect("valid metric");
        for c in [
            Box::new(printer_ready.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(jobs.clone()),
            Box::new(waiting.clone()),
            Box::new(send_seconds.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Metrics {
            registry,
            printer_ready,
            jobs,
            waiting,
            send_seconds,
        }
    }

    pub fn outcome(&self, printer: &str, outcome: &str) {
        self.jobs.with_label_values(&[printer, outcome]).inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
