//! Distribution functions that statrs 0.19.1 lacks or gets wrong.
//!
//! statrs' Student t is inaccurate at large degrees of freedom: `inverse_cdf`
//! degrades above about 1e5 df and does not return at 1e8 or infinity, and even
//! `sf` (through `beta_reg`, whose log-gamma differences cancel) is off by a
//! relative 2.5e-8 at 1e8 df and 5e-3 at 1e12 df. Welch's test on a few hundred
//! thousand units per arm lives exactly there, so this module computes the t
//! distribution itself above 1000 df:
//!
//! P(T > t) = E[Φc(t·S)], S = sqrt(χ²_ν / ν),
//!
//! an exact identity (T = Z / S with Z standard normal independent of S),
//! integrated numerically over w = ln S where the density of S is a smooth,
//! near-Gaussian bump. The same integral with Φ(t·S − δ) gives the noncentral t
//! CDF (T = (Z + δ)/S), which the power functions need. The normalising
//! constant is written with Stirling's remainder so that nothing cancels even at
//! 1e12 df. Below 1000 df statrs' `sf` is accurate (≤ 3e-13 relative against
//! scipy) and faster, so it is used there.
//!
//! Every function checks its arguments and returns [`StatsError::InvalidArgument`]
//! for a NaN or an out-of-domain value instead of returning NaN.

use std::f64::consts::{PI, SQRT_2};

use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::{erf, gamma};

use super::error::{StatsError, check_probability};
use super::quadrature;

/// ln √(2π).
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_741_780_329_736_406;

/// Below this many degrees of freedom statrs' `beta_reg` based t `sf` is used.
const STATRS_T_MAX_DF: f64 = 1000.0;

// ---------------------------------------------------------------- normal ----

/// Standard normal CDF Φ(x), accurate in the lower tail.
///
/// Uses libm's `erfc` (musl's, within an ulp): statrs' `erfc` has a relative
/// error of 1e-10 around x = 0.5, too much for scipy-matching p-values.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / SQRT_2)
}

/// Standard normal survival function Φc(x) = 1 − Φ(x), accurate in the upper tail.
pub fn normal_sf(x: f64) -> f64 {
    0.5 * libm::erfc(x / SQRT_2)
}

/// Standard normal quantile Φ⁻¹(p) (scipy `norm.ppf`).
///
/// p = 0 gives −∞ and p = 1 gives +∞.
///
/// # Errors
/// [`StatsError::InvalidArgument`] if `p` is NaN or outside [0, 1].
pub fn normal_quantile(p: f64) -> Result<f64, StatsError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(StatsError::invalid("p", "must be in [0, 1]"));
    }
    Ok(normal_quantile_unchecked(p))
}

pub(crate) fn normal_quantile_unchecked(p: f64) -> f64 {
    if p > 0.5 {
        // 1 − p is exact for p ≥ 0.5 (Sterbenz), so no accuracy is lost.
        return -normal_lower_quantile(1.0 - p);
    }
    normal_lower_quantile(p)
}

/// Φ⁻¹(p) for p ≤ 0.5: statrs' `erfc_inv` (Boost's rational approximations)
/// polished by one Halley step on the lower-tail equation, which brings it to
/// the last bit or two.
fn normal_lower_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    let x = -SQRT_2 * erf::erfc_inv(2.0 * p);
    if !x.is_finite() {
        return x;
    }
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * PI).sqrt() * (0.5 * x * x).exp();
    let refined = x - u / (1.0 + 0.5 * x * u);
    if refined.is_finite() { refined } else { x }
}

/// ln Φc(x), finite far beyond where Φc underflows (its asymptotic series is
/// used above x = 35, where it is accurate to 1e-15).
fn ln_normal_sf(x: f64) -> f64 {
    if x < 35.0 {
        return normal_sf(x).ln();
    }
    let r = 1.0 / (x * x);
    let series = 1.0 - r * (1.0 - 3.0 * r * (1.0 - 5.0 * r * (1.0 - 7.0 * r * (1.0 - 9.0 * r))));
    -0.5 * x * x - x.ln() - LN_SQRT_2PI + series.ln()
}

