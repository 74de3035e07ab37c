//! Experiments, exposures and observations in SQL. Observations are appended
//! in batches and folded in the same transaction (handle::experiments::fold)
//! into per-unit totals and per-phase, per-variant exact moments, so that
//! analysis reads a handful of rows.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::definitions::{self, Author};
use crate::error::Result;
use crate::stats::SummaryParts;

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
    // A test that comes back is no longer archived: its definition is live.
    tx.prepare_cached("DELETE FROM archived_experiments WHERE experiment = ?1")?
        .execute([id])?;
    Ok(Some(version))
}

/// Removes an experiment's definition and archives it: its last definition
/// is kept (listed, shown, exported; an explicit restore brings it back),
/// and so is its data. Its unit totals keep growing: a restore rebuilds its
/// summaries from them. Returns false if there was no such experiment.
pub(crate) fn delete_experiment(tx: &Transaction<'_>, id: &str, by: Author<'_>) -> Result<bool> {
    let Some(stored) = definitions::get(tx, KIND, id)? else {
        return Ok(false);
    };
    tx.prepare_cached(
        "INSERT INTO archived_experiments (experiment, definition_json, version, archived_at_ms, archived_by)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (experiment) DO UPDATE SET definition_json = ?2, version = ?3,
             archived_at_ms = ?4, archived_by = ?5",
    )?
    .execute(params![
        id,
        stored.definition_json,
        stored.version,
        by.at_ms,
        by.actor
    ])?;
    close_phase(tx, id, by.at_ms)?;
    tx.prepare_cached("DELETE FROM experiment_allocations WHERE experiment = ?1")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM metric_aggregations WHERE experiment = ?1")?
        .execute([id])?;
    definitions::delete(tx, KIND, id, by)
}

/// An archived experiment: removed from the config files, its data kept.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArchivedRow {
    pub definition_json: String,
    pub version: i64,
    pub archived_at_ms: i64,
    pub archived_by: String,
}

fn archived_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, ArchivedRow)> {
    Ok((
        r.get(0)?,
        ArchivedRow {
            definition_json: r.get(1)?,
            version: r.get(2)?,
            archived_at_ms: r.get(3)?,
            archived_by: r.get(4)?,
        },
    ))
}

/// Every archived experiment, by id.
pub(crate) fn archived(conn: &Connection) -> Result<Vec<(String, ArchivedRow)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT experiment, definition_json, version, archived_at_ms, archived_by
         FROM archived_experiments ORDER BY experiment",
    )?;
    let rows = stmt.query_map([], archived_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The archived experiment `id`, if it is archived.
pub(crate) fn archived_one(conn: &Connection, id: &str) -> Result<Option<ArchivedRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT experiment, definition_json, version, archived_at_ms, archived_by
             FROM archived_experiments WHERE experiment = ?1",
        )?
        .query_row([id], archived_row)
        .optional()?
        .map(|(_, row)| row))
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

/// Every (experiment, metric) with the aggregation its summaries are folded with.
pub(crate) fn all_metric_aggregations(conn: &Connection) -> Result<Vec<(String, String, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT experiment, metric, aggregation FROM metric_aggregations")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
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

// ---- phases -------------------------------------------------------------

/// One recorded phase: `(number, started_ms, ended_ms, split_json, reason,
/// mixed)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PhaseRow {
    pub phase: u32,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub split_json: String,
    pub reason: String,
    pub mixed: bool,
}

