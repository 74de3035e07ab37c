//! The deployment history in SQL: one row per deploy, rollback and backup
//! restore. The JSON columns are written and read by `crate::deploy`.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::Result;

/// One deployment as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeploymentRow {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub config_dir: Option<String>,
    pub rolled_back_to: Option<i64>,
    pub on_drift: String,
    pub files_json: String,
    pub plan_json: String,
    pub drift_json: String,
    /// The deployment's snapshot (`deploy::snapshot`).
    pub intended_json: String,
    pub audit_to: i64,
    pub backup_path: Option<String>,
    pub duration_ms: f64,
}

/// The columns [`row`] reads, as a literal for `concat!`: the statements are
/// whole literals, nothing is spliced in at run time.
macro_rules! columns {
    () => {
        "id, at_ms, actor, action, config_dir, rolled_back_to, on_drift, files_json, \
         plan_json, drift_json, intended_json, audit_to, backup_path, duration_ms"
    };
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeploymentRow> {
    Ok(DeploymentRow {
        id: r.get(0)?,
        at_ms: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        config_dir: r.get(4)?,
        rolled_back_to: r.get(5)?,
        on_drift: r.get(6)?,
        files_json: r.get(7)?,
        plan_json: r.get(8)?,
        drift_json: r.get(9)?,
        intended_json: r.get(10)?,
        audit_to: r.get(11)?,
        backup_path: r.get(12)?,
        duration_ms: r.get(13)?,
    })
}

/// Appends a deployment (its `id` is ignored) and returns its id.
pub(crate) fn insert(tx: &Transaction<'_>, d: &DeploymentRow) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO deployments (at_ms, actor, action, config_dir, rolled_back_to, on_drift,
             files_json, plan_json, drift_json, intended_json, audit_to, backup_path, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        d.at_ms,
        d.actor,
        d.action,
        d.config_dir,
        d.rolled_back_to,
        d.on_drift,
        d.files_json,
        d.plan_json,
        d.drift_json,
        d.intended_json,
        d.audit_to,
        d.backup_path,
        d.duration_ms
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Sets the duration of deployment `id`, known only once it committed.
pub(crate) fn set_duration(conn: &Connection, id: i64, duration_ms: f64) -> Result<()> {
    conn.prepare_cached("UPDATE deployments SET duration_ms = ?2 WHERE id = ?1")?
        .execute(params![id, duration_ms])?;
    Ok(())
}

/// Deployment `id`, if there is one.
pub(crate) fn get(conn: &Connection, id: i64) -> Result<Option<DeploymentRow>> {
    let sql = concat!("SELECT ", columns!(), " FROM deployments WHERE id = ?1");
    Ok(conn.prepare_cached(sql)?.query_row([id], row).optional()?)
}

/// The latest deployment, if any.
pub(crate) fn latest(conn: &Connection) -> Result<Option<DeploymentRow>> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM deployments ORDER BY id DESC LIMIT 1"
    );
    Ok(conn.prepare_cached(sql)?.query_row([], row).optional()?)
}

/// The latest deployment before `id`, if any.
pub(crate) fn before(conn: &Connection, id: i64) -> Result<Option<DeploymentRow>> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM deployments WHERE id < ?1 ORDER BY id DESC LIMIT 1"
    );
    Ok(conn.prepare_cached(sql)?.query_row([id], row).optional()?)
}

/// The last `limit` deployments, newest first.
pub(crate) fn recent(conn: &Connection, limit: u32) -> Result<Vec<DeploymentRow>> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM deployments ORDER BY id DESC LIMIT ?1"
    );
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([limit], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The ids of every deployment, oldest first (for messages naming them).
pub(crate) fn ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM deployments ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A JSON column of the history, read as `T`: text that does not read is a
/// damaged store, named by `what`.
pub(crate) fn column<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        crate::Error::storage(format!(
            "{what} in the deployment history cannot be read: {e}"
        ))
    })
}
