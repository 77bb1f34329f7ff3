//! Master data from the cloud, applied at the store.
//!
//! A pulled change is applied with the store's cursor in one transaction. The
//! later edit by hybrid logical clock wins: a change older than the store's own
//! edit of the same product is not applied and both versions go to the audit
//! log (`master.conflict`); the cloud, merging the store's edit by the same
//! rule, keeps the same winner. A central price change that the store learns
//! late flags the orders it sold since at the old price (`price_override`,
//! in the adjustment queue) — the customer keeps the price they paid — and
//! later sales use the new price.
//!
//! Besides products and tax categories the feed carries companies, staff
//! (with a PIN hash, never a PIN; the later edit by HLC wins), the store's
//! settings and price-list versions that take effect at a set time. A change
//! this edge cannot apply (a kind it does not know, a new product without its
//! price) is skipped and the audit log says why (`master.skipped`).

use crate::audit;
use crate::catalog;
use crate::db::{AnyConnection, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::{companies, node, price_list_versions, products, sessions, staff, stores};
use diesel::prelude::*;
use outpost_domain::{Hlc, Role};
use serde::{Deserialize, Serialize};

mod product;

/// What of the cloud's feed this edge understands (`PullRequest.feed_version`):
/// 2, re-sent changes.
pub const FEED_VERSION: i32 = 2;

/// One change of the cloud's feed.
#[derive(Debug, Clone)]
pub struct Change {
    pub cursor: i64,
    pub kind: String,
    pub hlc: i64,
    pub body: String,
    /// Appended by a re-send of the store's master data: the entity as the
    /// cloud holds it, with the time of its last edit. Applied unless the
    /// store's copy is later, or already holds it (`Applied::kept`, not a
    /// conflict: a later copy here won when the cloud's edit first came, or
    /// was made since); a staff member's PIN only when its own edit is
    /// later than the store's copy.
    pub resent: bool,
}

#[derive(Debug, Deserialize)]
struct CompanyChange {
    code: String,
    name: Option<String>,
    tax_id: Option<String>,
}

#[derive(Deserialize)]
struct StaffChange {
    id: String,
    name: Option<String>,
    role: Option<String>,
    pin_hash: Option<String>,
    active: Option<bool>,
    /// A re-send's: the time of each field's last edit.
    #[serde(default)]
    hlc_of: std::collections::BTreeMap<String, i64>,
}

impl StaffChange {
    /// A re-send without its PIN unless the PIN's own edit (`hlc_of`) is
    /// later than the store's copy (`local_hlc`): the store sets PINs too
    /// (a manager's reset), and a later cloud edit of another field must
    /// not bring back the cloud's older PIN. The other fields only the
    /// cloud writes for a member it made, so they follow the entity's time.
    fn without_older_pin(&self, local_hlc: i64) -> StaffChange {
        let pin_at = self.hlc_of.get("pin_hash").copied().unwrap_or(i64::MIN);
        StaffChange {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role.clone(),
            pin_hash: self.pin_hash.clone().filter(|_| pin_at > local_hlc),
            active: self.active,
            hlc_of: Default::default(),
        }
    }

    /// What the audit log may say: never the PIN hash.
    fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "name": self.name, "role": self.role, "active": self.active,
            "pin_changed": self.pin_hash.is_some(),
        })
    }
}

#[derive(Debug, Deserialize)]
struct StoreChange {
    name: Option<String>,
    utc_offset_minutes: Option<i32>,
    /// The default invoicing company's code.
    default_company: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PriceListChange {
    version: String,
    effective_at: i64,
    prices: Vec<Price>,
}

/// The fields a change sets (`None`: left as they are), one UPDATE each.
#[derive(AsChangeset)]
#[diesel(table_name = companies)]
struct CompanyPatch<'a> {
    name: Option<&'a str>,
    tax_id: Option<&'a str>,
}

#[derive(AsChangeset)]
#[diesel(table_name = staff)]
struct StaffPatch<'a> {
    name: Option<&'a str>,
    role: Option<&'a str>,
    pin_hash: Option<&'a str>,
    active: Option<bool>,
    updated_hlc: i64,
}

