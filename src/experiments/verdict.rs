//! The verdict: the correction across metrics, then what the comparisons
//! mean together (invalid, stop, harm, trade-off, ship, untestable, keep
//! running or no difference), in sentences, with the business impact (the
//! order of precedence is in [`super::analyze`]).

use super::model::MetricType;
use super::options::Correction;
use super::report::{
    AnalysisReport, BusinessImpact, ComparisonReport, ConclusionKind, Direction, MetricReport,
    Verdict,
};
use super::wording;
use crate::stats::{self, StatsError};

/// The one level the family of primary and secondary comparisons is
/// controlled at: the smallest `significance_level` among those metrics,
/// so that the family is controlled at every metric's level. None without
/// such metrics.
pub(super) fn family_alpha(metrics: &[super::model::MetricDefinition]) -> Option<f64> {
    metrics
        .iter()
        .filter(|m| m.metric_type != MetricType::Guardrail)
        .map(|m| m.significance_level)
        .reduce(f64::min)
}

/// The level each comparison of the family is powered at: the family's
/// level, divided by the number of comparisons under Holm (its first step)
/// and Benjamini–Hochberg (its strictest step), as is under no correction.
pub(super) fn powered_alpha(alpha: f64, comparisons: usize, correction: Correction) -> f64 {
    match correction {
        Correction::None => alpha,
        Correction::Holm | Correction::BenjaminiHochberg => alpha / comparisons.max(1) as f64,
    }
}

/// Adjusts the decision p-values of every primary and secondary comparison
/// as one family and sets significance, direction and verdict: a
/// comparison is significant when its adjusted p is below `alpha`, the
/// family's one level.
pub(super) fn correct(metrics: &mut [MetricReport], correction: Correction, alpha: f64) {
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
    // below against the family's level.
    let adjusted: Vec<f64> = match correction {
        Correction::Holm => stats::holm(&p, 0.05).map(|a| a.iter().map(|x| x.p_adjusted).collect()),
        Correction::BenjaminiHochberg => {
            stats::benjamini_hochberg(&p, 0.05).map(|a| a.iter().map(|x| x.p_adjusted).collect())
        }
        Correction::None => Ok(p.clone()),
    }
    .unwrap_or_default(); // p-values are finite and in [0, 1] by construction
    for (&(m, c, _), &a) in family.iter().zip(&adjusted) {
        let comparison = &mut metrics[m].comparisons[c];
        let significant = a < alpha;
        comparison.p_adjusted = Some(a);
        comparison.significant = Some(significant);
        comparison.verdict = match (significant, comparison.direction) {
            (true, Some(Direction::Better)) => Verdict::Better,
            (true, Some(Direction::Worse)) => Verdict::Worse,
            _ => Verdict::Inconclusive,
        };
    }
}

/// "metric in variant" for a list.
fn named(m: &MetricReport, c: &ComparisonReport) -> String {
    format!("{} in {}", m.name, c.variant)
}

