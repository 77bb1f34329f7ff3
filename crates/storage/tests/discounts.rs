//! Discounts have limits per role (issue 29): a cashier gives up to 10 %
//! alone, a supervisor 50 %, a manager any; more needs the PIN of someone
//! whose limit covers it. Every discount flags the sale for a manager's
//! review and is audited with its reason and who approved it.

mod common;

use common::{demo_store, the_manager};
use outpost_domain::{Pin, Role};
use outpost_storage::sales::{self, Approval, SaleRequest};
use outpost_storage::schema::audit_log;
use outpost_storage::{Actor, StorageError, shifts, staff};

use diesel::prelude::*;

struct Shop {
    store: common::Store,
    cashier: Actor,
    supervisor: String,
}

fn shop() -> Shop {
    let store = demo_store();
    let manager = the_manager(&store);
    let mut c = store.db.conn().unwrap();
    let mut add = |name: &str, role: Role, pin: &str| {
        staff::create_staff(
            &mut c,
            &store.node,
            &manager,
            name,
            role,
            &Pin::parse(pin).unwrap(),
        )
        .unwrap()
        .id
    };
    let supervisor = add("Sara Supervisor", Role::Supervisor, "246813");
    let cashier = add("Cem Cashier", Role::Cashier, "135792");
    let device = staff::pair_device(&mut c, &store.node, &manager, "Till", "register")
        .unwrap()
        .device
        .id;
    let at_till = Actor {
        device_id: Some(device.clone()),
        ..manager
    };
    shifts::open(&mut c, &store.node, &at_till, 0).unwrap();
    drop(c);
    Shop {
        store,
        cashier: Actor {
            staff_id: cashier,
            role: Role::Cashier,
            device_id: Some(device),
        },
        supervisor,
    }
}

impl Shop {
    /// A one-line card sale with `pct` percent off its line.
    fn sell(&self, pct: i64, approval: Option<(&str, &str)>) -> Result<sales::Order, StorageError> {
        self.sell_because(pct, approval, "damaged box")
    }

    fn sell_because(
        &self,
        pct: i64,
        approval: Option<(&str, &str)>,
        reason: &str,
    ) -> Result<sales::Order, StorageError> {
        let mut req: SaleRequest = common::one_line_card_sale(&self.store, &self.cashier);
        let mut c = self.store.db.conn().unwrap();
        req.payments.clear();
        let gross = sales::quote(&mut c, &self.store.node, &self.cashier, &req)
            .unwrap()
            .total_minor;
        req.lines[0].discount_minor = gross * pct / 100;
        let total = sales::quote(&mut c, &self.store.node, &self.cashier, &req)
            .unwrap()
            .total_minor;
        let mut paid = common::one_line_card_sale(&self.store, &self.cashier).payments;
        paid[0].amount_minor = total;
        req.payments = paid;
        req.discount_reason = reason.into();
        req.approval = approval.map(|(staff_id, pin)| Approval {
            staff_id: staff_id.into(),
            pin: pin.into(),
        });
        let key = uuid::Uuid::now_v7().to_string();
        let a = sales::create_sale(&mut c, &self.store.node, &self.cashier, &key, "sha", &req)?;
        Ok(serde_json::from_str(&a.body).unwrap())
    }

    fn audited(&self, order_id: &str) -> Option<serde_json::Value> {
        audit_log::table
            .filter(audit_log::action.eq("order.discounted"))
            .filter(audit_log::subject.eq(order_id))
            .select(audit_log::detail)
            .first::<String>(&mut **self.store.db.conn().unwrap())
            .optional()
            .unwrap()
            .map(|d| serde_json::from_str(&d).unwrap())
    }
}

