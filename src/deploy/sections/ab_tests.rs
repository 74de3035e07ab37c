//! `ab_tests.yml`: the A/B tests. Their split is tracked beside the
//! definition, so that exposed units keep their variant when it changes.

use std::path::Path;

use serde_json::Value;

use crate::config::{self, ConfigError};
use crate::deploy::section::{Section, SectionFile, to_items};
use crate::error::{Error, Result};
use crate::experiments::{ExperimentDefinition, ExperimentStatus};
use crate::store::definitions::Author;
use crate::store::experiments::KIND;

pub(crate) struct AbTests;

impl Section for AbTests {
    fn file(&self) -> &'static str {
        "ab_tests.yml"
    }

    fn items(&self) -> &'static str {
        "experiments"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn load(&self, path: &Path) -> Result<SectionFile, ConfigError> {
        let loaded = config::load_ab_tests(path)?;
        Ok(SectionFile {
            source_version: loaded.source_version,
            migration: None,
            items: to_items(&loaded.experiments, |e| &e.id),
        })
    }

    /// The time a test started (when the file gives none) and the
    /// `completed` status, which is final, belong to the running system.
    fn keep_runtime_state(&self, intended: &mut Value, running: &Value) -> Result<()> {
        let read = |v: &Value| -> Result<ExperimentDefinition> {
            serde_json::from_value(v.clone())
                .map_err(|e| Error::storage(format!("a stored experiment cannot be read: {e}")))
        };
        let (mut def, before) = (read(intended)?, read(running)?);
        if def.start_time.is_none() {
            def.start_time = before.start_time;
        }
        if before.status == ExperimentStatus::Completed {
            def.status = ExperimentStatus::Completed;
        }
        *intended = serde_json::to_value(&def)?;
        Ok(())
    }

    fn put(
        &self,
        tx: &rusqlite::Transaction<'_>,
        _name: &str,
        definition: &Value,
        by: Author<'_>,
    ) -> Result<Option<i64>> {
        let def: ExperimentDefinition = serde_json::from_value(definition.clone())
            .map_err(|e| Error::internal(format!("an experiment to deploy cannot be read: {e}")))?;
        crate::handle::experiments::put_definition(tx, &def, by)
    }

    fn delete(&self, tx: &rusqlite::Transaction<'_>, name: &str, by: Author<'_>) -> Result<bool> {
        crate::store::experiments::delete_experiment(tx, name, by)
    }
}
