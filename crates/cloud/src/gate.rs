//! The SyncService's gate: every call's credential is checked here, from
//! its headers, before its body is read or decoded. A caller without a
//! good credential costs the cloud a header and, at most, one lookup (none
//! once its address is rate-limited), never the up to 64 MiB a push may
//! carry. Past the gate, the store it authenticated rides along in the
//! request's extensions, so the handlers do not look it up again.

use crate::sync_service::Sync;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

/// The layer: `Server::builder().layer(Gate::new(sync, wait))`, outside the
/// limit of calls served at once: a call takes its place there only once
/// its credential passed, and waits for one at most `wait`.
#[derive(Clone)]
pub struct Gate {
    sync: Sync,
    wait: std::time::Duration,
}

impl Gate {
    pub fn new(sync: Sync, wait: std::time::Duration) -> Gate {
        Gate { sync, wait }
    }
}

impl<S> tower::Layer<S> for Gate {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            sync: self.sync.clone(),
            wait: self.wait,
        }
    }
}

#[derive(Clone)]
pub struct Gated<S> {
    inner: S,
    sync: Sync,
    wait: std::time::Duration,
}

/// The caller's address, over TLS or not.
fn peer(req: &http::Request<Body>) -> Option<std::net::IpAddr> {
    let ext = req.extensions();
    ext.get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|i| i.get_ref().remote_addr())
        .or_else(|| ext.get::<TcpConnectInfo>().and_then(|i| i.remote_addr()))
        .map(|a| a.ip())
}

impl<S> tower::Service<http::Request<Body>> for Gated<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    /// Always ready: the inner service (the limit of calls served) is made
    /// ready in `call`, after the credential passed, so a caller without
    /// one never holds a place.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        use tower::ServiceExt;
        let inner = self.inner.clone();
        let (sync, wait) = (self.sync.clone(), self.wait);
        Box::pin(async move {
            let credential = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match sync.credential(credential, peer(&req)).await {
                Ok(a) => {
                    req.extensions_mut().insert(a);
                    match tokio::time::timeout(wait, inner.ready_oneshot()).await {
                        Ok(ready) => ready?.call(req).await,
                        Err(_) => Ok(crate::sync_service::busy(
                            "the cloud is serving as many calls as it takes; retry",
                        )
                        .into_http()),
                    }
                }
                // The body is dropped unread.
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}
