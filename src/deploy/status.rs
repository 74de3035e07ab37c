//! The deployment status: per subsystem what is deployed (the file's
//! version and hash, the number of definitions), what moves (rollouts,
//! running tests), and the drift since the last deployment; and the last
//! deployments.

use serde::Serialize;

use super::history::Deployment;
use super::sections::SECTIONS;
use super::transition;
use super::{DeployedFile, Drift};
use crate::Cha;
use crate::error::Result;
use crate::store::deployments;

/// How many recent deployments the status lists.
const RECENT: u32 = 5;

/// What is deployed and running now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentStatus {
    pub database: String,
    pub schema_version: i64,
    pub at_ms: i64,
    /// The deployment in force (the latest), if any.
    pub last_deployment: Option<DeploymentSummary>,
    pub subsystems: Vec<SubsystemStatus>,
    /// The latest deployments, newest first.
    pub recent_deployments: Vec<DeploymentSummary>,
}

/// One subsystem's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubsystemStatus {
    pub subsystem: String,
    pub file: String,
    pub items: String,
    /// How many definitions run.
    pub count: usize,
    /// The file as last deployed: version and SHA-256 (none if it never was).
    pub deployed_file: Option<DeployedFile>,
    /// The deployment that last brought the file.
    pub deployed_by: Option<i64>,
    /// The runtime changes since the last deployment, with who made them.
    pub drift: Vec<Drift>,
    /// What moves: active rollouts with their percentage and next step,
    /// running tests with their exposures, ...
    pub details: serde_json::Value,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentSummary {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub config_dir: Option<String>,
    pub rolled_back_to: Option<i64>,
    /// How many definitions it created, changed or deleted.
    pub changed: usize,
    pub duration_ms: f64,
}

impl From<&Deployment> for DeploymentSummary {
    fn from(d: &Deployment) -> Self {
        DeploymentSummary {
            id: d.id,
            at_ms: d.at_ms,
            actor: d.actor.clone(),
            action: d.action.clone(),
            config_dir: d.config_dir.clone(),
            rolled_back_to: d.rolled_back_to,
            changed: d.changed(),
            duration_ms: d.duration_ms,
        }
    }
}

impl Cha {
    /// The deployment status (`get_deployment_status`). Writes nothing.
    ///
    /// # Errors
    /// `Storage`.
    pub fn deployment_status(&self) -> Result<DeploymentStatus> {
        let recent = self.deployments(RECENT)?;
        let info = self.info()?;
        let now_ms = crate::clock::now_ms();
        let conn = self.inner.store.conn();
        let (last, base) = super::snapshot::base(&conn)?;
        let mut subsystems = Vec::new();
        for section in SECTIONS {
            let kind = section.kind();
            let running = transition::running_definitions(&conn, kind)?;
            let base = base.as_ref().and_then(|b| b.get(kind));
            let drift = transition::drift_of(&conn, *section, base, &running, last.as_ref())?;
            let (deployed_by, deployed_file) = last_deployed_file(&conn, section.file())?;
            subsystems.push(SubsystemStatus {
                subsystem: section.subsystem().to_string(),
                file: section.file().to_string(),
                items: section.items().to_string(),
                count: running.len(),
                deployed_file,
                deployed_by,
                drift,
                details: section.status(&conn, &running, now_ms)?,
            });
        }
        Ok(DeploymentStatus {
            database: info.path,
            schema_version: info.schema_version,
            at_ms: now_ms,
            last_deployment: recent.first().map(DeploymentSummary::from),
            subsystems,
            recent_deployments: recent.iter().map(DeploymentSummary::from).collect(),
        })
    }
}

/// The latest deployment that brought `file`, and the file as it brought it.
fn last_deployed_file(
    conn: &rusqlite::Connection,
    file: &str,
) -> Result<(Option<i64>, Option<DeployedFile>)> {
    for row in deployments::recent(conn, u32::MAX)? {
        let files: Vec<DeployedFile> =
            deployments::column(&row.files_json, "the files of a deployment")?;
        if let Some(f) = files.into_iter().find(|f| f.file == file) {
            return Ok((Some(row.id), Some(f)));
        }
    }
    Ok((None, None))
}
