//! The analysis of an A/B test: every variant against the control, per
//! metric, from the stored [`Summary`] values, with an overall verdict.
//!
//! Pure and O(1) in the number of observations: [`analyze`] reads one
//! summary per (variant, metric) and the exposure counts, and never sees a
//! raw row. The statistics are those of [`crate::stats`] (scipy/statsmodels
//! exact); the analysis decides which to run and what they mean together.
//! This module holds the inputs and puts the report together; the jobs sit
//! beside it: [`report`](super::report) (the JSON types), `compare` (one
//! variant against the control on one metric), `sample_ratio`, `verdict`
//! (the correction and the conclusion) and [`wording`](super::wording) (how
//! numbers read in sentences).
//!
//! # Choices
//!
//! - **Unit of analysis**: each summary holds one value per unit (the unit's
//!   observations combined by the metric's aggregation, see
//!   `handle::experiments::fold`), so `n` is a count of units, not of
//!   observations. The summaries are exact at any offset (see
//!   [`Summary`]).
//! - **Phases**: a test's phases (a split change, a pause and a resume, a
//!   restart) are each checked against their own split; the estimates use
//!   the phases [`AnalysisOptions::phases`] selects, by default the latest
//!   in which every variant with traffic has `minimum_sample_size` units
//!   (else the latest with exposures), and the report says which. The
//!   minimum duration counts the days the analysed phases admitted units.
//! - **Fixed-horizon tests**: Welch's t-test, two-sided, and its
//!   (1 − significance_level) interval of the difference treatment − control;
//!   the relative lift (over |control mean|, so that its sign is the
//!   effect's) with the delta-method interval at the same Student t
//!   quantile and Welch df as the difference's, as gbstats does; Cohen's d
//!   (pooled) and Hedges' g.
//! - **Power** at the metric's minimum detectable effect (MDE, relative): the
//!   standardised effect is `mde × |control mean| / pooled sd`, i.e. Cohen's d
//!   of a change of MDE from the control's level, with the pooled standard
//!   deviation of both arms. Achieved power is statsmodels'
//!   `TTestIndPower().power(d, nobs1 = n_control, alpha, ratio = n_t / n_c)`
//!   at the level the decision applies: the family's level divided by the
//!   number of comparisons in it under Holm (its first step) and
//!   Benjamini–Hochberg (its strictest step), as is without a correction; a
//!   guardrail's own level. With five comparisons Holm's first step runs at
//!   α/5, where 80% nominal power would be about 59% real power.
//!   The units still needed assume the arms keep their current proportion:
//!   `nobs1 = TTestIndPower().solve_power(d, alpha, power, ratio = n_t / n_c)`,
//!   rounded up, minus what each arm has; 0 once the target power is reached
//!   ([`stats::ttest_ind_sample_size`](crate::stats::ttest_ind_sample_size), the
//!   solver that plans use too).
//! - **Multiple comparisons**: one family holds every (primary or secondary
//!   metric, non-control variant) comparison; its p-values are adjusted by
//!   Holm (default), Benjamini–Hochberg or not at all. **One level** rules
//!   the family: the smallest `significance_level` of its metrics (so the
//!   family is controlled at every metric's level, not only at the largest);
//!   a comparison is significant when its adjusted p is below it. Each
//!   metric's intervals keep its own level.
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
//! - **Sample ratio**: per phase, Pearson's chi-square of the units first
//!   exposed in it against its own traffic percentages (variants with 0%
//!   are left out), flagged below
//!   p = 0.001. It is skipped, with the reason, when there are no exposures
//!   or the smallest expected count is below 5 (Cochran's rule for the
//!   chi-square approximation), which covers "fewer than two variants have
//!   exposures" at the start without hiding 1,000 against 0 later.
//! - **Degenerate data** give a status of
//!   [`NotComputed`](super::report::ComparisonStatus::NotComputed) with the
//!   reason (in the JSON `"insufficient_data: control has 1 unit"` or
//!   `"zero_variance"`, for example, instead of `"ok"`) and null numbers,
//!   never NaN or infinity.
//! - **Verdict**, in order of precedence: a sample ratio mismatch in an
//!   analysed phase makes the experiment invalid; a harmed guardrail stops
//!   it; a variant significantly better on a primary metric (after
//!   correction) and significantly worse on none ships, once every variant
//!   has `minimum_sample_size` exposures and the analysed phases have run
//!   `minimum_duration_days` (several candidates: the one better on most
//!   primary metrics, then the smallest adjusted p); without one, a variant
//!   better on one primary metric and worse on another is a trade-off for
//!   people to decide, and one only worse is harm (keep the control) — both
//!   at once, since more data would not undo them; a comparison whose arms
//!   both have zero variance but different means cannot be tested;
//!   otherwise it keeps running while units (for the minimum sample size or
//!   for the power at the MDE of every primary comparison, at the corrected
//!   level) or days are missing; otherwise there is no difference. Without
//!   primary metrics the secondary ones decide.
//! - **Business impact**: the winner's most significant better primary
//!   comparison, or (no winner) the comparison with the smallest p on the
//!   first primary metric: the absolute difference per unit in the metric's
//!   `unit`, with its interval.

