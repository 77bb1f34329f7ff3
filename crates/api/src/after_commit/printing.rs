//! What the api prints: a consumer of the relayed `sales` stream (a paid
//! order's receipt, a refund's receipt) and of the `kitchen` stream (a new
//! kitchen ticket, and a cancellation when its order is voided), sent to
//! hw-proxy's PrintService.
//!
//! Never from the request handler: a sale is acknowledged without waiting on
//! a printer. The job id is the event's id, and each stream's position is
//! stored after the jobs hw-proxy accepted, so a crash between the two sends
//! the same job again and hw-proxy keeps it once: nothing lost, nothing
//! doubled. While hw-proxy is unreachable the consumer waits and retries from
//! where it was; receipts older than `printing.max_age_s` by then, and kitchen
//! tickets older than `printing.kitchen_max_age_s`, are not printed by
//! themselves (the customer has left, or the kitchen display showed the
//! ticket long ago; a reprint is a person's call).

use super::AfterCommit;
use super::hardware::{self, HwProxyError, Target};
use crate::settings::Printing;
use outpost_domain::{Currency, DomainError, Money, Stream, local_minute};
use outpost_proto::hw_v1 as pb;
use outpost_storage::StorageError;
use outpost_storage::node::StoreSettings;
use outpost_storage::outbox::StoredEvent;
use outpost_storage::printers::Printer;
use outpost_storage::sales::Order;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Why a receipt or ticket was not printed (yet).
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("an amount cannot be written: {0}")]
    Money(#[from] DomainError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("a stored event does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("the event returned no line")]
    NoLine,
    #[error("no earlier event of this order")]
    NoEarlierEvent,
    #[error(transparent)]
    HwProxy(#[from] HwProxyError),
}

/// A stream the printing consumer follows, under its own stored position.
struct Feed {
    stream: &'static str,
    cursor: &'static str,
    /// Whether any printer takes this feed's jobs.
    printed: fn(&Printing, &[Printer]) -> bool,
}

const RECEIPTS: Feed = Feed {
    stream: Stream::Sales.as_str(),
    cursor: "printing.receipts",
    printed: hardware::prints_receipts,
};
/// The drawer opened without a sale (a no-sale, cash paid in or out): a
/// kick on the register's receipt printer, from the audit entry.
const DRAWER: Feed = Feed {
    stream: Stream::Audit.as_str(),
    cursor: "printing.drawer",
    printed: hardware::prints_receipts,
};
const TICKETS: Feed = Feed {
    stream: Stream::Kitchen.as_str(),
    cursor: "printing.kitchen",
    printed: |cfg, all| hardware::kitchen_target(cfg, all).is_some(),
};

/// What one pass over a feed did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// It went through a batch of events; more may wait.
    Moved,
    /// Nothing new.
    Done,
    /// No printer takes this feed: it caught up with the stream without
    /// reading a single event.
    Unprinted,
}

