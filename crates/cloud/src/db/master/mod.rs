//! Master data in the cloud: products per store, authored here (the admin) or
//! at the store (its `master` events), merged by last writer on the hybrid
//! logical clock; the losing version of a concurrent edit is kept in
//! `master_conflicts`. Stores read the cloud's edits as a change feed with a
//! monotonic cursor (`feed`); the store's own edits merge in `store_edits`.
//! This file: authoring a change in the cloud.

use super::CloudConn;
use super::stores::raise;
use crate::error::{CloudError, Result};
use diesel::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text};
use outpost_domain::ids::now_millis;
use serde::{Deserialize, Serialize};

mod feed;
mod store_edits;

pub use feed::*;
pub(crate) use store_edits::{StoreProduct, apply_store_product};

/// A product edit: the SKU and the fields it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// The invoicing company's code (the store's default when never set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Sold by weight (quantities in thousandths of a kilogram).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighed: Option<bool>,
    /// Sends a kitchen ticket when sold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kitchen: Option<bool>,
    /// The till's item-grid tab ('' for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// On the item grid's favourites tab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favourite: Option<bool>,
}

impl ProductChange {
    fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(CloudError::Unprocessable(m.to_owned()));
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
        if let Some(c) = &self.company
            && !code_ok(c)
        {
            return bad("company must be a code of 1 to 32 characters");
        }
        if let Some(c) = &self.category
            && (c.trim().chars().count() > 40 || c.chars().any(char::is_control))
        {
            return bad("category must be at most 40 printable characters");
        }
        if self.name.is_none()
            && self.price_minor.is_none()
            && self.active.is_none()
            && self.tax_category.is_none()
            && self.barcodes.is_none()
            && self.company.is_none()
            && self.weighed.is_none()
            && self.kitchen.is_none()
            && self.category.is_none()
            && self.favourite.is_none()
        {
            return bad(
                "the change sets nothing: give name, price_minor, active, tax_category, barcodes, company, weighed, kitchen, category or favourite",
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
        if let Some(v) = &self.company {
            o.insert("company".into(), v.clone().into());
        }
        if let Some(v) = self.weighed {
            o.insert("weighed".into(), v.into());
        }
        if let Some(v) = self.kitchen {
            o.insert("kitchen".into(), v.into());
        }
        if let Some(v) = &self.category {
            o.insert("category".into(), v.trim().into());
        }
        if let Some(v) = self.favourite {
            o.insert("favourite".into(), v.into());
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
#[serde(deny_unknown_fields)]
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
        let bad = |m: &str| Err(CloudError::Unprocessable(m.to_owned()));
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

/// A 404 for a store the cloud does not know.
fn store_known(conn: &mut PgConnection, store_id: &str) -> Result<()> {
    let known: Max = diesel::sql_query("SELECT count(*) AS n FROM stores WHERE id = $1")
        .bind::<Text, _>(store_id)
        .get_result(conn)?;
    if known.n == 0 {
        return Err(CloudError::not_found(format!("store {store_id}")));
    }
    Ok(())
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
    store_known(conn, store_id)?;
    let last: Max = diesel::sql_query("SELECT COALESCE(max(hlc), 0) AS n FROM master_changes")
        .get_result(conn)?;
    let hlc = (now_millis() << 16).max(last.n + 1).max(floor + 1);
    let cursor = append(conn, store_id, kind, entity_id, hlc, &body, false)?;
    Ok((cursor, hlc))
}

/// Inserts one change into the store's feed (the caller holds the
/// writers' lock); returns its cursor.
fn append(
    conn: &mut PgConnection,
    store_id: &str,
    kind: &str,
    entity_id: &str,
    hlc: i64,
    body: &str,
    resent: bool,
) -> Result<i64> {
    let cursor: Max = diesel::sql_query(
        "INSERT INTO master_changes (store_id, kind, entity_id, hlc, body, created_at, resent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING cursor AS n",
    )
    .bind::<Text, _>(store_id)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(entity_id)
    .bind::<BigInt, _>(hlc)
    .bind::<Text, _>(body)
    .bind::<BigInt, _>(now_millis())
    .bind::<diesel::sql_types::Bool, _>(resent)
    .get_result(conn)?;
    Ok(cursor.n)
}

fn json(v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CloudError::Corrupt(e.to_string()))
}

/// What authoring a change gives back: its place in the store's feed and the
/// entity it is about (a new staff member's id is made here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authored {
    pub cursor: i64,
    pub entity_id: String,
}

/// Appends one change the cloud is the only author of.
fn author(
    conn: &mut CloudConn,
    store_id: &str,
    kind: &str,
    entity_id: &str,
    body: &impl Serialize,
) -> Result<Authored> {
    let body = json(body)?;
    conn.transaction(|conn| {
        Ok(Authored {
            cursor: feed(conn, store_id, kind, entity_id, body, 0)?.0,
            entity_id: entity_id.to_owned(),
        })
    })
}

/// A tax category edit authored in the cloud for one store (the cloud is its
/// only author).
pub fn author_tax(conn: &mut CloudConn, store_id: &str, change: &TaxChange) -> Result<Authored> {
    change.check()?;
    author(conn, store_id, "tax_category", &change.code, change)
}

fn code_ok(code: &str) -> bool {
    !code.trim().is_empty() && code.len() <= 32 && !code.chars().any(char::is_control)
}

fn text_ok(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// A company (legal entity) edit: the code and the fields it sets (the name
/// for a new company).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyChange {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The company's tax registration number, printed on its receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
}

/// A company edit authored in the cloud for one store.
pub fn author_company(
    conn: &mut CloudConn,
    store_id: &str,
    change: &CompanyChange,
) -> Result<Authored> {
    let bad = |m: &str| Err(CloudError::Unprocessable(m.to_owned()));
    if !code_ok(&change.code) {
        return bad("code must be 1 to 32 printable characters");
    }
    if change.name.as_deref().is_some_and(|n| !text_ok(n, 200)) {
        return bad("name must be 1 to 200 printable characters");
    }
    if change
        .tax_id
        .as_deref()
        .is_some_and(|t| t.len() > 64 || t.chars().any(char::is_control))
    {
        return bad("tax_id must be at most 64 printable characters");
    }
    if change.name.is_none() && change.tax_id.is_none() {
        return bad("the change sets nothing: give name or tax_id");
    }
    author(conn, store_id, "company", &change.code, change)
}

/// A staff edit as the admin sends it: a new member (no `id`; name, role and
/// PIN) or an edit of one by id. The PIN never leaves the cloud: the feed
/// carries its salted hash.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffChange {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// cashier | supervisor | manager | admin
    #[serde(default)]
    pub role: Option<String>,
    /// 4 to 8 digits.
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

impl std::fmt::Debug for StaffChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffChange")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("pin", &self.pin.as_ref().map(|_| "***"))
            .field("active", &self.active)
            .finish()
    }
}

