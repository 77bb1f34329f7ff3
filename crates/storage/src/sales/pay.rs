//! Paying an open order (a tab).

use super::rows::insert_payments;
use super::{
    Answer, PaymentRequest, get, idempotent, lock_order, open_shift, sales_event, to_json,
};
use crate::db::AnyConnection;
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::schema::orders;
use diesel::prelude::*;
use outpost_domain::{PaymentInput, PaymentMethod, Permission, settle_payments};

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
