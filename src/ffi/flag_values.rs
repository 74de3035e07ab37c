//! Typed flag values through the C ABI, as OpenFeature's typed evaluation:
//! `cha_flag_bool`, `cha_flag_string`, `cha_flag_double`, `cha_flag_int`
//! and `cha_flag_json` take a context and the caller's default, and return
//! the value, or the default on any evaluation error, with the reason in
//! an optional `cha_flag_details`. Each has a twin,
//! `cha_flag_bool_with_context` and so on, that takes a context prepared
//! once by `cha_context_new` instead of JSON parsed on every call.

use std::ffi::{CStr, c_char};

use super::boundary::{guard, opt_json_arg, opt_str_arg, out_arg, owned_string, ref_arg, str_arg};
use super::context::{cha_context, context_arg};
use super::handle::cha_handle;
use super::status::cha_status;
use crate::error::Result;
use crate::flags::{
    Context, ErrorCode, Evaluation, Fallback, FlagValue, OwnedContext, Reason, ValueType,
};

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

/// Where a typed call takes its context from.
#[derive(Clone, Copy)]
enum ContextArg {
    /// `context_json`: NULL or JSON text, parsed on every call. A context
    /// that cannot be read is an evaluation error (the default,
    /// INVALID_CONTEXT), not a failed call.
    Json(*const c_char),
    /// A `cha_context` prepared by `cha_context_new`: NULL or freed is a
    /// failed call.
    Prepared(*const cha_context),
}

