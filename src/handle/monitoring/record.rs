//! Recording metrics: in memory on the call path, persisted in batches.
//!
//! Each thread that records on a handle gets its own shard: an index from
//! (name, tags as given) to the series and the open one-minute window of
//! each series it recorded since the last flush. A repeated call hashes the
//! two strings, finds its slot and pushes the value into the window: no
//! allocation, no lock shared with another thread (the shard's mutex is
//! taken by the flush once a second), no SQLite. A new (name, tags) goes
//! through the handle's series index once per thread: the name and tags are
//! checked, the tags put in canonical form, the kind checked against the
//! metric's, and the cap on distinct series applied.
//!
//! The flush drains every shard into a [`MetricRows`] batch, which merges
//! the windows into the stored ones, adds to the series' totals, and writes
//! raw samples when a retention keeps them.

use std::cell::{RefCell, UnsafeCell};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hashbrown::HashTable;

use super::usage::{FlagUsage, UsageDrain};
use crate::error::{Error, Result};
use crate::handle::recorder::{Buffer, Flush, Rows};
use crate::monitoring::model::{MetricKind, canonical_tags, check_metric_name, parse_tags};
use crate::monitoring::window::{MINUTE_MS, WindowStats, window_start};
use crate::store::Store;
use crate::store::monitoring as sql;

/// The hash of (name, tags) in the shards: foldhash, fixed; the strings are
/// the caller's own metric names, so flooding is not a concern.
const KEY_HASH: foldhash::fast::FixedState =
    foldhash::fast::FixedState::with_seed(0x6d65_7472_6963_7321);

/// How many handles' shards a thread keeps at once.
const SHARD_SLOTS: usize = 4;

/// A series known to the handle: its name, canonical tags and kind.
#[derive(Debug, Clone)]
pub(crate) struct SeriesKey {
    pub name: Arc<str>,
    pub tags: Arc<str>,
    pub kind: MetricKind,
}

/// The handle's index of series: every (name, canonical tags) recorded,
/// and each metric's kind. Behind a mutex taken once per new (name, tags)
/// per thread.
#[derive(Default)]
struct SeriesIndex {
    by_key: HashMap<(Arc<str>, Arc<str>), u32>,
    list: Vec<SeriesKey>,
    kinds: HashMap<Arc<str>, MetricKind>,
}

/// One (name, tags as given) of a shard, and its slot.
struct Entry {
    hash: u64,
    name: Box<str>,
    /// The tags' text as the caller gave it (None: no tags).
    tags: Option<Box<str>>,
    slot: u32,
}

/// A series' open window in a shard.
struct Slot {
    series: u32,
    kind: MetricKind,
    window: i64,
    stats: Option<WindowStats>,
}

/// What one thread recorded on one handle since the last flush.
#[derive(Default)]
struct ShardData {
    index: HashTable<Entry>,
    slots: Vec<Slot>,
    /// Windows a later sample closed before the flush came.
    closed: Vec<(u32, i64, WindowStats)>,
    /// Raw samples, while a retention keeps them.
    raw: Vec<(u32, f64, i64)>,
    /// Samples not yet drained.
    pending: u64,
}

/// One thread's shard. Its lock is a flag, not a mutex: the owning thread
/// takes it on every record and the flush once a second, so it is almost
/// never contended, and a flag costs one atomic exchange where a mutex
/// costs two read-modify-writes (a third of a record). Aligned to its own
/// cache lines, so that two threads' shards never share one.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    locked: AtomicBool,
    data: UnsafeCell<ShardData>,
}

// SAFETY: `data` is only reached through `lock`, which gives one thread at
// a time a guard.
unsafe impl Sync for Shard {}

/// Access to a shard's data while its flag is held.
struct ShardGuard<'a>(&'a Shard);

impl Shard {
    #[inline]
    fn lock(&self) -> ShardGuard<'_> {
        while self.locked.swap(true, Ordering::Acquire) {
            // Held by the flush (or the owner, for the flush): briefly.
            std::thread::yield_now();
        }
        ShardGuard(self)
    }
}

impl std::ops::Deref for ShardGuard<'_> {
    type Target = ShardData;
    fn deref(&self) -> &ShardData {
        // SAFETY: the flag is held: no other reference exists.
        unsafe { &*self.0.data.get() }
    }
}

impl std::ops::DerefMut for ShardGuard<'_> {
    fn deref_mut(&mut self) -> &mut ShardData {
        // SAFETY: the flag is held: no other reference exists.
        unsafe { &mut *self.0.data.get() }
    }
}

impl Drop for ShardGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
    }
}

/// A thread's shards, by handle id.
type ShardSlots = [Option<(u64, Arc<Shard>)>; SHARD_SLOTS];

