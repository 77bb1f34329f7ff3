//! Reads ESC/POS bytes back into what a printer would put on paper: text
//! lines, codes, cuts and drawer pulses (`render`), and a picture of the
//! paper (`picture`, `png`). The virtual printer shows its jobs with it,
//! hw-proxy previews jobs with it, and the tests check receipts against it.
//!
//! It reads the commands hw-proxy writes and skips other known commands by
//! their length; an unknown command is kept as a marker rather than guessed.
//!
//! The bytes may be anyone's (a job sent to the virtual printer, a stored
//! job previewed), so what they make is bounded by [`MAX_PICTURE_BYTES`]
//! wide and [`MAX_PICTURE_ROWS`] tall per picture, [`MAX_LINES`] lines and
//! [`MAX_PAPER_DOTS`] of paper, whatever they claim: nine bytes once asked
//! for a 34 GB picture.

use crate::document::CodePage;
use crate::raster::{self, Bitmap};

/// The widest raster picture read (bytes per row: 2048 dots, beyond any
/// receipt printer's head).
pub const MAX_PICTURE_BYTES: usize = 256;
/// The tallest raster picture read (rows of dots: about 1 m of paper).
pub const MAX_PICTURE_ROWS: usize = 8192;
/// The most lines a job's text holds (what follows is left out).
pub const MAX_LINES: usize = 100_000;
/// The longest paper a job's picture draws, in dots (about 4 m: a picture
/// 2048 dots wide is then at most 64 MB).
pub const MAX_PAPER_DOTS: usize = 32_000;

const ESC: u8 = 0x1b;
const GS: u8 = 0x1d;
const DLE: u8 = 0x10;

/// What one job put on paper.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Page {
    pub lines: Vec<String>,
    pub qr: Vec<String>,
    pub barcodes: Vec<String>,
    pub cuts: usize,
    pub drawer_kicks: usize,
    /// Status requests (DLE EOT) seen in the stream.
    pub status_requests: usize,
    /// Commands this reader does not know, by their first bytes.
    pub unknown: Vec<String>,
}

impl Page {
    /// The printed lines, one per line, codes and cuts shown as markers.
    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = self.b.get(self.i).copied();
        self.i += 1;
        v
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let start = self.i.min(self.b.len());
        let end = (self.i + n).min(self.b.len());
        self.i += n;
        &self.b[start..end]
    }
}

/// One thing the stream asks of the printer, in order.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Char(char),
    /// LF: print the line, move to the next.
    Newline,
    /// ESC d n: print the line (if any) and feed n lines.
    Feed(u8),
    /// ESC a n: 0 left, 1 centre, 2 right.
    Justify(u8),
    Bold(bool),
    /// Character size multipliers (ESC ! or GS !).
    Size(u8, u8),
    Cut,
    Drawer,
    Barcode(String),
    Qr(String),
    /// GS v 0: a raster picture.
    Image(Bitmap),
    StatusRequest,
    Unknown(String),
}

