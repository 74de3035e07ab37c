//! The C ABI driven by arbitrary call sequences, as a C program would call
//! it: every string argument may be NULL, a known name, or arbitrary bytes
//! (invalid UTF-8 and control characters included); numbers are arbitrary
//! (NaN, infinities, denormals, extremes). Each input runs on a fresh copy
//! of a database with the shipped configuration deployed.
//!
//! What must hold: no crash and no sanitizer report; no call answers
//! CHA_ERR_INTERNAL (a caught panic, which is a bug); every failed call
//! leaves a message naming the function, of bounded length; a closed
//! handle is refused rather than used.
#![no_main]

use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use cha_deploy::ffi::*;
use libfuzzer_sys::fuzz_target;

/// Names that exist in the shipped configuration, so that sequences get
/// past the lookups and reach the code behind them.
const NAMES: &[&str] = &[
    "intelligent_pipe_sizing",
    "flow_based_calculation",
    "network_analysis",
    "new_ui",
    "pipe_sizing_comparison",
    "flow_calculation_comparison",
    "pipe_cost_efficiency",
    "sizing_time_ms",
    "pipe_sizing_time_ms",
    "traditional",
    "intelligent",
    "planner-042",
    "beta_testers",
    "ops",
    "bug_report",
    "acknowledged",
    "resolved",
    "running",
    "paused",
    "stopped",
    "html",
    "md",
    "json",
    "openmetrics",
    "counter",
    "gauge",
    "timer",
    "histogram",
    r#"{"user_id": "planner-042", "groups": ["beta_testers"]}"#,
    r#"{"percentage": 50}"#,
    r#"{"type": "bug_report", "text": "Pressure drop too high", "user_id": "u1"}"#,
    r#"{"type": "satisfaction_survey", "text": "fine", "user_id": "u2", "rating": 5}"#,
    r#"{"network": "north"}"#,
    r#"{"on_drift": "overwrite"}"#,
    r#"{"correction": "bh", "sequential": true}"#,
    r#"{"status": "acknowledged", "actor": "ops"}"#,
    "{}",
];

/// A string argument as C could pass it.
#[derive(Debug, Arbitrary)]
enum Text<'a> {
    Null,
    Name(u8),
    Bytes(&'a [u8]),
}

/// Keeps the C strings of one call alive while the call runs.
#[derive(Default)]
struct Args(Vec<CString>);

impl Args {
    fn ptr(&mut self, text: &Text<'_>) -> *const c_char {
        let bytes: &[u8] = match text {
            Text::Null => return ptr::null(),
            Text::Name(i) => NAMES[usize::from(*i) % NAMES.len()].as_bytes(),
            Text::Bytes(b) => b,
        };
        // C strings end at the first NUL.
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        self.0
            .push(CString::new(&bytes[..end]).expect("no NUL before end"));
        self.0.last().expect("just pushed").as_ptr()
    }
}

