//! Pricing a cart: the till's display before payment, and the prices a new
//! sale is written with.

use super::create::{Seller, seller_and_products};
use super::{LineRequest, ProductRef, SaleRequest};
use crate::catalog::{self, ProductRow, TaxCategory};
use crate::db::AnyConnection;
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use outpost_domain::{LineInput, Permission, Quantity, price_order};
use serde::Serialize;

/// A sale priced but not written: what a till shows before payment.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub currency: &'static str,
    pub lines: Vec<QuoteLine>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub taxes: Vec<outpost_domain::TaxSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuoteLine {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub qty_milli: i64,
    pub unit_price_minor: i64,
    #[serde(flatten)]
    pub priced: outpost_domain::PricedLine,
}

/// A cart's lines with their products, as priced.
pub(super) struct Priced<'a> {
    pub resolved: Vec<(ProductRow, TaxCategory, &'a LineRequest)>,
    pub inputs: Vec<LineInput>,
    pub totals: outpost_domain::OrderTotals,
    pub overridden: bool,
}

/// Prices the lines with their products as [`seller_and_products`] read them.
pub(super) fn price<'a>(
    node: &Node,
    actor: &Actor,
    req: &'a SaleRequest,
    (products, by_code, taxes): catalog::Resolved,
) -> Result<Priced<'a>> {
    let mut resolved = Vec::with_capacity(req.lines.len());
    for l in &req.lines {
        let pid = match &l.product {
            ProductRef::Id(i) => i,
            ProductRef::Barcode(c) => by_code
                .get(c)
                .ok_or_else(|| StorageError::Unprocessable(format!("unknown barcode {c:?}")))?,
        };
        let p = products
            .get(pid)
            .filter(|p| p.active)
            .ok_or_else(|| StorageError::Unprocessable(format!("unknown product {pid:?}")))?;
        let tax = taxes
            .get(&p.tax_category_id)
            .ok_or_else(|| StorageError::Corrupt(format!("tax category of {}", p.sku)))?;
        resolved.push((p.clone(), tax.clone(), l));
    }
    let mut overridden = false;
    let mut inputs = Vec::with_capacity(resolved.len());
    for (p, tax, l) in &resolved {
        let price = match l.unit_price_minor {
            Some(x) if x != p.price_minor => {
                actor.require(Permission::PriceOverride, "override a price")?;
                overridden = true;
                x
            }
            _ => p.price_minor,
        };
        inputs.push(LineInput {
            unit_price_minor: price,
            quantity: Quantity::parse(l.qty_milli, p.weighed)?,
            tax: tax.rate()?,
            discount_minor: l.discount_minor,
        });
    }
    let totals = price_order(node.currency, &inputs, req.order_discount_minor)?;
    Ok(Priced {
        resolved,
        inputs,
        totals,
        overridden,
    })
}

/// Prices a cart for the till's display without writing anything.
pub fn quote(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    req: &SaleRequest,
) -> Result<Quote> {
    actor.require(Permission::Sell, "sell")?;
    let (_, products) = seller_and_products(conn, Seller::Actor(actor), req)?;
    let p = price(node, actor, req, products)?;
    let t = p.totals;
    Ok(Quote {
        currency: t.currency,
        lines: p
            .resolved
            .iter()
            .zip(&p.inputs)
            .zip(&t.lines)
            .map(|(((prod, _, _), input), priced)| QuoteLine {
                product_id: prod.id.clone(),
                sku: prod.sku.clone(),
                name: prod.name.clone(),
                qty_milli: input.quantity.milli(),
                unit_price_minor: input.unit_price_minor,
                priced: *priced,
            })
            .collect(),
        subtotal_minor: t.subtotal_minor,
        discount_minor: t.discount_minor,
        tax_minor: t.tax_minor,
        total_minor: t.total_minor,
        taxes: t.taxes,
    })
}
