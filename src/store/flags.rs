//! Flags and the audit log in SQL. Definitions travel as canonical JSON text;
//! the flag model itself lives in `crate::flags`.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::error::Result;

/// A stored flag definition.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFlag {
    pub name: String,
    pub definition_json: String,
    pub version: i64,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

/// One change in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub kind: String,
    pub subject: String,
    pub version: Option<i64>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A change to one thing, recorded in the audit log by [`record_change`].
pub struct Change<'a> {
    pub at_ms: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub kind: &'a str,
    pub subject: &'a str,
    pub version: Option<i64>,
    pub before_json: Option<&'a str>,
    pub after_json: Option<&'a str>,
}

/// The columns `name, definition_json, version, updated_at_ms, updated_by`
/// of a row.
fn stored_flag(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredFlag> {
    Ok(StoredFlag {
        name: r.get(0)?,
        definition_json: r.get(1)?,
        version: r.get(2)?,
        updated_at_ms: r.get(3)?,
        updated_by: r.get(4)?,
    })
}

/// Every stored flag, by name.
pub fn load_flags(conn: &Connection) -> Result<Vec<StoredFlag>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, definition_json, version, updated_at_ms, updated_by FROM flags ORDER BY name",
    )?;
    let rows = stmt.query_map([], stored_flag)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored flag `name`, if any.
pub fn get_flag(conn: &Connection, name: &str) -> Result<Option<StoredFlag>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, definition_json, version, updated_at_ms, updated_by FROM flags WHERE name = ?1",
    )?;
    Ok(stmt.query_row([name], stored_flag).optional()?)
}

/// Writes a flag's new definition, bumps its version and records the change
/// (`action`: create, update, restore, deploy). Returns the new version.
/// A definition equal to the stored one is not a change: returns `None`.
pub fn put_flag(
    tx: &Transaction<'_>,
    name: &str,
    definition_json: &str,
    actor: &str,
    action: &str,
    at_ms: i64,
) -> Result<Option<i64>> {
    let before = get_flag(tx, name)?;
    if before
        .as_ref()
        .is_some_and(|b| b.definition_json == definition_json)
    {
        return Ok(None);
    }
    let version = last_version(tx, name)? + 1;
    tx.prepare_cached(
        "INSERT INTO flags (name, definition_json, version, updated_at_ms, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET definition_json = ?2, version = ?3,
             updated_at_ms = ?4, updated_by = ?5",
    )?
    .execute(params![name, definition_json, version, at_ms, actor])?;
    record_change(
        tx,
        &Change {
            at_ms,
            actor,
            action,
            kind: "flag",
            subject: name,
            version: Some(version),
            before_json: before.as_ref().map(|b| b.definition_json.as_str()),
            after_json: Some(definition_json),
        },
    )?;
    Ok(Some(version))
}

/// Removes a flag, recording its last definition. Returns false if absent.
pub fn delete_flag(
    tx: &Transaction<'_>,
    name: &str,
    actor: &str,
    action: &str,
    at_ms: i64,
) -> Result<bool> {
    let Some(before) = get_flag(tx, name)? else {
        return Ok(false);
    };
    tx.prepare_cached("DELETE FROM flags WHERE name = ?1")?
        .execute([name])?;
    record_change(
        tx,
        &Change {
            at_ms,
            actor,
            action,
            kind: "flag",
            subject: name,
            version: Some(last_version(tx, name)? + 1),
            before_json: Some(&before.definition_json),
            after_json: None,
        },
    )?;
    Ok(true)
}

/// The highest version a flag ever had, 0 for none: versions keep counting
/// across a delete and a re-creation, so history never shows one twice.
fn last_version(conn: &Connection, name: &str) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(MAX(version), 0) FROM audit_log WHERE kind = 'flag' AND subject = ?1",
    )?;
    Ok(stmt.query_row([name], |r| r.get(0))?)
}

/// Appends one row to the audit log and bumps the configuration revision, so
/// that every open handle reloads.
pub fn record_change(tx: &Transaction<'_>, c: &Change<'_>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log (at_ms, actor, action, kind, subject, version, before_json, after_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![c.at_ms, c.actor, c.action, c.kind, c.subject, c.version, c.before_json, c.after_json])?;
    tx.prepare_cached(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'config_revision'",
    )?
    .execute([])?;
    Ok(())
}

/// The configuration revision: changes whenever any configuration changes.
pub fn config_revision(conn: &Connection) -> Result<i64> {
    let mut stmt = conn
        .prepare_cached("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'config_revision'")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

/// The last change to anything of `kind` (an audit-log id; 0 for none): lets a
/// reload skip rebuilding what did not change.
pub fn last_change_of(conn: &Connection, kind: &str) -> Result<i64> {
    let mut stmt =
        conn.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM audit_log WHERE kind = ?1")?;
    Ok(stmt.query_row([kind], |r| r.get(0))?)
}

/// The audit-log rows of one subject, oldest first.
pub fn history(conn: &Connection, kind: &str, subject: &str) -> Result<Vec<AuditEntry>> {
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
