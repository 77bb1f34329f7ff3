//! Money on every screen: the pages (Intl.NumberFormat in Chromium) and the
//! server (receipts, reports, errors) write every amount alike in every
//! currency and locale, and read typed amounts alike; a day at the till in
//! JPY, EUR, KWD and IDR shows, prints and records the amounts the test
//! computes itself; a lost answer never makes a second sale or a false
//! "not charged".

use crate::support::app::{App, Backend, Opts, Store, key, spawn_opts, within};
use crate::support::browser::{browser, click, open_tab, text, type_into, visible};
use fantoccini::Locator;
use outpost_domain::currency::CURRENCIES;
use outpost_domain::locale::LOCALES;
use outpost_domain::{Currency, Money, NumberFormat};
use serde_json::{Value, json};
use std::time::Duration;

const AMOUNTS: [i64; 10] = [
    0,
    5,
    7,
    123,
    1234,
    12_345,
    123_456,
    1_234_567,
    98_765_432_109,
    -1250,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_and_the_server_write_and_read_every_amount_alike() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(&store, &Opts::default());
    let (c, driver) = browser().await;
    c.goto(&app.base).await.unwrap();
    visible(&c, "#pair-code").await;
    // Every currency in its usual locale, and every locale with an exponent
    // of 0, 2 and 3.
    let mut cases: Vec<(String, String, u8)> = CURRENCIES
        .iter()
        .map(|c| (c.code.to_owned(), c.locale.to_owned(), c.exponent))
        .collect();
    for l in LOCALES {
        for code in ["JPY", "EUR", "KWD"] {
            let e = Currency::parse(code).unwrap().exponent();
            cases.push((code.to_owned(), l.locale.to_owned(), e));
        }
    }
    let input: Vec<Value> = cases
        .iter()
        .map(|(code, locale, e)| {
            let nf = NumberFormat::get(locale).unwrap();
            let info = Currency::parse(code).unwrap().info();
            json!({"currency": code, "locale": locale, "exponent": e, "decimals": info.decimals(),
                   "shown_step": info.shown_step(), "decimal": nf.decimal.to_string(),
                   "group": nf.group.to_string(), "cash_rounding_minor": 1, "rounding_minor": info.rounding,
                   "notes": [100], "coins": [1]})
        })
        .collect();
    let got = c
        .execute(
            "const [cases, amounts] = arguments;
             return cases.map((m) => { Outpost.useMoney(m); return amounts.map((a) => {
               const written = Outpost.money(a);
               const plain = Outpost.plain(a);
               return [written, Outpost.parseMoney(written.slice(0, -4)), Outpost.parseMoney(plain)];
             }); });",
            vec![json!(input), json!(AMOUNTS)],
        )
        .await
        .unwrap();
    let mut checked = 0;
    for ((code, locale, _), row) in cases.iter().zip(got.as_array().unwrap()) {
        let currency = Currency::parse(code).unwrap();
        for (minor, r) in AMOUNTS.iter().zip(row.as_array().unwrap()) {
            let server = Money {
                minor: *minor,
                currency,
            }
            .in_locale(locale);
            assert_eq!(r[0], server, "{code} {locale} {minor}");
            // What a person types: whole shown units (whole rupiah, forint).
            if *minor >= 0 && minor % currency.info().shown_step() == 0 {
                let typed = server.trim_end_matches(code.as_str()).trim_end();
                assert_eq!(r[1], json!(minor), "the page reads {typed:?} ({locale})");
                assert_eq!(Money::parse_typed(typed, currency, locale), Some(*minor));
                assert_eq!(
                    r[2],
                    json!(minor),
                    "the page reads its own plain {minor} ({locale})"
                );
            }
            checked += 1;
        }
    }
    eprintln!("{checked} amounts written and read alike");
    c.close().await.unwrap();
    drop(driver);
}

