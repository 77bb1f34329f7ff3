//! The admin's server-rendered pages (maud, which escapes every value),
//! under a CSP that allows only the admin's own script.

use super::*;

/// Minor units as people read them (the currency table's decimals), or
/// as they are when the currency is unknown to this cloud.
pub(super) fn amount(minor: i64, currency: &str) -> String {
    outpost_domain::Currency::parse(currency).map_or_else(
        |_| minor.to_string(),
        |currency| outpost_domain::Money { minor, currency }.amount(),
    )
}

pub(super) fn order_rows(orders: &[cloud::OrderRow]) -> Markup {
    html! {
        @for o in orders {
            tr {
                td { (o.store_code) } td { (o.number) } td { (o.status) }
                td { (amount(o.total_minor, &o.currency)) " " (o.currency) }
                td { @if o.needs_adjustment { "adjust" } }
            }
        }
    }
}

/// "12 s ago", "5 min ago", "3 h ago", "2 days ago".
pub(super) fn ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..120 => format!("{s} s ago"),
        120..7200 => format!("{} min ago", s / 60),
        7200..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// One store's line on the page: is its link up, what it still has to send,
/// what went wrong, and how long its credential lasts.
pub(super) fn store_row(
    s: &cloud::StoreSync,
    now: i64,
    offline_after_ms: i64,
    warn_ms: i64,
) -> Markup {
    let st = &s.store;
    let streams: Vec<String> = s
        .streams
        .iter()
        .map(|x| format!("{} {}/{}", x.stream, x.applied, x.acked))
        .collect();
    html! {
        tr {
            td { a href={ "/stores/" (st.id) } { (st.code) } }
            td { (st.name) }
            td {
                @match st.last_contact_at {
                    None => span.bad { "never connected" },
                    Some(t) if now - t < offline_after_ms => { span.ok { "online" } " (" (ago(now - t)) ")" },
                    Some(t) => { span.bad { "offline" } ", last contact " (ago(now - t)) },
                }
                @if !st.sync_refusal.is_empty() {
                    br; span.bad { "refused: " (st.sync_refusal) }
                }
            }
            td {
                @match (st.pending_events, st.oldest_unsent_age_ms) {
                    (Some(0), _) => "nothing waiting",
                    (Some(n), Some(age)) => { (n) " events, the oldest from " (ago(age)) },
                    (Some(n), None) => { (n) " events" },
                    (None, _) => "",
                }
            }
            td { (streams.join(", ")) }
            td { (s.pending) } td { (s.rejected) } td { (s.parked) } td { (s.alarms) }
            td {
                @match (st.has_credential, st.credential_expires_at) {
                    (false, _) => span.bad { "none (revoked)" },
                    (true, None) => "does not expire",
                    (true, Some(at)) if at <= now => span.bad { "expired" },
                    (true, Some(at)) if at - now < warn_ms => {
                        span.bad { "expires in " ((at - now) / 86_400_000) " day(s)" }
                        ": renewed at the store's next contact"
                    },
                    (true, Some(at)) => { "expires in " ((at - now) / 86_400_000) " days" },
                }
            }
        }
    }
}

/// The pages' policy: nothing but this origin's script and the inline
/// style; no framing.
pub(super) const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'";

pub(super) const STYLE: &str = "body{font:15px system-ui,sans-serif;margin:1.5rem}table{border-collapse:collapse}\
     td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}.bad{color:#a00}.ok{color:#070}\
     output{color:#555}output.bad{color:#b00}header{display:flex;gap:1rem;align-items:baseline}";

/// A page: its title, the signed-in account with a sign-out button (and
/// the session's CSRF token for the script), then `body`.
pub(super) fn layout(title: &str, who: Option<(&Who, &str)>, body: Markup) -> HttpResponse {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                @if let Some((_, csrf)) = who { meta name="csrf" content=(csrf); }
                style { (PreEscaped(STYLE)) }
                script src="/admin.js" defer {}
            }
            body {
                @if let Some((w, csrf)) = who {
                    header {
                        span { (w.account.name) " · " (w.account.role.as_str()) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button { "Sign out" }
                        }
                    }
                }
                (body)
            }
        }
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", PAGE_CSP))
        // Its forms then send their real Origin (with no-referrer a
        // browser sends "null"), which the cloud checks; other sites
        // still get no Referer.
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header(("Cache-Control", "no-store"))
        .body(page.into_string())
}