fn items(bytes: &[u8]) -> Vec<Item> {
    let mut out = Vec::new();
    let mut r = Reader { b: bytes, i: 0 };
    let mut cp = CodePage::Cp437;
    while let Some(b) = r.byte() {
        match b {
            b'\n' => out.push(Item::Newline),
            ESC => match r.byte() {
                Some(b'@') => {
                    cp = CodePage::Cp437;
                    out.extend([Item::Justify(0), Item::Bold(false), Item::Size(1, 1)]);
                }
                Some(b't') => {
                    if let Some(n) = r.byte() {
                        cp = CodePage::from_number(n).unwrap_or(CodePage::Cp437);
                    }
                }
                Some(b'd') => out.push(Item::Feed(r.byte().unwrap_or(0))),
                Some(b'p') => {
                    r.take(3);
                    out.push(Item::Drawer);
                }
                Some(b'a') => out.push(Item::Justify(r.byte().unwrap_or(0) % 48)),
                Some(b'E') => out.push(Item::Bold(r.byte().unwrap_or(0) & 1 == 1)),
                Some(b'!') => {
                    // Print mode: bit 3 bold, 4 double height, 5 double width.
                    let m = r.byte().unwrap_or(0);
                    out.push(Item::Bold(m & 0x08 != 0));
                    out.push(Item::Size(1 + (m >> 5 & 1), 1 + (m >> 4 & 1)));
                }
                // One parameter byte each: underline, double strike, font,
                // charset, line spacing, upside down, feed dots, smoothing.
                Some(b'-' | b'G' | b'M' | b'R' | b'3' | b'{' | b'J' | b'V') => {
                    r.take(1);
                }
                Some(b'2') => {}
                Some(other) => out.push(Item::Unknown(format!("ESC {other:#04x}"))),
                None => {}
            },
            GS => match r.byte() {
                Some(b'V') => {
                    let m = r.byte().unwrap_or(0);
                    if m == 65 || m == 66 {
                        r.take(1);
                    }
                    out.push(Item::Cut);
                }
                Some(b'!') => {
                    let n = r.byte().unwrap_or(0);
                    out.push(Item::Size(1 + (n >> 4 & 7), 1 + (n & 7)));
                }
                Some(b'B' | b'b' | b'h' | b'w' | b'H' | b'f') => {
                    r.take(1);
                }
                Some(b'k') => {
                    let m = r.byte().unwrap_or(0);
                    let data: Vec<u8> = if m <= 6 {
                        let start = r.i;
                        while r.byte().is_some_and(|b| b != 0) {}
                        r.b[start.min(r.b.len())..(r.i - 1).min(r.b.len())].to_vec()
                    } else {
                        let n = r.byte().unwrap_or(0) as usize;
                        r.take(n).to_vec()
                    };
                    out.push(Item::Barcode(String::from_utf8_lossy(&data).into_owned()));
                }
                Some(b'(') => {
                    // GS ( k pL pH cn fn [m] data: 2D codes.
                    let kind = r.byte().unwrap_or(0);
                    let len = r.byte().unwrap_or(0) as usize + 256 * r.byte().unwrap_or(0) as usize;
                    let body = r.take(len).to_vec();
                    if kind == b'k' && body.len() >= 3 && body[0] == 49 && body[1] == 80 {
                        out.push(Item::Qr(String::from_utf8_lossy(&body[3..]).into_owned()));
                    }
                }
                Some(b'v') => {
                    // GS v 0 m xL xH yL yH: a raster picture, x bytes wide.
                    let head = r.take(6).to_vec();
                    if head.len() == 6 {
                        let x = head[2] as usize + 256 * head[3] as usize;
                        let y = head[4] as usize + 256 * head[5] as usize;
                        let data = r.take(x * y);
                        if x > MAX_PICTURE_BYTES || y > MAX_PICTURE_ROWS {
                            out.push(Item::Unknown(format!("GS v 0 picture too large ({x}x{y})")));
                        } else if data.len() < x * y {
                            out.push(Item::Unknown(format!("GS v 0 picture cut short ({x}x{y})")));
                        } else {
                            out.push(Item::Image(Bitmap::from_packed(x, y, data)));
                        }
                    }
                }
                Some(other) => out.push(Item::Unknown(format!("GS {other:#04x}"))),
                None => {}
            },
            DLE => {
                // DLE EOT n: a status request, answered, never printed.
                r.take(2);
                out.push(Item::StatusRequest);
            }
            0x00..=0x1f => {}
            _ => out.push(Item::Char(cp.decode(b))),
        }
    }
    out
}

