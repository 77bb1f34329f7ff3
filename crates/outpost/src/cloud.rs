//! `outpost cloud …` and `outpost sync-worker`: the cloud's services, its
//! store credentials and certificates, and the sync worker in either mode.

use crate::settings::Settings;
use anyhow::Context;
use outpost_cloud::admin;
use outpost_cloud::server::{CloudMetrics, serve_sync};
use std::path::Path;
use std::time::Duration;

/// The cloud api: the SyncService (gRPC, TLS) and the admin HTTP side.
pub fn serve(settings: Settings) -> anyhow::Result<()> {
    let db = open_db(&settings)?;
    let metrics = CloudMetrics::new();
    let c = settings.cloud.clone();
    let admin_addr = format!("{}:{}", c.admin_host, c.admin_port);
    let admin_listener = std::net::TcpListener::bind(&admin_addr)
        .with_context(|| format!("the cloud admin cannot listen on {admin_addr}"))?;
    // The admin over TLS: the operator's certificate, or the SyncService's.
    let admin_tls = match c.admin_tls_port {
        Some(port) => {
            let addr = format!("{}:{port}", c.admin_host);
            let l = std::net::TcpListener::bind(&addr)
                .with_context(|| format!("the cloud admin cannot listen on {addr} (TLS)"))?;
            let (cert, key) = if c.admin_tls_cert.is_empty() {
                (&c.tls_cert, &c.tls_key)
            } else {
                (&c.admin_tls_cert, &c.admin_tls_key)
            };
            let read = |f: &str| std::fs::read(f).with_context(|| format!("reading {f}"));
            let config = outpost_telemetry::tls::config(&read(cert)?, &read(key)?)
                .map_err(|e| anyhow::anyhow!("the admin's TLS certificate {cert}: {e}"))?;
            Some((l, config))
        }
        None => None,
    };
    let admin_tls_port = match &admin_tls {
        Some((l, _)) => Some(l.local_addr()?.port()),
        None => None,
    };
    let state = actix_web::web::Data::new(admin::AdminState {
        db: db.clone(),
        metrics: metrics.clone(),
        metrics_token: c.metrics_token.clone(),
        amqp_url: c.amqp_url.clone(),
        amqp_timers: outpost_bus::Timers {
            connect: Duration::from_secs(2),
            ..c.amqp_timers()
        },
        credential_warn_ms: c.credential_warn_ms(),
        offline_after_ms: settings.sync.offline_after_ms,
        tls_port: admin_tls_port,
        plain_networks: c.admin_plain_networks.clone(),
    });
    let admin_port = admin_listener.local_addr()?.port();
    let admin = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(admin::plain_here_only))
            .wrap(outpost_telemetry::headers::security())
            .app_data(state.clone())
            .configure(admin::routes)
    })
    .workers(2)
    .listen(admin_listener)?;
    let admin = match admin_tls {
        Some((l, config)) => admin.listen_rustls_0_23(l, config)?,
        None => admin,
    }
    .run();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let sync_addr = format!("{}:{}", c.sync_host, c.sync_port);
        let listener = tokio::net::TcpListener::bind(&sync_addr)
            .await
            .with_context(|| format!("the SyncService cannot listen on {sync_addr}"))?;
        println!(
            "Outpost cloud: SyncService on {} (TLS), admin on http://{}:{admin_port}",
            listener.local_addr()?,
            c.admin_host
        );
        if let Some(p) = admin_tls_port {
            println!(
                "Outpost cloud admin over TLS on https://{}:{p}",
                c.admin_host
            );
        }
        let admin_handle = admin.handle();
        let admin_task = tokio::spawn(admin);
        let r = serve_sync(&c, db, metrics, listener, shutdown_signal()).await;
        admin_handle.stop(true).await;
        let _ = admin_task.await;
        r
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn open_db(settings: &Settings) -> anyhow::Result<outpost_cloud::db::CloudDb> {
    outpost_cloud::server::open_db(&settings.cloud)
}

