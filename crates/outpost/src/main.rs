//! `outpost`: one binary for every Outpost service.
//!
//! `outpost edge` runs every edge service in one process with embedded storage
//! (SQLite under a data folder, the realtime hub on an in-memory log): the way to try Outpost,
//! run a small shop, or test. `outpost api` and `outpost hub` run one service
//! alone, as compose does (the hub then reads Redis).

mod cloud;
mod secrets;
mod settings;

use anyhow::Context;
use clap::{Parser, Subcommand};
use outpost_api::Application;
use outpost_realtime_hub::Server as HubServer;
use settings::Settings;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "outpost", version, about = "Offline-first store platform")]
struct Cli {
    /// Settings file layered over the defaults (env OUTPOST__SECTION__KEY wins over both).
    #[arg(long, global = true, env = "OUTPOST_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Every edge service in one process, with SQLite under --data.
    Edge {
        /// Folder for the SQLite database (ignored when database.url is set to PostgreSQL).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Seed demo products and staff into an empty database; PINs are printed once.
        #[arg(long)]
        demo: bool,
    },
    /// The edge api alone (HTTP on the LAN, the pages, the relay).
    Api,
    /// The realtime hub alone (WebSockets for displays), reading Redis.
    Hub,
    /// Announces the edge on this host's network by name over mDNS
    /// (`mdns.name`.local, with the agents' port `server.tls_port`), for an
    /// edge under compose, whose own network reaches no till: run it on the
    /// host's network (compose.edge.yml's `announcer`).
    Announce,
    /// Container health check: exits 0 when URL answers 200 (healthy or
    /// degraded), 1 otherwise. Needs no curl in the image.
    Probe {
        #[arg(default_value = "http://127.0.0.1:8001/health")]
        url: String,
    },
    /// The sync worker: `--mode edge` pushes this store's events to the cloud;
    /// `--mode cloud` applies the cloud's ingestion queue to its database.
    SyncWorker {
        #[arg(long, default_value = "edge")]
        mode: String,
    },
    /// The cloud: its api, store credentials, and certificates.
    Cloud {
        #[command(subcommand)]
        cmd: CloudCmd,
    },
    /// Printers and cash drawers: the print queue and its HTTP side (port 7071).
    HwProxy,
    /// A receipt printer on TCP for tests and demos, with an HTTP control side.
    VirtualPrinter {
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: std::net::SocketAddr,
        #[arg(long, default_value = "127.0.0.1:9101")]
        control: std::net::SocketAddr,
    },
    /// The register agent on a till PC: `register pair --edge … --code …`
    /// once, then `register` serves the till's page on 127.0.0.1:7070 and
    /// sells with the edge away.
    Register {
        /// Folder for the till's own database.
        #[arg(long, global = true, default_value = "register")]
        data: PathBuf,
        #[command(subcommand)]
        cmd: Option<RegisterCmd>,
    },
    /// A one-time code that pairs one device, made at the store server's
    /// console (audited): how the first office computer of a store pairs.
    PairingCode {
        /// The device's name to be ("Office", "Till 2").
        #[arg(long)]
        name: String,
        /// office | register | display | agent
        #[arg(long, default_value = "office")]
        kind: String,
        /// The manager or admin the code is made for, as the audit log
        /// records it (default: the store's one admin, if it has one).
        #[arg(long)]
        by: Option<String>,
    },
    /// Brings the store's PostgreSQL schema up to date as its owner
    /// (database.url) and, with database.app_password, makes or updates the
    /// role the edge's services connect as (`<database>_app`: reads and
    /// writes every table, no DDL, not superuser).
    Migrate,
    /// Staff administration from the command line (the first admin of a real store).
    Staff {
        #[command(subcommand)]
        cmd: StaffCmd,
    },
    /// The secrets of a compose install.
    Secrets {
        #[command(subcommand)]
        cmd: SecretsCmd,
    },
}

