//! The analysis of the feedback of a time range (`analyze_feedback`), from
//! mergeable summaries: no text is read again, and the cost does not grow
//! with the number of items but with the days, groups and arms they fall
//! into.
//!
//! The store keeps, per UTC day, one [`ItemStats`] per (type, category,
//! priority, sentiment label) and one per experiment variant and flag state
//! the items' users were exposed to; it hands the analysis those of the
//! range (and folds the items of a range's partial first and last days the
//! same way), the top clusters of near-duplicate reports, the user counts
//! and the workflow counts. [`analyze`] turns them into the report.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{FeedbackType, Priority, SentimentLabel};
use super::recommend;
use super::settings::SuccessTargets;
use super::trend::slope;

pub use super::report::{
    ALPHA, ArmComparison, ArmSummary, ArmTest, CategorySummary, Difference, FeedbackAnalysis,
    IssueCluster, Period, Recommendation, Satisfaction, SuccessMetric, Trend, TrendPoint, Volume,
    number, percent,
};
pub use super::summary::ItemStats;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// With a span of more than this many days, the trend is weekly.
pub const WEEKLY_AFTER_DAYS: i64 = 90;

/// The group of a day's summary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupKey {
    /// The items' type.
    pub kind: FeedbackType,
    /// Their category.
    pub category: String,
    /// Their priority.
    pub priority: Priority,
    /// Their sentiment label.
    pub sentiment: SentimentLabel,
}

/// What an arm's users were exposed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A feature flag: arms `on` and `off`.
    Flag,
    /// An A/B test: one arm per variant.
    Experiment,
}

impl Source {
    /// The name in JSON and the store (`flag`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Experiment => "experiment",
        }
    }

    /// The source named `name`.
    pub fn parse(name: &str) -> Option<Source> {
        match name {
            "flag" => Some(Source::Flag),
            "experiment" => Some(Source::Experiment),
            _ => None,
        }
    }
}

/// One arm: the items whose users saw flag `name` in state `arm` (`on`,
/// `off`), or variant `arm` of experiment `name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArmKey {
    /// Flag or experiment.
    pub source: Source,
    /// The flag's or the experiment's name.
    pub name: String,
    /// The state or the variant.
    pub arm: String,
}

/// The state of a flag in an arm: on.
pub const FLAG_ON: &str = "on";
/// The state of a flag in an arm: off.
pub const FLAG_OFF: &str = "off";

/// The workflow counts of the original reports (not merged duplicates, not
/// survey answers, which need no resolution) submitted in the range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WorkflowCounts {
    /// Original reports.
    pub originals: u64,
    /// Of them, not yet resolved, closed or merged.
    pub open: u64,
    /// Acknowledged within the target time.
    pub acknowledged_in_time: u64,
    /// Whose acknowledgement can be judged: acknowledged, or older than
    /// the target time.
    pub acknowledgement_due: u64,
    /// Resolved (or closed) within the target time.
    pub resolved_in_time: u64,
    /// Whose resolution can be judged: done, or older than the target time.
    pub resolution_due: u64,
    /// The mean hours from submission to acknowledgement, of those
    /// acknowledged.
    pub mean_acknowledgement_hours: Option<f64>,
}

/// What [`analyze`] works from.
#[derive(Debug, Clone)]
pub struct AnalysisInput<'a> {
    /// The range, `[start_ms, end_ms)`; 0 means unbounded.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
    /// The items by group.
    pub groups: &'a [(GroupKey, ItemStats)],
    /// The items by UTC day number (ms / [`DAY_MS`]).
    pub days: &'a [(i64, ItemStats)],
    /// The items by arm.
    pub arms: &'a [(ArmKey, ItemStats)],
    /// The control variant of each experiment.
    pub controls: &'a BTreeMap<String, String>,
    /// The configured categories, in order (listed even without items).
    pub categories: &'a [String],
    /// The largest clusters, ranked.
    pub top_issues: &'a [IssueCluster],
    /// Different users who gave feedback in the range.
    pub users_with_feedback: u64,
    /// Different users exposed to the system by the end of the range.
    pub users_exposed: u64,
    /// The workflow counts.
    pub workflow: WorkflowCounts,
    /// The success targets.
    pub targets: &'a SuccessTargets,
    /// The trend's period; `None` chooses days, or weeks for a span of
    /// more than [`WEEKLY_AFTER_DAYS`].
    pub period: Option<Period>,
}

