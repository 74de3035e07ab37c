//! Improvement recommendations drawn from an analysis. Each one says what
//! to do and names the numbers behind it, in its message and as data.
//!
//! | what | when | priority |
//! |---|---|---|
//! | fix a top issue | one of the three largest clusters is still open and was reported by at least 2 people | the issue's |
//! | meet a success metric | a metric misses its target | high |
//! | reverse a falling trend | the rating slope is negative with p < 0.05 | high |
//! | look at a variant or flag state | its ratings differ from the reference with p < 0.05 | high when worse, medium when better |
//! | look at a category | a category of at least 10 items has the largest share of negative items, 30% or more | medium |

use std::collections::BTreeMap;

use super::model::{Priority, Status};
use super::report::{ArmComparison, FeedbackAnalysis, Period, Recommendation, number, percent};
use super::settings::SuccessTargets;

/// How many top issues may each get a recommendation.
const TOP_ISSUES: usize = 3;
/// The fewest people behind an issue for it to be recommended.
const MIN_PEOPLE: u64 = 2;
/// The fewest items of a category for it to be recommended.
const MIN_CATEGORY_ITEMS: u64 = 10;
/// The least negative share of a category for it to be recommended.
const NEGATIVE_SHARE: f64 = 0.3;

fn numbers<const N: usize>(pairs: [(&str, f64); N]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The recommendations of `analysis`, most urgent first.
pub fn recommendations(
    analysis: &FeedbackAnalysis,
    targets: &SuccessTargets,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for issue in analysis.top_issues.iter().take(TOP_ISSUES) {
        let open = !matches!(
            issue.status,
            Status::Resolved | Status::Closed | Status::Duplicate
        );
        if !open || issue.people < MIN_PEOPLE {
            continue;
        }
        let example = issue.examples.first().map(String::as_str).unwrap_or("");
        out.push(Recommendation {
            area: "top_issue",
            priority: issue.priority,
            message: format!(
                "Fix issue #{} ({}, {}, {} priority, {}): reported by {} people in {} reports, e.g. \"{}\"",
                issue.id,
                issue.kind.as_str(),
                issue.category,
                issue.priority.as_str(),
                issue.status.as_str(),
                issue.people,
                issue.reports,
                shorten(example, 120)
            ),
            numbers: numbers([
                ("id", issue.id as f64),
                ("people", issue.people as f64),
                ("reports", issue.reports as f64),
            ]),
        });
    }
    for m in &analysis.success_metrics {
        let (Some(value), Some(false)) = (m.value, m.met) else {
            continue;
        };
        let advice = match m.name {
            "collection_rate" => format!(
                "Ask for feedback where the work happens (after a sizing run, in the report): \
                 {} of {} exposed users gave feedback ({}), the target is more than {}",
                m.numerator,
                m.denominator,
                percent(value),
                percent(m.target)
            ),
            "acknowledgement" => format!(
                "Acknowledge reports sooner: {} of {} were acknowledged within {} hours ({}), \
                 the target is {}",
                m.numerator,
                m.denominator,
                number(targets.acknowledgement_hours),
                percent(value),
                percent(m.target)
            ),
            _ => format!(
                "Resolve reports sooner: {} of {} were resolved within {} days ({}), \
                 the target is {}",
                m.numerator,
                m.denominator,
                number(targets.resolution_days),
                percent(value),
                percent(m.target)
            ),
        };
        out.push(Recommendation {
            area: "success_metric",
            priority: Priority::High,
            message: advice,
            numbers: numbers([
                ("value", value),
                ("target", m.target),
                ("numerator", m.numerator as f64),
                ("denominator", m.denominator as f64),
            ]),
        });
    }
    if let Some(s) = analysis.trend.rating_slope
        && analysis.trend.direction == "declining"
    {
        let unit = match analysis.trend.period {
            Period::Day => "day",
            Period::Week => "week",
        };
        let p = s.p_value.unwrap_or(f64::NAN);
        out.push(Recommendation {
            area: "trend",
            priority: Priority::High,
            message: format!(
                "Find what changed: the average rating falls by {} points per {unit} over {} {unit}s \
                 (p = {}), from about {} at the start",
                number(-s.per_period),
                s.periods,
                format_p(p),
                number(s.intercept)
            ),
            numbers: numbers([
                ("slope_per_period", s.per_period),
                ("p_value", p),
                ("periods", s.periods as f64),
            ]),
        });
    }
    for (area, list) in [
        ("experiment", &analysis.experiments),
        ("flag", &analysis.flags),
    ] {
        for c in list {
            arm_recommendations(area, c, &mut out);
        }
    }
    if let Some(c) = analysis
        .categories
        .iter()
        .filter(|c| c.satisfaction.items >= MIN_CATEGORY_ITEMS)
        .filter_map(|c| c.satisfaction.negative_share.map(|s| (c, s)))
        .filter(|(_, s)| *s >= NEGATIVE_SHARE)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
    {
        let s = &c.satisfaction;
        let rating = s
            .average_rating
            .map(|r| {
                format!(
                    "; its average rating is {} from {} ratings",
                    number(r),
                    s.ratings
                )
            })
            .unwrap_or_default();
        out.push(Recommendation {
            area: "category",
            priority: Priority::Medium,
            message: format!(
                "Look at {} first: {} of its {} items are negative ({}){rating}",
                c.category,
                s.negative,
                s.items,
                percent(s.negative_share.unwrap_or(0.0))
            ),
            numbers: numbers([
                ("items", s.items as f64),
                ("negative", s.negative as f64),
                ("negative_share", s.negative_share.unwrap_or(0.0)),
            ]),
        });
    }
    // Stable: equal priorities keep the order above.
    out.sort_by_key(|r| r.priority);
    out
}

fn arm_recommendations(area: &'static str, c: &ArmComparison, out: &mut Vec<Recommendation>) {
    for t in &c.tests {
        let d = &t.rating;
        let (Some(diff), Some(p), true) = (d.difference, d.p_value, d.significant) else {
            continue;
        };
        let arm = c.arms.iter().find(|a| a.arm == t.arm);
        let reference = c.arms.iter().find(|a| a.arm == t.versus);
        let (Some(arm), Some(reference)) = (arm, reference) else {
            continue;
        };
        let (mean, reference_mean) = (
            arm.average_rating.unwrap_or(f64::NAN),
            reference.average_rating.unwrap_or(f64::NAN),
        );
        let who = match area {
            "flag" => format!("Users with flag {} {}", c.name, t.arm),
            _ => format!("Users of variant {} of {}", t.arm, c.name),
        };
        let (priority, advice) = if diff < 0.0 {
            (Priority::High, "find out why before rolling it out further")
        } else {
            (Priority::Medium, "it is a candidate to roll out")
        };
        out.push(Recommendation {
            area,
            priority,
            message: format!(
                "{who} rate it {} points {} than with {} ({} vs {} from {} and {} ratings, p = {}): {advice}",
                number(diff.abs()),
                if diff < 0.0 { "lower" } else { "higher" },
                t.versus,
                number(mean),
                number(reference_mean),
                d.n,
                d.n_reference,
                format_p(p)
            ),
            numbers: numbers([
                ("difference", diff),
                ("p_value", p),
                ("mean", mean),
                ("reference_mean", reference_mean),
                ("n", d.n as f64),
                ("n_reference", d.n_reference as f64),
            ]),
        });
    }
}

/// A p-value for text: 3 significant digits, or "< 0.0001".
fn format_p(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}
