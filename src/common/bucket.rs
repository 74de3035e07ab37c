//! Deterministic bucketing: MurmurHash3 (x86, 32-bit), the hash Unleash and
//! flagd use, so that a unit lands in the same bucket in every process,
//! language and run.
//!
//! A unit (a user id, a session id, …) of a flag with seed `s` is in bucket
//! `murmur3_32("{s}:{unit}", 0) % 10000`; a flag at `p`% is on for buckets
//! below `p × 100`, which gives percentages in steps of 0.01. The key is hashed
//! as a stream, so bucketing never allocates.

/// The number of buckets: percentages have two decimals.
pub const BUCKETS: u32 = 10_000;

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

/// A streaming MurmurHash3 x86 32-bit hasher: `write` pieces, then `finish`.
/// Feeding `"ab"` then `"c"` gives the same hash as feeding `"abc"`.
#[derive(Debug, Clone, Copy)]
pub struct Murmur3 {
    h: u32,
    tail: u32,
    tail_len: u32,
    len: u32,
}

impl Murmur3 {
    /// A hasher with `seed` (0 for the Unleash-compatible hash).
    pub const fn new(seed: u32) -> Murmur3 {
        Murmur3 {
            h: seed,
            tail: 0,
            tail_len: 0,
            len: 0,
        }
    }

    #[inline]
    fn mix_block(&mut self, k: u32) {
        let k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        self.h ^= k;
        self.h = self
            .h
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }

    /// Feeds more bytes.
    #[inline]
    pub fn write(&mut self, mut bytes: &[u8]) {
        // The length is taken mod 2^32, as the reference implementation does.
        self.len = self.len.wrapping_add(bytes.len() as u32);
        while self.tail_len != 0 && !bytes.is_empty() {
            self.push_byte(bytes[0]);
            bytes = &bytes[1..];
        }
        let mut blocks = bytes.chunks_exact(4);
        for block in &mut blocks {
            self.mix_block(u32::from_le_bytes([block[0], block[1], block[2], block[3]]));
        }
        for &b in blocks.remainder() {
            self.push_byte(b);
        }
    }

    #[inline]
    fn push_byte(&mut self, b: u8) {
        self.tail |= u32::from(b) << (8 * self.tail_len);
        self.tail_len += 1;
        if self.tail_len == 4 {
            let k = self.tail;
            self.tail = 0;
            self.tail_len = 0;
            self.mix_block(k);
        }
    }

    /// The hash of everything written.
    #[inline]
    pub fn finish(mut self) -> u32 {
        if self.tail_len != 0 {
            let k = self.tail.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
            self.h ^= k;
        }
        let mut h = self.h ^ self.len;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }
}

/// MurmurHash3 x86 32-bit of `bytes` with `seed`.
pub fn murmur3_32(bytes: &[u8], seed: u32) -> u32 {
    let mut hasher = Murmur3::new(seed);
    hasher.write(bytes);
    hasher.finish()
}

/// The hash of `"{seed}:{unit}"` with murmur seed 0, without building the string.
#[inline]
pub fn hash_unit(seed: &str, unit: &str) -> u32 {
    let mut hasher = Murmur3::new(0);
    hasher.write(seed.as_bytes());
    hasher.write(b":");
    hasher.write(unit.as_bytes());
    hasher.finish()
}

/// A seed with the hash of `"{seed}:"` already taken: bucketing a unit then
/// hashes only the unit's bytes. Flags keep one per seed, because the seed
/// (by default the flag's name) is often longer than the unit, and hashing
/// it again on every evaluation was a large part of a percentage check.
#[derive(Debug, Clone, Copy)]
pub struct SeededHash(Murmur3);

impl SeededHash {
    /// The hasher for units of `seed`.
    pub fn new(seed: &str) -> SeededHash {
        let mut hasher = Murmur3::new(0);
        hasher.write(seed.as_bytes());
        hasher.write(b":");
        SeededHash(hasher)
    }

    /// The hasher of `"{seed}:"` with murmur3 seed `hash_seed` (Unleash
    /// assigns variants with its own seed, 86028157).
    pub fn with_hash_seed(seed: &str, hash_seed: u32) -> SeededHash {
        let mut hasher = Murmur3::new(hash_seed);
        hasher.write(seed.as_bytes());
        hasher.write(b":");
        SeededHash(hasher)
    }

