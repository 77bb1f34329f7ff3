//! Pricing an order: line amounts, discounts, taxes and totals, and settling its
//! payments. The server computes all of it; a client only proposes lines.
//!
//! The rules, in order:
//! 1. line gross = unit price × quantity / 1000, rounded half away from zero
//!    to the currency's rounding unit (one minor unit, or 100 for IDR, whose
//!    totals are whole rupiah);
//! 2. the line discount comes off that line;
//! 3. an order discount is spread over the lines in proportion to what is left of
//!    each (largest-remainder method in rounding units: every line gets the
//!    floor of its share, the leftover units go one each to the lines with
//!    the largest remainders, ties to the earlier line), so the shares always
//!    add up to the discount;
//! 4. tax is computed per line on what remains, rounded per line to the unit;
//! 5. the order's totals are the sums of its lines, so they can be recomputed from
//!    the stored lines at any time.
//!
//! Paying: tenders must pay the total exactly, except that cash is rounded to
//! the currency's cash unit (CHF 0.05): the cash part of what is due is
//! rounded half away from zero, and the difference is kept as the payment's
//! rounding, so payments less rounding always equal the total.

use crate::currency::round_to;
use crate::error::{DomainError, Result};
use crate::money::{Currency, MAX_MINOR, Money, div_round};
use crate::quantity::Quantity;
use crate::tax::TaxRate;
use serde::Serialize;

/// More lines than this is a scanner stuck on repeat, not a basket.
pub const MAX_LINES: usize = 500;

/// One line as the till asks for it, after the product has been looked up.
#[derive(Debug, Clone, Copy)]
pub struct LineInput {
    pub unit_price_minor: i64,
    pub quantity: Quantity,
    pub tax: TaxRate,
    pub discount_minor: i64,
}

/// One line with every amount decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PricedLine {
    /// Price × quantity before any discount.
    pub gross_minor: i64,
    pub line_discount_minor: i64,
    /// This line's share of the order discount.
    pub order_discount_minor: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    /// What the customer pays for this line, tax included.
    pub total_minor: i64,
    pub tax_ppm: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxSummary {
    pub tax_ppm: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderTotals {
    pub currency: &'static str,
    pub lines: Vec<PricedLine>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub taxes: Vec<TaxSummary>,
}

fn checked_minor(v: i128) -> Result<i64> {
    if v.abs() > MAX_MINOR as i128 {
        return Err(DomainError::AmountOutOfRange);
    }
    Ok(v as i64)
}

/// Prices an order. Fails on an empty order, a discount larger than what it
/// applies to, or amounts out of range; never panics.
pub fn price_order(
    currency: Currency,
    lines: &[LineInput],
    order_discount_minor: i64,
) -> Result<OrderTotals> {
    if lines.is_empty() {
        return Err(DomainError::EmptyOrder);
    }
    if lines.len() > MAX_LINES {
        return Err(DomainError::TooManyLines(MAX_LINES));
    }
    if order_discount_minor < 0 {
        return Err(DomainError::NegativeDiscount);
    }
    let unit = currency.rounding();
    let money = |minor: i64| Money { minor, currency };
    let whole = |what: &'static str, minor: i64| {
        if minor % unit == 0 {
            Ok(())
        } else {
            Err(DomainError::NotInRoundingUnit {
                what,
                unit: money(unit),
            })
        }
    };
    whole("an order discount", order_discount_minor)?;
    let mut bases = Vec::with_capacity(lines.len());
    let mut grosses = Vec::with_capacity(lines.len());
    for l in lines {
        if l.unit_price_minor < 0 || l.unit_price_minor > MAX_MINOR {
            return Err(DomainError::AmountOutOfRange);
        }
        if l.discount_minor < 0 {
            return Err(DomainError::NegativeDiscount);
        }
        whole("a line discount", l.discount_minor)?;
        let gross = checked_minor(div_round(
            l.unit_price_minor as i128 * l.quantity.milli() as i128,
            1000,
        ))?;
        let gross = round_to(gross, unit);
        if l.discount_minor > gross {
            return Err(DomainError::DiscountTooLarge {
                discount: money(l.discount_minor),
                amount: money(gross),
            });
        }
        grosses.push(gross);
        bases.push(gross - l.discount_minor);
    }
    let base_total: i128 = bases.iter().map(|b| *b as i128).sum();
    checked_minor(base_total)?;
    if order_discount_minor as i128 > base_total {
        return Err(DomainError::DiscountTooLarge {
            discount: money(order_discount_minor),
            amount: money(base_total as i64),
        });
    }
    let units: Vec<i64> = bases.iter().map(|b| b / unit).collect();
    let shares: Vec<i64> = allocate(order_discount_minor / unit, &units)
        .into_iter()
        .map(|s| s * unit)
        .collect();

    let mut priced = Vec::with_capacity(lines.len());
    let mut taxes: Vec<TaxSummary> = Vec::new();
    let (mut subtotal, mut discount, mut tax_total, mut total) = (0i128, 0i128, 0i128, 0i128);
    for (i, l) in lines.iter().enumerate() {
        let amount = bases[i] - shares[i];
        let (net, tax, line_total) = l.tax.split_in(amount, unit);
        priced.push(PricedLine {
            gross_minor: grosses[i],
            line_discount_minor: l.discount_minor,
            order_discount_minor: shares[i],
            net_minor: net,
            tax_minor: tax,
            total_minor: line_total,
            tax_ppm: l.tax.ppm,
        });
        subtotal += grosses[i] as i128;
        discount += (l.discount_minor + shares[i]) as i128;
        tax_total += tax as i128;
        total += line_total as i128;
        match taxes.iter_mut().find(|t| t.tax_ppm == l.tax.ppm) {
            Some(t) => {
                t.net_minor += net;
                t.tax_minor += tax;
            }
            None => taxes.push(TaxSummary {
                tax_ppm: l.tax.ppm,
                net_minor: net,
                tax_minor: tax,
            }),
        }
    }
    taxes.sort_by_key(|t| t.tax_ppm);
    Ok(OrderTotals {
        currency: currency.code(),
        lines: priced,
        subtotal_minor: checked_minor(subtotal)?,
        discount_minor: checked_minor(discount)?,
        tax_minor: checked_minor(tax_total)?,
        total_minor: checked_minor(total)?,
        taxes,
    })
}

