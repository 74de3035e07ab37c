//! The analysis of a time range on the handle: the daily summaries of its
//! whole days, the items of its partial first and last days folded the
//! same way, and a few aggregate queries, handed to the pure analysis.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Cha, range};
use crate::error::{Error, Result};
use crate::feedback::analyze::{
    self, AnalysisInput, ArmKey, DAY_MS, FeedbackAnalysis, GroupKey, IssueCluster, ItemStats,
    Period, Source,
};
use crate::feedback::model::{FeedbackType, Priority, SentimentLabel, Status};
use crate::store::feedback::{self as sql, ArmRow, GroupRow};

/// How many top issues an analysis lists by default.
pub const DEFAULT_TOP_ISSUES: usize = 10;
/// How many texts each top issue shows, at most.
const EXAMPLES: usize = 3;

/// Options of [`Cha::analyze_feedback_with`] (the JSON of
/// `cha_feedback_analyze_with_options`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackAnalysisOptions {
    /// The trend's period, `day` or `week`; by default days, or weeks for
    /// a span of more than 90 days.
    #[serde(default)]
    pub period: Option<Period>,
    /// The users exposed to the system, for the collection rate, when the
    /// store cannot know them (users who only met flags); by default the
    /// units with a stored experiment exposure and the users who gave
    /// feedback.
    #[serde(default)]
    pub users_exposed: Option<u64>,
    /// How many top issues to list (default 10).
    #[serde(default)]
    pub top_issues: Option<usize>,
}

impl Cha {
    /// Analyses the feedback submitted in `[start_ms, end_ms)`
    /// (`analyze_feedback`; 0 is unbounded) with the default options.
    ///
    /// # Errors
    /// As [`Cha::analyze_feedback_with`].
    pub fn analyze_feedback(&self, start_ms: i64, end_ms: i64) -> Result<FeedbackAnalysis> {
        self.analyze_feedback_with(start_ms, end_ms, &FeedbackAnalysisOptions::default())
    }