#[derive(AsChangeset)]
#[diesel(table_name = stores)]
struct StorePatch<'a> {
    name: Option<&'a str>,
    utc_offset_minutes: Option<i32>,
    default_company_id: Option<&'a str>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Price {
    sku: String,
    price_minor: i64,
}

#[derive(Debug, Deserialize)]
struct TaxChange {
    code: String,
    name: Option<String>,
    rate_ppm: Option<i64>,
    mode: Option<String>,
}

/// What applying a pull did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub changed: usize,
    pub created: usize,
    /// Changes older than the store's own edit (kept out, logged).
    pub conflicts: usize,
    /// Orders flagged because they were sold at a price the cloud had changed.
    pub flagged_orders: usize,
    pub skipped: usize,
    /// Changes left for a later pull: their time is more than the clock's
    /// drift bound ahead of this edge's wall clock (a wrong clock on one
    /// side). Applied now, an edit made here after them would order before
    /// them, and the cloud would drop it.
    pub held_back: usize,
    /// Re-sent changes the store already held, or held a later edit of.
    pub kept: usize,
}

/// The cursor of the last change applied here.
pub fn cursor(conn: &mut AnyConnection) -> Result<i64> {
    Ok(node::table.select(node::master_version).first(conn)?)
}

/// Applies `changes` (in cursor order) and moves the cursor to `to`, in one
/// transaction.
pub fn apply(conn: &mut AnyConnection, changes: &[Change], to: i64) -> Result<Applied> {
    write_tx(conn, |conn| {
        let node = Node::load(conn)?;
        let cloud = Actor {
            staff_id: "cloud".into(),
            role: Role::Admin,
            device_id: None,
        };
        let mut out = Applied::default();
        let mut to = to;
        let ahead = crate::db::now_millis() + outpost_domain::clock::MAX_DRIFT_MS;
        for c in changes {
            if Hlc::from_raw(c.hlc).millis() > ahead {
                out.held_back = changes.iter().filter(|l| l.cursor >= c.cursor).count();
                to = c.cursor - 1;
                tracing::warn!(
                    cursor = c.cursor,
                    ahead_ms = Hlc::from_raw(c.hlc).millis() - crate::db::now_millis(),
                    "a master change from the cloud is timed too far ahead of this clock: it waits (is one of the clocks wrong?)"
                );
                break;
            }
            let corrupt = |e: serde_json::Error| {
                StorageError::Corrupt(format!("master change {}: {e}", c.cursor))
            };
            match c.kind.as_str() {
                "product" => {
                    let p: product::ProductChange =
                        serde_json::from_str(&c.body).map_err(corrupt)?;
                    product::apply(conn, &node, &cloud, c, &p, &mut out)?;
                }
                "tax_category" => {
                    let t: TaxChange = serde_json::from_str(&c.body).map_err(corrupt)?;
                    tax_category(conn, &node, &cloud, &t, &mut out)?;
                }
                "company" => {
                    let co: CompanyChange = serde_json::from_str(&c.body).map_err(corrupt)?;
                    company(conn, &node, &cloud, c, &co, &mut out)?;
                }
                "staff" => {
                    let st: StaffChange = serde_json::from_str(&c.body).map_err(corrupt)?;
                    staff_member(conn, &node, &cloud, c, &st, &mut out)?;
                }
                "store" => {
                    let st: StoreChange = serde_json::from_str(&c.body).map_err(corrupt)?;
                    store_settings(conn, &node, &cloud, c, &st, &mut out)?;
                }
                "price_list" => {
                    let pl: PriceListChange = serde_json::from_str(&c.body).map_err(corrupt)?;
                    price_list(conn, &node, &cloud, &pl, &mut out)?;
                }
                other => skip(
                    conn,
                    &node,
                    &cloud,
                    c,
                    &format!("a master change of a kind this edge does not know ({other})"),
                    &mut out,
                )?,
            }
        }
        diesel::update(node::table.filter(node::master_version.lt(to)))
            .set(node::master_version.eq(to))
            .execute(conn)?;
        Ok(out)
    })
}