/// The analysis of `input`.
pub fn analyze(input: &AnalysisInput<'_>) -> FeedbackAnalysis {
    let mut total = ItemStats::default();
    let mut negative = 0;
    let mut by_type: BTreeMap<String, u64> = FeedbackType::ALL
        .iter()
        .map(|t| (t.as_str().to_owned(), 0))
        .collect();
    let mut by_category: BTreeMap<String, u64> =
        input.categories.iter().map(|c| (c.clone(), 0)).collect();
    let mut by_priority: BTreeMap<String, u64> = Priority::ALL
        .iter()
        .map(|p| (p.as_str().to_owned(), 0))
        .collect();
    let mut by_sentiment: BTreeMap<String, u64> = SentimentLabel::ALL
        .iter()
        .map(|l| (l.as_str().to_owned(), 0))
        .collect();
    let mut per_category: BTreeMap<String, (ItemStats, u64)> = BTreeMap::new();
    for (key, stats) in input.groups {
        total.merge(stats);
        let is_negative = key.sentiment == SentimentLabel::Negative;
        if is_negative {
            negative += stats.items;
        }
        *by_type.entry(key.kind.as_str().to_owned()).or_default() += stats.items;
        *by_category.entry(key.category.clone()).or_default() += stats.items;
        *by_priority
            .entry(key.priority.as_str().to_owned())
            .or_default() += stats.items;
        *by_sentiment
            .entry(key.sentiment.as_str().to_owned())
            .or_default() += stats.items;
        let c = per_category.entry(key.category.clone()).or_default();
        c.0.merge(stats);
        if is_negative {
            c.1 += stats.items;
        }
    }
    let mut categories: Vec<CategorySummary> = per_category
        .iter()
        .map(|(name, (stats, neg))| CategorySummary {
            category: name.clone(),
            satisfaction: Satisfaction::of(stats, *neg),
        })
        .collect();
    categories.sort_by(|a, b| {
        b.satisfaction
            .items
            .cmp(&a.satisfaction.items)
            .then_with(|| a.category.cmp(&b.category))
    });
    let satisfaction = Satisfaction::of(&total, negative);
    let trend = trend(input);
    let (experiments, flags) = comparisons(input);
    let success_metrics = success_metrics(input);
    let mut analysis = FeedbackAnalysis {
        start_ms: input.start_ms,
        end_ms: input.end_ms,
        total_items: total.items,
        volume: Volume {
            by_type,
            by_category,
            by_priority,
            by_sentiment,
        },
        satisfaction,
        categories,
        trend,
        top_issues: input.top_issues.to_vec(),
        experiments,
        flags,
        success_metrics,
        recommendations: Vec::new(),
    };
    analysis.recommendations = recommend::recommendations(&analysis, input.targets);
    analysis
}

/// The first day of the ISO week (Monday) of UTC day `day` (1970-01-01,
/// day 0, was a Thursday).
pub fn week_start(day: i64) -> i64 {
    day - (day + 3).rem_euclid(7)
}

fn trend(input: &AnalysisInput<'_>) -> Trend {
    let first = input.days.iter().map(|d| d.0).min();
    let last = input.days.iter().map(|d| d.0).max();
    let period = input.period.unwrap_or(match (first, last) {
        (Some(f), Some(l)) if l - f > WEEKLY_AFTER_DAYS => Period::Week,
        _ => Period::Day,
    });
    let mut periods: BTreeMap<i64, ItemStats> = BTreeMap::new();
    for (day, stats) in input.days {
        let key = match period {
            Period::Day => *day,
            Period::Week => week_start(*day),
        };
        periods.entry(key).or_default().merge(stats);
    }
    let step = match period {
        Period::Day => 1.0,
        Period::Week => 7.0,
    };
    let origin = periods.keys().next().copied().unwrap_or(0);
    let x = |day: i64| (day - origin) as f64 / step;
    let rating_points: Vec<(f64, f64)> = periods
        .iter()
        .filter_map(|(d, s)| s.average_rating().map(|r| (x(*d), r)))
        .collect();
    let sentiment_points: Vec<(f64, f64)> = periods
        .iter()
        .filter_map(|(d, s)| s.sentiment_mean().map(|m| (x(*d), m)))
        .collect();
    let rating_slope = slope(&rating_points);
    let direction = match rating_slope.and_then(|s| s.p_value.map(|p| (s.per_period, p))) {
        None => "unknown",
        Some((b, p)) if p < ALPHA && b > 0.0 => "improving",
        Some((b, p)) if p < ALPHA && b < 0.0 => "declining",
        Some(_) => "flat",
    };
    Trend {
        period,
        points: periods
            .iter()
            .map(|(day, s)| TrendPoint {
                start_ms: day * DAY_MS,
                items: s.items,
                ratings: s.rating.n,
                average_rating: s.average_rating(),
                csat: s.csat(),
                sentiment_mean: s.sentiment_mean(),
            })
            .collect(),
        rating_slope,
        sentiment_slope: slope(&sentiment_points),
        direction,
    }
}

