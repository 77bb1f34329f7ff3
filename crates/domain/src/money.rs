//! Money as integer minor units tagged with its currency; never a float.

use crate::error::{DomainError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest absolute amount we accept in minor units: far above any till's takings,
/// far below i64::MAX so sums of many lines cannot overflow.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// A currency of the table in [`crate::currency`]: it carries its entry, so
/// every rounding unit and exponent is at hand without a look-up.
#[derive(Debug, Clone, Copy)]
pub struct Currency {
    info: &'static crate::currency::CurrencyInfo,
}

impl PartialEq for Currency {
    fn eq(&self, other: &Self) -> bool {
        self.info.code == other.info.code
    }
}

impl Eq for Currency {}

impl std::hash::Hash for Currency {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.info.code.hash(h);
    }
}

impl Currency {
    /// A currency of the table in [`crate::currency`]; any other is refused.
    pub fn parse(code: &str) -> Result<Self> {
        crate::currency::info(code)
            .map(|info| Currency { info })
            .ok_or_else(|| DomainError::UnknownCurrency(code.chars().take(16).collect()))
    }
    /// Its entry in the currency table.
    pub fn info(&self) -> &'static crate::currency::CurrencyInfo {
        self.info
    }
    /// Totals and taxes are multiples of this many minor units.
    pub fn rounding(&self) -> i64 {
        self.info.rounding
    }
    /// Cash payments are multiples of this many minor units.
    pub fn cash_rounding(&self) -> i64 {
        self.info.cash_rounding
    }
    pub fn code(&self) -> &'static str {
        self.info.code
    }
    /// Number of decimals of the minor unit: 0 (JPY), 2 (EUR), 3 (KWD).
    pub fn exponent(&self) -> u8 {
        self.info.exponent
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Result<Self> {
        if minor.abs() > MAX_MINOR {
            return Err(DomainError::AmountOutOfRange);
        }
        Ok(Money { minor, currency })
    }
    pub fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }
    pub fn checked_add(self, other: Money) -> Result<Money> {
        self.same_currency(&other)?;
        Money::new(
            self.minor
                .checked_add(other.minor)
                .ok_or(DomainError::AmountOutOfRange)?,
            self.currency,
        )
    }
    pub fn checked_sub(self, other: Money) -> Result<Money> {
        self.same_currency(&other)?;
        Money::new(
            self.minor
                .checked_sub(other.minor)
                .ok_or(DomainError::AmountOutOfRange)?,
            self.currency,
        )
    }
    fn same_currency(&self, other: &Money) -> Result<()> {
        if self.currency != other.currency {
            return Err(DomainError::CurrencyMismatch {
                left: self.currency.code().into(),
                right: other.currency.code().into(),
            });
        }
        Ok(())
    }
}

impl Money {
    /// The amount without the currency code: `12.34`, `1200`, `1.250`.
    /// Without the decimals a coarse rounding unit keeps at zero ("1 IDR"
    /// for 100 minor units), like every other place amounts are shown.
    pub fn amount(&self) -> String {
        let nf = crate::locale::NumberFormat::get("en-US").expect("en-US is in the table");
        // No group marks: a number that never reaches the grouping minimum.
        let plain = crate::locale::NumberFormat {
            min_grouping: u8::MAX,
            ..*nf
        };
        self.written(&plain)
    }
}

impl Money {
    /// `1.234,50 EUR` in `locale`'s way of writing numbers (a locale
    /// Outpost does not know writes as en-US does).
    pub fn in_locale(&self, locale: &str) -> String {
        format!(
            "{} {}",
            self.written(Self::format_of(locale)),
            self.currency.code()
        )
    }

    /// The amount alone as a receipt prints it in `locale`
    /// ([`crate::locale::NumberFormat::for_print`]).
    pub fn printed(&self, locale: &str) -> String {
        self.written(&Self::format_of(locale).for_print())
    }

    fn format_of(locale: &str) -> &'static crate::locale::NumberFormat {
        crate::locale::NumberFormat::get(locale)
            .or_else(|| crate::locale::NumberFormat::get("en-US"))
            .expect("en-US is in the table")
    }

    /// The digits people see: without the decimals a coarse rounding unit
    /// keeps at zero (whole rupiah), unless this amount has them.
    fn written(&self, nf: &crate::locale::NumberFormat) -> String {
        let info = self.currency.info();
        let step = info.shown_step();
        if self.minor % step == 0 {
            nf.amount(self.minor / step, info.decimals())
        } else {
            nf.amount(self.minor, self.currency.exponent())
        }
    }

    /// An amount a person typed in `locale`, in minor units; `None` when it
    /// is not one (or has decimals the currency does not show).
    pub fn parse_typed(text: &str, currency: Currency, locale: &str) -> Option<i64> {
        let info = currency.info();
        Self::format_of(locale)
            .parse(text, info.decimals())?
            .checked_mul(info.shown_step())
    }
}

impl fmt::Display for Money {
    /// `12.34 EUR`, `1200 JPY`, `1.250 KWD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount(), self.currency.code())
    }
}

/// `n / d` rounded half away from zero: the commercial rounding tills and tax
/// authorities expect (2.5 → 3, -2.5 → -3). `d` must be positive.
pub fn div_round(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d { q + n.signum() } else { q }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_know_their_decimals() {
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("EUR").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XXX").is_err());
    }

    #[test]
    fn money_displays_with_its_exponent() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(Money::new(-1205, eur).unwrap().to_string(), "-12.05 EUR");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::new(1250, kwd).unwrap().to_string(), "1.250 KWD");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(1200, jpy).unwrap().to_string(), "1200 JPY");
    }

    #[test]
    fn mixing_currencies_is_refused() {
        let a = Money::new(1, Currency::parse("EUR").unwrap()).unwrap();
        let b = Money::new(1, Currency::parse("USD").unwrap()).unwrap();
        assert!(matches!(
            a.checked_add(b),
            Err(DomainError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn amounts_beyond_the_cap_are_refused() {
        let eur = Currency::parse("EUR").unwrap();
        assert!(Money::new(MAX_MINOR + 1, eur).is_err());
        let max = Money::new(MAX_MINOR, eur).unwrap();
        assert!(max.checked_add(Money::new(1, eur).unwrap()).is_err());
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-4, 3), -1);
        assert_eq!(div_round(0, 7), 0);
    }
}
