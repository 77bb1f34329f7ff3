//! The append-only audit log of privileged actions (voids, refunds, price
//! overrides, drawer opens, staff and device changes, PIN lockouts and unlocks).
//! Each entry is also an event on the `audit` stream, so it reaches the cloud.

use crate::db::{AnyConnection, new_id, now_millis};
use crate::error::Result;
use crate::node::{Actor, Node};
use crate::outbox::{self, Event, Stream};
use crate::schema::audit_log;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub hlc: i64,
    pub staff_id: Option<String>,
    pub device_id: Option<String>,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// Records a privileged action; call in the transaction that performs it.
pub fn record(
    conn: &mut AnyConnection,
    node: &Node,
    staff_id: Option<&str>,
    device_id: Option<&str>,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<()> {
    let hlc = node.tick();
    let entry = AuditEntry {
        id: new_id(),
        at: now_millis(),
        hlc: hlc.raw(),
        staff_id: staff_id.map(str::to_owned),
        device_id: device_id.map(str::to_owned),
        action: action.to_owned(),
        subject: subject.to_owned(),
        detail: detail.to_string(),
    };
    diesel::insert_into(audit_log::table)
        .values(&entry)
        .execute(conn)?;
    outbox::append(
        conn,
        node,
        hlc,
        Event {
            stream: Stream::Audit,
            aggregate_type: "audit",
            aggregate_id: &entry.id,
            aggregate_version: 1,
            event_type: "audit.recorded",
            actor: staff_id.unwrap_or("system"),
            device_id,
            payload: &entry,
        },
    )?;
    Ok(())
}

/// Records a privileged action by `actor` (staff member and device).
pub fn by(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<()> {
    record(
        conn,
        node,
        Some(&actor.staff_id),
        actor.device_id.as_deref(),
        action,
        subject,
        detail,
    )
}

pub fn list(conn: &mut AnyConnection, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(audit_log::table
        .order(audit_log::hlc.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)?)
}
