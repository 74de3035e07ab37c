//! The handle's health: background failures, what waits unpersisted, what
//! was refused.

use std::ffi::c_char;

use super::boundary::guard;
use super::core::json_out;
use super::handle::cha_handle;
use super::status::cha_status;

/// The handle's health as JSON in `*out_json` (free it with
/// `cha_string_free`), read from memory: it answers while the database
/// cannot be read or written. Keys: `state` ("ok", or "failing" while the
/// last flush or reload failed; flag checks then answer from the last good
/// snapshot), `last_flush_error` and `last_refresh_error` (null, or
/// `{"status", "message", "at_ms", "since_ms", "failures"}`),
/// `snapshot_revision`, `buffered_records` (`{"experiments",
/// "metric_samples"}`), `buffer_limit` (the `max_buffered_records` option),
/// `refused_records` (record calls refused because the buffer was full
/// while flushes failed) and `dropped_exposures` (exposures of flag checks
/// not kept then). A background flush's failure is reported here and by
/// the next call that flushes; no other process can see it.
///
/// Errors: CHA_ERR_NULL_ARGUMENT.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_health(
    h: *const cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_health", || {
        // SAFETY: forwarded contract.
        unsafe { json_out(h, out_json, |cha| Ok(cha.health())) }
    })
}
