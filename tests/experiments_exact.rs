//! The exact moments through the handle: values recorded, flushed, folded
//! and analysed, against Welch's test on the exact (rational) moments of
//! the unit values. A unit's value is its observations combined exactly and
//! rounded once (the sum, or the mean), so the reference takes the exact
//! rational sum of what was recorded.

use std::collections::HashMap;
use std::path::PathBuf;

use cha_deploy::stats::dist;
use cha_deploy::{Cha, OpenOptions};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cha-exact-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const TEST: &str = "ab_tests:
  sizing:
    name: Sizing
    test_type: pipe_sizing
    status: running
    variants:
      - {name: control, traffic_percentage: 50}
      - {name: treatment, traffic_percentage: 50}
    metrics:
      - {name: total, metric_type: primary, aggregation: sum, target_direction: increase, minimum_detectable_effect: 0.05}
      - {name: pressure_pa, metric_type: secondary, aggregation: mean, target_direction: decrease, minimum_detectable_effect: 0.05}
";

fn open(s: &Scratch) -> Cha {
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.0.join("cha.db"), options).unwrap();
    let dir = s.0.join("configs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ab_tests.yml"), TEST).unwrap();
    cha.deploy_all(&dir, "t").unwrap();
    cha
}

/// SplitMix64 in [0, 1).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `per_arm` units of each variant, found by peeking (nobody is exposed).
fn units(cha: &Cha, per_arm: usize) -> [Vec<String>; 2] {
    let mut arms: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for i in 0.. {
        let unit = format!("network-{i:05}");
        let v = cha.peek("sizing", &unit).unwrap().variant.unwrap();
        let arm = usize::from(&*v.name == "treatment");
        if arms[arm].len() < per_arm {
            arms[arm].push(unit);
        }
        if arms.iter().all(|a| a.len() == per_arm) {
            return arms;
        }
    }
    unreachable!()
}

fn exact(x: f64) -> BigRational {
    BigRational::from_float(x).unwrap()
}

fn big(n: usize) -> BigRational {
    BigRational::from_integer(BigInt::from(n))
}

/// Welch's difference, t, df, p and the control variance from the exact
/// moments of the unit values.
fn reference(control: &[f64], treatment: &[f64]) -> [f64; 5] {
    let moments = |xs: &[f64]| {
        let mut sum = BigRational::zero();
        let mut sq = BigRational::zero();
        for &x in xs {
            let r = exact(x);
            sq += &r * &r;
            sum += r;
        }
        let n = big(xs.len());
        let mean = &sum / &n;
        (mean, (sq - &sum * &sum / &n) / big(xs.len() - 1))
    };
    let (mc, var_c) = moments(control);
    let (mt, var_t) = moments(treatment);
    let vc = (&var_c / big(control.len())).to_f64().unwrap();
    let vt = (&var_t / big(treatment.len())).to_f64().unwrap();
    let d = (mt - mc).to_f64().unwrap();
    let v = vc + vt;
    let t = d / v.sqrt();
    let df =
        v * v / (vc * vc / (control.len() - 1) as f64 + vt * vt / (treatment.len() - 1) as f64);
    let p = (2.0 * dist::students_t_sf(t.abs(), df).unwrap()).min(1.0);
    [d, t, df, p, var_c.to_f64().unwrap()]
}

fn assert_matches(what: &str, report: &cha_deploy::AnalysisReport, metric: usize, want: [f64; 5]) {
    let m = &report.metrics[metric];
    let c = &m.comparisons[0];
    let got = [
        c.difference.estimate.unwrap(),
        c.difference.t.unwrap(),
        c.difference.df.unwrap(),
        c.difference.p_value.unwrap(),
        m.control.variance.unwrap(),
    ];
    for (name, (g, w)) in ["difference", "t", "df", "p", "control variance"]
        .iter()
        .zip(got.iter().zip(want))
    {
        let err = (g - w).abs() / w.abs();
        assert!(
            err <= 1e-9,
            "{what}: {name} {g:e} vs exactly {w:e} ({err:e})"
        );
    }
}

/// Each unit's exact sum of its observations, and how many it has.
type Observed = HashMap<String, (BigRational, usize)>;

fn observe(observed: &mut Observed, unit: &str, value: f64) {
    let entry = observed
        .entry(unit.to_string())
        .or_insert_with(|| (BigRational::zero(), 0));
    entry.0 += exact(value);
    entry.1 += 1;
}

/// The rounded exact value of each unit: the sum (or the mean) of its
/// observations.
fn unit_values(observed: &Observed, units: &[String], mean: bool) -> Vec<f64> {
    units
        .iter()
        .map(|u| {
            let (sum, n) = &observed[u];
            let value = if mean { sum / big(*n) } else { sum.clone() };
            value.to_f64().unwrap()
        })
        .collect()
}

#[test]
fn a_sum_metric_stays_exact_through_1500_rounds_of_replacement() {
    // 50 units per arm each get one value of about 1e5 per round, and an
    // analysis follows each batch: the fold replaces each unit's value in
    // its arm's summary 1,500 times. Welford's downdate had the control
    // variance 29% off by then.
    let s = Scratch::new("rounds");
    let cha = open(&s);
    let arms = units(&cha, 50);
    let mut rng = Rng(42);
    let mut observed = Observed::new();
    for round in 1..=1500 {
        for (arm, list) in arms.iter().enumerate() {
            for unit in list {
                let value = 1e5 + 40.0 * (rng.uniform() - 0.5) + 0.6 * arm as f64;
                cha.record("sizing", unit, "total", value).unwrap();
                observe(&mut observed, unit, value);
            }
        }
        cha.flush().unwrap();
        if round % 100 == 0 || round == 2 {
            let report = cha
                .analyze_experiment("sizing", Default::default())
                .unwrap();
            let want = reference(
                &unit_values(&observed, &arms[0], false),
                &unit_values(&observed, &arms[1], false),
            );
            assert_matches(&format!("round {round}"), &report, 0, want);
        }
    }
    // Reopened: the stored moments are the same.
    drop(cha);
    let cha = Cha::open(s.0.join("cha.db")).unwrap();
    let report = cha
        .analyze_experiment("sizing", Default::default())
        .unwrap();
    let want = reference(
        &unit_values(&observed, &arms[0], false),
        &unit_values(&observed, &arms[1], false),
    );
    assert_matches("reopened", &report, 0, want);
}

#[test]
fn absolute_pressures_around_1e6_with_millipascal_differences() {
    // A mean metric of absolute pressures in Pa: each unit records several
    // values around 1e6 with millipascal noise, and the arms differ by 0.4
    // mPa.
    let s = Scratch::new("pressures");
    let cha = open(&s);
    let arms = units(&cha, 300);
    let mut rng = Rng(9);
    let mut observed = Observed::new();
    for batch in 0..3 {
        for (arm, list) in arms.iter().enumerate() {
            for unit in list {
                for _ in 0..2 {
                    let value = 1_013_250.0 + 1e-3 * (rng.uniform() - 0.5) + 4e-4 * arm as f64;
                    cha.record("sizing", unit, "pressure_pa", value).unwrap();
                    observe(&mut observed, unit, value);
                }
            }
        }
        cha.flush().unwrap();
        let report = cha
            .analyze_experiment("sizing", Default::default())
            .unwrap();
        let want = reference(
            &unit_values(&observed, &arms[0], true),
            &unit_values(&observed, &arms[1], true),
        );
        assert_matches(&format!("batch {batch}"), &report, 1, want);
    }
}
