//! What the hub and its clients say to each other, as JSON text frames.
//!
//! Client → hub: `{"type":"subscribe","channels":[{"channel":"kitchen","epoch":"…","offset":41}]}`
//! (epoch and offset omitted on a first connection), `{"type":"auth","ticket":"…"}`
//! to refresh the ticket on an open connection.
//!
//! Hub → client: `{"type":"subscribed","channel","epoch","offset","recovered"}`
//! — `recovered: true` means every event after the client's offset follows (or
//! none was missed); `false` means the history no longer covers the gap (or the
//! epoch changed), so the client reloads its state from the api and continues
//! from `offset`. Then `{"type":"event","channel","offset","epoch",…}` frames in
//! offset order, `{"type":"presence",…}` for clients that subscribed to the
//! `presence` pseudo-channel, and `{"type":"error","detail"}`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// WebSocket close codes (the 4000–4999 range is the application's).
pub mod close {
    /// No valid ticket, or it expired without being refreshed.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The client did not read fast enough; reconnect with your offsets.
    pub const TOO_SLOW: u16 = 4008;
    /// The channel's epoch changed (the store's database was restored):
    /// reconnect; your offsets no longer hold.
    pub const RESYNC: u16 = 4009;
    /// A frame the hub cannot understand.
    pub const BAD_MESSAGE: u16 = 4000;
}

/// The pseudo-channel that carries presence changes.
pub const PRESENCE: &str = "presence";

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Subscribe { channels: Vec<SubscribeTo> },
    Auth { ticket: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeTo {
    pub channel: String,
    pub epoch: Option<String>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    Subscribed {
        channel: &'a str,
        epoch: &'a str,
        offset: i64,
        recovered: bool,
    },
    /// A refreshed ticket was accepted.
    Authenticated {
        expires_at: i64,
    },
    Error {
        detail: &'a str,
    },
}

impl ServerMsg<'_> {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("server messages serialize")
    }
}

/// One committed event as screens receive it. Built once by the publisher and
/// fanned out as the same text to every subscriber.
#[derive(Debug, Serialize)]
pub struct EventMsg<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub channel: &'a str,
    pub offset: i64,
    pub epoch: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub aggregate_id: &'a str,
    pub device_id: Option<&'a str>,
    pub occurred_at: i64,
    pub data: &'a RawValue,
}

impl EventMsg<'_> {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("event messages serialize")
    }
}