/// Stores with their sync state, parked batches, the alarms, the adjustment
/// queue and recent orders across stores, as one server-rendered page.
pub(super) async fn page(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let who = match page_authed(&req, &state).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let account = who.account.clone();
    let data = blocking(&state.db, move |c| {
        let mut stores = cloud::store_sync(c)?;
        stores.retain(|s| account.sees(&s.store.id));
        let alarms = alarms_seen(c, &account)?;
        let recent = orders_seen(c, &account, None, false, 50)?;
        let adjust = orders_seen(c, &account, None, true, 100)?;
        let mut parked = parked_seen(c, &account)?;
        parked.retain(|p| p.resolved_at.is_none());
        Ok((stores, alarms, recent, adjust, parked))
    })
    .await;
    let (stores, alarms, recent, adjust, parked) = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let csrf = who.csrf().to_owned();
    let dead = outpost_bus::dead_letters(&state.amqp_url, state.amqp_timers).await;
    let now = outpost_domain::ids::now_millis();
    let code_of = |id: &str| {
        stores
            .iter()
            .find(|s| s.store.id == id)
            .map_or_else(|| id.to_owned(), |s| s.store.code.clone())
    };
    let retry = who.account.may(Right::Retry);
    let body = html! {
        h1 { "Outpost cloud" }
        h2 { "Stores" }
        table {
            tr { th { "Code" } th { "Name" } th { "Link" } th { "Backlog at the store" }
                 th { "Streams (applied/acknowledged)" } th { "Waiting behind a gap" } th { "Rejected" }
                 th { "Parked batches" } th { "Alarms" } th { "Credential" } }
            @for s in &stores { (store_row(s, now, state.offline_after_ms, state.credential_warn_ms)) }
        }
        h2 #parked { "Parked batches" }
        @match dead {
            Ok(0) => {},
            Ok(n) => p.bad { (n) " message(s) could not even be parked and wait in the RabbitMQ queue "
                (outpost_bus::DEAD_QUEUE) ": look at them there." },
            Err(e) => p.bad { "RabbitMQ: " (e.to_string()) },
        }
        table {
            tr { th { "Store" } th { "Positions" } th { "Events parked" } th { "Reason" } th { "Parked" } th {} }
            @for p in &parked {
                tr {
                    td { (code_of(&p.store_id)) }
                    td { (p.stream) " " (p.first_position) "–" (p.last_position) }
                    td { (p.rejected) " of " (p.events) }
                    td { (p.reason) }
                    td { (ago(now - p.parked_at)) }
                    td { @if retry {
                        form method="post" action={ "/api/v1/parked/" (p.id) "/retry" } {
                            input type="hidden" name="csrf" value=(csrf);
                            button { "Retry" }
                        }
                    } }
                }
            }
        }
        h2 { "Alarms" }
        table {
            tr { th { "Kind" } th { "Store" } th { "Detail" } }
            @for a in alarms.iter().take(100) { tr { td { (a.kind) } td { (a.store_id) } td { (a.detail) } } }
        }
        h2 { "Adjustment queue" }
        table { tr { th { "Store" } th { "Order" } th { "Status" } th { "Total" } th {} } (order_rows(&adjust)) }
        h2 { "Recent orders" }
        table { tr { th { "Store" } th { "Order" } th { "Status" } th { "Total" } th {} } (order_rows(&recent)) }
    };
    layout("Outpost cloud", Some((&who, &csrf)), body)
}

/// The page's script: sends the product forms as JSON (same origin only).
pub(super) async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(include_str!("admin.js"))
}

