//! Master data in the cloud: products per store, authored here (the admin) or
//! at the store (its `master` events), merged by last writer on the hybrid
//! logical clock; the losing version of a concurrent edit is kept in
//! `master_conflicts`. Stores read the cloud's edits as a change feed with a
//! monotonic cursor.

use super::CloudConn;
use super::stores::raise;
use crate::db::now_millis;
use crate::error::{Result, StorageError};
use diesel::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text};
use serde::{Deserialize, Serialize};

/// A product edit: the SKU and the fields it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductChange {
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_category: Option<String>,
    /// The product's barcodes (the whole set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barcodes: Option<Vec<String>>,
}

impl ProductChange {
    fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(StorageError::Unprocessable(m.to_owned()));
        if self.sku.trim().is_empty() || self.sku.len() > 64 {
            return bad("sku must be 1 to 64 characters");
        }
        if let Some(n) = &self.name
            && (n.trim().is_empty() || n.chars().count() > 200)
        {
            return bad("name must be 1 to 200 characters");
        }
        if let Some(p) = self.price_minor
            && !(0..=outpost_domain::money::MAX_MINOR).contains(&p)
        {
            return bad("price_minor is out of range");
        }
        if let Some(codes) = &self.barcodes
            && (codes.len() > 32
                || codes.iter().any(|c| {
                    c.trim().is_empty() || c.len() > 64 || c.chars().any(char::is_control)
                }))
        {
            return bad("barcodes: at most 32, each 1 to 64 printable characters");
        }
        if self.name.is_none()
            && self.price_minor.is_none()
            && self.active.is_none()
            && self.tax_category.is_none()
            && self.barcodes.is_none()
        {
            return bad(
                "the change sets nothing: give name, price_minor, active, tax_category or barcodes",
            );
        }
        Ok(())
    }

    /// These fields laid over `base`.
    fn over(&self, base: &serde_json::Value) -> serde_json::Value {
        let mut out = base.clone();
        if !out.is_object() {
            out = serde_json::json!({});
        }
        let o = out.as_object_mut().expect("an object");
        o.insert("sku".into(), self.sku.clone().into());
        if let Some(v) = &self.name {
            o.insert("name".into(), v.clone().into());
        }
        if let Some(v) = self.price_minor {
            o.insert("price_minor".into(), v.into());
        }
        if let Some(v) = self.active {
            o.insert("active".into(), v.into());
        }
        if let Some(v) = &self.tax_category {
            o.insert("tax_category".into(), v.clone().into());
        }
        if let Some(v) = &self.barcodes {
            o.insert("barcodes".into(), v.clone().into());
        }
        out
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Jsonb)]
    body: serde_json::Value,
    #[diesel(sql_type = BigInt)]
    hlc: i64,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = BigInt)]
    cursor: i64,
}