/// Windows waiting to be persisted, by (name, tags, window start).
type PendingWindows = BTreeMap<(Arc<str>, Arc<str>, i64), (MetricKind, WindowStats)>;

thread_local! {
    /// This thread's shards, by handle, most recently added first.
    static SHARDS: RefCell<ShardSlots> =
        const { RefCell::new([const { None }; SHARD_SLOTS]) };
}

static NEXT_LOG_ID: AtomicU64 = AtomicU64::new(1);

/// The monitoring recorder of a handle: the shards, the series index, the
/// flag usage counters and the batch waiting to be persisted.
pub(crate) struct MetricLog {
    pub(crate) buffer: Buffer<MetricRows>,
    /// Identifies this handle in the threads' shard slots (never reused).
    id: u64,
    series: Mutex<SeriesIndex>,
    shards: Mutex<Vec<Arc<Shard>>>,
    /// Whether raw samples are kept (settings.retention.raw_samples_hours > 0).
    pub(crate) keep_raw: AtomicBool,
    /// Flag evaluations, counted per thread.
    pub(crate) usage: FlagUsage,
    /// The last flush's duration in microseconds, and samples drained so far.
    pub(crate) flush_micros: AtomicU64,
    drained: AtomicU64,
}

impl Default for MetricLog {
    fn default() -> Self {
        MetricLog {
            buffer: Buffer::default(),
            id: NEXT_LOG_ID.fetch_add(1, Ordering::Relaxed),
            series: Mutex::default(),
            shards: Mutex::default(),
            keep_raw: AtomicBool::new(false),
            usage: FlagUsage::default(),
            flush_micros: AtomicU64::new(0),
            drained: AtomicU64::new(0),
        }
    }
}

/// A value checked for its kind: finite, and not negative for timers and
/// counter increments.
#[inline]
pub(crate) fn check_value(kind: MetricKind, name: &str, value: f64) -> Result<()> {
    if value.is_finite()
        && (value >= 0.0 || matches!(kind, MetricKind::Gauge | MetricKind::Histogram))
    {
        return Ok(());
    }
    Err(bad_value(kind, name, value))
}

#[cold]
fn bad_value(kind: MetricKind, name: &str, value: f64) -> Error {
    let what = match kind {
        MetricKind::Timer => "a duration in seconds",
        MetricKind::Counter => "an increment",
        _ => "a value",
    };
    if !value.is_finite() {
        Error::invalid_argument(format!(
            "metric `{name}`: {value} is not a finite number; nothing was recorded"
        ))
    } else {
        Error::invalid_argument(format!(
            "metric `{name}`: {what} cannot be negative ({value}); nothing was recorded"
        ))
    }
}

