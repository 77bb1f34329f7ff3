//! Master data on the edge: companies, tax categories, products with barcodes,
//! and customers. Edits here are `master` events (a store without a cloud, or a
//! manager changing a local price, authors them on the edge).

use crate::audit;
use crate::db::{AnyConnection, new_id, now_millis, write_tx};
use crate::error::{Result, StorageError};
use crate::node::{Actor, Node};
use crate::outbox::{self, Event, Stream};
use crate::schema::{barcodes, companies, customers, products, tax_categories};
use diesel::prelude::*;
use outpost_domain::gs1;
use outpost_domain::search::fold;
use outpost_domain::{Permission, TaxMode, TaxRate};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = companies)]
pub struct Company {
    pub id: String,
    pub code: String,
    pub name: String,
    pub tax_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = tax_categories)]
pub struct TaxCategory {
    pub id: String,
    pub code: String,
    pub name: String,
    pub rate_ppm: i64,
    pub mode: String,
}

impl TaxCategory {
    pub fn rate(&self) -> Result<TaxRate> {
        Ok(TaxRate::new(self.rate_ppm, TaxMode::parse(&self.mode)?)?)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub id: String,
    pub company_id: String,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub tax_category_id: String,
    pub weighed: bool,
    pub kitchen: bool,
    pub active: bool,
    pub version: i64,
    pub updated_hlc: i64,
    pub category: String,
    pub favourite: bool,
}

/// A product as tills and pages see it.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: String,
    pub company_id: String,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: &'static str,
    pub tax_category: String,
    pub tax_ppm: i64,
    pub tax_mode: String,
    pub weighed: bool,
    pub kitchen: bool,
    pub active: bool,
    pub version: i64,
    pub barcodes: Vec<String>,
    /// The item grid's tab it is on ('' for none).
    pub category: String,
    /// On the grid's favourites tab.
    pub favourite: bool,
}

pub fn companies(conn: &mut AnyConnection) -> Result<Vec<Company>> {
    Ok(companies::table
        .order(companies::code)
        .select(Company::as_select())
        .load(conn)?)
}

pub fn tax_categories(conn: &mut AnyConnection) -> Result<Vec<TaxCategory>> {
    Ok(tax_categories::table
        .order(tax_categories::code)
        .select(TaxCategory::as_select())
        .load(conn)?)
}

fn views(conn: &mut AnyConnection, node: &Node, rows: Vec<ProductRow>) -> Result<Vec<Product>> {
    let taxes: HashMap<String, TaxCategory> = tax_categories(conn)?
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut codes: HashMap<String, Vec<String>> = HashMap::new();
    for (code, pid) in barcodes::table
        .filter(barcodes::product_id.eq_any(&ids))
        .order(barcodes::code)
        .select((barcodes::code, barcodes::product_id))
        .load::<(String, String)>(conn)?
    {
        codes.entry(pid).or_default().push(code);
    }
    rows.into_iter()
        .map(|r| {
            let tax = taxes
                .get(&r.tax_category_id)
                .ok_or_else(|| StorageError::Corrupt(format!("tax category of {}", r.sku)))?;
            Ok(Product {
                barcodes: codes.remove(&r.id).unwrap_or_default(),
                id: r.id,
                company_id: r.company_id,
                sku: r.sku,
                name: r.name,
                price_minor: r.price_minor,
                currency: node.currency.code(),
                tax_category: tax.code.clone(),
                tax_ppm: tax.rate_ppm,
                tax_mode: tax.mode.clone(),
                weighed: r.weighed,
                kitchen: r.kitchen,
                active: r.active,
                version: r.version,
                category: r.category,
                favourite: r.favourite,
            })
        })
        .collect()
}

/// Which products a search looks at besides its text.
#[derive(Debug, Clone, Default)]
pub enum Shelf {
    /// Every active product.
    #[default]
    All,
    /// The active products of one category of the item grid.
    Category(String),
    /// The active favourites.
    Favourites,
}

