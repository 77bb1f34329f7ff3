//! Devices (registers, displays), staff with roles and PINs, sign-in sessions
//! and the PIN lockout.

use crate::audit;
use crate::db::{AnyConnection, new_id, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::{devices, pin_attempts, sessions, staff};
use crate::secrets;
use diesel::prelude::*;
use outpost_domain::staff::lockout_seconds;
use outpost_domain::{Permission, Pin, Role};
use serde::Serialize;

/// A session lasts one long shift.
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = devices)]
pub struct Device {
    pub id: String,
    pub store_id: String,
    pub register_no: i32,
    pub name: String,
    pub kind: String,
    #[serde(skip)]
    pub token_hash: String,
    pub last_seq: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    pub device: Device,
    /// Shown once; only its hash is stored.
    pub token: String,
}

/// A register page (a browser), a kitchen display, or a register agent on a
/// till PC (`outpost register`): a register that keeps its own copy of the
/// store's master data, staff PIN hashes included (the till feed), so only
/// an agent's token may read that feed, never a browser's.
/// An `office` is a manager's computer for the manager page, away from the
/// store server's own screen: only managers sign in there.
pub const DEVICE_KINDS: [&str; 4] = ["register", "display", "agent", "office"];

/// Pairs a new device (any of [`DEVICE_KINDS`]) and returns its token. Audited.
pub fn pair_device(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    name: &str,
    kind: &str,
) -> Result<Paired> {
    actor.require(Permission::ManageDevices, "pair devices")?;
    check_device(name, kind)?;
    write_tx(conn, |conn| {
        let paired = new_device(conn, node, name, kind)?;
        audit::by(
            conn,
            node,
            actor,
            "device.paired",
            &paired.device.id,
            serde_json::json!({"name": name, "kind": kind}),
        )?;
        Ok(paired)
    })
}

/// A device's name and kind, checked before anything is written.
pub(crate) fn check_device(name: &str, kind: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(StorageError::Unprocessable(
            "device name must be 1 to 100 printable characters".into(),
        ));
    }
    if !DEVICE_KINDS.contains(&kind) {
        return Err(StorageError::Unprocessable(format!(
            "device kind must be one of {DEVICE_KINDS:?}"
        )));
    }
    Ok(())
}

/// Writes a new device with the next register number and a new token.
/// Call inside a transaction.
pub(crate) fn new_device(
    conn: &mut AnyConnection,
    node: &Node,
    name: &str,
    kind: &str,
) -> Result<Paired> {
    let (token, hash) = secrets::new_token();
    let max: Option<i32> = devices::table
        .filter(devices::store_id.eq(&node.store_id))
        .select(diesel::dsl::max(devices::register_no))
        .first(conn)?;
    let id = new_id();
    diesel::insert_into(devices::table)
        .values((
            devices::id.eq(&id),
            devices::store_id.eq(&node.store_id),
            devices::register_no.eq(max.unwrap_or(0) + 1),
            devices::name.eq(name),
            devices::kind.eq(kind),
            devices::token_hash.eq(&hash),
            devices::created_at.eq(now_millis()),
        ))
        .execute(conn)?;
    let device = devices::table
        .find(&id)
        .select(Device::as_select())
        .first(conn)?;
    Ok(Paired { device, token })
}

pub fn revoke_device(conn: &mut AnyConnection, node: &Node, actor: &Actor, id: &str) -> Result<()> {
    actor.require(Permission::ManageDevices, "revoke devices")?;
    write_tx(conn, |conn| {
        let n = diesel::update(
            devices::table
                .find(id)
                .filter(devices::revoked_at.is_null()),
        )
        .set(devices::revoked_at.eq(now_millis()))
        .execute(conn)?;
        if n == 0 {
            return Err(StorageError::not_found(format!("active device {id:?}")));
        }
        diesel::delete(sessions::table.filter(sessions::device_id.eq(id))).execute(conn)?;
        audit::by(
            conn,
            node,
            actor,
            "device.revoked",
            id,
            serde_json::json!({}),
        )
    })
}

