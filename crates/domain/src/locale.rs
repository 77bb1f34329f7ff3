//! How a store writes numbers: decimal and grouping marks per locale, for
//! amounts on receipts, reports and error messages — and the same rules the
//! pages get from `Intl.NumberFormat` in the browser (a test in Chromium
//! checks that both write every amount alike). The sign is ours on both
//! sides (a plain "-" before the number), so bidi marks and typographic
//! minus signs never differ.
//!
//! Amounts typed by a person are parsed by the same rules: the locale's
//! decimal mark (and "." where "." is not the locale's group mark), group
//! marks only between groups of three, no more decimals than the currency has.

/// One locale's number format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberFormat {
    pub locale: &'static str,
    pub decimal: char,
    pub group: char,
    /// 2: a four-digit number is written without a group mark (es-ES "1234").
    pub min_grouping: u8,
    /// Groups of two above the first three (en-IN "1,23,45,678").
    pub indian: bool,
    /// Arabic-Indic digits (٠١٢٣٤٥٦٧٨٩).
    pub arab: bool,
}

const fn f(locale: &'static str, decimal: char, group: char, min_grouping: u8) -> NumberFormat {
    NumberFormat {
        locale,
        decimal,
        group,
        min_grouping,
        indian: false,
        arab: false,
    }
}

const NBSP: char = '\u{a0}';
const NNBSP: char = '\u{202f}';

/// The locales a store may choose, as Chromium's ICU writes them.
#[rustfmt::skip]
pub const LOCALES: &[NumberFormat] = &[
    f("ar-AE", '.', ',', 1),
    NumberFormat { arab: true, ..f("ar-BH", '\u{66b}', '\u{66c}', 1) },
    NumberFormat { arab: true, ..f("ar-JO", '\u{66b}', '\u{66c}', 1) },
    NumberFormat { arab: true, ..f("ar-KW", '\u{66b}', '\u{66c}', 1) },
    f("ar-MA", ',', '.', 1),
    NumberFormat { arab: true, ..f("ar-OM", '\u{66b}', '\u{66c}', 1) },
    NumberFormat { arab: true, ..f("ar-SA", '\u{66b}', '\u{66c}', 1) },
    f("ar-TN", ',', '.', 1),
    f("cs-CZ", ',', NBSP, 1),
    f("da-DK", ',', '.', 1),
    f("de-AT", ',', NBSP, 1),
    f("de-CH", '.', '\'', 1),
    f("de-DE", ',', '.', 1),
    f("en-AU", '.', ',', 1),
    f("en-CA", '.', ',', 1),
    f("en-GB", '.', ',', 1),
    NumberFormat { indian: true, ..f("en-IN", '.', ',', 1) },
    f("en-NZ", '.', ',', 1),
    f("en-SG", '.', ',', 1),
    f("en-UG", '.', ',', 1),
    f("en-US", '.', ',', 1),
    f("en-ZA", ',', NBSP, 1),
    f("es-CL", ',', '.', 1),
    f("es-ES", ',', '.', 2),
    f("es-MX", '.', ',', 1),
    f("fi-FI", ',', NBSP, 1),
    f("fr-CH", ',', NNBSP, 1),
    f("fr-CM", ',', NNBSP, 1),
    f("fr-FR", ',', NNBSP, 1),
    f("fr-SN", ',', NNBSP, 1),
    f("he-IL", '.', ',', 1),
    NumberFormat { indian: true, ..f("hi-IN", '.', ',', 1) },
    f("hu-HU", ',', NBSP, 2),
    f("id-ID", ',', '.', 1),
    f("it-IT", ',', '.', 2),
    f("ja-JP", '.', ',', 1),
    f("ko-KR", '.', ',', 1),
    f("ms-MY", '.', ',', 1),
    f("nb-NO", ',', NBSP, 1),
    f("nl-NL", ',', '.', 1),
    f("pl-PL", ',', NBSP, 2),
    f("pt-BR", ',', '.', 1),
    f("pt-PT", ',', NBSP, 2),
    f("ro-RO", ',', '.', 1),
    f("sv-SE", ',', NBSP, 1),
    f("th-TH", '.', ',', 1),
    f("tr-TR", ',', '.', 1),
    f("vi-VN", ',', '.', 1),
    f("zh-CN", '.', ',', 1),
    f("zh-HK", '.', ',', 1),
];

