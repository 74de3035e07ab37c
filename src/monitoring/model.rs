//! The monitoring model: metric kinds, names and tags; threshold rules; the
//! settings of `performance_monitoring.yml`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The longest metric name, in bytes.
pub const MAX_METRIC_NAME: usize = 128;
/// The most tags one series may carry.
pub const MAX_TAGS: usize = 16;
/// The longest tag name, in bytes.
pub const MAX_TAG_NAME: usize = 64;
/// The longest tag value, in bytes.
pub const MAX_TAG_VALUE: usize = 256;

/// What a metric measures. A metric's kind is fixed by its first recording
/// on a handle; recording it as another kind is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Durations, recorded in seconds and stored in milliseconds.
    Timer,
    /// Any distribution of values (sizes, costs, iterations).
    Histogram,
    /// Increments of a total that only grows (requests, errors).
    Counter,
    /// A level sampled now and then (memory in use, queue length).
    Gauge,
}

impl MetricKind {
    /// Every kind, in the order of their names.
    pub const ALL: [MetricKind; 4] = [
        MetricKind::Counter,
        MetricKind::Gauge,
        MetricKind::Histogram,
        MetricKind::Timer,
    ];

    /// The kind's name, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Timer => "timer",
            MetricKind::Histogram => "histogram",
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<MetricKind> {
        MetricKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The unit its values are stored in, when the kind fixes one.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            MetricKind::Timer => Some("ms"),
            _ => None,
        }
    }
}

/// Checks a metric name: 1–128 characters, a letter or `_` first, then
/// letters, digits and `_`: the names Prometheus and OpenMetrics accept, so
/// that every metric can be exported as it is named.
///
/// # Errors
/// A message naming the problem.
pub fn check_metric_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_METRIC_NAME {
        return Err(format!(
            "a metric name has 1 to {MAX_METRIC_NAME} characters"
        ));
    }
    let mut chars = name.chars();
    let first = chars.next().unwrap_or('_');
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(format!(
            "metric name `{name}` starts with `{first}`; start with a letter or `_`"
        ));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!(
            "metric name `{name}` contains `{c}`; use letters, digits and `_` (the names Prometheus accepts)"
        ));
    }
    Ok(())
}

/// Checks a tag name: as a metric name, at most 64 characters, and not
/// starting with `__` (reserved by Prometheus) nor `quantile` or `le`
/// (which the exposition uses).
fn check_tag_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_TAG_NAME {
        return Err(format!("a tag name has 1 to {MAX_TAG_NAME} characters"));
    }
    check_metric_name(name).map_err(|m| m.replace("metric name", "tag name"))?;
    if name.starts_with("__") || name == "quantile" || name == "le" {
        return Err(format!(
            "tag name `{name}` is reserved by Prometheus; choose another"
        ));
    }
    Ok(())
}

/// Parses tags given as JSON (`{"network": "north", "pipes": 120}`) into
/// sorted name → value pairs. `None` (and `{}`) is no tags. Values are
/// strings; numbers and booleans are taken as their JSON text.
///
/// # Errors
/// A message saying what is wrong: not JSON, not an object, a value that is
/// null, a list or an object, a bad tag name, too many or too long tags.
pub fn parse_tags(json: Option<&str>) -> Result<BTreeMap<String, String>, String> {
    let Some(text) = json else {
        return Ok(BTreeMap::new());
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("tags are not valid JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err(format!(
            "tags must be a JSON object such as {{\"network\": \"north\"}}, not {}",
            json_kind(&value)
        ));
    };
    if map.len() > MAX_TAGS {
        return Err(format!(
            "{} tags, more than the {MAX_TAGS} a series may carry",
            map.len()
        ));
    }
    let mut tags = BTreeMap::new();
    for (name, value) in map {
        check_tag_name(&name)?;
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => {
                return Err(format!(
                    "tag `{name}` is {}; a tag value is a string, a number or a boolean",
                    json_kind(&other)
                ));
            }
        };
        if text.len() > MAX_TAG_VALUE {
            return Err(format!(
                "tag `{name}` has {} bytes, more than {MAX_TAG_VALUE}",
                text.len()
            ));
        }
        tags.insert(name, text);
    }
    Ok(tags)
}

