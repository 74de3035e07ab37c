//! Core exports: version, open/close/flush, strings, errors.

use std::ffi::{CString, c_char};

use super::boundary::{
    guard, guard_void, json_arg, last_error_ptr, out_arg, owned_string, ref_arg, str_arg,
};
pub use super::handle::cha_handle;
use super::status::{cha_status, status_name};
use crate::error::Result;
use crate::{Cha, OpenOptions};

/// The largest JSON argument accepted (a context, updates, feedback, tags,
/// options), in bytes; a larger one is CHA_ERR_INVALID_ARGUMENT before it
/// is parsed.
pub const CHA_MAX_JSON_BYTES: usize = 1_048_576;

// cbindgen puts only literals into the header; this keeps it equal.
const _: () = assert!(CHA_MAX_JSON_BYTES == crate::common::limits::MAX_JSON_BYTES);

static VERSION_C: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(s) => s,
    Err(_) => panic!("version contains a NUL"),
};

/// The library version, "MAJOR.MINOR.PATCH". Static: never free it.
/// Compare it with the header's CHA_VERSION_MAJOR/MINOR/PATCH to check that
/// the library loaded at run time is the one compiled against.
#[unsafe(no_mangle)]
pub extern "C" fn cha_version() -> *const c_char {
    VERSION_C.as_ptr()
}

/// The name of a status code ("CHA_OK", "CHA_ERR_NOT_FOUND", ...), or
/// "CHA_UNKNOWN_STATUS". Static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn cha_status_name(status: cha_status) -> *const c_char {
    status_name(status).as_ptr()
}

/// The message of the last failed call on this thread, saying what was wrong
/// and where, or NULL if no call has failed on this thread. Owned by the
/// library: valid until the next failing call on the same thread.
#[unsafe(no_mangle)]
pub extern "C" fn cha_last_error_message() -> *const c_char {
    last_error_ptr()
}

/// Opens (creating if needed, readable by its owner only) the database at
/// `db_path` with default options, and writes the new handle to `*out`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_STORAGE (the
/// path is a directory, its folder is missing, no permission, not a SQLite
/// file, a schema newer than this library, a file or folder this process
/// cannot write: refused here rather than at the first flush), CHA_ERR_BUSY.
///
/// # Safety
/// `db_path` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_open(db_path: *const c_char, out: *mut *mut cha_handle) -> cha_status {
    guard("cha_open", || {
        // SAFETY: forwarded contract.
        let path = unsafe { str_arg(db_path, "db_path") }?;
        out_arg(out, "out")?;
        let cha = Cha::open(path)?;
        // SAFETY: checked non-NULL above.
        unsafe { *out = cha_handle::into_raw(cha) };
        Ok(())
    })
}

/// Like `cha_open`, with options as a JSON object: `journal_mode` ("wal",
/// "delete", "truncate"), `synchronous` ("normal", "full"), `busy_timeout_ms`,
/// `flush_interval_ms`, `refresh_interval_ms`, `backup_dir` (where backups
/// go; default `<database>-backups` beside it), `backups_kept` (default
/// 10) and `max_buffered_records` (default 1000000: see `cha_flush`). An
/// unknown option or a value of the wrong type is CHA_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// String arguments are NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_open_with_options(
    db_path: *const c_char,
    options_json: *const c_char,
    out: *mut *mut cha_handle,
) -> cha_status {
    guard("cha_open_with_options", || {
        // SAFETY: forwarded contract.
        let path = unsafe { str_arg(db_path, "db_path") }?;
        // SAFETY: forwarded contract.
        let options = unsafe { json_arg(options_json, "options_json") }?;
        out_arg(out, "out")?;
        let options = OpenOptions::from_json(options)?;
        let cha = Cha::open_with_options(path, options)?;
        // SAFETY: checked non-NULL above.
        unsafe { *out = cha_handle::into_raw(cha) };
        Ok(())
    })
}

/// Persists everything recorded so far through this handle, in one
/// transaction per subsystem.
///
/// Durability on CHA_OK: with the default `synchronous` "normal" (WAL),
/// what was flushed survives a crash or a kill of the process, but not
/// necessarily a power loss or an operating-system crash, which may take
/// the last transactions (never corrupting the file); open with
/// `{"synchronous": "full"}` to survive those too, at the cost of an fsync
/// per transaction.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE (the disk is full, the
/// file cannot be written or is corrupt), CHA_ERR_BUSY (another connection
/// kept the database locked past the busy timeout). On an error the records
/// stay buffered and the background thread tries again; `cha_health` shows
/// the failure. While flushes fail, record calls that find the buffer full
/// (`max_buffered_records`) return the same error instead of CHA_OK.
///
/// Durability: once it returns CHA_OK, what it persisted survives a crash
/// of the process. With the default `synchronous` "normal" (in WAL mode) it
/// may not survive a power loss or a crash of the operating system; open
/// with `{"synchronous": "full"}` for that, at the cost of a sync per
/// commit.
///
/// # Safety
/// `h` is NULL or a handle from `cha_open` that is not closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flush(h: *mut cha_handle) -> cha_status {
    guard("cha_flush", || {
        // SAFETY: forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        h.cha.flush()
    })
}

/// Flushes and closes the handle; every string it owns becomes invalid.
/// NULL is a no-op. The handle is released even if the final flush fails; to
/// learn of such a failure, call `cha_flush` first and check its status.
///
/// A closed handle is detected: a second `cha_close` of it changes nothing,
/// and any other call on it returns CHA_ERR_INVALID_ARGUMENT, both with a
/// message. This holds for the last 256 handles closed in the process; the
/// memory of older ones is reused by later `cha_open` calls, and a stale
/// pointer then reaches that newer handle. A pointer that never came from
/// `cha_open` cannot be detected.
///
/// # Safety
/// `h` is NULL, a handle from `cha_open`, or one that `cha_close` closed;
/// no other thread is using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_close(h: *mut cha_handle) {
    if h.is_null() {
        return;
    }
    guard_void("cha_close", || {
        // SAFETY: a handle (or the shell of a closed one), by contract.
        let cha = unsafe { cha_handle::take(h) }?;
        cha.close()
    })
}

/// Frees a string that a cha_ function returned as `char *`. NULL is a no-op.
///
/// # Safety
/// `s` is NULL or a `char *` from this library, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    guard_void("cha_string_free", || {
        // SAFETY: from CString::into_raw in boundary::owned_string.
        drop(unsafe { CString::from_raw(s) });
        Ok(())
    })
}

/// Runs `f` on the handle and hands its result to C as JSON in `*out_json`
/// (freed with `cha_string_free`).
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
pub(crate) unsafe fn json_out<T: serde::Serialize>(
    h: *const cha_handle,
    out_json: *mut *mut c_char,
    f: impl FnOnce(&crate::Cha) -> Result<T>,
) -> Result<()> {
    // SAFETY: forwarded contract.
    let h = unsafe { ref_arg(h, "h") }?;
    out_arg(out_json, "out_json")?;
    let value = f(&h.cha)?;
    let json = owned_string(serde_json::to_string(&value)?)?;
    // SAFETY: checked non-NULL.
    unsafe { *out_json = json };
    Ok(())
}
