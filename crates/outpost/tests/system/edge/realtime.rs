//! The realtime path end to end with real processes: sales through the api
//! reach kitchen screens over the hub, and no event is lost or doubled (checked
//! by offsets) across reconnects, a hub SIGKILL, a Redis restart that loses
//! everything, a Redis outage, and a burst with one stalled screen.

use crate::both_backends;
use crate::support::app::{App, Backend, Opts, Store, cash_sale, key, spawn_opts, within};
use crate::support::hub::{Closed, HubProc, Redis, SECRET, Screen, api_on_redis, api_on_redis_at};
use outpost_realtime::ticket::{self, Claims};
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// One kitchen sale (an espresso); returns the order.
async fn kitchen_sale(app: &App, cashier: &str) -> serde_json::Value {
    let (code, _, price) = app.barcode(cashier, "Espresso").await;
    let r = app
        .sell(cashier, &key(), &cash_sale(&[(&code, 1000)], price))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The embedded edge (the hub in-process on the in-memory log), signing
/// tickets with the secret the tests know.
fn edge_with_secret(store: &Store) -> App {
    spawn_opts(
        store,
        &Opts {
            env: vec![("OUTPOST__REALTIME__SECRET", SECRET.into())],
            ..Opts::default()
        },
    )
}

/// The embedded edge: the hub runs in-process on the in-memory log.
async fn a_sale_reaches_the_kitchen_screen_and_a_bump_reaches_the_others(backend: Backend) {
    let store = Store::new(backend);
    let app = edge_with_secret(&store);
    let hub = app.hub_port.expect("the embedded edge runs the hub");
    let till = app.register("Till 1").await;
    let kds1 = app.display(&till.manager, "Kitchen pass").await;
    let kds2 = app.display(&till.manager, "Kitchen grill").await;

    let mut a = Screen::connect(hub, &app.ticket(&kds1).await)
        .await
        .unwrap();
    let mut b = Screen::connect(hub, &app.ticket(&kds2).await)
        .await
        .unwrap();
    let sa = a.subscribe("kitchen").await;
    b.subscribe("kitchen").await;
    assert_eq!(
        sa["recovered"], false,
        "a first connection has nothing to recover"
    );

    let order = kitchen_sale(&app, &till.cashier).await;
    let at = a.at["kitchen"].1;
    a.until("kitchen", at + 1, WAIT).await;
    let ev = a.events.last().unwrap().clone();
    assert_eq!(ev["event_type"], "ticket.created");
    assert_eq!(ev["data"]["order_id"], order["id"]);
    assert_eq!(ev["data"]["status"], "pending");

    // The first display bumps the ticket; the second one sees it.
    let ticket_id = ev["aggregate_id"].as_str().unwrap();
    let r = app.bump(&kds1, ticket_id, "ready").await;
    assert_eq!(r.status, 200, "{}", r.body);
    b.until("kitchen", at + 2, WAIT).await;
    let bumped = b.events.last().unwrap();
    assert_eq!(bumped["event_type"], "ticket.status_changed");
    assert_eq!(bumped["data"]["status"], "ready");
    assert_eq!(bumped["data"]["id"], ticket_id);

    // A register's token cannot bump kitchen tickets on its own.
    let r = app.bump(&till.device, ticket_id, "served").await;
    r.assert_problem(401);

    // Presence: the back office sees both displays online.
    let mut office = app.presence_watcher(hub, &till.manager).await;
    let p = office.next(WAIT).await.unwrap();
    assert_eq!(p["type"], "presence", "{p}");
    let names: Vec<&str> = p["online"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "display")
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{p}");
    assert!(names.contains(&"Kitchen pass") && names.contains(&"Kitchen grill"));
    drop(b);
    let p = office.next(WAIT).await.unwrap();
    assert_eq!(
        p["online"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "display")
            .count(),
        1,
        "{p}"
    );
    let m = reqwest::get(format!("http://127.0.0.1:{hub}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("outpost_hub_devices_online{kind=\"display\"} 1"),
        "{m}"
    );
}
both_backends!(a_sale_reaches_the_kitchen_screen_and_a_bump_reaches_the_others);

/// A voided order must stop the kitchen: its ticket is cancelled on every
/// screen and can no longer be bumped.
async fn voiding_an_open_order_cancels_its_kitchen_ticket_on_the_screens(backend: Backend) {
    let store = Store::new(backend);
    let app = edge_with_secret(&store);
    let hub = app.hub_port.unwrap();
    let till = app.register("Till 1").await;
    let kds = app.display(&till.manager, "Kitchen").await;
    let mut screen = Screen::connect(hub, &app.ticket(&kds).await).await.unwrap();
    screen.subscribe("kitchen").await;
    let at = screen.at["kitchen"].1;

    let (code, _, _) = app.barcode(&till.cashier, "Club sandwich").await;
    let open = app
        .sell(
            &till.cashier,
            &key(),
            &json!({"lines": [{"barcode": code, "quantity_milli": 1000}]}),
        )
        .await;
    assert_eq!(open.body["status"], "open", "{}", open.body);
    screen.until("kitchen", at + 1, WAIT).await;
    let ticket_id = screen.events.last().unwrap()["aggregate_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let sam = app.staff_id("Sam Supervisor", Some(&till.device)).await;
    let v = app
        .post(
            &format!("/api/v1/orders/{}/void", open.body["id"].as_str().unwrap()),
            &till.cashier,
            json!({"reason": "customer left", "approval": {"staff_id": sam, "pin": app.pins["Sam Supervisor"]}}),
        )
        .await;
    assert_eq!(v.body["status"], "voided", "{}", v.body);
    screen.until("kitchen", at + 2, WAIT).await;
    let c = screen.events.last().unwrap();
    assert_eq!(c["event_type"], "ticket.cancelled");
    assert_eq!(c["data"]["status"], "cancelled");
    assert_eq!(c["aggregate_id"], ticket_id.as_str());

    let r = app.bump(&kds, &ticket_id, "ready").await;
    r.assert_problem(409);
    // Screens that reload still see it (for a while), as cancelled.
    let list = app
        .req(reqwest::Method::GET, "/api/v1/kitchen/tickets")
        .header("X-Device-Token", &kds)
        .send()
        .await;
    let t = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == ticket_id.as_str())
        .cloned();
    assert_eq!(t.expect("still listed")["status"], "cancelled");
}
both_backends!(voiding_an_open_order_cancels_its_kitchen_ticket_on_the_screens);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_forged_expired_or_used_ticket_is_refused_and_an_unrefreshed_one_is_cut() {
    let store = Store::new(Backend::Sqlite);
    let app = edge_with_secret(&store);
    let hub = app.hub_port.unwrap();
    let m = app.manager().await;
    let kds = app.display(&m, "Kitchen").await;
    let good = app.ticket(&kds).await;
    let claims = ticket::verify(SECRET.as_bytes(), &good, now_ms()).unwrap();

    assert_eq!(Screen::connect(hub, "").await.err(), Some(401));
    let refused = reqwest::get(format!("http://127.0.0.1:{hub}/ws"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["content-type"],
        outpost_telemetry::problem::CONTENT_TYPE
    );
    crate::support::app::assert_one_problem_base(&refused.json().await.unwrap());
    assert_eq!(Screen::connect(hub, "not-a-ticket").await.err(), Some(401));
    let forged = ticket::sign(b"another-secret-entirely", &claims);
    assert_eq!(Screen::connect(hub, &forged).await.err(), Some(401));
    let with_exp = |exp| {
        ticket::sign(
            SECRET.as_bytes(),
            &Claims {
                exp,
                nonce: outpost_domain::secrets::new_secret(),
                ..claims.clone()
            },
        )
    };
    // Each ticket opens one connection: a second use, at the door or as a
    // refresh, is refused.
    let once = with_exp(now_ms() + 60_000);
    let mut first = Screen::connect(hub, &once).await.unwrap();
    assert_eq!(Screen::connect(hub, &once).await.err(), Some(401));
    first.send(json!({"type": "auth", "ticket": once})).await;
    assert_eq!(first.closed(WAIT).await, Closed::Code(4001));
    assert_eq!(
        Screen::connect(hub, &with_exp(now_ms() - 1)).await.err(),
        Some(401)
    );
    // An unknown device gets no ticket at all.
    let r = app
        .req(reqwest::Method::POST, "/api/v1/realtime/tickets")
        .header("X-Device-Token", "no-such-device")
        .send()
        .await;
    r.assert_problem(401);

    // Three screens whose tickets run out in 1.5 s: one refreshes in time, one
    // does not, one tries to refresh with another device's ticket.
    let exp = now_ms() + 1_500;
    let mut kept = Screen::connect(hub, &with_exp(exp)).await.unwrap();
    let mut lapsed = Screen::connect(hub, &with_exp(exp)).await.unwrap();
    let mut swapped = Screen::connect(hub, &with_exp(exp)).await.unwrap();
    kept.send(json!({"type": "auth", "ticket": good})).await;
    let a = kept.next(WAIT).await.unwrap();
    assert_eq!(a["type"], "authenticated", "{a}");
    let other = app.ticket(&app.display(&m, "Bar").await).await;
    swapped.send(json!({"type": "auth", "ticket": other})).await;
    assert_eq!(swapped.closed(WAIT).await, Closed::Code(4001));
    assert_eq!(lapsed.closed(WAIT).await, Closed::Code(4001));
    kept.subscribe("kitchen").await;
    let before = kept.at["kitchen"].1;
    let till = app.register("Till").await;
    kitchen_sale(&app, &till.cashier).await;
    kept.until("kitchen", before + 1, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_screen_that_stops_answering_pings_is_dropped_from_presence() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![
                ("OUTPOST__REALTIME__SECRET", SECRET.into()),
                ("OUTPOST__HUB__PING_INTERVAL_MS", "200".into()),
                ("OUTPOST__HUB__DEAD_AFTER_MS", "1000".into()),
            ],
            ..Opts::default()
        },
    );
    let hub = app.hub_port.unwrap();
    let m = app.manager().await;
    let kds = app.display(&m, "Kitchen").await;
    // Connected, but never reads: it cannot answer pings.
    let _silent = Screen::connect(hub, &app.ticket(&kds).await).await.unwrap();
    let mut office = app.presence_watcher(hub, &m).await;
    let t0 = Instant::now();
    let mut saw_it = false;
    loop {
        let p = office.next(WAIT).await.expect("presence updates");
        let displays = p["online"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "display")
            .count();
        saw_it |= displays == 1;
        if saw_it && displays == 0 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "never dropped: {p}");
    }
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t0.elapsed()
    );
}

