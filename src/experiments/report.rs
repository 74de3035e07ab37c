//! The analysis report: the JSON that C (`cha_experiment_analyze`), Python
//! (`analyze_test_results`) and the CLI show. Field names are stable; every
//! number is finite or null.

use std::borrow::Cow;
use std::fmt;

use serde::{Serialize, Serializer};

use super::model::{Aggregation, ExperimentStatus, MetricType, TargetDirection};
use super::options::Correction;
use crate::stats::StatsError;

/// The analysis of one experiment: the JSON that C (`cha_experiment_analyze`),
/// Python (`analyze_test_results`) and the CLI show. Field names are stable;
/// every number is finite or null.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisReport {
    /// The test id.
    pub experiment_id: String,
    /// Its display name.
    pub experiment_name: String,
    /// Its life-cycle status.
    pub status: ExperimentStatus,
    /// The control variant's name.
    pub control: String,
    /// When the test first started admitting units (RFC 3339; null before
    /// it has): the start of phase 1, what `ab show` shows too.
    pub started_at: Option<String>,
    /// The same instant in epoch milliseconds.
    pub started_ms: Option<i64>,
    /// Days the analysed phases have admitted units (null before the test
    /// has started): the minimum duration counts these.
    pub duration_days: Option<f64>,
    /// The configured minimum duration.
    pub minimum_duration_days: u32,
    /// The configured minimum units per variant.
    pub minimum_sample_size: u64,
    /// The correction used across primary and secondary comparisons.
    pub correction: Correction,
    /// The one level the family of primary and secondary comparisons is
    /// controlled at: the smallest `significance_level` among those
    /// metrics. A comparison is significant when its adjusted p is below
    /// it (null without such metrics).
    pub family_alpha: Option<f64>,
    /// How many comparisons the family holds: primary and secondary
    /// metrics × non-control variants.
    pub family_size: usize,
    /// Whether decisions use always-valid (sequential) p-values.
    pub sequential: bool,
    /// Every phase of the test, in order, with its split and its own
    /// sample-ratio check.
    pub phases: Vec<PhaseReport>,
    /// The phases the estimates use.
    pub analyzed_phases: Vec<u32>,
    /// Which phases the estimates use and why, in a sentence.
    pub phase_selection: String,
    /// Per variant, in definition order: the units of the analysed phases.
    pub variants: Vec<VariantReport>,
    /// The sample-ratio check of the analysed phases, each against its own
    /// split: a mismatch in any of them, or else the one with the smallest p.
    pub sample_ratio: SampleRatioReport,
    /// Observations left out because they are not finite numbers, are
    /// beyond the magnitude bound, or would make an aggregate non-finite.
    pub quarantined: QuarantineReport,
    /// Per metric, in definition order.
    pub metrics: Vec<MetricReport>,
    /// The overall verdict.
    pub conclusion: ConclusionKind,
    /// The verdict as one line: `invalid: sample ratio mismatch`,
    /// `stop: guardrail harmed (…)`, `keep the control: …`, `decide the
    /// trade-off: …`, `ship <variant>`, `cannot test: …`, `keep running: N
    /// more units per variant needed` (and/or `X more days`), `no
    /// difference: …`.
    pub recommendation: String,
    /// Why, one sentence each.
    pub reasons: Vec<String>,
    /// The variant to ship (with `conclusion` "ship" only).
    pub winner: Option<String>,
    /// Units each variant still needs (with "keep_running" only).
    pub additional_units_per_variant: Option<u64>,
    /// Days still needed for the minimum duration (with "keep_running" only).
    pub additional_days: Option<f64>,
    /// The effect in the metric's own unit, for the winner or the leading
    /// primary comparison (null when none could be computed).
    pub business_impact: Option<BusinessImpact>,
}

/// One phase of the test: a stretch of time with one split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseReport {
    /// 1, 2, ...
    pub phase: u32,
    /// Why it began: `start`, `resume`, `restart`, `split_change`,
    /// `migrated`.
    pub reason: String,
    /// When it began (RFC 3339) and in epoch milliseconds.
    pub started_at: String,
    pub started_ms: i64,
    /// When it ended (null while it runs).
    pub ended_at: Option<String>,
    pub ended_ms: Option<i64>,
    /// How long it admitted units, in days (up to now while it runs).
    pub duration_days: f64,
    /// Percent of units that could enter.
    pub coverage: f64,
    /// Each variant's share and the units first exposed in this phase.
    pub split: Vec<PhaseShare>,
    /// The sample-ratio check against this phase's split.
    pub sample_ratio: SampleRatioReport,
    /// Whether the estimates use this phase.
    pub analyzed: bool,
}

