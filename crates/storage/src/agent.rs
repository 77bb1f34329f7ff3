//! A register agent's own database (issue 28): the same schema and use cases
//! as the edge's, on the till PC's SQLite, plus the link to its edge.
//!
//! Pairing ([`set_up`]) installs the store's master data from the edge's
//! till feed, makes this node (the edge's store, an epoch of its own) and
//! the register as the edge knows it (same id and number, so the till's
//! order numbers are the edge's for that register), and keeps the edge's
//! address and the token it gave. Every sale then commits here first with
//! its outbox event; [`to_push`] reads what the edge has not taken yet, in
//! commit order, and [`pushed`] moves the mark once the edge has it.

use crate::db::{AnyConnection, new_id, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::outbox::{self, StoredEvent};
use crate::register_events::AgentEvent;
use crate::schema::{agent_epochs, agent_link, devices, node, outbox as ob, stores, stream_heads};
use crate::secrets;
use crate::seed;
use crate::till_feed;
use diesel::prelude::*;
use std::collections::BTreeMap;

/// What the edge gave at pairing.
#[derive(Debug, Clone)]
pub struct Pairing {
    /// The edge's base URL (`http://edge:8001`).
    pub edge_url: String,
    pub store_id: String,
    pub device_id: String,
    pub register_no: i32,
    pub name: String,
    /// The agent's token on the edge.
    pub token: String,
    /// The edge's store CA, pinned (None: plain HTTP).
    pub ca_pem: Option<String>,
}

/// The agent's link to its edge, as kept.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agent_link)]
pub struct Link {
    pub id: i32,
    pub edge_url: String,
    pub device_id: String,
    pub token: String,
    /// The outbox `seq` through which the edge has the events.
    pub pushed_seq: i64,
    /// When the edge last answered a pull or a push.
    pub last_ok_at: Option<i64>,
    /// The edge's store CA, pinned at pairing (None: plain HTTP).
    pub ca_pem: Option<String>,
}

/// Sets an empty database up as a paired register: the master data of the
/// first pull (`pages`), this node, the register, the link. Refuses a
/// database that already belongs to a store.
pub fn set_up(conn: &mut AnyConnection, p: &Pairing, pages: &[till_feed::Page]) -> Result<()> {
    if seed::is_set_up(conn)? {
        return Err(StorageError::Conflict(
            "this register's database is already set up: pair into an empty data folder".into(),
        ));
    }
    till_feed::install(conn, pages)?;
    write_tx(conn, |conn| {
        if stores::table
            .find(&p.store_id)
            .count()
            .get_result::<i64>(conn)?
            == 0
        {
            return Err(StorageError::Unprocessable(format!(
                "the edge's till feed has no store {:?}: is this the edge that paired the register?",
                p.store_id
            )));
        }
        let now = now_millis();
        let epoch = new_id();
        diesel::insert_into(node::table)
            .values((
                node::id.eq(1),
                node::store_id.eq(&p.store_id),
                node::node_epoch.eq(&epoch),
                node::created_at.eq(now),
            ))
            .execute(conn)?;
        diesel::insert_into(agent_epochs::table)
            .values((agent_epochs::epoch.eq(&epoch), agent_epochs::since.eq("{}")))
            .execute(conn)?;
        // Locally it is a register (its page signs in and sells on it); its
        // token here is the page's, made anew at every start (`page_token`).
        let (_, hash) = secrets::new_token();
        diesel::insert_into(devices::table)
            .values((
                devices::id.eq(&p.device_id),
                devices::store_id.eq(&p.store_id),
                devices::register_no.eq(p.register_no),
                devices::name.eq(&p.name),
                devices::kind.eq("register"),
                devices::token_hash.eq(hash),
                devices::last_seq.eq(0),
                devices::created_at.eq(now),
            ))
            .execute(conn)?;
        diesel::insert_into(agent_link::table)
            .values((
                agent_link::id.eq(1),
                agent_link::edge_url.eq(&p.edge_url),
                agent_link::device_id.eq(&p.device_id),
                agent_link::token.eq(&p.token),
                agent_link::pushed_seq.eq(0),
                agent_link::last_ok_at.eq(Some(now)),
                agent_link::ca_pem.eq(&p.ca_pem),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// The link, on a paired database.
pub fn link(conn: &mut AnyConnection) -> Result<Link> {
    agent_link::table
        .select(Link::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            StorageError::not_found("this register's pairing (run `outpost register pair` first)")
        })
}

/// A new token for the page this agent serves, replacing the last start's:
/// the page carries it, and a page from before this start can no longer
/// act for the register.
pub fn page_token(conn: &mut AnyConnection) -> Result<String> {
    let l = link(conn)?;
    let (token, hash) = secrets::new_token();
    diesel::update(devices::table.find(&l.device_id))
        .set(devices::token_hash.eq(hash))
        .execute(conn)?;
    Ok(token)
}

/// The events the edge has not taken yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queue {
    pub count: i64,
    /// When the oldest of them happened.
    pub oldest_at: Option<i64>,
}

pub fn queue(conn: &mut AnyConnection) -> Result<Queue> {
    let pushed = link(conn)?.pushed_seq;
    let (count, oldest_at): (i64, Option<i64>) = ob::table
        .filter(ob::seq.gt(pushed))
        .select((diesel::dsl::count_star(), diesel::dsl::min(ob::occurred_at)))
        .first(conn)?;
    Ok(Queue { count, oldest_at })
}

/// Events the edge has not taken, of one epoch of this till.
#[derive(Debug, Clone)]
pub struct Batch {
    pub epoch: String,
    /// Where each stream stood when that epoch began.
    pub since: BTreeMap<String, i64>,
    /// Each with its `seq` here, in commit order.
    pub events: Vec<(i64, AgentEvent)>,
}

/// Up to `limit` events the edge has not taken, in commit order, all of the
/// epoch of the first of them (a push names one epoch); `None`: nothing
/// waits.
pub fn to_push(conn: &mut AnyConnection, limit: i64) -> Result<Option<Batch>> {
    let pushed = link(conn)?.pushed_seq;
    relabel(conn, pushed)?;
    let stored = outbox::read_after_seq(conn, pushed, limit)?;
    let Some(epoch) = stored.first().map(|e| e.node_epoch.clone()) else {
        return Ok(None);
    };
    let events = stored
        .into_iter()
        .take_while(|e| e.node_epoch == epoch)
        .filter_map(|e: StoredEvent| {
            let seq = e.seq;
            AgentEvent::of(e).map(|a| (seq, a))
        })
        .collect();
    let since = since(conn, &epoch)?;
    Ok(Some(Batch {
        epoch,
        since,
        events,
    }))
}

/// Where each stream stood when `epoch` began ({} for the first epoch).
fn since(conn: &mut AnyConnection, epoch: &str) -> Result<BTreeMap<String, i64>> {
    let text: Option<String> = agent_epochs::table
        .find(epoch)
        .select(agent_epochs::since)
        .first(conn)
        .optional()?;
    match text {
        None => Ok(BTreeMap::new()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| StorageError::Corrupt(format!("agent_epochs.since: {e}"))),
    }
}

/// Events not yet pushed of an epoch a fork replaced (the running api
/// writes its start's epoch until it restarts) belong to the fork.
fn relabel(conn: &mut AnyConnection, pushed: i64) -> Result<()> {
    let forks: Vec<(String, Option<String>)> = agent_epochs::table
        .filter(agent_epochs::replaces.is_not_null())
        .select((agent_epochs::epoch, agent_epochs::replaces))
        .load(conn)?;
    for (epoch, old) in forks {
        diesel::update(
            ob::table
                .filter(ob::seq.gt(pushed))
                .filter(ob::node_epoch.nullable().eq(old)),
        )
        .set(ob::node_epoch.eq(epoch))
        .execute(conn)?;
    }
    Ok(())
}

/// The edge holds other events at positions this till holds in `epoch`:
/// this database went back in time and sold before it could ask (the edge
/// was away when it started). What it has not pushed moves to a new epoch
/// beginning just before it, so the edge takes it as new (an order number
/// the edge already has is kept there beside the other, flagged), and the
/// till numbers on past the edge's highest, `last_number`. Returns the new
/// epoch.
pub fn fork(conn: &mut AnyConnection, epoch: &str, last_number: i64) -> Result<String> {
    write_tx(conn, |conn| {
        let l = link(conn)?;
        let mut since: BTreeMap<String, i64> = stream_heads::table
            .select((stream_heads::stream, stream_heads::position))
            .load::<(String, i64)>(conn)?
            .into_iter()
            .collect();
        let waiting: Vec<(String, Option<i64>)> = ob::table
            .filter(ob::seq.gt(l.pushed_seq))
            .filter(ob::node_epoch.eq(epoch))
            .group_by(ob::stream)
            .select((ob::stream, diesel::dsl::min(ob::position)))
            .load(conn)?;
        for (stream, first) in waiting {
            if let Some(first) = first {
                since.insert(stream, first - 1);
            }
        }
        let new = new_id();
        let text =
            serde_json::to_string(&since).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        diesel::insert_into(agent_epochs::table)
            .values((
                agent_epochs::epoch.eq(&new),
                agent_epochs::since.eq(text),
                agent_epochs::replaces.eq(Some(epoch)),
            ))
            .execute(conn)?;
        relabel(conn, l.pushed_seq)?;
        diesel::update(node::table.filter(node::node_epoch.eq(epoch)))
            .set(node::node_epoch.eq(&new))
            .execute(conn)?;
        let last_seq: i64 = devices::table
            .find(&l.device_id)
            .select(devices::last_seq)
            .first(conn)?;
        diesel::update(devices::table.find(&l.device_id))
            .set(devices::last_seq.eq(last_seq.max(last_number)))
            .execute(conn)?;
        diesel::update(agent_link::table)
            .set(agent_link::history_due.eq(true))
            .execute(conn)?;
        tracing::warn!(
            epoch = new,
            last_number,
            "the edge holds other events at this till's positions: its database went back in time; what it has not pushed goes in a new epoch"
        );
        Ok(new)
    })
}

/// What the edge holds of this till, as it says at hello.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    /// Per stream, the till's last position the edge has, in the till's
    /// current epoch.
    pub marks: BTreeMap<String, i64>,
    /// The highest order number the edge holds for this register.
    pub last_number: i64,
}

/// Compares what the edge holds with this database: when the edge has
/// more of the current epoch than this database ever wrote, or a higher
/// order number, this database is an older copy (restored from a backup,
/// or a disk image): it takes a new epoch whose positions go on from its
/// heads, and numbers on past the edge's highest, so no number or position
/// is used twice. Returns the new epoch, if one was taken. Call before the
/// till sells (the api loads the epoch at start).
pub fn hello(conn: &mut AnyConnection, up: &Upstream) -> Result<Option<String>> {
    write_tx(conn, |conn| {
        let l = link(conn)?;
        let heads: BTreeMap<String, i64> = stream_heads::table
            .select((stream_heads::stream, stream_heads::position))
            .load::<(String, i64)>(conn)?
            .into_iter()
            .collect();
        let last_seq: i64 = devices::table
            .find(&l.device_id)
            .select(devices::last_seq)
            .first(conn)?;
        let behind = up
            .marks
            .iter()
            .any(|(s, p)| *p > heads.get(s).copied().unwrap_or(0))
            || up.last_number > last_seq;
        if !behind {
            return Ok(None);
        }
        let epoch = new_id();
        let since =
            serde_json::to_string(&heads).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        diesel::insert_into(agent_epochs::table)
            .values((
                agent_epochs::epoch.eq(&epoch),
                agent_epochs::since.eq(since),
            ))
            .execute(conn)?;
        diesel::update(node::table)
            .set(node::node_epoch.eq(&epoch))
            .execute(conn)?;
        diesel::update(devices::table.find(&l.device_id))
            .set(devices::last_seq.eq(last_seq.max(up.last_number)))
            .execute(conn)?;
        // What the edge has and this copy lost comes back down.
        diesel::update(agent_link::table)
            .set(agent_link::history_due.eq(true))
            .execute(conn)?;
        tracing::warn!(
            epoch,
            last_number = up.last_number,
            "this till's database is older than what the edge holds of it: a new epoch, numbering on from the edge's highest"
        );
        Ok(Some(epoch))
    })
}

/// The edge has every event through `seq`: moves the mark (never back)
/// and notes the edge answered.
pub fn pushed(conn: &mut AnyConnection, seq: i64) -> Result<()> {
    diesel::update(agent_link::table.filter(agent_link::pushed_seq.lt(seq)))
        .set(agent_link::pushed_seq.eq(seq))
        .execute(conn)?;
    answered(conn)
}

/// The edge answered (a pull or a push).
pub fn answered(conn: &mut AnyConnection) -> Result<()> {
    diesel::update(agent_link::table)
        .set(agent_link::last_ok_at.eq(Some(now_millis())))
        .execute(conn)?;
    Ok(())
}

/// The edge holds less of `epoch` than the mark says (it was restored from
/// an older copy): the mark goes back to just before the first event of
/// that epoch that the edge's `marks` do not reach, so the next pushes send
/// it all again (the edge skips what it has).
pub fn rewind(conn: &mut AnyConnection, epoch: &str, marks: &BTreeMap<String, i64>) -> Result<()> {
    let l = link(conn)?;
    let mut held = since(conn, epoch)?;
    held.extend(marks.iter().map(|(k, v)| (k.clone(), *v)));
    let mut first_missing: Option<i64> = None;
    let streams: Vec<String> = ob::table
        .filter(ob::node_epoch.eq(epoch))
        .select(ob::stream)
        .distinct()
        .load(conn)?;
    for s in streams {
        let held = held.get(&s).copied().unwrap_or(0);
        let seq: Option<i64> = ob::table
            .filter(ob::node_epoch.eq(epoch))
            .filter(ob::stream.eq(&s))
            .filter(ob::position.gt(held))
            .select(diesel::dsl::min(ob::seq))
            .first(conn)?;
        if let Some(seq) = seq {
            first_missing = Some(first_missing.map_or(seq, |f| f.min(seq)));
        }
    }
    let to = first_missing.map_or(l.pushed_seq, |f| f - 1);
    if to < l.pushed_seq {
        diesel::update(agent_link::table)
            .set(agent_link::pushed_seq.eq(to))
            .execute(conn)?;
        tracing::warn!(
            from = l.pushed_seq,
            to,
            "the edge lacks events it had taken: pushing them again"
        );
    }
    Ok(())
}
