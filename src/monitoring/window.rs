//! The mergeable aggregate of one series in one time window.

use sketches_ddsketch::{Config, DDSketch};

use crate::stats::Moments;

/// The width of the finest windows: one minute.
pub const MINUTE_MS: i64 = 60_000;
/// The width of rolled-up windows: one hour.
pub const HOUR_MS: i64 = 3_600_000;

/// The relative accuracy of the quantiles: every quantile is within 1% of
/// the sample of its rank (DDSketch's guarantee).
pub const QUANTILE_RELATIVE_ERROR: f64 = 0.01;

/// The start of the window of width `width_ms` that holds `at_ms`.
pub fn window_start(at_ms: i64, width_ms: i64) -> i64 {
    at_ms.div_euclid(width_ms) * width_ms
}

fn sketch_config() -> Config {
    // 2048 bins of γ = 1.0202 cover values over 17 orders of magnitude
    // before the lowest bins collapse; defaults, so that every stored
    // sketch merges with every other.
    Config::defaults()
}

/// Count, sum, min, max, mean and M2 (Welford, merged by Chan), the last
/// value with its time, and a DDSketch of the values: everything a report
/// or an alert asks of a window, mergeable exactly with another window's.
#[derive(Clone)]
pub struct WindowStats {
    /// Count, mean and M2.
    pub moments: Moments,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The value with the latest time (a gauge's level).
    pub last: f64,
    pub last_at_ms: i64,
    sketch: DDSketch,
}

impl std::fmt::Debug for WindowStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowStats")
            .field("count", &self.moments.n)
            .field("sum", &self.sum)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("mean", &self.moments.mean)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Default for WindowStats {
    fn default() -> Self {
        WindowStats::new()
    }
}

impl WindowStats {
    /// The aggregate of no values.
    pub fn new() -> WindowStats {
        WindowStats {
            moments: Moments::EMPTY,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: 0.0,
            last_at_ms: i64::MIN,
            sketch: DDSketch::new(sketch_config()),
        }
    }

    /// Adds one finite value recorded at `at_ms`.
    #[inline]
    pub fn push(&mut self, value: f64, at_ms: i64) {
        self.moments.push(value);
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if at_ms >= self.last_at_ms {
            self.last = value;
            self.last_at_ms = at_ms;
        }
        self.sketch.add(value);
    }

    /// Adds every value of `other`, as if each had been pushed here.
    pub fn merge(&mut self, other: &WindowStats) {
        if other.count() == 0 {
            return;
        }
        self.moments.merge(&other.moments);
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.last_at_ms >= self.last_at_ms {
            self.last = other.last;
            self.last_at_ms = other.last_at_ms;
        }
        // Every sketch has the same configuration, so merging cannot fail.
        let _ = self.sketch.merge(&other.sketch);
    }

    /// How many values.
    pub fn count(&self) -> u64 {
        self.moments.n
    }

    /// Their mean, if any.
    pub fn mean(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.moments.mean)
    }

    /// Their sample standard deviation (n − 1), if there are two or more.
    pub fn std_dev(&self) -> Option<f64> {
        self.moments.std_dev()
    }

    /// The smallest value, if any.
    pub fn min(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.min)
    }

    /// The largest value, if any.
    pub fn max(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.max)
    }

    /// The `q` quantile (0 ≤ q ≤ 1) within 1% of the value of rank
    /// ⌊q (n − 1)⌋, kept within [min, max]; None without values.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count() == 0 {
            return None;
        }
        let value = self.sketch.quantile(q.clamp(0.0, 1.0)).ok().flatten()?;
        Some(value.clamp(self.min, self.max))
    }

    /// The sketch in DataDog's compact binary form, for the store.
    pub fn sketch_bytes(&self) -> Vec<u8> {
        self.sketch.to_java_bytes()
    }

    /// A window from stored parts.
    ///
    /// # Errors
    /// A message when the sketch bytes do not decode.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        moments: Moments,
        sum: f64,
        min: f64,
        max: f64,
        last: f64,
        last_at_ms: i64,
        sketch: &[u8],
    ) -> Result<WindowStats, String> {
        let sketch = if moments.n == 0 {
            DDSketch::new(sketch_config())
        } else {
            DDSketch::from_java_bytes(sketch).map_err(|e| format!("a stored sketch: {e:?}"))?
        };
        Ok(WindowStats {
            moments,
            sum,
            min,
            max,
            last,
            last_at_ms,
            sketch,
        })
    }

    /// Bytes held in memory, about: the figure the memory bound counts.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<WindowStats>() + self.sketch.length() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_statistics_and_close_quantiles() {
        let mut w = WindowStats::new();
        for i in 1..=1000 {
            w.push(i as f64, i);
        }
        assert_eq!(w.count(), 1000);
        assert_eq!(w.sum, 500_500.0);
        assert_eq!(
            (w.min(), w.max(), w.mean()),
            (Some(1.0), Some(1000.0), Some(500.5))
        );
        // The sample sd of 1..=1000: sqrt(1000 * 1001 / 12).
        assert!((w.std_dev().unwrap() - (1000.0f64 * 1001.0 / 12.0).sqrt()).abs() < 1e-9);
        for (q, exact) in [(0.5, 500.0), (0.9, 900.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = w.quantile(q).unwrap();
            assert!(
                (got - exact).abs() / exact <= 0.01,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!((w.last, w.last_at_ms), (1000.0, 1000));
    }

    #[test]
    fn merging_is_pushing_and_survives_the_store() {
        let (mut a, mut b, mut all) = (WindowStats::new(), WindowStats::new(), WindowStats::new());
        for i in 0..500 {
            let v = (i as f64 * 0.37).sin() * 100.0 + 200.0;
            if i % 3 == 0 { &mut a } else { &mut b }.push(v, i);
            all.push(v, i);
        }
        let bytes = b.sketch_bytes();
        let b =
            WindowStats::from_parts(b.moments, b.sum, b.min, b.max, b.last, b.last_at_ms, &bytes)
                .unwrap();
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert!((a.moments.mean - all.moments.mean).abs() < 1e-9);
        assert!((a.moments.m2 - all.moments.m2).abs() / all.moments.m2 < 1e-12);
        for q in [0.5, 0.9, 0.99] {
            assert_eq!(a.quantile(q), all.quantile(q));
        }
        assert_eq!((a.last, a.last_at_ms), (all.last, all.last_at_ms));
    }

    #[test]
    fn windows_start_on_their_boundary() {
        assert_eq!(window_start(125_000, MINUTE_MS), 120_000);
        assert_eq!(window_start(-1, MINUTE_MS), -60_000);
        assert_eq!(window_start(HOUR_MS + 5, HOUR_MS), HOUR_MS);
    }
}
