//! Starting the edge: a taken port is a clear error and seeds nothing, so the
//! demo PINs still show on the start that works.

use crate::support::app::{Backend, Store, spawn};
use std::process::Command;

#[test]
fn a_taken_port_fails_clearly_before_seeding_anything() {
    let store = Store::new(Backend::Sqlite);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["edge", "--demo", "--data"])
        .arg(&store.dir)
        .env("OUTPOST__SERVER__PORT", &port)
        .env("OUTPOST__SERVER__TLS_PORT", "0")
        // Only the api's port is the one under test: the hub's default (3001)
        // may be held by an edge running on this machine.
        .env("OUTPOST__HUB__PORT", "0")
        .env("OUTPOST__DATABASE__URL", &store.url)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        !std::path::Path::new(&store.url).exists(),
        "the database was created before the port was known to be free"
    );
    drop(taken);
    let app = spawn(&store);
    assert!(
        app.pins.contains_key("Maria Manager"),
        "demo PINs were not shown on the first working start"
    );
}

#[test]
fn the_api_on_redis_without_the_shared_secret_or_the_hub_without_redis_refuse_to_start() {
    let store = Store::new(Backend::Sqlite);
    let run = |cmd: &str, env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg(cmd)
            .env("OUTPOST__SERVER__PORT", "0")
            .env("OUTPOST__SERVER__TLS_PORT", "0")
            .env("OUTPOST__HUB__PORT", "0")
            .env("OUTPOST__DATABASE__URL", &store.url)
            .env("RUST_BACKTRACE", "0")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(
        "api",
        &[("OUTPOST__REALTIME__REDIS_URL", "redis://127.0.0.1:1")],
    );
    assert!(err.contains("OUTPOST__REALTIME__SECRET"), "{err}");
    let err = run("hub", &[]);
    assert!(err.contains("OUTPOST__REALTIME__REDIS_URL"), "{err}");
    let err = run(
        "hub",
        &[
            ("OUTPOST__REALTIME__REDIS_URL", "redis://127.0.0.1:1"),
            ("OUTPOST__REALTIME__SECRET", "short"),
        ],
    );
    assert!(err.contains("OUTPOST__REALTIME__SECRET"), "{err}");
}
