//! The analysis of an A/B test: every variant against the control, per
//! metric, from the stored [`Summary`] values, with an overall verdict.
//!
//! Pure and O(1) in the number of observations: [`analyze`] reads one
//! summary per (variant, metric) and the exposure counts, and never sees a
//! raw row. The statistics are those of [`crate::stats`] (scipy/statsmodels
//! exact); this module decides which to run and what they mean together.
//!
//! # Choices
//!
//! - **Unit of analysis**: each summary holds one value per unit (the unit's
//!   observations combined by the metric's aggregation, see
//!   `handle::recorder`), so `n` is a count of units, not of observations.
//! - **Fixed-horizon tests**: Welch's t-test, two-sided, and its
//!   (1 − significance_level) interval of the difference treatment − control;
//!   the relative lift with the delta-method interval; Cohen's d (pooled) and
//!   Hedges' g.
//! - **Power** at the metric's minimum detectable effect (MDE, relative): the
//!   standardised effect is `mde × |control mean| / pooled sd`, i.e. Cohen's d
//!   of a change of MDE from the control's level, with the pooled standard
//!   deviation of both arms. Achieved power is statsmodels'
//!   `TTestIndPower().power(d, nobs1 = n_control, alpha, ratio = n_t / n_c)`.
//!   The units still needed assume the arms keep their current proportion:
//!   `nobs1 = TTestIndPower().solve_power(d, alpha, power, ratio = n_t / n_c)`,
//!   rounded up, minus what each arm has; 0 once the target power is reached.
//!   (Above 10,000 units the same root is found by a secant iteration started
//!   at the z-test size, to an absolute 1e-7 units: equal after rounding up,
//!   and ten times faster at a million units per arm.)
//! - **Multiple comparisons**: one family holds every (primary or secondary
//!   metric, non-control variant) comparison; its p-values are adjusted by
//!   Holm (default) or Benjamini–Hochberg, and a comparison is significant
//!   when its adjusted p is below its metric's `significance_level`.
//! - **Guardrails** are outside that family, tested one-sided in their bad
//!   direction (an increase when the target is `decrease`, and vice versa)
//!   at their own `significance_level`, uncorrected: a guardrail exists to
//!   catch harm, so it errs towards sensitivity.
//! - **Sequential** (`AnalysisOptions::sequential`): every comparison also
//!   gets the always-valid interval and p-value of
//!   [`stats::always_valid`](crate::stats::always_valid) (the mSPRT of
//!   Johari et al. 2017; formula and source there), and the decisions use
//!   them instead of the fixed-horizon p-values, so looking every day is
//!   safe. Guardrails then use the always-valid p two-sided with a sign check
//!   (harmed when p < alpha and the difference is in the bad direction). The
//!   mixture variance τ² of a metric defaults to `(mde × |control mean|)²`,
//!   the squared absolute MDE, and can be set per metric in
//!   [`AnalysisOptions::mixture_variance`]. Where it cannot be formed (zero
//!   control mean) the comparison falls back to the fixed-horizon p.
//! - **Sample ratio**: Pearson's chi-square of the exposures against the
//!   traffic percentages (variants with 0% are left out), flagged below
//!   p = 0.001. It is skipped, with the reason, when there are no exposures
//!   or the smallest expected count is below 5 (Cochran's rule for the
//!   chi-square approximation), which covers "fewer than two variants have
//!   exposures" at the start without hiding 1,000 against 0 later.
//! - **Degenerate data** give a `status` other than `"ok"` (for example
//!   `"insufficient_data: control has 1 unit"` or `"zero_variance"`) and null
//!   numbers, never NaN or infinity.
//! - **Verdict**, in order of precedence: a sample ratio mismatch makes the
//!   experiment invalid; a harmed guardrail stops it; a variant significantly
//!   better on a primary metric (after correction) and significantly worse on
//!   none ships, once every variant has `minimum_sample_size` exposures and the
//!   experiment has run `minimum_duration_days` since its first exposure
//!   (several candidates: the one better on most primary metrics, then the
//!   smallest adjusted p); otherwise it keeps running while units (for the
//!   minimum sample size or for the power at the MDE of every primary
//!   comparison) or days are missing; otherwise there is no difference.
//!   Without primary metrics the secondary ones decide.
//! - **Business impact**: the winner's most significant better primary
//!   comparison, or (no winner) the comparison with the smallest p on the
//!   first primary metric: the absolute difference per unit in the metric's
//!   `unit`, with its interval.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::model::{
    Aggregation, ExperimentDefinition, ExperimentStatus, MetricDefinition, MetricType,
    TargetDirection,
};
use crate::stats::{self, StatsError, Summary};

/// The multiple-comparison correction across primary and secondary metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Holm–Bonferroni: controls the family-wise error rate.
    #[default]
    Holm,
    /// Benjamini–Hochberg: controls the false discovery rate.
    BenjaminiHochberg,
}

/// How to analyse; `Default` is Holm, fixed-horizon.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisOptions {
    /// The correction across primary and secondary comparisons.
    pub correction: Correction,
    /// Add always-valid intervals and decide on them (see the module docs).
    pub sequential: bool,
    /// τ² of the always-valid mixture per metric name, in squared metric
    /// units of the difference. A metric not named here uses
    /// `(minimum_detectable_effect × |control mean|)²`.
    pub mixture_variance: BTreeMap<String, f64>,
}