/// How each store's locale writes an amount, written out by hand for the
/// four currencies of the day at the till (independent of the code).
fn written(minor: i64, currency: &str) -> String {
    let (e, dec, group, arab) = match currency {
        "JPY" => (0, '.', ',', false),
        "EUR" => (2, ',', '.', false),
        "KWD" => (3, '\u{66b}', '\u{66c}', true),
        "KWD-print" => (3, '.', ',', false),
        // Whole rupiah: two decimals stored, none shown.
        "IDR" if minor % 100 == 0 => {
            return written(minor / 100, "IDR-whole").replace("IDR-whole", "IDR");
        }
        "IDR" => (2, ',', '.', false),
        "IDR-whole" => (0, ',', '.', false),
        other => panic!("{other}"),
    };
    let scale = 10i64.pow(e);
    let whole = (minor.abs() / scale).to_string();
    let mut s = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            s.push(group);
        }
        s.push(ch);
    }
    if e > 0 {
        s.push(dec);
        s.push_str(&format!("{:0w$}", minor.abs() % scale, w = e as usize));
    }
    if arab {
        s = s
            .chars()
            .map(|ch| match ch.to_digit(10) {
                Some(d) => char::from_u32(0x660 + d).unwrap(),
                None => ch,
            })
            .collect();
    }
    format!("{}{s} {currency}", if minor < 0 { "-" } else { "" })
}