/// The canonical text of a tag set: compact JSON with sorted keys, `{}` for
/// none. Two spellings of the same tags give the same text, so they are the
/// same series.
pub fn canonical_tags(tags: &BTreeMap<String, String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "{}".to_string())
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// How a rule compares the window's value with its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    GreaterThan,
    GreaterOrEqual,
    LessThan,
    LessOrEqual,
    Equal,
    NotEqual,
}

impl Comparison {
    /// Every operator with its name in `performance_monitoring.yml`.
    pub const NAMES: [(&'static str, Comparison); 6] = [
        ("greater_than", Comparison::GreaterThan),
        ("greater_or_equal", Comparison::GreaterOrEqual),
        ("less_than", Comparison::LessThan),
        ("less_or_equal", Comparison::LessOrEqual),
        ("equal", Comparison::Equal),
        ("not_equal", Comparison::NotEqual),
    ];

    /// Whether `value` breaches `threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        self.holds_with_margin(value, threshold, 0.0)
    }

    /// Whether `value` still breaches `threshold` when the threshold is
    /// moved `margin` towards the good side: how a breached level is left
    /// only once the value is clear of it (hysteresis). `equal` and
    /// `not_equal` take no margin.
    pub fn holds_with_margin(self, value: f64, threshold: f64, margin: f64) -> bool {
        match self {
            Comparison::GreaterThan => value > threshold - margin,
            Comparison::GreaterOrEqual => value >= threshold - margin,
            Comparison::LessThan => value < threshold + margin,
            Comparison::LessOrEqual => value <= threshold + margin,
            Comparison::Equal => value == threshold,
            Comparison::NotEqual => value != threshold,
        }
    }

    /// Whether larger values are worse (`greater_*`), smaller values are
    /// worse (`less_*`), or neither (`equal`, `not_equal`).
    pub fn higher_is_worse(self) -> Option<bool> {
        match self {
            Comparison::GreaterThan | Comparison::GreaterOrEqual => Some(true),
            Comparison::LessThan | Comparison::LessOrEqual => Some(false),
            Comparison::Equal | Comparison::NotEqual => None,
        }
    }

    /// The symbol, for messages: `>`, `>=`, `<`, `<=`, `==`, `!=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::GreaterThan => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::LessThan => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Equal => "==",
            Comparison::NotEqual => "!=",
        }
    }
}

/// The one value of a rule's window that is compared with its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowAggregation {
    Mean,
    Max,
    Min,
    P50,
    P90,
    P95,
    P99,
    /// The number of samples.
    Count,
    /// The sum of the values (a counter's increase).
    Sum,
    /// Per second over the window: a counter's increase, or the number of
    /// samples of any other kind.
    Rate,
    /// The latest value (a gauge's level).
    Last,
}

impl WindowAggregation {
    /// Every aggregation with its name in `performance_monitoring.yml`.
    pub const NAMES: [(&'static str, WindowAggregation); 11] = [
        ("mean", WindowAggregation::Mean),
        ("max", WindowAggregation::Max),
        ("min", WindowAggregation::Min),
        ("p50", WindowAggregation::P50),
        ("p90", WindowAggregation::P90),
        ("p95", WindowAggregation::P95),
        ("p99", WindowAggregation::P99),
        ("count", WindowAggregation::Count),
        ("sum", WindowAggregation::Sum),
        ("rate", WindowAggregation::Rate),
        ("last", WindowAggregation::Last),
    ];

    /// Its name in the file.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("mean", |(n, _)| n)
    }

    /// Whether a window without samples still has this value (0): counts,
    /// sums and rates do; the others have no data.
    pub fn defined_without_samples(self) -> bool {
        matches!(
            self,
            WindowAggregation::Count | WindowAggregation::Sum | WindowAggregation::Rate
        )
    }
}

/// An alert's severity, from the least to the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
    Critical,
}

