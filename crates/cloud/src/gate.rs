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

/// The layer: `Server::builder().layer(Gate::new(sync))`.
#[derive(Clone)]
pub struct Gate {
    sync: Sync,
}

impl Gate {
    pub fn new(sync: Sync) -> Gate {
        Gate { sync }
    }
}

impl<S> tower::Layer<S> for Gate {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            sync: self.sync.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Gated<S> {
    inner: S,
    sync: Sync,
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
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // The service poll_ready readied goes with this call; its clone
        // stays for the next (tower's rule for services that are cloned).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let sync = self.sync.clone();
        Box::pin(async move {
            let credential = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match sync.credential(credential, peer(&req)).await {
                Ok(a) => {
                    req.extensions_mut().insert(a);
                    inner.call(req).await
                }
                // The body is dropped unread.
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}
