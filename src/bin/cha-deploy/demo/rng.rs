//! SplitMix64: a tiny deterministic generator, so that a seed gives the
//! same network, engineers and rollout on every machine.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// An independent stream for `what` (a district, an engineer's week):
    /// the same seed and label give the same draws whatever came before.
    pub fn fork(seed: u64, label: &[u64]) -> Rng {
        let mut r = Rng(seed ^ 0x6368_6120_6465_6d6f);
        for &l in label {
            r.0 ^= l.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            r.next_u64();
        }
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.unit() - f64::EPSILON).max(0.0)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n - 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() <= p
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_in_range() {
        let (mut a, mut b) = (Rng::fork(7, &[]), Rng::fork(7, &[]));
        for _ in 0..1000 {
            let x = a.unit();
            assert_eq!(x, b.unit());
            assert!(x > 0.0 && x <= 1.0);
            assert!(a.below(3) < 3);
            b.below(3);
        }
        assert_eq!(
            Rng::fork(1, &[2, 3]).next_u64(),
            Rng::fork(1, &[2, 3]).next_u64()
        );
        assert_ne!(
            Rng::fork(1, &[2, 3]).next_u64(),
            Rng::fork(1, &[3, 2]).next_u64()
        );
        let mean = (0..10_000).map(|_| a.normal()).sum::<f64>() / 10_000.0;
        assert!(mean.abs() < 0.05, "{mean}");
    }
}