/// Active products on `shelf` whose name or SKU holds `q` (all when `q`
/// is empty), whatever its case, accents or marks
/// (`outpost_domain::search::fold`), by name.
pub fn search(
    conn: &mut AnyConnection,
    node: &Node,
    q: &str,
    shelf: &Shelf,
    limit: i64,
) -> Result<Vec<Product>> {
    let mut query = products::table
        .filter(products::active.eq(true))
        .into_boxed();
    match shelf {
        Shelf::All => {}
        Shelf::Category(c) => query = query.filter(products::category.eq(c.clone())),
        Shelf::Favourites => query = query.filter(products::favourite.eq(true)),
    }
    let q = fold(q);
    if !q.is_empty() {
        fold_missing(conn)?;
        // `%` and `_` are what was typed, not wildcards.
        let typed = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(products::search_key.like(format!("%{typed}%")).escape('\\'));
    }
    let rows = query
        .order(products::name)
        .limit(limit)
        .select(ProductRow::as_select())
        .load(conn)?;
    views(conn, node, rows)
}

/// One tab of the item grid: a category and how many active products it
/// holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub name: String,
    pub products: i64,
}

/// The categories of the active products, by name.
pub fn categories(conn: &mut AnyConnection) -> Result<Vec<Category>> {
    let rows: Vec<(String, i64)> = products::table
        .filter(products::active.eq(true))
        .filter(products::category.ne(""))
        .group_by(products::category)
        .select((products::category, diesel::dsl::count_star()))
        .order(products::category)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(name, products)| Category { name, products })
        .collect())
}

/// Folds the name and SKU of every product whose folded text is missing
/// (new, renamed, or folded by an older `fold`): what search compares.
pub fn fold_missing(conn: &mut AnyConnection) -> Result<usize> {
    let missing: Vec<(String, String, String)> = products::table
        .filter(products::search_key.is_null())
        .select((products::id, products::name, products::sku))
        .load(conn)?;
    if missing.is_empty() {
        return Ok(0);
    }
    write_tx(conn, |conn| {
        let mut n = 0;
        for (id, name, sku) in &missing {
            // Only if the row is still as read: a rename meanwhile is
            // folded next time.
            n += diesel::update(
                products::table
                    .find(id)
                    .filter(products::name.eq(name))
                    .filter(products::sku.eq(sku)),
            )
            .set(products::search_key.eq(fold(&format!("{name} {sku}"))))
            .execute(conn)?;
        }
        Ok(n)
    })
}

pub fn by_barcode(conn: &mut AnyConnection, node: &Node, code: &str) -> Result<Product> {
    let pid: String = barcodes::table
        .find(code)
        .select(barcodes::product_id)
        .first(conn)
        .optional()?
        .ok_or_else(|| StorageError::not_found(format!("barcode {code:?}")))?;
    by_id(conn, node, &pid)
}

/// What a code scanned at the till sells: a product's own barcode, or a
/// scale's label (`outpost_domain::gs1`) with the weight it stands for.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub product: Product,
    /// From a scale label: the weight (thousandths of a kilo) to sell.
    pub qty_milli: Option<i64>,
}

