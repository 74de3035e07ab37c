//! User feedback, pure and in memory: no I/O, no SQLite, no configuration
//! parsing. What the engineers who use the new sizing say about it, read
//! and sorted by the rules of `user_feedback.yml`:
//!
//! - [`capture`]: a submission and the rules it must meet;
//! - [`redact`]: e-mail addresses and phone numbers taken out of the text;
//! - [`text`]: the tokenizer and phrase matcher every rule shares;
//! - [`sentiment`]: a score in (−1, 1) and a label, from the configured
//!   lexicon and VADER-like rules;
//! - [`triage`]: category, priority and queue of a submission ([`route`]:
//!   routing rules and response templates);
//! - [`similarity`]: near-duplicate reports;
//! - [`workflow`]: the moves between statuses;
//! - [`analyze`]: the analysis of a time range from mergeable summaries
//!   ([`summary`]) into a [`report`] ([`trend`]: the slope;
//!   [`recommend`]: what to do about it).
//!
//! [`settings`] is the configuration model and [`model`] the names every
//! surface shares.

pub mod analyze;
pub mod capture;
pub mod model;
pub mod recommend;
pub mod redact;
pub mod report;
pub mod route;
pub mod sentiment;
pub mod settings;
pub mod similarity;
pub mod summary;
pub mod text;
pub mod trend;
pub mod triage;
pub mod workflow;

pub use analyze::{FeedbackAnalysis, ItemStats, Period};
pub use capture::Submission;
pub use model::{FeedbackType, Priority, SentimentLabel, Status};
pub use sentiment::{Sentiment, SentimentAnalyzer};
pub use settings::FeedbackSettings;
pub use triage::{Assessment, Triage};
