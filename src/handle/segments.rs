//! Segments and the Unleash import on the handle: both change the flags'
//! configuration at runtime, in one transaction with audit rows, checked
//! with every flag that names them (a change that would leave a rule
//! naming a missing segment, or a flag that no longer compiles, changes
//! nothing).

use serde::Serialize;

use super::Cha;
use super::flags::{KIND, SEGMENT_KIND, check_actor, check_experiment_links};
use crate::common::names::did_you_mean;
use crate::config::unleash::{UnleashImport, Untranslated};
use crate::config::{Issues, Node, read_segment};
use crate::error::{Error, Result};
use crate::flags::{FlagDefinition, Segment};
use crate::store::definitions::{self, Author};

/// A stored segment with its bookkeeping.
pub type SegmentRecord = super::Versioned<Segment>;

/// What a change to one segment did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentChange {
    pub segment: String,
    /// Its version after the change (unchanged if nothing changed).
    pub version: i64,
    pub changed: bool,
    pub before: Option<Segment>,
    /// `None` when it was deleted.
    pub after: Option<Segment>,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// Where the definitions came from: `unleash`.
    pub source: String,
    pub dry_run: bool,
    pub actor: String,
    /// Every flag of the document, with what became of it.
    pub flags: Vec<ImportedItem>,
    /// Every segment of the document, with what became of it.
    pub segments: Vec<ImportedItem>,
    /// What could not be translated exactly, by name, and what was done
    /// instead.
    pub untranslated: Vec<Untranslated>,
}

/// One imported definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedItem {
    pub name: String,
    /// `create`, `update` or `unchanged`.
    pub action: String,
    /// Its version after the import (0 in a dry run of a new one).
    pub version: i64,
}

impl Cha {
    /// Every stored segment, by name.
    ///
    /// # Errors
    /// `Storage`.
    pub fn segments(&self) -> Result<Vec<SegmentRecord>> {
        let conn = self.inner.store.conn();
        definitions::load(&conn, SEGMENT_KIND)?
            .into_iter()
            .map(SegmentRecord::from_stored)
            .collect()
    }

    /// Sets segment `name` to `definition` (`{"description", "constraints"}`,
    /// the fields of feature_flags.yml), creating it if needed; `null`
    /// deletes it. Checked alone and with every flag; written with an
    /// audit entry under `actor`.
    ///
    /// # Errors
    /// `Config` (every problem, by field; a deletion or change that would
    /// break a flag names it), `NotFound` (deleting a missing segment),
    /// `InvalidArgument`, `Storage`, `Busy`. On error nothing changes.
    pub fn set_segment(
        &self,
        name: &str,
        definition: &serde_json::Value,
        actor: &str,
    ) -> Result<SegmentChange> {
        check_actor(actor)?;
        let after = if definition.is_null() {
            None
        } else {
            if !definition.is_object() {
                return Err(Error::invalid_argument(format!(
                    "segment `{name}` must be a JSON object such as {{\"constraints\": [...]}}, or null to delete it"
                )));
            }
            let mut issues = Issues::new("");
            let segment = read_segment(
                name,
                &Node::from_json(definition),
                &format!("segments.{name}"),
                &mut issues,
            );
            let segment = issues.finish(segment).map_err(Error::from)?;
            Some(segment.ok_or_else(|| Error::internal("a segment read to nothing"))?)
        };
        let change = self.inner.store.write(|tx| {
            let before: Option<Segment> = definitions::get(tx, SEGMENT_KIND, name)?
                .map(|d| d.parse())
                .transpose()?;
            if before.is_none() && after.is_none() {
                let known = definitions::names(tx, SEGMENT_KIND)?;
                return Err(Error::not_found(format!(
                    "segment `{name}` does not exist{}",
                    did_you_mean(name, known.iter().map(String::as_str))
                )));
            }
            let mut segments: Vec<Segment> = definitions::load_parsed(tx, SEGMENT_KIND)?;
            segments.retain(|s| s.name != name);
            segments.extend(after.clone());
            let flags: Vec<FlagDefinition> = definitions::load_parsed(tx, KIND)?;
            crate::config::validate_flag_set(&flags, &segments)?;
            let by = Author {
                actor,
                action: match (&before, &after) {
                    (None, _) => "create",
                    (_, None) => "delete",
                    _ => "update",
                },
                at_ms: crate::clock::now_ms(),
            };
            let written = match &after {
                Some(s) => definitions::put(tx, SEGMENT_KIND, name, &serde_json::to_value(s)?, by)?,
                None => {
                    definitions::delete(tx, SEGMENT_KIND, name, by)?;
                    Some(crate::store::audit::last_version(tx, SEGMENT_KIND, name)?)
                }
            };
            let version = match written {
                Some(v) => v,
                None => definitions::get(tx, SEGMENT_KIND, name)?.map_or(0, |d| d.version),
            };
            Ok(SegmentChange {
                segment: name.to_string(),
                version,
                changed: written.is_some(),
                before,
                after,
            })
        })?;
        self.inner.reload_after_commit();
        Ok(change)
    }

