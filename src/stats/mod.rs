//! Statistics for A/B tests, pure and in memory: no I/O, no SQLite.
//!
//! The numbers match scipy and statsmodels to a relative 1e-9 (see
//! `tests/stats_reference.rs` and `tools/gen_stats_fixtures.py`). Analysis works on
//! [`Summary`] values, the mergeable sufficient statistics the store keeps per
//! (experiment, variant, metric), so nothing here rescans raw rows and every
//! comparison of two summaries is O(1) without allocation.
//!
//! - [`summary`]: exact shifted moments (count, mean, M2), mergeable.
//! - [`compensated`]: the double-double arithmetic they are kept in.
//! - [`dist`]: Student t (with quantiles accurate up to infinite df), noncentral t,
//!   chi-square and normal functions that statrs lacks or gets wrong.
//! - [`welch`](mod@welch): Welch's t-test, relative lift, Cohen's d and Hedges' g.
//! - [`power`]: achieved power and the sample-size solver (statsmodels `TTestIndPower`).
//! - [`srm`]: sample-ratio-mismatch check (scipy `chisquare`).
//! - [`corrections`]: Holm and Benjamini–Hochberg adjusted p-values.
//! - [`sequential`]: always-valid confidence intervals for safe daily peeking.

pub mod compensated;
pub mod corrections;
pub mod dist;
pub mod moments;
pub mod power;
pub mod sequential;
pub mod srm;
pub mod summary;
pub mod welch;

mod error;
mod quadrature;

pub use corrections::{Adjusted, benjamini_hochberg, holm};
pub use error::{Arm, StatsError};
pub use moments::Moments;
pub use power::{
    SampleSize, normal_power, normal_required_nobs1, ttest_ind_power, ttest_ind_required_nobs1,
    ttest_ind_sample_size,
};
pub use sequential::{AlwaysValid, always_valid};
pub use srm::{SRM_THRESHOLD, SampleRatio, sample_ratio_mismatch};
pub use summary::{Summary, SummaryParts};
pub use welch::{EffectSize, Interval, RelativeLift, WelchTest, effect_size, relative_lift, welch};
