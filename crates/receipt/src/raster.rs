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

/// The largest logo file taken, and the most dots it may decode to: a
/// receipt logo is a few kilobytes; anything near these is a mistake.
pub const LOGO_MAX_BYTES: usize = 256 * 1024;
const LOGO_MAX_PIXELS: usize = 2048 * 2048;
/// The tallest a logo prints, in dots (≈ 25 mm at 203 dpi).
pub const LOGO_MAX_HEIGHT: usize = 200;

/// Why a logo cannot be printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoError {
    #[error("the logo is {kib} KiB; at most {} KiB", LOGO_MAX_BYTES / 1024)]
    TooLarge { kib: usize },
    #[error("the logo has more than {LOGO_MAX_PIXELS} pixels")]
    TooManyPixels,
    #[error("the logo is not a PNG image: {0}")]
    NotPng(String),
    #[error("the logo is not a readable PNG image: {0}")]
    Unreadable(String),
}

/// A PNG logo as the printer prints it: scaled down (never up) to fit
/// `max_width` dots and [`LOGO_MAX_HEIGHT`], transparent parts white, grey
/// dithered (Floyd–Steinberg) to black and white dots.
pub fn logo(png_bytes: &[u8], max_width: usize) -> Result<Bitmap, LogoError> {
    if png_bytes.len() > LOGO_MAX_BYTES {
        return Err(LogoError::TooLarge {
            kib: png_bytes.len() / 1024,
        });
    }
    let mut d = png::Decoder::new_with_limits(
        std::io::Cursor::new(png_bytes),
        png::Limits {
            bytes: LOGO_MAX_PIXELS * 4,
        },
    );
    d.set_transformations(png::Transformations::normalize_to_color8());
    let too_big = || LogoError::TooManyPixels;
    let mut r = d.read_info().map_err(|e| match e {
        png::DecodingError::LimitsExceeded => too_big(),
        e => LogoError::NotPng(e.to_string()),
    })?;
    let (w, h) = (r.info().width as usize, r.info().height as usize);
    if w == 0 || h == 0 || w * h > LOGO_MAX_PIXELS {
        return Err(too_big());
    }
    let mut buf = vec![0; r.output_buffer_size().ok_or_else(too_big)?];
    let info = r
        .next_frame(&mut buf)
        .map_err(|e| LogoError::Unreadable(e.to_string()))?;
    let channels = info.color_type.samples();
    // Luminance 0 (black) ..= 255 (white), alpha composed over paper.
    let lum = |x: usize, y: usize| -> f32 {
        let p = &buf[y * info.line_size + x * channels..][..channels];
        let (grey, alpha) = match channels {
            1 => (f32::from(p[0]), 255.0),
            2 => (f32::from(p[0]), f32::from(p[1])),
            3 => (luma(p), 255.0),
            _ => (luma(p), f32::from(p[3])),
        };
        grey * alpha / 255.0 + 255.0 * (1.0 - alpha / 255.0)
    };
    let scale = (max_width as f32 / w as f32)
        .min(LOGO_MAX_HEIGHT as f32 / h as f32)
        .min(1.0);
    let (tw, th) = (
        ((w as f32 * scale).round() as usize).max(1),
        ((h as f32 * scale).round() as usize).max(1),
    );
    // Each target dot averages the source pixels it covers.
    let mut grey = vec![0f32; tw * th];
    for ty in 0..th {
        let (y0, y1) = (ty * h / th, ((ty + 1) * h / th).max(ty * h / th + 1));
        for tx in 0..tw {
            let (x0, x1) = (tx * w / tw, ((tx + 1) * w / tw).max(tx * w / tw + 1));
            let mut sum = 0.0;
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += lum(x, y);
                }
            }
            grey[ty * tw + tx] = sum / ((y1 - y0) * (x1 - x0)) as f32;
        }
    }
    let mut out = Bitmap::new(tw, th);
    for y in 0..th {
        for x in 0..tw {
            let old = grey[y * tw + x];
            let black = old < 128.0;
            if black {
                out.set(x, y);
            }
            let err = old - if black { 0.0 } else { 255.0 };
            let mut spread = |dx: isize, dy: usize, share: f32| {
                let nx = x as isize + dx;
                if nx >= 0 && (nx as usize) < tw && y + dy < th {
                    grey[(y + dy) * tw + nx as usize] += err * share;
                }
            };
            spread(1, 0, 7.0 / 16.0);
            spread(-1, 1, 3.0 / 16.0);
            spread(0, 1, 5.0 / 16.0);
            spread(1, 1, 1.0 / 16.0);
        }
    }
    Ok(out)
}

fn luma(rgb: &[u8]) -> f32 {
    0.299 * f32::from(rgb[0]) + 0.587 * f32::from(rgb[1]) + 0.114 * f32::from(rgb[2])
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

    fn png_of(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(data).unwrap();
        out
    }

    #[test]
    fn a_logo_keeps_its_black_and_white_and_fits_the_paper() {
        // 100x10: left half black, right half white.
        let data: Vec<u8> = (0..10)
            .flat_map(|_| (0..100).map(|x| if x < 50 { 0 } else { 255 }))
            .collect();
        let b = logo(&png_of(100, 10, png::ColorType::Grayscale, &data), 576).unwrap();
        assert_eq!((b.width, b.height), (100, 10), "never scaled up");
        assert!(b.get(0, 0) && b.get(49, 9) && !b.get(50, 0) && !b.get(99, 9));
        // Twice the paper's width: halved, proportions kept.
        let wide: Vec<u8> = vec![0; 1152 * 40];
        let b = logo(&png_of(1152, 40, png::ColorType::Grayscale, &wide), 576).unwrap();
        assert_eq!((b.width, b.height), (576, 20));
    }

    #[test]
    fn grey_dithers_to_about_half_the_dots_and_transparency_is_paper() {
        let grey = vec![128u8; 64 * 64];
        let b = logo(&png_of(64, 64, png::ColorType::Grayscale, &grey), 576).unwrap();
        let black = (0..64)
            .flat_map(|y| (0..64).map(move |x| (x, y)))
            .filter(|&(x, y)| b.get(x, y))
            .count();
        assert!((1700..2400).contains(&black), "{black} of 4096");
        // Fully transparent black pixels are white paper.
        let clear: Vec<u8> = (0..16 * 16).flat_map(|_| [0, 0]).collect();
        let b = logo(&png_of(16, 16, png::ColorType::GrayscaleAlpha, &clear), 576).unwrap();
        assert!((0..16).all(|y| (0..16).all(|x| !b.get(x, y))));
    }

    #[test]
    fn a_logo_that_is_not_a_png_or_too_big_is_refused_by_name() {
        assert!(
            logo(b"GIF89a....", 576)
                .unwrap_err()
                .to_string()
                .contains("not a PNG")
        );
        let huge = vec![0u8; LOGO_MAX_BYTES + 1];
        assert!(logo(&huge, 576).unwrap_err().to_string().contains("KiB"));
        // A small file of an enormous picture: refused before decoding it.
        let big = png_of(
            2049,
            2048,
            png::ColorType::Grayscale,
            &vec![255; 2049 * 2048],
        );
        assert!(big.len() < LOGO_MAX_BYTES);
        assert!(logo(&big, 576).unwrap_err().to_string().contains("pixels"));
    }
}
