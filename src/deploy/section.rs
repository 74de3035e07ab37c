//! Config sections: each subsystem plugs into deployment here, with its
//! file, how that file is loaded and validated, its checks of the whole
//! configuration, how its definitions are written inside the deploy
//! transaction, and what its status shows. Deployment walks the list in
//! `sections`; adding a subsystem adds one file there and one entry in the
//! list, and leaves the deploy loop alone.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::plan::Definitions;
use crate::config::{ConfigError, ConfigFile, MigrationReport};
use crate::error::{Error, Result};
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

/// A whole configuration: every kind's definitions by name (`flag` →
/// `intelligent_pipe_sizing` → its JSON).
pub(crate) type Configuration = BTreeMap<String, Definitions>;

/// One subsystem's part of a config directory.
pub(crate) trait Section: Sync {
    /// Its config file as configuration management knows it: the
    /// subsystem's name and aliases, the file's name, versions, templates.
    fn config_file(&self) -> &'static ConfigFile;

    /// The subsystem's name in options and messages (`feature_flags`).
    fn subsystem(&self) -> &'static str {
        self.config_file().subsystem
    }

    /// The file in a config directory, e.g. `feature_flags.yml`.
    fn file(&self) -> &'static str {
        self.config_file().file
    }

    /// What its definitions are called in reports (`flags`).
    fn items(&self) -> &'static str;

    /// The kind of its definitions in the store and the audit log (`flag`),
    /// also what one of them is called in messages.
    fn kind(&self) -> &'static str;

    /// Reads and validates the file at `path`: every problem at once, each
    /// with file:line:column, field path and hint.
    fn load(&self, path: &Path) -> Result<SectionFile, ConfigError>;

    /// Carries into `intended` (from the file) what only the running system
    /// knows of the stored definition `running`: the file does not decide it.
    fn keep_runtime_state(&self, _intended: &mut Value, _running: &Value) -> Result<()> {
        Ok(())
    }

    /// Refuses a deployment whose files bring `target` into a running
    /// system that cannot take it as it is (an archived A/B test named
    /// again needs an explicit restore). Rollbacks restore exactly and do
    /// not ask.
    ///
    /// # Errors
    /// `Config`, naming the definition and what to do.
    fn check_target(&self, _conn: &rusqlite::Connection, _target: &Definitions) -> Result<()> {
        Ok(())
    }

    /// Checks this section's definitions in `configuration` (what a
    /// deployment or rollback would leave), alone and against the other
    /// sections. A merge of runtime changes with the files' changes is
    /// checked here as any file is.
    ///
    /// # Errors
    /// `Config`, naming the definition, the field and the problem.
    fn check(&self, configuration: &Configuration) -> Result<()>;

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

    /// What the status shows of the running definitions beyond their count
    /// (active rollouts, running tests), as JSON.
    fn status(
        &self,
        conn: &rusqlite::Connection,
        running: &Definitions,
        now_ms: i64,
    ) -> Result<Value>;
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

/// The definitions of `kind` in `configuration`, as their model.
///
/// # Errors
/// `Storage` if one does not read: they come from the store or from a file
/// that was read into this very model.
pub(crate) fn parsed<T: serde::de::DeserializeOwned>(
    configuration: &Configuration,
    kind: &str,
) -> Result<Vec<T>> {
    configuration
        .get(kind)
        .into_iter()
        .flat_map(|d| d.iter())
        .map(|(name, v)| parse(kind, name, v))
        .collect()
}

/// One definition as its model.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    kind: &str,
    name: &str,
    v: &Value,
) -> Result<T> {
    serde_json::from_value(v.clone())
        .map_err(|e| Error::storage(format!("{kind} `{name}` cannot be read: {e}")))
}
