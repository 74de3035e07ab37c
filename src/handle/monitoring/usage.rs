//! Flag usage, as Unleash clients report it: evaluations per flag and hour
//! (on, off, per variant), and the unknown flag names callers asked for.
//!
//! A flag check must stay a few nanoseconds, so each thread counts into a
//! block of its own for the configuration it evaluated: one plain add to a
//! counter only that thread writes (relaxed atomics, so that the flush may
//! read it from another thread), indexed by the flag's id in that
//! configuration. The flush reads every block and stores the difference
//! since its last read, attributed to the hour of the flush. A block
//! belongs to one configuration revision; a thread that sees a new one
//! starts a new block, and the old one is read one last time and dropped.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::flags::{FlagId, FlagSet};
use crate::monitoring::window::{HOUR_MS, window_start};
use crate::store::monitoring as sql;

/// How many handles' blocks a thread keeps at once.
const BLOCK_SLOTS: usize = 4;
/// The most distinct unknown names kept between flushes; more are counted
/// under [`OTHER_UNKNOWN`].
const MAX_UNKNOWN: usize = 1000;
/// Where unknown names beyond [`MAX_UNKNOWN`] are counted.
pub(crate) const OTHER_UNKNOWN: &str = "(other names)";

/// One thread's counters for one configuration of one handle.
struct Block {
    revision: i64,
    /// The flags' names, by id.
    names: Box<[Box<str>]>,
    /// Each flag's own variant names, by id.
    variants: Box<[Box<[Box<str>]>]>,
    /// Where each flag's counters start: off, on, then one per variant.
    offsets: Box<[u32]>,
    counts: Box<[AtomicU64]>,
    /// For each variant counter, the address of the name the evaluation
    /// returns for it, learnt at its first count: later counts compare an
    /// address, not the text. (Within one revision the flag set, and so
    /// each name's address, stays the same.)
    variant_at: Box<[AtomicUsize]>,
    /// Variants a flag does not list itself (those of a linked experiment).
    other: Mutex<HashMap<(u32, Box<str>), u64>>,
}

impl Block {
    fn new(flags: &FlagSet, revision: i64) -> Block {
        let mut names = Vec::with_capacity(flags.len());
        let mut variants = Vec::with_capacity(flags.len());
        let mut offsets = Vec::with_capacity(flags.len());
        let mut total = 0u32;
        for (i, def) in flags.definitions().iter().enumerate() {
            names.push(def.name.as_str().into());
            // Its own, its rules' and its environments' variants.
            let own: Box<[Box<str>]> = flags
                .variant_names(FlagId::from_index(i as u32))
                .iter()
                .map(|n| Box::from(&**n))
                .collect();
            offsets.push(total);
            total += 2 + own.len() as u32;
            variants.push(own);
        }
        Block {
            revision,
            names: names.into(),
            variants: variants.into(),
            offsets: offsets.into(),
            counts: (0..total).map(|_| AtomicU64::new(0)).collect(),
            variant_at: (0..total).map(|_| AtomicUsize::new(0)).collect(),
            other: Mutex::default(),
        }
    }

    #[inline(always)]
    fn bump(&self, id: FlagId, enabled: bool, variant: Option<&str>) {
        let i = id.index() as usize;
        let Some(&base) = self.offsets.get(i) else {
            return;
        };
        let base = base as usize;
        add(&self.counts[base + usize::from(enabled)]);
        if let Some(v) = variant {
            self.bump_variant(i, base, v);
        }
    }

    #[inline]
    fn bump_variant(&self, i: usize, base: usize, variant: &str) {
        let at = variant.as_ptr() as usize;
        let n = self.variants[i].len();
        if let Some(j) =
            (0..n).find(|j| self.variant_at[base + 2 + j].load(Ordering::Relaxed) == at)
        {
            add(&self.counts[base + 2 + j]);
            return;
        }
        self.bump_variant_by_name(i, base, variant);
    }

