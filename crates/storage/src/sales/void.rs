//! Voiding an open order, or one of its lines.

use super::{Approval, LineRow, Order, approver, get, lock_order, sales_event};
use crate::audit;
use crate::db::{AnyConnection, write_tx};
use crate::error::{Result, StorageError};
use crate::kitchen;
use crate::node::{Actor, Node};
use crate::outbox;
use crate::schema::{order_lines, orders};
use crate::stock;
use diesel::prelude::*;
use outpost_domain::{LineInput, Permission, Quantity, price_order};

/// Voids an open (unpaid) order; paid orders are refunded instead. Audited.
pub fn void(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    order_id: &str,
    approval: Option<&Approval>,
    reason: &str,
) -> Result<Order> {
    let approved_by = approver(conn, node, actor, approval, Permission::VoidLine, "void")?;
    write_tx(conn, |conn| {
        void_in(conn, node, actor, order_id, &approved_by, reason)
    })
}

/// [`void`] inside the caller's write transaction, approval settled.
pub(crate) fn void_in(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    order_id: &str,
    approved_by: &str,
    reason: &str,
) -> Result<Order> {
    {
        let o = lock_order(conn, order_id)?;
        if o.order.status != "open" {
            return Err(StorageError::Conflict(format!(
                "order is {}: only an open order can be voided; refund a paid one",
                o.order.status
            )));
        }
        diesel::update(orders::table.find(order_id))
            .set(orders::status.eq("voided"))
            .execute(conn)?;
        let cancelled = kitchen::cancel_for_order(conn, node, actor, order_id)?;
        if !cancelled.is_empty() {
            outbox::write(conn, cancelled)?;
        }
        let moves: Vec<(String, i64, &str)> = o
            .lines
            .iter()
            .map(|l| (l.product_id.clone(), l.qty_milli, "void"))
            .collect();
        stock::record(conn, node, actor, order_id, &moves)?;
        audit::by(
            conn,
            node,
            actor,
            "order.voided",
            order_id,
            serde_json::json!({"number": o.order.number, "approved_by": approved_by, "reason": reason}),
        )?;
        let o = get(conn, order_id)?;
        sales_event(conn, node, actor, &o, "order.voided")?;
        Ok(o)
    }
}

/// Takes one line off an open order (a tab) and re-prices the rest: needs a
/// supervisor (or their PIN). Audited; the goods go back into stock.
pub fn void_line(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    order_id: &str,
    line_id: &str,
    approval: Option<&Approval>,
    reason: &str,
) -> Result<Order> {
    let approved_by = approver(
        conn,
        node,
        actor,
        approval,
        Permission::VoidLine,
        "void a line",
    )?;
    write_tx(conn, |conn| {
        let o = lock_order(conn, order_id)?;
        if o.order.status != "open" {
            return Err(StorageError::Conflict(format!(
                "order is {}: lines can be voided only on an open order",
                o.order.status
            )));
        }
        let line =
            o.lines.iter().find(|l| l.id == line_id).ok_or_else(|| {
                StorageError::not_found(format!("line {line_id:?} on this order"))
            })?;
        let rest: Vec<&LineRow> = o.lines.iter().filter(|l| l.id != line_id).collect();
        if rest.is_empty() {
            return Err(StorageError::Conflict(
                "this is the order's last line: void the whole order".into(),
            ));
        }
        let inputs = rest
            .iter()
            .map(|l| {
                Ok(LineInput {
                    unit_price_minor: l.unit_price_minor,
                    quantity: Quantity::parse(l.qty_milli, true)?,
                    tax: outpost_domain::TaxRate::new(
                        l.tax_ppm,
                        outpost_domain::TaxMode::parse(&l.tax_mode)?,
                    )?,
                    discount_minor: l.line_discount_minor,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // The order discount stays, up to what the remaining lines can carry.
        let order_discount: i64 = o.lines.iter().map(|l| l.order_discount_minor).sum();
        let base: i64 = rest
            .iter()
            .map(|l| l.gross_minor - l.line_discount_minor)
            .sum();
        let totals = price_order(node.currency, &inputs, order_discount.min(base))?;
        diesel::delete(order_lines::table.find(line_id)).execute(conn)?;
        for (l, p) in rest.iter().zip(&totals.lines) {
            diesel::update(order_lines::table.find(&l.id))
                .set((
                    order_lines::order_discount_minor.eq(p.order_discount_minor),
                    order_lines::net_minor.eq(p.net_minor),
                    order_lines::tax_minor.eq(p.tax_minor),
                    order_lines::total_minor.eq(p.total_minor),
                ))
                .execute(conn)?;
        }
        diesel::update(orders::table.find(order_id))
            .set((
                orders::subtotal_minor.eq(totals.subtotal_minor),
                orders::discount_minor.eq(totals.discount_minor),
                orders::tax_minor.eq(totals.tax_minor),
                orders::total_minor.eq(totals.total_minor),
            ))
            .execute(conn)?;
        stock::record(
            conn,
            node,
            actor,
            order_id,
            &[(line.product_id.clone(), line.qty_milli, "void")],
        )?;
        let detail = serde_json::json!({"number": o.order.number, "line": line, "approved_by": approved_by, "reason": reason, "order_discount_kept": order_discount.min(base)});
        audit::by(conn, node, actor, "order.line_voided", order_id, detail)?;
        let o = get(conn, order_id)?;
        sales_event(conn, node, actor, &o, "order.line_voided")?;
        Ok(o)
    })
}
