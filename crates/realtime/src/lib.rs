//! The edge's realtime log and the hub's protocol, shared by the api (which
//! publishes committed events into the log) and the realtime hub (which serves
//! them to displays and registers over WebSockets).
//!
//! Every store has a few channels (one per outbox stream that screens care
//! about). A channel's events carry an `offset` — the event's gap-free position
//! in its stream, so offsets are monotonic and stable across republishing — and
//! an `epoch` — the node epoch, which changes only when the store's database is
//! restored or cloned, i.e. exactly when offsets may start again. A client that
//! remembers `(epoch, offset)` can always ask for what it missed.
//!
//! The log lives in Redis streams (compose) or in memory (the embedded edge),
//! behind one type, [`log::Log`], with the same semantics.

pub mod log;
pub mod ticket;
pub mod wire;

pub use log::{Entry, Head, Log, MemoryLog, RedisLog, Tail, Tailer};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the realtime log returned something unexpected: {0}")]
    Unexpected(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
