//! The fold of experiment observations into per-unit totals and per-phase,
//! per-variant exact moments, so that analysis reads a handful of rows
//! whatever the volume.
//!
//! A flush folds the observations it writes (as blocks, see
//! store::observation_blocks) in the same transaction, from the batch in
//! memory: nothing is read back, and the statistics are current when the
//! flush returns. Rows written otherwise (by an older version, or straight
//! into the `observations` table) wait behind the watermark and are folded
//! by [`fold`], read once each in id order; a flush first folds any that
//! wait ([`catch_up`]), so the watermark stays one number.
//!
//! Hostile data cannot stop the fold: a value that is not finite or is
//! beyond [`MAX_MAGNITUDE`](crate::experiments::MAX_MAGNITUDE), or that
//! would make a unit's total or a summary non-finite, is quarantined (kept
//! in the table, counted with its reason) and the fold goes on. The fold
//! reads only the metrics' aggregations, never the definitions, so one
//! experiment's configuration cannot block another's data either.

use std::collections::{BTreeMap, HashMap};

use crate::error::Result;
use crate::experiments::{Aggregation, MAX_MAGNITUDE};
use crate::stats::Summary;
use crate::stats::compensated::DoubleDouble;
use crate::store::Store;
use crate::store::experiments::{self as sql, ExposureWriter, NewExposure, UnitRecord, UnitTotals};

/// How many raw observations one fold transaction of pending rows takes,
/// so that the write lock is never held for long.
const FOLD_CHUNK: usize = 20_000;

/// One observation to fold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub id: i64,
    pub experiment: &'a str,
    pub unit: &'a str,
    /// The variant the recording handle gave the unit; the stored exposure
    /// overrides it.
    pub variant: &'a str,
    pub metric: &'a str,
    /// None for a stored value that is not a number.
    pub value: Option<f64>,
    /// The phase the recording handle assigned the unit in, when known.
    pub phase: Option<u32>,
}

/// Units whose first exposure the same transaction stored: their variant
/// and phase, so the fold need not look them up.
pub(crate) type NewExposures<'a> = HashMap<(&'a str, &'a str), (&'a str, u32)>;

/// Folds every persisted observation not yet folded (by any process) into
/// the unit totals and the moments, in chunks of one transaction each,
/// stopping after about `limit` rows; each raw row is read exactly once.
/// Returns how many rows were folded.
pub(crate) fn fold(store: &Store, limit: usize) -> Result<usize> {
    // A read first: with nothing pending, no write lock is taken.
    if !sql::has_pending(&store.conn())? {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let folded = store.write(fold_chunk)?;
        total += folded;
        if folded < FOLD_CHUNK || total >= limit {
            return Ok(total);
        }
    }
}

/// Folds, inside a flush's transaction, every row of the `observations`
/// table that waits behind the watermark, so that the flush's own
/// observations (ids drawn after them) can move it on.
pub(crate) fn catch_up(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    while fold_chunk(tx)? == FOLD_CHUNK {}
    Ok(())
}

/// Folds up to [`FOLD_CHUNK`] pending observations and moves the watermark.
fn fold_chunk(tx: &rusqlite::Transaction<'_>) -> Result<usize> {
    let after = sql::folded_to(tx)?;
    let pending = sql::pending_observations(tx, after, FOLD_CHUNK)?;
    let Some(last) = pending.last().map(|o| o.id) else {
        return Ok(0);
    };
    let rows: Vec<Row<'_>> = pending
        .iter()
        .map(|o| Row {
            id: o.id,
            experiment: &o.experiment,
            unit: &o.unit,
            variant: &o.variant,
            metric: &o.metric,
            value: o.value,
            phase: None,
        })
        .collect();
    fold_rows(tx, &rows)?;
    sql::set_folded_to(tx, last)?;
    Ok(pending.len())
}

/// Why a row is quarantined.
const NOT_FINITE: &str = "value_not_finite";
const TOO_LARGE: &str = "value_beyond_magnitude_bound";
const UNIT_NOT_FINITE: &str = "unit_total_not_finite";
const SUMMARY_NOT_FINITE: &str = "summary_not_finite";

/// A unit's new observations of one metric in this fold.
#[derive(Clone, Copy)]
struct Delta {
    n: i64,
    sum: DoubleDouble,
    nonzero: i64,
}

