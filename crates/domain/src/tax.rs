//! Tax rates in parts per million, applied to prices that include or exclude tax.

use crate::error::{DomainError, Result};
use crate::money::div_round;
use serde::{Deserialize, Serialize};

/// Whether the shelf price already contains the tax (EU retail) or tax is added
/// on top (US sales tax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    Inclusive,
    Exclusive,
}

impl TaxMode {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "inclusive" => Ok(TaxMode::Inclusive),
            "exclusive" => Ok(TaxMode::Exclusive),
            _ => Err(DomainError::Invalid(format!("unknown tax mode {s:?}"))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            TaxMode::Inclusive => "inclusive",
            TaxMode::Exclusive => "exclusive",
        }
    }
}

/// A rate such as 19% (190_000 ppm) or 8.1% (81_000 ppm); parts per million so
/// rates like 13.975% are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaxRate {
    pub ppm: i64,
    pub mode: TaxMode,
}

impl TaxRate {
    pub fn new(ppm: i64, mode: TaxMode) -> Result<Self> {
        if !(0..=1_000_000).contains(&ppm) {
            return Err(DomainError::InvalidTaxRate);
        }
        Ok(TaxRate { ppm, mode })
    }

    /// Splits a line amount (in the price's own basis) into (net, tax, gross).
    /// Tax is rounded once per line, half away from zero.
    pub fn split(&self, amount: i64) -> (i64, i64, i64) {
        self.split_in(amount, 1)
    }

    /// [`TaxRate::split`] with the tax rounded to a multiple of `unit` minor
    /// units (a currency whose totals are rounded coarser than its minor
    /// unit); `amount` is such a multiple already.
    pub fn split_in(&self, amount: i64, unit: i64) -> (i64, i64, i64) {
        let unit = i128::from(unit.max(1));
        let a = amount as i128;
        let p = self.ppm as i128;
        match self.mode {
            TaxMode::Inclusive => {
                let tax = (div_round(a * p, (1_000_000 + p) * unit) * unit) as i64;
                (amount - tax, tax, amount)
            }
            TaxMode::Exclusive => {
                let tax = (div_round(a * p, 1_000_000 * unit) * unit) as i64;
                (amount, tax, amount + tax)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusive_tax_is_taken_out_of_the_price() {
        let vat = TaxRate::new(190_000, TaxMode::Inclusive).unwrap();
        // 11.90 incl. 19% = 10.00 net + 1.90 tax
        assert_eq!(vat.split(1190), (1000, 190, 1190));
    }

    #[test]
    fn exclusive_tax_is_added_on_top() {
        let st = TaxRate::new(88_750, TaxMode::Exclusive).unwrap();
        // 10.00 + 8.875% = 0.8875 → 0.89
        assert_eq!(st.split(1000), (1000, 89, 1089));
    }

    #[test]
    fn rates_outside_zero_to_hundred_percent_are_refused() {
        assert!(TaxRate::new(-1, TaxMode::Inclusive).is_err());
        assert!(TaxRate::new(1_000_001, TaxMode::Inclusive).is_err());
    }
}
