//! Quantities as integer thousandths, so weighed goods (0.375 kg) are exact.

use crate::error::{DomainError, Result};
use serde::Serialize;

/// Thousandths of a unit or of a kilogram/litre. 1 piece = 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Quantity(i64);

/// 1,000,000 units: more than any line on a till, small enough that
/// price × quantity never overflows i128 arithmetic.
pub const MAX_MILLI: i64 = 1_000_000_000;

impl Quantity {
    /// A positive quantity; `weighed` products may be fractional, unit products not.
    pub fn parse(milli: i64, weighed: bool) -> Result<Self> {
        if !(1..=MAX_MILLI).contains(&milli) {
            return Err(DomainError::InvalidQuantity(milli));
        }
        if !weighed && milli % 1000 != 0 {
            return Err(DomainError::FractionalUnitQuantity(milli));
        }
        Ok(Quantity(milli))
    }
    pub fn milli(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_goods_need_whole_quantities_and_weighed_goods_do_not() {
        assert!(Quantity::parse(2000, false).is_ok());
        assert_eq!(
            Quantity::parse(1500, false),
            Err(DomainError::FractionalUnitQuantity(1500))
        );
        assert_eq!(Quantity::parse(375, true).unwrap().milli(), 375);
    }

    #[test]
    fn zero_negative_and_huge_quantities_are_refused() {
        for q in [0, -1000, MAX_MILLI + 1, i64::MIN, i64::MAX] {
            assert!(Quantity::parse(q, true).is_err(), "{q}");
        }
    }
}
