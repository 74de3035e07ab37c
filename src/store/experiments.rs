//! Experiments, exposures and observations in SQL. Observations are appended
//! in batches; the fold (handle::recorder) later turns them into per-unit
//! totals and per-variant sufficient statistics, so analysis reads a handful
//! of rows.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::definitions::{self, Author};
use crate::error::Result;

/// The kind of experiment definitions in the definitions table and the audit log.
pub(crate) const KIND: &str = "experiment";

/// Writes an experiment's definition (with its audit row) and its
/// allocation: `allocation_json` is its split of new units; when that
/// changes while units are exposed, the experiment is marked so that exposed
/// units get pinned. Returns the new version, or `None` if the definition is
/// unchanged.
pub(crate) fn put_experiment(
    tx: &Transaction<'_>,
    id: &str,
    definition: &serde_json::Value,
    allocation_json: &str,
    by: Author<'_>,
) -> Result<Option<i64>> {
    let before: Option<(String, bool)> = tx
        .prepare_cached(
            "SELECT allocation_json, allocation_changed FROM experiment_allocations WHERE experiment = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some(version) = definitions::put(tx, KIND, id, definition, by)? else {
        return Ok(None);
    };
    // Once the split of an existing experiment changes, its exposed units are
    // pinned from then on, even if none is stored yet: another process may
    // still hold exposures in its buffer, stored at its next flush.
    let allocation_changed = match &before {
        Some((old_allocation, already)) => *already || old_allocation != allocation_json,
        None => tx
            .prepare_cached("SELECT 1 FROM exposures WHERE experiment = ?1 LIMIT 1")?
            .exists([id])?,
    };
    tx.prepare_cached(
        "INSERT INTO experiment_allocations (experiment, allocation_json, allocation_changed)
         VALUES (?1, ?2, ?3)
         ON CONFLICT (experiment) DO UPDATE SET allocation_json = ?2, allocation_changed = ?3",
    )?
    .execute(params![id, allocation_json, allocation_changed])?;
    Ok(Some(version))
}

/// Removes an experiment's definition (its data stays for export, and its
/// unit totals keep growing: a rollback that brings it back rebuilds its
/// summaries from them).
pub(crate) fn delete_experiment(tx: &Transaction<'_>, id: &str, by: Author<'_>) -> Result<bool> {
    tx.prepare_cached("DELETE FROM experiment_allocations WHERE experiment = ?1")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM metric_aggregations WHERE experiment = ?1")?
        .execute([id])?;
    definitions::delete(tx, KIND, id, by)
}

/// The aggregation each metric of `experiment` was folded with, by metric.
pub(crate) fn metric_aggregations(
    conn: &Connection,
    experiment: &str,
) -> Result<HashMap<String, String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT metric, aggregation FROM metric_aggregations WHERE experiment = ?1",
    )?;
    let rows = stmt.query_map([experiment], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records the aggregations `experiment`'s metrics are folded with from now
/// on, forgetting those of metrics it no longer has.
pub(crate) fn set_metric_aggregations(
    tx: &Transaction<'_>,
    experiment: &str,
    metrics: &[(&str, &str)],
) -> Result<()> {
    tx.prepare_cached("DELETE FROM metric_aggregations WHERE experiment = ?1")?
        .execute([experiment])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO metric_aggregations (experiment, metric, aggregation) VALUES (?1, ?2, ?3)",
    )?;
    for (metric, aggregation) in metrics {
        insert.execute(params![experiment, metric, aggregation])?;
    }
    Ok(())
}

