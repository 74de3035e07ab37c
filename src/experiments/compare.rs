//! One comparison: a variant against the control on one metric. Welch's
//! t-test and its interval, the relative lift, the effect size, the power at
//! the minimum detectable effect, the always-valid interval when sequential,
//! and a guardrail's one-sided harm test (see [`super::analyze`] for each
//! choice).

use super::model::{MetricDefinition, MetricType, TargetDirection};
use super::options::AnalysisOptions;
use super::report::{
    ArmReport, ComparisonReport, ComparisonStatus, DifferenceReport, Direction, EffectSizeReport,
    LiftReport, PowerReport, SequentialReport, Verdict, finite,
};
use crate::stats::{self, StatsError, Summary};

/// One arm's unit-level statistics, null where undefined.
pub(super) fn arm_report(variant: &str, s: &Summary) -> ArmReport {
    let ok = s.n > 0 && s.mean().is_finite();
    ArmReport {
        variant: variant.to_string(),
        n: s.n,
        mean: if ok { Some(s.mean()) } else { None },
        variance: s.variance().filter(|_| ok).and_then(finite),
        std_dev: s.std_dev().filter(|_| ok).and_then(finite),
    }
}

/// Which way `difference` goes for a metric with this target.
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

/// Power at the MDE and the units still needed (the choices are in
/// [`super::analyze`]).
fn power_report(
    metric: &MetricDefinition,
    control: &Summary,
    treatment: &Summary,
    pooled_sd: f64,
    alpha: f64,
) -> PowerReport {
    let mut out = PowerReport {
        status: ComparisonStatus::Ok,
        alpha,
        target: metric.power,
        ..PowerReport::default()
    };
    let absolute = metric.minimum_detectable_effect * control.mean().abs();
    if control.mean() == 0.0 {
        out.status = ComparisonStatus::NotComputed(StatsError::ZeroControlMean);
        return out;
    }
    let d = absolute / pooled_sd;
    if !(d.is_finite() && d > 0.0) {
        out.status = ComparisonStatus::NotComputed(StatsError::invalid(
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
            out.status = ComparisonStatus::NotComputed(e);
            return out;
        }
    };
    out.achieved = finite(achieved);
    if achieved >= metric.power {
        out.additional_units = Some(0);
        return out;
    }
    match stats::ttest_ind_sample_size(d, alpha, metric.power, ratio) {
        Ok(size) => {
            // Power is below target, so at least one unit is missing.
            let short = (size.first_arm as f64 - nc)
                .max(size.second_arm as f64 - nt)
                .max(1.0);
            out.required_control = Some(size.first_arm);
            out.required_treatment = Some(size.second_arm);
            out.additional_units = Some(short as u64);
        }
        Err(e) => out.status = ComparisonStatus::NotComputed(e),
    }
    out
}

/// One variant against the control on one metric, before the correction
/// across metrics (which sets `p_adjusted`, `significant` and the verdict of
/// primary and secondary comparisons; guardrails are decided here). The
/// power is computed at `power_alpha`, the level the decision applies.
pub(super) fn compare(
    metric: &MetricDefinition,
    control: &Summary,
    treatment: &Summary,
    variant: &str,
    options: &AnalysisOptions,
    power_alpha: f64,
) -> ComparisonReport {
    let alpha = metric.significance_level;
    let mut out = ComparisonReport {
        variant: variant.to_string(),
        status: ComparisonStatus::Ok,
        treatment: arm_report(variant, treatment),
        difference: DifferenceReport::default(),
        relative_lift: LiftReport::default(),
        effect_size: EffectSizeReport::default(),
        power: PowerReport {
            alpha: power_alpha,
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
            let status = ComparisonStatus::NotComputed(e);
            out.relative_lift.status = status;
            out.power.status = status;
            if options.sequential {
                out.sequential = Some(SequentialReport {
                    status: status.to_string(),
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
            status: ComparisonStatus::Ok,
            estimate: finite(l.lift),
            std_error: finite(l.std_error),
            ci_lower: finite(l.ci.lower),
            ci_upper: finite(l.ci.upper),
        },
        Err(e) => LiftReport {
            status: ComparisonStatus::NotComputed(e),
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
            out.power = power_report(metric, control, treatment, es.pooled_std_dev, power_alpha);
        }
        Err(e) => out.power.status = ComparisonStatus::NotComputed(e),
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
            .unwrap_or_else(|| (metric.minimum_detectable_effect * control.mean()).powi(2));
        let seq = match stats::always_valid(control, treatment, alpha, tau2) {
            Ok(av) => {
                decision_p = finite(av.p_value);
                SequentialReport {
                    status: ComparisonStatus::Ok.to_string(),
                    mixture_variance: Some(tau2),
                    ci_lower: finite(av.ci.lower),
                    ci_upper: finite(av.ci.upper),
                    p_value: finite(av.p_value),
                }
            }
            Err(e) => {
                let why = if tau2 == 0.0 && control.mean() == 0.0 {
                    StatsError::ZeroControlMean
                } else {
                    e
                };
                SequentialReport {
                    status: format!(
                        "{}; decisions use the fixed-horizon p-value",
                        ComparisonStatus::NotComputed(why)
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
