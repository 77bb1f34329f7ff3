//! Sales: creating an order with its payments, paying an open order, voids and
//! refunds. Each runs in one transaction that also writes its outbox events,
//! stock movements, kitchen ticket, audit entries and idempotency record.

use crate::audit;
use crate::bulk::{self, Col, Table};
use crate::catalog::{self, ProductRow, TaxCategory};
use crate::db::{AnyConnection, Fixed, new_id, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::idempotency;
use crate::kitchen::{self, TicketLine};
use crate::node::{Actor, Node};
use crate::outbox::{self, Event, Stream};
use crate::schema::{customers, devices, order_lines, orders, payments};
use crate::shifts;
use crate::staff;
use crate::stock;
use diesel::prelude::*;
use outpost_domain::money::div_round;
use outpost_domain::{
    LineInput, OrderNumber, PaymentInput, PaymentMethod, Permission, Quantity, price_order,
    settle_payments,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
}

/// A supervisor's PIN given at the till for something the cashier may not do.
#[derive(Debug, Clone)]
pub struct Approval {
    pub staff_id: String,
    pub pin: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = orders)]
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

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
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

/// Creates a sale (and takes its payments when given). Returns the order JSON.
/// The api writes sales through [`crate::SaleWriter`], which commits several
/// together; this writes one on `conn`, in its own transaction.
pub fn create_sale(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    key: &str,
    request_sha256: &str,
    req: &SaleRequest,
) -> Result<Answer> {
    actor.require(Permission::Sell, "sell")?;
    let device_id = actor.device()?.to_owned();
    let written = seller_and_products(conn, Seller::Actor(actor), req)
        .and_then(|(_, products)| {
            draft(
                conn,
                node,
                actor,
                products,
                key,
                request_sha256,
                req.clone(),
            )
        })
        .and_then(|d| write_tx(conn, |c| write_one(c, node, &d)));
    settle(written, || {
        idempotency::lookup(conn, &device_id, key, request_sha256)
    })
}

/// The answer to a sale that was written, or failed: a failed one still has
/// an answer when the same request was written before.
pub(crate) fn settle(
    written: Result<String>,
    stored: impl FnOnce() -> Result<Option<idempotency::Stored>>,
) -> Result<Answer> {
    match written {
        Ok(body) => Ok(Answer {
            status: 201,
            body,
            replayed: false,
        }),
        // The answer is stored last, so a retry (or a twin that committed
        // first) fails there, or earlier if the catalog changed since: either
        // way, a stored answer under the key stands.
        Err(e) => match stored() {
            Ok(Some(s)) => Ok(Answer {
                status: s.status_code,
                body: s.body,
                replayed: true,
            }),
            Err(StorageError::IdempotencyMismatch) => Err(StorageError::IdempotencyMismatch),
            Ok(None) | Err(_) => Err(e),
        },
    }
}

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

struct Priced<'a> {
    resolved: Vec<(ProductRow, TaxCategory, &'a LineRequest)>,
    inputs: Vec<LineInput>,
    totals: outpost_domain::OrderTotals,
    overridden: bool,
}

/// Prices the lines with their products as [`seller_and_products`] read them.
fn price<'a>(
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

/// Each register's next order number and its open shift. The counter is the
/// register's own row: each till sells one sale at a time, and a group commit
/// holds one sale per register, so no other register ever waits on it.
/// On PostgreSQL one statement for any number of (distinct) registers.
const TAKE_NUMBERS_PG: &str = "UPDATE devices d SET last_seq = d.last_seq + 1 \
     FROM unnest(string_to_array(?, ',')) AS x(id) \
     JOIN shifts s ON s.device_id = x.id AND s.closed_at IS NULL \
     WHERE d.id = x.id \
     RETURNING d.id, d.last_seq, d.register_no, s.id AS shift_id, s.business_day";

/// On SQLite (in-process, no round trips), one statement per register.
const TAKE_NUMBER_SQLITE: &str = "UPDATE devices SET last_seq = last_seq + 1 \
     WHERE id = ? AND EXISTS (SELECT 1 FROM shifts WHERE device_id = ? AND closed_at IS NULL) \
     RETURNING id, last_seq, register_no, \
     (SELECT id FROM shifts WHERE device_id = ? AND closed_at IS NULL) AS shift_id, \
     (SELECT business_day FROM shifts WHERE device_id = ? AND closed_at IS NULL) AS business_day";

#[derive(QueryableByName)]
struct TakenRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_seq: i64,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    register_no: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    shift_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    business_day: String,
}

