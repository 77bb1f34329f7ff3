//! Store credentials and their lifecycle: issue, check, rotate over the
//! authenticated link, revoke, expire.
//!
//! A credential is `<store id>.<secret>`; only the secret's SHA-256 is kept.
//! Rotation never strands a store: the new credential is handed to the store
//! inside an authenticated reply (hello or heartbeat) and both work until
//! the store uses the new one, which then becomes the only one. A credential
//! close to its expiry is rotated the same way while the store is connected,
//! so an expiry stops only a store that stayed away past it — and that store
//! is told why.

use super::CloudConn;
use crate::error::{CloudError, Result};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use outpost_domain::ids::{new_id, now_millis};
use outpost_domain::secrets::{hash_token, new_token};
use serde::Serialize;

/// A credential that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub store_id: String,
    pub credential_id: String,
    pub expires_at: Option<i64>,
    /// This call was the first with a rotated credential: it is now the
    /// store's only one.
    pub promoted: bool,
}

/// Why a credential was refused (for logs and metrics; the caller tells the
/// client only what the client may know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not `<store id>.<secret>`.
    Malformed,
    /// No such store.
    UnknownStore,
    /// The store exists; the secret is none of its credentials'.
    WrongSecret,
    Revoked,
    /// Replaced by a rotation the store has completed.
    Replaced,
    Expired(i64),
}

impl Refusal {
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::UnknownStore => "unknown-store",
            Refusal::WrongSecret => "wrong-secret",
            Refusal::Revoked => "revoked",
            Refusal::Replaced => "replaced",
            Refusal::Expired(_) => "expired",
        }
    }
}

#[derive(QueryableByName)]
struct CredRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    secret_sha256: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    expires_at: Option<i64>,
}

/// Equal, compared in constant time (secrets, CSRF and metrics tokens).
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Checks a credential. A pending (rotated) credential used for the first
/// time becomes the store's active one, and the one it replaces stops
/// working, in one transaction.
pub fn authenticate(
    conn: &mut CloudConn,
    credential: &str,
) -> Result<std::result::Result<Authenticated, Refusal>> {
    let Some((id, secret)) = credential.split_once('.') else {
        return Ok(Err(Refusal::Malformed));
    };
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(Err(Refusal::Malformed));
    }
    let rows: Vec<CredRow> = diesel::sql_query(
        "SELECT id, secret_sha256, state, expires_at FROM store_credentials WHERE store_id = $1",
    )
    .bind::<Text, _>(id)
    .load(conn)?;
    if rows.is_empty() {
        return Ok(Err(Refusal::UnknownStore));
    }
    let given = hash_token(secret);
    // Compare with every row, so the time taken says nothing of which matched.
    let hit = rows.into_iter().fold(None, |hit, r| {
        if same(&given, &r.secret_sha256) {
            Some(r)
        } else {
            hit
        }
    });
    let Some(row) = hit else {
        return Ok(Err(Refusal::WrongSecret));
    };
    let now = now_millis();
    match row.state.as_str() {
        "revoked" => return Ok(Err(Refusal::Revoked)),
        "replaced" => return Ok(Err(Refusal::Replaced)),
        _ => {}
    }
    if let Some(at) = row.expires_at
        && at <= now
    {
        return Ok(Err(Refusal::Expired(at)));
    }
    let promoted = row.state == "pending";
    if promoted {
        promote(conn, id, &row.id, &given)?;
    }
    Ok(Ok(Authenticated {
        store_id: id.to_owned(),
        credential_id: row.id,
        expires_at: row.expires_at,
        promoted,
    }))
}

