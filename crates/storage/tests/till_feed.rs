//! The change feed a register agent pulls, on both backends: a new till
//! reads every kind of master data and ends up with the edge's rows; later
//! pulls carry only what changed, whichever way it changed (the manager
//! page, the cloud's feed); a removed barcode is removed at the till; pages
//! install together; a cursor of another epoch starts over.

mod common;

use common::{Store, demo_store, demo_store_on_pg, the_manager};
use diesel::prelude::*;
use outpost_domain::{Pin, Role};
use outpost_storage::master::{self, Change};
use outpost_storage::schema::{barcodes, price_list_versions, products, staff, stores};
use outpost_storage::till_feed::{self, Page};
use outpost_storage::{Db, catalog, db::now_millis};
use serde_json::json;

/// An empty database of a till's own (SQLite, as the agent's is).
struct Till {
    db: Db,
    dir: std::path::PathBuf,
}

impl Till {
    fn new() -> Till {
        let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
        let db = Db::open(dir.join("till.db").to_str().unwrap(), 1).unwrap();
        Till { db, dir }
    }

    /// Pulls from `edge` until nothing more waits, `limit` rows a page, and
    /// installs the pull: the pages it took.
    fn pull(&self, edge: &Store, limit: i64) -> Vec<Page> {
        let mut c = self.db.conn().unwrap();
        let (mut epoch, mut after) = till_feed::cursor(&mut c).unwrap().unzip();
        let mut pages: Vec<Page> = Vec::new();
        let mut e = edge.db.conn().unwrap();
        loop {
            assert!(pages.len() < 1000, "the feed never ends");
            let page =
                till_feed::changes(&mut e, epoch.as_deref(), after.unwrap_or(0), limit).unwrap();
            (epoch, after) = (Some(page.epoch.clone()), Some(page.next));
            let more = page.more;
            pages.push(page);
            if !more {
                break;
            }
        }
        till_feed::install(&mut c, &pages).unwrap();
        pages
    }
}

