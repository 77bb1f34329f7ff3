//! Documents and printer definitions as the PrintService (`outpost.hw.v1`)
//! carries them, both ways.

use crate::document::{CodePage, KitchenTicket, Labelled, Receipt, ReceiptLine, TicketLine};
use crate::printer::{PrinterConfig, PrinterError};
use outpost_proto::hw_v1 as pb;

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn labelled(v: Vec<pb::Labelled>) -> Vec<Labelled> {
    v.into_iter()
        .map(|l| Labelled {
            label: l.label,
            amount: l.amount,
        })
        .collect()
}

impl From<pb::Receipt> for Receipt {
    fn from(r: pb::Receipt) -> Receipt {
        Receipt {
            store: r.store,
            header: r.header,
            order_number: r.order_number,
            order_id: r.order_id,
            time: r.time,
            cashier: opt(r.cashier),
            refund: r.refund,
            lines: r
                .lines
                .into_iter()
                .map(|l| ReceiptLine {
                    name: l.name,
                    quantity: l.quantity,
                    amount: l.amount,
                    detail: opt(l.detail),
                })
                .collect(),
            discount: opt(r.discount),
            taxes: labelled(r.taxes),
            total: r.total,
            payments: labelled(r.payments),
            change: opt(r.change),
            footer: r.footer,
        }
    }
}

impl From<pb::KitchenTicket> for KitchenTicket {
    fn from(t: pb::KitchenTicket) -> KitchenTicket {
        KitchenTicket {
            order_number: t.order_number,
            time: t.time,
            station: opt(t.station),
            note: opt(t.note),
            lines: t
                .lines
                .into_iter()
                .map(|l| TicketLine {
                    quantity: l.quantity,
                    name: l.name,
                    note: opt(l.note),
                })
                .collect(),
            cancelled: t.cancelled,
        }
    }
}

/// A printer's definition as the edge sends it.
pub fn definition(config: &PrinterConfig, logo_png: &[u8]) -> pb::PrinterDefinition {
    pb::PrinterDefinition {
        id: config.id.clone(),
        address: config.address.clone(),
        width: config.width as u32,
        code_pages: config
            .code_pages
            .iter()
            .map(|c| format!("{c:?}").to_uppercase())
            .collect(),
        fallback: config.fallback.clone().unwrap_or_default(),
        logo_png: logo_png.to_vec(),
    }
}

/// A printer's settings and logo PNG from the edge's definition (checked
/// by [`PrinterConfig::check`] or [`PrinterConfig::profile`] after).
pub fn config(d: pb::PrinterDefinition) -> Result<(PrinterConfig, Vec<u8>), PrinterError> {
    let code_pages =
        d.code_pages
            .iter()
            .map(|c| {
                serde_json::from_value::<CodePage>(serde_json::Value::String(c.to_uppercase()))
                    .map_err(|_| PrinterError::CodePage {
                        id: d.id.clone(),
                        name: c.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
    Ok((
        PrinterConfig {
            id: d.id,
            address: d.address,
            width: d.width as usize,
            code_pages,
            fallback: opt(d.fallback),
        },
        d.logo_png,
    ))
}