/// A unit's new observations in this fold, per metric.
pub(crate) struct UnitDelta<'a> {
    /// The variant the recording handle gave the unit.
    variant: &'a str,
    /// The phase the recording handle assigned in, if it said: then its
    /// record exposed the unit, at `first_at_ms`.
    phase: Option<u32>,
    first_at_ms: i64,
    metrics: Vec<(&'a str, Delta)>,
}

impl<'a> UnitDelta<'a> {
    pub(crate) fn new(variant: &'a str, phase: Option<u32>, at_ms: i64) -> UnitDelta<'a> {
        UnitDelta {
            variant,
            phase,
            first_at_ms: at_ms,
            metrics: Vec::with_capacity(4),
        }
    }

    /// Adds one value of `metric` (one within the bound, see [`refused`]).
    pub(crate) fn add(&mut self, metric: &'a str, value: f64, at_ms: i64) {
        self.first_at_ms = self.first_at_ms.min(at_ms);
        // By address first: a batch's names are shared.
        let at = match self
            .metrics
            .iter()
            .position(|(m, _)| std::ptr::eq(*m, metric) || *m == metric)
        {
            Some(at) => at,
            None => {
                self.metrics.push((
                    metric,
                    Delta {
                        n: 0,
                        sum: DoubleDouble::ZERO,
                        nonzero: 0,
                    },
                ));
                self.metrics.len() - 1
            }
        };
        let d = &mut self.metrics[at].1;
        d.n += 1;
        d.sum = d.sum.plus(DoubleDouble::from_f64(value));
        d.nonzero += i64::from(value != 0.0);
    }
}

/// What one fold adds, per (experiment, unit).
pub(crate) type Deltas<'a> = Vec<((&'a str, &'a str), UnitDelta<'a>)>;

/// The ids of a fold's rows of one (experiment, metric, unit), should they
/// have to be quarantined.
pub(crate) type IdsOf<'f> = dyn Fn((&str, &str, &str)) -> Vec<i64> + 'f;

