//! What gets printed: receipts, kitchen tickets and drawer kicks, laid out
//! for a printer's width and encoded as ESC/POS.
//!
//! Amounts arrive formatted by the api (it knows the currency's decimals);
//! this module only lays them out. The escpos crate writes the commands; the
//! text is encoded here with the printer's own code page (oem_cp), choosing
//! the first of the printer's code pages that holds every character, so a
//! receipt in Czech, Greek or Russian prints its letters, not question marks.

use crate::raster;
use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{BarcodeOption, JustifyMode, PageCode, Protocol, QRCodeOption};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub store: String,
    /// Address, tax number, … under the store's name.
    #[serde(default)]
    pub header: Vec<String>,
    pub order_number: String,
    pub order_id: String,
    /// As it should read, in the store's time.
    pub time: String,
    #[serde(default)]
    pub cashier: Option<String>,
    /// A refund prints as one, with its amounts as given.
    #[serde(default)]
    pub refund: bool,
    pub lines: Vec<ReceiptLine>,
    #[serde(default)]
    pub discount: Option<String>,
    #[serde(default)]
    pub taxes: Vec<Labelled>,
    pub total: String,
    #[serde(default)]
    pub payments: Vec<Labelled>,
    #[serde(default)]
    pub change: Option<String>,
    #[serde(default)]
    pub footer: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    pub name: String,
    /// "2", "0.750 kg", … as it should read.
    pub quantity: String,
    pub amount: String,
    /// Unit price, discount, "price override", …
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Labelled {
    pub label: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KitchenTicket {
    pub order_number: String,
    pub time: String,
    #[serde(default)]
    pub station: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    pub lines: Vec<TicketLine>,
    /// The order was voided: the kitchen stops making these lines.
    #[serde(default)]
    pub cancelled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TicketLine {
    pub quantity: String,
    pub name: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// A printer's paper and character sets.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Characters per line in the normal font (48 on 80 mm paper, 32 on 58 mm).
    pub width: usize,
    /// Code pages the printer has, in order of preference.
    pub code_pages: Vec<CodePage>,
    /// Printed at the top of each receipt ([`raster::logo`]).
    pub logo: Option<std::sync::Arc<raster::Bitmap>>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            width: 48,
            code_pages: vec![
                CodePage::Cp437,
                CodePage::Cp858,
                CodePage::Cp852,
                CodePage::Cp866,
                CodePage::Cp737,
            ],
            logo: None,
        }
    }
}

/// The code pages hw-proxy can encode, with their ESC t numbers on Epson
/// TM printers (escpos knows the numbers, oem_cp the characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CodePage {
    Cp437,
    Cp737,
    Cp850,
    Cp852,
    Cp858,
    Cp866,
}

impl CodePage {
    fn escpos(self) -> PageCode {
        match self {
            CodePage::Cp437 => PageCode::PC437,
            CodePage::Cp737 => PageCode::PC737,
            CodePage::Cp850 => PageCode::PC850,
            CodePage::Cp852 => PageCode::PC852,
            CodePage::Cp858 => PageCode::PC858,
            CodePage::Cp866 => PageCode::PC866,
        }
    }
    /// The ESC t number, as the printer reads it.
    pub fn number(self) -> u8 {
        self.escpos().into()
    }
    pub fn from_number(n: u8) -> Option<CodePage> {
        [
            CodePage::Cp437,
            CodePage::Cp737,
            CodePage::Cp850,
            CodePage::Cp852,
            CodePage::Cp858,
            CodePage::Cp866,
        ]
        .into_iter()
        .find(|c| c.number() == n)
    }
    fn encoding(self) -> &'static oem_cp::OEMCPHashMap<char, u8> {
        use oem_cp::code_table::*;
        match self {
            CodePage::Cp437 => &ENCODING_TABLE_CP437,
            CodePage::Cp737 => &ENCODING_TABLE_CP737,
            CodePage::Cp850 => &ENCODING_TABLE_CP850,
            CodePage::Cp852 => &ENCODING_TABLE_CP852,
            CodePage::Cp858 => &ENCODING_TABLE_CP858,
            CodePage::Cp866 => &ENCODING_TABLE_CP866,
        }
    }
    /// The character a byte stands for in this code page.
    pub fn decode(self, b: u8) -> char {
        use oem_cp::code_table::*;
        if b < 0x80 {
            return b as char;
        }
        let table: &[char; 128] = match self {
            CodePage::Cp437 => &DECODING_TABLE_CP437,
            CodePage::Cp737 => &DECODING_TABLE_CP737,
            CodePage::Cp850 => &DECODING_TABLE_CP850,
            CodePage::Cp852 => &DECODING_TABLE_CP852,
            CodePage::Cp858 => &DECODING_TABLE_CP858,
            CodePage::Cp866 => &DECODING_TABLE_CP866,
        };
        table[(b - 0x80) as usize]
    }
    fn encodes(self, c: char) -> bool {
        (c.is_ascii() && !c.is_ascii_control())
            || oem_cp::encode_char_checked(c, self.encoding()).is_some()
    }
}

