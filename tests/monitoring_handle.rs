//! Performance monitoring through the handle: recording (and what bad
//! input records: nothing), windows and their retention, threshold rules
//! deployed from performance_monitoring.yml, the alert life cycle driven by
//! an injected clock (pending, firing, escalation, recovery with
//! hysteresis, no data, a restart), callbacks, reports, the OpenMetrics
//! export and flag usage.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cha_deploy::flags::Context;
use cha_deploy::monitoring::{MetricKind, Severity};
use cha_deploy::{AlertQuery, Cha, ErrorKind, OpenOptions};

// Counts allocations of the current thread only.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// A minute- and hour-aligned instant in the future, so that the
/// background thread's retention (relative to the real clock) never
/// touches the test's windows.
const T0: i64 = 1_900_000_800_000;
const MIN: i64 = 60_000;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cha-mon-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("cha.db")
    }
    /// A config dir holding performance_monitoring.yml with `text`.
    fn config(&self, text: &str) -> PathBuf {
        let dir = self.0.join("configs");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("performance_monitoring.yml"), text).unwrap();
        dir
    }
    /// A handle whose background thread does not evaluate: the test is the clock.
    fn open(&self) -> Cha {
        Cha::open_with_options(
            self.db(),
            OpenOptions {
                evaluate_alerts: false,
                ..OpenOptions::default()
            },
        )
        .unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const RULES: &str = "\
thresholds:
  - metric_name: solve_time_ms
    aggregation: max
    comparison_operator: greater_than
    warning_threshold: 1000
    error_threshold: 5000
    critical_threshold: 10000
    recovery_threshold: 800
    window_size_minutes: 1
    evaluation_interval_seconds: 60
    for_seconds: 120
  - metric_name: heartbeat
    aggregation: last
    comparison_operator: less_than
    warning_threshold: 1
    window_size_minutes: 1
    evaluation_interval_seconds: 60
    no_data: critical
";

#[test]
fn bad_input_is_a_clear_error_and_records_nothing() {
    let s = Scratch::new("bad");
    let cha = s.open();
    type Call<'a> = Box<dyn Fn() -> cha_deploy::Result<()> + 'a>;
    let cases: [(Call<'_>, &str); 8] = [
        (
            Box::new(|| cha.record_timer("t_ms", f64::NAN, None)),
            "is not a finite number",
        ),
        (
            Box::new(|| cha.record_timer("t_ms", -0.5, None)),
            "a duration in seconds cannot be negative (-0.5)",
        ),
        (
            Box::new(|| cha.increment("c", -1.0, None)),
            "an increment cannot be negative",
        ),
        (
            Box::new(|| cha.gauge("g", f64::INFINITY, None)),
            "is not a finite number",
        ),
        (
            Box::new(|| cha.record_metric("h", 1.0, Some("[1, 2]"))),
            "tags must be a JSON object",
        ),
        (
            Box::new(|| cha.record_metric("h", 1.0, Some("{\"a\": "))),
            "tags are not valid JSON",
        ),
        (
            Box::new(|| cha.record_metric("h", 1.0, Some("{\"a\": [1]}"))),
            "tag `a` is a list",
        ),
        (
            Box::new(|| cha.record_metric("pipe.time", 1.0, None)),
            "contains `.`",
        ),
    ];
    for (call, message) in &cases {
        let e = call().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains(message), "{e} lacks {message}");
    }
    cha.gauge("level", 3.0, None).unwrap();
    let e = cha.increment("level", 1.0, None).unwrap_err();
    assert_eq!(
        e.message(),
        "metric `level` is a gauge, not a counter; record it as a gauge or choose another name; nothing was recorded"
    );
    let series = cha.metric_series().unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!((series[0].metric.as_str(), series[0].count), ("level", 1));
}

#[test]
fn the_series_limit_names_the_metric() {
    let s = Scratch::new("limit");
    let cha = Cha::open_with_options(
        s.db(),
        OpenOptions {
            metric_series_limit: 3,
            evaluate_alerts: false,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    for net in ["a", "b", "c"] {
        cha.record_metric("pipes", 1.0, Some(&format!("{{\"network\": \"{net}\"}}")))
            .unwrap();
    }
    // The same tags spelled otherwise are the same series.
    cha.record_metric("pipes", 1.0, Some("{ \"network\" : \"a\" }"))
        .unwrap();
    let e = cha
        .record_metric("pipes", 1.0, Some("{\"network\": \"d\"}"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.message()
            .starts_with("metric `pipes`: the limit of 3 distinct series"),
        "{e}"
    );
    assert_eq!(cha.metric_series_count(), 3);
    let series = cha.metric_series().unwrap();
    assert_eq!(series.iter().map(|s| s.count).sum::<u64>(), 4);
}

#[test]
fn a_repeated_record_allocates_nothing() {
    let s = Scratch::new("alloc");
    let cha = s.open();
    let tags = Some("{\"network\": \"north\", \"method\": \"intelligent\"}");
    for i in 0..100 {
        cha.record_metric_at(MetricKind::Timer, "pipe_sizing_time_ms", 0.5, tags, T0 + i)
            .unwrap();
        cha.record_metric_at(MetricKind::Counter, "sizings", 1.0, None, T0 + i)
            .unwrap();
    }
    let before = allocations();
    for i in 0..10_000 {
        let v = 0.2 + (i % 100) as f64 * 0.01;
        cha.record_metric_at(MetricKind::Timer, "pipe_sizing_time_ms", v, tags, T0 + i)
            .unwrap();
        cha.record_metric_at(MetricKind::Counter, "sizings", 1.0, None, T0 + i)
            .unwrap();
    }
    assert_eq!(allocations() - before, 0);
}

#[test]
fn timers_are_stored_in_ms_and_reports_come_from_windows() {
    let s = Scratch::new("report");
    let cha = s.open();
    // 1..=100 ms in each of the two minutes of the range; half as much in
    // the minute before it (the previous range).
    for minute in 0..2 {
        for i in 1..=100 {
            let at = T0 + minute * MIN + i;
            cha.record_metric_at(
                MetricKind::Timer,
                "solve_time_ms",
                i as f64 / 1000.0,
                None,
                at,
            )
            .unwrap();
        }
    }
    for i in 1..=100 {
        cha.record_metric_at(
            MetricKind::Timer,
            "solve_time_ms",
            i as f64 / 2000.0,
            None,
            T0 - MIN + i * 10,
        )
        .unwrap();
    }
    let report = cha.performance_report(T0, T0 + 2 * MIN).unwrap();
    assert_eq!(
        (report.start_ms, report.end_ms, report.previous_start_ms),
        (T0, T0 + 2 * MIN, T0 - 2 * MIN)
    );
    let m = report
        .metrics
        .iter()
        .find(|m| m.metric == "solve_time_ms")
        .unwrap();
    assert_eq!(m.kind, MetricKind::Timer);
    assert_eq!(m.unit.as_deref(), Some("ms"));
    let st = &m.statistics;
    assert_eq!((st.count, st.min, st.max), (200, Some(1.0), Some(100.0)));
    assert!((st.mean.unwrap() - 50.5).abs() < 1e-9);
    assert!((st.sum - 10_100.0).abs() < 1e-6);
    // Sample sd of 1..=100 twice: sqrt(2 * 100 * (100² − 1) / 12 / 199).
    let sd = (2.0 * 100.0 * (100.0f64 * 100.0 - 1.0) / 12.0 / 199.0).sqrt();
    assert!((st.std_dev.unwrap() - sd).abs() < 1e-9);
    // Quantiles within 1% of the value of rank ⌊q (n − 1)⌋ of the sorted values.
    let mut sorted: Vec<f64> = (1..=100).chain(1..=100).map(f64::from).collect();
    sorted.sort_by(f64::total_cmp);
    for (q, got) in [(0.5, st.p50), (0.9, st.p90), (0.95, st.p95), (0.99, st.p99)] {
        let exact = sorted[(q * 199.0) as usize];
        assert!(
            (got.unwrap() - exact).abs() / exact <= 0.01,
            "q{q}: {got:?} vs {exact}"
        );
    }
    assert_eq!(st.median, st.p50);
    // Twice the mean of the previous range (25.25).
    assert!((m.trend.previous_mean.unwrap() - 25.25).abs() < 1e-9);
    assert!((m.trend.mean_change_percent.unwrap() - 100.0).abs() < 1e-9);
}

#[test]
fn the_shipped_config_deploys_with_the_others() {
    let s = Scratch::new("shipped");
    let cha = s.open();
    let configs = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
    let report = cha.deploy_all(configs, "ops").unwrap();
    let json = serde_json::to_value(&report).unwrap();
    let created = json["monitoring"]["created"].as_array().unwrap();
    // 23 rules and the settings.
    assert_eq!(created.len(), 24, "{json}");
    let rules = cha.alert_rules().unwrap();
    assert_eq!(rules.len(), 23);
    let metrics: std::collections::BTreeSet<&str> =
        rules.iter().map(|r| r.rule.metric_name.as_str()).collect();
    assert!(metrics.len() >= 20, "{metrics:?}");
    assert!(
        rules
            .iter()
            .all(|r| r.state == cha_deploy::monitoring::AlertState::Inactive)
    );
}

#[test]
fn an_unknown_operator_fails_the_deploy_with_its_place() {
    let s = Scratch::new("operator");
    let cha = s.open();
    let dir = s.config(&RULES.replace(
        "comparison_operator: less_than",
        "comparison_operator: below",
    ));
    let e = cha.deploy_all(&dir, "ops").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.message().contains(
            "performance_monitoring.yml:14:26: thresholds[1].comparison_operator: unknown comparison_operator `below` (hint: one of greater_than, greater_or_equal, less_than, less_or_equal, equal, not_equal)"
        ),
        "{e}"
    );
    assert!(cha.alert_rules().unwrap().is_empty());
}

/// Records one `solve_time_ms` sample (in ms) in minute `k` and evaluates
/// at half past that minute; returns (kind, severity) of the events.
fn step(
    cha: &Cha,
    k: i64,
    ms: Option<f64>,
    heartbeat: bool,
) -> Vec<(String, String, Option<Severity>)> {
    if let Some(ms) = ms {
        cha.record_metric_at(
            MetricKind::Timer,
            "solve_time_ms",
            ms / 1000.0,
            None,
            T0 + k * MIN + 1_000,
        )
        .unwrap();
    }
    if heartbeat {
        cha.record_metric_at(
            MetricKind::Gauge,
            "heartbeat",
            5.0,
            None,
            T0 + k * MIN + 2_000,
        )
        .unwrap();
    }
    cha.evaluate_alerts_at(T0 + k * MIN + 30_000)
        .unwrap()
        .into_iter()
        .map(|e| (e.rule, e.kind, e.severity))
        .collect()
}

fn ev(rule: &str, kind: &str, severity: Option<Severity>) -> (String, String, Option<Severity>) {
    (rule.to_string(), kind.to_string(), severity)
}

#[test]
fn alerts_go_pending_fire_escalate_and_recover_with_hysteresis_across_restarts() {
    use Severity::*;
    let s = Scratch::new("lifecycle");
    let dir = s.config(RULES);
    let cha = s.open();
    cha.deploy_all(&dir, "ops").unwrap();
    // No heartbeat at all: no data is critical for that rule, at once.
    assert_eq!(
        step(&cha, 0, Some(500.0), false),
        [ev("heartbeat", "firing", Some(Critical))]
    );
    // Rules are evaluated by name.
    assert_eq!(
        step(&cha, 1, Some(1200.0), true),
        [
            ev("heartbeat", "resolved", None),
            ev("solve_time_ms", "pending", Some(Warning)),
        ]
    );
    assert_eq!(step(&cha, 2, Some(1100.0), true), []);
    // A restart while pending keeps the `for` clock: 120 s after minute 1.
    cha.close().unwrap();
    let cha = s.open();
    assert_eq!(
        step(&cha, 3, Some(6000.0), true),
        [ev("solve_time_ms", "firing", Some(Error))]
    );
    assert_eq!(
        step(&cha, 4, Some(12_000.0), true),
        [ev("solve_time_ms", "escalated", Some(Critical))]
    );
    // Within the margin (200) of the critical threshold: still critical.
    assert_eq!(step(&cha, 5, Some(9_900.0), true), []);
    assert_eq!(
        step(&cha, 6, Some(9_000.0), true),
        [ev("solve_time_ms", "deescalated", Some(Error))]
    );
    assert_eq!(
        step(&cha, 7, Some(950.0), true),
        [ev("solve_time_ms", "deescalated", Some(Warning))]
    );
    // A restart while firing keeps the incident.
    cha.close().unwrap();
    let cha = s.open();
    let firing = cha
        .alerts(AlertQuery {
            firing_only: true,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(firing.len(), 1);
    assert_eq!(
        (firing[0].severity, firing[0].max_severity),
        (Warning, Critical)
    );
    // 810 is below warning but not past the recovery threshold 800.
    assert_eq!(step(&cha, 8, Some(810.0), true), []);
    assert_eq!(
        step(&cha, 9, Some(790.0), true),
        [ev("solve_time_ms", "resolved", None)]
    );
    // keep_state: no samples change nothing.
    assert_eq!(step(&cha, 10, None, true), []);

    let incidents = cha.alerts(AlertQuery::default()).unwrap();
    let solve = incidents
        .iter()
        .find(|a| a.rule == "solve_time_ms")
        .unwrap();
    assert_eq!(solve.state, "resolved");
    assert_eq!(
        (solve.started_at_ms, solve.fired_at_ms),
        (T0 + MIN + 30_000, T0 + 3 * MIN + 30_000)
    );
    assert_eq!(solve.resolved_at_ms, Some(T0 + 9 * MIN + 30_000));
    assert_eq!(solve.max_severity, Critical);
    let history = cha
        .alert_history(Some("solve_time_ms"), AlertQuery::default())
        .unwrap();
    let kinds: Vec<&str> = history.iter().rev().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "pending",
            "firing",
            "escalated",
            "deescalated",
            "deescalated",
            "resolved"
        ]
    );
    let beat = cha
        .alert_history(Some("heartbeat"), AlertQuery::default())
        .unwrap();
    assert!(
        beat.iter().any(|e| e.kind == "firing" && e.no_data),
        "{beat:?}"
    );
}

#[test]
fn alerts_are_acknowledged_and_resolved_by_hand_and_reach_the_callback() {
    let s = Scratch::new("manual");
    let dir = s.config(&RULES.replace("for_seconds: 120", "for_seconds: 0"));
    let cha = s.open();
    cha.deploy_all(&dir, "ops").unwrap();
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = seen.clone();
    cha.set_alert_callback(Some(Box::new(move |e| {
        sink.lock().unwrap().push((e.rule.clone(), e.kind.clone()));
    })))
    .unwrap();
    step(&cha, 0, Some(2000.0), true);
    let alert = cha
        .alerts(AlertQuery {
            firing_only: true,
            ..AlertQuery::default()
        })
        .unwrap()[0]
        .clone();
    assert_eq!(alert.rule, "solve_time_ms");
    let acked = cha.acknowledge_alert(alert.id, "anna").unwrap();
    assert_eq!(acked.acknowledged_by.as_deref(), Some("anna"));
    assert_eq!(
        cha.acknowledge_alert(alert.id, "ben")
            .unwrap()
            .acknowledged_by
            .as_deref(),
        Some("anna")
    );
    let resolved = cha.resolve_alert(alert.id, "anna").unwrap();
    assert_eq!(
        (resolved.state.as_str(), resolved.resolved_by.as_deref()),
        ("resolved", Some("anna"))
    );
    let e = cha.resolve_alert(alert.id, "anna").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        cha.acknowledge_alert(999, "anna").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        cha.acknowledge_alert(alert.id, " ").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // The breach goes on: a new incident.
    assert_eq!(
        step(&cha, 1, Some(2000.0), true),
        [ev("solve_time_ms", "firing", Some(Severity::Warning))]
    );
    // The evaluator thread hands every event to the callback, in order.
    let want = vec![
        ("solve_time_ms".to_string(), "firing".to_string()),
        ("solve_time_ms".to_string(), "acknowledged".to_string()),
        ("solve_time_ms".to_string(), "manually_resolved".to_string()),
        ("solve_time_ms".to_string(), "firing".to_string()),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < want.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(*seen.lock().unwrap(), want);
    cha.set_alert_callback(None).unwrap();
}

#[test]
fn old_windows_roll_up_into_hours_without_changing_the_report() {
    let s = Scratch::new("rollup");
    let cha = s.open();
    for minute in 0..120 {
        for i in 0..10 {
            let v = (minute * 10 + i) as f64;
            cha.record_metric_at(
                MetricKind::Histogram,
                "iterations",
                v,
                Some("{\"net\":\"n\"}"),
                T0 + minute * MIN + i,
            )
            .unwrap();
        }
    }
    let before = cha.performance_report(T0, T0 + 120 * MIN).unwrap();
    // 48 h after the second hour, both hours are rolled up.
    let retained = cha.apply_monitoring_retention(T0 + 50 * 60 * MIN).unwrap();
    assert_eq!(retained.rolled_up, 120);
    let after = cha.performance_report(T0, T0 + 120 * MIN).unwrap();
    let (b, a) = (&before.metrics[0].statistics, &after.metrics[0].statistics);
    assert_eq!(
        (a.count, a.min, a.max, a.p50, a.p99),
        (b.count, b.min, b.max, b.p50, b.p99)
    );
    assert!((a.mean.unwrap() - b.mean.unwrap()).abs() < 1e-9);
    assert!((a.std_dev.unwrap() - b.std_dev.unwrap()).abs() < 1e-9);
    // 90 days later the hours go too.
    let gone = cha
        .apply_monitoring_retention(T0 + 91 * 24 * 60 * MIN)
        .unwrap();
    assert_eq!(gone.hourly_deleted, 2);
}

#[test]
fn raw_samples_are_kept_only_when_the_retention_says() {
    let s = Scratch::new("raw");
    let cha = s.open();
    cha.record_metric_at(MetricKind::Histogram, "x", 1.0, None, T0)
        .unwrap();
    assert!(cha.metric_samples("x", 0, 0, 100).unwrap().is_empty());
    let dir = s.config("settings:\n  retention:\n    raw_samples_hours: 24\nthresholds: []\n");
    cha.deploy_all(&dir, "ops").unwrap();
    // The evaluator thread picks the setting up within a second.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut kept = Vec::new();
    while kept.is_empty() && Instant::now() < deadline {
        cha.record_metric_at(
            MetricKind::Histogram,
            "x",
            2.0,
            Some("{\"k\":\"v\"}"),
            T0 + 5,
        )
        .unwrap();
        kept = cha.metric_samples("x", 0, 0, 100).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!((kept[0].value, kept[0].at_ms), (2.0, T0 + 5));
    assert_eq!(kept[0].tags, serde_json::json!({"k": "v"}));
    // 24 hours later they go; the windows stay.
    let retained = cha.apply_monitoring_retention(T0 + 25 * 60 * MIN).unwrap();
    assert!(retained.samples_deleted >= 1, "{retained:?}");
    assert!(cha.metric_samples("x", 0, 0, 100).unwrap().is_empty());
    assert_eq!(
        cha.performance_report(T0, T0 + MIN).unwrap().metrics[0]
            .statistics
            .min,
        Some(1.0)
    );
}

#[test]
fn the_sampler_thread_records_the_system_metrics() {
    let s = Scratch::new("sampler");
    let cha = Cha::open_with_options(
        s.db(),
        OpenOptions {
            system_metrics_interval_ms: Some(100),
            evaluate_alerts: false,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut names = std::collections::BTreeSet::new();
    while names.len() < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        names = cha
            .metric_series()
            .unwrap()
            .into_iter()
            .map(|s| {
                assert_eq!(s.kind, MetricKind::Gauge, "{}", s.metric);
                s.metric
            })
            .collect();
    }
    let documented: std::collections::BTreeSet<String> = cha_deploy::SYSTEM_METRICS
        .iter()
        .map(|(n, _, _)| n.to_string())
        .collect();
    assert!(names.len() >= 20, "{names:?}");
    assert!(names.is_subset(&documented), "{names:?}");
    // The option 0 turns it off; out of range is refused.
    let e = OpenOptions::from_json(r#"{"system_metrics_interval_ms": 5}"#).unwrap_err();
    assert!(
        e.message()
            .contains("system_metrics_interval_ms is 5, expected 100 to 3600000"),
        "{e}"
    );
}

#[test]
fn bad_settings_are_located() {
    let text = "settings:\n  system_metrics:\n    interval_seconds: 0\n  retention:\n    minute_window_hours: 5\nthresholds: []\n";
    let e = cha_deploy::config::parse_performance_monitoring(text, "p.yml").unwrap_err();
    let got: Vec<String> = e
        .issues
        .iter()
        .map(|i| format!("{}:{}: {}", i.line, i.path, i.message))
        .collect();
    assert_eq!(
        got,
        [
            "5:settings.retention.minute_window_hours: unknown field `minute_window_hours`",
            "3:settings.system_metrics.interval_seconds: expected a whole number from 1 to 3600, found 0",
        ]
    );
}

#[test]
fn the_openmetrics_export_parses() {
    let s = Scratch::new("export");
    let cha = s.open();
    cha.deploy_all(concat!(env!("CARGO_MANIFEST_DIR"), "/configs"), "ops")
        .unwrap();
    cha.is_enabled(
        "intelligent_pipe_sizing",
        &Context {
            user_id: Some("u1"),
            ..Context::default()
        },
    )
    .unwrap();
    cha.record_timer(
        "pipe_sizing_time_ms",
        0.25,
        Some("{\"network\": \"north \\\"7\\\"\"}"),
    )
    .unwrap();
    cha.record_timer(
        "pipe_sizing_time_ms",
        0.75,
        Some("{\"network\": \"north \\\"7\\\"\"}"),
    )
    .unwrap();
    cha.increment("pipe_sizing_requests_total", 3.0, None)
        .unwrap();
    cha.gauge("memory_usage_mb", 512.5, None).unwrap();
    cha.record_metric("hydraulic_solver_iterations", 42.0, None)
        .unwrap();
    let text = cha.export_openmetrics().unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("pipe_sizing_requests_total 3\n"), "{text}");
    assert!(
        text.contains("pipe_sizing_time_ms_count{network=\"north \\\"7\\\"\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("pipe_sizing_time_ms_sum{network=\"north \\\"7\\\"\"} 1000\n"),
        "{text}"
    );
    assert!(text.contains("memory_usage_mb 512.5\n"), "{text}");
    let parsed = openmetrics_parser::openmetrics::parse_openmetrics(&text)
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let families: std::collections::BTreeSet<&str> =
        parsed.families.keys().map(String::as_str).collect();
    for f in [
        "pipe_sizing_time_ms",
        "pipe_sizing_requests",
        "memory_usage_mb",
        "hydraulic_solver_iterations",
        "cha_flag_evaluations",
    ] {
        assert!(families.contains(f), "{f} missing from {families:?}");
    }
}

#[test]
fn flag_usage_counts_on_off_variants_unknown_and_stale() {
    let s = Scratch::new("usage");
    let cha = s.open();
    cha.deploy_all(concat!(env!("CARGO_MANIFEST_DIR"), "/configs"), "ops")
        .unwrap();
    let flag = cha
        .flags()
        .unwrap()
        .into_iter()
        .map(|f| f.definition)
        .find(|f| f.flag_type == cha_deploy::flags::FlagType::Boolean && f.enabled)
        .unwrap()
        .name;
    let users: Vec<String> = (0..1000).map(|i| format!("planner-{i}")).collect();
    let mut on = 0;
    for u in &users {
        let ctx = Context {
            user_id: Some(u),
            ..Context::default()
        };
        on += u64::from(cha.is_enabled(&flag, &ctx).unwrap());
    }
    // From another thread too: its own counters.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for u in &users[..500] {
                let ctx = Context {
                    user_id: Some(u),
                    ..Context::default()
                };
                cha.is_enabled(&flag, &ctx).unwrap();
            }
        });
    });
    // A flag with variants: each evaluation counts for its variant, and
    // the control variant (enabled: false) is off.
    let (mut lifetime, mut traditional) = (0, 0);
    for u in &users[..200] {
        let ctx = Context {
            user_id: Some(u),
            ..Context::default()
        };
        let e = cha.evaluate_flag("cost_optimisation", &ctx);
        lifetime += u64::from(e.variant.as_deref() == Some("lifetime_cost"));
        traditional += u64::from(e.variant.as_deref() == Some("traditional"));
        assert_eq!(e.enabled, e.variant.as_deref() == Some("lifetime_cost"));
    }
    assert!(lifetime > 0 && traditional > 0);
    for _ in 0..3 {
        let ctx = Context::default();
        assert!(cha.is_enabled("intelligent_pipe_sizng", &ctx).is_err());
    }
    let usage = cha.flag_usage(0, 0).unwrap();
    let f = usage.flags.iter().find(|f| f.flag == flag).unwrap();
    assert_eq!((f.evaluations, f.on + f.off), (1500, 1500));
    assert_eq!(on, 1000);
    assert!(!f.stale);
    let c = usage
        .flags
        .iter()
        .find(|f| f.flag == "cost_optimisation")
        .unwrap();
    assert_eq!((c.evaluations, c.on), (200, lifetime));
    assert_eq!(
        c.variants,
        [
            ("lifetime_cost".to_string(), lifetime),
            ("traditional".to_string(), traditional)
        ]
        .into_iter()
        .collect()
    );
    // Deployed and never evaluated: not stale yet (deployed just now).
    assert!(usage.stale.is_empty(), "{:?}", usage.stale);
    assert_eq!(usage.unknown.len(), 1);
    assert_eq!(
        (usage.unknown[0].name.as_str(), usage.unknown[0].count),
        ("intelligent_pipe_sizng", 3)
    );
    assert!(
        usage
            .recommendations()
            .iter()
            .any(|r| r.contains("`intelligent_pipe_sizng` was asked for 3 times"))
    );
}