#[derive(Serialize)]
struct StaffFeed<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
}

/// A staff edit authored in the cloud for one store; a new member's id is
/// made here and returned.
pub fn author_staff(
    conn: &mut CloudConn,
    store_id: &str,
    change: &StaffChange,
) -> Result<Authored> {
    let bad = |m: &str| Err(CloudError::Unprocessable(m.to_owned()));
    if let Some(r) = &change.role
        && outpost_domain::Role::parse(r).is_err()
    {
        return bad("role must be cashier, supervisor, manager or admin");
    }
    if change.name.as_deref().is_some_and(|n| !text_ok(n, 100)) {
        return bad("name must be 1 to 100 printable characters");
    }
    let pin = match change.pin.as_deref().map(outpost_domain::Pin::parse) {
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => return bad("pin must be 4 to 8 digits"),
        None => None,
    };
    let id = match &change.id {
        Some(id) if text_ok(id, 64) => id.clone(),
        Some(_) => return bad("id must be 1 to 64 printable characters"),
        None => {
            if change.name.is_none() || change.role.is_none() || pin.is_none() {
                return bad("a new staff member needs name, role and pin");
            }
            outpost_domain::ids::new_id()
        }
    };
    if change.name.is_none() && change.role.is_none() && pin.is_none() && change.active.is_none() {
        return bad("the change sets nothing: give name, role, pin or active");
    }
    let body = StaffFeed {
        id: &id,
        name: change.name.as_deref(),
        role: change.role.as_deref(),
        pin_hash: pin.as_ref().map(outpost_domain::secrets::hash_pin),
        active: change.active,
    };
    author(conn, store_id, "staff", &id, &body)
}

