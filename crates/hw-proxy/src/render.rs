//! Reads ESC/POS bytes back into what a printer would put on paper: text
//! lines, codes, cuts and drawer pulses. The virtual printer shows its jobs
//! with it, the register page previews receipts with it, and the tests check
//! receipts against it.
//!
//! It reads the commands hw-proxy writes and skips other known commands by
//! their length; an unknown command is kept as a marker rather than guessed.

use crate::document::CodePage;

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

pub fn render(bytes: &[u8]) -> Page {
    let mut page = Page::default();
    let mut r = Reader { b: bytes, i: 0 };
    let mut cp = CodePage::Cp437;
    let mut line = String::new();
    let mut line_open = false;
    let end_line = |page: &mut Page, line: &mut String, open: &mut bool| {
        page.lines.push(std::mem::take(line));
        *open = false;
    };
    while let Some(b) = r.byte() {
        match b {
            b'\n' => end_line(&mut page, &mut line, &mut line_open),
            b'\r' => {}
            ESC => match r.byte() {
                Some(b'@') => cp = CodePage::Cp437,
                Some(b't') => {
                    if let Some(n) = r.byte() {
                        cp = CodePage::from_number(n).unwrap_or(CodePage::Cp437);
                    }
                }
                Some(b'd') => {
                    let n = r.byte().unwrap_or(0);
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
                Some(b'p') => {
                    r.take(3);
                    page.drawer_kicks += 1;
                }
                // One parameter byte each: mode, bold, underline, double
                // strike, font, justify, charset, line spacing, upside down,
                // feed dots, smoothing (GS b is below).
                Some(
                    b'!' | b'E' | b'-' | b'G' | b'M' | b'a' | b'R' | b'3' | b'{' | b'J' | b'V',
                ) => {
                    r.take(1);
                }
                Some(b'2') => {}
                Some(other) => page.unknown.push(format!("ESC {other:#04x}")),
                None => {}
            },
            GS => match r.byte() {
                Some(b'V') => {
                    let m = r.byte().unwrap_or(0);
                    if m == 65 || m == 66 {
                        r.take(1);
                    }
                    if line_open {
                        end_line(&mut page, &mut line, &mut line_open);
                    }
                    page.lines.push("[cut]".into());
                    page.cuts += 1;
                }
                Some(b'!' | b'B' | b'b' | b'h' | b'w' | b'H' | b'f') => {
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
                    let data = String::from_utf8_lossy(&data).into_owned();
                    page.lines.push(format!("[barcode {data}]"));
                    page.barcodes.push(data);
                }
                Some(b'(') => {
                    // GS ( k pL pH cn fn [m] data: 2D codes.
                    let kind = r.byte().unwrap_or(0);
                    let len = r.byte().unwrap_or(0) as usize + 256 * r.byte().unwrap_or(0) as usize;
                    let body = r.take(len).to_vec();
                    if kind == b'k' && body.len() >= 3 && body[0] == 49 && body[1] == 80 {
                        let data = String::from_utf8_lossy(&body[3..]).into_owned();
                        page.lines.push(format!("[qr {data}]"));
                        page.qr.push(data);
                    }
                }
                Some(b'v') => {
                    // GS v 0 m xL xH yL yH: a raster image, x bytes wide.
                    let head = r.take(6).to_vec();
                    if head.len() == 6 {
                        let x = head[2] as usize + 256 * head[3] as usize;
                        let y = head[4] as usize + 256 * head[5] as usize;
                        r.take(x * y);
                        page.lines.push(format!("[image {}x{y}]", x * 8));
                    }
                }
                Some(other) => page.unknown.push(format!("GS {other:#04x}")),
                None => {}
            },
            DLE => {
                // DLE EOT n: a status request, answered, never printed.
                r.take(2);
                page.status_requests += 1;
            }
            0x00..=0x1f => {}
            _ => {
                line.push(cp.decode(b));
                line_open = true;
            }
        }
    }
    if line_open {
        page.lines.push(line);
    }
    page
}
