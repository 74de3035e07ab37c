//! Typed reads of an A/B test variant's configuration through the C ABI:
//! `max_velocity_ms` arrives as a double. Looking exposes no one.

use std::ffi::c_char;

use super::boundary::{guard, out_arg, owned_string, ref_arg, str_arg};
use super::handle::cha_handle;
use super::status::cha_status;
use crate::ParamType;
use crate::error::Result;

/// Reads key `key` of variant `variant` of `experiment` as `kind`.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated.
unsafe fn param(
    h: *const cha_handle,
    experiment: *const c_char,
    variant: *const c_char,
    key: *const c_char,
    kind: ParamType,
) -> Result<serde_json::Value> {
    // SAFETY (all): forwarded contract.
    let h = unsafe { ref_arg(h, "h") }?;
    let experiment = unsafe { str_arg(experiment, "experiment") }?;
    let variant = unsafe { str_arg(variant, "variant") }?;
    let key = unsafe { str_arg(key, "key") }?;
    h.cha.experiment_param_as(experiment, variant, key, kind)
}

/// Key `key` of the configuration of variant `variant` of `experiment`
/// (ab_tests.yml), as a number, to `*out_value`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND
/// (no such experiment, variant or key; the message lists those there
/// are), CHA_ERR_INVALID_ARGUMENT (the value is not a number).
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_value` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_param_double(
    h: *const cha_handle,
    experiment: *const c_char,
    variant: *const c_char,
    key: *const c_char,
    out_value: *mut f64,
) -> cha_status {
    guard("cha_experiment_param_double", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_value, "out_value")?;
        // SAFETY: forwarded contract.
        let value = unsafe { param(h, experiment, variant, key, ParamType::Double) }?;
        // SAFETY: checked non-NULL; the type was checked.
        unsafe { *out_value = value.as_f64().unwrap_or_default() };
        Ok(())
    })
}

/// As `cha_experiment_param_double`, as a whole number (a value that is
/// not one is CHA_ERR_INVALID_ARGUMENT).
///
/// # Safety
/// As for `cha_experiment_param_double`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_param_int(
    h: *const cha_handle,
    experiment: *const c_char,
    variant: *const c_char,
    key: *const c_char,
    out_value: *mut i64,
) -> cha_status {
    guard("cha_experiment_param_int", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_value, "out_value")?;
        // SAFETY: forwarded contract.
        let value = unsafe { param(h, experiment, variant, key, ParamType::Int) }?;
        let whole = value
            .as_i64()
            .or_else(|| value.as_f64().map(|f| f as i64))
            .unwrap_or_default();
        // SAFETY: checked non-NULL; the type was checked.
        unsafe { *out_value = whole };
        Ok(())
    })
}

/// As `cha_experiment_param_double`, as true or false (a value that is not
/// a boolean is CHA_ERR_INVALID_ARGUMENT).
///
/// # Safety
/// As for `cha_experiment_param_double`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_param_bool(
    h: *const cha_handle,
    experiment: *const c_char,
    variant: *const c_char,
    key: *const c_char,
    out_value: *mut bool,
) -> cha_status {
    guard("cha_experiment_param_bool", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_value, "out_value")?;
        // SAFETY: forwarded contract.
        let value = unsafe { param(h, experiment, variant, key, ParamType::Bool) }?;
        // SAFETY: checked non-NULL; the type was checked.
        unsafe { *out_value = value.as_bool().unwrap_or_default() };
        Ok(())
    })
}

/// As `cha_experiment_param_double`, as a string (a value that is not a
/// string is CHA_ERR_INVALID_ARGUMENT). Free `*out_value` with
/// `cha_string_free`.
///
/// # Safety
/// As for `cha_experiment_param_double`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_param_string(
    h: *const cha_handle,
    experiment: *const c_char,
    variant: *const c_char,
    key: *const c_char,
    out_value: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_param_string", || {
        // SAFETY: forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        out_arg(out_value, "out_value")?;
        // SAFETY: forwarded contract.
        let value = unsafe { param(h, experiment, variant, key, ParamType::String) }?;
        let text = owned_string(value.as_str().unwrap_or_default().to_string())?;
        // SAFETY: checked non-NULL.
        unsafe { *out_value = text };
        Ok(())
    })
}