/// One store: its products with forms to change their name, price and
/// whether they are sold (for an owner; others read them), and a form for
/// a new product. Changes go through the store's feed; the store applies
/// them on its next pull.
pub(super) async fn store_page(
    req: HttpRequest,
    state: web::Data<AdminState>,
    store_id: web::Path<String>,
) -> HttpResponse {
    let who = match page_authed(&req, &state).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let id = store_id.into_inner();
    if let Some(r) = who.hidden(&id) {
        return r;
    }
    let data = blocking(&state.db, {
        let id = id.clone();
        move |c| {
            let store = cloud::store_sync(c)?.into_iter().find(|s| s.store.id == id);
            let products = match &store {
                Some(_) => cloud::master::products(c, &id)?,
                None => Vec::new(),
            };
            Ok((store, products))
        }
    })
    .await;
    let (store, products) = match data {
        Ok((Some(s), p)) => (s, p),
        Ok((None, _)) => {
            return problem(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("store {id} not found"),
            );
        }
        Err(r) => return r,
    };
    let csrf = who.csrf().to_owned();
    let currency = products
        .iter()
        .find_map(|p| p.body.get("currency")?.as_str().filter(|c| !c.is_empty()))
        .unwrap_or("")
        .to_owned();
    let exponent = outpost_domain::Currency::parse(&currency).map_or(2, |c| c.exponent());
    let action = format!("/api/v1/stores/{id}/products");
    let edits = who.account.may(Right::Write);
    let resends = who.account.may(Right::Resend);
    let text = |p: &cloud::master::KnownProduct, k: &str| {
        p.body
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let flag = |p: &cloud::master::KnownProduct, k: &str, default: bool| {
        p.body.get(k).and_then(|v| v.as_bool()).unwrap_or(default)
    };
    let st = &store.store;
    let body = html! {
        p { a href="/" { "All stores" } }
        h1 { (st.code) " · " (st.name) }
        p {
            "Prices in " @if currency.is_empty() { "the store's currency" } @else { (currency) } ". "
            "A change reaches the store on its next pull (within seconds when it is online); "
            "sales it made before it keep the price they were sold at."
        }
        h2 #master { "Master data" }
        p {
            @if st.master_waiting == 0 {
                "The store has every change of its master data."
            } @else {
                (st.master_waiting) " changes of its master data wait for the store's next pull."
            }
        }
        @if resends && i64::from(st.master_feed_version) < cloud::master::RESENT_FEED_VERSION {
            p { "The store's edge is older than re-sends of master data: upgrade it first." }
        } @else if resends {
            form method="post" action={ "/api/v1/stores/" (st.id) "/master/resend" } {
                input type="hidden" name="csrf" value=(csrf);
                button { "Re-send master data" }
                " Sends the store every product, tax category, company, staff member, setting and coming "
                "price list as they stand here. Edits made at the store since are kept."
            }
        }
        h2 { "Products" }
        table {
            tr { th { "SKU" } th { "Tax" } th { "Last edit" } th { "Name, price, till category, sold, favourite" } }
            @for p in &products {
                @let price = amount(p.body.get("price_minor").and_then(|v| v.as_i64()).unwrap_or(0), &currency);
                @let (name, category) = (text(p, "name"), text(p, "category"));
                @let (active, favourite) = (flag(p, "active", true), flag(p, "favourite", false));
                tr {
                    td { (p.sku) } td { (text(p, "tax_category")) } td { (p.origin) }
                    td {
                        @if edits {
                            form data-product method="post" action=(action) {
                                input type="hidden" name="sku" value=(p.sku);
                                input name="title" aria-label="Name" value=(name) data-was=(name) maxlength="200" required;
                                " "
                                input name="price" aria-label="Price" value=(price) data-was=(price) inputmode="decimal" size="8" required;
                                " "
                                input name="category" aria-label="Till category" placeholder="Category" value=(category) data-was=(category) maxlength="40" size="12";
                                " "
                                label { input type="checkbox" name="active" checked[active] data-was=(active); " sold" }
                                " "
                                label { input type="checkbox" name="favourite" checked[favourite] data-was=(favourite); " favourite" }
                                " " button { "Save" } " " output {}
                            }
                        } @else {
                            (name) ", " (price) @if !category.is_empty() { ", " (category) }
                            @if !active { ", not sold" } @if favourite { ", favourite" }
                        }
                    }
                }
            }
        }
        @if edits {
            h2 { "New product" }
            form data-product data-new method="post" action=(action) {
                input name="sku" aria-label="SKU" placeholder="SKU" maxlength="64" required; " "
                input name="title" aria-label="Name" placeholder="Name" maxlength="200" required; " "
                input name="price" aria-label="Price" placeholder="Price" inputmode="decimal" size="8" required; " "
                input name="tax_category" aria-label="Tax category" placeholder="Tax category code" maxlength="32" required; " "
                input name="category" aria-label="Till category" placeholder="Till category" maxlength="40" size="12"; " "
                label { input type="checkbox" name="favourite"; " favourite" } " "
                button { "Add" } " " output {}
            }
        }
    };
    let mut res = layout(
        &format!("{} · Outpost cloud", st.name),
        Some((&who, &csrf)),
        html! { div #store data-exponent=(exponent) { (body) } },
    );
    res.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Cookie"));
    res
}
