//! GS1 barcodes as a till meets them: the check digit of EAN-13, EAN-8 and
//! UPC-A (a misread code is said so, not "unknown"), and the
//! variable-measure labels a store's scale prints on weighed goods.
//!
//! A label is an EAN-13 in the restricted-circulation range 20–29: two
//! digits of prefix, the item (the scale's PLU: 5 digits unless the store
//! says 4 or 6), optionally a price verifier digit (GS1 General
//! Specifications 7.9.3–7.9.4, for a 4- or 5-digit value), the value, and
//! the check digit. The store says which prefixes carry a price (in the
//! currency's minor units) and which a weight (in grams), and the layout
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

/// Which label prefixes carry a price and which a weight, and how the
/// label's digits are laid out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LabelRules {
    pub price_prefixes: Vec<String>,
    pub weight_prefixes: Vec<String>,
    /// The item's digits after the prefix: 4, 5 (the default) or 6.
    pub item_digits: usize,
    /// A verifier digit of the value between the item and the value.
    pub verifier_digit: bool,
}

impl Default for LabelRules {
    fn default() -> Self {
        LabelRules {
            price_prefixes: Vec::new(),
            weight_prefixes: Vec::new(),
            item_digits: 5,
            verifier_digit: false,
        }
    }
}

/// A label whose value does not match its verifier digit: misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Misread;

/// What each digit of a value adds to its verifier digit's sum, by the
/// weighting factors of GS1 7.9.2: 2- (twice the digit, less its tens),
/// 3, 5+ (five times, plus its tens) and 5- (five times, less its tens),
/// each taken to its units digit.
const TWO_MINUS: [u8; 10] = [0, 2, 4, 6, 8, 9, 1, 3, 5, 7];
const THREE: [u8; 10] = [0, 3, 6, 9, 2, 5, 8, 1, 4, 7];
const FIVE_PLUS: [u8; 10] = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9];
const FIVE_MINUS: [u8; 10] = [0, 5, 9, 4, 8, 3, 7, 2, 6, 1];

/// The verifier digit of a 4- or 5-digit price or weight (GS1 7.9.3,
/// 7.9.4); `None` for another length.
pub fn verifier_digit(value: &str) -> Option<u8> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d: Vec<usize> = value.bytes().map(|b| usize::from(b - b'0')).collect();
    match d.as_slice() {
        [a, b, c, e] => {
            let sum = TWO_MINUS[*a] + TWO_MINUS[*b] + THREE[*c] + FIVE_MINUS[*e];
            Some(sum * 3 % 10)
        }
        [a, b, c, e, f] => {
            let sum = u32::from(FIVE_PLUS[*a])
                + u32::from(TWO_MINUS[*b])
                + u32::from(FIVE_MINUS[*c])
                + u32::from(FIVE_PLUS[*e])
                + u32::from(TWO_MINUS[*f]);
            let target = ((10 - sum % 10) % 10) as u8;
            // The digit whose 5- product is the sum's complement.
            FIVE_MINUS
                .iter()
                .position(|p| *p == target)
                .map(|v| v as u8)
        }
        _ => None,
    }
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
    /// The scale's item number.
    pub item: String,
    /// The label with its value zeroed: the barcode its product carries.
    pub base: String,
    pub measure: Measure,
}

impl LabelRules {
    /// Refuses a layout no label has: an item of 4 to 6 digits, and with a
    /// verifier digit a value of 4 or 5.
    pub fn check(&self) -> Result<(), String> {
        let value = self.value_digits();
        if !(4..=6).contains(&self.item_digits) || self.verifier_digit && !(4..=5).contains(&value)
        {
            return Err(format!(
                "scale_labels: item_digits {} {} leaves a value of {value} digits; an item is 4 to 6 digits, and with a verifier digit the value is 4 or 5",
                self.item_digits,
                if self.verifier_digit {
                    "with a verifier digit"
                } else {
                    "without a verifier digit"
                },
            ));
        }
        let bad = |p: &String| {
            p.len() != 2 || !p.starts_with('2') || !p.bytes().all(|b| b.is_ascii_digit())
        };
        if let Some(p) = self
            .price_prefixes
            .iter()
            .chain(&self.weight_prefixes)
            .find(|p| bad(p))
        {
            return Err(format!("scale_labels: prefix {p:?} is not one of 20 to 29"));
        }
        Ok(())
    }