/// Each register's next number and open shift, for the registers that have
/// one open; a register without is missing from the map and keeps its number.
pub(crate) fn take_numbers<'a>(
    conn: &mut AnyConnection,
    devices: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, Taken>> {
    let devices: Vec<&str> = devices.into_iter().collect();
    let rows: Vec<TakenRow> = match conn {
        AnyConnection::Postgresql(c) => {
            // Ids are this node's UUIDs; one with a comma would split wrong.
            if devices.iter().any(|d| d.contains(',')) {
                return Err(StorageError::Corrupt("a device id with a comma".into()));
            }
            let list = devices.join(",");
            Fixed {
                sql: TAKE_NUMBERS_PG,
                binds: vec![list.as_str()],
            }
            .load(c)?
        }
        AnyConnection::Sqlite(c) => {
            let mut rows = Vec::with_capacity(devices.len());
            for d in devices {
                rows.extend(
                    Fixed {
                        sql: TAKE_NUMBER_SQLITE,
                        binds: vec![d; 4],
                    }
                    .load::<TakenRow>(c)?,
                );
            }
            rows
        }
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                Taken {
                    seq: r.last_seq,
                    register_no: r.register_no,
                    shift_id: r.shift_id,
                    business_day: r.business_day,
                },
            )
        })
        .collect())
}

/// Why a register took no number: it is gone, or it has no shift open.
fn no_number(conn: &mut AnyConnection, device_id: &str) -> StorageError {
    match devices::table
        .find(device_id)
        .count()
        .get_result::<i64>(conn)
    {
        Ok(0) => StorageError::not_found(format!("register {device_id:?}")),
        Ok(_) => StorageError::Conflict("no open shift on this register: open one first".into()),
        Err(e) => e.into(),
    }
}

/// A sale checked and priced, ready to write: all but what only the writing
/// transaction can take (the register's next number and its open shift).
#[derive(Debug)]
pub struct Draft {
    actor: Actor,
    device_id: String,
    key: String,
    request_sha256: String,
    req: SaleRequest,
    resolved: Vec<(ProductRow, TaxCategory)>,
    inputs: Vec<LineInput>,
    totals: outpost_domain::OrderTotals,
    overridden: bool,
    settled: Vec<outpost_domain::order::SettledPayment>,
    company_id: String,
    cross_company: bool,
}

impl Draft {
    pub(crate) fn device_id(&self) -> &str {
        &self.device_id
    }
}