/// Splits `amount` over `weights` by the largest-remainder method. The shares sum
/// to `amount` exactly; each share is at most its weight when amount ≤ Σweights.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| *w as i128).sum();
    if total == 0 || amount == 0 {
        return vec![0; weights.len()];
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut rems = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let p = amount as i128 * *w as i128;
        shares.push((p / total) as i64);
        rems.push((p % total, i));
    }
    let mut left = amount - shares.iter().sum::<i64>();
    // Largest remainder first; the earlier line wins a tie.
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
    /// Credit sale charged to a customer's account.
    OnAccount,
}

impl PaymentMethod {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "cash" => Ok(PaymentMethod::Cash),
            "card" => Ok(PaymentMethod::Card),
            "on_account" => Ok(PaymentMethod::OnAccount),
            other => Err(DomainError::UnknownPaymentMethod(
                other.chars().take(32).collect(),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::OnAccount => "on_account",
        }
    }
}

/// A tender as the till reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentInput {
    pub method: PaymentMethod,
    /// What this tender pays of the order.
    pub amount_minor: i64,
    /// Cash handed over; the difference is change. Only cash may exceed `amount`.
    pub tendered_minor: Option<i64>,
}

/// A tender with its change decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SettledPayment {
    pub method: PaymentMethod,
    /// What changed hands (for cash: the cash-rounded amount).
    pub amount_minor: i64,
    pub tendered_minor: i64,
    pub change_minor: i64,
    /// `amount_minor` less what it pays of the order: the cash rounding
    /// (0 for every other tender, and wherever cash is not rounded).
    pub rounding_minor: i64,
}