fn days_ms(days: Option<u32>) -> Option<i64> {
    days.map(|d| i64::from(d) * 86_400_000)
}

/// Registers a store and prints its credential (once).
pub fn store_add(
    settings: &Settings,
    id: Option<&str>,
    code: &str,
    name: &str,
    expires_days: Option<u32>,
) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let mut c = db.conn()?;
    let (id, credential) =
        outpost_cloud::db::add_store(&mut c, id, code, name, days_ms(expires_days))?;
    eprintln!(
        "store {code} registered as {id}. Its sync credential (shown only now; set it as sync.credential on the store's edge):"
    );
    println!("{credential}");
    Ok(())
}

/// Migrates the central database as its owner and makes the services'
/// roles.
pub fn migrate(settings: &Settings) -> anyhow::Result<()> {
    use outpost_cloud::db::Service;
    let c = &settings.cloud;
    let url = if c.migrate_url.is_empty() {
        &c.database_url
    } else {
        &c.migrate_url
    };
    anyhow::ensure!(
        !url.is_empty(),
        "set cloud.migrate_url (OUTPOST__CLOUD__MIGRATE_URL) to the database owner's URL"
    );
    for (var, password) in [
        ("OUTPOST__CLOUD__API_DB_PASSWORD", &c.api_db_password),
        ("OUTPOST__CLOUD__WORKER_DB_PASSWORD", &c.worker_db_password),
    ] {
        if !password.is_empty() {
            outpost_telemetry::settings::check_secret(var, password).map_err(anyhow::Error::msg)?;
        }
    }
    let roles = outpost_cloud::db::migrate(
        url,
        &[
            (Service::Api, c.api_db_password.as_str()),
            (Service::Worker, c.worker_db_password.as_str()),
        ],
    )
    .context("migrating the central database")?;
    println!("the central database is current");
    for r in roles {
        println!("role {r}: rows of the cloud's tables, no schema changes");
    }
    Ok(())
}

/// Adds an admin account; its password from `OUTPOST_ADMIN_PASSWORD` or
/// the first line of stdin (never an argument: it would show in `ps`).
pub fn admin_add(
    settings: &Settings,
    name: &str,
    role: &str,
    stores: &[String],
) -> anyhow::Result<()> {
    use outpost_cloud::db::admins;
    let role = admins::Role::parse(role)?;
    let password = password_input()?;
    let db = open_db(settings)?;
    let a = admins::add_account(&mut db.conn()?, name, role, stores, &password)?;
    println!(
        "admin account {} ({}) added{}",
        a.name,
        a.role.as_str(),
        if a.stores.is_empty() {
            String::new()
        } else {
            format!(" for stores {}", a.stores.join(", "))
        }
    );
    Ok(())
}

/// An admin password: OUTPOST_ADMIN_PASSWORD, else the first line of stdin
/// (never an argument, which `ps` and shell history would show).
fn password_input() -> anyhow::Result<String> {
    match std::env::var("OUTPOST_ADMIN_PASSWORD") {
        Ok(p) => Ok(p),
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            Ok(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    }
}

/// Gives an admin account a new password; its sessions end.
pub fn admin_password(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let password = password_input()?;
    let db = open_db(settings)?;
    outpost_cloud::db::admins::set_password(&mut db.conn()?, name, &password)?;
    println!("admin account {name}: new password set; its sessions have ended");
    Ok(())
}

/// Disables an admin account (or enables it again).
pub fn admin_disable(settings: &Settings, name: &str, disabled: bool) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    outpost_cloud::db::admins::set_disabled(&mut db.conn()?, name, disabled)?;
    if disabled {
        println!(
            "admin account {name} disabled: it cannot sign in, and its sessions and API tokens are refused"
        );
    } else {
        println!("admin account {name} enabled");
    }
    Ok(())
}