/// Every unit's totals of `metric` in `experiment`, with the unit's variant.
pub(crate) fn unit_totals(
    conn: &Connection,
    experiment: &str,
    metric: &str,
) -> Result<Vec<(String, UnitTotals)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT variant, n, sum, nonzero FROM unit_metrics WHERE experiment = ?1 AND metric = ?2",
    )?;
    let rows = stmt.query_map([experiment, metric], |r| {
        Ok((
            r.get(0)?,
            UnitTotals {
                n: r.get(1)?,
                sum: r.get(2)?,
                nonzero: r.get(3)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Drops the variant summaries of `metric` in `experiment`, before a rebuild.
pub(crate) fn clear_variant_moments(
    tx: &Transaction<'_>,
    experiment: &str,
    metric: &str,
) -> Result<()> {
    tx.prepare_cached("DELETE FROM variant_metrics WHERE experiment = ?1 AND metric = ?2")?
        .execute([experiment, metric])?;
    Ok(())
}

/// Whether the split of experiment `id` changed while units were exposed
/// (they are pinned to their variant from then on).
pub(crate) fn allocation_changed(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT allocation_changed FROM experiment_allocations WHERE experiment = ?1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// Every exposed unit of `experiment` with its variant.
pub fn exposed_units(conn: &Connection, experiment: &str) -> Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT unit, variant FROM exposures WHERE experiment = ?1")?;
    let rows = stmt.query_map([experiment], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The variant `unit` was first exposed to in `experiment`, if it was.
pub fn exposure_variant(conn: &Connection, experiment: &str, unit: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT variant FROM exposures WHERE experiment = ?1 AND unit = ?2")?
        .query_row([experiment, unit], |r| r.get(0))
        .optional()?)
}

/// One exposure to persist.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExposure<'a> {
    pub experiment: &'a str,
    pub unit: &'a str,
    pub variant: &'a str,
    pub at_ms: i64,
}

/// Persists exposures; a unit already exposed keeps its first record.
pub fn insert_exposures(tx: &Transaction<'_>, exposures: &[NewExposure<'_>]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO exposures (experiment, unit, variant, first_seen_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?;
    let mut count = tx.prepare_cached(
        "INSERT INTO variant_exposures (experiment, variant, units, first_seen_ms) VALUES (?1, ?2, 1, ?3)
         ON CONFLICT DO UPDATE SET units = units + 1, first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms)",
    )?;
    for e in exposures {
        if insert.execute(params![e.experiment, e.unit, e.variant, e.at_ms])? == 1 {
            count.execute(params![e.experiment, e.variant, e.at_ms])?;
        }
    }
    Ok(())
}

/// One observation to persist.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObservation<'a> {
    pub experiment: &'a str,
    pub unit: &'a str,
    pub variant: &'a str,
    pub metric: &'a str,
    pub value: f64,
    pub at_ms: i64,
}

/// A unit's observations of one metric so far.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UnitTotals {
    pub n: i64,
    pub sum: f64,
    /// How many of the observations were not zero.
    pub nonzero: i64,
}

/// Appends the raw observations of a batch.
pub fn insert_observations(
    tx: &Transaction<'_>,
    observations: &[NewObservation<'_>],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO observations (experiment, unit, variant, metric, value, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for o in observations {
        insert.execute(params![
            o.experiment,
            o.unit,
            o.variant,
            o.metric,
            o.value,
            o.at_ms
        ])?;
    }
    Ok(())
}

/// A raw observation not yet folded into the statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingObservation {
    pub id: i64,
    pub experiment: String,
    pub unit: String,
    pub variant: String,
    pub metric: String,
    pub value: f64,
}

/// The id of the last observation folded into the statistics.
pub fn folded_to(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'observations_folded_to'",
        )?
        .query_row([], |r| r.get(0))?)
}

/// Records that every observation up to `id` is folded.
pub fn set_folded_to(tx: &Transaction<'_>, id: i64) -> Result<()> {
    tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'observations_folded_to'")?
        .execute([id.to_string()])?;
    Ok(())
}

