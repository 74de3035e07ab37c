//! Sample-ratio-mismatch (SRM) check: are the arms' unit counts consistent
//! with the configured traffic split?

use serde::{Deserialize, Serialize};

use super::dist;
use super::error::StatsError;

/// The p-value below which a sample ratio is flagged as a mismatch. SRM checks
/// run on every experiment at every look, so the threshold is strict
/// (Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch in Online
/// Controlled Experiments").
pub const SRM_THRESHOLD: f64 = 0.001;

/// The outcome of a sample-ratio check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRatio {
    /// Pearson's chi-square statistic Σ (observed − expected)² / expected.
    pub statistic: f64,
    /// Degrees of freedom, the number of arms − 1.
    pub df: u32,
    /// P(χ²_df > statistic).
    pub p_value: f64,
    /// `p_value < SRM_THRESHOLD`: the split is not what was configured and the
    /// experiment's results should not be trusted.
    pub mismatch: bool,
}

/// Chi-square goodness of fit of `observed` unit counts against the traffic
/// `weights` (any positive scale; they are normalised), matching
/// `scipy.stats.chisquare(observed, total · weights / Σ weights)`.
///
/// # Errors
/// [`StatsError::InvalidArgument`] if the slices differ in length, have fewer
/// than 2 arms, a weight is not positive and finite, or no unit was observed.
pub fn sample_ratio_mismatch(observed: &[u64], weights: &[f64]) -> Result<SampleRatio, StatsError> {
    if observed.len() != weights.len() {
        return Err(StatsError::invalid(
            "weights",
            "must have one entry per observed count",
        ));
    }
    if observed.len() < 2 {
        return Err(StatsError::invalid(
            "observed",
            "must have at least two arms",
        ));
    }
    if weights.iter().any(|w| !(*w > 0.0 && w.is_finite())) {
        return Err(StatsError::invalid(
            "weights",
            "must all be positive and finite",
        ));
    }
    let total: u64 = observed.iter().sum();
    if total == 0 {
        return Err(StatsError::invalid(
            "observed",
            "must contain at least one unit",
        ));
    }
    let total = total as f64;
    let weight_sum: f64 = weights.iter().sum();
    let statistic: f64 = observed
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let expected = total * (w / weight_sum);
            let d = o as f64 - expected;
            d * d / expected
        })
        .sum();
    let df = (observed.len() - 1) as u32;
    let p_value = dist::chi_squared_sf_unchecked(statistic, df as f64);
    Ok(SampleRatio {
        statistic,
        df,
        p_value,
        mismatch: p_value < SRM_THRESHOLD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_counts_pass_and_skewed_counts_are_flagged() {
        let ok = sample_ratio_mismatch(&[5000, 5000], &[1.0, 1.0]).unwrap();
        assert_eq!(ok.statistic, 0.0);
        assert_eq!(ok.p_value, 1.0);
        assert!(!ok.mismatch);
        let bad = sample_ratio_mismatch(&[5000, 5400], &[0.5, 0.5]).unwrap();
        assert!(bad.mismatch, "{bad:?}");
    }

    #[test]
    fn bad_input_is_rejected() {
        assert!(sample_ratio_mismatch(&[1, 2], &[1.0]).is_err());
        assert!(sample_ratio_mismatch(&[1], &[1.0]).is_err());
        assert!(sample_ratio_mismatch(&[1, 2], &[1.0, 0.0]).is_err());
        assert!(sample_ratio_mismatch(&[0, 0], &[1.0, 1.0]).is_err());
    }
}
