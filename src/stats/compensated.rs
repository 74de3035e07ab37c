//! Double-double arithmetic: a number held as the unevaluated sum of two
//! doubles, `hi + lo` with |lo| ≤ ulp(hi)/2, about 106 bits of precision.
//!
//! The moments of a [`Summary`](super::Summary) are kept in this form so
//! that values with a large common offset (epoch milliseconds, absolute
//! pressures, 1e9 plus noise) and units whose value is replaced again and
//! again keep every digit that matters: the sums are exact to about 1e-32
//! of their size instead of 1e-16. The error-free transformations are
//! Knuth's TwoSum and the FMA product (Dekker 1971; Hida, Li & Bailey,
//! "Library for double-double and quad-double arithmetic", 2001).

use serde::{Deserialize, Serialize};

/// `a + b` exactly, as the rounded sum and its rounding error (Knuth's
/// TwoSum: no condition on the magnitudes).
#[inline]
pub(crate) fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `a + b` exactly when |a| ≥ |b| (Dekker's FastTwoSum).
#[inline]
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a × b` exactly, as the rounded product and its rounding error (one
/// fused multiply-add gives the error exactly).
#[inline]
pub(crate) fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// A double-double number, `hi + lo`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DoubleDouble {
    /// The leading part: the value rounded to a double.
    pub hi: f64,
    /// What `hi` misses, at most half an ulp of `hi`.
    pub lo: f64,
}

impl DoubleDouble {
    /// Zero.
    pub const ZERO: DoubleDouble = DoubleDouble { hi: 0.0, lo: 0.0 };

    /// `x`, exactly.
    #[inline]
    pub fn from_f64(x: f64) -> DoubleDouble {
        DoubleDouble { hi: x, lo: 0.0 }
    }

    /// `a − b` of two doubles, exactly.
    #[inline]
    pub fn difference(a: f64, b: f64) -> DoubleDouble {
        let (hi, lo) = two_sum(a, -b);
        DoubleDouble { hi, lo }
    }

    /// `a × b` of two doubles, exactly.
    #[inline]
    pub fn product(a: f64, b: f64) -> DoubleDouble {
        let (hi, lo) = two_prod(a, b);
        DoubleDouble { hi, lo }
    }

    /// The nearest double (up to one rounding of `lo` into `hi`).
    #[inline]
    pub fn to_f64(self) -> f64 {
        self.hi + self.lo
    }

    /// Whether both parts are finite.
    #[inline]
    pub fn is_finite(self) -> bool {
        self.hi.is_finite() && self.lo.is_finite()
    }

    /// `self + other` (the accurate double-double sum: both parts' errors
    /// are carried, relative error about 2⁻¹⁰⁶).
    #[inline]
    pub fn plus(self, other: DoubleDouble) -> DoubleDouble {
        let (s, e) = two_sum(self.hi, other.hi);
        let (t, f) = two_sum(self.lo, other.lo);
        let (s, e) = quick_two_sum(s, e + t);
        let (hi, lo) = quick_two_sum(s, e + f);
        DoubleDouble { hi, lo }
    }

    /// `−self`.
    #[inline]
    pub fn negated(self) -> DoubleDouble {
        DoubleDouble {
            hi: -self.hi,
            lo: -self.lo,
        }
    }

    /// `self − other`.
    #[inline]
    pub fn minus(self, other: DoubleDouble) -> DoubleDouble {
        self.plus(other.negated())
    }

    /// `self × other`.
    #[inline]
    pub fn times(self, other: DoubleDouble) -> DoubleDouble {
        let (p, e) = two_prod(self.hi, other.hi);
        let e = e + (self.hi * other.lo + self.lo * other.hi);
        let (hi, lo) = quick_two_sum(p, e);
        DoubleDouble { hi, lo }
    }

    /// `self × x`.
    #[inline]
    pub fn mul_f64(self, x: f64) -> DoubleDouble {
        let (p, e) = two_prod(self.hi, x);
        let (hi, lo) = quick_two_sum(p, e + self.lo * x);
        DoubleDouble { hi, lo }
    }

    /// `self / x`: a quotient and one correction step.
    #[inline]
    pub fn div_f64(self, x: f64) -> DoubleDouble {
        let q1 = self.hi / x;
        // The remainder self − q1·x, exactly up to the low parts.
        let r = self.minus(DoubleDouble::product(q1, x));
        let q2 = r.hi / x;
        let r = r.minus(DoubleDouble::product(q2, x));
        let q3 = r.hi / x;
        let (hi, lo) = quick_two_sum(q1, q2);
        DoubleDouble { hi, lo }.plus(DoubleDouble::from_f64(q3))
    }

    /// `self²`.
    #[inline]
    pub fn square(self) -> DoubleDouble {
        self.times(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_free_transformations() {
        let (s, e) = two_sum(1e16, 1.0);
        assert_eq!((s, e), (1e16, 1.0));
        let (p, e) = two_prod(1.0 + f64::EPSILON, 1.0 + f64::EPSILON);
        assert_eq!(p, 1.0 + 2.0 * f64::EPSILON);
        assert_eq!(e, f64::EPSILON * f64::EPSILON);
    }

    #[test]
    fn keeps_what_a_double_loses() {
        // (1e9 + 0.1) − 1e9 in doubles is 0.10000002384; the double-double
        // difference of the two doubles is exact.
        let x = 1e9 + 0.1;
        let d = DoubleDouble::difference(x, 1e9);
        assert_eq!(
            d.to_f64(),
            x - 1e9,
            "the difference of two doubles is exact"
        );
        let big = DoubleDouble::from_f64(1e20).plus(DoubleDouble::from_f64(3.0));
        assert_eq!(big.minus(DoubleDouble::from_f64(1e20)).to_f64(), 3.0);
        let third = DoubleDouble::from_f64(1.0).div_f64(3.0);
        let back = third.mul_f64(3.0).minus(DoubleDouble::from_f64(1.0));
        assert!(back.to_f64().abs() < 1e-31, "{back:?}");
        let sq = DoubleDouble::from_f64(1e8 + 1.0).square();
        assert_eq!(sq.minus(DoubleDouble::from_f64(1e16)).to_f64(), 2e8 + 1.0);
    }
}
