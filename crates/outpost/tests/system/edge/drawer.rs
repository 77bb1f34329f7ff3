//! The drawer opened without a sale (issue 29): a no-sale is its own
//! audited action, a supervisor's or a cashier's with a supervisor's PIN,
//! and the register's printer kicks the drawer for it, as for cash paid in
//! or out; nothing else does.

use crate::support::app::{Backend, Store};
use crate::support::printer::{Hw, Printer, edge_printing_to, wait_until};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_sale_opens_the_drawer_audited_and_a_cashier_needs_a_supervisors_pin() {
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let store = Store::new(Backend::Sqlite);
    let app = edge_printing_to(&store, &hw, &[]);
    let till = app.register("Till 1").await;
    let kicks = || async {
        p.jobs()
            .await
            .iter()
            .map(|j| j["page"]["drawer_kicks"].as_i64().unwrap_or(0))
            .sum::<i64>()
    };
    // A cashier alone may not.
    let r = app
        .post(
            "/api/v1/shifts/current/no-sale",
            &till.cashier,
            json!({"reason": "change for a 50"}),
        )
        .await;
    r.assert_problem(403);
    // With a supervisor's PIN: recorded, and the drawer opens.
    let sam = app.staff_id("Sam Supervisor", Some(&till.device)).await;
    let r = app
        .post(
            "/api/v1/shifts/current/no-sale",
            &till.cashier,
            json!({"reason": "change for a 50", "approval": {"staff_id": sam, "pin": app.pins["Sam Supervisor"]}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    wait_until("the drawer kick", || async { kicks().await >= 1 }).await;
    // Cash paid out by the supervisor at that register opens it too.
    let supervisor = app.sign_in(&till.device, "Sam Supervisor").await;
    let r = app
        .post(
            "/api/v1/shifts/current/cash",
            &supervisor,
            json!({"amount_minor": -500, "reason": "window cleaner"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    wait_until("the second kick", || async { kicks().await >= 2 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs = p.jobs().await;
    assert_eq!(jobs.len(), 2, "one kick each, nothing printed: {jobs:?}");
    let audit = app
        .get("/api/v1/audit?limit=50", &app.manager().await)
        .await;
    let no_sale = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "drawer.no_sale")
        .unwrap_or_else(|| panic!("{}", audit.body))
        .clone();
    assert!(no_sale["detail"].to_string().contains(&sam), "{no_sale}");
}