/// What [`analyze`] reads. Slices shorter than the definition's variants or
/// metrics read as empty summaries and zero exposures.
#[derive(Debug, Clone)]
pub struct AnalysisInput<'a> {
    /// The experiment as configured.
    pub definition: &'a ExperimentDefinition,
    /// `summaries[variant][metric]`, in definition order: one value per unit.
    pub summaries: &'a [Vec<Summary>],
    /// Exposed units per variant, in definition order.
    pub exposures: &'a [u64],
    /// When the first unit was exposed (epoch ms), if any was.
    pub first_exposure_ms: Option<i64>,
    /// The time of the analysis (epoch ms).
    pub now_ms: i64,
    /// How to analyse.
    pub options: AnalysisOptions,
    /// Whether the split changed while units were exposed: the sample-ratio
    /// check is then skipped, since pinned units follow the old split.
    pub split_changed: bool,
}

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
    /// Days since the first exposure (null before any).
    pub duration_days: Option<f64>,
    /// The configured minimum duration.
    pub minimum_duration_days: u32,
    /// The configured minimum units per variant.
    pub minimum_sample_size: u64,
    /// The correction used across primary and secondary comparisons.
    pub correction: Correction,
    /// Whether decisions use always-valid (sequential) p-values.
    pub sequential: bool,
    /// Per variant, in definition order.
    pub variants: Vec<VariantReport>,
    /// The sample-ratio-mismatch check.
    pub sample_ratio: SampleRatioReport,
    /// Per metric, in definition order.
    pub metrics: Vec<MetricReport>,
    /// The overall verdict.
    pub conclusion: ConclusionKind,
    /// The verdict as one line: "invalid: sample ratio mismatch",
    /// "stop: guardrail harmed (…)", "ship <variant>", "keep running: N more
    /// units per variant needed" (and/or "X more days"), "no difference: …".
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

/// One variant's traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantReport {
    pub name: String,
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
    pub status: SampleRatioStatus,
    /// Why it was skipped (null otherwise).
    pub reason: Option<String>,
    /// Pearson's chi-square statistic.
    pub statistic: Option<f64>,
    /// Degrees of freedom (tested variants − 1).
    pub df: Option<u32>,
    pub p_value: Option<f64>,
    /// The p below which a mismatch is flagged (0.001).
    pub threshold: f64,
    pub mismatch: bool,
}

/// One metric: the control arm and each other variant against it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricReport {
    pub name: String,
    pub metric_type: MetricType,
    pub aggregation: Aggregation,
    pub target_direction: TargetDirection,
    /// The unit of the values ("EUR/m"), if configured.
    pub unit: Option<String>,
    pub minimum_detectable_effect: f64,
    pub significance_level: f64,
    /// 1 − significance_level, the level of every interval.
    pub confidence_level: f64,
    /// The power the sample-size need aims at.
    pub power: f64,
    pub control: ArmReport,
    /// One per non-control variant, in definition order.
    pub comparisons: Vec<ComparisonReport>,
}

/// One arm's unit-level statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmReport {
    pub variant: String,
    /// Units with a value.
    pub n: u64,
    /// Null without units.
    pub mean: Option<f64>,
    /// Sample variance (n − 1), null below two units.
    pub variance: Option<f64>,
    pub std_dev: Option<f64>,
}

/// Which way a difference goes, judged by the metric's target direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Better,
    Worse,
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
    /// "ok", or why the numbers are null ("insufficient_data: control has 1
    /// unit", "zero_variance").
    pub status: String,
    pub treatment: ArmReport,
    pub difference: DifferenceReport,
    pub relative_lift: LiftReport,
    pub effect_size: EffectSizeReport,
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
    pub direction: Option<Direction>,
    pub verdict: Verdict,
    /// Guardrails only: significant harm.
    pub harmed: Option<bool>,
}

/// Welch's t-test of treatment − control.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DifferenceReport {
    /// treatment mean − control mean.
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub t: Option<f64>,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// The (1 − significance_level) interval.
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
}

/// Relative lift treatment / control − 1 with its delta-method interval.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LiftReport {
    /// "ok", or why not ("zero_control_mean").
    pub status: String,
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
}

/// Standardised differences.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EffectSizeReport {
    pub pooled_std_dev: Option<f64>,
    pub cohens_d: Option<f64>,
    pub hedges_g: Option<f64>,
}

/// Power at the MDE and the units still needed.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PowerReport {
    /// "ok", or why the numbers are null.
    pub status: String,
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
    /// "ok", or why the numbers are null.
    pub status: String,
    /// τ² used.
    pub mixture_variance: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
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
    /// A variant wins.
    Ship,
    /// More units or days are needed.
    KeepRunning,
    /// Enough data and nothing better.
    NoDifference,
}

/// The effect of a comparison in the metric's own unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusinessImpact {
    pub metric: String,
    pub variant: String,
    pub unit: Option<String>,
    /// treatment − control, per unit of analysis.
    pub difference: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    pub confidence_level: f64,
    pub relative_lift: Option<f64>,
    /// E.g. "+0.042 EUR/m per unit (95% CI 0.011 to 0.073)".
    pub summary: String,
}

/// A finite number, or null.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The machine-readable reason of a statistics error.
fn status_of(e: &StatsError) -> String {
    match e {
        StatsError::TooFewObservations { arm, n } => {
            format!(
                "insufficient_data: {arm} has {n} unit{}",
                if *n == 1 { "" } else { "s" }
            )
        }
        StatsError::ZeroVariance => "zero_variance".into(),
        StatsError::ZeroControlMean => "zero_control_mean".into(),
        StatsError::InvalidArgument { name, rule } => {
            format!("invalid_argument: `{name}` {rule}")
        }
        StatsError::NoSolution(why) => format!("no_solution: {why}"),
        StatsError::ReachedAtMinimum { .. } => "power_reached_at_minimum_size".into(),
    }
}

const OK: &str = "ok";

fn arm_report(variant: &str, s: &Summary) -> ArmReport {
    let ok = s.n > 0 && s.mean.is_finite();
    ArmReport {
        variant: variant.to_string(),
        n: s.n,
        mean: if ok { Some(s.mean) } else { None },
        variance: s.variance().filter(|_| ok).and_then(finite),
        std_dev: s.std_dev().filter(|_| ok).and_then(finite),
    }
}

