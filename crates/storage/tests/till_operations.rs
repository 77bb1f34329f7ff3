//! What a cashier does at the till besides a plain sale (issue 29): closes
//! their own register's shift with a manager's PIN, the Z equal to its
//! payments and cash movements; invoices a sale by another company only
//! with a reason; voids an unpaid order with a supervisor's PIN; sells on
//! a customer's account.

mod common;

use common::{demo_store, the_manager};
use diesel::prelude::*;
use outpost_domain::{PaymentMethod, Pin, Role};
use outpost_storage::catalog::{self, Shelf};
use outpost_storage::sales::{
    self, Approval, LineRequest, PaymentRequest, ProductRef, SaleRequest,
};
use outpost_storage::schema::audit_log;
use outpost_storage::{Actor, StorageError, shifts, staff};

struct Till {
    store: common::Store,
    cashier: Actor,
    supervisor: String,
    manager: String,
    shift: String,
}

const SUPERVISOR_PIN: &str = "246813";
const MANAGER_PIN: &str = "864209";

fn till() -> Till {
    let store = demo_store();
    let boss = the_manager(&store);
    let mut c = store.db.conn().unwrap();
    let mut add = |name: &str, role: Role, pin: &str| {
        staff::create_staff(
            &mut c,
            &store.node,
            &boss,
            name,
            role,
            &Pin::parse(pin).unwrap(),
        )
        .unwrap()
        .id
    };
    let supervisor = add("Sara Supervisor", Role::Supervisor, SUPERVISOR_PIN);
    let manager = add("Mo Manager", Role::Manager, MANAGER_PIN);
    let cashier = add("Cem Cashier", Role::Cashier, "135792");
    let device = staff::pair_device(&mut c, &store.node, &boss, "Till", "register")
        .unwrap()
        .device
        .id;
    let cashier = Actor {
        staff_id: cashier,
        role: Role::Cashier,
        device_id: Some(device),
    };
    let shift = shifts::open(&mut c, &store.node, &cashier, 5_000)
        .unwrap()
        .id;
    drop(c);
    Till {
        store,
        cashier,
        supervisor,
        manager,
        shift,
    }
}

impl Till {
    fn product(&self, name: &str) -> catalog::Product {
        let mut c = self.store.db.conn().unwrap();
        catalog::search(&mut c, &self.store.node, name, &Shelf::All, 1)
            .unwrap()
            .remove(0)
    }

    fn request(&self, names: &[&str], payments: Vec<PaymentRequest>) -> SaleRequest {
        SaleRequest {
            currency: None,
            lines: names
                .iter()
                .map(|n| LineRequest {
                    product: ProductRef::Id(self.product(n).id),
                    qty_milli: 1000,
                    discount_minor: 0,
                    unit_price_minor: None,
                })
                .collect(),
            order_discount_minor: 0,
            payments,
            customer_id: None,
            company_id: None,
            note: String::new(),
            discount_reason: String::new(),
            company_reason: String::new(),
            approval: None,
            approved: None,
        }
    }

    fn total(&self, req: &SaleRequest) -> i64 {
        let mut c = self.store.db.conn().unwrap();
        sales::quote(&mut c, &self.store.node, &self.cashier, req)
            .unwrap()
            .total_minor
    }

    fn sell(&self, req: &SaleRequest) -> Result<sales::Order, StorageError> {
        let mut c = self.store.db.conn().unwrap();
        let key = uuid::Uuid::now_v7().to_string();
        let a = sales::create_sale(&mut c, &self.store.node, &self.cashier, &key, "sha", req)?;
        Ok(serde_json::from_str(&a.body).unwrap())
    }

    fn audited(&self, action: &str) -> Vec<serde_json::Value> {
        audit_log::table
            .filter(audit_log::action.eq(action))
            .select(audit_log::detail)
            .load::<String>(&mut **self.store.db.conn().unwrap())
            .unwrap()
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }
}

fn pay(method: PaymentMethod, amount_minor: i64) -> PaymentRequest {
    PaymentRequest {
        method,
        amount_minor,
        tendered_minor: None,
        card_type: String::new(),
        reference: String::new(),
    }
}

