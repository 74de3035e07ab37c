//! `performance_monitoring.yml`: the threshold rules of the CHA system's
//! metrics (the seed's section 3) and the monitoring settings, read with
//! every problem reported at once.
//!
//! # Shape
//!
//! ```yaml
//! version: 1                              # optional; a file without it is version 1
//! settings:                               # optional; every field has a default
//!   retention:
//!     raw_samples_hours: 0                # raw samples kept (0: none; windows hold the rest)
//!     minute_windows_hours: 48            # one-minute windows, then rolled up into hours
//!     hourly_windows_days: 90             # one-hour windows
//!     alert_history_days: 365             # resolved alerts and their events
//!   system_metrics:
//!     enabled: false                      # sample CPU, memory, disk, network (a handle option wins)
//!     interval_seconds: 10
//!   flag_usage:
//!     stale_after_days: 30                # deployed, not evaluated for this long: stale
//!     retention_days: 90                  # hourly usage counts
//! thresholds:
//!   - metric_name: pipe_sizing_time_ms    # the metric watched
//!     name: pipe_sizing_p95               # optional; the metric's name by default; unique
//!     description: ...                    # optional
//!     tags: {network: north}              # optional: only series with these tags
//!     aggregation: p95                    # mean | max | min | p50 | p90 | p95 | p99 | count | sum | rate | last
//!     comparison_operator: greater_than   # greater_than | greater_or_equal | less_than |
//!                                         # less_or_equal | equal | not_equal
//!     warning_threshold: 1000.0           # at least one of the three
//!     error_threshold: 5000.0
//!     critical_threshold: 10000.0
//!     recovery_threshold: 900.0           # optional: resolve only once back past it (hysteresis)
//!     window_size_minutes: 5
//!     evaluation_interval_seconds: 60
//!     for_seconds: 120                    # optional: how long a breach lasts before it fires
//!     no_data: keep_state                 # keep_state | ok | warning | error | critical
//!     recommendation: ...                 # optional: what to look at, for the report
//! ```
//!
//! # Defaults
//!
//! | field | when absent |
//! |---|---|
//! | `name` | the `metric_name` |
//! | `aggregation` | `mean` |
//! | `window_size_minutes` | 5 |
//! | `evaluation_interval_seconds` | 60 |
//! | `for_seconds` | 0 (fires at the first breached evaluation) |
//! | `recovery_threshold` | none (no margin) |
//! | `no_data` | `keep_state` |
//!
//! `metric_name` and `comparison_operator` are required, and at least one
//! of the thresholds.
//!
//! # Rules
//!
//! Metric names follow Prometheus (`[A-Za-z_][A-Za-z0-9_]*`, at most 128);
//! rule names the flag-name rule, and `settings` is taken. Thresholds are
//! finite and ordered by severity in the direction of the operator (for
//! `greater_*`, warning < error < critical); `recovery_threshold` lies on
//! the good side of the least severe threshold and is not allowed with
//! `equal` and `not_equal`. `window_size_minutes` is 1 to 1440,
//! `evaluation_interval_seconds` 1 to 86400, `for_seconds` at most 604800.

use std::path::Path;

use super::reader::{Fields, join};
use super::{ConfigError, Issues, Node, Value, parse_yaml};
use crate::common::names::check_flag_name;
use crate::monitoring::model::{
    Comparison, MonitoringSettings, NoData, ThresholdRule, WindowAggregation, check_metric_name,
    parse_tags,
};

/// The version of `performance_monitoring.yml` this library reads and writes.
pub const CURRENT_VERSION: i64 = 1;

/// The name under which the settings are stored beside the rules; no rule
/// may take it.
pub const SETTINGS_NAME: &str = "settings";

/// A loaded, validated `performance_monitoring.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerformanceMonitoringConfig {
    /// The version the file was written in.
    pub source_version: i64,
    pub settings: MonitoringSettings,
    /// The rules, in file order.
    pub thresholds: Vec<ThresholdRule>,
}

/// Reads and validates the monitoring file at `path`.
///
/// # Errors
/// Every problem at once: unreadable file, invalid YAML, unknown version,
/// invalid fields.
pub fn load_performance_monitoring(
    path: &Path,
) -> Result<PerformanceMonitoringConfig, ConfigError> {
    super::load_file(path, parse_performance_monitoring)
}

