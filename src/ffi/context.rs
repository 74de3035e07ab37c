//! Prepared contexts for C: `cha_context_new` parses and checks a context's
//! JSON once; the `cha_flag_*_with_context` calls (in `flag_values.rs`)
//! then evaluate with it, without JSON. A C tool that sizes a network
//! evaluates many flags for the same engineer, site and network size: it
//! pays for the JSON once instead of on every call.
//!
//! A `cha_context` belongs to no handle: one context may be used with any
//! number of open handles, from any number of threads at once (it never
//! changes after `cha_context_new`), until `cha_context_free`.

use std::ffi::c_char;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU64, Ordering};

use super::boundary::{guard, guard_void, json_arg, null_argument, out_arg};
use super::handle::Shells;
use super::status::cha_status;
use crate::error::{Error, Result};
use crate::flags::PreparedContext;

/// A context parsed and checked once. Opaque to C: create it with
/// `cha_context_new`, release it with `cha_context_free`.
#[allow(non_camel_case_types)]
pub struct cha_context {
    /// [`READY`] until `cha_context_free`, then [`FREED`]: a call with a
    /// freed context, or a second free, is refused instead of reaching
    /// freed memory (as for a closed `cha_handle`).
    tag: AtomicU64,
    /// Dropped by `cha_context_free`; the shell around it is kept.
    prepared: ManuallyDrop<PreparedContext>,
}

/// The tag of a live context ("cha-ctx+").
const READY: u64 = u64::from_be_bytes(*b"cha-ctx+");
/// The tag of a freed one ("cha-ctx-").
const FREED: u64 = u64::from_be_bytes(*b"cha-ctx-");

/// The shells of freed contexts, kept as closed handles' are.
static SHELLS: Shells = Shells::new();

impl cha_context {
    /// A new context holding `prepared`, in a reused shell when enough
    /// freed ones are kept.
    fn into_raw(prepared: PreparedContext) -> *mut cha_context {
        match SHELLS.reuse() {
            Some(address) => {
                let shell = address as *mut cha_context;
                // SAFETY: a shell from `cha_context_free`: allocated by
                // `Box`, its context already dropped, owned by nobody else.
                unsafe {
                    std::ptr::addr_of_mut!((*shell).prepared).write(ManuallyDrop::new(prepared));
                    (*shell).tag.store(READY, Ordering::Release);
                }
                shell
            }
            None => Box::into_raw(Box::new(cha_context {
                tag: AtomicU64::new(READY),
                prepared: ManuallyDrop::new(prepared),
            })),
        }
    }

    /// The prepared context, if this one was not freed.
    #[inline(always)]
    fn prepared(&self) -> Result<&PreparedContext> {
        if self.tag.load(Ordering::Acquire) == READY {
            Ok(&self.prepared)
        } else {
            Err(self.not_ready())
        }
    }

    #[cold]
    #[inline(never)]
    fn not_ready(&self) -> Error {
        if self.tag.load(Ordering::Acquire) == FREED {
            Error::invalid_argument("the context was freed by cha_context_free")
        } else {
            Error::invalid_argument("the context is not one that cha_context_new returned")
        }
    }
}

/// Borrows the prepared context of a call, which must not be freed.
///
/// # Safety
/// `ptr` is NULL or a context from `cha_context_new`, live or freed by
/// `cha_context_free`.
#[inline(always)]
pub(crate) unsafe fn context_arg<'a>(
    ptr: *const cha_context,
    name: &str,
) -> Result<&'a PreparedContext> {
    // SAFETY: the caller's contract.
    let context = unsafe { ptr.as_ref() }.ok_or_else(|| null_argument(name))?;
    context.prepared()
}

/// Parses and checks the context `context_json` once, for the
/// `cha_flag_*_with_context` calls: a JSON object with the keys `user_id`
/// (a string or a whole number), `session_id`, `groups` (an array of
/// strings), `environment`, `app_name`, `current_time` (RFC 3339),
/// `remote_address`, `properties` (an object of strings, numbers and
/// booleans) and `peek`, as `cha_flag_evaluate` takes it; `"{}"` is the
/// empty context. On success `*out_context` is a new context that the
/// caller releases with `cha_context_free`.
///
/// Why a prepared context: the typed calls with `context_json` parse it on
/// every call, which costs many times the evaluation itself. A context
/// belongs to no handle: use it with any open handle, from any number of
/// threads at once, until it is freed.
///
/// The design: the context is given once as the same JSON the other calls
/// take (one way to write a context, checked by the same code, rather than
/// a second one of arrays of property names and values), and each typed
/// call has one twin that takes the prepared context instead:
/// `cha_flag_bool_with_context`, `_double_`, `_int_`, `_string_` and
/// `_json_with_context`, with the same arguments in the same order (as
/// `cha_open_with_options` is the twin of `cha_open`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT (context_json, out_context),
/// CHA_ERR_INVALID_UTF8 (context_json), CHA_ERR_INVALID_ARGUMENT (not
/// JSON, saying where, not an object, an unknown key, a value of the
/// wrong type, more than 1000 groups, more than 1 MiB).
///
/// # Safety
/// `context_json` is NULL or NUL-terminated; `out_context` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_context_new(
    context_json: *const c_char,
    out_context: *mut *mut cha_context,
) -> cha_status {
    guard("cha_context_new", || {
        out_arg(out_context, "out_context")?;
        // SAFETY: forwarded contract.
        let text = unsafe { json_arg(context_json, "context_json") }?;
        let prepared = PreparedContext::from_json(text)?;
        // SAFETY: checked non-NULL; writable by contract.
        unsafe { *out_context = cha_context::into_raw(prepared) };
        Ok(())
    })
}

/// Releases a context from `cha_context_new`. NULL is a no-op. A context
/// freed already is not freed again: the call does nothing and leaves a
/// message for `cha_last_error_message`. No other thread may be using the
/// context.
///
/// # Safety
/// `context` is NULL, or a context from `cha_context_new` (freed or not)
/// that no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_context_free(context: *mut cha_context) {
    if context.is_null() {
        return;
    }
    guard_void("cha_context_free", || {
        // SAFETY: a context (or the shell of a freed one), by contract.
        let shell = unsafe { &mut *context };
        shell.prepared()?;
        shell.tag.store(FREED, Ordering::Release);
        // SAFETY: the tag was READY, so `prepared` is live; it is dropped
        // once, as the tag is now FREED.
        unsafe { ManuallyDrop::drop(&mut shell.prepared) };
        SHELLS.keep(context as usize);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::*;

    #[test]
    fn new_use_free_and_a_second_free() {
        let mut context = std::ptr::null_mut();
        // SAFETY: valid strings and out-pointers; the context is used only
        // while live, then its shell (kept) is checked.
        unsafe {
            assert_eq!(
                cha_context_new(c"{\"user_id\":\"u1\"}".as_ptr(), &mut context),
                CHA_OK
            );
            let prepared = context_arg(context, "context").unwrap();
            assert_eq!(prepared.context().user_id, Some("u1"));
            cha_context_free(context);
            let e = context_arg(context, "context").unwrap_err();
            assert_eq!(e.message(), "the context was freed by cha_context_free");
            cha_context_free(context); // refused, not freed twice
            cha_context_free(std::ptr::null_mut());
            let e = context_arg(std::ptr::null(), "context").unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::NullArgument);
        }
    }
}
