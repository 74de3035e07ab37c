//! Feature flags through the C ABI. The two hot calls, `cha_flag_enabled`
//! and `cha_flag_enabled_id`, take plain C arguments (no JSON) and neither
//! touch SQLite nor allocate for up to 16 groups.

use std::ffi::c_char;

use super::boundary::{
    guard, json_arg, opt_json_arg, opt_str_arg, out_arg, owned_string, ref_arg, str_arg,
};
use super::core::json_out;
use super::handle::cha_handle;
use super::status::cha_status;
use crate::error::Result;
use crate::flags::Context;

/// The number of buckets a unit is hashed into, for flags and experiments
/// alike: a unit of a flag with seed `s` is in bucket
/// `murmur3_32("{s}:{unit}", 0) % CHA_BUCKETS` (MurmurHash3 x86 32-bit), and
/// a flag at p percent is on for the buckets below p * 100.
pub const CHA_BUCKETS: u32 = 10_000;

/// The longest flag name accepted, in bytes of UTF-8: letters and digits
/// of any script, `_`, `.`, `-`, symbols and emoji; never control or
/// formatting characters, whitespace, quotation marks or slashes.
pub const CHA_MAX_FLAG_NAME: usize = 128;

// cbindgen puts only literals into the header, so the values are written
// again here; these keep them equal to the engine's.
const _: () = assert!(CHA_BUCKETS == crate::common::bucket::BUCKETS);
const _: () = assert!(CHA_MAX_FLAG_NAME == crate::common::names::MAX_NAME);

/// Groups converted without allocating for up to this many.
const STACK_GROUPS: usize = 16;

/// Calls `f` with the groups of a C call as `&[&str]`.
///
/// Inlined, with the conversion of groups kept out of line, so that the
/// common call without groups keeps its arguments in registers: through a
/// call, the captured user id went via the stack in a way the CPU could not
/// forward, a stall of several nanoseconds.
///
/// # Safety
/// `groups` is NULL (only with `n_groups == 0`) or points to `n_groups`
/// NUL-terminated strings.
#[inline(always)]
unsafe fn with_groups<R>(
    groups: *const *const c_char,
    n_groups: usize,
    f: impl FnOnce(&[&str]) -> Result<R>,
) -> Result<R> {
    if n_groups == 0 {
        f(&[])
    } else {
        // SAFETY: forwarded contract.
        unsafe { with_some_groups(groups, n_groups, f) }
    }
}

/// [`with_groups`] for `n_groups > 0`.
///
/// # Safety
/// As for [`with_groups`].
#[inline(never)]
unsafe fn with_some_groups<R>(
    groups: *const *const c_char,
    n_groups: usize,
    f: impl FnOnce(&[&str]) -> Result<R>,
) -> Result<R> {
    if groups.is_null() {
        return Err(super::boundary::null_argument("groups"));
    }
    if n_groups > crate::common::limits::MAX_CONTEXT_GROUPS {
        return Err(crate::flags::context::too_many_groups(n_groups));
    }
    // SAFETY: the caller's contract: n_groups readable pointers.
    let pointers = unsafe { std::slice::from_raw_parts(groups, n_groups) };
    let convert = |i: usize, p: &*const c_char| {
        // SAFETY: each is NULL or NUL-terminated, by contract.
        unsafe { str_arg(*p, "groups") }.map_err(|e| {
            // Name the element (only on the error path: no cost otherwise).
            let message = e
                .message()
                .replacen("`groups`", &format!("`groups[{i}]`"), 1);
            crate::Error::new(e.kind(), message)
        })
    };
    if n_groups <= STACK_GROUPS {
        let mut buffer = [""; STACK_GROUPS];
        for (i, (slot, p)) in buffer.iter_mut().zip(pointers).enumerate() {
            *slot = convert(i, p)?;
        }
        f(&buffer[..n_groups])
    } else {
        let all = pointers
            .iter()
            .enumerate()
            .map(|(i, p)| convert(i, p))
            .collect::<Result<Vec<_>>>()?;
        f(&all)
    }
}

