//! A/B experiments through the C ABI.

use std::ffi::c_char;

use super::boundary::{guard, opt_json_arg, out_arg, ref_arg, str_arg};
use super::core::json_out;
use super::handle::cha_handle;
use super::status::cha_status;
use crate::error::Error;
use crate::experiments::{AnalysisOptions, Correction, ExperimentStatus};
use crate::handle::experiments::Exposure;

/// The longest unit id accepted, in bytes (UTF-8); a longer or empty one is
/// CHA_ERR_INVALID_ARGUMENT.
pub const CHA_MAX_UNIT_ID: usize = 1024;

/// The largest magnitude of a value `cha_experiment_record` accepts; a
/// larger one is CHA_ERR_INVALID_ARGUMENT. Totals of up to 2^63 such values,
/// their squares and the variances built from them cannot overflow.
pub const CHA_MAX_VALUE_MAGNITUDE: f64 = 1e30;

// cbindgen puts only literals into the header, so the values are written
// again here; this keeps them equal to the engine's.
const _: () = assert!(CHA_MAX_UNIT_ID == crate::experiments::MAX_UNIT_ID);
const _: () = assert!(CHA_MAX_VALUE_MAGNITUDE == crate::experiments::MAX_MAGNITUDE);

/// Assigns `unit_id` to a variant of `experiment`: deterministic (the same
/// in every process and language) and sticky (a unit keeps its first variant
/// when the weights change later). **Exposes** the unit: its exposure is
/// logged once, in the background, and it counts in the analysis from then
/// on (exposed units without observations count as 0 for sum, count and
/// proportion metrics). To look without exposing, use `cha_experiment_peek`.
/// In memory only.
///
/// `*out_variant` receives the variant name, owned by the handle and valid
/// until `cha_close` (do not free it), or NULL when the unit gets no variant:
/// the experiment is not running, is paused and the unit is new, or the unit
/// is outside its coverage (`cha_experiment_assignment` says which).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND
/// (no such experiment), CHA_ERR_INVALID_ARGUMENT (empty or over-long unit id).
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_variant` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_assign(
    h: *mut cha_handle,
    experiment: *const c_char,
    unit_id: *const c_char,
    out_variant: *mut *const c_char,
) -> cha_status {
    guard("cha_experiment_assign", || unsafe {
        // SAFETY: forwarded contract.
        variant_out(h, experiment, unit_id, out_variant, Exposure::Expose)
    })
}

/// The variant `cha_experiment_assign` would give `unit_id` now, sticky pins
/// included, **without exposing** it: nothing is logged or written, so an
/// operator's or a dashboard's check never changes the analysis.
///
/// `*out_variant` is as for `cha_experiment_assign` (owned by the handle,
/// valid until `cha_close`; NULL when the unit would get no variant).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND
/// (no such experiment), CHA_ERR_INVALID_ARGUMENT (empty or over-long unit id).
///
/// # Safety
/// As for `cha_experiment_assign`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_peek(
    h: *const cha_handle,
    experiment: *const c_char,
    unit_id: *const c_char,
    out_variant: *mut *const c_char,
) -> cha_status {
    guard("cha_experiment_peek", || unsafe {
        // SAFETY: forwarded contract.
        variant_out(h, experiment, unit_id, out_variant, Exposure::Peek)
    })
}

/// The body of `cha_experiment_assign` and `cha_experiment_peek`.
///
/// # Safety
/// As for `cha_experiment_assign`.
#[inline(always)]
unsafe fn variant_out(
    h: *const cha_handle,
    experiment: *const c_char,
    unit_id: *const c_char,
    out_variant: *mut *const c_char,
    exposure: Exposure,
) -> crate::error::Result<()> {
    // SAFETY (all): forwarded contract.
    let h = unsafe { ref_arg(h, "h") }?;
    let experiment = unsafe { str_arg(experiment, "experiment") }?;
    let unit = unsafe { str_arg(unit_id, "unit_id") }?;
    out_arg(out_variant, "out_variant")?;
    let variant = h
        .cha
        .assign_with(experiment, unit, exposure, |_, variant, _| {
            variant.map_or(std::ptr::null(), |(_, v)| v.c_name.as_ptr())
        })?;
    // SAFETY: checked non-NULL; the name lives in the handle's interner.
    unsafe { *out_variant = variant };
    Ok(())
}

/// `cha_experiment_assign` with the details, as JSON:
/// `{"experiment","unit","variant","reason","configuration"}`; reasons
/// ASSIGNED, STICKY, NOT_RUNNING, PAUSED, OUTSIDE_COVERAGE; `configuration`
/// is the variant's payload from ab_tests.yml. **Exposes** the unit, as
/// `cha_experiment_assign` does. Free `*out_json` with `cha_string_free`.
///
/// # Safety
/// As for `cha_experiment_assign`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_assignment(
    h: *mut cha_handle,
    experiment: *const c_char,
    unit_id: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_assignment", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let unit = unsafe { str_arg(unit_id, "unit_id") }?;
        unsafe { json_out(h, out_json, |cha| cha.assignment(experiment, unit)) }
    })
}

/// `cha_experiment_peek` with the details, as the JSON of
/// `cha_experiment_assignment`; **never exposes** the unit and writes
/// nothing. Free `*out_json` with `cha_string_free`.
///
/// Errors: as `cha_experiment_peek`.
///
/// # Safety
/// As for `cha_experiment_assign`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_peek_assignment(
    h: *const cha_handle,
    experiment: *const c_char,
    unit_id: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_peek_assignment", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let unit = unsafe { str_arg(unit_id, "unit_id") }?;
        unsafe { json_out(h, out_json, |cha| cha.peek_assignment(experiment, unit)) }
    })
}

/// Records `value` of `metric` for `unit_id` in `experiment`. The unit is
/// assigned (and exposed) as by `cha_experiment_assign`; a unit's several
/// values of a metric combine by the metric's aggregation (mean, sum, count,
/// proportion) into its one value. Buffered; persisted within
/// flush_interval_ms or by `cha_flush`.
///
/// **Exposes** the unit, as `cha_experiment_assign` does.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND
/// (experiment or metric), CHA_ERR_INVALID_ARGUMENT (NaN or infinite value,
/// a magnitude above CHA_MAX_VALUE_MAGNITUDE, bad unit id, a unit without a
/// variant).
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_record(
    h: *mut cha_handle,
    experiment: *const c_char,
    unit_id: *const c_char,
    metric: *const c_char,
    value: f64,
) -> cha_status {
    guard("cha_experiment_record", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let unit = unsafe { str_arg(unit_id, "unit_id") }?;
        let metric = unsafe { str_arg(metric, "metric") }?;
        h.cha.record(experiment, unit, metric, value)
    })
}

/// Every stored experiment as a JSON array of
/// `{"definition","version","updated_at_ms","updated_by"}`. Free `*out_json`
/// with `cha_string_free`.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_list(
    h: *const cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_experiment_list", || unsafe {
        json_out(h, out_json, |cha| cha.experiments())
    })
}

/// The stored `experiment` as JSON:
/// `{"definition","version","updated_at_ms","updated_by"}`. Free `*out_json`
/// with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND.
///
/// # Safety
/// `h` is NULL or an open handle; `experiment` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_get(
    h: *const cha_handle,
    experiment: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_get", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        unsafe { json_out(h, out_json, |cha| cha.experiment(experiment)) }
    })
}

/// Every archived experiment (removed from the config files; its
/// exposures and observations kept, so analysis and export still work) as
/// a JSON array of `{"definition","version","archived_at_ms","archived_by"}`.
/// Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_STORAGE.
///
/// # Safety
/// `h` is NULL or an open handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_list_archived(
    h: *const cha_handle,
    out_json: *mut *mut c_char,
) -> cha_status {
    // SAFETY: forwarded contract.
    guard("cha_experiment_list_archived", || unsafe {
        json_out(h, out_json, |cha| cha.archived_experiments())
    })
}

/// Brings the archived `experiment` back, with its history and data, as a
/// new version recorded under `actor`: the explicit step a deployment whose
/// files name an archived test again asks for. Writes the experiment as
/// `cha_experiment_get` gives it to `*out_json` (free with
/// `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND
/// (not archived), CHA_ERR_INVALID_ARGUMENT (the test is live, or an empty
/// actor), CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_restore(
    h: *mut cha_handle,
    experiment: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_restore", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let actor = unsafe { str_arg(actor, "actor") }?;
        unsafe { json_out(h, out_json, |cha| cha.restore_experiment(experiment, actor)) }
    })
}

