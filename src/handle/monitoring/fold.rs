//! Retention of monitoring data, run by the background thread once an hour:
//! one-minute windows older than `minute_windows_hours` are rolled up into
//! one-hour windows (exactly: windows merge without loss), which go after
//! `hourly_windows_days`; raw samples, resolved alerts and flag usage go
//! after their own retention.

use crate::error::Result;
use crate::handle::Inner;
use crate::monitoring::window::{HOUR_MS, MINUTE_MS};
use crate::store::monitoring as sql;

/// What one round of retention did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Retained {
    /// One-minute windows rolled up into hours.
    pub rolled_up: usize,
    /// One-hour windows deleted.
    pub hourly_deleted: usize,
    pub samples_deleted: usize,
    pub alerts_deleted: usize,
    pub flag_usage_deleted: usize,
}

impl Inner {
    /// Applies the deployed retention at `now_ms`.
    pub(crate) fn monitoring_retention(&self, now_ms: i64) -> Result<Retained> {
        let settings = self.monitoring_config()?.settings.clone();
        let r = &settings.retention;
        const DAY_MS: i64 = 86_400_000;
        self.store.write(|tx| {
            Ok(Retained {
                rolled_up: sql::roll_up(
                    tx,
                    MINUTE_MS,
                    now_ms - i64::from(r.minute_windows_hours) * HOUR_MS,
                )?,
                hourly_deleted: sql::prune_windows(
                    tx,
                    HOUR_MS,
                    now_ms - i64::from(r.hourly_windows_days) * DAY_MS,
                )?,
                samples_deleted: sql::prune_samples(
                    tx,
                    now_ms - i64::from(r.raw_samples_hours) * HOUR_MS,
                )?,
                alerts_deleted: sql::prune_alerts(
                    tx,
                    now_ms - i64::from(r.alert_history_days) * DAY_MS,
                )?,
                flag_usage_deleted: sql::prune_flag_usage(
                    tx,
                    now_ms - i64::from(settings.flag_usage.retention_days) * DAY_MS,
                )?,
            })
        })
    }
}

impl crate::Cha {
    /// Applies the retention of `performance_monitoring.yml` as of
    /// `now_ms` (0: now): what the background thread does once an hour.
    ///
    /// # Errors
    /// `Storage`, `Busy`.
    pub fn apply_monitoring_retention(&self, now_ms: i64) -> Result<Retained> {
        self.flush()?;
        let now = if now_ms == 0 {
            crate::clock::now_ms()
        } else {
            now_ms
        };
        self.inner.monitoring_retention(now)
    }
}
