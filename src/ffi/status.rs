//! Status codes of the C ABI. Values are explicit and never reused: a code
//! that goes away leaves a hole.
//!
//! The codes are written once, here, as the constants cbindgen puts into the
//! header; [`ErrorKind::status_code`](crate::ErrorKind::status_code) maps
//! each error kind to one of them, and `status_name` names each.

/// The result of every fallible C function. `CHA_OK` (0) is success; any
/// other value is an error whose message `cha_last_error_message` returns.
#[allow(non_camel_case_types)]
pub type cha_status = i32;

/// Success.
pub const CHA_OK: cha_status = 0;
/// A required pointer argument was NULL.
pub const CHA_ERR_NULL_ARGUMENT: cha_status = 1;
/// A string argument was not valid UTF-8.
pub const CHA_ERR_INVALID_UTF8: cha_status = 2;
/// An argument had a value outside its domain (NaN, bad JSON, unknown option).
pub const CHA_ERR_INVALID_ARGUMENT: cha_status = 3;
/// The named flag, experiment, deployment or record does not exist.
pub const CHA_ERR_NOT_FOUND: cha_status = 4;
/// A configuration file or update failed validation; nothing was changed.
pub const CHA_ERR_CONFIG: cha_status = 5;
/// The database could not be opened, read or written.
pub const CHA_ERR_STORAGE: cha_status = 6;
/// The database stayed locked by another connection past the busy timeout.
pub const CHA_ERR_BUSY: cha_status = 7;
/// A bug inside the library (a caught panic); the handle stays usable.
pub const CHA_ERR_INTERNAL: cha_status = 8;
/// A deployment or rollback would undo changes made at runtime (a kill
/// switch, a rollout step, a pause) or delete definitions its target does
/// not mention; nothing was changed. The message lists each one; pass
/// `"on_drift": "overwrite"` or `"keep_runtime"` to go ahead.
pub const CHA_ERR_DRIFT: cha_status = 9;

/// The name of a status code as a static NUL-terminated string.
pub(crate) fn status_name(status: cha_status) -> &'static std::ffi::CStr {
    match status {
        CHA_OK => c"CHA_OK",
        CHA_ERR_NULL_ARGUMENT => c"CHA_ERR_NULL_ARGUMENT",
        CHA_ERR_INVALID_UTF8 => c"CHA_ERR_INVALID_UTF8",
        CHA_ERR_INVALID_ARGUMENT => c"CHA_ERR_INVALID_ARGUMENT",
        CHA_ERR_NOT_FOUND => c"CHA_ERR_NOT_FOUND",
        CHA_ERR_CONFIG => c"CHA_ERR_CONFIG",
        CHA_ERR_STORAGE => c"CHA_ERR_STORAGE",
        CHA_ERR_BUSY => c"CHA_ERR_BUSY",
        CHA_ERR_INTERNAL => c"CHA_ERR_INTERNAL",
        CHA_ERR_DRIFT => c"CHA_ERR_DRIFT",
        _ => c"CHA_UNKNOWN_STATUS",
    }
}
