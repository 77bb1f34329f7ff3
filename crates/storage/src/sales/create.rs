//! Creating a sale: its seller and products read in one round trip, checked
//! and priced into a [`Draft`] (reads only), then written with the register's
//! next number, every row in one bulk write, and the answer settled. Single
//! sales and the group writer go through the same [`create`].

use super::quote::{Priced, price};
use super::rows::{LineRow, OrderRow, lines_table, order_table, payment_rows, payments_table};
use super::{Answer, Order, PaymentRequest, ProductRef, SaleRequest, sales_prepared, to_json};
use crate::audit;
use crate::bulk::{self, Table};
use crate::catalog::{self, ProductRow, TaxCategory};
use crate::db::{AnyConnection, Fixed, new_id, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::idempotency;
use crate::kitchen::{self, TicketLine};
use crate::node::{Actor, Node};
use crate::outbox;
use crate::schema::{customers, devices};
use crate::staff;
use crate::stock;
use diesel::prelude::*;
use outpost_domain::{
    LineInput, OrderNumber, PaymentInput, PaymentMethod, Permission, settle_payments,
};
use std::collections::HashMap;

/// Creates a sale (and takes its payments when given) on `conn`, in its own
/// transaction. The api writes sales through [`SaleWriter`](super::SaleWriter),
/// which commits several together; both go through [`create`].
pub fn create_sale(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    key: &str,
    request_sha256: &str,
    req: &SaleRequest,
) -> Result<Answer> {
    actor.require(Permission::Sell, "sell")?;
    create(
        &mut Alone(conn),
        node,
        Seller::Actor(actor),
        key,
        request_sha256,
        req.clone(),
    )
}

/// Where [`create`] reads and how it writes: a sale alone on one connection,
/// or the group writer.
pub(crate) trait Sink {
    /// Runs `f` on a connection for reads (the writer's callers give theirs
    /// back to the pool before waiting on it).
    fn read<T>(&mut self, f: impl FnOnce(&mut AnyConnection) -> Result<T>) -> Result<T>;
    /// Writes and commits the draft; returns the order JSON.
    fn write(&mut self, node: &Node, draft: Draft) -> Result<String>;
}

/// One sale on the caller's connection, in its own transaction.
struct Alone<'c>(&'c mut AnyConnection);

impl Sink for Alone<'_> {
    fn read<T>(&mut self, f: impl FnOnce(&mut AnyConnection) -> Result<T>) -> Result<T> {
        f(self.0)
    }

    fn write(&mut self, node: &Node, draft: Draft) -> Result<String> {
        write_tx(self.0, |c| write_one(c, node, &draft))
    }
}

/// Creating a sale, the one sequence: who sells and what (one round trip),
/// checked and priced (reads only), written by `to`, then its answer, or
/// the answer stored under its key when this is a retry.
pub(crate) fn create(
    to: &mut impl Sink,
    node: &Node,
    seller: Seller<'_>,
    key: &str,
    request_sha256: &str,
    req: SaleRequest,
) -> Result<Answer> {
    let (device_id, drafted) = to.read(|conn| {
        // Who is selling is known first: an unknown session has no stored
        // answer to fall back on.
        let (actor, products) = seller_and_products(conn, seller, &req)?;
        let device_id = actor.device()?.to_owned();
        let drafted = draft(conn, node, &actor, products, key, request_sha256, req);
        Ok((device_id, drafted))
    })?;
    let written = drafted.and_then(|d| to.write(node, d));
    settle(written, || {
        to.read(|conn| idempotency::lookup(conn, &device_id, key, request_sha256))
    })
}

/// The answer to a sale that was written, or failed: a failed one still has
/// an answer when the same request was written before.
fn settle(
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
    /// Discounted: by how much (basis points) and who approved it beyond
    /// the seller's limit.
    discounted: Option<(i64, Option<String>)>,
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
    /// Whoever holds this session, checked in the round trip that reads
    /// the sale's products (the busiest route's one round trip fewer).
    Session(crate::staff::Presented<'a>),
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
        Seller::Session(session) => catalog::resolve_signed(conn, session, &ids, &codes),
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
    let judged = judged_lines(&resolved, &inputs, &totals);
    let discounted = discount(conn, node, actor, &req, &totals, &judged)?;
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
    // A company chosen at the till to invoice another's goods says why
    // (the sale is flagged for the manager either way).
    if cross_company && req.company_id.is_some() && req.company_reason.trim().is_empty() {
        return Err(StorageError::Unprocessable(
            "a sale invoiced by a company other than its items' needs the reason (company_reason)"
                .into(),
        ));
    }
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
        discounted,
    })
}

