//! The edge's sync worker ([`edge`]): pushes the store's outbox to the cloud's SyncService
//! over gRPC/TLS, stream by stream in position order (sales first), resuming
//! after the positions the cloud acknowledged (as recorded in order here); backs off with jitter while the
//! cloud is unreachable; detects a rewound database (restored from a backup,
//! cloned) and moves it to a new epoch instead of overwriting the cloud.
//!
//! The cloud's side of the link (the SyncService and the worker that
//! applies the ingestion queue) is the `outpost-cloud` crate.

pub mod convert;
pub mod edge;
pub mod settings;

pub use settings::SyncSettings;