/// The shared body of the two hot checks: the handle, the user and the groups
/// as a context, then `check`, its answer written to `*out_enabled`.
/// Inlined into each export, so that nothing is copied through the stack.
///
/// # Safety
/// As for `cha_flag_enabled`.
#[inline(always)]
unsafe fn check_enabled(
    h: *const cha_handle,
    user_id: *const c_char,
    groups: *const *const c_char,
    n_groups: usize,
    out_enabled: *mut bool,
    check: impl Fn(&crate::Cha, &Context<'_>) -> Result<bool>,
) -> Result<()> {
    // SAFETY (all): forwarded contract.
    let h = unsafe { ref_arg(h, "h") }?;
    let user_id = unsafe { opt_str_arg(user_id, "user_id") }?;
    out_arg(out_enabled, "out_enabled")?;
    let enabled = unsafe {
        with_groups(groups, n_groups, |groups| {
            let ctx = Context {
                user_id,
                groups,
                ..Context::default()
            };
            check(&h.cha, &ctx)
        })
    }?;
    // SAFETY: checked non-NULL.
    unsafe { *out_enabled = enabled };
    Ok(())
}

/// Whether `flag` is on for the user `user_id` in `groups`, now. The
/// hot path: reads the live snapshot only, never the database.
///
/// `user_id` may be NULL (an anonymous caller: percentage flags then give
/// their default, see the flags documentation); `groups` may be NULL when
/// `n_groups` is 0. `*out_enabled` is written only on success. An a_b_test
/// flag linked to an experiment **exposes** the user to it (use
/// `cha_flag_evaluate` with `"peek": true` to look without exposing).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND (no
/// flag of that name).
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `groups` points to `n_groups` strings; `out_enabled` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_enabled(
    h: *const cha_handle,
    flag: *const c_char,
    user_id: *const c_char,
    groups: *const *const c_char,
    n_groups: usize,
    out_enabled: *mut bool,
) -> cha_status {
    guard("cha_flag_enabled", || {
        // SAFETY: forwarded contract.
        let flag = unsafe { str_arg(flag, "flag") }?;
        // SAFETY: forwarded contract.
        unsafe {
            check_enabled(h, user_id, groups, n_groups, out_enabled, |cha, ctx| {
                cha.is_enabled(flag, ctx)
            })
        }
    })
}

/// A flag handle id for `flag`, for `cha_flag_enabled_id` in inner loops:
/// it skips the name lookup and the string check of the flag name. The id
/// stays valid until `cha_close`, across configuration changes; if the flag
/// is later removed, it evaluates off.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND.
///
/// # Safety
/// `h` is NULL or an open handle; `flag` is NULL or NUL-terminated; `out_id`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_lookup(
    h: *const cha_handle,
    flag: *const c_char,
    out_id: *mut u32,
) -> cha_status {
    guard("cha_flag_lookup", || {
        // SAFETY: forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        // SAFETY: forwarded contract.
        let flag = unsafe { str_arg(flag, "flag") }?;
        out_arg(out_id, "out_id")?;
        let id = h.cha.flag_lookup(flag)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_id = id };
        Ok(())
    })
}

/// `cha_flag_enabled` for a flag handle id from `cha_flag_lookup`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (an id this handle did not give).
///
/// # Safety
/// As for `cha_flag_enabled`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_enabled_id(
    h: *const cha_handle,
    flag_id: u32,
    user_id: *const c_char,
    groups: *const *const c_char,
    n_groups: usize,
    out_enabled: *mut bool,
) -> cha_status {
    guard("cha_flag_enabled_id", || {
        // SAFETY: forwarded contract.
        unsafe {
            check_enabled(h, user_id, groups, n_groups, out_enabled, |cha, ctx| {
                cha.is_enabled_by_handle(flag_id, ctx)
            })
        }
    })
}

/// Evaluates `flag` with full details, as JSON:
/// `{"flag","enabled","variant","reason","rule","error"}` (+ `"payload"` for
/// a variant that has one). Reasons: DISABLED, STATIC, TARGETING_MATCH
/// (a targeting rule or a user or group list decided), SPLIT, SCHEDULE,
/// PREREQUISITE_FAILED, DEFAULT, ERROR; errors: FLAG_NOT_FOUND,
/// TYPE_MISMATCH, INVALID_CONTEXT (also with the flag on: the context
/// lacks the variants' stickiness attribute, so it has no variant). An
/// unknown flag is not a failed call: it evaluates off with error
/// FLAG_NOT_FOUND. `rule` names what decided (`rule pilot_sites`,
/// `rules[1]`, `environments.production.rules[0]`, ...).
///
/// `context_json` may be NULL; otherwise an object with any of `user_id`,
/// `session_id`, `groups`, `environment` (which also picks the flag's
/// environment override), `app_name`, `current_time` (RFC 3339),
/// `remote_address`, `properties` (custom attributes for constraints and
/// stickiness), `peek`. `*out_json` is freed with `cha_string_free`.
///
/// An a_b_test flag linked to an experiment answers with the unit's
/// variant in it and **exposes** the unit, as `cha_experiment_assign` does;
/// with `"peek": true` in the context it answers the same and exposes no
/// one (as `cha_experiment_peek`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (a bad context).
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_evaluate(
    h: *const cha_handle,
    flag: *const c_char,
    context_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_flag_evaluate", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let flag = unsafe { str_arg(flag, "flag") }?;
        let context = unsafe { opt_json_arg(context_json, "context_json") }?;
        out_arg(out_json, "out_json")?;
        let evaluation = h.cha.evaluate_flag_json(flag, context)?;
        let json = owned_string(serde_json::to_string(&evaluation)?)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_json = json };
        Ok(())
    })
}