/// One variant's share of a phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseShare {
    pub variant: String,
    pub traffic_percentage: f64,
    /// Units first exposed in the phase.
    pub exposures: u64,
}

/// The observations the fold left out, by reason.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct QuarantineReport {
    /// How many, in all.
    pub observations: u64,
    /// Per reason: `value_not_finite`, `value_beyond_magnitude_bound`,
    /// `unit_total_not_finite`, `summary_not_finite`.
    pub reasons: Vec<QuarantineReason>,
}

/// The observations quarantined for one reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantineReason {
    pub reason: String,
    pub observations: u64,
    /// The id of the first one (in `cha_experiment_export`'s `id` column).
    pub first_observation: i64,
}

/// One variant's traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantReport {
    /// The variant's name.
    pub name: String,
    /// Whether it is the control.
    pub is_control: bool,
    /// Configured share, in percent.
    pub traffic_percentage: f64,
    /// Exposed units.
    pub exposures: u64,
    /// Configured share of the exposures, as a fraction (0 to 1).
    pub expected_share: f64,
    /// Observed share of the exposures (null before any exposure).
    pub observed_share: Option<f64>,
}

/// Outcome of the sample-ratio check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleRatioStatus {
    /// Consistent with the configured split.
    Ok,
    /// p below the threshold: do not trust the results.
    Mismatch,
    /// Not tested (see `reason`).
    Skipped,
}

/// The sample-ratio-mismatch check (scipy `chisquare` of the exposures).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleRatioReport {
    /// Whether the split holds, is broken, or was not tested.
    pub status: SampleRatioStatus,
    /// Why it was skipped (null otherwise).
    pub reason: Option<String>,
    /// Pearson's chi-square statistic.
    pub statistic: Option<f64>,
    /// Degrees of freedom (tested variants − 1).
    pub df: Option<u32>,
    /// The chi-square p-value.
    pub p_value: Option<f64>,
    /// The p below which a mismatch is flagged (0.001).
    pub threshold: f64,
    /// `p_value` below `threshold`.
    pub mismatch: bool,
}

/// One metric: the control arm and each other variant against it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricReport {
    /// The metric's name.
    pub name: String,
    /// Primary, secondary or guardrail.
    pub metric_type: MetricType,
    /// How a unit's observations combine into its value.
    pub aggregation: Aggregation,
    /// Which way is better.
    pub target_direction: TargetDirection,
    /// The unit of the values ("EUR/m"), if configured.
    pub unit: Option<String>,
    /// The configured MDE, relative to the control mean (0.05 = 5%).
    pub minimum_detectable_effect: f64,
    /// The configured alpha.
    pub significance_level: f64,
    /// 1 − significance_level, the level of every interval.
    pub confidence_level: f64,
    /// The power the sample-size need aims at.
    pub power: f64,
    /// The control arm.
    pub control: ArmReport,
    /// One per non-control variant, in definition order.
    pub comparisons: Vec<ComparisonReport>,
}

/// One arm's unit-level statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmReport {
    /// The variant's name.
    pub variant: String,
    /// Units with a value.
    pub n: u64,
    /// Null without units.
    pub mean: Option<f64>,
    /// Sample variance (n − 1), null below two units.
    pub variance: Option<f64>,
    /// Sample standard deviation, null below two units.
    pub std_dev: Option<f64>,
}

/// Which way a difference goes, judged by the metric's target direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Towards the target direction.
    Better,
    /// Away from it.
    Worse,
    /// No difference at all.
    Unchanged,
}

/// What one comparison says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly better (after correction).
    Better,
    /// Significantly worse (after correction).
    Worse,
    /// Not significant.
    Inconclusive,
    /// A guardrail significantly worse.
    Harmed,
    /// A guardrail without significant harm.
    NotHarmed,
    /// The test could not run (see `status`).
    NotTested,
}