fn promote(conn: &mut CloudConn, store_id: &str, credential_id: &str, sha: &str) -> Result<()> {
    conn.transaction(|conn| {
        let now = now_millis();
        let n = diesel::sql_query(
            "UPDATE store_credentials SET state = 'active' WHERE id = $1 AND state = 'pending'",
        )
        .bind::<Text, _>(credential_id)
        .execute(conn)?;
        if n == 0 {
            return Ok(()); // a concurrent call promoted it
        }
        diesel::sql_query(
            "UPDATE store_credentials SET state = 'replaced', ended_at = $3 \
             WHERE store_id = $1 AND id <> $2 AND state IN ('active', 'pending')",
        )
        .bind::<Text, _>(store_id)
        .bind::<Text, _>(credential_id)
        .bind::<BigInt, _>(now)
        .execute(conn)?;
        diesel::sql_query(
            "UPDATE stores SET rotate_requested_at = NULL, rotate_lifetime_ms = NULL, \
             credential_sha256 = $2 WHERE id = $1",
        )
        .bind::<Text, _>(store_id)
        .bind::<Text, _>(sha)
        .execute(conn)?;
        tracing::info!(
            store = store_id,
            "the store now uses its rotated credential; the previous one is refused from now on"
        );
        Ok(())
    })
}

/// Issues a new credential for `store_id` in `state` and returns it
/// (`<store id>.<secret>`), shown this once.
pub(super) fn issue(
    conn: &mut PgConnection,
    store_id: &str,
    state: &str,
    lifetime_ms: Option<i64>,
) -> Result<String> {
    let (secret, hash) = new_token();
    let now = now_millis();
    diesel::sql_query(
        "INSERT INTO store_credentials (id, store_id, secret_sha256, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind::<Text, _>(new_id())
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(&hash)
    .bind::<Text, _>(state)
    .bind::<BigInt, _>(now)
    .bind::<Nullable<BigInt>, _>(lifetime_ms.map(|l| now + l))
    .execute(conn)?;
    if state == "active" {
        diesel::sql_query("UPDATE stores SET credential_sha256 = $2 WHERE id = $1")
            .bind::<Text, _>(store_id)
            .bind::<Text, _>(&hash)
            .execute(conn)?;
    }
    Ok(format!("{store_id}.{secret}"))
}

/// What to tell a store about its credential in an authenticated reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notice {
    /// A new credential, when a rotation is due (asked for, or the current
    /// one expires within the warning window).
    pub rotated: Option<String>,
    pub expires_at: Option<i64>,
}

#[derive(QueryableByName)]
struct RotationRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    rotate_requested_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    rotate_lifetime_ms: Option<i64>,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    expires_at: Option<i64>,
    #[diesel(sql_type = Text)]
    state: String,
}

/// The notice for a call authenticated with `a`: issues the rotated
/// credential when one is due. A pending credential the store has not taken
/// up is replaced by the new one (its reply was lost), so at most one is
/// ever outstanding.
pub fn notice(conn: &mut CloudConn, a: &Authenticated, warn_ms: i64) -> Result<Notice> {
    conn.transaction(|conn| {
        let r: RotationRow = diesel::sql_query(
            "SELECT s.rotate_requested_at, s.rotate_lifetime_ms, c.created_at, c.expires_at, c.state \
             FROM stores s JOIN store_credentials c ON c.store_id = s.id \
             WHERE s.id = $1 AND c.id = $2 FOR UPDATE OF s",
        )
        .bind::<Text, _>(&a.store_id)
        .bind::<Text, _>(&a.credential_id)
        .get_result(conn)?;
        let now = now_millis();
        // Renewed within the warning window — or within the second half of
        // its life, for one shorter than the window (else its successor, as
        // short, would be renewed at once, and so on for ever).
        let expiring = r
            .expires_at
            .is_some_and(|at| at - now < warn_ms.min((at - r.created_at) / 2));
        let due = r.state == "active" && (r.rotate_requested_at.is_some() || expiring);
        if !due {
            return Ok(Notice {
                rotated: None,
                expires_at: r.expires_at,
            });
        }
        // The new one lives as long as asked, or as long as this one did.
        let lifetime = if r.rotate_requested_at.is_some() {
            r.rotate_lifetime_ms
        } else {
            r.expires_at.map(|at| at - r.created_at)
        };
        diesel::sql_query("DELETE FROM store_credentials WHERE store_id = $1 AND state = 'pending'")
            .bind::<Text, _>(&a.store_id)
            .execute(conn)?;
        let rotated = issue(conn, &a.store_id, "pending", lifetime)?;
        Ok(Notice {
            rotated: Some(rotated),
            expires_at: r.expires_at,
        })
    })
}

