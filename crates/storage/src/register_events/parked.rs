//! A register agent's events the edge refuses for good: kept with the
//! reason and the event as sent, their positions counted as taken, so one
//! bad event never stops a till's stream. Health shows those a manager has
//! not cleared yet.

use super::AgentEvent;
use crate::audit;
use crate::db::{AnyConnection, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::{devices, register_parked};
use diesel::prelude::*;
use outpost_domain::Permission;
use serde::Serialize;

/// Whether an event's failure is its own, the same however often it is
/// sent and whatever the edge holds: one a till may not send, a payload
/// that does not match its hash or is not what its kind carries, rows that
/// claim another register's, one sent without its payload. A failure that
/// depends on the edge's state (rows naming what it lacks, a constraint
/// another row holds) refuses the push whole: health shows it, and the
/// till sends again once that is mended.
pub(super) fn for_good(err: &StorageError) -> bool {
    matches!(err, StorageError::Unprocessable(_))
}

/// Whether the edge parked this event (a till sending it again repeats it).
pub(super) fn holds(conn: &mut AnyConnection, event_id: &str) -> Result<bool> {
    Ok(register_parked::table
        .find(event_id)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Parks `e`, sent by `device_id` in `epoch`, with `reason`.
pub(super) fn park(
    conn: &mut AnyConnection,
    device_id: &str,
    epoch: &str,
    e: &AgentEvent,
    reason: &str,
) -> Result<()> {
    let event = serde_json::to_string(e).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    diesel::insert_into(register_parked::table)
        .values((
            register_parked::event_id.eq(&e.event_id),
            register_parked::device_id.eq(device_id),
            register_parked::epoch.eq(epoch),
            register_parked::stream.eq(&e.stream),
            register_parked::position.eq(e.position),
            register_parked::event_type.eq(&e.event_type),
            register_parked::reason.eq(reason),
            register_parked::event.eq(event),
            register_parked::at.eq(now_millis()),
        ))
        .execute(conn)?;
    tracing::warn!(device = device_id, event = %e.event_id, kind = %e.event_type, reason, "a till's event was parked");
    Ok(())
}

/// A parked event, for health and the manager page.
#[derive(Debug, Clone, Serialize)]
pub struct Parked {
    pub event_id: String,
    pub register: String,
    pub stream: String,
    pub position: i64,
    pub event_type: String,
    pub reason: String,
    pub at: i64,
    /// The event as the till sent it (JSON text).
    pub event: String,
}

/// The parked events no manager has cleared, newest first, at most
/// `limit`, and how many there are in all.
pub fn open(conn: &mut AnyConnection, limit: i64) -> Result<(Vec<Parked>, i64)> {
    let all = register_parked::table
        .filter(register_parked::cleared_at.is_null())
        .count()
        .get_result::<i64>(conn)?;
    let rows = register_parked::table
        .inner_join(devices::table.on(devices::id.eq(register_parked::device_id)))
        .filter(register_parked::cleared_at.is_null())
        .order(register_parked::at.desc())
        .limit(limit)
        .select((
            register_parked::event_id,
            devices::name,
            register_parked::stream,
            register_parked::position,
            register_parked::event_type,
            register_parked::reason,
            register_parked::at,
            register_parked::event,
        ))
        .load::<(String, String, String, i64, String, String, i64, String)>(conn)?
        .into_iter()
        .map(
            |(event_id, register, stream, position, event_type, reason, at, event)| Parked {
                event_id,
                register,
                stream,
                position,
                event_type,
                reason,
                at,
                event,
            },
        )
        .collect();
    Ok((rows, all))
}

/// A manager has dealt with a parked event (re-entered the sale, told the
/// till's owner): it no longer shows in health. Audited; the event stays.
pub fn clear(conn: &mut AnyConnection, node: &Node, actor: &Actor, event_id: &str) -> Result<()> {
    actor.require(Permission::ManageDevices, "clear a till's parked event")?;
    write_tx(conn, |conn| {
        let n = diesel::update(
            register_parked::table
                .find(event_id)
                .filter(register_parked::cleared_at.is_null()),
        )
        .set((
            register_parked::cleared_at.eq(now_millis()),
            register_parked::cleared_by.eq(&actor.staff_id),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(StorageError::not_found(format!(
                "a parked till event {event_id:?} not yet cleared"
            )));
        }
        audit::by(
            conn,
            node,
            actor,
            "register_event.cleared",
            event_id,
            serde_json::json!({}),
        )
    })
}
