//! The sample-ratio check: do the exposures match the configured traffic
//! split? Pearson's chi-square (scipy `chisquare`), flagged below p = 0.001,
//! skipped with the reason when it cannot be trusted.

use super::phases::Split;
use super::report::{SampleRatioReport, SampleRatioStatus, finite, reason};
use super::wording;
use crate::stats;

/// The sample-ratio check of one phase against its own split, over the
/// variants with a positive share. `exposures` holds one count per variant
/// of `split`; `mixed` says the phase's units were bucketed under more than
/// one split.
pub(super) fn sample_ratio(split: &Split, exposures: &[u64], mixed: bool) -> SampleRatioReport {
    let skipped = |why: String| SampleRatioReport {
        status: SampleRatioStatus::Skipped,
        reason: Some(why),
        statistic: None,
        df: None,
        p_value: None,
        threshold: stats::SRM_THRESHOLD,
        mismatch: false,
    };
    let (observed, weights): (Vec<u64>, Vec<f64>) = split
        .variants
        .iter()
        .enumerate()
        .filter(|(_, v)| v.traffic_percentage > 0.0 && v.traffic_percentage.is_finite())
        .map(|(i, v)| (exposures.get(i).copied().unwrap_or(0), v.traffic_percentage))
        .unzip();
    if observed.len() < 2 {
        return skipped("fewer than two variants receive traffic".into());
    }
    if mixed {
        // Recorded before phases were: units exposed before a change of the
        // split keep their variant, so the counts mix two splits and no
        // single expected ratio applies.
        return skipped(
            "the split changed while units were exposed, before phases were recorded: \
             the counts mix two splits"
                .into(),
        );
    }
    let total: u64 = observed.iter().sum();
    if total == 0 {
        return skipped("no exposures yet".into());
    }
    let weight_sum: f64 = weights.iter().sum();
    let smallest = weights.iter().copied().fold(f64::INFINITY, f64::min) / weight_sum;
    let smallest_expected = total as f64 * smallest;
    if smallest_expected < 5.0 {
        return skipped(format!(
            "too few exposures for the chi-square test: the smallest expected count is {} (at least 5 are needed)",
            wording::significant(smallest_expected, 3)
        ));
    }
    match stats::sample_ratio_mismatch(&observed, &weights) {
        Ok(s) => SampleRatioReport {
            status: if s.mismatch {
                SampleRatioStatus::Mismatch
            } else {
                SampleRatioStatus::Ok
            },
            reason: None,
            statistic: finite(s.statistic),
            df: Some(s.df),
            p_value: finite(s.p_value),
            threshold: stats::SRM_THRESHOLD,
            mismatch: s.mismatch,
        },
        Err(e) => skipped(reason(&e).into_owned()),
    }
}
