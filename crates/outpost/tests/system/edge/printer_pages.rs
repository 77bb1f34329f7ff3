//! Printers set up on the manager page (with a logo) reaching hw-proxy, and
//! the queue and printer screens in a browser.

use crate::both_backends;
use crate::support::app::{Backend, Opts, Store, cash_sale, key, spawn_opts};
use crate::support::printer::{Hw, Printer, id, printed_numbers, receipt_job, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

/// hw-proxy's page with a token: the form takes it, hw-proxy keeps it in a
/// cookie no script on the page can read, and a wrong one opens nothing.
#[tokio::test]
async fn hw_proxys_page_takes_its_token_into_a_cookie_no_script_reads() {
    use crate::support::browser::{browser, click, type_into, visible};
    const TOKEN: &str = "hw-page-3c9e1f7a5b2d4086c1e3a5f7b9d2e4c6";
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[("OUTPOST__HW__TOKEN", TOKEN)]).await;
    let (c, _driver) = browser().await;
    c.goto(&format!("{}/", hw.base)).await.unwrap();
    type_into(&c, "#token", "not-the-token-at-all").await;
    click(&c, "#token-form button").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let said = loop {
        match c.get_alert_text().await {
            Ok(t) => break t,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("no refusal shown: {e}"),
        }
    };
    assert!(said.contains("not hw-proxy's token"), "{said}");
    c.dismiss_alert().await.unwrap();
    assert!(
        c.find(fantoccini::Locator::Css("#printer-front"))
            .await
            .is_err()
    );
    let field = visible(&c, "#token").await;
    field.clear().await.unwrap();
    field.send_keys(TOKEN).await.unwrap();
    click(&c, "#token-form button").await;
    visible(&c, "#printer-front").await;
    let cookie = c.execute("return document.cookie", vec![]).await.unwrap();
    assert!(!cookie.as_str().unwrap().contains("outpost_hw"), "{cookie}");
}

