//! Performance monitoring through the C ABI: recording metrics, alerts and
//! their callback, reports, the OpenMetrics export, flag usage.

use std::ffi::{CString, c_char, c_void};

use super::boundary::{guard, opt_json_arg, opt_str_arg, out_arg, owned_string, ref_arg, str_arg};
use super::core::json_out;
use super::handle::cha_handle;
use super::status::cha_status;
use crate::error::Error;
use crate::monitoring::MetricKind;
use crate::{AlertQuery, Cha};

/// A function that receives alert events: `alert_event_json` is one event
/// as JSON (`{"id","alert","rule","metric","kind","severity",
/// "previous_severity","value","threshold","at_ms","actor","no_data",
/// "message"}`), valid only during the call; `user_data` is what was given
/// to `cha_alerts_set_callback`.
#[allow(non_camel_case_types)]
pub type cha_alert_callback =
    Option<unsafe extern "C" fn(alert_event_json: *const c_char, user_data: *mut c_void)>;

/// Records `value` of the histogram metric `name` (a distribution: sizes,
/// iterations, costs) with `tags_json`, a JSON object of tag names to
/// strings, numbers or booleans (NULL: no tags). In memory: no SQLite on
/// this path and no allocation when the same name and tags were recorded
/// on this thread before; persisted within flush_interval_ms or by
/// `cha_flush`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (NaN or infinite value; a name other than
/// letters, digits and `_`; tags that are not a JSON object of scalars; a
/// metric of another kind; a new series past metric_series_limit, naming
/// the metric). Nothing is recorded on error.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_metric_record(
    h: *mut cha_handle,
    name: *const c_char,
    value: f64,
    tags_json: *const c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_metric_record", || unsafe {
        record(h, name, tags_json, |cha, n, t| {
            cha.record_metric(n, value, t)
        })
    })
}

/// Records a duration of `seconds` of the timer `name`, stored in
/// milliseconds, with `tags_json` (as `cha_metric_record`).
///
/// Errors: as `cha_metric_record`, and CHA_ERR_INVALID_ARGUMENT for a
/// negative duration.
///
/// # Safety
/// As for `cha_metric_record`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_metric_record_timer(
    h: *mut cha_handle,
    name: *const c_char,
    seconds: f64,
    tags_json: *const c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_metric_record_timer", || unsafe {
        record(h, name, tags_json, |cha, n, t| {
            cha.record_timer(n, seconds, t)
        })
    })
}

/// Adds `by` to the counter `name`, with `tags_json` (as
/// `cha_metric_record`).
///
/// Errors: as `cha_metric_record`, and CHA_ERR_INVALID_ARGUMENT for a
/// negative `by`.
///
/// # Safety
/// As for `cha_metric_record`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_metric_increment(
    h: *mut cha_handle,
    name: *const c_char,
    by: f64,
    tags_json: *const c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_metric_increment", || unsafe {
        record(h, name, tags_json, |cha, n, t| cha.increment(n, by, t))
    })
}

/// Sets the gauge `name` to `value`, with `tags_json` (as
/// `cha_metric_record`).
///
/// Errors: as `cha_metric_record`.
///
/// # Safety
/// As for `cha_metric_record`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_metric_gauge(
    h: *mut cha_handle,
    name: *const c_char,
    value: f64,
    tags_json: *const c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_metric_gauge", || unsafe {
        record(h, name, tags_json, |cha, n, t| cha.gauge(n, value, t))
    })
}

/// Records a sample of `kind` ("timer", "histogram", "counter", "gauge") at
/// `at_ms` (epoch ms) instead of now: to import samples, or to drive the
/// clock in tests. `value` is as the kind's own call takes it (seconds for
/// a timer).
///
/// Errors: as `cha_metric_record`, and CHA_ERR_INVALID_ARGUMENT for an
/// unknown kind.
///
/// # Safety
/// As for `cha_metric_record`; `kind` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_metric_record_at(
    h: *mut cha_handle,
    kind: *const c_char,
    name: *const c_char,
    value: f64,
    tags_json: *const c_char,
    at_ms: i64,
) -> cha_status {
    guard("cha_metric_record_at", || {
        // SAFETY: forwarded contract.
        let kind_text = unsafe { str_arg(kind, "kind") }?;
        let kind = MetricKind::from_name(kind_text).ok_or_else(|| {
            Error::invalid_argument(format!(
                "unknown metric kind `{kind_text}` (timer, histogram, counter, gauge)"
            ))
        })?;
        // SAFETY: forwarded contract.
        unsafe {
            record(h, name, tags_json, |cha, n, t| {
                cha.record_metric_at(kind, n, value, t, at_ms)
            })
        }
    })
}