fn ln_normal_cdf(x: f64) -> f64 {
    ln_normal_sf(-x)
}

// ------------------------------------------------------------ gamma bits ----

/// Stirling's remainder: ln Γ(z) − [(z − ½) ln z − z + ln √(2π)].
///
/// Computed by its asymptotic series for z ≥ 15 (truncation below 1e-17) so
/// that large-argument log-gamma differences never cancel.
fn stirling_remainder(z: f64) -> f64 {
    if z < 15.0 {
        return gamma::ln_gamma(z) - (z - 0.5) * z.ln() + z - LN_SQRT_2PI;
    }
    let r = 1.0 / z;
    let r2 = r * r;
    r * (1.0 / 12.0
        - r2 * (1.0 / 360.0
            - r2 * (1.0 / 1260.0
                - r2 * (1.0 / 1680.0
                    - r2 * (1.0 / 1188.0 - r2 * (691.0 / 360_360.0 - r2 / 156.0))))))
}

/// ln Γ(z + ½) − ln Γ(z), without cancellation for large z.
pub(crate) fn ln_gamma_half_ratio(z: f64) -> f64 {
    if z < 15.0 {
        return gamma::ln_gamma(z + 0.5) - gamma::ln_gamma(z);
    }
    z * (0.5 / z).ln_1p() + 0.5 * z.ln() - 0.5 + stirling_remainder(z + 0.5) - stirling_remainder(z)
}

// ------------------------------------------------------- chi mixture ----

/// (e^{2w} − 1 − 2w) / 2, the negated log-density shape of ln S per degree of
/// freedom; a series near 0 keeps full relative precision where the direct
/// form cancels (|w| is about 1e-6 at 1e12 df).
fn mixture_shape(w: f64) -> f64 {
    if w.abs() < 0.01 {
        // Σ_{k≥2} 2^{k−1} w^k / k!
        let c = [
            1.0,
            2.0 / 3.0,
            1.0 / 3.0,
            2.0 / 15.0,
            2.0 / 45.0,
            4.0 / 315.0,
            1.0 / 315.0,
            2.0 / 2835.0,
        ];
        let mut acc = 0.0;
        for &ck in c.iter().rev() {
            acc = acc * w + ck;
        }
        w * w * acc
    } else {
        0.5 * ((2.0 * w).exp_m1() - 2.0 * w)
    }
}

/// E[g(S)] for S = sqrt(χ²_ν/ν), given ln g as a function of s.
///
/// The density of w = ln S is exp(−ν·shape(w) − ln Z) with
/// ln Z = ½ ln(π/ν) + stirling_remainder(ν/2) (exact; derived from
/// ∫ s^{ν−1} e^{−νs²/2} ds = ½ (2/ν)^{ν/2} Γ(ν/2)). The integrand is log-concave
/// in w for the g used here, so a golden-section search finds its peak; the
/// range is then widened until the integrand falls by e^60 on each side, and
/// adaptive Gauss–Kronrod integrates it to a relative 1e-13.
fn chi_mixture_expectation(df: f64, ln_g: impl Fn(f64) -> f64) -> f64 {
    let ln_z = 0.5 * (PI / df).ln() + stirling_remainder(0.5 * df);
    let log_integrand = |w: f64| ln_g(w.exp()) - df * mixture_shape(w);
    let sigma = (0.5 / df).sqrt();

    // Where the density itself is below e^-800, nothing can matter.
    let limit = 800.0 / df;
    let mut left = -sigma;
    while mixture_shape(left) < limit {
        left *= 2.0;
    }
    let mut right = sigma;
    while mixture_shape(right) < limit {
        right *= 2.0;
    }

    // Golden-section search for the peak, down to a quarter of the bump width.
    let inv_phi = 0.618_033_988_749_894_9;
    let (mut a, mut b) = (left, right);
    let mut c = b - inv_phi * (b - a);
    let mut d = a + inv_phi * (b - a);
    let (mut fc, mut fd) = (log_integrand(c), log_integrand(d));
    while b - a > 0.25 * sigma {
        if fc >= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - inv_phi * (b - a);
            fc = log_integrand(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + inv_phi * (b - a);
            fd = log_integrand(d);
        }
    }
    let peak = 0.5 * (a + b);
    let top = log_integrand(peak).max(fc).max(fd);
    if top == f64::NEG_INFINITY {
        return 0.0;
    }

    let floor = top - 60.0;
    let mut step = sigma;
    let mut lo = peak - step;
    while lo > left && log_integrand(lo) > floor {
        step *= 2.0;
        lo = peak - step;
    }
    let mut step = sigma;
    let mut hi = peak + step;
    while hi < right && log_integrand(hi) > floor {
        step *= 2.0;
        hi = peak + step;
    }
    let (lo, hi) = (lo.max(left), hi.min(right));
    quadrature::integrate(|w| (log_integrand(w) - ln_z).exp(), lo, hi, 8, 1e-13)
}

