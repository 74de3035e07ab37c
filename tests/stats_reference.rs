//! `cha_deploy::stats` against scipy and statsmodels.
//!
//! The fixtures in `tests/fixtures/stats/` are written by
//! `tools/gen_stats_fixtures.py` (scipy, statsmodels, and 50-digit mpmath for
//! the textbook formulas). Every value must agree to a relative 1e-9:
//!
//! err = |got − want| / max(|want|, floor)
//!
//! where `floor` is 1e-300 (pure relative error) except for quantities that can
//! be exactly zero in a case (a mean difference, a t statistic, a quantile at
//! p = 0.5), where it is the natural scale of that quantity (documented at each
//! check), making the error absolute near zero. Each family prints its worst
//! case, and a few checks prove the tolerance is tight enough to tell a right
//! formula from a plausible wrong one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::path::Path;

use cha_deploy::stats::{self, Summary, dist};
use serde_json::Value;

const TOL: f64 = 1e-9;

// ------------------------------------------------ allocation counter ----

/// Counts allocations made by the current thread, to show that analysing two
/// summaries allocates nothing.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

// ---------------------------------------------------------- harness ----

struct Worst {
    family: &'static str,
    err: f64,
    what: String,
    failures: Vec<String>,
    checks: usize,
}

impl Worst {
    fn new(family: &'static str) -> Self {
        Worst {
            family,
            err: 0.0,
            what: String::new(),
            failures: Vec::new(),
            checks: 0,
        }
    }

    fn check(&mut self, what: impl Fn() -> String, got: f64, want: f64, floor: f64) {
        self.checks += 1;
        let err = if got == want {
            0.0
        } else {
            (got - want).abs() / want.abs().max(floor)
        };
        let err = if err.is_nan() { f64::INFINITY } else { err };
        if err > self.err {
            self.err = err;
            self.what = what();
        }
        if err > TOL {
            self.failures.push(format!(
                "{}: got {got:e}, want {want:e}, err {err:.3e}",
                what()
            ));
        }
    }