/// The common arguments of the recording calls.
///
/// # Safety
/// As for `cha_metric_record`.
#[inline(always)]
unsafe fn record(
    h: *mut cha_handle,
    name: *const c_char,
    tags_json: *const c_char,
    f: impl FnOnce(&Cha, &str, Option<&str>) -> crate::Result<()>,
) -> crate::Result<()> {
    // SAFETY (all): forwarded contract.
    let h = unsafe { ref_arg(h, "h") }?;
    let name = unsafe { str_arg(name, "name") }?;
    let tags = unsafe { opt_json_arg(tags_json, "tags_json") }?;
    f(&h.cha, name, tags)
}

/// The caller's `user_data`, handed to its callback on the evaluator
/// thread: the caller promises it may be used there.
struct UserData(*mut c_void);
// SAFETY: documented on cha_alerts_set_callback: user_data must be usable
// from the evaluator thread.
unsafe impl Send for UserData {}
// SAFETY: as above; it is only passed back to the caller's function.
unsafe impl Sync for UserData {}

/// Sets the function that receives every alert event (pending, cleared,
/// firing, escalated, deescalated, resolved, acknowledged,
/// manually_resolved) stored from now on, by any process sharing the
/// database; NULL `cb` removes it.
///
/// Threading: `cb` is called on the handle's evaluator thread, never on
/// the caller's, one event at a time and in order, with
/// `alert_event_json` valid only during the call and `user_data` as given
/// here (which must therefore be usable from that thread). It may call any
/// cha_ function, on this handle too (for example `cha_alert_acknowledge`),
/// except `cha_close` of this handle; it should return quickly, since
/// evaluations wait for it. Replacing or removing the callback waits for a
/// call in progress to return (unless done from inside the callback), so
/// once this returns the previous `cb` and `user_data` are no longer used.
///
/// Errors: CHA_ERR_NULL_ARGUMENT (`h`), CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `cb` is NULL or a function of the
/// `cha_alert_callback` signature that stays valid until it is replaced or
/// the handle is closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_alerts_set_callback(
    h: *mut cha_handle,
    cb: cha_alert_callback,
    user_data: *mut c_void,
) -> cha_status {
    guard("cha_alerts_set_callback", || {
        // SAFETY: forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let callback = cb.map(|cb| {
            let data = UserData(user_data);
            Box::new(move |event: &crate::monitoring::AlertEvent| {
                let data = &data;
                let Ok(json) = serde_json::to_string(event) else {
                    return;
                };
                let Ok(json) = CString::new(json) else {
                    return;
                };
                // SAFETY: the caller's function, with its user_data and a
                // string valid for the call.
                unsafe { cb(json.as_ptr(), data.0) };
            }) as Box<crate::AlertCallback>
        });
        h.cha.set_alert_callback(callback)
    })
}

/// Evaluates every alert rule at `now_ms` (epoch ms; 0: now), due or not,
/// and writes the events it made as a JSON array to `*out_json` (free with
/// `cha_string_free`). The evaluator thread does this by itself for the
/// rules that are due; this call is for tests that drive the clock and for
/// evaluating on demand.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_alerts_evaluate(
    h: *mut cha_handle,
    now_ms: i64,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_alerts_evaluate", || unsafe {
        json_out(h, out_json, |cha| cha.evaluate_alerts_at(now_ms))
    })
}

/// The incidents active in [`start_ms`, `end_ms`) (0: unbounded), newest
/// first, at most `limit` (0: 100), only those firing now when
/// `firing_only`, as a JSON array of `{"id","rule","metric","state",
/// "severity","max_severity","value","threshold","started_at_ms",
/// "fired_at_ms","resolved_at_ms","acknowledged_by","acknowledged_at_ms",
/// "resolved_by","message"}`. Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_alerts_list(
    h: *const cha_handle,
    start_ms: i64,
    end_ms: i64,
    firing_only: bool,
    limit: u32,
    out_json: *mut *mut c_char,
) -> cha_status {
    let query = AlertQuery {
        start_ms,
        end_ms,
        firing_only,
        limit,
    };
    // SAFETY: forwarded contract.
    guard("cha_alerts_list", || unsafe {
        json_out(h, out_json, |cha| cha.alerts(query))
    })
}

/// The alert history: every event in [`start_ms`, `end_ms`) (0:
/// unbounded) of `rule` (NULL: every rule), newest first, at most `limit`
/// (0: 100), as a JSON array of events (as the callback receives them).
/// Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `rule` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_alerts_history(
    h: *const cha_handle,
    rule: *const c_char,
    start_ms: i64,
    end_ms: i64,
    limit: u32,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_alerts_history", || {
        // SAFETY (all): forwarded contract.
        let rule = unsafe { opt_str_arg(rule, "rule") }?;
        let query = AlertQuery {
            start_ms,
            end_ms,
            firing_only: false,
            limit,
        };
        unsafe { json_out(h, out_json, |cha| cha.alert_history(rule, query)) }
    })
}