/// The verdict and its reasons, filled into `report`: the conclusion, the
/// recommendation, the winner, what is still needed and the business impact.
pub(super) fn conclude(report: &mut AnalysisReport, control_index: usize) {
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
                    wording::percent(v.observed_share.unwrap_or(0.0)),
                    wording::percent(v.expected_share)
                )
            })
            .collect();
        reasons.push(format!(
            "The exposures do not match the configured traffic split (chi-square {} with {} df, p = {} < {}): {}.",
            wording::significant(srm.statistic.unwrap_or(0.0), 4),
            srm.df.unwrap_or(0),
            wording::p_value(srm.p_value.unwrap_or(0.0)),
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
    for p in report
        .phases
        .iter()
        .filter(|p| !p.analyzed && p.sample_ratio.mismatch)
    {
        reasons.push(format!(
            "Phase {} (not analysed) does not match its traffic split (p = {}): check the assignment.",
            p.phase,
            wording::p_value(p.sample_ratio.p_value.unwrap_or(0.0))
        ));
    }
    if report.quarantined.observations > 0 {
        reasons.push(format!(
            "{} left out: {} (see quarantined).",
            wording::plural(
                report.quarantined.observations,
                "observation is",
                "observations are"
            ),
            report
                .quarantined
                .reasons
                .iter()
                .map(|q| format!("{} {}", q.observations, q.reason.replace('_', " ")))
                .collect::<Vec<_>>()
                .join(", ")
        ));
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
                    wording::significant(c.difference.estimate.unwrap_or(0.0), 3),
                    m.unit.as_deref().unwrap_or("per unit"),
                    wording::p_value(c.decision_p_value.unwrap_or(0.0)),
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
    let correction = report.correction.title();

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
                wording::duration(d),
                report.minimum_duration_days
            ),
            None => format!(
                "The experiment has not started yet; the minimum duration is {} days.",
                report.minimum_duration_days
            ),
        });
    }

    // Per treatment: the deciding comparisons significantly better and worse.
    struct Outcome {
        variant: String,
        better: Vec<(usize, usize, f64)>,
        worse: Vec<(usize, usize, f64)>,
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    let n_variants = report.variants.len();
    for v in (0..n_variants).filter(|&v| v != control_index) {
        let name = &report.variants[v].name;
        let mut o = Outcome {
            variant: name.clone(),
            better: Vec::new(),
            worse: Vec::new(),
        };
        for (mi, m) in report.metrics.iter().enumerate() {
            if !deciding(m) {
                continue;
            }
            for (ci, c) in m.comparisons.iter().enumerate() {
                if &c.variant != name {
                    continue;
                }
                let p = c.p_adjusted.unwrap_or(1.0);
                match c.verdict {
                    Verdict::Better => o.better.push((mi, ci, p)),
                    Verdict::Worse => o.worse.push((mi, ci, p)),
                    _ => {}
                }
            }
        }
        outcomes.push(o);
    }
    let significance = |m: &MetricReport, c: &ComparisonReport, word: &str| {
        format!(
            "{} is significantly {word} than {} on {}: {} ({} lift, adjusted p = {} < {}, {}).",
            c.variant,
            report.control,
            m.name,
            wording::significant(c.difference.estimate.unwrap_or(0.0), 3),
            c.relative_lift
                .estimate
                .map(|l| format!("{:+.2}%", 100.0 * l))
                .unwrap_or_else(|| "no relative".into()),
            wording::p_value(c.p_adjusted.unwrap_or(1.0)),
            report.family_alpha.unwrap_or(m.significance_level),
            correction
        )
    };

    // Ship candidates: better on a deciding metric, worse on none; the one
    // better on most, then with the smallest adjusted p.
    let best_p = |o: &Outcome| o.better.iter().map(|b| b.2).fold(1.0, f64::min);
    let mut candidates: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !o.better.is_empty() && o.worse.is_empty())
        .collect();
    candidates.sort_by(|a, b| {
        b.better
            .len()
            .cmp(&a.better.len())
            .then(best_p(a).total_cmp(&best_p(b)))
    });
    for o in &outcomes {
        for &(mi, ci, _) in &o.better {
            let m = &report.metrics[mi];
            reasons.push(significance(m, &m.comparisons[ci], "better"));
        }
        for &(mi, ci, _) in &o.worse {
            let m = &report.metrics[mi];
            reasons.push(significance(m, &m.comparisons[ci], "worse"));
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

    // No candidate. A variant better on one deciding metric and worse on
    // another is a trade-off for people to decide; one only worse is harm.
    // Both are significant already: more data would not undo them.
    let metric_names = |list: &[(usize, usize, f64)]| {
        list.iter()
            .map(|&(mi, _, _)| report.metrics[mi].name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let trade_offs: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.better.is_empty() && !o.worse.is_empty())
        .map(|o| {
            format!(
                "{} is better on {} and worse on {}",
                o.variant,
                metric_names(&o.better),
                metric_names(&o.worse)
            )
        })
        .collect();
    let harms: Vec<String> = outcomes
        .iter()
        .filter(|o| o.better.is_empty() && !o.worse.is_empty())
        .map(|o| {
            format!(
                "{} is significantly worse on {}",
                o.variant,
                metric_names(&o.worse)
            )
        })
        .collect();
    if !trade_offs.is_empty() {
        let (mi, ci, _) = outcomes
            .iter()
            .find(|o| !o.better.is_empty() && !o.worse.is_empty())
            .map(|o| o.better[0])
            .unwrap_or_default();
        report.business_impact = impact(&report.metrics[mi], &report.metrics[mi].comparisons[ci]);
        reasons.push(
            "A variant that is better on one primary metric and worse on another cannot be shipped on the numbers alone: weigh what each metric is worth."
                .into(),
        );
        report.conclusion = ConclusionKind::TradeOff;
        report.recommendation = format!("decide the trade-off: {}", trade_offs.join("; "));
        report.reasons = reasons;
        return;
    }
    if !harms.is_empty() {
        let worst = outcomes
            .iter()
            .flat_map(|o| o.worse.iter().copied())
            .min_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((mi, ci, _)) = worst {
            report.business_impact =
                impact(&report.metrics[mi], &report.metrics[mi].comparisons[ci]);
        }
        report.conclusion = ConclusionKind::Harm;
        report.recommendation = format!("keep the control: {}", harms.join("; "));
        report.reasons = reasons;
        return;
    }

    // Data that no test can judge: every unit has the same value within
    // each arm, but the arms differ.
    let mut constant = Vec::new();
    for m in &report.metrics {
        if !(deciding(m) || m.metric_type == MetricType::Guardrail) {
            continue;
        }
        for c in &m.comparisons {
            if c.status == super::report::ComparisonStatus::NotComputed(StatsError::ZeroVariance)
                && let (Some(a), Some(b)) = (m.control.mean, c.treatment.mean)
                && a != b
            {
                constant.push(format!(
                    "{} ({} in {} against {} in {}, every unit alike)",
                    named(m, c),
                    wording::significant(b, 4),
                    c.variant,
                    wording::significant(a, 4),
                    report.control
                ));
            }
        }
    }
    if !constant.is_empty() {
        reasons.push(format!(
            "Both arms have zero variance but different means: {}. A t-test needs variation within the arms; check how the metric is recorded (a constant, a rounding, a default value).",
            constant.join("; ")
        ));
        report.conclusion = ConclusionKind::Untestable;
        report.recommendation = format!("cannot test: {}", constant.join("; "));
        report.reasons = reasons;
        return;
    }

    // Does any deciding comparison still lack power or data?
    let mut power_short = 0u64;
    let mut untestable = Vec::new();
    let mut first_deciding: Option<usize> = None;
    let mut power_alpha: Option<f64> = None;
    for (mi, m) in report.metrics.iter().enumerate() {
        if !deciding(m) {
            continue;
        }
        first_deciding.get_or_insert(mi);
        for c in &m.comparisons {
            if !c.status.is_ok() {
                // Fewer than two units in an arm: at least that many more.
                let need = 2u64
                    .saturating_sub(m.control.n)
                    .max(2u64.saturating_sub(c.treatment.n));
                power_short = power_short.max(need);
                untestable.push(format!("{} ({})", named(m, c), c.status));
                continue;
            }
            power_alpha.get_or_insert(c.power.alpha);
            match (c.power.achieved, c.power.additional_units) {
                (Some(achieved), Some(extra)) if extra > 0 => {
                    power_short = power_short.max(extra);
                    reasons.push(format!(
                        "{} in {}: power {} at the MDE of {} (target {}, at alpha {}); about {} more units per variant reach it.",
                        m.name,
                        c.variant,
                        wording::percent(achieved),
                        wording::percent(m.minimum_detectable_effect),
                        wording::percent(m.power),
                        wording::significant(c.power.alpha, 3),
                        extra
                    ));
                }
                (Some(_), Some(_)) => {}
                _ => untestable.push(format!("{} (power: {})", named(m, c), c.power.status)),
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
        format!(
            "no variant is significantly better than the control, and every primary comparison has reached its power at the MDE{}",
            match (power_alpha, report.family_alpha) {
                (Some(a), Some(f)) if a < f => format!(
                    " (at alpha {}: {} over {} comparisons)",
                    wording::significant(a, 3),
                    correction,
                    report.family_size
                ),
                _ => String::new(),
            }
        )
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

/// Fills in a "keep running" verdict needing `units` more per variant and
/// `days` more days.
fn keep_running(report: &mut AnalysisReport, units: u64, days: f64, reasons: Vec<String>) {
    let mut needs = Vec::new();
    if units > 0 {
        needs.push(wording::plural(
            units,
            "more unit per variant",
            "more units per variant",
        ));
        report.additional_units_per_variant = Some(units);
    }
    if days > 0.0 {
        needs.push(wording::more_days(days));
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

/// The effect of comparison `c` in the metric's unit, worded as
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
        wording::percent(metric.confidence_level)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::compare::{arm_report, compare};
    use crate::experiments::model::{Aggregation, MetricDefinition, TargetDirection};
    use crate::experiments::options::AnalysisOptions;
    use crate::stats::Summary;

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
            0.05,
        );
        c.difference.estimate = Some(0.042);
        c.difference.ci_lower = Some(0.011);
        c.difference.ci_upper = Some(0.073);
        let b = impact(&metric, &c).unwrap();
        assert_eq!(b.summary, "+0.042 EUR/m per unit (95% CI 0.011 to 0.073)");
    }
}
