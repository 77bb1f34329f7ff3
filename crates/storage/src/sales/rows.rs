//! An order's rows (the order, its lines, its payments) as diesel reads them
//! and as [`bulk::write`] writes them: a new column goes in the struct and in
//! its table here.

use crate::bulk::{self, Col, Table};
use crate::db::{AnyConnection, new_id, now_millis};
use crate::error::Result;
use crate::schema::{order_lines, orders, payments};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::PaymentRequest;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = orders, treat_none_as_null = true)]
pub struct OrderRow {
    pub id: String,
    pub number: String,
    pub device_id: String,
    pub shift_id: String,
    pub business_day: String,
    pub company_id: String,
    pub staff_id: String,
    pub customer_id: Option<String>,
    pub status: String,
    pub currency: String,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub refunded_minor: i64,
    pub needs_adjustment: bool,
    pub note: String,
    pub created_at: i64,
    pub hlc: i64,
    pub version: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = order_lines)]
pub struct LineRow {
    pub id: String,
    pub order_id: String,
    pub line_no: i32,
    pub product_id: String,
    pub company_id: String,
    pub sku: String,
    pub name: String,
    pub qty_milli: i64,
    pub list_price_minor: i64,
    pub unit_price_minor: i64,
    pub gross_minor: i64,
    pub line_discount_minor: i64,
    pub order_discount_minor: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub tax_ppm: i64,
    pub tax_mode: String,
    pub refunded_milli: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub id: String,
    pub order_id: String,
    pub kind: String,
    pub method: String,
    pub amount_minor: i64,
    pub tendered_minor: i64,
    pub change_minor: i64,
    pub card_type: String,
    pub reference: String,
    pub shift_id: String,
    pub created_at: i64,
    /// `amount_minor` less what the payment paid of the order (or, for a
    /// refund, was owed): a cash payment's rounding to the cash unit.
    /// Absent (0) in events written before schema version 2.
    #[serde(default)]
    pub rounding_minor: i64,
}

pub(super) fn payment_rows(
    order_id: &str,
    shift_id: &str,
    kind: &str,
    reqs: &[PaymentRequest],
    settled: &[outpost_domain::order::SettledPayment],
) -> Vec<PaymentRow> {
    let now = now_millis();
    reqs.iter()
        .zip(settled)
        .map(|(r, s)| PaymentRow {
            id: new_id(),
            order_id: order_id.to_owned(),
            kind: kind.to_owned(),
            method: s.method.as_str().to_owned(),
            amount_minor: s.amount_minor,
            tendered_minor: s.tendered_minor,
            change_minor: s.change_minor,
            card_type: r.card_type.clone(),
            reference: r.reference.clone(),
            shift_id: shift_id.to_owned(),
            created_at: now,
            rounding_minor: s.rounding_minor,
        })
        .collect()
}

pub(super) fn insert_payments(
    conn: &mut AnyConnection,
    order_id: &str,
    shift_id: &str,
    kind: &str,
    reqs: &[PaymentRequest],
    settled: &[outpost_domain::order::SettledPayment],
) -> Result<Vec<PaymentRow>> {
    let rows = payment_rows(order_id, shift_id, kind, reqs, settled);
    bulk::write(conn, vec![payments_table(&rows)])?;
    Ok(rows)
}

pub(super) fn order_table(o: &OrderRow) -> Table {
    let row = std::slice::from_ref(o);
    Table::new(
        "orders",
        vec![
            ("id", Col::text(row, |o| &o.id)),
            ("number", Col::text(row, |o| &o.number)),
            ("device_id", Col::text(row, |o| &o.device_id)),
            ("shift_id", Col::text(row, |o| &o.shift_id)),
            ("business_day", Col::text(row, |o| &o.business_day)),
            ("company_id", Col::text(row, |o| &o.company_id)),
            ("staff_id", Col::text(row, |o| &o.staff_id)),
            ("customer_id", Col::OptText(vec![o.customer_id.clone()])),
            ("status", Col::text(row, |o| &o.status)),
            ("currency", Col::text(row, |o| &o.currency)),
            ("subtotal_minor", Col::big(row, |o| o.subtotal_minor)),
            ("discount_minor", Col::big(row, |o| o.discount_minor)),
            ("tax_minor", Col::big(row, |o| o.tax_minor)),
            ("total_minor", Col::big(row, |o| o.total_minor)),
            ("refunded_minor", Col::big(row, |o| o.refunded_minor)),
            ("needs_adjustment", Col::Bool(vec![o.needs_adjustment])),
            ("note", Col::text(row, |o| &o.note)),
            ("created_at", Col::big(row, |o| o.created_at)),
            ("hlc", Col::big(row, |o| o.hlc)),
            ("version", Col::big(row, |o| o.version)),
        ],
    )
}

pub(super) fn lines_table(lines: &[LineRow]) -> Table {
    Table::new(
        "order_lines",
        vec![
            ("id", Col::text(lines, |l| &l.id)),
            ("order_id", Col::text(lines, |l| &l.order_id)),
            (
                "line_no",
                Col::Int(lines.iter().map(|l| l.line_no).collect()),
            ),
            ("product_id", Col::text(lines, |l| &l.product_id)),
            ("company_id", Col::text(lines, |l| &l.company_id)),
            ("sku", Col::text(lines, |l| &l.sku)),
            ("name", Col::text(lines, |l| &l.name)),
            ("qty_milli", Col::big(lines, |l| l.qty_milli)),
            ("list_price_minor", Col::big(lines, |l| l.list_price_minor)),
            ("unit_price_minor", Col::big(lines, |l| l.unit_price_minor)),
            ("gross_minor", Col::big(lines, |l| l.gross_minor)),
            (
                "line_discount_minor",
                Col::big(lines, |l| l.line_discount_minor),
            ),
            (
                "order_discount_minor",
                Col::big(lines, |l| l.order_discount_minor),
            ),
            ("net_minor", Col::big(lines, |l| l.net_minor)),
            ("tax_minor", Col::big(lines, |l| l.tax_minor)),
            ("total_minor", Col::big(lines, |l| l.total_minor)),
            ("tax_ppm", Col::big(lines, |l| l.tax_ppm)),
            ("tax_mode", Col::text(lines, |l| &l.tax_mode)),
            ("refunded_milli", Col::big(lines, |l| l.refunded_milli)),
        ],
    )
}

pub(super) fn payments_table(pays: &[PaymentRow]) -> Table {
    Table::new(
        "payments",
        vec![
            ("id", Col::text(pays, |p| &p.id)),
            ("order_id", Col::text(pays, |p| &p.order_id)),
            ("kind", Col::text(pays, |p| &p.kind)),
            ("method", Col::text(pays, |p| &p.method)),
            ("amount_minor", Col::big(pays, |p| p.amount_minor)),
            ("tendered_minor", Col::big(pays, |p| p.tendered_minor)),
            ("change_minor", Col::big(pays, |p| p.change_minor)),
            ("card_type", Col::text(pays, |p| &p.card_type)),
            ("reference", Col::text(pays, |p| &p.reference)),
            ("shift_id", Col::text(pays, |p| &p.shift_id)),
            ("created_at", Col::big(pays, |p| p.created_at)),
            ("rounding_minor", Col::big(pays, |p| p.rounding_minor)),
        ],
    )
}