#[derive(Subcommand)]
enum SecretsCmd {
    /// Writes a `.env` from an example (`.env.example`, `.env.cloud.example`)
    /// with every password, token and secret drawn anew (64 hex digits).
    Generate {
        #[arg(long, default_value = ".env.example")]
        example: PathBuf,
        #[arg(long, default_value = ".env")]
        out: PathBuf,
        /// Replace an existing file (its secrets stop working).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum CloudCmd {
    /// The cloud api: the gRPC SyncService (TLS) and the admin HTTP side.
    Serve,
    /// Registers a store and prints its sync credential (once).
    StoreAdd {
        /// The store id the edge was set up with (see its /health); new if omitted.
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// The credential expires after this many days (the cloud rotates it
        /// over the link before then while the store is connected).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// Rotates a store's credential: the store receives a new one over its
    /// authenticated link at its next heartbeat, and the old one is refused
    /// once the store uses the new one.
    StoreRotate {
        /// The store's code or id.
        #[arg(long)]
        store: String,
        /// The new credential expires after this many days (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// Revokes every credential of a store at once (its sync is refused
    /// until it is given a new one with store-credential).
    StoreRevoke {
        #[arg(long)]
        store: String,
    },
    /// Issues a new credential for a store (every other one of it stops
    /// working) and prints it once: for a store whose credential was
    /// revoked, lost or expired.
    StoreCredential {
        #[arg(long)]
        store: String,
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// Runs the central database's migrations as its owner
    /// (cloud.migrate_url, else cloud.database_url) and makes or updates
    /// the api's and the worker's roles (cloud.api_db_password,
    /// cloud.worker_db_password): the services then connect as those.
    Migrate,
    /// Adds an admin account (the password from OUTPOST_ADMIN_PASSWORD, or
    /// the first line of stdin): owner (everything), area_manager (reads
    /// its --store stores), support (reads all, retries parked batches).
    AdminAdd {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        /// An area manager's store, by id or code (repeatable).
        #[arg(long = "store")]
        stores: Vec<String>,
    },
    /// Makes an API token for an admin account (for scripts and BI tools,
    /// sent as Authorization: Bearer) and prints it once.
    AdminToken {
        #[arg(long)]
        name: String,
        /// What the token is for ("prometheus", "bi").
        #[arg(long)]
        label: String,
    },
    /// Revokes an admin account's API tokens with --label (all of its
    /// tokens without).
    AdminTokenRevoke {
        #[arg(long)]
        name: String,
        #[arg(long)]
        label: Option<String>,
    },
    /// Gives an admin account a new password (from OUTPOST_ADMIN_PASSWORD,
    /// or the first line of stdin); its sessions end and a lock is lifted.
    AdminPassword {
        #[arg(long)]
        name: String,
    },
    /// Disables an admin account: it cannot sign in, and its sessions and
    /// API tokens stop working until admin-enable.
    AdminDisable {
        #[arg(long)]
        name: String,
    },
    /// Enables a disabled admin account again.
    AdminEnable {
        #[arg(long)]
        name: String,
    },
    /// Lists the admin accounts: role, stores, disabled or locked, and the
    /// labels of their live API tokens.
    AdminList,
    /// Makes a private CA (once) and a server certificate for the sync port.
    Certs {
        /// Where server.pem, server.key and ca.pem go: the folder the cloud
        /// api mounts.
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// Where the CA's key is kept (made once): never mounted into a
        /// container. Default: OUT-ca beside OUT.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// A name or IP address stores connect to (repeatable).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
    },
}

#[derive(Subcommand)]
enum RegisterCmd {
    /// Pairs this till with its edge, with a one-time code a manager made
    /// on the manager page (Registers), into an empty --data folder.
    Pair {
        /// The edge's address (http://10.0.0.5:8001).
        #[arg(long)]
        edge: String,
        /// The pairing code (7KQ4M-X2P9C).
        #[arg(long)]
        code: String,
        /// The store CA's fingerprint from the manager page (Registers):
        /// pairing refuses an edge that presents another. Without it, the
        /// pairing prints the fingerprint it pinned, to compare.
        #[arg(long)]
        ca_fingerprint: Option<String>,
    },
}

#[derive(Subcommand)]
enum StaffCmd {
    /// Adds a staff member; the PIN is read from OUTPOST_NEW_PIN so it stays out of shell history.
    Add {
        #[arg(long)]
        name: String,
        /// cashier | supervisor | manager | admin
        #[arg(long)]
        role: String,
    },
    /// Lifts a staff member's PIN lockouts (audited): for when every
    /// manager is locked out and none can sign in to do it.
    Unlock {
        #[arg(long)]
        name: String,
    },
}

fn main() -> anyhow::Result<()> {
    // ring for every TLS config in the process (the sync link's too).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    if let Cmd::Probe { url } = &cli.cmd {
        return probe(url);
    }
    if let Cmd::Secrets {
        cmd:
            SecretsCmd::Generate {
                example,
                out,
                force,
            },
    } = &cli.cmd
    {
        return secrets::generate(example, out, *force);
    }
    if let Cmd::Cloud {
        cmd: CloudCmd::Certs { out, ca, hosts },
    } = &cli.cmd
    {
        return cloud::certs(out, ca.as_deref(), hosts);
    }
    let mut settings = Settings::load(cli.config.as_deref()).context("loading settings")?;
    outpost_telemetry::init(
        outpost_telemetry::LogFormat::parse(&settings.log.format),
        &settings.log.filter,
    );
    match cli.cmd {
        Cmd::Edge { data, demo } => {
            if std::env::var_os("OUTPOST__DATABASE__URL").is_none()
                && settings.api.database.url == "data/outpost.sqlite"
            {
                settings.api.database.url =
                    data.join("outpost.sqlite").to_string_lossy().into_owned();
            }
            settings.api.demo.enabled |= demo;
            serve(settings, true)
        }
        Cmd::Api => {
            // A random per-process secret would sign tickets no separate hub
            // can check: screens would be refused with no hint why.
            if !settings.api.realtime.redis_url.is_empty() {
                anyhow::ensure!(
                    !settings.api.realtime.secret.is_empty(),
                    "with realtime.redis_url set, set realtime.secret (OUTPOST__REALTIME__SECRET) to the hub's"
                );
                secrets::check("OUTPOST__REALTIME__SECRET", &settings.api.realtime.secret)?;
            }
            secrets::check_database_url("OUTPOST__DATABASE__URL", &settings.api.database.url)?;
            if !settings.api.printing.hw_proxy_token.is_empty() {
                secrets::check(
                    "OUTPOST__PRINTING__HW_PROXY_TOKEN",
                    &settings.api.printing.hw_proxy_token,
                )?;
            }
            serve(settings, false)
        }
        Cmd::Migrate => {
            let d = &settings.api.database;
            secrets::check_database_url("OUTPOST__DATABASE__URL", &d.url)?;
            if !d.app_password.is_empty() {
                secrets::check("OUTPOST__DATABASE__APP_PASSWORD", &d.app_password)?;
            }
            match outpost_storage::db::migrate_as_owner(&d.url, &d.app_password)? {
                Some(role) => {
                    println!("the store database is current; the services connect as {role}")
                }
                None => println!("the store database is current"),
            }
            Ok(())
        }
        Cmd::Hub => hub(settings),
        Cmd::Announce => announce(&settings.api),
        Cmd::HwProxy => {
            let hw = outpost_hw_proxy::HwConfig::load(cli.config.as_deref())
                .map_err(|e| anyhow::anyhow!("hw-proxy settings: {e}"))?;
            actix_web::rt::System::new()
                .block_on(outpost_hw_proxy::http::run(hw))
                .map_err(|e| anyhow::anyhow!(e))
        }
        Cmd::VirtualPrinter { listen, control } => actix_web::rt::System::new()
            .block_on(outpost_hw_proxy::virtual_printer::run(listen, control))
            .map_err(|e| anyhow::anyhow!(e)),
        Cmd::SyncWorker { mode } => {
            if mode == "edge" {
                secrets::check_database_url("OUTPOST__DATABASE__URL", &settings.api.database.url)?;
            } else {
                secrets::check_database_url(
                    "OUTPOST__CLOUD__DATABASE_URL",
                    &settings.cloud.database_url,
                )?;
            }
            cloud::sync_worker(settings, &mode)
        }
        Cmd::Cloud { cmd } => match cmd {
            CloudCmd::Serve => {
                if !settings.cloud.metrics_token.is_empty() {
                    secrets::check(
                        "OUTPOST__CLOUD__METRICS_TOKEN",
                        &settings.cloud.metrics_token,
                    )?;
                }
                secrets::check_database_url(
                    "OUTPOST__CLOUD__DATABASE_URL",
                    &settings.cloud.database_url,
                )?;
                cloud::serve(settings)
            }
            CloudCmd::StoreAdd {
                id,
                code,
                name,
                expires_days,
            } => cloud::store_add(&settings, id.as_deref(), &code, &name, expires_days),
            CloudCmd::StoreRotate {
                store,
                expires_days,
            } => cloud::store_rotate(&settings, &store, expires_days),
            CloudCmd::StoreRevoke { store } => cloud::store_revoke(&settings, &store),
            CloudCmd::StoreCredential {
                store,
                expires_days,
            } => cloud::store_credential(&settings, &store, expires_days),
            CloudCmd::Migrate => cloud::migrate(&settings),
            CloudCmd::AdminAdd { name, role, stores } => {
                cloud::admin_add(&settings, &name, &role, &stores)
            }
            CloudCmd::AdminToken { name, label } => cloud::admin_token(&settings, &name, &label),
            CloudCmd::AdminTokenRevoke { name, label } => {
                cloud::admin_token_revoke(&settings, &name, label.as_deref())
            }
            CloudCmd::AdminPassword { name } => cloud::admin_password(&settings, &name),
            CloudCmd::AdminDisable { name } => cloud::admin_disable(&settings, &name, true),
            CloudCmd::AdminEnable { name } => cloud::admin_disable(&settings, &name, false),
            CloudCmd::AdminList => cloud::admin_list(&settings),
            CloudCmd::Certs { .. } => unreachable!("handled before settings load"),
        },
        Cmd::Staff {
            cmd: StaffCmd::Add { name, role },
        } => add_staff(&settings, &name, &role),
        Cmd::Staff {
            cmd: StaffCmd::Unlock { name },
        } => unlock_staff(&settings, &name),
        Cmd::PairingCode { name, kind, by } => pairing_code(&settings, &name, &kind, by.as_deref()),
        Cmd::Register { data, cmd } => {
            let hw = outpost_hw_proxy::HwConfig::load(cli.config.as_deref())
                .map_err(|e| anyhow::anyhow!("[hw] settings: {e}"))?;
            register(settings, hw, &data, cmd)
        }
        Cmd::Probe { .. } | Cmd::Secrets { .. } => unreachable!("handled before settings load"),
    }
}

/// The api, and with `embedded` the realtime hub in the same process on the
/// api's in-memory log (unless a Redis URL is configured).
fn serve(settings: Settings, embedded: bool) -> anyhow::Result<()> {
    let Settings {
        api: mut settings,
        hub: hub_settings,
        sync,
        ..
    } = settings;
    let host = settings.server.host.clone();
    let hub_listener = if embedded {
        let l = bind(&hub_settings.host, hub_settings.port, "the realtime hub")?;
        settings.realtime.hub_port = l.local_addr()?.port();
        // Over TLS too, with the api's certificate, when the api has one,
        // where the api listens: the pages it serves on the LAN reach it
        // there, while the plain port stays on `hub.host` (loopback).
        let tls = match (hub_settings.tls_port, settings.server.tls_port) {
            (Some(p), Some(_)) => {
                let l = bind(&settings.server.host, p, "the realtime hub (TLS)")?;
                settings.realtime.hub_tls_port = Some(l.local_addr()?.port());
                Some(l)
            }
            _ => {
                settings.realtime.hub_tls_port = None;
                None
            }
        };
        if settings.realtime.secret.is_empty() {
            // One process signs and checks tickets: a fresh secret per start.
            settings.realtime.secret = outpost_domain::secrets::new_secret();
        }
        Some((l, tls))
    } else {
        None
    };
    actix_web::rt::System::new().block_on(async move {
        let mut cfg = hub_settings.config(settings.realtime.secret.as_bytes());
        let app = Application::build(settings).context("starting the edge")?;
        let hub = match hub_listener {
            Some((l, tls)) => {
                let log = match app.realtime_log() {
                    Some(log) => log,
                    None => redis_log(&app.settings().realtime)?,
                };
                cfg.port = l.local_addr()?.port();
                let tls = tls.zip(app.tls().map(|t| t.config.clone()));
                let hub =
                    HubServer::on(l, tls, cfg.clone(), log).context("starting the realtime hub")?;
                hub_listening(&cfg.host, &hub);
                Some(actix_web::rt::spawn(hub.run_until_stopped()))
            }
            None => None,
        };
        if let Some(people) = &app.demo_staff {
            println!("Demo data created. Staff PINs (shown only now):");
            for (name, role, pin) in people {
                println!("  demo staff: {name} ({}) PIN {pin}", role.as_str());
            }
        }
        if embedded && !sync.cloud_url.is_empty() {
            let cfg = sync.edge_config().map_err(|e| anyhow::anyhow!(e))?;
            // Before the first request: a status from the last run (or a
            // restored backup) must not show this start as online.
            outpost_storage::sync::record_start(&mut *app.db().conn()?)
                .context("recording the sync status")?;
            println!("Outpost sync: pushing to {}", cfg.cloud_url);
            actix_web::rt::spawn(outpost_sync_worker::edge::run(
                app.db(),
                cfg,
                app.sync_wake(),
            ));
        }
        if let Some(tls) = app.tls() {
            println!(
                "Outpost edge for register agents on https://{host}:{} (store CA {}; pages on the LAN too)",
                tls.port, tls.fingerprint
            );
        }
        // Kept while the edge serves: dropped, it says goodbye.
        let _announced = match app.tls() {
            Some(tls) if app.settings().mdns.announces(&host) => {
                let mdns = &app.settings().mdns;
                let a = outpost_api::mdns::announce(mdns, tls.port)?;
                println!(
                    "Outpost edge announced on this network as {} (mDNS)",
                    mdns.host()
                );
                Some(a)
            }
            _ => None,
        };
        println!("Outpost edge listening on http://{host}:{}", app.port());
        let r = app.run_until_stopped().await.context("serving");
        if let Some(h) = hub {
            let _ = h.await;
        }
        r
    })
}

/// Announces until SIGINT or SIGTERM.
fn announce(api: &outpost_api::Settings) -> anyhow::Result<()> {
    let port = api.server.tls_port.filter(|p| *p != 0).context(
        "set server.tls_port (OUTPOST__SERVER__TLS_PORT): the port tills reach the edge on",
    )?;
    let _announced = outpost_api::mdns::announce(&api.mdns, port)?;
    println!(
        "Outpost edge announced on this network as {} (mDNS), port {port}",
        api.mdns.host()
    );
    actix_web::rt::System::new().block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
        Ok(())
    })
}

fn redis_log(rt: &outpost_api::settings::Realtime) -> anyhow::Result<outpost_realtime::Log> {
    Ok(outpost_realtime::Log::Redis(
        outpost_realtime::RedisLog::new(&rt.redis_url, rt.history)
            .context("realtime.redis_url is not a valid Redis URL")?,
    ))
}

/// The realtime hub alone: needs Redis and the secret the api signs with.
fn hub(settings: Settings) -> anyhow::Result<()> {
    let rt = &settings.api.realtime;
    anyhow::ensure!(
        !rt.redis_url.is_empty(),
        "the hub alone reads Redis: set realtime.redis_url (OUTPOST__REALTIME__REDIS_URL)"
    );
    anyhow::ensure!(
        !rt.secret.is_empty(),
        "set realtime.secret (OUTPOST__REALTIME__SECRET) to the api's"
    );
    secrets::check("OUTPOST__REALTIME__SECRET", &rt.secret)?;
    let hs = &settings.hub;
    let cfg = hs.config(rt.secret.as_bytes());
    let listener = bind(&cfg.host, cfg.port, "the realtime hub")?;
    let tls = match hs.tls_port {
        Some(p) if !hs.tls_dir.is_empty() => {
            let l = bind(&cfg.host, p, "the realtime hub (TLS)")?;
            let wait = std::time::Duration::from_secs(hs.tls_wait_s);
            let config = outpost_telemetry::tls::load(std::path::Path::new(&hs.tls_dir), wait)
                .map_err(|e| anyhow::anyhow!("hub.tls_dir: {e}"))?;
            Some((l, config))
        }
        _ => None,
    };
    actix_web::rt::System::new().block_on(async move {
        // Redis is connected on first use: the hub comes up (degraded) even
        // when Redis is late, and catches up when it answers.
        let log = redis_log(&settings.api.realtime)?;
        let server =
            HubServer::on(listener, tls, cfg.clone(), log).context("starting the realtime hub")?;
        hub_listening(&cfg.host, &server);
        server.run_until_stopped().await.context("serving")
    })
}

fn bind(host: &str, port: u16, what: &str) -> anyhow::Result<std::net::TcpListener> {
    std::net::TcpListener::bind((host, port))
        .with_context(|| format!("{what} cannot listen on {host}:{port}"))
}

fn hub_listening(host: &str, hub: &HubServer) {
    println!(
        "Outpost realtime hub listening on ws://{host}:{}/ws",
        hub.port()
    );
    if let Some(p) = hub.tls_port() {
        println!("Outpost realtime hub over TLS on wss://{host}:{p}/ws");
    }
}

fn register(
    settings: Settings,
    hw: outpost_hw_proxy::HwConfig,
    data: &Path,
    cmd: Option<RegisterCmd>,
) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        match cmd {
            Some(RegisterCmd::Pair {
                edge,
                code,
                ca_fingerprint,
            }) => {
                let p = outpost_register::pair(
                    &edge,
                    &code,
                    ca_fingerprint.as_deref(),
                    data,
                    &settings.register,
                )
                .await?;
                match &p.ca_fingerprint {
                    Some(f) => println!(
                        "Pinned the store CA {f}: the manager page (Registers) shows the same"
                    ),
                    None => println!(
                        "WARNING: plain HTTP to the edge; pair with its https:// address (port 8443) to encrypt the till's link"
                    ),
                }
                println!(
                    "Paired: register {} ({}) of store {}, {} products. Start it with: outpost register --data {}",
                    p.register_no,
                    p.name,
                    p.store_code,
                    p.products,
                    data.display()
                );
                Ok(())
            }
            None => outpost_register::run(settings.api, settings.register, hw, data).await,
        }
    })
}

