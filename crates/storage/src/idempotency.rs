//! Idempotency keys: a retried request returns the first answer, never a second
//! sale. Keys are scoped to the device that sent them and kept at least 30 days.

use crate::db::{AnyConnection, now_millis};
use crate::error::{Result, StorageError};
use crate::schema::idempotency_keys as k;
use diesel::prelude::*;

/// Keys younger than this are never purged.
pub const MIN_RETENTION_DAYS: i64 = 30;

/// A stored answer to replay.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status_code: i32,
    pub body: String,
}

/// The stored answer for `(device, key)`, if any. A different request under the
/// same key is an [`StorageError::IdempotencyMismatch`].
pub fn lookup(
    conn: &mut AnyConnection,
    device_id: &str,
    key: &str,
    request_sha256: &str,
) -> Result<Option<Stored>> {
    let row: Option<(String, i32, String)> = k::table
        .find((device_id, key))
        .select((k::request_sha256, k::status_code, k::response_body))
        .first(conn)
        .optional()?;
    match row {
        None => Ok(None),
        Some((hash, _, _)) if hash != request_sha256 => Err(StorageError::IdempotencyMismatch),
        Some((_, status_code, body)) => Ok(Some(Stored { status_code, body })),
    }
}

/// The committed answer under `(device, key)`, whatever request it was for
/// (a till asking what became of a request whose answer it lost).
pub fn answer(conn: &mut AnyConnection, device_id: &str, key: &str) -> Result<Option<Stored>> {
    Ok(k::table
        .find((device_id, key))
        .select((k::status_code, k::response_body))
        .first::<(i32, String)>(conn)
        .optional()?
        .map(|(status_code, body)| Stored { status_code, body }))
}

/// Claims `(device, key)` first thing in the transaction that makes the change.
/// A concurrent twin blocks here (PostgreSQL) or finds the committed claim
/// (SQLite) and fails with [`StorageError::IdempotencyRace`] before doing any
/// work; the caller then replays the winner's answer.
pub fn claim(
    conn: &mut AnyConnection,
    device_id: &str,
    key: &str,
    request_sha256: &str,
) -> Result<()> {
    diesel::insert_into(k::table)
        .values((
            k::device_id.eq(device_id),
            k::key.eq(key),
            k::request_sha256.eq(request_sha256),
            k::status_code.eq(0),
            k::response_body.eq(""),
            k::created_at.eq(now_millis()),
        ))
        .execute(conn)
        .map_err(|e| {
            if StorageError::is_unique_violation(&e) {
                StorageError::IdempotencyRace
            } else {
                e.into()
            }
        })?;
    Ok(())
}

/// Stores the answer under the claimed key, in the same transaction.
pub fn complete(
    conn: &mut AnyConnection,
    device_id: &str,
    key: &str,
    status_code: i32,
    body: &str,
) -> Result<()> {
    diesel::update(k::table.find((device_id, key)))
        .set((k::status_code.eq(status_code), k::response_body.eq(body)))
        .execute(conn)?;
    Ok(())
}

/// Deletes keys older than `days` (never fewer than 30).
pub fn purge(conn: &mut AnyConnection, days: i64) -> Result<usize> {
    let cutoff = now_millis() - days.max(MIN_RETENTION_DAYS) * 86_400_000;
    Ok(diesel::delete(k::table.filter(k::created_at.lt(cutoff))).execute(conn)?)
}

/// The answer to store under `(device, key)` as a row for
/// [`crate::bulk::write`], written last in the transaction that made the
/// change: a twin that committed first makes that INSERT fail on the key.
pub(crate) fn table(
    device_id: &str,
    key: &str,
    request_sha256: &str,
    status_code: i32,
    body: &str,
) -> crate::bulk::Table {
    use crate::bulk::Col;
    let text = |s: &str| Col::Text(vec![s.to_owned()]);
    crate::bulk::Table::new(
        "idempotency_keys",
        vec![
            ("device_id", text(device_id)),
            ("key", text(key)),
            ("request_sha256", text(request_sha256)),
            ("status_code", Col::Int(vec![status_code])),
            ("response_body", text(body)),
            ("created_at", Col::Big(vec![now_millis()])),
        ],
    )
}