impl Severity {
    /// From the most to the least urgent: the order thresholds are tried in.
    pub const DESCENDING: [Severity; 3] = [Severity::Critical, Severity::Error, Severity::Warning];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// The severity named `name`.
    pub fn from_name(name: &str) -> Option<Severity> {
        Self::DESCENDING.into_iter().find(|s| s.as_str() == name)
    }
}

/// What a rule does when its window has no samples (and its aggregation
/// needs some: see [`WindowAggregation::defined_without_samples`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoData {
    /// Nothing changes: a pending alert keeps its `for` clock running, a
    /// firing one keeps firing. The default.
    KeepState,
    /// No data is good news: pending alerts clear, firing ones resolve.
    Ok,
    /// No data is itself an alert of this severity (a simulation that
    /// stopped reporting).
    Alert(Severity),
}

impl NoData {
    /// Its name in the file: `keep_state`, `ok`, `warning`, `error`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoData::KeepState => "keep_state",
            NoData::Ok => "ok",
            NoData::Alert(s) => s.as_str(),
        }
    }

    /// The policy named `name`.
    pub fn from_name(name: &str) -> Option<NoData> {
        match name {
            "keep_state" => Some(NoData::KeepState),
            "ok" => Some(NoData::Ok),
            other => Severity::from_name(other).map(NoData::Alert),
        }
    }
}

impl Serialize for NoData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NoData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        NoData::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown no_data policy `{name}` (keep_state, ok, warning, error, critical)"
            ))
        })
    }
}

/// One threshold rule of `performance_monitoring.yml`: a metric's window
/// aggregate compared with up to three thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRule {
    /// The rule's name (the metric's name unless the file gives one).
    pub name: String,
    /// The metric it watches.
    pub metric_name: String,
    /// What it is about, for people.
    #[serde(default)]
    pub description: String,
    /// Only series carrying these tags count (all of the metric's when empty).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub aggregation: WindowAggregation,
    pub comparison_operator: Comparison,
    pub warning_threshold: Option<f64>,
    pub error_threshold: Option<f64>,
    pub critical_threshold: Option<f64>,
    /// Where the value must come back to before the alert resolves; the
    /// distance from the least severe threshold is the margin each level is
    /// left with (hysteresis). None: no margin.
    pub recovery_threshold: Option<f64>,
    pub window_size_minutes: u32,
    pub evaluation_interval_seconds: u32,
    /// How long a breach lasts before the alert fires (Prometheus's `for`).
    pub for_seconds: u32,
    pub no_data: NoData,
    /// What to look at when it breaches, for the report.
    #[serde(default)]
    pub recommendation: Option<String>,
}

impl ThresholdRule {
    /// The threshold of `severity`, if the rule has one.
    pub fn threshold(&self, severity: Severity) -> Option<f64> {
        match severity {
            Severity::Warning => self.warning_threshold,
            Severity::Error => self.error_threshold,
            Severity::Critical => self.critical_threshold,
        }
    }

    /// The least severe threshold the rule has, with its severity.
    pub fn lowest(&self) -> Option<(Severity, f64)> {
        Severity::DESCENDING
            .into_iter()
            .rev()
            .find_map(|s| self.threshold(s).map(|t| (s, t)))
    }

    /// The hysteresis margin: how far past a threshold, on the good side,
    /// the value must come back before its level is left.
    pub fn margin(&self) -> f64 {
        match (self.recovery_threshold, self.lowest()) {
            (Some(recovery), Some((_, lowest))) => (lowest - recovery).abs(),
            _ => 0.0,
        }
    }

    /// The window, in milliseconds.
    pub fn window_ms(&self) -> i64 {
        i64::from(self.window_size_minutes) * 60_000
    }

    /// Whether a series with `tags` is one the rule watches.
    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }
}

/// How long monitoring data is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Raw samples, in hours; 0 (the default) keeps none: the windows hold
    /// everything the reports and alerts use.
    pub raw_samples_hours: u32,
    /// One-minute windows, in hours, before they are rolled up into hours.
    pub minute_windows_hours: u32,
    /// One-hour windows, in days.
    pub hourly_windows_days: u32,
    /// Resolved alerts and their events, in days.
    pub alert_history_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw_samples_hours: 0,
            minute_windows_hours: 48,
            hourly_windows_days: 90,
            alert_history_days: 365,
        }
    }
}

