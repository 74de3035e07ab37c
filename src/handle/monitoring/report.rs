//! Reports, the OpenMetrics export, flag usage and the series list, on the
//! handle: read from the stored windows and totals, never from raw samples.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::alerts::{rule_states, rule_value};
use crate::common::time::check_time_ms;
use crate::error::Result;
use crate::handle::Cha;
use crate::monitoring::alerts::{AlertRecord, AlertState, RuleState};
use crate::monitoring::model::{MetricKind, Severity, ThresholdRule, parse_tags};
use crate::monitoring::openmetrics::{self, Family, Series, SeriesValue};
use crate::monitoring::report::{
    FlagUsage, FlagUsageReport, MetricReport, MetricStatistics, ThresholdStatus, Trend,
    UnknownFlag, recommendations,
};
use crate::monitoring::window::{HOUR_MS, MINUTE_MS, WindowStats, window_start};
use crate::store::{definitions, monitoring as sql};

/// The quantiles of the exposition's summaries.
const EXPORT_QUANTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];
/// The recent window the exposition's quantiles cover.
const EXPORT_WINDOW_MS: i64 = 5 * MINUTE_MS;

/// A performance report of a range (`generate_performance_report`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceReport {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The start of the previous range of the same length, the trends'
    /// reference (it ends at `start_ms`).
    pub previous_start_ms: i64,
    pub generated_at_ms: i64,
    /// Every metric with samples in the range or a rule, by name.
    pub metrics: Vec<MetricReport>,
    /// Incidents active in the range, newest first.
    pub alerts: Vec<AlertRecord>,
    pub flag_usage: FlagUsageReport,
    /// Every recommendation, most urgent first: firing alerts, the
    /// metrics', then flag usage.
    pub recommendations: Vec<String>,
}

/// A rule with its state now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStatus {
    #[serde(flatten)]
    pub rule: ThresholdRule,
    pub state: AlertState,
    pub severity: Option<Severity>,
    /// Pending: since when; firing: when it fired.
    pub since_ms: Option<i64>,
    /// The value of the last evaluation.
    pub value: Option<f64>,
    pub evaluated_at_ms: Option<i64>,
    /// The open incident.
    pub alert: Option<i64>,
}

/// A stored series with its all-time totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSeries {
    pub metric: String,
    pub kind: MetricKind,
    pub tags: BTreeMap<String, String>,
    pub count: u64,
    pub sum: f64,
    pub last_value: f64,
    pub last_at_ms: i64,
    pub created_ms: i64,
}

fn merged(windows: impl IntoIterator<Item = WindowStats>) -> WindowStats {
    let mut all = WindowStats::new();
    for w in windows {
        all.merge(&w);
    }
    all
}