// ------------------------------------------------------------ Student t ----

fn check_df(df: f64) -> Result<(), StatsError> {
    if df > 0.0 {
        Ok(())
    } else {
        Err(StatsError::invalid(
            "df",
            "must be positive (infinity allowed)",
        ))
    }
}

fn check_x(name: &'static str, x: f64) -> Result<(), StatsError> {
    if x.is_nan() {
        Err(StatsError::invalid(name, "must not be NaN"))
    } else {
        Ok(())
    }
}

/// P(T > t) for t ≥ 0.
fn t_upper(t: f64, df: f64) -> f64 {
    if df.is_infinite() {
        return normal_sf(t);
    }
    if t == 0.0 {
        return 0.5;
    }
    if t.is_infinite() {
        return 0.0;
    }
    if df < STATRS_T_MAX_DF
        && let Ok(d) = StudentsT::new(0.0, 1.0, df)
    {
        return d.sf(t);
    }
    chi_mixture_expectation(df, |s| ln_normal_sf(t * s))
}

pub(crate) fn t_sf_unchecked(t: f64, df: f64) -> f64 {
    if t >= 0.0 {
        t_upper(t, df)
    } else {
        1.0 - t_upper(-t, df)
    }
}

/// Student t survival function P(T > t) with `df` degrees of freedom
/// (scipy `t.sf`). `df` may be fractional, as Welch's df is, or infinite.
///
/// # Errors
/// [`StatsError::InvalidArgument`] if `t` is NaN or `df` is not positive.
pub fn students_t_sf(t: f64, df: f64) -> Result<f64, StatsError> {
    check_x("t", t)?;
    check_df(df)?;
    Ok(t_sf_unchecked(t, df))
}

/// Student t CDF P(T ≤ t) (scipy `t.cdf`).
///
/// # Errors
/// As [`students_t_sf`].
pub fn students_t_cdf(t: f64, df: f64) -> Result<f64, StatsError> {
    students_t_sf(-t, df)
}

/// Student t density, used for Newton steps (accurate to ~1e-15 relative).
fn t_pdf(t: f64, df: f64) -> f64 {
    if df.is_infinite() {
        return (-0.5 * t * t - LN_SQRT_2PI).exp();
    }
    let ln = ln_gamma_half_ratio(0.5 * df)
        - 0.5 * (df * PI).ln()
        - 0.5 * (df + 1.0) * (t * t / df).ln_1p();
    ln.exp()
}