use super::compare::{arm_report, compare};
use super::model::ExperimentDefinition;
use super::model::MetricType;
use super::options::AnalysisOptions;
use super::phases::{Phase, PhaseData, PhaseStart, Split};
use super::report::{
    AnalysisReport, ConclusionKind, MetricReport, PhaseReport, PhaseShare, QuarantineReport,
    SampleRatioReport, SampleRatioStatus, VariantReport, finite,
};
use super::sample_ratio::sample_ratio;
use super::verdict::{conclude, correct, family_alpha, powered_alpha};
use crate::common::time::format_rfc3339_ms;
use crate::stats::Summary;

/// What [`analyze`] reads. Slices shorter than the definition's variants or
/// metrics read as empty summaries and zero exposures.
#[derive(Debug, Clone)]
pub struct AnalysisInput<'a> {
    /// The experiment as configured.
    pub definition: &'a ExperimentDefinition,
    /// `summaries[variant][metric]`, in definition order: one value per
    /// unit, of the analysed phases pooled.
    pub summaries: &'a [Vec<Summary>],
    /// Exposed units per variant of the analysed phases, in definition order.
    pub exposures: &'a [u64],
    /// Every phase of the test, in order, with its exposures (none before
    /// it has started).
    pub phases: Vec<PhaseData>,
    /// The numbers of the phases the summaries and exposures are of.
    pub analyzed: Vec<u32>,
    /// Which phases those are and why, in a sentence.
    pub selection: String,
    /// The observations the fold left out.
    pub quarantined: QuarantineReport,
    /// The time of the analysis (epoch ms).
    pub now_ms: i64,
    /// How to analyse.
    pub options: AnalysisOptions,
}

impl<'a> AnalysisInput<'a> {
    /// The input of a test with one phase, begun at `started_ms` (None:
    /// not started) under the definition's split and running still: what
    /// a test that never changed its split or paused looks like.
    pub fn one_phase(
        definition: &'a ExperimentDefinition,
        summaries: &'a [Vec<Summary>],
        exposures: &'a [u64],
        started_ms: Option<i64>,
        now_ms: i64,
        options: AnalysisOptions,
    ) -> AnalysisInput<'a> {
        let phases: Vec<PhaseData> = started_ms
            .map(|started_ms| PhaseData {
                phase: Phase {
                    number: 1,
                    started_ms,
                    ended_ms: None,
                    split: Split::of(definition),
                    reason: PhaseStart::Start,
                    mixed: false,
                },
                exposures: (0..definition.variants.len())
                    .map(|i| exposures.get(i).copied().unwrap_or(0))
                    .collect(),
            })
            .into_iter()
            .collect();
        let analyzed = phases.iter().map(|p| p.phase.number).collect();
        AnalysisInput {
            definition,
            summaries,
            exposures,
            phases,
            analyzed,
            selection: "phase 1, the only one".into(),
            quarantined: QuarantineReport::default(),
            now_ms,
            options,
        }
    }
}

/// The report of each phase, with its own sample-ratio check.
fn phase_reports(input: &AnalysisInput<'_>) -> Vec<PhaseReport> {
    input
        .phases
        .iter()
        .map(|p| phase_report(p, input.analyzed.contains(&p.phase.number), input.now_ms))
        .collect()
}