fn direction_of(difference: f64, target: TargetDirection) -> Direction {
    let better = match target {
        TargetDirection::Increase => difference > 0.0,
        TargetDirection::Decrease => difference < 0.0,
    };
    if difference == 0.0 {
        Direction::Unchanged
    } else if better {
        Direction::Better
    } else {
        Direction::Worse
    }
}

/// Below this z-test size, the exact solver is cheap enough (small df).
const DIRECT_SOLVE_BELOW: f64 = 10_000.0;

/// statsmodels' `TTestIndPower().solve_power` for nobs1, as
/// [`stats::ttest_ind_required_nobs1`], but fast at huge sizes.
///
/// At huge df every t-power evaluation integrates (about 40 µs), and the
/// general solver, bracketing from afar, needs a dozen of them. Here the
/// z-test size (cheap) plus one unit, which is where the t-test lands to
/// within about one unit, starts a Newton step with the z-test's slope and
/// then a secant iteration on the exact t power, to an absolute 1e-7 units:
/// usually three evaluations. Anything unusual falls back to the general
/// solver.
fn required_nobs1(d: f64, alpha: f64, power: f64, ratio: f64) -> Result<f64, StatsError> {
    let exact = || stats::ttest_ind_required_nobs1(d, alpha, power, ratio);
    let z = stats::normal_required_nobs1(d, alpha, power, ratio)?;
    if !(z >= DIRECT_SOLVE_BELOW && z.is_finite()) {
        return exact();
    }
    let f = |n: f64| stats::ttest_ind_power(d, n, alpha, ratio).map(|p| p - power);
    // One Newton step with the slope of the z-test power (cheap and nearly
    // the same curve), then secant steps on the t power.
    let (x0, h) = (z + 1.0, 0.01 * z);
    let slope = (stats::normal_power(d, x0 + h, alpha, ratio)?
        - stats::normal_power(d, x0 - h, alpha, ratio)?)
        / (2.0 * h);
    let mut f0 = f(x0)?;
    let mut x0 = x0;
    let mut x1 = x0 - f0 / slope;
    if !(x1.is_finite() && (x1 - z).abs() < 0.5 * z) {
        return exact();
    }
    let mut f1 = f(x1)?;
    for _ in 0..12 {
        if f1 == f0 {
            break;
        }
        let x2 = x1 - f1 * (x1 - x0) / (f1 - f0);
        if !(x2.is_finite() && (x2 - z).abs() < 0.5 * z) {
            break;
        }
        if (x2 - x1).abs() <= 1e-7 {
            return Ok(x2);
        }
        (x0, f0) = (x1, f1);
        x1 = x2;
        f1 = f(x1)?;
    }
    exact()
}

/// Power at the MDE and the units still needed (see the module docs).
fn power_report(
    metric: &MetricDefinition,
    control: &Summary,
    treatment: &Summary,
    pooled_sd: f64,
) -> PowerReport {
    let mut out = PowerReport {
        status: OK.into(),
        target: metric.power,
        ..PowerReport::default()
    };
    let alpha = metric.significance_level;
    let absolute = metric.minimum_detectable_effect * control.mean.abs();
    if control.mean == 0.0 {
        out.status = status_of(&StatsError::ZeroControlMean);
        return out;
    }
    let d = absolute / pooled_sd;
    if !(d.is_finite() && d > 0.0) {
        out.status = status_of(&StatsError::invalid(
            "minimum_detectable_effect",
            "must give a positive, finite effect size",
        ));
        return out;
    }
    out.absolute_effect = Some(absolute);
    out.effect_size = Some(d);
    let (nc, nt) = (control.n as f64, treatment.n as f64);
    let ratio = nt / nc;
    let achieved = match stats::ttest_ind_power(d, nc, alpha, ratio) {
        Ok(p) => p,
        Err(e) => {
            out.status = status_of(&e);
            return out;
        }
    };
    out.achieved = finite(achieved);
    if achieved >= metric.power {
        out.additional_units = Some(0);
        return out;
    }
    match required_nobs1(d, alpha, metric.power, ratio) {
        Ok(nobs1) => {
            let req_c = nobs1.ceil();
            let req_t = (nobs1 * ratio).ceil();
            // Power is below target, so at least one unit is missing.
            let short = (req_c - nc).max(req_t - nt).max(1.0);
            out.required_control = Some(req_c as u64);
            out.required_treatment = Some(req_t as u64);
            out.additional_units = Some(short as u64);
        }
        Err(e) => out.status = status_of(&e),
    }
    out
}

