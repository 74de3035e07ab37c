//! Typed flag values through the C ABI, as OpenFeature's typed evaluation:
//! `cha_flag_bool`, `cha_flag_string`, `cha_flag_double`, `cha_flag_int`
//! and `cha_flag_json` take a context and the caller's default, and return
//! the value, or the default on any evaluation error, with the reason in
//! an optional `cha_flag_details`.

use std::ffi::{CStr, c_char};

use super::boundary::{guard, opt_json_arg, opt_str_arg, out_arg, owned_string, ref_arg, str_arg};
use super::handle::cha_handle;
use super::status::cha_status;
use crate::error::Result;
use crate::flags::{ErrorCode, Evaluation, Fallback, FlagValue, OwnedContext, Reason, ValueType};

/// How a typed value was resolved. Every pointer stays valid until
/// `cha_close` of the handle that filled it in; never free them.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct cha_flag_details {
    /// The reason, after OpenFeature's: "STATIC", "TARGETING_MATCH",
    /// "SPLIT", "SCHEDULE", "DEFAULT", "DISABLED", "PREREQUISITE_FAILED"
    /// or "ERROR". Static.
    pub reason: *const c_char,
    /// With reason "ERROR": "FLAG_NOT_FOUND", "TYPE_MISMATCH" or
    /// "INVALID_CONTEXT"; else NULL. Static.
    pub error: *const c_char,
    /// The variant the value came from, or NULL. Owned by the handle.
    pub variant: *const c_char,
}

fn reason_name(reason: Reason) -> &'static CStr {
    match reason {
        Reason::Disabled => c"DISABLED",
        Reason::Static => c"STATIC",
        Reason::TargetingMatch => c"TARGETING_MATCH",
        Reason::Split => c"SPLIT",
        Reason::Schedule => c"SCHEDULE",
        Reason::PrerequisiteFailed => c"PREREQUISITE_FAILED",
        Reason::Default => c"DEFAULT",
        Reason::Error => c"ERROR",
    }
}

fn error_name(error: ErrorCode) -> &'static CStr {
    match error {
        ErrorCode::FlagNotFound => c"FLAG_NOT_FOUND",
        ErrorCode::TypeMismatch => c"TYPE_MISMATCH",
        ErrorCode::InvalidContext => c"INVALID_CONTEXT",
    }
}

/// Evaluates `flag` for the context of `context_json` and takes its value
/// as `kind` with `convert`: `Some` for the value, `None` for the default.
/// Fills `out_details` when it is not NULL. A context that cannot be read
/// is an evaluation error (the default, INVALID_CONTEXT), not a failed call.
///
/// # Safety
/// `h` is NULL or an open handle; `flag` and `context_json` are NULL or
/// NUL-terminated; `out_details` is NULL or writable.
unsafe fn resolve<T>(
    h: *const cha_handle,
    flag: *const c_char,
    context_json: *const c_char,
    kind: ValueType,
    out_details: *mut cha_flag_details,
    convert: impl FnOnce(FlagValue<'_>) -> Option<T>,
) -> Result<Option<T>> {
    // SAFETY (all): forwarded contract.
    let h: &cha_handle = unsafe { ref_arg(h, "h") }?;
    let flag = unsafe { str_arg(flag, "flag") }?;
    let context = unsafe { opt_json_arg(context_json, "context_json") }
        .and_then(|text| text.map(OwnedContext::from_json).transpose());
    let (value, reason, error, variant) = match context {
        Ok(context) => context.unwrap_or_default().with_context(|ctx| {
            h.cha.resolve_in(flag, ctx, |e: &Evaluation<'_>| {
                let (value, fallback) = match e.value(kind) {
                    Ok(v) => match convert(v) {
                        Some(value) => (Some(value), None),
                        None => (
                            None,
                            Some(Fallback {
                                reason: Reason::Error,
                                error: Some(ErrorCode::TypeMismatch),
                            }),
                        ),
                    },
                    Err(fallback) => (None, Some(fallback)),
                };
                let (reason, error) = fallback.map_or((e.reason, None), |f| (f.reason, f.error));
                let variant = if out_details.is_null() {
                    std::ptr::null()
                } else {
                    e.variant
                        .filter(|_| e.enabled)
                        .map_or(std::ptr::null(), |v| h.cha.c_name(v))
                };
                (value, reason, error, variant)
            })
        }),
        Err(_) => (
            None,
            Reason::Error,
            Some(ErrorCode::InvalidContext),
            std::ptr::null(),
        ),
    };
    if !out_details.is_null() {
        // SAFETY: non-NULL and writable by contract.
        unsafe {
            *out_details = cha_flag_details {
                reason: reason_name(reason).as_ptr(),
                error: error.map_or(std::ptr::null(), |e| error_name(e).as_ptr()),
                variant,
            };
        }
    }
    Ok(value)
}