impl Cha {
    /// The performance report of [`start_ms`, `end_ms`)
    /// (`generate_performance_report`): per metric its count, mean, median,
    /// standard deviation, min, max, p50/p90/p95/p99, the trend against the
    /// previous range of the same length, the status against its rules,
    /// the alerts, and recommendations; flag usage; every recommendation.
    /// `end_ms` 0 is now; `start_ms` 0 is the first stored window. Read
    /// from the windows (one-minute, or one-hour once rolled up: a range
    /// boundary inside a rolled-up hour counts that hour whole), never from
    /// raw samples. This handle's buffered samples are persisted first.
    ///
    /// # Errors
    /// `InvalidArgument` for an end before the start; `Storage`.
    pub fn performance_report(&self, start_ms: i64, end_ms: i64) -> Result<PerformanceReport> {
        check_time_ms("start_ms", start_ms)?;
        check_time_ms("end_ms", end_ms)?;
        self.flush()?;
        let now = crate::clock::now_ms();
        let end = if end_ms == 0 { now } else { end_ms };
        let config = self.inner.monitoring_config()?;
        let conn = self.inner.store.conn();
        let start = if start_ms == 0 {
            sql::first_window_start(&conn)?.unwrap_or(end).min(end)
        } else {
            start_ms
        };
        if end < start {
            return Err(crate::Error::invalid_argument(format!(
                "the report's end {end} is before its start {start}"
            )));
        }
        let previous_start = start - (end - start);
        let seconds = ((end - start) as f64 / 1000.0).max(1e-3);
        let states = rule_states(&conn)?;
        let alerts = sql::alerts(&conn, start, end, false, 1000)?;
        let mut names: BTreeSet<String> = sql::metrics_in(&conn, start, end)?.into_iter().collect();
        names.extend(config.rules.iter().map(|r| r.metric_name.clone()));
        let previous_label = "the previous period";
        let mut metrics = Vec::new();
        for name in &names {
            let series = sql::series_of(&conn, name)?;
            let kind = series
                .first()
                .and_then(|s| MetricKind::from_name(&s.kind))
                .unwrap_or(MetricKind::Histogram);
            let tags: BTreeMap<i64, BTreeMap<String, String>> = series
                .iter()
                .map(|s| (s.id, parse_tags(Some(&s.tags)).unwrap_or_default()))
                .collect();
            let current_windows = sql::windows_of(&conn, name, start, end)?;
            let used: BTreeSet<i64> = current_windows.iter().map(|(id, _)| *id).collect();
            let rules: Vec<&ThresholdRule> = config
                .rules
                .iter()
                .filter(|r| &r.metric_name == name)
                .collect();
            let current = merged(current_windows.iter().map(|(_, w)| w.clone()));
            let previous = merged(
                sql::windows_of(&conn, name, previous_start, start)?
                    .into_iter()
                    .map(|(_, w)| w),
            );
            let statistics = MetricStatistics::of(&current, kind, seconds);
            let previous_statistics = MetricStatistics::of(&previous, kind, seconds);
            let higher_is_worse = rules
                .iter()
                .find_map(|r| r.comparison_operator.higher_is_worse());
            let thresholds = rules
                .iter()
                .map(|rule| {
                    // The rule's series only (its tags), over the range.
                    let selected = merged(
                        current_windows
                            .iter()
                            .filter(|(id, _)| tags.get(id).is_some_and(|t| rule.matches(t)))
                            .map(|(_, w)| w.clone()),
                    );
                    let value =
                        MetricStatistics::of(&selected, kind, seconds).value(rule.aggregation);
                    let (state, _) = states.get(&rule.name).copied().unwrap_or_default();
                    ThresholdStatus::of(rule, value, state.state, state.severity)
                })
                .collect();
            let mut report = MetricReport {
                metric: name.clone(),
                kind,
                unit: kind.unit().map(str::to_string),
                series: used.len(),
                statistics: statistics.clone(),
                trend: Trend::between(&statistics, &previous_statistics, higher_is_worse),
                thresholds,
                alerts: alerts
                    .iter()
                    .filter(|a| &a.metric == name)
                    .map(|a| a.id)
                    .collect(),
                recommendations: Vec::new(),
            };
            report.recommendations = recommendations(&report, &rules, previous_label);
            metrics.push(report);
        }
        drop(conn);
        let flag_usage = self.flag_usage(start, end)?;
        let mut all: Vec<String> = alerts
            .iter()
            .filter(|a| a.state == "firing")
            .map(|a| {
                format!(
                    "alert {} ({}, {}) is firing{}: {}",
                    a.id,
                    a.rule,
                    a.severity.as_str(),
                    match &a.acknowledged_by {
                        Some(by) => format!(", acknowledged by {by}"),
                        None => ", unacknowledged".to_string(),
                    },
                    a.message
                )
            })
            .collect();
        all.extend(
            metrics
                .iter()
                .flat_map(|m| m.recommendations.iter().cloned()),
        );
        all.extend(flag_usage.recommendations());
        Ok(PerformanceReport {
            start_ms: start,
            end_ms: end,
            previous_start_ms: previous_start,
            generated_at_ms: now,
            metrics,
            alerts,
            flag_usage,
            recommendations: all,
        })
    }

