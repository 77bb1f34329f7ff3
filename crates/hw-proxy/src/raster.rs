//! Text drawn as dots. A line holding characters that none of the printer's
//! code pages has prints as a raster image (ESC/POS `GS v 0`) drawn with GNU
//! Unifont's glyphs, so a dish named in Japanese or a customer's name in
//! Arabic script prints as written rather than as question marks. The PNG
//! pictures of printed jobs (`render::png`) draw their text with the same
//! glyphs.

/// One character cell of the printer's font A, in dots: the size a rastered
/// line has, so it lines up with the printer's own text.
pub const CELL_W: usize = 12;
pub const CELL_H: usize = 24;

/// A 1-bit picture, `width` × `height` dots, black where set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: usize,
    pub height: usize,
    dots: Vec<bool>,
}

impl Bitmap {
    pub fn new(width: usize, height: usize) -> Bitmap {
        Bitmap {
            width,
            height,
            dots: vec![false; width * height],
        }
    }

    pub fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dots[y * self.width + x]
    }

    pub fn set(&mut self, x: usize, y: usize) {
        if x < self.width && y < self.height {
            self.dots[y * self.width + x] = true;
        }
    }

    /// Rows of packed bits, most significant first, as `GS v 0` and 1-bit
    /// PNG both take them (`black_is_one`: ESC/POS's sense; PNG's greyscale
    /// is the other way round).
    pub fn packed(&self, black_is_one: bool) -> Vec<u8> {
        let row = self.width.div_ceil(8);
        let mut out = vec![if black_is_one { 0 } else { 0xff }; row * self.height];
        for y in 0..self.height {
            for x in 0..self.width {
                if self.get(x, y) {
                    out[y * row + x / 8] ^= 0x80 >> (x % 8);
                }
            }
        }
        out
    }

    /// The picture as one ESC/POS raster command (`GS v 0`, normal size).
    pub fn escpos(&self) -> Vec<u8> {
        let row = self.width.div_ceil(8);
        let mut out = vec![
            0x1d,
            b'v',
            b'0',
            0,
            (row % 256) as u8,
            (row / 256) as u8,
            (self.height % 256) as u8,
            (self.height / 256) as u8,
        ];
        out.extend(self.packed(true));
        out
    }

    /// A picture from `GS v 0` data: `row_bytes` per row, `height` rows.
    pub fn from_packed(row_bytes: usize, height: usize, data: &[u8]) -> Bitmap {
        let mut b = Bitmap::new(row_bytes * 8, height);
        for y in 0..height {
            for x in 0..row_bytes * 8 {
                let byte = data.get(y * row_bytes + x / 8).copied().unwrap_or(0);
                if byte & (0x80 >> (x % 8)) != 0 {
                    b.set(x, y);
                }
            }
        }
        b
    }

    /// Draws `other` with its top-left corner at (`x0`, `y0`), growing this
    /// picture downwards when it does not fit.
    pub fn draw(&mut self, other: &Bitmap, x0: usize, y0: usize) {
        if y0 + other.height > self.height {
            self.height = y0 + other.height;
            self.dots.resize(self.width * self.height, false);
        }
        for y in 0..other.height {
            for x in 0..other.width {
                if other.get(x, y) {
                    self.set(x0 + x, y0 + y);
                }
            }
        }
    }

    /// Adds `rows` blank rows at the bottom.
    pub fn grow(&mut self, rows: usize) {
        self.height += rows;
        self.dots.resize(self.width * self.height, false);
    }
}

/// How many cells a character takes (2 for wide ones, such as CJK), or
/// `None` when Unifont has no glyph for it.
pub fn cells(c: char) -> Option<usize> {
    unifont::get_glyph(c).map(|g| if g.is_fullwidth() { 2 } else { 1 })
}

/// One line of text in cells of `CELL_W` × `CELL_H` dots, each scaled by
/// `scale` (2 for double size), made bold by a second stroke one dot to the
/// right. Characters Unifont lacks take one empty cell and are returned.
pub fn text(line: &str, scale: usize, bold: bool) -> (Bitmap, Vec<char>) {
    let cols: usize = line.chars().map(|c| cells(c).unwrap_or(1)).sum();
    let (cw, ch) = (CELL_W * scale, CELL_H * scale);
    let mut b = Bitmap::new(cols * cw, ch);
    let mut missing = Vec::new();
    let mut x0 = 0;
    for c in line.chars() {
        let Some(g) = unifont::get_glyph(c) else {
            missing.push(c);
            x0 += cw;
            continue;
        };
        // Unifont's 8 × 16 (or 16 × 16) scaled to the cell, nearest dot.
        let (gw, w) = (g.get_width(), cw * g.get_width() / 8);
        for y in 0..ch {
            for x in 0..w {
                if g.get_pixel(x * gw / w, y * 16 / ch) {
                    b.set(x0 + x, y);
                    if bold {
                        b.set(x0 + x + 1, y);
                    }
                }
            }
        }
        x0 += w;
    }
    missing.sort_unstable();
    missing.dedup();
    (b, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glyph_fills_its_cell_and_wide_ones_take_two() {
        let (a, missing) = text("A", 1, false);
        assert!(missing.is_empty());
        assert_eq!((a.width, a.height), (CELL_W, CELL_H));
        assert!(a.dots.iter().any(|d| *d), "A has dots");
        let (kanji, _) = text("寿司", 1, false);
        assert_eq!(kanji.width, 4 * CELL_W);
        let (big, _) = text("A", 2, false);
        assert_eq!((big.width, big.height), (2 * CELL_W, 2 * CELL_H));
        let count = |b: &Bitmap| b.dots.iter().filter(|d| **d).count();
        // Double size is 24 × 48 dots: Unifont's 8 × 16 three times over,
        // so each of the glyph's pixels is 9 dots.
        let g = unifont::get_glyph('A').unwrap();
        let pixels = (0..16)
            .flat_map(|y| (0..8).map(move |x| (x, y)))
            .filter(|&(x, y)| g.get_pixel(x, y))
            .count();
        assert_eq!(count(&big), 9 * pixels);
        let (bold, _) = text("l", 1, true);
        assert!(count(&bold) > count(&text("l", 1, false).0));
    }

    #[test]
    fn gs_v_0_round_trips_the_dots() {
        let (a, _) = text("Ωж", 1, false);
        let bytes = a.escpos();
        assert_eq!(&bytes[..4], &[0x1d, b'v', b'0', 0]);
        let row = bytes[4] as usize + 256 * bytes[5] as usize;
        let height = bytes[6] as usize + 256 * bytes[7] as usize;
        assert_eq!((row, height), (a.width.div_ceil(8), CELL_H));
        let back = Bitmap::from_packed(row, height, &bytes[8..]);
        for y in 0..a.height {
            for x in 0..a.width {
                assert_eq!(a.get(x, y), back.get(x, y), "({x}, {y})");
            }
        }
    }

    #[test]
    fn a_character_without_a_glyph_is_named() {
        // Outside the BMP (an emoji): Unifont has no glyph for it.
        let (_, missing) = text("a\u{1F600}b", 1, false);
        assert_eq!(missing, vec!['\u{1F600}']);
    }
}
