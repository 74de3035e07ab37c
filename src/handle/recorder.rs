//! The recorder's generic part: a buffer of one subsystem's rows, persisted
//! in one transaction every `flush_interval_ms` (and on `flush` and close).
//! A crash loses at most one interval of records and never corrupts the file.
//!
//! Each subsystem that records data owns its row type (a [`Rows`]), its
//! tables and its fold; the buffer, the ordering of flushes, the retry of
//! a failed batch and the bound on what waits ([`Backlog`]) are written
//! here once.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;

/// A subsystem's batch of records waiting to be persisted.
pub(crate) trait Rows: Default + Send {
    fn is_empty(&self) -> bool;
    /// How many records the batch holds (what [`Backlog`] bounds).
    fn len(&self) -> usize;
    /// Appends `newer` after this batch's records, keeping their order: a
    /// failed flush puts its batch back in front of what came since.
    fn append(&mut self, newer: Self);
    /// Writes the batch inside `tx`.
    fn persist(&self, tx: &rusqlite::Transaction<'_>) -> Result<()>;
}

/// The rows of one subsystem waiting to be persisted.
pub(crate) struct Buffer<R> {
    rows: Mutex<R>,
    /// Serialises flushes so that batches land in order.
    flushing: Mutex<()>,
    /// How many records `rows` held when last changed: read without the
    /// lock by the hot paths' check of the bound.
    held: AtomicUsize,
    /// How many records the flush under way took: still unpersisted, so
    /// still counted against the bound (else every failing retry of a
    /// flush would let in another bound's worth).
    in_flight: AtomicUsize,
    /// Whether the last flush of this buffer failed, set before its flush
    /// lock is let go.
    last_failed: AtomicBool,
}

impl<R: Rows> Default for Buffer<R> {
    fn default() -> Self {
        Buffer {
            rows: Mutex::default(),
            flushing: Mutex::default(),
            held: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            last_failed: AtomicBool::new(false),
        }
    }
}

impl<R: Rows> Buffer<R> {
    /// The batch, to append to. A poisoned lock only means another thread
    /// panicked while appending; the batch is still whole. Whoever appends
    /// calls [`Buffer::note_len`] before letting go of it.
    pub fn lock(&self) -> MutexGuard<'_, R> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records how many records the batch now holds (under its lock).
    pub fn note_len(&self, rows: &R) {
        self.held.store(rows.len(), Ordering::Relaxed);
    }

    /// Waits for the flush under way, if one is: what it took is then
    /// persisted (room made) or back in the buffer. Returns whether one was.
    #[cold]
    pub fn wait_for_flush(&self) -> bool {
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            return false;
        }
        drop(self.flushing.lock().unwrap_or_else(|p| p.into_inner()));
        true
    }

    /// How many records wait unpersisted, as last noted: those buffered
    /// and those a flush under way took.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed) + self.in_flight.load(Ordering::Relaxed)
    }
}

/// A buffer that can be persisted, whatever its row type: the handle
/// flushes its subsystems' buffers through this.
pub(crate) trait Flush: Sync {
    /// Persists everything buffered in one transaction. On failure the
    /// batch goes back to the front of the buffer, to be tried again.
    fn flush(&self, store: &Store) -> Result<()>;
}

impl<R: Rows> Flush for Buffer<R> {
    fn flush(&self, store: &Store) -> Result<()> {
        let _order = self.flushing.lock().unwrap_or_else(|p| p.into_inner());
        self.flush_in_order(store)
    }
}

impl<R: Rows> Buffer<R> {
    /// Flushes unless another flush is under way or this buffer's last
    /// flush failed (judged under the flush lock, so a failure that ended
    /// just before counts): the flush a recording thread asks for early,
    /// which must not turn into a retry. None when it did not flush.
    pub fn flush_if_sound(&self, store: &Store) -> Option<Result<()>> {
        let _order = match self.flushing.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        if self.last_failed.load(Ordering::Relaxed) {
            return None;
        }
        Some(self.flush_in_order(store))
    }

    /// The flush itself; the caller holds `flushing`.
    fn flush_in_order(&self, store: &Store) -> Result<()> {
        let batch = {
            let mut rows = self.lock();
            let batch = std::mem::take(&mut *rows);
            self.in_flight.store(batch.len(), Ordering::Relaxed);
            self.note_len(&rows);
            batch
        };
        if batch.is_empty() {
            return Ok(());
        }
        let result = store.write(|tx| batch.persist(tx));
        let mut current = self.lock();
        if result.is_err() {
            let newer = std::mem::replace(&mut *current, batch);
            current.append(newer);
            self.note_len(&current);
        }
        self.in_flight.store(0, Ordering::Relaxed);
        self.last_failed.store(result.is_err(), Ordering::Relaxed);
        result
    }
}

