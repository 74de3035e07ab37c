//! The system sampler: an opt-in thread that records, as gauges, what the
//! process and the machine are doing, and the library's own figures.
//! Only what is sampled is refreshed (this process, CPU usage, memory,
//! disks' space, network counters); never everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sysinfo::{
    Disks, MemoryRefreshKind, Networks, Pid, ProcessRefreshKind, ProcessesToUpdate, System,
};

use super::Stopper;
use crate::error::Result;
use crate::handle::{Cha, Inner};
use crate::monitoring::model::MetricKind;

/// Every metric the sampler records: name, unit, what it is.
pub const SYSTEM_METRICS: [(&str, &str, &str); 24] = [
    (
        "cpu_usage_percent",
        "%",
        "CPU used by this process (100 is one core)",
    ),
    ("memory_usage_mb", "MiB", "resident memory of this process"),
    ("virtual_memory_mb", "MiB", "virtual memory of this process"),
    ("thread_count", "threads", "threads of this process"),
    (
        "disk_read_bytes_per_second",
        "B/s",
        "bytes this process read from disk",
    ),
    (
        "disk_write_bytes_per_second",
        "B/s",
        "bytes this process wrote to disk",
    ),
    (
        "system_cpu_percent",
        "%",
        "CPU used on the machine, all cores",
    ),
    (
        "system_memory_used_mb",
        "MiB",
        "memory in use on the machine",
    ),
    (
        "system_memory_available_mb",
        "MiB",
        "memory available for new work",
    ),
    (
        "system_memory_used_percent",
        "%",
        "memory in use, of the total",
    ),
    ("swap_used_mb", "MiB", "swap in use"),
    ("load_average_1m", "", "load average over 1 minute"),
    ("load_average_5m", "", "load average over 5 minutes"),
    ("load_average_15m", "", "load average over 15 minutes"),
    (
        "disk_used_percent",
        "%",
        "space used on the disk of the database",
    ),
    (
        "disk_available_mb",
        "MiB",
        "space available on the disk of the database",
    ),
    (
        "network_receive_bytes_per_second",
        "B/s",
        "bytes received, all interfaces but loopback",
    ),
    (
        "network_transmit_bytes_per_second",
        "B/s",
        "bytes sent, all interfaces but loopback",
    ),
    (
        "flag_evaluations_per_second",
        "1/s",
        "flag checks through this handle",
    ),
    (
        "samples_recorded_per_second",
        "1/s",
        "metric samples recorded through this handle",
    ),
    (
        "buffer_depth",
        "records",
        "metric samples waiting to be persisted",
    ),
    (
        "flush_latency_ms",
        "ms",
        "duration of the last flush of metrics",
    ),
    (
        "database_size_mb",
        "MiB",
        "the database file and its write-ahead log",
    ),
    (
        "metric_series",
        "series",
        "distinct series recorded through this handle",
    ),
];

const MIB: f64 = 1024.0 * 1024.0;

/// The sampler's state between samples: sysinfo's tables and the
/// counters the rates are taken from.
struct Sampler {
    system: System,
    disks: Disks,
    networks: Networks,
    pid: Option<Pid>,
    database: PathBuf,
    last: Option<(Instant, u64, u64)>,
}

impl Sampler {
    /// None where sysinfo does not support the platform.
    fn new(database: &Path) -> Option<Sampler> {
        let mut sampler = Sampler {
            system: System::new().ok()?,
            disks: Disks::new_with_refreshed_list_specifics(
                sysinfo::DiskRefreshKind::nothing().with_storage(),
            )
            .ok()?,
            networks: Networks::new_with_refreshed_list().ok()?,
            pid: sysinfo::get_current_pid().ok(),
            database: std::fs::canonicalize(database).unwrap_or_else(|_| database.to_path_buf()),
            last: None,
        };
        // CPU usage and rates are differences: the first refresh is a base.
        sampler.refresh();
        Some(sampler)
    }

