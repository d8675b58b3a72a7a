//! Exact money: `Decimal` at the API, integer micro-units (10⁻⁶) in storage.

use crate::{Error, Result};
use rust_decimal::Decimal;

/// Decimal places a stored amount keeps.
pub(crate) const SCALE: u32 = 6;

/// Micro-units in one currency unit.
const MICROS_PER_UNIT: i64 = 1_000_000;

/// The largest single amount accepted: one billion currency units. Window sums are bounded
/// separately: a write that would take one past `i64::MAX` micro-units is refused.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Converts a non-negative amount with at most six decimals into micro-units.
///
/// More decimals, a negative amount or one above [`MAX_AMOUNT`] is a [`Error::Validation`]
/// naming `field` — never rounded.
pub(crate) fn to_micros(field: &'static str, amount: Decimal) -> Result<i64> {
    let amount = amount.normalize();
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(Error::validation(field, format!("{amount} is negative")));
    }
    if amount.scale() > SCALE {
        return Err(Error::validation(field, format!("{amount} has more than {SCALE} decimal places")));
    }
    if amount > MAX_AMOUNT {
        return Err(Error::validation(field, format!("{amount} is more than the maximum of {MAX_AMOUNT}")));
    }
    i64::try_from(amount * Decimal::from(MICROS_PER_UNIT))
        .map_err(|_| Error::validation(field, format!("{amount} is too large")))
}

/// Converts micro-units back into an amount with six decimal places.
pub(crate) fn from_micros(micros: i64) -> Decimal {
    Decimal::new(micros, SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn round_trips_six_decimals() {
        assert_eq!(to_micros("a", dec!(0.000001)).unwrap(), 1);
        assert_eq!(to_micros("a", dec!(12.34)).unwrap(), 12_340_000);
        assert_eq!(to_micros("a", dec!(1.5000000)).unwrap(), 1_500_000);
        assert_eq!(from_micros(300), dec!(0.0003));
        assert_eq!(to_micros("a", MAX_AMOUNT).unwrap(), 1_000_000_000_000_000);
    }

    #[test]
    fn refuses_what_it_cannot_store_exactly() {
        for bad in [dec!(0.0000001), dec!(-0.01), Decimal::MAX, MAX_AMOUNT + dec!(0.000001)] {
            assert!(
                matches!(to_micros("amount", bad), Err(Error::Validation { field: "amount", .. })),
                "{bad}"
            );
        }
    }
}
