//! A submission as it arrives (`cha_feedback_submit`'s JSON, the CLI's
//! arguments, Python's helpers) and the rules it must meet before anything
//! is stored.
//!
//! ```json
//! {"type": "bug_report", "text": "...", "user_id": "planner-042",
//!  "rating": 2, "category": "pipe_sizing",
//!  "context": {"network_id": "north-7", "app_version": "2.4.1"},
//!  "submitted_at": "2026-01-05T09:30:00Z"}
//! ```
//!
//! `type`, `text` and `user_id` are required; `rating` (1–5) is required
//! for a `satisfaction_survey` and optional otherwise; `category` is one
//! of the configured categories (found from the text when absent);
//! `context` is any JSON object; `submitted_at` (RFC 3339, not in the
//! future) is for importing feedback collected elsewhere and defaults to
//! now.

use serde_json::{Map, Value};

use super::model::FeedbackType;
use crate::common::limits::excerpt;
use crate::common::time::parse_rfc3339_ms;
use crate::error::{Error, Result};

/// The longest text accepted, in bytes of UTF-8 (64 KiB).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// The longest user id accepted, in bytes.
pub const MAX_USER_ID_BYTES: usize = 1024;
/// The largest context accepted, in bytes of JSON.
pub const MAX_CONTEXT_BYTES: usize = 64 * 1024;
/// How far in the future a `submitted_at` may be (clocks differ).
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

const KEYS: [&str; 7] = [
    "type",
    "text",
    "user_id",
    "rating",
    "category",
    "context",
    "submitted_at",
];

/// One piece of feedback, before triage.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Its type.
    pub kind: FeedbackType,
    /// What the user wrote.
    pub text: String,
    /// Who wrote it.
    pub user_id: String,
    /// 1 to 5; required for a satisfaction survey.
    pub rating: Option<u8>,
    /// One of the configured categories; found from the text when `None`.
    pub category: Option<String>,
    /// Where it was written from (network id, app version, ...).
    pub context: Map<String, Value>,
    /// When it was submitted; `None` is now.
    pub submitted_at_ms: Option<i64>,
}

impl Submission {
    /// A submission of `kind` from `user_id` saying `text`, with nothing
    /// else set.
    pub fn new(kind: FeedbackType, user_id: &str, text: &str) -> Submission {
        Submission {
            kind,
            text: text.to_owned(),
            user_id: user_id.to_owned(),
            rating: None,
            category: None,
            context: Map::new(),
            submitted_at_ms: None,
        }
    }

    /// Reads the JSON of a submission and checks it ([`Submission::check`]).
    ///
    /// # Errors
    /// `InvalidArgument` naming the field and the problem: not JSON, not an
    /// object, an unknown key, a missing or mistyped field, and every rule
    /// of [`Submission::check`].
    pub fn from_json(text: &str, now_ms: i64) -> Result<Submission> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid_argument(format!("feedback is not valid JSON: {e}")))?;
        Submission::from_value(&value, now_ms)
    }

    /// [`Submission::from_json`] for an already parsed value.
    ///
    /// # Errors
    /// As [`Submission::from_json`].
    pub fn from_value(value: &Value, now_ms: i64) -> Result<Submission> {
        let Value::Object(map) = value else {
            return Err(Error::invalid_argument(
                "feedback must be a JSON object such as {\"type\": \"bug_report\", \
                 \"text\": \"...\", \"user_id\": \"planner-042\"}",
            ));
        };
        if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(Error::invalid_argument(format!(
                "feedback: unknown key `{}` (known keys: {})",
                excerpt(key),
                KEYS.join(", ")
            )));
        }
        let string = |key: &str| -> Result<Option<&str>> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(Error::invalid_argument(format!(
                    "feedback.{key}: expected a string, found {}",
                    json_kind(other)
                ))),
            }
        };
        let required = |key: &str| -> Result<&str> {
            string(key)?
                .ok_or_else(|| Error::invalid_argument(format!("feedback.{key} is missing")))
        };
        let kind_name = required("type")?;
        let kind = FeedbackType::parse(kind_name).ok_or_else(|| unknown_type(kind_name))?;
        let rating = match map.get("rating") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.as_i64()
                    .filter(|r| (1..=5).contains(r))
                    .map(|r| r as u8)
                    .ok_or_else(|| bad_rating(&n.to_string()))?,
            ),
            Some(other) => return Err(bad_rating(json_kind(other))),
        };
        let context = match map.get("context") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(c)) => c.clone(),
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "feedback.context must be a JSON object such as \
                     {{\"network_id\": \"north-7\"}}, not {}",
                    json_kind(other)
                )));
            }
        };
        let submitted_at_ms = string("submitted_at")?
            .map(|t| {
                parse_rfc3339_ms(t)
                    .map_err(|m| Error::invalid_argument(format!("feedback.submitted_at: {m}")))
            })
            .transpose()?;
        let submission = Submission {
            kind,
            text: required("text")?.to_owned(),
            user_id: match map.get("user_id") {
                None | Some(Value::Null) => {
                    return Err(Error::invalid_argument("feedback.user_id is missing"));
                }
                Some(v) => crate::common::ids::id_text(v).ok_or_else(|| {
                    Error::invalid_argument(format!(
                        "feedback.user_id: expected a string or a whole number, found {}",
                        json_kind(v)
                    ))
                })?,
            },
            rating,
            category: string("category")?.map(str::to_owned),
            context,
            submitted_at_ms,
        };
        submission.check(now_ms)?;
        Ok(submission)
    }

    /// Checks the rules a submission must meet: a text that is not blank
    /// and at most [`MAX_TEXT_BYTES`]; a user id of 1 to
    /// [`MAX_USER_ID_BYTES`] bytes; a rating from 1 to 5, present for a
    /// satisfaction survey; a context of at most [`MAX_CONTEXT_BYTES`]; a
    /// submission time not in the future (beyond [`MAX_CLOCK_SKEW_MS`]).
    ///
    /// # Errors
    /// `InvalidArgument` saying which rule and by how much.
    pub fn check(&self, now_ms: i64) -> Result<()> {
        if self.text.trim().is_empty() {
            return Err(Error::invalid_argument(
                "feedback.text is empty: say what happened, or what you think",
            ));
        }
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(Error::invalid_argument(format!(
                "feedback.text is {} bytes, more than the {MAX_TEXT_BYTES} bytes (64 KiB) a \
                 feedback text may have: attach long logs elsewhere and link them",
                self.text.len()
            )));
        }
        if self.user_id.is_empty() || self.user_id.len() > MAX_USER_ID_BYTES {
            return Err(Error::invalid_argument(format!(
                "feedback.user_id must have 1 to {MAX_USER_ID_BYTES} bytes, not {}",
                self.user_id.len()
            )));
        }
        match self.rating {
            Some(r) if !(1..=5).contains(&r) => return Err(bad_rating(&r.to_string())),
            None if self.kind == FeedbackType::SatisfactionSurvey => {
                return Err(Error::invalid_argument(
                    "feedback.rating is missing: a satisfaction_survey needs a rating from 1 to 5",
                ));
            }
            _ => {}
        }
        let context_bytes = serde_json::to_string(&self.context)?.len();
        if context_bytes > MAX_CONTEXT_BYTES {
            return Err(Error::invalid_argument(format!(
                "feedback.context is {context_bytes} bytes of JSON, more than the \
                 {MAX_CONTEXT_BYTES} a context may have"
            )));
        }
        if let Some(at) = self.submitted_at_ms
            && at > now_ms + MAX_CLOCK_SKEW_MS
        {
            return Err(Error::invalid_argument(format!(
                "feedback.submitted_at is {} ms in the future",
                at - now_ms
            )));
        }
        Ok(())
    }
}

