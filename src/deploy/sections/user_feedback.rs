//! `user_feedback.yml`: how feedback is scored, prioritised, routed and
//! answered. Each section of the file (`capture`, `sentiment_keywords`,
//! `routing`, ...) is one stored definition, so that a plan shows which
//! section changes, field by field.

use std::path::Path;

use serde_json::{Value, json};

use crate::config::{self, ConfigError, ConfigFile};
use crate::deploy::plan::Definitions;
use crate::deploy::section::{Configuration, Section, SectionFile};
use crate::error::Result;
use crate::feedback::settings::SECTION_NAMES;
use crate::handle::feedback::settings_of;
use crate::store::feedback::KIND;

/// The section of `user_feedback.yml`.
pub(crate) struct UserFeedback;

impl Section for UserFeedback {
    fn config_file(&self) -> &'static ConfigFile {
        &config::files::USER_FEEDBACK
    }

    fn items(&self) -> &'static str {
        "feedback_settings"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn load(&self, path: &Path) -> Result<SectionFile, ConfigError> {
        let loaded = config::load_user_feedback(path)?;
        let Value::Object(sections) =
            serde_json::to_value(&loaded.settings).expect("the settings serialise to JSON")
        else {
            unreachable!("settings serialise to an object");
        };
        // In file order, as the other sections list their definitions.
        let items = SECTION_NAMES
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), sections.get(*name)?.clone())))
            .collect();
        Ok(SectionFile {
            source_version: loaded.source_version,
            migration: None,
            items,
        })
    }

    fn check(&self, configuration: &Configuration) -> Result<()> {
        match configuration
            .get(KIND)
            .map(settings_of)
            .transpose()?
            .flatten()
        {
            Some(settings) => config::validate_feedback_settings(&settings),
            None => Ok(()),
        }
    }

    /// The categories, the lexicon's size and where items go.
    /// The configuration in brief, and the backlog: open items by status
    /// and priority, and the age of the oldest item nobody acknowledged.
    fn status(
        &self,
        conn: &rusqlite::Connection,
        running: &Definitions,
        now_ms: i64,
    ) -> Result<Value> {
        let (open, oldest_new) = crate::store::feedback::backlog(conn)?;
        let count = |f: &dyn Fn(&(String, String, u64)) -> bool| -> u64 {
            open.iter().filter(|r| f(r)).map(|r| r.2).sum()
        };
        let mut by_status = serde_json::Map::new();
        for status in ["new", "acknowledged", "in_progress"] {
            by_status.insert(status.into(), json!(count(&|r| r.0 == status)));
        }
        let mut by_priority = serde_json::Map::new();
        for priority in ["critical", "high", "medium", "low"] {
            by_priority.insert(priority.into(), json!(count(&|r| r.1 == priority)));
        }
        let backlog = json!({
            "open": count(&|_| true),
            "by_status": by_status,
            "by_priority": by_priority,
            "oldest_new_hours": oldest_new.map(|t| (now_ms - t) as f64 / 3_600_000.0),
        });
        let Some(s) = settings_of(running)? else {
            return Ok(json!({"configured": false, "backlog": backlog}));
        };
        Ok(json!({
            "backlog": backlog,
            "configured": true,
            "categories": s.feedback_categories.iter().map(|c| &c.name).collect::<Vec<_>>(),
            "sentiment_terms": s.sentiment_keywords.positive.len() + s.sentiment_keywords.negative.len(),
            "routing_rules": s.routing.rules.len(),
            "default_queue": s.routing.default_queue,
            "redact_personal_data": s.capture.redact_personal_data,
        }))
    }
}
