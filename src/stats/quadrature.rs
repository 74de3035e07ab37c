//! Adaptive Gauss–Kronrod (G10/K21) integration on a fixed-size panel table.
//!
//! Used by [`super::dist`] for the chi-mixture integrals behind the Student t
//! and noncentral t distribution functions. The panel table lives on the stack
//! so that analysing two summaries never touches the heap.

// The constants are QUADPACK's, kept digit for digit so they can be checked.
#![allow(clippy::excessive_precision)]

/// Abscissae of the 21-point Kronrod rule on [-1, 1] (non-negative half,
/// descending); the odd entries (1, 3, ..., 9) are the 10-point Gauss nodes.
/// Values from QUADPACK `qk21`.
const XGK: [f64; 11] = [
    0.995_657_163_025_808_080_735_527_280_689_003,
    0.973_906_528_517_171_720_077_964_012_084_452,
    0.930_157_491_355_708_226_001_207_180_059_508,
    0.865_063_366_688_984_510_732_096_688_423_493,
    0.780_817_726_586_416_897_063_717_578_345_042,
    0.679_409_568_299_024_406_234_327_365_114_874,
    0.562_757_134_668_604_683_339_000_099_272_694,
    0.433_395_394_129_247_190_799_265_943_165_784,
    0.294_392_862_701_460_198_131_126_603_103_866,
    0.148_874_338_981_631_210_884_826_001_129_720,
    0.0,
];
/// Kronrod weights matching [`XGK`].
const WGK: [f64; 11] = [
    0.011_694_638_867_371_874_278_064_396_062_192,
    0.032_558_162_307_964_727_478_818_972_459_390,
    0.054_755_896_574_351_996_031_381_300_244_580,
    0.075_039_674_810_919_952_767_043_140_916_190,
    0.093_125_454_583_697_605_535_065_465_083_366,
    0.109_387_158_802_297_641_899_210_590_325_805,
    0.123_491_976_262_065_851_077_208_977_256_050,
    0.134_709_217_311_473_325_928_054_001_771_707,
    0.142_775_938_577_060_080_797_094_273_138_717,
    0.147_739_104_901_338_491_374_841_515_972_068,
    0.149_445_554_002_916_905_664_936_468_389_821,
];
/// Gauss weights of the nodes XGK[1], XGK[3], ..., XGK[9].
const WG: [f64; 5] = [
    0.066_671_344_308_688_137_593_568_809_893_332,
    0.149_451_349_150_580_593_145_776_339_657_697,
    0.219_086_362_515_982_043_995_534_934_228_163,
    0.269_266_719_309_996_355_091_226_921_569_469,
    0.295_524_224_714_752_870_173_892_994_651_338,
];

/// One panel: its bounds, Kronrod estimate and error estimate.
#[derive(Clone, Copy, Default)]
struct Panel {
    a: f64,
    b: f64,
    value: f64,
    error: f64,
}

fn gauss_kronrod(f: &impl Fn(f64) -> f64, a: f64, b: f64) -> Panel {
    let center = 0.5 * (a + b);
    let half = 0.5 * (b - a);
    let fc = f(center);
    let mut kronrod = fc * WGK[10];
    let mut gauss = 0.0;
    for j in 0..10 {
        let dx = half * XGK[j];
        let pair = f(center - dx) + f(center + dx);
        kronrod += WGK[j] * pair;
        if j % 2 == 1 {
            gauss += WG[j / 2] * pair;
        }
    }
    Panel {
        a,
        b,
        value: kronrod * half,
        error: ((kronrod - gauss) * half).abs(),
    }
}

/// Most panels the table holds; each bisection adds one.
const CAPACITY: usize = 96;

/// ∫ f over [a, b], bisecting the worst panel until the summed error estimate
/// is below `rel_tol` times the integral (the integrands here are
/// non-negative, so no cancellation hides behind a relative tolerance).
/// Starts from `initial` equal panels. Stops, with its best estimate, when the
/// panel table is full.
pub(crate) fn integrate(
    f: impl Fn(f64) -> f64,
    a: f64,
    b: f64,
    initial: usize,
    rel_tol: f64,
) -> f64 {
    let mut panels = [Panel::default(); CAPACITY];
    let initial = initial.clamp(1, CAPACITY / 2);
    let width = (b - a) / initial as f64;
    let mut len = 0;
    for i in 0..initial {
        let lo = a + width * i as f64;
        let hi = if i + 1 == initial { b } else { lo + width };
        panels[len] = gauss_kronrod(&f, lo, hi);
        len += 1;
    }
    loop {
        let (mut total, mut error, mut worst) = (0.0, 0.0, 0);
        for (i, p) in panels[..len].iter().enumerate() {
            total += p.value;
            error += p.error;
            if p.error > panels[worst].error {
                worst = i;
            }
        }
        if error <= rel_tol * total.abs() || len == CAPACITY || error == 0.0 {
            return total;
        }
        let p = panels[worst];
        let mid = 0.5 * (p.a + p.b);
        if mid <= p.a || mid >= p.b {
            // The panel cannot be split further in floating point.
            return total;
        }
        panels[worst] = gauss_kronrod(&f, p.a, mid);
        panels[len] = gauss_kronrod(&f, mid, p.b);
        len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_integrate_polynomials_exactly_to_their_degree() {
        // A typo in any node or weight breaks exactness for some degree.
        for k in 0..=31 {
            let exact = if k % 2 == 1 {
                0.0
            } else {
                2.0 / (k as f64 + 1.0)
            };
            let p = gauss_kronrod(&|x: f64| x.powi(k), -1.0, 1.0);
            assert!(
                (p.value - exact).abs() < 1e-14,
                "kronrod degree {k}: {}",
                p.value
            );
            if k <= 19 {
                assert!(p.error < 1e-14, "gauss degree {k}: error {}", p.error);
            }
        }
        // Degree 20 is beyond the Gauss rule, so the error estimate must see it.
        assert!(gauss_kronrod(&|x: f64| x.powi(20), -1.0, 1.0).error > 1e-8);
    }

    #[test]
    fn adaptive_integration_resolves_a_narrow_peak() {
        // A bump of width 0.01 on a range of 1: four panels must be refined.
        let f = |x: f64| (-(x - 0.3) * (x - 0.3) / (2.0 * 1e-4)).exp();
        let v = integrate(f, -0.2, 0.8, 4, 1e-13);
        let exact = (2.0 * std::f64::consts::PI * 1e-4).sqrt();
        assert!((v / exact - 1.0).abs() < 1e-12, "{v} vs {exact}");
    }
}
