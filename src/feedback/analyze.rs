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

use serde::{Deserialize, Serialize};

use super::model::{FeedbackType, Priority, SentimentLabel, Status};
use super::recommend;
use super::settings::SuccessTargets;
use super::trend::{Slope, slope};
use crate::stats::{Summary, welch};

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// The significance level of the comparisons and of the trend.
pub const ALPHA: f64 = 0.05;

/// With a span of more than this many days, the trend is weekly.
pub const WEEKLY_AFTER_DAYS: i64 = 90;

/// Mergeable statistics of a set of items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemStats {
    /// How many items.
    pub items: u64,
    /// Their ratings (n: the items that have one).
    pub rating: Summary,
    /// How many ratings were 4 or 5.
    pub satisfied: u64,
    /// Their sentiment scores (n: every item).
    pub sentiment: Summary,
}

impl ItemStats {
    /// Adds one item with `rating` (1–5, if any) and sentiment `score`.
    pub fn push(&mut self, rating: Option<u8>, score: f64) {
        self.items += 1;
        if let Some(r) = rating {
            self.rating.push(f64::from(r));
            if r >= 4 {
                self.satisfied += 1;
            }
        }
        self.sentiment.push(score);
    }

    /// Adds every item of `other`.
    pub fn merge(&mut self, other: &ItemStats) {
        self.items += other.items;
        self.rating.merge(&other.rating);
        self.satisfied += other.satisfied;
        self.sentiment.merge(&other.sentiment);
    }

    /// The mean rating, if any item has one.
    pub fn average_rating(&self) -> Option<f64> {
        (self.rating.n > 0).then_some(self.rating.mean)
    }

    /// CSAT: the share of ratings that are 4 or 5.
    pub fn csat(&self) -> Option<f64> {
        (self.rating.n > 0).then(|| self.satisfied as f64 / self.rating.n as f64)
    }

    /// The mean sentiment score, if there is any item.
    pub fn sentiment_mean(&self) -> Option<f64> {
        (self.sentiment.n > 0).then_some(self.sentiment.mean)
    }
}

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

/// A cluster of near-duplicate reports: the first report and those merged
/// into it, counted in the range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssueCluster {
    /// The id of the first report (the one the others were merged into).
    pub id: i64,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FeedbackType,
    /// Its category.
    pub category: String,
    /// Its priority.
    pub priority: Priority,
    /// Its status.
    pub status: Status,
    /// Reports in the range, copies included.
    pub reports: u64,
    /// Different people who sent them: what ranks the issues.
    pub people: u64,
    /// The mean sentiment of the reports.
    pub sentiment_mean: f64,
    /// Texts of its reports, the first report's first.
    pub examples: Vec<String>,
}

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

/// The trend's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// UTC days.
    Day,
    /// ISO weeks (Monday to Sunday, UTC).
    Week,
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

/// The analysis of a range (`cha_feedback_analyze`, `analyze_feedback`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackAnalysis {
    /// The range, as asked (0: unbounded).
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
    /// Items submitted in the range, copies included.
    pub total_items: u64,
    /// Items by type, category, priority and sentiment label.
    pub volume: Volume,
    /// Ratings and sentiment of all items.
    pub satisfaction: Satisfaction,
    /// Each category's numbers, largest first.
    pub categories: Vec<CategorySummary>,
    /// Satisfaction per day or week, with the slope.
    pub trend: Trend,
    /// The issues most people reported.
    pub top_issues: Vec<IssueCluster>,
    /// Satisfaction and sentiment per variant of each experiment.
    pub experiments: Vec<ArmComparison>,
    /// Satisfaction and sentiment per state of each flag.
    pub flags: Vec<ArmComparison>,
    /// The seed's success metrics against their targets.
    pub success_metrics: Vec<SuccessMetric>,
    /// What to do, each with the numbers behind it.
    pub recommendations: Vec<recommend::Recommendation>,
}

/// Counts of items by each dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Volume {
    /// By type (every type, zeros included).
    pub by_type: BTreeMap<String, u64>,
    /// By category (every configured category, zeros included).
    pub by_category: BTreeMap<String, u64>,
    /// By priority.
    pub by_priority: BTreeMap<String, u64>,
    /// By sentiment label.
    pub by_sentiment: BTreeMap<String, u64>,
}

/// Ratings and sentiment of a set of items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Satisfaction {
    /// Items.
    pub items: u64,
    /// Items with a rating.
    pub ratings: u64,
    /// The mean rating (1–5).
    pub average_rating: Option<f64>,
    /// The standard deviation of the ratings.
    pub rating_std_dev: Option<f64>,
    /// Ratings of 4 or 5.
    pub satisfied: u64,
    /// `satisfied / ratings`.
    pub csat: Option<f64>,
    /// The mean sentiment score.
    pub sentiment_mean: Option<f64>,
    /// Items whose sentiment is negative.
    pub negative: u64,
    /// `negative / items`.
    pub negative_share: Option<f64>,
}

impl Satisfaction {
    fn of(stats: &ItemStats, negative: u64) -> Satisfaction {
        Satisfaction {
            items: stats.items,
            ratings: stats.rating.n,
            average_rating: stats.average_rating(),
            rating_std_dev: stats.rating.std_dev(),
            satisfied: stats.satisfied,
            csat: stats.csat(),
            sentiment_mean: stats.sentiment_mean(),
            negative,
            negative_share: (stats.items > 0).then(|| negative as f64 / stats.items as f64),
        }
    }
}

/// One category's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategorySummary {
    /// The category.
    pub category: String,
    /// Its satisfaction.
    #[serde(flatten)]
    pub satisfaction: Satisfaction,
}