    fn value_digits(&self) -> usize {
        10usize.saturating_sub(self.item_digits + usize::from(self.verifier_digit))
    }

    /// The label `code` is, under these rules; `Ok(None)` for any other
    /// code (a code whose check digit is wrong is no label), and
    /// [`Misread`] for a label whose value fails its verifier digit.
    pub fn read(&self, code: &str) -> Result<Option<Label>, Misread> {
        if code.len() != 13 || !check_digit_ok(code) {
            return Ok(None);
        }
        let prefix = &code[..2];
        let item_end = 2 + self.item_digits;
        let value_start = item_end + usize::from(self.verifier_digit);
        let Ok(value) = code[value_start..12].parse::<i64>() else {
            return Ok(None);
        };
        let measure = if self.price_prefixes.iter().any(|p| p == prefix) {
            Measure::Price(value)
        } else if self.weight_prefixes.iter().any(|p| p == prefix) {
            Measure::Grams(value)
        } else {
            return Ok(None);
        };
        if self.verifier_digit
            && verifier_digit(&code[value_start..12]) != Some(code.as_bytes()[item_end] - b'0')
        {
            return Err(Misread);
        }
        Ok(Some(Label {
            item: code[2..item_end].to_owned(),
            base: with_check_digit(&format!("{:0<12}", &code[..item_end])),
            measure,
        }))
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
            ..LabelRules::default()
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
        let price = rules().read("2100005001274").unwrap().unwrap();
        assert_eq!(price.base, "2100005000000");
        assert_eq!(price.item, "00005");
        assert_eq!(price.measure, Measure::Price(127));
        let weight = rules()
            .read(&with_check_digit("260000700750"))
            .unwrap()
            .unwrap();
        assert_eq!(weight.measure, Measure::Grams(750));
        assert_eq!(weight.base, with_check_digit("260000700000"));
        // Another prefix, a misread, another length: no label.
        assert_eq!(rules().read(&with_check_digit("230000500127")), Ok(None));
        assert_eq!(rules().read("2100005001275"), Ok(None));
        assert_eq!(rules().read("4006381333931"), Ok(None));
    }

    #[test]
    fn verifier_digits_of_four_and_five_digit_values() {
        // The GS1 General Specifications' own examples (7.9.3, 7.9.4).
        assert_eq!(verifier_digit("2875"), Some(9));
        assert_eq!(verifier_digit("14685"), Some(6));
        assert_eq!(verifier_digit("0000"), Some(0));
        assert_eq!(verifier_digit("123"), None);
        assert_eq!(verifier_digit("12a4"), None);
        // Any one digit changed changes it.
        for i in 0..4 {
            for d in b'0'..=b'9' {
                let mut v = *b"2875";
                if v[i] == d {
                    continue;
                }
                v[i] = d;
                assert_ne!(verifier_digit(std::str::from_utf8(&v).unwrap()), Some(9));
            }
        }
    }

    #[test]
    fn a_label_with_a_verifier_digit_reads_its_price_and_a_wrong_one_is_misread() {
        // Prefix 20, item 00012, verifier 9, price 28.75.
        let rules = LabelRules {
            verifier_digit: true,
            ..rules()
        };
        rules.check().unwrap();
        let label = rules
            .read(&with_check_digit("200001292875"))
            .unwrap()
            .unwrap();
        assert_eq!(label.item, "00012");
        assert_eq!(label.measure, Measure::Price(2875));
        assert_eq!(label.base, with_check_digit("200001200000"));
        // The EAN check digit right, the verifier wrong: a misread price.
        assert_eq!(rules.read(&with_check_digit("200001292876")), Err(Misread));
        // A 4-digit item with a 5-digit price.
        let four = LabelRules {
            item_digits: 4,
            ..rules.clone()
        };
        let label = four
            .read(&with_check_digit("210123614685"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (label.item.as_str(), label.measure),
            ("0123", Measure::Price(14685))
        );
        // Six digits of item leave three of value: no such layout.
        let six = LabelRules {
            item_digits: 6,
            ..rules
        };
        assert!(six.check().is_err());
        assert!(
            LabelRules {
                price_prefixes: vec!["19".into()],
                ..LabelRules::default()
            }
            .check()
            .is_err()
        );
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