/// Revokes an admin account's API tokens (those labelled `label`, or all).
pub fn admin_token_revoke(
    settings: &Settings,
    name: &str,
    label: Option<&str>,
) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let n = outpost_cloud::db::admins::revoke_api_tokens(&mut db.conn()?, name, label)?;
    match label {
        Some(l) => println!("admin account {name}: {n} API token(s) labelled {l} revoked"),
        None => println!("admin account {name}: {n} API token(s) revoked"),
    }
    Ok(())
}

/// Lists the admin accounts.
pub fn admin_list(settings: &Settings) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let all = outpost_cloud::db::admins::list(&mut db.conn()?)?;
    println!("NAME\tROLE\tSTORES\tSTATE\tAPI TOKENS");
    for a in all {
        let state = match (a.disabled, a.locked) {
            (true, _) => "disabled",
            (false, true) => "locked",
            _ => "active",
        };
        println!(
            "{}\t{}\t{}\t{state}\t{}",
            a.name,
            a.role,
            if a.stores.is_empty() {
                "all"
            } else {
                &a.stores
            },
            if a.tokens.is_empty() { "-" } else { &a.tokens }
        );
    }
    Ok(())
}

/// Prints a new API token for an admin account (once).
pub fn admin_token(settings: &Settings, name: &str, label: &str) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let token = outpost_cloud::db::admins::new_api_token(&mut db.conn()?, name, label)?;
    eprintln!("API token for {name} ({label}), shown only now; send it as Authorization: Bearer:");
    println!("{token}");
    Ok(())
}

/// Asks for a rotation of a store's credential, delivered over its link.
pub fn store_rotate(
    settings: &Settings,
    store: &str,
    expires_days: Option<u32>,
) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let id = outpost_cloud::db::credentials::request_rotation(
        &mut db.conn()?,
        store,
        days_ms(expires_days),
    )?;
    println!(
        "store {id}: a new credential goes to the store at its next heartbeat; the current one is refused once the store uses the new one"
    );
    Ok(())
}

/// Revokes every credential of a store at once.
pub fn store_revoke(settings: &Settings, store: &str) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let (id, n) = outpost_cloud::db::credentials::revoke(&mut db.conn()?, store)?;
    println!(
        "store {id}: {n} credential(s) revoked; its sync is refused until it gets a new one (outpost cloud store-credential --store {store})"
    );
    Ok(())
}

/// Issues a new credential for a store and prints it (once).
pub fn store_credential(
    settings: &Settings,
    store: &str,
    expires_days: Option<u32>,
) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let credential =
        outpost_cloud::db::credentials::reissue(&mut db.conn()?, store, days_ms(expires_days))?;
    eprintln!(
        "a new sync credential for store {store} (shown only now; every earlier one is refused from now on; set it as sync.credential on the store's edge):"
    );
    println!("{credential}");
    Ok(())
}

type Check = std::sync::Arc<dyn Fn() -> (bool, serde_json::Value) + Send + Sync>;

