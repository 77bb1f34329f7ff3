//! What Outpost knows of each currency, in one table every formatter and
//! parser reads: its ISO 4217 exponent, the unit totals and taxes are rounded
//! to, the unit cash is rounded to, its symbol, the notes and coins in a
//! drawer, and the locale a store in it formats numbers with unless it says
//! otherwise.
//!
//! The exponent is the ISO one and is what amounts are stored in, so data
//! stays valid everywhere; a larger rounding unit is a rule on top (IDR keeps
//! two decimals in storage, but totals, taxes and cash are whole rupiah).

/// One currency's entry. Amounts are in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrencyInfo {
    pub code: &'static str,
    /// Decimals of the minor unit: 0 (JPY), 2 (EUR), 3 (KWD).
    pub exponent: u8,
    /// Line totals, taxes and order totals are multiples of this.
    pub rounding: i64,
    /// A cash payment is rounded to a multiple of this (CHF 0.05 → 5).
    pub cash_rounding: i64,
    pub symbol: &'static str,
    /// Banknotes, smallest first: the quick-cash buttons.
    pub notes: &'static [i64],
    /// Coins, smallest first: the drawer count.
    pub coins: &'static [i64],
    /// The locale a store in this currency formats with by default.
    pub locale: &'static str,
}

/// One table row (the table reads best as positional rows).
#[allow(clippy::too_many_arguments)]
const fn c(
    code: &'static str,
    exponent: u8,
    rounding: i64,
    cash_rounding: i64,
    symbol: &'static str,
    notes: &'static [i64],
    coins: &'static [i64],
    locale: &'static str,
) -> CurrencyInfo {
    CurrencyInfo {
        code,
        exponent,
        rounding,
        cash_rounding,
        symbol,
        notes,
        coins,
        locale,
    }
}