#[test]
fn a_discount_beyond_the_sellers_limit_needs_a_pin_that_covers_it_and_every_one_is_flagged() {
    let shop = shop();
    // Within a cashier's 10 %: taken, flagged, audited with its reason.
    let small = shop.sell(5, None).unwrap();
    assert!(small.order.needs_adjustment, "every discount is reviewed");
    let a = shop.audited(&small.order.id).expect("audited");
    assert_eq!(a["reason"], "damaged box");
    assert!(a["approved_by"].is_null());
    // A discount says why.
    let e = shop.sell_because(5, None, " ").unwrap_err();
    assert!(
        matches!(&e, StorageError::Unprocessable(m) if m.contains("reason")),
        "{e:?}"
    );
    // A sale without a discount is not.
    let plain = shop.sell(0, None).unwrap();
    assert!(!plain.order.needs_adjustment);
    assert!(shop.audited(&plain.order.id).is_none());

    // 20 %: not alone; a wrong PIN does not approve it; a supervisor's does.
    let e = shop.sell(20, None).unwrap_err();
    assert!(
        matches!(&e, StorageError::Forbidden(m) if m.contains("supervisor's PIN")),
        "{e:?}"
    );
    let e = shop
        .sell(20, Some((&shop.supervisor, "999999")))
        .unwrap_err();
    assert!(matches!(e, StorageError::WrongPin { .. }), "{e:?}");
    // It counts toward the supervisor's lockout.
    let failures: i32 = outpost_storage::schema::pin_attempts::table
        .filter(outpost_storage::schema::pin_attempts::staff_id.eq(&shop.supervisor))
        .select(outpost_storage::schema::pin_attempts::failures)
        .first(&mut **shop.store.db.conn().unwrap())
        .unwrap();
    assert_eq!(failures, 1);
    let approved = shop.sell(20, Some((&shop.supervisor, "246813"))).unwrap();
    let a = shop.audited(&approved.order.id).expect("audited");
    assert_eq!(a["approved_by"], shop.supervisor.as_str());
    assert!(a["basis_points"].as_i64().unwrap() > 1000);

    // 60 %: beyond a supervisor's 50 % too.
    let e = shop
        .sell(60, Some((&shop.supervisor, "246813")))
        .unwrap_err();
    assert!(
        matches!(&e, StorageError::Forbidden(m) if m.contains("a manager must")),
        "{e:?}"
    );
    // Nothing of a refused sale is written: the three taken, no more.
    let orders: i64 = outpost_storage::schema::orders::table
        .count()
        .get_result(&mut **shop.store.db.conn().unwrap())
        .unwrap();
    assert_eq!(orders, 3);
}

/// A price overridden below the list is no way around the limit: a
/// supervisor takes 20 % off a price alone, 60 % only with a manager's PIN
/// (and a reason), audited as a discount with the approver.
#[test]
fn a_price_overridden_below_the_list_counts_against_the_discount_limit() {
    let shop = shop();
    let manager = the_manager(&shop.store);
    let mut c = shop.store.db.conn().unwrap();
    let mo = staff::create_staff(
        &mut c,
        &shop.store.node,
        &manager,
        "Mo Manager",
        Role::Manager,
        &Pin::parse("864209").unwrap(),
    )
    .unwrap()
    .id;
    let supervisor = Actor {
        staff_id: shop.supervisor.clone(),
        role: Role::Supervisor,
        device_id: shop.cashier.device_id.clone(),
    };
    drop(c);
    let sell = |pct_of_list: i64, reason: &str, approval: Option<(&str, &str)>| {
        let mut req: SaleRequest = common::one_line_card_sale(&shop.store, &supervisor);
        let mut c = shop.store.db.conn().unwrap();
        req.payments.clear();
        let list = sales::quote(&mut c, &shop.store.node, &supervisor, &req)
            .unwrap()
            .lines[0]
            .unit_price_minor;
        req.lines[0].unit_price_minor = Some(list * pct_of_list / 100);
        let total = sales::quote(&mut c, &shop.store.node, &supervisor, &req)
            .unwrap()
            .total_minor;
        let mut paid = common::one_line_card_sale(&shop.store, &supervisor).payments;
        paid[0].amount_minor = total;
        req.payments = paid;
        req.discount_reason = reason.into();
        req.approval = approval.map(|(staff_id, pin)| Approval {
            staff_id: staff_id.into(),
            pin: pin.into(),
        });
        let key = uuid::Uuid::now_v7().to_string();
        sales::create_sale(&mut c, &shop.store.node, &supervisor, &key, "sha", &req)
            .map(|a| serde_json::from_str::<sales::Order>(&a.body).unwrap())
    };
    // 20 % under the list: within a supervisor's 50 %, no discount to give
    // a reason for; flagged as an override.
    let within = sell(80, "", None).unwrap();
    assert!(within.order.needs_adjustment);
    assert!(shop.audited(&within.order.id).is_none());
    // 60 % under: not alone, and not without a reason.
    let e = sell(40, "", None).unwrap_err();
    assert!(
        matches!(&e, StorageError::Unprocessable(m) if m.contains("reason")),
        "{e:?}"
    );
    let e = sell(40, "display model", None).unwrap_err();
    assert!(
        matches!(&e, StorageError::Forbidden(m) if m.contains("a supervisor gives up to 50.00%")),
        "{e:?}"
    );
    let approved = sell(40, "display model", Some((&mo, "864209"))).unwrap();
    let a = shop.audited(&approved.order.id).expect("audited");
    assert_eq!(a["approved_by"], mo.as_str());
    assert_eq!(a["reason"], "display model");
}
