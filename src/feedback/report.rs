//! What an analysis of feedback answers (`cha_feedback_analyze`): the
//! report's types, and the number formats its texts use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{FeedbackType, Priority, Status};
use super::summary::ItemStats;
use super::trend::Slope;
use crate::stats::{Summary, welch};

/// The significance level of the comparisons and of the trend.
pub const ALPHA: f64 = 0.05;

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

/// The trend's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// UTC days.
    Day,
    /// ISO weeks (Monday to Sunday, UTC).
    Week,
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
    pub recommendations: Vec<Recommendation>,
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
    /// The satisfaction of `stats`, of which `negative` items are negative.
    pub(crate) fn of(stats: &ItemStats, negative: u64) -> Satisfaction {
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
    /// Welch's test of `arm` against `reference` at [`ALPHA`], or why
    /// there is none.
    pub(crate) fn of(arm: &Summary, reference: &Summary) -> Difference {
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
                d.difference = Some(arm.mean() - reference.mean());
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

/// One recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// `top_issue`, `success_metric`, `trend`, `experiment`, `flag` or
    /// `category`.
    pub area: &'static str,
    /// How urgent it is.
    pub priority: Priority,
    /// What to do and why, with the numbers.
    pub message: String,
    /// The numbers, by name.
    pub numbers: BTreeMap<String, f64>,
}

/// A share as a percentage for text: `12.5%`, `80%`.
pub fn percent(share: f64) -> String {
    format!("{}%", number(share * 100.0))
}

/// A number for text, without trailing zeros: `24`, `2.5`, `0.123`.
pub fn number(x: f64) -> String {
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

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(24.0), "24");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(-0.0001), "0");
        assert_eq!(percent(0.1), "10%");
        assert_eq!(percent(0.125), "12.5%");
    }
}
