//! The one way the deployed configuration changes, for a deploy and a
//! rollback alike: compare what runs with the target and with what the
//! files said at the last deployment ([`prepare`], which writes nothing),
//! then, inside the same write transaction, apply the comparison and record
//! the deployment ([`commit`]).

use serde::{Deserialize, Serialize};

use super::plan::{self, Action, Definitions, Drift, ItemChange, OnDrift};
use super::section::{Configuration, Section};
use super::sections::SECTIONS;
use super::snapshot::{self, Snapshot};
use super::{Changes, DeployedFile, SectionChanges};
use crate::error::{Error, Result};
use crate::store::audit::{self, Author};
use crate::store::definitions;
use crate::store::deployments::{self, DeploymentRow};

/// What a deployment or rollback does to one section, and the section's
/// drift (its runtime changes since the last deployment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionPlan {
    /// `feature_flags`, `ab_tests`, ...
    pub subsystem: String,
    pub file: String,
    /// What its definitions are called: `flags`, `experiments`, ...
    pub items: String,
    /// Whether this deployment brings the section (its file was deployed,
    /// or the rollback restores it); else it is left as it runs.
    pub included: bool,
    /// The definitions written, deleted or kept as changed at runtime.
    pub changes: Vec<ItemChange>,
    /// The definitions the target leaves as they run.
    pub unchanged: Vec<String>,
    /// What `refuse` refuses: runtime changes it would undo, definitions
    /// it would delete.
    pub refused: Vec<String>,
    /// The runtime changes since the last deployment, with who made them.
    pub drift: Vec<Drift>,
}

/// The drift a deployment met and what became of it, in its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftRecord {
    pub subsystem: String,
    #[serde(flatten)]
    pub drift: Drift,
    /// `overwritten`, `kept`, `merged` (runtime values kept, the files'
    /// other changes applied) or `untouched` (a subsystem not deployed).
    pub outcome: String,
}

/// The runtime changes of `section` since the last deployment (`running`
/// against `base`), each with who made it, when and how: from the audit
/// log after that deployment, or, for drift a deployment kept, from its
/// record, since the change came before it.
pub(crate) fn drift_of(
    conn: &rusqlite::Connection,
    section: &dyn Section,
    base: Option<&Definitions>,
    running: &Definitions,
    last: Option<&DeploymentRow>,
) -> Result<Vec<Drift>> {
    let mut drift = plan::drift(base, running);
    let audit_to = last.map_or(0, |d| d.audit_to);
    let mut kept: Option<Vec<DriftRecord>> = None;
    for d in &mut drift {
        if let Some((actor, at_ms, action)) =
            audit::last_change_after(conn, section.kind(), &d.name, audit_to)?
        {
            (d.actor, d.at_ms, d.action) = (Some(actor), Some(at_ms), Some(action));
            continue;
        }
        let Some(last) = last else { continue };
        let records = match &mut kept {
            Some(records) => records,
            None => kept.insert(deployments::column(
                &last.drift_json,
                "the drift of a deployment",
            )?),
        };
        if let Some(r) = records
            .iter()
            .find(|r| r.subsystem == section.subsystem() && r.drift.name == d.name)
        {
            (d.actor, d.at_ms, d.action) =
                (r.drift.actor.clone(), r.drift.at_ms, r.drift.action.clone());
        }
    }
    Ok(drift)
}

/// A transition worked out against the database, not applied yet.
pub(crate) struct Transition {
    /// The deployment in force before it.
    pub last: Option<DeploymentRow>,
    /// What the files said at the last deployment.
    pub base: Option<Configuration>,
    pub sections: Vec<SectionPlan>,
    /// The targets as applied (with the runtime state they do not decide).
    pub targets: Configuration,
    /// The configuration it leaves.
    pub result: Configuration,
}

impl Transition {
    /// Every refusal, prefixed with its section's file.
    pub fn refused(&self) -> Vec<String> {
        self.sections
            .iter()
            .flat_map(|s| s.refused.iter().map(move |r| format!("{}: {r}", s.file)))
            .collect()
    }

    /// The error of `refuse` when it refuses, saying exactly what would be
    /// undone or deleted and how to go ahead.
    pub fn check_refusal(&self, on_drift: OnDrift, what: &str) -> Result<()> {
        let refused = self.refused();
        if on_drift != OnDrift::Refuse || refused.is_empty() {
            return Ok(());
        }
        Err(Error::drift(format!(
            "{what} refused: it would undo runtime changes or delete definitions the target does not mention; nothing was changed:\n  {}\n\
             say how: on_drift \"overwrite\" (CLI --overwrite) lets the target win; \"keep_runtime\" (--keep-runtime) keeps the runtime changes and applies only what the files changed since the last deployment",
            refused.join("\n  ")
        )))
    }
}

