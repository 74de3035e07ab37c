//! What a feedback item is: its type, where it stands in the workflow, its
//! priority and its sentiment label. The names are the ones of the JSON,
//! the C ABI, the CLI and `user_feedback.yml`.

use serde::{Deserialize, Serialize};

/// What kind of feedback an item is (the seed's six types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackType {
    /// Something does not work as it should.
    BugReport,
    /// Something the tool should do and does not yet.
    FeatureRequest,
    /// Something is slow, hangs or uses too much memory.
    PerformanceIssue,
    /// Something is hard to find, understand or use.
    UsabilityIssue,
    /// Anything else: praise, remarks, questions.
    GeneralFeedback,
    /// An answer to a satisfaction survey; it must carry a rating.
    SatisfactionSurvey,
}

impl FeedbackType {
    /// Every type, in the order reports list them.
    pub const ALL: [FeedbackType; 6] = [
        FeedbackType::BugReport,
        FeedbackType::FeatureRequest,
        FeedbackType::PerformanceIssue,
        FeedbackType::UsabilityIssue,
        FeedbackType::GeneralFeedback,
        FeedbackType::SatisfactionSurvey,
    ];

    /// The name in JSON and on the command line (`bug_report`).
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackType::BugReport => "bug_report",
            FeedbackType::FeatureRequest => "feature_request",
            FeedbackType::PerformanceIssue => "performance_issue",
            FeedbackType::UsabilityIssue => "usability_issue",
            FeedbackType::GeneralFeedback => "general_feedback",
            FeedbackType::SatisfactionSurvey => "satisfaction_survey",
        }
    }

    /// The type named `name` (`-` and `_` alike).
    pub fn parse(name: &str) -> Option<FeedbackType> {
        let name = name.trim().replace('-', "_");
        FeedbackType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether items of this type report something to fix or build, and so
    /// count among the top issues whatever their sentiment.
    pub fn is_issue(self) -> bool {
        !matches!(
            self,
            FeedbackType::GeneralFeedback | FeedbackType::SatisfactionSurvey
        )
    }
}

/// Where an item stands in the workflow. See [`crate::feedback::workflow`]
/// for the moves allowed between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Submitted, nobody has looked at it yet.
    New,
    /// Someone read it and took it on (the seed's acknowledgement).
    Acknowledged,
    /// Being worked on.
    InProgress,
    /// Fixed or answered; may be reopened (back to in progress).
    Resolved,
    /// Done with, for good: confirmed resolved, declined or obsolete.
    Closed,
    /// The same as an earlier item, which it was merged into.
    Duplicate,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 6] = [
        Status::New,
        Status::Acknowledged,
        Status::InProgress,
        Status::Resolved,
        Status::Closed,
        Status::Duplicate,
    ];

    /// The name in JSON and on the command line (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Duplicate => "duplicate",
        }
    }

    /// The status named `name` (`-` and `_` alike).
    pub fn parse(name: &str) -> Option<Status> {
        let name = name.trim().replace('-', "_");
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// How urgent an item is. Ordered from the most urgent: `Critical < Low`
/// in `Ord`, so that sorting puts critical items first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Wrong results, crashes, lost data: act now.
    Critical,
    /// Blocks or misleads users: this iteration.
    High,
    /// Worth doing soon.
    Medium,
    /// When there is time.
    Low,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ];

    /// The name in JSON and on the command line (`critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    /// The priority named `name`.
    pub fn parse(name: &str) -> Option<Priority> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == name.trim())
    }

    /// One step more urgent, but never beyond `limit`.
    pub(crate) fn raised(self, limit: Priority) -> Priority {
        let up = match self {
            Priority::Critical | Priority::High => Priority::Critical,
            Priority::Medium => Priority::High,
            Priority::Low => Priority::Medium,
        };
        // `Ord` runs from the most urgent: past the limit, stay where it
        // already was (an item above the limit is never lowered here).
        if up < limit { self.min(limit) } else { up }
    }

    /// One step less urgent.
    pub(crate) fn lowered(self) -> Priority {
        match self {
            Priority::Critical => Priority::High,
            Priority::High => Priority::Medium,
            Priority::Medium | Priority::Low => Priority::Low,
        }
    }
}

/// The sentiment of a text, from its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLabel {
    /// The writer is pleased.
    Positive,
    /// No evaluation, or as much praise as complaint.
    Neutral,
    /// The writer complains.
    Negative,
}

impl SentimentLabel {
    /// Every label.
    pub const ALL: [SentimentLabel; 3] = [
        SentimentLabel::Positive,
        SentimentLabel::Neutral,
        SentimentLabel::Negative,
    ];

    /// The name in JSON (`positive`).
    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Positive => "positive",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Negative => "negative",
        }
    }

    /// The label named `name`.
    pub fn parse(name: &str) -> Option<SentimentLabel> {
        SentimentLabel::ALL
            .into_iter()
            .find(|l| l.as_str() == name.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names_and_parse_back() {
        for t in FeedbackType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(FeedbackType::parse(t.as_str()), Some(t));
        }
        for s in Status::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for p in Priority::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        for l in SentimentLabel::ALL {
            assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
            assert_eq!(SentimentLabel::parse(l.as_str()), Some(l));
        }
        assert_eq!(
            FeedbackType::parse("bug-report"),
            Some(FeedbackType::BugReport)
        );
        assert_eq!(Status::parse("in-progress"), Some(Status::InProgress));
        assert_eq!(FeedbackType::parse("complaint"), None);
    }

    #[test]
    fn priorities_step_within_limits() {
        assert_eq!(Priority::Low.raised(Priority::High), Priority::Medium);
        assert_eq!(Priority::Medium.raised(Priority::High), Priority::High);
        assert_eq!(Priority::High.raised(Priority::High), Priority::High);
        assert_eq!(
            Priority::Critical.raised(Priority::High),
            Priority::Critical
        );
        assert_eq!(
            Priority::High.raised(Priority::Critical),
            Priority::Critical
        );
        assert_eq!(Priority::Critical.lowered(), Priority::High);
        assert_eq!(Priority::Low.lowered(), Priority::Low);
        let mut sorted = vec![Priority::Low, Priority::Critical, Priority::Medium];
        sorted.sort();
        assert_eq!(
            sorted,
            [Priority::Critical, Priority::Medium, Priority::Low]
        );
    }
}
