//! The mergeable sufficient statistic of one metric in one arm.

use serde::{Deserialize, Serialize};

use super::compensated::DoubleDouble;
use super::error::StatsError;

/// Count, mean and sum of squared deviations (M2) of a stream of values,
/// exact at any offset and under replacement.
///
/// This is what the store keeps per (experiment, phase, variant, metric):
/// values are folded in one at a time with [`Summary::push`], a unit's
/// value is swapped for its new one with [`Summary::replace`], and partial
/// summaries (one per phase, per day or per process) combine with
/// [`Summary::merge`].
///
/// The representation is a **shift** `K` (the first value) with the
/// double-double sums S1 = Σ(x − K) and S2 = Σ(x − K)². Each x − K is
/// formed exactly (TwoSum) and squared exactly (FMA), and the sums carry
/// about 106 bits, so values around 1e9 with a spread of 1e-3, epoch
/// milliseconds or absolute pressures in Pa keep the difference of two
/// means and the variance to full double precision. Welford's running
/// mean rounds once per value and, taken out again by a downdate, drifts
/// further with every replacement; these sums do not. A merge re-centres
/// the other summary on this one's shift exactly (to the same 106 bits),
/// and a shift far from the mean is moved to it before it could cost
/// precision ([`Summary::recentred`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: u64,
    /// The shift K: the first value (0 without values).
    shift: f64,
    /// Σ (x − K).
    s1: DoubleDouble,
    /// Σ (x − K)².
    s2: DoubleDouble,
}

/// The stored form of a [`Summary`]: its count, shift and the two
/// double-double sums `(hi, lo)`. See [`Summary::parts`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SummaryParts {
    pub n: u64,
    pub shift: f64,
    pub s1: (f64, f64),
    pub s2: (f64, f64),
}

impl Summary {
    /// The summary of no values.
    pub const EMPTY: Summary = Summary {
        n: 0,
        shift: 0.0,
        s1: DoubleDouble::ZERO,
        s2: DoubleDouble::ZERO,
    };

    /// The summary of `values`.
    pub fn from_values(values: &[f64]) -> Summary {
        let mut s = Summary::EMPTY;
        for &x in values {
            s.push(x);
        }
        s
    }

    /// `n` values of zero: the units exposed without an observation of a
    /// sum, count or proportion metric.
    pub fn zeros(n: u64) -> Summary {
        Summary {
            n,
            ..Summary::EMPTY
        }
    }

    /// A summary from a count, mean and sample variance (n − 1 denominator),
    /// e.g. statistics reported by another system.
    ///
    /// # Errors
    /// [`StatsError::InvalidArgument`] if `mean` is not finite or `variance` is
    /// negative or not finite.
    pub fn from_mean_variance(n: u64, mean: f64, variance: f64) -> Result<Summary, StatsError> {
        if !mean.is_finite() {
            return Err(StatsError::invalid("mean", "must be finite"));
        }
        if !(variance >= 0.0 && variance.is_finite()) {
            return Err(StatsError::invalid(
                "variance",
                "must be finite and non-negative",
            ));
        }
        let s2 = if n > 1 {
            DoubleDouble::product(variance, (n - 1) as f64)
        } else {
            DoubleDouble::ZERO
        };
        Ok(Summary {
            n,
            shift: mean,
            s1: DoubleDouble::ZERO,
            s2,
        })
    }

    /// A summary from a count, a mean and M2 (the sum of squared
    /// deviations from the mean), the running moments of Welford's form
    /// that the monitoring and feedback stores keep. Exact: the mean
    /// becomes the shift.
    pub fn from_mean_m2(n: u64, mean: f64, m2: f64) -> Summary {
        if n == 0 {
            return Summary::EMPTY;
        }
        Summary {
            n,
            shift: mean,
            s1: DoubleDouble::ZERO,
            s2: DoubleDouble::from_f64(m2),
        }
    }

    /// The summary in the form the store keeps.
    pub fn parts(&self) -> SummaryParts {
        SummaryParts {
            n: self.n,
            shift: self.shift,
            s1: (self.s1.hi, self.s1.lo),
            s2: (self.s2.hi, self.s2.lo),
        }
    }

    /// A summary back from [`Summary::parts`].
    pub fn from_parts(p: SummaryParts) -> Summary {
        Summary {
            n: p.n,
            shift: p.shift,
            s1: DoubleDouble {
                hi: p.s1.0,
                lo: p.s1.1,
            },
            s2: DoubleDouble {
                hi: p.s2.0,
                lo: p.s2.1,
            },
        }
    }

    /// x − K, exactly.
    #[inline]
    fn offset(&self, x: f64) -> DoubleDouble {
        DoubleDouble::difference(x, self.shift)
    }

