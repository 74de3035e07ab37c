#!/usr/bin/env python3
"""Generate the reference fixtures for `cha_deploy::stats` from scipy and statsmodels.

Not a project dependency and never run by CI: run it by hand after changing what
is checked, then commit the JSON it writes.

    python -m venv /tmp/statsenv && /tmp/statsenv/bin/pip install scipy statsmodels numpy mpmath
    /tmp/statsenv/bin/python tools/gen_stats_fixtures.py

Writes tests/fixtures/stats/*.json, read by tests/stats_reference.rs. Every
number is written with repr() so it round-trips to the same f64.
"""

import json
import os
import sys

import mpmath
import numpy as np
import scipy
import statsmodels
from scipy import special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestIndPower

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "stats")
RNG = np.random.default_rng(20240521)


def f(x):
    return float(x)


def write(name, cases):
    meta = {
        "generator": "tools/gen_stats_fixtures.py",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
    }
    path = os.path.join(OUT, name + ".json")
    with open(path, "w") as fh:
        json.dump({"meta": meta, "cases": cases}, fh, indent=1)
        fh.write("\n")
    print(f"{path}: {len(cases)} cases")


def summary(x):
    """What the Rust side receives: n, mean and sample variance."""
    x = np.asarray(x, dtype=float)
    return {"n": int(x.size), "mean": f(np.mean(x)), "var": f(np.var(x, ddof=1))}


def welch_from_samples():
    """scipy.stats.ttest_ind(treatment, control, equal_var=False) on raw samples.

    The samples are summarised here (numpy mean/var) and only the summaries are
    stored, so the JSON stays small even for arms of several hundred thousand.
    """
    cases = []
    specs = [
        # (n_control, n_treatment, mean_c, mean_t, sd_c, sd_t, alpha)
        (12, 9, 10.0, 11.5, 2.0, 3.5, 0.05),
        (30, 45, 0.0, 0.4, 1.0, 1.0, 0.05),
        (5, 300, 3.0, 3.2, 0.5, 2.0, 0.01),
        (2000, 2100, 100.0, 100.3, 15.0, 16.0, 0.10),
        (250_000, 260_000, 42.0, 42.01, 7.0, 7.2, 0.05),
        (400_000, 350_000, 1e9, 1e9 + 2e-4, 1e-3, 1.1e-3, 0.05),
    ]
    for nc, nt, mc, mt, sc, st, alpha in specs:
        c = RNG.normal(mc, sc, nc)
        t = RNG.normal(mt, st, nt)
        res = stats.ttest_ind(t, c, equal_var=False)
        ci = res.confidence_interval(confidence_level=1 - alpha)
        sc_, st_ = summary(c), summary(t)
        # Cross-check: the stored summaries reproduce scipy's statistic.
        chk = stats.ttest_ind_from_stats(
            st_["mean"], np.sqrt(st_["var"]), st_["n"], sc_["mean"], np.sqrt(sc_["var"]), sc_["n"],
            equal_var=False,
        )
        assert abs(chk.statistic / res.statistic - 1) < 1e-8, (chk, res)
        cases.append({
            "source": "scipy.stats.ttest_ind(treatment, control, equal_var=False)",
            "control": sc_, "treatment": st_, "alpha": alpha,
            "difference": f(st_["mean"] - sc_["mean"]),
            "t": f(res.statistic), "df": f(res.df), "p_value": f(res.pvalue),
            "ci_lower": f(ci.low), "ci_upper": f(ci.high),
        })
    return cases


