//! Product search ignores case, accents and marks in every script, on both
//! backends: Turkish dotted and dotless i, German ß = ss, Arabic without
//! its harakat and with its alef forms as one; a renamed product is found
//! by its new name only.

mod common;

use common::{Store, demo_store, demo_store_on_pg, the_manager};
use outpost_storage::catalog::{self, NewProduct};

fn names(store: &Store, q: &str) -> Vec<String> {
    catalog::search(&mut store.db.conn().unwrap(), &store.node, q, 50)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

fn unicode_search_finds_what_people_type(store: Store) {
    let manager = the_manager(&store);
    let tax = catalog::tax_categories(&mut store.db.conn().unwrap()).unwrap()[0]
        .code
        .clone();
    let mut ids = Vec::new();
    for (i, name) in [
        "Çay (Turkish tea)",
        "Crème brûlée",
        "İstanbul simit",
        "Straße Brot",
        "شَاي بِالنَّعْنَاع",
        "أرز بسمتي",
    ]
    .iter()
    .enumerate()
    {
        let p = catalog::create_product(
            &mut store.db.conn().unwrap(),
            &store.node,
            &manager,
            NewProduct {
                sku: format!("U{i:03}"),
                name: (*name).to_owned(),
                company_id: None,
                price_minor: 100,
                tax_category: tax.clone(),
                weighed: false,
                kitchen: false,
                barcodes: vec![],
            },
        )
        .unwrap();
        ids.push(p.id);
    }
    for (q, want) in [
        ("çay", "Çay (Turkish tea)"),
        ("CAY", "Çay (Turkish tea)"),
        ("BRÛLÉE", "Crème brûlée"),
        ("brulee", "Crème brûlée"),
        ("istanbul", "İstanbul simit"),
        ("ISTANBUL", "İstanbul simit"),
        ("strasse", "Straße Brot"),
        ("STRASSE", "Straße Brot"),
        ("شاي", "شَاي بِالنَّعْنَاع"),
        ("ارز", "أرز بسمتي"),
        ("u004", "شَاي بِالنَّعْنَاع"),
    ] {
        assert_eq!(names(&store, q), vec![want.to_owned()], "searching {q:?}");
    }
    assert!(names(&store, "50%").is_empty(), "a LIKE wildcard is text");
    // Renamed: found by its new name, not its old one.
    catalog::update_product(
        &mut store.db.conn().unwrap(),
        &store.node,
        &manager,
        &ids[1],
        None,
        Some("Crema catalana".into()),
        None,
    )
    .unwrap();
    assert!(names(&store, "brulee").is_empty());
    assert_eq!(names(&store, "CATALANA"), vec!["Crema catalana".to_owned()]);
}

#[test]
fn unicode_search_finds_what_people_type_on_sqlite() {
    unicode_search_finds_what_people_type(demo_store());
}

#[test]
fn unicode_search_finds_what_people_type_on_postgres() {
    unicode_search_finds_what_people_type(demo_store_on_pg(2));
}