/// The phases of `experiment`, in order.
pub(crate) fn phases(conn: &Connection, experiment: &str) -> Result<Vec<PhaseRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT phase, started_ms, ended_ms, split_json, reason, mixed
         FROM experiment_phases WHERE experiment = ?1 ORDER BY phase",
    )?;
    let rows = stmt.query_map([experiment], |r| {
        Ok(PhaseRow {
            phase: r.get(0)?,
            started_ms: r.get(1)?,
            ended_ms: r.get(2)?,
            split_json: r.get(3)?,
            reason: r.get(4)?,
            mixed: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The number of the latest phase of `experiment`, if it has begun one.
pub(crate) fn latest_phase(conn: &Connection, experiment: &str) -> Result<Option<u32>> {
    Ok(conn
        .prepare_cached("SELECT MAX(phase) FROM experiment_phases WHERE experiment = ?1")?
        .query_row([experiment], |r| r.get(0))?)
}

/// Opens phase `last + 1` of `experiment` at `at_ms`. Returns its number.
pub(crate) fn open_phase(
    tx: &Transaction<'_>,
    experiment: &str,
    at_ms: i64,
    split_json: &str,
    reason: &str,
) -> Result<u32> {
    let last: Option<u32> = tx
        .prepare_cached("SELECT MAX(phase) FROM experiment_phases WHERE experiment = ?1")?
        .query_row([experiment], |r| r.get(0))?;
    let number = last.unwrap_or(0) + 1;
    tx.prepare_cached(
        "INSERT INTO experiment_phases (experiment, phase, started_ms, ended_ms, split_json, reason)
         VALUES (?1, ?2, ?3, NULL, ?4, ?5)",
    )?
    .execute(params![experiment, number, at_ms, split_json, reason])?;
    Ok(number)
}

/// Closes the running phase of `experiment`, if one runs, at `at_ms`.
pub(crate) fn close_phase(tx: &Transaction<'_>, experiment: &str, at_ms: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE experiment_phases SET ended_ms = MAX(?2, started_ms)
         WHERE experiment = ?1 AND ended_ms IS NULL",
    )?
    .execute(params![experiment, at_ms])?;
    Ok(())
}

// ---- exposures ----------------------------------------------------------

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

/// One exposure to persist.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExposure<'a> {
    pub experiment: &'a str,
    pub unit: &'a str,
    pub variant: &'a str,
    pub phase: u32,
    pub at_ms: i64,
}

/// New units of one (experiment, phase, variant): how many, and the
/// earliest first exposure.
type NewUnits = ((String, u32, String), (i64, i64));

/// Stores first exposures, counting the new ones per phase and variant in
/// memory and writing the counts once ([`ExposureWriter::finish`]): a
/// flush that exposes thousands of units updates a handful of count rows.
pub(crate) struct ExposureWriter<'t> {
    insert: rusqlite::CachedStatement<'t>,
    counts: Vec<NewUnits>,
}

impl<'t> ExposureWriter<'t> {
    pub(crate) fn new(tx: &'t Transaction<'_>) -> Result<ExposureWriter<'t>> {
        Ok(ExposureWriter {
            insert: tx.prepare_cached(
                "INSERT INTO exposures (experiment, unit, variant, first_seen_ms, phase)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )?,
            counts: Vec::new(),
        })
    }

    /// Stores `e` unless its unit is exposed already (it keeps its first
    /// record). Returns whether it was stored.
    pub(crate) fn insert(&mut self, e: &NewExposure<'_>) -> Result<bool> {
        let stored =
            self.insert
                .execute(params![e.experiment, e.unit, e.variant, e.at_ms, e.phase])?
                == 1;
        if stored {
            let key = (e.experiment, e.phase, e.variant);
            match self
                .counts
                .iter_mut()
                .find(|((x, p, v), _)| (x.as_str(), *p, v.as_str()) == key)
            {
                Some((_, (n, first))) => {
                    *n += 1;
                    *first = (*first).min(e.at_ms);
                }
                None => self.counts.push((
                    (e.experiment.to_string(), e.phase, e.variant.to_string()),
                    (1, e.at_ms),
                )),
            }
        }
        Ok(stored)
    }

    /// Adds the new units to the exposure counts.
    pub(crate) fn finish(self, tx: &Transaction<'_>) -> Result<()> {
        let mut count = tx.prepare_cached(
            "INSERT INTO phase_exposures (experiment, phase, variant, units, first_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET units = units + excluded.units,
                 first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms)",
        )?;
        for ((experiment, phase, variant), (n, first)) in &self.counts {
            count.execute(params![experiment, phase, variant, n, first])?;
        }
        Ok(())
    }
}

