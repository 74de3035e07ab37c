//! The slope of a satisfaction trend: ordinary least squares of the
//! per-period values on the period number, with the t-test of the slope.

use serde::Serialize;

use crate::stats::dist::students_t_sf;

/// A fitted line through (period, value) points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Slope {
    /// The change of the value per period (a day or a week).
    pub per_period: f64,
    /// The value the line gives at the first period.
    pub intercept: f64,
    /// The standard error of the slope; `None` with fewer than 3 points.
    pub std_error: Option<f64>,
    /// Two-sided p-value of "the slope is 0" (t-test, n − 2 degrees of
    /// freedom); `None` with fewer than 3 points or a perfect fit.
    pub p_value: Option<f64>,
    /// How many periods the line was fitted through.
    pub periods: usize,
}

/// The least-squares line through `points` (x, y); `None` with fewer than
/// two points or with every x the same.
pub fn slope(points: &[(f64, f64)]) -> Option<Slope> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let b = sxy / sxx;
    let a = mean_y - b * mean_x;
    let (std_error, p_value) = if n >= 3 {
        let sse: f64 = points.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
        let se = (sse / (nf - 2.0) / sxx).sqrt();
        let p = (se > 0.0)
            .then(|| students_t_sf((b / se).abs(), nf - 2.0).ok())
            .flatten()
            .map(|sf| (2.0 * sf).min(1.0));
        (Some(se), p)
    } else {
        (None, None)
    };
    Some(Slope {
        per_period: b,
        intercept: a,
        std_error,
        p_value,
        periods: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scipy_linregress() {
        // scipy.stats.linregress([0, 1, 2, 3, 4], [3.1, 3.4, 3.2, 3.9, 4.1]):
        // slope 0.25, intercept 3.04, stderr 0.07 (residual sum of squares
        // 0.147 over 3 df and Sxx 10), t = 25/7 and, by the closed form of
        // the t distribution with 3 df, p = 0.0375139642937...
        let s = slope(&[(0.0, 3.1), (1.0, 3.4), (2.0, 3.2), (3.0, 3.9), (4.0, 4.1)]).unwrap();
        assert!((s.per_period - 0.25).abs() < 1e-12);
        assert!((s.intercept - 3.04).abs() < 1e-12);
        assert!((s.std_error.unwrap() - 0.07).abs() < 1e-12);
        assert!(
            (s.p_value.unwrap() - 0.037_513_964_293_75).abs() < 1e-9,
            "{s:?}"
        );
        assert_eq!(s.periods, 5);
        let two = slope(&[(0.0, 1.0), (2.0, 2.0)]).unwrap();
        assert_eq!(
            (two.per_period, two.std_error, two.p_value),
            (0.5, None, None)
        );
        assert_eq!(slope(&[(1.0, 1.0)]), None);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 2.0)]), None);
        let flat = slope(&[(0.0, 2.0), (1.0, 2.0), (2.0, 2.0)]).unwrap();
        assert_eq!((flat.per_period, flat.p_value), (0.0, None));
    }
}
