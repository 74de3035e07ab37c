//! Deployments: the config files are the intended state, the database the
//! running state. A deployment brings the files of a config directory in,
//! all or some of its sections, in one transaction; a rollback brings back
//! the configuration an earlier deployment left. Both go through one
//! transition ([`transition`]): a plan first, which shows every change
//! field by field and every runtime change (drift) it would undo; a backup;
//! then the change and its record in the deployment history.
//!
//! - [`plan`]: the pure comparison of base, running and target.
//! - [`section`] and `sections`: each subsystem's file, checks and writes;
//!   this module knows none of them by name.
//! - [`history`]: the recorded deployments; [`rollback`]; [`backups`];
//!   [`status`].

pub(crate) mod backups;
pub(crate) mod history;
pub(crate) mod plan;
pub(crate) mod rollback;
pub(crate) mod section;
mod sections;
mod snapshot;
pub(crate) mod status;
pub(crate) mod transition;

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Cha;
use crate::config::{ConfigError, ConfigIssue, FileState, MigrationReport};
use crate::error::{Error, Result};
use crate::store::audit::Author;
pub use plan::{Action, Drift, DriftKind, FieldChange, ItemChange, OnDrift};
use section::{Configuration, Section, SectionFile};
use sections::SECTIONS;
pub use transition::{DriftRecord, SectionPlan};
use transition::{Record, Transition};

/// How to deploy: who, which subsystems, and what to do with drift. The C
/// ABI and Python take it as a JSON object with the same keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeployOptions {
    /// Who deploys, for the history and the audit log (default: the login
    /// name).
    pub actor: Option<String>,
    /// The subsystems to deploy (`feature_flags`, `ab_tests`, ...); empty:
    /// every one whose file the directory holds.
    pub subsystems: Vec<String>,
    /// What to do when the deployment would undo runtime changes or delete
    /// definitions the files do not mention (default `refuse`).
    pub on_drift: OnDrift,
}

impl DeployOptions {
    /// Parses options JSON (`{"actor": "ops", "subsystems": ["ab_tests"],
    /// "on_drift": "keep_runtime"}`); `None` or blank gives the defaults.
    ///
    /// # Errors
    /// `InvalidArgument` naming the key: not an object, an unknown key, a
    /// wrong type, an unknown `on_drift`.
    pub fn from_json(json: Option<&str>) -> Result<DeployOptions> {
        let Some(text) = json.filter(|t| !t.trim().is_empty()) else {
            return Ok(DeployOptions::default());
        };
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid_argument(format!("deploy options: {e}")))?;
        let serde_json::Value::Object(fields) = value else {
            return Err(Error::invalid_argument(
                "deploy options: expected a JSON object such as {\"on_drift\": \"keep_runtime\"}",
            ));
        };
        // Key by key, so that a wrong type names its key.
        for (key, v) in &fields {
            let one = serde_json::Value::Object([(key.clone(), v.clone())].into_iter().collect());
            serde_json::from_value::<DeployOptions>(one).map_err(|e| {
                let e = e.to_string();
                if e.starts_with("unknown field") {
                    Error::invalid_argument(format!("deploy options: {e}"))
                } else {
                    Error::invalid_argument(format!("deploy options: `{key}`: {e}"))
                }
            })?;
        }
        Ok(serde_json::from_value(serde_json::Value::Object(fields))?)
    }

    /// The actor: the one given, or the login name.
    pub(crate) fn actor(&self) -> Result<String> {
        let actor = self.actor.clone().unwrap_or_else(crate::default_actor);
        crate::handle::check_actor(&actor)?;
        Ok(actor)
    }
}

/// What a deployment or rollback did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    /// Its id in the deployment history.
    pub deployment_id: i64,
    /// `deploy`, `rollback` or `restore`.
    pub action: String,
    /// The directory deployed (a deploy), or the backup restored (a restore).
    pub config_dir: Option<String>,
    /// The deployment whose configuration was restored (a rollback).
    pub rolled_back_to: Option<i64>,
    pub actor: String,
    pub at_ms: i64,
    pub on_drift: OnDrift,
    pub files: Vec<DeployedFile>,
    /// What happened to the definitions of each section, by what they are
    /// called (`flags`, `experiments`, ...), in the order of the sections.
    #[serde(flatten)]
    pub changes: SectionChanges,
    /// The plan it applied: every change field by field, and the drift.
    pub plan: Vec<SectionPlan>,
    /// The backup taken just before.
    pub backup: Option<String>,
    /// How long it took, backup included.
    pub duration_ms: f64,
}

