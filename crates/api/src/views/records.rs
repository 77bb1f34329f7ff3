//! Mirrors of the records storage (and the domain's pricing) answers
//! with, one per shape the API sends, so the OpenAPI document describes
//! them. Each converts by destructuring the record whole: a field added to
//! a record fails to compile here until the API decides what to send of it.

use super::views;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub hlc: i64,
    pub staff_id: Option<String>,
    pub device_id: Option<String>,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

impl From<outpost_storage::audit::AuditEntry> for AuditEntry {
    fn from(v: outpost_storage::audit::AuditEntry) -> Self {
        let outpost_storage::audit::AuditEntry {
            id,
            at,
            hlc,
            staff_id,
            device_id,
            action,
            subject,
            detail,
        } = v;
        AuditEntry {
            id,
            at,
            hlc,
            staff_id,
            device_id,
            action,
            subject,
            detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Company {
    pub id: String,
    pub code: String,
    pub name: String,
    pub tax_id: String,
}

impl From<outpost_storage::catalog::Company> for Company {
    fn from(v: outpost_storage::catalog::Company) -> Self {
        let outpost_storage::catalog::Company {
            id,
            code,
            name,
            tax_id,
        } = v;
        Company {
            id,
            code,
            name,
            tax_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxCategory {
    pub id: String,
    pub code: String,
    pub name: String,
    pub rate_ppm: i64,
    pub mode: String,
}

impl From<outpost_storage::catalog::TaxCategory> for TaxCategory {
    fn from(v: outpost_storage::catalog::TaxCategory) -> Self {
        let outpost_storage::catalog::TaxCategory {
            id,
            code,
            name,
            rate_ppm,
            mode,
        } = v;
        TaxCategory {
            id,
            code,
            name,
            rate_ppm,
            mode,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    pub id: String,
    pub company_id: String,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub tax_category: String,
    pub tax_ppm: i64,
    pub tax_mode: String,
    pub weighed: bool,
    pub kitchen: bool,
    pub active: bool,
    pub version: i64,
    pub barcodes: Vec<String>,
}

impl From<outpost_storage::catalog::Product> for Product {
    fn from(v: outpost_storage::catalog::Product) -> Self {
        let outpost_storage::catalog::Product {
            id,
            company_id,
            sku,
            name,
            price_minor,
            currency,
            tax_category,
            tax_ppm,
            tax_mode,
            weighed,
            kitchen,
            active,
            version,
            barcodes,
        } = v;
        Product {
            id,
            company_id,
            sku,
            name,
            price_minor,
            currency: currency.into(),
            tax_category,
            tax_ppm,
            tax_mode,
            weighed,
            kitchen,
            active,
            version,
            barcodes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub created_at: i64,
}

impl From<outpost_storage::catalog::Customer> for Customer {
    fn from(v: outpost_storage::catalog::Customer) -> Self {
        let outpost_storage::catalog::Customer {
            id,
            name,
            phone,
            email,
            created_at,
        } = v;
        Customer {
            id,
            name,
            phone,
            email,
            created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    pub id: String,
    pub order_id: String,
    pub order_number: String,
    pub status: String,
    pub lines_json: String,
    pub note: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl From<outpost_storage::kitchen::Ticket> for Ticket {
    fn from(v: outpost_storage::kitchen::Ticket) -> Self {
        let outpost_storage::kitchen::Ticket {
            id,
            order_id,
            order_number,
            status,
            lines_json,
            note,
            created_at,
            updated_at,
            version,
        } = v;
        Ticket {
            id,
            order_id,
            order_number,
            status,
            lines_json,
            note,
            created_at,
            updated_at,
            version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_id: String,
    pub store_id: String,
    pub device_id: Option<String>,
    pub stream: String,
    pub position: Option<i64>,
    pub node_epoch: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub aggregate_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub occurred_at: i64,
    pub hlc: i64,
    pub master_version: i64,
    pub actor: String,
    pub payload: String,
    pub payload_sha256: String,
}

impl From<outpost_storage::outbox::StoredEvent> for StoredEvent {
    fn from(v: outpost_storage::outbox::StoredEvent) -> Self {
        let outpost_storage::outbox::StoredEvent {
            seq,
            event_id,
            store_id,
            device_id,
            stream,
            position,
            node_epoch,
            aggregate_type,
            aggregate_id,
            aggregate_version,
            event_type,
            schema_version,
            occurred_at,
            hlc,
            master_version,
            actor,
            payload,
            payload_sha256,
        } = v;
        StoredEvent {
            seq,
            event_id,
            store_id,
            device_id,
            stream,
            position,
            node_epoch,
            aggregate_type,
            aggregate_id,
            aggregate_version,
            event_type,
            schema_version,
            occurred_at,
            hlc,
            master_version,
            actor,
            payload,
            payload_sha256,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Shift {
    pub id: String,
    pub device_id: String,
    pub business_day: String,
    pub opened_by: String,
    pub opened_at: i64,
    pub opening_float_minor: i64,
    pub closed_by: Option<String>,
    pub closed_at: Option<i64>,
    pub counted_cash_minor: Option<i64>,
    pub expected_cash_minor: Option<i64>,
    pub version: i64,
}

impl From<outpost_storage::shifts::Shift> for Shift {
    fn from(v: outpost_storage::shifts::Shift) -> Self {
        let outpost_storage::shifts::Shift {
            id,
            device_id,
            business_day,
            opened_by,
            opened_at,
            opening_float_minor,
            closed_by,
            closed_at,
            counted_cash_minor,
            expected_cash_minor,
            version,
        } = v;
        Shift {
            id,
            device_id,
            business_day,
            opened_by,
            opened_at,
            opening_float_minor,
            closed_by,
            closed_at,
            counted_cash_minor,
            expected_cash_minor,
            version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MethodTotal {
    pub method: String,
    pub count: i64,
    pub amount_minor: i64,
}

impl From<outpost_storage::shifts::MethodTotal> for MethodTotal {
    fn from(v: outpost_storage::shifts::MethodTotal) -> Self {
        let outpost_storage::shifts::MethodTotal {
            method,
            count,
            amount_minor,
        } = v;
        MethodTotal {
            method,
            count,
            amount_minor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenOrder {
    pub id: String,
    pub number: String,
    pub total_minor: i64,
}

impl From<outpost_storage::shifts::OpenOrder> for OpenOrder {
    fn from(v: outpost_storage::shifts::OpenOrder) -> Self {
        let outpost_storage::shifts::OpenOrder {
            id,
            number,
            total_minor,
        } = v;
        OpenOrder {
            id,
            number,
            total_minor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub kind: String,
    pub shift: Shift,
    pub currency: String,
    /// Orders paid in this shift.
    pub orders: i64,
    /// What those orders came to (payments less their cash rounding).
    pub sales_total_minor: i64,
    /// The tax in those orders.
    pub tax_total_minor: i64,
    /// What refunds in this shift gave back (before cash rounding).
    pub refunds_total_minor: i64,
    /// Money taken, by method (cash as rounded, before change).
    pub payments: Vec<MethodTotal>,
    /// Money paid out for refunds, by method.
    pub refunds: Vec<MethodTotal>,
    /// Cash rounding, net: what payments took beyond what was owed, less
    /// what refunds paid out beyond it (payments − refunds − rounding =
    /// sales − refunds, to the unit).
    pub rounding_minor: i64,
    pub cash_in_out_minor: i64,
    pub expected_cash_minor: i64,
    pub counted_cash_minor: Option<i64>,
    pub difference_minor: Option<i64>,
    /// Unpaid orders of this shift, and those carried over to it from the
    /// register's earlier shifts: not sales. A shift closes with them only
    /// when someone decides (void, or carry over again).
    pub open_orders: Vec<OpenOrder>,
}

impl From<outpost_storage::shifts::Report> for Report {
    fn from(v: outpost_storage::shifts::Report) -> Self {
        let outpost_storage::shifts::Report {
            kind,
            shift,
            currency,
            orders,
            sales_total_minor,
            tax_total_minor,
            refunds_total_minor,
            payments,
            refunds,
            rounding_minor,
            cash_in_out_minor,
            expected_cash_minor,
            counted_cash_minor,
            difference_minor,
            open_orders,
        } = v;
        Report {
            kind: kind.into(),
            shift: shift.into(),
            currency: currency.into(),
            orders,
            sales_total_minor,
            tax_total_minor,
            refunds_total_minor,
            payments: views(payments),
            refunds: views(refunds),
            rounding_minor,
            cash_in_out_minor,
            expected_cash_minor,
            counted_cash_minor,
            difference_minor,
            open_orders: views(open_orders),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    pub id: String,
    pub store_id: String,
    pub register_no: i32,
    pub name: String,
    pub kind: String,
    pub last_seq: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl From<outpost_storage::staff::Device> for Device {
    fn from(v: outpost_storage::staff::Device) -> Self {
        let outpost_storage::staff::Device {
            id,
            store_id,
            register_no,
            name,
            kind,
            token_hash: _,
            last_seq,
            created_at,
            revoked_at,
        } = v;
        Device {
            id,
            store_id,
            register_no,
            name,
            kind,
            last_seq,
            created_at,
            revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Paired {
    pub device: Device,
    /// Shown once; only its hash is stored.
    pub token: String,
}

impl From<outpost_storage::staff::Paired> for Paired {
    fn from(v: outpost_storage::staff::Paired) -> Self {
        let outpost_storage::staff::Paired { device, token } = v;
        Paired {
            device: device.into(),
            token,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMember {
    pub id: String,
    pub store_id: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub created_at: i64,
}

impl From<outpost_storage::staff::StaffMember> for StaffMember {
    fn from(v: outpost_storage::staff::StaffMember) -> Self {
        let outpost_storage::staff::StaffMember {
            id,
            store_id,
            name,
            role,
            pin_hash: _,
            active,
            created_at,
        } = v;
        StaffMember {
            id,
            store_id,
            name,
            role,
            active,
            created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub token: String,
    pub staff_id: String,
    pub staff_name: String,
    pub role: String,
    pub device_id: Option<String>,
    pub expires_at: i64,
}

impl From<outpost_storage::staff::Session> for Session {
    fn from(v: outpost_storage::staff::Session) -> Self {
        let outpost_storage::staff::Session {
            token,
            staff_id,
            staff_name,
            role,
            device_id,
            expires_at,
        } = v;
        Session {
            token,
            staff_id,
            staff_name,
            role: role.into(),
            device_id,
            expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Level {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub qty_milli: i64,
    pub negative: bool,
}

impl From<outpost_storage::stock::Level> for Level {
    fn from(v: outpost_storage::stock::Level) -> Self {
        let outpost_storage::stock::Level {
            product_id,
            sku,
            name,
            qty_milli,
            negative,
        } = v;
        Level {
            product_id,
            sku,
            name,
            qty_milli,
            negative,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Printer {
    pub id: String,
    pub hw_proxy_url: String,
    pub address: String,
    pub width: i32,
    pub code_pages: String,
    pub fallback: Option<String>,
    pub role: String,
    pub device_id: Option<String>,
    pub updated_at: i64,
}

impl From<outpost_storage::printers::Printer> for Printer {
    fn from(v: outpost_storage::printers::Printer) -> Self {
        let outpost_storage::printers::Printer {
            id,
            hw_proxy_url,
            address,
            width,
            code_pages,
            fallback,
            role,
            device_id,
            logo_png: _,
            updated_at,
            removed_at: _,
        } = v;
        Printer {
            id,
            hw_proxy_url,
            address,
            width,
            code_pages,
            fallback,
            role,
            device_id,
            updated_at,
        }
    }
}

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