/// A tax category from the cloud (its only author): created, or its name,
/// rate or mode changed. Sales after it use it; sold orders keep their taxes.
fn tax_category(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    t: &TaxChange,
    out: &mut Applied,
) -> Result<()> {
    use crate::schema::tax_categories as tc;
    let current: Option<(String, String, i64, String)> = tc::table
        .filter(tc::code.eq(&t.code))
        .select((tc::id, tc::name, tc::rate_ppm, tc::mode))
        .first(conn)
        .optional()?;
    match current {
        Some((id, name, rate, mode)) => {
            diesel::update(tc::table.find(&id))
                .set((
                    tc::name.eq(t.name.clone().unwrap_or(name)),
                    tc::rate_ppm.eq(t.rate_ppm.unwrap_or(rate)),
                    tc::mode.eq(t.mode.clone().unwrap_or(mode)),
                ))
                .execute(conn)?;
            out.changed += 1;
        }
        None => {
            let (Some(name), Some(rate), Some(mode)) = (&t.name, t.rate_ppm, &t.mode) else {
                tracing::warn!(code = %t.code, "a new tax category without name, rate and mode: skipped");
                out.skipped += 1;
                return Ok(());
            };
            diesel::insert_into(tc::table)
                .values((
                    tc::id.eq(crate::db::new_id()),
                    tc::code.eq(&t.code),
                    tc::name.eq(name),
                    tc::rate_ppm.eq(rate),
                    tc::mode.eq(mode),
                ))
                .execute(conn)?;
            out.created += 1;
        }
    }
    let detail =
        serde_json::json!({"code": t.code, "name": t.name, "rate_ppm": t.rate_ppm, "mode": t.mode});
    audit::by(conn, node, cloud, "master.tax_category", &t.code, detail)
}

/// Records a change this edge could not apply, so a person sees it.
fn skip(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    c: &Change,
    why: &str,
    out: &mut Applied,
) -> Result<()> {
    tracing::warn!(cursor = c.cursor, kind = %c.kind, reason = %why, "a master change was skipped");
    let detail = serde_json::json!({"cursor": c.cursor, "kind": c.kind, "reason": why});
    audit::by(conn, node, cloud, "master.skipped", &c.kind, detail)?;
    out.skipped += 1;
    Ok(())
}

fn company_by_code(conn: &mut AnyConnection, code: &str) -> Result<Option<String>> {
    Ok(companies::table
        .filter(companies::code.eq(code))
        .select(companies::id)
        .first(conn)
        .optional()?)
}

/// A company from the cloud: created, or its name or tax id changed.
fn company(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    c: &Change,
    co: &CompanyChange,
    out: &mut Applied,
) -> Result<()> {
    match company_by_code(conn, &co.code)? {
        Some(id) => {
            let patch = CompanyPatch {
                name: co.name.as_deref(),
                tax_id: co.tax_id.as_deref(),
            };
            if patch.name.is_some() || patch.tax_id.is_some() {
                diesel::update(companies::table.find(&id))
                    .set(&patch)
                    .execute(conn)?;
            }
            out.changed += 1;
        }
        None => {
            let Some(name) = &co.name else {
                let why = format!(
                    "company {} is new here and the change lacks its name",
                    co.code
                );
                return skip(conn, node, cloud, c, &why, out);
            };
            diesel::insert_into(companies::table)
                .values((
                    companies::id.eq(crate::db::new_id()),
                    companies::code.eq(&co.code),
                    companies::name.eq(name),
                    companies::tax_id.eq(co.tax_id.clone().unwrap_or_default()),
                ))
                .execute(conn)?;
            out.created += 1;
        }
    }
    let detail = serde_json::json!({"code": co.code, "name": co.name, "tax_id": co.tax_id});
    audit::by(conn, node, cloud, "master.company", &co.code, detail)
}

