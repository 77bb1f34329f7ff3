//! The sync worker, in two modes.
//!
//! **Edge** ([`edge`]): pushes the store's outbox to the cloud's SyncService
//! over gRPC/TLS, stream by stream in position order (sales first), resuming
//! after the positions the cloud acknowledged (as recorded in order here); backs off with jitter while the
//! cloud is unreachable; detects a rewound database (restored from a backup,
//! cloned) and moves it to a new epoch instead of overwriting the cloud.
//!
//! **Cloud** ([`cloud`]): consumes the ingestion queue and applies each batch
//! to the central database idempotently, acking a message only after its
//! transaction committed.

pub mod cloud;
pub mod convert;
pub mod edge;