/// (what a manager types, what it is worth) per currency: two shelf prices,
/// the opening float.
fn typed(currency: &str) -> [(&'static str, i64); 3] {
    match currency {
        "JPY" => [("1,200", 1_200), ("350", 350), ("10,000", 10_000)],
        "EUR" => [("2,49", 249), ("12,50", 1_250), ("100,00", 10_000)],
        "KWD" => [("0.125", 125), ("12.750", 12_750), ("50.000", 50_000)],
        "IDR" => [
            ("16.900", 1_690_000),
            ("4.575.000", 457_500_000),
            ("500.000", 50_000_000),
        ],
        other => panic!("{other}"),
    }
}

async fn api_get(app: &App, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

/// A manager creates two products on the manager page, a cashier opens the
/// shift with a typed float, scans a sale and pays cash with a quick-cash
/// button, sells by card, refunds a line from Recent orders with the
/// supervisor's PIN, reads the X; the manager closes the Z with the counted
/// cash typed the store's way — every amount on the screen, on the printed
/// receipt and in the records as the test computes it.
async fn a_day_at_the_till(currency: &str) {
    let p = crate::support::printer::Printer::start().await;
    let hw = crate::support::printer::Hw::start(p.port, &[]).await;
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![
                ("OUTPOST__STORE__CURRENCY", currency.to_owned()),
                ("OUTPOST__PRINTING__HW_PROXY_URL", hw.grpc_url()),
            ],
            ..Opts::default()
        },
    );
    let [(a_text, a_price), (b_text, b_price), (float_text, float)] = typed(currency);
    let (c, driver) = browser().await;

    // The manager page: two products, prices typed the store's way.
    crate::support::browser::sign_in_to_manager_page(&c, &app).await;
    for (sku, name, price, code) in [
        ("T1", "Tea", a_text, "2000000000011"),
        ("T2", "Teapot", b_text, "2000000000028"),
    ] {
        open_tab(&c, "Products", "Products").await;
        for (field, value) in [
            ("sku", sku),
            ("name", name),
            ("price", price),
            ("barcode", code),
        ] {
            type_into(&c, &format!("form.inline input[name='{field}']"), value).await;
        }
        click(&c, "form.inline button[type='submit']").await;
        within(Duration::from_secs(10), "the product listed", || async {
            text(&c, "#main table").await.contains(name)
        })
        .await;
    }
    let manager = app.manager().await;
    for (name, want) in [("Tea", a_price), ("Teapot", b_price)] {
        let list = api_get(&app, &format!("/api/v1/products?q={name}"), &manager).await;
        let got = list
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap();
        assert_eq!(got["price_minor"], want, "{name} typed as {currency}");
    }
    assert!(
        text(&c, "#main")
            .await
            .contains(&written(a_price, currency))
    );

    // The register: pair, sign in, open the shift with a typed float.
    c.goto(&app.base).await.unwrap();
    crate::support::browser::sign_in_as_cashier(&c, &app).await;
    let f = visible(&c, "#shift-float").await;
    f.clear().await.unwrap();
    f.send_keys(float_text).await.unwrap();
    click(&c, "#shift-go").await;

    // A scanned sale: two teas and a teapot, tax included in the prices.
    let scan = visible(&c, "#scan").await;
    for code in ["2000000000011", "2000000000011", "2000000000028"] {
        scan.send_keys(&format!("{code}\n")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let due = 2 * a_price + b_price;
    within(Duration::from_secs(10), "the total shown", || async {
        text(&c, "#total").await == written(due, currency)
    })
    .await;

    // Cash, from a quick-cash button above the exact amount.
    click(&c, "#pay-cash").await;
    visible(&c, "#quick-cash button").await;
    let buttons = c
        .find_all(Locator::Css("#quick-cash button"))
        .await
        .unwrap();
    let mut labels = Vec::new();
    for b in &buttons {
        labels.push(b.text().await.unwrap());
    }
    assert_eq!(labels[0], written(due, currency), "the exact amount first");
    let (i, tendered) = labels
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, l)| (i, parse_written(l, currency)))
        .next()
        .expect("a note above the total");
    assert!(tendered > due);
    buttons[i].click().await.unwrap();
    let change = tendered - due;
    within(Duration::from_secs(5), "the change shown", || async {
        text(&c, "#pay-change").await == written(change, currency)
    })
    .await;
    click(&c, "#pay-confirm").await;
    within(Duration::from_secs(10), "the receipt dialog", || async {
        text(&c, "#receipt-change").await == written(change, currency)
    })
    .await;
    click(&c, "#receipt-done").await;

    // A card sale: one teapot (the receipt dialog may still be closing).
    type_into(&c, "#scan", "2000000000028\n").await;
    within(Duration::from_secs(10), "the second total", || async {
        text(&c, "#total").await == written(b_price, currency)
    })
    .await;
    click(&c, "#pay-card").await;
    click(&c, "#pay-confirm").await;
    visible(&c, "#receipt-done").await;
    click(&c, "#receipt-done").await;

    // The records.
    let orders = api_get(&app, "/api/v1/orders?limit=5", &manager).await;
    let orders = orders.as_array().unwrap();
    let cash = &orders
        .iter()
        .find(|o| o["total_minor"] == due)
        .expect("the cash sale");
    let cash = api_get(
        &app,
        &format!("/api/v1/orders/{}", cash["id"].as_str().unwrap()),
        &manager,
    )
    .await;
    assert_eq!(cash["payments"][0]["tendered_minor"], tendered);
    assert_eq!(cash["change_minor"], change);
    assert_eq!(cash["status"], "paid");

    // The printed receipt (the bytes the picture draws): total, cash, change.
    within(Duration::from_secs(20), "two receipts", || async {
        p.jobs().await.len() >= 2
    })
    .await;
    let jobs = p.jobs().await;
    let receipt = jobs
        .iter()
        .map(|j| j["text"].as_str().unwrap_or("").to_owned())
        .find(|t| t.contains(cash["number"].as_str().unwrap()))
        .expect("the cash sale's receipt");
    // Printers write Western digits (a code page has no Arabic-Indic ones).
    let bare = |m: i64| {
        let w = if currency == "KWD" {
            written(m, "KWD-print")
        } else {
            written(m, currency)
        };
        w.rsplit_once(' ').unwrap().0.to_owned()
    };
    for (what, m) in [("total", due), ("cash", tendered), ("change", change)] {
        assert!(
            receipt.contains(&bare(m)),
            "{what} {} on the receipt:\n{receipt}",
            bare(m)
        );
    }

    // A refund of one tea, in cash, with the supervisor's approval, from
    // Recent orders on the register.
    let line = cash["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Tea")
        .unwrap();
    let device = c
        .execute("return localStorage.getItem('outpost.device')", vec![])
        .await
        .unwrap();
    let sam = app.staff_id("Sam Supervisor", device.as_str()).await;
    let number = cash["number"].as_str().unwrap();
    for b in c.find_all(Locator::Css("#recent button")).await.unwrap() {
        if b.text().await.unwrap().contains(number) {
            b.click().await.unwrap();
            break;
        }
    }
    let qty = visible(
        &c,
        &format!(".ret-qty[data-line='{}']", line["id"].as_str().unwrap()),
    )
    .await;
    qty.clear().await.unwrap();
    qty.send_keys("1").await.unwrap();
    type_into(&c, "#return-reason", "damaged").await;
    c.find(Locator::Css("#return-approver"))
        .await
        .unwrap()
        .select_by_value(&sam)
        .await
        .unwrap();
    type_into(&c, "#return-pin", &app.pins["Sam Supervisor"]).await;
    click(&c, "#return-go").await;
    within(Duration::from_secs(10), "the refund confirmed", || async {
        text(&c, "#banner").await == format!("Refunded {} on {number}", written(a_price, currency))
    })
    .await;

    // X on the register, then Z on the manager page (the counted cash typed
    // the store's way): the figures the test expects.
    let sales = due + b_price;
    let expected_cash = float + due - a_price;
    let lines = |r: &str| {
        r.contains(&format!("Sales: {}", written(sales, currency)))
            && r.contains(&format!("Refunds: {}", written(a_price, currency)))
            && r.contains(&format!(
                "Expected cash in drawer: {}",
                written(expected_cash, currency)
            ))
    };
    click(&c, "#xreport").await;
    within(Duration::from_secs(10), "the X report", || async {
        lines(&text(&c, "#report-text").await)
    })
    .await;
    c.goto(&format!("{}/admin", app.base)).await.unwrap();
    open_tab(&c, "Shifts", "Shifts").await;
    click(&c, "#main table button:nth-of-type(2)").await;
    let counted = written(expected_cash, currency);
    let counted = counted.rsplit_once(' ').unwrap().0;
    c.send_alert_text(counted).await.unwrap();
    c.accept_alert().await.unwrap();
    within(Duration::from_secs(10), "the Z report", || async {
        let z = text(&c, "#report").await;
        z.starts_with("Z report")
            && lines(&z)
            && z.contains(&format!("difference {}", written(0, currency)))
    })
    .await;
    let z = api_get(&app, "/api/v1/shifts", &manager).await[0].clone();
    assert_eq!(z["counted_cash_minor"], expected_cash);
    assert_eq!(z["expected_cash_minor"], expected_cash);
    assert_eq!(z["opening_float_minor"], float);
    let z = api_get(
        &app,
        &format!("/api/v1/shifts/{}/report", z["id"].as_str().unwrap()),
        &manager,
    )
    .await;
    assert_eq!(
        (z["kind"].clone(), z["orders"].clone()),
        (json!("Z"), json!(2))
    );
    assert_eq!(z["sales_total_minor"], sales);
    assert_eq!(z["refunds_total_minor"], a_price);
    c.close().await.unwrap();
    drop(driver);
}

