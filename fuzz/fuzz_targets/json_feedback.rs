//! The feedback JSON of `cha_feedback_submit`: the parser with its rules,
//! then triage (sentiment, category, priority, queue) and redaction of
//! what it accepted.
#![no_main]

use std::sync::OnceLock;

use cha_deploy::config::user_feedback::default_feedback_settings;
use cha_deploy::feedback::{Submission, Triage, redact::redact};
use libfuzzer_sys::fuzz_target;

/// 2026-01-01T00:00:00Z.
const NOW_MS: i64 = 1_767_225_600_000;

fuzz_target!(|text: &str| {
    static TRIAGE: OnceLock<Triage> = OnceLock::new();
    let Ok(submission) = Submission::from_json(text, NOW_MS) else {
        return;
    };
    let triage = TRIAGE.get_or_init(|| Triage::new(default_feedback_settings()));
    let assessment = triage.assess(
        submission.kind,
        &submission.text,
        submission.rating,
        submission.category.as_deref(),
    );
    assert!(assessment.sentiment.score.is_finite());
    let _ = redact(&submission.text);
});
