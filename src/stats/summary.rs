//! The mergeable sufficient statistic of one metric in one arm.

use serde::{Deserialize, Serialize};

use super::error::StatsError;

/// Count, mean and sum of squared deviations (M2) of a stream of values.
///
/// This is what the store keeps per (experiment, variant, metric): values are
/// folded in one at a time with [`Summary::push`] (Welford 1962) and partial
/// summaries, say one per day or per process, are combined with
/// [`Summary::merge`] (Chan, Golub & LeVeque 1979). Both keep the deviation
/// form, so the variance stays accurate when the values are large and close
/// together (around 1e9 with a spread of 1e-3), where the textbook
/// Σx² − n·x̄² loses every digit.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: u64,
    /// Their mean (0 when `n` is 0).
    pub mean: f64,
    /// Σ (x − mean)².
    pub m2: f64,
}

impl Summary {
    /// The summary of no values.
    pub const EMPTY: Summary = Summary {
        n: 0,
        mean: 0.0,
        m2: 0.0,
    };

    /// The summary of `values`.
    ///
    /// Folds blocks of 64 values with Welford's update and merges the blocks
    /// pairwise, so that the rounding of the mean grows with log n rather than
    /// √n (each update rounds the mean to the grid of its magnitude: about
    /// 1.2e-7 at 1e9).
    pub fn from_values(values: &[f64]) -> Summary {
        if values.len() <= 64 {
            let mut s = Summary::EMPTY;
            for &x in values {
                s.push(x);
            }
            return s;
        }
        let (left, right) = values.split_at(values.len() / 2);
        Summary::from_values(left).merged(&Summary::from_values(right))
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
        let m2 = if n > 1 {
            variance * (n - 1) as f64
        } else {
            0.0
        };
        Ok(Summary { n, mean, m2 })
    }

    /// Adds one value (Welford's update). A non-finite `x` makes the summary
    /// non-finite; callers validate values at the boundary.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        // (x − old mean)(x − new mean): the exact increment of M2.
        self.m2 += delta * (x - self.mean);
    }

    /// Takes one value back out (Welford's update in reverse): how a unit's
    /// old value is replaced when new observations change it. Removing a
    /// value that was never pushed gives a meaningless summary.
    pub fn remove(&mut self, x: f64) {
        if self.n <= 1 {
            *self = Summary::EMPTY;
            return;
        }
        let old_mean = self.mean;
        self.n -= 1;
        self.mean -= (x - old_mean) / self.n as f64;
        // Rounding may leave a hair below zero for identical values.
        self.m2 = (self.m2 - (x - old_mean) * (x - self.mean)).max(0.0);
    }

    /// Combines `other` into `self`, as if all of its values had been pushed
    /// (Chan et al.'s pairwise update). Order does not matter beyond rounding.
    pub fn merge(&mut self, other: &Summary) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = self.n + other.n;
        let nf = n as f64;
        let delta = other.mean - self.mean;
        self.mean += delta * (nb / nf);
        self.m2 += other.m2 + delta * delta * (na * nb / nf);
        self.n = n;
    }

    /// The merge of two summaries, leaving both untouched.
    pub fn merged(mut self, other: &Summary) -> Summary {
        self.merge(other);
        self
    }

    /// Sample variance (n − 1 denominator), or `None` below two values.
    pub fn variance(&self) -> Option<f64> {
        if self.n < 2 {
            None
        } else {
            // M2 can round to a hair below zero only through merges of
            // identical values; clamp so a standard deviation always exists.
            Some((self.m2 / (self.n - 1) as f64).max(0.0))
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
        assert!((s.mean - expected.mean).abs() < 1e-12);
        assert!((s.m2 - expected.m2).abs() < 1e-10);
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
        // Pairwise: within a few ulps of the mean (ulp at 1e9 is 1.2e-7). The
        // variance (sd about 3e-4) is limited by that rounding of the mean,
        // ulp/sd ≈ 4e-4 per deviation, averaged over n: about 1e-6 relative.
        assert!((s.mean - mean).abs() < 5e-7, "mean {} vs {mean}", s.mean);
        let rel = (s.variance().unwrap() / var - 1.0).abs();
        assert!(rel < 3e-6, "variance relative error {rel}");
        // Streaming pushes (what a recorder does) round the mean once per
        // value: still well inside the spread, variance to 1e-5.
        let mut streamed = Summary::EMPTY;
        for &x in &xs {
            streamed.push(x);
        }
        assert!(
            (streamed.mean - mean).abs() < 1e-5,
            "streamed mean {}",
            streamed.mean
        );
        let rel = (streamed.variance().unwrap() / var - 1.0).abs();
        assert!(rel < 1e-5, "streamed variance relative error {rel}");
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
        assert!((merged.mean - mean).abs() < 1e-6);
        let rel = (merged.variance().unwrap() / var - 1.0).abs();
        assert!(rel < 1e-5, "merged variance relative error {rel}");
    }

    #[test]
    fn small_exact_cases() {
        let s = Summary::from_values(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.mean, 5.0);
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