fn row(conn: &mut PgConnection, store_id: &str, sku: &str) -> Result<Option<Row>> {
    Ok(diesel::sql_query(
        "SELECT body, hlc, origin, cursor FROM store_products WHERE store_id = $1 AND sku = $2 FOR UPDATE",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(sku)
    .get_result(conn)
    .optional()?)
}

#[derive(QueryableByName)]
struct Max {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A tax category edit: the code and the fields it sets (all of name,
/// rate_ppm and mode for a new category).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxChange {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Parts per million (190000 = 19 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_ppm: Option<i64>,
    /// inclusive | exclusive
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

impl TaxChange {
    pub fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(StorageError::Unprocessable(m.to_owned()));
        if self.code.trim().is_empty() || self.code.len() > 32 {
            return bad("code must be 1 to 32 characters");
        }
        if let Some(r) = self.rate_ppm
            && !(0..=1_000_000).contains(&r)
        {
            return bad("rate_ppm must be 0 to 1000000 (parts per million)");
        }
        if let Some(m) = &self.mode
            && m != "inclusive"
            && m != "exclusive"
        {
            return bad("mode must be inclusive or exclusive");
        }
        if self.name.is_none() && self.rate_ppm.is_none() && self.mode.is_none() {
            return bad("the change sets nothing: give name, rate_ppm or mode");
        }
        Ok(())
    }
}

/// Appends a change to the store's feed under the writers' lock; returns its
/// cursor and HLC (later than every earlier change and than `floor`).
fn feed(
    conn: &mut PgConnection,
    store_id: &str,
    kind: &str,
    entity_id: &str,
    body: String,
    floor: i64,
) -> Result<(i64, i64)> {
    // One writer at a time: cursors are then handed out in commit order.
    diesel::sql_query("SELECT pg_advisory_xact_lock(7400012)").execute(conn)?;
    let known: Max = diesel::sql_query("SELECT count(*) AS n FROM stores WHERE id = $1")
        .bind::<Text, _>(store_id)
        .get_result(conn)?;
    if known.n == 0 {
        return Err(StorageError::not_found(format!("store {store_id}")));
    }
    let last: Max = diesel::sql_query("SELECT COALESCE(max(hlc), 0) AS n FROM master_changes")
        .get_result(conn)?;
    let hlc = (now_millis() << 16).max(last.n + 1).max(floor + 1);
    let cursor: Max = diesel::sql_query(
        "INSERT INTO master_changes (store_id, kind, entity_id, hlc, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING cursor AS n",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(entity_id)
    .bind::<BigInt, _>(hlc)
    .bind::<Text, _>(body)
    .bind::<BigInt, _>(now_millis())
    .get_result(conn)?;
    Ok((cursor.n, hlc))
}

fn json(v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// A tax category edit authored in the cloud for one store (the cloud is its
/// only author). Returns the change's cursor.
pub fn author_tax(conn: &mut CloudConn, store_id: &str, change: &TaxChange) -> Result<i64> {
    change.check()?;
    let body = json(change)?;
    conn.transaction(|conn| Ok(feed(conn, store_id, "tax_category", &change.code, body, 0)?.0))
}

/// A product edit authored in the cloud for one store. Returns the change's
/// cursor.
pub fn author_product(conn: &mut CloudConn, store_id: &str, change: &ProductChange) -> Result<i64> {
    change.check()?;
    conn.transaction(|conn| {
        let current = row(conn, store_id, &change.sku)?;
        let floor = current.as_ref().map_or(0, |r| r.hlc);
        let body = change.over(
            &current
                .as_ref()
                .map_or(serde_json::json!({}), |r| r.body.clone()),
        );
        let (cursor, hlc) = feed(conn, store_id, "product", &change.sku, json(change)?, floor)?;
        diesel::sql_query(
            "INSERT INTO store_products (store_id, sku, body, hlc, origin, cursor, updated_at) \
             VALUES ($1, $2, $3, $4, 'cloud', $5, $6) \
             ON CONFLICT (store_id, sku) DO UPDATE SET body = EXCLUDED.body, hlc = EXCLUDED.hlc, \
               origin = 'cloud', cursor = EXCLUDED.cursor, updated_at = EXCLUDED.updated_at",
        )
        .bind::<Text, _>(store_id)
        .bind::<Text, _>(&change.sku)
        .bind::<Jsonb, _>(&body)
        .bind::<BigInt, _>(hlc)
        .bind::<BigInt, _>(cursor)
        .bind::<BigInt, _>(now_millis())
        .execute(conn)?;
        Ok(cursor)
    })
}

/// One change of the feed.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, Serialize)]
pub struct Change {
    #[diesel(sql_type = BigInt)]
    pub cursor: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub entity_id: String,
    #[diesel(sql_type = BigInt)]
    pub hlc: i64,
    #[diesel(sql_type = Text)]
    pub body: String,
}

/// The store's changes after `cursor`, in cursor order.
pub fn changes(
    conn: &mut CloudConn,
    store_id: &str,
    cursor: i64,
    limit: i64,
) -> Result<Vec<Change>> {
    Ok(diesel::sql_query(
        "SELECT cursor, kind, entity_id, hlc, body FROM master_changes \
         WHERE store_id = $1 AND cursor > $2 ORDER BY cursor LIMIT $3",
    )
    .bind::<Text, _>(store_id)
    .bind::<BigInt, _>(cursor)
    .bind::<BigInt, _>(limit.clamp(1, 5000))
    .load(conn)?)
}

/// The fields of a store's product event that the cloud keeps.
#[derive(Deserialize)]
pub(super) struct StoreProduct {
    sku: String,
    name: String,
    price_minor: i64,
    active: bool,
    tax_category: String,
    #[serde(default)]
    barcodes: Vec<String>,
}

/// A product edit made at the store (its `master` event), merged by last
/// writer on the HLC. `seen` is the change-feed cursor the store had applied
/// when it made the edit: a cloud edit after it was concurrent, and whichever
/// of the two loses is kept in the conflict log.
pub(super) fn apply_store_product(
    conn: &mut PgConnection,
    store_id: &str,
    p: &StoreProduct,
    hlc: i64,
    seen: i64,
) -> Result<()> {
    let body = serde_json::json!({
        "sku": p.sku, "name": p.name, "price_minor": p.price_minor, "active": p.active, "tax_category": p.tax_category,
        "barcodes": p.barcodes,
    });
    let current = row(conn, store_id, &p.sku)?;
    let now = now_millis();
    if let Some(r) = &current {
        let fields = |v: &serde_json::Value| {
            ["name", "price_minor", "active"].map(|k| v.get(k).cloned().unwrap_or_default())
        };
        let differ = fields(&r.body) != fields(&body);
        let concurrent = r.origin == "cloud" && r.cursor > seen;
        if hlc <= r.hlc {
            if hlc < r.hlc && concurrent && differ {
                conflict(
                    conn,
                    store_id,
                    &p.sku,
                    ("cloud", r.hlc, &r.body),
                    ("store", hlc, &body),
                )?;
            }
            return Ok(()); // older, or the store's echo of a cloud edit
        }
        if concurrent && differ {
            conflict(
                conn,
                store_id,
                &p.sku,
                ("store", hlc, &body),
                ("cloud", r.hlc, &r.body),
            )?;
        }
    }
    diesel::sql_query(
        "INSERT INTO store_products (store_id, sku, body, hlc, origin, cursor, updated_at) \
         VALUES ($1, $2, $3, $4, 'store', 0, $5) \
         ON CONFLICT (store_id, sku) DO UPDATE SET body = EXCLUDED.body, hlc = EXCLUDED.hlc, \
           origin = 'store', cursor = 0, updated_at = EXCLUDED.updated_at",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(&p.sku)
    .bind::<Jsonb, _>(&body)
    .bind::<BigInt, _>(hlc)
    .bind::<BigInt, _>(now)
    .execute(conn)?;
    Ok(())
}

fn conflict(
    conn: &mut PgConnection,
    store_id: &str,
    sku: &str,
    kept: (&str, i64, &serde_json::Value),
    lost: (&str, i64, &serde_json::Value),
) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO master_conflicts (store_id, kind, entity_id, kept_origin, kept_hlc, kept_body, \
           lost_origin, lost_hlc, lost_body, at) VALUES ($1, 'product', $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(sku)
    .bind::<Text, _>(kept.0)
    .bind::<BigInt, _>(kept.1)
    .bind::<Text, _>(kept.2.to_string())
    .bind::<Text, _>(lost.0)
    .bind::<BigInt, _>(lost.1)
    .bind::<Text, _>(lost.2.to_string())
    .bind::<BigInt, _>(now_millis())
    .execute(conn)?;
    raise(
        conn,
        store_id,
        "master-conflict",
        &format!(
            "product {sku} was edited at the store and in the cloud at once: the {} edit (later) is kept, the {} edit is in the conflict log",
            kept.0, lost.0
        ),
    )
}
