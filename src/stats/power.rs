//! Power and sample size of the two-sample t-test, as statsmodels computes them.

use super::dist;
use super::error::{StatsError, check_probability};

fn check_common(effect_size: f64, alpha: f64, ratio: f64) -> Result<(), StatsError> {
    if !effect_size.is_finite() {
        return Err(StatsError::invalid("effect_size", "must be finite"));
    }
    check_probability("alpha", alpha)?;
    if !(ratio > 0.0 && ratio.is_finite()) {
        return Err(StatsError::invalid("ratio", "must be positive and finite"));
    }
    Ok(())
}

/// nobs1·nobs2/(nobs1 + nobs2), written as statsmodels writes it.
fn effective_nobs(nobs1: f64, ratio: f64) -> f64 {
    1.0 / (1.0 / nobs1 + 1.0 / (nobs1 * ratio))
}

fn t_power(effect_size: f64, nobs1: f64, alpha: f64, ratio: f64) -> f64 {
    let df = nobs1 + nobs1 * ratio - 2.0;
    let nc = effect_size * effective_nobs(nobs1, ratio).sqrt();
    let crit = dist::t_isf_unchecked(0.5 * alpha, df);
    dist::nct_sf_unchecked(crit, df, nc) + dist::nct_cdf_unchecked(-crit, df, nc)
}

fn z_power(effect_size: f64, nobs1: f64, alpha: f64, ratio: f64) -> f64 {
    let shift = effect_size * effective_nobs(nobs1, ratio).sqrt();
    let crit = -dist::normal_quantile_unchecked(0.5 * alpha);
    dist::normal_sf(crit - shift) + dist::normal_cdf(-crit - shift)
}

/// Power of the two-sided two-sample t-test: the probability of rejecting at
/// level `alpha` when the true standardised difference is `effect_size`
/// (Cohen's d), with `nobs1` units in the first arm and `ratio · nobs1` in the
/// second. Matches statsmodels
/// `TTestIndPower().power(effect_size, nobs1, alpha, ratio, alternative='two-sided')`:
///
/// power = P(T' > t_{1−α/2}) + P(T' < −t_{1−α/2}), T' ~ noncentral t with
/// df = nobs1 + nobs2 − 2 and noncentrality d·sqrt(nobs1·nobs2/(nobs1 + nobs2)).
///
/// # Errors
/// [`StatsError::InvalidArgument`] for a non-finite effect size, `alpha`
/// outside (0, 1), a non-positive ratio, or fewer than one degree of freedom.
pub fn ttest_ind_power(
    effect_size: f64,
    nobs1: f64,
    alpha: f64,
    ratio: f64,
) -> Result<f64, StatsError> {
    check_common(effect_size, alpha, ratio)?;
    if !(nobs1 + nobs1 * ratio - 2.0 >= 1.0 && nobs1.is_finite()) {
        return Err(StatsError::invalid(
            "nobs1",
            "must give at least one degree of freedom",
        ));
    }
    Ok(t_power(effect_size, nobs1, alpha, ratio))
}

/// Power of the two-sided two-sample z-test (known variance, normal
/// approximation), matching statsmodels `NormalIndPower().power(...)`. Close to
/// [`ttest_ind_power`] for large samples and much cheaper.
///
/// # Errors
/// As [`ttest_ind_power`], with `nobs1` required positive.
pub fn normal_power(
    effect_size: f64,
    nobs1: f64,
    alpha: f64,
    ratio: f64,
) -> Result<f64, StatsError> {
    check_common(effect_size, alpha, ratio)?;
    if !(nobs1 > 0.0 && nobs1.is_finite()) {
        return Err(StatsError::invalid("nobs1", "must be positive and finite"));
    }
    Ok(z_power(effect_size, nobs1, alpha, ratio))
}

/// Finds n ≥ `low` with power(n) = target, for power increasing in n.
/// Brackets from `guess` by doubling, then runs a safeguarded secant
/// (Illinois) iteration to a relative 1e-13 in n.
fn solve_nobs(
    power: impl Fn(f64) -> f64,
    target: f64,
    low: f64,
    guess: f64,
) -> Result<f64, StatsError> {
    let f = |n: f64| power(n) - target;
    let (mut a, mut fa) = (low, f(low));
    if fa >= 0.0 {
        return Err(StatsError::ReachedAtMinimum { nobs1: low });
    }
    let mut b = guess.max(low * 2.0);
    let mut fb = f(b);
    let mut doublings = 0;
    while fb < 0.0 {
        a = b;
        fa = fb;
        b *= 2.0;
        fb = f(b);
        doublings += 1;
        if doublings > 200 || !fb.is_finite() {
            return Err(StatsError::NoSolution("the target power is not reachable"));
        }
    }
    // Illinois: a secant step that halves the weight of a stale end.
    let mut side = 0;
    for _ in 0..200 {
        let c = (a * fb - b * fa) / (fb - fa);
        let c = if c > a && c < b { c } else { 0.5 * (a + b) };
        let fc = f(c);
        if fc == 0.0 || (b - a) <= 1e-13 * c {
            return Ok(c);
        }
        if fc < 0.0 {
            a = c;
            fa = fc;
            if side == -1 {
                fb *= 0.5;
            }
            side = -1;
        } else {
            b = c;
            fb = fc;
            if side == 1 {
                fa *= 0.5;
            }
            side = 1;
        }
        if (b - a) <= 1e-13 * b {
            return Ok(0.5 * (a + b));
        }
    }
    Ok(0.5 * (a + b))
}

