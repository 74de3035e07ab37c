//! Deployment through the C ABI: deploy, plan, rollback, status, export,
//! history, backups and the validation of a config directory.
//!
//! `options_json` (NULL for the defaults) is an object with the keys
//! `"actor"` (who, for the history; default the login name),
//! `"subsystems"` (an array: `"feature_flags"`, `"ab_tests"`; default every
//! file the directory holds) and `"on_drift"`: `"refuse"` (the default),
//! `"overwrite"` or `"keep_runtime"`; NULL, an empty or a blank string give
//! the defaults. Rollbacks take all three (`subsystems` rolls back only
//! those).

use std::ffi::c_char;

use super::boundary::{guard, opt_json_arg, opt_str_arg, out_arg, owned_string, ref_arg, str_arg};
use super::core::json_out;
use super::handle::cha_handle;
use super::status::cha_status;
use crate::deploy::DeployOptions;

/// Reads `options_json` (NULL: the defaults).
///
/// # Safety
/// `options_json` is NULL or NUL-terminated.
unsafe fn options(options_json: *const c_char) -> crate::Result<DeployOptions> {
    // SAFETY: forwarded contract.
    let text = unsafe { opt_json_arg(options_json, "options_json") }?;
    DeployOptions::from_json(text)
}

/// Deploys every config file in `config_dir` (feature_flags.yml,
/// ab_tests.yml) as the login name, with the default options: as
/// `cha_deploy_all_with_options(h, config_dir, NULL, out_json)`.
///
/// # Safety
/// As `cha_deploy_all_with_options`.
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
                cha.deploy(dir, &DeployOptions::default())
            })
        }
    })
}

/// Deploys the config directory `config_dir`: validates every file of the
/// chosen subsystems, refuses (by default) to undo changes made at runtime
/// or to delete definitions the files do not mention, backs the database
/// up, then applies everything in one transaction recorded in the
/// deployment history. Writes the report as JSON to `*out_json` (free it
/// with `cha_string_free`): `{"deployment_id", "action", "config_dir",
/// "actor", "at_ms", "on_drift", "files": [{"file", "sha256",
/// "source_version", "migration"}], "flags": {"created", "updated",
/// "unchanged", "removed", "kept"}, "experiments": {...}, "plan": [...],
/// "backup", "duration_ms"}`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (bad options), CHA_ERR_NOT_FOUND (no such
/// directory, or no known file in it), CHA_ERR_CONFIG (every problem, each
/// with file:line:column and field path), CHA_ERR_DRIFT (it would undo
/// runtime changes; the message lists each), CHA_ERR_STORAGE, CHA_ERR_BUSY.
/// On error nothing is changed.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_all_with_options(
    h: *mut cha_handle,
    config_dir: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_all_with_options", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let dir = unsafe { str_arg(config_dir, "config_dir") }?;
        let options = unsafe { options(options_json) }?;
        unsafe { json_out(h, out_json, |cha| cha.deploy(dir, &options)) }
    })
}

/// What `cha_deploy_all_with_options` would do, written as JSON to
/// `*out_json` (free it with `cha_string_free`): `{"config_dir",
/// "on_drift", "last_deployment", "files", "sections": [{"subsystem",
/// "file", "items", "included", "changes": [{"name", "action", "fields":
/// [{"field", "before", "after"}], "undoes_drift"}], "unchanged",
/// "refused", "drift": [{"name", "kind", "fields", "actor", "at_ms",
/// "action"}]}], "refused": [...]}`. Validates everything and writes
/// nothing; a deployment that would be refused is a plan with `refused`
/// lines, not an error.
///
/// Errors: as `cha_deploy_all_with_options`, except CHA_ERR_DRIFT.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_plan(
    h: *mut cha_handle,
    config_dir: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_plan", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let dir = unsafe { str_arg(config_dir, "config_dir") }?;
        let options = unsafe { options(options_json) }?;
        unsafe { json_out(h, out_json, |cha| cha.plan_deployment(dir, &options)) }
    })
}

/// Rolls back to deployment `deployment_id`, or with 0 to the deployment
/// before the one in force, as the login name with the default options:
/// as `cha_deploy_rollback_with_options(h, deployment_id, NULL, out_json)`.
///
/// # Safety
/// As `cha_deploy_rollback_with_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_rollback(
    h: *mut cha_handle,
    deployment_id: i64,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_rollback", || {
        let options = DeployOptions::default();
        // SAFETY: forwarded contract.
        unsafe {
            json_out(h, out_json, |cha| {
                cha.rollback_deployment(deployment_id, &options)
            })
        }
    })
}

/// Rolls back to deployment `deployment_id` (0: the one before the
/// deployment in force; repeated rollbacks step further back): the
/// configuration comes back exactly, collected data (exposures,
/// observations) stays. Backed up first, recorded as a deployment; the
/// report (as for a deploy, with `"rolled_back_to"` and `"duration_ms"`)
/// goes to `*out_json` (free it with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (bad options, a negative id), CHA_ERR_NOT_FOUND
/// (no such deployment, or none to go back to), CHA_ERR_DRIFT,
/// CHA_ERR_CONFIG, CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `options_json` is NULL or
/// NUL-terminated; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_rollback_with_options(
    h: *mut cha_handle,
    deployment_id: i64,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_rollback_with_options", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let options = unsafe { options(options_json) }?;
        unsafe {
            json_out(h, out_json, |cha| {
                cha.rollback_deployment(deployment_id, &options)
            })
        }
    })
}