impl NumberFormat {
    pub fn get(locale: &str) -> Option<&'static NumberFormat> {
        LOCALES.iter().find(|l| l.locale == locale)
    }

    /// The format for a receipt printer: the same, but a locale written in
    /// Arabic-Indic digits prints Western digits with "." and "," (a
    /// thermal printer's code pages hold neither those digits nor their
    /// marks, and drawing them as pictures makes a slow, unsearchable
    /// receipt).
    pub fn for_print(&self) -> NumberFormat {
        if self.arab {
            NumberFormat {
                arab: false,
                decimal: '.',
                group: ',',
                ..*self
            }
        } else {
            *self
        }
    }

    fn digit(&self, d: u8) -> char {
        if self.arab {
            char::from_u32(0x660 + u32::from(d)).unwrap_or('?')
        } else {
            char::from(b'0' + d)
        }
    }

    /// The whole part with its group marks.
    fn whole(&self, n: u64) -> String {
        let digits: Vec<u8> = n.to_string().bytes().map(|b| b - b'0').collect();
        let len = digits.len();
        let grouped = len >= 4 && len >= 3 + usize::from(self.min_grouping);
        let mut out = String::new();
        for (i, d) in digits.iter().enumerate() {
            let left = len - i; // digits from here to the end
            if grouped && i > 0 {
                let mark = if self.indian {
                    left == 3 || (left > 3 && (left - 3).is_multiple_of(2))
                } else {
                    left.is_multiple_of(3)
                };
                if mark {
                    out.push(self.group);
                }
            }
            out.push(self.digit(*d));
        }
        out
    }

    /// `minor` with `exponent` decimals: "1.234,50", "-0,05", "١٢٫٧٦٢".
    pub fn amount(&self, minor: i64, exponent: u8) -> String {
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        let div = 10u64.pow(u32::from(exponent));
        let mut s = format!("{sign}{}", self.whole(abs / div));
        if exponent > 0 {
            s.push(self.decimal);
            let frac = format!("{:0w$}", abs % div, w = usize::from(exponent));
            s.extend(frac.bytes().map(|b| self.digit(b - b'0')));
        }
        s
    }

    /// An amount a person typed, in minor units of a currency with
    /// `exponent` decimals; `None` when it is not one.
    pub fn parse(&self, text: &str, exponent: u8) -> Option<i64> {
        let t: String = text
            .trim()
            .chars()
            .map(|c| match c {
                '\u{660}'..='\u{669}' => char::from(b'0' + (c as u32 - 0x660) as u8),
                c => c,
            })
            .collect();
        let dot_is_decimal = self.group != '.';
        let (whole, frac) = match t.rfind(|c| c == self.decimal || (c == '.' && dot_is_decimal)) {
            Some(i) => {
                let mark = t[i..].chars().next()?;
                (&t[..i], &t[i + mark.len_utf8()..])
            }
            None => (t.as_str(), ""),
        };
        let groups: Vec<&str> = whole
            .split(|c: char| {
                c == self.group
                    || c == ' '
                    || c == NBSP
                    || c == NNBSP
                    || (c == ',' && self.group == ',')
                    || (c == '\'' && self.group == '\'')
            })
            .collect();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if groups.len() > 1
            && !(digits(groups[0])
                && groups[0].len() <= 3
                && groups[1..].iter().all(|g| g.len() == 3 && digits(g))
                || self.indian)
        {
            return None;
        }
        let whole: String = groups.concat();
        if !digits(&whole)
            || !(frac.is_empty() || digits(frac))
            || frac.len() > usize::from(exponent)
        {
            return None;
        }
        if whole.len() > 15 {
            return None;
        }
        let scale = 10i64.pow(u32::from(exponent));
        let frac_minor = if frac.is_empty() {
            0
        } else {
            frac.parse::<i64>().ok()? * 10i64.pow(u32::from(exponent) - frac.len() as u32)
        };
        whole
            .parse::<i64>()
            .ok()?
            .checked_mul(scale)?
            .checked_add(frac_minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nf(l: &str) -> &'static NumberFormat {
        NumberFormat::get(l).unwrap()
    }

    #[test]
    fn amounts_are_written_as_each_locale_writes_them() {
        assert_eq!(nf("de-DE").amount(123_450, 2), "1.234,50");
        assert_eq!(nf("en-US").amount(1_234_567_890, 2), "12,345,678.90");
        assert_eq!(nf("en-IN").amount(1_234_567_890, 2), "1,23,45,678.90");
        assert_eq!(nf("es-ES").amount(123_450, 2), "1234,50");
        assert_eq!(nf("es-ES").amount(1_234_567_890, 2), "12.345.678,90");
        assert_eq!(nf("de-CH").amount(123_450, 2), "1'234.50");
        assert_eq!(nf("fr-FR").amount(123_450, 2), "1\u{202f}234,50");
        assert_eq!(nf("ja-JP").amount(4_575, 0), "4,575");
        assert_eq!(nf("ar-KW").amount(12_762, 3), "١٢٫٧٦٢");
        assert_eq!(nf("ar-KW").for_print().amount(1_212_762, 3), "1,212.762");
        assert_eq!(nf("de-DE").for_print(), *nf("de-DE"));
        assert_eq!(nf("id-ID").amount(457_500_000, 2), "4.575.000,00");
        assert_eq!(nf("de-DE").amount(-5, 2), "-0,05");
        assert_eq!(nf("en-US").amount(0, 0), "0");
    }

    #[test]
    fn typed_amounts_are_read_by_the_locale_and_the_exponent() {
        let de = nf("de-DE");
        assert_eq!(de.parse("12,50", 2), Some(1250));
        assert_eq!(de.parse("1.234,5", 2), Some(123_450));
        assert_eq!(de.parse("50", 2), Some(5000));
        assert_eq!(
            de.parse("12,505", 2),
            None,
            "more decimals than the currency has"
        );
        assert_eq!(
            de.parse("12.50", 2),
            None,
            "a group mark between two digits"
        );
        let kw = nf("ar-KW");
        assert_eq!(kw.parse("50.000", 3), Some(50_000));
        assert_eq!(kw.parse("٥٠٫٠٠٠", 3), Some(50_000));
        assert_eq!(kw.parse("0.125", 3), Some(125));
        assert_eq!(kw.parse("13", 3), Some(13_000));
        let us = nf("en-US");
        assert_eq!(us.parse("1,234.50", 2), Some(123_450));
        assert_eq!(us.parse("1,23.50", 2), None);
        assert_eq!(us.parse("12.", 2), Some(1200));
        assert_eq!(nf("ja-JP").parse("1,200", 0), Some(1200));
        assert_eq!(nf("ja-JP").parse("1.5", 0), None);
        assert_eq!(nf("id-ID").parse("4.575.000", 2), Some(457_500_000));
        assert_eq!(nf("fr-FR").parse("1 234,50", 2), Some(123_450));
        for bad in ["", "-1", "abc", "1e3", "１２", "1,2,3"] {
            assert_eq!(us.parse(bad, 2), None, "{bad:?}");
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        for l in LOCALES {
            for (minor, e) in [
                (0, 2),
                (5, 2),
                (123_450, 2),
                (1_234_567_890, 2),
                (12_762, 3),
                (4_575, 0),
                (99_999_999, 0),
            ] {
                assert_eq!(
                    l.parse(&l.amount(minor, e), e),
                    Some(minor),
                    "{} {minor}",
                    l.locale
                );
            }
        }
    }
}
