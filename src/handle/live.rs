//! The live configuration snapshot and the watcher thread that reloads it
//! when another process (the CLI flipping a kill switch) changes the database.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;

use super::Inner;
use crate::error::Result;
use crate::experiments::ExperimentSet;
use crate::feedback::Triage;
use crate::flags::{FlagId, FlagSet};
use crate::store;

/// One immutable, compiled configuration. Evaluations read it without locks.
pub(crate) struct Live {
    /// The configuration revision of the database it was built from.
    pub revision: i64,
    pub flags: Part<FlagSet>,
    /// The flag of each flag-handle id in this snapshot (None: deleted, or
    /// not deployed yet).
    pub flag_handles: Box<[Option<FlagId>]>,
    pub experiments: Part<ExperimentSet>,
    /// The rules that triage a feedback submission.
    pub feedback: Part<Triage>,
}

/// One subsystem's compiled configuration in a snapshot, with the last
/// change (audit-log id) of its kind that it was built from: a reload
/// rebuilds only the parts whose kind changed (a flag flip reuses the
/// experiments, whose pins can be many rows to read).
pub(crate) struct Part<T> {
    value: Arc<T>,
    change: i64,
}

impl<T: Default> Part<T> {
    fn empty() -> Part<T> {
        Part {
            value: Arc::default(),
            change: -1,
        }
    }
}

impl<T> Part<T> {
    /// This part again if nothing of `kind` changed since it was built,
    /// else a new one from `build`.
    fn reload(
        &self,
        conn: &rusqlite::Connection,
        kinds: &[&str],
        build: impl FnOnce() -> Result<T>,
    ) -> Result<Part<T>> {
        let mut change = -1;
        for kind in kinds {
            change = change.max(store::audit::last_change_of(conn, kind)?);
        }
        if change == self.change {
            return Ok(self.clone());
        }
        Ok(Part {
            value: Arc::new(build()?),
            change,
        })
    }
}

impl<T> Clone for Part<T> {
    fn clone(&self) -> Self {
        Part {
            value: self.value.clone(),
            change: self.change,
        }
    }
}

impl<T> std::ops::Deref for Part<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl Live {
    pub fn empty() -> Live {
        Live {
            revision: -1,
            flags: Part::empty(),
            flag_handles: Box::new([]),
            experiments: Part::empty(),
            feedback: Part::empty(),
        }
    }

    fn with_handles(&self, names: &[Box<str>]) -> Live {
        Live {
            revision: self.revision,
            flags: self.flags.clone(),
            flag_handles: names.iter().map(|n| self.flags.lookup(n)).collect(),
            experiments: self.experiments.clone(),
            feedback: self.feedback.clone(),
        }
    }
}

/// How many handles' snapshots a thread keeps cached at once.
const CACHED_HANDLES: usize = 4;

type SnapshotCache = arc_swap::Cache<Arc<ArcSwap<Live>>, Arc<Live>>;
type SnapshotSlots = RefCell<[Option<SnapshotCache>; CACHED_HANDLES]>;

thread_local! {
    /// Each thread's cached snapshots, most recently added first. A cache
    /// keeps its snapshot (and the handle's `ArcSwap`, not the handle) alive
    /// until the handle changes configuration and the thread checks a flag
    /// again, the slot is reused, or the thread ends.
    static SNAPSHOTS: SnapshotSlots = const { RefCell::new([const { None }; CACHED_HANDLES]) };
}

impl Inner {
    /// Calls `f` with the live snapshot: the flag checks' way to read it.
    ///
    /// Why not `self.live.load()`: that takes and releases a slot of
    /// arc-swap's debt list, two atomic read-modify-writes per check. A
    /// thread's `arc_swap::Cache` only compares the shared pointer with the
    /// one it holds, a plain load, and loads again when they differ, so a
    /// new snapshot (another process's change, reloaded by the watcher) is
    /// still seen on the next call.
    ///
    /// `f` is called exactly once, so it may move what it captured (a
    /// typed getter's default): no `Option` or `Cell` around it, whose
    /// copies through the stack stalled the CPU.
    #[inline]
    pub(crate) fn with_live<R>(&self, f: impl FnOnce(&Live) -> R) -> R {
        // The thread's cache, unless the thread is ending (its cache is
        // gone) or the cache is busy (`f` itself checks a flag): then the
        // snapshot is loaded uncached.
        if let Ok(slots) = SNAPSHOTS.try_with(|slots| slots as *const SnapshotSlots) {
            // SAFETY: the thread-local of this thread, alive for the rest
            // of this call: `try_with` found it not destroyed, and it is
            // destroyed only when this thread ends, which it cannot do
            // while running this call.
            let slots = unsafe { &*slots };
            if let Ok(mut slots) = slots.try_borrow_mut() {
                let found = slots.iter().position(|slot| {
                    slot.as_ref()
                        .is_some_and(|cache| std::ptr::eq(cache.arc_swap(), &*self.live))
                });
                let index = found.unwrap_or_else(|| {
                    slots.rotate_right(1);
                    slots[0] = Some(arc_swap::Cache::new(self.live.clone()));
                    0
                });
                if let Some(cache) = slots[index].as_mut() {
                    return f(cache.load());
                }
            }
        }
        f(&self.live.load())
    }

    /// Reloads after this handle committed a change. The change is stored
    /// whatever happens here, so a failed reload (a locked database) is not
    /// the caller's error: the background thread tries again within
    /// `refresh_interval_ms`.
    pub(crate) fn reload_after_commit(&self) {
        let _ = self.reload();
    }

    /// Whether the configuration revision in the database differs from the
    /// live snapshot's (one small read).
    pub(crate) fn config_changed(&self) -> Result<bool> {
        let revision = store::audit::config_revision(&self.store.conn())?;
        Ok(revision != self.live.load().revision)
    }