/// Up to `limit` observations after id `after`, in id order.
pub fn pending_observations(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<PendingObservation>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, experiment, unit, variant, metric, value FROM observations WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        Ok(PendingObservation {
            id: r.get(0)?,
            experiment: r.get(1)?,
            unit: r.get(2)?,
            variant: r.get(3)?,
            metric: r.get(4)?,
            value: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether any observation waits to be folded.
pub fn has_pending(conn: &Connection) -> Result<bool> {
    let after = folded_to(conn)?;
    Ok(conn
        .prepare_cached("SELECT 1 FROM observations WHERE id > ?1 LIMIT 1")?
        .exists([after])?)
}

/// Adds `delta` to a unit's totals and returns them from before the change.
pub fn add_unit_totals(
    tx: &Transaction<'_>,
    experiment: &str,
    metric: &str,
    unit: &str,
    variant: &str,
    delta: UnitTotals,
) -> Result<UnitTotals> {
    let after: (i64, f64, i64) = tx
        .prepare_cached(
            "INSERT INTO unit_metrics (experiment, metric, unit, variant, n, sum, nonzero)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
                 nonzero = nonzero + excluded.nonzero
             RETURNING n, sum, nonzero",
        )?
        .query_row(
            params![
                experiment,
                metric,
                unit,
                variant,
                delta.n,
                delta.sum,
                delta.nonzero
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
    let n = after.0 - delta.n;
    Ok(UnitTotals {
        n,
        // A new unit had nothing; subtracting would leave rounding noise.
        sum: if n == 0 { 0.0 } else { after.1 - delta.sum },
        nonzero: after.2 - delta.nonzero,
    })
}

/// Count, mean and M2 of the unit values of one variant and metric.
pub type Moments = (u64, f64, f64);

/// The stored moments of every variant and metric of `experiment`:
/// `(variant, metric) → (n, mean, m2)`.
pub fn variant_moments(
    conn: &Connection,
    experiment: &str,
) -> Result<HashMap<(String, String), Moments>> {
    let mut stmt = conn.prepare_cached(
        "SELECT variant, metric, n, mean, m2 FROM variant_metrics WHERE experiment = ?1",
    )?;
    let rows = stmt.query_map([experiment], |r| {
        Ok((
            (r.get(0)?, r.get(1)?),
            (r.get::<_, i64>(2)? as u64, r.get(3)?, r.get(4)?),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Writes the moments of one variant and metric.
pub fn put_variant_moments(
    tx: &Transaction<'_>,
    experiment: &str,
    variant: &str,
    metric: &str,
    moments: Moments,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO variant_metrics (experiment, variant, metric, n, mean, m2) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO UPDATE SET n = ?4, mean = ?5, m2 = ?6",
    )?
    .execute(params![experiment, variant, metric, moments.0 as i64, moments.1, moments.2])?;
    Ok(())
}

/// Exposed units per variant of `experiment`.
pub fn exposure_counts(conn: &Connection, experiment: &str) -> Result<HashMap<String, u64>> {
    let mut stmt =
        conn.prepare_cached("SELECT variant, units FROM variant_exposures WHERE experiment = ?1")?;
    let rows = stmt.query_map([experiment], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When `experiment` saw its first exposure, if any.
pub fn first_exposure_ms(conn: &Connection, experiment: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT MIN(first_seen_ms) FROM variant_exposures WHERE experiment = ?1")?
        .query_row([experiment], |r| r.get(0))?)
}

/// Calls `f` with every raw observation of `experiment`, in id order, with
/// `(id, unit, variant, metric, value, at_ms)`.
pub fn for_each_observation(
    conn: &Connection,
    experiment: &str,
    mut f: impl FnMut(i64, &str, &str, &str, f64, i64) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, unit, variant, metric, value, at_ms FROM observations WHERE experiment = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([experiment])?;
    while let Some(r) = rows.next()? {
        let text = |i: usize| -> Result<&str> {
            r.get_ref(i)?
                .as_str()
                .map_err(|e| crate::Error::storage(format!("observation column {i}: {e}")))
        };
        f(
            r.get(0)?,
            text(1)?,
            text(2)?,
            text(3)?,
            r.get(4)?,
            r.get(5)?,
        )?;
    }
    Ok(())
}

/// Deletes the raw observations of `experiment` recorded before `before_ms`
/// that are already folded into the statistics. Returns how many went.
pub fn prune_observations(tx: &Transaction<'_>, experiment: &str, before_ms: i64) -> Result<usize> {
    let folded = folded_to(tx)?;
    Ok(tx
        .prepare_cached(
            "DELETE FROM observations WHERE id <= ?1 AND experiment = ?2 AND at_ms < ?3",
        )?
        .execute(params![folded, experiment, before_ms])?)
}