/// Checks that the tenders pay exactly `due` (a split payment is several
/// tenders; the cash part rounded to `currency`'s cash unit) and works out
/// the change and the rounding.
pub fn settle_payments(
    currency: Currency,
    due: i64,
    payments: &[PaymentInput],
) -> Result<Vec<SettledPayment>> {
    let money = |minor: i64| Money { minor, currency };
    let mut out = Vec::with_capacity(payments.len());
    let (mut cash, mut other): (i128, i128) = (0, 0);
    for p in payments {
        if p.amount_minor <= 0 || p.amount_minor > MAX_MINOR {
            return Err(DomainError::NonPositivePayment);
        }
        let tendered = p.tendered_minor.unwrap_or(p.amount_minor);
        if tendered > MAX_MINOR {
            return Err(DomainError::AmountOutOfRange);
        }
        if tendered < p.amount_minor {
            return Err(DomainError::TenderTooSmall {
                tendered: money(tendered),
                amount: money(p.amount_minor),
            });
        }
        if tendered > p.amount_minor && p.method != PaymentMethod::Cash {
            return Err(DomainError::ChangeOnNonCash);
        }
        if p.method == PaymentMethod::Cash {
            cash += p.amount_minor as i128;
        } else {
            other += p.amount_minor as i128;
        }
        out.push(SettledPayment {
            method: p.method,
            amount_minor: p.amount_minor,
            tendered_minor: tendered,
            change_minor: tendered - p.amount_minor,
            rounding_minor: 0,
        });
    }
    // What cash must pay: the rest of the total, rounded to the cash unit.
    let rest = checked_minor(due as i128 - other)?;
    let cash_due = if cash > 0 {
        round_to(rest, currency.cash_rounding())
    } else {
        rest
    };
    if cash != cash_due as i128 {
        return Err(DomainError::PaymentMismatch {
            paid: money(checked_minor(cash + other)?),
            due: money(if cash > 0 {
                cash_due + (due - rest)
            } else {
                due
            }),
        });
    }
    // The whole rounding goes on the last cash tender.
    if let Some(last) = out
        .iter_mut()
        .rev()
        .find(|p| p.method == PaymentMethod::Cash)
    {
        last.rounding_minor = cash_due - rest;
    }
    Ok(out)
}

