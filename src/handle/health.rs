//! The handle's health: whether its background work (flushes, reloads)
//! succeeds, what waits unpersisted, and what was refused or dropped. Read
//! from memory only, so that it answers when the store does not.

use serde::Serialize;

use super::Cha;
pub use super::recorder::BackgroundError;

/// What [`Cha::health`] reports (`cha_health`, Python `get_health`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// "ok", or "failing" while the last flush or reload failed: flag
    /// checks and assignments then answer from the last good snapshot.
    pub state: &'static str,
    /// The last flush (background or called) that failed, until one
    /// succeeds.
    pub last_flush_error: Option<BackgroundError>,
    /// The last reload of the configuration that failed, until one
    /// succeeds: the snapshot may be older than the database.
    pub last_refresh_error: Option<BackgroundError>,
    /// The configuration revision of the snapshot answering flag checks.
    pub snapshot_revision: i64,
    /// Records waiting to be persisted, per buffer, and the limit of each
    /// (`max_buffered_records`).
    pub buffered_records: BufferedRecords,
    pub buffer_limit: u64,
    /// Record calls refused because their buffer was full while flushes
    /// failed, since the handle was opened.
    pub refused_records: u64,
    /// Exposures of flag checks linked to an experiment that were not
    /// kept, the buffer being full (a flag check always answers).
    pub dropped_exposures: u64,
}

/// What waits in each buffer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BufferedRecords {
    /// Exposures and observations.
    pub experiments: u64,
    /// Metric samples, in the batch and in the recording threads' shards.
    pub metric_samples: u64,
}

impl Cha {
    /// The handle's health, from memory: it never touches the database, so
    /// it answers while the store fails. A background flush's failure is
    /// seen only here (and in the next call that flushes); `doctor`, in
    /// another process, cannot see it.
    pub fn health(&self) -> Health {
        let inner = &self.inner;
        let backlog = &inner.recorder.backlog;
        let last_flush_error = backlog.failure();
        let last_refresh_error = inner.refresh_failure();
        let (refused_records, dropped_exposures) = backlog.losses();
        let (_, metric_samples) = inner.recorder.monitoring.figures();
        Health {
            state: if last_flush_error.is_some() || last_refresh_error.is_some() {
                "failing"
            } else {
                "ok"
            },
            last_flush_error,
            last_refresh_error,
            snapshot_revision: inner.live.load().revision,
            buffered_records: BufferedRecords {
                experiments: inner.recorder.experiments.buffer.held() as u64,
                metric_samples,
            },
            buffer_limit: backlog.limit as u64,
            refused_records,
            dropped_exposures,
        }
    }
}
