//! Sales, one module per use case. Each write runs in one transaction that
//! also writes its outbox events, stock movements, kitchen ticket, audit
//! entries and idempotency record.
//!
//! - here: the requests, the order as read back, and what the use cases share
//!   (idempotent answers, the `sales` event, locking an order, approvals);
//! - [`rows`]: the order, line and payment rows and their bulk tables;
//! - [`quote`]: pricing a cart without writing;
//! - [`create`]: the one sequence that creates a sale, alone or in a group;
//! - [`group`]: the group commit that writes several sales per transaction;
//! - [`pay`], [`void`], [`refund`]: what happens to an order afterwards.

mod create;
mod group;
mod pay;
mod quote;
mod refund;
mod rows;
mod void;

pub use create::{Seller, create_sale};
pub use group::SaleWriter;
pub use pay::pay;
pub use quote::{Quote, QuoteLine, quote};
pub use refund::{RefundLine, RefundRequest, Returned, refund, returned};
pub use rows::{LineRow, OrderRow, PaymentRow};
pub(crate) use void::void_in;
pub use void::{void, void_line};

use crate::audit;
use crate::db::{AnyConnection, write_tx};
use crate::error::{Result, StorageError};
use crate::idempotency;
use crate::node::{Actor, Node};
use crate::outbox::{self, Event, Stream};
use crate::schema::{order_lines, orders, payments};
use crate::shifts;
use crate::staff;
use diesel::prelude::*;
use outpost_domain::{PaymentInput, PaymentMethod, Permission};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub enum ProductRef {
    Id(String),
    Barcode(String),
}

#[derive(Debug, Clone)]
pub struct LineRequest {
    pub product: ProductRef,
    pub qty_milli: i64,
    pub discount_minor: i64,
    /// A price other than the list price: needs a supervisor, flags the order.
    pub unit_price_minor: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub method: PaymentMethod,
    pub amount_minor: i64,
    pub tendered_minor: Option<i64>,
    pub card_type: String,
    pub reference: String,
}

impl PaymentRequest {
    fn input(&self) -> PaymentInput {
        PaymentInput {
            method: self.method,
            amount_minor: self.amount_minor,
            tendered_minor: self.tendered_minor,
        }
    }
}

/// The register's open shift; selling, paying and refunding need one.
fn open_shift(conn: &mut AnyConnection, device_id: &str) -> Result<shifts::Shift> {
    shifts::current(conn, device_id)?.ok_or_else(|| {
        StorageError::Conflict("no open shift on this register: open one first".into())
    })
}

#[derive(Debug, Clone, Default)]
pub struct SaleRequest {
    pub currency: Option<String>,
    pub lines: Vec<LineRequest>,
    pub order_discount_minor: i64,
    pub payments: Vec<PaymentRequest>,
    pub customer_id: Option<String>,
    pub company_id: Option<String>,
    pub note: String,
    /// Why the sale is discounted (recorded with it; empty: not said).
    pub discount_reason: String,
    /// Why `company_id` invoices goods of another company: needed then,
    /// audited (`order.company_chosen`), never printed.
    pub company_reason: String,
    /// A supervisor's (or manager's) PIN for a discount beyond the
    /// seller's role's limit.
    pub approval: Option<Approval>,
    /// The approver of [`Self::approval`], whose PIN the caller checked
    /// already where PIN failures are written (the api, before the sale's
    /// read-only pricing); their id and role.
    pub approved: Option<(String, outpost_domain::Role)>,
}

/// A supervisor's PIN given at the till for something the cashier may not do.
#[derive(Debug, Clone)]
pub struct Approval {
    pub staff_id: String,
    pub pin: String,
}

/// An order with everything a receipt needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    #[serde(flatten)]
    pub order: OrderRow,
    pub lines: Vec<LineRow>,
    pub payments: Vec<PaymentRow>,
    pub change_minor: i64,
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Order> {
    let order = orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StorageError::not_found(format!("order {id:?}")))?;
    assemble(conn, order)
}

fn assemble(conn: &mut AnyConnection, order: OrderRow) -> Result<Order> {
    let lines = order_lines::table
        .filter(order_lines::order_id.eq(&order.id))
        .order(order_lines::line_no)
        .select(LineRow::as_select())
        .load(conn)?;
    let payments = payments::table
        .filter(payments::order_id.eq(&order.id))
        .order(payments::created_at)
        .select(PaymentRow::as_select())
        .load::<PaymentRow>(conn)?;
    let change_minor = payments
        .iter()
        .filter(|p| p.kind == "payment")
        .map(|p| p.change_minor)
        .sum();
    Ok(Order {
        order,
        lines,
        payments,
        change_minor,
    })
}

