//! User feedback through the C ABI.

use std::ffi::c_char;

use super::boundary::{guard, json_arg, opt_json_arg, out_arg, ref_arg, str_arg};
use super::core::json_out;
use super::handle::cha_handle;
use super::status::cha_status;
use crate::error::Error;
use crate::handle::feedback::parse_status;

/// Stores one piece of feedback and writes its id to `*out_id`.
/// `feedback_json` is `{"type", "text", "user_id"}` plus optionally
/// `"rating"` (1 to 5; required for "satisfaction_survey"), `"category"`
/// (one of user_feedback.yml's), `"context"` (a JSON object: network id,
/// app version, ...) and `"submitted_at"` (RFC 3339, for imports). Types:
/// "bug_report", "feature_request", "performance_issue",
/// "usability_issue", "general_feedback", "satisfaction_survey".
///
/// The item is triaged (sentiment, priority, category, queue, response),
/// linked to the flags and experiment variants its user saw (flags are
/// looked at, nobody is exposed), merged into an earlier open report it
/// repeats, and committed before this returns.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (not JSON; an unknown type or key; a rating
/// outside 1..5 or missing for a survey; empty text or text over 64 KiB; a
/// context that is not an object; an unknown category): nothing is stored,
/// and the message says why. CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `feedback_json` is NULL or
/// NUL-terminated; `out_id` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_feedback_submit(
    h: *mut cha_handle,
    feedback_json: *const c_char,
    out_id: *mut i64,
) -> cha_status {
    guard("cha_feedback_submit", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let json = unsafe { json_arg(feedback_json, "feedback_json") }?;
        out_arg(out_id, "out_id")?;
        let item = h.cha.submit_feedback_json(json)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_id = item.id };
        Ok(())
    })
}

/// Item `id` as JSON: `{"id", "type", "text", "rating", "category",
/// "user_id", "context", "submitted_at_ms", "sentiment": {"score",
/// "label"}, "priority", "priority_reasons", "route": {"queue"},
/// "response", "status", "status_at_ms", "acknowledged_at_ms",
/// "done_at_ms", "duplicate_of", "reports", "people", "redacted",
/// "exposures": {"flags": {name: {"enabled", "variant"}}, "experiments":
/// {name: variant}}, "history": [{"at_ms", "actor", "from", "to",
/// "note"}]}`. Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_NOT_FOUND, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_feedback_get(
    h: *const cha_handle,
    id: i64,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_feedback_get", || unsafe {
        json_out(h, out_json, |cha| cha.feedback(id))
    })
}

/// The items a query selects, newest first, as a JSON array of items as
/// `cha_feedback_get` gives them without "exposures" and "history".
/// `query_json` may be NULL (the newest 100) or `{"status", "type",
/// "category", "priority", "queue", "user_id", "start_ms", "end_ms",
/// "limit"}`, every key optional. Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (bad JSON, an unknown key or value),
/// CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `query_json` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_feedback_list(
    h: *const cha_handle,
    query_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_feedback_list", || {
        // SAFETY (all): forwarded contract.
        let query = unsafe { opt_json_arg(query_json, "query_json") }?;
        unsafe { json_out(h, out_json, |cha| cha.list_feedback_json(query)) }
    })
}

/// Moves item `id` to `status` now, recorded under `actor`. Statuses:
/// "new", "acknowledged", "in_progress", "resolved", "closed" (and
/// "duplicate", which `cha_feedback_merge` sets). Allowed moves: new →
/// acknowledged; acknowledged → in_progress or closed; in_progress →
/// resolved or closed; resolved → closed or in_progress (reopened).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND,
/// CHA_ERR_INVALID_ARGUMENT (an unknown status, a move the workflow does
/// not allow, "duplicate", an empty actor): nothing changes.
/// CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_feedback_set_status(
    h: *mut cha_handle,
    id: i64,
    status: *const c_char,
    actor: *const c_char,
) -> cha_status {
    guard("cha_feedback_set_status", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let status = parse_status(unsafe { str_arg(status, "status") }?)?;
        let actor = unsafe { str_arg(actor, "actor") }?;
        h.cha.set_feedback_status(id, status, actor).map(|_| ())
    })
}

/// `cha_feedback_set_status` with a note and, for imports, a time:
/// `change_json` is `{"status", "actor", "note", "at"}` (`note` and `at`,
/// RFC 3339 and not before the item's last change, optional). Writes the
/// item after the change to `*out_json` (free with `cha_string_free`).
///
/// Errors: as `cha_feedback_set_status`; CHA_ERR_INVALID_ARGUMENT also for
/// bad JSON, or a time before the last change or in the future.
///
/// # Safety
/// `h` is NULL or an open handle; `change_json` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_feedback_transition(
    h: *mut cha_handle,
    id: i64,
    change_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_feedback_transition", || {
        // SAFETY (all): forwarded contract.
        let change = unsafe { json_arg(change_json, "change_json") }?;
        unsafe { json_out(h, out_json, |cha| cha.transition_feedback_json(id, change)) }
    })
}

/// Merges item `id` into the report `into_id` it repeats (into that
/// report's original, when it is itself a copy), recorded under `actor`:
/// `id` becomes "duplicate", and the original counts its reports and the
/// different people again.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND
/// (either item), CHA_ERR_INVALID_ARGUMENT (an item into itself, a status
/// that cannot move to "duplicate", an empty actor), CHA_ERR_STORAGE,
/// CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `actor` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_feedback_merge(
    h: *mut cha_handle,
    id: i64,
    into_id: i64,
    actor: *const c_char,
) -> cha_status {
    guard("cha_feedback_merge", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let actor = unsafe { str_arg(actor, "actor") }?;
        h.cha.merge_feedback(id, into_id, actor).map(|_| ())
    })
}

/// Analyses the feedback submitted in `[start_ms, end_ms)` (Unix ms; 0 is
/// unbounded) (`analyze_feedback`): `{"total_items", "volume": {"by_type",
/// "by_category", "by_priority", "by_sentiment"}, "satisfaction":
/// {"average_rating", "csat", ...}, "categories", "trend": {"period",
/// "points", "rating_slope", "direction"}, "top_issues", "experiments",
/// "flags", "success_metrics", "recommendations"}`. Reads daily summaries,
/// not every item. Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_ARGUMENT (a negative
/// time, a range that ends before it starts), CHA_ERR_STORAGE,
/// CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_feedback_analyze(
    h: *mut cha_handle,
    start_ms: i64,
    end_ms: i64,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_feedback_analyze", || unsafe {
        json_out(h, out_json, |cha| cha.analyze_feedback(start_ms, end_ms))
    })
}

/// `cha_feedback_analyze` with options as JSON (NULL for the defaults):
/// `{"period": "day" | "week", "users_exposed": N, "top_issues": N}`.
/// An unknown option is CHA_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// As for `cha_feedback_analyze`; `options_json` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_feedback_analyze_with_options(
    h: *mut cha_handle,
    start_ms: i64,
    end_ms: i64,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_feedback_analyze_with_options", || {
        // SAFETY (all): forwarded contract.
        let options = match unsafe { opt_json_arg(options_json, "options_json") }? {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| Error::invalid_argument(format!("analysis options: {e}")))?,
            None => Default::default(),
        };
        unsafe {
            json_out(h, out_json, |cha| {
                cha.analyze_feedback_with(start_ms, end_ms, &options)
            })
        }
    })
}
