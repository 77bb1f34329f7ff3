//! What the suites start and drive, shared so no suite carries its own
//! harness.

pub mod agent;
pub mod app;
pub mod browser;
pub mod cloud;
pub mod hub;
pub mod printer;

/// An HTTP client builder for the tests. reqwest's rustls comes without a
/// crypto provider of its own in this workspace (the register agent's
/// feature; the binaries install ring at start), so the tests install ring
/// too, once, before any client is built.
///
/// An idle connection is dropped after 2 s, before the servers' 5 s
/// keep-alive ends it: a request sent on a connection the server is closing
/// at that moment fails with no answer (HTTP/1.1 cannot tell it was not
/// read), which a test would take for the server's fault.
pub fn client() -> reqwest::ClientBuilder {
    static RING: std::sync::Once = std::sync::Once::new();
    RING.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder().pool_idle_timeout(std::time::Duration::from_secs(2))
}