/// The lines as the discount limits judge them: at their list price, a
/// price overridden below it counted as a discount of the difference (an
/// override is no way around the limit).
fn judged_lines(
    resolved: &[(ProductRow, TaxCategory, &super::LineRequest)],
    inputs: &[LineInput],
    totals: &outpost_domain::OrderTotals,
) -> Vec<outpost_domain::PricedLine> {
    resolved
        .iter()
        .zip(inputs)
        .zip(&totals.lines)
        .map(|(((p, _, _), input), line)| {
            let mut judged = *line;
            if input.unit_price_minor < p.price_minor {
                let at_list =
                    (i128::from(p.price_minor) * i128::from(input.quantity.milli()) + 500) / 1000;
                let below = (i64::try_from(at_list).unwrap_or(i64::MAX) - line.gross_minor).max(0);
                judged.gross_minor += below;
                judged.line_discount_minor += below;
            }
            judged
        })
        .collect()
}

/// A discount within the seller's role's limit goes through; beyond it, a
/// supervisor's (or manager's) PIN whose own limit covers it approves it.
/// Either way the sale is flagged for a manager's review. A price
/// overridden below the list counts against the limit too (`judged`); one
/// within it is no discount (it has its own audit, `order.price_override`).
fn discount(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    req: &SaleRequest,
    totals: &outpost_domain::OrderTotals,
    judged: &[outpost_domain::PricedLine],
) -> Result<Option<(i64, Option<String>)>> {
    let below_list: i64 = judged
        .iter()
        .zip(&totals.lines)
        .map(|(j, l)| j.gross_minor - l.gross_minor)
        .sum();
    if totals.discount_minor == 0 && below_list == 0 {
        return Ok(None);
    }
    let bp = outpost_domain::staff::discount_bp(judged);
    let limits = node.discount_limits();
    if totals.discount_minor == 0 && bp <= limits.of(actor.role) {
        return Ok(None);
    }
    if req.discount_reason.trim().is_empty() {
        return Err(StorageError::Unprocessable(
            "give a reason for the discount (discount_reason)".into(),
        ));
    }
    if bp <= limits.of(actor.role) {
        return Ok(Some((bp, None)));
    }
    let pct = |bp: i64| format!("{}.{:02}%", bp / 100, bp % 100);
    let (by, role) = match (&req.approved, &req.approval) {
        (Some(approved), _) => approved.clone(),
        (None, Some(a)) => {
            let key = actor.device_id.clone().unwrap_or_else(|| "office".into());
            staff::approver(conn, node, &a.staff_id, &a.pin, &key)?
        }
        (None, None) => {
            return Err(StorageError::Forbidden(format!(
                "give a discount of {} (a {} gives up to {} alone) without a supervisor's PIN",
                pct(bp),
                actor.role.as_str(),
                pct(limits.of(actor.role))
            )));
        }
    };
    if bp > limits.of(role) {
        return Err(StorageError::Forbidden(format!(
            "approve a discount of {} (a {} approves up to {}: a manager must)",
            pct(bp),
            role.as_str(),
            pct(limits.of(role))
        )));
    }
    Ok(Some((bp, Some(by))))
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
        needs_adjustment: d.overridden || d.cross_company || d.discounted.is_some(),
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
    if d.cross_company && req.company_id.is_some() {
        let detail = serde_json::json!({
            "number": row.number, "company_id": row.company_id, "reason": req.company_reason,
        });
        audit::by(conn, node, actor, "order.company_chosen", &order_id, detail)?;
    }
    if let Some((bp, approved_by)) = &d.discounted {
        let detail = serde_json::json!({
            "number": row.number,
            "discount_minor": totals.discount_minor,
            "basis_points": bp,
            "reason": req.discount_reason,
            "approved_by": approved_by,
        });
        audit::by(conn, node, actor, "order.discounted", &order_id, detail)?;
    }
    let change_minor = pays.iter().map(|p| p.change_minor).sum();
    let order = Order {
        order: row,
        lines,
        payments: pays,
        change_minor,
    };
    // The order's event first: whoever applies these in order (a register
    // agent's edge) has the order before the ticket and movements naming it.
    events.insert(0, sales_prepared(node, actor, &order, "order.created")?);
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
