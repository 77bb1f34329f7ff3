//! The cloud: where every store's events arrive exactly once and head office
//! reads them.
//!
//! - [`sync_service`]: the gRPC SyncService stores push to and say hello and
//!   heartbeat on (TLS, a credential per store); a push is acknowledged once
//!   the broker confirmed it ([`server`] runs it).
//! - [`consumer`]: `outpost sync-worker --mode cloud`, applying the
//!   ingestion queue to the central database and parking what keeps failing.
//! - [`db`]: the central database (PostgreSQL): stores and credentials, the
//!   idempotent apply, master data, parked batches, with its migrations.
//! - [`admin`]: the admin pages and API over every store's sync state.
//!
//! It shares ids, hashing and the event schema version with the edge through
//! `outpost-domain`, and links no edge code.

pub mod admin;
pub mod consumer;
pub mod db;
pub mod error;
pub mod gate;
mod refusals;
pub mod server;
pub mod settings;
pub mod sync_service;

pub use error::{CloudError, Result};
pub use settings::CloudSettings;