def welch_from_stats():
    """scipy.stats.ttest_ind_from_stats(equal_var=False), up to df ≈ 1e12, with
    the CI built from scipy's t.ppf exactly as ttest_ind's confidence_interval does."""
    cases = []
    specs = [
        (3, 4, 1.0, 2.0, 1.0, 1.5, 0.05),
        (50, 60, 5.0, 5.5, 2.0, 2.5, 0.05),
        (500_000, 500_000, 10.0, 10.004, 1.0, 1.0, 0.05),      # df ~ 1e6
        (5e7, 5e7, 1.0, 1.0001, 0.5, 0.5, 0.01),                # df ~ 1e8
        (5e11, 5e11, 3.0, 3.000001, 1.0, 1.0, 0.05),            # df ~ 1e12
        (4e11, 6e11, 2.0, 2.0000025, 1.0, 1.3, 0.05),           # df ~ 8e11, unequal
        (1e6, 2e6, 0.0, 0.01, 1.0, 0.9, 0.05),
        (1e5, 1e5, 0.2, 0.2, 1.0, 2.0, 0.05),                   # t = 0
        (20, 1e6, 1.0, 1.7, 0.3, 0.5, 0.05),
    ]
    for nc, nt, mc, mt, sc, st, alpha in specs:
        res = stats.ttest_ind_from_stats(mt, st, nt, mc, sc, nc, equal_var=False)
        vn1, vn2 = st**2 / nt, sc**2 / nc
        df = (vn1 + vn2) ** 2 / (vn1**2 / (nt - 1) + vn2**2 / (nc - 1))
        se = np.sqrt(vn1 + vn2)
        q = stats.t.ppf(1 - alpha / 2, df)
        d = mt - mc
        cases.append({
            "source": "scipy.stats.ttest_ind_from_stats(equal_var=False); ci = d ± t.ppf(1-alpha/2, df)·se",
            "control": {"n": int(nc), "mean": mc, "var": sc**2},
            "treatment": {"n": int(nt), "mean": mt, "var": st**2},
            "alpha": alpha, "difference": f(d),
            "t": f(res.statistic), "df": f(df), "p_value": f(res.pvalue),
            "ci_lower": f(d - q * se), "ci_upper": f(d + q * se),
        })
    return cases


def t_quantiles():
    cases = []
    dfs = [1.0, 2.0, 2.5, 3.0, 10.0, 30.0, 999.0, 1e3, 1e4, 1e5, 1e6, 1e8, 1e10, 1e12, float("inf")]
    ps = [1e-10, 1e-4, 0.005, 0.025, 0.05, 0.3, 0.5, 0.8, 0.975, 0.995]
    for df in dfs:
        for p in ps:
            cases.append({"df": df if np.isfinite(df) else "inf", "p": p, "ppf": f(stats.t.ppf(p, df))})
    return cases


def t_sf():
    cases = []
    dfs = [1.0, 2.5, 7.0, 30.0, 999.0, 1e3, 1e4, 1e5, 1e6, 1e8, 1e10, 1e12, float("inf")]
    ts = [-3.0, -0.5, 0.0, 0.2, 1.0, 1.96, 3.5, 6.0, 12.0, 30.0]
    for df in dfs:
        for t in ts:
            v = f(stats.t.sf(t, df))
            if v > 1e-290:
                cases.append({"df": df if np.isfinite(df) else "inf", "t": t, "sf": v})
    return cases


def nct_cdf_mp(t, df, nc):
    """P(T <= t) = E[Phi(t S - nc)], S = sqrt(chi2_df / df), in 30-digit arithmetic.

    scipy's nctdtr loses absolute precision (errors up to ~2e-12) in the lower
    tail for t < 0 < nc, so this independent value is the relative reference."""
    mpmath.mp.dps = 30
    df, t, nc = mpmath.mpf(df), mpmath.mpf(t), mpmath.mpf(nc)
    lc = (df / 2) * mpmath.log(df / 2) - mpmath.loggamma(df / 2) + mpmath.log(2)
    sd = 1 / mpmath.sqrt(2 * df)
    pts = [0] + [1 + k * sd for k in range(-30, 31) if 1 + k * sd > 0] + [mpmath.inf]
    dens = lambda s: mpmath.exp(lc + (df - 1) * mpmath.log(s) - df * s * s / 2)
    return mpmath.quad(lambda s: mpmath.ncdf(t * s - nc) * dens(s), pts)