/// The store's settings: its name, its UTC offset in minutes (business days
/// of shifts opened after it) and its default invoicing company's code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettingsChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_minutes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_company: Option<String>,
}

/// A settings edit authored in the cloud for one store.
pub fn author_settings(
    conn: &mut CloudConn,
    store_id: &str,
    change: &StoreSettingsChange,
) -> Result<Authored> {
    let bad = |m: &str| Err(CloudError::Unprocessable(m.to_owned()));
    if change.name.as_deref().is_some_and(|n| !text_ok(n, 200)) {
        return bad("name must be 1 to 200 printable characters");
    }
    if change
        .utc_offset_minutes
        .is_some_and(|m| !(-14 * 60..=14 * 60).contains(&m))
    {
        return bad("utc_offset_minutes must be -840 to 840");
    }
    if change
        .default_company
        .as_deref()
        .is_some_and(|c| !code_ok(c))
    {
        return bad("default_company must be a code of 1 to 32 characters");
    }
    if change.name.is_none()
        && change.utc_offset_minutes.is_none()
        && change.default_company.is_none()
    {
        return bad("the change sets nothing: give name, utc_offset_minutes or default_company");
    }
    author(conn, store_id, "store", store_id, change)
}

/// One price of a price list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListPrice {
    pub sku: String,
    pub price_minor: i64,
}

/// A price-list version: new prices for many products that take effect
/// together at `effective_at` (Unix milliseconds; now or in the past means at
/// once). Each version is applied once; a correction is a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceListChange {
    pub version: String,
    pub effective_at: i64,
    pub prices: Vec<ListPrice>,
}

/// The most prices one version may hold.
pub const MAX_LIST_PRICES: usize = 10_000;

/// A price-list version authored in the cloud for one store.
pub fn author_price_list(
    conn: &mut CloudConn,
    store_id: &str,
    change: &PriceListChange,
) -> Result<Authored> {
    let bad = |m: String| Err(CloudError::Unprocessable(m));
    if change.version.trim().is_empty()
        || change.version.len() > 64
        || change.version.chars().any(char::is_control)
    {
        return bad("version must be 1 to 64 printable characters".into());
    }
    if change.effective_at < 0 {
        return bad("effective_at must be Unix milliseconds".into());
    }
    if change.prices.is_empty() || change.prices.len() > MAX_LIST_PRICES {
        return bad(format!("prices must hold 1 to {MAX_LIST_PRICES} entries"));
    }
    let mut seen = std::collections::HashSet::new();
    for p in &change.prices {
        if p.sku.trim().is_empty() || p.sku.len() > 64 {
            return bad("each sku must be 1 to 64 characters".into());
        }
        if !(0..=outpost_domain::money::MAX_MINOR).contains(&p.price_minor) {
            return bad(format!("the price of {} is out of range", p.sku));
        }
        if !seen.insert(p.sku.as_str()) {
            return bad(format!("{} is listed twice", p.sku));
        }
    }
    author(conn, store_id, "price_list", &change.version, change)
}

/// A product edit authored in the cloud for one store.
pub fn author_product(
    conn: &mut CloudConn,
    store_id: &str,
    change: &ProductChange,
) -> Result<Authored> {
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
        Ok(Authored {
            cursor,
            entity_id: change.sku.clone(),
        })
    })
}

/// A store's product as the cloud knows it: its last known fields and who
/// made the last edit.
#[derive(Debug, Clone, PartialEq, QueryableByName, Serialize)]
pub struct KnownProduct {
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Jsonb)]
    pub body: serde_json::Value,
    #[diesel(sql_type = Text)]
    pub origin: String,
    #[diesel(sql_type = BigInt)]
    pub updated_at: i64,
}

/// The store's products the cloud knows of, by SKU (404 for an unknown store).
pub fn products(conn: &mut CloudConn, store_id: &str) -> Result<Vec<KnownProduct>> {
    store_known(conn, store_id)?;
    Ok(diesel::sql_query(
        "SELECT sku, body, origin, updated_at FROM store_products WHERE store_id = $1 ORDER BY sku",
    )
    .bind::<Text, _>(store_id)
    .load(conn)?)
}