/// Every currency Outpost sells in. A currency missing here is refused
/// rather than guessed: a wrong exponent misprices every sale.
#[rustfmt::skip]
pub const CURRENCIES: &[CurrencyInfo] = &[
    c("AED", 2, 1, 25, "د.إ", &[500, 1000, 2000, 5000, 10000, 20000, 50000, 100000], &[25, 50, 100], "ar-AE"),
    c("AUD", 2, 1, 5, "$", &[500, 1000, 2000, 5000, 10000], &[5, 10, 20, 50, 100, 200], "en-AU"),
    c("BHD", 3, 1, 5, "BD", &[500, 1000, 5000, 10000, 20000], &[5, 10, 25, 50, 100], "ar-BH"),
    c("BRL", 2, 1, 5, "R$", &[200, 500, 1000, 2000, 5000, 10000, 20000], &[5, 10, 25, 50, 100], "pt-BR"),
    c("CAD", 2, 1, 5, "$", &[500, 1000, 2000, 5000, 10000], &[5, 10, 25, 100, 200], "en-CA"),
    c("CHF", 2, 1, 5, "CHF", &[1000, 2000, 5000, 10000, 20000, 100000], &[5, 10, 20, 50, 100, 200, 500], "de-CH"),
    c("CLP", 0, 1, 10, "$", &[1000, 2000, 5000, 10000, 20000], &[10, 50, 100, 500], "es-CL"),
    c("CNY", 2, 1, 10, "¥", &[100, 500, 1000, 2000, 5000, 10000], &[10, 50, 100], "zh-CN"),
    c("CZK", 2, 1, 100, "Kč", &[10000, 20000, 50000, 100000, 200000, 500000], &[100, 200, 500, 1000, 2000, 5000], "cs-CZ"),
    c("DKK", 2, 1, 50, "kr.", &[5000, 10000, 20000, 50000, 100000], &[50, 100, 200, 500, 1000, 2000], "da-DK"),
    c("EUR", 2, 1, 1, "€", &[500, 1000, 2000, 5000, 10000, 20000, 50000], &[1, 2, 5, 10, 20, 50, 100, 200], "de-DE"),
    c("GBP", 2, 1, 1, "£", &[500, 1000, 2000, 5000], &[1, 2, 5, 10, 20, 50, 100, 200], "en-GB"),
    c("HKD", 2, 1, 10, "HK$", &[1000, 2000, 5000, 10000, 50000, 100000], &[10, 20, 50, 100, 200, 500, 1000], "zh-HK"),
    c("HUF", 2, 100, 500, "Ft", &[50000, 100000, 200000, 500000, 1000000, 2000000], &[500, 1000, 2000, 5000, 10000, 20000], "hu-HU"),
    c("IDR", 2, 100, 100, "Rp", &[100000, 200000, 500000, 1000000, 2000000, 5000000, 10000000], &[10000, 20000, 50000, 100000], "id-ID"),
    c("ILS", 2, 1, 10, "₪", &[2000, 5000, 10000, 20000], &[10, 50, 100, 200, 500, 1000], "he-IL"),
    c("INR", 2, 1, 100, "₹", &[1000, 2000, 5000, 10000, 20000, 50000], &[100, 200, 500, 1000, 2000], "en-IN"),
    c("ISK", 0, 1, 1, "kr", &[500, 1000, 2000, 5000, 10000], &[1, 5, 10, 50, 100], "en-GB"),
    c("JOD", 3, 1, 5, "JD", &[1000, 5000, 10000, 20000, 50000], &[5, 10, 25, 50, 100, 250, 500], "ar-JO"),
    c("JPY", 0, 1, 1, "¥", &[1000, 2000, 5000, 10000], &[1, 5, 10, 50, 100, 500], "ja-JP"),
    c("KRW", 0, 1, 10, "₩", &[1000, 5000, 10000, 50000], &[10, 50, 100, 500], "ko-KR"),
    c("KWD", 3, 1, 5, "KD", &[250, 500, 1000, 5000, 10000, 20000], &[5, 10, 20, 50, 100], "ar-KW"),
    c("MAD", 2, 1, 10, "DH", &[2000, 5000, 10000, 20000], &[10, 20, 50, 100, 200, 500, 1000], "ar-MA"),
    c("MXN", 2, 1, 10, "$", &[2000, 5000, 10000, 20000, 50000, 100000], &[50, 100, 200, 500, 1000, 2000], "es-MX"),
    c("NOK", 2, 1, 100, "kr", &[10000, 20000, 50000, 100000], &[100, 500, 1000, 2000], "nb-NO"),
    c("NZD", 2, 1, 10, "$", &[500, 1000, 2000, 5000, 10000], &[10, 20, 50, 100, 200], "en-NZ"),
    c("OMR", 3, 1, 5, "OR", &[100, 500, 1000, 5000, 10000, 20000, 50000], &[5, 10, 25, 50], "ar-OM"),
    c("PLN", 2, 1, 1, "zł", &[1000, 2000, 5000, 10000, 20000, 50000], &[1, 2, 5, 10, 20, 50, 100, 200, 500], "pl-PL"),
    c("RON", 2, 1, 1, "lei", &[100, 500, 1000, 5000, 10000, 20000, 50000], &[1, 5, 10, 50], "ro-RO"),
    c("SEK", 2, 1, 100, "kr", &[2000, 5000, 10000, 20000, 50000], &[100, 200, 500, 1000], "sv-SE"),
    c("SGD", 2, 1, 5, "S$", &[200, 500, 1000, 5000, 10000], &[5, 10, 20, 50, 100], "en-SG"),
    c("THB", 2, 1, 25, "฿", &[2000, 5000, 10000, 50000, 100000], &[25, 50, 100, 200, 500, 1000], "th-TH"),
    c("TND", 3, 1, 10, "DT", &[10000, 20000, 50000], &[10, 20, 50, 100, 200, 500, 1000, 2000, 5000], "ar-TN"),
    c("TRY", 2, 1, 1, "₺", &[500, 1000, 2000, 5000, 10000, 20000], &[1, 5, 10, 25, 50, 100], "tr-TR"),
    c("UGX", 0, 1, 50, "USh", &[1000, 2000, 5000, 10000, 20000, 50000], &[50, 100, 200, 500, 1000], "en-UG"),
    c("USD", 2, 1, 1, "$", &[100, 200, 500, 1000, 2000, 5000, 10000], &[1, 5, 10, 25, 50, 100], "en-US"),
    c("VND", 0, 1, 1000, "₫", &[10000, 20000, 50000, 100000, 200000, 500000], &[1000, 2000, 5000], "vi-VN"),
    c("XAF", 0, 1, 5, "FCFA", &[500, 1000, 2000, 5000, 10000], &[5, 10, 25, 50, 100, 500], "fr-CM"),
    c("XOF", 0, 1, 5, "F CFA", &[500, 1000, 2000, 5000, 10000], &[5, 10, 25, 50, 100, 200, 500], "fr-SN"),
    c("ZAR", 2, 1, 10, "R", &[1000, 2000, 5000, 10000, 20000], &[10, 20, 50, 100, 200, 500], "en-ZA"),
];