/// Exposed units per phase and variant of `experiment`.
pub fn phase_exposure_counts(
    conn: &Connection,
    experiment: &str,
) -> Result<HashMap<(u32, String), u64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT phase, variant, units FROM phase_exposures WHERE experiment = ?1",
    )?;
    let rows = stmt.query_map([experiment], |r| {
        Ok(((r.get(0)?, r.get(1)?), r.get::<_, i64>(2)? as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Exposed units per variant of `experiment`, all phases together.
pub fn exposure_counts(conn: &Connection, experiment: &str) -> Result<HashMap<String, u64>> {
    let mut counts = HashMap::new();
    for ((_, variant), n) in phase_exposure_counts(conn, experiment)? {
        *counts.entry(variant).or_insert(0) += n;
    }
    Ok(counts)
}

// ---- observations -------------------------------------------------------

/// A raw observation not yet folded into the statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingObservation {
    pub id: i64,
    pub experiment: String,
    pub unit: String,
    pub variant: String,
    pub metric: String,
    /// None when the stored value is not a number (SQLite keeps a NaN as NULL).
    pub value: Option<f64>,
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

/// Calls `f` with every raw observation of `experiment`, in id order, with
/// `(id, unit, variant, metric, value, at_ms)`: the library's blocks and
/// the rows of the `observations` table (older versions, other tools)
/// merged. A value that is not a number (stored as NULL) comes as NaN.
pub fn for_each_observation(
    conn: &Connection,
    experiment: &str,
    mut f: impl FnMut(i64, &str, &str, &str, f64, i64) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, unit, variant, metric, value, at_ms FROM observations WHERE experiment = ?1 ORDER BY id",
    )?;
    let mut table = stmt.query([experiment])?;
    let mut pending = next_raw(&mut table)?;
    super::observation_blocks::for_each(conn, experiment, |first_id, block| {
        while let Some(r) = pending.take_if(|r| r.id < first_id) {
            f(r.id, &r.unit, &r.variant, &r.metric, r.value, r.at_ms)?;
            pending = next_raw(&mut table)?;
        }
        for (i, row) in block.rows.iter().enumerate() {
            f(
                first_id + i as i64,
                block.units[row.unit as usize],
                block.names[row.variant as usize],
                block.names[row.metric as usize],
                row.value,
                row.at_ms,
            )?;
        }
        Ok(())
    })?;
    while let Some(r) = pending.take() {
        f(r.id, &r.unit, &r.variant, &r.metric, r.value, r.at_ms)?;
        pending = next_raw(&mut table)?;
    }
    Ok(())
}

/// A row of the `observations` table, read for an export.
struct RawRow {
    id: i64,
    unit: String,
    variant: String,
    metric: String,
    value: f64,
    at_ms: i64,
}

fn next_raw(rows: &mut rusqlite::Rows<'_>) -> Result<Option<RawRow>> {
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let id: i64 = r.get(0)?;
    let text = |i: usize| -> Result<String> {
        Ok(r.get_ref(i)?
            .as_str()
            .map_err(|e| crate::Error::storage(format!("observation {id}, column {i}: {e}")))?
            .to_string())
    };
    Ok(Some(RawRow {
        id,
        unit: text(1)?,
        variant: text(2)?,
        metric: text(3)?,
        value: r.get::<_, Option<f64>>(4)?.unwrap_or(f64::NAN),
        at_ms: r.get(5)?,
    }))
}

/// Deletes the raw observations of `experiment` recorded before `before_ms`
/// that are already folded into the statistics: rows, and blocks whose
/// observations all are. Returns how many observations went.
pub fn prune_observations(tx: &Transaction<'_>, experiment: &str, before_ms: i64) -> Result<usize> {
    let folded = folded_to(tx)?;
    let rows = tx
        .prepare_cached(
            "DELETE FROM observations WHERE id <= ?1 AND experiment = ?2 AND at_ms < ?3",
        )?
        .execute(params![folded, experiment, before_ms])?;
    Ok(rows + super::observation_blocks::prune(tx, experiment, before_ms, folded)?)
}

// ---- quarantine ---------------------------------------------------------

/// Quarantines observation `id`: the fold leaves it out, and it is counted
/// with `reason`.
pub(crate) fn quarantine(
    tx: &Transaction<'_>,
    id: i64,
    experiment: &str,
    metric: &str,
    reason: &str,
    at_ms: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO quarantined_observations (observation, experiment, metric, reason, quarantined_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    )?
    .execute(params![id, experiment, metric, reason, at_ms])?;
    Ok(())
}

/// The quarantined observations of `experiment` by reason: `(reason,
/// count, first observation id)`.
pub(crate) fn quarantined(conn: &Connection, experiment: &str) -> Result<Vec<(String, u64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT reason, COUNT(*), MIN(observation) FROM quarantined_observations
         WHERE experiment = ?1 GROUP BY reason ORDER BY reason",
    )?;
    let rows = stmt.query_map([experiment], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Quarantined observations per experiment, for `doctor`.
pub(crate) fn quarantine_counts(conn: &Connection) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT experiment, COUNT(*) FROM quarantined_observations GROUP BY experiment ORDER BY experiment",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ---- unit totals and moments ----------------------------------------------

/// A unit's observations of one metric so far.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UnitTotals {
    pub n: i64,
    /// Their sum, as a double-double `sum + sum_lo`.
    pub sum: f64,
    pub sum_lo: f64,
    /// How many of the observations were not zero.
    pub nonzero: i64,
}

/// A unit's row: its variant and phase, and its totals of every metric it
/// has observations of.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnitRecord {
    pub variant: String,
    pub phase: u32,
    pub metrics: Vec<(String, UnitTotals)>,
}

impl UnitRecord {
    /// The totals of `metric`, if the unit has any.
    pub fn get(&self, metric: &str) -> Option<UnitTotals> {
        self.metrics
            .iter()
            .find(|(m, _)| m == metric)
            .map(|(_, t)| *t)
    }

    /// Sets the totals of `metric`.
    pub fn set(&mut self, metric: &str, totals: UnitTotals) {
        match self.metrics.iter_mut().find(|(m, _)| m == metric) {
            Some((_, t)) => *t = totals,
            None => self.metrics.push((metric.to_string(), totals)),
        }
    }
}

/// The binary record of a unit's totals: per metric, the name's length
/// (u16) and bytes, then n (i64), sum and sum_lo (f64) and nonzero (i64),
/// little-endian.
fn encode_totals(metrics: &[(String, UnitTotals)], out: &mut Vec<u8>) {
    out.clear();
    for (name, t) in metrics {
        let len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&name.as_bytes()[..usize::from(len)]);
        out.extend_from_slice(&t.n.to_le_bytes());
        out.extend_from_slice(&t.sum.to_le_bytes());
        out.extend_from_slice(&t.sum_lo.to_le_bytes());
        out.extend_from_slice(&t.nonzero.to_le_bytes());
    }
}

/// A unit's totals back from the stored value: the binary record, or the
/// text the migration to schema 9 wrote.
fn decode_totals(value: rusqlite::types::ValueRef<'_>) -> Result<Vec<(String, UnitTotals)>> {
    let bad = || crate::Error::storage("a unit's totals in unit_totals cannot be read");
    let mut metrics = Vec::new();
    match value {
        rusqlite::types::ValueRef::Blob(mut b) => {
            let take = |b: &mut &[u8], n: usize| -> Result<Vec<u8>> {
                if b.len() < n {
                    return Err(bad());
                }
                let (head, rest) = b.split_at(n);
                *b = rest;
                Ok(head.to_vec())
            };
            let word =
                |b: &mut &[u8]| -> Result<[u8; 8]> { take(b, 8)?.try_into().map_err(|_| bad()) };
            while !b.is_empty() {
                let len = u16::from_le_bytes(take(&mut b, 2)?.try_into().map_err(|_| bad())?);
                let name = String::from_utf8(take(&mut b, usize::from(len))?).map_err(|_| bad())?;
                let totals = UnitTotals {
                    n: i64::from_le_bytes(word(&mut b)?),
                    sum: f64::from_le_bytes(word(&mut b)?),
                    sum_lo: f64::from_le_bytes(word(&mut b)?),
                    nonzero: i64::from_le_bytes(word(&mut b)?),
                };
                metrics.push((name, totals));
            }
        }
        rusqlite::types::ValueRef::Text(t) => {
            let text = std::str::from_utf8(t).map_err(|_| bad())?;
            for record in text.split('\u{1e}').filter(|r| !r.is_empty()) {
                let f: Vec<&str> = record.split('\u{1f}').collect();
                let [name, n, sum, sum_lo, nonzero] = f.as_slice() else {
                    return Err(bad());
                };
                let number = |x: &str| x.trim().parse::<f64>().map_err(|_| bad());
                let count = |x: &str| x.trim().parse::<i64>().map_err(|_| bad());
                metrics.push((
                    (*name).to_string(),
                    UnitTotals {
                        n: count(n)?,
                        sum: number(sum)?,
                        sum_lo: number(sum_lo)?,
                        nonzero: count(nonzero)?,
                    },
                ));
            }
        }
        _ => return Err(bad()),
    }
    Ok(metrics)
}

fn unit_record(r: &rusqlite::Row<'_>, first: usize) -> Result<UnitRecord> {
    Ok(UnitRecord {
        variant: r.get(first)?,
        phase: r.get(first + 1)?,
        metrics: decode_totals(r.get_ref(first + 2)?)?,
    })
}

/// Reads and writes the unit totals of one fold, with its statements
/// prepared once.
pub(crate) struct UnitTotalsWriter<'t> {
    scan: rusqlite::CachedStatement<'t>,
    get: rusqlite::CachedStatement<'t>,
    update: rusqlite::CachedStatement<'t>,
    insert: rusqlite::CachedStatement<'t>,
    exposure: rusqlite::CachedStatement<'t>,
    bytes: Vec<u8>,
}

