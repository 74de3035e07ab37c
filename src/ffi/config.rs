//! Configuration management through the C ABI: the template of any
//! subsystem's config file, and the migration of an older file to the
//! current version. Neither needs a handle or writes a file.

use std::ffi::c_char;

use super::boundary::{guard, opt_str_arg, out_arg, owned_string, str_arg};
use super::status::cha_status;

/// A commented config file of `subsystem` to start from, with every field
/// documented; valid and deployable as it is. `subsystem` is
/// "feature_flags", "ab_tests" or "performance_monitoring" (or
/// "feature-flags", "ab-tests", "performance-monitoring");
/// `config_type` is "cha_intelligent_sizing" or "minimal", NULL for the
/// first; `template_name` is a title written in the first comment. Free
/// `*out_yaml` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (an unknown subsystem or config type; for
/// "user_feedback", the message says this version has no such subsystem
/// yet).
///
/// # Safety
/// `config_type` is NULL or NUL-terminated; the other strings are
/// NUL-terminated (NULL is an error); `out_yaml` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_config_template_for(
    subsystem: *const c_char,
    template_name: *const c_char,
    config_type: *const c_char,
    out_yaml: *mut *mut c_char,
) -> cha_status {
    guard("cha_config_template_for", || {
        out_arg(out_yaml, "out_yaml")?;
        // SAFETY (all): forwarded contract.
        let subsystem = unsafe { str_arg(subsystem, "subsystem") }?;
        let name = unsafe { str_arg(template_name, "template_name") }?;
        let config_type = unsafe { opt_str_arg(config_type, "config_type") }?;
        let yaml = owned_string(crate::config::template(subsystem, name, config_type)?)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_yaml = yaml };
        Ok(())
    })
}

/// Reads the config file at `path` (feature_flags.yml or ab_tests.yml, told
/// by its name or else its content), detects its version and writes to
/// `*out_json` (free it with `cha_string_free`) `{"file", "from_version",
/// "to_version", "report", "text"}`: `text` is the file in the current
/// version, `report` what migrating changed (`{"from_version",
/// "to_version", "notes", "flags": [{"flag", "changes"}]}`). A file already
/// current has `from_version == to_version`, a null `report` and its text
/// unchanged. Writes no file: replacing the old one is the caller's choice.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND (no
/// file at `path`), CHA_ERR_INVALID_ARGUMENT (not a config file cha-deploy
/// knows), CHA_ERR_CONFIG (every problem of an invalid file, each with
/// file:line:column and field path).
///
/// # Safety
/// `path` is NULL or NUL-terminated; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_config_migrate(
    path: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_config_migrate", || {
        out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let path = unsafe { str_arg(path, "path") }?;
        let migration = crate::config::migrate_file(path)?;
        let json = owned_string(serde_json::to_string(&migration)?)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_json = json };
        Ok(())
    })
}