    /// Rebuilds the snapshot if the configuration revision in the database
    /// differs from the live one, each subsystem's part only if its kind
    /// changed. A configuration that no longer compiles (written by another
    /// version) leaves the last good snapshot in place and reports the error.
    pub(crate) fn reload(&self) -> Result<()> {
        // Holding the connection serialises reloads with each other and with writes.
        let conn = self.store.conn();
        let revision = store::audit::config_revision(&conn)?;
        let current = self.live.load();
        if revision == current.revision {
            return Ok(());
        }
        let live = Live {
            revision,
            flags: current.flags.reload(
                &conn,
                &[super::flags::KIND, super::flags::SEGMENT_KIND],
                || super::flags::compile(&conn),
            )?,
            flag_handles: Box::new([]),
            experiments: current
                .experiments
                .reload(&conn, &[store::experiments::KIND], || {
                    self.compile_experiments(&conn)
                })?,
            feedback: current
                .feedback
                .reload(&conn, &[store::feedback::KIND], || {
                    super::feedback::compile(&conn)
                })?,
        };
        let names = self.flag_handles.lock().unwrap_or_else(|p| p.into_inner());
        self.live.store(Arc::new(live.with_handles(&names)));
        Ok(())
    }

    /// The id of a flag handle for `name`, registering it if new.
    pub(crate) fn flag_handle(&self, name: &str) -> u32 {
        let mut names = self.flag_handles.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = names.iter().position(|n| &**n == name) {
            return i as u32;
        }
        names.push(name.into());
        let live = self.live.load();
        self.live.store(Arc::new(live.with_handles(&names)));
        (names.len() - 1) as u32
    }
}

/// What the watcher thread waits on: its next tick, a stop, or a buffer
/// past half its bound asking to be persisted now (so that a recording
/// thread at full speed rarely has to persist a full buffer itself).
#[derive(Default)]
pub(crate) struct Signal {
    state: Mutex<SignalState>,
    cvar: Condvar,
    /// A flush was asked for and has not begun: recording threads past
    /// the half mark ask once, not on every record.
    asked: AtomicBool,
}

#[derive(Default)]
struct SignalState {
    stopped: bool,
    flush_now: bool,
}

impl Signal {
    /// Asks the watcher to flush now rather than at its next interval.
    pub fn flush_soon(&self) {
        if !self.asked.load(Ordering::Relaxed) {
            self.ask();
        }
    }

    #[cold]
    fn ask(&self) {
        if !self.asked.swap(true, Ordering::Relaxed) {
            self.state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .flush_now = true;
            self.cvar.notify_all();
        }
    }

    fn stop(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).stopped = true;
        self.cvar.notify_all();
    }
}

/// The background thread: it polls the configuration revision every
/// `refresh_interval_ms` and persists the recorder's buffer every
/// `flush_interval_ms` (sooner when asked, see [`Signal`]). It holds only a
/// weak reference, so it never keeps a closed handle alive.
pub(crate) struct Watcher {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    pub fn spawn(inner: &Arc<Inner>) -> Watcher {
        let weak: Weak<Inner> = Arc::downgrade(inner);
        let refresh = Duration::from_millis(inner.options.refresh_interval_ms);
        let flush = Duration::from_millis(inner.options.flush_interval_ms);
        let interval = refresh.min(flush);
        let signal = inner.signal.clone();
        let thread = std::thread::Builder::new()
            .name("cha-watcher".into())
            .spawn(move || {
                let start = std::time::Instant::now();
                let (mut next_refresh, mut next_flush) = (refresh, flush);
                let mut next_prune: Option<Duration> = None;
                loop {
                    let state = signal.state.lock().unwrap_or_else(|p| p.into_inner());
                    let (mut state, _) = signal
                        .cvar
                        .wait_timeout_while(state, interval, |s| !s.stopped && !s.flush_now)
                        .unwrap_or_else(|p| p.into_inner());
                    if state.stopped {
                        return;
                    }
                    let asked = std::mem::take(&mut state.flush_now);
                    drop(state);
                    let Some(inner) = weak.upgrade() else { return };
                    let now = start.elapsed();
                    // Failures (a locked database) keep the last good snapshot
                    // and the buffered records; the next tick tries again.
                    if now >= next_refresh {
                        // On a change, stored exposures first: a reload that
                        // finds a changed split pins every unit stored by then,
                        // this handle's included.
                        if inner.config_changed().unwrap_or(true) {
                            let _ = inner.flush();
                            let _ = inner.reload_noted();
                        } else {
                            // The store answers again and nothing changed.
                            inner.clear_refresh_failure();
                        }
                        next_refresh = now + refresh;
                    }
                    if asked || now >= next_flush {
                        // Records past the half mark from here on ask again.
                        signal.asked.store(false, Ordering::Relaxed);
                    }
                    if asked && now < next_flush {
                        // Only while flushes succeed: a retry waits for the
                        // interval.
                        if inner.flush_asked() {
                            inner.after_flush();
                        }
                    } else if now >= next_flush {
                        if inner.flush().is_ok() {
                            inner.after_flush();
                        }
                        // Retention scans raw rows: once an hour is plenty.
                        if next_prune.is_none_or(|t| now >= t) {
                            inner.hourly(crate::clock::now_ms());
                            next_prune = Some(now + Duration::from_secs(3600));
                        }
                        next_flush = now + flush;
                    }
                }
            })
            .ok();
        Watcher {
            signal: inner.signal.clone(),
            thread,
        }
    }

    /// Stops the thread and waits for it, unless called from the thread
    /// itself (when it held the last reference to the handle).
    pub fn stop(mut self) {
        self.signal.stop();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}