    /// Adds one value. A non-finite `x` makes the summary non-finite;
    /// callers validate values at the boundary ([`Summary::is_finite`]).
    pub fn push(&mut self, x: f64) {
        if self.n == 0 {
            *self = Summary::EMPTY;
            self.shift = x;
        }
        let d = self.offset(x);
        self.s1 = self.s1.plus(d);
        self.s2 = self.s2.plus(d.square());
        self.n += 1;
    }

    /// Takes one value back out. Removing a value that was never pushed
    /// gives a meaningless summary.
    pub fn remove(&mut self, x: f64) {
        if self.n <= 1 {
            *self = Summary::EMPTY;
            return;
        }
        let d = self.offset(x);
        self.s1 = self.s1.minus(d);
        self.s2 = self.s2.minus(d.square());
        self.n -= 1;
    }

    /// Replaces one value `old` (pushed before) by `new`: how a unit's
    /// value follows its new observations. Exact however often it is done,
    /// up to the 106 bits of the sums.
    pub fn replace(&mut self, old: f64, new: f64) {
        if self.n == 0 {
            self.push(new);
            return;
        }
        let (a, b) = (self.offset(old), self.offset(new));
        self.s1 = self.s1.plus(b.minus(a));
        self.s2 = self.s2.plus(b.square().minus(a.square()));
    }

    /// The same values with shift `k`: S1 and S2 re-centred exactly (to
    /// the sums' 106 bits).
    pub fn recentred(&self, k: f64) -> Summary {
        if self.n == 0 {
            return Summary::EMPTY;
        }
        // x − k = (x − K) + δ with δ = K − k, exact as a double-double.
        let delta = DoubleDouble::difference(self.shift, k);
        let n = self.n as f64;
        let s1 = self.s1.plus(delta.mul_f64(n));
        let s2 = self
            .s2
            .plus(delta.times(self.s1).mul_f64(2.0))
            .plus(delta.square().mul_f64(n));
        Summary {
            n: self.n,
            shift: k,
            s1,
            s2,
        }
    }

    /// Moves the shift to the mean when the mean has wandered far from it
    /// (S1²/n above a million times M2): S2 − S1²/n would otherwise cancel
    /// more digits than the sums keep to spare. Cheap when nothing moves.
    pub fn normalized(&self) -> Summary {
        if self.n == 0 {
            return *self;
        }
        let offset = self.s1.hi / self.n as f64;
        let m2 = self.m2();
        if offset * offset * self.n as f64 > 1e6 * m2 && offset != 0.0 {
            let mean = self.mean();
            if mean.is_finite() && mean != self.shift {
                return self.recentred(mean);
            }
        }
        *self
    }