/// Evaluates `flag` for `context` and takes its value as `kind` with
/// `convert`: `Some` for the value, `None` for the default. Fills
/// `out_details` when it is not NULL.
///
/// # Safety
/// `h` is NULL or an open handle; `flag` is NULL or NUL-terminated;
/// `context` is as its variant says; `out_details` is NULL or writable.
#[inline(always)]
unsafe fn resolve<T>(
    h: *const cha_handle,
    flag: *const c_char,
    context: ContextArg,
    kind: ValueType,
    out_details: *mut cha_flag_details,
    convert: impl FnOnce(FlagValue<'_>) -> Option<T>,
) -> Result<Option<T>> {
    // SAFETY: forwarded contract.
    unsafe {
        resolve_with(h, flag, context, out_details, |h, flag, ctx| {
            resolve_for(h, flag, ctx, kind, out_details, convert)
        })
    }
}

/// [`resolve`] with `for_context` resolving the flag for the context.
///
/// # Safety
/// As for [`resolve`].
#[inline(always)]
unsafe fn resolve_with<T>(
    h: *const cha_handle,
    flag: *const c_char,
    context: ContextArg,
    out_details: *mut cha_flag_details,
    for_context: impl FnOnce(&cha_handle, &str, &Context<'_>) -> Resolved<T>,
) -> Result<Option<T>> {
    // SAFETY (all): forwarded contract.
    let h: &cha_handle = unsafe { ref_arg(h, "h") }?;
    let flag = unsafe { str_arg(flag, "flag") }?;
    let resolved = match context {
        ContextArg::Prepared(context) => {
            // SAFETY: forwarded contract.
            let prepared = unsafe { context_arg(context, "context") }?;
            for_context(h, flag, prepared.context())
        }
        ContextArg::Json(context_json) => {
            // SAFETY: forwarded contract.
            match unsafe { opt_json_arg(context_json, "context_json") }
                .and_then(|text| text.map(OwnedContext::from_json).transpose())
            {
                Ok(context) => context
                    .unwrap_or_default()
                    .with_context(|ctx| for_context(h, flag, ctx)),
                Err(_) => Resolved {
                    value: None,
                    reason: Reason::Error,
                    error: Some(ErrorCode::InvalidContext),
                    variant: std::ptr::null(),
                },
            }
        }
    };
    if !out_details.is_null() {
        // SAFETY: non-NULL and writable by contract.
        unsafe {
            *out_details = cha_flag_details {
                reason: reason_name(resolved.reason).as_ptr(),
                error: resolved
                    .error
                    .map_or(std::ptr::null(), |e| error_name(e).as_ptr()),
                variant: resolved.variant,
            };
        }
    }
    Ok(resolved.value)
}

/// A typed value, or None for the default, and how it was resolved.
struct Resolved<T> {
    value: Option<T>,
    reason: Reason,
    error: Option<ErrorCode>,
    /// The variant as a C string owned by the handle (only when details
    /// were asked for), or NULL.
    variant: *const c_char,
}

/// The evaluation of `flag` for `ctx`, taken as `kind`.
#[inline(always)]
fn resolve_for<T>(
    h: &cha_handle,
    flag: &str,
    ctx: &Context<'_>,
    kind: ValueType,
    out_details: *mut cha_flag_details,
    convert: impl FnOnce(FlagValue<'_>) -> Option<T>,
) -> Resolved<T> {
    h.cha
        .resolve_in(flag, ctx, |e| resolved(h, e, kind, out_details, convert))
}

/// The boolean of `flag` for `ctx`: the common answer (no error, no
/// variant) handed back in registers, any other made by [`resolved`]
/// out of line (see `Cha::bool_or_else`).
#[inline(always)]
fn resolve_bool_for(
    h: &cha_handle,
    flag: &str,
    ctx: &Context<'_>,
    out_details: *mut cha_flag_details,
) -> Resolved<bool> {
    let answer = h.cha.bool_or_else(flag, ctx, |_, _, e| {
        resolved(h, e, ValueType::Bool, out_details, |v| match v {
            FlagValue::Bool(b) => Some(b),
            _ => None,
        })
    });
    match answer {
        Ok((value, reason)) => Resolved {
            value: Some(value),
            reason,
            error: None,
            variant: std::ptr::null(),
        },
        Err(other) => other,
    }
}

/// Evaluation `e` taken as `kind`.
#[inline(always)]
fn resolved<T>(
    h: &cha_handle,
    e: &Evaluation<'_>,
    kind: ValueType,
    out_details: *mut cha_flag_details,
    convert: impl FnOnce(FlagValue<'_>) -> Option<T>,
) -> Resolved<T> {
    {
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
        Resolved {
            value,
            reason,
            error,
            variant,
        }
    }
}

/// The body of `cha_flag_bool` and `cha_flag_bool_with_context`.
///
/// # Safety
/// As for `cha_flag_bool`, `context` as its variant says.
#[inline(always)]
unsafe fn bool_value(
    h: *const cha_handle,
    flag: *const c_char,
    context: ContextArg,
    default_value: bool,
    out_value: *mut bool,
    out_details: *mut cha_flag_details,
) -> Result<()> {
    // SAFETY: forwarded contract. The handle first, as everywhere.
    unsafe { ref_arg(h, "h") }?;
    out_arg(out_value, "out_value")?;
    // SAFETY: forwarded contract.
    let value = unsafe {
        resolve_with(h, flag, context, out_details, |h, flag, ctx| {
            resolve_bool_for(h, flag, ctx, out_details)
        })
    }?;
    // SAFETY: checked non-NULL.
    unsafe { *out_value = value.unwrap_or(default_value) };
    Ok(())
}

/// The body of `cha_flag_double` and `cha_flag_double_with_context`.
///
/// # Safety
/// As for `cha_flag_bool`, `context` as its variant says.
unsafe fn double_value(
    h: *const cha_handle,
    flag: *const c_char,
    context: ContextArg,
    default_value: f64,
    out_value: *mut f64,
    out_details: *mut cha_flag_details,
) -> Result<()> {
    // SAFETY: forwarded contract. The handle first, as everywhere.
    unsafe { ref_arg(h, "h") }?;
    out_arg(out_value, "out_value")?;
    // SAFETY: forwarded contract.
    let value = unsafe {
        resolve(
            h,
            flag,
            context,
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
}

/// The body of `cha_flag_int` and `cha_flag_int_with_context`.
///
/// # Safety
/// As for `cha_flag_bool`, `context` as its variant says.
unsafe fn int_value(
    h: *const cha_handle,
    flag: *const c_char,
    context: ContextArg,
    default_value: i64,
    out_value: *mut i64,
    out_details: *mut cha_flag_details,
) -> Result<()> {
    // SAFETY: forwarded contract. The handle first, as everywhere.
    unsafe { ref_arg(h, "h") }?;
    out_arg(out_value, "out_value")?;
    // SAFETY: forwarded contract.
    let value = unsafe {
        resolve(h, flag, context, ValueType::Int, out_details, |v| match v {
            FlagValue::Int(i) => Some(i),
            _ => None,
        })
    }?;
    // SAFETY: checked non-NULL.
    unsafe { *out_value = value.unwrap_or(default_value) };
    Ok(())
}

/// The body of `cha_flag_string` and `cha_flag_string_with_context`.
///
/// # Safety
/// As for `cha_flag_string`, `context` as its variant says.
unsafe fn string_value(
    h: *const cha_handle,
    flag: *const c_char,
    context: ContextArg,
    default_value: *const c_char,
    out_value: *mut *mut c_char,
    out_details: *mut cha_flag_details,
) -> Result<()> {
    // SAFETY: forwarded contract. The handle first, as everywhere.
    unsafe { ref_arg(h, "h") }?;
    out_arg(out_value, "out_value")?;
    // SAFETY (all): forwarded contract.
    let default = unsafe { opt_str_arg(default_value, "default_value") }?;
    let value = unsafe {
        resolve(
            h,
            flag,
            context,
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
}

/// The body of `cha_flag_json` and `cha_flag_json_with_context`.
///
/// # Safety
/// As for `cha_flag_json`, `context` as its variant says.
unsafe fn json_value(
    h: *const cha_handle,
    flag: *const c_char,
    context: ContextArg,
    default_json: *const c_char,
    out_json: *mut *mut c_char,
    out_details: *mut cha_flag_details,
) -> Result<()> {
    // SAFETY: forwarded contract. The handle first, as everywhere.
    unsafe { ref_arg(h, "h") }?;
    out_arg(out_json, "out_json")?;
    // SAFETY (all): forwarded contract.
    let default = unsafe { opt_json_arg(default_json, "default_json") }?;
    let value = unsafe {
        resolve(
            h,
            flag,
            context,
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
        // SAFETY: forwarded contract.
        unsafe {
            bool_value(
                h,
                flag,
                ContextArg::Json(context_json),
                default_value,
                out_value,
                out_details,
            )
        }
    })
}

/// `cha_flag_bool` with a context prepared by `cha_context_new` instead of
/// JSON: the same value, default, details and exposure (a unit of a flag
/// linked to an experiment is exposed), without parsing anything.
/// The fast path for a program that evaluates many flags for the same
/// context (see `cha_context_new`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, context, out_value),
/// CHA_ERR_INVALID_UTF8 (flag), CHA_ERR_INVALID_ARGUMENT (a
/// context freed by `cha_context_free`). An unknown flag or a value of
/// another type is not a failed call: CHA_OK with the default and reason
/// "ERROR", error "FLAG_NOT_FOUND" or "TYPE_MISMATCH".
///
/// # Safety
/// As for `cha_flag_bool`; `context` is NULL or a context from `cha_context_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_bool_with_context(
    h: *const cha_handle,
    flag: *const c_char,
    context: *const cha_context,
    default_value: bool,
    out_value: *mut bool,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_bool_with_context", || {
        // SAFETY: forwarded contract.
        unsafe {
            bool_value(
                h,
                flag,
                ContextArg::Prepared(context),
                default_value,
                out_value,
                out_details,
            )
        }
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
        // SAFETY: forwarded contract.
        unsafe {
            double_value(
                h,
                flag,
                ContextArg::Json(context_json),
                default_value,
                out_value,
                out_details,
            )
        }
    })
}

/// `cha_flag_double` with a context prepared by `cha_context_new` instead of
/// JSON: the same value, default, details and exposure (a unit of a flag
/// linked to an experiment is exposed), without parsing anything.
/// The fast path for a program that evaluates many flags for the same
/// context (see `cha_context_new`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, context, out_value),
/// CHA_ERR_INVALID_UTF8 (flag), CHA_ERR_INVALID_ARGUMENT (a
/// context freed by `cha_context_free`). An unknown flag or a value of
/// another type is not a failed call: CHA_OK with the default and reason
/// "ERROR", error "FLAG_NOT_FOUND" or "TYPE_MISMATCH".
///
/// # Safety
/// As for `cha_flag_bool`; `context` is NULL or a context from `cha_context_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_double_with_context(
    h: *const cha_handle,
    flag: *const c_char,
    context: *const cha_context,
    default_value: f64,
    out_value: *mut f64,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_double_with_context", || {
        // SAFETY: forwarded contract.
        unsafe {
            double_value(
                h,
                flag,
                ContextArg::Prepared(context),
                default_value,
                out_value,
                out_details,
            )
        }
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
        // SAFETY: forwarded contract.
        unsafe {
            int_value(
                h,
                flag,
                ContextArg::Json(context_json),
                default_value,
                out_value,
                out_details,
            )
        }
    })
}

/// `cha_flag_int` with a context prepared by `cha_context_new` instead of
/// JSON: the same value, default, details and exposure (a unit of a flag
/// linked to an experiment is exposed), without parsing anything.
/// The fast path for a program that evaluates many flags for the same
/// context (see `cha_context_new`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, context, out_value),
/// CHA_ERR_INVALID_UTF8 (flag), CHA_ERR_INVALID_ARGUMENT (a
/// context freed by `cha_context_free`). An unknown flag or a value of
/// another type is not a failed call: CHA_OK with the default and reason
/// "ERROR", error "FLAG_NOT_FOUND" or "TYPE_MISMATCH".
///
/// # Safety
/// As for `cha_flag_bool`; `context` is NULL or a context from `cha_context_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_int_with_context(
    h: *const cha_handle,
    flag: *const c_char,
    context: *const cha_context,
    default_value: i64,
    out_value: *mut i64,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_int_with_context", || {
        // SAFETY: forwarded contract.
        unsafe {
            int_value(
                h,
                flag,
                ContextArg::Prepared(context),
                default_value,
                out_value,
                out_details,
            )
        }
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
        // SAFETY: forwarded contract.
        unsafe {
            string_value(
                h,
                flag,
                ContextArg::Json(context_json),
                default_value,
                out_value,
                out_details,
            )
        }
    })
}