pub fn devices(conn: &mut AnyConnection) -> Result<Vec<Device>> {
    Ok(devices::table
        .order(devices::register_no)
        .select(Device::as_select())
        .load(conn)?)
}

/// The active device a token belongs to.
pub fn device_by_token(conn: &mut AnyConnection, token: &str) -> Result<Device> {
    devices::table
        .filter(devices::token_hash.eq(secrets::hash_token(token)))
        .filter(devices::revoked_at.is_null())
        .select(Device::as_select())
        .first(conn)
        .optional()?
        .ok_or(StorageError::Unauthenticated)
}

/// The device a token belongs to, revoked or not: for the one caller that
/// must tell them apart (a register agent's events made before its
/// revocation are still taken).
pub fn any_device_by_token(conn: &mut AnyConnection, token: &str) -> Result<Device> {
    devices::table
        .filter(devices::token_hash.eq(secrets::hash_token(token)))
        .select(Device::as_select())
        .first(conn)
        .optional()?
        .ok_or(StorageError::Unauthenticated)
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = staff)]
pub struct StaffMember {
    pub id: String,
    pub store_id: String,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub pin_hash: String,
    pub active: bool,
    pub created_at: i64,
}

pub fn list_staff(conn: &mut AnyConnection) -> Result<Vec<StaffMember>> {
    Ok(staff::table
        .filter(staff::active.eq(true))
        .order(staff::name)
        .select(StaffMember::as_select())
        .load(conn)?)
}

