//! Multiple-testing corrections across an experiment's metrics or arms.

use serde::{Deserialize, Serialize};

use super::error::{StatsError, check_probability};

/// One hypothesis after correction, in the order the p-values were given.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Adjusted {
    /// The adjusted p-value (capped at 1).
    pub p_adjusted: f64,
    /// Whether the hypothesis is rejected at the family level `alpha`.
    pub reject: bool,
}

/// Indices of `p` in ascending order of p-value, after validating every entry.
fn ascending_order(p: &[f64], alpha: f64) -> Result<Vec<usize>, StatsError> {
    check_probability("alpha", alpha)?;
    if p.iter().any(|x| !(0.0..=1.0).contains(x)) {
        return Err(StatsError::invalid("p_values", "must all be in [0, 1]"));
    }
    let mut order: Vec<usize> = (0..p.len()).collect();
    // Ties get equal adjusted values whatever their order, so an unstable
    // sort (as numpy's) gives the same result as a stable one.
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    Ok(order)
}

/// Holm–Bonferroni step-down correction, controlling the family-wise error
/// rate (Holm 1979); matches statsmodels
/// `multipletests(p, alpha, method='holm')`.
///
/// With p₍₁₎ ≤ … ≤ p₍ₘ₎: adjusted p₍ᵢ₎ = min(1, max_{j≤i} (m − j + 1)·p₍ⱼ₎);
/// hypotheses are rejected up to (not including) the first i with
/// p₍ᵢ₎ > alpha / (m − i + 1).
///
/// # Errors
/// [`StatsError::InvalidArgument`] if `alpha` is not in (0, 1) or a p-value is
/// NaN or outside [0, 1].
pub fn holm(p_values: &[f64], alpha: f64) -> Result<Vec<Adjusted>, StatsError> {
    let order = ascending_order(p_values, alpha)?;
    let m = p_values.len();
    let mut out = vec![
        Adjusted {
            p_adjusted: 1.0,
            reject: false
        };
        m
    ];
    let mut running_max = 0.0f64;
    let mut still_rejecting = true;
    for (i, &k) in order.iter().enumerate() {
        let factor = (m - i) as f64;
        let p = p_values[k];
        still_rejecting &= p <= alpha / factor;
        running_max = running_max.max(p * factor);
        out[k] = Adjusted {
            p_adjusted: running_max.min(1.0),
            reject: still_rejecting,
        };
    }
    Ok(out)
}

/// Benjamini–Hochberg step-up correction, controlling the false discovery
/// rate for independent or positively dependent tests (Benjamini & Hochberg
/// 1995); matches statsmodels `multipletests(p, alpha, method='fdr_bh')`.
///
/// With p₍₁₎ ≤ … ≤ p₍ₘ₎: adjusted p₍ᵢ₎ = min(1, min_{j≥i} p₍ⱼ₎ · m / j);
/// every hypothesis up to the largest i with p₍ᵢ₎ ≤ alpha · i / m is rejected.
///
/// # Errors
/// As [`holm`].
pub fn benjamini_hochberg(p_values: &[f64], alpha: f64) -> Result<Vec<Adjusted>, StatsError> {
    let order = ascending_order(p_values, alpha)?;
    let m = p_values.len();
    let mf = m as f64;
    let mut out = vec![
        Adjusted {
            p_adjusted: 1.0,
            reject: false
        };
        m
    ];
    let mut running_min = f64::INFINITY;
    let mut rejecting = false;
    for (i, &k) in order.iter().enumerate().rev() {
        // The same operations as statsmodels' ecdf factor, (i + 1) / m.
        let ecdf = (i + 1) as f64 / mf;
        let p = p_values[k];
        rejecting |= p <= ecdf * alpha;
        running_min = running_min.min(p / ecdf);
        out[k] = Adjusted {
            p_adjusted: running_min.min(1.0),
            reject: rejecting,
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_example() {
        let p = [0.01, 0.04, 0.03, 0.005];
        let h = holm(&p, 0.05).unwrap();
        let adj: Vec<f64> = h.iter().map(|a| a.p_adjusted).collect();
        assert_eq!(adj, vec![0.03, 0.06, 0.06, 0.02]);
        assert_eq!(
            h.iter().map(|a| a.reject).collect::<Vec<_>>(),
            vec![true, false, false, true]
        );
        let b = benjamini_hochberg(&p, 0.05).unwrap();
        let adj: Vec<f64> = b.iter().map(|a| a.p_adjusted).collect();
        assert_eq!(adj, vec![0.02, 0.04, 0.04, 0.02]);
        assert!(b.iter().all(|a| a.reject));
    }

    #[test]
    fn empty_and_invalid_inputs() {
        assert!(holm(&[], 0.05).unwrap().is_empty());
        assert!(benjamini_hochberg(&[0.1, f64::NAN], 0.05).is_err());
        assert!(holm(&[0.1], 0.0).is_err());
    }
}
