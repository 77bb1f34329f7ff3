//! Refunds: goods back from a paid order, their share of it back to the
//! customer.

use super::rows::insert_payments;
use super::{
    Answer, Approval, LineRow, Order, PaymentRequest, PaymentRow, approver, get, idempotent,
    lock_order, open_shift, sales_event, to_json,
};
use crate::audit;
use crate::db::AnyConnection;
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::{order_lines, orders};
use crate::stock;
use diesel::prelude::*;
use outpost_domain::money::div_round;
use outpost_domain::{PaymentInput, PaymentMethod, Permission, settle_payments};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// (order line id, quantity in thousandths to return)
    pub lines: Vec<(String, i64)>,
    pub method: PaymentMethod,
    pub reason: String,
    pub approval: Option<Approval>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundLine {
    pub line_id: String,
    pub qty_milli: i64,
    pub amount_minor: i64,
    pub tax_minor: i64,
}

/// One line of a refund: how much of it went back and what that returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returned {
    pub line_no: i32,
    pub name: String,
    pub qty_milli: i64,
    pub amount_minor: i64,
    pub tax_minor: i64,
    pub tax_ppm: i64,
}

/// What one refund gave back, from the order as it was before and after it
/// (two `sales` event payloads): each line's returned quantity with the same
/// share `refund` computed, and the refund's payments.
pub fn returned(before: &Order, after: &Order) -> (Vec<Returned>, Vec<PaymentRow>) {
    let unit = outpost_domain::Currency::parse(&after.order.currency).map_or(1, |c| c.rounding());
    let lines = after
        .lines
        .iter()
        .filter_map(|l| {
            let done = before
                .lines
                .iter()
                .find(|b| b.id == l.id)
                .map_or(0, |b| b.refunded_milli);
            let qty = l.refunded_milli - done;
            (qty > 0).then(|| Returned {
                line_no: l.line_no,
                name: l.name.clone(),
                qty_milli: qty,
                amount_minor: share(l.total_minor, done, qty, l.qty_milli, unit),
                tax_minor: share(l.tax_minor, done, qty, l.qty_milli, unit),
                tax_ppm: l.tax_ppm,
            })
        })
        .collect();
    let payments = after
        .payments
        .iter()
        .filter(|p| p.kind == "refund" && !before.payments.iter().any(|b| b.id == p.id))
        .cloned()
        .collect();
    (lines, payments)
}

/// The part of `whole` that `qty` of `of` returned after `done` come to, in
/// multiples of `unit` (the shares of every return add up to `whole`).
fn share(whole: i64, done: i64, qty: i64, of: i64, unit: i64) -> i64 {
    let at = |q: i64| {
        outpost_domain::round_to(
            div_round(whole as i128 * q as i128, of as i128) as i64,
            unit,
        )
    };
    at(done + qty) - at(done)
}