/// Flushes every buffer of `buffers`, in order; all are tried, and the first
/// failure is returned.
pub(crate) fn flush_all(store: &Store, buffers: &[&dyn Flush]) -> Result<()> {
    let mut first = Ok(());
    for buffer in buffers {
        let result = buffer.flush(store);
        if first.is_ok() {
            first = result;
        }
    }
    first
}

/// The bound on what a handle holds unpersisted, and what became of the
/// last flush. Without it a store that cannot be written (a full disk) let
/// every record call succeed while memory grew without limit.
///
/// Each buffer holds at most `limit` records (metric samples: each
/// recording thread's share too), give or take one per thread racing past
/// the check. A record that finds its buffer full while the last flush
/// failed is refused ([`ErrorKind::Busy`] while the store was only locked,
/// [`ErrorKind::Storage`] otherwise); while flushes succeed, the recording
/// thread persists the buffer itself and goes on (back-pressure, never a
/// refusal).
pub(crate) struct Backlog {
    pub limit: usize,
    /// Whether the last flush failed: one load on the hot paths' slow path.
    failing: AtomicBool,
    failure: Mutex<Option<BackgroundError>>,
    /// Record calls refused because their buffer was full.
    refused: AtomicU64,
    /// Exposures of flag checks not kept because the buffer was full (a
    /// flag check always answers, so it cannot refuse).
    dropped_exposures: AtomicU64,
}

/// A failure of work the caller did not wait for (a background flush, a
/// reload), kept for [`crate::Cha::health`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BackgroundError {
    /// `CHA_ERR_STORAGE`, `CHA_ERR_BUSY`, ...
    pub status: &'static str,
    pub message: String,
    /// When it last failed, and since when it has failed without a success
    /// in between (epoch ms).
    pub at_ms: i64,
    pub since_ms: i64,
    /// Failures in a row.
    pub failures: u64,
}

impl BackgroundError {
    /// Records `e` into `slot`: a new streak or one more failure of it.
    pub(crate) fn note(slot: &Mutex<Option<BackgroundError>>, e: &Error) {
        let now = crate::clock::now_ms();
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        let (since_ms, failures) = slot
            .as_ref()
            .map_or((now, 1), |f| (f.since_ms, f.failures + 1));
        *slot = Some(BackgroundError {
            status: e.kind().status_name(),
            message: e.message().to_string(),
            at_ms: now,
            since_ms,
            failures,
        });
    }
}

impl Backlog {
    pub fn new(limit: usize) -> Backlog {
        Backlog {
            limit,
            failing: AtomicBool::new(false),
            failure: Mutex::new(None),
            refused: AtomicU64::new(0),
            dropped_exposures: AtomicU64::new(0),
        }
    }

    /// Notes the outcome of a flush of every buffer.
    pub fn note_flush(&self, result: &Result<()>) {
        match result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
            }
            Err(e) => {
                BackgroundError::note(&self.failure, e);
                self.failing.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Whether the last flush failed.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// The last flush's failure, if it failed.
    pub fn failure(&self) -> Option<BackgroundError> {
        if !self.failing.load(Ordering::Relaxed) {
            return None;
        }
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes room in a full buffer: refuses while the last flush failed
    /// (its retry is pending on the background thread), else runs `flush`
    /// on the calling thread. `what` names the buffer for the message.
    #[cold]
    pub fn make_room(&self, what: &str, flush: impl FnOnce() -> Result<()>) -> Result<()> {
        let failure = match self.failure() {
            Some(f) => Error::new(
                if f.status == ErrorKind::Busy.status_name() {
                    ErrorKind::Busy
                } else {
                    ErrorKind::Storage
                },
                f.message,
            ),
            None => match flush() {
                Ok(()) => return Ok(()),
                Err(e) => e,
            },
        };
        Err(self.refuse(Error::new(
            failure.kind(),
            format!(
                "{what} not recorded: {} records wait unpersisted (the limit, \
                 max_buffered_records) and the last flush failed: {}",
                self.limit,
                failure.message()
            ),
        )))
    }

    /// Counts a refused record call, and gives back its error.
    pub fn refuse(&self, e: Error) -> Error {
        self.refused.fetch_add(1, Ordering::Relaxed);
        e
    }

    pub fn note_dropped_exposure(&self) {
        self.dropped_exposures.fetch_add(1, Ordering::Relaxed);
    }

    /// Record calls refused, and flag-check exposures dropped, so far.
    pub fn losses(&self) -> (u64, u64) {
        (
            self.refused.load(Ordering::Relaxed),
            self.dropped_exposures.load(Ordering::Relaxed),
        )
    }
}
