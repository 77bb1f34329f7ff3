//! A till's register agent with its edge, as processes: paired with a
//! manager's code, it sells on its own database, keeps selling cash and
//! card with the edge SIGKILLed (OFFLINE within 3 s, the queue growing),
//! refuses on-account sales with a plain message, and when the edge is back
//! every sale arrives exactly once with the till's numbers, gap-free. Its
//! page server answers only its own page.

use crate::support::agent::{self, Agent};
use crate::support::app::{App, Backend, Opts, Req, Store, free_port, key, spawn_opts, within};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// The edge on ports of its own (HTTP, and TLS for the agents), so it
/// comes back where the agents look.
pub(crate) fn edge_on(store: &Store, (port, tls): (u16, u16)) -> App {
    spawn_opts(
        store,
        &Opts {
            env: vec![
                ("OUTPOST__SERVER__PORT", port.to_string()),
                ("OUTPOST__SERVER__TLS_PORT", tls.to_string()),
            ],
            ..Opts::default()
        },
    )
}

/// A product of the till's copy of the catalog: its barcode and price.
pub(crate) async fn product(till: &Agent, session: &str) -> (String, i64) {
    let r = till
        .req(reqwest::Method::GET, "/api/v1/products?q=")
        .bearer(session)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["weighed"] == false && p["kitchen"] == false)
        .expect("a plain product")
        .clone();
    (
        p["barcodes"][0].as_str().unwrap().to_owned(),
        p["price_minor"].as_i64().unwrap(),
    )
}

/// A kitchen (café) product of the till's copy: its barcode and price.
pub(crate) async fn kitchen_product(till: &Agent, session: &str) -> (String, i64) {
    let r = till
        .req(reqwest::Method::GET, "/api/v1/products?q=")
        .bearer(session)
        .send()
        .await;
    let p = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kitchen"] == true && p["weighed"] == false)
        .expect("a café product")
        .clone();
    (
        p["barcodes"][0].as_str().unwrap().to_owned(),
        p["price_minor"].as_i64().unwrap(),
    )
}

