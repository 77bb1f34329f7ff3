//! What the storage tests share: a demo store on a SQLite file or a
//! PostgreSQL database of its own, a manager to act as, a small write that
//! commits one event, and a one-line sale. Each test crate uses a part of it.
#![allow(dead_code)]

pub mod till;

use diesel::prelude::*;
use outpost_domain::{PaymentMethod, Role};
use outpost_storage::db::write_tx;
use outpost_storage::sales::{self, LineRequest, PaymentRequest, ProductRef, SaleRequest};
use outpost_storage::schema::products;
use outpost_storage::{Actor, AnyConnection, Db, Node, StorageError, catalog, seed, stock};

pub struct Store {
    pub db: Db,
    pub node: Node,
    dir: Option<std::path::PathBuf>,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn seeded(db: Db, dir: Option<std::path::PathBuf>) -> Store {
    seeded_as(db, dir, &seed::StoreSetup::example())
}

fn seeded_as(db: Db, dir: Option<std::path::PathBuf>, setup: &seed::StoreSetup) -> Store {
    let mut c = db.conn().unwrap();
    seed::demo(&mut c, setup).unwrap();
    let node = Node::load(&mut c).unwrap();
    drop(c);
    Store { db, node, dir }
}

/// The demo store on a SQLite file of its own, removed when dropped.
pub fn demo_store() -> Store {
    let dir = std::env::temp_dir().join(format!("outpost-store-{}", uuid::Uuid::now_v7()));
    let db = Db::open(dir.join("edge.db").to_str().unwrap(), 2).unwrap();
    seeded(db, Some(dir))
}

/// The demo store in `currency` on a SQLite file of its own.
pub fn demo_store_in(currency: &str) -> Store {
    let dir = std::env::temp_dir().join(format!("outpost-store-{}", uuid::Uuid::now_v7()));
    let db = Db::open(dir.join("edge.db").to_str().unwrap(), 2).unwrap();
    let setup = seed::StoreSetup {
        currency: currency.into(),
        ..seed::StoreSetup::example()
    };
    seeded_as(db, Some(dir), &setup)
}

/// The demo store's manager, acting at the back office (no device).
pub fn the_manager(s: &Store) -> Actor {
    let mut c = s.db.conn().unwrap();
    let id = outpost_storage::staff::list_staff(&mut c)
        .unwrap()
        .into_iter()
        .find(|m| m.role == "manager")
        .unwrap()
        .id;
    Actor {
        staff_id: id,
        role: Role::Manager,
        device_id: None,
    }
}

/// A manager at a register of its own with an open shift (float 0), who may
/// do everything a till does: sell, refund, void, move cash, close.
pub fn till(s: &Store) -> Actor {
    let manager = the_manager(s);
    let mut c = s.db.conn().unwrap();
    let device = outpost_storage::staff::pair_device(&mut c, &s.node, &manager, "Till", "register")
        .unwrap()
        .device;
    let at_till = Actor {
        device_id: Some(device.id),
        ..manager
    };
    outpost_storage::shifts::open(&mut c, &s.node, &at_till, 0).unwrap();
    at_till
}

/// The demo store on a new PostgreSQL database.
pub fn demo_store_on_pg(pool_size: u32) -> Store {
    let (url, _) = fresh_pg_database();
    seeded(Db::open(&url, pool_size).unwrap(), None)
}

/// A new, empty database on the server named by OUTPOST_TEST_PG: its URL and
/// name. (scripts/test drops those a run left behind.)
pub fn fresh_pg_database() -> (String, String) {
    let admin = std::env::var("OUTPOST_TEST_PG")
        .expect("PostgreSQL tests need OUTPOST_TEST_PG (scripts/test sets it up)");
    let name = format!("outpost_t_{}", uuid::Uuid::now_v7().simple());
    let mut root = PgConnection::establish(&format!("{admin}/postgres")).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut root)
        .unwrap();
    (format!("{admin}/{name}"), name)
}

pub fn manager() -> Actor {
    Actor {
        staff_id: "test-manager".into(),
        role: Role::Manager,
        device_id: None,
    }
}

/// One stock movement and its `stock.moved` event, in a transaction of its own.
pub fn receive(node: &Node, conn: &mut AnyConnection) -> Result<(), StorageError> {
    write_tx(conn, |c| {
        let product = products::table.select(products::id).first(c)?;
        stock::record(c, node, &manager(), "test", &[(product, 1000, "receive")]).map(drop)
    })
}

/// A one-line sale of the first unit product, paid exactly by card.
pub fn one_line_card_sale(s: &Store, actor: &Actor) -> SaleRequest {
    let mut c = s.db.conn().unwrap();
    let p = catalog::search(&mut c, &s.node, "", &catalog::Shelf::All, 100)
        .unwrap()
        .into_iter()
        .find(|p| !p.weighed)
        .unwrap();
    let mut req = SaleRequest {
        lines: vec![LineRequest {
            product: ProductRef::Id(p.id),
            qty_milli: 1000,
            discount_minor: 0,
            unit_price_minor: None,
        }],
        ..SaleRequest::default()
    };
    let total = sales::quote(&mut c, &s.node, actor, &req)
        .unwrap()
        .total_minor;
    req.payments = vec![PaymentRequest {
        method: PaymentMethod::Card,
        amount_minor: total,
        tendered_minor: None,
        card_type: "visa".into(),
        reference: String::new(),
    }];
    req
}
