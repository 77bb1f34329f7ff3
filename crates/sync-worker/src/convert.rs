//! An outbox row as the wire carries it.

use outpost_proto::sync_v1::EventEnvelope;
use outpost_storage::outbox::StoredEvent;

/// An outbox row as it travels, in `epoch` (the epoch of the session that
/// delivers it: rows written before a rewind was found carry the old one).
pub fn envelope(e: StoredEvent, epoch: &str) -> EventEnvelope {
    EventEnvelope {
        event_id: e.event_id,
        store_id: e.store_id,
        device_id: e.device_id.unwrap_or_default(),
        stream: e.stream,
        position: e.position.unwrap_or_default(),
        node_epoch: epoch.to_owned(),
        aggregate_type: e.aggregate_type,
        aggregate_id: e.aggregate_id,
        aggregate_version: e.aggregate_version,
        event_type: e.event_type,
        schema_version: e.schema_version,
        occurred_at_ms: e.occurred_at,
        hlc: e.hlc,
        master_version: e.master_version,
        actor: e.actor,
        payload: e.payload.into_bytes(),
        payload_sha256: e.payload_sha256,
    }
}
