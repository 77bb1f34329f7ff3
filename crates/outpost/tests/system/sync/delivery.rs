//! A store's events reaching the cloud with real processes (the edge
//! syncing in-process, the cloud api and sync-workers, PostgreSQL and
//! RabbitMQ): exactly once through an outage, crashes on every hop and a
//! restored backup; one store's credential never speaks for another.

use crate::both_backends;
use crate::support::app::{Backend, Store};
use crate::support::cloud::{Cloud, Rabbit, converged, edge, health, sell_n};
use std::time::Duration;

/// The internet goes away (the cloud's api is stopped), the store keeps
/// selling, the link returns: every sale arrives once with identical totals.
async fn an_outage_delivers_every_sale_exactly_once_when_the_link_returns(b: Backend) {
    let rabbit = Rabbit::start();
    let mut cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    let store = Store::new(b);
    let app = edge(&store, &cloud, &credential, &[]);
    let till = app.register("Till 1").await;

    let mut totals = sell_n(&app, &till, 20).await;
    let events = converged(&app, &till.manager, &cloud, &store_id, 60).await;
    assert_eq!(cloud.count("SELECT count(*) AS n FROM orders"), 20);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM inbox"), events);

    cloud.kill_api();
    totals.extend(sell_n(&app, &till, 300).await);
    // The store notices and says so, without failing anything.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let h = health(&app).await;
        let sync = &h["components"]["sync"];
        if sync["online"] == false && sync["pending_events"].as_i64().unwrap_or(0) > 0 {
            assert_eq!(sync["status"], "degraded", "{h}");
            assert_ne!(h["status"], "unhealthy", "{h}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "health never showed the outage: {h}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(cloud.count("SELECT count(*) AS n FROM orders"), 20);

    cloud.start_api();
    let events = converged(&app, &till.manager, &cloud, &store_id, 120).await;
    assert_eq!(cloud.count("SELECT count(*) AS n FROM orders"), 320);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM inbox"), events);
    assert_eq!(
        cloud.count("SELECT COALESCE(sum(total_minor), 0)::bigint AS n FROM orders"),
        totals.iter().sum::<i64>()
    );
    assert_eq!(
        cloud.count("SELECT count(DISTINCT number) AS n FROM orders"),
        320
    );
    assert_eq!(cloud.count("SELECT count(*) AS n FROM rejected_events"), 0);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM alarms"), 0);
    let h = health(&app).await;
    assert_eq!(h["components"]["sync"]["online"], true, "{h}");
    assert_eq!(h["components"]["sync"]["pending_events"], 0, "{h}");
}
both_backends!(an_outage_delivers_every_sale_exactly_once_when_the_link_returns);

/// The edge is SIGKILLed while batches are in flight; the cloud's consumers are
/// SIGKILLed and RabbitMQ restarted while they apply: every event still lands
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crashes_on_every_hop_still_apply_each_event_exactly_once() {
    let mut rabbit = Rabbit::start();
    let mut cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    let store = Store::new(Backend::Postgres);
    // Small batches, several in flight: many pushes to interrupt.
    let small = [
        ("OUTPOST__SYNC__BATCH_EVENTS", "7".to_owned()),
        ("OUTPOST__SYNC__IN_FLIGHT", "3".to_owned()),
    ];
    let mut app = edge(&store, &cloud, &credential, &small);
    let till = app.register("Till 1").await;
    cloud.kill_api();
    cloud.kill_workers();
    let mut totals = sell_n(&app, &till, 150).await;

    // The link returns; kill the edge while it is part-way through.
    cloud.start_api();
    let acked = "SELECT COALESCE(max(position), 0) AS n FROM sync_acks WHERE stream = 'sales'";
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while cloud.count(acked) < 20 {
        assert!(std::time::Instant::now() < deadline, "no push got through");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.kill();
    let at_kill = cloud.count(acked);
    assert!(
        at_kill < 150,
        "the edge finished before it could be killed ({at_kill})"
    );

    // Consumers start applying; RabbitMQ restarts under them, then they are
    // killed mid-way and replaced.
    let app = edge(&store, &cloud, &credential, &small);
    totals.extend(sell_n(&app, &till, 20).await);
    cloud.start_worker();
    cloud.start_worker();
    let applied = format!("SELECT count(*) AS n FROM inbox WHERE store_id = '{store_id}'");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while cloud.count(&applied) < 10 {
        assert!(std::time::Instant::now() < deadline, "nothing applied");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    rabbit.restart();
    tokio::time::sleep(Duration::from_millis(300)).await;
    cloud.kill_workers();
    cloud.start_worker();

    let events = converged(&app, &till.manager, &cloud, &store_id, 180).await;
    assert_eq!(cloud.count("SELECT count(*) AS n FROM orders"), 170);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM inbox"), events);
    assert_eq!(
        cloud.count("SELECT COALESCE(sum(total_minor), 0)::bigint AS n FROM orders"),
        totals.iter().sum::<i64>()
    );
    assert_eq!(cloud.count("SELECT count(*) AS n FROM rejected_events"), 0);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM alarms"), 0);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM pending_events"), 0);
}

/// Store A's credential cannot push as store B, push B's events, or read B's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_credential_cannot_speak_for_another_store() {
    use outpost_proto::sync_v1::{
        EventAtRequest, EventBatch, EventEnvelope, HelloRequest, PushRequest,
    };
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let cred_a = cloud.add_store(&a, "SA");
    let _cred_b = cloud.add_store(&b, "SB");
    let cfg = |credential: &str| outpost_sync_worker::edge::EdgeConfig {
        ca_pem: Some(std::fs::read(cloud.certs.join("ca.pem")).unwrap()),
        ..outpost_sync_worker::edge::EdgeConfig::new(
            &format!("https://localhost:{}", cloud.sync_port),
            credential,
        )
    };
    let mut client = outpost_sync_worker::edge::connect(&cfg(&cred_a))
        .await
        .unwrap();
    let hello = |store: &str| HelloRequest {
        store_id: store.to_owned(),
        node_epoch: "e1".into(),
        schema_version: 1,
        ..Default::default()
    };
    assert!(client.hello(hello(&a)).await.is_ok());
    let e = client.hello(hello(&b)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    let e = client
        .event_at(EventAtRequest {
            store_id: b.clone(),
            node_epoch: "e1".into(),
            stream: "sales".into(),
            position: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    // B's events inside A's own push.
    let payload = b"{}".to_vec();
    let ev = EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        store_id: b.clone(),
        stream: "sales".into(),
        position: 1,
        node_epoch: "e1".into(),
        schema_version: outpost_domain::ids::SCHEMA_VERSION,
        payload_sha256: outpost_storage::secrets::sha256_hex(&payload),
        payload,
        ..Default::default()
    };
    let push = |store: &str| PushRequest {
        store_id: store.to_owned(),
        node_epoch: "e1".into(),
        batches: vec![EventBatch {
            store_id: a.clone(),
            stream: "sales".into(),
            events: vec![ev.clone()],
        }],
    };
    let e = client.push(push(&a)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let e = client.push(push(&b)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    // A wrong secret, and no credential at all.
    let wrong = format!("{a}.{}", "0".repeat(64));
    let mut bad = outpost_sync_worker::edge::connect(&cfg(&wrong))
        .await
        .unwrap();
    assert_eq!(
        bad.hello(hello(&a)).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert_eq!(cloud.count("SELECT count(*) AS n FROM inbox"), 0);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM sync_acks"), 0);
}

/// The store's database is restored from an older backup and sells on: the
/// cloud is told, keeps the sales the store lost, takes the new ones and
/// never rewinds; the registers number past the highest numbers the cloud
/// holds, so no order number is used twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_restored_from_a_backup_is_detected_and_reconciled_not_rewound() {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    let store = Store::new(Backend::Sqlite);
    let mut app = edge(&store, &cloud, &credential, &[]);
    let till = app.register("Till 1").await;
    let mut totals = sell_n(&app, &till, 10).await;
    converged(&app, &till.manager, &cloud, &store_id, 60).await;

    let backup = store.dir.join("backup.sqlite");
    let mut c = SqliteConnection::establish(&store.url).unwrap();
    diesel::sql_query(format!("VACUUM INTO '{}'", backup.display()))
        .execute(&mut c)
        .unwrap();
    drop(c);
    totals.extend(sell_n(&app, &till, 5).await);
    converged(&app, &till.manager, &cloud, &store_id, 60).await;
    let before = cloud.count("SELECT count(*) AS n FROM inbox");

    app.kill();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.url));
    }
    std::fs::copy(&backup, &store.url).unwrap();
    let app = edge(&store, &cloud, &credential, &[]);
    // Selling never waits for the cloud; here the store has said hello
    // (and learnt the cloud's numbers) before its next sale.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while health(&app).await["components"]["sync"]["online"] != true {
        assert!(std::time::Instant::now() < deadline, "never back online");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    totals.extend(sell_n(&app, &till, 4).await);

    let rewound = "SELECT count(*) AS n FROM alarms WHERE kind = 'store-rewound'";
    cloud.wait_count(rewound, 1, 60).await;
    converged(&app, &till.manager, &cloud, &store_id, 60).await;
    // Nothing the cloud held was lost or overwritten: 10 + 5 lost at the
    // store + 4 new.
    assert_eq!(cloud.count("SELECT count(*) AS n FROM orders"), 19);
    assert_eq!(
        cloud.count("SELECT COALESCE(sum(total_minor), 0)::bigint AS n FROM orders"),
        totals.iter().sum::<i64>()
    );
    assert!(cloud.count("SELECT count(*) AS n FROM inbox") > before);
    assert_eq!(cloud.count("SELECT count(*) AS n FROM store_epochs"), 1);
    assert!(cloud.count("SELECT lost_events AS n FROM store_epochs") >= 5);
    // No number was used twice: the new sales follow the lost ones.
    assert_eq!(
        cloud.count("SELECT count(*) AS n FROM (SELECT number FROM orders GROUP BY number HAVING count(*) > 1) x"),
        0
    );
    assert_eq!(
        cloud.count("SELECT count(*) AS n FROM alarms WHERE kind = 'order-number-collision'"),
        0
    );
    assert_eq!(
        cloud.count("SELECT max(substring(number from '([0-9]+)$')::bigint) AS n FROM orders"),
        19
    );
    assert_eq!(cloud.count("SELECT count(*) AS n FROM rejected_events"), 0);
    let h = health(&app).await;
    assert_eq!(h["components"]["sync"]["online"], true, "{h}");
}
