//! A shift's X and Z reconcile with what happened at its till: unpaid tabs
//! are not sales and a shift closes with them only on a decision; over a
//! generated shift of sales, splits, tabs, refunds and cash movements the Z
//! equals what the test itself sent; cash is rounded to the currency's cash
//! unit and the difference shows; a coarse currency prices in whole units.

mod common;

use common::{Store, demo_store, demo_store_in, demo_store_on_pg, till};
use outpost_domain::PaymentMethod;
use outpost_storage::sales::{
    self, LineRequest, PaymentRequest, ProductRef, RefundRequest, SaleRequest,
};
use outpost_storage::{Actor, StorageError, catalog, shifts};

fn products(s: &Store) -> Vec<catalog::Product> {
    catalog::search(
        &mut s.db.conn().unwrap(),
        &s.node,
        "",
        &catalog::Shelf::All,
        100,
    )
    .unwrap()
    .into_iter()
    .filter(|p| !p.weighed)
    .collect()
}

fn pay(method: PaymentMethod, amount: i64, tendered: Option<i64>) -> PaymentRequest {
    PaymentRequest {
        method,
        amount_minor: amount,
        tendered_minor: tendered,
        card_type: String::new(),
        reference: String::new(),
    }
}

fn lines(p: &catalog::Product, qty: i64) -> Vec<LineRequest> {
    vec![LineRequest {
        product: ProductRef::Id(p.id.clone()),
        qty_milli: qty * 1000,
        discount_minor: 0,
        unit_price_minor: None,
    }]
}

fn order(s: &Store, a: &Actor, req: &SaleRequest) -> serde_json::Value {
    let key = uuid::Uuid::now_v7().to_string();
    let r = sales::create_sale(&mut s.db.conn().unwrap(), &s.node, a, &key, &key, req).unwrap();
    serde_json::from_str(&r.body).unwrap()
}

fn total(s: &Store, a: &Actor, p: &catalog::Product, qty: i64) -> i64 {
    let req = SaleRequest {
        lines: lines(p, qty),
        ..SaleRequest::default()
    };
    sales::quote(&mut s.db.conn().unwrap(), &s.node, a, &req)
        .unwrap()
        .total_minor
}

fn shift_of(s: &Store, a: &Actor) -> String {
    shifts::current(&mut s.db.conn().unwrap(), a.device_id.as_ref().unwrap())
        .unwrap()
        .unwrap()
        .id
}

fn report(s: &Store, shift: &str) -> shifts::Report {
    shifts::report(&mut s.db.conn().unwrap(), &s.node, shift).unwrap()
}