/// Sets the status of `experiment` to `status` ("draft", "running",
/// "paused", "stopped", "completed"), recorded under `actor`. Writes the
/// updated experiment as JSON to `*out_json` (free with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND,
/// CHA_ERR_INVALID_ARGUMENT (unknown status, or leaving "completed"),
/// CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_set_status(
    h: *mut cha_handle,
    experiment: *const c_char,
    status: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_set_status", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let status_text = unsafe { str_arg(status, "status") }?;
        let actor = unsafe { str_arg(actor, "actor") }?;
        let status: ExperimentStatus = serde_json::from_value(serde_json::Value::String(
            status_text.into(),
        ))
        .map_err(|_| {
            Error::invalid_argument(format!(
                "status `{status_text}` is not one of draft, running, paused, stopped, completed"
            ))
        })?;
        unsafe {
            json_out(h, out_json, |cha| {
                cha.set_experiment_status(experiment, status, actor)
            })
        }
    })
}

/// Analyses `experiment` (`analyze_test_results`) with the default options
/// (Holm correction, fixed-horizon tests): per metric and variant against
/// control, n, mean, variance, Welch t-test with CI, relative lift with a
/// delta-method CI, Cohen's d, Hedges' g, power and units still needed; the
/// sample-ratio check; and a conclusion with its reasons. Cost does not grow
/// with the number of observations. Free `*out_json` with `cha_string_free`.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND,
/// CHA_ERR_STORAGE, CHA_ERR_BUSY.
///
/// # Safety
/// `h` is NULL or an open handle; `experiment` is NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_analyze(
    h: *mut cha_handle,
    experiment: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_analyze", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        unsafe {
            json_out(h, out_json, |cha| {
                cha.analyze_experiment(experiment, AnalysisOptions::default())
            })
        }
    })
}

