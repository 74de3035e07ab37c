//! The records of experiments: exposures and observations, buffered by the
//! hot paths and persisted in batches through the handle's recorder.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::fold::{self, UnitDelta};
use crate::error::Result;
use crate::handle::recorder::{Buffer, Rows};
use crate::store::experiments::{self as sql, ExposureWriter, NewExposure};
use crate::store::observation_blocks::{self as blocks, Block, BlockRow};

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

    /// Writes the exposures, then each experiment's observations as one
    /// block, and folds them from this batch into the statistics in the
    /// same transaction ([`fold::apply`]): nothing is read back, and an
    /// analysis right after sees them. A unit's first observation exposes
    /// it (recording does not buffer an exposure of its own).
    fn persist(&self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        // Rows written another way first, so that the watermark can move
        // past this batch's ids.
        fold::catch_up(tx)?;
        let mut exposures = ExposureWriter::new(tx)?;
        // The recently-exposed cache is small, so a batch may hold a unit more
        // than once; its first record is the one that counts.
        let mut first = HashSet::new();
        let mut exposed = fold::NewExposures::new();
        for e in &self.exposures {
            let unit = self.text(e.unit);
            if first.insert((&*e.experiment, unit)) {
                let new = NewExposure {
                    experiment: &e.experiment,
                    unit,
                    variant: &e.variant,
                    phase: e.phase,
                    at_ms: e.at_ms,
                };
                if exposures.insert(&new)? {
                    exposed.insert((new.experiment, unit), (new.variant, new.phase));
                }
            }
        }
        let mut pending = self.blocks();
        let mut bytes = Vec::new();
        let mut deltas = Vec::with_capacity(pending.iter().map(|p| p.deltas.len()).sum());
        let mut last_id = None;
        for p in &mut pending {
            p.first_id = blocks::allocate_ids(tx, p.block.rows.len())?;
            blocks::insert(tx, p.first_id, p.experiment, &p.block, &mut bytes)?;
            last_id = Some(p.first_id + p.block.rows.len() as i64 - 1);
            let experiment = p.experiment;
            deltas.extend(
                p.block
                    .units
                    .iter()
                    .zip(std::mem::take(&mut p.deltas))
                    .map(|(unit, d)| ((experiment, *unit), d)),
            );
        }
        let Some(last_id) = last_id else {
            return exposures.finish(tx);
        };
        // The ids of a unit's rows of a metric, should they be quarantined.
        let ids_of = |(experiment, metric, unit): (&str, &str, &str)| -> Vec<i64> {
            let Some(p) = pending.iter().find(|p| p.experiment == experiment) else {
                return Vec::new();
            };
            let Some(&u) = p.unit_index.get(unit) else {
                return Vec::new();
            };
            p.block
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.unit == u && p.block.names[r.metric as usize] == metric)
                .map(|(i, _)| p.first_id + i as i64)
                .collect()
        };
        fold::apply(tx, deltas, &exposed, &mut exposures, &ids_of)?;
        exposures.finish(tx)?;
        sql::set_folded_to(tx, last_id)
    }
}

/// One experiment's observations of a batch: its block (units and names
/// once each) and, per unit, what the fold adds.
struct PendingBlock<'a> {
    experiment: &'a str,
    /// The id of its first observation, once drawn.
    first_id: i64,
    block: Block<'a>,
    unit_index: HashMap<&'a str, u32, foldhash::fast::FixedState>,
    /// Per unit of `block.units`.
    deltas: Vec<UnitDelta<'a>>,
}

impl ExperimentRows {
    /// The batch's observations by experiment, each unit's text hashed
    /// once: what is written and what is folded come from this one pass.
    fn blocks(&self) -> Vec<PendingBlock<'_>> {
        let mut out: Vec<PendingBlock<'_>> = Vec::new();
        let mut current = 0;
        for o in &self.observations {
            // Batches mostly hold one experiment; its id is interned.
            if out
                .get(current)
                .is_none_or(|p| !std::ptr::eq(p.experiment, &*o.experiment))
            {
                current = match out.iter().position(|p| p.experiment == &*o.experiment) {
                    Some(at) => at,
                    None => {
                        out.push(PendingBlock {
                            experiment: &o.experiment,
                            first_id: 0,
                            block: Block::default(),
                            unit_index: HashMap::default(),
                            deltas: Vec::new(),
                        });
                        out.len() - 1
                    }
                };
            }
            let p = &mut out[current];
            let unit_text = self.text(o.unit);
            let next = p.block.units.len() as u32;
            let unit = *p.unit_index.entry(unit_text).or_insert(next);
            if unit == next {
                p.block.units.push(unit_text);
                p.deltas
                    .push(UnitDelta::new(&o.variant, Some(o.phase), o.at_ms));
            }
            let variant = name_index(&mut p.block.names, &o.variant);
            let metric = name_index(&mut p.block.names, &o.metric);
            p.block.rows.push(BlockRow {
                unit,
                variant,
                metric,
                value: o.value,
                at_ms: o.at_ms,
            });
            // Recording refused any value the fold could not take.
            p.deltas[unit as usize].add(&o.metric, o.value, o.at_ms);
        }
        out
    }
}

/// The index of `name` in a block's short table of names, added if new.
fn name_index<'a>(names: &mut Vec<&'a str>, name: &'a str) -> u32 {
    match names
        .iter()
        .position(|n| std::ptr::eq(*n, name) || *n == name)
    {
        Some(i) => i as u32,
        None => {
            names.push(name);
            names.len() as u32 - 1
        }
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
