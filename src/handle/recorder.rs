//! The recorder's generic part: a buffer of one subsystem's rows, persisted
//! in one transaction every `flush_interval_ms` (and on `flush` and close).
//! A crash loses at most one interval of records and never corrupts the file.
//!
//! Each subsystem that records data owns its row type (a [`Rows`]), its
//! tables and its fold; the buffer, the ordering of flushes and the retry of
//! a failed batch are written here once.

use std::sync::{Mutex, MutexGuard};

use crate::error::Result;
use crate::store::Store;

/// A subsystem's batch of records waiting to be persisted.
pub(crate) trait Rows: Default + Send {
    fn is_empty(&self) -> bool;
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
}

impl<R: Rows> Default for Buffer<R> {
    fn default() -> Self {
        Buffer {
            rows: Mutex::default(),
            flushing: Mutex::default(),
        }
    }
}

impl<R: Rows> Buffer<R> {
    /// The batch, to append to. A poisoned lock only means another thread
    /// panicked while appending; the batch is still whole.
    pub fn lock(&self) -> MutexGuard<'_, R> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
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
        let batch = std::mem::take(&mut *self.lock());
        if batch.is_empty() {
            return Ok(());
        }
        match store.write(|tx| batch.persist(tx)) {
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