fn unknown_type(name: &str) -> Error {
    let known: Vec<&str> = FeedbackType::ALL.iter().map(|t| t.as_str()).collect();
    Error::invalid_argument(format!(
        "feedback.type `{}` is not a feedback type (known: {})",
        excerpt(name),
        known.join(", ")
    ))
}

fn bad_rating(given: &str) -> Error {
    Error::invalid_argument(format!(
        "feedback.rating must be a whole number from 1 to 5, not {given}"
    ))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_600_000_000;

    fn parse(json: &str) -> Result<Submission> {
        Submission::from_json(json, NOW)
    }

    #[test]
    fn a_full_submission_reads() {
        let s = parse(
            r#"{"type":"satisfaction_survey","text":"Good","user_id":"u1","rating":4,
                "category":"pipe_sizing","context":{"network_id":"n7"},
                "submitted_at":"2026-01-05T08:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(s.kind, FeedbackType::SatisfactionSurvey);
        assert_eq!(
            (s.rating, s.category.as_deref()),
            (Some(4), Some("pipe_sizing"))
        );
        assert_eq!(s.context["network_id"], "n7");
        assert_eq!(s.submitted_at_ms, Some(NOW));
    }

    #[test]
    fn bad_submissions_say_why() {
        let long = format!(
            r#"{{"type":"bug_report","user_id":"u","text":"{}"}}"#,
            "x".repeat(MAX_TEXT_BYTES + 1)
        );
        let cases: Vec<(&str, &str)> = vec![
            ("{", "feedback is not valid JSON"),
            ("[1]", "feedback must be a JSON object"),
            (
                r#"{"type":"complaint","text":"x","user_id":"u"}"#,
                "feedback.type `complaint` is not a feedback type (known: bug_report, feature_request",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","rating":0}"#,
                "feedback.rating must be a whole number from 1 to 5, not 0",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","rating":6}"#,
                "feedback.rating must be a whole number from 1 to 5, not 6",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","rating":4.5}"#,
                "not 4.5",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","rating":"5"}"#,
                "not a string",
            ),
            (
                r#"{"type":"bug_report","text":"  \n","user_id":"u"}"#,
                "feedback.text is empty",
            ),
            (
                &long,
                "feedback.text is 65537 bytes, more than the 65536 bytes (64 KiB)",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","context":[1]}"#,
                "feedback.context must be a JSON object",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","context":"n7"}"#,
                "not a string",
            ),
            (
                r#"{"type":"satisfaction_survey","text":"x","user_id":"u"}"#,
                "feedback.rating is missing: a satisfaction_survey needs a rating",
            ),
            (
                r#"{"type":"bug_report","text":"x"}"#,
                "feedback.user_id is missing",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":""}"#,
                "feedback.user_id must have 1 to 1024 bytes, not 0",
            ),
            (r#"{"text":"x","user_id":"u"}"#, "feedback.type is missing"),
            (
                r#"{"type":"bug_report","text":5,"user_id":"u"}"#,
                "feedback.text: expected a string, found a number",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","mood":"sad"}"#,
                "feedback: unknown key `mood`",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","submitted_at":"2099-01-01T00:00:00Z"}"#,
                "feedback.submitted_at is ",
            ),
            (
                r#"{"type":"bug_report","text":"x","user_id":"u","submitted_at":"monday"}"#,
                "feedback.submitted_at: `monday` is not an RFC 3339 time",
            ),
            (
                r#"{"type":"bug_report","text":"\ud800","user_id":"u"}"#,
                "feedback is not valid JSON",
            ),
        ];
        for (json, expected) in cases {
            let err = parse(json).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{json}");
            assert!(
                err.message().contains(expected),
                "{json}: {}",
                err.message()
            );
        }
    }
}