impl MetricLog {
    /// Records `value` (already in stored units) of metric `name` with
    /// `tags` (JSON text, or None) at `at_ms`. The hot path: see the module.
    ///
    /// Returns false, recording nothing, when this thread's shard or the
    /// batch already holds `backlog` samples (see [`Backlog`]).
    ///
    /// # Errors
    /// `InvalidArgument` for a bad name or tags, a kind other than the
    /// metric's, or a new series past `limit`; nothing is recorded then.
    ///
    /// [`Backlog`]: crate::handle::recorder::Backlog
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        kind: MetricKind,
        name: &str,
        tags: Option<&str>,
        value: f64,
        at_ms: i64,
        limit: usize,
        backlog: usize,
    ) -> Result<bool> {
        let hash = {
            use std::hash::Hasher;
            let mut h = KEY_HASH.build_hasher();
            h.write(name.as_bytes());
            h.write_u8(0xff);
            if let Some(t) = tags {
                h.write(t.as_bytes());
            }
            h.finish()
        };
        let keep_raw = self.keep_raw.load(Ordering::Relaxed);
        self.with_shard(|shard| {
            let mut data = shard.lock();
            if data.pending as usize >= backlog || self.buffer.held() >= backlog {
                return Ok(false);
            }
            let found = data
                .index
                .find(hash, |e| &*e.name == name && e.tags.as_deref() == tags)
                .map(|e| e.slot);
            let slot = match found {
                Some(slot) => slot,
                None => self.new_slot(&mut data, hash, kind, name, tags, limit)?,
            };
            let data = &mut *data;
            let s = &mut data.slots[slot as usize];
            if s.kind != kind {
                return Err(kind_mismatch(name, s.kind, kind));
            }
            // Most samples fall in the slot's open window: no division then.
            if !(s.window..s.window.saturating_add(MINUTE_MS)).contains(&at_ms) {
                let window = window_start(at_ms, MINUTE_MS);
                if let Some(stats) = s.stats.take() {
                    data.closed.push((s.series, s.window, stats));
                }
                s.window = window;
            }
            s.stats
                .get_or_insert_with(WindowStats::new)
                .push(value, at_ms);
            if keep_raw {
                data.raw.push((s.series, value, at_ms));
            }
            data.pending += 1;
            Ok(true)
        })
    }

    /// Calls `f` with this thread's shard of this handle, making one the
    /// first time.
    #[inline]
    fn with_shard<R>(&self, f: impl FnOnce(&Shard) -> R) -> R {
        let id = self.id;
        let mut f = Some(f);
        let cached = SHARDS.try_with(|slots| {
            let mut slots = slots.try_borrow_mut().ok()?;
            let index = match slots
                .iter()
                .position(|s| s.as_ref().is_some_and(|(i, _)| *i == id))
            {
                Some(i) => i,
                None => {
                    let shard = Arc::new(Shard::default());
                    self.shards
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(shard.clone());
                    slots.rotate_right(1);
                    slots[0] = Some((id, shard));
                    0
                }
            };
            let (_, shard) = slots[index].as_ref()?;
            let f = f.take()?;
            Some(f(shard))
        });
        match cached.ok().flatten() {
            Some(r) => r,
            // The thread is ending: a shard of its own for this one call.
            None => {
                let shard = Arc::new(Shard::default());
                self.shards
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(shard.clone());
                let f = f.take().expect("not called yet");
                f(&shard)
            }
        }
    }

    /// The slot of a (name, tags) this shard has not seen: through the
    /// handle's series index.
    #[cold]
    fn new_slot(
        &self,
        data: &mut ShardData,
        hash: u64,
        kind: MetricKind,
        name: &str,
        tags: Option<&str>,
        limit: usize,
    ) -> Result<u32> {
        let series = self.intern(kind, name, tags, limit)?;
        let slot = data.slots.len() as u32;
        data.slots.push(Slot {
            series,
            kind: self.series_key(series).kind,
            window: i64::MIN,
            stats: None,
        });
        data.index.insert_unique(
            hash,
            Entry {
                hash,
                name: name.into(),
                tags: tags.map(Into::into),
                slot,
            },
            |e| e.hash,
        );
        Ok(slot)
    }

    /// The id of series (name, tags), checking both and the metric's kind,
    /// registering it if new and under `limit`.
    fn intern(
        &self,
        kind: MetricKind,
        name: &str,
        tags: Option<&str>,
        limit: usize,
    ) -> Result<u32> {
        check_metric_name(name).map_err(Error::invalid_argument)?;
        let tags = parse_tags(tags).map_err(|m| {
            Error::invalid_argument(format!("metric `{name}`: {m}; nothing was recorded"))
        })?;
        let tags: Arc<str> = canonical_tags(&tags).into();
        let mut index = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = index.kinds.get(name)
            && *known != kind
        {
            return Err(kind_mismatch(name, *known, kind));
        }
        let name: Arc<str> = name.into();
        if let Some(id) = index.by_key.get(&(name.clone(), tags.clone())) {
            return Ok(*id);
        }
        if index.list.len() >= limit {
            return Err(Error::invalid_argument(format!(
                "metric `{name}`: the limit of {limit} distinct series (metric and tag set) is reached, \
                 so its tags {tags} were not recorded; tags with unbounded values (user ids, request ids, \
                 timestamps) make a series each: keep those out of tags, or raise metric_series_limit"
            )));
        }
        let id = index.list.len() as u32;
        index.list.push(SeriesKey {
            name: name.clone(),
            tags: tags.clone(),
            kind,
        });
        index.by_key.insert((name.clone(), tags), id);
        index.kinds.entry(name).or_insert(kind);
        Ok(id)
    }

    fn series_key(&self, id: u32) -> SeriesKey {
        self.series.lock().unwrap_or_else(|p| p.into_inner()).list[id as usize].clone()
    }

    /// Teaches the index the kinds of metrics stored by any process, so
    /// that recording one as another kind fails here too.
    pub fn learn_kinds(&self, kinds: &BTreeMap<String, String>) {
        let mut index = self.series.lock().unwrap_or_else(|p| p.into_inner());
        for (name, kind) in kinds {
            if let Some(kind) = MetricKind::from_name(kind) {
                index.kinds.entry(name.as_str().into()).or_insert(kind);
            }
        }
    }

    /// How many distinct series this handle has recorded.
    pub fn series_count(&self) -> usize {
        self.series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .list
            .len()
    }

    /// Samples recorded through this handle, ever, and those not yet
    /// persisted (in shards or in the batch).
    pub fn figures(&self) -> (u64, u64) {
        let shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        let in_shards: u64 = shards.iter().map(|s| s.lock().pending).sum();
        let batch = self.buffer.lock().samples;
        (
            self.drained.load(Ordering::Relaxed) + in_shards,
            in_shards + batch,
        )
    }

    /// Moves everything the shards and the flag counters hold into the
    /// batch. Shards of threads that ended are dropped once drained.
    fn drain(&self) {
        let list = || {
            self.series
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .list
                .clone()
        };
        let mut index = list();
        let mut rows = MetricRows::default();
        {
            let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
            for shard in shards.iter() {
                let mut data = shard.lock();
                let data = &mut *data;
                // A series registered since the index was copied (another
                // thread's first sample of it): copy it again. The shard is
                // locked, so its slots cannot name a newer one.
                if data.slots.iter().any(|s| s.series as usize >= index.len()) {
                    index = list();
                }
                for (series, window, stats) in data.closed.drain(..) {
                    rows.add_window(&index[series as usize], window, stats);
                }
                for slot in &mut data.slots {
                    if let Some(stats) = slot.stats.take() {
                        rows.add_window(&index[slot.series as usize], slot.window, stats);
                    }
                }
                for (series, value, at) in data.raw.drain(..) {
                    rows.raw.push((index[series as usize].clone(), value, at));
                }
                rows.samples += data.pending;
                self.drained.fetch_add(data.pending, Ordering::Relaxed);
                data.pending = 0;
            }
            // Only the handle holds the shard of a thread that ended; it
            // goes once empty. A thread can record into its shard after the
            // loop above drained it and then end: that shard is kept for
            // the next drain, or those samples would be lost.
            shards.retain(|s| Arc::strong_count(s) > 1 || s.lock().pending > 0);
        }
        rows.usage = self.usage.drain(crate::clock::now_ms());
        if !rows.is_empty() {
            let mut batch = self.buffer.lock();
            batch.append(rows);
            self.buffer.note_len(&batch);
        }
    }
}

