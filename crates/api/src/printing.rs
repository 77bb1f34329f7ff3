//! Receipts for paid sales: a consumer of the relayed `sales` stream that
//! sends each paid order's receipt to hw-proxy's PrintService.
//!
//! Never from the request handler: a sale is acknowledged without waiting on
//! a printer. The job id is the sale's event id, and the consumer's position
//! is stored after each job hw-proxy accepted, so a crash between the two
//! sends the same job again and hw-proxy keeps it once: no receipt lost, none
//! doubled. While hw-proxy is unreachable the consumer waits and retries from
//! where it was; sales older than `printing.max_age_s` by then get no receipt
//! by themselves (the customer has left; a reprint is a person's call).

use crate::settings::Printing;
use crate::state::AppState;
use actix_web::web;
use outpost_domain::{Currency, Money, local_minute};
use outpost_proto::hw_v1 as pb;
use outpost_proto::hw_v1::print_service_client::PrintServiceClient;
use outpost_storage::outbox::StoredEvent;
use outpost_storage::sales::Order;
use std::collections::BTreeMap;
use std::time::Duration;

const CURSOR: &str = "printing.receipts";

/// The receipt of a paid order: amounts in the order's currency, times in
/// the store's offset.
pub fn receipt(
    order: &Order,
    store: &str,
    cashier: Option<String>,
    utc_offset_minutes: i32,
    footer: &[String],
) -> Result<pb::Receipt, String> {
    let o = &order.order;
    let cur = Currency::parse(&o.currency).map_err(|e| e.to_string())?;
    let money = |minor: i64| {
        Money::new(minor, cur)
            .map(|m| m.amount())
            .map_err(|e| e.to_string())
    };
    let mut lines = Vec::new();
    let mut taxes: BTreeMap<i64, i64> = BTreeMap::new();
    for l in &order.lines {
        let quantity = if l.qty_milli % 1000 == 0 {
            (l.qty_milli / 1000).to_string()
        } else {
            format!("{}.{:03}", l.qty_milli / 1000, l.qty_milli % 1000)
        };
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
            quantity,
            amount: money(l.gross_minor - l.line_discount_minor)?,
            detail: detail.join(", "),
        });
        *taxes.entry(l.tax_ppm).or_default() += l.tax_minor;
    }
    let taxes = taxes
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
        .collect::<Result<Vec<_>, String>>()?;
    let payments = order
        .payments
        .iter()
        .filter(|p| p.kind == "payment")
        .map(|p| {
            let label = match (p.method.as_str(), p.card_type.as_str()) {
                ("card", "") => "Card".to_owned(),
                ("card", t) => format!("Card {t}"),
                ("cash", _) => "Cash".to_owned(),
                ("on_account", _) => "On account".to_owned(),
                (m, _) => m.to_owned(),
            };
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
        .collect::<Result<Vec<_>, String>>()?;
    Ok(pb::Receipt {
        store: store.to_owned(),
        header: Vec::new(),
        order_number: o.number.clone(),
        order_id: o.id.clone(),
        time: local_minute(o.created_at, utc_offset_minutes),
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

/// Whether this event is an order becoming paid (once per order: created
/// paid, or paid later).
fn pays(ev: &StoredEvent) -> bool {
    match ev.event_type.as_str() {
        "order.paid" => true,
        "order.created" => serde_json::from_str::<serde_json::Value>(&ev.payload)
            .is_ok_and(|v| v["status"] == "paid"),
        _ => false,
    }
}

/// Runs until shutdown when `printing.hw_proxy_url` is set.
pub async fn run(state: web::Data<AppState>, shutdown: impl std::future::Future<Output = ()>) {
    let cfg: Printing = state.settings.printing.clone();
    if cfg.hw_proxy_url.is_empty() {
        return;
    }
    tokio::pin!(shutdown);
    let channel = match tonic::transport::Endpoint::from_shared(cfg.hw_proxy_url.clone()) {
        Ok(e) => e
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .connect_lazy(),
        Err(e) => {
            tracing::error!(url = %cfg.hw_proxy_url, error = %e, "printing.hw_proxy_url is not a URL: no receipts will print");
            return;
        }
    };
    let mut client = PrintServiceClient::new(channel);
    let min = Duration::from_millis(250);
    let mut backoff = min;
    loop {
        let failing = match pass(&state, &cfg, &mut client).await {
            Ok(true) => {
                backoff = min;
                continue;
            }
            Ok(false) => {
                backoff = min;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "receipts wait for hw-proxy");
                true
            }
        };
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

/// One batch: `Ok(true)` when it moved on and there may be more.
async fn pass(
    state: &web::Data<AppState>,
    cfg: &Printing,
    client: &mut PrintServiceClient<tonic::transport::Channel>,
) -> Result<bool, String> {
    let events = state
        .db(|c, _| {
            let after = match outpost_storage::cursors::get(c, CURSOR)? {
                Some(p) => p,
                None => {
                    // First run: receipts from now on, not for every past sale.
                    let head = outpost_storage::cursors::head(c, "sales")?;
                    outpost_storage::cursors::set(c, CURSOR, head)?;
                    head
                }
            };
            outpost_storage::outbox::read_stream(c, "sales", after, 50)
        })
        .await
        .map_err(|e| e.to_string())?;
    if events.is_empty() {
        return Ok(false);
    }
    // The cursor is written once per batch, not per event: a job sent again
    // after a crash is the same job id, which hw-proxy keeps once, so only
    // the progress made so far needs saving when a send fails.
    let mut done = None;
    let mut failed = None;
    for ev in &events {
        if pays(ev) {
            let age_s = (outpost_storage::db::now_millis() - ev.occurred_at) / 1000;
            if age_s > cfg.max_age_s {
                tracing::warn!(order = %ev.aggregate_id, age_s, "no receipt printed by itself for a sale this old");
            } else if let Err(e) = send(state, cfg, client, ev).await {
                failed = Some(e);
                break;
            }
        }
        done = ev.position;
    }
    if let Some(position) = done {
        state
            .write(move |c, _| outpost_storage::cursors::set(c, CURSOR, position))
            .await
            .map_err(|e| e.to_string())?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(true),
    }
}

async fn send(
    state: &web::Data<AppState>,
    cfg: &Printing,
    client: &mut PrintServiceClient<tonic::transport::Channel>,
    ev: &StoredEvent,
) -> Result<(), String> {
    let id = ev.aggregate_id.clone();
    let (order, cashier) = state
        .db(move |c, _| {
            let o = outpost_storage::sales::get(c, &id)?;
            let name = outpost_storage::staff::name(c, &o.order.staff_id)?;
            Ok((o, name))
        })
        .await
        .map_err(|e| e.to_string())?;
    let store = state.node.store();
    let r = match receipt(
        &order,
        &store.name,
        cashier,
        store.utc_offset_minutes,
        &cfg.footer,
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(order = %order.order.id, error = %e, "cannot make this receipt");
            return Ok(());
        }
    };
    let cash = order.payments.iter().any(|p| p.method == "cash");
    let req = pb::SubmitRequest {
        id: ev.event_id.clone(),
        printer: cfg.receipt_printer.clone(),
        open_drawer: cfg.open_drawer && cash,
        document: Some(pb::submit_request::Document::Receipt(r)),
    };
    match client.submit(req).await {
        Ok(_) => Ok(()),
        // hw-proxy will never take this one as it is: say so, move on.
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::InvalidArgument | tonic::Code::NotFound | tonic::Code::AlreadyExists
            ) =>
        {
            tracing::error!(order = %order.order.number, code = ?s.code(), error = %s.message(), "hw-proxy refused the receipt");
            Ok(())
        }
        Err(s) => Err(format!("{}: {}", cfg.hw_proxy_url, s.message())),
    }
}