fn unpaid_orders_are_not_sales_and_close_only_on_a_decision(s: Store) {
    let a = till(&s);
    let ps = products(&s);
    let paid_total = total(&s, &a, &ps[0], 2);
    order(
        &s,
        &a,
        &SaleRequest {
            lines: lines(&ps[0], 2),
            payments: vec![pay(PaymentMethod::Cash, paid_total, None)],
            ..SaleRequest::default()
        },
    );
    let tab = order(
        &s,
        &a,
        &SaleRequest {
            lines: lines(&ps[1], 1),
            ..SaleRequest::default()
        },
    );
    let shift = shift_of(&s, &a);
    let x = report(&s, &shift);
    assert_eq!(
        (x.orders, x.sales_total_minor),
        (1, paid_total),
        "the tab is not a sale"
    );
    assert_eq!(x.expected_cash_minor, paid_total);
    assert_eq!(x.open_orders.len(), 1);

    // No decision: refused, naming the tab and its amount in euros.
    let e = shifts::close(
        &mut s.db.conn().unwrap(),
        &s.node,
        &a,
        &shift,
        paid_total,
        None,
    )
    .unwrap_err();
    let number = tab["number"].as_str().unwrap();
    match e {
        StorageError::Conflict(m) => {
            assert!(m.contains(number) && m.contains(" EUR)"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    // Carried over: the Z lists it, still open; it is a sale of the shift
    // that takes its payment.
    let z = shifts::close(
        &mut s.db.conn().unwrap(),
        &s.node,
        &a,
        &shift,
        paid_total,
        Some(shifts::OpenOrders::CarryOver),
    )
    .unwrap();
    assert_eq!(
        (z.kind, z.orders, z.sales_total_minor),
        ("Z", 1, paid_total)
    );
    assert_eq!(z.open_orders[0].number, number);
    assert_eq!(z.difference_minor, Some(0));
    shifts::open(&mut s.db.conn().unwrap(), &s.node, &a, 0).unwrap();
    let carried = report(&s, &shift_of(&s, &a));
    assert_eq!(
        carried.open_orders[0].number, number,
        "carried over to the next shift"
    );
    let tab_total = tab["total_minor"].as_i64().unwrap();
    let key = uuid::Uuid::now_v7().to_string();
    sales::pay(
        &mut s.db.conn().unwrap(),
        &s.node,
        &a,
        tab["id"].as_str().unwrap(),
        &key,
        &key,
        &[pay(PaymentMethod::Card, tab_total, None)],
    )
    .unwrap();
    let next = report(&s, &shift_of(&s, &a));
    assert_eq!((next.orders, next.sales_total_minor), (1, tab_total));
    assert!(next.open_orders.is_empty());

    // Voided at close: gone from the sales, on neither report.
    let other = order(
        &s,
        &a,
        &SaleRequest {
            lines: lines(&ps[2], 1),
            ..SaleRequest::default()
        },
    );
    let shift2 = shift_of(&s, &a);
    let z2 = shifts::close(
        &mut s.db.conn().unwrap(),
        &s.node,
        &a,
        &shift2,
        0,
        Some(shifts::OpenOrders::Void),
    )
    .unwrap();
    assert!(z2.open_orders.is_empty());
    let voided = sales::get(&mut s.db.conn().unwrap(), other["id"].as_str().unwrap()).unwrap();
    assert_eq!(voided.order.status, "voided");
}

#[test]
fn on_sqlite_unpaid_orders_are_not_sales_and_close_only_on_a_decision() {
    unpaid_orders_are_not_sales_and_close_only_on_a_decision(demo_store());
}

#[test]
fn on_postgres_unpaid_orders_are_not_sales_and_close_only_on_a_decision() {
    unpaid_orders_are_not_sales_and_close_only_on_a_decision(demo_store_on_pg(4));
}

/// A small deterministic generator: the same shift every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn a_z_equals_its_payments_refunds_and_cash_movements_over_a_generated_shift() {
    let s = demo_store_in("CHF");
    let a = till(&s);
    let ps = products(&s);
    let mut r = Lcg(7);
    // What the test itself handed over, kept apart from the server's figures.
    let (mut sales_total, mut cash_in, mut refunds_total, mut cash_out, mut moved) =
        (0i64, 0i64, 0i64, 0i64, 0i64);
    let mut paid: Vec<serde_json::Value> = Vec::new();
    let mut tabs = 0;
    for _ in 0..60 {
        let p = &ps[r.below(ps.len() as u64) as usize];
        let qty = 1 + r.below(3) as i64;
        let due = total(&s, &a, p, qty);
        let cash_due = outpost_domain::round_to(due, 5);
        let req = |payments| SaleRequest {
            lines: lines(p, qty),
            payments,
            ..SaleRequest::default()
        };
        match r.below(6) {
            0 | 1 => {
                let o = order(
                    &s,
                    &a,
                    &req(vec![pay(
                        PaymentMethod::Cash,
                        cash_due,
                        Some(cash_due + 500),
                    )]),
                );
                sales_total += due;
                cash_in += cash_due;
                paid.push(o);
            }
            2 => {
                let o = order(&s, &a, &req(vec![pay(PaymentMethod::Card, due, None)]));
                sales_total += due;
                paid.push(o);
            }
            3 if due > 100 => {
                let rest = outpost_domain::round_to(due - 100, 5);
                let o = order(
                    &s,
                    &a,
                    &req(vec![
                        pay(PaymentMethod::Card, 100, None),
                        pay(PaymentMethod::Cash, rest, None),
                    ]),
                );
                sales_total += due;
                cash_in += rest;
                paid.push(o);
            }
            4 => {
                order(&s, &a, &req(vec![]));
                tabs += 1;
            }
            _ => {
                let amount = (1 + r.below(20) as i64) * 100 * if r.below(2) == 0 { 1 } else { -1 };
                shifts::cash_movement(
                    &mut s.db.conn().unwrap(),
                    &s.node,
                    &a,
                    amount,
                    "float top-up",
                    None,
                )
                .unwrap();
                moved += amount;
            }
        }
        if r.below(5) == 0 && !paid.is_empty() {
            let o = paid.remove(r.below(paid.len() as u64) as usize);
            let line = &o["lines"][0];
            let back = line["total_minor"].as_i64().unwrap();
            let method = if r.below(2) == 0 {
                PaymentMethod::Cash
            } else {
                PaymentMethod::Card
            };
            let key = uuid::Uuid::now_v7().to_string();
            sales::refund(
                &mut s.db.conn().unwrap(),
                &s.node,
                &a,
                o["id"].as_str().unwrap(),
                &key,
                &key,
                &RefundRequest {
                    lines: vec![(
                        line["id"].as_str().unwrap().to_owned(),
                        line["qty_milli"].as_i64().unwrap(),
                    )],
                    method,
                    reason: "changed their mind".into(),
                    approval: None,
                },
            )
            .unwrap();
            refunds_total += back;
            if method == PaymentMethod::Cash {
                cash_out += outpost_domain::round_to(back, 5);
            }
        }
    }
    let shift = shift_of(&s, &a);
    let expected_cash = cash_in - cash_out + moved;
    let z = shifts::close(
        &mut s.db.conn().unwrap(),
        &s.node,
        &a,
        &shift,
        expected_cash.max(0),
        Some(shifts::OpenOrders::CarryOver),
    );
    let z = match z {
        Ok(z) => z,
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!(z.sales_total_minor, sales_total);
    assert_eq!(z.refunds_total_minor, refunds_total);
    assert_eq!(z.expected_cash_minor, expected_cash);
    assert_eq!(z.cash_in_out_minor, moved);
    assert_eq!(z.open_orders.len(), tabs);
    let taken: i64 = z.payments.iter().map(|m| m.amount_minor).sum();
    let given: i64 = z.refunds.iter().map(|m| m.amount_minor).sum();
    assert_eq!(
        taken - given - z.rounding_minor,
        sales_total - refunds_total,
        "payments less refunds less rounding are the net sales"
    );
}

#[test]
fn cash_is_rounded_to_the_currencys_cash_unit_and_the_rounding_is_kept() {
    let s = demo_store_in("CHF");
    let a = till(&s);
    let ps = products(&s);
    // A total that is not a multiple of 0.05 CHF.
    let (p, qty, due) = ps
        .iter()
        .flat_map(|p| (1..4).map(move |q| (p, q)))
        .map(|(p, q)| (p, q, total(&s, &a, p, q)))
        .find(|(_, _, t)| t % 5 != 0)
        .expect("a price off the 5-rappen grid");
    let req = |amount| SaleRequest {
        lines: lines(p, qty),
        payments: vec![pay(PaymentMethod::Cash, amount, None)],
        ..SaleRequest::default()
    };
    let key = uuid::Uuid::now_v7().to_string();
    let e = sales::create_sale(
        &mut s.db.conn().unwrap(),
        &s.node,
        &a,
        &key,
        &key,
        &req(due),
    )
    .unwrap_err();
    assert!(e.to_string().contains("CHF"), "amounts in francs: {e}");
    let rounded = outpost_domain::round_to(due, 5);
    let o = order(&s, &a, &req(rounded));
    assert_eq!(
        o["total_minor"].as_i64().unwrap(),
        due,
        "the order keeps its total"
    );
    assert_eq!(
        o["payments"][0]["rounding_minor"].as_i64().unwrap(),
        rounded - due
    );
    let x = report(&s, &shift_of(&s, &a));
    assert_eq!(x.rounding_minor, rounded - due);
    assert_eq!(x.expected_cash_minor, rounded);
    assert_eq!(x.sales_total_minor, due);
}

#[test]
fn a_currency_with_a_coarse_rounding_unit_refuses_fractions_and_totals_in_whole_units() {
    let s = demo_store_in("IDR");
    let a = till(&s);
    let mut c = s.db.conn().unwrap();
    let p = products(&s)[0].clone();
    let e = catalog::update_product(
        &mut c,
        &s.node,
        &a,
        &p.id,
        catalog::ProductEdit {
            price_minor: Some(1_690_050),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "a price must be a multiple of 1 IDR in this currency"
    );
    for qty in 1..5 {
        assert_eq!(total(&s, &a, &p, qty) % 100, 0);
    }
}
