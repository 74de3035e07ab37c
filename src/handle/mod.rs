//! [`Cha`], the handle: it owns the store, the live configuration snapshot
//! and the watcher that keeps that snapshot current.

pub(crate) mod experiments;
pub(crate) mod feedback;
pub(crate) mod flags;
pub(crate) mod guardrails;
pub(crate) mod health;
mod live;
pub(crate) mod monitoring;
pub(crate) mod recorder;
pub(crate) mod segments;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::error::Result;
use crate::options::OpenOptions;
use crate::store::definitions::StoredDefinition;
use crate::store::{Store, StoreInfo};
use recorder::Flush;

pub use experiments::{
    Archived, ArchivedExperiment, AssignedVariant, AssignmentReport, ExperimentDetails,
    ExperimentRecord, VariantAssignment,
};
pub use feedback::{
    FeedbackAnalysisOptions, FeedbackEvent, FeedbackExposures, FeedbackItem, FeedbackQuery,
    FeedbackRoute, FeedbackSentiment, FeedbackTransition, FlagExposure,
};
pub(crate) use flags::check_actor;
pub use flags::{FlagChange, FlagEvaluation, FlagRecord, FlagResolution};
pub use guardrails::{GUARDRAIL_ACTOR, GuardEvent};
pub use health::{BackgroundError, BufferedRecords, Health};
pub(crate) use live::Live;
pub use monitoring::alerts::AlertQuery;
pub use monitoring::fold::Retained;
pub use monitoring::system::SYSTEM_METRICS;
pub use monitoring::{AlertCallback, MetricSeries, PerformanceReport, RawSample, RuleStatus};
pub use segments::{ImportReport, ImportedItem, SegmentChange, SegmentRecord};

/// An open database: the one handle through which everything is done.
///
/// `Cha` is `Send + Sync`; one handle may be shared by many threads. Cloning
/// is cheap and gives another reference to the same handle; the database
/// is closed when the last reference goes.
#[derive(Clone)]
pub struct Cha {
    pub(crate) inner: Arc<Inner>,
    /// Shared by the caller's references only (None in the handles the
    /// background threads make for themselves): the last one to go stops
    /// the background threads on the dropping thread.
    #[allow(dead_code)] // held for its Drop
    closer: Option<Arc<Closer>>,
}