/// A job the printer cannot take as given.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{0}")]
    Invalid(String),
    #[error("ESC/POS encoding failed: {0}")]
    Encode(String),
}

impl From<escpos::errors::PrinterError> for DocumentError {
    fn from(e: escpos::errors::PrinterError) -> Self {
        DocumentError::Encode(e.to_string())
    }
}

/// Bytes for the printer, and what they say.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub code_page: CodePage,
    /// Characters that neither the printer's code pages nor the raster font
    /// hold (a line with characters the code pages lack prints as dots),
    /// left blank.
    pub replaced: Vec<char>,
}

/// One printed element, before encoding.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Text {
        text: String,
        bold: bool,
        big: bool,
        center: bool,
    },
    Qr(String),
    Code39(String),
    /// A picture, centred.
    Image(std::sync::Arc<raster::Bitmap>),
    Feed(u8),
    Drawer,
    Cut,
}

fn text(s: impl Into<String>) -> Op {
    Op::Text {
        text: s.into(),
        bold: false,
        big: false,
        center: false,
    }
}

fn rule(width: usize) -> Op {
    text("-".repeat(width))
}

/// `left` wrapped to the width with `right` flush right on its last line.
/// Columns `s` takes on paper: wide characters (CJK), printed as dots, take
/// two.
fn cells(s: &str) -> usize {
    s.chars().map(|c| raster::cells(c).unwrap_or(1)).sum()
}

fn columns(left: &str, right: &str, width: usize, bold: bool) -> Vec<Op> {
    let right_len = cells(right);
    let room = width.saturating_sub(right_len + 1).max(8);
    let mut lines = wrap(left, room);
    let last = lines.pop().unwrap_or_default();
    let mut out: Vec<Op> = lines.into_iter().map(text).collect();
    let pad = width.saturating_sub(cells(&last) + right_len).max(1);
    let mut line = format!("{last}{}{right}", " ".repeat(pad));
    if cells(&line) > width {
        // A right column wider than the paper: put it on its own line.
        out.push(text(last));
        line = format!("{right:>width$}");
    }
    out.push(Op::Text {
        text: line,
        bold,
        big: false,
        center: false,
    });
    out
}

/// Splits on spaces into lines of at most `width` characters; a word longer
/// than a line is cut.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let need = cells(&cur) + usize::from(!cur.is_empty()) + cells(&word);
        if need > width && !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

fn non_empty(what: &str, s: &str) -> Result<(), DocumentError> {
    if s.trim().is_empty() {
        return Err(DocumentError::Invalid(format!("{what} is empty")));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(DocumentError::Invalid(format!(
            "{what} holds control characters"
        )));
    }
    Ok(())
}

