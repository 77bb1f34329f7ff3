//! `outpost`: one binary for every Outpost service.
//!
//! `outpost edge` runs every edge service in one process with embedded storage
//! (SQLite under a data folder, an in-process event bus): the way to try Outpost,
//! run a small shop, or test. `outpost api` runs the api alone, as compose does.

use anyhow::Context;
use clap::{Parser, Subcommand};
use outpost_api::{Application, Settings};
use std::path::PathBuf;

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
    /// Staff administration from the command line (the first admin of a real store).
    Staff {
        #[command(subcommand)]
        cmd: StaffCmd,
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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref()).context("loading settings")?;
    outpost_telemetry::init(
        outpost_telemetry::LogFormat::parse(&settings.log.format),
        &settings.log.filter,
    );
    match cli.cmd {
        Cmd::Edge { data, demo } => {
            if std::env::var_os("OUTPOST__DATABASE__URL").is_none()
                && settings.database.url == "data/outpost.sqlite"
            {
                settings.database.url = data.join("outpost.sqlite").to_string_lossy().into_owned();
            }
            settings.demo.enabled |= demo;
            serve(settings)
        }
        Cmd::Api => serve(settings),
        Cmd::Staff {
            cmd: StaffCmd::Add { name, role },
        } => add_staff(&settings, &name, &role),
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let host = settings.server.host.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).context("starting the edge")?;
        if let Some(people) = &app.demo_staff {
            println!("Demo data created. Staff PINs (shown only now):");
            for (name, role, pin) in people {
                println!("  demo staff: {name} ({}) PIN {pin}", role.as_str());
            }
        }
        println!("Outpost edge listening on http://{host}:{}", app.port());
        app.run_until_stopped().await.context("serving")
    })
}

fn add_staff(settings: &Settings, name: &str, role: &str) -> anyhow::Result<()> {
    let role = outpost_domain::Role::parse(role)?;
    let pin = std::env::var("OUTPOST_NEW_PIN")
        .context("set OUTPOST_NEW_PIN to the new PIN (4 to 8 digits)")?;
    let pin = outpost_domain::Pin::parse(&pin)?;
    let db = outpost_storage::Db::open(&settings.database.url, 2)?;
    let mut conn = db.conn()?;
    outpost_storage::seed::setup(&mut conn, &settings.store_setup())?;
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