/// Changes `flag` with `updates_json` (an object of the fields of
/// feature_flags.yml, e.g. `{"percentage": 50}`), creating the flag when it
/// does not exist and the updates name a `type`. Validated and written in
/// one transaction with an audit entry naming `actor`; every open handle
/// sees the change within its refresh interval. On error nothing changes.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (not a JSON object, empty actor),
/// CHA_ERR_NOT_FOUND (no such flag and no `type`), CHA_ERR_CONFIG (each
/// invalid field named), CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_update(
    h: *mut cha_handle,
    flag: *const c_char,
    updates_json: *const c_char,
    actor: *const c_char,
) -> cha_status {
    guard("cha_flag_update", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let (flag, updates, actor) = unsafe { update_args(flag, updates_json, actor) }?;
        h.cha.update_flag(flag, &updates, actor).map(drop)
    })
}

/// `cha_flag_update` that also says what it did: writes
/// `{"flag","version","changed","before","after"}` (the definitions before,
/// null for a new flag, and after) to `*out_json`, taken in the same
/// transaction as the change. Free it with `cha_string_free`.
///
/// Errors: as `cha_flag_update`.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_change(
    h: *mut cha_handle,
    flag: *const c_char,
    updates_json: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_flag_change", || {
        // SAFETY (all): forwarded contract.
        let (flag, updates, actor) = unsafe { update_args(flag, updates_json, actor) }?;
        unsafe { json_out(h, out_json, |cha| cha.update_flag(flag, &updates, actor)) }
    })
}

/// The string arguments of an update, with the updates parsed.
///
/// # Safety
/// Each pointer is NULL or NUL-terminated.
unsafe fn update_args<'a>(
    flag: *const c_char,
    updates_json: *const c_char,
    actor: *const c_char,
) -> Result<(&'a str, serde_json::Value, &'a str)> {
    // SAFETY (all): forwarded contract.
    let flag = unsafe { str_arg(flag, "flag") }?;
    let updates = unsafe { json_arg(updates_json, "updates_json") }?;
    let actor = unsafe { str_arg(actor, "actor") }?;
    let updates = serde_json::from_str(updates).map_err(|e| {
        crate::Error::invalid_argument(format!("updates_json is not valid JSON: {e}"))
    })?;
    Ok((flag, updates, actor))
}

/// The stored definition of `flag` with its version, as JSON:
/// `{"definition": {...}, "version", "updated_at_ms", "updated_by"}`.
/// Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND.
///
/// # Safety
/// `h` is NULL or an open handle; `flag` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_get(
    h: *const cha_handle,
    flag: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_flag_get", || {
        // SAFETY: forwarded contract.
        let flag = unsafe { str_arg(flag, "flag") }?;
        // SAFETY: forwarded contract.
        unsafe { json_out(h, out_json, |cha| cha.flag(flag)) }
    })
}

/// Every stored flag, as a JSON array of what `cha_flag_get` returns, by
/// name. Free `*out_json` with `cha_string_free`.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_list(
    h: *const cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_flag_list", || unsafe {
        json_out(h, out_json, |cha| cha.flags())
    })
}

/// Every change to `flag`, oldest first, as a JSON array of
/// `{"id","at_ms","actor","action","kind","subject","version","before","after"}`.
/// Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND.
///
/// # Safety
/// `h` is NULL or an open handle; `flag` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_history(
    h: *const cha_handle,
    flag: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_flag_history", || {
        // SAFETY: forwarded contract.
        let flag = unsafe { str_arg(flag, "flag") }?;
        // SAFETY: forwarded contract.
        unsafe { json_out(h, out_json, |cha| cha.flag_history(flag)) }
    })
}

