//! Deploying a configuration directory: every known config file it holds is
//! loaded and validated first, then applied in one transaction. An invalid
//! file changes nothing.

use std::path::Path;

use serde::Serialize;

use crate::Cha;
use crate::config::{self, ConfigError, MigrationReport};
use crate::error::{Error, Result};
use crate::experiments::{ExperimentDefinition, ExperimentStatus};
use crate::store;

/// The config files a directory may hold, in the order they are applied.
pub const KNOWN_FILES: &[&str] = &["feature_flags.yml", "ab_tests.yml"];

/// What a deployment did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    pub config_dir: String,
    pub actor: String,
    pub at_ms: i64,
    pub files: Vec<DeployedFile>,
    pub flags: Changes,
    pub experiments: Changes,
}

/// One config file that was deployed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployedFile {
    pub file: String,
    pub source_version: i64,
    /// Set when the file was in an older format and migrated on the way in.
    pub migration: Option<MigrationReport>,
}

/// Flags or experiments by what the deployment did to them, each list sorted
/// by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Stored ones the deployed file no longer has: the file is the truth.
    /// (A removed experiment's exposures and observations are kept.)
    pub removed: Vec<String>,
}

impl Changes {
    fn sort(&mut self) {
        for list in [
            &mut self.created,
            &mut self.updated,
            &mut self.unchanged,
            &mut self.removed,
        ] {
            list.sort();
        }
    }
}

impl Cha {
    /// Deploys every known config file in `dir` (`feature_flags.yml`,
    /// `ab_tests.yml`):
    /// validates all of them, then applies them in one transaction recorded
    /// in the audit log under `actor`.
    ///
    /// # Errors
    /// `Config` listing every problem of every file, with file:line:column;
    /// `NotFound` if `dir` holds no known file; `Storage`, `Busy`.
    pub fn deploy_all(&self, dir: impl AsRef<Path>, actor: &str) -> Result<DeployReport> {
        crate::handle::check_actor(actor)?;
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::not_found(format!(
                "config directory {} does not exist",
                dir.display()
            )));
        }
        let present: Vec<&str> = KNOWN_FILES
            .iter()
            .copied()
            .filter(|f| dir.join(f).is_file())
            .collect();
        if present.is_empty() {
            return Err(Error::not_found(format!(
                "config directory {} holds none of the known config files ({})",
                dir.display(),
                KNOWN_FILES.join(", ")
            )));
        }
        // Everything is read and validated before anything is written.
        let mut problems = ConfigError { issues: Vec::new() };
        let mut flag_config = None;
        let mut test_config = None;
        for file in &present {
            match *file {
                "feature_flags.yml" => match config::load_feature_flags(&dir.join(file)) {
                    Ok(c) => flag_config = Some(c),
                    Err(e) => problems.issues.extend(e.issues),
                },
                "ab_tests.yml" => match config::load_ab_tests(&dir.join(file)) {
                    Ok(c) => test_config = Some(c),
                    Err(e) => problems.issues.extend(e.issues),
                },
                _ => unreachable!("every known file has a loader"),
            }
        }
        if !problems.issues.is_empty() {
            return Err(problems.into());
        }

        // Buffered exposures are stored first, so that units exposed until
        // now keep their variant if this deployment changes a split.
        self.flush()?;
        let at_ms = crate::clock::now_ms();
        let mut report = DeployReport {
            config_dir: dir.display().to_string(),
            actor: actor.to_string(),
            at_ms,
            files: Vec::new(),
            flags: Changes::default(),
            experiments: Changes::default(),
        };
        self.inner.store.write(|tx| {
            if let Some(config) = &flag_config {
                report.files.push(DeployedFile {
                    file: "feature_flags.yml".into(),
                    source_version: config.source_version,
                    migration: config.migration.clone(),
                });
                let stored = store::flags::load_flags(tx)?;
                for def in &config.flags {
                    let existed = stored.iter().any(|s| s.name == def.name);
                    let json = serde_json::to_string(def)?;
                    let action = if existed { "deploy" } else { "create" };
                    let list =
                        match store::flags::put_flag(tx, &def.name, &json, actor, action, at_ms)? {
                            None => &mut report.flags.unchanged,
                            Some(_) if existed => &mut report.flags.updated,
                            Some(_) => &mut report.flags.created,
                        };
                    list.push(def.name.clone());
                }
                for s in stored
                    .iter()
                    .filter(|s| !config.flags.iter().any(|d| d.name == s.name))
                {
                    store::flags::delete_flag(tx, &s.name, actor, "deploy", at_ms)?;
                    report.flags.removed.push(s.name.clone());
                }
            }
            if let Some(config) = &test_config {
                report.files.push(DeployedFile {
                    file: "ab_tests.yml".into(),
                    source_version: config.source_version,
                    migration: None,
                });
                let stored = store::experiments::load_experiments(tx)?;
                for def in &config.experiments {
                    let before = stored.iter().find(|s| s.id == def.id);
                    let existed = before.is_some();
                    let def = &with_runtime_state(def, before)?;
                    let action = if existed { "deploy" } else { "create" };
                    let list =
                        match crate::handle::experiments::put_definition(tx, def, actor, action)? {
                            None => &mut report.experiments.unchanged,
                            Some(_) if existed => &mut report.experiments.updated,
                            Some(_) => &mut report.experiments.created,
                        };
                    list.push(def.id.clone());
                }
                for s in stored
                    .iter()
                    .filter(|s| !config.experiments.iter().any(|d| d.id == s.id))
                {
                    store::experiments::delete_experiment(tx, &s.id, actor, "deploy", at_ms)?;
                    report.experiments.removed.push(s.id.clone());
                }
            }
            // Every flag linked to an experiment must still find it, whichever
            // of the two files this deployment brought.
            let flags = store::flags::load_flags(tx)?
                .iter()
                .map(|f| serde_json::from_str(&f.definition_json))
                .collect::<Result<Vec<crate::flags::FlagDefinition>, _>>()?;
            let experiments: Vec<String> = store::experiments::load_experiments(tx)?
                .into_iter()
                .map(|e| e.id)
                .collect();
            crate::handle::flags::check_experiment_links(&flags, &experiments)
                .map_err(|e| e.context(dir.display()))?;
            Ok(())
        })?;
        report.flags.sort();
        report.experiments.sort();
        self.inner.reload_after_commit();
        Ok(report)
    }
}

/// The file's definition of an experiment, with what only the running
/// system knows kept from the stored one: the time it started (when the file
/// gives none), and the `completed` status, which is final.
fn with_runtime_state(
    def: &ExperimentDefinition,
    stored: Option<&store::experiments::StoredExperiment>,
) -> Result<ExperimentDefinition> {
    let mut def = def.clone();
    if let Some(stored) = stored {
        let before: ExperimentDefinition = serde_json::from_str(&stored.definition_json)?;
        if def.start_time.is_none() {
            def.start_time = before.start_time;
        }
        if before.status == ExperimentStatus::Completed {
            def.status = ExperimentStatus::Completed;
        }
    }
    Ok(def)
}
