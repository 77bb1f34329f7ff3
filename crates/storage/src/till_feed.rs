//! The change feed a register agent pulls so its till can sell with the edge
//! away: products, barcodes, tax categories, price-list versions, companies,
//! staff (with their PIN hashes and roles) and the store's settings, its
//! currency among them (the currency table itself is compiled into every
//! tier: `outpost_domain::currency`).
//!
//! Database triggers (migration `till_feed`) record which row of which kind
//! changed, numbered in commit order, whatever wrote it: the manager page,
//! the cloud's feed, a price list taking effect. [`changes`] answers "what
//! changed after cursor N" with each row's current state, or that it is
//! gone, so a row written ten times is sent once and a new till reads
//! everything from 0. The cursor belongs to one epoch of the edge: a till
//! that names another epoch (the edge's database was restored) or a cursor
//! past the end is answered from 0, marked `reset`.
//!
//! [`install`] applies one pull (all its pages) to a till's own database in
//! one transaction, parents before children, so no row points at one that is
//! not there yet, and keeps the cursor with it.

use crate::db::{AnyConnection, write_tx};
use crate::error::{Result, StorageError};
use crate::schema::{
    barcodes, companies, node, pin_attempts, price_list_versions, products, staff, stores,
    tax_categories, till_feed, till_feed_cursor, till_feed_seq,
};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The shape of [`Page`] and of the rows in it. A till takes this one and the
/// one before.
pub const SCHEMA: i32 = 1;

/// The most changes one page holds.
pub const PAGE_MAX: i64 = 1000;

/// One row that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    /// One of [`KINDS`].
    pub kind: String,
    /// The row's key: its id (a barcode's code, a price list's version).
    pub key: String,
    /// The row as it is now; `None` when it is gone.
    pub row: Option<serde_json::Value>,
}

/// One answer of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub schema: i32,
    /// The edge's epoch the cursors belong to.
    pub epoch: String,
    /// Answered from the start: the till's cursor was of another epoch or
    /// past the end. Rows the till holds that this pull does not name are
    /// gone.
    pub reset: bool,
    pub changes: Vec<Change>,
    /// The cursor to ask from next.
    pub next: i64,
    /// More changes wait after `next`: a till asks again and installs the
    /// pages together.
    pub more: bool,
}

/// The kinds, parents first: the order a pull is installed in.
pub const KINDS: [&str; 7] = [
    "company",
    "tax_category",
    "store",
    "staff",
    "product",
    "barcode",
    "price_list",
];

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = companies, primary_key(id))]
struct Company {
    id: String,
    code: String,
    name: String,
    tax_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = tax_categories, primary_key(id))]
struct TaxCategory {
    id: String,
    code: String,
    name: String,
    rate_ppm: i64,
    mode: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = stores, primary_key(id))]
struct Store {
    id: String,
    code: String,
    name: String,
    currency: String,
    utc_offset_minutes: i32,
    default_company_id: String,
    locale: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = staff, primary_key(id))]
struct Staff {
    id: String,
    store_id: String,
    name: String,
    role: String,
    pin_hash: String,
    active: bool,
    created_at: i64,
    updated_hlc: i64,
    /// When a manager last lifted this person's PIN lockouts (absent from
    /// an edge before it: a till takes the row as it is).
    #[serde(default)]
    pins_unlocked_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = products, primary_key(id))]
struct Product {
    id: String,
    company_id: String,
    sku: String,
    name: String,
    price_minor: i64,
    tax_category_id: String,
    weighed: bool,
    kitchen: bool,
    active: bool,
    version: i64,
    updated_hlc: i64,
    /// The item grid's tab and favourites (absent from an edge before
    /// them: none).
    #[serde(default)]
    category: String,
    #[serde(default)]
    favourite: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = barcodes, primary_key(code))]
struct Barcode {
    code: String,
    product_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = price_list_versions, primary_key(version), treat_none_as_null = true)]
struct PriceList {
    version: String,
    effective_at: i64,
    prices: String,
    received_at: i64,
    applied_at: Option<i64>,
}

/// Each kind's rows by key, as JSON: `$key` is the key column.
macro_rules! load_rows {
    ($conn:expr, $table:ident, $key:ident, $row:ty, $keys:expr) => {{
        let rows: Vec<$row> = $table::table
            .filter($table::$key.eq_any($keys))
            .select(<$row>::as_select())
            .load($conn)?;
        rows.into_iter()
            .map(|r| Ok((r.$key.clone(), to_value(&r)?)))
            .collect::<Result<BTreeMap<String, serde_json::Value>>>()
    }};
}

/// Writes a row as sent: updated when its key is here, inserted otherwise.
macro_rules! upsert_row {
    ($conn:expr, $table:ident, $key:ident, $row:ty, $value:expr) => {{
        let row: $row = serde_json::from_value($value).map_err(|e| {
            StorageError::Unprocessable(format!("a {} row: {e}", stringify!($table)))
        })?;
        let n = diesel::update($table::table.find(&row.$key))
            .set(&row)
            .execute($conn)?;
        if n == 0 {
            diesel::insert_into($table::table)
                .values(&row)
                .execute($conn)?;
        }
    }};
}
pub(crate) use upsert_row;