/// One comparison before the correction.
fn compare(
    metric: &MetricDefinition,
    control: &Summary,
    treatment: &Summary,
    variant: &str,
    options: &AnalysisOptions,
) -> ComparisonReport {
    let alpha = metric.significance_level;
    let mut out = ComparisonReport {
        variant: variant.to_string(),
        status: OK.into(),
        treatment: arm_report(variant, treatment),
        difference: DifferenceReport::default(),
        relative_lift: LiftReport::default(),
        effect_size: EffectSizeReport::default(),
        power: PowerReport {
            target: metric.power,
            ..PowerReport::default()
        },
        sequential: None,
        decision_p_value: None,
        p_adjusted: None,
        significant: None,
        direction: None,
        verdict: Verdict::NotTested,
        harmed: None,
    };
    let welch = match stats::welch(control, treatment, alpha) {
        Ok(w) => w,
        Err(e) => {
            let status = status_of(&e);
            out.relative_lift.status = status.clone();
            out.power.status = status.clone();
            if options.sequential {
                out.sequential = Some(SequentialReport {
                    status: status.clone(),
                    ..SequentialReport::default()
                });
            }
            out.status = status;
            return out;
        }
    };
    out.difference = DifferenceReport {
        estimate: finite(welch.difference),
        std_error: finite(welch.std_error),
        t: finite(welch.t),
        df: finite(welch.df),
        p_value: finite(welch.p_value),
        ci_lower: finite(welch.ci.lower),
        ci_upper: finite(welch.ci.upper),
    };
    out.relative_lift = match stats::relative_lift(control, treatment, alpha) {
        Ok(l) => LiftReport {
            status: OK.into(),
            estimate: finite(l.lift),
            std_error: finite(l.std_error),
            ci_lower: finite(l.ci.lower),
            ci_upper: finite(l.ci.upper),
        },
        Err(e) => LiftReport {
            status: status_of(&e),
            ..LiftReport::default()
        },
    };
    match stats::effect_size(control, treatment) {
        Ok(es) => {
            out.effect_size = EffectSizeReport {
                pooled_std_dev: finite(es.pooled_std_dev),
                cohens_d: finite(es.cohens_d),
                hedges_g: finite(es.hedges_g),
            };
            out.power = power_report(metric, control, treatment, es.pooled_std_dev);
        }
        Err(e) => out.power.status = status_of(&e),
    }
    let direction = direction_of(welch.difference, metric.target_direction);
    out.direction = Some(direction);

    let guardrail = metric.metric_type == MetricType::Guardrail;
    // The fixed-horizon decision p: two-sided, or one-sided towards harm.
    let mut decision_p = if guardrail {
        let towards_harm = match metric.target_direction {
            TargetDirection::Increase => -welch.t,
            TargetDirection::Decrease => welch.t,
        };
        stats::dist::students_t_sf(towards_harm, welch.df).ok()
    } else {
        Some(welch.p_value)
    };
    if options.sequential {
        let tau2 = options
            .mixture_variance
            .get(&metric.name)
            .copied()
            .unwrap_or_else(|| (metric.minimum_detectable_effect * control.mean).powi(2));
        let seq = match stats::always_valid(control, treatment, alpha, tau2) {
            Ok(av) => {
                decision_p = finite(av.p_value);
                SequentialReport {
                    status: OK.into(),
                    mixture_variance: Some(tau2),
                    ci_lower: finite(av.ci.lower),
                    ci_upper: finite(av.ci.upper),
                    p_value: finite(av.p_value),
                }
            }
            Err(e) => {
                let why = if tau2 == 0.0 && control.mean == 0.0 {
                    StatsError::ZeroControlMean
                } else {
                    e
                };
                SequentialReport {
                    status: format!(
                        "{}; decisions use the fixed-horizon p-value",
                        status_of(&why)
                    ),
                    mixture_variance: finite(tau2),
                    ..SequentialReport::default()
                }
            }
        };
        out.sequential = Some(seq);
    }
    out.decision_p_value = decision_p.and_then(finite);
    if guardrail && let Some(p) = out.decision_p_value {
        // Sequential p is two-sided: harm also needs the bad sign.
        let harmed = p < alpha && (!options.sequential || direction == Direction::Worse);
        out.significant = Some(harmed);
        out.harmed = Some(harmed);
        out.verdict = if harmed {
            Verdict::Harmed
        } else {
            Verdict::NotHarmed
        };
    }
    out
}

/// The sample-ratio check over the variants with a positive share.
fn sample_ratio(
    def: &ExperimentDefinition,
    exposures: &[u64],
    split_changed: bool,
) -> SampleRatioReport {
    let skipped = |reason: String| SampleRatioReport {
        status: SampleRatioStatus::Skipped,
        reason: Some(reason),
        statistic: None,
        df: None,
        p_value: None,
        threshold: stats::SRM_THRESHOLD,
        mismatch: false,
    };
    let (observed, weights): (Vec<u64>, Vec<f64>) = def
        .variants
        .iter()
        .enumerate()
        .filter(|(_, v)| v.traffic_percentage > 0.0 && v.traffic_percentage.is_finite())
        .map(|(i, v)| (exposures[i], v.traffic_percentage))
        .unzip();
    if observed.len() < 2 {
        return skipped("fewer than two variants receive traffic".into());
    }
    if split_changed {
        // Units exposed before the change keep their variant, so the counts
        // mix two splits and no single expected ratio applies.
        return skipped(
            "the split changed while units were exposed (they keep their first variant): \
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
            fmt_sig(smallest_expected, 3)
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
        Err(e) => skipped(status_of(&e)),
    }
}

/// `x` with `digits` significant digits, without exponent for ordinary sizes.
fn fmt_sig(x: f64, digits: i32) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 15) as usize;
    format!("{x:.decimals$}")
}

