//! The deployment history: every deploy, rollback and backup restore, with
//! what it changed and the configuration it left.

use serde::Serialize;

use super::transition::{DriftRecord, SectionPlan};
use super::{DeployedFile, OnDrift};
use crate::Cha;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::deployments::column;
use crate::store::deployments::{self, DeploymentRow};

/// One recorded deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    /// `deploy`, `rollback` or `restore`.
    pub action: String,
    /// The directory deployed (a deploy), or the backup restored (a restore).
    pub config_dir: Option<String>,
    /// The deployment whose configuration came back (a rollback).
    pub rolled_back_to: Option<i64>,
    pub on_drift: OnDrift,
    /// Each config file with its SHA-256 and version (a deploy).
    pub files: Vec<DeployedFile>,
    /// What it changed, per section, field by field, and the drift it met.
    pub plan: Vec<SectionPlan>,
    /// The drift it met and what became of it.
    pub drift: Vec<DriftRecord>,
    /// The backup taken just before.
    pub backup: Option<String>,
    pub duration_ms: f64,
}

impl Deployment {
    fn from_row(row: DeploymentRow) -> Result<Deployment> {
        Ok(Deployment {
            id: row.id,
            at_ms: row.at_ms,
            actor: row.actor,
            action: row.action,
            config_dir: row.config_dir,
            rolled_back_to: row.rolled_back_to,
            on_drift: serde_json::from_value(serde_json::Value::String(row.on_drift.clone()))
                .unwrap_or_default(),
            files: column(&row.files_json, "the files of a deployment")?,
            plan: column(&row.plan_json, "the plan of a deployment")?,
            drift: column(&row.drift_json, "the drift of a deployment")?,
            backup: row.backup_path,
            duration_ms: row.duration_ms,
        })
    }

    /// How many definitions it created, changed or deleted.
    pub fn changed(&self) -> usize {
        self.plan
            .iter()
            .map(|s| {
                s.changes
                    .iter()
                    .filter(|c| c.action != super::Action::KeepRuntime)
                    .count()
            })
            .sum()
    }
}

impl Cha {
    /// The last `limit` deployments, newest first.
    ///
    /// # Errors
    /// `Storage`.
    pub fn deployments(&self, limit: u32) -> Result<Vec<Deployment>> {
        let conn = self.inner.store.conn();
        deployments::recent(&conn, limit)?
            .into_iter()
            .map(Deployment::from_row)
            .collect()
    }

    /// Deployment `id`.
    ///
    /// # Errors
    /// `InvalidArgument` for an id below 1; `NotFound` naming the
    /// deployments there are.
    pub fn deployment(&self, id: i64) -> Result<Deployment> {
        if id < 1 {
            return Err(Error::invalid_argument(format!(
                "deployment id {id}: deployments are numbered from 1"
            )));
        }
        let conn = self.inner.store.conn();
        let row = find(&conn, id)?;
        Deployment::from_row(row)
    }
}

/// Deployment `id`, or a not-found error that names the ones there are.
pub(crate) fn find(conn: &rusqlite::Connection, id: i64) -> Result<DeploymentRow> {
    deployments::get(conn, id)?.ok_or_else(|| {
        let ids = deployments::ids(conn).unwrap_or_default();
        let known = match (ids.first(), ids.last()) {
            (Some(first), Some(last)) if first == last => format!("the only one is {first}"),
            (Some(first), Some(last)) => format!("they are {first} to {last}"),
            _ => "there is none yet".into(),
        };
        Error::not_found(format!("deployment {id} does not exist ({known})"))
    })
}

/// Records how long deployment `id` took, from `started`, and returns it in
/// milliseconds. The deployment itself is committed: a failure to record
/// the figure is not worth failing it over.
pub(crate) fn finish(store: &Store, id: i64, started: std::time::Instant) -> Result<f64> {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let _ = deployments::set_duration(&store.conn(), id, ms);
    Ok(ms)
}