    #[cold]
    fn bump_variant_by_name(&self, i: usize, base: usize, variant: &str) {
        match self.variants[i].iter().position(|n| &**n == variant) {
            Some(j) => {
                self.variant_at[base + 2 + j].store(variant.as_ptr() as usize, Ordering::Relaxed);
                add(&self.counts[base + 2 + j]);
            }
            None => {
                let mut other = self.other.lock().unwrap_or_else(|p| p.into_inner());
                match other.get_mut(&(i as u32, variant.into())) {
                    Some(n) => *n += 1,
                    None => {
                        other.insert((i as u32, variant.into()), 1);
                    }
                }
            }
        }
    }
}

/// One more, by the only thread that writes this counter: a plain add.
#[inline(always)]
fn add(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// A block as the flush knows it: what it read last time.
struct Registered {
    block: Arc<Block>,
    seen: Box<[u64]>,
}

/// A thread's blocks, by usage id.
type BlockSlots = [Option<(u64, Arc<Block>)>; BLOCK_SLOTS];

/// The blocks a thread holds; dropping them (the thread ends) first
/// forgets the fast path's pointer.
struct Held(RefCell<BlockSlots>);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = FAST.try_with(|f| f.set(NONE));
    }
}

/// The block of the last check: (usage id, revision, block). Plain values
/// with no destructor, so that reading it is one load from thread-local
/// storage; it points into a block `BLOCKS` holds, and is reset whenever
/// that block goes.
type Fast = (u64, i64, *const Block);

/// No block: usage ids start at 1.
const NONE: Fast = (0, 0, std::ptr::null());

thread_local! {
    /// This thread's blocks, by handle, most recently added first.
    static BLOCKS: Held = const { Held(RefCell::new([const { None }; BLOCK_SLOTS])) };
    static FAST: std::cell::Cell<Fast> = const { std::cell::Cell::new(NONE) };
}

static NEXT_USAGE_ID: AtomicU64 = AtomicU64::new(1);

/// The flag usage counters of a handle.
pub(crate) struct FlagUsage {
    id: u64,
    blocks: Mutex<Vec<Registered>>,
    unknown: Mutex<HashMap<Box<str>, (u64, i64)>>,
    /// Evaluations drained so far (the sampler's rate).
    pub(crate) drained: AtomicU64,
}

impl Default for FlagUsage {
    fn default() -> Self {
        FlagUsage {
            id: NEXT_USAGE_ID.fetch_add(1, Ordering::Relaxed),
            blocks: Mutex::default(),
            unknown: Mutex::default(),
            drained: AtomicU64::new(0),
        }
    }
}

impl FlagUsage {
    /// Counts one evaluation of flag `id` of `flags` (configuration
    /// `revision`): on or off, and its variant.
    #[inline(always)]
    pub fn count(
        &self,
        flags: &FlagSet,
        revision: i64,
        id: FlagId,
        enabled: bool,
        variant: Option<&str>,
    ) {
        let (owner, seen, block) = FAST.with(std::cell::Cell::get);
        if owner == self.id && seen == revision {
            // SAFETY: FAST points into a block BLOCKS holds (see `Fast`).
            unsafe { (*block).bump(id, enabled, variant) };
            return;
        }
        self.count_slow(flags, revision, id, enabled, variant);
    }

    /// The block of this thread for this handle and configuration, made
    /// and registered when the thread has none yet.
    #[cold]
    #[inline(never)]
    fn count_slow(
        &self,
        flags: &FlagSet,
        revision: i64,
        id: FlagId,
        enabled: bool,
        variant: Option<&str>,
    ) {
        let _ = BLOCKS.try_with(|held| {
            let Ok(mut slots) = held.0.try_borrow_mut() else {
                return;
            };
            self.count_in(&mut slots, flags, revision, id, enabled, variant);
        });
    }

