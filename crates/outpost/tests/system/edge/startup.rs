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
        .env("OUTPOST__HUB__TLS_PORT", "0")
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
            .env("OUTPOST__HUB__TLS_PORT", "0")
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

/// Example, short and patterned secrets stop a service at start, naming
/// the variable (issue 30); `outpost secrets generate` writes a `.env`
/// whose secrets every service takes, and will not overwrite one in use.
#[test]
fn example_secrets_are_refused_at_start_and_generated_ones_are_taken() {
    let store = Store::new(Backend::Sqlite);
    let outpost = |args: &[&str], env: &[(&str, &str)], dir: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(args)
            .current_dir(dir)
            .env("OUTPOST__SERVER__PORT", "0")
            .env("OUTPOST__SERVER__TLS_PORT", "0")
            .env("OUTPOST__HUB__PORT", "0")
            .env("OUTPOST__HUB__TLS_PORT", "0")
            .env("OUTPOST__HW__PORT", "0")
            .env("OUTPOST__HW__GRPC_PORT", "0")
            .env("OUTPOST__DATABASE__URL", &store.url)
            .env("RUST_BACKTRACE", "0")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = std::fs::read_to_string(here.join(".env.example")).unwrap();
    let value = |text: &str, var: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{var}=")))
            .unwrap()
            .to_owned()
    };
    let hw = value(&example, "OUTPOST_HW_TOKEN");
    let rt = value(&example, "OUTPOST_REALTIME_SECRET");
    for (args, env, var) in [
        (
            vec!["hw-proxy"],
            vec![("OUTPOST__HW__TOKEN", hw.as_str())],
            "OUTPOST__HW__TOKEN",
        ),
        (
            vec!["hub"],
            vec![
                ("OUTPOST__REALTIME__REDIS_URL", "redis://127.0.0.1:1"),
                ("OUTPOST__REALTIME__SECRET", rt.as_str()),
            ],
            "OUTPOST__REALTIME__SECRET",
        ),
        (
            vec!["api"],
            vec![(
                "OUTPOST__DATABASE__URL",
                "postgres://postgres:change-me@postgres:5432/outpost",
            )],
            "OUTPOST__DATABASE__URL",
        ),
        // The cloud (issue 31): its metrics token and its database password.
        (
            vec!["cloud", "serve"],
            vec![("OUTPOST__CLOUD__METRICS_TOKEN", "change-me")],
            "OUTPOST__CLOUD__METRICS_TOKEN",
        ),
        (
            vec!["cloud", "serve"],
            vec![(
                "OUTPOST__CLOUD__DATABASE_URL",
                "postgres://postgres:change-me@postgres:5432/outpost_cloud",
            )],
            "OUTPOST__CLOUD__DATABASE_URL",
        ),
    ] {
        let out = outpost(&args, &env, &store.dir);
        assert!(
            !out.status.success(),
            "{args:?} started with the example's secret"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(var) && err.contains("example"),
            "{args:?}: {err}"
        );
    }

    // A fresh .env from the example: its secrets pass every check.
    let dir = store.dir.join("install");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env.example"), &example).unwrap();
    let made = outpost(&["secrets", "generate"], &[], &dir);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    for var in [
        "POSTGRES_PASSWORD",
        "POSTGRES_APP_PASSWORD",
        "OUTPOST_REALTIME_SECRET",
        "OUTPOST_HW_TOKEN",
    ] {
        let v = value(&env, var);
        assert_ne!(v, value(&example, var));
        outpost_telemetry::settings::check_secret(var, &v).unwrap();
    }
    assert_eq!(
        value(&env, "OUTPOST_STORE_CODE"),
        value(&example, "OUTPOST_STORE_CODE")
    );
    let again = outpost(&["secrets", "generate"], &[], &dir);
    assert!(!again.status.success(), "overwrote a .env in use");
    assert_eq!(std::fs::read_to_string(dir.join(".env")).unwrap(), env);
}
