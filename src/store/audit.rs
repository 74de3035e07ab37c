//! The audit log and the configuration revision: every configuration change
//! of every subsystem is one row here (who, when, what, before, after), and
//! bumps the revision that every open handle watches.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::error::Result;

/// One change in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    /// What was changed: `flag`, `experiment`, ...
    pub kind: String,
    /// Its name.
    pub subject: String,
    /// The subject's version after the change.
    pub version: Option<i64>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A change to one thing, recorded in the audit log by [`record_change`].
pub(crate) struct Change<'a> {
    pub by: Author<'a>,
    pub kind: &'a str,
    pub subject: &'a str,
    pub version: Option<i64>,
    pub before_json: Option<&'a str>,
    pub after_json: Option<&'a str>,
}

/// Who changes what, when, and how (`action`: create, update, restore,
/// deploy, rollback, ...).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Author<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub at_ms: i64,
}

/// Appends one row to the audit log and bumps the configuration revision, so
/// that every open handle reloads.
pub(crate) fn record_change(tx: &Transaction<'_>, c: &Change<'_>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log (at_ms, actor, action, kind, subject, version, before_json, after_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![c.by.at_ms, c.by.actor, c.by.action, c.kind, c.subject, c.version, c.before_json, c.after_json])?;
    tx.prepare_cached(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'config_revision'",
    )?
    .execute([])?;
    Ok(())
}

/// Sets the configuration revision above `seen` (and above its own value):
/// after a restore replaced the database, every handle reloads, whatever
/// revision it saw last.
pub(crate) fn raise_revision_above(tx: &Transaction<'_>, seen: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE meta SET value = CAST(MAX(CAST(value AS INTEGER), ?1) + 1 AS TEXT)
         WHERE key = 'config_revision'",
    )?
    .execute([seen])?;
    Ok(())
}

/// The configuration revision: changes whenever any configuration changes.
pub(crate) fn config_revision(conn: &Connection) -> Result<i64> {
    let mut stmt = conn
        .prepare_cached("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'config_revision'")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

/// The last change to anything of `kind` (an audit-log id; 0 for none): lets a
/// reload skip rebuilding what did not change.
pub(crate) fn last_change_of(conn: &Connection, kind: &str) -> Result<i64> {
    let mut stmt =
        conn.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM audit_log WHERE kind = ?1")?;
    Ok(stmt.query_row([kind], |r| r.get(0))?)
}

/// The id of the last audit-log row (0 for none).
pub(crate) fn last_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM audit_log")?
        .query_row([], |r| r.get(0))?)
}

/// Who made the last change to `subject` of `kind` after audit row `after`,
/// when, and how: `(actor, at_ms, action)`.
pub(crate) fn last_change_after(
    conn: &Connection,
    kind: &str,
    subject: &str,
    after: i64,
) -> Result<Option<(String, i64, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT actor, at_ms, action FROM audit_log
             WHERE kind = ?1 AND subject = ?2 AND id > ?3 ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![kind, subject, after], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?)
}

/// Every subject's text as of audit row `at` (its `after` at its last row up
/// to there), leaving out the subjects deleted by then: `(kind, subject,
/// text)`. The configuration a deployment left, without a copy of it.
pub(crate) fn texts_at(conn: &Connection, at: i64) -> Result<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, subject, after_json FROM audit_log
         WHERE id IN (SELECT MAX(id) FROM audit_log WHERE id <= ?1 GROUP BY kind, subject)
           AND after_json IS NOT NULL",
    )?;
    let rows = stmt.query_map([at], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The highest version `subject` of `kind` ever had, 0 for none: versions
/// keep counting across a delete and a re-creation, so history never shows
/// one twice.
pub(crate) fn last_version(conn: &Connection, kind: &str, subject: &str) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(MAX(version), 0) FROM audit_log WHERE kind = ?1 AND subject = ?2",
    )?;
    Ok(stmt.query_row([kind, subject], |r| r.get(0))?)
}

/// The audit-log rows of one subject, oldest first.
pub(crate) fn history(conn: &Connection, kind: &str, subject: &str) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at_ms, actor, action, kind, subject, version, before_json, after_json
         FROM audit_log WHERE kind = ?1 AND subject = ?2 ORDER BY id",
    )?;
    let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    let rows = stmt.query_map([kind, subject], |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            at_ms: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            kind: r.get(4)?,
            subject: r.get(5)?,
            version: r.get(6)?,
            before: parse(r.get(7)?),
            after: parse(r.get(8)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
