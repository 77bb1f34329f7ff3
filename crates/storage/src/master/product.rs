//! A product change from the cloud: created (with its barcodes, those no
//! other product holds), or its fields changed when the change is later
//! than the store's own edit; a central price change learnt late flags the
//! orders sold since at the old price.

use super::{Applied, Change, company_by_code, skip};
use crate::catalog::{self, NewProduct};
use crate::db::AnyConnection;
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::{barcodes, order_lines, orders, products};
use crate::{audit, sales};
use diesel::prelude::*;
use outpost_domain::Hlc;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(super) struct ProductChange {
    sku: String,
    name: Option<String>,
    price_minor: Option<i64>,
    active: Option<bool>,
    tax_category: Option<String>,
    barcodes: Option<Vec<String>>,
    /// The invoicing company's code.
    company: Option<String>,
    weighed: Option<bool>,
    kitchen: Option<bool>,
    /// The item grid's tab ('' for none).
    category: Option<String>,
    favourite: Option<bool>,
}

impl ProductChange {
    /// Whether `p` already holds every field this change sets.
    fn held_by(&self, p: &catalog::Product, company_id: Option<&str>) -> bool {
        let same_codes = |codes: &Vec<String>| {
            let mut want: Vec<&str> = codes.iter().map(String::as_str).collect();
            let mut have: Vec<&str> = p.barcodes.iter().map(String::as_str).collect();
            want.sort_unstable();
            want.dedup();
            have.sort_unstable();
            want == have
        };
        self.name.as_ref().is_none_or(|v| *v == p.name)
            && self.price_minor.is_none_or(|v| v == p.price_minor)
            && self.active.is_none_or(|v| v == p.active)
            && self
                .tax_category
                .as_ref()
                .is_none_or(|v| *v == p.tax_category)
            && self.weighed.is_none_or(|v| v == p.weighed)
            && self.kitchen.is_none_or(|v| v == p.kitchen)
            && self
                .category
                .as_deref()
                .is_none_or(|v| v.trim() == p.category)
            && self.favourite.is_none_or(|v| v == p.favourite)
            && company_id.is_none_or(|v| v == p.company_id)
            && self.barcodes.as_ref().is_none_or(same_codes)
    }
}

pub(super) fn apply(
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
    let company_id = match &p.company {
        Some(code) => match company_by_code(conn, code)? {
            Some(id) => Some(id),
            None => {
                let why = format!("product {}: unknown company {code:?}", p.sku);
                return skip(conn, node, cloud, c, &why, out);
            }
        },
        None => None,
    };
    let Some((id, local_hlc, old_price)) = local else {
        let (Some(name), Some(price), Some(tax)) = (&p.name, p.price_minor, &p.tax_category) else {
            let why = format!(
                "product {} is new here and the change lacks its name, price or tax category",
                p.sku
            );
            return skip(conn, node, cloud, c, &why, out);
        };
        let new = NewProduct {
            sku: p.sku.clone(),
            name: name.clone(),
            company_id,
            price_minor: price,
            tax_category: tax.clone(),
            weighed: p.weighed.unwrap_or(false),
            kitchen: p.kitchen.unwrap_or(false),
            category: p.category.as_deref().unwrap_or_default().trim().to_owned(),
            favourite: p.favourite.unwrap_or(false),
            barcodes: free_barcodes(
                conn,
                node,
                cloud,
                &p.sku,
                p.barcodes.as_deref().unwrap_or_default(),
                None,
            )?,
        };
        match catalog::insert_product(conn, node, cloud, &new, Hlc::from_raw(c.hlc)) {
            Ok(_) => {}
            Err(StorageError::Unprocessable(why)) => {
                return skip(
                    conn,
                    node,
                    cloud,
                    c,
                    &format!("product {}: {why}", p.sku),
                    out,
                );
            }
            Err(e) => return Err(e),
        }
        out.created += 1;
        return Ok(());
    };
    if c.resent && c.hlc <= local_hlc {
        // A re-send: the store's copy is as late or later. When it is the
        // same edit, any field the store lacks (an older version skipped
        // it) is filled in; a later edit here stays, as it did before.
        let before = catalog::by_id(conn, node, &id)?;
        if c.hlc < local_hlc || p.held_by(&before, company_id.as_deref()) {
            out.kept += 1;
            return Ok(());
        }
    } else if c.hlc <= local_hlc {
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
    let tax_id = match &p.tax_category {
        Some(code) => {
            use crate::schema::tax_categories as tc;
            let found: Option<String> = tc::table
                .filter(tc::code.eq(code))
                .select(tc::id)
                .first(conn)
                .optional()?;
            match found {
                Some(t) => Some(t),
                None => {
                    let why = format!("product {}: unknown tax category {code:?}", p.sku);
                    return skip(conn, node, cloud, c, &why, out);
                }
            }
        }
        None => None,
    };
    let before = catalog::by_id(conn, node, &id)?;
    if let Some(t) = tax_id {
        diesel::update(products::table.find(&id))
            .set(products::tax_category_id.eq(t))
            .execute(conn)?;
    }
    diesel::update(products::table.find(&id))
        .set((
            products::price_minor.eq(p.price_minor.unwrap_or(before.price_minor)),
            products::name.eq(p.name.clone().unwrap_or(before.name.clone())),
            products::active.eq(p.active.unwrap_or(before.active)),
            products::weighed.eq(p.weighed.unwrap_or(before.weighed)),
            products::kitchen.eq(p.kitchen.unwrap_or(before.kitchen)),
            products::category.eq(p
                .category
                .as_deref()
                .map_or(before.category.clone(), |c| c.trim().to_owned())),
            products::favourite.eq(p.favourite.unwrap_or(before.favourite)),
            products::company_id.eq(company_id.unwrap_or(before.company_id.clone())),
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
