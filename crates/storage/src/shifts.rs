//! Shifts (cash sessions): opening float, cash in/out, X reports while open and
//! the Z report that closes them. The business day is fixed when a shift opens.

use crate::audit;
use crate::db::{AnyConnection, new_id, now_millis, sum_i64, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::outbox::{self, Event, Stream};
use crate::schema::{cash_movements, orders, payments, shifts};
use diesel::prelude::*;
use outpost_domain::money::MAX_MINOR;
use outpost_domain::{BusinessDay, Permission};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = shifts, treat_none_as_null = true)]
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

pub fn current(conn: &mut AnyConnection, device_id: &str) -> Result<Option<Shift>> {
    Ok(shifts::table
        .filter(shifts::device_id.eq(device_id))
        .filter(shifts::closed_at.is_null())
        .select(Shift::as_select())
        .first(conn)
        .optional()?)
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Shift> {
    shifts::table
        .find(id)
        .select(Shift::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StorageError::not_found(format!("shift {id:?}")))
}

pub fn list(conn: &mut AnyConnection, limit: i64) -> Result<Vec<Shift>> {
    Ok(shifts::table
        .order(shifts::opened_at.desc())
        .limit(limit)
        .select(Shift::as_select())
        .load(conn)?)
}

fn event(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    s: &Shift,
    kind: &str,
    payload: &impl Serialize,
) -> Result<()> {
    outbox::append(
        conn,
        node,
        node.tick(),
        Event {
            stream: Stream::Shifts,
            aggregate_type: "shift",
            aggregate_id: &s.id,
            aggregate_version: s.version,
            event_type: kind,
            actor: &actor.staff_id,
            device_id: Some(&s.device_id),
            payload,
        },
    )?;
    Ok(())
}

pub fn open(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    float_minor: i64,
) -> Result<Shift> {
    actor.require(Permission::Sell, "open a shift")?;
    let device = actor.device()?.to_owned();
    if !(0..=MAX_MINOR).contains(&float_minor) {
        return Err(StorageError::Unprocessable(
            "opening float must be zero or positive".into(),
        ));
    }
    write_tx(conn, |conn| {
        if current(conn, &device)?.is_some() {
            return Err(StorageError::Conflict(
                "this register already has an open shift".into(),
            ));
        }
        let day = BusinessDay::at(node.tick(), node.store().utc_offset_minutes);
        let s = Shift {
            id: new_id(),
            device_id: device.clone(),
            business_day: day.to_iso(),
            opened_by: actor.staff_id.clone(),
            opened_at: now_millis(),
            opening_float_minor: float_minor,
            closed_by: None,
            closed_at: None,
            counted_cash_minor: None,
            expected_cash_minor: None,
            version: 1,
        };
        diesel::insert_into(shifts::table)
            .values((
                shifts::id.eq(&s.id),
                shifts::device_id.eq(&s.device_id),
                shifts::business_day.eq(&s.business_day),
                shifts::opened_by.eq(&s.opened_by),
                shifts::opened_at.eq(s.opened_at),
                shifts::opening_float_minor.eq(s.opening_float_minor),
            ))
            .execute(conn)
            .map_err(|e| {
                crate::catalog::unique_to_conflict(e, "this register already has an open shift")
            })?;
        event(conn, node, actor, &s, "shift.opened", &s)?;
        Ok(s)
    })
}

/// Cash put into or taken out of the drawer without a sale. Opens the drawer,
/// so it needs a supervisor (or a cashier with a supervisor's PIN,
/// `approval`) and is audited.
pub fn cash_movement(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    amount_minor: i64,
    reason: &str,
    approval: Option<(&str, &str)>,
) -> Result<()> {
    let device = actor.device()?.to_owned();
    let approved_by = drawer_approval(conn, node, actor, &device, approval)?;
    if amount_minor == 0 || amount_minor.abs() > MAX_MINOR {
        return Err(StorageError::Unprocessable(
            "amount must be non-zero (negative takes cash out)".into(),
        ));
    }
    if reason.trim().is_empty() || reason.len() > 200 {
        return Err(StorageError::Unprocessable(
            "give a reason (up to 200 characters)".into(),
        ));
    }
    write_tx(conn, |conn| {
        let s = current(conn, &device)?
            .ok_or_else(|| StorageError::Conflict("no open shift on this register".into()))?;
        let id = new_id();
        diesel::insert_into(cash_movements::table)
            .values((
                cash_movements::id.eq(&id),
                cash_movements::shift_id.eq(&s.id),
                cash_movements::amount_minor.eq(amount_minor),
                cash_movements::reason.eq(reason),
                cash_movements::staff_id.eq(&actor.staff_id),
                cash_movements::at.eq(now_millis()),
            ))
            .execute(conn)?;
        let detail = serde_json::json!({"shift": s.id, "amount_minor": amount_minor, "reason": reason, "approved_by": approved_by});
        audit::by(
            conn,
            node,
            actor,
            "drawer.cash_movement",
            &id,
            detail.clone(),
        )?;
        event(conn, node, actor, &s, "shift.cash_moved", &detail)
    })
}

/// Opens the drawer without a sale (change for a customer, a check): its
/// own audited action, `drawer.no_sale`, from which the register's printer
/// kicks the drawer. A supervisor does it, or a cashier with a
/// supervisor's PIN (`approval`: staff id and PIN).
pub fn no_sale(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    reason: &str,
    approval: Option<(&str, &str)>,
) -> Result<()> {
    let device = actor.device()?.to_owned();
    if reason.trim().is_empty() || reason.len() > 200 {
        return Err(StorageError::Unprocessable(
            "give a reason (up to 200 characters)".into(),
        ));
    }
    let approved_by = drawer_approval(conn, node, actor, &device, approval)?;
    write_tx(conn, |conn| {
        let s = current(conn, &device)?
            .ok_or_else(|| StorageError::Conflict("no open shift on this register".into()))?;
        audit::by(
            conn,
            node,
            actor,
            "drawer.no_sale",
            &s.id,
            serde_json::json!({"shift": s.id, "reason": reason, "approved_by": approved_by}),
        )
    })
}

/// Who approved opening the drawer without a sale: nobody when the actor
/// may (a supervisor), else the supervisor whose PIN `approval` gives.
fn drawer_approval(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    device: &str,
    approval: Option<(&str, &str)>,
) -> Result<Option<String>> {
    if actor.role.allows(Permission::OpenDrawer) {
        return Ok(None);
    }
    let (staff_id, pin) = approval.ok_or_else(|| {
        StorageError::Forbidden("open the drawer without a sale without a supervisor's PIN".into())
    })?;
    Ok(Some(crate::staff::approve(
        conn,
        node,
        staff_id,
        pin,
        device,
        Permission::OpenDrawer,
    )?))
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodTotal {
    pub method: String,
    pub count: i64,
    pub amount_minor: i64,
}

/// An order of the shift that nobody paid yet (a tab).
#[derive(Debug, Clone, Serialize, Queryable)]
pub struct OpenOrder {
    pub id: String,
    pub number: String,
    pub total_minor: i64,
}

/// X report (shift still open) or Z report (closed). Every figure comes from
/// the shift's own payments, refunds and cash movements, so the report
/// reconciles by construction: an order counts in the shift its payment was
/// taken in (an unpaid tab counts nowhere until it is paid), and
/// `sales − refunds = Σ payments − Σ refunds paid out − rounding`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kind: &'static str,
    pub shift: Shift,
    pub currency: &'static str,
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

fn add(list: &mut Vec<MethodTotal>, method: String, amount: i64) {
    match list.iter_mut().find(|m| m.method == method) {
        Some(m) => {
            m.count += 1;
            m.amount_minor += amount;
        }
        None => list.push(MethodTotal {
            method,
            count: 1,
            amount_minor: amount,
        }),
    }
}

pub fn report(conn: &mut AnyConnection, node: &Node, shift_id: &str) -> Result<Report> {
    let shift = get(conn, shift_id)?;
    let rows: Vec<(String, String, String, i64, i64)> = payments::table
        .filter(payments::shift_id.eq(shift_id))
        .select((
            payments::order_id,
            payments::kind,
            payments::method,
            payments::amount_minor,
            payments::rounding_minor,
        ))
        .load(conn)?;
    let (mut pays, mut refunds) = (Vec::new(), Vec::new());
    let (mut sales, mut refunded, mut rounding) = (0i64, 0i64, 0i64);
    let mut cash = shift.opening_float_minor;
    let mut paid_orders: Vec<String> = Vec::new();
    for (order_id, kind, method, amount, round) in rows {
        let is_cash = method == "cash";
        if kind == "refund" {
            // Paid out `round` more than owed: that much less in the drawer.
            rounding -= round;
            refunded += amount - round;
            cash -= if is_cash { amount } else { 0 };
            add(&mut refunds, method, amount);
        } else {
            rounding += round;
            sales += amount - round;
            cash += if is_cash { amount } else { 0 };
            add(&mut pays, method, amount);
            paid_orders.push(order_id);
        }
    }
    paid_orders.sort_unstable();
    paid_orders.dedup();
    let tax: Option<i64> = if paid_orders.is_empty() {
        None
    } else {
        orders::table
            .filter(orders::id.eq_any(&paid_orders))
            .select(sum_i64("tax_minor"))
            .first(conn)?
    };
    let moved: Option<i64> = cash_movements::table
        .filter(cash_movements::shift_id.eq(shift_id))
        .select(sum_i64("amount_minor"))
        .first(conn)?;
    let moved = moved.unwrap_or(0);
    cash += moved;
    // This shift's tabs, and those carried over to it: still open from the
    // register's shifts that closed before this one opened.
    let earlier: Vec<String> = shifts::table
        .filter(shifts::device_id.eq(&shift.device_id))
        .filter(shifts::closed_at.le(shift.opened_at))
        .select(shifts::id)
        .load(conn)?;
    let open_orders = orders::table
        .filter(
            orders::shift_id
                .eq(shift_id)
                .or(orders::shift_id.eq_any(&earlier)),
        )
        .filter(orders::status.eq("open"))
        .order(orders::number)
        .select((orders::id, orders::number, orders::total_minor))
        .load::<OpenOrder>(conn)?;
    Ok(Report {
        kind: if shift.closed_at.is_some() { "Z" } else { "X" },
        currency: node.currency.code(),
        orders: paid_orders.len() as i64,
        sales_total_minor: sales,
        tax_total_minor: tax.unwrap_or(0),
        refunds_total_minor: refunded,
        payments: pays,
        refunds,
        rounding_minor: rounding,
        cash_in_out_minor: moved,
        expected_cash_minor: cash,
        counted_cash_minor: shift.counted_cash_minor,
        difference_minor: shift.counted_cash_minor.map(|c| c - cash),
        open_orders,
        shift,
    })
}

/// What to do with a shift's unpaid orders when it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenOrders {
    /// Void them (needs the void permission; audited, goods back in stock).
    Void,
    /// Leave them open to be paid in a later shift (audited, listed on the Z).
    CarryOver,
}

/// Closes a shift with the counted cash and returns its Z report. A shift
/// with unpaid orders closes only with a decision for them.
pub fn close(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    shift_id: &str,
    counted_minor: i64,
    open_orders: Option<OpenOrders>,
) -> Result<Report> {
    actor.require(Permission::ManageShifts, "close a shift (Z report)")?;
    close_in(
        conn,
        node,
        actor,
        None,
        shift_id,
        counted_minor,
        open_orders,
    )
}

/// A cashier closes their own register's shift at the till with a
/// manager's PIN (`approval`: staff id and PIN): the same close as
/// [`close`], the manager's approval audited (`shift.close_approved`) and
/// theirs the void of any open orders.
pub fn close_approved(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    shift_id: &str,
    counted_minor: i64,
    open_orders: Option<OpenOrders>,
    approval: (&str, &str),
) -> Result<Report> {
    let device = actor.device()?.to_owned();
    let s = get(conn, shift_id)?;
    if s.device_id != device {
        return Err(StorageError::Forbidden(
            "close another register's shift (a manager signs in there, or here on the manager page)"
                .into(),
        ));
    }
    let (staff_id, pin) = approval;
    let approver =
        crate::staff::approve(conn, node, staff_id, pin, &device, Permission::ManageShifts)?;
    close_in(
        conn,
        node,
        actor,
        Some(&approver),
        shift_id,
        counted_minor,
        open_orders,
    )
}

fn close_in(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    approver: Option<&str>,
    shift_id: &str,
    counted_minor: i64,
    open_orders: Option<OpenOrders>,
) -> Result<Report> {
    if !(0..=MAX_MINOR).contains(&counted_minor) {
        return Err(StorageError::Unprocessable(
            "counted cash must be zero or positive".into(),
        ));
    }
    if open_orders == Some(OpenOrders::Void) && approver.is_none() {
        actor.require(Permission::VoidLine, "void the shift's open orders")?;
    }
    write_tx(conn, |conn| {
        let s = get(conn, shift_id)?;
        if s.closed_at.is_some() {
            return Err(StorageError::Conflict(
                "this shift is already closed".into(),
            ));
        }
        let open = report(conn, node, shift_id)?.open_orders;
        match (open.is_empty(), open_orders) {
            (true, _) => {}
            (false, None) => {
                let list: Vec<String> = open
                    .iter()
                    .map(|o| {
                        let total = outpost_domain::Money {
                            minor: o.total_minor,
                            currency: node.currency,
                        };
                        format!("{} ({})", o.number, total.in_locale(&node.store().locale))
                    })
                    .collect();
                return Err(StorageError::Conflict(format!(
                    "{} unpaid order(s) of this shift are not sales: {}. Take payment, or close with \"open_orders\": \"void\" or \"carry_over\"",
                    open.len(),
                    list.join(", ")
                )));
            }
            (false, Some(OpenOrders::Void)) => {
                for o in &open {
                    crate::sales::void_in(
                        conn,
                        node,
                        actor,
                        &o.id,
                        approver.unwrap_or(&actor.staff_id),
                        "open at shift close",
                    )?;
                }
            }
            (false, Some(OpenOrders::CarryOver)) => {
                for o in &open {
                    audit::by(
                        conn,
                        node,
                        actor,
                        "order.carried_over",
                        &o.id,
                        serde_json::json!({"number": o.number, "shift_id": shift_id}),
                    )?;
                }
            }
        }
        let expected = report(conn, node, shift_id)?.expected_cash_minor;
        diesel::update(shifts::table.find(shift_id))
            .set((
                shifts::closed_at.eq(now_millis()),
                shifts::closed_by.eq(&actor.staff_id),
                shifts::counted_cash_minor.eq(counted_minor),
                shifts::expected_cash_minor.eq(expected),
                shifts::version.eq(s.version + 1),
            ))
            .execute(conn)?;
        if let Some(by) = approver {
            audit::by(
                conn,
                node,
                actor,
                "shift.close_approved",
                shift_id,
                serde_json::json!({"shift": shift_id, "approved_by": by, "counted_cash_minor": counted_minor}),
            )?;
        }
        let z = report(conn, node, shift_id)?;
        event(conn, node, actor, &z.shift, "shift.closed", &z)?;
        Ok(z)
    })
}
