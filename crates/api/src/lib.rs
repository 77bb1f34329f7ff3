//! The edge api: the LAN HTTP API for registers, the register and manager pages,
//! `/health` and `/metrics`, and the relay that hands committed events on.
//!
//! `startup::Application::build` binds its own listener (port 0 in tests) and
//! `run_until_stopped` serves until SIGINT/SIGTERM.

pub mod after_commit;
pub mod auth;
pub mod body;
pub mod mdns;
pub mod metrics;
pub mod problem;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod tls;
pub mod views;

pub use settings::Settings;
pub use startup::Application;