/// Returns goods from a paid order: refunds their share, puts them back in
/// stock. Needs a supervisor (or their PIN). Audited.
pub fn refund(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    order_id: &str,
    key: &str,
    request_sha256: &str,
    req: &RefundRequest,
) -> Result<Answer> {
    let device_id = actor.device()?.to_owned();
    if req.lines.is_empty() {
        return Err(StorageError::Unprocessable(
            "name at least one line to return".into(),
        ));
    }
    if req.reason.trim().is_empty() || req.reason.len() > 200 {
        return Err(StorageError::Unprocessable(
            "give a reason (up to 200 characters)".into(),
        ));
    }
    let approved_by = approver(
        conn,
        node,
        actor,
        req.approval.as_ref(),
        Permission::Refund,
        "refund",
    )?;
    idempotent(conn, &device_id, key, request_sha256, 200, |conn| {
        let o = lock_order(conn, order_id)?;
        if o.order.status != "paid" {
            return Err(StorageError::Conflict(format!(
                "order is {}: only a paid order can be refunded",
                o.order.status
            )));
        }
        let shift = open_shift(conn, &device_id)?;
        let unit = node.currency.rounding();
        let by_id: HashMap<&str, &LineRow> = o.lines.iter().map(|l| (l.id.as_str(), l)).collect();
        let mut out = Vec::new();
        let mut pending: HashMap<&str, i64> = HashMap::new();
        for (lid, qty) in &req.lines {
            let l = by_id.get(lid.as_str()).ok_or_else(|| {
                StorageError::Unprocessable(format!("line {lid:?} is not on this order"))
            })?;
            let done = l.refunded_milli + pending.get(lid.as_str()).copied().unwrap_or(0);
            if *qty <= 0 || done + qty > l.qty_milli {
                return Err(StorageError::Unprocessable(format!(
                    "cannot return {qty} of line {} ({} of {} already returned)",
                    l.line_no, done, l.qty_milli
                )));
            }
            out.push(RefundLine {
                line_id: lid.clone(),
                qty_milli: *qty,
                amount_minor: share(l.total_minor, done, *qty, l.qty_milli, unit),
                tax_minor: share(l.tax_minor, done, *qty, l.qty_milli, unit),
            });
            *pending.entry(lid.as_str()).or_default() += qty;
        }
        let amount: i64 = out.iter().map(|r| r.amount_minor).sum();
        let tax: i64 = out.iter().map(|r| r.tax_minor).sum();
        for r in &out {
            diesel::update(order_lines::table.find(&r.line_id))
                .set(order_lines::refunded_milli.eq(order_lines::refunded_milli + r.qty_milli))
                .execute(conn)?;
        }
        if amount > 0 {
            let p = PaymentRequest {
                method: req.method,
                amount_minor: amount,
                tendered_minor: None,
                card_type: String::new(),
                reference: String::new(),
            };
            // Cash out of the drawer is rounded like cash into it.
            let paid_out = if p.method == PaymentMethod::Cash {
                outpost_domain::round_to(amount, node.currency.cash_rounding())
            } else {
                amount
            };
            if paid_out == 0 {
                let owed = outpost_domain::Money {
                    minor: amount,
                    currency: node.currency,
                };
                return Err(StorageError::Unprocessable(format!(
                    "a cash refund of {owed} rounds to nothing in cash: refund it by card"
                )));
            }
            let settled = settle_payments(
                node.currency,
                amount,
                &[PaymentInput {
                    method: p.method,
                    amount_minor: paid_out,
                    tendered_minor: None,
                }],
            )?;
            insert_payments(conn, order_id, &shift.id, "refund", &[p], &settled)?;
        }
        let refunded = o.order.refunded_minor + amount;
        diesel::update(orders::table.find(order_id))
            .set((
                orders::refunded_minor.eq(refunded),
                orders::status.eq(if refunded >= o.order.total_minor {
                    "refunded"
                } else {
                    "paid"
                }),
            ))
            .execute(conn)?;
        let moves: Vec<(String, i64, &str)> = out
            .iter()
            .map(|r| {
                (
                    by_id[r.line_id.as_str()].product_id.clone(),
                    r.qty_milli,
                    "refund",
                )
            })
            .collect();
        stock::record(conn, node, actor, order_id, &moves)?;
        let detail = serde_json::json!({"number": o.order.number, "approved_by": approved_by, "reason": req.reason, "amount_minor": amount, "tax_minor": tax, "lines": out});
        audit::by(conn, node, actor, "order.refunded", order_id, detail)?;
        let o = get(conn, order_id)?;
        sales_event(conn, node, actor, &o, "order.refunded")?;
        to_json(&o)
    })
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn partial_returns_add_up_to_the_line_total() {
        // 3 items for 10.00: returned one at a time → 3.33 + 3.34 + 3.33 = 10.00
        let parts: Vec<i64> = (0..3)
            .map(|i| share(1000, i * 1000, 1000, 3000, 1))
            .collect();
        assert_eq!(parts.iter().sum::<i64>(), 1000);
        assert_eq!(share(1000, 0, 3000, 3000, 1), 1000);
        assert_eq!(share(30_000, 0, 1000, 3000, 100), 10_000);
        let idr: Vec<i64> = (0..3)
            .map(|i| share(10_000, i * 1000, 1000, 3000, 100))
            .collect();
        assert_eq!(idr, vec![3_300, 3_400, 3_300], "whole units that add up");
    }
}