/// Parses and validates monitoring YAML `text`; `file` names it in messages.
///
/// # Errors
/// As [`load_performance_monitoring`].
pub fn parse_performance_monitoring(
    text: &str,
    file: &str,
) -> Result<PerformanceMonitoringConfig, ConfigError> {
    let root = parse_yaml(text, file)?;
    let mut issues = Issues::new(file);
    if root.entries().is_none() {
        let message = if root.value == Value::Null {
            "the file is empty".to_owned()
        } else {
            format!(
                "expected a mapping with `thresholds`, found {}",
                root.kind()
            )
        };
        issues.push(
            root.loc,
            "",
            message,
            Some("start with `thresholds:` and one entry per rule".into()),
        );
        return Err(issues.finish(()).unwrap_err());
    }
    let Some(mut top) = Fields::new(&root, "", &mut issues) else {
        return Err(issues.finish(()).unwrap_err());
    };
    let version = read_version(top.node("version"), &mut issues);
    let settings_node = top.node("settings");
    let thresholds = top.node("thresholds");
    top.finish(&mut issues);
    let settings = match settings_node {
        Some(node) => read_settings(node, &mut issues),
        None => MonitoringSettings::default(),
    };
    let mut rules = Vec::new();
    match thresholds {
        None => issues.push(
            root.loc,
            "thresholds",
            "missing `thresholds`",
            Some("add `thresholds:` with one entry per rule (an empty list `[]` for none)".into()),
        ),
        Some(node) => match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("thresholds[{i}]");
                    if let Some(rule) = read_threshold(item, &path, &mut issues) {
                        check_unique(&rules, &rule, item, &path, &mut issues);
                        rules.push(rule);
                    }
                }
            }
            _ => issues.push(
                node.loc,
                "thresholds",
                format!("expected a list of rules, found {}", node.kind()),
                Some("each rule starts with `- metric_name: ...`".into()),
            ),
        },
    }
    let Some(version) = version else {
        return Err(issues.finish(()).unwrap_err());
    };
    issues.finish(PerformanceMonitoringConfig {
        source_version: version,
        settings,
        thresholds: rules,
    })
}

fn check_unique(
    earlier: &[ThresholdRule],
    rule: &ThresholdRule,
    node: &Node,
    path: &str,
    issues: &mut Issues,
) {
    if let Some(i) = earlier.iter().position(|r| r.name == rule.name) {
        issues.push(
            node.get("name")
                .or(node.get("metric_name"))
                .and_then(|n| n.loc),
            &join(path, "name"),
            format!(
                "rule `{}` is listed twice (also thresholds[{i}])",
                rule.name
            ),
            Some("two rules of one metric need a `name` each".into()),
        );
    }
}

/// The version of the file: absent (or null) is 1.
fn read_version(node: Option<&Node>, issues: &mut Issues) -> Option<i64> {
    let Some(node) = node else {
        return Some(CURRENT_VERSION);
    };
    match node.value {
        Value::Int(CURRENT_VERSION) => Some(CURRENT_VERSION),
        Value::Int(v) if v > CURRENT_VERSION => {
            issues.push(
                node.loc,
                "version",
                format!(
                    "version {v} is newer than this cha-deploy, which reads performance_monitoring.yml version {CURRENT_VERSION}"
                ),
                Some("upgrade cha-deploy".into()),
            );
            None
        }
        _ => {
            issues.push(
                node.loc,
                "version",
                format!("unknown version {}", node.to_json()),
                Some(format!("use `version: {CURRENT_VERSION}`, or leave it out")),
            );
            None
        }
    }
}

/// A whole number field within `range`, or a recorded problem.
fn bounded(
    f: &mut Fields<'_>,
    key: &'static str,
    range: std::ops::RangeInclusive<u32>,
    hint: &str,
    issues: &mut Issues,
) -> Option<u32> {
    let node = f.node(key)?;
    let path = f.path_of(key);
    match node.value {
        Value::Int(i) if i >= i64::from(*range.start()) && i <= i64::from(*range.end()) => {
            Some(i as u32)
        }
        _ => {
            issues.push(
                node.loc,
                &path,
                format!(
                    "expected a whole number from {} to {}, found {}",
                    range.start(),
                    range.end(),
                    match node.value {
                        Value::Int(i) => i.to_string(),
                        _ => node.kind().to_string(),
                    }
                ),
                Some(hint.to_owned()),
            );
            None
        }
    }
}