/// What `cha_deploy_rollback_with_options` would do, as a plan (see
/// `cha_deploy_plan`, with `"rollback_to"`). Writes nothing.
///
/// # Safety
/// As `cha_deploy_rollback_with_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_rollback_plan(
    h: *mut cha_handle,
    deployment_id: i64,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_rollback_plan", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let options = unsafe { options(options_json) }?;
        unsafe {
            json_out(h, out_json, |cha| {
                cha.plan_rollback(deployment_id, &options)
            })
        }
    })
}

/// The deployment status as JSON in `*out_json` (free it with
/// `cha_string_free`): `{"database", "schema_version", "at_ms",
/// "last_deployment", "subsystems": [{"subsystem", "file", "items",
/// "count", "deployed_file", "deployed_by", "drift", "details"}],
/// "recent_deployments"}`. The flags' details list active rollouts with
/// their percentage and next step; the tests', those running with their
/// exposed units. Writes nothing.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_status(
    h: *mut cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_status", || {
        // SAFETY: forwarded contract.
        unsafe { json_out(h, out_json, |cha| cha.deployment_status()) }
    })
}

/// The whole deployed configuration in one canonical JSON text (sorted
/// keys, two-space indentation, byte-stable): two states compare byte for
/// byte. Free `*out_json` with `cha_string_free`. Writes nothing.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_export(
    h: *mut cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_export", || {
        // SAFETY: forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        out_arg(out_json, "out_json")?;
        let text = owned_string(h.cha.export_configuration()?)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_json = text };
        Ok(())
    })
}

/// The last `limit` deployments, newest first, as a JSON array in
/// `*out_json` (free it with `cha_string_free`): each `{"id", "at_ms",
/// "actor", "action", "config_dir", "rolled_back_to", "on_drift", "files",
/// "plan", "drift", "backup", "duration_ms"}`. Writes nothing.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_history(
    h: *mut cha_handle,
    limit: u32,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_history", || {
        // SAFETY: forwarded contract.
        unsafe { json_out(h, out_json, |cha| cha.deployments(limit)) }
    })
}

/// Deployment `deployment_id`, as one element of `cha_deploy_history`, in
/// `*out_json` (free it with `cha_string_free`). Writes nothing.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_ARGUMENT (an id below 1),
/// CHA_ERR_NOT_FOUND (no such deployment; the message names those there
/// are), CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_deploy_get(
    h: *mut cha_handle,
    deployment_id: i64,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_deploy_get", || {
        // SAFETY: forwarded contract.
        unsafe { json_out(h, out_json, |cha| cha.deployment(deployment_id)) }
    })
}

/// Takes a backup of the database now, into the backup folder (beside the
/// database, or the `backup_dir` open option), and drops the oldest beyond
/// `backups_kept`. `reason` names it (1 to 32 letters, digits and `-`;
/// NULL: "manual"). Writes `{"name", "path", "created_at_ms", "reason",
/// "size_bytes"}` to `*out_json` (free it with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (a bad reason), CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `reason` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_backup_create(
    h: *mut cha_handle,
    reason: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_backup_create", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let reason = unsafe { opt_str_arg(reason, "reason") }?.unwrap_or("manual");
        unsafe { json_out(h, out_json, |cha| cha.create_backup(reason)) }
    })
}

/// Every backup of the database, oldest first, as a JSON array of what
/// `cha_backup_create` returns. Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_backup_list(
    h: *mut cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_backup_list", || {
        // SAFETY: forwarded contract.
        unsafe { json_out(h, out_json, |cha| cha.backups()) }
    })
}

/// Restores the whole database from backup `name` (a file name in the
/// backup folder, a path, or `"latest"`: the newest backup), after a backup of the current state; recorded
/// as a deployment (`"action": "restore"`) under `actor`. What was recorded
/// after the backup was taken is only in the backup taken first. Writes the
/// report to `*out_json` (free it with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (an empty actor), CHA_ERR_NOT_FOUND (no such
/// backup), CHA_ERR_STORAGE (a damaged backup, or one of a newer schema:
/// nothing is changed), CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_backup_restore(
    h: *mut cha_handle,
    name: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_backup_restore", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let name = unsafe { str_arg(name, "name") }?;
        let actor = unsafe { str_arg(actor, "actor") }?;
        unsafe { json_out(h, out_json, |cha| cha.restore_backup(name, actor)) }
    })
}

/// Checks the config directory `config_dir` without a database and without
/// writing anything: every file of the chosen subsystems (`options_json`
/// may name `"subsystems"`; NULL: every file present), alone and together.
/// Writes the files with their SHA-256 and version to `*out_json` (free it
/// with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT, CHA_ERR_NOT_FOUND, CHA_ERR_CONFIG (every
/// problem at once, with file:line:column, field path and hint).
///
/// # Safety
/// Strings are NULL or NUL-terminated; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_config_validate(
    config_dir: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_config_validate", || {
        // SAFETY (all): forwarded contract.
        let dir = unsafe { str_arg(config_dir, "config_dir") }?;
        let options = unsafe { options(options_json) }?;
        out_arg(out_json, "out_json")?;
        let files = crate::deploy::validate_config_dir(dir, &options.subsystems)?;
        let text = owned_string(serde_json::to_string(&files)?)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_json = text };
        Ok(())
    })
}
