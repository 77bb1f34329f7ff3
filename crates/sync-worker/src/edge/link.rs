//! Opening the link to the cloud, and waiting to open it again.
//!
//! Every step has a deadline: the TCP connect, the TLS handshake and the
//! HTTP/2 set-up share `connect_timeout` (a cloud address that accepts TCP
//! and never answers the handshake — a captive portal, a half-dead load
//! balancer — must not hold the worker for good), each call has
//! `call_timeout`, and HTTP/2 pings close a connection that went silent.

use super::{Auth, Client, EdgeConfig, MAX_MESSAGE, SyncError, check_credential};
use outpost_proto::sync_v1::sync_service_client::SyncServiceClient;
use std::time::{Duration, Instant};
use tonic::codec::CompressionEncoding;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// Connects to the cloud with TLS and the settings' credential.
pub async fn connect(cfg: &EdgeConfig) -> Result<Client, SyncError> {
    open(cfg, &cfg.credential).await
}

/// Connects with `credential`, within `cfg.connect_timeout` for the whole
/// set-up.
pub(super) async fn open(cfg: &EdgeConfig, credential: &str) -> Result<Client, SyncError> {
    cfg.check().map_err(SyncError::Config)?;
    check_credential(credential).map_err(SyncError::Config)?;
    let mut tls = ClientTlsConfig::new();
    tls = match &cfg.ca_pem {
        Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
        None => tls.with_native_roots(),
    };
    if let Some(d) = &cfg.tls_domain {
        tls = tls.domain_name(d.clone());
    }
    let endpoint = Endpoint::from_shared(cfg.cloud_url.clone())?
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.call_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(cfg.heartbeat)
        .keep_alive_timeout(cfg.heartbeat)
        .keep_alive_while_idle(true)
        .tls_config(tls)?;
    let channel = tokio::time::timeout(cfg.connect_timeout, endpoint.connect())
        .await
        .map_err(|_| {
            SyncError::Timeout(
                "opening the link (TCP, TLS handshake, HTTP/2)",
                cfg.connect_timeout,
            )
        })??;
    let auth: MetadataValue<Ascii> = format!("Bearer {credential}").parse().map_err(|_| {
        SyncError::Config("sync.credential has characters a header cannot carry".into())
    })?;
    Ok(SyncServiceClient::with_interceptor(channel, Auth(auth))
        .send_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// Waits `wait` (jittered) before the next session. After a link failure a
/// TCP connect to the cloud's address every `probe_interval` ends the wait
/// as soon as the address answers, so a link that returns is used within
/// seconds even when the backoff has grown to its cap.
pub(super) async fn wait_to_retry(cfg: &EdgeConfig, wait: Duration, link_failed: bool) {
    let until = Instant::now() + jitter(wait);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(jitter(cfg.probe_interval))).await;
        if link_failed && Instant::now() < until && probe(cfg).await {
            tracing::info!("the cloud's address answers again: reconnecting");
            return;
        }
    }
}

/// Whether a TCP connection to the cloud's address opens within the probe
/// interval. Cheap for both sides: no TLS, no call.
async fn probe(cfg: &EdgeConfig) -> bool {
    let Ok(uri) = cfg.cloud_url.parse::<tonic::transport::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(443);
    let deadline = cfg.probe_interval.min(cfg.connect_timeout);
    matches!(
        tokio::time::timeout(deadline, tokio::net::TcpStream::connect((host, port))).await,
        Ok(Ok(_))
    )
}

/// Full jitter in [wait/2, wait], so stores that lost the link together do
/// not all come back in the same instant.
pub(super) fn jitter(wait: Duration) -> Duration {
    let mut b = [0u8; 4];
    let r = if getrandom::fill(&mut b).is_ok() {
        u32::from_le_bytes(b)
    } else {
        0
    };
    let half = wait / 2;
    half + half.mul_f64(f64::from(r) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> EdgeConfig {
        let mut c = EdgeConfig::new(url, &format!("store.{}", "a".repeat(64)));
        c.connect_timeout = Duration::from_millis(300);
        c.probe_interval = Duration::from_millis(50);
        c
    }

    #[tokio::test]
    async fn a_listener_that_never_answers_the_handshake_times_out_the_connect() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}", silent.local_addr().unwrap().port());
        let held = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((s, _)) = silent.accept().await {
                conns.push(s); // accepted, never answered
            }
        });
        let t0 = Instant::now();
        let err = connect(&cfg(&url)).await.expect_err("no connection");
        assert!(matches!(err, SyncError::Timeout(..)), "{err}");
        assert!(err.is_link());
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        held.abort();
    }

    #[tokio::test]
    async fn the_wait_after_a_link_failure_ends_once_the_address_answers() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}", l.local_addr().unwrap().port());
        let t0 = Instant::now();
        wait_to_retry(&cfg(&url), Duration::from_secs(60), true).await;
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    }

    #[tokio::test]
    async fn a_refusal_waits_the_whole_backoff_even_when_the_address_answers() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}", l.local_addr().unwrap().port());
        let t0 = Instant::now();
        wait_to_retry(&cfg(&url), Duration::from_millis(600), false).await;
        assert!(
            t0.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn jitter_stays_within_half_and_all_of_the_wait() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(10));
            assert!(
                j >= Duration::from_secs(5) && j <= Duration::from_secs(10),
                "{j:?}"
            );
        }
    }
}