#[derive(Debug, Arbitrary)]
enum Call<'a> {
    FlagEnabled(Text<'a>, Text<'a>, Vec<Text<'a>>),
    FlagLookupEnabled(Text<'a>, u32, Text<'a>),
    FlagEvaluate(Text<'a>, Text<'a>),
    FlagUpdate(Text<'a>, Text<'a>, Text<'a>),
    FlagChange(Text<'a>, Text<'a>, Text<'a>),
    FlagGet(Text<'a>),
    FlagList,
    FlagHistory(Text<'a>),
    FlagRestore(Text<'a>, i64, Text<'a>),
    FlagPause(Text<'a>, Text<'a>, Text<'a>),
    FlagResume(Text<'a>, Text<'a>),
    GuardrailsCheck(i64),
    Assign(Text<'a>, Text<'a>),
    Peek(Text<'a>, Text<'a>),
    Assignment(Text<'a>, Text<'a>),
    Record(Text<'a>, Text<'a>, Text<'a>, f64),
    ExperimentGet(Text<'a>),
    ExperimentList,
    ExperimentSetStatus(Text<'a>, Text<'a>, Text<'a>),
    Analyze(Text<'a>, Text<'a>),
    Plan(Text<'a>, Text<'a>, f64, f64, Text<'a>),
    Metric(u8, Text<'a>, f64, Text<'a>),
    MetricAt(Text<'a>, Text<'a>, f64, Text<'a>, i64),
    AlertsEvaluate(i64),
    AlertsList(i64, i64, bool, u32),
    AlertsHistory(Text<'a>, i64, i64, u32),
    AlertAcknowledge(i64, Text<'a>),
    PerformanceReport(i64, i64),
    FlagUsage(i64, i64),
    MetricsExport(Text<'a>),
    MetricsList,
    FeedbackSubmit(Text<'a>),
    FeedbackGet(i64),
    FeedbackList(Text<'a>),
    FeedbackSetStatus(i64, Text<'a>, Text<'a>),
    FeedbackTransition(i64, Text<'a>),
    FeedbackMerge(i64, i64, Text<'a>),
    FeedbackAnalyze(i64, i64, Text<'a>),
    DeployPlan(Text<'a>),
    DeployAll(Text<'a>),
    DeployStatus,
    DeployExport,
    DeployHistory(u32),
    DeployGet(i64),
    DeployReport(Text<'a>),
    Rollback(i64, Text<'a>),
    BackupList,
    BackupRestore(Text<'a>, Text<'a>),
    Flush,
    /// Closes the handle, uses it (refused), closes it again (a no-op),
    /// then opens the database again.
    CloseAndReopen,
}

/// A database with the shipped configuration deployed, made once; each
/// input starts from a copy of it.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let db = cha_deploy_fuzz::scratch().join("template.db");
        let cha = cha_deploy::Cha::open(&db).expect("the template opens");
        cha.deploy_all(configs(), "fuzz")
            .expect("the shipped configs deploy");
        cha.close().expect("the template closes");
        db
    })
}

fn configs() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../configs")
}

const OPTIONS: &CStr = c"{\"refresh_interval_ms\": 60000, \"flush_interval_ms\": 60000}";

fn open(db: &CStr) -> *mut cha_handle {
    let mut h = ptr::null_mut();
    // SAFETY: valid strings and out-pointer.
    let status = unsafe { cha_open_with_options(db.as_ptr(), OPTIONS.as_ptr(), &mut h) };
    assert_eq!(status, CHA_OK, "{}", last_error());
    h
}

fn last_error() -> String {
    let p = cha_last_error_message();
    if p.is_null() {
        return "(no message)".into();
    }
    // SAFETY: the library's thread-local message.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// What every status must satisfy.
fn check(function: &str, status: cha_status) {
    if status == CHA_OK {
        return;
    }
    let message = last_error();
    assert_ne!(status, CHA_ERR_INTERNAL, "{function}: a panic: {message}");
    assert!(
        message.starts_with(function),
        "{function} failed ({status}) with a message not naming it: {message}"
    );
    assert!(
        message.len() <= 64 * 1024,
        "{function}: a message of {} bytes",
        message.len()
    );
}

/// Frees an owned string result, if the call gave one.
fn free(s: *mut c_char) {
    // SAFETY: NULL or a string from the library, freed once.
    unsafe { cha_string_free(s) }
}

fuzz_target!(|calls: Vec<Call<'_>>| {
    let template = template();
    let db = cha_deploy_fuzz::scratch().join("run.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(template, &db).expect("the template copied");
    let db_c = CString::new(db.to_str().expect("a UTF-8 path")).expect("no NUL");
    let mut h = open(&db_c);
    let configs_c = CString::new(configs()).expect("no NUL");

    for call in calls.iter().take(64) {
        let mut a = Args::default();
        let mut out: *mut c_char = ptr::null_mut();
        // SAFETY (all calls): `h` is an open handle, strings are NULL or
        // NUL-terminated and outlive the call, out-pointers are valid.
        unsafe {
            match call {
                Call::FlagEnabled(flag, user, groups) => {
                    let (f, u) = (a.ptr(flag), a.ptr(user));
                    let g: Vec<*const c_char> = groups.iter().take(40).map(|t| a.ptr(t)).collect();
                    let mut on = false;
                    let s = cha_flag_enabled(h, f, u, g.as_ptr(), g.len(), &mut on);
                    check("cha_flag_enabled", s);
                }
                Call::FlagLookupEnabled(flag, offset, user) => {
                    let mut id = 0u32;
                    let s = cha_flag_lookup(h, a.ptr(flag), &mut id);
                    check("cha_flag_lookup", s);
                    let mut on = false;
                    let id = id.wrapping_add(*offset % 3);
                    let s = cha_flag_enabled_id(h, id, a.ptr(user), ptr::null(), 0, &mut on);
                    check("cha_flag_enabled_id", s);
                }
                Call::FlagEvaluate(flag, context) => {
                    let s = cha_flag_evaluate(h, a.ptr(flag), a.ptr(context), &mut out);
                    check("cha_flag_evaluate", s);
                }
                Call::FlagUpdate(flag, updates, actor) => {
                    let s = cha_flag_update(h, a.ptr(flag), a.ptr(updates), a.ptr(actor));
                    check("cha_flag_update", s);
                }
                Call::FlagChange(flag, updates, actor) => {
                    let s = cha_flag_change(h, a.ptr(flag), a.ptr(updates), a.ptr(actor), &mut out);
                    check("cha_flag_change", s);
                }
                Call::FlagGet(flag) => {
                    check("cha_flag_get", cha_flag_get(h, a.ptr(flag), &mut out))
                }
                Call::FlagList => check("cha_flag_list", cha_flag_list(h, &mut out)),
                Call::FlagHistory(flag) => check(
                    "cha_flag_history",
                    cha_flag_history(h, a.ptr(flag), &mut out),
                ),
                Call::FlagRestore(flag, version, actor) => {
                    let s = cha_flag_restore(h, a.ptr(flag), *version, a.ptr(actor), &mut out);
                    check("cha_flag_restore", s);
                }
                Call::FlagPause(flag, reason, actor) => {
                    let s = cha_flag_pause_rollout(
                        h,
                        a.ptr(flag),
                        a.ptr(reason),
                        a.ptr(actor),
                        &mut out,
                    );
                    check("cha_flag_pause_rollout", s);
                }
                Call::FlagResume(flag, actor) => {
                    let s = cha_flag_resume_rollout(h, a.ptr(flag), a.ptr(actor), &mut out);
                    check("cha_flag_resume_rollout", s);
                }
                Call::GuardrailsCheck(now) => check(
                    "cha_guardrails_check",
                    cha_guardrails_check(h, *now, &mut out),
                ),
                Call::Assign(experiment, unit) => {
                    let mut variant: *const c_char = ptr::null();
                    let s = cha_experiment_assign(h, a.ptr(experiment), a.ptr(unit), &mut variant);
                    check("cha_experiment_assign", s);
                }
                Call::Peek(experiment, unit) => {
                    let mut variant: *const c_char = ptr::null();
                    let s = cha_experiment_peek(h, a.ptr(experiment), a.ptr(unit), &mut variant);
                    check("cha_experiment_peek", s);
                }
                Call::Assignment(experiment, unit) => {
                    let s = cha_experiment_assignment(h, a.ptr(experiment), a.ptr(unit), &mut out);
                    check("cha_experiment_assignment", s);
                }
                Call::Record(experiment, unit, metric, value) => {
                    let s = cha_experiment_record(
                        h,
                        a.ptr(experiment),
                        a.ptr(unit),
                        a.ptr(metric),
                        *value,
                    );
                    check("cha_experiment_record", s);
                }
                Call::ExperimentGet(experiment) => {
                    let s = cha_experiment_get(h, a.ptr(experiment), &mut out);
                    check("cha_experiment_get", s);
                }
                Call::ExperimentList => {
                    check("cha_experiment_list", cha_experiment_list(h, &mut out))
                }
                Call::ExperimentSetStatus(experiment, status, actor) => {
                    let s = cha_experiment_set_status(
                        h,
                        a.ptr(experiment),
                        a.ptr(status),
                        a.ptr(actor),
                        &mut out,
                    );
                    check("cha_experiment_set_status", s);
                }
                Call::Analyze(experiment, options) => {
                    let s = cha_experiment_analyze_with_options(
                        h,
                        a.ptr(experiment),
                        a.ptr(options),
                        &mut out,
                    );
                    check("cha_experiment_analyze_with_options", s);
                }
                Call::Plan(experiment, metric, mean, sd, options) => {
                    let s = cha_experiment_plan_with_options(
                        h,
                        a.ptr(experiment),
                        a.ptr(metric),
                        *mean,
                        *sd,
                        a.ptr(options),
                        &mut out,
                    );
                    check("cha_experiment_plan_with_options", s);
                }
                Call::Metric(kind, name, value, tags) => {
                    let (n, t) = (a.ptr(name), a.ptr(tags));
                    match kind % 4 {
                        0 => check("cha_metric_record", cha_metric_record(h, n, *value, t)),
                        1 => check(
                            "cha_metric_record_timer",
                            cha_metric_record_timer(h, n, *value, t),
                        ),
                        2 => check(
                            "cha_metric_increment",
                            cha_metric_increment(h, n, *value, t),
                        ),
                        _ => check("cha_metric_gauge", cha_metric_gauge(h, n, *value, t)),
                    }
                }
                Call::MetricAt(kind, name, value, tags, at) => {
                    let s =
                        cha_metric_record_at(h, a.ptr(kind), a.ptr(name), *value, a.ptr(tags), *at);
                    check("cha_metric_record_at", s);
                }
                Call::AlertsEvaluate(now) => check(
                    "cha_alerts_evaluate",
                    cha_alerts_evaluate(h, *now, &mut out),
                ),
                Call::AlertsList(start, end, firing, limit) => {
                    let s = cha_alerts_list(h, *start, *end, *firing, *limit, &mut out);
                    check("cha_alerts_list", s);
                }
                Call::AlertsHistory(rule, start, end, limit) => {
                    let s = cha_alerts_history(h, a.ptr(rule), *start, *end, *limit, &mut out);
                    check("cha_alerts_history", s);
                }
                Call::AlertAcknowledge(id, actor) => {
                    let s = cha_alert_acknowledge(h, *id, a.ptr(actor), &mut out);
                    check("cha_alert_acknowledge", s);
                }
                Call::PerformanceReport(start, end) => {
                    let s = cha_performance_report(h, *start, *end, &mut out);
                    check("cha_performance_report", s);
                }
                Call::FlagUsage(start, end) => {
                    check("cha_flag_usage", cha_flag_usage(h, *start, *end, &mut out))
                }
                Call::MetricsExport(format) => check(
                    "cha_metrics_export",
                    cha_metrics_export(h, a.ptr(format), &mut out),
                ),
                Call::MetricsList => check("cha_metrics_list", cha_metrics_list(h, &mut out)),
                Call::FeedbackSubmit(json) => {
                    let mut id = 0i64;
                    check(
                        "cha_feedback_submit",
                        cha_feedback_submit(h, a.ptr(json), &mut id),
                    );
                }
                Call::FeedbackGet(id) => {
                    check("cha_feedback_get", cha_feedback_get(h, *id % 8, &mut out))
                }
                Call::FeedbackList(query) => check(
                    "cha_feedback_list",
                    cha_feedback_list(h, a.ptr(query), &mut out),
                ),
                Call::FeedbackSetStatus(id, status, actor) => {
                    let s = cha_feedback_set_status(h, *id % 8, a.ptr(status), a.ptr(actor));
                    check("cha_feedback_set_status", s);
                }
                Call::FeedbackTransition(id, change) => {
                    let s = cha_feedback_transition(h, *id % 8, a.ptr(change), &mut out);
                    check("cha_feedback_transition", s);
                }
                Call::FeedbackMerge(id, into, actor) => {
                    let s = cha_feedback_merge(h, *id % 8, *into % 8, a.ptr(actor));
                    check("cha_feedback_merge", s);
                }
                Call::FeedbackAnalyze(start, end, options) => {
                    let s = cha_feedback_analyze_with_options(
                        h,
                        *start,
                        *end,
                        a.ptr(options),
                        &mut out,
                    );
                    check("cha_feedback_analyze_with_options", s);
                }
                Call::DeployPlan(options) => {
                    let s = cha_deploy_plan(h, configs_c.as_ptr(), a.ptr(options), &mut out);
                    check("cha_deploy_plan", s);
                }
                Call::DeployAll(options) => {
                    let s = cha_deploy_all_with_options(
                        h,
                        configs_c.as_ptr(),
                        a.ptr(options),
                        &mut out,
                    );
                    check("cha_deploy_all_with_options", s);
                }
                Call::DeployStatus => check("cha_deploy_status", cha_deploy_status(h, &mut out)),
                Call::DeployExport => check("cha_deploy_export", cha_deploy_export(h, &mut out)),
                Call::DeployHistory(limit) => check(
                    "cha_deploy_history",
                    cha_deploy_history(h, *limit, &mut out),
                ),
                Call::DeployGet(id) => check("cha_deploy_get", cha_deploy_get(h, *id, &mut out)),
                Call::DeployReport(format) => {
                    // The report itself, never a file: arbitrary paths stay out.
                    let s = cha_deploy_report(h, a.ptr(format), ptr::null(), &mut out);
                    check("cha_deploy_report", s);
                }
                Call::Rollback(id, options) => {
                    let s = cha_deploy_rollback_with_options(h, *id % 4, a.ptr(options), &mut out);
                    check("cha_deploy_rollback_with_options", s);
                }
                Call::BackupList => check("cha_backup_list", cha_backup_list(h, &mut out)),
                Call::BackupRestore(name, actor) => {
                    let s = cha_backup_restore(h, a.ptr(name), a.ptr(actor), &mut out);
                    check("cha_backup_restore", s);
                }
                Call::Flush => check("cha_flush", cha_flush(h)),
                Call::CloseAndReopen => {
                    cha_close(h);
                    // The handle is closed: a call on it is refused, and a
                    // second close changes nothing.
                    let mut on = false;
                    let s = cha_flag_enabled(
                        h,
                        c"new_ui".as_ptr(),
                        ptr::null(),
                        ptr::null(),
                        0,
                        &mut on,
                    );
                    assert_eq!(s, CHA_ERR_INVALID_ARGUMENT, "{}", last_error());
                    cha_close(h);
                    h = open(&db_c);
                }
            }
        }
        free(out);
    }
    // SAFETY: open, and used by no other thread.
    unsafe { cha_close(h) };
});
