//! The performance-monitoring engine: pure, in memory, no I/O.
//!
//! - [`model`]: what a metric is (its [`MetricKind`], its name and tags), the
//!   threshold rules of `performance_monitoring.yml` ([`ThresholdRule`]) and
//!   the subsystem's settings ([`MonitoringSettings`]).
//! - [`window`]: [`WindowStats`], the mergeable aggregate of one series in one
//!   time window: count, sum, min, max, mean and M2 (Welford/Chan), the last
//!   value, and a DDSketch for quantiles within 1% relative error. Windows
//!   merge exactly (a rollup of sixty minutes into an hour loses nothing the
//!   report uses), so nothing ever rescans raw samples.
//! - [`alerts`]: the alert state machine after Prometheus's (inactive →
//!   pending → firing → resolved), with severities that escalate and
//!   de-escalate inside one incident, hysteresis and a no-data policy.
//! - [`report`]: the performance report of a time range and its rule-based
//!   recommendations.
//! - [`openmetrics`]: the OpenMetrics text exposition of current values.
//! - [`text`]: numbers in sentences.
//!
//! The handle (`crate::Cha`) records samples, persists windows and runs the
//! evaluator; the configuration (`crate::config`) reads the rules. This
//! module imports neither.

pub mod alerts;
pub mod model;
pub mod openmetrics;
pub mod report;
pub mod text;
pub mod window;

pub use alerts::{
    AlertEvent, AlertRecord, AlertState, RuleState, Transition, TransitionKind, evaluate_rule,
};
pub use model::{
    Comparison, FlagUsageSettings, MetricKind, MonitoringSettings, NoData, Retention, Severity,
    SystemMetricsSettings, ThresholdRule, WindowAggregation, canonical_tags, check_metric_name,
    parse_tags,
};
pub use window::WindowStats;