fn read_settings(node: &Node, issues: &mut Issues) -> MonitoringSettings {
    let mut settings = MonitoringSettings::default();
    let Some(mut f) = Fields::new(node, "settings", issues) else {
        return settings;
    };
    if let Some(n) = f.node("retention")
        && let Some(mut r) = Fields::new(n, "settings.retention", issues)
    {
        let s = &mut settings.retention;
        let hint = "hours, up to a year";
        if let Some(v) = bounded(&mut r, "raw_samples_hours", 0..=8760, hint, issues) {
            s.raw_samples_hours = v;
        }
        if let Some(v) = bounded(&mut r, "minute_windows_hours", 1..=8760, hint, issues) {
            s.minute_windows_hours = v;
        }
        let hint = "days, up to ten years";
        if let Some(v) = bounded(&mut r, "hourly_windows_days", 1..=3650, hint, issues) {
            s.hourly_windows_days = v;
        }
        if let Some(v) = bounded(&mut r, "alert_history_days", 1..=3650, hint, issues) {
            s.alert_history_days = v;
        }
        r.finish(issues);
    }
    if let Some(n) = f.node("system_metrics")
        && let Some(mut m) = Fields::new(n, "settings.system_metrics", issues)
    {
        if let Some(v) = m.bool("enabled", issues) {
            settings.system_metrics.enabled = v;
        }
        let hint = "seconds between samples; 10 is usual";
        if let Some(v) = bounded(&mut m, "interval_seconds", 1..=3600, hint, issues) {
            settings.system_metrics.interval_seconds = v;
        }
        m.finish(issues);
    }
    if let Some(n) = f.node("flag_usage")
        && let Some(mut u) = Fields::new(n, "settings.flag_usage", issues)
    {
        let hint = "days, up to ten years";
        if let Some(v) = bounded(&mut u, "stale_after_days", 1..=3650, hint, issues) {
            settings.flag_usage.stale_after_days = v;
        }
        if let Some(v) = bounded(&mut u, "retention_days", 1..=3650, hint, issues) {
            settings.flag_usage.retention_days = v;
        }
        u.finish(issues);
    }
    f.finish(issues);
    settings
}

/// One of `choices` by name; an unknown name is reported with the list.
fn read_choice<T: Copy>(
    f: &mut Fields<'_>,
    key: &'static str,
    choices: &[(&str, T)],
    what: &str,
    issues: &mut Issues,
) -> Result<Option<T>, ()> {
    let node = f.node(key);
    let Some(name) = f.str(key, issues) else {
        return if node.is_some() { Err(()) } else { Ok(None) };
    };
    match choices.iter().find(|(n, _)| *n == name) {
        Some((_, v)) => Ok(Some(*v)),
        None => {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            issues.push(
                node.and_then(|n| n.loc),
                &f.path_of(key),
                format!("unknown {what} `{name}`"),
                Some(format!("one of {}", names.join(", "))),
            );
            Err(())
        }
    }
}

const NO_DATA_NAMES: [&str; 5] = ["keep_state", "ok", "warning", "error", "critical"];