fn to_value(row: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(row).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// The rows of `kind` with these keys, by key (a key missing: the row is gone).
fn rows_of(
    conn: &mut AnyConnection,
    kind: &str,
    keys: &[String],
) -> Result<BTreeMap<String, serde_json::Value>> {
    match kind {
        "company" => load_rows!(conn, companies, id, Company, keys),
        "tax_category" => load_rows!(conn, tax_categories, id, TaxCategory, keys),
        "store" => load_rows!(conn, stores, id, Store, keys),
        "staff" => {
            // Someone who may no longer sign in needs no PIN hash at a till.
            let mut rows = load_rows!(conn, staff, id, Staff, keys)?;
            for row in rows.values_mut() {
                if row["active"] == false {
                    row["pin_hash"] = "".into();
                }
            }
            Ok(rows)
        }
        "product" => load_rows!(conn, products, id, Product, keys),
        "barcode" => load_rows!(conn, barcodes, code, Barcode, keys),
        "price_list" => load_rows!(conn, price_list_versions, version, PriceList, keys),
        other => Err(StorageError::Corrupt(format!(
            "till_feed names a kind it has no table for: {other}"
        ))),
    }
}

/// What changed after `after` in epoch `epoch` (`None`: a till that never
/// pulled), at most `limit` rows (1 to [`PAGE_MAX`]).
pub fn changes(
    conn: &mut AnyConnection,
    epoch: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Page> {
    // One snapshot: the marks and the rows they name are read as of one
    // moment, so a row never points at a parent this page cannot know.
    conn.transaction(|conn| {
        if let AnyConnection::Postgresql(_) = conn {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(conn)?;
        }
        page(conn, epoch, after, limit)
    })
}

fn page(conn: &mut AnyConnection, epoch: Option<&str>, after: i64, limit: i64) -> Result<Page> {
    let limit = limit.clamp(1, PAGE_MAX);
    let ours: String = node::table.select(node::node_epoch).first(conn)?;
    let head: i64 = till_feed_seq::table
        .select(till_feed_seq::seq)
        .first(conn)?;
    let reset = after != 0 && (epoch != Some(ours.as_str()) || after > head || after < 0);
    let after = if reset { 0 } else { after.max(0) };
    let mut marks: Vec<(String, String, i64)> = till_feed::table
        .filter(till_feed::seq.gt(after))
        .order(till_feed::seq)
        .limit(limit + 1)
        .select((till_feed::kind, till_feed::key, till_feed::seq))
        .load(conn)?;
    let more = marks.len() as i64 > limit;
    marks.truncate(limit as usize);
    let next = marks.last().map_or(after, |m| m.2);
    let mut keys: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (kind, key, _) in &marks {
        keys.entry(kind.as_str()).or_default().push(key.clone());
    }
    let mut rows = BTreeMap::new();
    for (kind, keys) in keys {
        rows.insert(kind.to_owned(), rows_of(conn, kind, &keys)?);
    }
    let changes = marks
        .into_iter()
        .map(|(kind, key, seq)| {
            let row = rows.get_mut(&kind).and_then(|r| r.remove(&key));
            Change {
                seq,
                kind,
                key,
                row,
            }
        })
        .collect();
    Ok(Page {
        schema: SCHEMA,
        epoch: ours,
        reset,
        changes,
        next,
        more,
    })
}

/// Where this till's feed stands: the edge's epoch and the cursor in it
/// (`None`: it never pulled).
pub fn cursor(conn: &mut AnyConnection) -> Result<Option<(String, i64)>> {
    Ok(till_feed_cursor::table
        .select((till_feed_cursor::epoch, till_feed_cursor::seq))
        .first(conn)
        .optional()?)
}

/// What an install did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Rows written (new or changed).
    pub written: usize,
    /// Rows removed.
    pub removed: usize,
    /// Rows of kinds this till does not know (a newer edge): left out.
    pub skipped: usize,
}

/// Applies one pull, `pages` in the order they came, and keeps the cursor
/// of the last, in one transaction. Refuses pages of a schema this till
/// does not take, or of two epochs.
pub fn install(conn: &mut AnyConnection, pages: &[Page]) -> Result<Installed> {
    let Some(last) = pages.last() else {
        return Ok(Installed::default());
    };
    if let Some(p) = pages
        .iter()
        .find(|p| p.schema != SCHEMA && p.schema != SCHEMA - 1)
    {
        return Err(StorageError::Unprocessable(format!(
            "a till feed page of schema {} (this till takes {} and {})",
            p.schema,
            SCHEMA - 1,
            SCHEMA
        )));
    }
    if pages.iter().any(|p| p.epoch != last.epoch) || pages[1..].iter().any(|p| p.reset) {
        return Err(StorageError::Unprocessable(
            "a till feed pull whose pages are of two epochs of the edge".into(),
        ));
    }
    // The latest state of each row (a later page wins), then parents first
    // and, within a kind, in the order the edge wrote them (two rows that
    // swapped a unique code are written in that order too).
    let mut newest: HashMap<(&str, &str), &Change> = HashMap::new();
    let mut skipped = 0;
    for c in pages.iter().flat_map(|p| &p.changes) {
        if KINDS.contains(&c.kind.as_str()) {
            newest.insert((c.kind.as_str(), c.key.as_str()), c);
        } else {
            skipped += 1;
        }
    }
    let rank = |kind: &str| KINDS.iter().position(|k| *k == kind).unwrap_or(KINDS.len());
    let mut latest: Vec<&Change> = newest.into_values().collect();
    latest.sort_by_key(|c| (rank(&c.kind), c.seq));
    write_tx(conn, |conn| {
        let mut out = Installed {
            skipped,
            ..Installed::default()
        };
        for c in &latest {
            if let Some(v) = &c.row {
                upsert(conn, &c.kind, v.clone())?;
                out.written += 1;
            }
        }
        // Children go first.
        for c in latest.iter().rev() {
            if c.row.is_none() {
                out.removed += remove(conn, &c.kind, &c.key)?;
            }
        }
        if pages[0].reset {
            out.removed += drop_unnamed_barcodes(conn, &latest)?;
        }
        diesel::delete(till_feed_cursor::table).execute(conn)?;
        diesel::insert_into(till_feed_cursor::table)
            .values((
                till_feed_cursor::id.eq(1),
                till_feed_cursor::epoch.eq(&last.epoch),
                till_feed_cursor::seq.eq(last.next),
            ))
            .execute(conn)?;
        Ok(out)
    })
}

fn upsert(conn: &mut AnyConnection, kind: &str, v: serde_json::Value) -> Result<()> {
    match kind {
        "company" => upsert_row!(conn, companies, id, Company, v),
        "tax_category" => upsert_row!(conn, tax_categories, id, TaxCategory, v),
        "store" => upsert_row!(conn, stores, id, Store, v),
        "staff" => staff_row(conn, v)?,
        "product" => upsert_row!(conn, products, id, Product, v),
        "barcode" => upsert_row!(conn, barcodes, code, Barcode, v),
        "price_list" => upsert_row!(conn, price_list_versions, version, PriceList, v),
        other => unreachable!("a kind outside KINDS: {other}"),
    }
    Ok(())
}

/// A staff row. When a manager lifted the person's lockouts on the edge
/// since the till last heard, the lockouts the till counted before that
/// time are lifted too (one counted later stands).
fn staff_row(conn: &mut AnyConnection, v: serde_json::Value) -> Result<()> {
    let unlocked = v.get("pins_unlocked_at").and_then(|t| t.as_i64());
    let id = v
        .get("id")
        .and_then(|i| i.as_str())
        .unwrap_or("")
        .to_owned();
    let before: Option<i64> = staff::table
        .find(&id)
        .select(staff::pins_unlocked_at)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
    upsert_row!(conn, staff, id, Staff, v);
    if let Some(at) = unlocked.filter(|at| before.is_none_or(|b| b < *at)) {
        let counted: Vec<(String, i32, i64)> = pin_attempts::table
            .filter(pin_attempts::staff_id.eq(&id))
            .select((
                pin_attempts::device_key,
                pin_attempts::failures,
                pin_attempts::locked_until,
            ))
            .load(conn)?;
        for (key, failures, until) in counted {
            if locked_since(failures, until) <= at {
                diesel::delete(pin_attempts::table.find((&id, &key))).execute(conn)?;
            }
        }
    }
    Ok(())
}

/// When a lockout of `failures` wrong PINs, running until `until`, began.
pub(crate) fn locked_since(failures: i32, until: i64) -> i64 {
    until - outpost_domain::staff::lockout_seconds(failures) * 1000
}

/// Removes a row the edge no longer has. Only barcodes are ever removed
/// there; other rows are deactivated, and a till keeps what its own sales
/// point at.
fn remove(conn: &mut AnyConnection, kind: &str, key: &str) -> Result<usize> {
    Ok(match kind {
        "barcode" => diesel::delete(barcodes::table.find(key)).execute(conn)?,
        "price_list" => diesel::delete(price_list_versions::table.find(key)).execute(conn)?,
        _ => 0,
    })
}

/// After a pull from the start: the barcodes it did not name are gone.
fn drop_unnamed_barcodes(conn: &mut AnyConnection, latest: &[&Change]) -> Result<usize> {
    let named: HashSet<&str> = latest
        .iter()
        .filter(|c| c.kind == "barcode" && c.row.is_some())
        .map(|c| c.key.as_str())
        .collect();
    let here: Vec<String> = barcodes::table.select(barcodes::code).load(conn)?;
    let gone: Vec<&String> = here
        .iter()
        .filter(|c| !named.contains(c.as_str()))
        .collect();
    Ok(diesel::delete(barcodes::table.filter(barcodes::code.eq_any(gone))).execute(conn)?)
}