/// Inserts a staff member without an actor; used by setup and demo seeding.
pub fn insert_staff(
    conn: &mut AnyConnection,
    node_store: &str,
    name: &str,
    role: Role,
    pin: &Pin,
) -> Result<String> {
    let id = new_id();
    diesel::insert_into(staff::table)
        .values((
            staff::id.eq(&id),
            staff::store_id.eq(node_store),
            staff::name.eq(name),
            staff::role.eq(role.as_str()),
            staff::pin_hash.eq(secrets::hash_pin(pin)),
            staff::created_at.eq(now_millis()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Adds a staff member. Only a manager may, and nobody may create a role above
/// their own. Audited.
pub fn create_staff(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    name: &str,
    role: Role,
    pin: &Pin,
) -> Result<StaffMember> {
    actor.require(Permission::ManageStaff, "manage staff")?;
    if role > actor.role {
        return Err(StorageError::Forbidden(
            "create staff with a higher role than your own".into(),
        ));
    }
    if name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(StorageError::Unprocessable(
            "name must be 1 to 100 printable characters".into(),
        ));
    }
    write_tx(conn, |conn| {
        let id = insert_staff(conn, &node.store_id, name, role, pin)?;
        diesel::update(staff::table.find(&id))
            .set(staff::updated_hlc.eq(node.tick().raw()))
            .execute(conn)?;
        audit::by(
            conn,
            node,
            actor,
            "staff.created",
            &id,
            serde_json::json!({"name": name, "role": role.as_str()}),
        )?;
        Ok(staff::table
            .find(&id)
            .select(StaffMember::as_select())
            .first(conn)?)
    })
}

pub fn set_pin(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    staff_id: &str,
    pin: &Pin,
) -> Result<()> {
    actor.require(Permission::ManageStaff, "change PINs")?;
    write_tx(conn, |conn| {
        above_you(conn, actor, staff_id, "change the PIN of", true)?;
        let n = diesel::update(staff::table.find(staff_id))
            .set((
                staff::pin_hash.eq(secrets::hash_pin(pin)),
                staff::updated_hlc.eq(node.tick().raw()),
            ))
            .execute(conn)?;
        if n == 0 {
            return Err(StorageError::not_found(format!("staff {staff_id:?}")));
        }
        diesel::delete(sessions::table.filter(sessions::staff_id.eq(staff_id))).execute(conn)?;
        audit::by(
            conn,
            node,
            actor,
            "staff.pin_changed",
            staff_id,
            serde_json::json!({}),
        )
    })
}

/// Refuses to touch the PIN of someone whose role is above the actor's (a
/// manager setting an admin's PIN would then sign in as the admin); with
/// `peers_too`, of someone else of the same role too, below admin (one
/// manager setting another's PIN signs in as them, the audit log naming
/// the wrong person).
fn above_you(
    conn: &mut AnyConnection,
    actor: &Actor,
    staff_id: &str,
    what: &str,
    peers_too: bool,
) -> Result<()> {
    let role: Option<String> = staff::table
        .find(staff_id)
        .select(staff::role)
        .first(conn)
        .optional()?;
    let Some(role) = role else { return Ok(()) };
    let theirs = Role::parse(&role)?;
    let peer = peers_too
        && theirs == actor.role
        && actor.role != Role::Admin
        && staff_id != actor.staff_id;
    if theirs > actor.role || peer {
        return Err(StorageError::Forbidden(format!(
            "{what} someone else whose role ({role}) is {} your own",
            if peer { "the same as" } else { "above" }
        )));
    }
    Ok(())
}

/// Lifts every PIN lockout of a staff member, the tills' too (through the
/// till feed). Audited.
pub fn unlock(conn: &mut AnyConnection, node: &Node, actor: &Actor, staff_id: &str) -> Result<()> {
    actor.require(Permission::ManageStaff, "lift PIN lockouts")?;
    write_tx(conn, |conn| {
        above_you(conn, actor, staff_id, "lift the lockout of", false)?;
        if staff::table
            .find(staff_id)
            .count()
            .get_result::<i64>(conn)?
            == 0
        {
            return Err(StorageError::not_found(format!("staff {staff_id:?}")));
        }
        diesel::delete(pin_attempts::table.filter(pin_attempts::staff_id.eq(staff_id)))
            .execute(conn)?;
        // Down the till feed with the staff row: the tills lift what they
        // counted before it too.
        diesel::update(staff::table.find(staff_id))
            .set(staff::pins_unlocked_at.eq(Some(now_millis())))
            .execute(conn)?;
        audit::by(
            conn,
            node,
            actor,
            "staff.unlocked",
            staff_id,
            serde_json::json!({}),
        )
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub token: String,
    pub staff_id: String,
    pub staff_name: String,
    pub role: &'static str,
    pub device_id: Option<String>,
    pub expires_at: i64,
}

/// Checks a staff member's PIN, tried on `device_key` (a device id, or the
/// back office's client address; named in the audit log). Wrong PINs count
/// for the person wherever they are tried: the fifth locks their PIN
/// everywhere for 30 s, each later one for twice as long (at most an hour),
/// audited; a try while it is locked is refused unchecked and not counted.
/// A manager lifts it (`unlock`).
pub fn check_pin(
    conn: &mut AnyConnection,
    node: &Node,
    staff_id: &str,
    pin: &str,
    device_key: &str,
) -> Result<StaffMember> {
    let member = staff::table
        .find(staff_id)
        .filter(staff::active.eq(true))
        .select(StaffMember::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StorageError::not_found(format!("staff {staff_id:?}")))?;
    // Counted before it is checked, in one transaction that waits for any
    // other try of this person's (PostgreSQL: the row's lock; SQLite: the
    // write lock): parallel guesses each count, and none is checked once
    // the count has locked the PIN. The back office without a paired
    // device (the server's own screen) counts per client address: guesses
    // there lock the person out of that address only, never out of the
    // tills.
    let key = if device_key.starts_with(OFFICE) {
        device_key
    } else {
        EVERYWHERE
    };
    let (failures, lock_s) = write_tx(conn, |conn| {
        // The count's row, made once (diesel's upsert does not span both
        // backends; this SQL is the same on both).
        diesel::sql_query(
            "INSERT INTO pin_attempts (staff_id, device_key, failures, locked_until) \
             VALUES ($1, $2, 0, 0) ON CONFLICT (staff_id, device_key) DO NOTHING",
        )
        .bind::<diesel::sql_types::Text, _>(staff_id)
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(conn)?;
        diesel::update(pin_attempts::table.find((staff_id, key)))
            .set(pin_attempts::failures.eq(pin_attempts::failures))
            .execute(conn)?;
        // The time once the lock is held: a try that waited for another
        // sees that one's lockout as it is.
        let now = now_millis();
        // Every lockout but other back-office addresses': the devices'
        // count, and one a till counted with the edge away.
        let until: Option<i64> = pin_attempts::table
            .filter(pin_attempts::staff_id.eq(staff_id))
            .filter(
                pin_attempts::device_key
                    .eq(key)
                    .or(pin_attempts::device_key.not_like(format!("{OFFICE}%"))),
            )
            .select(diesel::dsl::max(pin_attempts::locked_until))
            .first(conn)?;
        if let Some(until) = until.filter(|u| *u > now) {
            return Err(StorageError::LockedOut((until - now + 999) / 1000));
        }
        let failures: i32 = pin_attempts::table
            .find((staff_id, key))
            .select(pin_attempts::failures)
            .first::<i32>(conn)?
            + 1;
        let lock_s = lockout_seconds(failures);
        let until = if lock_s > 0 { now + lock_s * 1000 } else { 0 };
        diesel::update(pin_attempts::table.find((staff_id, key)))
            .set((
                pin_attempts::failures.eq(failures),
                pin_attempts::locked_until.eq(until),
            ))
            .execute(conn)?;
        Ok((failures, lock_s))
    })?;
    if secrets::verify_pin(pin, &member.pin_hash) {
        diesel::delete(pin_attempts::table.find((staff_id, key))).execute(conn)?;
        return Ok(member);
    }
    if lock_s > 0 {
        write_tx(conn, |conn| {
            audit::record(
                conn,
                node,
                Some(staff_id),
                None,
                "staff.locked_out",
                staff_id,
                serde_json::json!({"device": device_key, "failures": failures, "seconds": lock_s}),
            )
        })?;
    }
    Err(StorageError::WrongPin {
        locked_for_s: lock_s,
    })
}

/// The key of the failure count a person's PIN tries share on every paired
/// device (registers, displays, approvals given at them); a till's own
/// count, made with the edge away, arrives under the till's device id.
pub const EVERYWHERE: &str = "*";

/// How the back office's keys begin (`office:` and the client's address):
/// each address counts alone.
pub const OFFICE: &str = "office";

/// Signs a staff member in. At a register (`device` given) any role may; the
/// back office (no device) is for managers and admins only.
pub fn login(
    conn: &mut AnyConnection,
    node: &Node,
    staff_id: &str,
    pin: &str,
    device: Option<&Device>,
    client: &str,
) -> Result<Session> {
    // Who signs in where, before any PIN is tried: everyone at a
    // register, managers at the back office (an office computer or the
    // server's own screen), nobody at a display or through an agent's token.
    let office = match device.map(|d| d.kind.as_str()) {
        None | Some("office") => true,
        Some("register") => false,
        Some(kind) => {
            return Err(StorageError::Forbidden(format!(
                "nobody signs in with a {kind}'s token"
            )));
        }
    };
    let key = device
        .map(|d| d.id.clone())
        .unwrap_or_else(|| format!("office:{client}"));
    let member = check_pin(conn, node, staff_id, pin, &key)?;
    let role = Role::parse(&member.role)?;
    if office && !role.allows(Permission::ManageStaff) {
        return Err(StorageError::Forbidden(
            "use the back office (managers only)".into(),
        ));
    }
    let (token, hash) = secrets::new_token();
    let now = now_millis();
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(&hash),
            sessions::staff_id.eq(&member.id),
            sessions::device_id.eq(device.map(|d| d.id.as_str())),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(now + SESSION_TTL_MS),
        ))
        .execute(conn)?;
    Ok(Session {
        token,
        staff_id: member.id,
        staff_name: member.name,
        role: role.as_str(),
        device_id: device.map(|d| d.id.clone()),
        expires_at: now + SESSION_TTL_MS,
    })
}

/// A session token as a request presents it, with the device token sent
/// beside it (`X-Device-Token`): a session opened at a register is that
/// register's, and counts only with its device token.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub token: &'a str,
    pub device: Option<&'a str>,
}

/// The actor behind a session token, if the session is valid and, when it
/// was opened at a device, presented with that device's token.
pub fn authenticate(conn: &mut AnyConnection, p: Presented<'_>) -> Result<(Actor, String)> {
    signed(
        sessions::table
            .inner_join(staff::table)
            .left_join(
                devices::table.on(sessions::device_id
                    .eq(devices::id.nullable())
                    .and(devices::revoked_at.is_null())),
            )
            .filter(sessions::token_hash.eq(secrets::hash_token(p.token)))
            .select(SessionRow::as_select())
            .first(conn)
            .optional()?,
        p.device,
    )
}

/// A session with what the sign-in check needs of its staff member.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub(crate) struct SessionRow {
    staff_id: String,
    device_id: Option<String>,
    expires_at: i64,
    #[diesel(embed)]
    member: SessionStaff,
    /// The token hash of the device the session was opened at (its query
    /// left-joins `devices` that are not revoked); none for a back-office
    /// session, or a device revoked since.
    #[diesel(select_expression = devices::token_hash.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<devices::token_hash>)]
    device_token_hash: Option<String>,
    #[diesel(select_expression = devices::kind.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<devices::kind>)]
    device_kind: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = staff)]