/// Works out the transition to `targets` (kind → definitions; kinds
/// without a target are left as they run) under `on_drift`. With
/// `keep_runtime_state`, each target definition first takes from the
/// running one what only the running system knows (deploys do; a rollback
/// restores exactly). Every section's checks run on the result.
///
/// # Errors
/// `Config` when the result fails a section's checks; `Storage`.
pub(crate) fn prepare(
    conn: &rusqlite::Connection,
    targets: &Configuration,
    keep_runtime_state: bool,
    on_drift: OnDrift,
) -> Result<Transition> {
    let (last, base) = snapshot::base(conn)?;
    let mut sections = Vec::new();
    let mut result = Configuration::new();
    let mut applied = Configuration::new();
    for section in SECTIONS {
        let kind = section.kind();
        let running = running_definitions(conn, kind)?;
        let section_base = base.as_ref().and_then(|b| b.get(kind));
        let drift = drift_of(conn, *section, section_base, &running, last.as_ref())?;
        let (comparison, included) = match targets.get(kind) {
            Some(target) => {
                if keep_runtime_state {
                    section.check_target(conn, target)?;
                }
                let mut target = target.clone();
                if keep_runtime_state {
                    for (name, definition) in &mut target {
                        if let Some(stored) = running.get(name) {
                            section.keep_runtime_state(definition, stored)?;
                        }
                    }
                }
                let comparison = plan::compare(kind, section_base, &running, &target, on_drift);
                applied.insert(kind.to_string(), target);
                (comparison, true)
            }
            None => {
                let unchanged = running.keys().cloned().collect();
                let comparison = plan::Comparison {
                    unchanged,
                    result: running,
                    ..Default::default()
                };
                (comparison, false)
            }
        };
        result.insert(kind.to_string(), comparison.result);
        sections.push(SectionPlan {
            subsystem: section.subsystem().to_string(),
            file: section.file().to_string(),
            items: section.items().to_string(),
            included,
            changes: comparison.changes,
            unchanged: comparison.unchanged,
            refused: comparison.refused,
            drift,
        });
    }
    for section in SECTIONS {
        section.check(&result)?;
    }
    Ok(Transition {
        last,
        base,
        sections,
        targets: applied,
        result,
    })
}

/// The deployment to record with a transition.
pub(crate) struct Record<'a> {
    pub action: &'a str,
    pub config_dir: Option<String>,
    pub rolled_back_to: Option<i64>,
    pub on_drift: OnDrift,
    pub files: &'a [DeployedFile],
    /// What the files say after it, per kind.
    pub intended: Configuration,
    pub backup_path: Option<String>,
}

/// Applies `t` inside `tx` under `by` and records the deployment. Returns
/// its id and what happened to each section's definitions.
pub(crate) fn commit(
    tx: &rusqlite::Transaction<'_>,
    t: &Transition,
    by: Author<'_>,
    record: &Record<'_>,
) -> Result<(i64, SectionChanges)> {
    let mut changes = SectionChanges::default();
    for (section, plan) in SECTIONS.iter().zip(&t.sections) {
        let list = changes.entry(section.items());
        list.unchanged.clone_from(&plan.unchanged);
        for item in &plan.changes {
            apply(tx, *section, item, &t.result[section.kind()], by, list)?;
        }
        list.sort();
    }
    let drift: Vec<DriftRecord> = t
        .sections
        .iter()
        .flat_map(|s| {
            s.drift.iter().map(move |d| {
                let change = s.changes.iter().find(|c| c.name == d.name);
                // Kept whole, merged (runtime values kept, the files'
                // other changes applied), overwritten, or not touched.
                let outcome = match change {
                    Some(c) if c.action == Action::KeepRuntime => "kept",
                    Some(c) if c.undoes_drift => "overwritten",
                    Some(_) => "merged",
                    None => "untouched",
                };
                DriftRecord {
                    subsystem: s.subsystem.clone(),
                    drift: d.clone(),
                    outcome: outcome.to_string(),
                }
            })
        })
        .collect();
    let row = DeploymentRow {
        id: 0,
        at_ms: by.at_ms,
        actor: by.actor.to_string(),
        action: record.action.to_string(),
        config_dir: record.config_dir.clone(),
        rolled_back_to: record.rolled_back_to,
        on_drift: record.on_drift.as_str().to_string(),
        files_json: serde_json::to_string(record.files)?,
        plan_json: serde_json::to_string(&t.sections)?,
        drift_json: serde_json::to_string(&drift)?,
        intended_json: serde_json::to_string(&Snapshot::of(&record.intended, &t.result))?,
        audit_to: audit::last_id(tx)?,
        backup_path: record.backup_path.clone(),
        duration_ms: 0.0,
    };
    Ok((deployments::insert(tx, &row)?, changes))
}

/// Makes one change of a plan.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    section: &dyn Section,
    item: &ItemChange,
    result: &Definitions,
    by: Author<'_>,
    list: &mut Changes,
) -> Result<()> {
    let name = &item.name;
    match item.action {
        Action::Create => {
            let by = Author {
                action: "create",
                ..by
            };
            section.put(tx, name, &result[name], by)?;
            list.created.push(name.clone());
        }
        Action::Update => {
            section.put(tx, name, &result[name], by)?;
            list.updated.push(name.clone());
        }
        Action::Delete => {
            section.delete(tx, name, by)?;
            list.removed.push(name.clone());
        }
        Action::KeepRuntime => list.kept.push(name.clone()),
    }
    Ok(())
}

/// The stored definitions of `kind`, as JSON by name.
pub(crate) fn running_definitions(conn: &rusqlite::Connection, kind: &str) -> Result<Definitions> {
    definitions::load(conn, kind)?
        .iter()
        .map(|d| Ok((d.name.clone(), d.parse()?)))
        .collect()
}

/// The whole running configuration.
pub(crate) fn running_configuration(conn: &rusqlite::Connection) -> Result<Configuration> {
    SECTIONS
        .iter()
        .map(|s| Ok((s.kind().to_string(), running_definitions(conn, s.kind())?)))
        .collect()
}

/// `intended` with the kinds of `files` replaced: what the files say after
/// a deployment that brought only some of them.
pub(crate) fn intended_after(
    base: Option<&Configuration>,
    deployed: &Configuration,
) -> Configuration {
    let mut intended: Configuration = base.cloned().unwrap_or_default();
    for (kind, defs) in deployed {
        intended.insert(kind.clone(), defs.clone());
    }
    intended
}