impl Receipt {
    fn validate(&self) -> Result<(), DocumentError> {
        non_empty("store", &self.store)?;
        non_empty("order_number", &self.order_number)?;
        non_empty("order_id", &self.order_id)?;
        non_empty("total", &self.total)?;
        if self.lines.is_empty() {
            return Err(DocumentError::Invalid("a receipt needs lines".into()));
        }
        if self.lines.len() > 500 {
            return Err(DocumentError::Invalid(
                "more than 500 lines on one receipt".into(),
            ));
        }
        for l in &self.lines {
            non_empty("line name", &l.name)?;
            non_empty("line quantity", &l.quantity)?;
            non_empty("line amount", &l.amount)?;
        }
        for t in self.taxes.iter().chain(&self.payments) {
            non_empty("label", &t.label)?;
            non_empty("amount", &t.amount)?;
        }
        if !self
            .order_number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(DocumentError::Invalid(
                "order_number must be letters, digits and dashes (it prints as a barcode)".into(),
            ));
        }
        Ok(())
    }

    fn ops(&self, profile: &Profile, drawer: bool) -> Vec<Op> {
        let width = profile.width;
        let mut ops = Vec::new();
        if drawer {
            // First: the drawer opens while the receipt prints.
            ops.push(Op::Drawer);
        }
        if let Some(logo) = &profile.logo {
            ops.push(Op::Image(logo.clone()));
        }
        ops.push(Op::Text {
            text: self.store.clone(),
            bold: true,
            big: true,
            center: true,
        });
        for h in &self.header {
            ops.push(Op::Text {
                text: h.clone(),
                bold: false,
                big: false,
                center: true,
            });
        }
        ops.push(Op::Feed(1));
        if self.refund {
            ops.push(Op::Text {
                text: "REFUND".into(),
                bold: true,
                big: true,
                center: true,
            });
        }
        ops.extend(columns(&self.order_number, &self.time, width, true));
        if let Some(c) = &self.cashier {
            ops.push(text(c.clone()));
        }
        ops.push(rule(width));
        for l in &self.lines {
            ops.extend(columns(
                &format!("{} x {}", l.quantity, l.name),
                &l.amount,
                width,
                false,
            ));
            if let Some(d) = &l.detail {
                ops.extend(
                    wrap(d, width - 2)
                        .into_iter()
                        .map(|s| text(format!("  {s}"))),
                );
            }
        }
        ops.push(rule(width));
        if let Some(d) = &self.discount {
            ops.extend(columns("Discount", d, width, false));
        }
        // Double size: half the columns.
        for o in columns("TOTAL", &self.total, width / 2, true) {
            if let Op::Text { text, .. } = o {
                ops.push(Op::Text {
                    text,
                    bold: true,
                    big: true,
                    center: false,
                });
            }
        }
        for t in &self.taxes {
            ops.extend(columns(&t.label, &t.amount, width, false));
        }
        if !self.payments.is_empty() {
            ops.push(rule(width));
            for p in &self.payments {
                ops.extend(columns(&p.label, &p.amount, width, false));
            }
        }
        if let Some(c) = &self.change {
            ops.extend(columns("Change", c, width, true));
        }
        ops.push(Op::Feed(1));
        for f in &self.footer {
            ops.push(Op::Text {
                text: f.clone(),
                bold: false,
                big: false,
                center: true,
            });
        }
        ops.push(Op::Code39(self.order_number.to_ascii_uppercase()));
        ops.push(Op::Qr(self.order_id.clone()));
        ops.push(Op::Feed(3));
        ops.push(Op::Cut);
        ops
    }
}

impl KitchenTicket {
    fn validate(&self) -> Result<(), DocumentError> {
        non_empty("order_number", &self.order_number)?;
        if self.lines.is_empty() {
            return Err(DocumentError::Invalid(
                "a kitchen ticket needs lines".into(),
            ));
        }
        for l in &self.lines {
            non_empty("line name", &l.name)?;
            non_empty("line quantity", &l.quantity)?;
        }
        Ok(())
    }