/// `cha_flag_string` with a context prepared by `cha_context_new` instead of
/// JSON: the same value, default, details and exposure (a unit of a flag
/// linked to an experiment is exposed), without parsing anything.
/// The fast path for a program that evaluates many flags for the same
/// context (see `cha_context_new`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, context, out_value),
/// CHA_ERR_INVALID_UTF8 (flag, default_value), CHA_ERR_INVALID_ARGUMENT (a
/// context freed by `cha_context_free`). An unknown flag or a value of
/// another type is not a failed call: CHA_OK with the default and reason
/// "ERROR", error "FLAG_NOT_FOUND" or "TYPE_MISMATCH".
///
/// # Safety
/// As for `cha_flag_string`; `context` is NULL or a context from `cha_context_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_string_with_context(
    h: *const cha_handle,
    flag: *const c_char,
    context: *const cha_context,
    default_value: *const c_char,
    out_value: *mut *mut c_char,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_string_with_context", || {
        // SAFETY: forwarded contract.
        unsafe {
            string_value(
                h,
                flag,
                ContextArg::Prepared(context),
                default_value,
                out_value,
                out_details,
            )
        }
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
        // SAFETY: forwarded contract.
        unsafe {
            json_value(
                h,
                flag,
                ContextArg::Json(context_json),
                default_json,
                out_json,
                out_details,
            )
        }
    })
}

/// `cha_flag_json` with a context prepared by `cha_context_new` instead of
/// JSON: the same value, default, details and exposure (a unit of a flag
/// linked to an experiment is exposed), without parsing anything.
/// The fast path for a program that evaluates many flags for the same
/// context (see `cha_context_new`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT (h, flag, context, out_json),
/// CHA_ERR_INVALID_UTF8 (flag, default_json), CHA_ERR_INVALID_ARGUMENT (a
/// context freed by `cha_context_free`). An unknown flag or a value of
/// another type is not a failed call: CHA_OK with the default and reason
/// "ERROR", error "FLAG_NOT_FOUND" or "TYPE_MISMATCH".
///
/// # Safety
/// As for `cha_flag_json`; `context` is NULL or a context from `cha_context_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_json_with_context(
    h: *const cha_handle,
    flag: *const c_char,
    context: *const cha_context,
    default_json: *const c_char,
    out_json: *mut *mut c_char,
    out_details: *mut cha_flag_details,
) -> cha_status {
    guard("cha_flag_json_with_context", || {
        // SAFETY: forwarded contract.
        unsafe {
            json_value(
                h,
                flag,
                ContextArg::Prepared(context),
                default_json,
                out_json,
                out_details,
            )
        }
    })
}