/// Redis-backed: `outpost api` and `outpost hub` as separate processes.
struct Split {
    redis: Redis,
    app: App,
    _store: Store,
}

fn split(hub_env: &[(&str, &str)]) -> (Split, HubProc) {
    let redis = Redis::start();
    let store = Store::new(Backend::Sqlite);
    let app = api_on_redis(&store, &redis, 3001);
    let hub = HubProc::start(&redis, hub_env);
    (
        Split {
            redis,
            app,
            _store: store,
        },
        hub,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_redis_no_event_is_lost_or_doubled_across_reconnects_a_hub_kill_and_a_redis_restart()
 {
    let (mut s, hub) = split(&[]);
    let app = &s.app;
    let till = app.register("Till 1").await;
    let kds = app.display(&till.manager, "Kitchen").await;
    let mut screen = Screen::connect(hub.port, &app.ticket(&kds).await)
        .await
        .unwrap();
    screen.subscribe("kitchen").await;
    let base = screen.at["kitchen"].1;

    // A sale appears.
    kitchen_sale(app, &till.cashier).await;
    screen.until("kitchen", base + 1, WAIT).await;

    // The screen drops off; three sales; it comes back and gets exactly those.
    let saved = screen.hang_up();
    for _ in 0..3 {
        kitchen_sale(app, &till.cashier).await;
    }
    let mut screen = saved.reconnect(hub.port, &app.ticket(&kds).await).await;
    let sub = screen.subscribe("kitchen").await;
    assert_eq!(sub["recovered"], true, "{sub}");
    screen.until("kitchen", base + 4, WAIT).await;

    // The hub is killed; sales go on; a new hub serves the missed events.
    hub.kill();
    for _ in 0..3 {
        kitchen_sale(app, &till.cashier).await;
    }
    let hub = HubProc::start(&s.redis, &[]);
    let mut screen = screen.reconnect(hub.port, &app.ticket(&kds).await).await;
    assert_eq!(screen.subscribe("kitchen").await["recovered"], true);
    screen.until("kitchen", base + 7, WAIT).await;

    // Redis dies and comes back empty. A sale while it is down still succeeds,
    // /health says degraded (not unhealthy), and the event reaches the screen.
    s.redis.kill();
    let r = app
        .sell(&till.cashier, &key(), &{
            let (code, _, price) = app.barcode(&till.cashier, "Espresso").await;
            cash_sale(&[(&code, 1000)], price)
        })
        .await;
    assert_eq!(r.status, 201, "a sale must not need Redis: {}", r.body);
    let deadline = Instant::now() + WAIT;
    loop {
        let h = app.get("/health", "").await;
        assert_eq!(h.status, 200, "{}", h.body);
        if h.body["components"]["realtime"]["status"] == "degraded" {
            assert_eq!(h.body["status"], "degraded");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "health never noticed: {}",
            h.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.redis.up();
    screen
        .until("kitchen", base + 8, Duration::from_secs(30))
        .await;
    // The history was refilled from the outbox: a screen that knew nothing
    // since offset 0 recovers all of it.
    let mut fresh = Screen::connect(hub.port, &app.ticket(&kds).await)
        .await
        .unwrap();
    fresh
        .at
        .insert("kitchen".into(), (screen.at["kitchen"].0.clone(), 0));
    assert_eq!(fresh.subscribe("kitchen").await["recovered"], true);
    fresh.until("kitchen", base + 8, WAIT).await;
    let deadline = Instant::now() + WAIT;
    while app.get("/health", "").await.body["components"]["realtime"]["status"] != "ok" {
        assert!(Instant::now() < deadline, "realtime never healthy again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Redis goes silent (it accepts connections and answers nothing: a hung
/// server, a link that dropped its state): sales never wait on it, /health
/// says degraded within seconds, and once Redis answers again the log
/// catches up by itself, on fresh connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_that_goes_silent_never_holds_a_sale_and_the_log_catches_up_after() {
    use crate::support::cloud::Proxy;
    let redis = Redis::start();
    let proxy = Proxy::start(redis.port).await;
    let store = Store::new(Backend::Sqlite);
    let app = api_on_redis_at(&store, &format!("redis://127.0.0.1:{}", proxy.port), 3001);
    let till = app.register("Till 1").await;
    kitchen_sale(&app, &till.cashier).await;
    let realtime = |want: &'static str| {
        let app = &app;
        move || async move {
            let h = app.get("/health", "").await.body;
            h["components"]["realtime"]["status"] == want
                && (want != "ok" || h["components"]["realtime"]["lag_events"] == 0)
        }
    };
    within(WAIT, "realtime caught up", realtime("ok")).await;

    proxy.blackhole();
    for _ in 0..5 {
        let t0 = Instant::now();
        kitchen_sale(&app, &till.cashier).await;
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "a sale waited on Redis: {:?}",
            t0.elapsed()
        );
    }
    within(
        Duration::from_secs(10),
        "health degraded",
        realtime("degraded"),
    )
    .await;

    proxy.restore();
    let took = within(
        Duration::from_secs(20),
        "realtime caught up again",
        realtime("ok"),
    )
    .await;
    eprintln!("the realtime log caught up {took:?} after Redis answered again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_screen_is_cut_and_recovers_while_the_others_get_every_event_of_a_burst() {
    // A queue a quarter of the shipped one: the stalled screen (a 4 KiB
    // receive buffer, reading nothing) fills it long before the burst ends,
    // while the screens that read keep the headroom a busy machine needs
    // (with 64, a reader starved of CPU for a moment was cut too).
    let (s, hub) = split(&[("OUTPOST__HUB__QUEUE", "256")]);
    let app = &s.app;
    let till = app.register("Till 1").await;
    let kds = app.display(&till.manager, "Kitchen").await;
    let mut fast = Vec::new();
    for _ in 0..2 {
        let mut c = Screen::connect(hub.port, &app.ticket(&kds).await)
            .await
            .unwrap();
        c.subscribe("kitchen").await;
        fast.push(c);
    }
    let mut stalled = Screen::connect_with(hub.port, &app.ticket(&kds).await, Some(4096))
        .await
        .unwrap();
    stalled.subscribe("kitchen").await;
    let base = stalled.at["kitchen"].1;

    // 1,000 orders from 8 registers at once; `stalled` reads nothing meanwhile.
    const ORDERS: i64 = 1000;
    let (code, _, price) = app.barcode(&till.cashier, "Espresso").await;
    let body = cash_sale(&[(&code, 1000)], price);
    let mut tills = vec![till.cashier.clone()];
    for i in 2..=8 {
        tills.push(app.register(&format!("Till {i}")).await.cashier);
    }
    let sold = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut tasks = Vec::new();
    for cashier in tills {
        let (http, base_url, body, sold) = (
            app.http.clone(),
            app.base.clone(),
            body.clone(),
            sold.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while sold.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < ORDERS {
                let r = crate::support::app::signed(
                    http.post(format!("{base_url}/api/v1/orders")),
                    &cashier,
                )
                .header("Idempotency-Key", key())
                .json(&body)
                .send()
                .await
                .unwrap();
                assert_eq!(r.status(), 201);
            }
        }));
    }
    // The fast screens keep up while the burst runs.
    let readers: Vec<_> = fast
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                c.until("kitchen", base + ORDERS, Duration::from_secs(120))
                    .await;
                c
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for r in readers {
        let c = r.await.unwrap();
        assert_eq!(c.of_type("ticket.created").len() as i64, ORDERS);
    }
    // The stalled screen was cut for being slow; it reads what reached it,
    // reconnects with its offset and gets the rest, exactly once.
    assert_eq!(
        stalled.closed(Duration::from_secs(30)).await,
        Closed::Code(4008)
    );
    assert!(
        stalled.at["kitchen"].1 < base + ORDERS,
        "it was cut before the end"
    );
    let mut stalled = stalled.reconnect(hub.port, &app.ticket(&kds).await).await;
    assert_eq!(stalled.subscribe("kitchen").await["recovered"], true);
    stalled.until("kitchen", base + ORDERS, WAIT).await;
    let m = reqwest::get(format!("http://127.0.0.1:{}/metrics", hub.port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("outpost_hub_slow_disconnects_total 1"), "{m}");
}