    fn ops(&self, width: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        if self.cancelled {
            ops.push(Op::Text {
                text: "CANCELLED".into(),
                bold: true,
                big: true,
                center: true,
            });
            ops.push(text("do not make:"));
        }
        if let Some(s) = &self.station {
            ops.push(Op::Text {
                text: s.clone(),
                bold: true,
                big: false,
                center: true,
            });
        }
        ops.push(Op::Text {
            text: self.order_number.clone(),
            bold: true,
            big: true,
            center: true,
        });
        ops.push(Op::Text {
            text: self.time.clone(),
            bold: false,
            big: false,
            center: true,
        });
        ops.push(rule(width));
        for l in &self.lines {
            // Big print: read from a metre away. Half the columns.
            for (i, s) in wrap(&format!("{} x {}", l.quantity, l.name), width / 2)
                .into_iter()
                .enumerate()
            {
                ops.push(Op::Text {
                    text: if i == 0 { s } else { format!("  {s}") },
                    bold: true,
                    big: true,
                    center: false,
                });
            }
            if let Some(n) = &l.note {
                ops.extend(
                    wrap(n, width - 4)
                        .into_iter()
                        .map(|s| text(format!("  ! {s}"))),
                );
            }
        }
        if let Some(n) = &self.note {
            ops.push(rule(width));
            ops.extend(wrap(n, width).into_iter().map(text));
        }
        ops.push(Op::Feed(3));
        ops.push(Op::Cut);
        ops
    }
}

/// Both drawer pins: drawers are wired to one or the other.
fn drawer_bytes() -> [u8; 10] {
    // ESC p m t1 t2: a 50 ms pulse, 500 ms off. (escpos's cash_drawer sends
    // ESC p m without the two timing bytes, which printers then take from
    // whatever follows.)
    [0x1b, b'p', 0, 25, 250, 0x1b, b'p', 1, 25, 250]
}

/// A printed document's bytes without the drawer kick its start carries
/// (a cash sale's receipt opens the drawer first): what a reprint sends, so
/// printing a receipt again never opens the drawer. Bytes without a kick
/// come back as they are.
pub fn without_drawer(bytes: &[u8]) -> Vec<u8> {
    let kick = drawer_bytes();
    // The kick follows the printer's reset and code page, before anything
    // printed: it is looked for there only, where no text or image can be.
    let head = &bytes[..bytes.len().min(kick.len() + 8)];
    match head.windows(kick.len()).position(|w| w == kick) {
        Some(at) => [&bytes[..at], &bytes[at + kick.len()..]].concat(),
        None => bytes.to_vec(),
    }
}

/// The escpos printer writes into this.
#[derive(Default)]
struct Buffer(RefCell<Vec<u8>>);

impl Driver for Buffer {
    fn name(&self) -> String {
        "buffer".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// A line drawn with the raster font, a paper's width per picture (a line
/// of wide characters takes more than one), centred or flush left.
fn raster_lines(
    text: &str,
    big: bool,
    bold: bool,
    center: bool,
    width: usize,
) -> Vec<raster::Bitmap> {
    let scale = if big { 2 } else { 1 };
    let per_line = (width / scale).max(2);
    let mut pieces = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let n = raster::cells(c).unwrap_or(1);
        if used + n > per_line {
            pieces.push(String::new());
            used = 0;
        }
        pieces.last_mut().expect("one piece at least").push(c);
        used += n;
    }
    pieces
        .iter()
        .map(|piece| {
            let (dots, _) = raster::text(piece, scale, bold);
            let mut line = raster::Bitmap::new(width * raster::CELL_W, dots.height);
            let x = if center {
                (line.width.saturating_sub(dots.width)) / 2
            } else {
                0
            };
            line.draw(&dots, x, 0);
            line
        })
        .collect()
}

fn choose_page(texts: &[&str], pages: &[CodePage]) -> (CodePage, Vec<char>) {
    let mut best: Option<(CodePage, Vec<char>)> = None;
    for &page in pages {
        let mut missing: Vec<char> = texts
            .iter()
            .flat_map(|t| t.chars())
            .filter(|&c| !page.encodes(c))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return (page, missing);
        }
        if best.as_ref().is_none_or(|(_, m)| missing.len() < m.len()) {
            best = Some((page, missing));
        }
    }
    best.unwrap_or((CodePage::Cp437, Vec::new()))
}

