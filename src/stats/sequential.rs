//! Always-valid inference, so that looking at an experiment every day does not
//! inflate its error rate.
//!
//! A fixed-horizon confidence interval covers the truth with probability
//! 1 − alpha at one pre-planned sample size. Checked daily and stopped at the
//! first "significant" day, its real error rate grows without bound. The
//! normal-mixture confidence sequence below covers the truth at **every** sample
//! size simultaneously with probability ≥ 1 − alpha, so it may be checked as
//! often as wanted and the experiment stopped at any time.
//!
//! # Formula
//!
//! This is the mixture sequential probability ratio test (mSPRT) of Johari,
//! Koomen, Pekelis & Walsh (2017), "Peeking at A/B Tests: Why it matters, and
//! what to do about it", KDD '17, §4 (also Johari et al. 2022, *Operations
//! Research* 70(3), "Always Valid Inference"), with a normal mixing distribution
//! N(θ₀, τ²) over the difference of means θ; Howard, Ramdas, McAuliffe & Sekhon
//! (2021), *Annals of Statistics* 49(2), give the same normal-mixture boundary.
//!
//! With θ̂ = x̄_t − x̄_c and V = s_t²/n_t + s_c²/n_c (the variance of θ̂), the
//! mixture likelihood ratio against θ = θ₀ is
//!
//! Λ = sqrt(V / (V + τ²)) · exp( τ² (θ̂ − θ₀)² / (2 V (V + τ²)) ),
//!
//! the always-valid p-value is min(1, 1/Λ), and inverting Λ < 1/alpha gives the
//! confidence sequence
//!
//! θ̂ ± sqrt( V (V + τ²) / τ² · ( ln((V + τ²)/V) + 2 ln(1/alpha) ) ).
//!
//! # Tuning
//!
//! τ² (`mixture_variance`, in squared metric units of the difference) is the
//! variance of the effects the test expects to see. Any τ² > 0 gives valid
//! coverage; a good one gives narrow intervals around the sample size where
//! decisions are made. Johari et al. fit it to the effects of past experiments;
//! without history, (minimum detectable effect)² is a sound default.
//!
//! # Caveats
//!
//! The guarantee is exact for normal data with known variance. Here V uses the
//! sample variances (as Johari et al. do in production), which is accurate once
//! each arm has some hundreds of units. Because the guarantee is uniform over
//! time, the running intersection of the intervals seen so far (and the
//! running minimum of the p-values) is also valid, and tighter.

use serde::{Deserialize, Serialize};

use super::error::{Arm, StatsError, check_probability};
use super::summary::Summary;
use super::welch::Interval;

/// An always-valid (anytime) inference on the difference of means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlwaysValid {
    /// treatment mean − control mean.
    pub difference: f64,
    /// Variance of the difference, s_t²/n_t + s_c²/n_c.
    pub variance: f64,
    /// The (1 − alpha) confidence-sequence interval at the current sample size.
    pub ci: Interval,
    /// Always-valid p-value of "no difference", min(1, 1/Λ).
    pub p_value: f64,
}