/// The report of one phase at `now_ms`, with its own sample-ratio check.
pub fn phase_report(p: &PhaseData, analyzed: bool, now_ms: i64) -> PhaseReport {
    let ph = &p.phase;
    PhaseReport {
        phase: ph.number,
        reason: ph.reason.as_str().to_string(),
        started_at: format_rfc3339_ms(ph.started_ms),
        started_ms: ph.started_ms,
        ended_at: ph.ended_ms.map(format_rfc3339_ms),
        ended_ms: ph.ended_ms,
        duration_days: ph.duration_days(now_ms),
        coverage: ph.split.coverage,
        split: ph
            .split
            .variants
            .iter()
            .zip(p.exposures.iter().chain(std::iter::repeat(&0)))
            .map(|(s, &n)| PhaseShare {
                variant: s.name.clone(),
                traffic_percentage: s.traffic_percentage,
                exposures: n,
            })
            .collect(),
        sample_ratio: sample_ratio(&ph.split, &p.exposures, ph.mixed),
        analyzed,
    }
}

/// The sample-ratio check of the analysed phases together: a mismatch in
/// any, else the tested one with the smallest p, else the latest's reason.
fn overall_sample_ratio(phases: &[PhaseReport]) -> SampleRatioReport {
    let analyzed: Vec<&PhaseReport> = phases.iter().filter(|p| p.analyzed).collect();
    let worst = |status: SampleRatioStatus| {
        analyzed
            .iter()
            .filter(|p| p.sample_ratio.status == status)
            .min_by(|a, b| {
                let p = |r: &PhaseReport| r.sample_ratio.p_value.unwrap_or(1.0);
                p(a).total_cmp(&p(b))
            })
            .map(|p| p.sample_ratio.clone())
    };
    worst(SampleRatioStatus::Mismatch)
        .or_else(|| worst(SampleRatioStatus::Ok))
        .or_else(|| analyzed.last().map(|p| p.sample_ratio.clone()))
        .unwrap_or_else(|| SampleRatioReport {
            status: SampleRatioStatus::Skipped,
            reason: Some("no exposures yet".into()),
            statistic: None,
            df: None,
            p_value: None,
            threshold: crate::stats::SRM_THRESHOLD,
            mismatch: false,
        })
}

/// Analyses an experiment from its summaries and exposures: every metric and
/// non-control variant against the control, the sample-ratio check, the
/// correction, and the verdict (see the module docs for every choice).
///
/// O(variants × metrics + phases), independent of the number of
/// observations. Never fails: degenerate data show up as statuses and null
/// numbers.
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

    let alpha = family_alpha(&def.metrics);
    let family_size = def
        .metrics
        .iter()
        .filter(|m| m.metric_type != MetricType::Guardrail)
        .count()
        * n_variants.saturating_sub(1);
    let mut metrics: Vec<MetricReport> = def
        .metrics
        .iter()
        .enumerate()
        .map(|(m, metric)| {
            let power_alpha = match (metric.metric_type, alpha) {
                (MetricType::Guardrail, _) | (_, None) => metric.significance_level,
                (_, Some(a)) => powered_alpha(a, family_size, input.options.correction),
            };
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
                        power_alpha,
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
    correct(
        &mut metrics,
        input.options.correction,
        alpha.unwrap_or(0.05),
    );

    let phases = phase_reports(input);
    let analyzed: Vec<&PhaseReport> = phases.iter().filter(|p| p.analyzed).collect();
    let started_ms = phases.first().map(|p| p.started_ms);
    let mut report = AnalysisReport {
        experiment_id: def.id.clone(),
        experiment_name: def.name.clone(),
        status: def.status,
        control: control_name,
        started_at: started_ms.map(format_rfc3339_ms),
        started_ms,
        duration_days: (!analyzed.is_empty())
            .then(|| analyzed.iter().map(|p| p.duration_days).sum::<f64>())
            .and_then(finite),
        minimum_duration_days: def.minimum_duration_days,
        minimum_sample_size: def.minimum_sample_size,
        correction: input.options.correction,
        family_alpha: alpha,
        family_size,
        sequential: input.options.sequential,
        sample_ratio: overall_sample_ratio(&phases),
        analyzed_phases: input.analyzed.clone(),
        phase_selection: input.selection.clone(),
        phases,
        variants,
        quarantined: input.quarantined.clone(),
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
