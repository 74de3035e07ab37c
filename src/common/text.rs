//! Equality of short strings without a call to `memcmp`: flag names,
//! property names and constraint values are a few bytes long, and a call
//! of the C library's `memcmp` for each of them was the largest single cost
//! of a targeted flag check (a fifth of it).

/// Whether `a` and `b` hold the same bytes. Up to 32 bytes it compares
/// (overlapping) words inline; longer texts go to the slice comparison.
#[inline(always)]
pub fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// [`same`] for byte slices.
#[inline(always)]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let w4 = |s: &[u8], i: usize| u32::from_ne_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        17..=32 => {
            w8(a, 0) == w8(b, 0)
                && w8(a, 8) == w8(b, 8)
                && w8(a, n - 16) == w8(b, n - 16)
                && w8(a, n - 8) == w8(b, n - 8)
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_slice_equality_at_every_length_and_position() {
        let base: Vec<u8> = (0..70u8).map(|i| b'a' + i % 26).collect();
        for n in 0..base.len() {
            let a = &base[..n];
            assert!(same_bytes(a, a), "length {n}");
            assert!(!same_bytes(a, &base[..n + 1]), "lengths {n} and {}", n + 1);
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 0x20;
                assert!(!same_bytes(a, &b), "length {n}, byte {i} differs");
            }
        }
        assert!(same("north-7", "north-7"));
        assert!(!same("north-7", "north-8"));
        assert!(same("", ""));
        assert!(same("ünïcödé", "ünïcödé"));
    }
}
