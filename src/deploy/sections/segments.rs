//! The `segments:` of `feature_flags.yml`: named sets of constraints that
//! the flags' rules share. Deployed with the flags (the same file), stored
//! as definitions of their own kind, so that a plan, the drift and a
//! rollback name them as they name flags.

use std::path::Path;

use serde_json::Value;

use crate::config::{self, ConfigError, ConfigFile};
use crate::deploy::plan::Definitions;
use crate::deploy::section::{Configuration, Section, SectionFile, parsed, to_items};
use crate::error::Result;
use crate::flags::{FlagDefinition, Segment};
use crate::handle::flags::{KIND, SEGMENT_KIND};

pub(crate) struct Segments;

impl Section for Segments {
    fn config_file(&self) -> &'static ConfigFile {
        &config::files::FEATURE_FLAGS
    }

    /// Its own name in plans and the status: the flags' file holds two
    /// kinds of definition.
    fn subsystem(&self) -> &'static str {
        "segments"
    }

    fn items(&self) -> &'static str {
        "segments"
    }

    fn kind(&self) -> &'static str {
        SEGMENT_KIND
    }

    fn load(&self, path: &Path) -> Result<SectionFile, ConfigError> {
        let loaded = config::load_feature_flags(path)?;
        Ok(SectionFile {
            source_version: loaded.source_version,
            migration: loaded.migration,
            items: to_items(&loaded.segments, |s| &s.name),
        })
    }

    /// Every segment alone; the flags' references to them are the flags'
    /// check.
    fn check(&self, configuration: &Configuration) -> Result<()> {
        let segments: Vec<Segment> = parsed(configuration, SEGMENT_KIND)?;
        let problems: Vec<String> = segments
            .iter()
            .filter_map(|s| config::validate_segment(s).err())
            .map(|e| e.message().to_owned())
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::config(problems.join("; ")))
        }
    }

    /// Which flags name each segment; segments no rule names.
    fn status(
        &self,
        conn: &rusqlite::Connection,
        running: &Definitions,
        _now_ms: i64,
    ) -> Result<Value> {
        let flags: Vec<FlagDefinition> = crate::store::definitions::load_parsed(conn, KIND)?;
        let used_by = |segment: &str| -> Vec<&str> {
            flags
                .iter()
                .filter(|f| {
                    f.rules
                        .iter()
                        .chain(
                            f.environments
                                .values()
                                .flat_map(|o| o.rules.iter().flatten()),
                        )
                        .any(|r| r.segments.iter().any(|s| s == segment))
                })
                .map(|f| f.name.as_str())
                .collect()
        };
        let uses: serde_json::Map<String, Value> = running
            .keys()
            .map(|name| (name.clone(), serde_json::json!(used_by(name))))
            .collect();
        Ok(serde_json::json!({ "used_by": uses }))
    }
}