    /// Flag usage in [`start_ms`, `end_ms`) (0: unbounded), by flag: every
    /// deployed flag (stale ones marked) and any other evaluated; unknown
    /// names asked for. This handle's counts are persisted first.
    ///
    /// # Errors
    /// `Storage`.
    pub fn flag_usage(&self, start_ms: i64, end_ms: i64) -> Result<FlagUsageReport> {
        check_time_ms("start_ms", start_ms)?;
        check_time_ms("end_ms", end_ms)?;
        crate::handle::recorder::Flush::flush(&self.inner.recorder.monitoring, &self.inner.store)?;
        let config = self.inner.monitoring_config()?;
        let stale_days = config.settings.flag_usage.stale_after_days;
        let now = crate::clock::now_ms();
        let end = if end_ms == 0 { i64::MAX } else { end_ms };
        let conn = self.inner.store.conn();
        let usage = sql::flag_usage(&conn, window_start(start_ms, HOUR_MS), end)?;
        let last = sql::last_evaluated(&conn)?;
        let deployed = definitions::load(&conn, crate::handle::flags::KIND)?;
        let mut flags: BTreeMap<String, FlagUsage> = BTreeMap::new();
        let stale_before = now - i64::from(stale_days) * 86_400_000;
        for d in &deployed {
            // A flag never evaluated counts from its last change.
            let since = last.get(&d.name).copied().unwrap_or(d.updated_at_ms);
            flags.insert(
                d.name.clone(),
                FlagUsage {
                    flag: d.name.clone(),
                    evaluations: 0,
                    on: 0,
                    off: 0,
                    variants: BTreeMap::new(),
                    last_evaluated_hour_ms: last.get(&d.name).copied(),
                    stale: since < stale_before,
                },
            );
        }
        for ((flag, variant), (on, off)) in usage {
            let f = flags.entry(flag.clone()).or_insert_with(|| FlagUsage {
                flag: flag.clone(),
                evaluations: 0,
                on: 0,
                off: 0,
                variants: BTreeMap::new(),
                last_evaluated_hour_ms: last.get(&flag).copied(),
                stale: false,
            });
            if variant.is_empty() {
                f.on += on;
                f.off += off;
                f.evaluations += on + off;
            } else {
                *f.variants.entry(variant).or_default() += on + off;
            }
        }
        let unknown = sql::unknown_flags(&conn)?
            .into_iter()
            .map(|(name, count, first_seen_ms, last_seen_ms)| UnknownFlag {
                name,
                count,
                first_seen_ms,
                last_seen_ms,
            })
            .collect();
        let flags: Vec<FlagUsage> = flags.into_values().collect();
        Ok(FlagUsageReport {
            stale_after_days: stale_days,
            stale: flags
                .iter()
                .filter(|f| f.stale)
                .map(|f| f.flag.clone())
                .collect(),
            flags,
            unknown,
        })
    }

    /// The current values in the OpenMetrics text format, for Prometheus:
    /// counters (`<name>_total`), gauges (their last value), timers and
    /// histograms as summaries (p50/p90/p95/p99 of the last five minutes,
    /// all-time `_sum` and `_count`); flag evaluations
    /// (`cha_flag_evaluations_total{flag,result}`), firing alerts
    /// (`cha_alert_firing{rule,severity}`). Ends with `# EOF`. This
    /// handle's buffered samples are persisted first.
    ///
    /// # Errors
    /// `Storage`.
    pub fn export_openmetrics(&self) -> Result<String> {
        Ok(openmetrics::render(&self.metric_families()?))
    }

    /// The values of [`Cha::export_openmetrics`] in Prometheus's text
    /// format 0.0.4, which node_exporter's textfile collector reads.
    ///
    /// # Errors
    /// `Storage`.
    pub fn export_prometheus_text(&self) -> Result<String> {
        Ok(openmetrics::render_prometheus(&self.metric_families()?))
    }

