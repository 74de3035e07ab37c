//! Sample-size planning: how many units an experiment needs before it starts.

use serde::{Deserialize, Serialize};

use super::model::{ExperimentDefinition, MetricDefinition, MetricType};
use super::options::Correction;
use super::verdict::{family_alpha, powered_alpha};
use crate::stats::{self, StatsError};

/// How many units a test needs to detect its minimum effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplePlan {
    /// Units for the control arm, `ceil(nobs1)`.
    pub per_variant: u64,
    /// Units for each treatment arm, `ceil(ratio × nobs1)` (equal to
    /// `per_variant` at ratio 1).
    pub per_treatment_variant: u64,
    /// All arms together: `per_variant + (n_variants − 1) × per_treatment_variant`.
    pub total: u64,
    /// statsmodels' fractional first-arm size, before rounding up.
    pub nobs1: f64,
    /// The standardised effect, Cohen's d = mde × |baseline mean| / baseline sd.
    pub effect_size: f64,
    /// The effect in metric units, mde × |baseline mean|.
    pub absolute_effect: f64,
    pub baseline_mean: f64,
    pub baseline_sd: f64,
    /// Relative minimum detectable effect (0.05 = 5%).
    pub minimum_detectable_effect: f64,
    pub alpha: f64,
    pub power: f64,
    /// Treatment units per control unit.
    pub ratio: f64,
    pub n_variants: u32,
    /// Units per arm, in the order of the test's variants (empty for a
    /// plan made without a test).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arms: Vec<ArmPlan>,
    /// How the level was found: the metric's own (guardrails), or the
    /// family's divided by its comparisons under the correction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<PlanLevel>,
}

/// The units one arm needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmPlan {
    pub variant: String,
    pub traffic_percentage: f64,
    pub is_control: bool,
    pub units: u64,
}

/// The significance level a plan is made at, as the analysis decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanLevel {
    /// The family's level (the smallest `significance_level` of the
    /// primary and secondary metrics) or a guardrail's own.
    pub nominal_alpha: f64,
    /// The correction the analysis applies.
    pub correction: Correction,
    /// The comparisons in the family (primary and secondary metrics ×
    /// treatment arms); 1 for a guardrail, which is outside it.
    pub comparisons: usize,
    /// What the level is, in a sentence.
    pub explanation: String,
}

/// Units needed per variant for a two-sided two-sample t-test at level
/// `alpha` to reach `power` against a relative change of
/// `minimum_detectable_effect` from `baseline_mean`, given the metric's
/// unit-level standard deviation `baseline_sd`.
///
/// The standardised effect is d = mde × |baseline_mean| / baseline_sd, and
/// `nobs1` is statsmodels
/// `TTestIndPower().solve_power(effect_size=d, nobs1=None, alpha=alpha,
/// power=power, ratio=ratio)` (exact noncentral t at every size, never the
/// z-approximation; see [`stats::ttest_ind_sample_size`]). Each of the
/// `n_variants − 1` treatment arms is compared with the control at `alpha` as
/// given: to plan for a correction across them, pass a smaller `alpha` (for
/// example alpha / (n_variants − 1), Bonferroni).
///
/// # Errors
/// [`StatsError::InvalidArgument`] for a non-finite baseline, a baseline sd
/// that is not positive, an MDE that is not positive, `alpha` or `power`
/// outside (0, 1), a ratio that is not positive, or fewer than two variants;
/// [`StatsError::ZeroControlMean`] for a zero baseline mean (a relative
/// effect of zero is undetectable); [`StatsError::NoSolution`] when `power`
/// does not exceed `alpha`.
pub fn plan_sample_size(
    baseline_mean: f64,
    baseline_sd: f64,
    minimum_detectable_effect: f64,
    alpha: f64,
    power: f64,
    ratio: f64,
    n_variants: u32,
) -> Result<SamplePlan, StatsError> {
    if !baseline_mean.is_finite() {
        return Err(StatsError::InvalidArgument {
            name: "baseline_mean",
            rule: "must be finite",
        });
    }
    if !(baseline_sd > 0.0 && baseline_sd.is_finite()) {
        return Err(StatsError::InvalidArgument {
            name: "baseline_sd",
            rule: "must be positive and finite",
        });
    }
    if !(minimum_detectable_effect > 0.0 && minimum_detectable_effect.is_finite()) {
        return Err(StatsError::InvalidArgument {
            name: "minimum_detectable_effect",
            rule: "must be positive and finite",
        });
    }
    if n_variants < 2 {
        return Err(StatsError::InvalidArgument {
            name: "n_variants",
            rule: "must be at least 2",
        });
    }
    if baseline_mean == 0.0 {
        return Err(StatsError::ZeroControlMean);
    }
    let absolute_effect = minimum_detectable_effect * baseline_mean.abs();
    let effect_size = absolute_effect / baseline_sd;
    let size = stats::ttest_ind_sample_size(effect_size, alpha, power, ratio)?;
    Ok(SamplePlan {
        per_variant: size.first_arm,
        per_treatment_variant: size.second_arm,
        total: size.first_arm + u64::from(n_variants - 1) * size.second_arm,
        nobs1: size.nobs1,
        effect_size,
        absolute_effect,
        baseline_mean,
        baseline_sd,
        minimum_detectable_effect,
        alpha,
        power,
        ratio,
        n_variants,
        arms: Vec::new(),
        level: None,
    })
}