/// Most recent orders, of one register or of the whole store.
pub fn recent(
    conn: &mut AnyConnection,
    device_id: Option<&str>,
    limit: i64,
) -> Result<Vec<OrderRow>> {
    let mut q = orders::table.into_boxed();
    if let Some(d) = device_id {
        q = q.filter(orders::device_id.eq(d.to_owned()));
    }
    Ok(q.order(orders::hlc.desc())
        .limit(limit)
        .select(OrderRow::as_select())
        .load(conn)?)
}

/// Marks an order for a manager's review (it stays as sold), with an audit
/// entry and an order event carrying the flag. Call inside a transaction.
pub(crate) fn flag_for_adjustment(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    order_id: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    diesel::update(orders::table.find(order_id))
        .set((
            orders::needs_adjustment.eq(true),
            orders::version.eq(orders::version + 1),
        ))
        .execute(conn)?;
    audit::by(conn, node, actor, action, order_id, detail)?;
    let o = get(conn, order_id)?;
    sales_event(conn, node, actor, &o, action)
}

/// Orders flagged for a manager's look (price overrides, other companies' lines).
pub fn adjustment_queue(conn: &mut AnyConnection, limit: i64) -> Result<Vec<OrderRow>> {
    Ok(orders::table
        .filter(orders::needs_adjustment.eq(true))
        .order(orders::hlc.desc())
        .limit(limit)
        .select(OrderRow::as_select())
        .load(conn)?)
}

/// The outcome of an idempotent request: the stored answer, and whether it was
/// replayed from an earlier identical request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: i32,
    pub body: String,
    pub replayed: bool,
}

/// Runs `work` exactly once per `(device, key)`: a repeat with the same request
/// gets the first answer; a repeat with a different request is refused.
pub fn idempotent(
    conn: &mut AnyConnection,
    device_id: &str,
    key: &str,
    request_sha256: &str,
    status: i32,
    work: impl FnOnce(&mut AnyConnection) -> Result<String>,
) -> Result<Answer> {
    let replay = |conn: &mut AnyConnection| -> Result<Answer> {
        let s = idempotency::lookup(conn, device_id, key, request_sha256)?
            .ok_or_else(|| StorageError::Corrupt("idempotency record vanished".into()))?;
        Ok(Answer {
            status: s.status_code,
            body: s.body,
            replayed: true,
        })
    };
    // No look-up first: the claim inside the transaction finds an earlier
    // request too (a unique violation), so a new sale costs one statement less.
    let r = write_tx(conn, |conn| {
        idempotency::claim(conn, device_id, key, request_sha256)?;
        let body = work(conn)?;
        idempotency::complete(conn, device_id, key, status, &body)?;
        Ok(body)
    });
    match r {
        Ok(body) => Ok(Answer {
            status,
            body,
            replayed: false,
        }),
        Err(StorageError::IdempotencyRace) => replay(conn),
        Err(e) => Err(e),
    }
}

fn to_json(v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn sales_event(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    o: &Order,
    kind: &str,
) -> Result<()> {
    outbox::write(conn, vec![sales_prepared(node, actor, o, kind)?])
}

fn sales_prepared(node: &Node, actor: &Actor, o: &Order, kind: &str) -> Result<outbox::Prepared> {
    outbox::prepare(
        node,
        node.tick(),
        Event {
            stream: Stream::Sales,
            aggregate_type: "order",
            aggregate_id: &o.order.id,
            aggregate_version: o.order.version,
            event_type: kind,
            actor: &actor.staff_id,
            device_id: Some(&o.order.device_id),
            payload: o,
        },
    )
}

/// Reads an order for a change, taking its row lock.
fn lock_order(conn: &mut AnyConnection, id: &str) -> Result<Order> {
    let o = get(conn, id)?;
    // Bump the version first: on PostgreSQL this takes the row lock, so two
    // concurrent payments or refunds of one order serialize here.
    diesel::update(orders::table.find(id))
        .set(orders::version.eq(orders::version + 1))
        .execute(conn)?;
    get(conn, &o.order.id)
}

/// Who approves `what`: the actor when their role allows it, else the
/// supervisor whose PIN came with the request.
fn approver(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    approval: Option<&Approval>,
    p: Permission,
    what: &str,
) -> Result<String> {
    if actor.role.allows(p) {
        return Ok(actor.staff_id.clone());
    }
    let a = approval.ok_or_else(|| {
        StorageError::Forbidden(format!("{what} without a supervisor's approval"))
    })?;
    let key = actor.device_id.clone().unwrap_or_else(|| "office".into());
    staff::approve(conn, node, &a.staff_id, &a.pin, &key, p)
}