/// Reads and checks one rule at `path` (`thresholds[2]`), recording every
/// problem. The same reader serves JSON through [`Node::from_json`].
/// Returns `None` when `node` is not a mapping or has no usable name.
pub fn read_threshold(node: &Node, path: &str, issues: &mut Issues) -> Option<ThresholdRule> {
    let mut f = Fields::new(node, path, issues)?;
    let mut unreadable: Vec<&str> = Vec::new();
    let metric_name = f.str("metric_name", issues).map(str::to_owned);
    if metric_name.is_none()
        && node
            .get("metric_name")
            .is_none_or(|n| n.value == Value::Null)
    {
        issues.push(
            node.loc,
            &f.path_of("metric_name"),
            "missing `metric_name`",
            Some("the metric the rule watches, e.g. `pipe_sizing_time_ms`".into()),
        );
    }
    let name = f.str("name", issues).map(str::to_owned);
    let description = f.str("description", issues).unwrap_or_default().to_owned();
    let tags = match f.node("tags") {
        Some(t) => match parse_tags(Some(&t.to_json().to_string())) {
            Ok(tags) => tags,
            Err(m) => {
                issues.push(
                    t.loc,
                    &f.path_of("tags"),
                    m,
                    Some("a mapping such as `{network: north}`".into()),
                );
                Default::default()
            }
        },
        None => Default::default(),
    };
    let aggregation = read_choice(
        &mut f,
        "aggregation",
        &WindowAggregation::NAMES,
        "aggregation",
        issues,
    );
    let operator = read_choice(
        &mut f,
        "comparison_operator",
        &Comparison::NAMES,
        "comparison_operator",
        issues,
    );
    if matches!(operator, Ok(None)) {
        issues.push(
            node.loc,
            &f.path_of("comparison_operator"),
            "missing `comparison_operator`",
            Some(
                "greater_than, greater_or_equal, less_than, less_or_equal, equal or not_equal"
                    .into(),
            ),
        );
    }
    let mut thresholds = [None; 3];
    for (slot, key) in
        thresholds
            .iter_mut()
            .zip(["warning_threshold", "error_threshold", "critical_threshold"])
    {
        let present = node.get(key).is_some_and(|n| n.value != Value::Null);
        *slot = f.number(key, issues);
        if present && slot.is_none() {
            unreadable.push(key);
        }
    }
    let recovery = f.number("recovery_threshold", issues);
    let window = bounded(
        &mut f,
        "window_size_minutes",
        1..=1440,
        "minutes of data each evaluation looks at",
        issues,
    );
    let interval = bounded(
        &mut f,
        "evaluation_interval_seconds",
        1..=86_400,
        "seconds between evaluations",
        issues,
    );
    let for_seconds = bounded(
        &mut f,
        "for_seconds",
        0..=604_800,
        "seconds a breach lasts before the alert fires (at most a week)",
        issues,
    );
    let no_data = match f.str("no_data", issues) {
        Some(n) => match NoData::from_name(n) {
            Some(p) => p,
            None => {
                issues.push(
                    node.get("no_data").and_then(|x| x.loc),
                    &f.path_of("no_data"),
                    format!("unknown no_data policy `{n}`"),
                    Some(format!("one of {}", NO_DATA_NAMES.join(", "))),
                );
                NoData::KeepState
            }
        },
        None => NoData::KeepState,
    };
    let recommendation = f.str("recommendation", issues).map(str::to_owned);
    f.finish(issues);
    let metric_name = metric_name?;
    let rule = ThresholdRule {
        name: name.unwrap_or_else(|| metric_name.clone()),
        metric_name,
        description,
        tags,
        aggregation: aggregation
            .ok()
            .flatten()
            .unwrap_or(WindowAggregation::Mean),
        comparison_operator: operator.ok().flatten().unwrap_or(Comparison::GreaterThan),
        warning_threshold: thresholds[0],
        error_threshold: thresholds[1],
        critical_threshold: thresholds[2],
        recovery_threshold: recovery,
        window_size_minutes: window.unwrap_or(5),
        evaluation_interval_seconds: interval.unwrap_or(60),
        for_seconds: for_seconds.unwrap_or(0),
        no_data,
        recommendation,
    };
    let operator_known = operator.is_ok_and(|o| o.is_some());
    check_rule(&rule, node, path, operator_known, &unreadable, issues);
    Some(rule)
}

/// Checks a rule built in code or read from JSON by the rules of the file.
///
/// # Errors
/// `Config` listing every problem with its field path, e.g.
/// `thresholds.pipe_sizing_time_ms.error_threshold: …`.
pub fn validate_threshold(rule: &ThresholdRule) -> crate::Result<()> {
    let mut issues = Issues::new("");
    let path = join("thresholds", &rule.name);
    check_rule(rule, &Node::new(Value::Null), &path, true, &[], &mut issues);
    issues.finish(()).map_err(crate::Error::from)
}