/// A staff member from the cloud, by id: created, or renamed, given another
/// role or PIN, or deactivated (their sessions end). The later edit by HLC
/// wins over one made at the store.
fn staff_member(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    c: &Change,
    st: &StaffChange,
    out: &mut Applied,
) -> Result<()> {
    node.observe(Hlc::from_raw(c.hlc));
    if let Some(r) = &st.role
        && Role::parse(r).is_err()
    {
        return skip(
            conn,
            node,
            cloud,
            c,
            &format!("staff {}: unknown role {r:?}", st.id),
            out,
        );
    }
    let mut detail = st.detail();
    let local: Option<i64> = staff::table
        .find(&st.id)
        .select(staff::updated_hlc)
        .first(conn)
        .optional()?;
    match local {
        Some(local_hlc) if c.resent && c.hlc < local_hlc => {
            out.kept += 1;
            return Ok(());
        }
        Some(local_hlc) if c.hlc <= local_hlc && !c.resent => {
            let detail = serde_json::json!({
                "staff": st.id, "kept": "store", "kept_hlc": local_hlc,
                "lost": "cloud", "lost_hlc": c.hlc, "lost_change": detail,
            });
            audit::by(conn, node, cloud, "master.conflict", &st.id, detail)?;
            out.conflicts += 1;
            return Ok(());
        }
        Some(local_hlc) => {
            let newer;
            let st = if c.resent {
                newer = st.without_older_pin(local_hlc);
                detail = newer.detail();
                &newer
            } else {
                st
            };
            let (name, role, pin_hash, active): (String, String, String, bool) = staff::table
                .find(&st.id)
                .select((staff::name, staff::role, staff::pin_hash, staff::active))
                .first(conn)?;
            let signs_out = st.role.as_ref().is_some_and(|r| *r != role)
                || st.pin_hash.as_ref().is_some_and(|h| *h != pin_hash)
                || (active && st.active == Some(false));
            let held = !signs_out
                && st.name.as_ref().is_none_or(|n| *n == name)
                && st.active.is_none_or(|a| a == active);
            if c.resent && held {
                out.kept += 1;
                return Ok(());
            }
            diesel::update(staff::table.find(&st.id))
                .set(&StaffPatch {
                    name: st.name.as_deref(),
                    role: st.role.as_deref(),
                    pin_hash: st.pin_hash.as_deref(),
                    active: st.active,
                    updated_hlc: c.hlc,
                })
                .execute(conn)?;
            if signs_out {
                diesel::delete(sessions::table.filter(sessions::staff_id.eq(&st.id)))
                    .execute(conn)?;
            }
            out.changed += 1;
        }
        None => {
            let (Some(name), Some(role), Some(pin_hash)) = (&st.name, &st.role, &st.pin_hash)
            else {
                let why = format!(
                    "staff {} is new here and the change lacks the name, role or PIN",
                    st.id
                );
                return skip(conn, node, cloud, c, &why, out);
            };
            diesel::insert_into(staff::table)
                .values((
                    staff::id.eq(&st.id),
                    staff::store_id.eq(&node.store_id),
                    staff::name.eq(name),
                    staff::role.eq(role),
                    staff::pin_hash.eq(pin_hash),
                    staff::active.eq(st.active.unwrap_or(true)),
                    staff::created_at.eq(crate::db::now_millis()),
                    staff::updated_hlc.eq(c.hlc),
                ))
                .execute(conn)?;
            out.created += 1;
        }
    }
    audit::by(conn, node, cloud, "master.staff", &st.id, detail)
}

/// The store's settings from the cloud: its name, UTC offset (for business
/// days of shifts opened after it) and default invoicing company.
fn store_settings(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    c: &Change,
    st: &StoreChange,
    out: &mut Applied,
) -> Result<()> {
    let company = match &st.default_company {
        Some(code) => match company_by_code(conn, code)? {
            Some(id) => Some(id),
            None => {
                let why = format!("store settings: unknown company {code:?}");
                return skip(conn, node, cloud, c, &why, out);
            }
        },
        None => None,
    };
    let patch = StorePatch {
        name: st.name.as_deref(),
        utc_offset_minutes: st.utc_offset_minutes,
        default_company_id: company.as_deref(),
    };
    if patch.name.is_some()
        || patch.utc_offset_minutes.is_some()
        || patch.default_company_id.is_some()
    {
        diesel::update(stores::table.find(&node.store_id))
            .set(&patch)
            .execute(conn)?;
    }
    node.refresh(conn)?;
    out.changed += 1;
    let detail = serde_json::json!({
        "name": st.name, "utc_offset_minutes": st.utc_offset_minutes, "default_company": st.default_company,
    });
    audit::by(
        conn,
        node,
        cloud,
        "master.store_settings",
        &node.store_id,
        detail,
    )
}