#[test]
fn a_cashier_closes_their_own_shift_with_a_managers_pin_and_the_z_adds_up() {
    let t = till();
    let mut req = t.request(&["Whole milk", "Espresso"], vec![]);
    let total = t.total(&req);
    req.payments = vec![pay(PaymentMethod::Cash, total)];
    t.sell(&req).unwrap();
    let mut c = t.store.db.conn().unwrap();
    let node = &t.store.node;
    shifts::cash_movement(
        &mut c,
        node,
        &t.cashier,
        -1_000,
        "window cleaner",
        Some((&t.supervisor, SUPERVISOR_PIN)),
    )
    .unwrap();
    let counted = 5_000 + total - 1_000;

    // Not alone, not with a supervisor's PIN, not with a wrong one.
    let e = shifts::close(&mut c, node, &t.cashier, &t.shift, counted, None).unwrap_err();
    assert!(matches!(e, StorageError::Forbidden(_)), "{e:?}");
    let sup = (t.supervisor.as_str(), SUPERVISOR_PIN);
    let e =
        shifts::close_approved(&mut c, node, &t.cashier, &t.shift, counted, None, sup).unwrap_err();
    assert!(matches!(e, StorageError::Forbidden(_)), "{e:?}");
    let wrong = (t.manager.as_str(), "111999");
    let e = shifts::close_approved(&mut c, node, &t.cashier, &t.shift, counted, None, wrong)
        .unwrap_err();
    assert!(matches!(e, StorageError::WrongPin { .. }), "{e:?}");
    // Another register's cashier cannot close this one's shift.
    let boss = the_manager(&t.store);
    let other = staff::pair_device(&mut c, node, &boss, "Till 2", "register")
        .unwrap()
        .device
        .id;
    let elsewhere = Actor {
        device_id: Some(other),
        ..t.cashier.clone()
    };
    let approval = (t.manager.as_str(), MANAGER_PIN);
    let e = shifts::close_approved(&mut c, node, &elsewhere, &t.shift, counted, None, approval)
        .unwrap_err();
    assert!(matches!(e, StorageError::Forbidden(_)), "{e:?}");
    assert!(shifts::get(&mut c, &t.shift).unwrap().closed_at.is_none());

    let z = shifts::close_approved(&mut c, node, &t.cashier, &t.shift, counted, None, approval)
        .unwrap();
    assert_eq!(z.kind, "Z");
    assert_eq!(
        z.expected_cash_minor, counted,
        "float + cash sales − paid out"
    );
    assert_eq!(z.counted_cash_minor, Some(counted));
    let approved = t.audited("shift.close_approved");
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["approved_by"], t.manager.as_str());
}

#[test]
fn another_company_invoices_a_sale_only_with_the_reason_and_it_is_flagged() {
    let t = till();
    let cafe = t.product("Espresso").company_id;
    let market = t.product("Whole milk").company_id;
    assert_ne!(cafe, market, "the demo's two companies");
    let mut req = t.request(&["Whole milk", "Espresso"], vec![]);
    let total = t.total(&req);
    req.payments = vec![pay(PaymentMethod::Card, total)];
    // Items of both companies, as the till's default: the first item's.
    let mixed = t.sell(&req).unwrap();
    assert_eq!(mixed.order.company_id, market);
    // The café chosen for it: only with the reason.
    req.company_id = Some(cafe.clone());
    let e = t.sell(&req).unwrap_err();
    assert!(
        matches!(&e, StorageError::Unprocessable(m) if m.contains("reason")),
        "{e:?}"
    );
    req.company_reason = "one bill for the office".into();
    let chosen = t.sell(&req).unwrap();
    assert_eq!(chosen.order.company_id, cafe);
    assert!(chosen.order.needs_adjustment, "flagged for the manager");
    assert_eq!(
        chosen.order.note, "",
        "not printed on the receipt nor the kitchen's ticket"
    );
    let chosen_audit = t.audited("order.company_chosen");
    assert_eq!(chosen_audit.len(), 1);
    assert_eq!(chosen_audit[0]["reason"], "one bill for the office");
    assert_eq!(chosen_audit[0]["company_id"], cafe.as_str());
    // Its own company's goods need no reason.
    let mut own = t.request(&["Espresso"], vec![]);
    own.payments = vec![pay(PaymentMethod::Card, t.total(&own))];
    own.company_id = Some(cafe);
    assert!(!t.sell(&own).unwrap().order.needs_adjustment);
}

#[test]
fn an_unpaid_order_is_voided_with_a_supervisors_pin_and_an_account_sale_needs_its_customer() {
    let t = till();
    let tab = t.sell(&t.request(&["Cappuccino"], vec![])).unwrap();
    assert_eq!(tab.order.status, "open");
    let mut c = t.store.db.conn().unwrap();
    let node = &t.store.node;
    let e = sales::void(&mut c, node, &t.cashier, &tab.order.id, None, "left").unwrap_err();
    assert!(matches!(e, StorageError::Forbidden(_)), "{e:?}");
    let approval = Approval {
        staff_id: t.supervisor.clone(),
        pin: SUPERVISOR_PIN.into(),
    };
    let voided = sales::void(
        &mut c,
        node,
        &t.cashier,
        &tab.order.id,
        Some(&approval),
        "left",
    )
    .unwrap();
    assert_eq!(voided.order.status, "voided");
    drop(c);

    let mut req = t.request(&["Club sandwich"], vec![]);
    req.payments = vec![pay(PaymentMethod::OnAccount, t.total(&req))];
    let e = t.sell(&req).unwrap_err();
    assert!(
        matches!(&e, StorageError::Unprocessable(m) if m.contains("customer")),
        "{e:?}"
    );
    let boss = the_manager(&t.store);
    let customer = catalog::create_customer(
        &mut t.store.db.conn().unwrap(),
        &t.store.node,
        &boss,
        "Office Ltd",
        "",
        "",
    )
    .unwrap();
    req.customer_id = Some(customer.id.clone());
    let on_account = t.sell(&req).unwrap();
    assert_eq!(on_account.order.customer_id, Some(customer.id));
    assert_eq!(on_account.payments[0].method, "on_account");
}