def noncentral_t():
    """scipy.special.nctdtr(df, nc, t) (= nct.cdf), the function statsmodels' power
    uses, with the 30-digit value beside it."""
    cases = []
    for df in [1.0, 2.0, 5.0, 20.0, 150.0, 3000.0, 1e5, 1e6]:
        for nc in [-2.0, 0.0, 0.5, 1.5, 3.0, 6.0]:
            for t in [-2.5, -1.0, 0.0, 0.7, 1.96, 3.0, 5.0]:
                cdf = f(special.nctdtr(df, nc, t))
                cases.append({"df": df, "nc": nc, "t": t, "cdf": cdf, "cdf_mp": f(nct_cdf_mp(t, df, nc))})
    return cases


def normal_quantiles():
    ps = [1e-300, 1e-100, 1e-20, 1e-8, 1e-3, 0.025, 0.2, 0.4999, 0.5, 0.6, 0.975, 0.999, 1 - 1e-12]
    return [{"p": p, "ppf": f(stats.norm.ppf(p))} for p in ps]


def chi_square():
    cases = []
    specs = [
        ([5000, 5000], [1, 1]),
        ([5050, 4950], [1, 1]),
        ([4900, 5300], [0.5, 0.5]),
        ([1002, 2050, 2948], [1, 2, 3]),
        ([9000, 1150], [0.9, 0.1]),
        ([120, 80, 95, 105], [0.25, 0.25, 0.25, 0.25]),
        ([250_000, 251_900, 498_100], [0.25, 0.25, 0.5]),
        ([30_000, 33_000], [0.5, 0.5]),
        ([7, 3, 12, 9, 4], [1, 1, 2, 2, 1]),
    ]
    for obs, w in specs:
        obs = np.array(obs, dtype=float)
        w = np.array(w, dtype=float)
        exp = obs.sum() * (w / w.sum())
        res = stats.chisquare(obs, exp)
        cases.append({
            "source": "scipy.stats.chisquare(observed, total * weights / sum(weights))",
            "observed": [int(o) for o in obs], "weights": [f(x) for x in w],
            "statistic": f(res.statistic), "p_value": f(res.pvalue),
        })
    for x, df in [(0.5, 1), (3.84, 1), (25.0, 3), (80.0, 2), (400.0, 4), (1500.0, 1)]:
        cases.append({"x": x, "df": df, "sf": f(stats.chi2.sf(x, df))})
    return cases


def power():
    """TTestIndPower().power over a grid; solve_power twice: statsmodels' default
    (brentq xtol = 1e-5, absolute) and the same solver with xtol = 1e-12."""
    cases = []
    tight = TTestIndPower()
    tight.start_bqexp["nobs1"] = {"low": 2.0, "start_upp": 50.0, "xtol": 1e-12}
    default = TTestIndPower()
    for ratio in [1.0, 2.0]:
        for alpha in [0.05, 0.01]:
            for es in [0.01, 0.05, 0.2, 0.5, 1.0]:
                for nobs1 in [5.0, 40.0, 1000.0, 60_000.0]:
                    pw = TTestIndPower().power(es, nobs1, alpha, ratio, alternative="two-sided")
                    if not np.isfinite(pw):
                        # scipy's nctdtr gives NaN for a noncentrality above
                        # about 11 at these df; nothing to compare against.
                        continue
                    cases.append({
                        "kind": "power", "effect_size": es, "nobs1": nobs1, "alpha": alpha,
                        "ratio": ratio,
                        "power": f(pw),
                        "normal_power": f(NormalIndPower().power(es, nobs1, alpha, ratio, alternative="two-sided")),
                    })
                for target in [0.8, 0.9]:
                    n_default = default.solve_power(es, None, alpha, target, ratio)
                    n_tight = tight.solve_power(es, None, alpha, target, ratio)
                    cases.append({
                        "kind": "solve", "effect_size": es, "alpha": alpha, "power": target,
                        "ratio": ratio, "nobs1": f(n_tight), "nobs1_statsmodels_default": f(n_default),
                    })
    return cases