pub fn render(bytes: &[u8]) -> Page {
    let mut page = Page::default();
    let mut line = String::new();
    let mut line_open = false;
    let end_line = |page: &mut Page, line: &mut String, open: &mut bool| {
        page.lines.push(std::mem::take(line));
        *open = false;
    };
    for item in items(bytes) {
        if page.lines.len() >= MAX_LINES {
            page.unknown.push(format!("more than {MAX_LINES} lines"));
            return page;
        }
        match item {
            Item::Char(c) => {
                line.push(c);
                line_open = true;
            }
            Item::Newline => end_line(&mut page, &mut line, &mut line_open),
            Item::Feed(n) => {
                if line_open {
                    end_line(&mut page, &mut line, &mut line_open);
                    for _ in 1..n {
                        page.lines.push(String::new());
                    }
                } else {
                    for _ in 0..n {
                        page.lines.push(String::new());
                    }
                }
            }
            Item::Cut => {
                if line_open {
                    end_line(&mut page, &mut line, &mut line_open);
                }
                page.lines.push("[cut]".into());
                page.cuts += 1;
            }
            Item::Drawer => page.drawer_kicks += 1,
            Item::Barcode(data) => {
                page.lines.push(format!("[barcode {data}]"));
                page.barcodes.push(data);
            }
            Item::Qr(data) => {
                page.lines.push(format!("[qr {data}]"));
                page.qr.push(data);
            }
            Item::Image(b) => page.lines.push(format!("[image {}x{}]", b.width, b.height)),
            Item::StatusRequest => page.status_requests += 1,
            Item::Unknown(what) => page.unknown.push(what),
            Item::Justify(_) | Item::Bold(_) | Item::Size(..) => {}
        }
    }
    if line_open {
        page.lines.push(line);
    }
    page
}

/// Dots between the tops of two text lines (the printers' default 1/6 inch
/// at 203 dpi, rounded).
const LINE_DOTS: usize = 34;
/// Dots per QR module and per narrow barcode bar, and a barcode's height:
/// the printers' defaults for what hw-proxy sends.
const QR_MODULE: usize = 3;
const BAR: usize = 2;
const BAR_HEIGHT: usize = 80;

