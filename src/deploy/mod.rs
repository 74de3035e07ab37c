//! Deploying a configuration directory: every config section whose file the
//! directory holds is loaded and validated first, then applied in one
//! transaction. An invalid file changes nothing.
//!
//! The sections (`sections::SECTIONS`) say which files there are and how
//! each is read, checked and written; this loop knows none of them by name.

pub(crate) mod section;
mod sections;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::Cha;
use crate::config::{ConfigError, MigrationReport};
use crate::error::{Error, Result};
use crate::store::definitions::{self, Author};
use section::{Configuration, Section, SectionFile};
use sections::SECTIONS;

/// What a deployment did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    pub config_dir: String,
    pub actor: String,
    pub at_ms: i64,
    pub files: Vec<DeployedFile>,
    /// What happened to the definitions of each section, by what they are
    /// called (`flags`, `experiments`, ...), in the order of the sections; a
    /// section whose file the directory lacks is listed with nothing changed.
    #[serde(flatten)]
    pub changes: SectionChanges,
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

/// One config file that was deployed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployedFile {
    pub file: String,
    pub source_version: i64,
    /// Set when the file was in an older format and migrated on the way in.
    pub migration: Option<MigrationReport>,
}

/// Definitions by what the deployment did to them, each list sorted by name.
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

/// The config files of every section, in the order they are applied.
pub fn known_files() -> Vec<&'static str> {
    SECTIONS.iter().map(|s| s.file()).collect()
}

impl Cha {
    /// Deploys every config file in `dir` (`feature_flags.yml`,
    /// `ab_tests.yml`): validates all of them, then applies them in one
    /// transaction recorded in the audit log under `actor`.
    ///
    /// # Errors
    /// `Config` listing every problem of every file, with file:line:column;
    /// `NotFound` if `dir` holds no known file; `Storage`, `Busy`.
    pub fn deploy_all(&self, dir: impl AsRef<Path>, actor: &str) -> Result<DeployReport> {
        crate::handle::check_actor(actor)?;
        let dir = dir.as_ref();
        let loaded = load_dir(dir)?;

        // Buffered exposures are stored first, so that units exposed until
        // now keep their variant if this deployment changes a split.
        self.flush()?;
        let at_ms = crate::clock::now_ms();
        let by = Author {
            actor,
            action: "deploy",
            at_ms,
        };
        let changes = self
            .inner
            .store
            .write(|tx| apply(tx, &loaded, by).map_err(|e| e.context(dir.display())))?;
        self.inner.reload_after_commit();
        Ok(DeployReport {
            config_dir: dir.display().to_string(),
            actor: actor.to_string(),
            at_ms,
            files: loaded
                .iter()
                .map(|(section, file)| DeployedFile {
                    file: section.file().to_string(),
                    source_version: file.source_version,
                    migration: file.migration.clone(),
                })
                .collect(),
            changes,
        })
    }
}

/// Loads and validates every known file of `dir`, reporting the problems of
/// all of them at once.
fn load_dir(dir: &Path) -> Result<Vec<(&'static dyn Section, SectionFile)>> {
    if !dir.is_dir() {
        return Err(Error::not_found(format!(
            "config directory {} does not exist",
            dir.display()
        )));
    }
    let present: Vec<&'static dyn Section> = SECTIONS
        .iter()
        .copied()
        .filter(|s| dir.join(s.file()).is_file())
        .collect();
    if present.is_empty() {
        return Err(Error::not_found(format!(
            "config directory {} holds none of the known config files ({})",
            dir.display(),
            known_files().join(", ")
        )));
    }
    let mut problems = ConfigError::default();
    let mut loaded = Vec::new();
    for section in present {
        match section.load(&dir.join(section.file())) {
            Ok(file) => loaded.push((section, file)),
            Err(e) => problems.issues.extend(e.issues),
        }
    }
    if !problems.issues.is_empty() {
        return Err(problems.into());
    }
    Ok(loaded)
}

/// Applies the loaded files inside `tx`: each section's definitions become
/// those of its file (keeping the runtime state the file does not decide),
/// after the whole resulting configuration passed every section's checks.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    loaded: &[(&'static dyn Section, SectionFile)],
    by: Author<'_>,
) -> Result<SectionChanges> {
    // What every section holds now, and what it will hold.
    let mut running: Configuration = BTreeMap::new();
    for section in SECTIONS {
        let stored = definitions::load(tx, section.kind())?
            .iter()
            .map(|d| Ok((d.name.clone(), d.parse::<Value>()?)))
            .collect::<Result<_>>()?;
        running.insert(section.kind(), stored);
    }
    let mut intended = running.clone();
    for (section, file) in loaded {
        let current = &running[section.kind()];
        let mut next = BTreeMap::new();
        for (name, definition) in &file.items {
            let mut definition = definition.clone();
            if let Some(stored) = current.get(name) {
                section.keep_runtime_state(&mut definition, stored)?;
            }
            next.insert(name.clone(), definition);
        }
        intended.insert(section.kind(), next);
    }
    for section in SECTIONS {
        section.check(&intended)?;
    }

    let mut report = SectionChanges(
        SECTIONS
            .iter()
            .map(|s| (s.items().to_string(), Changes::default()))
            .collect(),
    );
    for (section, file) in loaded {
        let changes = report.entry(section.items());
        let current = &running[section.kind()];
        for (name, _) in &file.items {
            let definition = &intended[section.kind()][name];
            let existed = current.contains_key(name);
            let by = Author {
                action: if existed { by.action } else { "create" },
                ..by
            };
            let list = match section.put(tx, name, definition, by)? {
                None => &mut changes.unchanged,
                Some(_) if existed => &mut changes.updated,
                Some(_) => &mut changes.created,
            };
            list.push(name.clone());
        }
        for name in current.keys() {
            if !intended[section.kind()].contains_key(name) {
                section.delete(tx, name, by)?;
                changes.removed.push(name.clone());
            }
        }
        changes.sort();
    }
    Ok(report)
}