/// A p-value for a sentence.
fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// A level such as 0.95 as "95%".
fn fmt_percent(x: f64) -> String {
    let pct = x * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{}%", pct.round())
    } else {
        format!("{}%", fmt_sig(pct, 3))
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration in days, read as a person would say it: "2.5 days",
/// "3.2 hours", "12 minutes", "under a minute".
fn fmt_duration(days: f64) -> String {
    let minutes = days * 24.0 * 60.0;
    if days >= 1.0 {
        format!("{} days", fmt_sig(days, 3))
    } else if minutes >= 60.0 {
        format!("{} hours", fmt_sig(minutes / 60.0, 2))
    } else if minutes >= 1.0 {
        plural(minutes.floor() as u64, "minute", "minutes")
    } else {
        "under a minute".to_string()
    }
}

/// Whole days for a sentence ("3 more days").
fn fmt_days(days: f64) -> String {
    let whole = days.ceil().max(1.0) as u64;
    plural(whole, "more day", "more days")
}

/// "+0.042 EUR/m per unit (95% CI 0.011 to 0.073)".
fn impact(metric: &MetricReport, c: &ComparisonReport) -> Option<BusinessImpact> {
    let d = &c.difference;
    let (difference, lower, upper) = (d.estimate?, d.ci_lower?, d.ci_upper?);
    // Two significant digits of the half-width set the decimals.
    let half = 0.5 * (upper - lower);
    let decimals = if half > 0.0 {
        (1 - half.log10().floor() as i32).clamp(0, 15) as usize
    } else {
        3
    };
    let unit = metric
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    let summary = format!(
        "{difference:+.decimals$}{unit} per unit ({} CI {lower:.decimals$} to {upper:.decimals$})",
        fmt_percent(metric.confidence_level)
    );
    Some(BusinessImpact {
        metric: metric.name.clone(),
        variant: c.variant.clone(),
        unit: metric.unit.clone(),
        difference,
        ci_lower: lower,
        ci_upper: upper,
        confidence_level: metric.confidence_level,
        relative_lift: c.relative_lift.estimate,
        summary,
    })
}

/// Adjusts the decision p-values of every primary and secondary comparison
/// as one family and sets significance, direction and verdict.
fn correct(metrics: &mut [MetricReport], correction: Correction) {
    let mut family = Vec::new();
    for (m, metric) in metrics.iter().enumerate() {
        if metric.metric_type == MetricType::Guardrail {
            continue;
        }
        for (c, comparison) in metric.comparisons.iter().enumerate() {
            if let Some(p) = comparison.decision_p_value {
                family.push((m, c, p));
            }
        }
    }
    let p: Vec<f64> = family.iter().map(|f| f.2).collect();
    // Alpha only drives the library's reject flags; significance is judged
    // below against each metric's own level.
    let adjusted = match correction {
        Correction::Holm => stats::holm(&p, 0.05),
        Correction::BenjaminiHochberg => stats::benjamini_hochberg(&p, 0.05),
    };
    let Ok(adjusted) = adjusted else {
        return; // p-values are finite and in [0, 1] by construction
    };
    for (&(m, c, _), a) in family.iter().zip(&adjusted) {
        let alpha = metrics[m].significance_level;
        let comparison = &mut metrics[m].comparisons[c];
        let significant = a.p_adjusted < alpha;
        comparison.p_adjusted = Some(a.p_adjusted);
        comparison.significant = Some(significant);
        comparison.verdict = match (significant, comparison.direction) {
            (true, Some(Direction::Better)) => Verdict::Better,
            (true, Some(Direction::Worse)) => Verdict::Worse,
            _ => Verdict::Inconclusive,
        };
    }
}

/// The verdict and its reasons, filled into `report`.
fn conclude(report: &mut AnalysisReport, control_index: usize) {
    let mut reasons = Vec::new();

    if report.sample_ratio.mismatch {
        let srm = &report.sample_ratio;
        let shares: Vec<String> = report
            .variants
            .iter()
            .map(|v| {
                format!(
                    "{} {} observed vs {} expected",
                    v.name,
                    fmt_percent(v.observed_share.unwrap_or(0.0)),
                    fmt_percent(v.expected_share)
                )
            })
            .collect();
        reasons.push(format!(
            "The exposures do not match the configured traffic split (chi-square {} with {} df, p = {} < {}): {}.",
            fmt_sig(srm.statistic.unwrap_or(0.0), 4),
            srm.df.unwrap_or(0),
            fmt_p(srm.p_value.unwrap_or(0.0)),
            srm.threshold,
            shares.join(", ")
        ));
        reasons.push(
            "Find the cause (assignment, logging, bots, redirects) before trusting any metric."
                .into(),
        );
        report.conclusion = ConclusionKind::Invalid;
        report.recommendation = "invalid: sample ratio mismatch".into();
        report.reasons = reasons;
        return;
    }

    let mut harmed = Vec::new();
    for m in &report.metrics {
        for c in &m.comparisons {
            if c.harmed == Some(true) {
                harmed.push(format!("{} in {}", m.name, c.variant));
                reasons.push(format!(
                    "Guardrail {} is significantly worse in {} than in {}: {} {} (one-sided p = {} < {}).",
                    m.name,
                    c.variant,
                    report.control,
                    fmt_sig(c.difference.estimate.unwrap_or(0.0), 3),
                    m.unit.as_deref().unwrap_or("per unit"),
                    fmt_p(c.decision_p_value.unwrap_or(0.0)),
                    m.significance_level
                ));
            }
        }
    }
    if !harmed.is_empty() {
        report.conclusion = ConclusionKind::Stop;
        report.recommendation = format!("stop: guardrail harmed ({})", harmed.join("; "));
        report.reasons = reasons;
        report.business_impact = None;
        return;
    }

    let any_primary = report
        .metrics
        .iter()
        .any(|m| m.metric_type == MetricType::Primary);
    let deciding = |m: &MetricReport| {
        if any_primary {
            m.metric_type == MetricType::Primary
        } else {
            m.metric_type == MetricType::Secondary
        }
    };

    // Minimum sample size and duration.
    let fewest = report
        .variants
        .iter()
        .map(|v| v.exposures)
        .min()
        .unwrap_or(0);
    let units_short = report.minimum_sample_size.saturating_sub(fewest);
    let days_short = match report.duration_days {
        Some(d) => (f64::from(report.minimum_duration_days) - d).max(0.0),
        None => f64::from(report.minimum_duration_days),
    };
    let mut requirements = Vec::new();
    if units_short > 0 {
        requirements.push(format!(
            "The smallest variant has {} exposed units of the {} required per variant.",
            fewest, report.minimum_sample_size
        ));
    }
    if days_short > 0.0 {
        requirements.push(match report.duration_days {
            Some(d) => format!(
                "The experiment has run {} of the minimum {} days.",
                fmt_duration(d),
                report.minimum_duration_days
            ),
            None => format!(
                "No unit has been exposed yet; the minimum duration is {} days.",
                report.minimum_duration_days
            ),
        });
    }

    // Ship candidates: better on a deciding metric, worse on none.
    struct Candidate {
        variant: String,
        better: Vec<(usize, usize, f64)>,
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    let n_variants = report.variants.len();
    for v in (0..n_variants).filter(|&v| v != control_index) {
        let name = &report.variants[v].name;
        let mut better = Vec::new();
        let mut worse = false;
        for (mi, m) in report.metrics.iter().enumerate() {
            if !deciding(m) {
                continue;
            }
            for (ci, c) in m.comparisons.iter().enumerate() {
                if &c.variant != name {
                    continue;
                }
                match c.verdict {
                    Verdict::Better => better.push((mi, ci, c.p_adjusted.unwrap_or(1.0))),
                    Verdict::Worse => worse = true,
                    _ => {}
                }
            }
        }
        if !better.is_empty() && !worse {
            candidates.push(Candidate {
                variant: name.clone(),
                better,
            });
        }
    }
    let best_p = |c: &Candidate| c.better.iter().map(|b| b.2).fold(1.0, f64::min);
    candidates.sort_by(|a, b| {
        b.better
            .len()
            .cmp(&a.better.len())
            .then(best_p(a).total_cmp(&best_p(b)))
    });

    for cand in &candidates {
        for &(mi, ci, _) in &cand.better {
            let m = &report.metrics[mi];
            let c = &m.comparisons[ci];
            reasons.push(format!(
                "{} is significantly better than {} on {}: {} ({} lift, adjusted p = {} < {}, {}).",
                c.variant,
                report.control,
                m.name,
                fmt_sig(c.difference.estimate.unwrap_or(0.0), 3),
                c.relative_lift
                    .estimate
                    .map(|l| format!("{:+.2}%", 100.0 * l))
                    .unwrap_or_else(|| "no relative".into()),
                fmt_p(c.p_adjusted.unwrap_or(1.0)),
                m.significance_level,
                match report.correction {
                    Correction::Holm => "Holm",
                    Correction::BenjaminiHochberg => "Benjamini-Hochberg",
                }
            ));
        }
    }

    if let Some(winner) = candidates.first() {
        let (mi, ci, _) = winner
            .better
            .iter()
            .copied()
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .unwrap_or(winner.better[0]);
        report.business_impact = impact(&report.metrics[mi], &report.metrics[mi].comparisons[ci]);
        if units_short == 0 && days_short == 0.0 {
            reasons.push("No guardrail is harmed.".into());
            reasons.push(format!(
                "Every variant has at least {} exposed units and the experiment has run at least {} days.",
                report.minimum_sample_size, report.minimum_duration_days
            ));
            report.conclusion = ConclusionKind::Ship;
            report.recommendation = format!("ship {}", winner.variant);
            report.winner = Some(winner.variant.clone());
            report.reasons = reasons;
            return;
        }
        reasons.push(format!(
            "{} cannot ship yet: the minimum sample size and duration guard against early noise and weekly cycles.",
            winner.variant
        ));
        reasons.extend(requirements);
        keep_running(report, units_short, days_short, reasons);
        return;
    }

    // No candidate: does any deciding comparison still lack power or data?
    let mut power_short = 0u64;
    let mut untestable = Vec::new();
    let mut first_deciding: Option<usize> = None;
    for (mi, m) in report.metrics.iter().enumerate() {
        if !deciding(m) {
            continue;
        }
        first_deciding.get_or_insert(mi);
        for c in &m.comparisons {
            if c.status != OK {
                // Fewer than two units in an arm: at least that many more.
                let need = 2u64
                    .saturating_sub(m.control.n)
                    .max(2u64.saturating_sub(c.treatment.n));
                power_short = power_short.max(need);
                untestable.push(format!("{} in {} ({})", m.name, c.variant, c.status));
                continue;
            }
            if c.verdict == Verdict::Worse {
                reasons.push(format!(
                    "{} is significantly worse than {} on {} (adjusted p = {}).",
                    c.variant,
                    report.control,
                    m.name,
                    fmt_p(c.p_adjusted.unwrap_or(1.0))
                ));
                continue;
            }
            match (c.power.achieved, c.power.additional_units) {
                (Some(achieved), Some(extra)) if extra > 0 => {
                    power_short = power_short.max(extra);
                    reasons.push(format!(
                        "{} in {}: power {} at the MDE of {} (target {}); about {} more units per variant reach it.",
                        m.name,
                        c.variant,
                        fmt_percent(achieved),
                        fmt_percent(m.minimum_detectable_effect),
                        fmt_percent(m.power),
                        extra
                    ));
                }
                (Some(_), Some(_)) => {}
                _ => untestable.push(format!(
                    "{} in {} (power: {})",
                    m.name, c.variant, c.power.status
                )),
            }
        }
    }
    if let Some(mi) = first_deciding {
        let m = &report.metrics[mi];
        report.business_impact = m
            .comparisons
            .iter()
            .filter(|c| c.decision_p_value.is_some())
            .min_by(|a, b| {
                a.decision_p_value
                    .unwrap_or(1.0)
                    .total_cmp(&b.decision_p_value.unwrap_or(1.0))
            })
            .and_then(|c| impact(m, c));
    }
    if !untestable.is_empty() {
        reasons.push(format!("Not testable yet: {}.", untestable.join("; ")));
    }
    let units = units_short.max(power_short);
    if units > 0 || days_short > 0.0 {
        reasons.push("No variant is significantly better than the control yet.".into());
        reasons.extend(requirements);
        keep_running(report, units, days_short, reasons);
        return;
    }
    let why = if first_deciding.is_none() {
        "no primary or secondary metric is defined".to_string()
    } else if untestable.is_empty() {
        "no variant is significantly better than the control, and every primary comparison has reached its power at the MDE".to_string()
    } else {
        "no variant is significantly better than the control; some comparisons cannot be tested"
            .to_string()
    };
    reasons.push(format!(
        "The minimum sample size ({} per variant) and duration ({} days) are reached.",
        report.minimum_sample_size, report.minimum_duration_days
    ));
    report.conclusion = ConclusionKind::NoDifference;
    report.recommendation = format!("no difference: {why}");
    report.reasons = reasons;
}

fn keep_running(report: &mut AnalysisReport, units: u64, days: f64, reasons: Vec<String>) {
    let mut needs = Vec::new();
    if units > 0 {
        needs.push(plural(
            units,
            "more unit per variant",
            "more units per variant",
        ));
        report.additional_units_per_variant = Some(units);
    }
    if days > 0.0 {
        needs.push(fmt_days(days));
        report.additional_days = Some(days);
    }
    report.conclusion = ConclusionKind::KeepRunning;
    report.recommendation = if needs.is_empty() {
        "keep running: more data needed".into()
    } else {
        format!("keep running: {} needed", needs.join(" and "))
    };
    report.reasons = reasons;
}

/// Analyses an experiment from its summaries and exposures: every metric and
/// non-control variant against the control, the sample-ratio check, the
/// correction, and the verdict (see the module docs for every choice).
///
/// O(variants × metrics), independent of the number of observations. Never
/// fails: degenerate data show up as statuses and null numbers.
pub fn analyze(input: &AnalysisInput<'_>) -> AnalysisReport {
    let def = input.definition;
    let n_variants = def.variants.len();
    let control_index = def.control_index();
    let exposures: Vec<u64> = (0..n_variants)
        .map(|i| input.exposures.get(i).copied().unwrap_or(0))
        .collect();
    let summary = |v: usize, m: usize| {
        input
            .summaries
            .get(v)
            .and_then(|row| row.get(m))
            .copied()
            .unwrap_or(Summary::EMPTY)
    };
    let total_exposures: u64 = exposures.iter().sum();
    let weight_sum: f64 = def
        .variants
        .iter()
        .map(|v| v.traffic_percentage.max(0.0))
        .sum();
    let variants = def
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| VariantReport {
            name: v.name.clone(),
            is_control: i == control_index,
            traffic_percentage: v.traffic_percentage,
            exposures: exposures[i],
            expected_share: finite(v.traffic_percentage.max(0.0) / weight_sum).unwrap_or(0.0),
            observed_share: (total_exposures > 0)
                .then(|| exposures[i] as f64 / total_exposures as f64),
        })
        .collect();
    let control_name = def
        .variants
        .get(control_index)
        .map(|v| v.name.clone())
        .unwrap_or_default();

    let mut metrics: Vec<MetricReport> = def
        .metrics
        .iter()
        .enumerate()
        .map(|(m, metric)| {
            let control = summary(control_index, m);
            let comparisons = (0..n_variants)
                .filter(|&v| v != control_index)
                .map(|v| {
                    compare(
                        metric,
                        &control,
                        &summary(v, m),
                        &def.variants[v].name,
                        &input.options,
                    )
                })
                .collect();
            MetricReport {
                name: metric.name.clone(),
                metric_type: metric.metric_type,
                aggregation: metric.aggregation,
                target_direction: metric.target_direction,
                unit: metric.unit.clone(),
                minimum_detectable_effect: metric.minimum_detectable_effect,
                significance_level: metric.significance_level,
                confidence_level: 1.0 - metric.significance_level,
                power: metric.power,
                control: arm_report(&control_name, &control),
                comparisons,
            }
        })
        .collect();
    correct(&mut metrics, input.options.correction);

    let mut report = AnalysisReport {
        experiment_id: def.id.clone(),
        experiment_name: def.name.clone(),
        status: def.status,
        control: control_name,
        duration_days: input
            .first_exposure_ms
            .map(|t| input.now_ms.saturating_sub(t).max(0) as f64 / 86_400_000.0),
        minimum_duration_days: def.minimum_duration_days,
        minimum_sample_size: def.minimum_sample_size,
        correction: input.options.correction,
        sequential: input.options.sequential,
        variants,
        sample_ratio: sample_ratio(def, &exposures, input.split_changed),
        metrics,
        conclusion: ConclusionKind::KeepRunning,
        recommendation: String::new(),
        reasons: Vec::new(),
        winner: None,
        additional_units_per_variant: None,
        additional_days: None,
        business_impact: None,
    };
    conclude(&mut report, control_index);
    report
}

/// A unit enum's JSON name (`not_harmed`, `primary`), so the table and the
/// JSON use the same words.
fn snake_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "-".into(),
    }
}

