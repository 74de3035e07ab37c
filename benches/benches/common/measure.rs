//! Timing benchmarks side by side, shared by the benchmarks (each includes
//! this file with `#[path]`).

use std::time::{Duration, Instant};

/// Samples taken of every benchmark.
pub const SAMPLES: usize = 25;

/// The median and the fastest sample, in ns per operation.
#[derive(Clone, Copy)]
pub struct Timing {
    pub median_ns: f64,
    pub min_ns: f64,
}

/// A benchmark: runs `n` operations and says how long that took.
pub type Bench<'a> = Box<dyn FnMut(usize) -> Duration + 'a>;

/// Times the benchmarks of one group (an anchor and its rivals): each is
/// warmed up for `warm_up` and sized to about `sample` per sample, then the
/// samples are taken in turns (anchor, rival, rival, anchor, …), so that
/// whatever else the machine does slows all of them alike and the ratios
/// stay fair.
pub fn measure_group(
    benches: &mut [Bench<'_>],
    warm_up: Duration,
    sample: Duration,
) -> Vec<Timing> {
    let sizes: Vec<usize> = benches
        .iter_mut()
        .map(|run| {
            let mut n = 1000;
            let started = Instant::now();
            while started.elapsed() < warm_up {
                if run(n) < sample / 2 {
                    n *= 2;
                }
            }
            let took = run(n).as_secs_f64();
            ((n as f64) * sample.as_secs_f64() / took).max(1000.0) as usize
        })
        .collect();
    let mut per_op = vec![Vec::with_capacity(SAMPLES); benches.len()];
    for _ in 0..SAMPLES {
        for (k, run) in benches.iter_mut().enumerate() {
            per_op[k].push(run(sizes[k]).as_secs_f64() * 1e9 / sizes[k] as f64);
        }
    }
    per_op
        .into_iter()
        .map(|samples| Timing {
            median_ns: median(samples.clone()),
            min_ns: samples.iter().copied().fold(f64::INFINITY, f64::min),
        })
        .collect()
}

/// The middle value (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
