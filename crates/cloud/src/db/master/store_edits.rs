//! A product edit made at the store (its `master` event), merged with the
//! cloud's by last writer on the hybrid logical clock; the loser of a
//! concurrent edit goes to `master_conflicts` with an alarm.

use super::*;

/// The fields of a store's product event that the cloud keeps.
#[derive(Deserialize)]
pub(crate) struct StoreProduct {
    sku: String,
    name: String,
    price_minor: i64,
    active: bool,
    tax_category: String,
    #[serde(default)]
    barcodes: Vec<String>,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    weighed: bool,
    #[serde(default)]
    kitchen: bool,
    /// Since schema 4.
    #[serde(default)]
    category: String,
    #[serde(default)]
    favourite: bool,
}

/// A product edit made at the store (its `master` event), merged by last
/// writer on the HLC. `seen` is the change-feed cursor the store had applied
/// when it made the edit: a cloud edit after it was concurrent, and whichever
/// of the two loses is kept in the conflict log.
pub(crate) fn apply_store_product(
    conn: &mut PgConnection,
    store_id: &str,
    p: &StoreProduct,
    hlc: i64,
    seen: i64,
) -> Result<()> {
    let body = serde_json::json!({
        "sku": p.sku, "name": p.name, "price_minor": p.price_minor, "active": p.active, "tax_category": p.tax_category,
        "barcodes": p.barcodes, "currency": p.currency, "weighed": p.weighed, "kitchen": p.kitchen,
        "category": p.category, "favourite": p.favourite,
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