/// A human order number, unique per store and register by construction:
/// `S01-R2-000123` = store S01, register 2, that register's 123rd order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn new(store_code: &str, register_no: i32, seq: i64) -> Self {
        OrderNumber(format!("{store_code}-R{register_no}-{seq:06}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The register number and sequence of a number read
    /// `<store code>-R<register_no>-<seq>`, or `None`.
    pub fn register_and_seq(number: &str) -> Option<(i32, i64)> {
        let (rest, seq) = number.rsplit_once('-')?;
        let (_, register) = rest.rsplit_once("-R")?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(seq) || !digits(register) {
            return None;
        }
        Some((register.parse().ok()?, seq.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tax::TaxMode;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }
    fn line(price: i64, qty: i64, ppm: i64, disc: i64) -> LineInput {
        LineInput {
            unit_price_minor: price,
            quantity: Quantity::parse(qty, true).unwrap(),
            tax: TaxRate::new(ppm, TaxMode::Inclusive).unwrap(),
            discount_minor: disc,
        }
    }

    #[test]
    fn weighed_line_is_rounded_half_away_from_zero() {
        // 3.99/kg × 0.375 kg = 1.49625 → 1.50
        let t = price_order(eur(), &[line(399, 375, 70_000, 0)], 0).unwrap();
        assert_eq!(t.total_minor, 150);
        // 1.50 incl. 7%: tax = 150 × 7/107 = 9.81 → 10
        assert_eq!(t.tax_minor, 10);
    }

    #[test]
    fn order_discount_remainder_goes_to_the_largest_remainders_then_earliest_line() {
        // 100 split over 3 equal lines: 33/33/33 remainder 1 → first line.
        assert_eq!(allocate(100, &[300, 300, 300]), vec![34, 33, 33]);
        assert_eq!(allocate(10, &[1, 2, 7]), vec![1, 2, 7]);
        assert_eq!(allocate(5, &[0, 10]), vec![0, 5]);
    }

    #[test]
    fn discount_larger_than_the_order_is_refused() {
        let e = price_order(eur(), &[line(100, 1000, 0, 0)], 101).unwrap_err();
        assert!(matches!(e, DomainError::DiscountTooLarge { .. }));
        let e = price_order(eur(), &[line(100, 1000, 0, 101)], 0).unwrap_err();
        assert!(matches!(e, DomainError::DiscountTooLarge { .. }));
    }

    fn pay(method: PaymentMethod, amount: i64, tendered: Option<i64>) -> PaymentInput {
        PaymentInput {
            method,
            amount_minor: amount,
            tendered_minor: tendered,
        }
    }

    #[test]
    fn split_payment_with_cash_change() {
        use PaymentMethod::{Card, Cash};
        let p = settle_payments(
            eur(),
            1000,
            &[pay(Card, 600, None), pay(Cash, 400, Some(500))],
        )
        .unwrap();
        assert_eq!(p[1].change_minor, 100);
        assert_eq!(p[1].rounding_minor, 0);
        let e = settle_payments(eur(), 1000, &[pay(Card, 999, None)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "payments total 9.99 EUR but 10.00 EUR is due",
            "amounts in major units"
        );
        assert_eq!(
            settle_payments(eur(), 1000, &[pay(Card, 1000, Some(1100))]),
            Err(DomainError::ChangeOnNonCash)
        );
    }

    #[test]
    fn cash_is_rounded_to_the_cash_unit_and_the_difference_kept() {
        use PaymentMethod::{Card, Cash};
        let chf = Currency::parse("CHF").unwrap();
        // 12.32 due: cash pays 12.30, rounding -0.02.
        let p = settle_payments(chf, 1232, &[pay(Cash, 1230, Some(2000))]).unwrap();
        assert_eq!(
            (p[0].amount_minor, p[0].change_minor, p[0].rounding_minor),
            (1230, 770, -2)
        );
        assert!(settle_payments(chf, 1232, &[pay(Cash, 1232, None)]).is_err());
        // 12.33 due: cash pays 12.35.
        let p = settle_payments(chf, 1233, &[pay(Cash, 1235, None)]).unwrap();
        assert_eq!(p[0].rounding_minor, 2);
        // Card pays to the rappen; cash rounds only what is left for it.
        let p = settle_payments(chf, 1233, &[pay(Card, 1000, None), pay(Cash, 235, None)]).unwrap();
        assert_eq!((p[0].rounding_minor, p[1].rounding_minor), (0, 2));
        assert!(settle_payments(chf, 1233, &[pay(Card, 1233, None)]).is_ok());
        assert!(settle_payments(chf, 1233, &[pay(Card, 1235, None)]).is_err());
    }

    #[test]
    fn a_currency_with_a_coarse_rounding_unit_prices_in_whole_units() {
        let idr = Currency::parse("IDR").unwrap();
        let vat = TaxRate::new(110_000, TaxMode::Inclusive).unwrap();
        // 1.274 kg at Rp 16,900.00/kg = Rp 21,530.60 → Rp 21,531.00.
        let l = LineInput {
            unit_price_minor: 1_690_000,
            quantity: Quantity::parse(1274, true).unwrap(),
            tax: vat,
            discount_minor: 0,
        };
        let t = price_order(idr, &[l], 0).unwrap();
        assert_eq!(t.total_minor, 2_153_100);
        assert_eq!(t.tax_minor % 100, 0);
        let e = price_order(idr, &[l], 50).unwrap_err();
        assert_eq!(
            e.to_string(),
            "an order discount must be a multiple of 1 IDR in this currency"
        );
    }

    #[test]
    fn order_numbers_embed_store_and_register() {
        assert_eq!(OrderNumber::new("S01", 2, 123).as_str(), "S01-R2-000123");
        assert_eq!(
            OrderNumber::register_and_seq("S01-R2-000123"),
            Some((2, 123))
        );
        assert_eq!(
            OrderNumber::register_and_seq("S01-R12-1234567"),
            Some((12, 1_234_567))
        );
        for bad in [
            "S01-R2-",
            "S01-2-000123",
            "S01-Rx-000123",
            "S01-R2-12a",
            "",
            "R2-1",
        ] {
            assert_eq!(OrderNumber::register_and_seq(bad), None, "{bad}");
        }
    }

    /// Lines from generated (price, quantity in thousandths, tax ppm,
    /// tax included) tuples.
    fn generated(specs: &[(i64, i64, i64, bool)]) -> Vec<LineInput> {
        specs
            .iter()
            .map(|(p, q, r, incl)| LineInput {
                unit_price_minor: *p,
                quantity: Quantity::parse(*q, true).unwrap(),
                tax: TaxRate::new(
                    *r,
                    if *incl {
                        TaxMode::Inclusive
                    } else {
                        TaxMode::Exclusive
                    },
                )
                .unwrap(),
                discount_minor: 0,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn allocation_sums_exactly_and_never_exceeds_a_weight(
            weights in proptest::collection::vec(0i64..1_000_000, 1..40),
            frac in 0.0f64..=1.0,
        ) {
            let total: i64 = weights.iter().sum();
            let amount = (total as f64 * frac) as i64;
            let shares = allocate(amount, &weights);
            prop_assert_eq!(shares.iter().sum::<i64>(), amount);
            for (s, w) in shares.iter().zip(&weights) {
                prop_assert!(*s >= 0 && *s <= *w);
            }
        }

        #[test]
        fn totals_are_the_sum_of_lines_and_net_plus_tax(
            specs in proptest::collection::vec((0i64..100_000, 1i64..50_000, 0i64..300_000, any::<bool>()), 1..20),
            disc_frac in 0.0f64..=1.0,
        ) {
            let lines = generated(&specs);
            let undiscounted = price_order(eur(), &lines, 0).unwrap();
            let base: i64 = undiscounted.lines.iter().map(|l| l.gross_minor).sum();
            let disc = (base as f64 * disc_frac) as i64;
            let t = price_order(eur(), &lines, disc).unwrap();
            prop_assert_eq!(t.total_minor, t.lines.iter().map(|l| l.total_minor).sum::<i64>());
            prop_assert_eq!(t.tax_minor, t.lines.iter().map(|l| l.tax_minor).sum::<i64>());
            prop_assert_eq!(t.discount_minor, disc);
            for l in &t.lines {
                prop_assert_eq!(l.net_minor + l.tax_minor, l.total_minor);
                prop_assert!(l.tax_minor >= 0 && l.net_minor >= 0);
            }
            // Reproducible: pricing the same input twice gives the same totals.
            prop_assert_eq!(price_order(eur(), &lines, disc).unwrap(), t);
        }

        #[test]
        fn coarse_units_keep_every_amount_whole_and_the_sums_exact(
            specs in proptest::collection::vec((0i64..10_000_000, 1i64..50_000, 0i64..300_000, any::<bool>()), 1..20),
            disc_units in 0i64..1_000,
        ) {
            let idr = Currency::parse("IDR").unwrap();
            let lines = generated(&specs);
            let base: i64 = price_order(idr, &lines, 0).unwrap().lines.iter().map(|l| l.gross_minor).sum();
            let disc = (disc_units * 100).min(base);
            let t = price_order(idr, &lines, disc).unwrap();
            prop_assert_eq!(t.total_minor, t.lines.iter().map(|l| l.total_minor).sum::<i64>());
            prop_assert_eq!(t.discount_minor, disc);
            for l in &t.lines {
                for v in [l.gross_minor, l.order_discount_minor, l.net_minor, l.tax_minor, l.total_minor] {
                    prop_assert_eq!(v % 100, 0);
                }
            }
        }

        #[test]
        fn cash_payments_less_their_rounding_pay_the_total_exactly(
            due in 1i64..10_000_000, card_frac in 0.0f64..1.0, code in prop::sample::select(vec!["CHF", "SEK", "EUR", "DKK", "IDR"]),
        ) {
            let c = Currency::parse(code).unwrap();
            let card = ((due as f64) * card_frac) as i64;
            let rest = due - card;
            let cash = crate::currency::round_to(rest, c.cash_rounding());
            let mut tenders = Vec::new();
            if card > 0 { tenders.push(pay(PaymentMethod::Card, card, None)); }
            if cash > 0 { tenders.push(pay(PaymentMethod::Cash, cash, None)); }
            if let Ok(p) = settle_payments(c, due, &tenders) {
                prop_assert_eq!(p.iter().map(|x| x.amount_minor - x.rounding_minor).sum::<i64>(), due);
                prop_assert!(p.iter().all(|x| x.rounding_minor.abs() * 2 <= c.cash_rounding()));
            } else {
                prop_assert!(cash == 0 && rest > 0, "only a cash part that rounds to nothing is refused");
            }
        }

        #[test]
        fn pricing_never_panics_on_any_integer_input(
            price in any::<i64>(), qty in 1i64..=1_000_000_000, disc in any::<i64>(), od in any::<i64>(), ppm in 0i64..=1_000_000,
        ) {
            let l = LineInput {
                unit_price_minor: price,
                quantity: Quantity::parse(qty, true).unwrap(),
                tax: TaxRate::new(ppm, TaxMode::Exclusive).unwrap(),
                discount_minor: disc,
            };
            let _ = price_order(eur(), &[l], od);
        }
    }
}