/// Restores `flag` to its definition at `version` (from
/// `cha_flag_history`) as a new version, recorded under `actor`. Writes
/// `{"flag","version","changed","before","after"}` to `*out_json` (free it
/// with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND (no
/// such flag or version), CHA_ERR_CONFIG (the old definition no longer fits),
/// CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_restore(
    h: *mut cha_handle,
    flag: *const c_char,
    version: i64,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_flag_restore", || {
        // SAFETY (all): forwarded contract.
        let flag = unsafe { str_arg(flag, "flag") }?;
        let actor = unsafe { str_arg(actor, "actor") }?;
        unsafe { json_out(h, out_json, |cha| cha.restore_flag(flag, version, actor)) }
    })
}

/// A commented feature_flags.yml showing every flag type and field, as
/// `create_config_template` in Python. `config_type` is
/// "cha_intelligent_sizing" (the CHA flags) or "minimal"; NULL means the
/// first. Free `*out_yaml` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (an unknown config type).
///
/// # Safety
/// Strings are NULL or NUL-terminated; `out_yaml` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_config_template(
    template_name: *const c_char,
    config_type: *const c_char,
    out_yaml: *mut *mut c_char,
) -> cha_status {
    guard("cha_config_template", || {
        // SAFETY (all): forwarded contract.
        let name = unsafe { str_arg(template_name, "template_name") }?;
        let config_type =
            unsafe { opt_str_arg(config_type, "config_type") }?.unwrap_or("cha_intelligent_sizing");
        out_arg(out_yaml, "out_yaml")?;
        let yaml = owned_string(crate::config::create_config_template(name, config_type)?)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_yaml = yaml };
        Ok(())
    })
}

/// Holds the rollout of `flag` (a percentage flag, or a time_based flag
/// with a schedule, that is on) where it is: the flag stays on for exactly
/// the units it is on for now, until `cha_flag_resume_rollout`. `reason`
/// (NULL or empty: "paused by ACTOR") goes into the hold and the history.
/// Writes the change as JSON to `*out_json` (as `cha_flag_change`; free it
/// with `cha_string_free`). A hold is a runtime change: a deploy refuses to
/// undo it unless told to.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND,
/// CHA_ERR_INVALID_ARGUMENT (no rollout in progress, held already, an empty
/// actor), CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_pause_rollout(
    h: *mut cha_handle,
    flag: *const c_char,
    reason: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_flag_pause_rollout", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let flag = unsafe { str_arg(flag, "flag") }?;
        let reason = unsafe { opt_str_arg(reason, "reason") }?.unwrap_or("");
        let actor = unsafe { str_arg(actor, "actor") }?;
        unsafe { json_out(h, out_json, |cha| cha.pause_rollout(flag, reason, actor)) }
    })
}

/// Lifts the hold of `flag`'s rollout (a pause, or a guardrail's pause or
/// rollback): it follows its percentage or schedule again. Writes the
/// change as JSON to `*out_json` (free it with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND,
/// CHA_ERR_INVALID_ARGUMENT (not held), CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_resume_rollout(
    h: *mut cha_handle,
    flag: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_flag_resume_rollout", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let flag = unsafe { str_arg(flag, "flag") }?;
        let actor = unsafe { str_arg(actor, "actor") }?;
        unsafe { json_out(h, out_json, |cha| cha.resume_rollout(flag, actor)) }
    })
}

/// Checks the guarded rollouts at `now_ms` (0: now) and stops those whose
/// guardrails fire: an alert rule they name firing at their
/// `min_severity` or above, or a guardrail metric of an experiment they
/// name significantly harmed. Each stops as its `on_trigger` says (`pause`:
/// holds its percentage; `rollback`: back to 0%), recorded as a change by
/// `guardrail` with the reasons. The monitoring evaluator thread does this
/// every minute by itself; this call is the check on demand, and the way
/// to drive its clock. Writes the rollouts it stopped as a JSON array to
/// `*out_json` (free it with `cha_string_free`): each `{"flag", "action",
/// "from_percentage", "percentage", "reasons", "at_ms", "version"}`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_guardrails_check(
    h: *mut cha_handle,
    now_ms: i64,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_guardrails_check", || {
        // SAFETY: forwarded contract.
        unsafe { json_out(h, out_json, |cha| cha.check_guardrails_at(now_ms)) }
    })
}

