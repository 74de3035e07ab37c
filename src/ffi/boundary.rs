//! The one boundary every export goes through: it catches panics, turns
//! errors into status codes with a thread-local message, and converts the
//! pointers C hands in.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::handle::cha_handle;
use super::status::{CHA_ERR_INTERNAL, CHA_OK, cha_status};
use crate::error::{Error, ErrorKind, Result};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Runs the body of the export `function`: `Ok` gives `CHA_OK`; an error or
/// a caught panic gives its status and leaves a message, prefixed with the
/// function's name, for `cha_last_error_message`.
#[inline(always)]
pub(crate) fn guard(function: &str, body: impl FnOnce() -> Result<()>) -> cha_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => CHA_OK,
        failure => failed(function, failure),
    }
}

/// The error side of [`guard`], kept out of line so that the hot calls carry
/// none of its code (a boolean flag check is about 20 ns in all).
#[cold]
#[inline(never)]
fn failed(function: &str, failure: std::thread::Result<Result<()>>) -> cha_status {
    match failure {
        Ok(Ok(())) => CHA_OK,
        Ok(Err(error)) => {
            set_last_error(function, error.message());
            error.kind().status_code()
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            set_last_error(
                function,
                &format!("internal error (a bug in cha-deploy): {what}"),
            );
            CHA_ERR_INTERNAL
        }
    }
}

/// Like [`guard`] for exports that return nothing (`cha_close`): a failure
/// can only be reported through `cha_last_error_message`.
pub(crate) fn guard_void(function: &str, body: impl FnOnce() -> Result<()>) {
    let _ = guard(function, body);
}

fn set_last_error(function: &str, message: &str) {
    let text = format!("{function}: {message}").replace('\0', "\\0");
    let text = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(text));
}

/// The last error message of this thread; valid until the next failing call
/// on this thread.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|slot| {
        slot.borrow()
            .as_ref()
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Borrows a required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
#[inline]
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    // Ids are short and almost always ASCII; `is_ascii` checks a word at a
    // time where `from_utf8` goes byte by byte below 16 bytes (a quarter of
    // a boolean check through the C ABI).
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    non_ascii_str(bytes, name)
}

/// The rest of [`str_arg`] for text that is not plain ASCII, out of line.
#[cold]
#[inline(never)]
fn non_ascii_str<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidUtf8,
            format!(
                "argument `{name}` is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Borrows a required JSON argument: a string argument of at most
/// [`MAX_JSON_BYTES`](crate::common::limits::MAX_JSON_BYTES), checked
/// before anything parses it.
///
/// # Safety
/// As for [`str_arg`].
#[inline]
pub(crate) unsafe fn json_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    // SAFETY: forwarded contract.
    let text = unsafe { str_arg(ptr, name) }?;
    if text.len() > crate::common::limits::MAX_JSON_BYTES {
        return Err(Error::invalid_argument(format!(
            "argument `{name}` has {} bytes, more than the {} a JSON argument may have",
            text.len(),
            crate::common::limits::MAX_JSON_BYTES
        )));
    }
    Ok(text)
}

/// [`json_arg`] for an optional argument: NULL gives `None`.
///
/// # Safety
/// As for [`str_arg`].
#[inline]
pub(crate) unsafe fn opt_json_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { json_arg(ptr, name) }.map(Some)
    }
}

/// Borrows an optional string argument: NULL gives `None`.
///
/// # Safety
/// As for [`str_arg`].
#[inline]
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(ptr, name) }.map(Some)
    }
}

/// Checks that an out-pointer is not NULL before any work is done, so that
/// nothing happens for a call whose result could not be delivered.
pub(crate) fn out_arg<T>(ptr: *mut T, name: &str) -> Result<()> {
    if ptr.is_null() {
        Err(null_argument(name))
    } else {
        Ok(())
    }
}

/// Borrows the handle argument of a call, which must be open.
///
/// # Safety
/// `ptr` is NULL or a handle from `cha_open`, open or closed by `cha_close`.
#[inline(always)]
pub(crate) unsafe fn ref_arg<'a>(ptr: *const cha_handle, name: &str) -> Result<&'a cha_handle> {
    // SAFETY: the caller's contract.
    let handle = unsafe { ptr.as_ref() }.ok_or_else(|| null_argument(name))?;
    handle.check_open()?;
    Ok(handle)
}

#[cold]
pub(crate) fn null_argument(name: &str) -> Error {
    Error::new(
        ErrorKind::NullArgument,
        format!("argument `{name}` is NULL"),
    )
}

/// Hands a string to C as a `char *` that the caller frees with `cha_string_free`.
pub(crate) fn owned_string(text: String) -> Result<*mut c_char> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Error::internal("a returned string contained a NUL byte"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::*;

    fn last_error() -> String {
        // SAFETY: the pointer is a live thread-local CString.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_forced_panic_comes_back_as_internal() {
        let status = guard("cha_test", || panic!("boom"));
        assert_eq!(status, CHA_ERR_INTERNAL);
        assert_eq!(
            last_error(),
            "cha_test: internal error (a bug in cha-deploy): boom"
        );
        let status = guard("cha_test", || panic!("formatted {}", 42));
        assert_eq!(status, CHA_ERR_INTERNAL);
        assert!(last_error().ends_with("formatted 42"));
    }

    #[test]
    fn errors_map_to_status_and_message() {
        assert_eq!(
            guard("cha_x", || Err(Error::not_found("flag `a` not found"))),
            CHA_ERR_NOT_FOUND
        );
        assert_eq!(last_error(), "cha_x: flag `a` not found");
        assert_eq!(guard("cha_x", || Ok(())), CHA_OK);
    }

    #[test]
    fn string_arguments_are_checked() {
        // SAFETY: literals are NUL-terminated.
        unsafe {
            assert_eq!(str_arg(c"ok".as_ptr(), "a").unwrap(), "ok");
            let e = str_arg(std::ptr::null(), "flag").unwrap_err();
            assert_eq!(
                (e.kind(), e.message()),
                (ErrorKind::NullArgument, "argument `flag` is NULL")
            );
            let e = str_arg(c"ab\xff".as_ptr(), "flag").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidUtf8);
            assert!(e.message().contains("offset 2"));
            assert_eq!(opt_str_arg(std::ptr::null(), "tags").unwrap(), None);
        }
    }
}