/// `cha_experiment_analyze` with options as JSON (NULL for the defaults):
/// `{"correction": "holm" | "bh" | "none", "sequential": true,
/// "mixture_variance": {"metric": tau2}, "phases": "latest" | "all" |
/// [1, 2]}` (the names of Python's keyword arguments and of the CLI's
/// flags; `"benjamini_hochberg"` is read as `"bh"`). `phases` chooses the
/// phases the estimates use (default: the latest with the minimum sample
/// size in every variant). An unknown option, or a phase the experiment
/// does not have, is CHA_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// As for `cha_experiment_analyze`; `options_json` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_analyze_with_options(
    h: *mut cha_handle,
    experiment: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_analyze_with_options", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let options = unsafe { analysis_options(options_json) }?;
        unsafe {
            json_out(h, out_json, |cha| {
                cha.analyze_experiment(experiment, options)
            })
        }
    })
}

/// Units each variant of `experiment` needs for `metric` given its
/// unit-level `baseline_mean` and `baseline_sd`, at the metric's MDE and
/// power, planned as the analysis decides with its default options (Holm):
/// at the family's level divided by its comparisons (a guardrail at its own
/// level), every arm at its configured share of the traffic
/// (statsmodels TTestIndPower.solve_power). Writes `{"per_variant",
/// "per_treatment_variant","total","nobs1","effect_size",...,"arms",
/// "level"}` to `*out_json` (free with `cha_string_free`).
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND,
/// CHA_ERR_INVALID_ARGUMENT (sd ≤ 0, mean 0, NaN).
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_plan(
    h: *const cha_handle,
    experiment: *const c_char,
    metric: *const c_char,
    baseline_mean: f64,
    baseline_sd: f64,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_plan", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let metric = unsafe { str_arg(metric, "metric") }?;
        unsafe {
            json_out(h, out_json, |cha| {
                cha.plan_experiment(
                    experiment,
                    metric,
                    baseline_mean,
                    baseline_sd,
                    Correction::default(),
                )
            })
        }
    })
}

/// `cha_experiment_plan` with the analysis options as JSON (NULL for the
/// defaults): the plan is made for the `correction` the analysis will use
/// (`"holm"`, `"bh"` or `"none"`); the other options of
/// `cha_experiment_analyze_with_options` are accepted and do not change
/// the plan. An unknown option is CHA_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// As for `cha_experiment_plan`; `options_json` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_plan_with_options(
    h: *const cha_handle,
    experiment: *const c_char,
    metric: *const c_char,
    baseline_mean: f64,
    baseline_sd: f64,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cha_status {
    guard("cha_experiment_plan_with_options", || {
        // SAFETY (all): forwarded contract.
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let metric = unsafe { str_arg(metric, "metric") }?;
        let options = unsafe { analysis_options(options_json) }?;
        unsafe {
            json_out(h, out_json, |cha| {
                cha.plan_experiment(
                    experiment,
                    metric,
                    baseline_mean,
                    baseline_sd,
                    options.correction,
                )
            })
        }
    })
}

/// The analysis options of `options_json`, or the defaults for NULL.
///
/// # Safety
/// `options_json` is NULL or NUL-terminated.
unsafe fn analysis_options(options_json: *const c_char) -> crate::error::Result<AnalysisOptions> {
    // SAFETY: forwarded contract.
    match unsafe { opt_json_arg(options_json, "options_json") }? {
        Some(text) => serde_json::from_str::<AnalysisOptions>(text)
            .map_err(|e| Error::invalid_argument(format!("analysis options: {e}"))),
        None => Ok(AnalysisOptions::default()),
    }
}

/// Writes every raw observation of `experiment` to the file `path` as CSV
/// (header `id,unit,variant,metric,value,at_ms`; the file is created or
/// replaced once the export is complete, never left truncated), for
/// re-analysis elsewhere, and the row count to `*out_rows`.
/// Buffered records are flushed first.
///
/// Errors: CHA_ERR_NULL_ARGUMENT, CHA_ERR_INVALID_UTF8, CHA_ERR_NOT_FOUND,
/// CHA_ERR_STORAGE (including a file that cannot be written).
///
/// # Safety
/// `h` is NULL or an open handle; strings are NULL or NUL-terminated;
/// `out_rows` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cha_experiment_export(
    h: *mut cha_handle,
    experiment: *const c_char,
    path: *const c_char,
    out_rows: *mut u64,
) -> cha_status {
    guard("cha_experiment_export", || {
        // SAFETY (all): forwarded contract.
        let h = unsafe { ref_arg(h, "h") }?;
        let experiment = unsafe { str_arg(experiment, "experiment") }?;
        let path = unsafe { str_arg(path, "path") }?;
        out_arg(out_rows, "out_rows")?;
        let rows = h
            .cha
            .export_observations_to_file(experiment, std::path::Path::new(path))?;
        // SAFETY: checked non-NULL.
        unsafe { *out_rows = rows };
        Ok(())
    })
}
