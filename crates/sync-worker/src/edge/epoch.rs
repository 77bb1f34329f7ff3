//! Hello and the epoch: what the cloud holds for this store, whether this
//! database continues that history (or was restored from a backup, cloned or
//! replaced, and must move to a new epoch), and the order numbers the cloud
//! already holds, which a restored database must number past.

use super::{Client, EdgeConfig, SyncError, blocking};
use outpost_domain::Stream;
use outpost_proto::sync_v1::{
    CredentialNotice, EventAtRequest, HelloReply, HelloRequest, StreamPosition,
};
use outpost_storage::{Db, sync};
use std::collections::BTreeMap;

/// What a session learnt at hello.
#[derive(Debug, Clone)]
pub(super) struct Opened {
    pub store_id: String,
    pub epoch: String,
    /// Per stream, the position to push after.
    pub after: BTreeMap<String, i64>,
    pub credential: Option<CredentialNotice>,
}

pub(super) async fn hello_request(db: &Db, cfg: &EdgeConfig) -> Result<HelloRequest, SyncError> {
    let (store_id, store_code, ep) = blocking(db, |c| {
        Ok((sync::store_id(c)?, sync::store_code(c)?, sync::epoch(c)?))
    })
    .await?;
    let (parent_epoch, fork) = match &ep.parent {
        Some(p) => (
            p.node_epoch.clone(),
            p.fork
                .iter()
                .map(|(s, pos)| StreamPosition {
                    stream: s.clone(),
                    position: *pos,
                    event_id: String::new(),
                })
                .collect(),
        ),
        None => (String::new(), Vec::new()),
    };
    Ok(HelloRequest {
        store_id,
        node_epoch: ep.node_epoch,
        parent_epoch,
        fork,
        schema_version: outpost_storage::outbox::SCHEMA_VERSION,
        software_version: cfg.software_version.clone(),
        clock_ms: outpost_storage::db::now_millis(),
        store_code,
    })
}

/// Says hello and settles the epoch: when the cloud holds a history this
/// database does not continue, the database enters a new epoch forked where
/// both agree, and says hello again. Then each register numbers past the
/// highest order number the cloud holds for it.
pub(super) async fn handshake(
    db: &Db,
    cfg: &EdgeConfig,
    client: &mut Client,
) -> Result<Opened, SyncError> {
    for _ in 0..3 {
        let req = hello_request(db, cfg).await?;
        let local_epoch = req.node_epoch.clone();
        let store_id = req.store_id.clone();
        let reply = client.hello(req).await?.into_inner();
        let HelloReply {
            node_epoch: cloud_epoch,
            acked,
            credential,
            registers,
            ..
        } = reply;
        let verdict = {
            let acked = acked.clone();
            let cloud_epoch = cloud_epoch.clone();
            let local_epoch = local_epoch.clone();
            blocking(db, move |c| {
                continues(c, &cloud_epoch, &local_epoch, &acked)
            })
            .await?
        };
        match verdict {
            None => {
                let numbers: Vec<(i32, i64)> = registers
                    .iter()
                    .map(|r| (r.register_no, r.last_seq))
                    .collect();
                let raised = blocking(db, move |c| sync::number_past(c, &numbers)).await?;
                if raised > 0 {
                    tracing::warn!(
                        registers = raised,
                        "the cloud holds later order numbers than this database: those registers now number past them"
                    );
                }
                // Resume from our own record: it is kept in send order, so it
                // never passes a batch the cloud did not take (the cloud's
                // figure may, with several pushes in flight).
                let local = blocking(db, sync::acks).await?;
                let mut after = BTreeMap::new();
                for s in Stream::NAMES {
                    let mine = local
                        .get(s)
                        .filter(|a| a.node_epoch == local_epoch)
                        .map_or(0, |a| a.position);
                    after.insert(s.to_owned(), mine);
                }
                return Ok(Opened {
                    store_id,
                    epoch: local_epoch,
                    after,
                    credential,
                });
            }
            Some(why) if cloud_epoch.is_empty() => {
                return Err(SyncError::Config(format!("unexpected hello: {why}")));
            }
            Some(why) => {
                tracing::warn!(
                    "this database was rewound or replaced: {why}; moving it to a new epoch"
                );
                let fork = find_fork(db, client, &store_id, &cloud_epoch, &acked).await?;
                let reason = why.clone();
                let parent = cloud_epoch.clone();
                let fresh =
                    blocking(db, move |c| sync::enter_epoch(c, &parent, &fork, &reason)).await?;
                tracing::warn!(epoch = %fresh, parent = %cloud_epoch, "entered a new epoch");
            }
        }
    }
    Err(SyncError::Config(
        "the cloud did not accept this store's new epoch; see the cloud's alarms".into(),
    ))
}

/// `None` when this database continues the history the cloud holds, else why
/// not.
fn continues(
    c: &mut outpost_storage::AnyConnection,
    cloud_epoch: &str,
    local_epoch: &str,
    acked: &[StreamPosition],
) -> outpost_storage::Result<Option<String>> {
    if cloud_epoch != local_epoch {
        return Ok(Some(format!(
            "the cloud holds epoch {cloud_epoch} for this store, and this database is in {local_epoch}"
        )));
    }
    for a in acked {
        if a.position == 0 || a.event_id.is_empty() {
            continue;
        }
        let mine = sync::event_id_at(c, &a.stream, a.position)?;
        if mine.as_deref() != Some(a.event_id.as_str()) {
            return Ok(Some(format!(
                "the cloud acknowledged {} up to position {} ({}), which this database {}",
                a.stream,
                a.position,
                a.event_id,
                if mine.is_some() {
                    "holds a different event at"
                } else {
                    "does not reach"
                }
            )));
        }
    }
    Ok(None)
}

/// Per stream, the last position where this database and the cloud's epoch
/// hold the same event (binary search: histories agree on a prefix).
async fn find_fork(
    db: &Db,
    client: &mut Client,
    store_id: &str,
    cloud_epoch: &str,
    acked: &[StreamPosition],
) -> Result<BTreeMap<String, i64>, SyncError> {
    let mut fork = BTreeMap::new();
    for stream in Stream::NAMES {
        let cloud_head = acked
            .iter()
            .find(|a| a.stream == stream)
            .map_or(0, |a| a.position);
        let local_head = blocking(db, move |c| sync::head(c, stream)).await?;
        let (mut lo, mut hi) = (0i64, cloud_head.min(local_head));
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            let theirs = client
                .event_at(EventAtRequest {
                    store_id: store_id.to_owned(),
                    node_epoch: cloud_epoch.to_owned(),
                    stream: stream.to_owned(),
                    position: mid,
                })
                .await?
                .into_inner()
                .event_id;
            let mine = blocking(db, move |c| sync::event_id_at(c, stream, mid)).await?;
            if !theirs.is_empty() && mine.as_deref() == Some(theirs.as_str()) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        fork.insert(stream.to_owned(), lo);
    }
    Ok(fork)
}