impl CurrencyInfo {
    /// Decimals shown to people: the exponent, less those the rounding unit
    /// makes always zero (IDR: 2 − 2 = 0, "Rp 4.575.000", not "4.575.000,00").
    pub fn decimals(&self) -> u8 {
        let mut d = self.exponent;
        let mut unit = self.rounding;
        while d > 0 && unit % 10 == 0 {
            unit /= 10;
            d -= 1;
        }
        d
    }

    /// Minor units per shown unit of the last decimal (IDR: 100).
    pub fn shown_step(&self) -> i64 {
        10i64.pow(u32::from(self.exponent - self.decimals()))
    }
}

/// The entry for an ISO code.
pub fn info(code: &str) -> Option<&'static CurrencyInfo> {
    CURRENCIES.iter().find(|c| c.code == code)
}

/// `minor` rounded to a multiple of `unit`, half away from zero.
pub fn round_to(minor: i64, unit: i64) -> i64 {
    if unit <= 1 {
        return minor;
    }
    crate::money::div_round(i128::from(minor), i128::from(unit)) as i64 * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_coherent() {
        for c in CURRENCIES {
            assert!(
                c.rounding >= 1 && c.cash_rounding % c.rounding == 0,
                "{}",
                c.code
            );
            assert!(c.notes.windows(2).all(|w| w[0] < w[1]), "{} notes", c.code);
            assert!(c.coins.windows(2).all(|w| w[0] < w[1]), "{} coins", c.code);
            assert!(!c.notes.is_empty() && !c.coins.is_empty(), "{}", c.code);
            for v in c.notes.iter().chain(c.coins) {
                assert_eq!(v % c.rounding, 0, "{} {v}", c.code);
            }
            assert!(
                crate::locale::NumberFormat::get(c.locale).is_some(),
                "{} {}",
                c.code,
                c.locale
            );
        }
        let codes: Vec<_> = CURRENCIES.iter().map(|c| c.code).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        assert_eq!(codes, sorted, "kept in order, once each");
        sorted.dedup();
        assert_eq!(codes.len(), sorted.len());
    }

    #[test]
    fn a_coarse_rounding_unit_hides_decimals_that_are_always_zero() {
        assert_eq!(
            (
                info("IDR").unwrap().decimals(),
                info("IDR").unwrap().shown_step()
            ),
            (0, 100)
        );
        assert_eq!(info("EUR").unwrap().decimals(), 2);
        assert_eq!(info("KWD").unwrap().decimals(), 3);
        assert_eq!(info("JPY").unwrap().decimals(), 0);
    }

    #[test]
    fn rounding_to_a_unit_is_half_away_from_zero() {
        assert_eq!(round_to(1234, 1), 1234);
        assert_eq!(round_to(1249, 100), 1200);
        assert_eq!(round_to(1250, 100), 1300);
        assert_eq!(round_to(-1250, 100), -1300);
        assert_eq!(round_to(1232, 5), 1230);
        assert_eq!(round_to(1233, 5), 1235);
    }
}