    fn refresh(&mut self) {
        if let Some(pid) = self.pid {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                ProcessRefreshKind::nothing()
                    .with_cpu()
                    .with_memory()
                    .with_disk_usage()
                    .with_tasks(),
            );
        }
        self.system.refresh_cpu_usage();
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        self.disks
            .refresh_specifics(true, sysinfo::DiskRefreshKind::nothing().with_storage());
        self.networks.refresh(true);
    }

    /// One sample: every available metric of [`SYSTEM_METRICS`] by name.
    fn sample(&mut self, inner: &Inner, elapsed: Duration) -> BTreeMap<&'static str, f64> {
        self.refresh();
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let mut m = BTreeMap::new();
        if let Some(p) = self.pid.and_then(|pid| self.system.process(pid)) {
            m.insert("cpu_usage_percent", f64::from(p.cpu_usage()));
            m.insert("memory_usage_mb", p.memory() as f64 / MIB);
            m.insert("virtual_memory_mb", p.virtual_memory() as f64 / MIB);
            if let Some(tasks) = p.tasks() {
                m.insert("thread_count", tasks.len() as f64);
            }
            let io = p.disk_usage();
            m.insert("disk_read_bytes_per_second", io.read_bytes as f64 / seconds);
            m.insert(
                "disk_write_bytes_per_second",
                io.written_bytes as f64 / seconds,
            );
        }
        m.insert(
            "system_cpu_percent",
            f64::from(self.system.global_cpu_usage()),
        );
        let (total, available) = (self.system.total_memory(), self.system.available_memory());
        m.insert(
            "system_memory_used_mb",
            self.system.used_memory() as f64 / MIB,
        );
        m.insert("system_memory_available_mb", available as f64 / MIB);
        if total > 0 {
            m.insert(
                "system_memory_used_percent",
                100.0 * (total - available.min(total)) as f64 / total as f64,
            );
        }
        m.insert("swap_used_mb", self.system.used_swap() as f64 / MIB);
        if let Ok(load) = System::load_average() {
            m.insert("load_average_1m", load.one);
            m.insert("load_average_5m", load.five);
            m.insert("load_average_15m", load.fifteen);
        }
        // The disk of the database: the longest mount point above it.
        if let Some(disk) = self
            .disks
            .iter()
            .filter(|d| self.database.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len())
            && disk.total_space() > 0
        {
            let used = disk.total_space() - disk.available_space().min(disk.total_space());
            m.insert(
                "disk_used_percent",
                100.0 * used as f64 / disk.total_space() as f64,
            );
            m.insert("disk_available_mb", disk.available_space() as f64 / MIB);
        }
        let (rx, tx) = self
            .networks
            .iter()
            .filter(|(name, _)| name.as_os_str() != "lo")
            .fold((0u64, 0u64), |(r, t), (_, n)| {
                (r + n.received(), t + n.transmitted())
            });
        m.insert("network_receive_bytes_per_second", rx as f64 / seconds);
        m.insert("network_transmit_bytes_per_second", tx as f64 / seconds);

        let log = &inner.recorder.monitoring;
        let evaluations = log.usage.drained.load(std::sync::atomic::Ordering::Relaxed);
        let (recorded, pending) = log.figures();
        let now = Instant::now();
        if let Some((at, e0, r0)) = self.last {
            let s = now.duration_since(at).as_secs_f64().max(1e-3);
            m.insert(
                "flag_evaluations_per_second",
                evaluations.saturating_sub(e0) as f64 / s,
            );
            m.insert(
                "samples_recorded_per_second",
                recorded.saturating_sub(r0) as f64 / s,
            );
        }
        self.last = Some((now, evaluations, recorded));
        m.insert("buffer_depth", pending as f64);
        m.insert(
            "flush_latency_ms",
            log.flush_micros.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0,
        );
        if let Ok(info) = inner.store.info() {
            m.insert(
                "database_size_mb",
                (info.file_size_bytes + info.wal_size_bytes) as f64 / MIB,
            );
        }
        m.insert("metric_series", log.series_count() as f64);
        m
    }
}

/// Records `values` as gauges now.
fn record(inner: &Inner, values: &BTreeMap<&'static str, f64>) {
    let now = crate::clock::now_ms();
    let limit = inner.options.metric_series_limit as usize;
    for (name, value) in values {
        if value.is_finite() {
            // A sample the full buffer cannot take is skipped: the next
            // one comes within the interval.
            let _ = inner.recorder.monitoring.record(
                MetricKind::Gauge,
                name,
                None,
                *value,
                now,
                limit,
                inner.recorder.backlog.limit,
            );
        }
    }
}

/// Starts the sampler thread of `inner`, sampling every `every`.
pub(super) fn spawn(inner: &Arc<Inner>, every: Duration) -> Stopper {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let mut sampler = Sampler::new(inner.store.path());
    let mut last = Instant::now();
    Stopper::spawn("cha-sampler", every, move || {
        let (Some(inner), Some(sampler)) = (weak.upgrade(), sampler.as_mut()) else {
            return false;
        };
        let now = Instant::now();
        let values = sampler.sample(&inner, now.duration_since(last));
        last = now;
        record(&inner, &values);
        true
    })
}

impl Cha {
    /// Samples the system metrics once now (about 0.2 s: CPU usage and
    /// rates need two readings), records them as gauges and returns them
    /// by name. The sampler thread does the same every interval when it
    /// is on (`system_metrics_interval_ms`, or `settings.system_metrics`).
    ///
    /// # Errors
    /// `Internal` where the platform gives no system information.
    pub fn sample_system_metrics(&self) -> Result<BTreeMap<String, f64>> {
        let mut sampler = Sampler::new(self.inner.store.path()).ok_or_else(|| {
            crate::Error::internal("system metrics are not available on this platform")
        })?;
        let _ = sampler.sample(&self.inner, Duration::from_millis(200));
        let start = Instant::now();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(Duration::from_millis(200)));
        let values = sampler.sample(&self.inner, start.elapsed());
        record(&self.inner, &values);
        Ok(values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect())
    }
}