impl<'t> UnitTotalsWriter<'t> {
    pub(crate) fn new(tx: &'t Transaction<'_>) -> Result<UnitTotalsWriter<'t>> {
        Ok(UnitTotalsWriter {
            scan: tx.prepare_cached(
                "SELECT unit, variant, phase, totals FROM unit_totals
                 WHERE experiment = ?1 AND unit >= ?2 AND unit <= ?3 ORDER BY unit",
            )?,
            get: tx.prepare_cached(
                "SELECT variant, phase, totals FROM unit_totals WHERE experiment = ?1 AND unit = ?2",
            )?,
            update: tx.prepare_cached(
                "UPDATE unit_totals SET totals = ?3 WHERE experiment = ?1 AND unit = ?2",
            )?,
            insert: tx.prepare_cached(
                "INSERT INTO unit_totals (experiment, unit, variant, phase, totals)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            exposure: tx.prepare_cached(
                "SELECT variant, phase FROM exposures WHERE experiment = ?1 AND unit = ?2",
            )?,
            bytes: Vec::new(),
        })
    }

    /// Calls `f` with every unit row of `experiment` whose unit lies in
    /// `from..=to`, in unit order: one scan instead of a lookup per unit
    /// when a fold touches many of them.
    pub(crate) fn scan(
        &mut self,
        experiment: &str,
        from: &str,
        to: &str,
        mut f: impl FnMut(&str, UnitRecord),
    ) -> Result<()> {
        let mut rows = self.scan.query([experiment, from, to])?;
        while let Some(r) = rows.next()? {
            let unit = r
                .get_ref(0)?
                .as_str()
                .map_err(|e| crate::Error::storage(format!("unit_totals.unit: {e}")))?;
            f(unit, unit_record(r, 1)?);
        }
        Ok(())
    }

    /// The row of `unit`, if it has one.
    pub(crate) fn get(&mut self, experiment: &str, unit: &str) -> Result<Option<UnitRecord>> {
        let mut rows = self.get.query([experiment, unit])?;
        match rows.next()? {
            Some(r) => Ok(Some(unit_record(r, 0)?)),
            None => Ok(None),
        }
    }

    /// Writes the row of `unit`: its totals replaced when `exists`, else
    /// inserted whole.
    pub(crate) fn put(
        &mut self,
        experiment: &str,
        unit: &str,
        record: &UnitRecord,
        exists: bool,
    ) -> Result<()> {
        encode_totals(&record.metrics, &mut self.bytes);
        if exists {
            self.update
                .execute(params![experiment, unit, &self.bytes[..]])?;
        } else {
            self.insert.execute(params![
                experiment,
                unit,
                record.variant,
                record.phase,
                &self.bytes[..]
            ])?;
        }
        Ok(())
    }

    /// The variant and phase `unit` was first exposed to, if it was.
    pub(crate) fn exposure(
        &mut self,
        experiment: &str,
        unit: &str,
    ) -> Result<Option<(String, u32)>> {
        Ok(self
            .exposure
            .query_row([experiment, unit], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }
}

/// Every unit's totals of `metric` in `experiment`, with its phase and variant.
pub(crate) fn unit_totals(
    conn: &Connection,
    experiment: &str,
    metric: &str,
) -> Result<Vec<(u32, String, UnitTotals)>> {
    let mut stmt = conn
        .prepare_cached("SELECT variant, phase, totals FROM unit_totals WHERE experiment = ?1")?;
    let mut rows = stmt.query([experiment])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let record = unit_record(r, 0)?;
        if let Some(t) = record.get(metric) {
            out.push((record.phase, record.variant, t));
        }
    }
    Ok(out)
}