/// Whether `flag` is on for the context `context_json` (NULL: none), with
/// `default_value` on any evaluation error (an unknown flag, a context
/// that cannot be read or lacks the flag's stickiness attribute). Writes
/// the value to `*out_value` and, when `out_details` is not NULL, how it
/// was resolved. Evaluation errors are not failed calls: they return
/// CHA_OK with the default and reason "ERROR". Exposes a unit of a flag
/// linked to an experiment, as `cha_flag_evaluate` does.
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, out_value), CHA_ERR_INVALID_UTF8
/// (flag).
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_value` and `out_details` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_bool(
    h: *const cha_handle,
    flag: *const c_char,
    context_json: *const c_char,
    default_value: bool,
    out_value: *mut bool,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_bool", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_value, "out_value")?;
        // SAFETY: forwarded contract.
        let value = unsafe {
            resolve(
                h,
                flag,
                context_json,
                ValueType::Bool,
                out_details,
                |v| match v {
                    FlagValue::Bool(b) => Some(b),
                    _ => None,
                },
            )
        }?;
        // SAFETY: checked non-NULL.
        unsafe { *out_value = value.unwrap_or(default_value) };
        Ok(())
    })
}

/// The number payload of the variant `flag` gives the context
/// `context_json` (NULL: none), or `default_value`: when the flag is off,
/// on any evaluation error, and when the payload is not a number (reason
/// "ERROR", error "TYPE_MISMATCH"). As `cha_flag_bool` otherwise.
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, out_value), CHA_ERR_INVALID_UTF8
/// (flag).
///
/// # Safety
/// As for `cha_flag_bool`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_double(
    h: *const cha_handle,
    flag: *const c_char,
    context_json: *const c_char,
    default_value: f64,
    out_value: *mut f64,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_double", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_value, "out_value")?;
        // SAFETY: forwarded contract.
        let value = unsafe {
            resolve(
                h,
                flag,
                context_json,
                ValueType::Double,
                out_details,
                |v| match v {
                    FlagValue::Double(d) => Some(d),
                    _ => None,
                },
            )
        }?;
        // SAFETY: checked non-NULL.
        unsafe { *out_value = value.unwrap_or(default_value) };
        Ok(())
    })
}

/// The whole-number payload of the variant `flag` gives the context
/// `context_json`, or `default_value` (a payload that is not a whole
/// number in range: "TYPE_MISMATCH"). As `cha_flag_double` otherwise.
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, out_value), CHA_ERR_INVALID_UTF8
/// (flag).
///
/// # Safety
/// As for `cha_flag_bool`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_int(
    h: *const cha_handle,
    flag: *const c_char,
    context_json: *const c_char,
    default_value: i64,
    out_value: *mut i64,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_int", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_value, "out_value")?;
        // SAFETY: forwarded contract.
        let value = unsafe {
            resolve(
                h,
                flag,
                context_json,
                ValueType::Int,
                out_details,
                |v| match v {
                    FlagValue::Int(i) => Some(i),
                    _ => None,
                },
            )
        }?;
        // SAFETY: checked non-NULL.
        unsafe { *out_value = value.unwrap_or(default_value) };
        Ok(())
    })
}

/// The string payload (or the name, for a variant without payload) of the
/// variant `flag` gives the context `context_json`, or a copy of
/// `default_value` (NULL: `*out_value` is NULL when the default applies).
/// `*out_value` is freed with `cha_string_free`. As `cha_flag_double`
/// otherwise.
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, out_value), CHA_ERR_INVALID_UTF8
/// (flag, default_value).
///
/// # Safety
/// As for `cha_flag_bool`; `default_value` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_string(
    h: *const cha_handle,
    flag: *const c_char,
    context_json: *const c_char,
    default_value: *const c_char,
    out_value: *mut *mut c_char,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_string", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_value, "out_value")?;
        // SAFETY (all): forwarded contract.
        let default = unsafe { opt_str_arg(default_value, "default_value") }?;
        let value = unsafe {
            resolve(
                h,
                flag,
                context_json,
                ValueType::String,
                out_details,
                |v| match v {
                    FlagValue::String(s) => Some(s.to_string()),
                    _ => None,
                },
            )
        }?;
        let text = match value.or_else(|| default.map(str::to_string)) {
            Some(text) => owned_string(text)?,
            None => std::ptr::null_mut(),
        };
        // SAFETY: checked non-NULL.
        unsafe { *out_value = text };
        Ok(())
    })
}

/// The payload of the variant `flag` gives the context `context_json`, as
/// JSON text (any JSON; a variant without payload gives its name as a JSON
/// string), or a copy of `default_json` (NULL: `*out_json` is NULL when the
/// default applies). `*out_json` is freed with `cha_string_free`. As
/// `cha_flag_double` otherwise.
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, out_json), CHA_ERR_INVALID_UTF8
/// (flag, default_json).
///
/// # Safety
/// As for `cha_flag_bool`; `default_json` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_json(
    h: *const cha_handle,
    flag: *const c_char,
    context_json: *const c_char,
    default_json: *const c_char,
    out_json: *mut *mut c_char,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_json", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_json, "out_json")?;
        // SAFETY (all): forwarded contract.
        let default = unsafe { opt_json_arg(default_json, "default_json") }?;
        let value = unsafe {
            resolve(
                h,
                flag,
                context_json,
                ValueType::Json,
                out_details,
                |v| match v {
                    FlagValue::Json(j) => serde_json::to_string(&j.to_value()).ok(),
                    _ => None,
                },
            )
        }?;
        let text = match value.or_else(|| default.map(str::to_string)) {
            Some(text) => owned_string(text)?,
            None => std::ptr::null_mut(),
        };
        // SAFETY: checked non-NULL.
        unsafe { *out_json = text };
        Ok(())
    })
}