#[cold]
fn kind_mismatch(name: &str, known: MetricKind, asked: MetricKind) -> Error {
    Error::invalid_argument(format!(
        "metric `{name}` is a {}, not a {}; record it as a {} or choose another name; nothing was recorded",
        known.as_str(),
        asked.as_str(),
        known.as_str()
    ))
}

impl Flush for MetricLog {
    fn flush(&self, store: &Store) -> Result<()> {
        self.drain();
        let start = std::time::Instant::now();
        let result = self.buffer.flush(store);
        self.flush_micros
            .store(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        result
    }
}

/// Monitoring records waiting to be persisted: windows by series, raw
/// samples, flag usage.
#[derive(Default)]
pub(crate) struct MetricRows {
    /// Windows by (name, tags, window start), merged in memory first.
    windows: PendingWindows,
    raw: Vec<(SeriesKey, f64, i64)>,
    usage: UsageDrain,
    /// How many samples the windows hold.
    samples: u64,
}

impl MetricRows {
    fn add_window(&mut self, key: &SeriesKey, window: i64, stats: WindowStats) {
        match self
            .windows
            .entry((key.name.clone(), key.tags.clone(), window))
        {
            std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().1.merge(&stats),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert((key.kind, stats));
            }
        }
    }
}

impl Rows for MetricRows {
    fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.raw.is_empty() && self.usage.is_empty()
    }

    fn len(&self) -> usize {
        self.samples as usize
    }

    fn append(&mut self, newer: MetricRows) {
        for ((name, tags, window), (kind, stats)) in newer.windows {
            let key = SeriesKey { name, tags, kind };
            self.add_window(&key, window, stats);
        }
        self.raw.extend(newer.raw);
        self.usage.append(newer.usage);
        self.samples += newer.samples;
    }

    /// Merges each window into the stored one and adds it to the series'
    /// totals; appends raw samples; adds flag usage.
    fn persist(&self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        let now = crate::clock::now_ms();
        let mut ids: HashMap<(Arc<str>, Arc<str>), i64> = HashMap::new();
        let mut id_of = |name: &Arc<str>, tags: &Arc<str>, kind: MetricKind| -> Result<i64> {
            let key = (name.clone(), tags.clone());
            if let Some(id) = ids.get(&key) {
                return Ok(*id);
            }
            let id = sql::series_id(tx, name, tags, kind.as_str(), now)?.0;
            ids.insert(key, id);
            Ok(id)
        };
        let mut totals: HashMap<i64, WindowStats> = HashMap::new();
        for ((name, tags, window), (kind, stats)) in &self.windows {
            let id = id_of(name, tags, *kind)?;
            sql::merge_window(tx, id, MINUTE_MS, *window, stats)?;
            totals.entry(id).or_default().merge(stats);
        }
        for (id, stats) in &totals {
            sql::add_to_series(tx, *id, stats)?;
        }
        if !self.raw.is_empty() {
            let mut rows = Vec::with_capacity(self.raw.len());
            for (key, value, at) in &self.raw {
                rows.push((id_of(&key.name, &key.tags, key.kind)?, *value, *at));
            }
            sql::insert_samples(tx, &rows)?;
        }
        self.usage.persist(tx, now)
    }
}