/// One period of the trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    /// Where the period starts (UTC midnight).
    pub start_ms: i64,
    /// Items in it.
    pub items: u64,
    /// Ratings in it.
    pub ratings: u64,
    /// Their mean.
    pub average_rating: Option<f64>,
    /// CSAT of the period.
    pub csat: Option<f64>,
    /// The mean sentiment score.
    pub sentiment_mean: Option<f64>,
}

/// Satisfaction over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// Days or weeks.
    pub period: Period,
    /// The periods with items, in order.
    pub points: Vec<TrendPoint>,
    /// The line through the periods' average ratings (points without
    /// ratings left out), per period.
    pub rating_slope: Option<Slope>,
    /// The line through the periods' mean sentiment.
    pub sentiment_slope: Option<Slope>,
    /// `improving` or `declining` when the rating slope is significant
    /// (p < 0.05), else `flat`; `unknown` without a p-value.
    pub direction: &'static str,
}

/// One arm's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmSummary {
    /// The variant, or the flag state.
    pub arm: String,
    /// Items.
    pub items: u64,
    /// Items with a rating.
    pub ratings: u64,
    /// The mean rating.
    pub average_rating: Option<f64>,
    /// CSAT.
    pub csat: Option<f64>,
    /// The mean sentiment score.
    pub sentiment_mean: Option<f64>,
}

/// Welch's t-test of a difference between two arms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `ok`, or why there is no test (`insufficient_data`: an arm has fewer
    /// than 2 values; `no_variance`: every value is the same).
    pub status: &'static str,
    /// Values in the compared arm and in the reference arm.
    pub n: u64,
    /// See `n`.
    pub n_reference: u64,
    /// Arm mean minus reference mean.
    pub difference: Option<f64>,
    /// The 95% confidence interval of the difference.
    pub ci_lower: Option<f64>,
    /// See `ci_lower`.
    pub ci_upper: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Whether p < 0.05.
    pub significant: bool,
}

impl Difference {
    fn of(arm: &Summary, reference: &Summary) -> Difference {
        let mut d = Difference {
            status: "ok",
            n: arm.n,
            n_reference: reference.n,
            difference: None,
            ci_lower: None,
            ci_upper: None,
            p_value: None,
            significant: false,
        };
        match welch(reference, arm, ALPHA) {
            Ok(t) => {
                d.difference = Some(t.difference);
                d.ci_lower = Some(t.ci.lower);
                d.ci_upper = Some(t.ci.upper);
                d.p_value = Some(t.p_value);
                d.significant = t.p_value < ALPHA;
            }
            Err(crate::stats::StatsError::ZeroVariance) => {
                d.status = "no_variance";
                d.difference = Some(arm.mean - reference.mean);
            }
            Err(_) => d.status = "insufficient_data",
        }
        d
    }
}

/// One arm against the reference arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmTest {
    /// The arm compared.
    pub arm: String,
    /// The reference arm (the experiment's control, or `off`).
    pub versus: String,
    /// The difference of the ratings.
    pub rating: Difference,
    /// The difference of the sentiment scores.
    pub sentiment: Difference,
}

/// The arms of one experiment or flag, and each against the reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmComparison {
    /// The experiment or flag.
    pub name: String,
    /// The reference arm.
    pub reference: String,
    /// Every arm with items.
    pub arms: Vec<ArmSummary>,
    /// Every other arm against the reference.
    pub tests: Vec<ArmTest>,
}

/// One of the seed's success metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuccessMetric {
    /// `collection_rate`, `acknowledgement` or `resolution`.
    pub name: &'static str,
    /// What it measures, with the target in words.
    pub description: String,
    /// The measured share, when there is anything to measure.
    pub value: Option<f64>,
    /// The target share.
    pub target: f64,
    /// Whether the target is met (collection: above it; the others: at
    /// least it); `None` when there is nothing to measure.
    pub met: Option<bool>,
    /// The count of successes.
    pub numerator: u64,
    /// The count they are out of.
    pub denominator: u64,
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

/// A share as a percentage for text: `12.5%`, `80%`.
pub(crate) fn percent(share: f64) -> String {
    format!("{}%", number(share * 100.0))
}

/// A number for text, without trailing zeros: `24`, `2.5`, `0.123`.
pub(crate) fn number(x: f64) -> String {
    let text = format!("{x:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ratings: &[u8], scores: &[f64]) -> ItemStats {
        let mut s = ItemStats::default();
        for (i, score) in scores.iter().enumerate() {
            s.push(ratings.get(i).copied(), *score);
        }
        s
    }

    #[test]
    fn item_stats_count_ratings_csat_and_sentiment() {
        let s = stats(&[5, 4, 2, 1], &[0.5, 0.2, -0.4, -0.8, 0.0]);
        assert_eq!((s.items, s.rating.n, s.satisfied), (5, 4, 2));
        assert_eq!(s.average_rating(), Some(3.0));
        assert_eq!(s.csat(), Some(0.5));
        assert!((s.sentiment_mean().unwrap() - (-0.1)).abs() < 1e-12);
        let mut merged = stats(&[5, 4], &[0.5, 0.2]);
        merged.merge(&stats(&[2, 1], &[-0.4, -0.8, 0.0]));
        assert_eq!(merged.items, s.items);
        assert!((merged.rating.m2 - s.rating.m2).abs() < 1e-12);
        assert_eq!(ItemStats::default().csat(), None);
    }

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

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(24.0), "24");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(-0.0001), "0");
        assert_eq!(percent(0.1), "10%");
        assert_eq!(percent(0.125), "12.5%");
    }
}
