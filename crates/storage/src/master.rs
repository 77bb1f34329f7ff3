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

use crate::catalog::{self, NewProduct};
use crate::db::{AnyConnection, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::{barcodes, node, order_lines, orders, products};
use crate::{audit, sales};
use diesel::prelude::*;
use outpost_domain::{Hlc, Role};
use serde::Deserialize;

/// One change of the cloud's feed.
#[derive(Debug, Clone)]
pub struct Change {
    pub cursor: i64,
    pub kind: String,
    pub hlc: i64,
    pub body: String,
}

#[derive(Debug, Deserialize)]
struct ProductChange {
    sku: String,
    name: Option<String>,
    price_minor: Option<i64>,
    active: Option<bool>,
    tax_category: Option<String>,
    barcodes: Option<Vec<String>>,
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
        for c in changes {
            let corrupt = |e: serde_json::Error| {
                StorageError::Corrupt(format!("master change {}: {e}", c.cursor))
            };
            match c.kind.as_str() {
                "product" => {
                    let p: ProductChange = serde_json::from_str(&c.body).map_err(corrupt)?;
                    product(conn, &node, &cloud, c, &p, &mut out)?;
                }
                "tax_category" => {
                    let t: TaxChange = serde_json::from_str(&c.body).map_err(corrupt)?;
                    tax_category(conn, &node, &cloud, &t, &mut out)?;
                }
                other => {
                    tracing::warn!(kind = %other, "a master change of a kind this edge does not know: skipped");
                    out.skipped += 1;
                }
            }
        }
        diesel::update(node::table.filter(node::master_version.lt(to)))
            .set(node::master_version.eq(to))
            .execute(conn)?;
        Ok(out)
    })
}

fn product(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    c: &Change,
    p: &ProductChange,
    out: &mut Applied,
) -> Result<()> {
    node.observe(Hlc::from_raw(c.hlc));
    let local: Option<(String, i64, i64)> = products::table
        .filter(products::sku.eq(&p.sku))
        .select((products::id, products::updated_hlc, products::price_minor))
        .first(conn)
        .optional()?;
    let Some((id, local_hlc, old_price)) = local else {
        let (Some(name), Some(price), Some(tax)) = (&p.name, p.price_minor, &p.tax_category) else {
            tracing::warn!(sku = %p.sku, "a change for a product this store lacks, without name, price and tax category: skipped");
            out.skipped += 1;
            return Ok(());
        };
        let new = NewProduct {
            sku: p.sku.clone(),
            name: name.clone(),
            company_id: None,
            price_minor: price,
            tax_category: tax.clone(),
            weighed: false,
            kitchen: false,
            barcodes: free_barcodes(
                conn,
                node,
                cloud,
                &p.sku,
                p.barcodes.as_deref().unwrap_or_default(),
                None,
            )?,
        };
        catalog::insert_product(conn, node, cloud, &new, Hlc::from_raw(c.hlc))?;
        out.created += 1;
        return Ok(());
    };
    if c.hlc <= local_hlc {
        // The store's own edit is later: it stays; the cloud keeps the same
        // winner when the store's edit reaches it.
        let detail = serde_json::json!({
            "sku": p.sku, "kept": "store", "kept_hlc": local_hlc,
            "lost": "cloud", "lost_hlc": c.hlc, "lost_change": serde_json::from_str::<serde_json::Value>(&c.body).unwrap_or_default(),
        });
        audit::by(conn, node, cloud, "master.conflict", &id, detail)?;
        out.conflicts += 1;
        return Ok(());
    }
    let before = catalog::by_id(conn, node, &id)?;
    diesel::update(products::table.find(&id))
        .set((
            products::price_minor.eq(p.price_minor.unwrap_or(before.price_minor)),
            products::name.eq(p.name.clone().unwrap_or(before.name.clone())),
            products::active.eq(p.active.unwrap_or(before.active)),
            products::version.eq(before.version + 1),
            products::updated_hlc.eq(c.hlc),
        ))
        .execute(conn)?;
    if let Some(codes) = &p.barcodes {
        let keep = free_barcodes(conn, node, cloud, &p.sku, codes, Some(&id))?;
        diesel::delete(barcodes::table.filter(barcodes::product_id.eq(&id))).execute(conn)?;
        for code in &keep {
            diesel::insert_into(barcodes::table)
                .values((barcodes::code.eq(code), barcodes::product_id.eq(&id)))
                .execute(conn)?;
        }
    }
    let after = catalog::by_id(conn, node, &id)?;
    catalog::master_event(
        conn,
        node,
        cloud,
        Hlc::from_raw(c.hlc),
        &after,
        "product.updated",
    )?;
    out.changed += 1;
    if let Some(new_price) = p.price_minor
        && new_price != old_price
    {
        out.flagged_orders +=
            flag_sold_at_old_price(conn, node, cloud, &id, &p.sku, c.hlc, new_price)?;
    }
    Ok(())
}

/// The codes of `codes` that no other product of this store holds; a code
/// taken by another product is left with it, and the audit log says so.
fn free_barcodes(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    sku: &str,
    codes: &[String],
    product_id: Option<&str>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for code in codes {
        let owner: Option<String> = barcodes::table
            .find(code)
            .select(barcodes::product_id)
            .first(conn)
            .optional()?;
        match owner {
            Some(o) if Some(o.as_str()) != product_id => {
                let detail = serde_json::json!({"sku": sku, "barcode": code, "held_by": o});
                audit::by(conn, node, cloud, "master.barcode_taken", &o, detail)?;
            }
            _ if !out.contains(code) => out.push(code.clone()),
            _ => {}
        }
    }
    Ok(out)
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

/// Orders sold after the central price change (by HLC) at another price: the
/// customer keeps what they paid; the order is marked for a manager's review.
fn flag_sold_at_old_price(
    conn: &mut AnyConnection,
    node: &Node,
    cloud: &Actor,
    product_id: &str,
    sku: &str,
    changed_at: i64,
    new_price: i64,
) -> Result<usize> {
    let hits: Vec<(String, i64)> = orders::table
        .inner_join(order_lines::table.on(order_lines::order_id.eq(orders::id)))
        .filter(orders::hlc.gt(changed_at))
        .filter(orders::status.ne("voided"))
        .filter(order_lines::product_id.eq(product_id))
        .filter(order_lines::list_price_minor.ne(new_price))
        .select((orders::id, order_lines::list_price_minor))
        .load(conn)?;
    let mut done = std::collections::BTreeSet::new();
    for (order_id, paid) in hits {
        if !done.insert(order_id.clone()) {
            continue;
        }
        sales::flag_for_adjustment(
            conn,
            node,
            cloud,
            &order_id,
            "order.price_override",
            serde_json::json!({
                "reason": "the price changed centrally while this store sold offline",
                "sku": sku, "price_paid_minor": paid, "central_price_minor": new_price,
            }),
        )?;
    }
    Ok(done.len())
}