/// The units `metric` of experiment `def` needs, planned as the analysis
/// will decide: at the level of the comparison in the family (the family's
/// level divided by its comparisons under Holm or Benjamini–Hochberg, as
/// their strictest step applies it; a guardrail at its own level), with
/// each treatment arm at its configured share of the control's units, and
/// every arm counted.
///
/// With several treatment arms the control gets what the most demanding
/// comparison needs, and each treatment its share of that.
///
/// # Errors
/// As [`plan_sample_size`]; [`StatsError::InvalidArgument`] when the
/// control or every treatment has no traffic.
pub fn plan_for_experiment(
    def: &ExperimentDefinition,
    metric: &MetricDefinition,
    baseline_mean: f64,
    baseline_sd: f64,
    correction: Correction,
) -> Result<SamplePlan, StatsError> {
    let control = def.control_index();
    let control_share = def.variants[control].traffic_percentage;
    if control_share.is_nan() || control_share <= 0.0 {
        return Err(StatsError::invalid(
            "control",
            "has no traffic: no comparison can be planned",
        ));
    }
    let treatments: Vec<(usize, f64)> = def
        .variants
        .iter()
        .enumerate()
        .filter(|&(i, v)| i != control && v.traffic_percentage > 0.0)
        .map(|(i, v)| (i, v.traffic_percentage / control_share))
        .collect();
    if treatments.is_empty() {
        return Err(StatsError::invalid(
            "variants",
            "no treatment has traffic: no comparison can be planned",
        ));
    }
    let family = def
        .metrics
        .iter()
        .filter(|m| m.metric_type != MetricType::Guardrail)
        .count()
        * treatments.len();
    let (nominal, comparisons, alpha, explanation) = match (
        metric.metric_type,
        family_alpha(&def.metrics),
    ) {
        (MetricType::Guardrail, _) | (_, None) => (
            metric.significance_level,
            1,
            metric.significance_level,
            "a guardrail, tested at its own level, outside the family".to_string(),
        ),
        (_, Some(a)) => {
            let level = powered_alpha(a, family, correction);
            let why = match correction {
                Correction::None => {
                    format!("the family's level {a}, uncorrected, over {family} comparisons")
                }
                c => format!(
                    "the family's level {a} divided by its {family} comparisons, as {}'s strictest step applies it",
                    c.title()
                ),
            };
            (a, family, level, why)
        }
    };
    // The most demanding comparison sets the control's units.
    let mut worst: Option<SamplePlan> = None;
    for &(_, ratio) in &treatments {
        let plan = plan_sample_size(
            baseline_mean,
            baseline_sd,
            metric.minimum_detectable_effect,
            alpha,
            metric.power,
            ratio,
            def.variants.len() as u32,
        )?;
        if worst.as_ref().is_none_or(|w| plan.nobs1 > w.nobs1) {
            worst = Some(plan);
        }
    }
    let mut plan = worst.expect("at least one treatment");
    let control_units = plan.per_variant;
    let arms: Vec<ArmPlan> = def
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let units = if i == control {
                control_units
            } else if v.traffic_percentage > 0.0 {
                // The share the split gives it of the control's units.
                (plan.nobs1 * v.traffic_percentage / control_share).ceil() as u64
            } else {
                0
            };
            ArmPlan {
                variant: v.name.clone(),
                traffic_percentage: v.traffic_percentage,
                is_control: i == control,
                units,
            }
        })
        .collect();
    plan.per_treatment_variant = arms
        .iter()
        .filter(|a| !a.is_control)
        .map(|a| a.units)
        .max()
        .unwrap_or(0);
    plan.total = arms.iter().map(|a| a.units).sum();
    plan.arms = arms;
    plan.level = Some(PlanLevel {
        nominal_alpha: nominal,
        correction,
        comparisons,
        explanation,
    });
    Ok(plan)
}