#[tokio::test]
async fn the_queue_page_shows_a_printer_away_and_cancels_and_reprints_in_a_browser() {
    use crate::support::browser::{browser, click, text};
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let done = id();
    assert_eq!(
        hw.post("/api/v1/jobs", &receipt_job(&done, "S01-R1-000070"))
            .await
            .0,
        201
    );
    hw.wait_state(std::slice::from_ref(&done), "printed").await;
    p.mode("off").await;
    let waiting = id();
    assert_eq!(
        hw.post("/api/v1/jobs", &receipt_job(&waiting, "S01-R1-000071"))
            .await
            .0,
        201
    );
    wait_until("the printer to be seen away", || async {
        hw.front().await["state"]["reachable"] == false
    })
    .await;
    let (c, _driver) = browser().await;
    c.goto(&format!("{}/", hw.base)).await.unwrap();
    assert!(text(&c, "#printer-front").await.contains("unreachable"));
    click(&c, &format!("#job-{waiting} button[data-act=cancel]")).await;
    wait_until("the cancel", || async {
        hw.job(&waiting).await["state"] == "cancelled"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    click(&c, &format!("#job-{done} button[data-act=reprint]")).await;
    wait_until("the reprint to be queued", || async {
        hw.get("/api/v1/jobs?state=queued").await["jobs"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    })
    .await;
    p.mode("ready").await;
    wait_until("the reprint on paper", || async {
        p.jobs().await.len() == 2
    })
    .await;
    assert_eq!(
        printed_numbers(&p).await,
        ["S01-R1-000070", "S01-R1-000070"],
        "the cancelled one never prints"
    );
    c.close().await.unwrap();
}

/// A black square PNG, `side` pixels wide.
fn square_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, side, side);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .unwrap()
        .write_image_data(&vec![0; (side * side) as usize])
        .unwrap();
    out
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A printer added on the manager page reaches a hw-proxy that had none,
/// prints the register's receipts with its logo, survives hw-proxy's
/// restart; bad settings are refused by name with nothing stored; the
/// register sees its printer's queue, reprints, and gets the receipt's
/// picture; a printer with jobs waiting is not removed.
async fn printers_configured_on_the_manager_page_print_with_their_logo(b: Backend) {
    let p = Printer::start().await;
    let mut hw = Hw::bare().await;
    let store = Store::new(b);
    let app = spawn_opts(
        &store,
        &Opts {
            env: crate::support::printer::loopback_printers(),
            ..Opts::default()
        },
    );
    let till = app.register("Till 1").await;
    let m = &till.manager;
    let put = |id: &str, body: Value| {
        app.req(reqwest::Method::PUT, &format!("/api/v1/printers/{id}"))
            .bearer(m)
            .json(&body)
            .send()
    };
    let front = json!({
        "hw_proxy_url": hw.grpc_url(),
        "address": format!("tcp://127.0.0.1:{}", p.port),
        "width": 42,
        "role": "receipt",
        "logo_png_base64": b64(&square_png(60)),
    });
    // Bad settings: refused by name, nothing stored, hw-proxy untouched.
    for (change, status, says) in [
        (json!({"address": "10.0.0.9"}), 422, "tcp://"),
        (json!({"width": 4}), 422, "width"),
        (json!({"code_pages": ["CP1252"]}), 422, "code page"),
        (json!({"role": "label"}), 422, "role"),
        (
            json!({"hw_proxy_url": "hw-proxy:7072"}),
            422,
            "hw_proxy_url",
        ),
        (json!({"device_id": "no-such-register"}), 422, "register"),
        (json!({"logo_png_base64": "not base64!"}), 400, "base64"),
        (
            json!({"logo_png_base64": b64(b"GIF89a not a png")}),
            422,
            "PNG",
        ),
        (
            json!({"logo_png_base64": b64(&vec![0; 300 * 1024])}),
            413,
            "larger",
        ),
        (json!({"colour": "red"}), 400, "unknown field"),
        // Where a printer may be (issue 30): an IP in the printer networks,
        // never a name, a device file, and its hw-proxy one the token may
        // go to.
        (json!({"address": "tcp://8.8.8.8:9100"}), 422, "outside"),
        (json!({"address": "tcp://localhost:9100"}), 422, "is a name"),
        (json!({"address": "tcp://127.0.0.1:80"}), 422, "port 80"),
        (
            json!({"address": "file:///etc/passwd"}),
            422,
            "not a printer device",
        ),
        (
            json!({"hw_proxy_url": "http://10.0.0.66:7072"}),
            422,
            "print token",
        ),
    ] {
        let mut body = front.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = put("front", body).await;
        r.assert_problem(status);
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{change}: {}",
            r.body
        );
    }
    let r = put("bad id", front.clone()).await;
    r.assert_problem(422);
    let r = app
        .req(reqwest::Method::PUT, "/api/v1/printers/front")
        .bearer(&till.cashier)
        .json(&front)
        .send()
        .await;
    r.assert_problem(403);
    let listed = app.get("/api/v1/printers", m).await;
    assert_eq!(listed.body["printers"], json!([]), "{}", listed.body);
    assert_eq!(hw.get("/api/v1/printers").await["printers"], json!([]));

    // A sale while no printer takes receipts prints nothing, then or once
    // one is added (the feed passes over it within a second).
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let unprinted = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(unprinted.status, 201, "{}", unprinted.body);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Saved: hw-proxy takes it at once.
    let r = put("front", front.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pushed"][hw.grpc_url()]["ok"], true, "{}", r.body);
    let on_hw = hw.front().await;
    assert_eq!(
        (on_hw["id"].as_str(), on_hw["managed"].as_bool()),
        (Some("front"), Some(true))
    );
    assert_eq!(on_hw["width"], 42);
    let listed = app.get("/api/v1/printers", m).await;
    assert_eq!(
        listed.body["printers"][0]["applied"], true,
        "{}",
        listed.body
    );
    assert_eq!(listed.body["printers"][0]["has_logo"], true);

    let sale = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    wait_until("the receipt", || async { !p.jobs().await.is_empty() }).await;
    let text = p.jobs().await[0]["text"].as_str().unwrap().to_owned();
    // 60 dots of logo centred on a 504-dot (42 × 12) line, first of all.
    assert!(text.starts_with("[image 504x60]"), "{text}");
    assert!(
        text.contains(sale.body["number"].as_str().unwrap()),
        "{text}"
    );

    // The register: its printer, the receipt's job, a reprint, a picture.
    let q = app.get("/api/v1/printing/jobs", &till.cashier).await;
    assert_eq!(q.status, 200, "{}", q.body);
    assert_eq!(q.body["printer"], "front");
    assert_eq!(q.body["state"]["ready"], true, "{}", q.body);
    let job = q.body["jobs"][0].clone();
    assert_eq!(
        (job["kind"].as_str(), job["state"].as_str()),
        (Some("receipt"), Some("printed"))
    );
    let again = app
        .post(
            &format!(
                "/api/v1/printing/jobs/{}/reprint",
                job["id"].as_str().unwrap()
            ),
            &till.cashier,
            json!({"id": id()}),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    wait_until("the reprint", || async { p.jobs().await.len() == 2 }).await;
    let r = app
        .post(
            "/api/v1/printing/jobs/nope/cancel",
            &till.cashier,
            json!({}),
        )
        .await;
    r.assert_problem(404);
    let png = app
        .http
        .get(format!(
            "{}/api/v1/orders/{}/receipt.png",
            app.base,
            sale.body["id"].as_str().unwrap()
        ))
        .bearer_auth(&till.cashier)
        .header("X-Device-Token", &till.device)
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), 200);
    let png = png.bytes().await.unwrap();
    let d = png::Decoder::new(std::io::Cursor::new(png.to_vec()))
        .read_info()
        .unwrap();
    assert_eq!(d.info().width, 504, "the printer's width in dots");

    // hw-proxy restarted: it still drives the edge's printer.
    hw.kill();
    hw.restart().await;
    assert_eq!(hw.front().await["managed"], true);
    p.mode("paper_out").await;
    let held = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(held.status, 201);
    wait_until("a job waiting for paper", || async {
        hw.front().await["jobs"]["queued"] == 1
    })
    .await;
    let r = app
        .req(reqwest::Method::DELETE, "/api/v1/printers/front")
        .bearer(m)
        .send()
        .await;
    r.assert_problem(409);
    assert!(
        r.body["detail"].as_str().unwrap().contains("waiting"),
        "{}",
        r.body
    );
    p.mode("ready").await;
    wait_until("the waiting receipt", || async {
        p.jobs().await.len() == 3
    })
    .await;
    // Removed while its hw-proxy is down: taken off it once it is back.
    hw.kill();
    let r = app
        .req(reqwest::Method::DELETE, "/api/v1/printers/front")
        .bearer(m)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pushed"][hw.grpc_url()]["ok"], false, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/printers", m).await.body["printers"],
        json!([])
    );
    hw.restart().await;
    wait_until("hw-proxy to let go of the removed printer", || async {
        hw.get("/api/v1/printers").await["printers"] == json!([])
    })
    .await;
    let audit = app.get("/api/v1/audit", m).await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"printer.added") && actions.contains(&"printer.removed"),
        "{actions:?}"
    );
}
both_backends!(printers_configured_on_the_manager_page_print_with_their_logo);

