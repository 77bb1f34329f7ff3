//! The pages in headless Chromium: chromedriver and its session, and the
//! steps many tests take (find, click, type, sign in, open a shift).

use crate::support::app::free_port;
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver, and the profile folder that names its Chromium's processes.
pub(crate) struct Driver(Child, std::path::PathBuf);

/// Ends chromedriver and every Chromium process of its session (they start
/// their own process groups, so they are found by their profile folder),
/// also when a test failed before closing the session.
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = Command::new("pkill")
            .arg("-KILL")
            .arg("-f")
            .arg(format!("--user-data-dir={}", self.1.display()))
            .status();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// The text of `css`, retried while the page re-renders it (a stale element).
pub(crate) async fn text(c: &fantoccini::Client, css: &str) -> String {
    for _ in 0..50 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} not readable");
}

/// Waits until `css` is displayed (pages switch sections by `hidden`).
pub(crate) async fn visible(c: &fantoccini::Client, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && e.is_displayed().await.unwrap_or(false)
        {
            return e;
        }
        assert!(Instant::now() < deadline, "{css} never became visible");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the element `css` names (found again if the page re-rendered it).
pub(crate) async fn click(c: &fantoccini::Client, css: &str) {
    for _ in 0..20 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && e.click().await.is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} could not be clicked");
}

/// Types `keys` into the element `css` names, retried while it cannot take
/// them yet (a dialog still closing over it: nothing is typed then).
pub(crate) async fn type_into(c: &fantoccini::Client, css: &str, keys: &str) {
    for _ in 0..40 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && e.send_keys(keys).await.is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} could not be typed into");
}

/// Clicks a manager-page tab and waits until its own content is shown.
pub(crate) async fn open_tab(c: &fantoccini::Client, tab: &str, heading: &str) {
    click(c, &format!("#tabs button[data-tab='{tab}']")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = match c.find(Locator::Css("#main h2")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if h.starts_with(heading) && text(c, "#tabs button.active").await == tab {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "tab {tab} did not render (heading {h:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts chromedriver and a headless Chromium session.
pub(crate) async fn browser() -> (fantoccini::Client, Driver) {
    // The test binary links rustls with both ring (the sync link) and aws-lc-rs
    // (the WebDriver client): name one, or rustls refuses to pick.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = free_port();
    let profile = std::env::temp_dir().join(format!("outpost-chromium-{}", uuid::Uuid::now_v7()));
    let driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver; scripts/test does)"),
        profile.clone(),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--window-size=1280,900", format!("--user-data-dir={}", profile.display())]}),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let c = loop {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "chromedriver did not answer: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    (c, driver)
}

/// At the register page: pairs it with the manager's PIN, signs in as Carl
/// Cashier and opens a shift with the default float.
pub(crate) async fn open_shift_as_cashier(c: &fantoccini::Client, app: &crate::support::app::App) {
    sign_in_as_cashier(c, app).await;
    visible(c, "#shift-go").await.click().await.unwrap();
}

/// At the register page: pairs it with a one-time code the manager made
/// and signs in as Carl Cashier (the shift screen comes next).
pub(crate) async fn sign_in_as_cashier(c: &fantoccini::Client, app: &crate::support::app::App) {
    let m = app.manager().await;
    let r = app
        .post(
            "/api/v1/pairing-codes",
            &m,
            serde_json::json!({"name": "Till"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    visible(c, "#pair-code")
        .await
        .send_keys(r.body["code"].as_str().unwrap())
        .await
        .unwrap();
    click(c, "#pair-code-go").await;
    visible(c, "#login-staff button.staff").await;
    let mut found = false;
    for b in c
        .find_all(Locator::Css("#login-staff button.staff"))
        .await
        .unwrap()
    {
        if b.text().await.unwrap().contains("Carl Cashier") {
            b.click().await.unwrap();
            found = true;
        }
    }
    assert!(found, "Carl is on the sign-in screen");
    type_into(c, "#login-pin", &app.pins["Carl Cashier"]).await;
    click(c, "#login-go").await;
}

/// Signs in on the manager page as Maria Manager.
pub(crate) async fn sign_in_to_manager_page(
    c: &fantoccini::Client,
    app: &crate::support::app::App,
) {
    c.goto(&format!("{}/admin", app.base)).await.unwrap();
    visible(c, "#login-pin")
        .await
        .send_keys(&app.pins["Maria Manager"])
        .await
        .unwrap();
    click(c, "#login-go").await;
    visible(c, "#tabs button").await;
}

/// Waits (up to 20 s) until the element `css` names says `part`; what it
/// says then.
pub(crate) async fn wait_text(c: &fantoccini::Client, css: &str, part: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = text(c, css).await;
        if t.contains(part) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{css} says {t:?}, never {part:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Picks the option of the select `#id` whose text holds `part`.
pub(crate) async fn choose(c: &fantoccini::Client, id: &str, part: &str) {
    c.find(Locator::XPath(&format!(
        "//select[@id='{id}']/option[contains(., '{part}')]"
    )))
    .await
    .unwrap_or_else(|e| panic!("no option {part:?} in #{id}: {e}"))
    .click()
    .await
    .unwrap();
}

/// Clicks the first element `css` names whose text holds `part`, waiting
/// for it (lists the page fills from the server).
pub(crate) async fn click_text(c: &fantoccini::Client, css: &str, part: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for e in c.find_all(Locator::Css(css)).await.unwrap_or_default() {
            if e.text().await.is_ok_and(|t| t.contains(part)) && e.click().await.is_ok() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "no {css} saying {part:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