/// What the bytes put on paper `width` dots wide (576 on 80 mm paper), as a
/// picture: text in the printer's cell size with the raster font, bold and
/// double size, justification, the codes drawn from their data, raster
/// pictures as sent, a dashed line where the paper is cut.
pub fn picture(bytes: &[u8], width: usize) -> Bitmap {
    let mut paper = Bitmap::new(width, 0);
    let (mut justify, mut bold, mut size) = (0u8, false, (1usize, 1usize));
    let mut line: Vec<(char, bool, (usize, usize))> = Vec::new();
    let place = |paper: &mut Bitmap, b: &Bitmap, justify: u8| {
        let x = match justify {
            1 => paper.width.saturating_sub(b.width) / 2,
            2 => paper.width.saturating_sub(b.width),
            _ => 0,
        };
        let y = paper.height;
        paper.draw(b, x, y);
    };
    let print_line =
        |paper: &mut Bitmap, line: &mut Vec<(char, bool, (usize, usize))>, justify: u8| {
            let tall = line.iter().map(|(_, _, (_, h))| *h).max().unwrap_or(1);
            let mut row = Bitmap::new(0, 0);
            let mut parts = Vec::new();
            let mut x = 0;
            for (c, bold, (w, h)) in line.drain(..) {
                let (glyph, _) = raster::text(&c.to_string(), 1, bold);
                // Scaled by its own width and height multipliers.
                let mut g = Bitmap::new(glyph.width * w, glyph.height * h);
                for gy in 0..g.height {
                    for gx in 0..g.width {
                        if glyph.get(gx / w, gy / h) {
                            g.set(gx, gy);
                        }
                    }
                }
                // Bottom-aligned with the line's tallest characters.
                let advance = g.width;
                parts.push((x, (tall - h) * raster::CELL_H, g));
                x += advance;
            }
            row.width = x.min(paper.width);
            row.grow(tall * raster::CELL_H);
            for (x, y, g) in parts {
                row.draw(&g, x, y);
            }
            place(paper, &row, justify);
            paper.grow((tall * LINE_DOTS).saturating_sub(tall * raster::CELL_H));
        };
    for item in items(bytes) {
        if paper.height >= MAX_PAPER_DOTS {
            break;
        }
        match item {
            Item::Char(c) => line.push((c, bold, size)),
            Item::Newline => print_line(&mut paper, &mut line, justify),
            Item::Feed(n) => {
                let mut n = n as usize;
                if !line.is_empty() {
                    print_line(&mut paper, &mut line, justify);
                    n = n.saturating_sub(1);
                }
                paper.grow(n * LINE_DOTS);
            }
            Item::Justify(j) => justify = j,
            Item::Bold(b) => bold = b,
            Item::Size(w, h) => size = (w as usize, h as usize),
            Item::Cut => {
                if !line.is_empty() {
                    print_line(&mut paper, &mut line, justify);
                }
                let y = paper.height + 4;
                paper.grow(9);
                for x in (0..paper.width).filter(|x| x % 12 < 6) {
                    paper.set(x, y);
                }
            }
            Item::Barcode(data) => {
                let bars = barcoders::sym::code39::Code39::new(&data)
                    .map(|c| c.encode())
                    .unwrap_or_default();
                let mut b = Bitmap::new(bars.len() * BAR, BAR_HEIGHT);
                for (i, _) in bars.iter().enumerate().filter(|(_, bar)| **bar == 1) {
                    for x in i * BAR..(i + 1) * BAR {
                        for y in 0..BAR_HEIGHT {
                            b.set(x, y);
                        }
                    }
                }
                place(&mut paper, &b, justify);
                paper.grow(8);
            }
            Item::Qr(data) => {
                if let Ok(code) = qrcode::QrCode::new(data.as_bytes()) {
                    let n = code.width();
                    let colors = code.to_colors();
                    let mut b = Bitmap::new(n * QR_MODULE, n * QR_MODULE);
                    for (i, _) in colors
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| **c == qrcode::Color::Dark)
                    {
                        let (mx, my) = (i % n * QR_MODULE, i / n * QR_MODULE);
                        for y in my..my + QR_MODULE {
                            for x in mx..mx + QR_MODULE {
                                b.set(x, y);
                            }
                        }
                    }
                    place(&mut paper, &b, justify);
                    paper.grow(8);
                }
            }
            Item::Image(b) => place(&mut paper, &b, justify),
            Item::Drawer | Item::StatusRequest | Item::Unknown(_) => {}
        }
    }
    if !line.is_empty() {
        print_line(&mut paper, &mut line, justify);
    }
    paper
}