/// In headless Chromium: a manager adds a printer on the manager page; a
/// sale at the register shows the receipt as that printer prints it, and
/// the register's printer panel lists the printed job and reprints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_added_on_the_manager_page_shows_on_the_register_in_a_browser() {
    use crate::support::browser::{
        browser, click, open_shift_as_cashier, text, type_into, visible,
    };
    use fantoccini::key::Key;
    let p = Printer::start().await;
    let hw = Hw::bare().await;
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: crate::support::printer::loopback_printers(),
            ..Opts::default()
        },
    );
    let (milk, _, price) = {
        let m = app.manager().await;
        app.barcode(&m, "milk").await
    };
    let (c, _driver) = browser().await;
    c.goto(&format!("{}/admin", app.base)).await.unwrap();
    type_into(&c, "#login-pin", &app.pins["Maria Manager"]).await;
    click(&c, "#login-go").await;
    visible(&c, "#tabs button[data-tab=Printers]").await;
    click(&c, "#tabs button[data-tab=Printers]").await;
    visible(&c, "#printer-address").await;
    type_into(&c, "#printer-id", "front").await;
    type_into(&c, "#printer-hw_proxy_url", &hw.grpc_url()).await;
    type_into(
        &c,
        "#printer-address",
        &format!("tcp://127.0.0.1:{}", p.port),
    )
    .await;
    let width = visible(&c, "#printer-width").await;
    width.clear().await.unwrap();
    width.send_keys("42").await.unwrap();
    click(&c, "#main form button[type=submit]").await;
    wait_until("the printer ready on the manager page", || async {
        // The tab shows the printers as they were when it opened.
        tokio::time::sleep(Duration::from_millis(200)).await;
        click(&c, "#tabs button[data-tab=Printers]").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.find(fantoccini::Locator::Css("#printer-front"))
            .await
            .is_ok()
            && text(&c, "#printer-front").await.contains("ready")
    })
    .await;

    c.goto(&app.base).await.unwrap();
    open_shift_as_cashier(&c, &app).await;
    visible(&c, "#scan")
        .await
        .send_keys(&format!("{milk}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    click(&c, "#pay-cash").await;
    let cash = crate::support::app::euros(price);
    visible(&c, "#pay-tendered")
        .await
        .send_keys(&cash)
        .await
        .unwrap();
    click(&c, "#pay-confirm").await;
    visible(&c, "#receipt-picture").await;
    let width = c
        .execute(
            "return document.querySelector('#receipt-picture').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        width,
        json!(504),
        "the picture is the printer's 42 columns of 12 dots"
    );
    wait_until("the receipt on paper", || async {
        p.jobs().await.len() == 1
    })
    .await;
    click(&c, "#receipt-done").await;
    visible(&c, "#print-jobs li.job-printed button").await;
    assert!(text(&c, "#printer-state").await.contains("ready"));
    click(&c, "#print-jobs li.job-printed button").await;
    wait_until("the reprint on paper", || async {
        p.jobs().await.len() == 2
    })
    .await;
    c.close().await.unwrap();
}
