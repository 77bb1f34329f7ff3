//! Product search ignores case, accents and marks in every script, on both
//! backends: Turkish dotted and dotless i, German ß = ss, Arabic without
//! its harakat and with its alef forms as one; a renamed product is found
//! by its new name only.

mod common;

use common::{Store, demo_store, demo_store_on_pg, the_manager};
use outpost_storage::catalog::{self, NewProduct};

fn names(store: &Store, q: &str) -> Vec<String> {
    catalog::search(
        &mut store.db.conn().unwrap(),
        &store.node,
        q,
        &catalog::Shelf::All,
        50,
    )
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
                category: String::new(),
                favourite: false,
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
        catalog::ProductEdit {
            name: Some("Crema catalana".into()),
            ..Default::default()
        },
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

/// The till's item grid: a tab per category of the active products, the
/// favourites, and a search within a tab; edited on the manager page.
fn the_item_grid_shows_categories_and_favourites(store: Store) {
    let manager = the_manager(&store);
    let mut c = store.db.conn().unwrap();
    let tabs = catalog::categories(&mut c).unwrap();
    let names: Vec<&str> = tabs.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"Hot drinks") && names.contains(&"Dairy"),
        "{names:?}"
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "tabs by name");
    let hot = tabs
        .iter()
        .find(|t| t.name == "Hot drinks")
        .unwrap()
        .products;
    let shelf = catalog::Shelf::Category("Hot drinks".into());
    let drinks = catalog::search(&mut c, &store.node, "", &shelf, 50).unwrap();
    assert_eq!(drinks.len() as i64, hot);
    assert!(drinks.iter().all(|p| p.category == "Hot drinks"));
    let within = catalog::search(&mut c, &store.node, "CAPPU", &shelf, 50).unwrap();
    assert_eq!(within.len(), 1, "a search within the tab");

    // A manager moves the espresso off its tab and off the favourites; a
    // product no longer sold leaves both.
    let espresso = drinks.iter().find(|p| p.name == "Espresso").unwrap();
    assert!(espresso.favourite);
    let edit = catalog::ProductEdit {
        category: Some("  ".into()),
        favourite: Some(false),
        ..Default::default()
    };
    let moved = catalog::update_product(&mut c, &store.node, &manager, &espresso.id, edit).unwrap();
    assert_eq!((moved.category.as_str(), moved.favourite), ("", false));
    let latte = drinks.iter().find(|p| p.name == "Latte macchiato").unwrap();
    let gone = catalog::ProductEdit {
        active: Some(false),
        ..Default::default()
    };
    catalog::update_product(&mut c, &store.node, &manager, &latte.id, gone).unwrap();
    let tabs = catalog::categories(&mut c).unwrap();
    assert_eq!(
        tabs.iter()
            .find(|t| t.name == "Hot drinks")
            .unwrap()
            .products,
        hot - 2
    );
    let favourites =
        catalog::search(&mut c, &store.node, "", &catalog::Shelf::Favourites, 50).unwrap();
    assert!(!favourites.is_empty());
    assert!(favourites.iter().all(|p| p.favourite && p.active));
    assert!(
        !favourites
            .iter()
            .any(|p| p.id == espresso.id || p.id == latte.id)
    );

    // A category name past 40 characters is refused, and nothing changes.
    let long = catalog::ProductEdit {
        category: Some("x".repeat(41)),
        price_minor: Some(1),
        ..Default::default()
    };
    let e = catalog::update_product(&mut c, &store.node, &manager, &espresso.id, long).unwrap_err();
    assert!(e.to_string().contains("category"), "{e}");
    let again = catalog::by_id(&mut c, &store.node, &espresso.id).unwrap();
    assert_eq!(again.price_minor, espresso.price_minor);
}

#[test]
fn the_item_grid_shows_categories_and_favourites_on_sqlite() {
    the_item_grid_shows_categories_and_favourites(demo_store());
}

#[test]
fn the_item_grid_shows_categories_and_favourites_on_postgres() {
    the_item_grid_shows_categories_and_favourites(demo_store_on_pg(3));
}
