//! The configuration of feedback handling, as `user_feedback.yml` gives it
//! (read and checked by `crate::config::user_feedback`) and as the store
//! keeps it: one definition per section, under the section's name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{FeedbackType, Priority};

/// Everything `user_feedback.yml` configures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackSettings {
    /// What is kept of a submission.
    pub capture: CaptureSettings,
    /// The categories, in file order, each with the words that file an item
    /// under it when the submitter names none.
    pub feedback_categories: Vec<Category>,
    /// The sentiment lexicon.
    pub sentiment_keywords: SentimentKeywords,
    /// The words that raise an item's priority.
    pub priority_keywords: PriorityKeywords,
    /// Which team queue gets an item.
    pub routing: Routing,
    /// The automatic answers to a submission.
    pub responses: Responses,
    /// How near-duplicate reports are found.
    pub duplicates: DuplicateSettings,
    /// The targets the analysis holds the workflow to.
    pub success_metrics: SuccessTargets,
}

/// The names of the sections, as `user_feedback.yml` and the store name
/// them, in file order.
pub const SECTION_NAMES: [&str; 8] = [
    "capture",
    "feedback_categories",
    "sentiment_keywords",
    "priority_keywords",
    "routing",
    "responses",
    "duplicates",
    "success_metrics",
];

/// What is kept of a submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSettings {
    /// Replace e-mail addresses with `[email]` and phone numbers with
    /// `[phone]` before the text is stored.
    pub redact_personal_data: bool,
    /// The category of an item whose submitter names none and whose text
    /// matches no category's words.
    pub default_category: String,
}

/// One feedback category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Its name (`pipe_sizing`).
    pub name: String,
    /// Phrases (see [`crate::feedback::text`]) whose presence files an item
    /// under this category.
    pub keywords: Vec<String>,
}

/// The sentiment lexicon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentimentKeywords {
    /// Phrases of praise, each with how strongly it speaks, in (0, 4]:
    /// about 1 for "works", 2 for "good", 3 for "excellent" (the scale of
    /// VADER's lexicon). A map, so that a deployment's plan shows the one
    /// weight that changed.
    pub positive: BTreeMap<String, f64>,
    /// Phrases of complaint, weighted as `positive`.
    pub negative: BTreeMap<String, f64>,
    /// Phrases that hold a lexicon word but no sentiment in this domain
    /// ("heat loss", "error message"): their words are not scored.
    pub neutral: Vec<String>,
    /// What the tool is for ("save*", "find*", "load*"): no sentiment when
    /// said plainly, a complaint when negated ("doesn't save", "never finds
    /// anything", "reports loops that do not exist").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
    /// The score from which a text is positive (and below whose negative
    /// a text is negative), in [0, 1).
    pub threshold: f64,
}

/// The phrases that set an item's priority, per level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityKeywords {
    /// Make an item critical.
    pub critical: Vec<String>,
    /// Make an item at least high.
    pub high: Vec<String>,
    /// Make an item at least medium.
    pub medium: Vec<String>,
    /// Lower an item one step, when no higher keyword is present.
    pub low: Vec<String>,
}

impl PriorityKeywords {
    /// The phrases of `priority`.
    pub fn of(&self, priority: Priority) -> &[String] {
        match priority {
            Priority::Critical => &self.critical,
            Priority::High => &self.high,
            Priority::Medium => &self.medium,
            Priority::Low => &self.low,
        }
    }
}

/// Which team queue gets an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// The queue of an item no rule matches.
    pub default_queue: String,
    /// The rules, tried in order; the first that matches decides.
    pub rules: Vec<RoutingRule>,
}

/// One routing rule: an item matches when its type, category and priority
/// are each in the rule's lists (an empty list matches any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// The queue the matching items go to.
    pub queue: String,
    /// The types it matches; empty: any.
    pub types: Vec<FeedbackType>,
    /// The categories it matches; empty: any.
    pub categories: Vec<String>,
    /// The priorities it matches; empty: any.
    pub priorities: Vec<Priority>,
}

impl RoutingRule {
    /// Whether an item of `kind`, `category` and `priority` matches.
    pub fn matches(&self, kind: FeedbackType, category: &str, priority: Priority) -> bool {
        (self.types.is_empty() || self.types.contains(&kind))
            && (self.categories.is_empty() || self.categories.iter().any(|c| c == category))
            && (self.priorities.is_empty() || self.priorities.contains(&priority))
    }
}

/// The automatic answers to a submission: templates with `{placeholder}`s
/// (see [`crate::feedback::route::PLACEHOLDERS`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Responses {
    /// The answer to an item of a type without one of its own.
    pub default: String,
    /// The answer to an item merged into an earlier one on arrival.
    pub duplicate: String,
    /// The answers by type.
    pub by_type: BTreeMap<FeedbackType, String>,
}

/// How near-duplicate reports are found and merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicateSettings {
    /// The share of content words two reports must have in common (their
    /// Jaccard similarity), in (0, 1], for the later to be merged into the
    /// earlier. 1 merges only reports with the same words.
    pub similarity_threshold: f64,
    /// How far back, in days, earlier reports are compared.
    pub window_days: u32,
}

/// The seed's success metrics of the feedback workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessTargets {
    /// The least share of exposed users who give feedback (0.10: 10%).
    pub collection_rate: f64,
    /// Hours within which an item should be acknowledged.
    pub acknowledgement_hours: f64,
    /// The least share of items acknowledged within that time.
    pub acknowledgement_rate: f64,
    /// Days within which an item should be resolved (or closed).
    pub resolution_days: f64,
    /// The least share of items resolved within that time (0.8: 80%).
    pub resolution_rate: f64,
}