/// [`plan_sample_size`] with the metric's MDE, significance level and power,
/// equal arms (ratio 1), without a correction: the textbook plan of one
/// comparison. Plans for a test use [`plan_for_experiment`].
///
/// # Errors
/// As [`plan_sample_size`].
pub fn plan_for_metric(
    metric: &MetricDefinition,
    baseline_mean: f64,
    baseline_sd: f64,
    n_variants: u32,
) -> Result<SamplePlan, StatsError> {
    plan_sample_size(
        baseline_mean,
        baseline_sd,
        metric.minimum_detectable_effect,
        metric.significance_level,
        metric.power,
        1.0,
        n_variants,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::{Aggregation, MetricType, TargetDirection};

    #[test]
    fn matches_the_power_solver() {
        // d = 0.05 × 100 / 20 = 0.25.
        let plan = plan_sample_size(100.0, 20.0, 0.05, 0.05, 0.8, 1.0, 3).unwrap();
        assert_eq!(plan.effect_size, 0.25);
        let nobs1 = stats::ttest_ind_required_nobs1(0.25, 0.05, 0.8, 1.0).unwrap();
        assert_eq!(plan.nobs1, nobs1);
        // The textbook value for d = 0.25: 252.1 per arm, so 253.
        assert_eq!(plan.per_variant, 253);
        assert_eq!(plan.per_treatment_variant, 253);
        assert_eq!(plan.total, 3 * 253);
        let achieved = stats::ttest_ind_power(0.25, 253.0, 0.05, 1.0).unwrap();
        let short = stats::ttest_ind_power(0.25, 252.0, 0.05, 1.0).unwrap();
        assert!(achieved >= 0.8 && short < 0.8, "{achieved} {short}");
    }

    #[test]
    fn unequal_arms() {
        let plan = plan_sample_size(-10.0, 4.0, 0.1, 0.05, 0.9, 2.0, 2).unwrap();
        assert_eq!(plan.absolute_effect, 1.0);
        assert_eq!(plan.per_treatment_variant, (plan.nobs1 * 2.0).ceil() as u64);
        assert_eq!(plan.total, plan.per_variant + plan.per_treatment_variant);
        let p = stats::ttest_ind_power(0.25, plan.nobs1, 0.05, 2.0).unwrap();
        assert!((p - 0.9).abs() < 1e-10);
    }

    #[test]
    fn from_a_metric() {
        let metric = MetricDefinition {
            name: "cost".into(),
            description: String::new(),
            metric_type: MetricType::Primary,
            aggregation: Aggregation::Mean,
            target_direction: TargetDirection::Decrease,
            minimum_detectable_effect: 0.05,
            significance_level: 0.05,
            power: 0.8,
            unit: Some("EUR/m".into()),
        };
        assert_eq!(
            plan_for_metric(&metric, 100.0, 20.0, 2).unwrap(),
            plan_sample_size(100.0, 20.0, 0.05, 0.05, 0.8, 1.0, 2).unwrap()
        );
    }

    #[test]
    fn bad_requests() {
        assert_eq!(
            plan_sample_size(0.0, 1.0, 0.05, 0.05, 0.8, 1.0, 2),
            Err(StatsError::ZeroControlMean)
        );
        assert!(plan_sample_size(1.0, 0.0, 0.05, 0.05, 0.8, 1.0, 2).is_err());
        assert!(plan_sample_size(1.0, 1.0, -0.05, 0.05, 0.8, 1.0, 2).is_err());
        assert!(plan_sample_size(1.0, 1.0, 0.05, 0.05, 0.8, 1.0, 1).is_err());
        assert!(plan_sample_size(1.0, 1.0, 0.05, 1.5, 0.8, 1.0, 2).is_err());
        assert!(matches!(
            plan_sample_size(1.0, 1.0, 0.05, 0.05, 0.01, 1.0, 2),
            Err(StatsError::NoSolution(_))
        ));
    }

    #[test]
    fn a_huge_effect_needs_the_smallest_sample() {
        // d = 10: two units per arm already have the power.
        let plan = plan_sample_size(100.0, 0.5, 0.05, 0.05, 0.8, 1.0, 2).unwrap();
        assert_eq!((plan.per_variant, plan.total), (2, 4));
    }
}
