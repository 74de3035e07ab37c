//! The performance report of a time range: per metric its statistics from
//! the merged windows (never raw samples), the trend against the previous
//! range of the same length, the threshold status, the alerts, and
//! rule-based recommendations that name what to look at.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::alerts::AlertState;
use super::model::{MetricKind, Severity, ThresholdRule, WindowAggregation};
use super::text::short_number;
use super::window::WindowStats;

/// A change of the mean below this share (5%) is "stable".
const STABLE_CHANGE: f64 = 0.05;
/// A change of the mean in the bad direction from this share (20%) on is
/// worth a recommendation.
const NOTABLE_CHANGE: f64 = 0.20;
/// A p99 this many times the median marks a heavy tail.
const HEAVY_TAIL: f64 = 10.0;
/// Samples needed before the tail is judged.
const TAIL_MIN_COUNT: u64 = 100;

/// The statistics of one metric over a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricStatistics {
    pub count: u64,
    pub sum: f64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub std_dev: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// Samples per second over the range (a counter's increase per second).
    pub rate_per_second: f64,
    /// The latest value (a gauge's level).
    pub last: Option<f64>,
}

impl MetricStatistics {
    /// The statistics of `w`, a window `seconds` long of a metric of `kind`.
    pub fn of(w: &WindowStats, kind: MetricKind, seconds: f64) -> MetricStatistics {
        let median = w.quantile(0.5);
        let per = if kind == MetricKind::Counter {
            w.sum
        } else {
            w.count() as f64
        };
        MetricStatistics {
            count: w.count(),
            sum: w.sum,
            mean: w.mean(),
            median,
            std_dev: w.std_dev(),
            min: w.min(),
            max: w.max(),
            p50: median,
            p90: w.quantile(0.9),
            p95: w.quantile(0.95),
            p99: w.quantile(0.99),
            rate_per_second: if seconds > 0.0 { per / seconds } else { 0.0 },
            last: (w.count() > 0).then_some(w.last),
        }
    }

    /// The value a rule's aggregation takes of these statistics.
    pub fn value(&self, aggregation: WindowAggregation) -> Option<f64> {
        match aggregation {
            WindowAggregation::Mean => self.mean,
            WindowAggregation::Max => self.max,
            WindowAggregation::Min => self.min,
            WindowAggregation::P50 => self.p50,
            WindowAggregation::P90 => self.p90,
            WindowAggregation::P95 => self.p95,
            WindowAggregation::P99 => self.p99,
            WindowAggregation::Count => Some(self.count as f64),
            WindowAggregation::Sum => Some(self.sum),
            WindowAggregation::Rate => Some(self.rate_per_second),
            WindowAggregation::Last => self.last,
        }
    }
}

/// The value of `aggregation` over the window `w`, `seconds` long.
pub fn window_value(
    w: &WindowStats,
    kind: MetricKind,
    aggregation: WindowAggregation,
    seconds: f64,
) -> Option<f64> {
    MetricStatistics::of(w, kind, seconds).value(aggregation)
}

/// Which way a metric moved against the previous range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendDirection {
    /// Moved the good way (by its thresholds' direction) by 5% or more.
    Better,
    /// Moved the bad way by 5% or more.
    Worse,
    /// Rose 5% or more; no threshold says which way is good.
    Up,
    /// Fell 5% or more; no threshold says which way is good.
    Down,
    /// Within 5%.
    Stable,
    /// The previous range has no samples.
    NoPreviousData,
}

/// The trend of a metric's mean and p95 against the previous range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub previous_count: u64,
    pub previous_mean: Option<f64>,
    pub previous_p95: Option<f64>,
    /// (mean − previous mean) / |previous mean|, in percent.
    pub mean_change_percent: Option<f64>,
    pub p95_change_percent: Option<f64>,
    pub direction: TrendDirection,
}

fn change(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    let (now, before) = (now?, before?);
    (before != 0.0).then(|| (now - before) / before.abs())
}

impl Trend {
    /// The trend from `previous` to `current`; `higher_is_worse` comes from
    /// the metric's thresholds, when they say.
    pub fn between(
        current: &MetricStatistics,
        previous: &MetricStatistics,
        higher_is_worse: Option<bool>,
    ) -> Trend {
        let mean_change = change(current.mean, previous.mean);
        let direction = match mean_change {
            _ if previous.count == 0 => TrendDirection::NoPreviousData,
            None => TrendDirection::Stable,
            Some(c) if c.abs() < STABLE_CHANGE => TrendDirection::Stable,
            Some(c) => match higher_is_worse {
                Some(true) if c > 0.0 => TrendDirection::Worse,
                Some(true) => TrendDirection::Better,
                Some(false) if c > 0.0 => TrendDirection::Better,
                Some(false) => TrendDirection::Worse,
                None if c > 0.0 => TrendDirection::Up,
                None => TrendDirection::Down,
            },
        };
        Trend {
            previous_count: previous.count,
            previous_mean: previous.mean,
            previous_p95: previous.p95,
            mean_change_percent: mean_change.map(|c| c * 100.0),
            p95_change_percent: change(current.p95, previous.p95).map(|c| c * 100.0),
            direction,
        }
    }
}