/// One variant against the control on one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonReport {
    /// The treatment variant.
    pub variant: String,
    /// Whether the test ran; when not, why the numbers are null.
    pub status: ComparisonStatus,
    /// The treatment arm.
    pub treatment: ArmReport,
    /// Welch's t-test of the difference.
    pub difference: DifferenceReport,
    /// The difference relative to the control mean.
    pub relative_lift: LiftReport,
    /// The difference in pooled standard deviations.
    pub effect_size: EffectSizeReport,
    /// Power at the MDE and the units still needed.
    pub power: PowerReport,
    /// Always-valid inference (null unless `sequential`).
    pub sequential: Option<SequentialReport>,
    /// The p-value the decision uses: two-sided Welch (or always-valid) for
    /// primary and secondary metrics, the one-sided harm test for guardrails.
    pub decision_p_value: Option<f64>,
    /// `decision_p_value` after the correction (null for guardrails).
    pub p_adjusted: Option<f64>,
    /// Adjusted p (guardrails: their own p) below the significance level.
    pub significant: Option<bool>,
    /// Which way the difference goes (null when not tested).
    pub direction: Option<Direction>,
    /// What the comparison says.
    pub verdict: Verdict,
    /// Guardrails only: significant harm.
    pub harmed: Option<bool>,
}

/// Whether the numbers of a comparison (or of its lift or power) could be
/// computed. Serialised as `"ok"`, or as why they are null:
/// `"insufficient_data: control has 1 unit"`, `"zero_variance"`,
/// `"zero_control_mean"`, `"invalid_argument: …"`, `"no_solution: …"`,
/// `"power_reached_at_minimum_size"`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ComparisonStatus {
    /// Computed: the numbers are set.
    #[default]
    Ok,
    /// Not computed, for this reason: the numbers are null.
    NotComputed(StatsError),
}

impl ComparisonStatus {
    /// Whether the numbers were computed.
    pub fn is_ok(&self) -> bool {
        matches!(self, ComparisonStatus::Ok)
    }

    /// The JSON text: `"ok"` or the reason (borrowed unless it names a
    /// count or an argument).
    pub fn as_str(&self) -> Cow<'static, str> {
        match self {
            ComparisonStatus::Ok => Cow::Borrowed("ok"),
            ComparisonStatus::NotComputed(e) => reason(e),
        }
    }
}

impl fmt::Display for ComparisonStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl Serialize for ComparisonStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_str())
    }
}

impl PartialEq<str> for ComparisonStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ComparisonStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Welch's t-test of treatment − control.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DifferenceReport {
    /// treatment mean − control mean.
    pub estimate: Option<f64>,
    /// Standard error of the difference.
    pub std_error: Option<f64>,
    /// Welch's t statistic.
    pub t: Option<f64>,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// The (1 − significance_level) interval.
    pub ci_lower: Option<f64>,
    /// Upper end of the interval.
    pub ci_upper: Option<f64>,
}

/// Relative lift treatment / control − 1 with its delta-method interval.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LiftReport {
    /// Whether the lift could be computed ("zero_control_mean" when not).
    pub status: ComparisonStatus,
    /// treatment mean / control mean − 1.
    pub estimate: Option<f64>,
    /// Delta-method standard error.
    pub std_error: Option<f64>,
    /// Lower end of the (1 − significance_level) interval.
    pub ci_lower: Option<f64>,
    /// Upper end of the interval.
    pub ci_upper: Option<f64>,
}

/// Standardised differences.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EffectSizeReport {
    /// The pooled standard deviation of both arms.
    pub pooled_std_dev: Option<f64>,
    /// Cohen's d: difference / pooled sd.
    pub cohens_d: Option<f64>,
    /// Hedges' g: Cohen's d corrected for small samples.
    pub hedges_g: Option<f64>,
}

/// Power at the MDE and the units still needed.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PowerReport {
    /// Whether the power could be computed; when not, why the numbers are null.
    pub status: ComparisonStatus,
    /// The level the power is computed at: for a primary or secondary
    /// metric the family's level divided by the number of comparisons in
    /// it under Holm (its first step) or Benjamini–Hochberg (its strictest
    /// step), as the decision applies it; a guardrail's own level.
    pub alpha: f64,
    /// The MDE in metric units, mde × |control mean|.
    pub absolute_effect: Option<f64>,
    /// The MDE standardised: absolute_effect / pooled sd.
    pub effect_size: Option<f64>,
    /// Power of the two-sided test at the current sizes.
    pub achieved: Option<f64>,
    /// The metric's `power`.
    pub target: f64,
    /// Units the control arm needs for the target (rounded up); null once
    /// the target is reached (not solved then: it is the costly part).
    pub required_control: Option<u64>,
    /// Units the treatment arm needs, at the current ratio; null as above.
    pub required_treatment: Option<u64>,
    /// The larger shortfall of the two arms; 0 when the target is reached.
    pub additional_units: Option<u64>,
}