fn add_staff(settings: &Settings, name: &str, role: &str) -> anyhow::Result<()> {
    let role = outpost_domain::Role::parse(role)?;
    let pin = std::env::var("OUTPOST_NEW_PIN")
        .context("set OUTPOST_NEW_PIN to the new PIN (4 to 8 digits)")?;
    let pin = outpost_domain::Pin::parse(&pin)?;
    let db = outpost_storage::Db::open(&settings.api.database.url, 2)?;
    let mut conn = db.conn()?;
    outpost_storage::seed::setup(&mut conn, &settings.api.store_setup())?;
    let node = outpost_storage::Node::load(&mut conn)?;
    let id = outpost_storage::db::write_tx(&mut conn, |c| {
        let id = outpost_storage::staff::insert_staff(c, &node.store_id, name, role, &pin)?;
        let detail = serde_json::json!({"name": name, "role": role.as_str(), "via": "cli"});
        outpost_storage::audit::record(c, &node, None, None, "staff.created", &id, detail)?;
        Ok::<_, outpost_storage::StorageError>(id)
    })?;
    println!("added {name} ({}) as {id}", role.as_str());
    Ok(())
}

/// As the store's own administrator at its console.
fn console() -> outpost_storage::Actor {
    outpost_storage::Actor {
        staff_id: "cli".into(),
        role: outpost_domain::Role::Admin,
        device_id: None,
    }
}