/// The system sampler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemMetricsSettings {
    /// Whether handles sample system metrics (a handle's own option wins).
    pub enabled: bool,
    /// Seconds between samples.
    pub interval_seconds: u32,
}

impl Default for SystemMetricsSettings {
    fn default() -> Self {
        SystemMetricsSettings {
            enabled: false,
            interval_seconds: 10,
        }
    }
}

/// Flag usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlagUsageSettings {
    /// A deployed flag not evaluated for this many days is stale.
    pub stale_after_days: u32,
    /// Hourly usage counts, in days.
    pub retention_days: u32,
}

impl Default for FlagUsageSettings {
    fn default() -> Self {
        FlagUsageSettings {
            stale_after_days: 30,
            retention_days: 90,
        }
    }
}

/// The settings of `performance_monitoring.yml` beside its thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringSettings {
    pub retention: Retention,
    pub system_metrics: SystemMetricsSettings,
    pub flag_usage: FlagUsageSettings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus() {
        assert!(check_metric_name("pipe_sizing_time_ms").is_ok());
        assert!(check_metric_name("_x1").is_ok());
        assert!(
            check_metric_name("1x")
                .unwrap_err()
                .contains("starts with `1`")
        );
        assert!(
            check_metric_name("a.b")
                .unwrap_err()
                .contains("contains `.`")
        );
        assert!(check_metric_name("").is_err());
        assert!(check_metric_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn tags_are_an_object_of_scalars_in_one_canonical_form() {
        let a = parse_tags(Some(r#"{"b": 2, "a": "x", "c": true}"#)).unwrap();
        assert_eq!(canonical_tags(&a), r#"{"a":"x","b":"2","c":"true"}"#);
        assert_eq!(canonical_tags(&parse_tags(None).unwrap()), "{}");
        assert!(parse_tags(Some("[1]")).unwrap_err().contains("not a list"));
        assert!(
            parse_tags(Some("{"))
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            parse_tags(Some(r#"{"a": null}"#))
                .unwrap_err()
                .contains("is null")
        );
        assert!(
            parse_tags(Some(r#"{"a": {"b": 1}}"#))
                .unwrap_err()
                .contains("an object")
        );
        assert!(
            parse_tags(Some(r#"{"__x": "1"}"#))
                .unwrap_err()
                .contains("reserved")
        );
        assert!(
            parse_tags(Some(r#"{"quantile": "1"}"#))
                .unwrap_err()
                .contains("reserved")
        );
        assert!(
            parse_tags(Some(r#"{"a-b": "1"}"#))
                .unwrap_err()
                .contains("tag name")
        );
    }

    #[test]
    fn comparisons_and_margins() {
        use Comparison::*;
        assert!(GreaterThan.holds(1001.0, 1000.0) && !GreaterThan.holds(1000.0, 1000.0));
        assert!(GreaterOrEqual.holds(1000.0, 1000.0));
        assert!(LessThan.holds(9.0, 10.0) && !LessThan.holds(10.0, 10.0));
        assert!(LessOrEqual.holds(10.0, 10.0));
        assert!(Equal.holds(3.0, 3.0) && NotEqual.holds(3.0, 4.0));
        // Left only once clear of the threshold by the margin.
        assert!(GreaterThan.holds_with_margin(950.0, 1000.0, 100.0));
        assert!(!GreaterThan.holds_with_margin(900.0, 1000.0, 100.0));
        assert!(LessThan.holds_with_margin(10.5, 10.0, 1.0));
        assert!(!LessThan.holds_with_margin(11.0, 10.0, 1.0));
    }

    #[test]
    fn names_round_trip_through_serde() {
        for (name, op) in Comparison::NAMES {
            assert_eq!(serde_json::to_value(op).unwrap(), serde_json::json!(name));
        }
        for (name, a) in WindowAggregation::NAMES {
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::json!(name));
            assert_eq!(a.as_str(), name);
        }
        for name in ["keep_state", "ok", "warning", "error", "critical"] {
            let p: NoData = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(name));
        }
        for k in MetricKind::ALL {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
    }
}
