//! Rollback: bring back exactly the configuration an earlier deployment
//! left, through the same transition as a deploy (plan, drift, backup,
//! record). Collected data (exposures, observations, metrics, feedback) is
//! never touched: only definitions change.

use super::snapshot::Snapshot;
use super::transition::{self, Record};
use super::{DeployOptions, DeployPlan, DeployReport, history};
use crate::Cha;
use crate::deploy::section::Configuration;
use crate::error::{Error, Result};
use crate::store::audit::Author;
use crate::store::deployments::{self, DeploymentRow};

impl Cha {
    /// Rolls back to deployment `id`, or with `id` 0 to the deployment
    /// before the one in force (after a rollback, the one in force is the
    /// deployment it restored, so repeated rollbacks step further back). The
    /// configuration comes back exactly: an export afterwards is byte for
    /// byte the one taken after that deployment. Refuses, as a deploy does,
    /// to undo runtime changes unless `options.on_drift` says how; with
    /// `options.subsystems`, only those subsystems go back. Recorded as a
    /// deployment, backed up first; its report gives its duration.
    ///
    /// # Errors
    /// `NotFound` (no such deployment, or none before the one in force);
    /// `Drift`; `Config` if the restored configuration no longer passes
    /// this version's checks; `Storage`, `Busy`.
    pub fn rollback_deployment(&self, id: i64, options: &DeployOptions) -> Result<DeployReport> {
        let started = std::time::Instant::now();
        let actor = options.actor()?;
        self.flush()?;
        let target = {
            let conn = self.inner.store.conn();
            let target = rollback_target(&conn, id)?;
            transition::prepare(
                &conn,
                &restored(&conn, &target, options)?,
                false,
                options.on_drift,
            )?
            .check_refusal(options.on_drift, "rollback")?;
            target
        };
        let backup = self.backup_before("rollback")?;
        let at_ms = crate::clock::now_ms();
        let by = Author {
            actor: &actor,
            action: "rollback",
            at_ms,
        };
        let (deployment_id, changes, sections) = self.inner.store.write(|tx| {
            let t = transition::prepare(
                tx,
                &restored(tx, &target, options)?,
                false,
                options.on_drift,
            )?;
            t.check_refusal(options.on_drift, "rollback")?;
            // What the files said then, for the subsystems that go back.
            let snapshot = Snapshot::read(&target)?;
            let then = snapshot.intended(&snapshot.state(tx, target.audit_to)?);
            let then: Configuration = then
                .into_iter()
                .filter(|(kind, _)| t.targets.contains_key(kind))
                .collect();
            let record = Record {
                action: "rollback",
                config_dir: None,
                rolled_back_to: Some(target.id),
                on_drift: options.on_drift,
                files: &[],
                intended: transition::intended_after(t.base.as_ref(), &then),
                backup_path: backup.clone(),
            };
            let (id, changes) = transition::commit(tx, &t, by, &record)?;
            Ok((id, changes, t.sections))
        })?;
        self.inner.reload_after_commit();
        let duration_ms = history::finish(&self.inner.store, deployment_id, started)?;
        Ok(DeployReport {
            deployment_id,
            action: "rollback".into(),
            config_dir: None,
            rolled_back_to: Some(target.id),
            actor,
            at_ms,
            on_drift: options.on_drift,
            files: Vec::new(),
            changes,
            plan: sections,
            backup,
            duration_ms,
        })
    }

    /// What [`Cha::rollback_deployment`] would do. Writes nothing.
    ///
    /// # Errors
    /// As [`Cha::rollback_deployment`], except `Drift`.
    pub fn plan_rollback(&self, id: i64, options: &DeployOptions) -> Result<DeployPlan> {
        options.actor()?;
        let conn = self.inner.store.conn();
        let target = rollback_target(&conn, id)?;
        let t = transition::prepare(
            &conn,
            &restored(&conn, &target, options)?,
            false,
            options.on_drift,
        )?;
        Ok(DeployPlan::new(
            &t,
            None,
            Some(target.id),
            options.on_drift,
            Vec::new(),
        ))
    }
}

/// The configuration a rollback to `target` brings back: all of it, or the
/// kinds of the chosen subsystems. A subsystem the deployment did not know
/// (it came with a later version) is left as it runs.
fn restored(
    conn: &rusqlite::Connection,
    target: &DeploymentRow,
    options: &DeployOptions,
) -> Result<Configuration> {
    let mut state = Snapshot::read(target)?.state(conn, target.audit_to)?;
    let chosen = super::chosen_sections(&options.subsystems)?;
    Ok(chosen
        .iter()
        .filter_map(|s| state.remove_entry(s.kind()))
        .collect())
}

/// The deployment a rollback to `id` restores: `id` itself, or for 0 the
/// one before the deployment in force.
fn rollback_target(conn: &rusqlite::Connection, id: i64) -> Result<DeploymentRow> {
    if id < 0 {
        return Err(Error::invalid_argument(format!(
            "deployment id {id}: give a deployment's id, or 0 for the previous one"
        )));
    }
    if id > 0 {
        return history::find(conn, id);
    }
    let latest = deployments::latest(conn)?
        .ok_or_else(|| Error::not_found("there is no deployment to roll back"))?;
    let in_force = latest.rolled_back_to.unwrap_or(latest.id);
    deployments::before(conn, in_force)?.ok_or_else(|| {
        Error::not_found(format!(
            "deployment {in_force} is in force and there is no deployment before it to roll back to"
        ))
    })
}
