//! Property tests of the moments against exact rational arithmetic.
//!
//! The reference is Welch's test on the exact moments of the same doubles:
//! each value is taken as the rational number it is, the mean and M2 are
//! computed exactly and rounded once, and the difference of the means is
//! exact before its one rounding. Then t, df, p and the interval follow
//! from those by the textbook formulas. The library's summaries must give
//! the difference, t, df, p and both ends of the interval to 1e-9
//! (relative), at large offsets (1e6, 1e9, epoch milliseconds, 1e15), for
//! any size, through merges of partial summaries with their own shifts,
//! and through many rounds of replacing each unit's value.

use cha_deploy::stats::{self, Summary, dist};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

const TOL: f64 = 1e-9;

/// SplitMix64: the same values on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn exact(x: f64) -> BigRational {
    BigRational::from_float(x).expect("a finite value")
}

/// The exact mean and M2 of `xs`.
fn exact_moments(xs: &[f64]) -> (BigRational, BigRational) {
    let n = BigRational::from_integer(BigInt::from(xs.len()));
    let mut sum = BigRational::zero();
    let mut squares = BigRational::zero();
    for &x in xs {
        let r = exact(x);
        squares += &r * &r;
        sum += r;
    }
    let mean = &sum / &n;
    let m2 = squares - &sum * &sum / &n;
    (mean, m2)
}

/// Welch's test on the exact moments of `control` and `treatment`, each
/// rounded once.
struct Reference {
    difference: f64,
    t: f64,
    df: f64,
    p: f64,
    lower: f64,
    upper: f64,
    variance_control: f64,
}

fn reference(control: &[f64], treatment: &[f64], alpha: f64) -> Reference {
    let (mc, m2c) = exact_moments(control);
    let (mt, m2t) = exact_moments(treatment);
    let (nc, nt) = (control.len(), treatment.len());
    let big = |n: usize| BigRational::from_integer(BigInt::from(n));
    let var_c = &m2c / big(nc - 1);
    let var_t = &m2t / big(nt - 1);
    let vc = (&var_c / big(nc)).to_f64().unwrap();
    let vt = (&var_t / big(nt)).to_f64().unwrap();
    let difference = (mt - mc).to_f64().unwrap();
    let v = vc + vt;
    let se = v.sqrt();
    let t = difference / se;
    let df = v * v / (vc * vc / (nc - 1) as f64 + vt * vt / (nt - 1) as f64);
    let p = (2.0 * dist::students_t_sf(t.abs(), df).unwrap()).min(1.0);
    let half = dist::students_t_isf(0.5 * alpha, df).unwrap() * se;
    Reference {
        difference,
        t,
        df,
        p,
        lower: difference - half,
        upper: difference + half,
        variance_control: var_c.to_f64().unwrap(),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }
}

/// Checks the library's Welch test on `c` and `t` against the exact
/// reference of the values they summarise.
fn check(what: &str, c: &Summary, t: &Summary, control: &[f64], treatment: &[f64]) {
    let alpha = 0.05;
    let want = reference(control, treatment, alpha);
    let got = stats::welch(c, t, alpha).unwrap();
    let se = got.std_error;
    for (name, g, w, scale) in [
        (
            "difference",
            got.difference,
            want.difference,
            want.difference.abs(),
        ),
        ("t", got.t, want.t, want.t.abs()),
        ("df", got.df, want.df, want.df),
        ("p", got.p_value, want.p, want.p),
        (
            "ci lower",
            got.ci.lower,
            want.lower,
            want.lower.abs().max(se),
        ),
        (
            "ci upper",
            got.ci.upper,
            want.upper,
            want.upper.abs().max(se),
        ),
    ] {
        let err = (g - w).abs() / scale.max(f64::MIN_POSITIVE);
        assert!(
            err <= TOL || g == w,
            "{what}: {name} is {g:e}, exactly {w:e} (relative error {err:e})"
        );
    }
    let err = rel(c.variance().unwrap(), want.variance_control);
    assert!(err <= TOL, "{what}: control variance off by {err:e}");
}

/// `n` values around `offset` with noise of size `spread`, and the effect.
fn arm(rng: &mut Rng, n: usize, offset: f64, spread: f64, effect: f64) -> Vec<f64> {
    (0..n)
        .map(|_| offset + effect + spread * (rng.uniform() - 0.5) * 3.4)
        .collect()
}

const OFFSETS: [f64; 7] = [0.0, 40.0, 1e6, 1e9, 1.7e12, -3e8, 1e15];
const SIZES: [usize; 6] = [2, 3, 10, 64, 257, 3000];

#[test]
fn welch_is_exact_at_any_offset_and_size() {
    let mut rng = Rng(7);
    for offset in OFFSETS {
        for n in SIZES {
            // A spread of 0.5 around the offset, or one that is as small as
            // the offset's ulp allows to matter.
            let spread = if offset.abs() >= 1e12 { 8.0 } else { 0.5 };
            let control = arm(&mut rng, n, offset, spread, 0.0);
            let nt = n + rng.below(5);
            let treatment = arm(&mut rng, nt, offset, spread, 0.3 * spread);
            check(
                &format!("offset {offset:e}, n {n}"),
                &Summary::from_values(&control),
                &Summary::from_values(&treatment),
                &control,
                &treatment,
            );
        }
    }
}