    fn finish(self, min_checks: usize) {
        println!(
            "{:<18} {:>5} checks, worst relative error {:.2e} at {}",
            self.family, self.checks, self.err, self.what
        );
        assert!(
            self.checks >= min_checks,
            "{}: only {} checks",
            self.family,
            self.checks
        );
        assert!(
            self.failures.is_empty(),
            "{}: {} failure(s):\n{}",
            self.family,
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn load(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stats")
        .join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY,
        _ => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")),
    }
}

fn arm(v: &Value) -> Summary {
    Summary::from_mean_variance(v["n"].as_u64().unwrap(), num(&v["mean"]), num(&v["var"])).unwrap()
}

// ------------------------------------------------------------ tests ----

#[test]
fn welch_matches_scipy() {
    let mut w = Worst::new("welch");
    for c in load("welch.json") {
        let (ctl, trt) = (arm(&c["control"]), arm(&c["treatment"]));
        let r = stats::welch(&ctl, &trt, num(&c["alpha"])).unwrap();
        let id = |f: &str| format!("{f} nc={} nt={}", ctl.n, trt.n);
        let diff_scale = r.std_error; // the difference is zero in one case
        w.check(
            || id("difference"),
            r.difference,
            num(&c["difference"]),
            diff_scale,
        );
        w.check(|| id("t"), r.t, num(&c["t"]), 1.0);
        w.check(|| id("df"), r.df, num(&c["df"]), 1e-300);
        w.check(|| id("p"), r.p_value, num(&c["p_value"]), 1e-300);
        // The ends are relative to the half-width: an error in the quantile
        // or the standard error shows at that scale, not at |difference|.
        let half = 0.5 * (num(&c["ci_upper"]) - num(&c["ci_lower"]));
        w.check(|| id("ci_lower"), r.ci.lower, num(&c["ci_lower"]), half);
        w.check(|| id("ci_upper"), r.ci.upper, num(&c["ci_upper"]), half);
        w.check(|| id("ci_half"), 0.5 * r.ci.width(), half, 1e-300);
    }
    w.finish(100);
}

#[test]
fn t_quantiles_match_scipy() {
    let mut w = Worst::new("t quantile");
    for c in load("t_quantile.json") {
        let (df, p) = (num(&c["df"]), num(&c["p"]));
        let got = dist::students_t_quantile(p, df).unwrap();
        // ppf(0.5) = 0: absolute error at the scale of 1.
        w.check(|| format!("df={df} p={p}"), got, num(&c["ppf"]), 1e-12);
    }
    w.finish(150);
}

#[test]
fn t_survival_matches_scipy() {
    let mut w = Worst::new("t sf");
    for c in load("t_sf.json") {
        let (df, t) = (num(&c["df"]), num(&c["t"]));
        let got = dist::students_t_sf(t, df).unwrap();
        w.check(|| format!("df={df} t={t}"), got, num(&c["sf"]), 1e-300);
    }
    w.finish(120);
}

/// scipy's `nctdtr` is only absolutely accurate in the lower tail for
/// t < 0 < nc (errors up to 2e-12, e.g. 9.75e-18 where the value is 9.48e-18),
/// so the relative reference is the 30-digit mpmath integral stored beside it
/// (`cdf_mp`), and scipy is checked to an absolute 1e-11 (floor 1e-2).
#[test]
fn noncentral_t_matches_scipy() {
    let mut w = Worst::new("noncentral t");
    let mut sp = Worst::new("nct vs scipy abs");
    for c in load("noncentral_t.json") {
        let (df, nc, t) = (num(&c["df"]), num(&c["nc"]), num(&c["t"]));
        let want = num(&c["cdf_mp"]);
        let got = dist::noncentral_t_cdf(t, df, nc).unwrap();
        w.check(|| format!("cdf df={df} nc={nc} t={t}"), got, want, 1e-300);
        sp.check(
            || format!("cdf df={df} nc={nc} t={t}"),
            got,
            num(&c["cdf"]),
            1e-2,
        );
        // The survival function against 1 − cdf, where that keeps precision.
        if want < 0.5 {
            let sf = dist::noncentral_t_sf(t, df, nc).unwrap();
            w.check(
                || format!("sf df={df} nc={nc} t={t}"),
                sf,
                1.0 - want,
                1e-300,
            );
        }
    }
    w.finish(400);
    sp.finish(300);
}

#[test]
fn normal_quantiles_match_scipy() {
    let mut w = Worst::new("normal quantile");
    for c in load("normal_quantile.json") {
        let p = num(&c["p"]);
        let got = dist::normal_quantile(p).unwrap();
        w.check(|| format!("p={p}"), got, num(&c["ppf"]), 1e-12);
    }
    w.finish(13);
}

#[test]
fn chi_square_matches_scipy() {
    let mut w = Worst::new("chi-square / SRM");
    for c in load("chi_square.json") {
        if let Some(obs) = c.get("observed") {
            let obs: Vec<u64> = obs
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let weights: Vec<f64> = c["weights"].as_array().unwrap().iter().map(num).collect();
            let r = stats::sample_ratio_mismatch(&obs, &weights).unwrap();
            let want_p = num(&c["p_value"]);
            // The statistic is exactly 0 for a perfect split: absolute at 1e-12.
            w.check(
                || format!("statistic {obs:?}"),
                r.statistic,
                num(&c["statistic"]),
                1e-12,
            );
            w.check(|| format!("p {obs:?}"), r.p_value, want_p, 1e-300);
            assert_eq!(r.mismatch, want_p < 0.001, "{obs:?}");
        } else {
            let (x, df) = (num(&c["x"]), num(&c["df"]));
            let got = dist::chi_squared_sf(x, df).unwrap();
            w.check(|| format!("sf x={x} df={df}"), got, num(&c["sf"]), 1e-300);
        }
    }
    w.finish(20);
}

#[test]
fn power_matches_statsmodels() {
    let mut w = Worst::new("power");
    let mut solve = Worst::new("solve_power");
    for c in load("power.json") {
        let (es, alpha, ratio) = (num(&c["effect_size"]), num(&c["alpha"]), num(&c["ratio"]));
        match c["kind"].as_str().unwrap() {
            "power" => {
                let n = num(&c["nobs1"]);
                let id = |f: &str| format!("{f} d={es} n1={n} alpha={alpha} ratio={ratio}");
                let got = stats::ttest_ind_power(es, n, alpha, ratio).unwrap();
                w.check(|| id("t"), got, num(&c["power"]), 1e-300);
                let got = stats::normal_power(es, n, alpha, ratio).unwrap();
                w.check(|| id("z"), got, num(&c["normal_power"]), 1e-300);
            }
            _ => {
                let target = num(&c["power"]);
                let got = stats::ttest_ind_required_nobs1(es, alpha, target, ratio).unwrap();
                let id = || format!("d={es} power={target} alpha={alpha} ratio={ratio}");
                // Against statsmodels' own solver run with xtol = 1e-12.
                solve.check(id, got, num(&c["nobs1"]), 1e-300);
                // statsmodels' default answer is only good to its brentq
                // xtol of 1e-5 (absolute): hold it to that.
                let default = num(&c["nobs1_statsmodels_default"]);
                assert!(
                    (got - default).abs() < 2e-5,
                    "{}: {got} vs default {default}",
                    id()
                );
            }
        }
    }
    w.finish(140);
    solve.finish(40);
}

#[test]
fn multiple_testing_matches_statsmodels() {
    let mut w = Worst::new("holm / fdr_bh");
    for c in load("multiple_testing.json") {
        let p: Vec<f64> = c["p"].as_array().unwrap().iter().map(num).collect();
        let alpha = num(&c["alpha"]);
        let method = c["method"].as_str().unwrap();
        let got = match method {
            "holm" => stats::holm(&p, alpha).unwrap(),
            _ => stats::benjamini_hochberg(&p, alpha).unwrap(),
        };
        let want: Vec<f64> = c["adjusted"].as_array().unwrap().iter().map(num).collect();
        let reject: Vec<bool> = c["reject"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_bool().unwrap())
            .collect();
        for (i, a) in got.iter().enumerate() {
            // Adjusted p is 0 where a raw p is 0: absolute at 1e-12 there.
            w.check(
                || format!("{method} alpha={alpha} #{i} of {p:?}"),
                a.p_adjusted,
                want[i],
                1e-12,
            );
            assert_eq!(a.reject, reject[i], "{method} alpha={alpha} #{i} of {p:?}");
        }
    }
    w.finish(100);
}

#[test]
fn effect_sizes_and_lift_match_the_textbook_formulas() {
    let mut w = Worst::new("effect size/lift");
    for c in load("effect_size.json") {
        let (ctl, trt) = (arm(&c["control"]), arm(&c["treatment"]));
        let id = |f: &str| format!("{f} nc={} nt={}", ctl.n, trt.n);
        let e = stats::effect_size(&ctl, &trt).unwrap();
        w.check(
            || id("pooled sd"),
            e.pooled_std_dev,
            num(&c["pooled_std_dev"]),
            1e-300,
        );
        w.check(|| id("cohens d"), e.cohens_d, num(&c["cohens_d"]), 1e-300);
        w.check(|| id("hedges g"), e.hedges_g, num(&c["hedges_g"]), 1e-300);
        let l = stats::relative_lift(&ctl, &trt, num(&c["alpha"])).unwrap();
        let se = num(&c["lift_std_error"]);
        w.check(|| id("lift"), l.lift, num(&c["lift"]), 1e-300);
        w.check(|| id("lift se"), l.std_error, se, 1e-300);
        w.check(
            || id("lift lower"),
            l.ci.lower,
            num(&c["lift_ci_lower"]),
            se,
        );
        w.check(
            || id("lift upper"),
            l.ci.upper,
            num(&c["lift_ci_upper"]),
            se,
        );
    }
    w.finish(40);
}

/// The tolerance separates right from wrong: plausible mistakes miss it.
#[test]
fn the_checks_can_fail() {
    let rel = |a: f64, b: f64| (a / b - 1.0).abs();
    // Hedges' usual approximation J ≈ 1 − 3/(4ν − 1) is not the exact correction.
    let c = &load("effect_size.json")[0];
    let d = num(&c["cohens_d"]);
    let nu = 2.0;
    assert!(rel((1.0 - 3.0 / (4.0 * nu - 1.0)) * d, num(&c["hedges_g"])) > 1e-3);
    // At 1e8 df the t quantile is not the normal quantile at 1e-9.
    for c in load("t_quantile.json") {
        if num(&c["df"]) == 1e8 && num(&c["p"]) == 0.025 {
            let z = dist::normal_quantile(0.025).unwrap();
            assert!(rel(z, num(&c["ppf"])) > TOL);
        }
    }
    // statrs' own t sf misses at 1e12 df, which is why dist has its own.
    use statrs::distribution::{ContinuousCDF, StudentsT};
    for c in load("t_sf.json") {
        if num(&c["df"]) == 1e12 && num(&c["t"]) == 6.0 {
            let statrs = StudentsT::new(0.0, 1.0, 1e12).unwrap().sf(6.0);
            assert!(rel(statrs, num(&c["sf"])) > TOL);
        }
    }
    // The pooled-variance t statistic differs from Welch's on unequal arms.
    let c = &load("welch.json")[0];
    let (ctl, trt) = (arm(&c["control"]), arm(&c["treatment"]));
    let pooled = ((ctl.m2() + trt.m2()) / (ctl.n + trt.n - 2) as f64).sqrt();
    let t_pooled =
        (trt.mean() - ctl.mean()) / (pooled * (1.0 / ctl.n as f64 + 1.0 / trt.n as f64).sqrt());
    assert!(rel(t_pooled, num(&c["t"])) > 1e-3);
}

#[test]
fn analysis_of_two_summaries_does_not_allocate() {
    let ctl = Summary::from_mean_variance(400_000, 42.0, 49.0).unwrap();
    let trt = Summary::from_mean_variance(410_000, 42.05, 50.0).unwrap();
    let bad = Summary::from_mean_variance(1, 42.0, 0.0).unwrap();
    // Warm up anything lazily initialised by the runtime.
    let _ = stats::welch(&ctl, &trt, 0.05);
    let before = allocations();
    let w = stats::welch(&ctl, &trt, 0.05);
    let l = stats::relative_lift(&ctl, &trt, 0.05);
    let e = stats::effect_size(&ctl, &trt);
    let s = stats::always_valid(&ctl, &trt, 0.05, 0.01);
    let err = stats::welch(&bad, &trt, 0.05);
    let p = stats::ttest_ind_power(0.05, 5000.0, 0.05, 1.0);
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "analysis allocated {} time(s)",
        after - before
    );
    assert!(w.is_ok() && l.is_ok() && e.is_ok() && s.is_ok() && err.is_err() && p.is_ok());
}