/// The normal-mixture confidence sequence for treatment − control at level
/// `alpha` with mixing variance `mixture_variance` (τ², see the module docs for
/// the formula, its source and how to choose τ²).
///
/// # Errors
/// - [`StatsError::TooFewObservations`] if an arm has fewer than 2 values.
/// - [`StatsError::ZeroVariance`] if both arms have zero variance.
/// - [`StatsError::InvalidArgument`] if `alpha` is not in (0, 1) or
///   `mixture_variance` is not positive and finite.
pub fn always_valid(
    control: &Summary,
    treatment: &Summary,
    alpha: f64,
    mixture_variance: f64,
) -> Result<AlwaysValid, StatsError> {
    check_probability("alpha", alpha)?;
    if !(mixture_variance > 0.0 && mixture_variance.is_finite()) {
        return Err(StatsError::invalid(
            "mixture_variance",
            "must be positive and finite",
        ));
    }
    let vc = control
        .variance_of_mean()
        .ok_or(StatsError::TooFewObservations {
            arm: Arm::Control,
            n: control.n,
        })?;
    let vt = treatment
        .variance_of_mean()
        .ok_or(StatsError::TooFewObservations {
            arm: Arm::Treatment,
            n: treatment.n,
        })?;
    let v = vc + vt;
    // Variances are non-negative, so anything but a positive sum is zero.
    if v.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(StatsError::ZeroVariance);
    }
    let tau2 = mixture_variance;
    let difference = control.mean_difference(treatment);
    // ln((V + τ²)/V) as ln_1p keeps precision when τ² ≪ V (early on).
    let log_ratio = (tau2 / v).ln_1p();
    let half = (v * (v + tau2) / tau2 * (log_ratio + 2.0 * (1.0 / alpha).ln())).sqrt();
    let ln_lambda = -0.5 * log_ratio + tau2 * difference * difference / (2.0 * v * (v + tau2));
    Ok(AlwaysValid {
        difference,
        variance: v,
        ci: Interval {
            lower: difference - half,
            upper: difference + half,
        },
        p_value: (-ln_lambda).exp().min(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::dist::normal_quantile;
    use crate::stats::welch::welch;

    fn s(n: u64, mean: f64, var: f64) -> Summary {
        Summary::from_mean_variance(n, mean, var).unwrap()
    }

    #[test]
    fn contains_the_fixed_horizon_interval() {
        for n in [10, 100, 10_000, 1_000_000] {
            for tau2 in [1e-4, 1e-2, 1.0] {
                let (c, t) = (s(n, 1.0, 4.0), s(n, 1.1, 5.0));
                let av = always_valid(&c, &t, 0.05, tau2).unwrap();
                let fixed = welch(&c, &t, 0.05).unwrap();
                let z = normal_quantile(0.975).unwrap() * fixed.std_error;
                assert!(av.ci.lower <= fixed.difference - z && fixed.difference + z <= av.ci.upper);
                if n >= 100 {
                    assert!(av.ci.lower <= fixed.ci.lower && fixed.ci.upper <= av.ci.upper);
                }
            }
        }
    }

    #[test]
    fn shrinks_as_data_accumulate() {
        let mut last = f64::INFINITY;
        for n in [10, 100, 1_000, 10_000, 100_000, 1_000_000] {
            let w = always_valid(&s(n, 0.0, 1.0), &s(n, 0.0, 1.0), 0.05, 0.01)
                .unwrap()
                .ci
                .width();
            assert!(w < last, "n {n}: {w} !< {last}");
            last = w;
        }
        assert!(last < 0.02);
    }

    #[test]
    fn p_value_matches_the_interval() {
        // 0 is on the boundary exactly when the p-value equals alpha.
        let (c, t) = (s(400, 0.0, 1.0), s(400, 0.3, 1.0));
        let av = always_valid(&c, &t, 0.05, 0.04).unwrap();
        assert!(av.ci.lower > 0.0);
        assert!(av.p_value < 0.05);
        let (c, t) = (s(400, 0.0, 1.0), s(400, 0.05, 1.0));
        let av = always_valid(&c, &t, 0.05, 0.04).unwrap();
        assert!(av.ci.contains(0.0) && av.p_value > 0.05);
    }

    /// SplitMix64 and Box–Muller: a fixed, dependency-free normal generator.
    struct Rng(u64);
    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    #[test]
    fn peeking_keeps_coverage_while_the_fixed_interval_loses_it() {
        // 400 experiments, each peeked at after every 50 units per arm up to
        // 2000: the confidence sequence must keep the true effect inside at
        // every peek in ≥ 95% of runs; the fixed-horizon interval must not.
        let (runs, batch, peeks, effect) = (400, 50, 40, 0.2);
        let mut rng = Rng(20_170_813);
        let (mut sequence_misses, mut fixed_misses) = (0, 0);
        for _ in 0..runs {
            let (mut c, mut t) = (Summary::EMPTY, Summary::EMPTY);
            let (mut seq_missed, mut fixed_missed) = (false, false);
            for _ in 0..peeks {
                for _ in 0..batch {
                    c.push(rng.normal());
                    t.push(effect + 1.5 * rng.normal());
                }
                let av = always_valid(&c, &t, 0.05, 0.01).unwrap();
                seq_missed |= !av.ci.contains(effect);
                fixed_missed |= !welch(&c, &t, 0.05).unwrap().ci.contains(effect);
            }
            sequence_misses += seq_missed as u32;
            fixed_misses += fixed_missed as u32;
        }
        let (seq_rate, fixed_rate) = (
            f64::from(sequence_misses) / runs as f64,
            f64::from(fixed_misses) / runs as f64,
        );
        assert!(seq_rate <= 0.05, "sequence miss rate {seq_rate}");
        assert!(fixed_rate > 0.12, "fixed miss rate {fixed_rate}");
    }

    #[test]
    fn invalid_arguments() {
        let a = s(10, 0.0, 1.0);
        assert!(always_valid(&a, &a, 0.05, 0.0).is_err());
        assert!(always_valid(&a, &a, 1.5, 1.0).is_err());
        assert_eq!(
            always_valid(&s(10, 0.0, 0.0), &s(10, 1.0, 0.0), 0.05, 1.0),
            Err(StatsError::ZeroVariance)
        );
    }
}
