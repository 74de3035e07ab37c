//! Deployment through the C ABI.

use std::ffi::c_char;

use super::boundary::{guard, str_arg};
use super::core::cha_handle;
use super::flags::json_out;
use super::status::cha_status;

/// Deploys every known config file in `config_dir` (feature_flags.yml, ...):
/// all are validated first, then applied in one transaction; an invalid file
/// changes nothing. The change is recorded under the login name of the
/// process. Writes the report as JSON to `*out_json` (free it with
/// `cha_string_free`): `{"config_dir","actor","at_ms","files":[...],
/// "flags":{"created","updated","unchanged","removed"}}`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND (no
/// such directory, or no known file in it), CHA_ERR_CONFIG (every problem,
/// each with file:line:column and field path), CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `config_dir` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_all(
    h: *mut cha_handle,
    config_dir: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_all", || {
        // SAFETY: forwarded contract.
        let dir = unsafe { str_arg(config_dir, "config_dir") }?;
        // SAFETY: forwarded contract.
        unsafe {
            json_out(h, out_json, |cha| {
                cha.deploy_all(dir, &crate::default_actor())
            })
        }
    })
}