/// Quarantines row `id` if its value cannot be folded. Returns whether it did.
pub(crate) fn quarantined(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    experiment: &str,
    metric: &str,
    value: Option<f64>,
) -> Result<bool> {
    match refused(value) {
        Some(reason) => {
            sql::quarantine(tx, id, experiment, metric, reason, crate::clock::now_ms())?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Why a row cannot be folded: its value is not finite or too large.
fn refused(value: Option<f64>) -> Option<&'static str> {
    match value {
        Some(v) if v.is_finite() && v.abs() <= MAX_MAGNITUDE => None,
        Some(v) if v.is_finite() => Some(TOO_LARGE),
        _ => Some(NOT_FINITE),
    }
}

/// Folds `rows` (in id order, from the `observations` table) into the unit
/// totals and the moments inside `tx`. Does not move the watermark.
fn fold_rows(tx: &rusqlite::Transaction<'_>, rows: &[Row<'_>]) -> Result<()> {
    let mut index: HashMap<(&str, &str), usize, foldhash::fast::FixedState> =
        HashMap::with_capacity_and_hasher(rows.len() / 4, foldhash::fast::FixedState::default());
    let mut deltas: Deltas<'_> = Vec::new();
    for r in rows {
        if quarantined(tx, r.id, r.experiment, r.metric, r.value)? {
            continue;
        }
        let at = *index.entry((r.experiment, r.unit)).or_insert_with(|| {
            deltas.push((
                (r.experiment, r.unit),
                UnitDelta::new(r.variant, r.phase, 0),
            ));
            deltas.len() - 1
        });
        deltas[at].1.add(r.metric, r.value.unwrap_or(0.0), 0);
    }
    let ids_of = |key: (&str, &str, &str)| -> Vec<i64> {
        rows.iter()
            .filter(|r| (r.experiment, r.metric, r.unit) == key && refused(r.value).is_none())
            .map(|r| r.id)
            .collect()
    };
    let mut exposures = ExposureWriter::new(tx)?;
    apply(tx, deltas, &NewExposures::new(), &mut exposures, &ids_of)?;
    exposures.finish(tx)
}

/// Folds `deltas` into the unit totals and the moments inside `tx`: per
/// unit and metric, its new value replaces its old one in its phase's and
/// variant's summary (the unit is the unit of analysis). Each unit touched
/// is read once (one range scan for many) and written once, whatever the
/// number of its rows and metrics. A unit seen for the first time takes
/// its variant and phase from its stored exposure; one the recording
/// handle exposed by recording (its delta has a phase) and that has none
/// yet is exposed here, through `exposures`. `ids_of(experiment, metric,
/// unit)` gives the ids of a unit's rows of a metric, should they have to
/// be quarantined.
pub(crate) fn apply(
    tx: &rusqlite::Transaction<'_>,
    mut deltas: Deltas<'_>,
    exposed: &NewExposures<'_>,
    exposures: &mut ExposureWriter<'_>,
    ids_of: &IdsOf<'_>,
) -> Result<()> {
    let now = crate::clock::now_ms();
    // In key order, so the unit-totals B-tree is walked in order.
    deltas.sort_unstable_by(|a, b| a.0.cmp(&b.0));

    let mut writer = sql::UnitTotalsWriter::new(tx)?;
    let mut folds = Folds::default();
    let befores = read_befores(&mut writer, &mut folds, tx, &deltas)?;
    for (((experiment, unit), delta), before) in deltas.iter().zip(befores) {
        let exists = before.is_some();
        let mut record = match before {
            Some(record) => record,
            None => {
                // The stored exposure is the authority on a unit's variant
                // and phase: a process whose snapshot lagged a change of the
                // split cannot split the unit's values across two arms.
                let (variant, phase) = match exposed.get(&(*experiment, *unit)) {
                    Some(&(v, p)) => (v.to_string(), p),
                    None => match (writer.exposure(experiment, unit)?, delta.phase) {
                        (Some(stored), _) => stored,
                        (None, Some(phase)) => {
                            exposures.insert(&NewExposure {
                                experiment,
                                unit,
                                variant: delta.variant,
                                phase,
                                at_ms: delta.first_at_ms,
                            })?;
                            (delta.variant.to_string(), phase)
                        }
                        (None, None) => (delta.variant.to_string(), 1),
                    },
                };
                UnitRecord {
                    variant,
                    phase,
                    metrics: Vec::with_capacity(delta.metrics.len()),
                }
            }
        };
        let mut changed = false;
        for &(metric, d) in &delta.metrics {
            let key = (*experiment, metric, *unit);
            let old = record.get(metric);
            let new = add(old.unwrap_or_default(), d);
            if !finite(old.unwrap_or_default()) || !finite(new) {
                // Totals an older version left non-finite: the unit cannot
                // move on this metric.
                quarantine_ids(tx, &ids_of(key), key, UNIT_NOT_FINITE, now)?;
                continue;
            }
            // A metric (or experiment) whose aggregation is not recorded
            // (not in the definitions now) keeps its unit totals only: if it
            // comes back, its summaries are rebuilt from them
            // ([`rebuild_metric`]).
            if let Some(aggregation) = folds.aggregation(tx, experiment, metric)? {
                let new_value = unit_value(aggregation, new);
                let summary =
                    folds.summary(tx, experiment, record.phase, &record.variant, metric)?;
                let mut next = *summary;
                match old {
                    Some(o) => next.replace(unit_value(aggregation, o), new_value),
                    None => next.push(new_value),
                }
                if !(new_value.is_finite() && next.is_finite()) {
                    // Cannot happen with values within the bound; kept out,
                    // counted.
                    quarantine_ids(tx, &ids_of(key), key, SUMMARY_NOT_FINITE, now)?;
                    continue;
                }
                *summary = next;
            }
            record.set(metric, new);
            changed = true;
        }
        if changed {
            writer.put(experiment, unit, &record, exists)?;
        }
    }
    folds.write(tx)
}

/// The stored row of each unit of `deltas` (sorted), if any: point lookups
/// for the few, one range scan per experiment when a fold touches many of
/// its units (at least an eighth of those with values, by its summaries).
fn read_befores(
    writer: &mut sql::UnitTotalsWriter<'_>,
    folds: &mut Folds,
    conn: &rusqlite::Connection,
    deltas: &Deltas<'_>,
) -> Result<Vec<Option<UnitRecord>>> {
    let mut befores = Vec::with_capacity(deltas.len());
    let mut start = 0;
    while start < deltas.len() {
        let experiment = deltas[start].0.0;
        let end = start
            + deltas[start..]
                .iter()
                .take_while(|d| d.0.0 == experiment)
                .count();
        let group = &deltas[start..end];
        if group.len() >= 64
            && group.len() as u64 * 8 >= folds.units_with_values(conn, experiment)?
        {
            let mut found: Vec<Option<UnitRecord>> = vec![None; group.len()];
            let mut next = 0;
            let (from, to) = (group[0].0.1, group[group.len() - 1].0.1);
            writer.scan(experiment, from, to, |unit, record| {
                // Both are in unit order: a merge.
                while next < group.len() && group[next].0.1 < unit {
                    next += 1;
                }
                if next < group.len() && group[next].0.1 == unit {
                    found[next] = Some(record);
                    next += 1;
                }
            })?;
            befores.extend(found);
        } else {
            for ((_, unit), _) in group {
                befores.push(writer.get(experiment, unit)?);
            }
        }
        start = end;
    }
    Ok(befores)
}

/// `t` with this fold's `d` added: the sum exactly, as a double-double.
fn add(t: UnitTotals, d: Delta) -> UnitTotals {
    let sum = DoubleDouble {
        hi: t.sum,
        lo: t.sum_lo,
    }
    .plus(d.sum);
    UnitTotals {
        n: t.n + d.n,
        sum: sum.hi,
        sum_lo: sum.lo,
        nonzero: t.nonzero + d.nonzero,
    }
}

fn finite(t: UnitTotals) -> bool {
    t.sum.is_finite() && t.sum_lo.is_finite()
}

/// Quarantines this fold's rows `ids` of one unit and metric.
fn quarantine_ids(
    tx: &rusqlite::Transaction<'_>,
    ids: &[i64],
    (experiment, metric, _unit): (&str, &str, &str),
    reason: &str,
    now: i64,
) -> Result<()> {
    for &id in ids {
        sql::quarantine(tx, id, experiment, metric, reason, now)?;
    }
    Ok(())
}

/// An experiment's summaries, by (phase, variant, metric): a short list.
type PhaseSummaries = Vec<((u32, String, String), Summary)>;

/// The aggregations and summaries one fold reads and writes, each loaded
/// once per experiment.
#[derive(Default)]
struct Folds {
    aggregations: HashMap<String, HashMap<String, Option<Aggregation>>>,
    /// Per experiment, its few (phase, variant, metric) summaries: a short
    /// list, searched without allocating a key per unit.
    summaries: HashMap<String, PhaseSummaries>,
}

impl Folds {
    fn aggregation(
        &mut self,
        conn: &rusqlite::Connection,
        experiment: &str,
        metric: &str,
    ) -> Result<Option<Aggregation>> {
        if !self.aggregations.contains_key(experiment) {
            let known = sql::metric_aggregations(conn, experiment)?
                .into_iter()
                .map(|(m, a)| (m, parse_aggregation(&a)))
                .collect();
            self.aggregations.insert(experiment.to_string(), known);
        }
        Ok(self.aggregations[experiment].get(metric).copied().flatten())
    }

    /// The stored summaries of `experiment`, read once per fold.
    fn of(&mut self, conn: &rusqlite::Connection, experiment: &str) -> Result<&mut PhaseSummaries> {
        if !self.summaries.contains_key(experiment) {
            let stored = sql::phase_moments(conn, experiment)?
                .into_iter()
                .map(|(k, parts)| (k, Summary::from_parts(parts)))
                .collect();
            self.summaries.insert(experiment.to_string(), stored);
        }
        Ok(self
            .summaries
            .get_mut(experiment)
            .expect("loaded just above"))
    }

    fn summary(
        &mut self,
        conn: &rusqlite::Connection,
        experiment: &str,
        phase: u32,
        variant: &str,
        metric: &str,
    ) -> Result<&mut Summary> {
        let list = self.of(conn, experiment)?;
        let at = match list
            .iter()
            .position(|((p, v, m), _)| *p == phase && v == variant && m == metric)
        {
            Some(at) => at,
            None => {
                list.push((
                    (phase, variant.to_string(), metric.to_string()),
                    Summary::EMPTY,
                ));
                list.len() - 1
            }
        };
        Ok(&mut list[at].1)
    }

    /// About how many units of `experiment` have totals: those with a
    /// value of its most observed metric, by its summaries.
    fn units_with_values(&mut self, conn: &rusqlite::Connection, experiment: &str) -> Result<u64> {
        let mut per_metric: HashMap<&str, u64> = HashMap::new();
        for ((_, _, metric), s) in self.of(conn, experiment)?.iter() {
            *per_metric.entry(metric.as_str()).or_default() += s.n;
        }
        Ok(per_metric.values().copied().max().unwrap_or(0))
    }

    /// Writes back every summary of the experiments this fold touched.
    fn write(self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        for (experiment, summaries) in self.summaries {
            for ((phase, variant, metric), s) in summaries {
                sql::put_phase_moments(
                    tx,
                    &experiment,
                    phase,
                    &variant,
                    &metric,
                    &s.normalized().parts(),
                )?;
            }
        }
        Ok(())
    }
}

/// Rebuilds the summaries of `metric` in `experiment` from the unit totals,
/// folded with `aggregation`: for a metric that comes (back) into the
/// definition, whose rows were folded into unit totals only, or whose
/// aggregation changed. Exact, as the fold is. O(units of the metric), once.
pub(crate) fn rebuild_metric(
    tx: &rusqlite::Transaction<'_>,
    experiment: &str,
    metric: &str,
    aggregation: Aggregation,
) -> Result<()> {
    let mut summaries: BTreeMap<(u32, String), Summary> = BTreeMap::new();
    for (phase, variant, totals) in sql::unit_totals(tx, experiment, metric)? {
        let value = unit_value(aggregation, totals);
        if value.is_finite() {
            summaries.entry((phase, variant)).or_default().push(value);
        }
    }
    sql::clear_moments(tx, experiment, metric)?;
    for ((phase, variant), s) in summaries {
        let s = s.normalized();
        if s.is_finite() {
            sql::put_phase_moments(tx, experiment, phase, &variant, metric, &s.parts())?;
        }
    }
    Ok(())
}

/// Rebuilds every metric's moments from the unit totals once, when the
/// migration to exact moments asked for it: the moments it carried over
/// were Welford's, rounded.
pub(crate) fn rebuild_if_requested(store: &Store) -> Result<()> {
    if !sql::rebuild_requested(&store.conn())? {
        return Ok(());
    }
    store.write(|tx| {
        if !sql::take_rebuild_request(tx)? {
            return Ok(()); // another process did it meanwhile
        }
        for (experiment, metric, aggregation) in sql::all_metric_aggregations(tx)? {
            if let Some(aggregation) = parse_aggregation(&aggregation) {
                rebuild_metric(tx, &experiment, &metric, aggregation)?;
            }
        }
        Ok(())
    })
}

/// Applies each experiment's `retention_days`: deletes raw observations older
/// than that which are already folded (the statistics keep them). Returns
/// how many rows went. The fold's watermark is untouched, and AUTOINCREMENT
/// ids never come back, so nothing is folded twice or skipped.
pub(crate) fn prune(store: &Store, now_ms: i64) -> Result<usize> {
    store.write(|tx| {
        let mut pruned = 0;
        for stored in crate::store::definitions::load(tx, sql::KIND)? {
            // A definition that does not read keeps its rows: retention of
            // the others goes on.
            let Ok(def) = stored.parse::<crate::experiments::ExperimentDefinition>() else {
                continue;
            };
            if let Some(days) = def.retention_days {
                let before_ms = now_ms - i64::from(days) * 86_400_000;
                pruned += sql::prune_observations(tx, &def.id, before_ms)?;
            }
        }
        Ok(pruned)
    })
}

fn parse_aggregation(name: &str) -> Option<Aggregation> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// A unit's one value of a metric, from its observations so far: the sum
/// and the mean come from the exact (double-double) sum, rounded once.
fn unit_value(aggregation: Aggregation, t: UnitTotals) -> f64 {
    let sum = DoubleDouble {
        hi: t.sum,
        lo: t.sum_lo,
    };
    match aggregation {
        Aggregation::Mean => sum.div_f64(t.n as f64).to_f64(),
        Aggregation::Sum => sum.to_f64(),
        Aggregation::Count => t.n as f64,
        Aggregation::Proportion => f64::from(u8::from(t.nonzero > 0)),
    }
}
