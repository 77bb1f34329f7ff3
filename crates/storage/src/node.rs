//! This edge node's identity (store, epoch), its clock, and who is acting.

use crate::db::{AnyConnection, now_millis};
use crate::error::{Result, StorageError};
use crate::schema::{node, outbox, stores};
use diesel::prelude::*;
use outpost_domain::{Currency, Hlc, HlcClock, Role};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, RwLock};

/// Who performs an action: a signed-in staff member, on a device when at a till.
#[derive(Debug, Clone)]
pub struct Actor {
    pub staff_id: String,
    pub role: Role,
    pub device_id: Option<String>,
}

impl Actor {
    pub fn require(&self, p: outpost_domain::Permission, what: &str) -> Result<()> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(StorageError::Forbidden(what.to_owned()))
        }
    }
    pub fn device(&self) -> Result<&str> {
        self.device_id.as_deref().ok_or_else(|| {
            StorageError::Unprocessable("this needs a register: sign in on a paired device".into())
        })
    }
}

/// The store this edge serves and the node's clock, loaded once at start.
#[derive(Debug)]
pub struct Node {
    pub store_id: String,
    pub store_code: String,
    pub currency: Currency,
    pub node_epoch: String,
    master_version: AtomicI64,
    /// On a register agent: its edge does not answer (see `upstream_away`).
    upstream_away: std::sync::atomic::AtomicBool,
    store: RwLock<StoreSettings>,
    /// How far each role discounts without a supervisor's PIN (the api's
    /// `[sales]` settings; the defaults until it sets them).
    discount_limits: RwLock<outpost_domain::staff::DiscountLimits>,
    clock: Mutex<HlcClock>,
}

/// The store's settings that the cloud may change while the edge runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub name: String,
    pub utc_offset_minutes: i32,
    pub default_company_id: String,
    /// How the store writes numbers ("de-DE"); the currency's usual locale
    /// unless the store chose one.
    pub locale: String,
}

fn store_settings(conn: &mut AnyConnection, store_id: &str) -> Result<StoreSettings> {
    let (name, utc_offset_minutes, default_company_id, locale, currency): (
        String,
        i32,
        String,
        String,
        String,
    ) = stores::table
        .find(store_id)
        .select((
            stores::name,
            stores::utc_offset_minutes,
            stores::default_company_id,
            stores::locale,
            stores::currency,
        ))
        .first(conn)?;
    let locale = if outpost_domain::NumberFormat::get(&locale).is_some() {
        locale
    } else {
        Currency::parse(&currency)?.info().locale.to_owned()
    };
    Ok(StoreSettings {
        name,
        utc_offset_minutes,
        default_company_id,
        locale,
    })
}

impl Node {
    /// Loads the node row and restores the clock from the highest stored HLC, so
    /// a wall clock set back between two runs cannot reorder events.
    pub fn load(conn: &mut AnyConnection) -> Result<Node> {
        let (store_id, node_epoch, master_version, floor): (String, String, i64, i64) = node::table
            .select((
                node::store_id,
                node::node_epoch,
                node::master_version,
                node::hlc_floor,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(|| StorageError::not_found("node (the database has not been set up)"))?;
        let max_event: Option<i64> = outbox::table
            .select(diesel::dsl::max(outbox::hlc))
            .first(conn)?;
        let (code, currency): (String, String) = stores::table
            .find(&store_id)
            .select((stores::code, stores::currency))
            .first(conn)?;
        let settings = store_settings(conn, &store_id)?;
        let floor = Hlc::from_raw(floor.max(max_event.unwrap_or(0)));
        Ok(Node {
            store_id,
            store_code: code,
            currency: Currency::parse(&currency)?,
            node_epoch,
            master_version: AtomicI64::new(master_version),
            upstream_away: Default::default(),
            store: RwLock::new(settings),
            discount_limits: RwLock::default(),
            clock: Mutex::new(HlcClock::new(floor)),
        })
    }

    pub fn set_discount_limits(&self, limits: outpost_domain::staff::DiscountLimits) {
        *self
            .discount_limits
            .write()
            .unwrap_or_else(|p| p.into_inner()) = limits;
    }

    pub fn discount_limits(&self) -> outpost_domain::staff::DiscountLimits {
        *self
            .discount_limits
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads what another process (the sync worker applying the cloud's
    /// master data) may have changed: the master-data cursor and the store's
    /// settings.
    pub fn refresh(&self, conn: &mut AnyConnection) -> Result<()> {
        let version: i64 = node::table.select(node::master_version).first(conn)?;
        self.master_version.fetch_max(version, Ordering::Relaxed);
        let settings = store_settings(conn, &self.store_id)?;
        *self.store.write().unwrap_or_else(|p| p.into_inner()) = settings;
        Ok(())
    }

    /// The store's current settings.
    pub fn store(&self) -> StoreSettings {
        self.store.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The next HLC timestamp.
    pub fn tick(&self) -> Hlc {
        self.clock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tick(now_millis())
    }

    /// Moves the clock past a timestamp seen from elsewhere (the cloud, a
    /// till), within the drift bound (`outpost_domain::clock::MAX_DRIFT_MS`);
    /// one beyond it is logged and not followed.
    pub fn observe(&self, seen: Hlc) {
        let now = now_millis();
        let taken = self
            .clock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .observe(seen, now);
        if !taken {
            tracing::warn!(
                ahead_ms = seen.millis() - now,
                "a timestamp from another node is too far ahead of this clock; not followed (is that node's clock wrong?)"
            );
        }
    }

    pub fn last_hlc(&self) -> Hlc {
        self.clock.lock().unwrap_or_else(|p| p.into_inner()).last()
    }

    /// How far the wall clock is behind the newest event, in ms (0 when it is not).
    pub fn clock_behind_millis(&self) -> i64 {
        self.clock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wall_behind_millis(now_millis())
    }

    /// On a register agent, whether its edge is away now (the agent's link
    /// says so): a kitchen ticket sold then is printed at the till. Never on
    /// the edge itself.
    pub fn upstream_away(&self) -> bool {
        self.upstream_away.load(Ordering::Relaxed)
    }

    pub fn set_upstream_away(&self, away: bool) {
        self.upstream_away.store(away, Ordering::Relaxed);
    }

    pub fn master_version(&self) -> i64 {
        self.master_version.load(Ordering::Relaxed)
    }

    /// Persists the clock's high-water mark (at shutdown and now and then), so
    /// even a database with no events yet keeps time from going backwards.
    pub fn persist_clock(&self, conn: &mut AnyConnection) -> Result<()> {
        let last = self.last_hlc().raw();
        diesel::update(node::table.filter(node::hlc_floor.lt(last)))
            .set(node::hlc_floor.eq(last))
            .execute(conn)?;
        Ok(())
    }
}