impl Drop for Till {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every master-data row of both databases, as text, for comparing.
fn master_rows(db: &Db) -> Vec<String> {
    let mut c = db.conn().unwrap();
    let c = &mut **c;
    let mut rows: Vec<String> = Vec::new();
    type Row = (String, String, i64, String, bool, bool, i64, String, bool);
    let p: Vec<Row> = products::table
        .order(products::id)
        .select((
            products::id,
            products::name,
            products::price_minor,
            products::tax_category_id,
            products::kitchen,
            products::active,
            products::version,
            products::category,
            products::favourite,
        ))
        .load(c)
        .unwrap();
    rows.extend(p.iter().map(|r| format!("product {r:?}")));
    let b: Vec<(String, String)> = barcodes::table
        .order(barcodes::code)
        .select((barcodes::code, barcodes::product_id))
        .load(c)
        .unwrap();
    rows.extend(b.iter().map(|r| format!("barcode {r:?}")));
    let s: Vec<(String, String, String, bool)> = staff::table
        .order(staff::id)
        .select((staff::id, staff::role, staff::pin_hash, staff::active))
        .load(c)
        .unwrap();
    rows.extend(s.iter().map(|r| format!("staff {r:?}")));
    let st: Vec<(String, String, String)> = stores::table
        .select((stores::id, stores::currency, stores::default_company_id))
        .load(c)
        .unwrap();
    rows.extend(st.iter().map(|r| format!("store {r:?}")));
    let companies = catalog::companies(c).unwrap();
    rows.extend(companies.iter().map(|r| format!("company {r:?}")));
    let taxes = catalog::tax_categories(c).unwrap();
    rows.extend(taxes.iter().map(|r| format!("tax {r:?}")));
    rows
}

fn kinds(pages: &[Page]) -> Vec<&str> {
    let mut k: Vec<&str> = pages
        .iter()
        .flat_map(|p| &p.changes)
        .map(|c| c.kind.as_str())
        .collect();
    k.sort();
    k.dedup();
    k
}

fn first_product(s: &Store) -> catalog::Product {
    let mut c = s.db.conn().unwrap();
    catalog::search(&mut c, &s.node, "", &catalog::Shelf::All, 1)
        .unwrap()
        .remove(0)
}

fn a_till_mirrors_the_edges_master_data_and_later_pulls_carry_only_changes(edge: Store) {
    let till = Till::new();
    let first = till.pull(&edge, 1000);
    assert_eq!(
        kinds(&first),
        vec![
            "barcode",
            "company",
            "product",
            "staff",
            "store",
            "tax_category"
        ]
    );
    assert!(!first[0].reset, "a new till has nothing to reset");
    assert_eq!(master_rows(&till.db), master_rows(&edge.db));

    // Nothing changed: nothing comes.
    let none = till.pull(&edge, 1000);
    assert!(none[0].changes.is_empty(), "{none:?}");
    assert_eq!(none[0].next, first.last().unwrap().next);

    // The manager page changes a price; a new staff member is added.
    let p = first_product(&edge);
    {
        let mut c = edge.db.conn().unwrap();
        let m = the_manager(&edge);
        catalog::update_product(
            &mut c,
            &edge.node,
            &m,
            &p.id,
            catalog::ProductEdit {
                price_minor: Some(777),
                category: Some("Specials".into()),
                favourite: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        outpost_storage::staff::create_staff(
            &mut c,
            &edge.node,
            &m,
            "Deniz",
            Role::Cashier,
            &Pin::parse("482913").unwrap(),
        )
        .unwrap();
    }
    // The cloud's feed moves a barcode to that product and drops its old ones.
    let cursor = master::cursor(&mut edge.db.conn().unwrap()).unwrap() + 1;
    let change = Change {
        cursor,
        kind: "product".into(),
        hlc: (now_millis() + 60_000) << 16,
        body: json!({"sku": p.sku, "barcodes": ["4006381333931"]}).to_string(),
        resent: false,
    };
    master::apply(&mut edge.db.conn().unwrap(), &[change], cursor).unwrap();

    let later = till.pull(&edge, 1000);
    let changed: Vec<(&str, bool)> = later[0]
        .changes
        .iter()
        .map(|c| (c.kind.as_str(), c.row.is_some()))
        .collect();
    assert!(changed.contains(&("product", true)), "{changed:?}");
    assert!(changed.contains(&("staff", true)), "{changed:?}");
    assert!(changed.contains(&("barcode", true)), "{changed:?}");
    assert!(
        changed.contains(&("barcode", false)),
        "a removal: {changed:?}"
    );
    assert!(
        changed.len() < first[0].changes.len() / 2,
        "only what changed: {changed:?}"
    );
    assert_eq!(master_rows(&till.db), master_rows(&edge.db));
    let price: i64 = products::table
        .find(&p.id)
        .select(products::price_minor)
        .first(&mut **till.db.conn().unwrap())
        .unwrap();
    assert_eq!(price, 777);
    let grid: (String, bool) = products::table
        .find(&p.id)
        .select((products::category, products::favourite))
        .first(&mut **till.db.conn().unwrap())
        .unwrap();
    assert_eq!(grid, ("Specials".to_owned(), true), "the item grid's place");
}

#[test]
fn a_till_mirrors_the_edges_master_data_and_later_pulls_carry_only_changes_on_sqlite() {
    a_till_mirrors_the_edges_master_data_and_later_pulls_carry_only_changes(demo_store());
}

#[test]
fn a_till_mirrors_the_edges_master_data_and_later_pulls_carry_only_changes_on_postgres() {
    a_till_mirrors_the_edges_master_data_and_later_pulls_carry_only_changes(demo_store_on_pg(2));
}

#[test]
fn a_pull_of_many_pages_installs_as_one_and_a_cursor_of_another_epoch_starts_over() {
    let edge = demo_store();
    let till = Till::new();
    let pages = till.pull(&edge, 3);
    assert!(pages.len() > 3, "{} pages", pages.len());
    assert!(pages[..pages.len() - 1].iter().all(|p| p.more));
    let seqs: Vec<i64> = pages
        .iter()
        .flat_map(|p| &p.changes)
        .map(|c| c.seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    assert_eq!(master_rows(&till.db), master_rows(&edge.db));

    // The edge's database was restored (another epoch): the till's cursor
    // means nothing there, and the answer starts from 0 marked `reset`.
    let mut e = edge.db.conn().unwrap();
    let again = till_feed::changes(&mut e, Some("an-older-epoch"), 5, 1000).unwrap();
    assert!(again.reset);
    assert_eq!(again.changes.len(), seqs.len());
    let past = till_feed::changes(&mut e, Some(&pages[0].epoch), i64::MAX, 1000).unwrap();
    assert!(past.reset, "a cursor past the end");
    // A barcode the till holds that the edge never sent (its feed lost it
    // with the restore) is gone after a reset pull; the edge's stay.
    let product = first_product(&edge).id;
    diesel::insert_into(barcodes::table)
        .values((
            barcodes::code.eq("2999999999996"),
            barcodes::product_id.eq(&product),
        ))
        .execute(&mut **till.db.conn().unwrap())
        .unwrap();
    let fresh = till_feed::changes(&mut e, Some("an-older-epoch"), 5, 1000).unwrap();
    assert!(fresh.reset);
    till_feed::install(&mut till.db.conn().unwrap(), &[fresh]).unwrap();
    let codes = |db: &Db| -> Vec<String> {
        barcodes::table
            .order(barcodes::code)
            .select(barcodes::code)
            .load(&mut **db.conn().unwrap())
            .unwrap()
    };
    assert!(!codes(&edge.db).is_empty());
    assert_eq!(codes(&till.db), codes(&edge.db));
}

#[test]
fn a_price_list_and_a_staff_member_who_left_reach_the_till_as_they_are() {
    let edge = demo_store();
    let till = Till::new();
    till.pull(&edge, 1000);
    // A price list from the cloud, due later; Carl leaves.
    let cursor = master::cursor(&mut edge.db.conn().unwrap()).unwrap() + 1;
    let p = first_product(&edge);
    let list = Change {
        cursor,
        kind: "price_list".into(),
        hlc: now_millis() << 16,
        body: json!({"version": "2027-01", "effective_at": now_millis() + 3_600_000,
                     "prices": [{"sku": p.sku, "price_minor": 123}]})
        .to_string(),
        resent: false,
    };
    master::apply(&mut edge.db.conn().unwrap(), &[list], cursor).unwrap();
    let carl: String = staff::table
        .filter(staff::name.eq("Carl Cashier"))
        .select(staff::id)
        .first(&mut **edge.db.conn().unwrap())
        .unwrap();
    diesel::update(staff::table.find(&carl))
        .set(staff::active.eq(false))
        .execute(&mut **edge.db.conn().unwrap())
        .unwrap();
    let pages = till.pull(&edge, 1000);
    let sent = |kind: &str| {
        pages[0]
            .changes
            .iter()
            .find(|c| c.kind == kind)
            .and_then(|c| c.row.clone())
            .unwrap_or_else(|| panic!("no {kind} in {pages:?}"))
    };
    assert_eq!(sent("price_list")["version"], "2027-01");
    assert!(sent("price_list")["applied_at"].is_null());
    // No PIN hash for someone who may not sign in.
    assert_eq!(sent("staff")["pin_hash"], "");
    let (effective, applied): (i64, Option<i64>) = price_list_versions::table
        .find("2027-01")
        .select((
            price_list_versions::effective_at,
            price_list_versions::applied_at,
        ))
        .first(&mut **till.db.conn().unwrap())
        .unwrap();
    assert!(effective > now_millis() && applied.is_none());
    let (active, hash): (bool, String) = staff::table
        .find(&carl)
        .select((staff::active, staff::pin_hash))
        .first(&mut **till.db.conn().unwrap())
        .unwrap();
    assert_eq!((active, hash.as_str()), (false, ""));
}

#[test]
fn a_page_of_an_unknown_schema_or_two_epochs_is_refused_and_nothing_changes() {
    let edge = demo_store();
    let till = Till::new();
    let mut e = edge.db.conn().unwrap();
    let mut page = till_feed::changes(&mut e, None, 0, 1000).unwrap();
    page.schema = till_feed::SCHEMA + 1;
    let mut c = till.db.conn().unwrap();
    assert!(till_feed::install(&mut c, &[page.clone()]).is_err());
    page.schema = till_feed::SCHEMA;
    let mut other = page.clone();
    other.epoch = "another".into();
    assert!(till_feed::install(&mut c, &[page, other]).is_err());
    assert_eq!(till_feed::cursor(&mut c).unwrap(), None);
    assert!(master_rows(&till.db).is_empty());
}