/// Every deployed alert rule with its state now (`state`, `severity`,
/// `since_ms`, `value`, `evaluated_at_ms`, `alert`), as a JSON array. Free
/// `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_alerts_rules(
    h: *const cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_alerts_rules", || unsafe {
        json_out(h, out_json, |cha| cha.alert_rules())
    })
}

/// Acknowledges the firing alert `alert_id` as `actor`: it keeps firing (an
/// escalation clears the acknowledgement); acknowledging again changes
/// nothing. Writes the alert as JSON to `*out_json` (free with
/// `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND,
/// CHA_ERR_INVALID_ARGUMENT (resolved already, empty actor),
/// CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `actor` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_alert_acknowledge(
    h: *mut cha_handle,
    alert_id: i64,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_alert_acknowledge", || {
        // SAFETY (all): forwarded contract.
        let actor = unsafe { str_arg(actor, "actor") }?;
        unsafe { json_out(h, out_json, |cha| cha.acknowledge_alert(alert_id, actor)) }
    })
}

/// Resolves the firing alert `alert_id` by hand as `actor`; its rule goes
/// back to inactive (a breach that goes on starts a new alert after the
/// rule's for_seconds). Writes the alert as JSON to `*out_json` (free with
/// `cha_string_free`).
///
/// Errors: as `cha_alert_acknowledge`.
///
/// # Safety
/// As for `cha_alert_acknowledge`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_alert_resolve(
    h: *mut cha_handle,
    alert_id: i64,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_alert_resolve", || {
        // SAFETY (all): forwarded contract.
        let actor = unsafe { str_arg(actor, "actor") }?;
        unsafe { json_out(h, out_json, |cha| cha.resolve_alert(alert_id, actor)) }
    })
}

/// The performance report of [`start_ms`, `end_ms`) (`end_ms` 0: now;
/// `start_ms` 0: the first stored data) as JSON: `{"start_ms","end_ms",
/// "previous_start_ms","generated_at_ms","metrics","alerts","flag_usage",
/// "recommendations"}`; per metric `count`, `mean`, `median`, `std_dev`,
/// `min`, `max`, `p50`, `p90`, `p95`, `p99`, `sum`, `rate_per_second`,
/// `trend`, `thresholds`, `alerts`, `recommendations`. Computed from the
/// stored windows, never from raw samples. Free `*out_json` with
/// `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_ARGUMENT (end before
/// start), CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_performance_report(
    h: *mut cha_handle,
    start_ms: i64,
    end_ms: i64,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_performance_report", || unsafe {
        json_out(h, out_json, |cha| cha.performance_report(start_ms, end_ms))
    })
}

/// The current values in `format` "openmetrics" (the OpenMetrics text
/// format Prometheus scrapes, ending with `# EOF`) or "prometheus" (the
/// older text format 0.0.4, which node_exporter's textfile collector reads)
/// to `*out_text` (free with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8,
/// CHA_ERR_INVALID_ARGUMENT (an unknown format), CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `format` is NULL or NUL-terminated;
/// `out_text` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_metrics_export(
    h: *mut cha_handle,
    format: *const c_char,
    out_text: *mut *mut c_char,
) -> cha_status {
    guard("cha_metrics_export", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let format = unsafe { str_arg(format, "format") }?;
        out_arg(out_text, "out_text")?;
        let text = match format {
            "openmetrics" => h.cha.export_openmetrics()?,
            "prometheus" => h.cha.export_prometheus_text()?,
            _ => {
                return Err(Error::invalid_argument(format!(
                    "unknown export format `{format}` (known: openmetrics, prometheus)"
                )));
            }
        };
        let text = owned_string(text)?;
        // SAFETY: checked non-NULL.
        unsafe { *out_text = text };
        Ok(())
    })
}

/// Every stored metric series with its all-time totals, as a JSON array of
/// `{"metric","kind","tags","count","sum","last_value","last_at_ms",
/// "created_ms"}`. Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_metrics_list(
    h: *mut cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_metrics_list", || unsafe {
        json_out(h, out_json, |cha| cha.metric_series())
    })
}

/// Flag usage in [`start_ms`, `end_ms`) (0: unbounded), as Unleash clients
/// report it: `{"stale_after_days","flags","unknown","stale"}`, per flag
/// `evaluations`, `on`, `off`, `variants`, `last_evaluated_hour_ms`,
/// `stale`; unknown names asked for with their counts. Free `*out_json`
/// with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_flag_usage(
    h: *mut cha_handle,
    start_ms: i64,
    end_ms: i64,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_flag_usage", || unsafe {
        json_out(h, out_json, |cha| cha.flag_usage(start_ms, end_ms))
    })
}

/// Samples the system metrics once now (about 0.2 s), records them as
/// gauges and writes them as a JSON object of name to value. Free
/// `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INTERNAL (no system information
/// on this platform).
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_system_metrics_sample(
    h: *mut cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_system_metrics_sample", || unsafe {
        json_out(h, out_json, |cha| cha.sample_system_metrics())
    })
}