/// Sells one of `barcode` at the till, cash or card.
pub(crate) async fn sell(
    till: &Agent,
    session: &str,
    barcode: &str,
    price: i64,
    method: &str,
) -> Value {
    let mut pay = json!({"method": method, "amount_minor": price});
    if method == "cash" {
        pay["tendered_minor"] = json!(price);
    }
    let r = till
        .req(reqwest::Method::POST, "/api/v1/orders")
        .bearer(session)
        .header("Idempotency-Key", &key())
        .json(&json!({
            "lines": [{"barcode": barcode, "quantity_milli": 1000}],
            "payments": [pay],
        }))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

/// The store's orders as the edge's manager lists them.
pub(crate) async fn edge_orders(edge: &App, manager: &str) -> Vec<Value> {
    let r = edge.get("/api/v1/orders?limit=500", manager).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

/// The edge's stock level of a product, as its manager reads it.
pub(crate) async fn level(edge: &App, manager: &str, product_id: &str) -> i64 {
    let r = edge.get("/api/v1/stock", manager).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == product_id)
        .map_or(0, |l| l["qty_milli"].as_i64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_killed_in_the_middle_of_its_pushes_loses_and_doubles_nothing() {
    let store = Store::new(Backend::Sqlite);
    let port = (free_port(), free_port());
    let mut edge = edge_on(&store, port);
    let manager = edge.manager().await;
    let first = agent::paired(&edge, &manager, "Till 5").await;
    let dir = first.dir.clone();
    drop(first);
    // Small pushes, so there is a middle to be killed in.
    let small = [("OUTPOST__REGISTER__PUSH_BATCH", "1")];
    let mut till = agent::start_with(dir.clone(), &small).await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (barcode, price) = product(&till, &cashier).await;
    edge.kill();
    let mut sold = BTreeSet::new();
    for _ in 0..30 {
        let o = sell(&till, &cashier, &barcode, price, "cash").await;
        sold.insert(o["number"].as_str().unwrap().to_owned());
    }
    let edge = edge_on(&store, port);
    let manager = edge.manager().await;
    // Killed as soon as the edge has some of the sales.
    let t0 = std::time::Instant::now();
    while edge_orders(&edge, &manager).await.is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the pushes never start"
        );
    }
    till.kill();
    let partial = edge_orders(&edge, &manager).await.len();
    assert!(partial < 30, "the kill came after the last push");
    let till = agent::start_with(dir, &small).await;
    within(
        Duration::from_secs(30),
        "the till's queue drains",
        || async {
            let l = till.link().await;
            l["online"] == true && l["queued"] == 0
        },
    )
    .await;
    let there = edge_orders(&edge, &manager).await;
    let numbers: BTreeSet<String> = there
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(there.len(), 30, "each once (the kill came after {partial})");
    assert_eq!(numbers, sold);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_till_restored_from_an_older_copy_of_its_database_reuses_no_number() {
    let store = Store::new(Backend::Sqlite);
    let edge = spawn_opts(&store, &Opts::default());
    let manager = edge.manager().await;
    let mut till = agent::paired(&edge, &manager, "Till 6").await;
    let dir = till.dir.clone();
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (barcode, price) = product(&till, &cashier).await;
    for _ in 0..2 {
        sell(&till, &cashier, &barcode, price, "cash").await;
    }
    till.drained().await;
    // A backup of the till's disk, taken with the agent stopped.
    till.kill();
    let backup = std::env::temp_dir().join(format!("outpost-backup-{}", uuid::Uuid::now_v7()));
    copy_dir(&dir, &backup);
    let till = agent::start(dir.clone()).await;
    let mut lost = BTreeSet::new();
    for _ in 0..3 {
        let o = sell(&till, &cashier, &barcode, price, "card").await;
        lost.insert(o["number"].as_str().unwrap().to_owned());
    }
    till.drained().await;
    drop(till);
    // The disk is replaced by the backup: it never sold those three.
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&backup, &dir);
    let till = agent::start(dir).await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    let next = sell(&till, &cashier, &barcode, price, "cash").await;
    assert!(
        next["number"].as_str().unwrap().ends_with("-000006"),
        "numbered past the edge's highest: {}",
        next["number"]
    );
    till.drained().await;
    let numbers: BTreeSet<String> = edge_orders(&edge, &manager)
        .await
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), 6, "{numbers:?}");
    // The three the backup never had came back down, to show and return.
    within(
        Duration::from_secs(30),
        "the lost sales back at the till",
        || async {
            let r = till
                .req(reqwest::Method::GET, "/api/v1/orders?limit=50")
                .bearer(&cashier)
                .send()
                .await;
            let here: BTreeSet<String> = r
                .body
                .as_array()
                .map(|os| {
                    os.iter()
                        .filter_map(|o| o["number"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            lost.is_subset(&here)
        },
    )
    .await;
}

/// Copies a till's data folder (a backup, or putting one back).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tills_page_server_answers_only_its_own_page() {
    let store = Store::new(Backend::Sqlite);
    let edge = spawn_opts(&store, &Opts::default());
    let manager = edge.manager().await;
    let till = agent::paired(&edge, &manager, "Till 8").await;
    let ok = till
        .req(reqwest::Method::GET, "/api/v1/login-staff")
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // A name a DNS rebinding points at 127.0.0.1.
    let r = till
        .req(reqwest::Method::GET, "/api/v1/login-staff")
        .header("Host", &format!("evil.example:{}", till.port))
        .send()
        .await;
    r.assert_problem(403);
    let page = till
        .http
        .get(format!("{}/", till.base))
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403, "not even the page");
    // A page from another origin, even with a token it somehow had.
    let r = till
        .req(reqwest::Method::POST, "/agent/reconnect")
        .header("Origin", "http://evil.example")
        .send()
        .await;
    r.assert_problem(403);
    // No token (or one from an earlier start): refused.
    let r = till
        .http
        .get(format!("{}/api/v1/login-staff", till.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = Req {
        rb: till
            .http
            .post(format!("{}/agent/reconnect", till.base))
            .header("X-Page-Token", "0".repeat(64)),
    }
    .send()
    .await;
    r.assert_problem(403);
    // Its own page, same origin: fine.
    let r = till
        .req(reqwest::Method::POST, "/agent/reconnect")
        .header("Origin", &till.base)
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.body);

    // The agent's token on the edge reads its feed but cannot sign anyone
    // in there: the till numbers its own orders.
    let edge_token = till.edge_token();
    // Nor does it list anyone to sign in.
    let listed = edge
        .req(reqwest::Method::GET, "/api/v1/login-staff")
        .header("X-Device-Token", &edge_token)
        .send()
        .await;
    assert_eq!(listed.body["staff"], json!([]), "{}", listed.body);
    let staff = edge.get("/api/v1/staff", &manager).await;
    let id = staff
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Carl Cashier")
        .unwrap_or_else(|| panic!("Carl in {}", staff.body))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = edge
        .req(reqwest::Method::POST, "/api/v1/sessions")
        .header("X-Device-Token", &edge_token)
        .json(&json!({"staff_id": id, "pin": edge.pins["Carl Cashier"]}))
        .send()
        .await;
    r.assert_problem(403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_refuses_a_used_code_and_a_folder_already_paired() {
    let store = Store::new(Backend::Sqlite);
    let edge = spawn_opts(&store, &Opts::default());
    let manager = edge.manager().await;
    let till = agent::paired(&edge, &manager, "Till 9").await;
    let code = agent::code(&edge, &manager, "Till 10").await;
    let again = agent::pair(&edge, &code, &till.dir);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds a paired register"), "{err}");
    // The code was not spent on it: a new folder pairs with it, once.
    let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
    // Over TLS, the store CA pinned: a fingerprint other than the manager
    // page's is refused before the code is spent.
    let ca = edge
        .req(reqwest::Method::GET, "/api/v1/store/ca")
        .send()
        .await;
    assert_eq!(ca.status, 200, "{}", ca.body);
    let fingerprint = ca.body["fingerprint"].as_str().unwrap().to_owned();
    let tls = edge.tls_base.clone().unwrap();
    let pair_pinned = |pin: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(["register", "pair", "--edge", &tls, "--code", &code])
            .args(["--ca-fingerprint", &pin, "--data"])
            .arg(&dir)
            .output()
            .unwrap()
    };
    let wrong = pair_pinned("AB:".repeat(31) + "AB");
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("presents the store CA"), "{err}");
    let out = pair_pinned(fingerprint.to_lowercase());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Paired: register"), "{text}");
    assert!(
        text.contains(&format!("Pinned the store CA {fingerprint}")),
        "{text}"
    );
    let dir2 = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
    let used = agent::pair(&edge, &code, &dir2);
    assert!(!used.status.success());
    let err = String::from_utf8_lossy(&used.stderr);
    assert!(err.contains("unknown, used or expired"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tills_later_sales_are_refused_and_stay_on_the_till() {
    let store = Store::new(Backend::Sqlite);
    let edge = spawn_opts(&store, &Opts::default());
    let manager = edge.manager().await;
    let till = agent::paired(&edge, &manager, "Till 4").await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (barcode, price) = product(&till, &cashier).await;
    sell(&till, &cashier, &barcode, price, "cash").await;
    till.drained().await;
    let device = edge
        .get("/api/v1/devices", &manager)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Till 4")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = edge
        .req(
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{device}"),
        )
        .bearer(&manager)
        .send()
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    // The till still sells (it cannot know yet), but the edge refuses it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    sell(&till, &cashier, &barcode, price, "cash").await;
    within(
        Duration::from_secs(10),
        "the refusal shows on the till",
        || async {
            let l = till.link().await;
            l["refused"].as_str().is_some_and(|r| r.contains("revoked"))
        },
    )
    .await;
    assert!(till.link().await["queued"].as_i64().unwrap() > 0);
    assert_eq!(edge_orders(&edge, &manager).await.len(), 1);
}

/// The till's link cut by something that drops traffic without closing it
/// (a switch losing power, a NAT forgetting the connection): OFFLINE within
/// 3 s, the till sells on, and every sale arrives once when the link is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_till_whose_link_goes_silent_sells_on_and_every_sale_arrives_once() {
    use crate::support::cloud::Proxy;
    let store = Store::new(Backend::Sqlite);
    let edge = spawn_opts(&store, &Opts::default());
    let manager = edge.manager().await;
    let tls = crate::support::app::port_of(edge.tls_base.as_ref().unwrap());
    let proxy = Proxy::start(tls).await;
    let till = agent::paired_through(&edge, &manager, "Till 2", proxy.port).await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (barcode, price) = product(&till, &cashier).await;
    let mut sold = Vec::new();
    for _ in 0..3 {
        sold.push(sell(&till, &cashier, &barcode, price, "cash").await);
    }
    till.drained().await;

    proxy.blackhole();
    let took = within(Duration::from_secs(3), "the till shows OFFLINE", || async {
        till.link().await["online"] == false
    })
    .await;
    assert!(took <= Duration::from_secs(3), "{took:?}");
    for i in 0..10 {
        let method = if i % 2 == 0 { "cash" } else { "card" };
        sold.push(sell(&till, &cashier, &barcode, price, method).await);
    }
    assert!(till.link().await["queued"].as_i64().unwrap() >= 10);

    proxy.restore();
    till.drained().await;
    let there = edge_orders(&edge, &manager).await;
    let numbers: BTreeSet<String> = there
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect();
    let ours: BTreeSet<String> = sold
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(there.len(), 13, "each sale once");
    assert_eq!(numbers, ours);
}

/// A price changed at the edge while a till was cut off from it: the till
/// sold at the price it had, and the order keeps it, flagged for a manager
/// at the edge and, through the sync link, in the cloud.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_price_changed_while_a_till_was_cut_off_flags_its_sale_at_the_edge_and_in_the_cloud() {
    use crate::support::cloud::{Cloud, Proxy, Rabbit, edge as syncing_edge};
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    let store = Store::new(Backend::Sqlite);
    let edge = syncing_edge(&store, &cloud, &credential, &[]);
    let manager = edge.manager().await;
    let tls = crate::support::app::port_of(edge.tls_base.as_ref().unwrap());
    let proxy = Proxy::start(tls).await;
    let till = agent::paired_through(&edge, &manager, "Till 1", proxy.port).await;
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    let (barcode, price) = product(&till, &cashier).await;
    let listed = till
        .req(reqwest::Method::GET, "/api/v1/products?q=")
        .bearer(&cashier)
        .send()
        .await;
    let product_id = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["barcodes"][0] == barcode.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    proxy.blackhole();
    within(Duration::from_secs(3), "the till shows OFFLINE", || async {
        till.link().await["online"] == false
    })
    .await;
    let r = edge
        .req(
            reqwest::Method::PATCH,
            &format!("/api/v1/products/{product_id}"),
        )
        .bearer(&manager)
        .json(&json!({"price_minor": price + 10}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sold = sell(&till, &cashier, &barcode, price, "cash").await;
    assert_eq!(
        sold["total_minor"], price,
        "the till sells at the price it has"
    );

    proxy.restore();
    till.drained().await;
    let number = sold["number"].as_str().unwrap().to_owned();
    let queue = edge.get("/api/v1/adjustments", &manager).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(
        queue
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["number"] == number.as_str() && o["total_minor"] == price),
        "{}",
        queue.body
    );
    cloud
        .wait_count(
            &format!(
                "SELECT count(*) AS n FROM orders WHERE number = '{number}' AND needs_adjustment AND total_minor = {price}"
            ),
            1,
            60,
        )
        .await;
}

/// A push the edge refuses (here a gap: events the edge never had) shows in
/// the edge's health, naming the till, until the till's next push is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_push_shows_in_the_edges_health_until_the_till_is_taken_again() {
    let store = Store::new(Backend::Sqlite);
    let edge = spawn_opts(&store, &Opts::default());
    let manager = edge.manager().await;
    let till = agent::paired(&edge, &manager, "Till 11").await;
    let gap = till
        .push_one(&edge, ("stock", 5), ("stock", "stock.moved"))
        .await;
    gap.assert_problem(409);
    let health = edge.req(reqwest::Method::GET, "/health").send().await;
    let registers = &health.body["components"]["registers"];
    assert_eq!(registers["status"], "degraded", "{}", health.body);
    assert_eq!(registers["refused"][0]["register"], "Till 11");
    assert_eq!(health.body["status"], "degraded");
    // The till's own push is taken: health is ok again.
    let cashier = till.sign_in(&edge, "Carl Cashier").await;
    till.open_shift(&cashier, 0).await;
    till.drained().await;
    let health = edge.req(reqwest::Method::GET, "/health").send().await;
    assert_eq!(
        health.body["components"]["registers"]["status"], "ok",
        "{}",
        health.body
    );
}
