//! The SyncService's gate (issue 31): a call's credential is checked from
//! its headers before its body is read, so a caller without one cannot
//! make the cloud take in a 64 MiB push, and a flood of such callers does
//! not keep a real store's pushes out.

use crate::support::app::{Backend, Store};
use crate::support::cloud::{Cloud, Rabbit};
use crate::support::cloud::{converged, edge, sell_n};
use outpost_proto::sync_v1::{EventBatch, EventEnvelope, HelloRequest, PushRequest};
use std::time::Duration;

/// The cloud api's peak resident memory so far (VmHWM), in KiB: a decoded
/// push's buffers are freed (and unmapped) after, so only the peak shows
/// them.
fn peak_kib(cloud: &Cloud) -> u64 {
    let pid = cloud.api.as_ref().expect("the cloud api runs").id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A SyncService client of `cloud` that sends `credential`.
async fn client(cloud: &Cloud, credential: &str) -> outpost_sync_worker::edge::Client {
    let cfg = outpost_sync_worker::edge::EdgeConfig {
        ca_pem: Some(std::fs::read(cloud.certs.join("ca.pem")).unwrap()),
        call_timeout: Duration::from_secs(60),
        ..outpost_sync_worker::edge::EdgeConfig::new(
            &format!("https://localhost:{}", cloud.sync_port),
            credential,
        )
    };
    outpost_sync_worker::edge::connect(&cfg).await.unwrap()
}

/// A push of about `mib` MiB of incompressible payload (the link
/// compresses with zstd: zeros would shrink to nothing on the wire).
fn big_push(store: &str, mib: usize) -> PushRequest {
    let mut payload = vec![0u8; 1 << 20];
    let events = (0..mib)
        .map(|i| {
            getrandom::fill(&mut payload).unwrap();
            EventEnvelope {
                event_id: uuid::Uuid::now_v7().to_string(),
                store_id: store.to_owned(),
                stream: "sales".into(),
                position: i as i64 + 1,
                node_epoch: "e".into(),
                aggregate_type: "order".into(),
                aggregate_id: "o".into(),
                aggregate_version: 1,
                event_type: "order.created".into(),
                schema_version: 4,
                payload: payload.clone(),
                ..Default::default()
            }
        })
        .collect();
    PushRequest {
        store_id: store.to_owned(),
        node_epoch: "e".into(),
        batches: vec![EventBatch {
            store_id: store.to_owned(),
            stream: "sales".into(),
            events,
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_64_mib_push_without_a_good_credential_is_refused_before_it_is_read() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store = uuid::Uuid::now_v7().to_string();
    let forged = format!("{store}.{}", "ab".repeat(32));
    // Warm: the first calls allocate the server's own buffers.
    let _ = client(&cloud, &forged)
        .await
        .hello(HelloRequest {
            store_id: store.clone(),
            node_epoch: "e".into(),
            schema_version: 1,
            ..Default::default()
        })
        .await;
    let before = peak_kib(&cloud);
    for _ in 0..4 {
        let r = client(&cloud, &forged)
            .await
            .push(big_push(&store, 60))
            .await;
        let code = r.map_or_else(|s| s.code(), |_| tonic::Code::Ok);
        assert!(
            matches!(
                code,
                tonic::Code::Unauthenticated | tonic::Code::Cancelled | tonic::Code::Unknown
            ),
            "{code:?}"
        );
    }
    let grew = peak_kib(&cloud).saturating_sub(before);
    eprintln!(
        "the cloud api's peak memory grew {grew} KiB over four 60 MiB pushes without a credential"
    );
    // Decoding one would take 60 MiB for its bytes and as much again for
    // its events; refused at the gate, it is a few frames' worth.
    assert!(grew < 32 * 1024, "grew {grew} KiB");
    assert!(
        !cloud
            .logged(&["sync credential refused", &store])
            .is_empty(),
        "the refusal is logged with the store it named"
    );
    // The counts are for the cloud's operators: behind the admin token.
    assert_eq!(cloud.admin_get("/metrics", false).await.0, 401);
    let (status, text) = cloud.admin_get("/metrics", true).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("outpost_sync_refused_total{reason=\"credential\"}"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_calls_without_a_credential_do_not_keep_a_stores_push_out() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&id, "S01");
    let store = Store::new(Backend::Sqlite);
    let app = edge(&store, &cloud, &credential, &[]);
    let till = app.register("Till 1").await;
    sell_n(&app, &till, 2).await;
    converged(&app, &till.manager, &cloud, &id, 30).await;

    // From the store's own address (a shared NAT): the flood uses up the
    // address's refusals at once; the store's credential, good lately,
    // still passes.
    let forged = format!("{id}.{}", "cd".repeat(32));
    let mut flood = Vec::new();
    // Ten connections, a hundred calls at once on each.
    for _ in 0..10 {
        let c = client(&cloud, &forged).await;
        for _ in 0..100 {
            let (mut c, id) = (c.clone(), id.clone());
            flood.push(tokio::spawn(async move {
                c.hello(HelloRequest {
                    store_id: id,
                    node_epoch: "e".into(),
                    schema_version: 1,
                    ..Default::default()
                })
                .await
                .map_or_else(|s| s.code(), |_| tonic::Code::Ok)
            }));
        }
    }
    sell_n(&app, &till, 3).await;
    converged(&app, &till.manager, &cloud, &id, 30).await;
    let mut codes = std::collections::BTreeMap::new();
    for f in flood {
        *codes.entry(format!("{:?}", f.await.unwrap())).or_insert(0) += 1;
    }
    eprintln!("the flood's answers: {codes:?}");
    assert!(!codes.contains_key("Ok"), "{codes:?}");
    assert!(
        codes.contains_key("ResourceExhausted"),
        "rate-limited: {codes:?}"
    );
}

/// `outpost cloud certs` keeps the CA's key out of the folder the cloud api
/// mounts (issue 31), reuses the CA for a new server certificate, and
/// moves an older install's key out.
#[test]
fn the_certificates_folder_the_api_mounts_holds_no_ca_key() {
    let dir = std::env::temp_dir().join(format!("outpost-certs-{}", uuid::Uuid::now_v7()));
    let (out, ca) = (dir.join("certs"), dir.join("certs-ca"));
    let certs = |hosts: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"));
        c.args(["cloud", "certs", "--out"]).arg(&out);
        for h in hosts {
            c.args(["--host", h]);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    certs(&["cloud.example.com"]);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["ca.pem", "server.key", "server.pem"]);
    assert!(ca.join("ca.key").exists());
    let first_ca = std::fs::read_to_string(ca.join("ca.pem")).unwrap();
    // Again, for another name: the same CA signs it.
    certs(&["cloud.example.com", "10.0.0.9"]);
    assert_eq!(
        std::fs::read_to_string(out.join("ca.pem")).unwrap(),
        first_ca
    );
    // An install from before, with the key beside the server's: moved out.
    std::fs::rename(ca.join("ca.key"), out.join("ca.key")).unwrap();
    std::fs::remove_file(ca.join("ca.pem")).unwrap();
    certs(&["cloud.example.com"]);
    assert!(!out.join("ca.key").exists());
    assert!(ca.join("ca.key").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("ca.pem")).unwrap(),
        first_ca
    );
    let _ = std::fs::remove_dir_all(dir);
}
