//! Triage: what the configured rules make of a submission before it is
//! stored: its category (when the submitter names none), its sentiment,
//! its priority and the queue it goes to. Compiled once from the
//! [`FeedbackSettings`] and held in the live snapshot.
//!
//! # Priority
//!
//! 1. **Type.** A bug report or a performance issue starts at medium;
//!    every other type at low.
//! 2. **Keywords.** Unless the text is positive overall ("no more
//!    crashes since the update"), a critical keyword makes the item
//!    critical, a high keyword raises it to at least high and a medium
//!    keyword to at least medium. A keyword that is negated ("not
//!    crashing") does not count. Only keywords make an item critical.
//! 3. **Low keywords.** When no critical, high or medium keyword counted,
//!    a low keyword ("typo", "cosmetic") lowers the item one step.
//! 4. **Rating.** A rating of 1 raises the item one step (up to high); a
//!    rating of 2 raises it to at least medium.
//! 5. **Sentiment.** A strongly negative text (score ≤ −0.5) raises the
//!    item one step (up to high).

use super::model::{FeedbackType, Priority, SentimentLabel};
use super::route;
use super::sentiment::{Sentiment, SentimentAnalyzer};
use super::settings::{
    CaptureSettings, DuplicateSettings, FeedbackSettings, PriorityKeywords, Responses, Routing,
    SentimentKeywords, SuccessTargets,
};
use super::text::{PhraseSet, Token, is_negated, tokenize};

/// The score at or below which a text raises its item's priority.
pub const STRONGLY_NEGATIVE: f64 = -0.5;

/// The configured rules, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Triage {
    settings: FeedbackSettings,
    sentiment: SentimentAnalyzer,
    categories: Vec<PhraseSet>,
    /// The keyword sets of critical, high, medium and low.
    priority: [PhraseSet; 4],
}

/// What triage made of one submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The category: the submitter's, or the one its words point to.
    pub category: String,
    /// Whether the category was found from the words (not given).
    pub category_detected: bool,
    /// The sentiment of the text.
    pub sentiment: Sentiment,
    /// The priority.
    pub priority: Priority,
    /// Why it has that priority, step by step ("type bug_report: medium",
    /// "keyword `crash`: critical").
    pub priority_reasons: Vec<String>,
    /// The team queue it is routed to.
    pub queue: String,
}

impl Default for Triage {
    /// Rules that file everything under `general` with neutral sentiment,
    /// routed to `feedback`: a placeholder until the configuration loads.
    fn default() -> Self {
        Triage::new(FeedbackSettings {
            capture: CaptureSettings {
                redact_personal_data: false,
                default_category: "general".into(),
            },
            feedback_categories: vec![super::settings::Category {
                name: "general".into(),
                keywords: vec![],
            }],
            sentiment_keywords: SentimentKeywords {
                positive: Default::default(),
                negative: Default::default(),
                neutral: vec![],
                functions: vec![],
                threshold: 0.05,
            },
            priority_keywords: PriorityKeywords {
                critical: vec![],
                high: vec![],
                medium: vec![],
                low: vec![],
            },
            routing: Routing {
                default_queue: "feedback".into(),
                rules: vec![],
            },
            responses: Responses {
                default: "Thank you for your feedback (#{id}).".into(),
                duplicate: "Thank you: this is known as #{original_id}.".into(),
                by_type: Default::default(),
            },
            duplicates: DuplicateSettings {
                similarity_threshold: 1.0,
                window_days: 30,
            },
            success_metrics: SuccessTargets {
                collection_rate: 0.1,
                acknowledgement_hours: 24.0,
                acknowledgement_rate: 0.9,
                resolution_days: 30.0,
                resolution_rate: 0.8,
            },
        })
    }
}

impl Triage {
    /// Compiles `settings`, which the configuration reader has checked.
    pub fn new(settings: FeedbackSettings) -> Triage {
        let k = &settings.priority_keywords;
        Triage {
            sentiment: SentimentAnalyzer::new(&settings.sentiment_keywords),
            categories: settings
                .feedback_categories
                .iter()
                .map(|c| PhraseSet::new(&c.keywords))
                .collect(),
            priority: [
                PhraseSet::new(&k.critical),
                PhraseSet::new(&k.high),
                PhraseSet::new(&k.medium),
                PhraseSet::new(&k.low),
            ],
            settings,
        }
    }

