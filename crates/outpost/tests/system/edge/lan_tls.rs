//! The store's LAN reaches the edge over TLS only (issue 30): the api's
//! pages and API, the realtime hub's WebSockets and hw-proxy's page serve a
//! certificate from the store's own CA; a client that does not trust that
//! CA cannot connect; plain HTTP is for the server's own screen, and a
//! client elsewhere is sent to the TLS port.

use crate::support::app::{Backend, Opts, Store, free_port, spawn_opts};
use crate::support::printer::Hw;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A TLS handshake with 127.0.0.1:`port`, trusting only `roots`.
pub(crate) async fn handshake(
    port: u16,
    roots: rustls::RootCertStore,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

pub(crate) fn trusting(ca_pem: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    roots
}

/// The roots a browser or phone ships with, which the store's CA is not in.
fn public_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for pem in std::fs::read_dir("/etc/ssl/certs")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "pem"))
    {
        if let Ok(c) = CertificateDer::from_pem_file(pem.path()) {
            let _ = roots.add(c);
        }
    }
    roots
}

pub(crate) fn https(ca_pem: &str) -> reqwest::Client {
    crate::support::client()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lan_is_served_over_tls_with_the_store_ca_and_nothing_else_connects() {
    let store = Store::new(Backend::Sqlite);
    let certs = store.dir.join("tls");
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![("OUTPOST__SERVER__TLS_DIR", certs.display().to_string())],
            ..Opts::default()
        },
    );
    // The CA a tablet installs, as a certificate file, the same the
    // manager page's fingerprint names.
    let r = app
        .http
        .get(format!("{}/api/v1/store/ca.crt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/x-x509-ca-cert",
        "a tablet offers to install it"
    );
    let ca_pem = r.text().await.unwrap();
    let listed = app
        .req(reqwest::Method::GET, "/api/v1/store/ca")
        .send()
        .await;
    assert_eq!(listed.body["pem"], ca_pem.as_str());

    // hw-proxy serves the certificate the api wrote for it.
    let hw_tls = free_port();
    let mut hw = Hw::new(
        0,
        &[
            ("OUTPOST__HW__TLS_PORT", &hw_tls.to_string()),
            ("OUTPOST__HW__TLS_DIR", &certs.display().to_string()),
        ],
    );
    hw.restart().await;

    let tls = crate::support::app::port_of(app.tls_base.as_ref().unwrap());
    let hub_tls = app.hub_tls_port.expect("the hub over TLS");
    let ca = https(&ca_pem);
    for (what, port) in [("api", tls), ("hub", hub_tls), ("hw-proxy", hw_tls)] {
        // Trusting the store's CA: in.
        let r = ca
            .get(format!("https://127.0.0.1:{port}/health"))
            .send()
            .await;
        assert_eq!(
            r.map(|r| r.status().as_u16()).map_err(|e| e.to_string()),
            Ok(200),
            "{what}"
        );
        assert!(handshake(port, trusting(&ca_pem)).await.is_ok(), "{what}");
        // Trusting only the public CAs, or nothing: the handshake fails.
        for roots in [public_roots(), rustls::RootCertStore::empty()] {
            let e = handshake(port, roots).await.err();
            let e = e.unwrap_or_else(|| panic!("{what} let in a client not trusting the store CA"));
            assert!(
                e.to_string().contains("certificate"),
                "{what}: refused for its certificate, not something else: {e}"
            );
        }
    }

    // A page served over TLS is told the hub's TLS port, and its screen
    // follows the kitchen over wss://.
    let m = app.manager().await;
    let kds = app.display(&m, "Kitchen").await;
    let t = ca
        .post(format!("https://127.0.0.1:{tls}/api/v1/realtime/tickets"))
        .header("X-Device-Token", &kds)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 200);
    let t: Value = t.json().await.unwrap();
    assert_eq!(t["hub_port"], hub_tls);
    let plain = app
        .req(reqwest::Method::POST, "/api/v1/realtime/tickets")
        .header("X-Device-Token", &kds)
        .send()
        .await;
    assert_eq!(plain.body["hub_port"], app.hub_port.unwrap());
    let stream = handshake(hub_tls, trusting(&ca_pem)).await.unwrap();
    let url = format!(
        "wss://127.0.0.1:{hub_tls}/ws?ticket={}",
        t["ticket"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    ws.send(Message::text(
        json!({"type": "subscribe", "channels": [{"channel": "kitchen"}]}).to_string(),
    ))
    .await
    .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => break serde_json::from_str::<Value>(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("the wss connection ended: {other:?}"),
            }
        }
    })
    .await
    .expect("an answer over wss");
    assert_eq!(first["type"], "subscribed", "{first}");
    assert_eq!(first["channel"], "kitchen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_http_from_beyond_the_server_is_sent_to_tls_before_its_request_is_read() {
    let store = Store::new(Backend::Sqlite);
    // This test's loopback stands for a tablet elsewhere on the LAN: plain
    // HTTP is only for a network it is not on.
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![("OUTPOST__SERVER__PLAIN_NETWORKS", "192.0.2.0/24".into())],
            ..Opts::default()
        },
    );
    let tls = crate::support::app::port_of(app.tls_base.as_ref().unwrap());
    let client = crate::support::client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in [
        (reqwest::Method::GET, "/?x=1"),
        (reqwest::Method::POST, "/api/v1/login-staff"),
        (reqwest::Method::POST, "/api/v1/realtime/tickets"),
    ] {
        let r = client
            .request(method.clone(), format!("{}{path}", app.base))
            .header("X-Device-Token", "a token that must not be read here")
            .body("{\"pin\":\"2468\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 308, "{method} {path}");
        assert_eq!(
            r.headers()["location"],
            format!("https://127.0.0.1:{tls}{path}").as_str(),
            "{method} {path}"
        );
    }
    // A tablet fetches the CA once past its browser's warning (and checks
    // the fingerprint against the manager page's), then trusts it: over
    // TLS the same edge answers.
    let ca_pem = crate::support::client()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .get(format!("https://127.0.0.1:{tls}/api/v1/store/ca.crt"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = https(&ca_pem)
        .get(format!("https://127.0.0.1:{tls}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// An edge printing to a hw-proxy across the LAN reaches its PrintService
/// over TLS, checked against the store's CA: the receipt prints, and the
/// port lets in no client without the CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_edge_prints_to_hw_proxy_over_tls_checked_against_the_store_ca() {
    use crate::support::app::{cash_sale, key};
    use crate::support::printer::{Printer, edge_printing_to, wait_until};
    let p = Printer::start().await;
    let store = Store::new(Backend::Sqlite);
    let certs = store.dir.join("tls").display().to_string();
    let grpc_tls = free_port();
    let hw = Hw::new(
        p.port,
        &[
            ("OUTPOST__HW__GRPC_TLS_PORT", &grpc_tls.to_string()),
            ("OUTPOST__HW__TLS_DIR", &certs),
        ],
    );
    let url = format!("https://127.0.0.1:{grpc_tls}");
    let app = edge_printing_to(
        &store,
        &hw,
        &[
            ("OUTPOST__PRINTING__HW_PROXY_URL", &url),
            ("OUTPOST__SERVER__TLS_DIR", &certs),
        ],
    );
    let mut hw = hw;
    hw.restart().await;
    let refused = handshake(grpc_tls, rustls::RootCertStore::empty()).await;
    assert!(
        refused.is_err(),
        "the PrintService let in a client without the CA"
    );

    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let r = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    wait_until("the receipt, over TLS", || async {
        !p.jobs().await.is_empty()
    })
    .await;
}
