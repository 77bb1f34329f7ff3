//! The pages in headless Chromium, as staff use them: the register (pair,
//! sign in, open the shift, scan, pay cash, see the change and the order),
//! the manager page, two kitchen displays, and the cloud admin's store page;
//! a tablet's register page while the edge is away.

use crate::support::app::{
    Backend, Opts, Store, cash_sale, free_port, key, port_of, spawn, spawn_opts,
};
use crate::support::browser::{
    browser, click, open_shift_as_cashier, open_tab, sign_in_to_manager_page, text, type_into,
    visible, wait_text,
};
use fantoccini::{Locator, key::Key};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_scans_two_items_pays_cash_and_sees_change_and_the_order() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let m = app.manager().await;
    let (milk, _, milk_price) = app.barcode(&m, "milk").await;
    let (bread, _, bread_price) = app.barcode(&m, "Sourdough").await;
    let (c, driver) = browser().await;
    c.goto(&app.base).await.unwrap();

    open_shift_as_cashier(&c, &app).await;

    // A keyboard-wedge scanner types digits, then Enter.
    let scan = visible(&c, "#scan").await;
    for code in [&milk, &bread] {
        scan.send_keys(&format!("{code}{}", char::from(Key::Enter)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let total = milk_price + bread_price;
    let want = format!("{} EUR", crate::support::app::euros(total));
    let deadline = Instant::now() + Duration::from_secs(10);
    while text(&c, "#totals")
        .await
        .contains(&want)
        .then_some(())
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "total {want} not shown: {}",
            text(&c, "#totals").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Pay cash with a 20 note.
    click(&c, "#pay-cash").await;
    visible(&c, "#pay-tendered")
        .await
        .send_keys("20")
        .await
        .unwrap();
    click(&c, "#pay-confirm").await;
    visible(&c, "#receipt-change").await;
    let change = 2000 - total;
    assert_eq!(
        text(&c, "#receipt-change").await,
        format!("{} EUR", crate::support::app::euros(change))
    );
    let receipt = text(&c, "#receipt-text").await;
    assert!(
        receipt.contains("Whole milk 1 l") && receipt.contains("Sourdough bread"),
        "{receipt}"
    );
    let number = receipt
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("Order ")
        .to_owned();
    assert!(number.starts_with("S01-R1-"), "{receipt}");
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(std::env::temp_dir().join("outpost-register.png"), png);
    }
    click(&c, "#receipt-done").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text(&c, "#recent").await.contains(&number) {
        assert!(
            Instant::now() < deadline,
            "order {number} not in recent orders"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await.unwrap();
    drop(driver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_signs_in_walks_every_tab_and_adds_a_cashier() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let (c, driver) = browser().await;
    sign_in_to_manager_page(&c, &app).await;
    for (tab, heading) in [
        ("Status", "Edge S01"),
        ("Registers", "Registers and displays"),
        ("Printers", "Printers"),
        ("Staff", "Staff"),
        ("Products", "Products"),
        ("Stock", "Stock"),
        ("Shifts", "Shifts"),
        ("Adjustments", "Adjustment queue"),
        ("Audit", "Audit log"),
    ] {
        open_tab(&c, tab, heading).await;
        let banner = c.find(Locator::Css("#banner")).await.unwrap();
        let error = banner.is_displayed().await.unwrap()
            && banner
                .attr("class")
                .await
                .unwrap()
                .unwrap_or_default()
                .contains("error");
        assert!(!error, "error on {tab}: {}", banner.text().await.unwrap());
        if tab == "Products" {
            assert!(text(&c, "#main").await.contains("Whole milk 1 l"));
        }
        if tab == "Registers" {
            // A one-time pairing code, shown once; it pairs one device.
            click(&c, "form.inline button[type='submit']").await;
            let shown = wait_text(&c, "#pairing-code", "for register").await;
            let code = shown.split_whitespace().next().unwrap().to_owned();
            let pair = || {
                app.req(reqwest::Method::POST, "/api/v1/pairing-codes/redeem")
                    .json(&serde_json::json!({"code": code}))
                    .send()
            };
            assert_eq!(pair().await.status, 201, "{shown}");
            pair().await.assert_problem(403);
            // The store CA's fingerprint, for a till PC's pairing to match.
            let ca = app
                .req(reqwest::Method::GET, "/api/v1/store/ca")
                .send()
                .await;
            let fingerprint = ca.body["fingerprint"].as_str().unwrap().to_owned();
            assert_eq!(text(&c, "#store-ca").await, fingerprint);
        }
        if tab == "Status" {
            // Presence from the hub: this page's own connection is listed.
            let deadline = Instant::now() + Duration::from_secs(20);
            while !text(&c, "#online").await.contains("back-office") {
                assert!(Instant::now() < deadline, "{}", text(&c, "#online").await);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // Add a cashier through the Staff form.
    open_tab(&c, "Staff", "Staff").await;
    type_into(&c, "form.inline input[name='name']", "Nia New").await;
    type_into(&c, "form.inline input[name='pin']", "24680").await;
    click(&c, "form.inline button[type='submit']").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text(&c, "#main table").await.contains("Nia New") {
        assert!(Instant::now() < deadline, "the new cashier is not listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(std::env::temp_dir().join("outpost-admin.png"), png);
    }
    c.close().await.unwrap();
    drop(driver);
}

/// Opens the kitchen page as an already paired display and waits until live.
async fn open_kitchen(b: &fantoccini::Client, base: &str, token: &str) {
    b.goto(&format!("{base}/kitchen")).await.unwrap();
    b.execute(
        "localStorage.setItem('outpost.kds.device', arguments[0]); location.reload();",
        vec![serde_json::json!(token)],
    )
    .await
    .unwrap();
    visible(b, "#kds-state.on").await;
}

/// The class list of the kitchen card for `order`, once it is shown.
async fn card_class(c: &fantoccini::Client, order: &str) -> String {
    let css = format!("article.ticket[data-order='{order}']");
    visible(c, &css).await;
    for _ in 0..50 {
        if let Ok(e) = c.find(Locator::Css(&css)).await
            && let Ok(Some(cls)) = e.attr("class").await
        {
            return cls;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} has no class");
}

async fn wait_class(c: &fantoccini::Client, order: &str, class: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let cls = card_class(c, order).await;
        if cls.split_whitespace().any(|x| x == class) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{order} never became {class}: {cls}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_appears_on_two_kitchen_displays_and_a_bump_on_one_shows_on_the_other() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let till = app.register("Till 1").await;

    // Display A is paired through its own page with a code from the manager.
    let (a, _da) = browser().await;
    a.goto(&format!("{}/kitchen", app.base)).await.unwrap();
    let code = app
        .post(
            "/api/v1/pairing-codes",
            &till.manager,
            serde_json::json!({"name": "Pass", "kind": "display"}),
        )
        .await;
    assert_eq!(code.status, 201, "{}", code.body);
    visible(&a, "#pair-code")
        .await
        .send_keys(code.body["code"].as_str().unwrap())
        .await
        .unwrap();
    click(&a, "#pair-code-go").await;
    visible(&a, "#kds-state.on").await;

    // Display B is a tablet, paired beforehand.
    let (b, _db) = browser().await;
    b.set_window_size(800, 1280).await.unwrap();
    let token = app.display(&till.manager, "Grill tablet").await;
    open_kitchen(&b, &app.base, &token).await;
    assert!(
        !b.find(Locator::Css("#offline"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );

    // A sale at the till shows on both screens.
    let (code, _, price) = app.barcode(&till.cashier, "Espresso").await;
    let r = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(&[(&code, 2000)], 2 * price),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let number = r.body["number"].as_str().unwrap().to_owned();
    wait_class(&a, &number, "pending").await;
    wait_class(&b, &number, "pending").await;
    let lines = text(&b, &format!("article.ticket[data-order='{number}'] ul")).await;
    assert!(
        lines.contains("2 ×") && lines.contains("Espresso"),
        "{lines}"
    );

    // The pass starts it and marks it ready; the grill tablet sees each step.
    let bump = format!("article.ticket[data-order='{number}'] button.bump");
    click(&a, &bump).await;
    wait_class(&b, &number, "preparing").await;
    wait_class(&a, &number, "preparing").await;
    click(&a, &bump).await;
    wait_class(&b, &number, "ready").await;
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kitchen_display_shows_a_banner_while_the_hub_is_down_and_catches_up_when_it_is_back() {
    use crate::support::hub::{HubProc, Redis, api_on_redis};
    let redis = Redis::start();
    let store = Store::new(Backend::Sqlite);
    let hub_port = free_port();
    let app = api_on_redis(&store, &redis, hub_port);
    let hub = HubProc::start_on(&redis, hub_port, &[]);
    let till = app.register("Till 1").await;
    let token = app.display(&till.manager, "Pass").await;
    let (b, _d) = browser().await;
    open_kitchen(&b, &app.base, &token).await;
    let (code, _, price) = app.barcode(&till.cashier, "Croissant").await;
    let sell = || async {
        let r = app
            .sell(&till.cashier, &key(), &cash_sale(&[(&code, 1000)], price))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["number"].as_str().unwrap().to_owned()
    };
    let first = sell().await;
    wait_class(&b, &first, "pending").await;

    // The hub dies: the display says so, loudly; the till keeps selling.
    hub.kill();
    visible(&b, "#offline").await;
    let second = sell().await;
    // Back on the same port: the display reconnects, resumes from its offset
    // and shows the order it missed.
    let _hub = HubProc::start_on(&redis, hub_port, &[]);
    wait_class(&b, &second, "pending").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while b
        .find(Locator::Css("#offline"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap()
    {
        assert!(Instant::now() < deadline, "the banner stayed up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.close().await.unwrap();
}

/// The cloud admin's store page: change a product's price in its form, see
/// the change saved and in the store's feed with only the field that
/// changed; a malformed price is refused in the page with nothing written;
/// a new product is added from its form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_admin_changes_a_price_and_adds_a_product_in_the_store_page() {
    use crate::support::cloud::{Cloud, Rabbit};
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    cloud.add_store(&store_id, "S07");
    let products = format!("/api/v1/stores/{store_id}/products");
    let (st, b) = cloud
        .admin_post(
            &products,
            serde_json::json!({"sku": "TEA-1", "name": "Green tea", "price_minor": 250, "tax_category": "reduced"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let feed = |extra: &str| {
        cloud.count(&format!(
            "SELECT count(*) AS n FROM master_changes WHERE store_id = '{store_id}' {extra}"
        ))
    };
    assert_eq!(feed(""), 1);

    let (c, _driver) = browser().await;
    // Not signed in: the sign-in page, then the store's page.
    let admin = format!("http://127.0.0.1:{}", cloud.admin_port);
    c.goto(&format!("{admin}/stores/{store_id}")).await.unwrap();
    type_into(&c, "input[name=name]", "Olga Owner").await;
    type_into(
        &c,
        "input[name=password]",
        crate::support::cloud::OWNER_PASSWORD,
    )
    .await;
    click(&c, "form[action='/login'] button").await;
    visible(&c, "h1").await;
    c.goto(&format!("{admin}/stores/{store_id}")).await.unwrap();
    let row = "form[data-product]:not([data-new])";
    visible(&c, &format!("{row} input[name=price]")).await;
    assert_eq!(text(&c, "h1").await, "S07 · S07");

    let price = c
        .find(Locator::Css(&format!("{row} input[name=price]")))
        .await
        .unwrap();
    price.clear().await.unwrap();
    price.send_keys("4.205").await.unwrap();
    click(&c, &format!("{row} button")).await;
    let said = wait_text(&c, &format!("{row} output"), "decimals").await;
    assert!(said.contains("at most 2 decimals"), "{said}");
    assert_eq!(feed(""), 1, "a malformed price writes nothing");

    price.clear().await.unwrap();
    price.send_keys("4.20").await.unwrap();
    click(&c, &format!("{row} button")).await;
    wait_text(&c, &format!("{row} output"), "saved").await;
    assert_eq!(
        feed(
            "AND kind = 'product' AND body::jsonb = '{\"sku\": \"TEA-1\", \"price_minor\": 420}'::jsonb"
        ),
        1,
        "only the price travels"
    );
    let (_, list) = cloud.admin_get(&products, true).await;
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["body"]["price_minor"], 420, "{list}");
    assert_eq!(list[0]["body"]["name"], "Green tea", "{list}");

    let new = "form[data-new]";
    type_into(&c, &format!("{new} input[name=sku]"), "CAKE-9").await;
    type_into(&c, &format!("{new} input[name=title]"), "Lemon cake").await;
    type_into(&c, &format!("{new} input[name=price]"), "3,5").await;
    type_into(&c, &format!("{new} input[name=tax_category]"), "reduced").await;
    click(&c, &format!("{new} button")).await;
    wait_text(&c, &format!("{new} output"), "saved").await;
    let (_, list) = cloud.admin_get(&products, true).await;
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let cake = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sku"] == "CAKE-9")
        .unwrap_or_else(|| panic!("no CAKE-9 in {list}"));
    assert_eq!(cake["body"]["price_minor"], 350);
    assert_eq!(cake["body"]["name"], "Lemon cake");
    assert_eq!(cake["body"]["tax_category"], "reduced");
    c.close().await.unwrap();
}

/// Waits until the text of `css` contains `part`; returns it.
/// A tablet's register page (served by the edge) with the edge killed:
/// OFFLINE within 3 s, the tender buttons disabled and a plain note, the
/// cart kept; the edge back on its port: OK by itself, and a reload keeps
/// the cart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablets_page_shows_offline_within_3_s_keeps_the_cart_and_is_ok_again_by_itself() {
    let store = Store::new(Backend::Sqlite);
    let mut app = spawn(&store);
    let m = app.manager().await;
    let (milk, _, _) = app.barcode(&m, "milk").await;
    let (c, driver) = browser().await;
    c.goto(&app.base).await.unwrap();
    open_shift_as_cashier(&c, &app).await;
    visible(&c, "#scan")
        .await
        .send_keys(&format!("{milk}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    wait_text(&c, "#cart tbody", "Whole milk").await;
    wait_text(&c, "#totals", "Total").await;
    assert_eq!(text(&c, "#link").await, "OK");
    let enabled = |css: &'static str| {
        let c = c.clone();
        async move {
            c.find(Locator::Css(css))
                .await
                .unwrap()
                .is_enabled()
                .await
                .unwrap()
        }
    };
    assert!(enabled("#pay-cash").await);

    let port = port_of(&app.base);
    app.kill();
    let t0 = Instant::now();
    wait_text(&c, "#link", "OFFLINE").await;
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "OFFLINE after {took:?}");
    assert!(
        text(&c, "#offline-note")
            .await
            .contains("cannot sell until it is back")
    );
    assert!(!enabled("#pay-cash").await && !enabled("#pay-card").await);
    assert!(text(&c, "#cart tbody").await.contains("Whole milk"));

    let _back = spawn_opts(
        &store,
        &Opts {
            env: vec![("OUTPOST__SERVER__PORT", port.to_string())],
            ..Opts::default()
        },
    );
    wait_text(&c, "#link", "OK").await;
    assert!(enabled("#pay-cash").await);
    c.refresh().await.unwrap();
    wait_text(&c, "#cart tbody", "Whole milk").await;
    wait_text(&c, "#totals", "Total").await;
    c.close().await.unwrap();
    drop(driver);
}

/// A till's page served by its register agent, with the edge killed:
/// OFFLINE within 3 s while the till sells on (a cash sale goes through and
/// waits in the queue the badge counts), a reload during the outage keeps
/// the cart, and OK again by itself once the edge is back, the queue sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tills_page_sells_on_with_the_edge_away_and_a_reload_keeps_the_cart() {
    let store = Store::new(Backend::Sqlite);
    let port = free_port();
    let edge_opts = Opts {
        env: vec![
            ("OUTPOST__SERVER__PORT", port.to_string()),
            ("OUTPOST__SERVER__TLS_PORT", free_port().to_string()),
        ],
        ..Opts::default()
    };
    let mut edge = spawn_opts(&store, &edge_opts);
    let m = edge.manager().await;
    let (milk, _, _) = edge.barcode(&m, "milk").await;
    let till_port = free_port().to_string();
    let on_port = [("OUTPOST__REGISTER__PORT", till_port.as_str())];
    let mut till = crate::support::agent::paired_with(&edge, &m, "Till 3", &on_port).await;
    let (c, driver) = browser().await;
    c.goto(&format!("{}/", till.base)).await.unwrap();
    // The agent's page is this till's: no pairing, straight to sign-in.
    visible(&c, "#login-staff button.staff").await;
    for b in c
        .find_all(Locator::Css("#login-staff button.staff"))
        .await
        .unwrap()
    {
        if b.text().await.unwrap().contains("Carl Cashier") {
            b.click().await.unwrap();
        }
    }
    type_into(&c, "#login-pin", &edge.pins["Carl Cashier"]).await;
    click(&c, "#login-go").await;
    visible(&c, "#shift-go").await.click().await.unwrap();
    let scan = |c: fantoccini::Client, code: String| async move {
        visible(&c, "#scan")
            .await
            .send_keys(&format!("{code}{}", char::from(Key::Enter)))
            .await
            .unwrap();
    };
    scan(c.clone(), milk.clone()).await;
    wait_text(&c, "#cart tbody", "Whole milk").await;
    wait_text(&c, "#link", "OK").await;

    edge.kill();
    let t0 = Instant::now();
    wait_text(&c, "#link", "OFFLINE").await;
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "OFFLINE after {took:?}");
    assert!(text(&c, "#agent-note").await.contains("This till sells on"));
    // A cash sale with the edge away.
    wait_text(&c, "#totals", "Total").await;
    click(&c, "#pay-cash").await;
    visible(&c, "#pay-tendered")
        .await
        .send_keys("20")
        .await
        .unwrap();
    click(&c, "#pay-confirm").await;
    visible(&c, "#receipt-change").await;
    click(&c, "#receipt-done").await;
    wait_text(&c, "#queue", "to send").await;
    // A new cart, and a reload in the middle of the outage.
    scan(c.clone(), milk.clone()).await;
    wait_text(&c, "#cart tbody", "Whole milk").await;
    c.refresh().await.unwrap();
    wait_text(&c, "#cart tbody", "Whole milk").await;
    wait_text(&c, "#link", "OFFLINE").await;

    let _back = spawn_opts(&store, &edge_opts);
    wait_text(&c, "#link", "OK").await;
    wait_text(&c, "#queue", "last sync").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while text(&c, "#queue").await.contains("to send") {
        assert!(Instant::now() < deadline, "the queue never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The agent restarts (a new token): the page reloads itself, the cart
    // and the session kept.
    let dir = till.dir.clone();
    till.kill();
    let _till = crate::support::agent::start_with(dir, &on_port).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reloaded = c
            .execute(
                "return window.sessionStorage.getItem('outpost.reloaded')",
                vec![],
            )
            .await
            .unwrap();
        if !reloaded.is_null() {
            break;
        }
        assert!(Instant::now() < deadline, "the page never reloaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_text(&c, "#cart tbody", "Whole milk").await;
    wait_text(&c, "#link", "OK").await;
    c.close().await.unwrap();
    drop(driver);
}