/// The receipt of a paid order: amounts in the order's currency, times in
/// the store's offset.
pub fn receipt(
    order: &Order,
    store: &StoreSettings,
    cashier: Option<String>,
    footer: &[String],
) -> Result<pb::Receipt, PrintError> {
    let o = &order.order;
    let money = amounts(&o.currency, &store.locale)?;
    let mut lines = Vec::new();
    let mut taxes: BTreeMap<i64, i64> = BTreeMap::new();
    for l in &order.lines {
        let mut detail = Vec::new();
        if l.qty_milli != 1000 {
            detail.push(format!("@ {}", money(l.unit_price_minor)?));
        }
        if l.unit_price_minor != l.list_price_minor {
            detail.push(format!(
                "price override (list {})",
                money(l.list_price_minor)?
            ));
        }
        if l.line_discount_minor != 0 {
            detail.push(format!("discount -{}", money(l.line_discount_minor)?));
        }
        lines.push(pb::ReceiptLine {
            name: l.name.clone(),
            quantity: quantity(l.qty_milli),
            amount: money(l.gross_minor - l.line_discount_minor)?,
            detail: detail.join(", "),
        });
        *taxes.entry(l.tax_ppm).or_default() += l.tax_minor;
    }
    let taxes = tax_lines(taxes, &money)?;
    let payments = order
        .payments
        .iter()
        .filter(|p| p.kind == "payment")
        .map(|p| {
            let label = method_label(&p.method, &p.card_type);
            let tendered = if p.tendered_minor > 0 {
                p.tendered_minor
            } else {
                p.amount_minor
            };
            Ok(pb::Labelled {
                label,
                amount: money(tendered)?,
            })
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    let mut payments = payments;
    let rounding: i64 = order
        .payments
        .iter()
        .filter(|p| p.kind == "payment")
        .map(|p| p.rounding_minor)
        .sum();
    if rounding != 0 {
        // Cash paid the total rounded to the cash unit: say by how much.
        payments.push(pb::Labelled {
            label: "Cash rounding".into(),
            amount: money(rounding)?,
        });
    }
    Ok(pb::Receipt {
        store: store.name.clone(),
        header: Vec::new(),
        order_number: o.number.clone(),
        order_id: o.id.clone(),
        time: local_minute(o.created_at, store.utc_offset_minutes),
        cashier: cashier.unwrap_or_default(),
        refund: false,
        lines,
        discount: if o.discount_minor != 0 {
            format!("-{}", money(o.discount_minor)?)
        } else {
            String::new()
        },
        taxes,
        total: money(o.total_minor)?,
        payments,
        change: if order.change_minor > 0 {
            money(order.change_minor)?
        } else {
            String::new()
        },
        footer: footer.to_vec(),
    })
}

/// Writes amounts of `currency` the way the store's `locale` writes numbers
/// (the pages write them the same way).
fn amounts(
    currency: &str,
    locale: &str,
) -> Result<impl Fn(i64) -> Result<String, DomainError>, DomainError> {
    let cur = Currency::parse(currency)?;
    let locale = locale.to_owned();
    Ok(move |minor: i64| Money::new(minor, cur).map(|m| m.printed(&locale)))
}

/// "2", or "0.750" for a weighed quantity.
fn quantity(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{}.{:03}", milli / 1000, milli % 1000)
    }
}

fn method_label(method: &str, card_type: &str) -> String {
    match (method, card_type) {
        ("card", "") => "Card".to_owned(),
        ("card", t) => format!("Card {t}"),
        ("cash", _) => "Cash".to_owned(),
        ("on_account", _) => "On account".to_owned(),
        (m, _) => m.to_owned(),
    }
}

/// "Tax 20%" lines from the tax per rate (ppm), leaving out rates that came
/// to nothing.
fn tax_lines(
    taxes: BTreeMap<i64, i64>,
    money: &impl Fn(i64) -> Result<String, DomainError>,
) -> Result<Vec<pb::Labelled>, DomainError> {
    taxes
        .into_iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|(ppm, amount)| {
            let pct = format!("{}.{:04}", ppm / 10_000, ppm % 10_000);
            let pct = pct.trim_end_matches('0').trim_end_matches('.');
            Ok(pb::Labelled {
                label: format!("Tax {pct}%"),
                amount: money(amount)?,
            })
        })
        .collect()
}

/// Whether this event is an order becoming paid (once per order: created
/// paid, or paid later).
fn pays(ev: &StoredEvent) -> bool {
    /// The one field this needs: the rest of the payload is skipped, not built.
    #[derive(serde::Deserialize)]
    struct Status<'a> {
        #[serde(borrow)]
        status: std::borrow::Cow<'a, str>,
    }
    match ev.event_type.as_str() {
        "order.paid" => true,
        "order.created" => {
            serde_json::from_str::<Status>(&ev.payload).is_ok_and(|v| v.status == "paid")
        }
        _ => false,
    }
}