    fn count_in(
        &self,
        slots: &mut BlockSlots,
        flags: &FlagSet,
        revision: i64,
        id: FlagId,
        enabled: bool,
        variant: Option<&str>,
    ) {
        let found = slots.iter().position(|s| {
            s.as_ref()
                .is_some_and(|(owner, b)| *owner == self.id && b.revision == revision)
        });
        let index = match found {
            Some(i) => i,
            None => {
                let block = Arc::new(Block::new(flags, revision));
                self.blocks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Registered {
                        seen: vec![0; block.counts.len()].into(),
                        block: block.clone(),
                    });
                // This handle's block of an older configuration gives way
                // (the flush reads it one last time), else the oldest slot.
                let i = slots
                    .iter()
                    .position(|s| s.as_ref().is_some_and(|(owner, _)| *owner == self.id))
                    .unwrap_or(BLOCK_SLOTS - 1);
                slots[i] = Some((self.id, block));
                i
            }
        };
        // The most recent first, and the fast path's.
        slots[..=index].rotate_right(1);
        if let Some((owner, block)) = &slots[0] {
            block.bump(id, enabled, variant);
            FAST.with(|f| f.set((*owner, block.revision, Arc::as_ptr(block))));
        }
    }

    /// Counts an ask for a flag that does not exist.
    #[cold]
    pub fn unknown(&self, name: &str) {
        let now = crate::clock::now_ms_coarse();
        let mut unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, last)) = unknown.get_mut(name) {
            *n += 1;
            *last = now;
            return;
        }
        let key = if unknown.len() < MAX_UNKNOWN {
            name
        } else {
            OTHER_UNKNOWN
        };
        let entry = unknown.entry(key.into()).or_insert((0, now));
        entry.0 += 1;
        entry.1 = now;
    }

    /// What was counted since the last drain, attributed to the hour of
    /// `now_ms`.
    pub fn drain(&self, now_ms: i64) -> UsageDrain {
        let hour = window_start(now_ms, HOUR_MS);
        let mut out = UsageDrain::default();
        let mut blocks = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
        for r in blocks.iter_mut() {
            let b = &r.block;
            for (i, name) in b.names.iter().enumerate() {
                let base = b.offsets[i] as usize;
                let width = 2 + b.variants[i].len();
                let mut delta = |k: usize| {
                    let now = b.counts[base + k].load(Ordering::Relaxed);
                    let d = now - r.seen[base + k];
                    r.seen[base + k] = now;
                    d
                };
                let (off, on) = (delta(0), delta(1));
                if on + off > 0 {
                    out.add(name, hour, "", on, off);
                    self.drained.fetch_add(on + off, Ordering::Relaxed);
                }
                for j in 0..width - 2 {
                    let n = delta(2 + j);
                    if n > 0 {
                        out.add(name, hour, &b.variants[i][j], n, 0);
                    }
                }
            }
            let other = std::mem::take(&mut *b.other.lock().unwrap_or_else(|p| p.into_inner()));
            for ((i, variant), n) in other {
                out.add(&b.names[i as usize], hour, &variant, n, 0);
            }
        }
        // A block no thread holds any more was read for the last time.
        blocks.retain(|r| Arc::strong_count(&r.block) > 1);
        drop(blocks);
        let unknown = std::mem::take(&mut *self.unknown.lock().unwrap_or_else(|p| p.into_inner()));
        out.unknown
            .extend(unknown.into_iter().map(|(k, v)| (k.into_string(), v)));
        out
    }
}

/// Flag usage waiting to be persisted.
#[derive(Default)]
pub(crate) struct UsageDrain {
    /// (flag, hour, variant) → (on, off); variant "" is the flag itself.
    counts: BTreeMap<(String, i64, String), (u64, u64)>,
    /// Unknown name → (asks, last asked).
    unknown: BTreeMap<String, (u64, i64)>,
}

impl UsageDrain {
    fn add(&mut self, flag: &str, hour: i64, variant: &str, on: u64, off: u64) {
        let e = self
            .counts
            .entry((flag.to_string(), hour, variant.to_string()))
            .or_default();
        e.0 += on;
        e.1 += off;
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.unknown.is_empty()
    }

    pub fn append(&mut self, newer: UsageDrain) {
        for ((flag, hour, variant), (on, off)) in newer.counts {
            self.add(&flag, hour, &variant, on, off);
        }
        for (name, (n, last)) in newer.unknown {
            let e = self.unknown.entry(name).or_insert((0, last));
            e.0 += n;
            e.1 = e.1.max(last);
        }
    }

    pub fn persist(&self, tx: &rusqlite::Transaction<'_>, _now_ms: i64) -> Result<()> {
        for ((flag, hour, variant), (on, off)) in &self.counts {
            sql::add_flag_usage(tx, flag, *hour, variant, *on, *off)?;
        }
        for (name, (n, last)) in &self.unknown {
            sql::add_unknown_flag(tx, name, *n, *last)?;
        }
        Ok(())
    }
}
