//! The edge's name over mDNS, on a port of this test's own: what
//! `outpost_api::mdns` announces, the agent's resolver finds, the first
//! time within a few seconds and from then on at once; a name nobody
//! announces is said plainly.

use outpost_register::mdns::Resolver;
use std::time::{Duration, Instant};

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_name_is_found_and_a_missing_one_is_said_plainly() {
    let port = free_udp_port();
    let name = format!(
        "outpost-t-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let cfg = outpost_api::settings::Mdns {
        announce: "on".into(),
        name: name.clone(),
        port,
    };
    let _announced = outpost_api::mdns::announce(&cfg, 8443).unwrap();
    let host = format!("{name}.local");
    let found = Resolver::new(port, Duration::from_secs(10))
        .lookup(&host)
        .await
        .unwrap();
    assert!(!found.is_empty());
    // Known from then on: a lookup that may not wait finds it.
    for _ in 0..5 {
        let t = Instant::now();
        let again = Resolver::new(port, Duration::ZERO)
            .lookup(&host)
            .await
            .unwrap();
        // What was found stays (more may come: another interface's).
        assert!(
            found.iter().all(|ip| again.contains(ip)),
            "{found:?} {again:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    let missing = Resolver::new(port, Duration::from_millis(300))
        .lookup(&format!("{name}-gone.local"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("nothing on this network answers"),
        "{missing}"
    );
}