fn check_solve(effect_size: f64, alpha: f64, power: f64, ratio: f64) -> Result<(), StatsError> {
    check_common(effect_size, alpha, ratio)?;
    check_probability("power", power)?;
    if effect_size == 0.0 {
        return Err(StatsError::NoSolution(
            "a zero effect size has power alpha at every n",
        ));
    }
    if power <= alpha {
        return Err(StatsError::NoSolution("the target power must exceed alpha"));
    }
    Ok(())
}

/// Normal-approximation first-arm size, the bracket's starting point.
fn normal_guess(effect_size: f64, alpha: f64, power: f64, ratio: f64) -> f64 {
    let z = -dist::normal_quantile_unchecked(0.5 * alpha) + dist::normal_quantile_unchecked(power);
    (z * z * (1.0 + 1.0 / ratio) / (effect_size * effect_size)).max(2.0)
}

/// The number of units in the first arm (fractional; round up to use it, or
/// see [`ttest_ind_sample_size`]) for the two-sided two-sample t-test to reach
/// `power` at level `alpha`, with `ratio · nobs1` units in the second arm.
/// Matches statsmodels
/// `TTestIndPower().solve_power(effect_size, nobs1=None, alpha, power, ratio)`
/// (which searches from nobs1 = 2), solved to a relative 1e-13 instead of
/// statsmodels' absolute 1e-5; above 10,000 units, to an absolute 1e-7 units
/// (a relative 1e-11 or better), which is ten times faster there.
///
/// # Errors
/// [`StatsError::InvalidArgument`] as for [`ttest_ind_power`] or a `power`
/// outside (0, 1); [`StatsError::NoSolution`] for a zero effect size or a
/// power not above alpha; [`StatsError::ReachedAtMinimum`] for a power
/// already reached at the smallest size the test allows.
pub fn ttest_ind_required_nobs1(
    effect_size: f64,
    alpha: f64,
    power: f64,
    ratio: f64,
) -> Result<f64, StatsError> {
    check_solve(effect_size, alpha, power, ratio)?;
    if let Ok(z) = normal_required_nobs1(effect_size, alpha, power, ratio)
        && z >= DIRECT_SOLVE_BELOW
        && z.is_finite()
        && let Some(n) = secant_from_z(effect_size, alpha, power, ratio, z)
    {
        return Ok(n);
    }
    bracketed_nobs1(effect_size, alpha, power, ratio)
}

/// Below this z-test size the bracketing solver is cheap enough (small df).
const DIRECT_SOLVE_BELOW: f64 = 10_000.0;

/// The general solver: brackets from the z-test size, then Illinois.
fn bracketed_nobs1(
    effect_size: f64,
    alpha: f64,
    power: f64,
    ratio: f64,
) -> Result<f64, StatsError> {
    // At least one degree of freedom, and statsmodels' lower bound of 2.
    let low = (3.0 / (1.0 + ratio)).max(2.0);
    let guess = normal_guess(effect_size, alpha, power, ratio) + 2.0;
    solve_nobs(|n| t_power(effect_size, n, alpha, ratio), power, low, guess)
}

/// The root near the z-test size `z`, or `None` when the iteration strays.
///
/// At huge df every t-power evaluation integrates (about 40 µs), and the
/// bracketing solver, starting from afar, needs a dozen of them. Here `z`
/// plus one unit, which is where the t-test lands to within about one unit,
/// starts a Newton step with the z-test's slope and then a secant iteration
/// on the exact t power, to an absolute 1e-7 units: usually three evaluations.
fn secant_from_z(effect_size: f64, alpha: f64, power: f64, ratio: f64, z: f64) -> Option<f64> {
    let f = |n: f64| t_power(effect_size, n, alpha, ratio) - power;
    // One Newton step with the slope of the z-test power (cheap and nearly
    // the same curve), then secant steps on the t power.
    let (mut x0, h) = (z + 1.0, 0.01 * z);
    let slope = (z_power(effect_size, x0 + h, alpha, ratio)
        - z_power(effect_size, x0 - h, alpha, ratio))
        / (2.0 * h);
    let mut f0 = f(x0);
    let mut x1 = x0 - f0 / slope;
    let near = |x: f64| x.is_finite() && (x - z).abs() < 0.5 * z;
    if !near(x1) {
        return None;
    }
    let mut f1 = f(x1);
    for _ in 0..12 {
        if f1 == f0 {
            break;
        }
        let x2 = x1 - f1 * (x1 - x0) / (f1 - f0);
        if !near(x2) {
            break;
        }
        if (x2 - x1).abs() <= 1e-7 {
            return Some(x2);
        }
        (x0, f0) = (x1, f1);
        x1 = x2;
        f1 = f(x1);
    }
    None
}