/// Finds a store by its id or its code.
fn store_by(conn: &mut PgConnection, store: &str) -> Result<String> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let r: Option<Id> = diesel::sql_query("SELECT id FROM stores WHERE id = $1 OR code = $1")
        .bind::<Text, _>(store)
        .get_result(conn)
        .optional()?;
    r.map(|r| r.id)
        .ok_or_else(|| CloudError::not_found(format!("store {store}")))
}

/// Asks for a rotation: the store gets a new credential at its next hello
/// or heartbeat. `lifetime_ms` is the new one's (None = never expires).
pub fn request_rotation(
    conn: &mut CloudConn,
    store: &str,
    lifetime_ms: Option<i64>,
) -> Result<String> {
    let id = store_by(conn, store)?;
    diesel::sql_query(
        "UPDATE stores SET rotate_requested_at = $2, rotate_lifetime_ms = $3 WHERE id = $1",
    )
    .bind::<Text, _>(&id)
    .bind::<BigInt, _>(now_millis())
    .bind::<Nullable<BigInt>, _>(lifetime_ms)
    .execute(conn)?;
    Ok(id)
}

/// Revokes every credential of a store at once; returns how many.
pub fn revoke(conn: &mut CloudConn, store: &str) -> Result<(String, usize)> {
    conn.transaction(|conn| {
        let id = store_by(conn, store)?;
        let n = diesel::sql_query(
            "UPDATE store_credentials SET state = 'revoked', ended_at = $2 \
             WHERE store_id = $1 AND state IN ('active', 'pending')",
        )
        .bind::<Text, _>(&id)
        .bind::<BigInt, _>(now_millis())
        .execute(conn)?;
        diesel::sql_query(
            "UPDATE stores SET rotate_requested_at = NULL, rotate_lifetime_ms = NULL WHERE id = $1",
        )
        .bind::<Text, _>(&id)
        .execute(conn)?;
        super::stores::raise(
            conn,
            &id,
            "credential-revoked",
            &format!("{n} credential(s) revoked by an operator"),
        )?;
        Ok((id, n))
    })
}

/// Issues a fresh active credential for a store whose credentials were
/// revoked or lost (every other one stops working); returns it, shown once.
pub fn reissue(conn: &mut CloudConn, store: &str, lifetime_ms: Option<i64>) -> Result<String> {
    conn.transaction(|conn| {
        let id = store_by(conn, store)?;
        diesel::sql_query(
            "UPDATE store_credentials SET state = 'revoked', ended_at = $2 \
             WHERE store_id = $1 AND state IN ('active', 'pending')",
        )
        .bind::<Text, _>(&id)
        .bind::<BigInt, _>(now_millis())
        .execute(conn)?;
        issue(conn, &id, "active", lifetime_ms)
    })
}

/// A store's credentials as people see them (no hashes).
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct CredentialRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub store_id: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub expires_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub ended_at: Option<i64>,
}

pub fn credentials(conn: &mut CloudConn, store_id: Option<&str>) -> Result<Vec<CredentialRow>> {
    Ok(diesel::sql_query(
        "SELECT id, store_id, state, created_at, expires_at, ended_at FROM store_credentials \
         WHERE $1::text IS NULL OR store_id = $1 ORDER BY created_at DESC",
    )
    .bind::<Nullable<Text>, _>(store_id)
    .load(conn)?)
}