/// `/health` (503 when `check` says unhealthy) and `/metrics` for a worker
/// process, so containers can check it like every other service.
fn health_server(
    host: &str,
    port: u16,
    registry: prometheus::Registry,
    check: Check,
) -> anyhow::Result<actix_web::dev::Server> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let addr = format!("{host}:{port}");
    let server = HttpServer::new(move || {
        let (registry, check) = (registry.clone(), check.clone());
        App::new()
            .wrap(outpost_telemetry::headers::security())
            .route(
                "/health",
                web::get().to(move || {
                    let check = check.clone();
                    async move {
                        let (ok, body) = web::block(move || check())
                            .await
                            .unwrap_or((false, serde_json::Value::Null));
                        if ok {
                            HttpResponse::Ok().json(body)
                        } else {
                            HttpResponse::ServiceUnavailable().json(body)
                        }
                    }
                }),
            )
            .route(
                "/metrics",
                web::get().to(move || {
                    let text = outpost_telemetry::render(&registry);
                    async move {
                        HttpResponse::Ok()
                            .content_type("text/plain; version=0.0.4")
                            .body(text)
                    }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(&addr)
    .with_context(|| format!("the worker's health endpoint cannot listen on {addr}"))?
    .run();
    Ok(server)
}

/// The sync worker: edge mode pushes this store's outbox to the cloud; cloud
/// mode applies the ingestion queue to the central database.
pub fn sync_worker(settings: Settings, mode: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match mode {
        "cloud" => {
            let db = open_db(&settings)?;
            let metrics = outpost_cloud::consumer::WorkerMetrics::new();
            let check_db = db.clone();
            let check: Check = std::sync::Arc::new(move || {
                let ok = check_db.answers();
                (
                    ok,
                    serde_json::json!({"status": if ok { "ok" } else { "unhealthy" }, "components": {"database": ok}}),
                )
            });
            let c = &settings.cloud;
            let delivery = outpost_bus::Delivery {
                prefetch: c.prefetch,
                limit: c.delivery_limit,
                timers: c.amqp_timers(),
            };
            rt.block_on(async move {
                let health = health_server(&c.worker_host, c.worker_port, metrics.registry.clone(), check)?;
                println!("Outpost sync-worker (cloud): consuming {}; health on http://{}:{}", outpost_bus::QUEUE, c.worker_host, c.worker_port);
                let handle = health.handle();
                tokio::spawn(health);
                tokio::select! {
                    _ = outpost_cloud::consumer::run(db, c.amqp_url.clone(), delivery, metrics) => {}
                    _ = shutdown_signal() => {}
                }
                handle.stop(true).await;
                anyhow::Ok(())
            })
        }
        "edge" => {
            let db = outpost_storage::Db::open(&settings.api.database.url, 4)
                .context("opening the store's database")?;
            let cfg = if settings.sync.cloud_url.is_empty() {
                None
            } else {
                Some(
                    settings
                        .sync
                        .edge_config()
                        .map_err(|e| anyhow::anyhow!(e))?,
                )
            };
            let configured = cfg.is_some();
            let offline_after = settings.sync.offline_after_ms;
            let check_db = db.clone();
            let check: Check = std::sync::Arc::new(move || {
                let state = check_db
                    .conn()
                    .map_err(|e| e.to_string())
                    .and_then(|mut c| {
                        Ok((
                            outpost_storage::sync::status(&mut c).map_err(|e| e.to_string())?,
                            outpost_storage::sync::backlog(&mut c, &outpost_domain::Stream::NAMES)
                                .map_err(|e| e.to_string())?,
                        ))
                    });
                match state {
                    Ok((status, backlog)) => {
                        let online = status.as_ref().is_some_and(|s| s.online_now(offline_after));
                        let pending: i64 = backlog.iter().map(|b| b.events).sum();
                        let degraded = configured && !online;
                        (
                            true,
                            serde_json::json!({
                                "status": if degraded { "degraded" } else { "ok" },
                                "configured": configured, "online": online, "pending_events": pending,
                                "last_error": status.map(|s| s.last_error).filter(|e| !e.is_empty()),
                            }),
                        )
                    }
                    Err(e) => (
                        false,
                        serde_json::json!({"status": "unhealthy", "error": e}),
                    ),
                }
            });
            let s = &settings.sync;
            rt.block_on(async move {
                let health = health_server(
                    &s.health_host,
                    s.health_port,
                    prometheus::Registry::new(),
                    check,
                )?;
                let handle = health.handle();
                tokio::spawn(health);
                match cfg {
                    Some(cfg) => {
                        println!("Outpost sync-worker (edge): pushing to {}", cfg.cloud_url);
                        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
                        tokio::select! {
                            _ = outpost_sync_worker::edge::run(db, cfg, wake) => {}
                            _ = shutdown_signal() => {}
                        }
                    }
                    None => {
                        println!(
                            "Outpost sync-worker (edge): no cloud configured (sync.cloud_url); idle"
                        );
                        shutdown_signal().await;
                    }
                }
                handle.stop(true).await;
                anyhow::Ok(())
            })
        }
        other => anyhow::bail!("--mode is edge or cloud, not {other:?}"),
    }
}

fn write_private(path: &Path, data: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data.as_bytes())?;
    Ok(())
}

fn this_year() -> i32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    1970 + (now / 31_556_952) as i32
}

/// The CA's folder when none is named: `OUT-ca` beside `out`.
fn ca_dir_beside(out: &Path) -> std::path::PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "certs".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!("{name}-ca"))
}

