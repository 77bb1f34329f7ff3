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
    /// The item grid's tab it is on ('' for none).
    pub category: String,
    /// On the item grid's favourites tab.
    pub favourite: bool,
}

/// One tab of the till's item grid.
#[derive(Debug, Serialize, ToSchema)]
pub struct Category {
    pub name: String,
    /// How many active products it holds.
    pub products: i64,
}

impl From<outpost_storage::catalog::Category> for Category {
    fn from(c: outpost_storage::catalog::Category) -> Self {
        Category {
            name: c.name,
            products: c.products,
        }
    }
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
            category,
            favourite,
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
            category,
            favourite,
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
    /// When a till printed it as a slip itself, its edge being away.
    pub printed_at_register: Option<i64>,
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
            printed_at_register,
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
            printed_at_register,
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
    /// The session token, for `Authorization: Bearer`; empty when a page
    /// signed in (`X-Outpost-Page`): its session is then an `HttpOnly`
    /// cookie.
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

/// One page of the till feed (`storage::till_feed::Page`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TillFeedPage {
    /// The shape of the page and its rows (a till takes this and the one before).
    pub schema: i32,
    /// The edge's epoch the cursors belong to.
    pub epoch: String,
    /// Answered from the start: rows the till holds that this pull does not name are gone.
    pub reset: bool,
    pub changes: Vec<TillFeedChange>,
    /// The cursor to ask from next.
    pub next: i64,
    /// More changes wait after `next`: ask again, then install the pages together.
    pub more: bool,
}

/// One row that changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TillFeedChange {
    pub seq: i64,
    /// company, tax_category, store, staff, pin_unlock, product, barcode or
    /// price_list (a till skips kinds it does not know).
    pub kind: String,
    pub key: String,
    /// The row as it is now (its table's columns); null when it is gone.
    #[schema(value_type = Option<Object>)]
    pub row: Option<serde_json::Value>,
}

impl From<outpost_storage::till_feed::Page> for TillFeedPage {
    fn from(v: outpost_storage::till_feed::Page) -> Self {
        let outpost_storage::till_feed::Page {
            schema,
            epoch,
            reset,
            changes,
            next,
            more,
        } = v;
        TillFeedPage {
            schema,
            epoch,
            reset,
            changes: views(changes),
            next,
            more,
        }
    }
}

impl From<outpost_storage::till_feed::Change> for TillFeedChange {
    fn from(v: outpost_storage::till_feed::Change) -> Self {
        let outpost_storage::till_feed::Change {
            seq,
            kind,
            key,
            row,
        } = v;
        TillFeedChange {
            seq,
            kind,
            key,
            row,
        }
    }
}

/// The store's own CA (`storage::store_ca`), which register agents pin.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreCa {
    /// SHA-256 of the certificate, "AB:CD:…" (as the pairing prints it).
    pub fingerprint: String,
    pub pem: String,
}

/// What a push of register events did (`storage::register_events::Pushed`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterPushed {
    pub applied: usize,
    /// Events the edge already had (sent again after a lost answer).
    pub repeated: usize,
    /// Events refused for good and parked with their reason (their
    /// positions are taken; health shows them).
    pub parked: usize,
    /// Per stream, the agent's last position the edge holds.
    pub marks: std::collections::BTreeMap<String, i64>,
    /// The highest order number the edge holds for this register (the
    /// last part: 123 for `S01-R2-000123`).
    pub last_number: i64,
}

impl From<outpost_storage::register_events::Pushed> for RegisterPushed {
    fn from(v: outpost_storage::register_events::Pushed) -> Self {
        let outpost_storage::register_events::Pushed {
            applied,
            repeated,
            parked,
            marks,
            last_number,
        } = v;
        RegisterPushed {
            applied,
            repeated,
            parked,
            marks,
            last_number,
        }
    }
}

/// A one-time pairing code (`storage::pairing::Code`), shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct PairingCode {
    /// As the manager reads it out (`7KQ4M-X2P9C`).
    pub code: String,
    pub name: String,
    pub kind: String,
    pub expires_at: i64,
}

impl From<outpost_storage::pairing::Code> for PairingCode {
    fn from(v: outpost_storage::pairing::Code) -> Self {
        let outpost_storage::pairing::Code {
            code,
            name,
            kind,
            expires_at,
        } = v;
        PairingCode {
            code,
            name,
            kind,
            expires_at,
        }
    }
}