fn encode(ops: &[Op], profile: &Profile) -> Result<Encoded, DocumentError> {
    let texts: Vec<&str> = ops
        .iter()
        .filter_map(|o| match o {
            Op::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let (page, _) = choose_page(&texts, &profile.code_pages);
    // What neither the code page nor the raster font can show.
    let mut replaced: Vec<char> = texts
        .iter()
        .flat_map(|t| t.chars())
        .filter(|&c| !page.encodes(c) && raster::cells(c).is_none())
        .collect();
    replaced.sort_unstable();
    replaced.dedup();
    let table = page.encoding();
    let mut p = Printer::new(Buffer::default(), Protocol::default(), None);
    p.init()?.page_code(page.escpos())?;
    for op in ops {
        match op {
            Op::Text {
                text,
                bold,
                big,
                center,
            } => {
                if !text.chars().all(|c| page.encodes(c)) {
                    // No code page of this printer holds some of it: the
                    // line prints as dots instead.
                    for piece in raster_lines(text, *big, *bold, *center, profile.width) {
                        p.custom(&piece.escpos())?;
                    }
                    continue;
                }
                if *center {
                    p.justify(JustifyMode::CENTER)?;
                }
                if *bold {
                    p.bold(true)?;
                }
                if *big {
                    p.size(2, 2)?;
                }
                let mut bytes: Vec<u8> = text
                    .chars()
                    .map(|c| {
                        if c.is_ascii() && !c.is_ascii_control() {
                            c as u8
                        } else {
                            oem_cp::encode_char_checked(c, table).unwrap_or(b'?')
                        }
                    })
                    .collect();
                bytes.push(b'\n');
                p.custom(&bytes)?;
                if *big {
                    p.reset_size()?;
                }
                if *bold {
                    p.bold(false)?;
                }
                if *center {
                    p.justify(JustifyMode::LEFT)?;
                }
            }
            Op::Qr(data) => {
                p.justify(JustifyMode::CENTER)?
                    .qrcode_option(data, QRCodeOption::default())?
                    .justify(JustifyMode::LEFT)?;
            }
            Op::Code39(data) => {
                p.justify(JustifyMode::CENTER)?
                    .code39_option(data, BarcodeOption::default())?
                    .justify(JustifyMode::LEFT)?;
            }
            Op::Image(picture) => {
                let mut line = raster::Bitmap::new(
                    (profile.width * raster::CELL_W).max(picture.width),
                    picture.height,
                );
                line.draw(picture, (line.width - picture.width) / 2, 0);
                p.custom(&line.escpos())?;
            }
            Op::Feed(n) => {
                p.feeds(*n)?;
            }
            Op::Drawer => {
                p.custom(&drawer_bytes())?;
            }
            Op::Cut => {
                p.partial_cut()?;
            }
        }
    }
    p.print()?;
    Ok(Encoded {
        bytes: p.driver().0.into_inner(),
        code_page: page,
        replaced,
    })
}

/// A receipt, with a drawer kick first when the sale took cash.
pub fn receipt(r: &Receipt, profile: &Profile, drawer: bool) -> Result<Encoded, DocumentError> {
    r.validate()?;
    encode(&r.ops(profile, drawer), profile)
}

pub fn kitchen_ticket(t: &KitchenTicket, profile: &Profile) -> Result<Encoded, DocumentError> {
    t.validate()?;
    encode(&t.ops(profile.width), profile)
}

/// Opens the drawer without printing (a supervisor's "no sale").
pub fn drawer_kick() -> Encoded {
    Encoded {
        bytes: drawer_bytes().to_vec(),
        code_page: CodePage::Cp437,
        replaced: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
