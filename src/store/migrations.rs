//! Forward-only schema migrations, indexed by `PRAGMA user_version`.
//!
//! Migration N (1-based) takes the schema from version N-1 to N. A released
//! migration is never edited or removed; a change to the schema is a new entry.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

const MIGRATIONS: &[&str] = &[
    include_str!("schema_0001_foundation.sql"),
    include_str!("schema_0002_flags.sql"),
    include_str!("schema_0003_experiments.sql"),
    include_str!("schema_0004_definitions.sql"),
    include_str!("schema_0005_deployments.sql"),
    include_str!("schema_0006_metric_aggregations.sql"),
    include_str!("schema_0007_monitoring.sql"),
    include_str!("schema_0008_feedback.sql"),
    include_str!("schema_0009_experiments_phases.sql"),
    include_str!("schema_0010_observation_blocks.sql"),
];

/// The schema version this library writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`SCHEMA_VERSION`] in one IMMEDIATE transaction, so
/// two processes opening a new file at once cannot both migrate it. Refuses a
/// database written by a newer version rather than guess at its meaning.
pub fn migrate(conn: &Connection) -> Result<()> {
    let version = user_version(conn)?;
    check_not_newer(version)?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    // Read again under the write lock: another process may have migrated meanwhile.
    let version = user_version(&tx)?;
    check_not_newer(version)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let target = index as i64 + 1;
        tx.execute_batch(sql).map_err(|e| {
            Error::storage(format!("schema migration to version {target} failed: {e}"))
        })?;
        if target == 1 {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('created_by_version', ?1), ('created_at_ms', ?2)",
                (crate::VERSION, crate::clock::now_ms().to_string()),
            )?;
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

pub(crate) fn check_not_newer(version: i64) -> Result<()> {
    if version > SCHEMA_VERSION {
        return Err(Error::storage(format!(
            "the database has schema version {version}, newer than the schema version {SCHEMA_VERSION} \
             of cha-deploy {}; open it with a newer cha-deploy",
            crate::VERSION
        )));
    }
    if version < 0 {
        return Err(Error::storage(format!(
            "the database has an invalid schema version {version}"
        )));
    }
    Ok(())
}
