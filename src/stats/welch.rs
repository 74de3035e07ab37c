//! Two-sample comparison of means from two [`Summary`] values: Welch's t-test,
//! relative lift and standardised effect sizes.
//!
//! Every function here is O(1) and allocation-free: it reads two summaries and
//! returns a plain value or a [`StatsError`] for degenerate data.

use serde::{Deserialize, Serialize};

use super::dist::{self, ln_gamma_half_ratio};
use super::error::{Arm, StatsError, check_probability};
use super::summary::Summary;

/// A closed interval [lower, upper].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
}

impl Interval {
    /// Whether `x` lies inside the interval (ends included).
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }

    /// upper − lower.
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }
}

/// The result of Welch's unequal-variance t-test of treatment against control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WelchTest {
    /// Control mean.
    pub control_mean: f64,
    /// Treatment mean.
    pub treatment_mean: f64,
    /// treatment mean − control mean.
    pub difference: f64,
    /// Standard error of the difference, sqrt(s_c²/n_c + s_t²/n_t).
    pub std_error: f64,
    /// The t statistic, difference / std_error.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom (fractional).
    pub df: f64,
    /// Two-sided p-value, 2·P(T_df > |t|).
    pub p_value: f64,
    /// The (1 − alpha) confidence interval of the difference,
    /// difference ± t_{1−alpha/2, df} · std_error.
    pub ci: Interval,
}

fn arm_variance(s: &Summary, arm: Arm) -> Result<f64, StatsError> {
    s.variance_of_mean()
        .filter(|v| v.is_finite() && s.mean().is_finite())
        .ok_or(StatsError::TooFewObservations { arm, n: s.n })
}

/// Welch's two-sample t-test of `treatment` against `control` at level `alpha`
/// (scipy `ttest_ind(treatment, control, equal_var=False)` and its
/// `confidence_interval(1 − alpha)`).
///
/// df = (v_c + v_t)² / (v_c²/(n_c − 1) + v_t²/(n_t − 1)) with v = s²/n
/// (Welch 1947, Satterthwaite 1946).
///
/// # Errors
/// - [`StatsError::TooFewObservations`] if an arm has fewer than 2 values (or
///   a non-finite mean or variance).
/// - [`StatsError::ZeroVariance`] if both arms have zero variance.
/// - [`StatsError::InvalidArgument`] if `alpha` is not in (0, 1).
pub fn welch(control: &Summary, treatment: &Summary, alpha: f64) -> Result<WelchTest, StatsError> {
    check_probability("alpha", alpha)?;
    let vc = arm_variance(control, Arm::Control)?;
    let vt = arm_variance(treatment, Arm::Treatment)?;
    let v = vc + vt;
    if v <= 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let df = v * v / (vc * vc / (control.n - 1) as f64 + vt * vt / (treatment.n - 1) as f64);
    // Exact however large the common offset of the two means.
    let difference = control.mean_difference(treatment);
    let std_error = v.sqrt();
    let t = difference / std_error;
    let p_value = (2.0 * dist::t_sf_unchecked(t.abs(), df)).min(1.0);
    let half = dist::t_isf_unchecked(0.5 * alpha, df) * std_error;
    Ok(WelchTest {
        control_mean: control.mean(),
        treatment_mean: treatment.mean(),
        difference,
        std_error,
        t,
        df,
        p_value,
        ci: Interval {
            lower: difference - half,
            upper: difference + half,
        },
    })
}

/// Relative lift of treatment over control with a delta-method interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelativeLift {
    /// (treatment mean − control mean) / |control mean|.
    pub lift: f64,
    /// Delta-method standard error of `lift`.
    pub std_error: f64,
    /// The (1 − alpha) interval lift ± t_{1−alpha/2, df} · std_error, with
    /// Welch's df.
    pub ci: Interval,
}

/// Relative lift (x̄_t − x̄_c) / |x̄_c| and its (1 − alpha) confidence
/// interval.
///
/// The variance comes from the delta method for a ratio of independent means
/// (Deng, Knoblich & Lu 2018, "Applying the Delta Method in Metric Analytics",
/// and Kohavi, Tang & Xu 2020, *Trustworthy Online Controlled Experiments*,
/// ch. 18):
///
/// Var(x̄_t / x̄_c) ≈ Var(x̄_t) / x̄_c² + x̄_t² · Var(x̄_c) / x̄_c⁴, Var(x̄) = s²/n.
///
/// The interval uses the same Student t quantile with Welch–Satterthwaite
/// degrees of freedom as the interval of the difference (as GrowthBook's
/// gbstats does), so that at small n the two never contradict each other.
/// Dividing by |x̄_c| keeps the lift's sign the effect's: a rise from −2 to
/// −1 is +50%, not −50%.
///
/// # Errors
/// - [`StatsError::TooFewObservations`] if an arm has fewer than 2 values.
/// - [`StatsError::ZeroControlMean`] if the control mean is zero.
/// - [`StatsError::ZeroVariance`] if both arms have zero variance.
/// - [`StatsError::InvalidArgument`] if `alpha` is not in (0, 1).
pub fn relative_lift(
    control: &Summary,
    treatment: &Summary,
    alpha: f64,
) -> Result<RelativeLift, StatsError> {
    check_probability("alpha", alpha)?;
    let vc = arm_variance(control, Arm::Control)?;
    let vt = arm_variance(treatment, Arm::Treatment)?;
    if control.mean() == 0.0 {
        return Err(StatsError::ZeroControlMean);
    }
    let v = vc + vt;
    if v <= 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let (mc, mt) = (control.mean(), treatment.mean());
    let ratio = mt / mc;
    let variance = vt / (mc * mc) + ratio * ratio * vc / (mc * mc);
    let std_error = variance.sqrt();
    let lift = control.mean_difference(treatment) / mc.abs();
    let df = v * v / (vc * vc / (control.n - 1) as f64 + vt * vt / (treatment.n - 1) as f64);
    let half = dist::t_isf_unchecked(0.5 * alpha, df) * std_error;
    Ok(RelativeLift {
        lift,
        std_error,
        ci: Interval {
            lower: lift - half,
            upper: lift + half,
        },
    })
}

