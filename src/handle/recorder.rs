//! The recorder: exposures and observations go into an in-memory buffer,
//! and a batch is persisted in one transaction every `flush_interval_ms`
//! (and on `flush` and close). A crash loses at most one interval of records
//! and never corrupts the file.
//!
//! Persisted observations are then folded into the sufficient statistics
//! that analysis reads ([`fold`]): by the background thread, and by
//! analysis itself for whatever is still pending.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::experiments::Aggregation;
use crate::stats::Summary;
use crate::store::Store;
use crate::store::experiments::{
    self as sql, NewExposure, NewObservation, UnitTotals, put_variant_moments, variant_moments,
};

/// An exposure waiting to be persisted.
#[derive(Debug)]
struct Exposure {
    experiment: Arc<str>,
    unit: TextRange,
    variant: Arc<str>,
    at_ms: i64,
}

/// An observation waiting to be persisted.
#[derive(Debug)]
struct Observation {
    experiment: Arc<str>,
    unit: TextRange,
    variant: Arc<str>,
    metric: Arc<str>,
    value: f64,
    at_ms: i64,
}

/// Where a unit id sits in the batch's text.
#[derive(Debug, Clone, Copy)]
struct TextRange {
    start: usize,
    len: usize,
}

/// Records waiting to be persisted. Unit ids are appended to one shared
/// `text` instead of each getting its own allocation: buffering a record
/// then costs a copy, not an allocator call.
#[derive(Debug, Default)]
struct Batch {
    text: String,
    exposures: Vec<Exposure>,
    observations: Vec<Observation>,
}

impl Batch {
    fn push_text(&mut self, unit: &str) -> TextRange {
        let start = self.text.len();
        self.text.push_str(unit);
        TextRange {
            start,
            len: unit.len(),
        }
    }

    fn text(&self, r: TextRange) -> &str {
        &self.text[r.start..r.start + r.len]
    }

    fn is_empty(&self) -> bool {
        self.exposures.is_empty() && self.observations.is_empty()
    }

    /// Appends `other` after this batch's records, keeping their order.
    fn append(&mut self, other: Batch) {
        let shift = self.text.len();
        self.text.push_str(&other.text);
        let moved = |r: TextRange| TextRange {
            start: r.start + shift,
            len: r.len,
        };
        self.exposures
            .extend(other.exposures.into_iter().map(|e| Exposure {
                unit: moved(e.unit),
                ..e
            }));
        self.observations
            .extend(other.observations.into_iter().map(|o| Observation {
                unit: moved(o.unit),
                ..o
            }));
    }
}

/// Slots of the recently-exposed cache: 2^14 × 8 bytes = 128 KiB, small
/// enough to stay in the CPU's cache (at 512 KiB, the lookup of a new unit
/// missed it and cost as much as the rest of an assignment).
const SEEN_SLOTS: usize = 1 << 14;

/// The hash of (experiment, unit) for the recently-exposed cache: foldhash,
/// fixed (SipHash costs twice as much on this path). A full 64-bit match is
/// needed to skip a unit, so a false "already exposed" is negligible.
const SEEN_HASH: foldhash::fast::FixedState =
    foldhash::fast::FixedState::with_seed(0x6368_615f_7365_656e);

/// The buffer, plus a cache of the units exposed lately, so that a unit
/// assigned in a loop is buffered once, not once per call.
pub(crate) struct Recorder {
    batch: Mutex<Batch>,
    /// A direct-mapped cache of the (experiment, unit) hashes exposed
    /// lately, so that repeats are not buffered again. Bounded and lock-free:
    /// a unit whose slot was taken since, or two threads racing on a new
    /// unit, only buffer a duplicate, which the store drops (an exposure is
    /// stored once per unit, with its first time). Memory does not grow with
    /// the number of units.
    seen: Box<[AtomicU64]>,
    /// Serialises flushes so that batches land in order.
    flushing: Mutex<()>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            batch: Mutex::default(),
            seen: (0..SEEN_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            flushing: Mutex::default(),
        }
    }
}