    fn metric_families(&self) -> Result<Vec<Family>> {
        self.flush()?;
        let now = crate::clock::now_ms();
        let conn = self.inner.store.conn();
        let mut families: Vec<Family> = Vec::new();
        let series = sql::all_series(&conn)?;
        let mut by_name: BTreeMap<&str, Vec<&sql::SeriesRow>> = BTreeMap::new();
        for s in &series {
            by_name.entry(&s.name).or_default().push(s);
        }
        for (name, rows) in by_name {
            let kind = MetricKind::from_name(&rows[0].kind).unwrap_or(MetricKind::Histogram);
            let mut family = match kind {
                MetricKind::Counter => Family::counter(name, "Counter."),
                MetricKind::Gauge => Family::gauge(name, "Gauge: the last value."),
                MetricKind::Timer => Family::summary(
                    name,
                    "Timer, in milliseconds; quantiles of the last 5 minutes.",
                ),
                MetricKind::Histogram => {
                    Family::summary(name, "Histogram; quantiles of the last 5 minutes.")
                }
            };
            let recent: BTreeMap<i64, WindowStats> = {
                let mut m: BTreeMap<i64, WindowStats> = BTreeMap::new();
                if matches!(kind, MetricKind::Timer | MetricKind::Histogram) {
                    for (id, w) in
                        sql::windows_of(&conn, name, now - EXPORT_WINDOW_MS + 1, now + 1)?
                    {
                        m.entry(id).or_default().merge(&w);
                    }
                }
                m
            };
            for row in rows {
                let labels: Vec<(String, String)> = parse_tags(Some(&row.tags))
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                let value = match kind {
                    MetricKind::Counter => SeriesValue::Counter(row.sum),
                    MetricKind::Gauge => SeriesValue::Gauge(row.last_value),
                    MetricKind::Timer | MetricKind::Histogram => SeriesValue::Summary {
                        count: row.count as u64,
                        sum: row.sum,
                        quantiles: recent
                            .get(&row.id)
                            .map(|w| {
                                EXPORT_QUANTILES
                                    .iter()
                                    .filter_map(|q| Some((*q, w.quantile(*q)?)))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    },
                };
                family.series.push(Series { labels, value });
            }
            families.push(family);
        }
        let mut flags = Family::counter(
            "cha_flag_evaluations",
            "Flag evaluations by result, as Unleash counts them.",
        );
        for ((flag, variant), (on, off)) in sql::flag_usage(&conn, 0, i64::MAX)? {
            if !variant.is_empty() {
                continue;
            }
            for (result, n) in [("on", on), ("off", off)] {
                flags.series.push(Series {
                    labels: vec![
                        ("flag".into(), flag.clone()),
                        ("result".into(), result.into()),
                    ],
                    value: SeriesValue::Counter(n as f64),
                });
            }
        }
        families.push(flags);
        let mut firing = Family::gauge("cha_alert_firing", "1 for each alert firing now.");
        for a in sql::alerts(&conn, 0, i64::MAX, true, u32::MAX)? {
            firing.series.push(Series {
                labels: vec![
                    ("alert_id".into(), a.id.to_string()),
                    ("rule".into(), a.rule.clone()),
                    ("severity".into(), a.severity.as_str().into()),
                ],
                value: SeriesValue::Gauge(1.0),
            });
        }
        families.push(firing);
        Ok(families)
    }

    /// Every stored series, by metric and tags, with its all-time totals.
    ///
    /// # Errors
    /// `Storage`.
    pub fn metric_series(&self) -> Result<Vec<MetricSeries>> {
        self.flush()?;
        Ok(sql::all_series(&self.inner.store.conn())?
            .into_iter()
            .map(|s| MetricSeries {
                kind: MetricKind::from_name(&s.kind).unwrap_or(MetricKind::Histogram),
                tags: parse_tags(Some(&s.tags)).unwrap_or_default(),
                metric: s.name,
                count: s.count as u64,
                sum: s.sum,
                last_value: s.last_value,
                last_at_ms: s.last_at_ms,
                created_ms: s.created_ms,
            })
            .collect())
    }

    /// Raw samples of `metric` in [`start_ms`, `end_ms`) (0: unbounded),
    /// oldest first, at most `limit`: only those kept by
    /// `settings.retention.raw_samples_hours`.
    ///
    /// # Errors
    /// `Storage`.
    pub fn metric_samples(
        &self,
        metric: &str,
        start_ms: i64,
        end_ms: i64,
        limit: u32,
    ) -> Result<Vec<sql::RawSample>> {
        self.flush()?;
        let end = if end_ms == 0 { i64::MAX } else { end_ms };
        sql::samples(&self.inner.store.conn(), metric, start_ms, end, limit)
    }

    /// Every deployed rule with its state now.
    ///
    /// # Errors
    /// `Storage`.
    pub fn alert_rules(&self) -> Result<Vec<RuleStatus>> {
        let config = self.inner.monitoring_config()?;
        let states = rule_states(&self.inner.store.conn())?;
        Ok(config
            .rules
            .iter()
            .map(|rule| {
                let (s, alert): (RuleState, Option<i64>) =
                    states.get(&rule.name).copied().unwrap_or_default();
                RuleStatus {
                    rule: rule.clone(),
                    state: s.state,
                    severity: s.severity,
                    since_ms: s.since_ms,
                    value: s.value,
                    evaluated_at_ms: s.evaluated_at_ms,
                    alert,
                }
            })
            .collect())
    }

    /// The value rule `name` would see now (its aggregation over its
    /// window), without evaluating it.
    ///
    /// # Errors
    /// `NotFound` for an unknown rule.
    pub fn rule_value(&self, name: &str, now_ms: i64) -> Result<Option<f64>> {
        self.flush()?;
        let config = self.inner.monitoring_config()?;
        let rule = config
            .rules
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| crate::Error::not_found(format!("no alert rule is named `{name}`")))?;
        let now = if now_ms == 0 {
            crate::clock::now_ms()
        } else {
            now_ms
        };
        rule_value(&self.inner.store.conn(), rule, now)
    }
}
