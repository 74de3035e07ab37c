//! Running moments in Welford's form (count, mean, M2): what monitoring
//! keeps per metric window, where a record must cost a few nanoseconds and
//! the values (durations, counts, levels) sit far from the offsets at which
//! Welford's rounding matters. The A/B statistics, which must stay exact at
//! any offset, use [`Summary`](super::Summary) instead.

use serde::{Deserialize, Serialize};

/// Count, mean and M2 (the sum of squared deviations from the mean).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// No values.
    pub const EMPTY: Moments = Moments {
        n: 0,
        mean: 0.0,
        m2: 0.0,
    };

    /// Adds one value (Welford's update).
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        // (x − old mean)(x − new mean): the exact increment of M2.
        self.m2 += delta * (x - self.mean);
    }

    /// Combines `other` into `self`, as if its values had been pushed
    /// (Chan et al.'s pairwise update).
    pub fn merge(&mut self, other: &Moments) {
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

    /// The sample standard deviation (n − 1), from two values on.
    pub fn std_dev(&self) -> Option<f64> {
        // Merges of identical values can leave M2 a hair below zero.
        (self.n > 1).then(|| (self.m2 / (self.n - 1) as f64).max(0.0).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_and_merges_agree_with_the_two_pass_values() {
        let values = [12.5, 13.0, 9.25, 40.0, 11.0, 12.0];
        let mut all = Moments::EMPTY;
        values.iter().for_each(|&x| all.push(x));
        let mean = values.iter().sum::<f64>() / 6.0;
        let m2: f64 = values.iter().map(|x| (x - mean) * (x - mean)).sum();
        assert!((all.mean - mean).abs() < 1e-12);
        assert!((all.m2 - m2).abs() < 1e-9);
        let (mut a, mut b) = (Moments::EMPTY, Moments::EMPTY);
        values[..2].iter().for_each(|&x| a.push(x));
        values[2..].iter().for_each(|&x| b.push(x));
        a.merge(&b);
        assert_eq!(a.n, 6);
        assert!((a.mean - mean).abs() < 1e-12 && (a.m2 - m2).abs() < 1e-9);
        assert_eq!(Moments::EMPTY.std_dev(), None);
        assert!((all.std_dev().unwrap() - (m2 / 5.0).sqrt()).abs() < 1e-12);
    }
}
