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

/// The number of units in the first arm (fractional; round up to use it) for
/// the two-sided two-sample t-test to reach `power` at level `alpha`, with
/// `ratio · nobs1` units in the second arm. Matches statsmodels
/// `TTestIndPower().solve_power(effect_size, nobs1=None, alpha, power, ratio)`
/// (which searches from nobs1 = 2), solved to a relative 1e-13 instead of
/// statsmodels' absolute 1e-5.
///
/// # Errors
/// [`StatsError::InvalidArgument`] as for [`ttest_ind_power`] or a `power`
/// outside (0, 1); [`StatsError::NoSolution`] for a zero effect size, a power
/// not above alpha, or a power already reached at nobs1 = 2.
pub fn ttest_ind_required_nobs1(
    effect_size: f64,
    alpha: f64,
    power: f64,
    ratio: f64,
) -> Result<f64, StatsError> {
    check_solve(effect_size, alpha, power, ratio)?;
    // At least one degree of freedom, and statsmodels' lower bound of 2.
    let low = (3.0 / (1.0 + ratio)).max(2.0);
    let guess = normal_guess(effect_size, alpha, power, ratio) + 2.0;
    solve_nobs(|n| t_power(effect_size, n, alpha, ratio), power, low, guess)
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