/// Reads an amount written by [`written`] back (the test's own reading).
fn parse_written(s: &str, currency: &str) -> i64 {
    // Rupiah are shown whole: two decimals stored, none written.
    let step = if currency == "IDR" { 100 } else { 1 };
    let digits: String = s
        .trim_end_matches(currency)
        .chars()
        .filter_map(|ch| match ch {
            '0'..='9' => Some(ch),
            '\u{660}'..='\u{669}' => char::from_digit(ch as u32 - 0x660, 10),
            _ => None,
        })
        .collect();
    digits.parse::<i64>().unwrap() * step
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_at_the_till_in_yen() {
    a_day_at_the_till("JPY").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_at_the_till_in_euros() {
    a_day_at_the_till("EUR").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_at_the_till_in_kuwaiti_dinars() {
    a_day_at_the_till("KWD").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_at_the_till_in_rupiah() {
    a_day_at_the_till("IDR").await;
}

/// A TCP proxy in front of the edge that drops exactly one answer: the
/// first to a sale (`POST /api/v1/orders`). It lets the request through,
/// waits until the edge starts answering (the sale is committed by then),
/// then cuts the browser's connection with only the first bytes of the
/// answer passed on. (Cut with none, Chromium takes it for a stale
/// keep-alive connection and sends the POST again by itself — harmless, the
/// key replays the sale, but then nothing was lost.)
struct DropsOneAnswer {
    port: u16,
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Requests that asked what became of a sale.
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl DropsOneAnswer {
    async fn start(upstream: u16) -> DropsOneAnswer {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = dropped.clone();
        let asking = asked.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let done = done.clone();
                let asking = asking.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let arm = armed.clone();
                    let done2 = done.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            let sale = buf[..n]
                                .windows(24)
                                .any(|w| w == b"POST /api/v1/orders HTTP");
                            if sale && !done2.load(Ordering::SeqCst) {
                                arm.store(true, Ordering::SeqCst);
                            }
                            if buf[..n]
                                .windows(26)
                                .any(|w| w == b"GET /api/v1/orders/by-key/")
                            {
                                asking.fetch_add(1, Ordering::SeqCst);
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if armed.load(Ordering::SeqCst) && !done.swap(true, Ordering::SeqCst) {
                            // The answer is lost: a few bytes of it (so the
                            // browser cannot take the loss for a stale
                            // connection and quietly send the sale again),
                            // then the connection goes.
                            let _ = cw.write_all(&buf[..n.min(5)]).await;
                            break;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        DropsOneAnswer {
            port,
            dropped,
            asked,
            task,
        }
    }
}

impl Drop for DropsOneAnswer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The answer to a cash sale is lost on the way back: the register never
/// says "nothing was charged", finds out the sale went through, shows it
/// paid with its receipt and in Recent orders — and there is one sale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_never_told_as_not_charged_and_never_sold_twice() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(&store, &Opts::default());
    let proxy = DropsOneAnswer::start(crate::support::app::port_of(&app.base)).await;
    // The same edge, as the browser reaches it through the proxy.
    let via = App {
        child: None,
        base: format!("http://127.0.0.1:{}", proxy.port),
        hub_port: app.hub_port,
        hub_tls_port: None,
        tls_base: None,
        pins: app.pins.clone(),
        http: app.http.clone(),
    };
    let (c, driver) = browser().await;
    c.goto(&via.base).await.unwrap();
    crate::support::browser::open_shift_as_cashier(&c, &via).await;
    let manager = app.manager().await;
    let (milk, _, price) = app.barcode(&manager, "milk").await;
    visible(&c, "#scan")
        .await
        .send_keys(&format!("{milk}\n"))
        .await
        .unwrap();
    within(Duration::from_secs(10), "the total", || async {
        text(&c, "#total").await == written(price, "EUR")
    })
    .await;
    click(&c, "#pay-cash").await;
    click(&c, "#pay-confirm").await;
    // Until the page knows, it says it cannot tell; it never says "not charged".
    let mut said: Vec<String> = Vec::new();
    let t0 = std::time::Instant::now();
    loop {
        for css in ["#pay-status", "#banner"] {
            let t = text(&c, css).await;
            if !t.is_empty() && !said.contains(&t) {
                said.push(t);
            }
        }
        let open = c
            .execute("return document.querySelector('#receipt').open", vec![])
            .await
            .unwrap();
        if open == json!(true) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "never shown as paid: {said:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("the register said: {said:?}");
    assert!(
        proxy.asked.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the register did not ask what became of the sale: {said:?}"
    );
    assert!(
        proxy.dropped.load(std::sync::atomic::Ordering::SeqCst),
        "no answer was dropped"
    );
    assert!(
        said.iter()
            .all(|t| !t.to_lowercase().contains("nothing was charged")),
        "{said:?}"
    );
    let orders = api_get(&app, "/api/v1/orders", &manager).await;
    let orders = orders.as_array().unwrap();
    assert_eq!(orders.len(), 1, "one sale: {orders:?}");
    let number = orders[0]["number"].as_str().unwrap();
    click(&c, "#receipt-done").await;
    within(
        Duration::from_secs(10),
        "the sale in Recent orders",
        || async { text(&c, "#recent").await.contains(number) },
    )
    .await;
    c.close().await.unwrap();
    drop(driver);
}

/// What became of a key, asked of the edge: nothing under a key never used
/// (not charged), the order under the key of a sale, refused for a key that
/// is not a UUID; another register never learns of this one's sale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_tells_what_became_of_a_sale_by_its_key() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(&store, &Opts::default());
    let till = app.register("Till 1").await;
    let other = app.register("Till 2").await;
    let ask = |token: &str, k: &str| {
        let (app, token, k) = (&app, token.to_owned(), k.to_owned());
        async move { app.get(&format!("/api/v1/orders/by-key/{k}"), &token).await }
    };
    let k = key();
    let r = ask(&till.cashier, &k).await;
    assert_eq!(
        (r.status, r.body["state"].clone()),
        (200, json!("unknown")),
        "{}",
        r.body
    );
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sale = app
        .sell(
            &till.cashier,
            &k,
            &crate::support::app::cash_sale(&[(&milk, 1000)], price),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    let r = ask(&till.cashier, &k).await;
    assert_eq!(r.body["state"], "committed", "{}", r.body);
    assert_eq!(r.body["order"]["id"], sale.body["id"]);
    assert_eq!(
        ask(&other.cashier, &k).await.body["state"],
        "unknown",
        "scoped to its register"
    );
    assert_eq!(ask(&till.cashier, "not-a-key").await.status, 400);
}