fn comparisons(input: &AnalysisInput<'_>) -> (Vec<ArmComparison>, Vec<ArmComparison>) {
    let mut by_name: BTreeMap<(Source, &str), BTreeMap<&str, ItemStats>> = BTreeMap::new();
    for (key, stats) in input.arms {
        by_name
            .entry((key.source, key.name.as_str()))
            .or_default()
            .entry(key.arm.as_str())
            .or_default()
            .merge(stats);
    }
    let (mut experiments, mut flags) = (Vec::new(), Vec::new());
    for ((source, name), arms) in by_name {
        let reference = match source {
            Source::Flag => FLAG_OFF.to_owned(),
            Source::Experiment => input
                .controls
                .get(name)
                .cloned()
                .or_else(|| arms.keys().next().map(|a| (*a).to_owned()))
                .unwrap_or_default(),
        };
        let empty = ItemStats::default();
        let reference_stats = arms.get(reference.as_str()).unwrap_or(&empty);
        let tests = arms
            .iter()
            .filter(|(arm, _)| **arm != reference)
            .map(|(arm, s)| ArmTest {
                arm: (*arm).to_owned(),
                versus: reference.clone(),
                rating: Difference::of(&s.rating, &reference_stats.rating),
                sentiment: Difference::of(&s.sentiment, &reference_stats.sentiment),
            })
            .collect();
        let comparison = ArmComparison {
            name: name.to_owned(),
            reference: reference.clone(),
            arms: arms
                .iter()
                .map(|(arm, s)| ArmSummary {
                    arm: (*arm).to_owned(),
                    items: s.items,
                    ratings: s.rating.n,
                    average_rating: s.average_rating(),
                    csat: s.csat(),
                    sentiment_mean: s.sentiment_mean(),
                })
                .collect(),
            tests,
        };
        match source {
            Source::Flag => flags.push(comparison),
            Source::Experiment => experiments.push(comparison),
        }
    }
    (experiments, flags)
}

fn share(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn success_metrics(input: &AnalysisInput<'_>) -> Vec<SuccessMetric> {
    let t = input.targets;
    let w = &input.workflow;
    let collection = share(input.users_with_feedback, input.users_exposed);
    let acknowledgement = share(w.acknowledged_in_time, w.acknowledgement_due);
    let resolution = share(w.resolved_in_time, w.resolution_due);
    vec![
        SuccessMetric {
            name: "collection_rate",
            description: format!(
                "users who gave feedback out of the users exposed; target more than {}",
                percent(t.collection_rate)
            ),
            value: collection,
            target: t.collection_rate,
            met: collection.map(|v| v > t.collection_rate),
            numerator: input.users_with_feedback,
            denominator: input.users_exposed,
        },
        SuccessMetric {
            name: "acknowledgement",
            description: format!(
                "reports acknowledged within {} hours; target at least {}",
                number(t.acknowledgement_hours),
                percent(t.acknowledgement_rate)
            ),
            value: acknowledgement,
            target: t.acknowledgement_rate,
            met: acknowledgement.map(|v| v >= t.acknowledgement_rate),
            numerator: w.acknowledged_in_time,
            denominator: w.acknowledgement_due,
        },
        SuccessMetric {
            name: "resolution",
            description: format!(
                "reports resolved or closed within {} days; target at least {}",
                number(t.resolution_days),
                percent(t.resolution_rate)
            ),
            value: resolution,
            target: t.resolution_rate,
            met: resolution.map(|v| v >= t.resolution_rate),
            numerator: w.resolved_in_time,
            denominator: w.resolution_due,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        // 1970-01-05 (day 4) was a Monday; 2026-01-05 (day 20458) too.
        assert_eq!(week_start(0), -3);
        assert_eq!(week_start(4), 4);
        assert_eq!(week_start(10), 4);
        assert_eq!(week_start(11), 11);
        assert_eq!(week_start(20_458), 20_458);
        assert_eq!(week_start(20_464), 20_458);
    }
}
