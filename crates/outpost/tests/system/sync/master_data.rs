//! Master data between the cloud and a store with real processes: the
//! written conflict rules, products and tax rates added in the cloud, and
//! companies, staff, settings and price lists managed there.

use crate::support::app::{Backend, Opts, Store, cash_sale, key, spawn_opts};
use crate::support::cloud::{Cloud, Rabbit, converged, edge, sell_n};
use std::time::Duration;

/// The link is cut (the cloud keeps running). The cloud changes the espresso's
/// price; the store, not knowing, sells espressos at the old price; both ends
/// edit the croissant. When the link returns: the espresso orders keep the
/// price paid and are flagged for adjustment at the store and in the cloud,
/// later sales use the new price, and the later croissant edit wins at both
/// ends with the other kept in the conflict logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn master_data_conflicts_follow_the_written_rules() {
    use crate::support::cloud::Proxy;
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    let proxy = Proxy::start(cloud.sync_port).await;
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: cloud.edge_env_via(&credential, &proxy),
            ..Opts::default()
        },
    );
    let till = app.register("Till 1").await;
    let product = |q: &'static str| {
        let app = &app;
        let m = till.manager.clone();
        async move { app.get(&format!("/api/v1/products?q={q}"), &m).await.body[0].clone() }
    };
    let espresso = product("Espresso").await;
    let croissant = product("Croissant").await;
    let old = espresso["price_minor"].as_i64().unwrap();
    let before = sell_n(&app, &till, 1).await;
    converged(&app, &till.manager, &cloud, &store_id, 60).await;

    proxy.cut();
    let new_price = old + 50;
    let (st, body) = cloud
        .admin_post(
            &format!("/api/v1/stores/{store_id}/products"),
            serde_json::json!({"sku": espresso["sku"], "price_minor": new_price}),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let (st, _) = cloud
        .admin_post(
            &format!("/api/v1/stores/{store_id}/products"),
            serde_json::json!({"sku": croissant["sku"], "price_minor": 111}),
        )
        .await;
    assert_eq!(st, 201);
    // Bad input is refused with a problem, nothing written.
    let (st, body) = cloud
        .admin_post(
            &format!("/api/v1/stores/{store_id}/products"),
            serde_json::json!({"sku": "x"}),
        )
        .await;
    assert_eq!(st, 422, "{body}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let offline = sell_n(&app, &till, 3).await;
    assert!(
        offline.iter().all(|t| *t % old == 0),
        "sold at the old price"
    );
    let r = app
        .req(
            reqwest::Method::PATCH,
            &format!("/api/v1/products/{}", croissant["id"].as_str().unwrap()),
        )
        .bearer(&till.manager)
        .json(&serde_json::json!({"price_minor": 222}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    proxy.restore();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while product("Espresso").await["price_minor"] != new_price {
        assert!(
            std::time::Instant::now() < deadline,
            "the central price never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The store's later croissant edit stands.
    assert_eq!(product("Croissant").await["price_minor"], 222);
    let queue = app.get("/api/v1/adjustments", &till.manager).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert_eq!(queue.body.as_array().unwrap().len(), 3, "{}", queue.body);
    let audit = app.get("/api/v1/audit?limit=500", &till.manager).await.body;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "order.price_override")
            .count(),
        3
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "master.conflict").count(),
        1
    );

    // Later sales use the new price and are not flagged.
    let after = sell_n(&app, &till, 1).await;
    assert_eq!(after[0] % new_price, 0, "{after:?}");
    converged(&app, &till.manager, &cloud, &store_id, 60).await;
    assert_eq!(
        cloud.count("SELECT count(*) AS n FROM orders WHERE needs_adjustment"),
        3
    );
    // The cloud's adjustment queue and admin page show them, to the admin only.
    let (st, body) = cloud
        .admin_get("/api/v1/orders?adjustments=true", true)
        .await;
    assert_eq!(st, 200, "{body}");
    let queue: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(queue.as_array().unwrap().len(), 3, "{queue}");
    let (st, page) = cloud.admin_get("/", true).await;
    assert_eq!(st, 200);
    assert!(
        page.contains("Adjustment queue") && page.contains("master-conflict"),
        "{page}"
    );
    assert_eq!(cloud.admin_get("/api/v1/orders", false).await.0, 401);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM orders"), 5);
    assert_eq!(
        cloud.count("SELECT COALESCE(sum(total_minor), 0)::bigint AS n FROM orders"),
        before.iter().chain(&offline).chain(&after).sum::<i64>()
    );
    let sku = croissant["sku"].as_str().unwrap();
    assert_eq!(
        cloud.count(&format!(
            "SELECT (body->>'price_minor')::bigint AS n FROM store_products WHERE sku = '{sku}'"
        )),
        222
    );
    assert_eq!(
        cloud.count("SELECT count(*) AS n FROM master_conflicts WHERE kept_origin = 'store' AND lost_origin = 'cloud'"),
        1
    );
}

/// The cloud adds a tax category and a product with a barcode, and changes a
/// tax rate: the store sells the new product by its barcode with the new
/// category's tax; sold orders keep the taxes they had.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cloud_adds_products_and_changes_tax_rates_at_a_store() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    let store = Store::new(Backend::Postgres);
    let app = edge(&store, &cloud, &credential, &[]);
    let till = app.register("Till 1").await;
    let path = |what: &str| format!("/api/v1/stores/{store_id}/{what}");
    let (st, b) = cloud
        .admin_post(
            &path("tax-categories"),
            serde_json::json!({"code": "cake", "name": "Cake rate", "rate_ppm": 50000, "mode": "inclusive"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = cloud
        .admin_post(
            &path("products"),
            serde_json::json!({"sku": "CAKE-1", "name": "Cloud cake", "price_minor": 350,
                "tax_category": "cake", "barcodes": ["2999999999990"],
                "category": "Cloud cakes", "favourite": true}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    // Refused, with nothing written: an unknown store, a bad rate, a bad body.
    let unknown = format!("/api/v1/stores/{}/tax-categories", uuid::Uuid::now_v7());
    assert_eq!(
        cloud
            .admin_post(&unknown, serde_json::json!({"code": "x", "rate_ppm": 1}))
            .await
            .0,
        404
    );
    assert_eq!(
        cloud
            .admin_post(
                &path("tax-categories"),
                serde_json::json!({"code": "cake", "rate_ppm": 2000000})
            )
            .await
            .0,
        422
    );
    assert_eq!(
        cloud
            .admin_post(&path("products"), serde_json::json!({"name": 5}))
            .await
            .0,
        400
    );
    assert_eq!(
        cloud
            .admin_post(
                &path("products"),
                serde_json::json!({"sku": "CAKE-1", "category": "x".repeat(41)})
            )
            .await
            .0,
        422
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let cake = loop {
        let r = app
            .get("/api/v1/products?q=Cloud%20cake", &till.manager)
            .await;
        if let Some(p) = r.body.as_array().and_then(|a| a.first()) {
            break p.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cloud's product never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(cake["barcodes"], serde_json::json!(["2999999999990"]));
    // On the till's item grid: its own tab, and the favourites.
    assert_eq!(cake["category"], "Cloud cakes", "{cake}");
    assert_eq!(cake["favourite"], true, "{cake}");
    let tabs = app.get("/api/v1/categories", &till.cashier).await.body;
    assert!(
        tabs.as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Cloud cakes" && t["products"] == 1),
        "{tabs}"
    );
    // Moved to another tab at the store: the cloud learns it (schema 4).
    let moved = app
        .req(
            reqwest::Method::PATCH,
            &format!("/api/v1/products/{}", cake["id"].as_str().unwrap()),
        )
        .bearer(&till.manager)
        .json(&serde_json::json!({"category": "Cakes", "favourite": false}))
        .send()
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    eventually("the store's category in the cloud", || async {
        let (st, body) = cloud.admin_get(&path("products"), true).await;
        assert_eq!(st, 200, "{body}");
        let all: serde_json::Value = serde_json::from_str(&body).ok()?;
        let p = all
            .as_array()?
            .iter()
            .find(|p| p["sku"] == "CAKE-1")?
            .clone();
        (p["body"]["category"] == "Cakes" && p["body"]["favourite"] == false).then_some(())
    })
    .await;
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(&[("2999999999990", 1000)], 350),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    // 5 % inclusive of 3.50: 350 × 50000 / 1050000 = 16.67 → 17.
    assert_eq!(sale.body["tax_minor"], 17, "{}", sale.body);

    let (st, _) = cloud
        .admin_post(
            &path("tax-categories"),
            serde_json::json!({"code": "cake", "rate_ppm": 100000}),
        )
        .await;
    assert_eq!(st, 201);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let q = app
            .post(
                "/api/v1/orders/quote",
                &till.cashier,
                serde_json::json!({"lines": [{"barcode": "2999999999990", "quantity_milli": 1000}]}),
            )
            .await;
        assert_eq!(q.status, 200, "{}", q.body);
        // 10 %: 350 × 100000 / 1100000 = 31.8 → 32.
        if q.body["tax_minor"] == 32 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new rate never arrived: {}",
            q.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = app
        .get(
            &format!("/api/v1/orders/{}", sale.body["id"].as_str().unwrap()),
            &till.manager,
        )
        .await;
    assert_eq!(before.body["tax_minor"], 17, "a sold order keeps its tax");
}

/// A store skipped a product (its company had not reached it yet). Support
/// re-sends the store's master data: the product arrives, an edit the store
/// made stays, and nothing the store already held changes or conflicts. An
/// area manager may not re-send; the re-send is audited with the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn support_resends_a_stores_master_data_and_the_stores_own_edits_stand() {
    use serde_json::json;
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    cloud.admin_add("Sam Support", "support", &[], "support desk password");
    cloud.admin_add(
        "Ari Area",
        "area_manager",
        &["S01"],
        "area manager password",
    );
    let store = Store::new(Backend::Sqlite);
    let app = edge(&store, &cloud, &credential, &[]);
    let till = app.register("Till 1").await;
    let path = |what: &str| format!("/api/v1/stores/{store_id}/{what}");
    // The feed's state for the store, as the admin shows it.
    let pulled_all = || async {
        let (st, body) = cloud.admin_get("/api/v1/stores", true).await;
        assert_eq!(st, 200, "{body}");
        let all: serde_json::Value = serde_json::from_str(&body).unwrap();
        let s = &all
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["store"]["id"] == store_id.as_str())
            .unwrap()["store"];
        let (waiting, latest) = (s["master_waiting"].as_i64(), s["master_latest"].as_i64());
        (waiting == Some(0)).then_some(latest.unwrap())
    };
    let product = |q: &'static str| {
        let (app, m) = (&app, till.manager.clone());
        async move {
            let r = app.get(&format!("/api/v1/products?q={q}"), &m).await;
            r.body.as_array().and_then(|a| a.first()).cloned()
        }
    };

    // A product for a company the store does not know yet: skipped there.
    let (st, b) = cloud
        .admin_post(
            &path("products"),
            json!({"sku": "RE-1", "name": "Northern rye", "price_minor": 420,
                   "tax_category": "reduced", "company": "NORTH"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let croissant = product("Croissant").await.unwrap();
    let (st, b) = cloud
        .admin_post(
            &path("products"),
            json!({"sku": croissant["sku"], "price_minor": 111}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = cloud
        .admin_post(
            &path("companies"),
            json!({"code": "NORTH", "name": "Northern Bakery Ltd"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    eventually("the store pulling the feed", pulled_all).await;
    assert!(product("Northern").await.is_none(), "skipped at the store");
    eventually("the croissant's central price", || async {
        (product("Croissant").await?["price_minor"] == 111).then_some(())
    })
    .await;
    // The store's own later edit of the croissant.
    let r = app
        .req(
            reqwest::Method::PATCH,
            &format!("/api/v1/products/{}", croissant["id"].as_str().unwrap()),
        )
        .bearer(&till.manager)
        .json(&json!({"price_minor": 222}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let conflicts = || {
        let (app, m) = (&app, till.manager.clone());
        async move {
            let audit = app.get("/api/v1/audit?limit=500", &m).await.body;
            audit
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["action"] == "master.conflict")
                .count()
        }
    };
    let conflicts_before = conflicts().await;
    let espresso_before = product("Espresso").await.unwrap();

    // An area manager may not re-send; support may.
    let resend = path("master/resend");
    let (st, _) = cloud
        .admin_post_as(&cloud.api_token("Ari Area"), &resend, json!({}))
        .await;
    assert_eq!(st, 403);
    let (st, sent) = cloud
        .admin_post_as(&cloud.api_token("Sam Support"), &resend, json!({}))
        .await;
    assert_eq!(st, 200, "{sent}");
    assert_eq!(sent["kinds"]["company"], 1, "{sent}");
    assert!(sent["kinds"]["product"].as_i64() >= Some(2), "{sent}");
    let (st, _) = cloud
        .admin_post_as(
            &cloud.api_token("Sam Support"),
            &format!("/api/v1/stores/{}/master/resend", uuid::Uuid::now_v7()),
            json!({}),
        )
        .await;
    assert_eq!(st, 404);
    // A store whose edge never pulled with a version that understands
    // re-sends would take each re-sent entity for a conflict: refused.
    let other = uuid::Uuid::now_v7().to_string();
    cloud.add_store(&other, "S02");
    let (st, said) = cloud
        .admin_post_as(
            &cloud.api_token("Sam Support"),
            &format!("/api/v1/stores/{other}/master/resend"),
            json!({}),
        )
        .await;
    assert_eq!(st, 409, "{said}");

    let rye = eventually("the skipped product", || product("Northern")).await;
    assert_eq!(rye["price_minor"], 420, "{rye}");
    let last = eventually("the store pulling the re-send", pulled_all).await;
    assert!(last >= sent["last_cursor"].as_i64().unwrap());
    assert_eq!(
        product("Croissant").await.unwrap()["price_minor"],
        222,
        "the store's later edit stands"
    );
    let espresso = product("Espresso").await.unwrap();
    assert_eq!(
        espresso["version"], espresso_before["version"],
        "held: unchanged"
    );
    assert_eq!(
        conflicts().await,
        conflicts_before,
        "a re-send is no conflict"
    );
    assert_eq!(
        cloud.count(&format!(
            "SELECT count(*) AS n FROM admin_audit WHERE account_name = 'Sam Support' \
             AND action = 'master.resend' AND target = '{store_id}'"
        )),
        1
    );
}

/// Polls `f` until it gives a value (60 s at most).
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Companies, staff (with a PIN that only travels hashed), the store's
/// settings and price-list versions that take effect at their time, all
/// authored in the cloud and applied at the store; bad changes are refused
/// with nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cloud_manages_companies_staff_settings_and_price_lists_at_a_store() {
    use serde_json::json;
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    let store = Store::new(Backend::Sqlite);
    let app = edge(&store, &cloud, &credential, &[]);
    let till = app.register("Till 1").await;
    let path = |what: &str| format!("/api/v1/stores/{store_id}/{what}");
    let post = |what: &'static str, body: serde_json::Value| {
        let p = path(what);
        let cloud = &cloud;
        async move { cloud.admin_post(&p, body).await }
    };
    let changes = || {
        cloud.count(&format!(
            "SELECT count(*) AS n FROM master_changes WHERE store_id = '{store_id}'"
        ))
    };

    // Refused, with nothing written.
    for (what, body, status) in [
        ("staff", json!({"name": "Ana", "role": "supervisor"}), 422),
        (
            "staff",
            json!({"name": "Ana", "role": "supervisor", "pin": "12"}),
            422,
        ),
        (
            "staff",
            json!({"name": "Ana", "role": "boss", "pin": "4821"}),
            422,
        ),
        (
            "staff",
            json!({"name": "Ana", "role": "cashier", "pin": "4821", "pin_hash": "x"}),
            400,
        ),
        ("companies", json!({"code": "BAKE"}), 422),
        ("settings", json!({"utc_offset_minutes": 100000}), 422),
        ("settings", json!({}), 422),
        (
            "price-lists",
            json!({"version": "v", "effective_at": 0, "prices": []}),
            422,
        ),
        (
            "price-lists",
            json!({"version": "v", "effective_at": 0, "prices": [
                {"sku": "A", "price_minor": 1}, {"sku": "A", "price_minor": 2}]}),
            422,
        ),
        (
            "price-lists",
            json!({"version": "v", "effective_at": 0, "prices": [{"sku": "A", "price_minor": -1}]}),
            422,
        ),
        ("products", json!({"sku": "A", "price": 5}), 400),
    ] {
        let (st, b) = post(what, body.clone()).await;
        assert_eq!(st, status, "{what} {body}: {b}");
        assert_eq!(b["status"], status, "a problem body: {b}");
        crate::support::app::assert_one_problem_base(&b);
    }
    assert_eq!(changes(), 0, "a refused change wrote nothing");

    let (st, b) = post(
        "companies",
        json!({"code": "BAKE", "name": "Bakery Ltd", "tax_id": "DE123"}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = post(
        "staff",
        json!({"name": "Ana Supervisor", "role": "supervisor", "pin": "4821"}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let ana = b["entity_id"].as_str().unwrap().to_owned();
    let (st, b) = post(
        "settings",
        json!({"name": "Main Street", "default_company": "BAKE"}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = post(
        "products",
        json!({"sku": "BREAD-1", "name": "Cloud bread", "price_minor": 300, "tax_category": "reduced",
            "company": "BAKE", "barcodes": ["2888888888881"]}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (st, b) = post(
        "price-lists",
        json!({"version": "2026-12", "effective_at": now - 1000,
            "prices": [{"sku": "BREAD-1", "price_minor": 320}, {"sku": "NOT-HERE", "price_minor": 1}]}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = post(
        "price-lists",
        json!({"version": "2027-01", "effective_at": now + 12_000, "prices": [{"sku": "BREAD-1", "price_minor": 340}]}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    // The PIN travels as a hash only.
    assert_eq!(
        cloud.count(&format!(
            "SELECT count(*) AS n FROM master_changes WHERE store_id = '{store_id}' AND kind = 'staff' \
             AND body LIKE '%pin_hash%' AND body NOT LIKE '%\"pin\"%' AND body NOT LIKE '%4821%'"
        )),
        1
    );

    // Ana signs in at the register with the PIN set in the cloud.
    let ana_id = eventually("Ana's arrival", || async {
        let list = app
            .req(reqwest::Method::GET, "/api/v1/login-staff")
            .header("X-Device-Token", &till.device)
            .send()
            .await
            .body;
        list["staff"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == "Ana Supervisor")
            .map(|s| s["id"].as_str().unwrap().to_owned())
    })
    .await;
    assert_eq!(ana_id, ana);
    let sign_in = |pin: &'static str| {
        let app = &app;
        let device = till.device.clone();
        let ana = ana.clone();
        async move {
            app.req(reqwest::Method::POST, "/api/v1/sessions")
                .header("X-Device-Token", &device)
                .json(&json!({"staff_id": ana, "pin": pin}))
                .send()
                .await
        }
    };
    let session = sign_in("4821").await;
    assert_eq!(session.status, 201, "{}", session.body);
    crate::support::app::opened_at(session.body["token"].as_str().unwrap(), &till.device);
    assert_eq!(sign_in("1111").await.status, 401);

    // The bread sells for the Bakery at the list price already due.
    let bread = eventually("the list price", || async {
        let r = app
            .get("/api/v1/products?q=Cloud%20bread", &till.manager)
            .await;
        let p = r.body.as_array()?.first()?.clone();
        (p["price_minor"] == 320).then_some(p)
    })
    .await;
    let companies = app.get("/api/v1/companies", &till.manager).await.body;
    let bake = companies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "BAKE")
        .unwrap_or_else(|| panic!("no BAKE in {companies}"));
    assert_eq!(bake["name"], "Bakery Ltd");
    assert_eq!(bread["company_id"], bake["id"]);
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(&[("2888888888881", 1000)], 320),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    assert_eq!(sale.body["total_minor"], 320);
    assert_eq!(sale.body["company_id"], bake["id"]);

    // The next version takes effect at its time, with no further change.
    eventually("the next list price", || async {
        let r = app
            .get("/api/v1/products?q=Cloud%20bread", &till.manager)
            .await;
        (r.body.as_array()?.first()?["price_minor"] == 340).then_some(())
    })
    .await;
    // The price list's edits are the store's: they sync back to the cloud.
    cloud
        .wait_count(
            &format!(
                "SELECT count(*) AS n FROM store_products WHERE store_id = '{store_id}' \
                 AND sku = 'BREAD-1' AND (body->>'price_minor')::bigint = 340"
            ),
            1,
            60,
        )
        .await;

    // Deactivated in the cloud: Ana's session ends and she cannot sign in.
    let (st, b) = post("staff", json!({"id": ana, "active": false})).await;
    assert_eq!(st, 201, "{b}");
    let token = session.body["token"].as_str().unwrap().to_owned();
    eventually("Ana's deactivation", || async {
        (app.get("/api/v1/me", &token).await.status == 401).then_some(())
    })
    .await;
    let refused = sign_in("4821").await;
    assert!(
        matches!(refused.status, 401 | 404),
        "a deactivated member signed in: {}",
        refused.body
    );

    // What the store's audit log says: every change, never the PIN hash;
    // the price for an unknown SKU is reported, not silently dropped.
    let audit = app.get("/api/v1/audit?limit=500", &till.manager).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let text = audit.body.to_string();
    for action in [
        "master.company",
        "master.staff",
        "master.store_settings",
        "master.price_list",
        "master.price_list_applied",
    ] {
        assert!(
            text.contains(&format!("\"{action}\"")),
            "no {action} in {text}"
        );
    }
    assert!(!text.contains("argon2"), "a PIN hash in the audit log");
    assert!(text.contains("NOT-HERE"), "the unknown SKU is not reported");
}
