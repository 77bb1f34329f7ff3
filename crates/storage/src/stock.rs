//! Stock as append-only movements: the level is their sum, so movements from
//! many places merge without conflict. Negative stock is flagged, not blocked.

use crate::bulk::{self, Col, Table};
use crate::db::{AnyConnection, new_id, now_millis, sum_i64, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::outbox::{self, Event, Stream};
use crate::schema::{products, stock_movements};
use diesel::prelude::*;
use outpost_domain::Permission;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Movement {
    pub id: String,
    pub product_id: String,
    pub qty_milli: i64,
    pub reason: String,
    pub ref_id: String,
}

pub const MANUAL_REASONS: [&str; 4] = ["receive", "adjust", "waste", "count"];

/// Movements and their single `stock.moved` event, not yet written (see
/// [`table`]); `None` when there is nothing to move.
pub(crate) fn prepare(
    node: &Node,
    actor: &Actor,
    ref_id: &str,
    moves: &[(String, i64, &str)],
) -> Result<(Vec<Movement>, Option<outbox::Prepared>)> {
    if moves.is_empty() {
        return Ok((Vec::new(), None));
    }
    let out: Vec<Movement> = moves
        .iter()
        .map(|(p, q, r)| Movement {
            id: new_id(),
            product_id: p.clone(),
            qty_milli: *q,
            reason: (*r).to_owned(),
            ref_id: ref_id.to_owned(),
        })
        .collect();
    let ev = outbox::prepare(
        node,
        node.tick(),
        Event {
            stream: Stream::Stock,
            aggregate_type: "stock",
            aggregate_id: &out[0].id,
            aggregate_version: 1,
            event_type: "stock.moved",
            actor: &actor.staff_id,
            device_id: actor.device_id.as_deref(),
            payload: &out,
        },
    )?;
    Ok((out, Some(ev)))
}

/// The movements as rows for [`crate::bulk::write`].
pub(crate) fn table(actor: &Actor, moves: &[Movement]) -> Table {
    let now = now_millis();
    Table::new(
        "stock_movements",
        vec![
            ("id", Col::text(moves, |m| &m.id)),
            ("product_id", Col::text(moves, |m| &m.product_id)),
            (
                "qty_milli",
                Col::Big(moves.iter().map(|m| m.qty_milli).collect()),
            ),
            ("reason", Col::text(moves, |m| &m.reason)),
            ("ref_id", Col::text(moves, |m| &m.ref_id)),
            (
                "staff_id",
                Col::OptText(vec![Some(actor.staff_id.clone()); moves.len()]),
            ),
            ("at", Col::Big(vec![now; moves.len()])),
        ],
    )
}

/// Writes movements and their `stock.moved` event. Call inside a transaction.
pub fn record(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    ref_id: &str,
    moves: &[(String, i64, &str)],
) -> Result<Vec<Movement>> {
    let (out, ev) = prepare(node, actor, ref_id, moves)?;
    let mut events: Vec<_> = ev.into_iter().collect();
    outbox::take_positions(conn, &mut events)?;
    bulk::write(conn, vec![table(actor, &out), outbox::table(events)])?;
    Ok(out)
}

/// A manager's movement: goods received, adjusted, wasted, or a count (a count
/// records the difference to the counted level).
pub fn manual(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    product_id: &str,
    qty_milli: i64,
    reason: &str,
) -> Result<Level> {
    actor.require(Permission::ManageStock, "change stock")?;
    if !MANUAL_REASONS.contains(&reason) {
        return Err(StorageError::Unprocessable(format!(
            "reason must be one of {MANUAL_REASONS:?}"
        )));
    }
    if qty_milli.abs() > outpost_domain::quantity::MAX_MILLI
        || (qty_milli == 0 && reason != "count")
        || (reason == "count" && qty_milli < 0)
    {
        return Err(StorageError::Unprocessable("quantity out of range".into()));
    }
    write_tx(conn, |conn| {
        let current = level(conn, product_id)?;
        let delta = if reason == "count" {
            qty_milli - current.qty_milli
        } else {
            qty_milli
        };
        if delta != 0 {
            record(
                conn,
                node,
                actor,
                "",
                &[(product_id.to_owned(), delta, reason)],
            )?;
        }
        level(conn, product_id)
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub qty_milli: i64,
    pub negative: bool,
}

pub fn level(conn: &mut AnyConnection, product_id: &str) -> Result<Level> {
    let (sku, name): (String, String) = products::table
        .find(product_id)
        .select((products::sku, products::name))
        .first(conn)
        .optional()?
        .ok_or_else(|| StorageError::not_found(format!("product {product_id:?}")))?;
    let sum: Option<i64> = stock_movements::table
        .filter(stock_movements::product_id.eq(product_id))
        .select(sum_i64("qty_milli"))
        .first::<Option<i64>>(conn)?;
    let q = sum.unwrap_or(0);
    Ok(Level {
        product_id: product_id.to_owned(),
        sku,
        name,
        qty_milli: q,
        negative: q < 0,
    })
}

pub fn levels(conn: &mut AnyConnection) -> Result<Vec<Level>> {
    let sums: Vec<(String, Option<i64>)> = stock_movements::table
        .group_by(stock_movements::product_id)
        .select((stock_movements::product_id, sum_i64("qty_milli")))
        .load(conn)?;
    let sums: std::collections::HashMap<String, i64> =
        sums.into_iter().map(|(p, s)| (p, s.unwrap_or(0))).collect();
    let prods: Vec<(String, String, String)> = products::table
        .filter(products::active.eq(true))
        .order(products::name)
        .select((products::id, products::sku, products::name))
        .load(conn)?;
    Ok(prods
        .into_iter()
        .map(|(id, sku, name)| {
            let q = sums.get(&id).copied().unwrap_or(0);
            Level {
                product_id: id,
                sku,
                name,
                qty_milli: q,
                negative: q < 0,
            }
        })
        .collect())
}
