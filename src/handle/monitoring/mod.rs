//! Performance monitoring on the handle: recording metrics (in memory, see
//! [`record`]), the evaluator thread (alert rules, callbacks, the system
//! sampler), alerts, reports and the OpenMetrics export.
//!
//! # Threads
//!
//! Every handle has one evaluator thread (`cha-monitor`). Once a second it
//! evaluates the rules that are due (unless the handle was opened with
//! `evaluate_alerts: false`), hands new alert events to the callback, and
//! starts or stops the system sampler (`cha-sampler`) as the handle's
//! options and the deployed settings say. Rule state lives in the database,
//! and each evaluation is one transaction: several processes evaluating the
//! same rules make each transition once. Callbacks receive every event
//! stored after they were set, whichever process evaluated.

pub(crate) mod alerts;
pub(crate) mod fold;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod system;
pub(crate) mod usage;

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use super::{Cha, Inner};
use crate::config::performance_monitoring::SETTINGS_NAME;
use crate::error::Result;
use crate::monitoring::alerts::AlertEvent;
use crate::monitoring::model::{MetricKind, MonitoringSettings, ThresholdRule};
use crate::store::{audit, definitions, monitoring as sql};

pub use report::{MetricSeries, PerformanceReport, RuleStatus};
pub use sql::RawSample;

/// What a callback is given: every alert event, once, on the evaluator
/// thread.
pub type AlertCallback = dyn Fn(&AlertEvent) + Send + Sync;

/// How often the evaluator thread wakes.
const TICK: Duration = Duration::from_secs(1);

/// The deployed monitoring configuration: the rules and the settings.
#[derive(Debug, Default)]
pub(crate) struct MonitoringConfig {
    pub settings: MonitoringSettings,
    pub rules: Vec<ThresholdRule>,
}

/// The monitoring state of a handle beside its recorder.
#[derive(Default)]
pub(crate) struct Monitor {
    callback: Mutex<Option<Arc<AlertCallback>>>,
    /// Held while a callback runs, so that replacing it waits for the call.
    calling: Mutex<()>,
    /// The last event id handed to the callback.
    delivered: Mutex<i64>,
    /// The configuration, with the audit id of the last change it saw.
    config: Mutex<(i64, Arc<MonitoringConfig>)>,
    threads: Mutex<Option<Threads>>,
    evaluator: Mutex<Option<ThreadId>>,
    /// When the guarded rollouts were last checked (epoch ms).
    guards_checked_ms: std::sync::atomic::AtomicI64,
}