#[test]
fn the_case_of_3000_values_per_arm_around_1e9() {
    // Welford's running mean drifted several ulps here: the difference was
    // off by about 4e-5 relative and p by 4e-4.
    let mut rng = Rng(1);
    let control = arm(&mut rng, 3000, 1e9, 0.5, 0.0);
    let treatment = arm(&mut rng, 3000, 1e9, 0.5, 0.02);
    let (c, t) = (
        Summary::from_values(&control),
        Summary::from_values(&treatment),
    );
    check("3000 around 1e9", &c, &t, &control, &treatment);
    // One value at a time, as a stream.
    let mut streamed = Summary::EMPTY;
    for &x in &control {
        streamed.push(x);
    }
    check("streamed", &streamed, &t, &control, &treatment);
}

#[test]
fn merges_of_partial_summaries_are_exact() {
    let mut rng = Rng(11);
    for offset in OFFSETS {
        for n in [4usize, 50, 1000] {
            let control = arm(&mut rng, n, offset, 0.5, 0.0);
            let treatment = arm(&mut rng, n, offset, 0.5, 0.1);
            for pieces in [2usize, 3, 7] {
                // Random cut points, and the pieces merged in a shuffled
                // order: each piece has its own shift (its first value).
                let merged = |values: &[f64], rng: &mut Rng| {
                    let mut cuts: Vec<usize> = (0..pieces - 1).map(|_| rng.below(n)).collect();
                    cuts.push(0);
                    cuts.push(n);
                    cuts.sort_unstable();
                    let mut parts: Vec<Summary> = cuts
                        .windows(2)
                        .map(|w| Summary::from_values(&values[w[0]..w[1]]))
                        .collect();
                    for i in (1..parts.len()).rev() {
                        parts.swap(i, rng.below(i + 1));
                    }
                    parts.iter().fold(Summary::EMPTY, |acc, p| acc.merged(p))
                };
                let c = merged(&control, &mut rng);
                let t = merged(&treatment, &mut rng);
                assert_eq!(c.n, n as u64);
                check(
                    &format!("offset {offset:e}, n {n}, {pieces} pieces"),
                    &c,
                    &t,
                    &control,
                    &treatment,
                );
            }
        }
    }
}

#[test]
fn merging_summaries_with_shifts_far_apart_stays_exact() {
    // One part starts at 0, the other at 1e9: the re-centring is exact.
    let mut rng = Rng(5);
    let mut control = vec![0.0];
    control.extend(arm(&mut rng, 400, 1e9, 0.5, 0.0));
    let treatment = arm(&mut rng, 400, 1e9, 0.5, 0.1);
    let c = Summary::from_values(&control[..1]).merged(&Summary::from_values(&control[1..]));
    check(
        "shifts 0 and 1e9",
        &c,
        &Summary::from_values(&treatment),
        &control,
        &treatment,
    );
    let d = Summary::from_values(&control[1..]).merged(&Summary::from_values(&control[..1]));
    check(
        "shifts 1e9 and 0",
        &d,
        &Summary::from_values(&treatment),
        &control,
        &treatment,
    );
}

#[test]
fn replacing_unit_values_round_after_round_stays_exact() {
    // A sum metric: 50 units per arm, each gets one value of about 1e5 per
    // round, and the summary swaps each unit's old total for its new one.
    // With Welford's downdate the control variance was 29% off after 1,500
    // rounds.
    let mut rng = Rng(3);
    let units = 50;
    let mut totals = [vec![0.0f64; units], vec![0.0f64; units]];
    let mut summaries = [Summary::EMPTY, Summary::EMPTY];
    for round in 1..=1500 {
        for (arm, (unit_totals, summary)) in totals.iter_mut().zip(&mut summaries).enumerate() {
            for total in unit_totals.iter_mut() {
                let value = 1e5 + 40.0 * (rng.uniform() - 0.5) + arm as f64;
                let old = *total;
                *total += value;
                if round == 1 {
                    summary.push(*total);
                } else {
                    summary.replace(old, *total);
                }
            }
        }
        if round % 250 == 0 || round <= 3 {
            check(
                &format!("round {round}"),
                &summaries[0],
                &summaries[1],
                &totals[0],
                &totals[1],
            );
        }
    }
    // The stored form: a summary written and read back is the same.
    let back = Summary::from_parts(summaries[0].normalized().parts());
    check("stored", &back, &summaries[1], &totals[0], &totals[1]);
}

#[test]
fn the_reference_itself_tells_welford_from_exact() {
    // The reference would catch the old drift: Welford's running mean of
    // 3000 values around 1e9 misses the exact difference by far more than
    // the tolerance.
    let mut rng = Rng(1);
    let control = arm(&mut rng, 3000, 1e9, 0.5, 0.0);
    let treatment = arm(&mut rng, 3000, 1e9, 0.5, 0.02);
    let welford = |xs: &[f64]| {
        let (mut n, mut mean) = (0.0f64, 0.0f64);
        for &x in xs {
            n += 1.0;
            mean += (x - mean) / n;
        }
        mean
    };
    let naive = welford(&treatment) - welford(&control);
    let want = reference(&control, &treatment, 0.05).difference;
    assert!(rel(naive, want) > 1e-7, "{naive} vs {want}");
}