/// One config file of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployedFile {
    pub file: String,
    /// SHA-256 of the file's bytes, in hex.
    #[serde(default)]
    pub sha256: String,
    pub source_version: i64,
    /// Set when the file was in an older format and migrated on the way in.
    pub migration: Option<MigrationReport>,
}

/// Definitions by what a deployment did to them, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Deleted: the target does not have them. (A removed experiment's
    /// exposures and observations are kept.)
    pub removed: Vec<String>,
    /// Left as changed at runtime (`on_drift: keep_runtime`); absent from
    /// the JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

impl Changes {
    fn sort(&mut self) {
        for list in [
            &mut self.created,
            &mut self.updated,
            &mut self.unchanged,
            &mut self.removed,
            &mut self.kept,
        ] {
            list.sort();
        }
    }
}

/// The changes of each section, in section order; serialised as the keys
/// `flags`, `experiments`, ... of the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SectionChanges(pub Vec<(String, Changes)>);

impl SectionChanges {
    /// The changes of the section whose definitions are called `items`
    /// (`flags`, `experiments`).
    pub fn get(&self, items: &str) -> Option<&Changes> {
        self.0.iter().find(|(k, _)| k == items).map(|(_, c)| c)
    }

    fn entry(&mut self, items: &str) -> &mut Changes {
        let i = match self.0.iter().position(|(k, _)| k == items) {
            Some(i) => i,
            None => {
                self.0.push((items.to_string(), Changes::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }
}

impl std::ops::Index<&str> for SectionChanges {
    type Output = Changes;

    /// The changes of the section whose definitions are called `items`.
    ///
    /// # Panics
    /// If no section's definitions are called that.
    fn index(&self, items: &str) -> &Changes {
        self.get(items)
            .unwrap_or_else(|| panic!("no config section holds `{items}`"))
    }
}

impl Serialize for SectionChanges {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// What a deployment or rollback would do, worked out without writing
/// anything.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployPlan {
    /// The directory (a deploy).
    pub config_dir: Option<String>,
    /// The deployment whose configuration would come back (a rollback).
    pub rollback_to: Option<i64>,
    pub on_drift: OnDrift,
    /// The deployment in force now.
    pub last_deployment: Option<i64>,
    pub files: Vec<DeployedFile>,
    pub sections: Vec<SectionPlan>,
    /// What the default (`refuse`) refuses, one line each; empty when the
    /// plan can be applied as it is.
    pub refused: Vec<String>,
}

impl DeployPlan {
    fn new(
        t: &Transition,
        config_dir: Option<String>,
        rollback_to: Option<i64>,
        on_drift: OnDrift,
        files: Vec<DeployedFile>,
    ) -> DeployPlan {
        DeployPlan {
            config_dir,
            rollback_to,
            on_drift,
            last_deployment: t.last.as_ref().map(|d| d.id),
            files,
            refused: if on_drift == OnDrift::Refuse {
                t.refused()
            } else {
                Vec::new()
            },
            sections: t.sections.clone(),
        }
    }

    /// Whether applying it would change anything.
    pub fn changes_anything(&self) -> bool {
        self.sections
            .iter()
            .any(|s| s.changes.iter().any(|c| c.action != Action::KeepRuntime))
    }
}

/// A config directory read and validated: the sections it brings.
struct Loaded {
    dir: String,
    sections: Vec<(&'static dyn Section, SectionFile)>,
    files: Vec<DeployedFile>,
}

impl Loaded {
    /// The definitions each section brings, per kind.
    fn targets(&self) -> Configuration {
        self.sections
            .iter()
            .map(|(s, f)| (s.kind().to_string(), f.items.iter().cloned().collect()))
            .collect()
    }
}

/// The config files of every section, in the order they are applied.
pub fn known_files() -> Vec<&'static str> {
    let mut files: Vec<&'static str> = Vec::new();
    for s in SECTIONS {
        if !files.contains(&s.file()) {
            files.push(s.file());
        }
    }
    files
}

/// The subsystems a deployment may name, in the order they are applied:
/// those of the config files (a file's sections come with it).
pub fn subsystems() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for s in SECTIONS {
        if !names.contains(&s.config_file().subsystem) {
            names.push(s.config_file().subsystem);
        }
    }
    names
}

/// Checks the config directory `dir` without a database: every file of the
/// chosen subsystems (all that are present when `subsystems` is empty),
/// alone and together. Writes nothing.
///
/// # Errors
/// As [`Cha::deploy`]'s validation: `NotFound`, `Config` with every
/// problem, `InvalidArgument` for an unknown subsystem.
pub fn validate_config_dir(
    dir: impl AsRef<Path>,
    subsystems: &[String],
) -> Result<Vec<DeployedFile>> {
    let loaded = load_dir(dir.as_ref(), subsystems)?;
    let targets = loaded.targets();
    for section in SECTIONS {
        section.check(&targets)?;
    }
    Ok(loaded.files)
}

impl Cha {
    /// Deploys every config file in `dir` (`feature_flags.yml`,
    /// `ab_tests.yml`) under `actor`, refusing to undo drift: as
    /// [`Cha::deploy`] with `actor` and the default options.
    ///
    /// # Errors
    /// As [`Cha::deploy`].
    pub fn deploy_all(&self, dir: impl AsRef<Path>, actor: &str) -> Result<DeployReport> {
        let options = DeployOptions {
            actor: Some(actor.to_string()),
            ..DeployOptions::default()
        };
        self.deploy(dir, &options)
    }

    /// Deploys the config directory `dir`: validates every file of the
    /// chosen subsystems, works out the plan, refuses (by default) when it
    /// would undo runtime changes or delete definitions the files do not
    /// mention, backs the database up, then applies the plan in one
    /// transaction and records it in the deployment history.
    ///
    /// # Errors
    /// `Config` listing every problem of every file (with
    /// file:line:column), or of the configuration it would leave; `Drift`
    /// listing what it would undo or delete; `NotFound` for a missing
    /// directory or file; `InvalidArgument` for bad options; `Storage`,
    /// `Busy`. On error nothing is changed.
    pub fn deploy(&self, dir: impl AsRef<Path>, options: &DeployOptions) -> Result<DeployReport> {
        let started = std::time::Instant::now();
        let actor = options.actor()?;
        let dir = dir.as_ref();
        let loaded = load_dir(dir, &options.subsystems)?;
        let targets = loaded.targets();
        // Buffered exposures are stored first, so that units exposed until
        // now keep their variant if this deployment changes a split.
        self.flush()?;
        // The plan first, outside the write lock: a refused deployment
        // takes no backup and changes nothing.
        {
            let conn = self.inner.store.conn();
            transition::prepare(&conn, &targets, true, options.on_drift)
                .map_err(|e| e.context(dir.display()))?
                .check_refusal(options.on_drift, "deploy")?;
        }
        let backup = self.backup_before("deploy")?;
        let at_ms = crate::clock::now_ms();
        let by = Author {
            actor: &actor,
            action: "deploy",
            at_ms,
        };
        let (id, changes, sections) = self.inner.store.write(|tx| {
            // Again under the write lock: another process may have changed
            // something since the plan.
            let t = transition::prepare(tx, &targets, true, options.on_drift)
                .map_err(|e| e.context(dir.display()))?;
            t.check_refusal(options.on_drift, "deploy")?;
            let record = Record {
                action: "deploy",
                config_dir: Some(loaded.dir.clone()),
                rolled_back_to: None,
                on_drift: options.on_drift,
                files: &loaded.files,
                intended: transition::intended_after(t.base.as_ref(), &t.targets),
                backup_path: backup.clone(),
            };
            let (id, changes) = transition::commit(tx, &t, by, &record)?;
            Ok((id, changes, t.sections))
        })?;
        self.inner.reload_after_commit();
        let duration_ms = history::finish(&self.inner.store, id, started)?;
        Ok(DeployReport {
            deployment_id: id,
            action: "deploy".into(),
            config_dir: Some(loaded.dir),
            rolled_back_to: None,
            actor,
            at_ms,
            on_drift: options.on_drift,
            files: loaded.files,
            changes,
            plan: sections,
            backup,
            duration_ms,
        })
    }

    /// What [`Cha::deploy`] would do with `dir` and `options`: every change
    /// field by field, the drift with who made it and when, and what the
    /// default refuses. Validates everything; writes nothing, and is not an
    /// error when the deployment would be refused.
    ///
    /// # Errors
    /// As [`Cha::deploy`], except `Drift`.
    pub fn plan_deployment(
        &self,
        dir: impl AsRef<Path>,
        options: &DeployOptions,
    ) -> Result<DeployPlan> {
        // The same options a deploy takes are checked the same way.
        options.actor()?;
        let dir = dir.as_ref();
        let loaded = load_dir(dir, &options.subsystems)?;
        let conn = self.inner.store.conn();
        let t = transition::prepare(&conn, &loaded.targets(), true, options.on_drift)
            .map_err(|e| e.context(dir.display()))?;
        Ok(DeployPlan::new(
            &t,
            Some(loaded.dir),
            None,
            options.on_drift,
            loaded.files,
        ))
    }

    /// The whole deployed configuration in one canonical form: a JSON
    /// object of the sections' definitions (`{"experiments": {...},
    /// "flags": {...}}`), keys sorted, two-space indentation, so that two
    /// states compare byte for byte. Writes nothing.
    ///
    /// # Errors
    /// `Storage`.
    pub fn export_configuration(&self) -> Result<String> {
        let conn = self.inner.store.conn();
        let running = transition::running_configuration(&conn)?;
        export(&running)
    }
}

/// The canonical export of a configuration (kind → definitions).
pub(crate) fn export(configuration: &Configuration) -> Result<String> {
    let by_items: std::collections::BTreeMap<&str, &plan::Definitions> = SECTIONS
        .iter()
        .filter_map(|s| Some((s.items(), configuration.get(s.kind())?)))
        .collect();
    Ok(serde_json::to_string_pretty(&by_items)?)
}

/// Finds the sections named in `names` (all when empty), by name or alias,
/// `-` or `_` alike.
pub(crate) fn chosen_sections(names: &[String]) -> Result<Vec<&'static dyn Section>> {
    if names.is_empty() {
        return Ok(SECTIONS.to_vec());
    }
    let mut chosen: Vec<&'static dyn Section> = Vec::new();
    for name in names {
        // Names, aliases and spellings are configuration management's.
        let file = crate::config::config_file(name)?;
        // Every section of the file: the flags' file brings its segments.
        let sections: Vec<&'static dyn Section> = SECTIONS
            .iter()
            .copied()
            .filter(|s| s.config_file().subsystem == file.subsystem)
            .collect();
        if sections.is_empty() {
            return Err(Error::internal(format!(
                "config file {} has no config section",
                file.file
            )));
        }
        for section in sections {
            if !chosen.iter().any(|c| c.subsystem() == section.subsystem()) {
                chosen.push(section);
            }
        }
    }
    // In the order they are applied.
    chosen.sort_by_key(|c| SECTIONS.iter().position(|s| s.subsystem() == c.subsystem()));
    Ok(chosen)
}

/// Loads and validates the files of `dir` for the chosen subsystems,
/// reporting the problems of all of them at once. Without a choice, every
/// known file present is taken; a chosen subsystem's file must be there.
fn load_dir(dir: &Path, subsystems: &[String]) -> Result<Loaded> {
    let chosen = chosen_sections(subsystems)?;
    if !dir.is_dir() {
        return Err(Error::not_found(format!(
            "config directory {} does not exist",
            dir.display()
        )));
    }
    let mut problems = ConfigError::default();
    let mut present = Vec::new();
    for section in chosen {
        let path = dir.join(section.file());
        match crate::config::file_state(&path) {
            FileState::Regular => present.push(section),
            FileState::Missing if subsystems.is_empty() => {}
            FileState::Missing => {
                return Err(Error::not_found(format!(
                    "config directory {} has no {} for subsystem {}",
                    dir.display(),
                    section.file(),
                    section.config_file().subsystem
                )));
            }
            FileState::Unusable(_)
                if problems
                    .issues
                    .iter()
                    .any(|i| i.file == path.display().to_string()) => {}
            FileState::Unusable(why) => problems.issues.push(ConfigIssue {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                path: String::new(),
                message: why,
                hint: Some(
                    "a config file must be a readable regular file (or a link to one)".into(),
                ),
            }),
        }
    }
    if present.is_empty() && problems.issues.is_empty() {
        return Err(Error::not_found(format!(
            "config directory {} holds none of the known config files ({})",
            dir.display(),
            known_files().join(", ")
        )));
    }
    let mut sections = Vec::new();
    let mut files: Vec<DeployedFile> = Vec::new();
    let mut failed: Vec<&str> = Vec::new();
    for section in present {
        // A file read for two sections (the flags and their segments) is
        // reported and recorded once.
        if failed.contains(&section.file()) {
            continue;
        }
        let path = dir.join(section.file());
        match section.load(&path) {
            Ok(file) => {
                if !files.iter().any(|f| f.file == section.file()) {
                    files.push(DeployedFile {
                        file: section.file().to_string(),
                        sha256: sha256_of(&path),
                        source_version: file.source_version,
                        migration: file.migration.clone(),
                    });
                }
                sections.push((section, file));
            }
            Err(e) => {
                failed.push(section.file());
                problems.issues.extend(e.issues);
            }
        }
    }
    if !problems.issues.is_empty() {
        return Err(problems.into());
    }
    Ok(Loaded {
        dir: dir.display().to_string(),
        sections,
        files,
    })
}

/// The SHA-256 of a file's bytes in hex (empty if it cannot be read again).
fn sha256_of(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| {
            Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
}
