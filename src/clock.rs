//! Wall-clock time as Unix epoch milliseconds, the one time unit of the API.
//!
//! A simulation may freeze the clock at an instant of its own with
//! [`set_simulated_now`]: every time the library reads (an exposure, an
//! observation, an audit-log row, a deployment, a schedule step, a feedback
//! item, an analysis's "now") is then that instant, so that weeks simulated
//! in seconds are stored as weeks. `cha-deploy demo` uses it; nothing else
//! should.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// No simulated time: the system clock.
const SYSTEM: i64 = i64::MIN;

/// The simulated instant, or [`SYSTEM`].
static SIMULATED_MS: AtomicI64 = AtomicI64::new(SYSTEM);

/// Now, in Unix epoch milliseconds (the simulated instant while one is set).
pub fn now_ms() -> i64 {
    let simulated = SIMULATED_MS.load(Ordering::Relaxed);
    if simulated != SYSTEM {
        return simulated;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now, to within a few milliseconds (the kernel tick: 4 ms here), for the
/// times of recorded exposures and observations: reading it costs about
/// 5 ns where [`now_ms`] costs about 40, on a path that must stay under 100.
pub fn now_ms_coarse() -> i64 {
    let simulated = SIMULATED_MS.load(Ordering::Relaxed);
    if simulated != SYSTEM {
        return simulated;
    }
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

/// Freezes the library's clock at `now_ms` (Unix epoch milliseconds) for
/// the whole process, every handle and thread, until it is set again or
/// [`use_system_clock`] is called. For simulations that replay weeks in
/// seconds (`cha-deploy demo`): what they record is stored at the simulated
/// times, and analyses count simulated days. Move it forward only: records
/// are expected in time order.
///
/// Not part of the C ABI. A program that shares the process with other
/// users of the library must not call it.
pub fn set_simulated_now(now_ms: i64) {
    // i64::MIN itself would read as "no simulation"; a millisecond later is
    // as far in the past.
    SIMULATED_MS.store(now_ms.max(SYSTEM + 1), Ordering::Relaxed);
}

/// Lets the library's clock follow the system clock again.
pub fn use_system_clock() {
    SIMULATED_MS.store(SYSTEM, Ordering::Relaxed);
}

/// The simulated instant, when one is set.
pub fn simulated_now() -> Option<i64> {
    let simulated = SIMULATED_MS.load(Ordering::Relaxed);
    (simulated != SYSTEM).then_some(simulated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_is_close_to_the_precise_one() {
        // No test of this crate's unit tests simulates time (it is global).
        assert_eq!(simulated_now(), None);
        let (coarse, precise) = (now_ms_coarse(), now_ms());
        assert!((precise - coarse).abs() < 100, "{coarse} vs {precise}");
    }
}