/// Whole units per arm for a target power: what a plan and a power report use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSize {
    /// The fractional first-arm size, [`ttest_ind_required_nobs1`].
    pub nobs1: f64,
    /// Units in the first arm, `ceil(nobs1)`.
    pub first_arm: u64,
    /// Units in the second arm, `ceil(ratio · nobs1)`.
    pub second_arm: u64,
}

/// The units each arm needs for the two-sided two-sample t-test to reach
/// `power` at level `alpha` against the standardised `effect_size`, with
/// `ratio` second-arm units per first-arm unit: [`ttest_ind_required_nobs1`]
/// rounded up. A power already reached at the smallest size the test allows
/// gives that size (a huge effect needs only the smallest sample).
///
/// # Errors
/// As [`ttest_ind_required_nobs1`], except [`StatsError::ReachedAtMinimum`].
pub fn ttest_ind_sample_size(
    effect_size: f64,
    alpha: f64,
    power: f64,
    ratio: f64,
) -> Result<SampleSize, StatsError> {
    let nobs1 = match ttest_ind_required_nobs1(effect_size, alpha, power, ratio) {
        Err(StatsError::ReachedAtMinimum { nobs1 }) => nobs1,
        other => other?,
    };
    Ok(SampleSize {
        nobs1,
        first_arm: nobs1.ceil() as u64,
        second_arm: (nobs1 * ratio).ceil() as u64,
    })
}

/// As [`ttest_ind_required_nobs1`] for the z-test, matching statsmodels
/// `NormalIndPower().solve_power(...)` (both tails included, so solved
/// numerically rather than by the one-tail closed form).
///
/// # Errors
/// As [`ttest_ind_required_nobs1`].
pub fn normal_required_nobs1(
    effect_size: f64,
    alpha: f64,
    power: f64,
    ratio: f64,
) -> Result<f64, StatsError> {
    check_solve(effect_size, alpha, power, ratio)?;
    let guess = normal_guess(effect_size, alpha, power, ratio);
    solve_nobs(
        |n| z_power(effect_size, n, alpha, ratio),
        power,
        1e-6,
        guess,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solved_size_gives_the_requested_power() {
        let n = ttest_ind_required_nobs1(0.3, 0.05, 0.8, 1.0).unwrap();
        let p = ttest_ind_power(0.3, n, 0.05, 1.0).unwrap();
        assert!((p - 0.8).abs() < 1e-12, "{n} {p}");
        // The classic table value: about 175.4 per arm for d = 0.3.
        assert!((n - 175.4).abs() < 0.1, "{n}");
    }

    #[test]
    fn the_secant_path_agrees_with_the_bracketing_one() {
        for &d in &[0.5, 0.05, 0.02, 0.005, 0.0025, 0.001] {
            for &ratio in &[1.0, 0.5, 1.000_017, 3.0] {
                for &(alpha, power) in &[(0.05, 0.8), (0.01, 0.9), (0.1, 0.5)] {
                    let fast = ttest_ind_required_nobs1(d, alpha, power, ratio).unwrap();
                    let exact = bracketed_nobs1(d, alpha, power, ratio).unwrap();
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
    fn sample_sizes_round_each_arm_up() {
        let n = ttest_ind_required_nobs1(0.3, 0.05, 0.8, 2.0).unwrap();
        assert_eq!(
            ttest_ind_sample_size(0.3, 0.05, 0.8, 2.0),
            Ok(SampleSize {
                nobs1: n,
                first_arm: n.ceil() as u64,
                second_arm: (2.0 * n).ceil() as u64,
            })
        );
        // Reached at the smallest size: that size, not an error.
        let huge = ttest_ind_sample_size(20.0, 0.05, 0.8, 1.0).unwrap();
        assert_eq!((huge.nobs1, huge.first_arm, huge.second_arm), (2.0, 2, 2));
        assert!(ttest_ind_sample_size(0.0, 0.05, 0.8, 1.0).is_err());
    }

    #[test]
    fn unreachable_requests_are_errors() {
        assert!(matches!(
            ttest_ind_required_nobs1(0.0, 0.05, 0.8, 1.0),
            Err(StatsError::NoSolution(_))
        ));
        assert!(matches!(
            ttest_ind_required_nobs1(0.5, 0.05, 0.04, 1.0),
            Err(StatsError::NoSolution(_))
        ));
        assert!(ttest_ind_power(0.5, 1.0, 0.05, 1.0).is_err());
        assert_eq!(
            ttest_ind_required_nobs1(20.0, 0.05, 0.8, 1.0),
            Err(StatsError::ReachedAtMinimum { nobs1: 2.0 })
        );
    }
}
