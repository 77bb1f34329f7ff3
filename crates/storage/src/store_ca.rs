//! The store's own certificate authority, kept in the edge's database (the
//! api makes it on first start, `outpost_api::tls`): it signs the edge's TLS
//! certificate for the LAN, and register agents pin it at pairing.

use crate::db::{AnyConnection, now_millis, write_tx};
use crate::error::Result;
use crate::schema::store_ca;
use diesel::prelude::*;

/// The CA's certificate and key, as PEM.
#[derive(Clone)]
pub struct Ca {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Never prints the key.
impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// The store's CA; made by `make` (once, whichever process gets there
/// first) when the database has none.
pub fn get_or_make(conn: &mut AnyConnection, make: impl FnOnce() -> Result<Ca>) -> Result<Ca> {
    if let Some(ca) = get(conn)? {
        return Ok(ca);
    }
    let ca = make()?;
    write_tx(conn, |conn| {
        if get(conn)?.is_none() {
            diesel::insert_into(store_ca::table)
                .values((
                    store_ca::id.eq(1),
                    store_ca::cert_pem.eq(&ca.cert_pem),
                    store_ca::key_pem.eq(&ca.key_pem),
                    store_ca::created_at.eq(now_millis()),
                ))
                .execute(conn)?;
        }
        Ok::<_, crate::StorageError>(())
    })?;
    get(conn)?.ok_or_else(|| crate::StorageError::Corrupt("the store CA vanished".into()))
}

pub fn get(conn: &mut AnyConnection) -> Result<Option<Ca>> {
    Ok(store_ca::table
        .select((store_ca::cert_pem, store_ca::key_pem))
        .first::<(String, String)>(conn)
        .optional()?
        .map(|(cert_pem, key_pem)| Ca { cert_pem, key_pem }))
}
