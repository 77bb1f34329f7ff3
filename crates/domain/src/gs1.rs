//! GS1 barcodes as a till meets them: the check digit of EAN-13, EAN-8 and
//! UPC-A (a misread code is said so, not "unknown"), and the
//! variable-measure labels a store's scale prints on weighed goods.
//!
//! A label is an EAN-13 in the restricted-circulation range 20–29: two
//! digits of prefix, five of item (the scale's PLU), five of value, and
//! the check digit. The store says which prefixes carry a price (in the
//! currency's minor units) and which a weight (in grams)
//! ([`LabelRules`]). The product is found by its label with the value
//! zeroed ([`Label::base`]): `2100005001274` is item 00005 at 1.27 under
//! prefix 21, and the product carries `2100005000000`.

use serde::Deserialize;

/// Whether `code` (8, 12 or 13 digits) ends in its right check digit.
pub fn check_digit_ok(code: &str) -> bool {
    if !matches!(code.len(), 8 | 12 | 13) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (body, last) = code.split_at(code.len() - 1);
    check_digit(body) == last.as_bytes()[0] - b'0'
}

/// The check digit of a code's other digits (weights 3 and 1 from the right).
fn check_digit(body: &str) -> u8 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// `body` with its check digit.
pub fn with_check_digit(body: &str) -> String {
    format!("{body}{}", check_digit(body))
}

/// Which label prefixes carry a price and which a weight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LabelRules {
    pub price_prefixes: Vec<String>,
    pub weight_prefixes: Vec<String>,
}

/// What a scale label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The price, in the currency's minor units.
    Price(i64),
    /// The weight, in grams.
    Grams(i64),
}

/// A scale label read by the store's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The label with its value zeroed: the barcode its product carries.
    pub base: String,
    pub measure: Measure,
}

impl LabelRules {
    /// The label `code` is, under these rules; `None` for any other code.
    /// A code whose check digit is wrong is no label.
    pub fn read(&self, code: &str) -> Option<Label> {
        if code.len() != 13 || !check_digit_ok(code) {
            return None;
        }
        let prefix = &code[..2];
        let value: i64 = code[7..12].parse().ok()?;
        let measure = if self.price_prefixes.iter().any(|p| p == prefix) {
            Measure::Price(value)
        } else if self.weight_prefixes.iter().any(|p| p == prefix) {
            Measure::Grams(value)
        } else {
            return None;
        };
        Some(Label {
            base: with_check_digit(&format!("{}00000", &code[..7])),
            measure,
        })
    }
}

/// The weight, to the gram, whose price at `per_kg` (minor units a kilo)
/// comes closest to `price` without passing it, an exact match first:
/// what a price label on a weighed item sells as. The customer never pays
/// more than the label; over 10.00 a kilo (a gram costs more than a cent)
/// the nearest may be a cent under it.
pub fn grams_for_price(price: i64, per_kg: i64) -> Option<i64> {
    if per_kg <= 0 || price <= 0 {
        return None;
    }
    let at = |g: i64| (per_kg * g + 500).div_euclid(1000);
    let guess = (price * 1000 + per_kg / 2) / per_kg;
    (guess - 3..=guess + 3)
        .filter(|g| *g > 0 && at(*g) <= price)
        .min_by_key(|g| (price - at(*g), (g - guess).abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> LabelRules {
        LabelRules {
            price_prefixes: vec!["20".into(), "21".into()],
            weight_prefixes: vec!["25".into(), "26".into()],
        }
    }

    #[test]
    fn check_digits_of_ean_13_ean_8_and_upc_a() {
        assert!(check_digit_ok("4006381333931"));
        assert!(!check_digit_ok("4006381333932"));
        assert!(check_digit_ok("96385074"));
        assert!(check_digit_ok("036000291452"));
        assert!(!check_digit_ok("03600029145"));
        assert!(!check_digit_ok("40063813339a1"));
        assert_eq!(with_check_digit("210000500127"), "2100005001274");
    }

    #[test]
    fn a_scale_label_reads_as_its_item_and_a_price_or_a_weight() {
        let price = rules().read("2100005001274").unwrap();
        assert_eq!(price.base, "2100005000000");
        assert_eq!(price.measure, Measure::Price(127));
        let weight = rules().read(&with_check_digit("260000700750")).unwrap();
        assert_eq!(weight.measure, Measure::Grams(750));
        assert_eq!(weight.base, with_check_digit("260000700000"));
        // Another prefix, a misread, another length: no label.
        assert_eq!(rules().read(&with_check_digit("230000500127")), None);
        assert_eq!(rules().read("2100005001275"), None);
        assert_eq!(rules().read("4006381333931"), None);
    }

    #[test]
    fn a_price_label_sells_as_the_weight_that_costs_it() {
        // 1.27 at 1.69 a kilo: 751 g is exactly 1.27.
        assert_eq!(grams_for_price(127, 169), Some(751));
        let at = |g: i64, per_kg: i64| (per_kg * g + 500) / 1000;
        for (price, per_kg) in [
            (127, 169),
            (999, 279),
            (2500, 1299),
            (100, 100),
            (4321, 999),
        ] {
            let g = grams_for_price(price, per_kg).unwrap();
            // Never more than the label; as close under it as a gram goes.
            assert!(at(g, per_kg) <= price, "{price} {per_kg} {g}");
            assert!(price - at(g, per_kg) <= 1, "{price} {per_kg} {g}");
            if per_kg <= 1000 {
                assert_eq!(at(g, per_kg), price, "exact under 10.00 a kilo");
            }
        }
        // 25.00 at 12.99 a kilo: 1924 g is 24.99; 1925 g would be 25.01.
        assert_eq!(grams_for_price(2500, 1299), Some(1924));
        assert_eq!(grams_for_price(0, 169), None);
    }
}