def multiple_testing():
    cases = []
    sets = [
        [0.01, 0.04, 0.03, 0.005],
        [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216],
        list(RNG.uniform(0, 0.1, 15)),
        [0.02, 0.02, 0.02, 0.5, 0.0],
        [0.9, 0.95, 1.0],
    ]
    for p in sets:
        for alpha in [0.05, 0.1]:
            for method in ["holm", "fdr_bh"]:
                reject, adj, _, _ = multipletests(p, alpha=alpha, method=method)
                cases.append({
                    "method": method, "alpha": alpha, "p": [f(x) for x in p],
                    "adjusted": [f(x) for x in adj], "reject": [bool(r) for r in reject],
                })
    return cases


def effect_sizes():
    """Cohen's d (pooled SD) and Hedges' g with the exact correction
    J(v) = Γ(v/2) / (sqrt(v/2) Γ((v-1)/2)), v = n_c + n_t - 2 (Hedges 1981),
    evaluated in 50-digit arithmetic; and the delta-method relative lift
    (Deng et al. 2018): lift = (m_t - m_c)/|m_c| (the sign of the effect,
    also for a negative control mean), var = var_t/(n_t m_c²) + m_t²
    var_c/(n_c m_c⁴), ci = lift ± t.ppf(1 - alpha/2, df)·se with Welch's df,
    the quantile of the interval of the difference (as gbstats does)."""
    mpmath.mp.dps = 50
    cases = []
    specs = [
        (2, 2, 1.0, 2.0, 1.0, 4.0),
        (5, 7, 10.0, 12.0, 4.0, 9.0),
        (40, 35, 0.3, 0.25, 0.04, 0.05),
        (1000, 1200, 5.0, 5.1, 2.0, 2.2),
        (300_000, 310_000, 42.0, 42.02, 49.0, 51.0),
        (10**9, 10**9, 1.0, 1.0001, 1.0, 1.0),
        (4, 4, 11.5, 13.625, 5.0 / 3.0, 6.6875 / 3.0),
        (60, 50, -3.04, -2.406, 1.2, 0.9),
    ]
    for nc, nt, mc, mt, vc, vt in specs:
        m = mpmath.mpf
        v = nc + nt - 2
        sp = mpmath.sqrt(((nc - 1) * m(vc) + (nt - 1) * m(vt)) / v)
        d = (m(mt) - m(mc)) / sp
        j = mpmath.gamma(m(v) / 2) / (mpmath.sqrt(m(v) / 2) * mpmath.gamma(m(v - 1) / 2))
        alpha = 0.05
        lift = (m(mt) - m(mc)) / abs(m(mc))
        var = m(vt) / nt / m(mc) ** 2 + m(mt) ** 2 * (m(vc) / nc) / m(mc) ** 4
        se = mpmath.sqrt(var)
        wc, wt = m(vc) / nc, m(vt) / nt
        df = (wc + wt) ** 2 / (wc**2 / (nc - 1) + wt**2 / (nt - 1))
        z = m(stats.t.ppf(1 - alpha / 2, float(df)))
        cases.append({
            "control": {"n": nc, "mean": mc, "var": vc},
            "treatment": {"n": nt, "mean": mt, "var": vt},
            "pooled_std_dev": f(sp), "cohens_d": f(d), "hedges_g": f(j * d),
            "alpha": alpha, "lift": f(lift), "lift_std_error": f(se),
            "lift_ci_lower": f(lift - z * se), "lift_ci_upper": f(lift + z * se),
        })
    return cases


def main():
    """Writes every fixture, or only those named on the command line
    (``python tools/gen_stats_fixtures.py effect_size``)."""
    os.makedirs(OUT, exist_ok=True)
    fixtures = {
        "welch": lambda: welch_from_samples() + welch_from_stats(),
        "t_quantile": t_quantiles,
        "t_sf": t_sf,
        "noncentral_t": noncentral_t,
        "normal_quantile": normal_quantiles,
        "chi_square": chi_square,
        "power": power,
        "multiple_testing": multiple_testing,
        "effect_size": effect_sizes,
    }
    wanted = sys.argv[1:] or list(fixtures)
    for name in wanted:
        write(name, fixtures[name]())


if __name__ == "__main__":
    main()
