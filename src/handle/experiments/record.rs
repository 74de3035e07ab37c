//! The records of experiments: exposures and observations, buffered by the
//! hot paths and persisted in batches through the handle's recorder.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::fold;
use crate::error::Result;
use crate::handle::recorder::{Buffer, Rows};
use crate::store::experiments::{self as sql, NewExposure, NewObservation};

/// An exposure waiting to be persisted.
#[derive(Debug)]
struct Exposure {
    experiment: Arc<str>,
    unit: TextRange,
    variant: Arc<str>,
    /// The phase whose split gave the variant.
    phase: u32,
    at_ms: i64,
}

/// An observation waiting to be persisted.
#[derive(Debug)]
struct Observation {
    experiment: Arc<str>,
    unit: TextRange,
    variant: Arc<str>,
    /// The phase of the snapshot that assigned the variant.
    phase: u32,
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

/// Exposures and observations waiting to be persisted. Unit ids are
/// appended to one shared `text` instead of each getting its own
/// allocation: buffering a record then costs a copy, not an allocator call.
#[derive(Debug, Default)]
pub(crate) struct ExperimentRows {
    text: String,
    exposures: Vec<Exposure>,
    observations: Vec<Observation>,
}

impl ExperimentRows {
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
}

impl Rows for ExperimentRows {
    fn is_empty(&self) -> bool {
        self.exposures.is_empty() && self.observations.is_empty()
    }

    fn len(&self) -> usize {
        self.exposures.len() + self.observations.len()
    }

    /// Appends `other` after this batch's records, keeping their order.
    fn append(&mut self, other: ExperimentRows) {
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

    /// Writes exposures, then the raw observations, and folds them from
    /// this batch into the statistics in the same transaction ([`fold`]):
    /// nothing is read back, and an analysis right after sees them.
    fn persist(&self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        // Rows written another way wait behind the watermark; while any do,
        // this batch waits with them (the background fold takes all in
        // order), so that the watermark stays one number.
        let caught_up = !sql::has_pending(tx)?;
        // The recently-exposed cache is small, so a batch may hold a unit more
        // than once; its first record is the one that counts.
        let mut first = HashSet::new();
        let mut exposures = Vec::with_capacity(self.exposures.len());
        for e in &self.exposures {
            let unit = self.text(e.unit);
            if first.insert((&*e.experiment, unit)) {
                exposures.push(NewExposure {
                    experiment: &e.experiment,
                    unit,
                    variant: &e.variant,
                    phase: e.phase,
                    at_ms: e.at_ms,
                });
            }
        }
        let mut exposed = fold::NewExposures::new();
        sql::insert_exposures(tx, &exposures, |e| {
            exposed.insert((e.experiment, e.unit), (e.variant, e.phase));
        })?;
        // The rows the fold takes, gathered as they are inserted: nothing
        // is read back.
        let mut folded: Vec<fold::Row<'_>> = Vec::with_capacity(if caught_up {
            self.observations.len()
        } else {
            0
        });
        let mut last = None;
        let rows = self.observations.iter().map(|o| {
            let row = NewObservation {
                experiment: &o.experiment,
                unit: self.text(o.unit),
                variant: &o.variant,
                metric: &o.metric,
                value: o.value,
                at_ms: o.at_ms,
            };
            (row, o.phase)
        });
        sql::insert_observations(tx, rows, |id, o, phase| {
            last = Some(id);
            if caught_up {
                folded.push(fold::Row {
                    id,
                    experiment: o.experiment,
                    unit: o.unit,
                    variant: o.variant,
                    metric: o.metric,
                    value: Some(o.value),
                    phase: Some(phase),
                });
            }
        })?;
        if let (Some(last), true) = (last, caught_up) {
            fold::fold_rows(tx, &folded, &exposed)?;
            sql::set_folded_to(tx, last)?;
        }
        Ok(())
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

/// The experiments' recorder: their buffer, plus a cache of the units
/// exposed lately, so that a unit assigned in a loop is buffered once, not
/// once per call.
pub(crate) struct ExperimentLog {
    pub(crate) buffer: Buffer<ExperimentRows>,
    /// A direct-mapped cache of the (experiment, unit) hashes exposed
    /// lately, so that repeats are not buffered again. Bounded and lock-free:
    /// a unit whose slot was taken since, or two threads racing on a new
    /// unit, only buffer a duplicate, which the store drops (an exposure is
    /// stored once per unit, with its first time). Memory does not grow with
    /// the number of units.
    seen: Box<[AtomicU64]>,
}

impl Default for ExperimentLog {
    fn default() -> Self {
        ExperimentLog {
            buffer: Buffer::default(),
            seen: (0..SEEN_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl ExperimentLog {
    /// Buffers the exposure of `unit` unless this handle did so lately. The
    /// clock is read only for a new unit: a repeat costs one hash and one
    /// cached load.
    pub fn expose(&self, experiment: &Arc<str>, unit: &str, variant: &Arc<str>, phase: u32) {
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
        let mut batch = self.buffer.lock();
        let unit = batch.push_text(unit);
        batch.exposures.push(Exposure {
            experiment: experiment.clone(),
            unit,
            variant: variant.clone(),
            phase,
            at_ms,
        });
        self.buffer.note_len(&batch);
    }

    /// Buffers one observation of `unit`.
    pub fn observe(
        &self,
        experiment: &Arc<str>,
        unit: &str,
        variant: &Arc<str>,
        phase: u32,
        metric: &Arc<str>,
        value: f64,
    ) {
        let at_ms = crate::clock::now_ms_coarse();
        let mut batch = self.buffer.lock();
        let unit = batch.push_text(unit);
        batch.observations.push(Observation {
            experiment: experiment.clone(),
            unit,
            variant: variant.clone(),
            phase,
            metric: metric.clone(),
            value,
            at_ms,
        });
        self.buffer.note_len(&batch);
    }
}