/// The value and set rules of one rule.
fn check_rule(
    rule: &ThresholdRule,
    node: &Node,
    path: &str,
    operator_known: bool,
    unreadable: &[&str],
    issues: &mut Issues,
) {
    let push = |issues: &mut Issues, key: &str, message: String, hint: Option<String>| {
        issues.push(node.locate(key), &join(path, key), message, hint);
    };
    if let Err(m) = check_metric_name(&rule.metric_name) {
        push(issues, "metric_name", m, None);
    }
    if let Err(m) = check_flag_name(&rule.name) {
        push(issues, "name", m.replace("flag name", "rule name"), None);
    } else if rule.name == SETTINGS_NAME {
        push(
            issues,
            "name",
            "`settings` is the name of the file's settings".into(),
            Some("give the rule another name".into()),
        );
    }
    let present: Vec<(&str, f64)> = [
        ("warning_threshold", rule.warning_threshold),
        ("error_threshold", rule.error_threshold),
        ("critical_threshold", rule.critical_threshold),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect();
    if present.is_empty() && unreadable.is_empty() {
        push(
            issues,
            "warning_threshold",
            "a rule needs at least one of warning_threshold, error_threshold and critical_threshold".into(),
            None,
        );
    }
    if !operator_known {
        return;
    }
    let op = rule.comparison_operator;
    if let Some(higher_is_worse) = op.higher_is_worse() {
        for pair in present.windows(2) {
            let ((lower_key, lower), (key, value)) = (pair[0], pair[1]);
            let ordered = if higher_is_worse {
                value > lower
            } else {
                value < lower
            };
            if !ordered {
                push(
                    issues,
                    key,
                    format!(
                        "{key} {value} must be {} {lower_key} {lower} with {}",
                        if higher_is_worse { "above" } else { "below" },
                        Comparison::NAMES
                            .iter()
                            .find(|(_, o)| *o == op)
                            .map_or("", |(n, _)| n)
                    ),
                    Some("a more severe level is further from normal".into()),
                );
            }
        }
    }
    if let Some(recovery) = rule.recovery_threshold {
        match (op.higher_is_worse(), present.first()) {
            (None, _) => push(
                issues,
                "recovery_threshold",
                "recovery_threshold is not allowed with equal and not_equal".into(),
                Some("leave it out".into()),
            ),
            (Some(higher_is_worse), Some((lowest_key, lowest))) => {
                let good_side = if higher_is_worse {
                    recovery <= *lowest
                } else {
                    recovery >= *lowest
                };
                if !good_side {
                    push(
                        issues,
                        "recovery_threshold",
                        format!(
                            "recovery_threshold {recovery} must be {} {lowest_key} {lowest}",
                            if higher_is_worse {
                                "at most"
                            } else {
                                "at least"
                            }
                        ),
                        Some(
                            "the value the metric must come back to before the alert resolves"
                                .into(),
                        ),
                    );
                }
            }
            (Some(_), None) => {}
        }
    }
    for (key, bad) in [
        (
            "window_size_minutes",
            !(1..=1440).contains(&rule.window_size_minutes),
        ),
        (
            "evaluation_interval_seconds",
            !(1..=86_400).contains(&rule.evaluation_interval_seconds),
        ),
        ("for_seconds", rule.for_seconds > 604_800),
    ] {
        if bad {
            push(issues, key, format!("{key} is out of range"), None);
        }
    }
    for (key, v) in [
        ("warning_threshold", rule.warning_threshold),
        ("error_threshold", rule.error_threshold),
        ("critical_threshold", rule.critical_threshold),
        ("recovery_threshold", rule.recovery_threshold),
    ] {
        if v.is_some_and(|v| !v.is_finite()) {
            push(issues, key, format!("{key} is not a finite number"), None);
        }
    }
}

/// Checks settings built in code or read from JSON.
///
/// # Errors
/// `Config` naming the field.
pub fn validate_settings(settings: &MonitoringSettings) -> crate::Result<()> {
    let json = serde_json::to_value(settings)?;
    let mut issues = Issues::new("");
    read_settings(&Node::from_json(&json), &mut issues);
    issues.finish(()).map_err(crate::Error::from)
}

/// A commented `performance_monitoring.yml` for `config_type`, headed by
/// `template_name`. Types: `cha_intelligent_sizing` (every field documented,
/// rules for 23 metrics of the CHA system: its timings, errors, system and
/// library figures) and `minimal` (the seed's two rules). Both load and
/// validate as they are.
///
/// # Errors
/// `InvalidArgument` for an unknown `config_type`.
pub fn create_template(template_name: &str, config_type: &str) -> crate::Result<String> {
    let body = match config_type {
        "cha_intelligent_sizing" => TEMPLATE_FULL,
        "minimal" => TEMPLATE_MINIMAL,
        other => {
            return Err(crate::Error::invalid_argument(format!(
                "unknown config type `{other}` (known: cha_intelligent_sizing, minimal)"
            )));
        }
    };
    let title: String = template_name.chars().filter(|c| !c.is_control()).collect();
    Ok(format!(
        "# {title}: performance monitoring of the CHA intelligent pipe-sizing system\n\
         # Generated by cha-deploy {} (config type: {config_type}).\n{body}",
        crate::VERSION
    ))
}

const TEMPLATE_MINIMAL: &str = "\
# Format version; 1 is current.
version: 1
thresholds:
  # Alert when the window's value passes a threshold; the most severe wins.
  - metric_name: pipe_sizing_time_ms
    warning_threshold: 1000.0
    error_threshold: 5000.0
    critical_threshold: 10000.0
    # greater_than | greater_or_equal | less_than | less_or_equal | equal | not_equal
    comparison_operator: greater_than
    window_size_minutes: 5
    evaluation_interval_seconds: 60
  - metric_name: memory_usage_mb
    warning_threshold: 1000.0
    error_threshold: 2000.0
    critical_threshold: 4000.0
    comparison_operator: greater_than
    window_size_minutes: 5
    evaluation_interval_seconds: 60
";

const TEMPLATE_FULL: &str = include_str!("performance_monitoring_template.yml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_shape_reads_with_defaults() {
        let c = parse_performance_monitoring(TEMPLATE_MINIMAL, "p.yml").unwrap();
        assert_eq!(c.source_version, 1);
        assert_eq!(c.settings, MonitoringSettings::default());
        let r = &c.thresholds[0];
        assert_eq!(r.name, "pipe_sizing_time_ms");
        assert_eq!(r.aggregation, WindowAggregation::Mean);
        assert_eq!((r.for_seconds, r.no_data), (0, NoData::KeepState));
        assert_eq!(r.critical_threshold, Some(10000.0));
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = "\
thresholds:
  - metric_name: pipe.time
    comparison_operator: bigger_than
    warning_threshold: 10
  - metric_name: m
    comparison_operator: greater_than
    warning_threshold: 10
    error_threshold: 5
    recovery_threshold: 12
    window_size_minutes: 0
    no_data: maybe
    colour: red
  - metric_name: m
    comparison_operator: equal
    critical_threshold: 1
";
        let err = parse_performance_monitoring(text, "p.yml").unwrap_err();
        let got: Vec<String> = err
            .issues
            .iter()
            .map(|i| format!("{}:{}: {}", i.line, i.path, i.message))
            .collect();
        assert_eq!(
            got,
            [
                "3:thresholds[0].comparison_operator: unknown comparison_operator `bigger_than`",
                "2:thresholds[0].metric_name: metric name `pipe.time` contains `.`; use letters, digits and `_` (the names Prometheus accept)"
                    .replace("accept)", "accepts)")
                    .as_str(),
                "10:thresholds[1].window_size_minutes: expected a whole number from 1 to 1440, found 0",
                "11:thresholds[1].no_data: unknown no_data policy `maybe`",
                "12:thresholds[1].colour: unknown field `colour`",
                "8:thresholds[1].error_threshold: error_threshold 5 must be above warning_threshold 10 with greater_than",
                "9:thresholds[1].recovery_threshold: recovery_threshold 12 must be at most warning_threshold 10",
                "13:thresholds[2].name: rule `m` is listed twice (also thresholds[1])",
            ]
        );
    }
}