/// How a metric stands against one of its rules over the report's range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdStatus {
    pub rule: String,
    pub aggregation: WindowAggregation,
    pub comparison_operator: super::model::Comparison,
    /// The rule's aggregation over the whole range (None: no data).
    pub value: Option<f64>,
    /// `ok`, `warning`, `error`, `critical` or `no_data`.
    pub level: String,
    /// The threshold of `level`, when breached.
    pub threshold: Option<f64>,
    /// The rule's alert state now.
    pub alert_state: AlertState,
    pub alert_severity: Option<Severity>,
}

impl ThresholdStatus {
    /// The status of `rule` for `value` over the range (no hysteresis: a
    /// report judges the range, not an incident), with the alert state now.
    pub fn of(
        rule: &ThresholdRule,
        value: Option<f64>,
        alert_state: AlertState,
        alert_severity: Option<Severity>,
    ) -> ThresholdStatus {
        let breached = value.and_then(|v| {
            Severity::DESCENDING.into_iter().find_map(|s| {
                let t = rule.threshold(s)?;
                rule.comparison_operator.holds(v, t).then_some((s, t))
            })
        });
        let level = match (value, breached) {
            (None, _) => "no_data".to_string(),
            (Some(_), None) => "ok".to_string(),
            (Some(_), Some((s, _))) => s.as_str().to_string(),
        };
        ThresholdStatus {
            rule: rule.name.clone(),
            aggregation: rule.aggregation,
            comparison_operator: rule.comparison_operator,
            value,
            level,
            threshold: breached.map(|(_, t)| t),
            alert_state,
            alert_severity,
        }
    }
}

/// One metric in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    pub metric: String,
    pub kind: MetricKind,
    /// `ms` for timers.
    pub unit: Option<String>,
    /// How many series (tag sets) it has in the range.
    pub series: usize,
    #[serde(flatten)]
    pub statistics: MetricStatistics,
    pub trend: Trend,
    pub thresholds: Vec<ThresholdStatus>,
    /// Ids of the alerts of its rules active in the range.
    pub alerts: Vec<i64>,
    pub recommendations: Vec<String>,
}

fn with_unit(x: f64, unit: Option<&str>) -> String {
    match unit {
        Some(u) => format!("{} {u}", short_number(x)),
        None => short_number(x),
    }
}

/// The recommendations of one metric, each naming what to look at: its
/// breached thresholds (with the rule's own `recommendation` when it has
/// one), rules without data, a worsening trend and a heavy tail.
pub fn recommendations(
    report: &MetricReport,
    rules: &[&ThresholdRule],
    previous_range: &str,
) -> Vec<String> {
    let m = &report.metric;
    let unit = report.unit.as_deref();
    let s = &report.statistics;
    let mut out = Vec::new();
    for status in &report.thresholds {
        let rule = rules.iter().find(|r| r.name == status.rule);
        match (status.value, status.threshold) {
            (Some(v), Some(t)) => {
                let look = rule
                    .and_then(|r| r.recommendation.clone())
                    .unwrap_or_else(|| default_look(report));
                out.push(format!(
                    "{m}: {} {} is {} the {} threshold {} of rule {}; {look}",
                    status.aggregation.as_str(),
                    with_unit(v, unit),
                    match status.comparison_operator.higher_is_worse() {
                        Some(true) => "above",
                        Some(false) => "below",
                        None => "at",
                    },
                    status.level,
                    with_unit(t, unit),
                    status.rule
                ));
            }
            // Silence is news only from a metric that used to report.
            (None, _) if report.trend.previous_count > 0 => out.push(format!(
                "{m}: rule {} had no data in this period, though the metric had some before; check that `{m}` is still recorded{}",
                status.rule,
                rule.filter(|r| !r.tags.is_empty())
                    .map(|r| format!(" with the tags {}", super::model::canonical_tags(&r.tags)))
                    .unwrap_or_default()
            )),
            _ => {}
        }
    }
    if report.trend.direction == TrendDirection::Worse
        && let (Some(change), Some(mean), Some(before)) = (
            report.trend.mean_change_percent,
            s.mean,
            report.trend.previous_mean,
        )
        && change.abs() >= NOTABLE_CHANGE * 100.0
    {
        out.push(format!(
            "{m}: the mean moved {}% the wrong way against {previous_range} ({} → {}); look at the deployments and flag changes between them",
            short_number(change.abs()),
            with_unit(before, unit),
            with_unit(mean, unit)
        ));
    }
    if matches!(report.kind, MetricKind::Timer | MetricKind::Histogram)
        && s.count >= TAIL_MIN_COUNT
        && let (Some(p50), Some(p99)) = (s.p50, s.p99)
        && p50 > 0.0
        && p99 / p50 >= HEAVY_TAIL
    {
        out.push(format!(
            "{m}: p99 {} is {}× the median {}: a few cases are far slower or larger; look at the inputs of the slowest ones",
            with_unit(p99, unit),
            short_number(p99 / p50),
            with_unit(p50, unit)
        ));
    }
    out
}

