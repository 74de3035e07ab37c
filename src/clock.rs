//! Wall-clock time as Unix epoch milliseconds, the one time unit of the API.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now, to within a few milliseconds (the kernel tick: 4 ms here), for the
/// times of recorded exposures and observations: reading it costs about
/// 5 ns where [`now_ms`] costs about 40, on a path that must stay under 100.
pub fn now_ms_coarse() -> i64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
            return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000;
        }
    }
    now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_is_close_to_the_precise_one() {
        let (coarse, precise) = (now_ms_coarse(), now_ms());
        assert!((precise - coarse).abs() < 100, "{coarse} vs {precise}");
    }
}
