//! The edge's durable storage and the store's use cases (the cloud's
//! database is `outpost-cloud`'s, hw-proxy's print queue hw-proxy's).
//!
//! One code path serves PostgreSQL (a store's production edge) and SQLite
//! (the embedded default): queries
//! run on [`db::AnyConnection`], and the few statements that differ between the
//! two are matched on the backend in one place each.
//!
//! Every state change writes its outbox event in the same transaction
//! ([`outbox::append`]); the [`relay`] later gives those events gap-free
//! positions per stream in commit order and hands them on.

// Unit tests share the integration tests' store helpers (`common`), which
// name this crate from outside.
#[cfg(test)]
extern crate self as outpost_storage;

#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod common;

pub mod agent;
pub mod audit;
pub mod bulk;
pub mod catalog;
pub mod cursors;
pub mod db;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod kitchen;
pub mod master;
pub mod node;
pub mod outbox;
pub mod pairing;
pub mod printers;
pub mod register_events;
pub mod register_history;
pub mod relay;
pub mod sales;
pub mod schema;
pub mod seed;
pub mod shifts;
pub mod staff;
pub mod stock;
pub mod store_ca;
pub mod sync;
pub mod till_feed;

pub use db::{AnyConnection, Backend, Db};
pub use error::{Result, StorageError};
pub use node::{Actor, Node};
/// Tokens and PINs are hashed the same way on every tier.
pub use outpost_domain::secrets;
pub use sales::SaleWriter;
