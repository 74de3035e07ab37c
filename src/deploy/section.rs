//! Config sections: each subsystem plugs into deployment here, with its
//! file, how that file is loaded and validated, its checks across sections,
//! and how its definitions are written inside the deploy transaction.
//! Deployment walks the list in `sections`; adding a subsystem adds one
//! file there and one entry in the list, and leaves the deploy loop alone.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::config::{ConfigError, MigrationReport};
use crate::error::Result;
use crate::store::definitions::{self, Author};

/// A config file, loaded and validated: its definitions in the form they
/// are stored (the canonical JSON of the subsystem's model), by name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SectionFile {
    /// The version the file was written in.
    pub source_version: i64,
    /// Set when the file was in an older format and migrated on the way in.
    pub migration: Option<MigrationReport>,
    /// The definitions, in file order.
    pub items: Vec<(String, Value)>,
}

/// The configuration a deployment leaves: every kind's definitions by name,
/// for the checks that span sections (a flag naming an experiment).
pub(crate) type Configuration = BTreeMap<&'static str, BTreeMap<String, Value>>;

/// One subsystem's part of a config directory.
pub(crate) trait Section: Sync {
    /// The file in a config directory, e.g. `feature_flags.yml`.
    fn file(&self) -> &'static str;

    /// What its definitions are called in a deploy report (`flags`).
    fn items(&self) -> &'static str;

    /// The kind of its definitions in the store and the audit log (`flag`).
    fn kind(&self) -> &'static str;

    /// Reads and validates the file at `path`: every problem at once, each
    /// with file:line:column, field path and hint.
    fn load(&self, path: &Path) -> Result<SectionFile, ConfigError>;

    /// Carries into `intended` (from the file) what only the running system
    /// knows of the stored definition `running`: the file does not decide it.
    fn keep_runtime_state(&self, _intended: &mut Value, _running: &Value) -> Result<()> {
        Ok(())
    }

    /// Checks `configuration` (what the deployment would leave) for what
    /// this section's definitions need of other sections.
    ///
    /// # Errors
    /// `Config`, naming the definition, the field and the missing piece.
    fn check(&self, _configuration: &Configuration) -> Result<()> {
        Ok(())
    }

    /// Writes definition `name` inside the deploy transaction. Returns its
    /// new version, or `None` when it was unchanged.
    fn put(
        &self,
        tx: &rusqlite::Transaction<'_>,
        name: &str,
        definition: &Value,
        by: Author<'_>,
    ) -> Result<Option<i64>> {
        definitions::put(tx, self.kind(), name, definition, by)
    }

    /// Removes definition `name` inside the deploy transaction.
    fn delete(&self, tx: &rusqlite::Transaction<'_>, name: &str, by: Author<'_>) -> Result<bool> {
        definitions::delete(tx, self.kind(), name, by)
    }
}

/// Definitions as the (name, canonical JSON) pairs a section file holds.
pub(crate) fn to_items<T: serde::Serialize>(
    definitions: &[T],
    name: impl Fn(&T) -> &String,
) -> Vec<(String, Value)> {
    definitions
        .iter()
        .map(|d| {
            let json = serde_json::to_value(d).expect("a definition serialises to JSON");
            (name(d).clone(), json)
        })
        .collect()
}

/// The definitions of one kind of a configuration, as their model.
pub(crate) fn parsed<T: serde::de::DeserializeOwned>(
    definitions: Option<&std::collections::BTreeMap<String, Value>>,
) -> Result<Vec<T>> {
    definitions
        .into_iter()
        .flat_map(|d| d.values())
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| {
                crate::Error::storage(format!("a stored definition cannot be read: {e}"))
            })
        })
        .collect()
}
