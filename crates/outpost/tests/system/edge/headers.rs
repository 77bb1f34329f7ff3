//! Every HTTP surface of the edge answers with the security headers
//! (issue 30): no framing by another site, no sniffing, no Referer, and a
//! policy that loads nothing where a response has none of its own.

use crate::support::app::{Backend, Store, spawn};

/// Fails unless `headers` carry the security headers; a page's own policy
/// must refuse framing too.
pub(crate) fn assert_guarded(headers: &reqwest::header::HeaderMap, what: &str) {
    let h = |k: &str| {
        headers
            .get(k)
            .unwrap_or_else(|| panic!("{what}: no {k} in {headers:?}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        h("content-security-policy").contains("frame-ancestors 'none'"),
        "{what}: {}",
        h("content-security-policy")
    );
    assert_eq!(h("x-frame-options"), "DENY", "{what}");
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_edge_surface_refuses_framing_and_sniffing() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let m = app.manager().await;
    for (path, token) in [
        ("/", None),
        ("/admin", None),
        ("/kitchen", None),
        ("/static/register.js", None),
        ("/health", None),
        ("/api/v1/products?limit=1", Some(m.as_str())),
        ("/api/v1/products?limit=1", None),
        ("/no/such/page", None),
    ] {
        let mut r = app.http.get(format!("{}{path}", app.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.unwrap();
        assert_guarded(r.headers(), &format!("{path} ({})", r.status()));
    }
    let hub = app.hub_port.expect("the hub runs in `outpost edge`");
    let r = app
        .http
        .get(format!("http://127.0.0.1:{hub}/health"))
        .send()
        .await
        .unwrap();
    assert_guarded(r.headers(), "the realtime hub");
}