pub(crate) struct SessionStaff {
    role: String,
    name: String,
    active: bool,
}

/// Who holds a session (`None`: no session has that token), and their name:
/// unauthenticated once it expired or its staff member was deactivated, and
/// when a register's session comes without that register's device token
/// (`device`): a cashier's token taken to another device, or sent alone,
/// is nobody's.
pub(crate) fn signed(row: Option<SessionRow>, device: Option<&str>) -> Result<(Actor, String)> {
    let from_its_device = |s: &SessionRow| {
        s.device_id.is_none()
            || device
                .is_some_and(|d| s.device_token_hash.as_deref() == Some(&secrets::hash_token(d)))
    };
    match row {
        Some(s) if s.member.active && s.expires_at > now_millis() && from_its_device(&s) => Ok((
            Actor {
                staff_id: s.staff_id,
                role: Role::parse(&s.member.role)?,
                // An office computer is bound to its sessions but is no
                // register: its managers act as at the back office (no
                // shift, no sale there).
                device_id: s
                    .device_id
                    .filter(|_| s.device_kind.as_deref() != Some("office")),
            },
            s.member.name,
        )),
        _ => Err(StorageError::Unauthenticated),
    }
}

pub fn logout(conn: &mut AnyConnection, token: &str) -> Result<()> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(secrets::hash_token(token))))
        .execute(conn)?;
    Ok(())
}