/// A private CA (made once, its key kept in `ca`, never in `out`) and a
/// server certificate for the cloud's sync port, for `hosts` (names or IP
/// addresses), in `out` with the CA's certificate: the folder the cloud api
/// mounts holds no key that could sign another certificate.
pub fn certs(out: &Path, ca: Option<&Path>, hosts: &[String]) -> anyhow::Result<()> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    anyhow::ensure!(
        !hosts.is_empty(),
        "name at least one --host the stores will connect to"
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let ca = ca.map_or_else(|| ca_dir_beside(out), Path::to_path_buf);
    std::fs::create_dir_all(&ca).with_context(|| format!("creating {}", ca.display()))?;
    let (ca_pem_path, ca_key_path) = (ca.join("ca.pem"), ca.join("ca.key"));
    // An install made before kept the CA's key with the server's: moved out.
    let (old_pem, old_key) = (out.join("ca.pem"), out.join("ca.key"));
    if old_key.exists() && !ca_key_path.exists() {
        std::fs::copy(&old_pem, &ca_pem_path).context("moving ca.pem")?;
        std::fs::rename(&old_key, &ca_key_path).context("moving ca.key")?;
        eprintln!(
            "moved the CA's key out of {} into {}",
            out.display(),
            ca.display()
        );
    }
    let issuer = if ca_pem_path.exists() && ca_key_path.exists() {
        let key =
            KeyPair::from_pem(&std::fs::read_to_string(&ca_key_path)?).context("reading ca.key")?;
        let pem = std::fs::read_to_string(&ca_pem_path)?;
        eprintln!("using the existing CA in {}", ca.display());
        Issuer::from_ca_cert_pem(&pem, key).context("reading ca.pem")?
    } else {
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, "Outpost private CA");
        p.distinguished_name
            .push(DnType::OrganizationName, "Outpost");
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = rcgen::date_time_ymd(this_year() - 1, 1, 1);
        p.not_after = rcgen::date_time_ymd(this_year() + 20, 1, 1);
        let key = KeyPair::generate()?;
        let cert = p.self_signed(&key)?;
        std::fs::write(&ca_pem_path, cert.pem())?;
        write_private(&ca_key_path, &key.serialize_pem())?;
        eprintln!(
            "created a private CA in {} (keep ca.key offline)",
            ca.display()
        );
        Issuer::new(p, key)
    };
    let mut p = CertificateParams::new(hosts.to_vec())?;
    p.distinguished_name
        .push(DnType::CommonName, hosts[0].clone());
    p.use_authority_key_identifier_extension = true;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.not_before = rcgen::date_time_ymd(this_year() - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(this_year() + 3, 1, 1);
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, &issuer)?;
    std::fs::write(out.join("server.pem"), cert.pem())?;
    write_private(&out.join("server.key"), &key.serialize_pem())?;
    std::fs::copy(&ca_pem_path, out.join("ca.pem")).context("copying ca.pem")?;
    println!(
        "{}: server.pem and server.key for {} (cloud.tls_cert / cloud.tls_key); give stores ca.pem (sync.ca_file)",
        out.display(),
        hosts.join(", ")
    );
    Ok(())
}