/// Drops the summaries of `metric` in `experiment`, before a rebuild.
pub(crate) fn clear_moments(tx: &Transaction<'_>, experiment: &str, metric: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM phase_metrics WHERE experiment = ?1 AND metric = ?2")?
        .execute([experiment, metric])?;
    Ok(())
}

/// The stored moments of every phase, variant and metric of `experiment`.
pub fn phase_moments(
    conn: &Connection,
    experiment: &str,
) -> Result<HashMap<(u32, String, String), SummaryParts>> {
    let mut stmt = conn.prepare_cached(
        "SELECT phase, variant, metric, n, shift, s1, s1_lo, s2, s2_lo
         FROM phase_metrics WHERE experiment = ?1",
    )?;
    let rows = stmt.query_map([experiment], |r| {
        Ok((
            (r.get(0)?, r.get(1)?, r.get(2)?),
            SummaryParts {
                n: r.get::<_, i64>(3)? as u64,
                shift: r.get(4)?,
                s1: (r.get(5)?, r.get(6)?),
                s2: (r.get(7)?, r.get(8)?),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Writes the moments of one phase, variant and metric.
pub fn put_phase_moments(
    tx: &Transaction<'_>,
    experiment: &str,
    phase: u32,
    variant: &str,
    metric: &str,
    m: &SummaryParts,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO phase_metrics (experiment, phase, variant, metric, n, shift, s1, s1_lo, s2, s2_lo)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT DO UPDATE SET n = ?5, shift = ?6, s1 = ?7, s1_lo = ?8, s2 = ?9, s2_lo = ?10",
    )?
    .execute(params![
        experiment,
        phase,
        variant,
        metric,
        m.n as i64,
        m.shift,
        m.s1.0,
        m.s1.1,
        m.s2.0,
        m.s2.1
    ])?;
    Ok(())
}

/// Takes the one-time request to rebuild every metric's moments from the
/// unit totals (left by the migration to schema 9): true once.
pub(crate) fn take_rebuild_request(tx: &Transaction<'_>) -> Result<bool> {
    Ok(tx
        .prepare_cached("DELETE FROM meta WHERE key = 'rebuild_moments'")?
        .execute([])?
        > 0)
}

/// Whether the migration left a request to rebuild the moments.
pub(crate) fn rebuild_requested(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM meta WHERE key = 'rebuild_moments'")?
        .exists([])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_totals_round_trip_as_binary_and_read_as_text() {
        let metrics = vec![
            (
                "cost".to_string(),
                UnitTotals {
                    n: 3,
                    sum: 1e9 + 0.1,
                    sum_lo: -1.5e-8,
                    nonzero: 2,
                },
            ),
            ("é".to_string(), UnitTotals::default()),
        ];
        let mut bytes = Vec::new();
        encode_totals(&metrics, &mut bytes);
        assert_eq!(
            decode_totals(rusqlite::types::ValueRef::Blob(&bytes)).unwrap(),
            metrics
        );
        let text =
            "cost\u{1f}3\u{1f}1000000000.1\u{1f}0\u{1f}2\u{1e}runs\u{1f}1\u{1f}inf\u{1f}0\u{1f}1";
        let read = decode_totals(rusqlite::types::ValueRef::Text(text.as_bytes())).unwrap();
        assert_eq!(read[0].1.sum, 1e9 + 0.1);
        assert_eq!(read[1].1.sum, f64::INFINITY);
        assert!(decode_totals(rusqlite::types::ValueRef::Blob(&bytes[..5])).is_err());
    }
}
