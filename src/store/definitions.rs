//! Versioned definitions, the one store of configuration for every
//! subsystem: a definition is canonical JSON of the subsystem's model, keyed
//! by its kind (`flag`, `experiment`, ...) and name. Every put and delete
//! writes its audit row in the same transaction.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::de::DeserializeOwned;

pub(crate) use super::audit::Author;
use super::audit::{Change, last_version, record_change};
use crate::error::{Error, Result};

/// A stored definition with its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredDefinition {
    pub kind: String,
    pub name: String,
    pub definition_json: String,
    pub version: i64,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

impl StoredDefinition {
    /// The definition as the subsystem's model. Text that no longer reads
    /// (written by another version, or damaged) is a storage error: the
    /// store is at fault, not the caller.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.definition_json).map_err(|e| {
            Error::storage(format!(
                "stored {} `{}` cannot be read: {e}",
                self.kind, self.name
            ))
        })
    }
}

/// The columns `kind, name, definition_json, version, updated_at_ms,
/// updated_by` of a row.
fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredDefinition> {
    Ok(StoredDefinition {
        kind: r.get(0)?,
        name: r.get(1)?,
        definition_json: r.get(2)?,
        version: r.get(3)?,
        updated_at_ms: r.get(4)?,
        updated_by: r.get(5)?,
    })
}

/// Every stored definition of `kind`, by name.
pub(crate) fn load(conn: &Connection, kind: &str) -> Result<Vec<StoredDefinition>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, name, definition_json, version, updated_at_ms, updated_by
         FROM definitions WHERE kind = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map([kind], stored)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every stored definition of `kind`, parsed, by name.
pub(crate) fn load_parsed<T: DeserializeOwned>(conn: &Connection, kind: &str) -> Result<Vec<T>> {
    load(conn, kind)?
        .iter()
        .map(StoredDefinition::parse)
        .collect()
}

/// The names of every stored definition of `kind`, sorted.
pub(crate) fn names(conn: &Connection, kind: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM definitions WHERE kind = ?1 ORDER BY name")?;
    let rows = stmt.query_map([kind], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored definition `name` of `kind`, if any.
pub(crate) fn get(conn: &Connection, kind: &str, name: &str) -> Result<Option<StoredDefinition>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, name, definition_json, version, updated_at_ms, updated_by
         FROM definitions WHERE kind = ?1 AND name = ?2",
    )?;
    Ok(stmt.query_row([kind, name], stored).optional()?)
}

/// Writes definition `name` of `kind`, bumps its version and records the
/// change. A definition equal to the stored one (as JSON, whatever the
/// order of its keys) is not a change: returns `None`; otherwise the new
/// version. The text stored is canonical: keys sorted, no spaces.
pub(crate) fn put(
    tx: &Transaction<'_>,
    kind: &str,
    name: &str,
    definition: &serde_json::Value,
    by: Author<'_>,
) -> Result<Option<i64>> {
    let before = get(tx, kind, name)?;
    if let Some(b) = &before
        && b.parse::<serde_json::Value>()? == *definition
    {
        return Ok(None);
    }
    let definition_json = serde_json::to_string(definition)?;
    let version = last_version(tx, kind, name)? + 1;
    tx.prepare_cached(
        "INSERT INTO definitions (kind, name, definition_json, version, updated_at_ms, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (kind, name) DO UPDATE SET definition_json = ?3, version = ?4,
             updated_at_ms = ?5, updated_by = ?6",
    )?
    .execute(params![
        kind,
        name,
        &definition_json,
        version,
        by.at_ms,
        by.actor
    ])?;
    record_change(
        tx,
        &Change {
            by,
            kind,
            subject: name,
            version: Some(version),
            before_json: before.as_ref().map(|b| b.definition_json.as_str()),
            after_json: Some(&definition_json),
        },
    )?;
    Ok(Some(version))
}

/// Removes definition `name` of `kind`, recording its last text. Returns
/// false if there was none.
pub(crate) fn delete(tx: &Transaction<'_>, kind: &str, name: &str, by: Author<'_>) -> Result<bool> {
    let Some(before) = get(tx, kind, name)? else {
        return Ok(false);
    };
    tx.prepare_cached("DELETE FROM definitions WHERE kind = ?1 AND name = ?2")?
        .execute([kind, name])?;
    record_change(
        tx,
        &Change {
            by,
            kind,
            subject: name,
            version: Some(last_version(tx, kind, name)? + 1),
            before_json: Some(&before.definition_json),
            after_json: None,
        },
    )?;
    Ok(true)
}
