//! Mirrors of an order as storage returns it, and of a quote with the
//! domain's pricing, converted the same way as `records`: by destructuring
//! the whole record, so a new field fails to compile here first.

use super::views;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
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

impl From<outpost_storage::sales::OrderRow> for OrderRow {
    fn from(v: outpost_storage::sales::OrderRow) -> Self {
        let outpost_storage::sales::OrderRow {
            id,
            number,
            device_id,
            shift_id,
            business_day,
            company_id,
            staff_id,
            customer_id,
            status,
            currency,
            subtotal_minor,
            discount_minor,
            tax_minor,
            total_minor,
            refunded_minor,
            needs_adjustment,
            note,
            created_at,
            hlc,
            version,
        } = v;
        OrderRow {
            id,
            number,
            device_id,
            shift_id,
            business_day,
            company_id,
            staff_id,
            customer_id,
            status,
            currency,
            subtotal_minor,
            discount_minor,
            tax_minor,
            total_minor,
            refunded_minor,
            needs_adjustment,
            note,
            created_at,
            hlc,
            version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
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

impl From<outpost_storage::sales::LineRow> for LineRow {
    fn from(v: outpost_storage::sales::LineRow) -> Self {
        let outpost_storage::sales::LineRow {
            id,
            order_id,
            line_no,
            product_id,
            company_id,
            sku,
            name,
            qty_milli,
            list_price_minor,
            unit_price_minor,
            gross_minor,
            line_discount_minor,
            order_discount_minor,
            net_minor,
            tax_minor,
            total_minor,
            tax_ppm,
            tax_mode,
            refunded_milli,
        } = v;
        LineRow {
            id,
            order_id,
            line_no,
            product_id,
            company_id,
            sku,
            name,
            qty_milli,
            list_price_minor,
            unit_price_minor,
            gross_minor,
            line_discount_minor,
            order_discount_minor,
            net_minor,
            tax_minor,
            total_minor,
            tax_ppm,
            tax_mode,
            refunded_milli,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
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
    pub rounding_minor: i64,
}

impl From<outpost_storage::sales::PaymentRow> for PaymentRow {
    fn from(v: outpost_storage::sales::PaymentRow) -> Self {
        let outpost_storage::sales::PaymentRow {
            id,
            order_id,
            kind,
            method,
            amount_minor,
            tendered_minor,
            change_minor,
            card_type,
            reference,
            shift_id,
            created_at,
            rounding_minor,
        } = v;
        PaymentRow {
            id,
            order_id,
            kind,
            method,
            amount_minor,
            tendered_minor,
            change_minor,
            card_type,
            reference,
            shift_id,
            created_at,
            rounding_minor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    #[serde(flatten)]
    pub order: OrderRow,
    pub lines: Vec<LineRow>,
    pub payments: Vec<PaymentRow>,
    pub change_minor: i64,
}

impl From<outpost_storage::sales::Order> for Order {
    fn from(v: outpost_storage::sales::Order) -> Self {
        let outpost_storage::sales::Order {
            order,
            lines,
            payments,
            change_minor,
        } = v;
        Order {
            order: order.into(),
            lines: views(lines),
            payments: views(payments),
            change_minor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Quote {
    pub currency: String,
    pub lines: Vec<QuoteLine>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub taxes: Vec<TaxSummary>,
}

impl From<outpost_storage::sales::Quote> for Quote {
    fn from(v: outpost_storage::sales::Quote) -> Self {
        let outpost_storage::sales::Quote {
            currency,
            lines,
            subtotal_minor,
            discount_minor,
            tax_minor,
            total_minor,
            taxes,
        } = v;
        Quote {
            currency: currency.into(),
            lines: views(lines),
            subtotal_minor,
            discount_minor,
            tax_minor,
            total_minor,
            taxes: views(taxes),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteLine {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub qty_milli: i64,
    pub unit_price_minor: i64,
    #[serde(flatten)]
    pub priced: PricedLine,
}

impl From<outpost_storage::sales::QuoteLine> for QuoteLine {
    fn from(v: outpost_storage::sales::QuoteLine) -> Self {
        let outpost_storage::sales::QuoteLine {
            product_id,
            sku,
            name,
            qty_milli,
            unit_price_minor,
            priced,
        } = v;
        QuoteLine {
            product_id,
            sku,
            name,
            qty_milli,
            unit_price_minor,
            priced: priced.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PricedLine {
    /// Price × quantity before any discount.
    pub gross_minor: i64,
    pub line_discount_minor: i64,
    /// This line's share of the order discount.
    pub order_discount_minor: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    /// What the customer pays for this line, tax included.
    pub total_minor: i64,
    pub tax_ppm: i64,
}

impl From<outpost_domain::PricedLine> for PricedLine {
    fn from(v: outpost_domain::PricedLine) -> Self {
        let outpost_domain::PricedLine {
            gross_minor,
            line_discount_minor,
            order_discount_minor,
            net_minor,
            tax_minor,
            total_minor,
            tax_ppm,
        } = v;
        PricedLine {
            gross_minor,
            line_discount_minor,
            order_discount_minor,
            net_minor,
            tax_minor,
            total_minor,
            tax_ppm,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxSummary {
    pub tax_ppm: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
}

impl From<outpost_domain::TaxSummary> for TaxSummary {
    fn from(v: outpost_domain::TaxSummary) -> Self {
        let outpost_domain::TaxSummary {
            tax_ppm,
            net_minor,
            tax_minor,
        } = v;
        TaxSummary {
            tax_ppm,
            net_minor,
            tax_minor,
        }
    }
}