/// The t with P(T > t) = q, for 0 < q < 0.5 (so t > 0).
fn t_upper_quantile(q: f64, df: f64) -> f64 {
    let z = -normal_lower_quantile(q);
    if df.is_infinite() {
        return z;
    }
    if df == 1.0 {
        // Cauchy: exact.
        return 1.0 / (PI * q).tan();
    }
    if df == 2.0 {
        // Exact: sf(t) = ½ − t / (2√(2 + t²)).
        return (1.0 - 2.0 * q) / (2.0 * q * (1.0 - q)).sqrt();
    }
    let mut t = if df >= STATRS_T_MAX_DF {
        // Cornish–Fisher expansion (Abramowitz & Stegun 26.7.5); at ≥ 1000 df
        // it is already within ~1e-12, so Newton needs one or two steps.
        let z2 = z * z;
        let g1 = (z2 + 1.0) * z / 4.0;
        let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
        let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
        let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
        z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df
    } else {
        match StudentsT::new(0.0, 1.0, df) {
            Ok(d) => -d.inverse_cdf(q),
            Err(_) => z,
        }
    };
    if !(t.is_finite() && t > 0.0) {
        t = z.max(f64::MIN_POSITIVE);
    }
    // Newton on ln sf(t) = ln q: well-conditioned in the far tail too.
    let ln_q = q.ln();
    for _ in 0..60 {
        let sf = t_upper(t, df);
        let pdf = t_pdf(t, df);
        if !(sf > 0.0 && pdf > 0.0) {
            break;
        }
        let step = (sf.ln() - ln_q) * sf / pdf;
        let next = if t + step > 0.0 { t + step } else { 0.5 * t };
        let done = (next - t).abs() <= 1e-15 * t.abs();
        t = next;
        if done {
            break;
        }
    }
    t
}

pub(crate) fn t_isf_unchecked(q: f64, df: f64) -> f64 {
    if q == 0.5 {
        0.0
    } else if q < 0.5 {
        t_upper_quantile(q, df)
    } else {
        -t_upper_quantile(1.0 - q, df)
    }
}

/// Student t quantile: the t with P(T ≤ t) = p (scipy `t.ppf`).
///
/// Accurate to a relative 1e-9 (typically 1e-14) for df from 1 to 1e12 and
/// infinity, where it is the normal quantile. Costs a few microseconds below
/// 1000 df and a few tens above (each Newton step integrates once).
///
/// # Errors
/// [`StatsError::InvalidArgument`] if `p` is not in (0, 1) or `df` is not positive.
pub fn students_t_quantile(p: f64, df: f64) -> Result<f64, StatsError> {
    check_probability("p", p)?;
    check_df(df)?;
    Ok(-t_isf_unchecked(p, df))
}

/// Inverse survival function: the t with P(T > t) = q (scipy `t.isf`).
///
/// # Errors
/// As [`students_t_quantile`].
pub fn students_t_isf(q: f64, df: f64) -> Result<f64, StatsError> {
    check_probability("q", q)?;
    check_df(df)?;
    Ok(t_isf_unchecked(q, df))
}

// -------------------------------------------------------- noncentral t ----

pub(crate) fn nct_cdf_unchecked(t: f64, df: f64, nc: f64) -> f64 {
    if df.is_infinite() {
        return normal_cdf(t - nc);
    }
    if t == 0.0 {
        return normal_cdf(-nc);
    }
    chi_mixture_expectation(df, |s| ln_normal_cdf(t * s - nc))
}

pub(crate) fn nct_sf_unchecked(t: f64, df: f64, nc: f64) -> f64 {
    if df.is_infinite() {
        return normal_sf(t - nc);
    }
    if t == 0.0 {
        return normal_sf(-nc);
    }
    chi_mixture_expectation(df, |s| ln_normal_sf(t * s - nc))
}

fn check_nct(t: f64, df: f64, nc: f64) -> Result<(), StatsError> {
    check_x("t", t)?;
    check_df(df)?;
    if nc.is_finite() {
        Ok(())
    } else {
        Err(StatsError::invalid("nc", "must be finite"))
    }
}

/// Noncentral t CDF P(T ≤ t), T = (Z + nc)/sqrt(χ²_df/df)
/// (scipy `nct.cdf` / `special.nctdtr(df, nc, t)`).
///
/// Computed as E[Φ(t·S − nc)] over S = sqrt(χ²_df/df), accurate to a relative
/// 1e-9 for df ≥ 1 (smaller df are accepted but not verified).
///
/// # Errors
/// [`StatsError::InvalidArgument`] for NaN `t`, non-positive `df` or non-finite `nc`.
pub fn noncentral_t_cdf(t: f64, df: f64, nc: f64) -> Result<f64, StatsError> {
    check_nct(t, df, nc)?;
    Ok(nct_cdf_unchecked(t, df, nc))
}