    /// Imports an Unleash client-features document (JSON text): its
    /// features become flags and its segments segments, created or
    /// replaced by name, in one transaction under `actor` (audit action
    /// `import`); flags and segments the document does not name are left
    /// alone. What could not be translated exactly is listed in the
    /// report, by name. With `dry_run`, everything is checked and nothing
    /// is written. An import is a runtime change: a deploy of files that
    /// say otherwise reports it as drift.
    ///
    /// # Errors
    /// `InvalidArgument` (not an Unleash document), `Config` (the result
    /// would not compile with the flags already there, e.g. a dependency
    /// on an a_b_test flag decided by an experiment), `Storage`, `Busy`.
    /// On error nothing changes.
    pub fn import_unleash(
        &self,
        document: &str,
        actor: &str,
        dry_run: bool,
    ) -> Result<ImportReport> {
        check_actor(actor)?;
        let import = crate::config::unleash::import_unleash(document)?;
        // A dry run takes the write lock too, so that it sees what a real
        // import would; it writes nothing.
        let report = self
            .inner
            .store
            .write(|tx| self.apply_import(tx, &import, actor, dry_run))?;
        if !dry_run {
            self.inner.reload_after_commit();
        }
        Ok(report)
    }

    fn apply_import(
        &self,
        tx: &rusqlite::Transaction<'_>,
        import: &UnleashImport,
        actor: &str,
        dry_run: bool,
    ) -> Result<ImportReport> {
        let mut flags: Vec<FlagDefinition> = definitions::load_parsed(tx, KIND)?;
        flags.retain(|f| !import.flags.iter().any(|i| i.name == f.name));
        flags.extend(import.flags.iter().cloned());
        let mut segments: Vec<Segment> = definitions::load_parsed(tx, SEGMENT_KIND)?;
        segments.retain(|s| !import.segments.iter().any(|i| i.name == s.name));
        segments.extend(import.segments.iter().cloned());
        crate::config::compile_flag_set(flags, segments, None)?;
        let experiments = definitions::names(tx, crate::store::experiments::KIND)?;
        check_experiment_links(&import.flags, &experiments)?;
        let by = Author {
            actor,
            action: "import",
            at_ms: crate::clock::now_ms(),
        };
        let write = |kind: &str, name: &str, json: serde_json::Value| -> Result<ImportedItem> {
            let stored = definitions::get(tx, kind, name)?;
            let unchanged = stored
                .as_ref()
                .map(|s| s.parse::<serde_json::Value>())
                .transpose()?
                .is_some_and(|s| s == json);
            let action = match (&stored, unchanged) {
                (None, _) => "create",
                (Some(_), true) => "unchanged",
                (Some(_), false) => "update",
            };
            let version = if dry_run || unchanged {
                stored.map_or(0, |s| s.version)
            } else {
                definitions::put(tx, kind, name, &json, by)?.unwrap_or(0)
            };
            Ok(ImportedItem {
                name: name.to_string(),
                action: action.to_string(),
                version,
            })
        };
        // Segments first, so that the flags' audit rows follow them.
        let segments = import
            .segments
            .iter()
            .map(|s| write(SEGMENT_KIND, &s.name, serde_json::to_value(s)?))
            .collect::<Result<Vec<_>>>()?;
        let flags = import
            .flags
            .iter()
            .map(|f| write(KIND, &f.name, serde_json::to_value(f)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(ImportReport {
            source: "unleash".into(),
            dry_run,
            actor: actor.to_string(),
            flags,
            segments,
            untranslated: import.untranslated.clone(),
        })
    }
}
