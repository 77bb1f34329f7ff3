//! The store ⇄ cloud link in the shapes a store's internet takes: a cloud
//! address that accepts and never answers, a link that goes silent mid-session,
//! one that flaps, an idle one, a broker that stops mid-confirm. Each time sync
//! resumes by itself within seconds of the link's return, and nothing is lost
//! or doubled. Timers are shortened by settings; the ten-minute idle soak and
//! the long blackhole run are `cargo xtask bench sync`'s.

use crate::support::app::{App, Backend, Opts, Store, Till, spawn_opts, within};
use crate::support::cloud::{Cloud, Link, Proxy, Rabbit};
use crate::support::cloud::{converged, health, sell_n};
use std::time::{Duration, Instant};

/// Link timers short enough for a test: a silent link is noticed within
/// about a second, a returning one used within a few hundred ms.
fn fast() -> Vec<(&'static str, String)> {
    [
        ("OUTPOST__SYNC__CONNECT_TIMEOUT_MS", "1000"),
        ("OUTPOST__SYNC__CALL_TIMEOUT_MS", "1000"),
        ("OUTPOST__SYNC__HEARTBEAT_MS", "250"),
        ("OUTPOST__SYNC__PROBE_INTERVAL_MS", "200"),
        ("OUTPOST__SYNC__OFFLINE_AFTER_MS", "1500"),
        ("OUTPOST__SYNC__BACKOFF_MAX_MS", "3000"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// An edge pushing to `cloud` through `proxy`, with the fast timers.
fn edge_via(store: &Store, cloud: &Cloud, credential: &str, proxy: &Proxy) -> App {
    let mut env = cloud.edge_env_via(credential, proxy);
    env.extend(fast());
    spawn_opts(
        store,
        &Opts {
            env,
            ..Opts::default()
        },
    )
}

async fn online(app: &App) -> bool {
    health(app).await["components"]["sync"]["online"] == true
}

/// Every sale the edge made is in the cloud once, with the same totals.
async fn exactly_once(app: &App, till: &Till, cloud: &Cloud, store_id: &str, totals: &[i64]) {
    let events = converged(app, &till.manager, cloud, store_id, 10).await;
    let of = |what: &str| format!("SELECT {what} AS n FROM orders WHERE store_id = '{store_id}'");
    assert_eq!(cloud.count(&of("count(*)")), totals.len() as i64);
    assert_eq!(
        cloud.count(&of("count(DISTINCT number)")),
        totals.len() as i64
    );
    assert_eq!(
        cloud.count(&of("COALESCE(sum(total_minor), 0)::bigint")),
        totals.iter().sum::<i64>()
    );
    assert_eq!(
        cloud.count(&format!(
            "SELECT count(*) AS n FROM inbox WHERE store_id = '{store_id}'"
        )),
        events
    );
    assert_eq!(cloud.count("SELECT count(*) AS n FROM rejected_events"), 0);
}

fn new_store(cloud: &Cloud, code: &str) -> (String, String) {
    let id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&id, code);
    (id, credential)
}

/// A cloud, and one store's edge reaching it through a proxy whose link
/// starts as `link`, with a register ready to sell. (Bind every field when
/// taking it apart: a field left to `..` is dropped at once — RabbitMQ with
/// it.)
struct Scene {
    _rabbit: Rabbit,
    cloud: Cloud,
    store_id: String,
    proxy: Proxy,
    app: App,
    till: Till,
    _store: Store,
}

async fn scene(link: Link) -> Scene {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let (store_id, credential) = new_store(&cloud, "S01");
    let proxy = Proxy::start_as(cloud.sync_port, link).await;
    let store = Store::new(Backend::Sqlite);
    let app = edge_via(&store, &cloud, &credential, &proxy);
    let till = app.register("Till 1").await;
    Scene {
        _rabbit: rabbit,
        cloud,
        store_id,
        proxy,
        app,
        till,
        _store: store,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cloud_address_that_accepts_and_never_answers_is_retried_and_the_edge_says_why() {
    let Scene {
        cloud,
        store_id,
        proxy,
        app,
        till,
        _rabbit,
        _store,
    } = scene(Link::Blackhole).await;
    let totals = sell_n(&app, &till, 3).await;

    // It keeps trying, records each attempt before its handshake, and says
    // why it fails: the recorded attempt moves on, session after session.
    let mut attempts = std::collections::BTreeSet::new();
    let t0 = std::time::Instant::now();
    while attempts.len() < 3 {
        let h = health(&app).await;
        if let Some(ago) = h["components"]["sync"]["last_attempt_ms_ago"].as_i64() {
            // To the second: the same attempt read twice is one entry.
            attempts.insert((outpost_storage::db::now_millis() - ago) / 1000);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "attempts at {attempts:?} s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(proxy.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    let h = health(&app).await;
    let sync = &h["components"]["sync"];
    assert_eq!(sync["online"], false, "{h}");
    assert!(
        sync["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("timed out"),
        "{h}"
    );
    assert!(sync["last_attempt_ms_ago"].as_i64().unwrap() < 5000, "{h}");

    // The address starts answering: sync resumes by itself, promptly.
    proxy.restore();
    let took = within(Duration::from_secs(10), "online again", || online(&app)).await;
    eprintln!("online {took:?} after the link returned");
    exactly_once(&app, &till, &cloud, &store_id, &totals).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_that_goes_silent_mid_session_is_noticed_and_heals_by_itself() {
    let Scene {
        cloud,
        store_id,
        proxy,
        app,
        till,
        _rabbit,
        _store,
    } = scene(Link::Up).await;
    let mut totals = sell_n(&app, &till, 10).await;
    converged(&app, &till.manager, &cloud, &store_id, 30).await;
    within(Duration::from_secs(10), "online", || online(&app)).await;

    // Traffic vanishes, connections stay open: three times the call timeout.
    proxy.blackhole();
    let silent = Instant::now();
    totals.extend(sell_n(&app, &till, 10).await);
    let noticed = within(Duration::from_secs(5), "offline", || async {
        !online(&app).await
    })
    .await;
    eprintln!("offline {noticed:?} after the link went silent");
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(silent.elapsed())).await;

    proxy.restore();
    let took = within(Duration::from_secs(5), "online again", || online(&app)).await;
    eprintln!("online {took:?} after the link returned");
    exactly_once(&app, &till, &cloud, &store_id, &totals).await;
}

/// Ten cycles of 5 s down and 15 s up, cut cleanly and blackholed in turn,
/// selling all along: after each return the backlog is in within 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flapping_link_delivers_everything_once_within_seconds_of_each_return() {
    let Scene {
        cloud,
        store_id,
        proxy,
        app,
        till,
        _rabbit,
        _store,
    } = scene(Link::Up).await;
    let mut totals = Vec::new();
    let mut slowest = Duration::ZERO;
    for cycle in 0..10 {
        let down = Instant::now();
        proxy.set(if cycle % 2 == 0 {
            Link::Cut
        } else {
            Link::Blackhole
        });
        while down.elapsed() < Duration::from_secs(5) {
            totals.extend(sell_n(&app, &till, 1).await);
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        proxy.restore();
        let up = Instant::now();
        converged(&app, &till.manager, &cloud, &store_id, 10).await;
        let took = up.elapsed();
        assert!(took < Duration::from_secs(10), "cycle {cycle}: {took:?}");
        slowest = slowest.max(took);
        while up.elapsed() < Duration::from_secs(15) {
            totals.extend(sell_n(&app, &till, 1).await);
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
    }
    eprintln!("slowest catch-up after a return: {slowest:?}");
    exactly_once(&app, &till, &cloud, &store_id, &totals).await;
}

/// A store that sells nothing stays online at both ends, and its heartbeat
/// tells the cloud its backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_store_stays_online_on_both_sides() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start_with(&rabbit, &[("OUTPOST__SYNC__OFFLINE_AFTER_MS", "1500")]);
    let (store_id, credential) = new_store(&cloud, "S01");
    let proxy = Proxy::start(cloud.sync_port).await;
    let store = Store::new(Backend::Sqlite);
    let app = edge_via(&store, &cloud, &credential, &proxy);
    within(Duration::from_secs(10), "online", || online(&app)).await;
    let since = format!(
        "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint - COALESCE(last_contact_at, 0) AS n \
         FROM stores WHERE id = '{store_id}'"
    );
    // Twenty heartbeat intervals (250 ms each), checked at every one.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let h = health(&app).await;
        assert_eq!(h["components"]["sync"]["online"], true, "{h}");
        assert_eq!(h["components"]["sync"]["status"], "ok", "{h}");
        let quiet = cloud.count(&since);
        assert!(
            quiet < 1000,
            "the cloud last heard of the store {quiet} ms ago"
        );
    }
    let (_, page) = cloud.admin_get("/", true).await;
    assert!(page.contains("online"), "{page}");
    assert_eq!(
        cloud.count(&format!(
            "SELECT pending_events AS n FROM stores WHERE id = '{store_id}'"
        )),
        0
    );
}

/// The broker stops answering while a push waits for its confirm: the push
/// fails within the confirm deadline (the store retries it), heartbeats still
/// carry the store's growing backlog to the cloud, and everything arrives
/// once the broker is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_stopped_mid_confirm_fails_pushes_in_bounded_time_and_they_succeed_after() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start_with(
        &rabbit,
        &[
            ("OUTPOST__CLOUD__AMQP_CONFIRM_TIMEOUT_MS", "1000"),
            ("OUTPOST__CLOUD__AMQP_CONNECT_TIMEOUT_MS", "1000"),
            ("OUTPOST__CLOUD__AMQP_HEARTBEAT_S", "2"),
        ],
    );
    let (store_id, credential) = new_store(&cloud, "S01");
    let proxy = Proxy::start(cloud.sync_port).await;
    let store = Store::new(Backend::Sqlite);
    let mut env = cloud.edge_env_via(&credential, &proxy);
    env.extend(fast());
    // A long call deadline: a push that hung on the broker would show.
    env.push(("OUTPOST__SYNC__CALL_TIMEOUT_MS", "60000".into()));
    let app = spawn_opts(
        &store,
        &Opts {
            env,
            ..Opts::default()
        },
    );
    let till = app.register("Till 1").await;
    let mut totals = sell_n(&app, &till, 2).await;
    converged(&app, &till.manager, &cloud, &store_id, 30).await;

    rabbit.freeze(true);
    totals.extend(sell_n(&app, &till, 3).await);
    let refused = within(Duration::from_secs(10), "the push refused", || async {
        let h = health(&app).await;
        h["components"]["sync"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("queue"))
    })
    .await;
    eprintln!("the push was refused {refused:?} after the broker stopped");
    within(Duration::from_secs(10), "the backlog reported", || async {
        cloud.count(&format!(
            "SELECT COALESCE(pending_events, 0) AS n FROM stores WHERE id = '{store_id}'"
        )) > 0
    })
    .await;

    rabbit.freeze(false);
    let events = converged(&app, &till.manager, &cloud, &store_id, 30).await;
    assert!(events > 0);
    exactly_once(&app, &till, &cloud, &store_id, &totals).await;
}