/// Who asks for a sale.
#[derive(Debug, Clone, Copy)]
pub enum Seller<'a> {
    /// Someone already known.
    Actor(&'a Actor),
    /// Whoever holds this session token, checked in the round trip that
    /// reads the sale's products (the busiest route's one round trip fewer).
    Session(&'a str),
}

/// The seller and the products a sale names: one round trip for both.
pub(crate) fn seller_and_products(
    conn: &mut AnyConnection,
    seller: Seller<'_>,
    req: &SaleRequest,
) -> Result<(Actor, catalog::Resolved)> {
    let (mut ids, mut codes) = (Vec::new(), Vec::new());
    for l in &req.lines {
        match &l.product {
            ProductRef::Id(i) => ids.push(i.clone()),
            ProductRef::Barcode(c) => codes.push(c.clone()),
        }
    }
    match seller {
        Seller::Actor(a) => Ok((a.clone(), catalog::resolve(conn, &ids, &codes)?)),
        Seller::Session(token) => catalog::resolve_signed(conn, token, &ids, &codes),
    }
}

/// Checks and prices a sale, `products` being what
/// [`seller_and_products`] read for it; writes nothing.
pub(crate) fn draft(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    products: catalog::Resolved,
    key: &str,
    request_sha256: &str,
    req: SaleRequest,
) -> Result<Draft> {
    actor.require(Permission::Sell, "sell")?;
    let device_id = actor.device()?.to_owned();
    if let Some(c) = &req.currency
        && c != node.currency.code()
    {
        return Err(StorageError::Unprocessable(format!(
            "this store sells in {}, not {c}",
            node.currency.code()
        )));
    }
    if let Some(c) = &req.customer_id
        && customers::table.find(c).count().get_result::<i64>(conn)? == 0
    {
        return Err(StorageError::Unprocessable(format!(
            "unknown customer {c:?}"
        )));
    }
    let Priced {
        resolved,
        inputs,
        totals,
        overridden,
    } = price(node, actor, &req, products)?;
    let pay_inputs: Vec<PaymentInput> = req.payments.iter().map(PaymentRequest::input).collect();
    let settled = if req.payments.is_empty() {
        Vec::new()
    } else {
        settle_payments(node.currency, totals.total_minor, &pay_inputs)?
    };
    if req
        .payments
        .iter()
        .any(|p| p.method == PaymentMethod::OnAccount)
        && req.customer_id.is_none()
    {
        return Err(StorageError::Unprocessable(
            "a sale on account needs a customer".into(),
        ));
    }
    let company_id = req
        .company_id
        .clone()
        .unwrap_or_else(|| resolved[0].0.company_id.clone());
    // A product's company exists (master data is never deleted); only a
    // company named by the till needs checking.
    if req.company_id.is_some() && !catalog::companies(conn)?.iter().any(|c| c.id == company_id) {
        return Err(StorageError::Unprocessable(format!(
            "unknown company {company_id:?}"
        )));
    }
    let cross_company = resolved.iter().any(|(p, _, _)| p.company_id != company_id);
    let resolved = resolved.into_iter().map(|(p, t, _)| (p, t)).collect();
    Ok(Draft {
        actor: actor.clone(),
        device_id,
        key: key.to_owned(),
        request_sha256: request_sha256.to_owned(),
        req,
        resolved,
        inputs,
        totals,
        overridden,
        settled,
        company_id,
        cross_company,
    })
}

/// Writes one sale: the register's number, then every row in one
/// [`bulk::write`] (on PostgreSQL two statements, whatever its size). Call
/// inside a transaction.
pub(crate) fn write_one(conn: &mut AnyConnection, node: &Node, d: &Draft) -> Result<String> {
    let taken = take_numbers(conn, [d.device_id.as_str()])?
        .remove(&d.device_id)
        .ok_or_else(|| no_number(conn, &d.device_id))?;
    let (tables, body) = sale_tables(conn, node, d, taken)?;
    bulk::write(conn, tables)?;
    Ok(body)
}

/// A register's number for its next order, and its open shift.
#[derive(Debug, Clone)]
pub(crate) struct Taken {
    pub seq: i64,
    pub register_no: i32,
    pub shift_id: String,
    pub business_day: String,
}

/// The sale's rows in every table, with its events and its idempotency
/// answer (the order JSON, also returned). On SQLite the events take their
/// stream positions here, so call inside the writing transaction.
pub(crate) fn sale_tables(
    conn: &mut AnyConnection,
    node: &Node,
    d: &Draft,
    taken: Taken,
) -> Result<(Vec<Table>, String)> {
    let (actor, req, totals, inputs, settled) =
        (&d.actor, &d.req, &d.totals, &d.inputs, &d.settled);
    let number = OrderNumber::new(&node.store_code, taken.register_no, taken.seq);
    let hlc = node.tick();
    let now = now_millis();
    let order_id = new_id();
    let row = OrderRow {
        id: order_id.clone(),
        number: number.as_str().to_owned(),
        device_id: d.device_id.clone(),
        shift_id: taken.shift_id.clone(),
        business_day: taken.business_day,
        company_id: d.company_id.clone(),
        staff_id: actor.staff_id.clone(),
        customer_id: req.customer_id.clone(),
        status: if settled.is_empty() {
            "open".into()
        } else {
            "paid".into()
        },
        currency: node.currency.code().into(),
        subtotal_minor: totals.subtotal_minor,
        discount_minor: totals.discount_minor,
        tax_minor: totals.tax_minor,
        total_minor: totals.total_minor,
        refunded_minor: 0,
        needs_adjustment: d.overridden || d.cross_company,
        note: req.note.clone(),
        created_at: now,
        hlc: hlc.raw(),
        version: 1,
    };
    let mut lines = Vec::with_capacity(d.resolved.len());
    for (i, ((p, tax), priced)) in d.resolved.iter().zip(&totals.lines).enumerate() {
        lines.push(LineRow {
            id: new_id(),
            order_id: order_id.clone(),
            line_no: i as i32 + 1,
            product_id: p.id.clone(),
            company_id: p.company_id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            qty_milli: inputs[i].quantity.milli(),
            list_price_minor: p.price_minor,
            unit_price_minor: inputs[i].unit_price_minor,
            gross_minor: priced.gross_minor,
            line_discount_minor: priced.line_discount_minor,
            order_discount_minor: priced.order_discount_minor,
            net_minor: priced.net_minor,
            tax_minor: priced.tax_minor,
            total_minor: priced.total_minor,
            tax_ppm: priced.tax_ppm,
            tax_mode: tax.mode.clone(),
            refunded_milli: 0,
        });
    }
    let pays = payment_rows(
        &order_id,
        &taken.shift_id,
        "payment",
        &req.payments,
        settled,
    );
    let moves: Vec<(String, i64, &str)> = lines
        .iter()
        .map(|l| (l.product_id.clone(), -l.qty_milli, "sale"))
        .collect();
    let (movements, stock_event) = stock::prepare(node, actor, &order_id, &moves)?;
    let mut events: Vec<outbox::Prepared> = stock_event.into_iter().collect();
    let kitchen_lines: Vec<TicketLine> = d
        .resolved
        .iter()
        .zip(&lines)
        .filter(|((p, _), _)| p.kitchen)
        .map(|(_, l)| TicketLine {
            name: l.name.clone(),
            qty_milli: l.qty_milli,
        })
        .collect();
    let ticket = if kitchen_lines.is_empty() {
        None
    } else {
        let (t, ev) = kitchen::new_ticket(
            node,
            actor,
            &order_id,
            &row.number,
            &kitchen_lines,
            &req.note,
        )?;
        events.push(ev);
        Some(t)
    };
    if d.overridden {
        let detail = serde_json::json!({"number": row.number, "lines": lines.iter().filter(|l| l.unit_price_minor != l.list_price_minor).map(|l| serde_json::json!({"sku": l.sku, "list": l.list_price_minor, "charged": l.unit_price_minor})).collect::<Vec<_>>()});
        audit::by(conn, node, actor, "order.price_override", &order_id, detail)?;
    }
    let change_minor = pays.iter().map(|p| p.change_minor).sum();
    let order = Order {
        order: row,
        lines,
        payments: pays,
        change_minor,
    };
    events.push(sales_prepared(node, actor, &order, "order.created")?);
    let body = to_json(&order)?;
    outbox::take_positions(conn, &mut events)?;
    let mut tables = vec![
        order_table(&order.order),
        lines_table(&order.lines),
        payments_table(&order.payments),
        stock::table(actor, &movements),
    ];
    tables.extend(ticket.as_ref().map(kitchen::table));
    tables.push(outbox::table(events));
    tables.push(idempotency::table(
        &d.device_id,
        &d.key,
        &d.request_sha256,
        201,
        &body,
    ));
    Ok((tables, body))
}

fn payment_rows(
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

fn insert_payments(
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

fn order_table(o: &OrderRow) -> Table {
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

fn lines_table(lines: &[LineRow]) -> Table {
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

fn payments_table(pays: &[PaymentRow]) -> Table {
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

fn lock_order(conn: &mut AnyConnection, id: &str) -> Result<Order> {
    let o = get(conn, id)?;
    // Bump the version first: on PostgreSQL this takes the row lock, so two
    // concurrent payments or refunds of one order serialize here.
    diesel::update(orders::table.find(id))
        .set(orders::version.eq(orders::version + 1))
        .execute(conn)?;
    get(conn, &o.order.id)
}

/// Pays an open order.
pub fn pay(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    order_id: &str,
    key: &str,
    request_sha256: &str,
    reqs: &[PaymentRequest],
) -> Result<Answer> {
    actor.require(Permission::Sell, "take payments")?;
    let device_id = actor.device()?.to_owned();
    idempotent(conn, &device_id, key, request_sha256, 200, |conn| {
        let o = lock_order(conn, order_id)?;
        if o.order.status != "open" {
            return Err(StorageError::Conflict(format!(
                "order is {}, not open",
                o.order.status
            )));
        }
        if reqs.iter().any(|p| p.method == PaymentMethod::OnAccount)
            && o.order.customer_id.is_none()
        {
            return Err(StorageError::Unprocessable(
                "a sale on account needs a customer".into(),
            ));
        }
        let shift = open_shift(conn, &device_id)?;
        let inputs: Vec<PaymentInput> = reqs.iter().map(PaymentRequest::input).collect();
        let settled = settle_payments(node.currency, o.order.total_minor, &inputs)?;
        insert_payments(conn, order_id, &shift.id, "payment", reqs, &settled)?;
        diesel::update(orders::table.find(order_id))
            .set(orders::status.eq("paid"))
            .execute(conn)?;
        let o = get(conn, order_id)?;
        sales_event(conn, node, actor, &o, "order.paid")?;
        to_json(&o)
    })
}

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

/// The share of `whole` for quantities `done..done+qty` of `of`, computed so a
/// line returned in several parts refunds exactly its total.
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