impl Recorder {
    /// Buffers the exposure of `unit` unless this handle did so lately. The
    /// clock is read only for a new unit: a repeat costs one hash and one
    /// cached load.
    pub fn expose(&self, experiment: &Arc<str>, unit: &str, variant: &Arc<str>) {
        // 0 marks an empty slot.
        // The experiment by the address of its interned id: cheaper than its
        // text, and a new snapshot only makes the cache miss once per unit.
        let key = SEEN_HASH
            .hash_one((Arc::as_ptr(experiment) as *const u8 as usize, unit))
            .max(1);
        let slot = &self.seen[(key as usize) & (SEEN_SLOTS - 1)];
        if slot.load(Ordering::Relaxed) == key {
            return;
        }
        slot.store(key, Ordering::Relaxed);
        let at_ms = crate::clock::now_ms_coarse();
        let mut batch = self.lock();
        let unit = batch.push_text(unit);
        batch.exposures.push(Exposure {
            experiment: experiment.clone(),
            unit,
            variant: variant.clone(),
            at_ms,
        });
    }

    /// Buffers one observation of `unit`.
    pub fn observe(
        &self,
        experiment: &Arc<str>,
        unit: &str,
        variant: &Arc<str>,
        metric: &Arc<str>,
        value: f64,
    ) {
        let at_ms = crate::clock::now_ms_coarse();
        let mut batch = self.lock();
        let unit = batch.push_text(unit);
        batch.observations.push(Observation {
            experiment: experiment.clone(),
            unit,
            variant: variant.clone(),
            metric: metric.clone(),
            value,
            at_ms,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists everything buffered in one transaction. On failure the batch
    /// goes back to the front of the buffer, to be tried again.
    pub fn flush(&self, store: &Store) -> Result<()> {
        let _order = self.flushing.lock().unwrap_or_else(|p| p.into_inner());
        let batch = std::mem::take(&mut *self.lock());
        if batch.is_empty() {
            return Ok(());
        }
        match store.write(|tx| persist(tx, &batch)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let mut current = self.lock();
                let newer = std::mem::replace(&mut *current, batch);
                current.append(newer);
                Err(e)
            }
        }
    }
}

/// Writes a batch: exposures, then the raw observations. Folding them into
/// the statistics happens apart ([`fold`]), so recording costs about what a
/// bare insert of the same rows costs.
fn persist(tx: &rusqlite::Transaction<'_>, batch: &Batch) -> Result<()> {
    // The recently-exposed cache is small, so a batch may hold a unit more
    // than once; its first record is the one that counts.
    let mut first = HashSet::new();
    let exposures: Vec<NewExposure<'_>> = batch
        .exposures
        .iter()
        .map(|e| NewExposure {
            experiment: &e.experiment,
            unit: batch.text(e.unit),
            variant: &e.variant,
            at_ms: e.at_ms,
        })
        .filter(|e| first.insert((e.experiment, e.unit)))
        .collect();
    sql::insert_exposures(tx, &exposures)?;
    let rows: Vec<NewObservation<'_>> = batch
        .observations
        .iter()
        .map(|o| NewObservation {
            experiment: &o.experiment,
            unit: batch.text(o.unit),
            variant: &o.variant,
            metric: &o.metric,
            value: o.value,
            at_ms: o.at_ms,
        })
        .collect();
    sql::insert_observations(tx, &rows)
}

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
    for stored in sql::load_experiments(tx)? {
        let def: crate::experiments::ExperimentDefinition =
            serde_json::from_str(&stored.definition_json)?;
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
        // A metric removed from the definition since: its rows stay raw.
        let Some(&aggregation) = aggregations.get(&(experiment.to_string(), metric.to_string()))
        else {
            continue;
        };
        if loaded.insert(experiment) {
            for ((v, m), (n, mean, m2)) in variant_moments(tx, experiment)? {
                summaries.insert((experiment.to_string(), v, m), Summary { n, mean, m2 });
            }
        }
        // The stored exposure is the authority on a unit's variant: a process
        // that bucketed the unit differently (its snapshot lagged a change
        // of the split) cannot split the unit's values across two arms.
        let stored = sql::exposure_variant(tx, experiment, unit)?;
        let variant = stored.as_deref().unwrap_or(variant);
        let before = sql::add_unit_totals(tx, experiment, metric, unit, variant, *delta)?;
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

/// Applies each experiment's `retention_days`: deletes raw observations older
/// than that which are already folded (the statistics keep them). Returns
/// how many rows went. The fold's watermark is untouched, and AUTOINCREMENT
/// ids never come back, so nothing is folded twice or skipped.
pub(crate) fn prune(store: &Store, now_ms: i64) -> Result<usize> {
    store.write(|tx| {
        let mut pruned = 0;
        for stored in sql::load_experiments(tx)? {
            let def: crate::experiments::ExperimentDefinition =
                serde_json::from_str(&stored.definition_json)?;
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