/// Runs until shutdown: prints on the printers the manager page (or the
/// settings) name; with none, the feeds move on without printing.
pub async fn run(state: Arc<AfterCommit>, shutdown: impl std::future::Future<Output = ()>) {
    let cfg: Printing = state.printing.clone();
    tokio::pin!(shutdown);
    let feeds = [&RECEIPTS, &TICKETS, &DRAWER];
    let min = Duration::from_millis(250);
    let mut backoff = min;
    loop {
        let mut moved = false;
        let mut failing = false;
        let mut printing = false;
        for feed in feeds {
            match pass(&state, &cfg, feed).await {
                Ok(p) => {
                    moved |= p == Pass::Moved;
                    printing |= p != Pass::Unprinted;
                }
                Err(e) => {
                    tracing::warn!(stream = feed.stream, error = %e, "printing waits for hw-proxy");
                    failing = true;
                }
            }
        }
        if moved && !failing {
            backoff = min;
            continue;
        }
        if !failing {
            backoff = min;
        }
        if !printing && !failing {
            // No printer at all: following the streams four times a second
            // is enough, however busy the tills are.
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(min) => {}
            }
        }
        // Idle: the relay wakes us when it positions events (the timeout
        // only bounds a missed wake-up). Failing: back off, whatever comes.
        let pause = if failing {
            backoff
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = state.print_wake.notified(), if !failing => {}
            _ = tokio::time::sleep(pause) => {}
        }
        if failing {
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

/// One batch of a feed.
async fn pass(
    state: &AfterCommit,
    cfg: &Printing,
    feed: &'static Feed,
) -> Result<Pass, PrintError> {
    /// What the feed found in the database.
    enum Read {
        Events(
            Vec<Printer>,
            Vec<StoredEvent>,
            std::collections::HashSet<String>,
        ),
        /// No printer takes the feed: where it stands and the stream's head.
        Unprinted { after: i64, head: i64 },
    }
    let settings = cfg.clone();
    let read = state
        .db(move |c, _| {
            let printers = outpost_storage::printers::list(c)?;
            let after = match outpost_storage::cursors::get(c, feed.cursor)? {
                Some(p) => p,
                None => {
                    // First run: print from now on, not every past event.
                    let head = outpost_storage::cursors::head(c, feed.stream)?;
                    outpost_storage::cursors::set(c, feed.cursor, head)?;
                    head
                }
            };
            if !(feed.printed)(&settings, &printers) {
                let head = outpost_storage::cursors::head(c, feed.stream)?;
                return Ok(Read::Unprinted { after, head });
            }
            let events = outpost_storage::outbox::read_stream(c, feed.stream, after, 50)?;
            // Tills with a register agent print their own receipts.
            let agents = outpost_storage::staff::devices(c)?
                .into_iter()
                .filter(|d| d.kind == "agent")
                .map(|d| d.id)
                .collect();
            Ok(Read::Events(printers, events, agents))
        })
        .await?;
    let (printers, events, agents) = match read {
        Read::Events(_, events, _) if events.is_empty() => return Ok(Pass::Done),
        Read::Events(printers, events, agents) => (printers, events, agents),
        Read::Unprinted { after, head } => {
            // Nothing would print these events: pass over them as they are,
            // so a printer added later starts from then, not from the past.
            if head > after {
                state
                    .write(move |c, _| outpost_storage::cursors::set(c, feed.cursor, head))
                    .await?;
            }
            return Ok(Pass::Unprinted);
        }
    };
    // The cursor is written once per batch, not per event: a job sent again
    // after a crash is the same job id, which hw-proxy keeps once, so only
    // the progress made so far needs saving when a send fails.
    let mut done = None;
    let mut failed = None;
    let mut names = Names::new();
    for ev in &events {
        let job = match job(state, cfg, &printers, &agents, ev, &mut names).await {
            Ok(job) => job,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        if let Some((target, req)) = job {
            let max_age_s = if feed.stream == TICKETS.stream {
                cfg.kitchen_max_age_s
            } else if feed.stream == DRAWER.stream {
                cfg.drawer_max_age_s
            } else {
                cfg.max_age_s
            };
            let age_s = (outpost_storage::db::now_millis() - ev.occurred_at) / 1000;
            if age_s > max_age_s {
                tracing::warn!(event = %ev.event_type, aggregate = %ev.aggregate_id, age_s, "not printed by itself: this is too old by now");
            } else if let Err(e) = submit(state, &target, req, ev).await {
                failed = Some(e);
                break;
            }
        }
        done = ev.position;
    }
    if let Some(position) = done {
        state
            .write(move |c, _| outpost_storage::cursors::set(c, feed.cursor, position))
            .await?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(Pass::Moved),
    }
}

/// The print job an event calls for and where it goes, if anywhere. `Err`
/// only when the database could not be read (the event is tried again); an
/// event that cannot make a document is logged and skipped. Where it would
/// go is settled first, so an event no printer takes costs no database read.
async fn job(
    state: &AfterCommit,
    cfg: &Printing,
    printers: &[Printer],
    agents: &std::collections::HashSet<String>,
    ev: &StoredEvent,
    names: &mut Names,
) -> Result<Option<(Target, pb::SubmitRequest)>, PrintError> {
    let (target, document) = match (ev.stream.as_str(), ev.event_type.as_str()) {
        ("kitchen", "ticket.created" | "ticket.cancelled") => {
            let Some(target) = hardware::kitchen_target(cfg, printers) else {
                return Ok(None);
            };
            // A slip a till printed itself (its edge away) prints there,
            // never again at the edge; the others, at the edge only.
            let at_register = serde_json::from_str::<outpost_storage::kitchen::Ticket>(&ev.payload)
                .is_ok_and(|t| t.printed_at_register.is_some());
            if at_register != cfg.kitchen_at_register {
                return Ok(None);
            }
            let cancelled = ev.event_type == "ticket.cancelled";
            (target, kitchen_ticket(state, ev, cancelled))
        }
        ("sales", kind) if kind == "order.refunded" || pays(ev) => {
            // The order as this event left it, from its payload: nothing to
            // read back from the orders tables.
            let after = match serde_json::from_str::<Order>(&ev.payload) {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(order = %ev.aggregate_id, error = %e, "cannot read this order's event");
                    return Ok(None);
                }
            };
            // A sale's receipt prints at its register; a refund's where it
            // was given.
            let device = match (kind, &ev.device_id) {
                ("order.refunded", Some(d)) => d.clone(),
                _ => after.order.device_id.clone(),
            };
            // A till with a register agent printed it (and opened its
            // drawer) itself.
            if agents.contains(&device) {
                return Ok(None);
            }
            let Some(target) = hardware::receipt_target(cfg, printers, &device) else {
                return Ok(None);
            };
            let document = if kind == "order.refunded" {
                refund_receipt(state, cfg, ev, &after, names).await?
            } else {
                sale_receipt(state, cfg, &after, names).await?
            };
            (target, document)
        }
        ("audit", "audit.recorded") => {
            let Ok(entry) = serde_json::from_str::<outpost_storage::audit::AuditEntry>(&ev.payload)
            else {
                return Ok(None);
            };
            if !matches!(
                entry.action.as_str(),
                "drawer.no_sale" | "drawer.cash_movement"
            ) {
                return Ok(None);
            }
            // A till with a register agent opens its own drawer.
            let Some(device) = entry.device_id.filter(|d| !agents.contains(d)) else {
                return Ok(None);
            };
            let Some(target) = hardware::receipt_target(cfg, printers, &device) else {
                return Ok(None);
            };
            (
                target,
                Some((
                    pb::submit_request::Document::Drawer(pb::DrawerKick::default()),
                    false,
                )),
            )
        }
        _ => return Ok(None),
    };
    Ok(document.map(|(document, open_drawer)| {
        let req = pb::SubmitRequest {
            id: ev.event_id.clone(),
            printer: target.printer.clone(),
            open_drawer: cfg.open_drawer && open_drawer,
            document: Some(document),
        };
        (target, req)
    }))
}

/// A document and whether it opens the drawer.
type Document = Option<(pb::submit_request::Document, bool)>;

/// Staff names already looked up in this batch, by id.
type Names = BTreeMap<String, Option<String>>;

async fn name(
    state: &AfterCommit,
    names: &mut Names,
    staff_id: &str,
) -> Result<Option<String>, PrintError> {
    if let Some(n) = names.get(staff_id) {
        return Ok(n.clone());
    }
    let id = staff_id.to_owned();
    let n = state
        .db(move |c, _| outpost_storage::staff::name(c, &id))
        .await?;
    names.insert(staff_id.to_owned(), n.clone());
    Ok(n)
}

/// A paid order's receipt, with a drawer kick when it took cash.
async fn sale_receipt(
    state: &AfterCommit,
    cfg: &Printing,
    order: &Order,
    names: &mut Names,
) -> Result<Document, PrintError> {
    let cashier = name(state, names, &order.order.staff_id).await?;
    let store = state.node.store();
    match receipt(order, &store, cashier, &cfg.footer) {
        Ok(r) => {
            let cash = order.payments.iter().any(|p| p.method == "cash");
            Ok(Some((pb::submit_request::Document::Receipt(r), cash)))
        }
        Err(e) => {
            tracing::error!(order = %order.order.id, error = %e, "cannot make this receipt");
            Ok(None)
        }
    }
}

/// A refund's receipt: what this refund took back (`after`, the order as
/// the event left it, against the order's event before it) and how it was
/// paid out, with a drawer kick when cash went back to the customer.
async fn refund_receipt(
    state: &AfterCommit,
    cfg: &Printing,
    ev: &StoredEvent,
    after: &Order,
    names: &mut Names,
) -> Result<Document, PrintError> {
    let (id, position) = (ev.aggregate_id.clone(), ev.position.unwrap_or(0));
    let before = state
        .db(move |c, _| {
            outpost_storage::outbox::previous_payload(c, Stream::Sales.as_str(), &id, position)
        })
        .await?;
    // The person who gave the refund, not the one who made the sale.
    let cashier = name(state, names, &ev.actor).await?;
    let store = state.node.store();
    let made = before
        .ok_or(PrintError::NoEarlierEvent)
        .and_then(|b| serde_json::from_str::<Order>(&b).map_err(PrintError::from))
        .and_then(|before| refund(&before, after, &store, cashier, &cfg.footer));
    match made {
        Ok((r, cash)) => Ok(Some((pb::submit_request::Document::Receipt(r), cash))),
        Err(e) => {
            tracing::error!(order = %ev.aggregate_id, error = %e, "cannot make this refund's receipt");
            Ok(None)
        }
    }
}

/// The receipt of one refund of `after` (`before`: the order just before
/// it), and whether cash was paid out.
pub fn refund(
    before: &Order,
    after: &Order,
    store: &StoreSettings,
    cashier: Option<String>,
    footer: &[String],
) -> Result<(pb::Receipt, bool), PrintError> {
    let o = &after.order;
    let money = amounts(&o.currency, &store.locale)?;
    let (lines, paid_out) = outpost_storage::sales::returned(before, after);
    if lines.is_empty() {
        return Err(PrintError::NoLine);
    }
    let mut taxes: BTreeMap<i64, i64> = BTreeMap::new();
    let mut total = 0;
    let mut out = Vec::new();
    for l in &lines {
        out.push(pb::ReceiptLine {
            name: l.name.clone(),
            quantity: quantity(l.qty_milli),
            amount: format!("-{}", money(l.amount_minor)?),
            detail: String::new(),
        });
        *taxes.entry(l.tax_ppm).or_default() += l.tax_minor;
        total += l.amount_minor;
    }
    let mut payments = Vec::new();
    for p in &paid_out {
        payments.push(pb::Labelled {
            label: format!("{} refunded", method_label(&p.method, &p.card_type)),
            amount: money(p.amount_minor)?,
        });
    }
    let cash = paid_out.iter().any(|p| p.method == "cash");
    let time = paid_out
        .iter()
        .map(|p| p.created_at)
        .max()
        .unwrap_or(o.created_at);
    Ok((
        pb::Receipt {
            store: store.name.clone(),
            header: Vec::new(),
            order_number: o.number.clone(),
            order_id: o.id.clone(),
            time: local_minute(time, store.utc_offset_minutes),
            cashier: cashier.unwrap_or_default(),
            refund: true,
            lines: out,
            discount: String::new(),
            taxes: tax_lines(taxes, &|m| money(m).map(|a| format!("-{a}")))?,
            total: format!("-{}", money(total)?),
            payments,
            change: String::new(),
            footer: footer.to_vec(),
        },
        cash,
    ))
}

/// A kitchen ticket from its `kitchen` event (the ticket as it was then).
fn kitchen_ticket(state: &AfterCommit, ev: &StoredEvent, cancelled: bool) -> Document {
    let made = ticket(
        &ev.payload,
        state.node.store().utc_offset_minutes,
        cancelled,
    );
    match made {
        Ok(t) => Some((pb::submit_request::Document::Ticket(t), false)),
        Err(e) => {
            tracing::error!(ticket = %ev.aggregate_id, error = %e, "cannot make this kitchen ticket");
            None
        }
    }
}

/// A kitchen ticket from a `kitchen` event's payload.
pub fn ticket(
    payload: &str,
    utc_offset_minutes: i32,
    cancelled: bool,
) -> Result<pb::KitchenTicket, PrintError> {
    let t: outpost_storage::kitchen::Ticket = serde_json::from_str(payload)?;
    let lines: Vec<outpost_storage::kitchen::TicketLine> = serde_json::from_str(&t.lines_json)?;
    Ok(pb::KitchenTicket {
        order_number: t.order_number,
        time: local_minute(t.created_at, utc_offset_minutes),
        station: String::new(),
        note: t.note,
        lines: lines
            .into_iter()
            .map(|l| pb::TicketLine {
                quantity: quantity(l.qty_milli),
                name: l.name,
                note: String::new(),
            })
            .collect(),
        cancelled,
    })
}

async fn submit(
    state: &AfterCommit,
    target: &Target,
    req: pb::SubmitRequest,
    ev: &StoredEvent,
) -> Result<(), PrintError> {
    let url = &target.url;
    let mut client = state.hardware.client(url)?;
    match client.submit(req).await {
        Ok(_) => Ok(()),
        // hw-proxy will never take this one as it is: say so, move on.
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::InvalidArgument | tonic::Code::AlreadyExists
            ) =>
        {
            tracing::error!(event = %ev.event_type, aggregate = %ev.aggregate_id, code = ?s.code(), error = %s.message(), "hw-proxy refused the job");
            Ok(())
        }
        // Not there yet (a printer just added on the manager page reaches
        // its hw-proxy within moments), or misnamed in the settings: wait;
        // the age limits decide when the job is no longer worth printing.
        Err(s) if s.code() == tonic::Code::NotFound => Err(HwProxyError::NoPrinter {
            url: url.clone(),
            printer: target.printer.clone(),
            message: s.message().to_owned(),
        }
        .into()),
        Err(s) => {
            state.hardware.forget(url);
            Err(HwProxyError::Call {
                url: url.clone(),
                message: s.message().to_owned(),
            }
            .into())
        }
    }
}
