//! The fold of experiment observations: each persisted raw row is read
//! once, in id order behind a watermark, into per-unit totals and
//! per-variant summaries (count, mean, M2), so that analysis reads a handful
//! of rows whatever the volume. Run by the background thread after each
//! flush, and by analysis for whatever is still pending.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::error::Result;
use crate::experiments::{Aggregation, ExperimentDefinition};
use crate::stats::Summary;
use crate::store::experiments::{self as sql, UnitTotals, put_variant_moments, variant_moments};
use crate::store::{Store, definitions};

/// How many raw observations one fold transaction takes, so that the write
/// lock is never held for long.
const FOLD_CHUNK: usize = 20_000;

/// Folds every persisted observation not yet folded (by any process) into
/// the per-unit totals and the per-variant summaries, in chunks of one
/// transaction each, stopping after about `limit` rows; each raw row is read
/// exactly once. Returns how many rows were folded.
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

/// Folds up to [`FOLD_CHUNK`] observations: for each unit and metric touched,
/// its new unit value replaces its old one in the variant's summary (the
/// unit is the unit of analysis).
fn fold_chunk(tx: &rusqlite::Transaction<'_>) -> Result<usize> {
    let after = sql::folded_to(tx)?;
    let pending = sql::pending_observations(tx, after, FOLD_CHUNK)?;
    let Some(last) = pending.last().map(|o| o.id) else {
        return Ok(0);
    };
    // The aggregation of each metric, from the stored definitions.
    let mut aggregations: HashMap<(String, String), Aggregation> = HashMap::new();
    for def in definitions::load_parsed::<ExperimentDefinition>(tx, sql::KIND)? {
        for m in def.metrics {
            aggregations.insert((def.id.clone(), m.name), m.aggregation);
        }
    }
    // One totals update per unit and metric, however many observations it had.
    // Sorted, so the unit-totals B-tree is walked in key order (far fewer page misses).
    let mut deltas: BTreeMap<(&str, &str, &str), (&str, UnitTotals)> = BTreeMap::new();
    for o in &pending {
        let entry = deltas
            .entry((&o.experiment, &o.metric, &o.unit))
            .or_insert((&o.variant, UnitTotals::default()));
        entry.1.n += 1;
        entry.1.sum += o.value;
        entry.1.nonzero += i64::from(o.value != 0.0);
    }
    let mut summaries: HashMap<(String, String, String), Summary> = HashMap::new();
    let mut loaded: HashSet<&str> = HashSet::new();
    for ((experiment, metric, unit), (variant, delta)) in &deltas {
        // The stored exposure is the authority on a unit's variant: a process
        // that bucketed the unit differently (its snapshot lagged a change
        // of the split) cannot split the unit's values across two arms.
        let stored = sql::exposure_variant(tx, experiment, unit)?;
        let variant = stored.as_deref().unwrap_or(variant);
        let before = sql::add_unit_totals(tx, experiment, metric, unit, variant, *delta)?;
        // A metric (or experiment) not in the definitions now keeps its unit
        // totals only: if it comes back, its summaries are rebuilt from them
        // ([`rebuild_metric`]).
        let Some(&aggregation) = aggregations.get(&(experiment.to_string(), metric.to_string()))
        else {
            continue;
        };
        if loaded.insert(experiment) {
            for ((v, m), (n, mean, m2)) in variant_moments(tx, experiment)? {
                summaries.insert((experiment.to_string(), v, m), Summary { n, mean, m2 });
            }
        }
        let after = UnitTotals {
            n: before.n + delta.n,
            sum: before.sum + delta.sum,
            nonzero: before.nonzero + delta.nonzero,
        };
        let summary = summaries
            .entry((
                experiment.to_string(),
                variant.to_string(),
                metric.to_string(),
            ))
            .or_default();
        if before.n > 0 {
            summary.remove(unit_value(aggregation, before));
        }
        summary.push(unit_value(aggregation, after));
    }
    for ((experiment, variant, metric), s) in summaries {
        put_variant_moments(tx, &experiment, &variant, &metric, (s.n, s.mean, s.m2))?;
    }
    sql::set_folded_to(tx, last)?;
    Ok(pending.len())
}

/// Rebuilds the variant summaries of `metric` in `experiment` from the unit
/// totals, folded with `aggregation`: for a metric that comes (back) into the
/// definition, whose rows were folded into unit totals only, or whose
/// aggregation changed. O(units of the metric), once.
pub(crate) fn rebuild_metric(
    tx: &rusqlite::Transaction<'_>,
    experiment: &str,
    metric: &str,
    aggregation: Aggregation,
) -> Result<()> {
    let mut summaries: BTreeMap<String, Summary> = BTreeMap::new();
    for (variant, totals) in sql::unit_totals(tx, experiment, metric)? {
        summaries
            .entry(variant)
            .or_default()
            .push(unit_value(aggregation, totals));
    }
    sql::clear_variant_moments(tx, experiment, metric)?;
    for (variant, s) in summaries {
        put_variant_moments(tx, experiment, &variant, metric, (s.n, s.mean, s.m2))?;
    }
    Ok(())
}

/// Applies each experiment's `retention_days`: deletes raw observations older
/// than that which are already folded (the statistics keep them). Returns
/// how many rows went. The fold's watermark is untouched, and AUTOINCREMENT
/// ids never come back, so nothing is folded twice or skipped.
pub(crate) fn prune(store: &Store, now_ms: i64) -> Result<usize> {
    store.write(|tx| {
        let mut pruned = 0;
        for def in definitions::load_parsed::<ExperimentDefinition>(tx, sql::KIND)? {
            if let Some(days) = def.retention_days {
                let before_ms = now_ms - i64::from(days) * 86_400_000;
                pruned += sql::prune_observations(tx, &def.id, before_ms)?;
            }
        }
        Ok(pruned)
    })
}

/// A unit's one value of a metric, from its observations so far.
fn unit_value(aggregation: Aggregation, t: UnitTotals) -> f64 {
    match aggregation {
        Aggregation::Mean => t.sum / t.n as f64,
        Aggregation::Sum => t.sum,
        Aggregation::Count => t.n as f64,
        Aggregation::Proportion => f64::from(u8::from(t.nonzero > 0)),
    }
}