struct Stopper {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Stopper {
    fn spawn(
        name: &str,
        every: Duration,
        mut tick: impl FnMut() -> bool + Send + 'static,
    ) -> Stopper {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                loop {
                    let (lock, cvar) = &*signal;
                    let stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                    let (stopped, _) = cvar
                        .wait_timeout_while(stopped, every, |s| !*s)
                        .unwrap_or_else(|p| p.into_inner());
                    if *stopped {
                        return;
                    }
                    drop(stopped);
                    if !tick() {
                        return;
                    }
                }
            })
            .ok();
        Stopper { stop, thread }
    }

    /// Stops the thread and waits for it, unless called from it.
    fn stop(mut self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cvar.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

struct Threads {
    evaluator: Stopper,
    /// The sampler and its interval, while one runs.
    sampler: Arc<Mutex<Option<(u64, Stopper)>>>,
}

/// Starts the evaluator thread of `inner`. It holds only a weak reference.
pub(crate) fn start(inner: &Arc<Inner>) {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let sampler: Arc<Mutex<Option<(u64, Stopper)>>> = Arc::default();
    let sampler_slot = sampler.clone();
    let evaluator = Stopper::spawn("cha-monitor", TICK, move || {
        let Some(inner) = weak.upgrade() else {
            return false;
        };
        *inner
            .monitor
            .evaluator
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(std::thread::current().id());
        inner.monitor_tick(&sampler_slot);
        true
    });
    *inner
        .monitor
        .threads
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(Threads { evaluator, sampler });
}

impl Monitor {
    /// Stops the evaluator and the sampler.
    pub(crate) fn stop(&self) {
        let threads = self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(t) = threads {
            t.evaluator.stop();
            if let Some((_, s)) = t.sampler.lock().unwrap_or_else(|p| p.into_inner()).take() {
                s.stop();
            }
        }
    }
}

impl Inner {
    /// Teaches the recorder the kinds of the metrics already stored.
    pub(crate) fn learn_metric_kinds(&self) -> Result<()> {
        let kinds = sql::metric_kinds(&self.store.conn())?;
        self.recorder.monitoring.learn_kinds(&kinds);
        Ok(())
    }

    /// The deployed monitoring configuration, read again only when its
    /// definitions changed.
    pub(crate) fn monitoring_config(&self) -> Result<Arc<MonitoringConfig>> {
        let conn = self.store.conn();
        let change = audit::last_change_of(&conn, sql::KIND)?;
        let mut cached = self
            .monitor
            .config
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cached.0 == change && change >= 0 {
            return Ok(cached.1.clone());
        }
        let mut config = MonitoringConfig::default();
        for stored in definitions::load(&conn, sql::KIND)? {
            if stored.name == SETTINGS_NAME {
                config.settings = stored.parse()?;
            } else {
                config.rules.push(stored.parse()?);
            }
        }
        let config = Arc::new(config);
        *cached = (change, config.clone());
        Ok(config)
    }

    /// One tick of the evaluator thread. Failures (a locked database) are
    /// tried again at the next tick.
    fn monitor_tick(self: &Arc<Self>, sampler: &Arc<Mutex<Option<(u64, Stopper)>>>) {
        let Ok(config) = self.monitoring_config() else {
            return;
        };
        self.recorder.monitoring.keep_raw.store(
            config.settings.retention.raw_samples_hours > 0,
            std::sync::atomic::Ordering::Relaxed,
        );
        self.manage_sampler(&config.settings, sampler);
        if self.options.evaluate_alerts {
            let now = crate::clock::now_ms();
            let _ = self.evaluate_alerts(now, true);
            // The guarded rollouts look at the alerts just evaluated.
            let checked = &self.monitor.guards_checked_ms;
            let last = checked.load(std::sync::atomic::Ordering::Relaxed);
            if now - last >= crate::handle::guardrails::CHECK_EVERY_MS || now < last {
                checked.store(now, std::sync::atomic::Ordering::Relaxed);
                let cha = crate::handle::Cha::internal(self.clone());
                let _ = cha.check_guardrails_at(now);
            }
        }
        let _ = self.deliver_alert_events();
    }

    /// Starts, stops or restarts the sampler to match the handle's option
    /// or, without one, the deployed settings.
    fn manage_sampler(
        self: &Arc<Self>,
        settings: &MonitoringSettings,
        slot: &Arc<Mutex<Option<(u64, Stopper)>>>,
    ) {
        let wanted = match self.options.system_metrics_interval_ms {
            Some(ms) => ms,
            None if settings.system_metrics.enabled => {
                u64::from(settings.system_metrics.interval_seconds) * 1000
            }
            None => 0,
        };
        let mut current = slot.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().map_or(0, |(ms, _)| *ms) == wanted {
            return;
        }
        if let Some((_, s)) = current.take() {
            s.stop();
        }
        if wanted > 0 {
            *current = Some((wanted, system::spawn(self, Duration::from_millis(wanted))));
        }
    }

    /// Hands every event stored since the last call to the callback, if
    /// one is set.
    fn deliver_alert_events(&self) -> Result<()> {
        let Some(callback) = self
            .monitor
            .callback
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return Ok(());
        };
        let _calling = self
            .monitor
            .calling
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut delivered = self
            .monitor
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            let events = sql::events_after(&self.store.conn(), *delivered, 1000)?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(());
            };
            for event in &events {
                // A panicking callback must not end the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(event)));
            }
            *delivered = last;
        }
    }
}

impl Cha {
    #[inline(always)]
    fn record_kind(
        &self,
        kind: MetricKind,
        name: &str,
        value: f64,
        tags: Option<&str>,
        at_ms: i64,
    ) -> Result<()> {
        record::check_value(kind, name, value)?;
        let stored = if kind == MetricKind::Timer {
            value * 1000.0
        } else {
            value
        };
        let record = || {
            self.inner.recorder.monitoring.record(
                kind,
                name,
                tags,
                stored,
                at_ms,
                self.inner.options.metric_series_limit as usize,
                self.inner.recorder.backlog.limit,
            )
        };
        if record()? {
            return Ok(());
        }
        self.inner.make_room(&format!("metric `{name}`"))?;
        // Room was made; a buffer filled again at once by other threads
        // is the store not keeping up: refused as busy.
        if record()? {
            return Ok(());
        }
        Err(self.inner.recorder.backlog.refuse(crate::error::Error::new(
            crate::error::ErrorKind::Busy,
            format!(
                "metric `{name}` not recorded: the recorder's buffer filled again while it was flushed"
            ),
        )))
    }