impl AnalysisReport {
    /// A plain-text table per metric with the interval and the verdict, for
    /// the CLI's human output.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} ({}) [{}], control {}, {}",
            self.experiment_name,
            self.experiment_id,
            self.status.as_str(),
            self.control,
            match self.duration_days {
                Some(d) => format!("running {}", fmt_duration(d)),
                None => "no exposures yet".into(),
            }
        );
        let exposures: Vec<String> = self
            .variants
            .iter()
            .map(|v| format!("{} {}", v.name, v.exposures))
            .collect();
        let _ = writeln!(
            out,
            "exposures: {}; sample ratio: {}",
            exposures.join(", "),
            match self.sample_ratio.status {
                SampleRatioStatus::Skipped => format!(
                    "skipped ({})",
                    self.sample_ratio.reason.as_deref().unwrap_or("")
                ),
                s => format!(
                    "{} (p = {})",
                    if s == SampleRatioStatus::Ok {
                        "ok"
                    } else {
                        "MISMATCH"
                    },
                    fmt_p(self.sample_ratio.p_value.unwrap_or(1.0))
                ),
            }
        );
        for m in &self.metrics {
            let _ = writeln!(
                out,
                "\n{} ({}, {}{})",
                m.name,
                snake_name(&m.metric_type),
                match m.target_direction {
                    TargetDirection::Increase => "higher is better",
                    TargetDirection::Decrease => "lower is better",
                },
                m.unit
                    .as_deref()
                    .map(|u| format!(", {u}"))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                out,
                "  {:<16} {:>9} {:>12} {:>12} {:>30} {:>9} {:>9} {:>7}  verdict",
                "variant",
                "n",
                "mean",
                "difference",
                format!("{} CI", fmt_percent(m.confidence_level)),
                "lift",
                "p adj",
                "power"
            );
            let num = |x: Option<f64>| x.map(|v| fmt_sig(v, 4)).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "  {:<16} {:>9} {:>12} {:>12} {:>30} {:>9} {:>9} {:>7}  control",
                m.control.variant,
                m.control.n,
                num(m.control.mean),
                "",
                "",
                "",
                "",
                ""
            );
            for c in &m.comparisons {
                let ci = match (c.difference.ci_lower, c.difference.ci_upper) {
                    (Some(l), Some(u)) => format!("[{}, {}]", fmt_sig(l, 4), fmt_sig(u, 4)),
                    _ => "-".into(),
                };
                let verdict = if c.status == OK {
                    snake_name(&c.verdict)
                } else {
                    c.status.clone()
                };
                let _ = writeln!(
                    out,
                    "  {:<16} {:>9} {:>12} {:>12} {:>30} {:>9} {:>9} {:>7}  {}",
                    c.variant,
                    c.treatment.n,
                    num(c.treatment.mean),
                    num(c.difference.estimate),
                    ci,
                    c.relative_lift
                        .estimate
                        .map(|l| format!("{:+.2}%", 100.0 * l))
                        .unwrap_or_else(|| "-".into()),
                    c.p_adjusted
                        .or(c.decision_p_value)
                        .map(fmt_p)
                        .unwrap_or_else(|| "-".into()),
                    c.power
                        .achieved
                        .map(fmt_percent)
                        .unwrap_or_else(|| "-".into()),
                    verdict
                );
            }
        }
        let _ = writeln!(out, "\nrecommendation: {}", self.recommendation);
        for r in &self.reasons {
            let _ = writeln!(out, "  - {r}");
        }
        if let Some(b) = &self.business_impact {
            let _ = writeln!(out, "impact ({} in {}): {}", b.metric, b.variant, b.summary);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_solver_agrees_with_the_general_one() {
        for &d in &[0.5, 0.05, 0.02, 0.005, 0.0025, 0.001] {
            for &ratio in &[1.0, 0.5, 1.000_017, 3.0] {
                for &(alpha, power) in &[(0.05, 0.8), (0.01, 0.9), (0.1, 0.5)] {
                    let fast = required_nobs1(d, alpha, power, ratio).unwrap();
                    let exact = stats::ttest_ind_required_nobs1(d, alpha, power, ratio).unwrap();
                    assert!(
                        (fast - exact).abs() <= 1e-6_f64.max(1e-13 * exact),
                        "d {d} ratio {ratio} alpha {alpha} power {power}: {fast} vs {exact}"
                    );
                    assert_eq!(fast.ceil(), exact.ceil());
                }
            }
        }
    }

    #[test]
    fn status_strings() {
        use crate::stats::Arm;
        let one = StatsError::TooFewObservations {
            arm: Arm::Control,
            n: 1,
        };
        assert_eq!(status_of(&one), "insufficient_data: control has 1 unit");
        let none = StatsError::TooFewObservations {
            arm: Arm::Treatment,
            n: 0,
        };
        assert_eq!(status_of(&none), "insufficient_data: treatment has 0 units");
        assert_eq!(status_of(&StatsError::ZeroVariance), "zero_variance");
        assert_eq!(status_of(&StatsError::ZeroControlMean), "zero_control_mean");
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_sig(0.042_13, 3), "0.0421");
        assert_eq!(fmt_sig(1234.5, 3), "1234");
        assert_eq!(fmt_percent(0.95), "95%");
        assert_eq!(fmt_percent(0.975), "97.5%");
        assert_eq!(fmt_p(0.012_345), "0.0123");
        assert_eq!(fmt_p(2.5e-7), "2.5e-7");
        assert_eq!(fmt_days(0.2), "1 more day");
        assert_eq!(fmt_days(3.75), "4 more days");
        assert_eq!(fmt_duration(2.5), "2.50 days");
        assert_eq!(fmt_duration(0.25), "6.0 hours");
        assert_eq!(fmt_duration(0.01), "14 minutes");
        assert_eq!(fmt_duration(0.0000026), "under a minute");
    }

    #[test]
    fn business_impact_sentence() {
        let metric = MetricReport {
            name: "cost".into(),
            metric_type: MetricType::Primary,
            aggregation: Aggregation::Mean,
            target_direction: TargetDirection::Increase,
            unit: Some("EUR/m".into()),
            minimum_detectable_effect: 0.05,
            significance_level: 0.05,
            confidence_level: 0.95,
            power: 0.8,
            control: arm_report("standard", &Summary::EMPTY),
            comparisons: Vec::new(),
        };
        let mut c = compare(
            &MetricDefinition {
                name: "cost".into(),
                description: String::new(),
                metric_type: MetricType::Primary,
                aggregation: Aggregation::Mean,
                target_direction: TargetDirection::Increase,
                minimum_detectable_effect: 0.05,
                significance_level: 0.05,
                power: 0.8,
                unit: None,
            },
            &Summary::from_values(&[1.0, 2.0]),
            &Summary::from_values(&[1.0, 3.0]),
            "intelligent",
            &AnalysisOptions::default(),
        );
        c.difference.estimate = Some(0.042);
        c.difference.ci_lower = Some(0.011);
        c.difference.ci_upper = Some(0.073);
        let b = impact(&metric, &c).unwrap();
        assert_eq!(b.summary, "+0.042 EUR/m per unit (95% CI 0.011 to 0.073)");
    }
}