/// Every stored segment (the `segments:` of feature_flags.yml, and those
/// imported or set at runtime), as a JSON array of
/// `{"definition": {"name", "description", "constraints"}, "version",
/// "updated_at_ms", "updated_by"}`, by name. Free `*out_json` with
/// `cha_string_free`.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_segment_list(
    h: *const cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_segment_list", || unsafe {
        json_out(h, out_json, |cha| cha.segments())
    })
}

/// Sets segment `segment` to `definition_json` (`{"description",
/// "constraints": [...]}`, as under `segments:` in feature_flags.yml),
/// creating it if needed; NULL deletes it. Checked with every flag whose
/// rules name it, and written in one transaction with an audit entry
/// naming `actor`. Writes `{"segment","version","changed","before","after"}`
/// to `*out_json` when `out_json` is not NULL (free it with
/// `cha_string_free`). On error nothing changes.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (not a JSON object, empty actor),
/// CHA_ERR_NOT_FOUND (deleting a missing segment), CHA_ERR_CONFIG (each
/// invalid field named, or a flag that would name a missing segment),
/// CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_segment_set(
    h: *mut cha_handle,
    segment: *const c_char,
    definition_json: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_segment_set", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let segment = unsafe { str_arg(segment, "segment") }?;
        let definition = unsafe { opt_json_arg(definition_json, "definition_json") }?;
        let actor = unsafe { str_arg(actor, "actor") }?;
        let definition = match definition {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                crate::Error::invalid_argument(format!("definition_json is not valid JSON: {e}"))
            })?,
            None => serde_json::Value::Null,
        };
        let change = h.cha.set_segment(segment, &definition, actor)?;
        if !out_json.is_null() {
            let json = owned_string(serde_json::to_string(&change)?)?;
            // SAFETY: non-NULL, writable by contract.
            unsafe { *out_json = json };
        }
        Ok(())
    })
}

/// Imports an Unleash client-features document (`document_json`, as
/// Unleash's `/api/client/features` serves it): its features become flags
/// (one rule per strategy, with constraints, segments and variants; its
/// dependencies prerequisites) and its segments segments, created or
/// replaced by name in one transaction. `options_json` may be NULL, or an
/// object with `actor` (default: the login name) and `dry_run` (true:
/// check and report, write nothing). Writes the report to `*out_json`
/// (free it with `cha_string_free`): `{"source","dry_run","actor","flags":
/// [{"name","action","version"}],"segments":[...],"untranslated":
/// [{"item","path","message"}]}`, where `untranslated` names everything
/// without an exact translation and what was done instead. An import is a
/// runtime change: a later deploy reports it as drift.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (not JSON, not an Unleash document, bad
/// options), CHA_ERR_CONFIG (the result does not fit the flags already
/// there), CHA_ERR_STORAGE, CHA_ERR_BUSY. On error nothing changes.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_import_unleash(
    h: *mut cha_handle,
    document_json: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_import_unleash", || {
        // SAFETY (all): forwarded contract. The handle first, as everywhere.
        unsafe { ref_arg(h, "h") }?;
        let document = unsafe { str_arg(document_json, "document_json") }?;
        let options = unsafe { opt_json_arg(options_json, "options_json") }?;
        let (actor, dry_run) = import_options(options)?;
        unsafe {
            json_out(h, out_json, |cha| {
                cha.import_unleash(document, &actor, dry_run)
            })
        }
    })
}

/// The actor and dry-run flag of an import's options.
fn import_options(options: Option<&str>) -> Result<(String, bool)> {
    let bad = |m: String| crate::Error::invalid_argument(format!("options_json: {m}"));
    let Some(text) = options.filter(|t| !t.trim().is_empty()) else {
        return Ok((crate::default_actor(), false));
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("expected an object such as {\"dry_run\": true}".into()))?;
    let mut actor = crate::default_actor();
    let mut dry_run = false;
    for (key, v) in object {
        match key.as_str() {
            "actor" => {
                actor = v
                    .as_str()
                    .ok_or_else(|| bad("`actor` is a string".into()))?
                    .to_string()
            }
            "dry_run" => {
                dry_run = v
                    .as_bool()
                    .ok_or_else(|| bad("`dry_run` is true or false".into()))?
            }
            other => {
                return Err(bad(format!(
                    "unknown option `{other}` (known: actor, dry_run)"
                )));
            }
        }
    }
    Ok((actor, dry_run))
}