    /// Records a duration of `seconds` of timer `name`, stored in
    /// milliseconds (as the seed's `record_timer`), with `tags` (a JSON
    /// object, or None). In memory; persisted within `flush_interval_ms`.
    ///
    /// # Errors
    /// `InvalidArgument` for a negative or non-finite duration, a bad name
    /// or tags, a metric of another kind, or a new series past
    /// `metric_series_limit`; nothing is recorded then.
    #[inline]
    pub fn record_timer(&self, name: &str, seconds: f64, tags: Option<&str>) -> Result<()> {
        self.record_kind(
            MetricKind::Timer,
            name,
            seconds,
            tags,
            crate::clock::now_ms_coarse(),
        )
    }

    /// Records `value` of the histogram `name` (any distribution: sizes,
    /// iterations, costs).
    ///
    /// # Errors
    /// As [`Cha::record_timer`], for a non-finite value.
    #[inline]
    pub fn record_metric(&self, name: &str, value: f64, tags: Option<&str>) -> Result<()> {
        self.record_kind(
            MetricKind::Histogram,
            name,
            value,
            tags,
            crate::clock::now_ms_coarse(),
        )
    }

    /// Adds `by` (≥ 0) to the counter `name`.
    ///
    /// # Errors
    /// As [`Cha::record_timer`], for a negative or non-finite `by`.
    #[inline]
    pub fn increment(&self, name: &str, by: f64, tags: Option<&str>) -> Result<()> {
        self.record_kind(
            MetricKind::Counter,
            name,
            by,
            tags,
            crate::clock::now_ms_coarse(),
        )
    }

    /// Sets the gauge `name` to `value`.
    ///
    /// # Errors
    /// As [`Cha::record_timer`], for a non-finite value.
    #[inline]
    pub fn gauge(&self, name: &str, value: f64, tags: Option<&str>) -> Result<()> {
        self.record_kind(
            MetricKind::Gauge,
            name,
            value,
            tags,
            crate::clock::now_ms_coarse(),
        )
    }

    /// Records a sample of `kind` at `at_ms` instead of now: for samples
    /// imported from elsewhere, and for tests that drive the clock. `value`
    /// is as the kind's own call takes it (seconds for a timer).
    ///
    /// # Errors
    /// As [`Cha::record_timer`].
    pub fn record_metric_at(
        &self,
        kind: MetricKind,
        name: &str,
        value: f64,
        tags: Option<&str>,
        at_ms: i64,
    ) -> Result<()> {
        crate::common::time::check_time_ms("at_ms", at_ms)?;
        self.record_kind(kind, name, value, tags, at_ms)
    }

    /// Sets the function every alert event is handed to (None: none), on
    /// the evaluator thread, each event once: those stored from now on, by
    /// any process. Replacing a callback waits for a call of the old one in
    /// progress (unless called from that very callback), so the old one is
    /// never called after this returns.
    pub fn set_alert_callback(&self, callback: Option<Box<AlertCallback>>) -> Result<()> {
        let last = sql::last_event_id(&self.inner.store.conn())?;
        let monitor = &self.inner.monitor;
        {
            let mut slot = monitor.callback.lock().unwrap_or_else(|p| p.into_inner());
            let starting = slot.is_none();
            *slot = callback.map(Arc::from);
            if starting {
                *monitor.delivered.lock().unwrap_or_else(|p| p.into_inner()) = last;
            }
        }
        let on_evaluator = *monitor.evaluator.lock().unwrap_or_else(|p| p.into_inner())
            == Some(std::thread::current().id());
        if !on_evaluator {
            drop(monitor.calling.lock().unwrap_or_else(|p| p.into_inner()));
        }
        Ok(())
    }

    /// How many distinct series this handle has recorded.
    pub fn metric_series_count(&self) -> usize {
        self.inner.recorder.monitoring.series_count()
    }
}