/// Reads a scanned code: a product's barcode first; else a scale label by
/// the store's `rules` (a price label sells the weight that costs that
/// price at the product's price a kilo); else unknown, or misread when its
/// check digit is wrong.
pub fn scan(
    conn: &mut AnyConnection,
    node: &Node,
    rules: &gs1::LabelRules,
    code: &str,
) -> Result<Scanned> {
    match by_barcode(conn, node, code) {
        Ok(product) => {
            return Ok(Scanned {
                product,
                qty_milli: None,
            });
        }
        Err(StorageError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let label = rules.read(code).map_err(|gs1::Misread| {
        StorageError::Unprocessable(format!(
            "scale label {code} was misread (its price check digit is wrong): scan it again"
        ))
    })?;
    if let Some(label) = label {
        let product = by_barcode(conn, node, &label.base).map_err(|e| match e {
            StorageError::NotFound(_) => StorageError::not_found(format!(
                "a product for scale item {} (give it the barcode {})",
                label.item, label.base
            )),
            e => e,
        })?;
        if !product.weighed {
            return Err(StorageError::Unprocessable(format!(
                "{} is not sold by weight: a scale label cannot sell it",
                product.name
            )));
        }
        let grams = match label.measure {
            gs1::Measure::Grams(g) => Some(g),
            gs1::Measure::Price(price) => gs1::grams_for_price(price, product.price_minor),
        }
        .filter(|g| *g > 0)
        .ok_or_else(|| {
            StorageError::Unprocessable(format!("the scale label {code} shows no weight or price"))
        })?;
        return Ok(Scanned {
            product,
            qty_milli: Some(grams),
        });
    }
    if matches!(code.len(), 8 | 12 | 13)
        && code.bytes().all(|b| b.is_ascii_digit())
        && !gs1::check_digit_ok(code)
    {
        return Err(StorageError::Unprocessable(format!(
            "barcode {code} was misread (its check digit is wrong): scan it again"
        )));
    }
    Err(StorageError::not_found(format!("barcode {code:?}")))
}

pub fn by_id(conn: &mut AnyConnection, node: &Node, id: &str) -> Result<Product> {
    let row = products::table
        .find(id)
        .select(ProductRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StorageError::not_found(format!("product {id:?}")))?;
    Ok(views(conn, node, vec![row])?.remove(0))
}

/// Rows and tax rates for the products a sale names, by id or barcode.
/// Products by id, barcode → product id, and tax categories by id.
pub type Resolved = (
    HashMap<String, ProductRow>,
    HashMap<String, String>,
    HashMap<String, TaxCategory>,
);

pub fn resolve(conn: &mut AnyConnection, ids: &[String], codes: &[String]) -> Result<Resolved> {
    let by_code = product_ids(conn, codes)?;
    // Products with their tax categories in one round trip.
    let rows = products::table
        .inner_join(tax_categories::table)
        .filter(products::id.eq_any(named(ids, &by_code)))
        .select((ProductRow::as_select(), TaxCategory::as_select()))
        .load::<(ProductRow, TaxCategory)>(conn)?;
    Ok(resolved(rows, by_code))
}

/// Who holds the session `token` and what [`resolve`] finds, with the
/// session checked in the products' round trip: the sale's first query is
/// also its sign-in check (one round trip fewer on the busiest route).
pub fn resolve_signed(
    conn: &mut AnyConnection,
    session: crate::staff::Presented<'_>,
    ids: &[String],
    codes: &[String],
) -> Result<(Actor, Resolved)> {
    use crate::schema::{devices, sessions, staff};
    let by_code = product_ids(conn, codes)?;
    // The session's row once per product (once with none when no product
    // matched); no row at all when no session has this token.
    let rows: Vec<(
        crate::staff::SessionRow,
        Option<ProductRow>,
        Option<TaxCategory>,
    )> = sessions::table
        .inner_join(staff::table)
        .left_join(
            devices::table.on(sessions::device_id
                .eq(devices::id.nullable())
                .and(devices::revoked_at.is_null())),
        )
        .left_join(products::table.on(products::id.eq_any(named(ids, &by_code))))
        .left_join(tax_categories::table.on(tax_categories::id.eq(products::tax_category_id)))
        .filter(sessions::token_hash.eq(crate::secrets::hash_token(session.token)))
        .select((
            crate::staff::SessionRow::as_select(),
            Option::<ProductRow>::as_select(),
            Option::<TaxCategory>::as_select(),
        ))
        .load(conn)?;
    let (actor, _) = crate::staff::signed(rows.first().map(|r| r.0.clone()), session.device)?;
    let found = rows.into_iter().filter_map(|(_, p, t)| p.zip(t));
    Ok((actor, resolved(found, by_code)))
}

/// [`Resolved`] from products with their tax categories.
fn resolved(
    rows: impl IntoIterator<Item = (ProductRow, TaxCategory)>,
    by_code: HashMap<String, String>,
) -> Resolved {
    let (mut products, mut taxes) = (HashMap::new(), HashMap::new());
    for (p, t) in rows {
        taxes.insert(t.id.clone(), t);
        products.insert(p.id.clone(), p);
    }
    (products, by_code, taxes)
}

/// Barcode → product id for the codes a till sent (no round trip for none).
fn product_ids(conn: &mut AnyConnection, codes: &[String]) -> Result<HashMap<String, String>> {
    if codes.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(barcodes::table
        .filter(barcodes::code.eq_any(codes))
        .select((barcodes::code, barcodes::product_id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// The product ids a sale names, directly or by barcode.
fn named(ids: &[String], by_code: &HashMap<String, String>) -> Vec<String> {
    ids.iter().chain(by_code.values()).cloned().collect()
}

/// A new product as a manager enters it.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub company_id: Option<String>,
    pub price_minor: i64,
    pub tax_category: String,
    pub weighed: bool,
    pub kitchen: bool,
    pub barcodes: Vec<String>,
    pub category: String,
    pub favourite: bool,
}

fn check_text(what: &str, s: &str, max: usize) -> Result<()> {
    if s.trim().is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(StorageError::Unprocessable(format!(
            "{what} must be 1 to {max} printable characters"
        )));
    }
    Ok(())
}

/// A shelf price: in range, and in whole rounding units of the store's
/// currency (whole rupiah in an IDR store).
fn check_price(node: &Node, price_minor: i64) -> Result<()> {
    use outpost_domain::{DomainError, Money};
    if !(0..=outpost_domain::money::MAX_MINOR).contains(&price_minor) {
        return Err(DomainError::AmountOutOfRange.into());
    }
    let unit = node.currency.rounding();
    if price_minor % unit != 0 {
        return Err(DomainError::NotInRoundingUnit {
            what: "a price",
            unit: Money {
                minor: unit,
                currency: node.currency,
            },
        }
        .into());
    }
    Ok(())
}

pub fn create_product(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    p: NewProduct,
) -> Result<Product> {
    actor.require(Permission::ManageProducts, "manage products")?;
    check_text("sku", &p.sku, 64)?;
    check_text("name", &p.name, 200)?;
    for c in &p.barcodes {
        check_text("barcode", c, 64)?;
    }
    check_price(node, p.price_minor)?;
    write_tx(conn, |conn| {
        insert_product(conn, node, actor, &p, node.tick())
    })
}

/// Inserts a product with its barcodes and writes its master event at `hlc`.
/// Call inside a transaction; the caller checked the input.
pub(crate) fn insert_product(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    p: &NewProduct,
    hlc: outpost_domain::Hlc,
) -> Result<Product> {
    check_category(&p.category)?;
    let id = new_id();
    let tax_id: String = tax_categories::table
        .filter(tax_categories::code.eq(&p.tax_category))
        .select(tax_categories::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            StorageError::Unprocessable(format!("unknown tax category {:?}", p.tax_category))
        })?;
    let company = p
        .company_id
        .clone()
        .unwrap_or_else(|| node.store().default_company_id);
    if companies::table
        .find(&company)
        .count()
        .get_result::<i64>(conn)?
        == 0
    {
        return Err(StorageError::Unprocessable(format!(
            "unknown company {company:?}"
        )));
    }
    diesel::insert_into(products::table)
        .values((
            products::id.eq(&id),
            products::company_id.eq(&company),
            products::sku.eq(&p.sku),
            products::name.eq(&p.name),
            products::price_minor.eq(p.price_minor),
            products::tax_category_id.eq(&tax_id),
            products::weighed.eq(p.weighed),
            products::kitchen.eq(p.kitchen),
            products::category.eq(p.category.trim()),
            products::favourite.eq(p.favourite),
            products::updated_hlc.eq(hlc.raw()),
        ))
        .execute(conn)
        .map_err(|e| unique_to_conflict(e, "a product with this SKU already exists"))?;
    for c in &p.barcodes {
        diesel::insert_into(barcodes::table)
            .values((barcodes::code.eq(c), barcodes::product_id.eq(&id)))
            .execute(conn)
            .map_err(|e| unique_to_conflict(e, "this barcode belongs to another product"))?;
    }
    let view = by_id(conn, node, &id)?;
    master_event(conn, node, actor, hlc, &view, "product.created")?;
    Ok(view)
}

/// What a product edit sets (`None`: left as it is).
#[derive(Debug, Clone, Default)]
pub struct ProductEdit {
    pub price_minor: Option<i64>,
    pub name: Option<String>,
    pub active: Option<bool>,
    /// The item grid's tab ('' for none).
    pub category: Option<String>,
    pub favourite: Option<bool>,
}

/// A category is a short name of printable characters, or '' for none.
fn check_category(c: &str) -> Result<()> {
    if c.trim().chars().count() > 40 || c.chars().any(char::is_control) {
        return Err(StorageError::Unprocessable(
            "category must be at most 40 printable characters".into(),
        ));
    }
    Ok(())
}

/// Changes a product's price, name, whether it is sold, its category or
/// whether it is a favourite. A price change is audited.
pub fn update_product(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    id: &str,
    edit: ProductEdit,
) -> Result<Product> {
    actor.require(Permission::ManageProducts, "manage products")?;
    if let Some(n) = &edit.name {
        check_text("name", n, 200)?;
    }
    if let Some(p) = edit.price_minor {
        check_price(node, p)?;
    }
    if let Some(c) = &edit.category {
        check_category(c)?;
    }
    write_tx(conn, |conn| {
        let before = by_id(conn, node, id)?;
        let hlc = node.tick();
        let ProductEdit {
            price_minor,
            name,
            active,
            category,
            favourite,
        } = edit.clone();
        diesel::update(products::table.find(id))
            .set((
                products::price_minor.eq(price_minor.unwrap_or(before.price_minor)),
                products::name.eq(name.unwrap_or(before.name.clone())),
                products::active.eq(active.unwrap_or(before.active)),
                products::category.eq(category
                    .map(|c| c.trim().to_owned())
                    .unwrap_or(before.category.clone())),
                products::favourite.eq(favourite.unwrap_or(before.favourite)),
                products::version.eq(before.version + 1),
                products::updated_hlc.eq(hlc.raw()),
            ))
            .execute(conn)?;
        let after = by_id(conn, node, id)?;
        if before.price_minor != after.price_minor {
            audit::by(
                conn,
                node,
                actor,
                "product.price_changed",
                id,
                serde_json::json!({"sku": after.sku, "from": before.price_minor, "to": after.price_minor}),
            )?;
        }
        master_event(conn, node, actor, hlc, &after, "product.updated")?;
        Ok(after)
    })
}

pub(crate) fn master_event(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    hlc: outpost_domain::Hlc,
    p: &Product,
    kind: &str,
) -> Result<()> {
    outbox::append(
        conn,
        node,
        hlc,
        Event {
            stream: Stream::Master,
            aggregate_type: "product",
            aggregate_id: &p.id,
            aggregate_version: p.version,
            event_type: kind,
            actor: &actor.staff_id,
            device_id: actor.device_id.as_deref(),
            payload: p,
        },
    )?;
    Ok(())
}

pub fn unique_to_conflict(e: diesel::result::Error, msg: &str) -> StorageError {
    if StorageError::is_unique_violation(&e) {
        StorageError::Conflict(msg.to_owned())
    } else {
        e.into()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub created_at: i64,
}

pub fn create_customer(
    conn: &mut AnyConnection,
    node: &Node,
    actor: &Actor,
    name: &str,
    phone: &str,
    email: &str,
) -> Result<Customer> {
    check_text("name", name, 200)?;
    if phone.len() > 40 || email.len() > 200 {
        return Err(StorageError::Unprocessable(
            "phone or email too long".into(),
        ));
    }
    let c = Customer {
        id: new_id(),
        name: name.to_owned(),
        phone: phone.to_owned(),
        email: email.to_owned(),
        created_at: now_millis(),
    };
    write_tx(conn, |conn| {
        diesel::insert_into(customers::table)
            .values((
                customers::id.eq(&c.id),
                customers::name.eq(&c.name),
                customers::phone.eq(&c.phone),
                customers::email.eq(&c.email),
                customers::created_at.eq(c.created_at),
            ))
            .execute(conn)?;
        outbox::append(
            conn,
            node,
            node.tick(),
            Event {
                stream: Stream::Master,
                aggregate_type: "customer",
                aggregate_id: &c.id,
                aggregate_version: 1,
                event_type: "customer.created",
                actor: &actor.staff_id,
                device_id: actor.device_id.as_deref(),
                payload: &c,
            },
        )?;
        Ok(c.clone())
    })
}

pub fn customers(conn: &mut AnyConnection, q: &str, limit: i64) -> Result<Vec<Customer>> {
    let mut query = customers::table.into_boxed();
    if !q.is_empty() {
        let pattern = format!("%{}%", q.replace(['%', '_', '\\'], ""));
        query = query.filter(
            customers::name
                .like(pattern.clone())
                .or(customers::phone.like(pattern.clone()))
                .or(customers::email.like(pattern)),
        );
    }
    Ok(query
        .order(customers::name)
        .limit(limit)
        .select(Customer::as_select())
        .load(conn)?)
}