/// A price-list version: kept until it takes effect, then applied (at once
/// when it is already due). A version already applied is not applied again.
fn price_list(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    pl: &PriceListChange,
    out: &mut Applied,
) -> Result<()> {
    let prices = serde_json::to_string(&pl.prices)
        .map_err(|e| StorageError::Corrupt(format!("price list {}: {e}", pl.version)))?;
    let applied: Option<Option<i64>> = price_list_versions::table
        .find(&pl.version)
        .select(price_list_versions::applied_at)
        .first(conn)
        .optional()?;
    match applied {
        Some(Some(_)) => {
            let detail = serde_json::json!({"version": pl.version, "reason": "already in effect: a new version needs a new name"});
            audit::by(conn, node, cloud, "master.skipped", &pl.version, detail)?;
            out.skipped += 1;
            return Ok(());
        }
        Some(None) => {
            diesel::update(price_list_versions::table.find(&pl.version))
                .set((
                    price_list_versions::effective_at.eq(pl.effective_at),
                    price_list_versions::prices.eq(&prices),
                ))
                .execute(conn)?;
            out.changed += 1;
        }
        None => {
            diesel::insert_into(price_list_versions::table)
                .values((
                    price_list_versions::version.eq(&pl.version),
                    price_list_versions::effective_at.eq(pl.effective_at),
                    price_list_versions::prices.eq(&prices),
                    price_list_versions::received_at.eq(crate::db::now_millis()),
                ))
                .execute(conn)?;
            out.created += 1;
        }
    }
    let detail = serde_json::json!({"version": pl.version, "effective_at": pl.effective_at, "prices": pl.prices.len()});
    audit::by(conn, node, cloud, "master.price_list", &pl.version, detail)?;
    due(conn, node, cloud, crate::db::now_millis())?;
    Ok(())
}

/// Applies every price-list version whose time has come, in order of their
/// times; returns how many. Each price is the store's own edit at this moment
/// (a fresh HLC), so it wins over older edits and syncs back to the cloud.
pub fn activate_due(conn: &mut AnyConnection, node: &Node, now: i64) -> Result<usize> {
    let cloud = Actor {
        staff_id: "cloud".into(),
        role: Role::Admin,
        device_id: None,
    };
    write_tx(conn, |conn| due(conn, node, &cloud, now))
}

fn due(conn: &mut AnyConnection, node: &Node, cloud: &Actor, now: i64) -> Result<usize> {
    let versions: Vec<(String, String)> = price_list_versions::table
        .filter(price_list_versions::applied_at.is_null())
        .filter(price_list_versions::effective_at.le(now))
        .order((
            price_list_versions::effective_at,
            price_list_versions::version,
        ))
        .select((price_list_versions::version, price_list_versions::prices))
        .load(conn)?;
    for (version, prices) in &versions {
        let prices: Vec<Price> = serde_json::from_str(prices)
            .map_err(|e| StorageError::Corrupt(format!("price list {version}: {e}")))?;
        let (mut changed, mut missing) = (0, Vec::new());
        for p in &prices {
            let found: Option<String> = products::table
                .filter(products::sku.eq(&p.sku))
                .select(products::id)
                .first(conn)
                .optional()?;
            let Some(id) = found else {
                missing.push(p.sku.clone());
                continue;
            };
            let before = catalog::by_id(conn, node, &id)?;
            if before.price_minor == p.price_minor {
                continue;
            }
            let hlc = node.tick();
            diesel::update(products::table.find(&id))
                .set((
                    products::price_minor.eq(p.price_minor),
                    products::version.eq(before.version + 1),
                    products::updated_hlc.eq(hlc.raw()),
                ))
                .execute(conn)?;
            let after = catalog::by_id(conn, node, &id)?;
            catalog::master_event(conn, node, cloud, hlc, &after, "product.updated")?;
            changed += 1;
        }
        diesel::update(price_list_versions::table.find(version))
            .set(price_list_versions::applied_at.eq(now))
            .execute(conn)?;
        let detail =
            serde_json::json!({"version": version, "changed": changed, "unknown_skus": missing});
        audit::by(
            conn,
            node,
            cloud,
            "master.price_list_applied",
            version,
            detail,
        )?;
    }
    Ok(versions.len())
}