/// The always-valid interval and p-value of the difference.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SequentialReport {
    /// "ok", or why the numbers are null, followed by "; decisions use the
    /// fixed-horizon p-value" when the comparison itself ran. Text, not a
    /// [`ComparisonStatus`], because of that suffix.
    pub status: String,
    /// τ² used.
    pub mixture_variance: Option<f64>,
    /// Lower end of the always-valid interval.
    pub ci_lower: Option<f64>,
    /// Upper end of the always-valid interval.
    pub ci_upper: Option<f64>,
    /// The always-valid p-value.
    pub p_value: Option<f64>,
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConclusionKind {
    /// Sample ratio mismatch: results untrustworthy.
    Invalid,
    /// A guardrail is harmed.
    Stop,
    /// A variant is significantly worse on a primary metric and better on
    /// none: keep the control.
    Harm,
    /// A variant is significantly better on one primary metric and worse
    /// on another: people decide.
    TradeOff,
    /// A variant wins.
    Ship,
    /// The data cannot be tested: both arms have zero variance but
    /// different means.
    Untestable,
    /// More units or days are needed.
    KeepRunning,
    /// Enough data and nothing better.
    NoDifference,
}

/// The effect of a comparison in the metric's own unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusinessImpact {
    /// The metric.
    pub metric: String,
    /// The treatment variant.
    pub variant: String,
    /// The metric's unit, if configured.
    pub unit: Option<String>,
    /// treatment − control, per unit of analysis.
    pub difference: f64,
    /// Lower end of the interval of the difference.
    pub ci_lower: f64,
    /// Upper end of the interval of the difference.
    pub ci_upper: f64,
    /// The level of the interval.
    pub confidence_level: f64,
    /// The relative lift, if defined.
    pub relative_lift: Option<f64>,
    /// E.g. "+0.042 EUR/m per unit (95% CI 0.011 to 0.073)".
    pub summary: String,
}
/// The machine-readable reason of a statistics error, as the JSON shows it.
pub(crate) fn reason(e: &StatsError) -> Cow<'static, str> {
    match e {
        StatsError::TooFewObservations { arm, n } => Cow::Owned(format!(
            "insufficient_data: {arm} has {n} unit{}",
            if *n == 1 { "" } else { "s" }
        )),
        StatsError::ZeroVariance => Cow::Borrowed("zero_variance"),
        StatsError::ZeroControlMean => Cow::Borrowed("zero_control_mean"),
        StatsError::InvalidArgument { name, rule } => {
            Cow::Owned(format!("invalid_argument: `{name}` {rule}"))
        }
        StatsError::NoSolution(why) => Cow::Owned(format!("no_solution: {why}")),
        StatsError::ReachedAtMinimum { .. } => Cow::Borrowed("power_reached_at_minimum_size"),
    }
}

/// A finite number, or null.
pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Arm;

    #[test]
    fn status_strings() {
        let status = |e| ComparisonStatus::NotComputed(e).to_string();
        let one = StatsError::TooFewObservations {
            arm: Arm::Control,
            n: 1,
        };
        assert_eq!(status(one), "insufficient_data: control has 1 unit");
        let none = StatsError::TooFewObservations {
            arm: Arm::Treatment,
            n: 0,
        };
        assert_eq!(status(none), "insufficient_data: treatment has 0 units");
        assert_eq!(status(StatsError::ZeroVariance), "zero_variance");
        assert_eq!(status(StatsError::ZeroControlMean), "zero_control_mean");
        assert_eq!(ComparisonStatus::Ok.to_string(), "ok");
    }

    #[test]
    fn statuses_serialise_as_their_text() {
        let json = serde_json::to_value([
            ComparisonStatus::Ok,
            ComparisonStatus::NotComputed(StatsError::ZeroVariance),
        ])
        .unwrap();
        assert_eq!(json, serde_json::json!(["ok", "zero_variance"]));
        assert_eq!(
            ComparisonStatus::NotComputed(StatsError::ZeroControlMean),
            "zero_control_mean"
        );
        assert!(ComparisonStatus::Ok.is_ok());
    }
}
