//! Outpost's wire protocol types, generated from `proto/` (packages
//! `outpost.sync.v1` and `outpost.hw.v1`). This crate depends on no internal crate; conversions to
//! and from domain and storage types live where both are known.

/// `outpost.sync.v1`: the event envelope and batches.
pub mod sync_v1 {
    tonic::include_proto!("outpost.sync.v1");
}

/// `outpost.hw.v1`: the print service hw-proxy offers the api.
pub mod hw_v1 {
    tonic::include_proto!("outpost.hw.v1");
}

#[cfg(test)]
mod tests {
    use super::sync_v1::{EventBatch, EventEnvelope};
    use prost::Message;

    #[test]
    fn an_envelope_survives_encoding_byte_for_byte() {
        let e = EventEnvelope {
            event_id: "01a2017a-c83f-77ba-a11f-4f77edab9f4e".into(),
            store_id: "store".into(),
            stream: "sales".into(),
            position: 42,
            node_epoch: "epoch".into(),
            hlc: (1_795_321_114_331i64 << 16) | 3,
            schema_version: 1,
            payload: br#"{"total_minor":301}"#.to_vec(),
            ..Default::default()
        };
        let batch = EventBatch {
            store_id: "store".into(),
            stream: "sales".into(),
            events: vec![e.clone()],
        };
        let back = EventBatch::decode(batch.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back.events[0], e);
        assert_eq!(back.events[0].hlc & 0xffff, 3);
    }
}
