//! First start: the store's own rows, and the demo data for trying Outpost out.

use crate::db::{AnyConnection, new_id, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::schema::{barcodes, companies, node, products, stores, tax_categories};
use crate::staff::insert_staff;
use diesel::prelude::*;
use outpost_domain::{Currency, Pin, Role};

/// The store an edge serves, from settings on first start.
#[derive(Debug, Clone)]
pub struct StoreSetup {
    /// The store's id: the one its cloud credential names, or new when `None`.
    pub id: Option<String>,
    pub code: String,
    pub name: String,
    pub currency: String,
    pub utc_offset_minutes: i32,
    pub company_name: String,
    /// How the store writes numbers ("de-CH"); "" = the currency's usual.
    pub locale: String,
}

impl StoreSetup {
    /// A euro store S01 with a new id: for tests and examples.
    pub fn example() -> StoreSetup {
        StoreSetup {
            id: None,
            code: "S01".into(),
            name: "Outpost Demo Store".into(),
            currency: "EUR".into(),
            utc_offset_minutes: 60,
            company_name: "Outpost Market GmbH".into(),
            locale: String::new(),
        }
    }
}

/// Whether the database already belongs to a store.
pub fn is_set_up(conn: &mut AnyConnection) -> Result<bool> {
    Ok(node::table.count().get_result::<i64>(conn)? > 0)
}

/// Creates the node, store and its first company. Does nothing when already set up.
pub fn setup(conn: &mut AnyConnection, s: &StoreSetup) -> Result<bool> {
    Currency::parse(&s.currency)?;
    if !s.locale.is_empty() && outpost_domain::NumberFormat::get(&s.locale).is_none() {
        let known: Vec<&str> = outpost_domain::locale::LOCALES
            .iter()
            .map(|l| l.locale)
            .collect();
        return Err(StorageError::Unprocessable(format!(
            "store.locale {:?} is not one Outpost writes numbers for; use one of {}",
            s.locale,
            known.join(", ")
        )));
    }
    let code_ok = !s.code.is_empty()
        && s.code.len() <= 8
        && s.code.chars().all(|c| c.is_ascii_alphanumeric());
    if !code_ok {
        return Err(StorageError::Unprocessable(
            "store code must be 1 to 8 letters or digits (e.g. S01)".into(),
        ));
    }
    write_tx(conn, |conn| {
        if is_set_up(conn)? {
            return Ok(false);
        }
        let company = new_id();
        diesel::insert_into(companies::table)
            .values((
                companies::id.eq(&company),
                companies::code.eq("C1"),
                companies::name.eq(&s.company_name),
            ))
            .execute(conn)?;
        let store = match &s.id {
            Some(id) => uuid::Uuid::parse_str(id)
                .map_err(|_| StorageError::Unprocessable(format!("store id {id:?} is not a UUID")))?
                .to_string(),
            None => new_id(),
        };
        diesel::insert_into(stores::table)
            .values((
                stores::id.eq(&store),
                stores::code.eq(&s.code),
                stores::name.eq(&s.name),
                stores::currency.eq(&s.currency),
                stores::utc_offset_minutes.eq(s.utc_offset_minutes),
                stores::default_company_id.eq(&company),
                stores::locale.eq(&s.locale),
            ))
            .execute(conn)?;
        for (code, name, ppm) in [
            ("standard", "Standard rate", 190_000),
            ("reduced", "Reduced rate", 70_000),
            ("zero", "Zero rate", 0),
        ] {
            diesel::insert_into(tax_categories::table)
                .values((
                    tax_categories::id.eq(new_id()),
                    tax_categories::code.eq(code),
                    tax_categories::name.eq(name),
                    tax_categories::rate_ppm.eq(ppm),
                    tax_categories::mode.eq("inclusive"),
                ))
                .execute(conn)?;
        }
        diesel::insert_into(node::table)
            .values((
                node::id.eq(1),
                node::store_id.eq(&store),
                node::node_epoch.eq(new_id()),
                node::created_at.eq(now_millis()),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// EAN-13 with its check digit, from a 12-digit stem.
pub fn ean13(stem: u64) -> String {
    let s = format!("{stem:012}");
    let sum: u32 = s
        .bytes()
        .enumerate()
        .map(|(i, b)| (b - b'0') as u32 * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{s}{}", (10 - sum % 10) % 10)
}

/// One demo product: name, price in cents, tax category, weighed,
/// kitchen, the item grid's category, favourite.
type Demo = (
    &'static str,
    i64,
    &'static str,
    bool,
    bool,
    &'static str,
    bool,
);

const MARKET: &[Demo] = &[
    (
        "Whole milk 1 l",
        119,
        "reduced",
        false,
        false,
        "Dairy",
        true,
    ),
    ("Butter 250 g", 229, "reduced", false, false, "Dairy", false),
    (
        "Eggs, 10 free range",
        349,
        "reduced",
        false,
        false,
        "Dairy",
        false,
    ),
    (
        "Sourdough bread",
        389,
        "reduced",
        false,
        false,
        "Bakery",
        true,
    ),
    (
        "Bananas (kg)",
        169,
        "reduced",
        true,
        false,
        "Fruit & veg",
        true,
    ),
    (
        "Apples Elstar (kg)",
        279,
        "reduced",
        true,
        false,
        "Fruit & veg",
        false,
    ),
    (
        "Tomatoes (kg)",
        399,
        "reduced",
        true,
        false,
        "Fruit & veg",
        false,
    ),
    (
        "Potatoes 2.5 kg",
        299,
        "reduced",
        false,
        false,
        "Fruit & veg",
        false,
    ),
    (
        "Cheddar 200 g",
        279,
        "reduced",
        false,
        false,
        "Dairy",
        false,
    ),
    (
        "Greek yoghurt 500 g",
        189,
        "reduced",
        false,
        false,
        "Dairy",
        false,
    ),
    (
        "Spaghetti 500 g",
        129,
        "reduced",
        false,
        false,
        "Pantry",
        false,
    ),
    (
        "Basmati rice 1 kg",
        329,
        "reduced",
        false,
        false,
        "Pantry",
        false,
    ),
    (
        "Olive oil 0.75 l",
        899,
        "reduced",
        false,
        false,
        "Pantry",
        false,
    ),
    (
        "Ground coffee 500 g",
        799,
        "reduced",
        false,
        false,
        "Pantry",
        false,
    ),
    (
        "Orange juice 1 l",
        249,
        "reduced",
        false,
        false,
        "Drinks",
        false,
    ),
    (
        "Sparkling water 1.5 l",
        59,
        "standard",
        false,
        false,
        "Drinks",
        false,
    ),
    ("Cola 1.5 l", 179, "standard", false, false, "Drinks", false),
    (
        "Lager 0.5 l",
        109,
        "standard",
        false,
        false,
        "Drinks",
        false,
    ),
    (
        "Red wine 0.75 l",
        699,
        "standard",
        false,
        false,
        "Drinks",
        false,
    ),
    (
        "Dark chocolate 100 g",
        199,
        "reduced",
        false,
        false,
        "Pantry",
        false,
    ),
    (
        "Crisps 150 g",
        179,
        "reduced",
        false,
        false,
        "Pantry",
        false,
    ),
    (
        "Washing-up liquid",
        149,
        "standard",
        false,
        false,
        "Household",
        false,
    ),
    (
        "Toilet paper, 8 rolls",
        449,
        "standard",
        false,
        false,
        "Household",
        false,
    ),
    (
        "AA batteries, 4",
        599,
        "standard",
        false,
        false,
        "Household",
        false,
    ),
    (
        "Toothpaste 75 ml",
        189,
        "standard",
        false,
        false,
        "Household",
        false,
    ),
    (
        "Shampoo 300 ml",
        349,
        "standard",
        false,
        false,
        "Household",
        false,
    ),
    (
        "Cherry tomatoes 250 g",
        199,
        "reduced",
        false,
        false,
        "Fruit & veg",
        false,
    ),
    (
        "Carrots 1 kg",
        119,
        "reduced",
        false,
        false,
        "Fruit & veg",
        false,
    ),
    (
        "Onions 1 kg",
        129,
        "reduced",
        false,
        false,
        "Fruit & veg",
        false,
    ),
    (
        "Mozzarella 125 g",
        99,
        "reduced",
        false,
        false,
        "Dairy",
        false,
    ),
    (
        "Salami sliced 100 g",
        229,
        "reduced",
        false,
        false,
        "Deli",
        false,
    ),
    (
        "Ham sliced 150 g",
        259,
        "reduced",
        false,
        false,
        "Deli",
        false,
    ),
    (
        "Muesli 750 g",
        379,
        "reduced",
        false,
        false,
        "Pantry",
        false,
    ),
    ("Honey 500 g", 549, "reduced", false, false, "Pantry", false),
    ("Flour 1 kg", 89, "reduced", false, false, "Pantry", false),
    ("Sugar 1 kg", 119, "reduced", false, false, "Pantry", false),
];
const CAFE: &[Demo] = &[
    ("Espresso", 220, "standard", false, true, "Hot drinks", true),
    (
        "Cappuccino",
        350,
        "standard",
        false,
        true,
        "Hot drinks",
        true,
    ),
    (
        "Latte macchiato",
        390,
        "standard",
        false,
        true,
        "Hot drinks",
        true,
    ),
    (
        "Black tea",
        250,
        "standard",
        false,
        true,
        "Hot drinks",
        false,
    ),
    (
        "Hot chocolate",
        370,
        "standard",
        false,
        true,
        "Hot drinks",
        false,
    ),
    ("Croissant", 190, "standard", false, true, "Bakery", true),
    (
        "Cheese toastie",
        590,
        "standard",
        false,
        true,
        "Food",
        false,
    ),
    (
        "Soup of the day",
        650,
        "standard",
        false,
        true,
        "Food",
        false,
    ),
    ("Club sandwich", 890, "standard", false, true, "Food", false),
    ("Caesar salad", 950, "standard", false, true, "Food", false),
    (
        "Apple pie slice",
        420,
        "standard",
        false,
        true,
        "Cakes",
        false,
    ),
    (
        "Bagel with cream cheese",
        450,
        "standard",
        false,
        true,
        "Bakery",
        false,
    ),
    (
        "Fresh orange juice",
        450,
        "standard",
        false,
        true,
        "Cold drinks",
        false,
    ),
    ("Brownie", 320, "standard", false, true, "Cakes", true),
];

/// Rough units of each currency per euro, in thousandths: only for demo
/// prices that look like a shop in that currency (a 1.19 EUR milk is 190 JPY
/// or 0.390 KWD), never for money that changes hands.
const PER_EUR_MILLI: &[(&str, i64)] = &[
    ("AED", 4_000),
    ("AUD", 1_650),
    ("BHD", 410),
    ("BRL", 6_000),
    ("CAD", 1_500),
    ("CHF", 950),
    ("CLP", 1_000_000),
    ("CNY", 7_800),
    ("CZK", 25_000),
    ("DKK", 7_460),
    ("GBP", 850),
    ("HKD", 8_500),
    ("HUF", 400_000),
    ("IDR", 17_000_000),
    ("ILS", 4_000),
    ("INR", 90_000),
    ("ISK", 150_000),
    ("JOD", 770),
    ("JPY", 160_000),
    ("KRW", 1_450_000),
    ("KWD", 330),
    ("MAD", 11_000),
    ("MXN", 20_000),
    ("NOK", 11_500),
    ("NZD", 1_800),
    ("OMR", 420),
    ("PLN", 4_300),
    ("RON", 5_000),
    ("SEK", 11_300),
    ("SGD", 1_450),
    ("THB", 38_000),
    ("TND", 3_400),
    ("TRY", 38_000),
    ("UGX", 4_000_000),
    ("USD", 1_080),
    ("VND", 27_000_000),
    ("XAF", 656_000),
    ("XOF", 656_000),
    ("ZAR", 20_000),
];

/// A demo price given in euro cents, in `currency`'s minor units, rounded to
/// two significant digits (euros stay as they are).
pub fn demo_price(cents: i64, currency: Currency) -> i64 {
    let Some(&(_, rate)) = PER_EUR_MILLI.iter().find(|(c, _)| *c == currency.code()) else {
        return cents;
    };
    let scale = 10i128.pow(u32::from(currency.exponent()));
    let minor = i128::from(cents) * i128::from(rate) * scale / 100_000;
    let mut step = 1i128;
    while minor / step >= 100 {
        step *= 10;
    }
    let rounded = (minor + step / 2) / step * step;
    i64::try_from(rounded.max(1)).unwrap_or(i64::MAX)
}

/// Fills an empty database with a demo store — the store of `store` (its
/// code, name, currency and UTC offset, as the settings give them): two
/// companies, 50 products with barcodes priced in the store's currency, a
/// manager, a supervisor and two cashiers. Returns (name, role, PIN) to
/// print once.
pub fn demo(
    conn: &mut AnyConnection,
    store: &StoreSetup,
) -> Result<Option<Vec<(String, Role, String)>>> {
    let currency = Currency::parse(&store.currency)?;
    let fresh = setup(conn, store)?;
    if !fresh {
        return Ok(None);
    }
    write_tx(conn, |conn| {
        let market: String = companies::table.select(companies::id).first(conn)?;
        let cafe = new_id();
        diesel::insert_into(companies::table)
            .values((
                companies::id.eq(&cafe),
                companies::code.eq("C2"),
                companies::name.eq(format!("{} Café", store.name)),
            ))
            .execute(conn)?;
        let taxes: Vec<(String, String)> = tax_categories::table
            .select((tax_categories::code, tax_categories::id))
            .load(conn)?;
        let tax = |code: &str| {
            taxes
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, id)| id.clone())
                .unwrap_or_default()
        };
        let mut n = 0u64;
        for (company, list, prefix) in [(&market, MARKET, "M"), (&cafe, CAFE, "C")] {
            for (name, price, t, weighed, kitchen, category, favourite) in list {
                n += 1;
                let id = new_id();
                diesel::insert_into(products::table)
                    .values((
                        products::id.eq(&id),
                        products::company_id.eq(company),
                        products::sku.eq(format!("{prefix}{n:04}")),
                        products::name.eq(name),
                        products::price_minor.eq(demo_price(*price, currency)),
                        products::tax_category_id.eq(tax(t)),
                        products::weighed.eq(weighed),
                        products::kitchen.eq(kitchen),
                        products::category.eq(category),
                        products::favourite.eq(favourite),
                        products::updated_hlc.eq(0),
                    ))
                    .execute(conn)?;
                diesel::insert_into(barcodes::table)
                    .values((
                        barcodes::code.eq(ean13(400_000_000_000 + n)),
                        barcodes::product_id.eq(&id),
                    ))
                    .execute(conn)?;
                // A weighed item's scale labels (price under 21, weight
                // under 26, the shipped `scale_labels`): item n.
                if *weighed {
                    for prefix in ["21", "26"] {
                        diesel::insert_into(barcodes::table)
                            .values((
                                barcodes::code.eq(outpost_domain::gs1::with_check_digit(&format!(
                                    "{prefix}{n:05}00000"
                                ))),
                                barcodes::product_id.eq(&id),
                            ))
                            .execute(conn)?;
                    }
                }
            }
        }
        let store: String = stores::table.select(stores::id).first(conn)?;
        let mut people = Vec::new();
        for (name, role) in [
            ("Maria Manager", Role::Manager),
            ("Carl Cashier", Role::Cashier),
            ("Cleo Cashier", Role::Cashier),
            ("Sam Supervisor", Role::Supervisor),
        ] {
            let pin = random_pin();
            insert_staff(conn, &store, name, role, &Pin::parse(&pin)?)?;
            people.push((name.to_owned(), role, pin));
        }
        Ok(Some(people))
    })
}

fn random_pin() -> String {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).expect("the OS random source is available");
        let pin = format!("{:04}", u32::from_le_bytes(b) % 10_000);
        if Pin::parse(&pin).is_ok() {
            return pin;
        }
    }
}

#[cfg(test)]
mod tests {
    use outpost_domain::Currency;

    #[test]
    fn ean13_check_digit() {
        assert_eq!(super::ean13(400_638_133_393), "4006381333931");
    }

    #[test]
    fn demo_prices_look_like_a_shop_in_the_store_currency() {
        let p = |cents, c| super::demo_price(cents, Currency::parse(c).unwrap());
        assert_eq!(p(119, "EUR"), 119);
        assert_eq!(p(119, "JPY"), 190);
        assert_eq!(p(119, "KWD"), 390);
        assert_eq!(p(899, "IDR"), 15_000_000);
        assert_eq!(p(59, "CHF"), 56);
        for (code, _) in super::PER_EUR_MILLI {
            assert!(p(59, code) > 0, "{code}");
        }
    }
}