fn default_look(report: &MetricReport) -> String {
    let s = &report.statistics;
    let unit = report.unit.as_deref();
    match report.kind {
        MetricKind::Timer | MetricKind::Histogram => match (s.p50, s.p99) {
            (Some(p50), Some(p99)) => format!(
                "look at its slowest cases (p99 {} against a median of {}) and at what changed in the period",
                with_unit(p99, unit),
                with_unit(p50, unit)
            ),
            _ => "look at what changed in the period".to_string(),
        },
        MetricKind::Gauge => {
            "look at what drives its level and whether it keeps growing".to_string()
        }
        MetricKind::Counter => "look at what produces them, by tag".to_string(),
    }
}

/// One flag's evaluations in a range, as Unleash clients report them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagUsage {
    pub flag: String,
    pub evaluations: u64,
    pub on: u64,
    pub off: u64,
    /// Evaluations per variant, for flags with variants.
    pub variants: BTreeMap<String, u64>,
    /// The last hour it was evaluated in (start, epoch ms), ever.
    pub last_evaluated_hour_ms: Option<i64>,
    /// Deployed but not evaluated for `stale_after_days`.
    pub stale: bool,
}

/// A flag name callers asked for that does not exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnknownFlag {
    pub name: String,
    pub count: u64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// Flag usage over a range.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FlagUsageReport {
    pub stale_after_days: u32,
    /// Every deployed flag, and any other evaluated in the range, by name.
    pub flags: Vec<FlagUsage>,
    pub unknown: Vec<UnknownFlag>,
    /// The names of the stale flags.
    pub stale: Vec<String>,
}

impl FlagUsageReport {
    /// Its recommendations: unknown names (a typo in a caller) and stale
    /// flags (done rolling out, or dead code).
    pub fn recommendations(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .unknown
            .iter()
            .map(|u| {
                format!(
                    "flag `{}` was asked for {} times but does not exist: look for a typo in the caller, or deploy it",
                    u.name, u.count
                )
            })
            .collect();
        out.extend(self.stale.iter().map(|f| {
            format!(
                "flag `{f}` has not been evaluated for {} days: remove it from feature_flags.yml and from the code, or check that its callers still run",
                self.stale_after_days
            )
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(values: &[f64]) -> MetricStatistics {
        let mut w = WindowStats::new();
        for (i, v) in values.iter().enumerate() {
            w.push(*v, i as i64);
        }
        MetricStatistics::of(&w, MetricKind::Timer, 60.0)
    }

    #[test]
    fn statistics_of_a_window() {
        let s = stats(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.count, 8);
        assert_eq!((s.mean, s.min, s.max), (Some(5.0), Some(2.0), Some(9.0)));
        // The sample standard deviation (n − 1) of the textbook example.
        assert!((s.std_dev.unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert!((s.rate_per_second - 8.0 / 60.0).abs() < 1e-12);
        assert_eq!(s.value(WindowAggregation::Count), Some(8.0));
        assert_eq!(stats(&[]).value(WindowAggregation::Mean), None);
        assert_eq!(stats(&[]).value(WindowAggregation::Rate), Some(0.0));
    }

    #[test]
    fn trends_take_the_good_direction_from_the_thresholds() {
        let (before, after) = (stats(&[100.0]), stats(&[130.0]));
        let t = Trend::between(&after, &before, Some(true));
        assert_eq!(t.direction, TrendDirection::Worse);
        assert!((t.mean_change_percent.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(
            Trend::between(&after, &before, Some(false)).direction,
            TrendDirection::Better
        );
        assert_eq!(
            Trend::between(&after, &before, None).direction,
            TrendDirection::Up
        );
        assert_eq!(
            Trend::between(&stats(&[102.0]), &before, Some(true)).direction,
            TrendDirection::Stable
        );
        assert_eq!(
            Trend::between(&after, &stats(&[]), Some(true)).direction,
            TrendDirection::NoPreviousData
        );
    }
}