/// Noncentral t survival function P(T > t) (scipy `nct.sf`), computed directly
/// rather than as 1 − CDF so that it keeps its relative accuracy when small.
///
/// # Errors
/// As [`noncentral_t_cdf`].
pub fn noncentral_t_sf(t: f64, df: f64, nc: f64) -> Result<f64, StatsError> {
    check_nct(t, df, nc)?;
    Ok(nct_sf_unchecked(t, df, nc))
}

// ---------------------------------------------------------- chi-square ----

pub(crate) fn chi_squared_sf_unchecked(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    gamma::gamma_ur(0.5 * df, 0.5 * x)
}

/// Chi-square survival function P(X > x) with `df` degrees of freedom
/// (scipy `chi2.sf`).
///
/// # Errors
/// [`StatsError::InvalidArgument`] if `x` is NaN or `df` is not positive and finite.
pub fn chi_squared_sf(x: f64, df: f64) -> Result<f64, StatsError> {
    check_x("x", x)?;
    if !(df > 0.0 && df.is_finite()) {
        return Err(StatsError::invalid("df", "must be positive and finite"));
    }
    Ok(chi_squared_sf_unchecked(x, df))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stirling_remainder_is_continuous_at_the_switch() {
        let below = gamma::ln_gamma(15.0) - 14.5 * 15f64.ln() + 15.0 - LN_SQRT_2PI;
        // statrs' ln_gamma is good to about 1e-13 absolute here.
        let d = stirling_remainder(15.0) - below;
        assert!(d.abs() < 2e-13, "{d:e}");
    }

    #[test]
    fn mixture_shape_series_matches_direct_form_at_the_switch() {
        let w: f64 = 0.009_999_999;
        let direct = 0.5 * ((2.0 * w).exp_m1() - 2.0 * w);
        assert!((mixture_shape(w) / direct - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mixture_density_integrates_to_one() {
        for df in [1.0, 3.0, 30.0, 1e3, 1e6, 1e12] {
            let total = chi_mixture_expectation(df, |_| 0.0);
            assert!((total - 1.0).abs() < 1e-12, "df {df}: {total}");
        }
    }

    #[test]
    fn mixture_agrees_with_statrs_where_statrs_is_accurate() {
        for df in [3.0, 50.0, 999.0] {
            for t in [0.3, 2.0, 8.0] {
                let mixed = chi_mixture_expectation(df, |s| ln_normal_sf(t * s));
                let reference = StudentsT::new(0.0, 1.0, df).unwrap().sf(t);
                let err = (mixed / reference - 1.0).abs();
                assert!(err < 1e-11, "df {df} t {t}: {mixed} vs {reference}");
            }
        }
    }

    #[test]
    fn quantile_inverts_the_survival_function() {
        for df in [1.0, 2.0, 2.5, 7.0, 1e3, 1e6, 1e12] {
            for p in [1e-12, 0.001, 0.025, 0.3, 0.5, 0.9, 0.975] {
                let t = students_t_quantile(p, df).unwrap();
                let back = students_t_cdf(t, df).unwrap();
                assert!((back / p - 1.0).abs() < 1e-11, "df {df} p {p}: {back}");
            }
        }
    }

    #[test]
    fn domain_errors_are_reported() {
        assert!(students_t_quantile(0.0, 5.0).is_err());
        assert!(students_t_quantile(0.5, 0.0).is_err());
        assert!(students_t_sf(f64::NAN, 5.0).is_err());
        assert!(normal_quantile(1.5).is_err());
        assert!(chi_squared_sf(1.0, f64::INFINITY).is_err());
        assert!(noncentral_t_cdf(1.0, 5.0, f64::NAN).is_err());
    }
}