    /// The whole hash of `"{seed}:{unit}"`.
    #[inline]
    pub fn hash(&self, unit: &str) -> u32 {
        let mut hasher = self.0;
        hasher.write(unit.as_bytes());
        hasher.finish()
    }

    /// [`bucket`]`(seed, unit, buckets)`, with the seed's part done.
    #[inline]
    pub fn bucket(&self, unit: &str, buckets: u32) -> u32 {
        self.hash(unit) % buckets
    }

    /// [`in_rollout`]`(seed, unit, hundredths)`, with the seed's part done.
    #[inline]
    pub fn in_rollout(&self, unit: &str, hundredths: u32) -> bool {
        self.bucket(unit, BUCKETS) < hundredths
    }
}

/// The bucket (`0..buckets`) of `unit` for a flag seeded with `seed`.
/// `bucket(seed, unit, BUCKETS)` is the flag engine's; `bucket(.., 100) + 1`
/// is Unleash's `normalizedValue`.
#[inline]
pub fn bucket(seed: &str, unit: &str, buckets: u32) -> u32 {
    hash_unit(seed, unit) % buckets
}

/// Whether `unit` is inside a rollout of `hundredths` (2500 for 25%).
#[inline]
pub fn in_rollout(seed: &str, unit: &str, hundredths: u32) -> bool {
    bucket(seed, unit, BUCKETS) < hundredths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_test_vectors() {
        // From the reference implementation's verification set and widely
        // published tables (e.g. the Wikipedia and Guava test suites).
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"", 0xffff_ffff), 0x81f1_6f39);
        assert_eq!(murmur3_32(&[0, 0, 0, 0], 0), 0x2362_f9de);
        assert_eq!(murmur3_32(b"test", 0), 0xba6b_d213);
        assert_eq!(murmur3_32(b"Hello, world!", 0), 0xc036_3e43);
        assert_eq!(murmur3_32(b"Hello, world!", 0x9747_b28c), 0x2488_4cba);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0x9747_b28c),
            0x2fa8_26cd
        );
        assert_eq!(murmur3_32(b"aaaa", 0x9747_b28c), 0x5a97_808a);
        assert_eq!(murmur3_32(b"aaa", 0x9747_b28c), 0x283e_0130);
        assert_eq!(murmur3_32(b"aa", 0x9747_b28c), 0x5d21_1726);
        assert_eq!(murmur3_32(b"a", 0x9747_b28c), 0x7fa0_9ea6);
    }

    #[test]
    fn streaming_equals_one_shot_for_every_split() {
        let text = b"intelligent_pipe_sizing:user-000123";
        let whole = murmur3_32(text, 0);
        for split in 0..=text.len() {
            for split2 in split..=text.len() {
                let mut h = Murmur3::new(0);
                h.write(&text[..split]);
                h.write(&text[split..split2]);
                h.write(&text[split2..]);
                assert_eq!(h.finish(), whole, "split at {split}/{split2}");
            }
        }
        assert_eq!(hash_unit("intelligent_pipe_sizing", "user-000123"), whole);
    }

    #[test]
    fn a_seeded_hash_buckets_as_the_whole_key() {
        for seed in ["", "s", "abc", "seed", "intelligent_pipe_sizing"] {
            let seeded = SeededHash::new(seed);
            for unit in ["", "u", "u1", "user-000123", "planner-000042"] {
                assert_eq!(seeded.bucket(unit, BUCKETS), bucket(seed, unit, BUCKETS));
                assert_eq!(seeded.bucket(unit, 100), bucket(seed, unit, 100));
            }
        }
        let seeded = SeededHash::new("seed");
        let b = bucket("seed", "u1", BUCKETS);
        assert!(seeded.in_rollout("u1", b + 1) && !seeded.in_rollout("u1", b));
    }

    #[test]
    fn rollout_thresholds() {
        let b = bucket("seed", "u1", BUCKETS);
        assert!(in_rollout("seed", "u1", b + 1));
        assert!(!in_rollout("seed", "u1", b));
        assert!(!in_rollout("seed", "u1", 0));
        assert!(in_rollout("seed", "u1", BUCKETS));
    }
}