/// Closes the handle when the caller's last reference goes. Without it, a
/// background thread holding the handle for its tick at that moment would
/// be the last owner: the threads would stop and the final flush would run
/// on it, after `close` (or `cha_close`) had returned.
struct Closer(Arc<Inner>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

impl Cha {
    /// A handle for the library's own background work: it does not keep
    /// the handle open, nor close it when dropped.
    pub(crate) fn internal(inner: Arc<Inner>) -> Cha {
        Cha {
            inner,
            closer: None,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) options: OpenOptions,
    /// The compiled configuration every evaluation reads; replaced whole.
    /// In an `Arc` of its own so that the per-thread snapshot caches of the
    /// flag checks (see [`Inner::with_live`]) can hold it without holding
    /// the handle (and its database connection) open.
    pub(crate) live: Arc<ArcSwap<Live>>,
    /// Names of the flag handles given out by [`Cha::flag_lookup`], indexed by
    /// handle id. Ids stay valid across reloads: each snapshot maps them anew.
    pub(crate) flag_handles: Mutex<Vec<Box<str>>>,
    /// C strings of variant names handed to C: they live until the handle closes.
    pub(crate) interned: Mutex<std::collections::HashMap<Box<str>, Arc<std::ffi::CStr>>>,
    pub(crate) recorder: Recorder,
    /// Wakes the watcher: to stop, or to flush a buffer past half its bound.
    pub(crate) signal: Arc<live::Signal>,
    watcher: Mutex<Option<live::Watcher>>,
    /// The last failed reload of the snapshot, until one succeeds.
    refresh_failure: Mutex<Option<recorder::BackgroundError>>,
    /// The evaluator and sampler threads, the alert callback.
    pub(crate) monitor: monitoring::Monitor,
}

/// A stored definition with its bookkeeping: [`FlagRecord`],
/// [`ExperimentRecord`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Versioned<T> {
    pub definition: T,
    pub version: i64,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

impl<T: serde::de::DeserializeOwned> Versioned<T> {
    /// Parses a stored row; text that no longer reads is a storage error.
    pub(crate) fn from_stored(stored: StoredDefinition) -> Result<Versioned<T>> {
        Ok(Versioned {
            definition: stored.parse()?,
            version: stored.version,
            updated_at_ms: stored.updated_at_ms,
            updated_by: stored.updated_by,
        })
    }
}

/// What the hot paths record, one buffer per subsystem that records data,
/// and the bound on them.
pub(crate) struct Recorder {
    pub experiments: experiments::record::ExperimentLog,
    pub monitoring: monitoring::record::MetricLog,
    pub backlog: recorder::Backlog,
}

impl Recorder {
    fn new(limit: usize) -> Recorder {
        Recorder {
            experiments: Default::default(),
            monitoring: Default::default(),
            backlog: recorder::Backlog::new(limit),
        }
    }

    /// Every buffer, in the order they are flushed.
    fn buffers(&self) -> [&dyn Flush; 2] {
        [&self.experiments.buffer, &self.monitoring]
    }
}

impl Inner {
    /// Persists every subsystem's buffered records, and notes the outcome
    /// for [`Cha::health`] and the bound on the buffers.
    pub(crate) fn flush(&self) -> Result<()> {
        let result = recorder::flush_all(&self.store, &self.recorder.buffers());
        self.recorder.backlog.note_flush(&result);
        result
    }

    /// The flush a recording thread asked for (its buffer is half full):
    /// the experiments' buffer only, and only if no flush is under way and
    /// its last one succeeded. Returns whether it flushed successfully.
    pub(crate) fn flush_asked(&self) -> bool {
        match self.recorder.experiments.buffer.flush_if_sound(&self.store) {
            Some(result) => {
                self.recorder.backlog.note_flush(&result);
                result.is_ok()
            }
            None => false,
        }
    }

    /// Reloads the snapshot if the configuration changed, and notes the
    /// outcome for [`Cha::health`]; on failure the last good snapshot stays.
    pub(crate) fn reload_noted(&self) -> Result<()> {
        let result = self.reload();
        match &result {
            Ok(()) => self.clear_refresh_failure(),
            Err(e) => recorder::BackgroundError::note(&self.refresh_failure, e),
        }
        result
    }

    pub(crate) fn clear_refresh_failure(&self) {
        *self
            .refresh_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub(crate) fn refresh_failure(&self) -> Option<recorder::BackgroundError> {
        self.refresh_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Before buffering an exposure or an observation: room in the
    /// experiments' buffer (see [`recorder::Backlog`]).
    #[inline]
    pub(crate) fn room_for_experiments(&self, what: impl FnOnce() -> String) -> Result<()> {
        let (held, limit) = (
            self.recorder.experiments.buffer.held(),
            self.recorder.backlog.limit,
        );
        if held < limit / 2 {
            return Ok(());
        }
        // Past half its bound, the watcher is asked to persist the buffer
        // now, so that a recording thread rarely meets it full; not while
        // flushes fail (the watcher retries at its interval).
        if held < limit {
            if !self.recorder.backlog.failing() {
                self.signal.flush_soon();
            }
            return Ok(());
        }
        // Full. A flush under way (the watcher's) makes room when it ends:
        // wait for it rather than flush again on this thread.
        let buffer = &self.recorder.experiments.buffer;
        if buffer.wait_for_flush() && buffer.held() < limit {
            return Ok(());
        }
        self.make_room(&what())
    }

    /// A buffer is full: refuse the record while the last flush failed,
    /// else flush on this thread.
    #[cold]
    pub(crate) fn make_room(&self, what: &str) -> Result<()> {
        self.recorder.backlog.make_room(what, || self.flush())
    }

    /// The background thread's upkeep after a flush: fold what was
    /// persisted. Bounded, so that a backlog never delays a refresh for long.
    fn after_flush(&self) {
        let _ = experiments::fold::fold(&self.store, 100_000);
    }

    /// The background thread's hourly upkeep: retention of raw rows.
    fn hourly(&self, now_ms: i64) {
        let _ = experiments::fold::prune(&self.store, now_ms);
        let _ = self.monitoring_retention(now_ms);
    }
}

impl Cha {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Cha> {
        Self::open_with_options(path, OpenOptions::default())
    }

    /// Opens the database at `path` with `options`, loads the deployed
    /// configuration and starts watching for changes by other processes.
    pub fn open_with_options(path: impl AsRef<Path>, options: OpenOptions) -> Result<Cha> {
        options.validate()?;
        let store = Store::open(path.as_ref(), &options)?;
        let recorder = Recorder::new(options.max_buffered_records as usize);
        let inner = Arc::new(Inner {
            store,
            options,
            live: Arc::new(ArcSwap::from_pointee(Live::empty())),
            flag_handles: Mutex::new(Vec::new()),
            interned: Mutex::new(Default::default()),
            recorder,
            signal: Default::default(),
            watcher: Mutex::new(None),
            refresh_failure: Mutex::new(None),
            monitor: monitoring::Monitor::default(),
        });
        // Once, after the migration to exact moments: rebuilt from the unit
        // totals before anything reads them.
        experiments::fold::rebuild_if_requested(&inner.store)?;
        inner.reload()?;
        let watcher = live::Watcher::spawn(&inner);
        *inner.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(watcher);
        inner.learn_metric_kinds()?;
        monitoring::start(&inner);
        Ok(Cha {
            closer: Some(Arc::new(Closer(inner.clone()))),
            inner,
        })
    }

    /// The path the handle was opened with.
    pub fn path(&self) -> PathBuf {
        self.inner.store.path().to_path_buf()
    }

    /// The options the handle was opened with.
    pub fn options(&self) -> &OpenOptions {
        &self.inner.options
    }

    /// Persists everything recorded so far (exposures, observations);
    /// configuration changes are written at once and need no flush.
    pub fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    /// Flushes and closes this reference to the handle.
    pub fn close(self) -> Result<()> {
        self.flush()
    }

    /// Facts about the database file, for `doctor`.
    pub fn info(&self) -> Result<StoreInfo> {
        self.inner.store.info()
    }

    /// Reloads the configuration now if another process changed it, instead
    /// of waiting up to `refresh_interval_ms` for the watcher.
    pub fn refresh(&self) -> Result<()> {
        // Buffered exposures first, so a changed split pins them too.
        self.flush()?;
        self.inner.reload_noted()
    }
}

impl Inner {
    /// Stops and joins the background threads (each finishes the tick it
    /// is in), then persists what is left. Called once the caller's last
    /// reference is gone; a second call only flushes (nothing).
    fn shutdown(&self) {
        let watcher = self
            .watcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(watcher) = watcher {
            watcher.stop();
        }
        self.monitor.stop();
        // A `Cha` dropped without `close` is persisted here; `close` itself
        // reports a failure, this cannot.
        let _ = self.flush();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Who is making a change when the caller does not say: the login name, found
/// as Python's `getpass.getuser()` finds it (LOGNAME, USER, LNAME, USERNAME,
/// then the password database), so that every surface records the same actor.
pub fn default_actor() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .or_else(password_entry_name)
        .unwrap_or_else(|| "unknown".to_string())
}

/// The name of this process's user in /etc/passwd (Linux: the owner of
/// /proc/self is the process's real user).
fn password_entry_name() -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 2 && fields[2] == uid).then(|| fields[0].to_string())
        })
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Cha>();
    }
}
