//! The pages' sessions live in `HttpOnly` cookies, not where a script reads
//! them (issue 30): a page signs in with its page header and gets a cookie
//! (`HttpOnly`, `SameSite=Strict`, `Secure` over TLS) and no token; the
//! cookie acts only with the page header, from the edge's own origin.

use crate::support::app::{App, Backend, Store, key, spawn};
use crate::support::browser::{browser, open_shift_as_cashier, visible, wait_text};
use serde_json::{Value, json};

/// Signs Carl in as the register page does; the `Set-Cookie` line and the
/// answer's body.
async fn page_sign_in(
    app: &App,
    base: &str,
    http: &reqwest::Client,
    device: &str,
) -> (String, Value) {
    let id = app.staff_id("Carl Cashier", Some(device)).await;
    let r = http
        .post(format!("{base}/api/v1/sessions"))
        .header("X-Outpost-Page", "register")
        .header("X-Device-Token", device)
        .json(&json!({"staff_id": id, "pin": app.pins["Carl Cashier"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    (cookie, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pages_session_is_an_httponly_cookie_that_acts_only_for_its_own_page() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let m = app.manager().await;
    let device = app.pair(&m, "Till").await;
    let port = crate::support::app::port_of(&app.base);
    let (set, body) = page_sign_in(&app, &app.base, &app.http, &device).await;
    assert_eq!(
        body["token"], "",
        "a page's sign-in hands its script no token"
    );
    let name = format!("outpost_register_{port}=");
    assert!(set.starts_with(&name), "{set}");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert!(!set.contains("Secure"), "plain loopback: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();

    let me = |page: Option<&'static str>, origin: Option<String>| {
        let mut rb = app
            .http
            .get(format!("{}/api/v1/me", app.base))
            .header("Cookie", &cookie)
            .header("X-Device-Token", &device);
        if let Some(p) = page {
            rb = rb.header("X-Outpost-Page", p);
        }
        if let Some(o) = origin {
            rb = rb.header("Origin", o);
        }
        async move { rb.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(me(Some("register"), None).await, 200);
    assert_eq!(
        me(Some("register"), Some(format!("http://127.0.0.1:{port}"))).await,
        200
    );
    // Without the page header (what a form or a link from another site
    // sends), from another origin, or for the other page: no session.
    assert_eq!(me(None, None).await, 401);
    assert_eq!(
        me(Some("register"), Some("http://evil.example".into())).await,
        401
    );
    assert_eq!(
        me(
            Some("register"),
            Some(format!("http://127.0.0.1:{}", port + 1))
        )
        .await,
        401
    );
    assert_eq!(me(Some("office"), None).await, 401);

    // A sale with the cookie, as the page makes it.
    let (code, _, price) = app
        .barcode(&app.sign_in(&device, "Carl Cashier").await, "milk")
        .await;
    let shift = app
        .http
        .post(format!("{}/api/v1/shifts", app.base))
        .header("Cookie", &cookie)
        .header("X-Outpost-Page", "register")
        .header("X-Device-Token", &device)
        .json(&json!({"opening_float_minor": 10000}))
        .send()
        .await
        .unwrap();
    assert_eq!(shift.status(), 201);
    let sale = app
        .http
        .post(format!("{}/api/v1/orders", app.base))
        .header("Cookie", &cookie)
        .header("X-Outpost-Page", "register")
        .header("X-Device-Token", &device)
        .header("Idempotency-Key", key())
        .json(&crate::support::app::cash_sale(&[(&code, 1000)], price))
        .send()
        .await
        .unwrap();
    assert_eq!(sale.status(), 201);

    // Signing out ends the session and tells the browser to drop the cookie.
    let out = app
        .http
        .delete(format!("{}/api/v1/sessions/current", app.base))
        .header("Cookie", &cookie)
        .header("X-Outpost-Page", "register")
        .header("X-Device-Token", &device)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with(&name) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(me(Some("register"), None).await, 401);

    // Over TLS the cookie is Secure.
    let ca = app
        .req(reqwest::Method::GET, "/api/v1/store/ca")
        .send()
        .await
        .body["pem"]
        .as_str()
        .unwrap()
        .to_owned();
    let tls = app.tls_base.clone().unwrap();
    let (set, _) = page_sign_in(&app, &tls, &crate::edge::lan_tls::https(&ca), &device).await;
    assert!(set.contains("; Secure"), "{set}");
}

/// In a browser: after signing in, no script on the page can read the
/// session (not in localStorage, not in `document.cookie`), and a reload
/// keeps the cashier signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_register_page_keeps_its_session_out_of_its_scripts_reach() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let (c, _driver) = browser().await;
    c.goto(&app.base).await.unwrap();
    open_shift_as_cashier(&c, &app).await;
    visible(&c, "#scan").await;
    let seen = c
        .execute(
            "return {keys: Object.keys(localStorage), cookie: document.cookie}",
            vec![],
        )
        .await
        .unwrap();
    let keys: Vec<&str> = seen["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        keys.iter()
            .all(|k| ["outpost.device", "outpost.cart"].contains(k)),
        "only the device and the cart are stored: {keys:?}"
    );
    assert!(
        !seen["cookie"]
            .as_str()
            .unwrap()
            .contains("outpost_register"),
        "{seen}"
    );
    c.refresh().await.unwrap();
    wait_text(&c, "#who", "Carl Cashier").await;
    visible(&c, "#scan").await;
    c.close().await.unwrap();
}