/// A supervisor's approval given by PIN at the till (refunds, voids), checked
/// against the same lockout. Returns the approver's id.
pub fn approve(
    conn: &mut AnyConnection,
    node: &Node,
    staff_id: &str,
    pin: &str,
    device_key: &str,
    p: Permission,
) -> Result<String> {
    let member = check_pin(conn, node, staff_id, pin, device_key)?;
    if !Role::parse(&member.role)?.allows(p) {
        return Err(StorageError::Forbidden(
            "approve this (a supervisor or manager must)".into(),
        ));
    }
    Ok(member.id)
}

/// Checks an approver's PIN on one device (counted like any PIN) and
/// returns who it is and their role.
pub fn approver(
    conn: &mut AnyConnection,
    node: &Node,
    staff_id: &str,
    pin: &str,
    device_key: &str,
) -> Result<(String, Role)> {
    let member = check_pin(conn, node, staff_id, pin, device_key)?;
    let role = Role::parse(&member.role)?;
    Ok((member.id, role))
}

/// A staff member's name (as a receipt names the cashier).
pub fn name(conn: &mut AnyConnection, staff_id: &str) -> Result<Option<String>> {
    Ok(staff::table
        .find(staff_id)
        .select(staff::name)
        .first(conn)
        .optional()?)
}