    /// Analyses the feedback submitted in `[start_ms, end_ms)`: volumes by
    /// type, category, priority and sentiment; ratings and CSAT; the trend
    /// per day or week with its slope; the issues most people reported;
    /// satisfaction and sentiment per experiment variant and flag state,
    /// each tested against the control (or `off`) with Welch's t-test; the
    /// success metrics against their targets; and recommendations. Reads
    /// the daily summaries of the whole days in the range and the items of
    /// its partial days only: the text of no item is read again.
    ///
    /// # Errors
    /// `InvalidArgument` for a negative time or a range that ends before it
    /// starts; `Storage`, `Busy`.
    pub fn analyze_feedback_with(
        &self,
        start_ms: i64,
        end_ms: i64,
        options: &FeedbackAnalysisOptions,
    ) -> Result<FeedbackAnalysis> {
        let (lo, hi) = range(start_ms, end_ms)?;
        let live = self.inner.live.load();
        let settings = live.feedback.settings();
        let targets = settings.success_metrics.clone();
        let now = crate::clock::now_ms();
        // Whole days come from the summaries; the parts of days at either
        // end, from the items themselves.
        let first_day = if lo == i64::MIN {
            i64::MIN
        } else {
            lo.div_euclid(DAY_MS) + i64::from(lo.rem_euclid(DAY_MS) != 0)
        };
        let end_day = if hi == i64::MAX {
            i64::MAX
        } else {
            hi.div_euclid(DAY_MS)
        };
        let mut parts = Vec::new();
        let whole_days = first_day < end_day;
        if whole_days {
            if lo != i64::MIN && lo < first_day * DAY_MS {
                parts.push((lo, first_day * DAY_MS));
            }
            if hi != i64::MAX && end_day * DAY_MS < hi {
                parts.push((end_day * DAY_MS, hi));
            }
        } else {
            parts.push((lo, hi));
        }

        let mut groups: BTreeMap<GroupRow, ItemStats> = BTreeMap::new();
        let mut arms: BTreeMap<ArmRow, ItemStats> = BTreeMap::new();
        let top = options.top_issues.unwrap_or(DEFAULT_TOP_ISSUES);
        let (clusters, users_with_feedback, users_exposed, workflow) = {
            let mut conn = self.inner.store.conn();
            // One read transaction: a submission by another process cannot
            // land between the summaries and the counts.
            let tx = conn.transaction()?;
            if whole_days {
                for (key, stats) in sql::daily_groups(&tx, first_day, end_day)? {
                    groups.entry(key).or_default().merge(&stats);
                }
                for (key, stats) in sql::daily_arms(&tx, first_day, end_day)? {
                    arms.entry(key).or_default().merge(&stats);
                }
            }
            for (from, to) in parts {
                sql::for_each_item(&tx, from, to, |key, rating, score| {
                    groups.entry(key).or_default().push(rating, score);
                })?;
                sql::for_each_item_exposure(&tx, from, to, |key, rating, score| {
                    arms.entry(key).or_default().push(rating, score);
                })?;
            }
            let mut clusters = Vec::new();
            for (row, reports, people, sentiment) in sql::top_clusters(&tx, lo, hi, top)? {
                let mut examples = Vec::new();
                if (lo..hi).contains(&row.submitted_at_ms) {
                    examples.push(row.text.clone());
                }
                let more = EXAMPLES - examples.len();
                examples.extend(sql::copy_texts(&tx, row.id, lo, hi, more)?);
                clusters.push(IssueCluster {
                    id: row.id,
                    kind: parse(&row.kind, FeedbackType::parse, "type")?,
                    category: row.category,
                    priority: parse(&row.priority, Priority::parse, "priority")?,
                    status: parse(&row.status, Status::parse, "status")?,
                    reports,
                    people,
                    sentiment_mean: sentiment,
                    examples,
                });
            }
            let (users, exposed) = sql::user_counts(&tx, lo, hi)?;
            let exposed = options.users_exposed.unwrap_or(exposed);
            let hours = (targets.acknowledgement_hours * 3_600_000.0).round() as i64;
            let days = (targets.resolution_days * DAY_MS as f64).round() as i64;
            let workflow = sql::workflow_counts(&tx, lo, hi, now, hours, days)?;
            (clusters, users, exposed, workflow)
        };

        let mut by_group: BTreeMap<GroupKey, ItemStats> = BTreeMap::new();
        let mut by_day: BTreeMap<i64, ItemStats> = BTreeMap::new();
        for ((day, kind, category, priority, sentiment), stats) in &groups {
            let key = GroupKey {
                kind: parse(kind, FeedbackType::parse, "type")?,
                category: category.clone(),
                priority: parse(priority, Priority::parse, "priority")?,
                sentiment: parse(sentiment, SentimentLabel::parse, "sentiment")?,
            };
            by_group.entry(key).or_default().merge(stats);
            by_day.entry(*day).or_default().merge(stats);
        }
        let arms: Vec<(ArmKey, ItemStats)> = arms
            .into_iter()
            .map(|((source, name, arm), stats)| {
                Ok((
                    ArmKey {
                        source: parse(&source, Source::parse, "exposure source")?,
                        name,
                        arm,
                    },
                    stats,
                ))
            })
            .collect::<Result<_>>()?;
        let controls: BTreeMap<String, String> = live
            .experiments
            .definitions()
            .iter()
            .map(|d| (d.id.clone(), d.variants[d.control_index()].name.clone()))
            .collect();
        let categories: Vec<String> = settings
            .feedback_categories
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let groups: Vec<(GroupKey, ItemStats)> = by_group.into_iter().collect();
        let days: Vec<(i64, ItemStats)> = by_day.into_iter().collect();
        Ok(analyze::analyze(&AnalysisInput {
            start_ms,
            end_ms,
            groups: &groups,
            days: &days,
            arms: &arms,
            controls: &controls,
            categories: &categories,
            top_issues: &clusters,
            users_with_feedback,
            users_exposed,
            workflow,
            targets: &targets,
            period: options.period,
        }))
    }
}

/// A stored name read back into its type; an unknown one is a storage error.
fn parse<T>(name: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(name).ok_or_else(|| Error::storage(format!("unknown stored feedback {what} `{name}`")))
}