    /// Combines `other` into `self`, as if all of its values had been
    /// pushed. Exact up to the sums' 106 bits, whatever the two shifts.
    pub fn merge(&mut self, other: &Summary) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let o = other.recentred(self.shift);
        self.s1 = self.s1.plus(o.s1);
        self.s2 = self.s2.plus(o.s2);
        self.n += o.n;
        *self = self.normalized();
    }

    /// The merge of two summaries, leaving both untouched.
    pub fn merged(mut self, other: &Summary) -> Summary {
        self.merge(other);
        self
    }

    /// The mean as a double-double: K + S1/n.
    pub fn mean_exact(&self) -> DoubleDouble {
        if self.n == 0 {
            return DoubleDouble::ZERO;
        }
        DoubleDouble::from_f64(self.shift).plus(self.s1.div_f64(self.n as f64))
    }

    /// The mean (0 without values).
    pub fn mean(&self) -> f64 {
        self.mean_exact().to_f64()
    }

    /// Σ (x − mean)² = S2 − S1²/n (0 below two values).
    pub fn m2(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let m2 = self
            .s2
            .minus(self.s1.square().div_f64(self.n as f64))
            .to_f64();
        // Identical values can leave a hair below zero.
        m2.max(0.0)
    }

    /// mean(other) − mean(self), exact to double precision however large
    /// the common offset of the two: the difference of the two shifts is
    /// exact, and the rest is formed in double-double.
    pub fn mean_difference(&self, other: &Summary) -> f64 {
        other.mean_exact().minus(self.mean_exact()).to_f64()
    }

    /// Whether the count, mean and M2 are finite numbers.
    pub fn is_finite(&self) -> bool {
        self.shift.is_finite() && self.s1.is_finite() && self.s2.is_finite() && {
            let (mean, m2) = (self.mean(), self.m2());
            mean.is_finite() && m2.is_finite()
        }
    }

    /// Sample variance (n − 1 denominator), or `None` below two values.
    pub fn variance(&self) -> Option<f64> {
        if self.n < 2 {
            None
        } else {
            Some(self.m2() / (self.n - 1) as f64)
        }
    }

    /// Sample standard deviation, or `None` below two values.
    pub fn std_dev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// Squared standard error of the mean, s²/n, or `None` below two values.
    pub fn variance_of_mean(&self) -> Option<f64> {
        self.variance().map(|v| v / self.n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_undoes_push() {
        let values = [3.0, 1.5, 8.25, -2.0, 4.0, 4.0, 11.5];
        let mut s = Summary::from_values(&values);
        s.remove(8.25);
        s.remove(-2.0);
        let expected = Summary::from_values(&[3.0, 1.5, 4.0, 4.0, 11.5]);
        assert_eq!(s.n, expected.n);
        assert!((s.mean() - expected.mean()).abs() < 1e-12);
        assert!((s.m2() - expected.m2()).abs() < 1e-10);
        let mut one = Summary::from_values(&[5.0]);
        one.remove(5.0);
        assert_eq!(one, Summary::EMPTY);
    }

    /// Neumaier-compensated sum: the reference against which accuracy is judged.
    fn exact_sum(xs: impl Iterator<Item = f64>) -> f64 {
        let (mut sum, mut c) = (0.0f64, 0.0f64);
        for x in xs {
            let t = sum + x;
            c += if sum.abs() >= x.abs() {
                (sum - t) + x
            } else {
                (x - t) + sum
            };
            sum = t;
        }
        sum + c
    }

    fn two_pass(xs: &[f64]) -> (f64, f64) {
        let mean = exact_sum(xs.iter().copied()) / xs.len() as f64;
        let m2 = exact_sum(xs.iter().map(|x| (x - mean) * (x - mean)));
        (mean, m2 / (xs.len() - 1) as f64)
    }

    /// Deterministic values around 1e9 with a spread of about 1e-3.
    fn large_close_values(n: usize) -> Vec<f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                1e9 + 1e-3 * (u - 0.5) * 3.4
            })
            .collect()
    }

    #[test]
    fn welford_is_accurate_for_large_close_values() {
        let xs = large_close_values(100_000);
        let (mean, var) = two_pass(&xs);
        let s = Summary::from_values(&xs);
        assert_eq!(s.n, 100_000);
        // Within one ulp of the mean (ulp at 1e9 is 1.2e-7), and the
        // variance to the precision of this reference, whose own rounded
        // mean costs it about 4e-8 (the exact comparison, with rationals,
        // is in tests/stats_exact.rs).
        assert!(
            (s.mean() - mean).abs() < 2e-7,
            "mean {} vs {mean}",
            s.mean()
        );
        let rel = (s.variance().unwrap() / var - 1.0).abs();
        assert!(rel < 1e-7, "variance relative error {rel}");
        // Streaming pushes (what a recorder does) are as exact.
        let mut streamed = Summary::EMPTY;
        for &x in &xs {
            streamed.push(x);
        }
        assert!(
            (streamed.mean() - mean).abs() < 2e-7,
            "streamed mean {}",
            streamed.mean()
        );
        let rel = (streamed.variance().unwrap() / var - 1.0).abs();
        assert!(rel < 1e-7, "streamed variance relative error {rel}");
        // The naive formula fails badly here: the test can tell them apart.
        let n = xs.len() as f64;
        let sum = exact_sum(xs.iter().copied());
        let naive = (exact_sum(xs.iter().map(|x| x * x)) - sum * sum / n) / (n - 1.0);
        assert!((naive / var - 1.0).abs() > 1e-2, "naive {naive} vs {var}");
    }

    #[test]
    fn merging_chunks_equals_one_pass() {
        let xs = large_close_values(30_001);
        let whole = Summary::from_values(&xs);
        let mut merged = Summary::EMPTY;
        for chunk in xs.chunks(997) {
            merged.merge(&Summary::from_values(chunk));
        }
        let (mean, var) = two_pass(&xs);
        assert_eq!(merged.n, whole.n);
        assert!((merged.mean() - mean).abs() < 2e-7);
        let rel = (merged.variance().unwrap() / var - 1.0).abs();
        assert!(rel < 1e-7, "merged variance relative error {rel}");
    }

    #[test]
    fn small_exact_cases() {
        let s = Summary::from_values(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.mean(), 5.0);
        assert!((s.variance().unwrap() - 32.0 / 7.0).abs() < 1e-15);
        assert_eq!(Summary::from_values(&[3.0]).variance(), None);
        assert_eq!(Summary::EMPTY.std_dev(), None);
        let a = Summary::from_values(&[1.0, 2.0]);
        assert_eq!(Summary::EMPTY.merged(&a), a);
        assert_eq!(a.merged(&Summary::EMPTY), a);
    }

    #[test]
    fn from_mean_variance_round_trips() {
        let s = Summary::from_mean_variance(10, 3.0, 2.5).unwrap();
        assert_eq!(s.variance(), Some(2.5));
        assert!(Summary::from_mean_variance(10, 3.0, -1.0).is_err());
        assert!(Summary::from_mean_variance(10, f64::NAN, 1.0).is_err());
    }

    #[test]
    fn serde_round_trip() {
        let s = Summary::from_values(&[1.5, 2.5, 9.0]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), s);
    }
}