/// Standardised mean differences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EffectSize {
    /// Pooled standard deviation sqrt(((n_c−1)s_c² + (n_t−1)s_t²) / (n_c+n_t−2)).
    pub pooled_std_dev: f64,
    /// Cohen's d = (x̄_t − x̄_c) / pooled_std_dev.
    pub cohens_d: f64,
    /// Hedges' g = J(n_c + n_t − 2) · d, with the exact small-sample
    /// correction J(ν) = Γ(ν/2) / (sqrt(ν/2) · Γ((ν−1)/2)) (Hedges 1981).
    pub hedges_g: f64,
}

/// Cohen's d with the pooled standard deviation, and Hedges' g with the exact
/// gamma-function correction (not the 1 − 3/(4ν − 1) approximation, which
/// differs by up to 1e-3 at small n).
///
/// # Errors
/// - [`StatsError::TooFewObservations`] if an arm has fewer than 2 values.
/// - [`StatsError::ZeroVariance`] if both arms have zero variance.
pub fn effect_size(control: &Summary, treatment: &Summary) -> Result<EffectSize, StatsError> {
    arm_variance(control, Arm::Control)?;
    arm_variance(treatment, Arm::Treatment)?;
    let dof = (control.n + treatment.n - 2) as f64;
    let pooled = ((control.m2() + treatment.m2()) / dof).sqrt();
    if pooled <= 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let d = control.mean_difference(treatment) / pooled;
    // ln J = ln Γ(ν/2) − ln Γ((ν−1)/2) − ½ ln(ν/2), free of cancellation.
    let ln_j = ln_gamma_half_ratio(0.5 * (dof - 1.0)) - 0.5 * (0.5 * dof).ln();
    Ok(EffectSize {
        pooled_std_dev: pooled,
        cohens_d: d,
        hedges_g: ln_j.exp() * d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64, mean: f64, var: f64) -> Summary {
        Summary::from_mean_variance(n, mean, var).unwrap()
    }

    #[test]
    fn degenerate_inputs_are_typed_errors() {
        let ok = s(10, 1.0, 1.0);
        assert_eq!(
            welch(&s(1, 1.0, 0.0), &ok, 0.05),
            Err(StatsError::TooFewObservations {
                arm: Arm::Control,
                n: 1
            })
        );
        assert_eq!(
            welch(&ok, &s(0, 0.0, 0.0), 0.05),
            Err(StatsError::TooFewObservations {
                arm: Arm::Treatment,
                n: 0
            })
        );
        assert_eq!(
            welch(&s(5, 1.0, 0.0), &s(5, 2.0, 0.0), 0.05),
            Err(StatsError::ZeroVariance)
        );
        assert_eq!(
            relative_lift(&s(5, 0.0, 1.0), &ok, 0.05),
            Err(StatsError::ZeroControlMean)
        );
        assert_eq!(
            effect_size(&s(5, 1.0, 0.0), &s(5, 2.0, 0.0)),
            Err(StatsError::ZeroVariance)
        );
        assert!(matches!(
            welch(&ok, &ok, 1.0),
            Err(StatsError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn one_zero_variance_arm_is_fine() {
        let w = welch(&s(5, 1.0, 0.0), &s(5, 2.0, 1.0), 0.05).unwrap();
        assert_eq!(w.df, 4.0);
        assert!(w.p_value > 0.0 && w.p_value < 1.0);
    }

    #[test]
    fn hedges_correction_is_the_exact_gamma_ratio() {
        // ν = 8: J = Γ(4) / (2 · Γ(3.5)) = 6 / (2 · 3.323350970447843).
        let e = effect_size(&s(5, 0.0, 1.0), &s(5, 1.0, 1.0)).unwrap();
        let j = 6.0 / (2.0 * 3.323_350_970_447_843);
        assert!((e.hedges_g / e.cohens_d - j).abs() < 1e-14);
        assert_eq!(e.cohens_d, 1.0);
    }
}