/// `picture` as a 1-bit greyscale PNG.
pub fn png(bytes: &[u8], width: usize) -> Vec<u8> {
    let mut paper = picture(bytes, width);
    if paper.height == 0 {
        paper.grow(1);
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, paper.width as u32, paper.height as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::One);
    let written = enc
        .write_header()
        .and_then(|mut w| w.write_image_data(&paper.packed(false)));
    // Into a Vec, with the header's own sizes: nothing can fail.
    written.expect("a PNG into memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_draws_text_codes_and_raster_pictures_where_they_print() {
        let (sent, _) = raster::text("寿司", 1, false);
        let mut bytes = vec![ESC, b'@', ESC, b'a', 1];
        bytes.extend(b"Hi\n");
        bytes.extend([ESC, b'a', 0]);
        bytes.extend(sent.escpos());
        bytes.extend([GS, b'k', 4]);
        bytes.extend(b"S1-R1-000001\0");
        bytes.extend([GS, b'V', 1]);
        let p = picture(&bytes, 576);
        assert_eq!(p.width, 576);
        // "Hi", centred: two cells in the middle of the first line.
        let ink = |x0: usize, x1: usize, y0: usize, y1: usize| {
            (y0..y1).any(|y| (x0..x1).any(|x| p.get(x, y)))
        };
        assert!(ink(
            288 - raster::CELL_W,
            288 + raster::CELL_W,
            0,
            raster::CELL_H
        ));
        assert!(!ink(0, 200, 0, raster::CELL_H), "nothing on the left");
        // The raster picture exactly as sent, flush left on the next line.
        let y0 = LINE_DOTS;
        for y in 0..sent.height {
            for x in 0..sent.width {
                assert_eq!(p.get(x, y0 + y), sent.get(x, y), "({x}, {y})");
            }
        }
        // Then the barcode's bars, full height, and the cut below them.
        let bars = y0 + sent.height;
        let bar_columns = (0..576)
            .filter(|&x| p.get(x, bars + BAR_HEIGHT / 2))
            .count();
        assert!(bar_columns > 100, "{bar_columns}");
        assert!(p.height >= bars + BAR_HEIGHT + 8);
    }

    #[test]
    fn png_is_a_one_bit_image_of_the_picture() {
        let mut bytes = b"Total 12.00\n".to_vec();
        bytes.extend([GS, b'(', b'k', 4, 0, 49, 80, 48, b'x']);
        let png = png(&bytes, 384);
        let picture = picture(&bytes, 384);
        let mut d = png::Decoder::new(std::io::Cursor::new(png));
        d.set_transformations(png::Transformations::IDENTITY);
        let mut d = d.read_info().unwrap();
        let mut buf = vec![0; d.output_buffer_size().unwrap()];
        let info = d.next_frame(&mut buf).unwrap();
        assert_eq!(
            (info.width as usize, info.height as usize),
            (384, picture.height)
        );
        assert_eq!(info.bit_depth, png::BitDepth::One);
        assert_eq!(&buf[..info.buffer_size()], &picture.packed(false)[..]);
        // The QR code of "x", flush left under the line: its finder
        // pattern's top row is 7 dark modules of 3 dots.
        let qr_top = LINE_DOTS;
        assert!(picture.get(0, qr_top) && picture.get(20, qr_top));
        assert!(picture.height >= qr_top + 21 * QR_MODULE);
    }

    #[test]
    fn a_picture_that_claims_to_be_huge_is_not_drawn() {
        // GS v 0, 65535 bytes by 65535 rows, and nothing after: once 34 GB.
        let attack = [GS, b'v', b'0', 0, 0xff, 0xff, 0xff, 0xff, b'x'];
        let page = render(&attack);
        assert_eq!(page.unknown, vec!["GS v 0 picture too large (65535x65535)"]);
        assert_eq!(picture(&attack, 576).height, 0);
        // Within the bounds but cut short: not drawn either.
        let short = [GS, b'v', b'0', 0, 2, 0, 2, 0, 0xff];
        assert_eq!(
            render(&short).unknown,
            vec!["GS v 0 picture cut short (2x2)"]
        );
        // Feeds that would run to kilometres of paper stop at the bound.
        let feeds: Vec<u8> = [ESC, b'd', 255].repeat(100_000);
        assert!(picture(&feeds, 576).height <= MAX_PAPER_DOTS + 255 * LINE_DOTS);
        let page = render(&feeds);
        assert!(page.lines.len() <= MAX_LINES + 255, "{}", page.lines.len());
    }

    mod hostile {
        use super::super::*;
        use proptest::prelude::*;

        /// Bytes the reader takes as commands, often, among any others.
        fn stream() -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec(
                prop_oneof![
                    3 => any::<u8>(),
                    2 => prop::sample::select(vec![ESC, GS, DLE, b'v', b'0', b'(', b'k', b'd', b'!', 0xff, 0]),
                ],
                0..600,
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever the bytes, reading them ends, and what they make
            /// stays within the bounds.
            #[test]
            fn any_bytes_read_back_within_bounds(bytes in stream()) {
                let page = render(&bytes);
                prop_assert!(page.lines.len() <= MAX_LINES + 255);
                let p = picture(&bytes, 576);
                prop_assert_eq!(p.width, 576);
                prop_assert!(p.height <= MAX_PAPER_DOTS + MAX_PICTURE_ROWS + 255 * LINE_DOTS);
                let _ = png(&bytes, 576);
            }
        }
    }
}