    /// The settings it was compiled from.
    pub fn settings(&self) -> &FeedbackSettings {
        &self.settings
    }

    /// The sentiment analyser.
    pub fn sentiment(&self) -> &SentimentAnalyzer {
        &self.sentiment
    }

    /// Whether `name` is a configured category.
    pub fn is_category(&self, name: &str) -> bool {
        self.settings
            .feedback_categories
            .iter()
            .any(|c| c.name == name)
    }

    /// The names of the configured categories, in file order.
    pub fn category_names(&self) -> Vec<&str> {
        self.settings
            .feedback_categories
            .iter()
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Triage of a submission of `kind` with `text` (as it will be stored),
    /// `rating` and the submitter's `category`, if any.
    pub fn assess(
        &self,
        kind: FeedbackType,
        text: &str,
        rating: Option<u8>,
        category: Option<&str>,
    ) -> Assessment {
        let tokens = tokenize(text);
        let sentiment = self.sentiment.analyze_tokens(&tokens);
        let (category, category_detected) = match category {
            Some(c) => (c.to_owned(), false),
            None => (self.detect_category(&tokens).to_owned(), true),
        };
        let (priority, priority_reasons) = self.priority(kind, rating, &sentiment, &tokens);
        let queue = route::route(&self.settings.routing, kind, &category, priority).to_owned();
        Assessment {
            category,
            category_detected,
            sentiment,
            priority,
            priority_reasons,
            queue,
        }
    }

    /// The category whose keywords the text matches most often (the first
    /// listed among equals), or the default category.
    fn detect_category(&self, tokens: &[Token]) -> &str {
        let mut best: Option<(usize, usize)> = None;
        for (index, set) in self.categories.iter().enumerate() {
            let hits = set.find_all(tokens).len();
            if hits > 0 && best.is_none_or(|(_, b)| hits > b) {
                best = Some((index, hits));
            }
        }
        match best {
            Some((index, _)) => &self.settings.feedback_categories[index].name,
            None => &self.settings.capture.default_category,
        }
    }

    /// The first keyword of the set of `level` that the text holds and
    /// does not negate.
    fn keyword(&self, level: usize, tokens: &[Token]) -> Option<String> {
        self.priority[level]
            .find_all(tokens)
            .into_iter()
            .find(|m| !is_negated(tokens, m.start))
            .map(|m| {
                tokens[m.start..m.end]
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    }

    /// The priority by the rule in the module's documentation, with its
    /// reasons.
    fn priority(
        &self,
        kind: FeedbackType,
        rating: Option<u8>,
        sentiment: &Sentiment,
        tokens: &[Token],
    ) -> (Priority, Vec<String>) {
        let mut p = match kind {
            FeedbackType::BugReport | FeedbackType::PerformanceIssue => Priority::Medium,
            _ => Priority::Low,
        };
        let mut reasons = vec![format!("type {}: {}", kind.as_str(), p.as_str())];
        let mut raised_by_keyword = false;
        if sentiment.label != SentimentLabel::Positive {
            for (level, floor) in [Priority::Critical, Priority::High, Priority::Medium]
                .into_iter()
                .enumerate()
            {
                if let Some(word) = self.keyword(level, tokens) {
                    raised_by_keyword = true;
                    if floor < p {
                        p = floor;
                    }
                    reasons.push(format!("keyword `{word}`: {}", p.as_str()));
                    break;
                }
            }
        }
        if !raised_by_keyword && let Some(word) = self.keyword(3, tokens) {
            p = p.lowered();
            reasons.push(format!("keyword `{word}`: {}", p.as_str()));
        }
        match rating {
            Some(1) => {
                p = p.raised(Priority::High);
                reasons.push(format!("rating 1: {}", p.as_str()));
            }
            Some(2) if p > Priority::Medium => {
                p = Priority::Medium;
                reasons.push(format!("rating 2: {}", p.as_str()));
            }
            _ => {}
        }
        if sentiment.score <= STRONGLY_NEGATIVE {
            p = p.raised(Priority::High);
            reasons.push(format!(
                "strongly negative text ({:.2}): {}",
                sentiment.score,
                p.as_str()
            ));
        }
        (p, reasons)
    }

    /// The response to an item of `kind`: its type's template, or the
    /// default one, with `value` filling the placeholders.
    pub fn response(&self, kind: FeedbackType, value: impl Fn(&str) -> Option<String>) -> String {
        let responses = &self.settings.responses;
        let template = responses.by_type.get(&kind).unwrap_or(&responses.default);
        route::render(template, value)
    }

    /// The response to an item merged into an earlier one on arrival.
    pub fn duplicate_response(&self, value: impl Fn(&str) -> Option<String>) -> String {
        route::render(&self.settings.responses.duplicate, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::settings::Category;

    fn triage() -> Triage {
        let mut s = Triage::default().settings().clone();
        s.feedback_categories = vec![
            Category {
                name: "pipe_sizing".into(),
                keywords: vec!["diameter*".into(), "oversized".into()],
            },
            Category {
                name: "performance".into(),
                keywords: vec!["slow*".into(), "fast*".into()],
            },
        ];
        s.capture.default_category = "pipe_sizing".into();
        s.sentiment_keywords.positive = [("great".to_owned(), 3.0)].into();
        s.sentiment_keywords.negative =
            [("crash*".to_owned(), 2.0), ("awful".to_owned(), 3.0)].into();
        s.priority_keywords = PriorityKeywords {
            critical: vec!["crash*".into(), "wrong diameter".into()],
            high: vec!["error*".into()],
            medium: vec!["slow*".into()],
            low: vec!["typo".into()],
        };
        Triage::new(s)
    }

    fn priority(kind: FeedbackType, text: &str, rating: Option<u8>) -> (Priority, Vec<String>) {
        let a = triage().assess(kind, text, rating, None);
        (a.priority, a.priority_reasons)
    }

    #[test]
    fn priority_follows_the_documented_steps() {
        use FeedbackType::*;
        use Priority::*;
        assert_eq!(
            priority(BugReport, "It crashed on import", None),
            (
                Critical,
                vec![
                    "type bug_report: medium".into(),
                    "keyword `crashed`: critical".into()
                ]
            )
        );
        assert_eq!(
            priority(GeneralFeedback, "No more crashes, great", None).0,
            Low
        );
        assert_eq!(
            priority(BugReport, "It is not crashing but slow", None).0,
            Medium
        );
        assert_eq!(
            priority(FeatureRequest, "an error in the table", None).0,
            High
        );
        assert_eq!(priority(UsabilityIssue, "a typo in the menu", None).0, Low);
        assert_eq!(priority(BugReport, "a typo in the menu", None).0, Low);
        assert_eq!(
            priority(GeneralFeedback, "the diameters look odd", Some(1)),
            (
                Medium,
                vec![
                    "type general_feedback: low".into(),
                    "rating 1: medium".into()
                ]
            )
        );
        assert_eq!(
            priority(BugReport, "the diameters look odd", Some(1)).0,
            High
        );
        assert_eq!(
            priority(GeneralFeedback, "the diameters look odd", Some(2)).0,
            Medium
        );
        assert_eq!(priority(BugReport, "an error, awful", Some(1)).0, High);
        assert_eq!(
            priority(BugReport, "it crashed, awful", Some(1)).0,
            Critical
        );
        let (p, reasons) = priority(GeneralFeedback, "awful awful awful", None);
        assert_eq!(p, Medium);
        assert!(
            reasons[1].starts_with("strongly negative text (-0."),
            "{reasons:?}"
        );
    }

    #[test]
    fn categories_come_from_the_words_when_not_given() {
        let t = triage();
        let a = t.assess(
            FeedbackType::BugReport,
            "Slow, slow and oversized",
            None,
            None,
        );
        assert_eq!(
            (a.category.as_str(), a.category_detected),
            ("performance", true)
        );
        let a = t.assess(FeedbackType::BugReport, "Slow but oversized", None, None);
        assert_eq!(a.category, "pipe_sizing", "a tie goes to the first listed");
        let a = t.assess(FeedbackType::BugReport, "Nothing here", None, None);
        assert_eq!(a.category, "pipe_sizing", "the default");
        let a = t.assess(FeedbackType::BugReport, "slow", None, Some("pipe_sizing"));
        assert_eq!(
            (a.category.as_str(), a.category_detected),
            ("pipe_sizing", false)
        );
        assert_eq!(a.queue, "feedback");
    }
}
