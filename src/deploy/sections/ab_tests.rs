//! `ab_tests.yml`: the A/B tests. Their split is tracked beside the
//! definition, so that exposed units keep their variant when it changes.

use std::path::Path;

use serde_json::{Value, json};

use crate::config::{self, ConfigError, ConfigFile};
use crate::deploy::plan::Definitions;
use crate::deploy::section::{Configuration, Section, SectionFile, parse, parsed, to_items};
use crate::error::{Error, Result};
use crate::experiments::{ExperimentDefinition, ExperimentStatus};
use crate::store::definitions::Author;
use crate::store::experiments::{self as sql, KIND};

pub(crate) struct AbTests;

impl Section for AbTests {
    fn config_file(&self) -> &'static ConfigFile {
        &config::files::AB_TESTS
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

    /// The time a test started (when the file gives none), the
    /// `completed` status, which is final, and a stop belong to the running
    /// system: a deploy never restarts a stopped test (`ab start` does,
    /// explicitly, beginning a new phase).
    fn keep_runtime_state(&self, intended: &mut Value, running: &Value) -> Result<()> {
        let mut def: ExperimentDefinition = parse(KIND, "", intended)?;
        let before: ExperimentDefinition = parse(KIND, "", running)?;
        if def.start_time.is_none() {
            def.start_time = before.start_time;
        }
        match before.status {
            ExperimentStatus::Completed => def.status = ExperimentStatus::Completed,
            ExperimentStatus::Stopped if def.status != ExperimentStatus::Completed => {
                def.status = ExperimentStatus::Stopped;
            }
            _ => {}
        }
        *intended = serde_json::to_value(&def)?;
        Ok(())
    }

    /// A test the files bring back after it was removed (and archived) is
    /// restored explicitly, so that nobody revives old data by accident.
    fn check_target(&self, conn: &rusqlite::Connection, target: &Definitions) -> Result<()> {
        let mut archived = Vec::new();
        for name in target.keys() {
            if crate::store::definitions::get(conn, KIND, name)?.is_none()
                && let Some(row) = sql::archived_one(conn, name)?
            {
                archived.push(format!(
                    "test `{name}` was removed from the files and archived on {} by {}, with its data; \
                     bring it back with `cha-deploy ab restore {name}` (its history and data are kept) \
                     and deploy again, or give the new test another id",
                    crate::common::time::format_rfc3339_ms(row.archived_at_ms),
                    row.archived_by
                ));
            }
        }
        if archived.is_empty() {
            Ok(())
        } else {
            Err(Error::config(format!(
                "{}: {}",
                self.file(),
                archived.join("; ")
            )))
        }
    }

    fn check(&self, configuration: &Configuration) -> Result<()> {
        let problems: Vec<String> = parsed::<ExperimentDefinition>(configuration, KIND)?
            .iter()
            .filter_map(|def| config::validate_experiment(def).err())
            .map(|e| e.message().to_string())
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::config(problems.join("; ")))
        }
    }

    fn put(
        &self,
        tx: &rusqlite::Transaction<'_>,
        name: &str,
        definition: &Value,
        by: Author<'_>,
    ) -> Result<Option<i64>> {
        let def: ExperimentDefinition = parse(KIND, name, definition)?;
        crate::handle::experiments::put_definition(tx, &def, by)
    }

    fn delete(&self, tx: &rusqlite::Transaction<'_>, name: &str, by: Author<'_>) -> Result<bool> {
        sql::delete_experiment(tx, name, by)
    }

    /// The tests by status, with the units exposed to each variant of
    /// those that run or are paused.
    fn status(
        &self,
        conn: &rusqlite::Connection,
        running: &Definitions,
        _now_ms: i64,
    ) -> Result<Value> {
        let mut tests = Vec::new();
        for (id, v) in running {
            let def: ExperimentDefinition = parse(KIND, id, v)?;
            let exposed = sql::exposure_counts(conn, id)?;
            tests.push(json!({
                "id": id,
                "status": def.status,
                "start_time": def.start_time,
                "exposed_units": def.variants.iter()
                    .map(|v| (v.name.clone(), json!(exposed.get(&v.name).copied().unwrap_or(0))))
                    .collect::<serde_json::Map<_, _>>(),
            }));
        }
        let count = |status: &str| tests.iter().filter(|t| t["status"] == status).count();
        Ok(json!({
            "running": count("running"),
            "paused": count("paused"),
            "tests": tests,
        }))
    }
}