/// Makes a pairing code at the console, on behalf of the manager `by`.
fn pairing_code(
    settings: &Settings,
    name: &str,
    kind: &str,
    by: Option<&str>,
) -> anyhow::Result<()> {
    let db = outpost_storage::Db::open(&settings.api.database.url, 2)?;
    let mut conn = db.conn()?;
    let node = outpost_storage::Node::load(&mut conn)?;
    let staff = outpost_storage::staff::list_staff(&mut conn)?;
    let managers: Vec<_> = staff
        .iter()
        .filter(|m| matches!(m.role.as_str(), "manager" | "admin"))
        .collect();
    let member = match by {
        Some(n) => managers
            .iter()
            .find(|m| m.name == n)
            .with_context(|| format!("no manager or admin named {n:?}"))?,
        None => {
            let admins: Vec<_> = managers.iter().filter(|m| m.role == "admin").collect();
            match admins.as_slice() {
                [one] => **one,
                _ => anyhow::bail!(
                    "name the manager this code is made for: --by \"NAME\" (one of {:?})",
                    managers.iter().map(|m| m.name.as_str()).collect::<Vec<_>>()
                ),
            }
        }
    };
    let actor = outpost_storage::Actor {
        staff_id: member.id.clone(),
        role: outpost_domain::Role::parse(&member.role)?,
        device_id: None,
    };
    let ttl_ms = settings.api.devices.pairing_code_ttl_s.max(1) * 1000;
    let code = outpost_storage::pairing::create_code(&mut conn, &node, &actor, name, kind, ttl_ms)?;
    println!(
        "pairing code for {} {:?}: {} (works once, for {} minutes)",
        code.kind,
        code.name,
        code.code,
        ttl_ms / 60_000
    );
    Ok(())
}

fn unlock_staff(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let db = outpost_storage::Db::open(&settings.api.database.url, 2)?;
    let mut conn = db.conn()?;
    let node = outpost_storage::Node::load(&mut conn)?;
    let member = outpost_storage::staff::list_staff(&mut conn)?
        .into_iter()
        .find(|m| m.name == name)
        .with_context(|| format!("no staff member named {name:?}"))?;
    outpost_storage::staff::unlock(&mut conn, &node, &console(), &member.id)?;
    println!("lifted the PIN lockouts of {name}");
    Ok(())
}

/// A plain HTTP/1.0 GET of a loopback health URL, for container health checks.
fn probe(url: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .context("probe takes an http:// URL")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let timeout = Duration::from_secs(3);
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?
        .next()
        .context("no address")?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("nothing listens on {host}"))?;
    s.set_read_timeout(Some(timeout))?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    anyhow::ensure!(
        &head[9..12] == b"200",
        "{url} answered {}",
        String::from_utf8_lossy(&head)
    );
    Ok(())
}
