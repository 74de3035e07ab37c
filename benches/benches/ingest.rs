//! Recording and analysis at volume, beside bare rusqlite inserts of the
//! same rows, in one run (see ../../BENCHMARKS.md, "Fresh analysis at any
//! volume"):
//!
//! (d) record-to-analysis: 1,000,000 observations of 100,000 exposed units
//!     recorded through `cha_experiment_record`; then the time from the last
//!     record to a finished `cha_experiment_analyze` (`cha_flush`, which
//!     persists and folds, then the analysis), against bare rusqlite
//!     inserting the same rows (10,000 per transaction, as in (b));
//! (e) sustained ingest: one thread records at 1,000,000 observations per
//!     second for 6 s with the default flush interval (1 s): the background
//!     thread persists and folds; the backlog is what is left to persist
//!     and fold when recording stops;
//! (f) what a recording process pays: 2,000,000 observations for 100,000
//!     units recorded as fast as one thread can, the background thread
//!     flushing and folding every second, until a final `cha_flush`; rows
//!     per second against bare rusqlite inserts of the same rows.
//!
//!     cargo bench --manifest-path benches/Cargo.toml --bench ingest

use std::ffi::{CStr, CString, c_char};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cha_deploy::ffi::{
    cha_close, cha_deploy_all, cha_experiment_analyze, cha_experiment_assign,
    cha_experiment_record, cha_flush, cha_handle, cha_last_error_message, cha_open_with_options,
    cha_string_free,
};
use rusqlite::{Connection, params};

#[path = "common/measure.rs"]
mod measure;
use measure::median;

const EXPERIMENT: &CStr = c"pipe_sizing_comparison";
const METRICS: [&CStr; 4] = [
    c"pipe_cost_efficiency",
    c"pressure_drop_pa_per_m",
    c"sizing_time_ms",
    c"velocity_violations",
];
const METRIC_NAMES: [&str; 4] = [
    "pipe_cost_efficiency",
    "pressure_drop_pa_per_m",
    "sizing_time_ms",
    "velocity_violations",
];

const UNITS: usize = 100_000;

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("cha-deploy-bench-ingest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("configs")).unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/ab_tests.yml");
        std::fs::copy(&source, dir.join("configs/ab_tests.yml")).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// Removes a database and its WAL, so that each round starts afresh.
    fn remove(&self, name: &str) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(self.path(&format!("{name}{suffix}")));
        }
        let _ = std::fs::remove_dir_all(self.path(&format!("{name}-backups")));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn last_error() -> String {
    let m = cha_last_error_message();
    if m.is_null() {
        "(no message)".into()
    } else {
        // SAFETY: non-NULL and NUL-terminated.
        unsafe { CStr::from_ptr(m) }.to_string_lossy().into_owned()
    }
}

struct Handle(*mut cha_handle);

// SAFETY: the library's handle is Send + Sync (one handle, many threads).
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Handle {
    fn open(scratch: &Scratch, db: &str, options: &CStr) -> Handle {
        let path = CString::new(scratch.path(db).to_str().unwrap()).unwrap();
        let configs = CString::new(scratch.path("configs").to_str().unwrap()).unwrap();
        let mut h = std::ptr::null_mut();
        // SAFETY: valid strings and out-pointers.
        unsafe {
            assert_eq!(
                cha_open_with_options(path.as_ptr(), options.as_ptr(), &mut h),
                0,
                "{}",
                last_error()
            );
            let mut report = std::ptr::null_mut();
            assert_eq!(
                cha_deploy_all(h, configs.as_ptr(), &mut report),
                0,
                "{}",
                last_error()
            );
            cha_string_free(report);
        }
        Handle(h)
    }
    fn assign(&self, unit: *const c_char) -> *const c_char {
        let mut v = std::ptr::null();
        // SAFETY: valid arguments.
        let s = unsafe { cha_experiment_assign(self.0, EXPERIMENT.as_ptr(), unit, &mut v) };
        assert_eq!(s, 0, "{}", last_error());
        v
    }
    #[inline]
    fn record(&self, unit: *const c_char, metric: &CStr, value: f64) {
        // SAFETY: valid arguments.
        let s = unsafe {
            cha_experiment_record(self.0, EXPERIMENT.as_ptr(), unit, metric.as_ptr(), value)
        };
        debug_assert_eq!(s, 0);
        black_box(s);
    }
    fn flush(&self) {
        // SAFETY: an open handle.
        assert_eq!(unsafe { cha_flush(self.0) }, 0, "{}", last_error());
    }
    fn analyze(&self) -> String {
        let mut out = std::ptr::null_mut();
        // SAFETY: valid arguments; the string is freed below.
        unsafe {
            assert_eq!(
                cha_experiment_analyze(self.0, EXPERIMENT.as_ptr(), &mut out),
                0,
                "{}",
                last_error()
            );
            let s = CStr::from_ptr(out).to_string_lossy().into_owned();
            cha_string_free(out);
            s
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is open; closed once.
        unsafe { cha_close(self.0) };
    }
}

/// NUL-terminated unit ids at a fixed stride.
struct Units {
    bytes: Vec<u8>,
    variants: Vec<&'static str>,
}

const STRIDE: usize = 16;

impl Units {
    fn new() -> Units {
        let mut bytes = vec![0u8; UNITS * STRIDE];
        for i in 0..UNITS {
            let id = format!("site-{i:08}");
            bytes[i * STRIDE..i * STRIDE + id.len()].copy_from_slice(id.as_bytes());
        }
        Units {
            bytes,
            variants: Vec::new(),
        }
    }
    fn ptr(&self, i: usize) -> *const c_char {
        self.bytes[i * STRIDE..].as_ptr().cast()
    }
    fn str(&self, i: usize) -> &str {
        // SAFETY: NUL-terminated ASCII inside the buffer.
        unsafe { CStr::from_ptr(self.ptr(i)) }.to_str().unwrap()
    }
    /// Exposes every unit through `h`, and learns their variants.
    fn expose(&mut self, h: &Handle) {
        self.variants.clear();
        for i in 0..UNITS {
            let v = h.assign(self.ptr(i));
            // SAFETY: a name owned by the handle.
            let name = unsafe { CStr::from_ptr(v) }.to_str().unwrap();
            self.variants.push(if name == "intelligent" {
                "intelligent"
            } else {
                "traditional"
            });
        }
        h.flush();
    }
}

/// Observation `k` of a stream: unit, metric and value, spread evenly.
#[inline]
fn row(k: usize) -> (usize, usize, f64) {
    let unit = k % UNITS;
    let metric = (k / UNITS) % METRICS.len();
    let value = 40.0 + ((k.wrapping_mul(2_654_435_761) >> 7) % 1000) as f64 / 100.0;
    (unit, metric, value)
}

/// Bare rusqlite inserting observations `0..n` into a fresh table of the
/// library's shape, 10,000 rows per transaction: seconds taken.
fn anchor(scratch: &Scratch, units: &Units, n: usize) -> f64 {
    scratch.remove("anchor.db");
    let conn = Connection::open(scratch.path("anchor.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "wal").unwrap();
    conn.pragma_update(None, "synchronous", "normal").unwrap();
    conn.execute(
        "CREATE TABLE observations (
            id INTEGER PRIMARY KEY AUTOINCREMENT, experiment TEXT NOT NULL, unit TEXT NOT NULL,
            variant TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, at_ms INTEGER NOT NULL
        ) STRICT",
        [],
    )
    .unwrap();
    let at_ms = 1_795_000_000_000i64;
    let t = Instant::now();
    for start in (0..n).step_by(10_000) {
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO observations (experiment, unit, variant, metric, value, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .unwrap();
            for k in start..(start + 10_000).min(n) {
                let (u, m, v) = row(k);
                insert
                    .execute(params![
                        "pipe_sizing_comparison",
                        units.str(u),
                        units.variants[u],
                        METRIC_NAMES[m],
                        v,
                        at_ms
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    t.elapsed().as_secs_f64()
}

/// Persisted observations not yet folded: rows of the `observations` table
/// above the watermark (a flush folds the blocks it writes).
fn pending(scratch: &Scratch, db: &str) -> i64 {
    let conn = Connection::open(scratch.path(db)).unwrap();
    conn.query_row(
        "SELECT (SELECT COUNT(*) FROM observations) -
                (SELECT COUNT(*) FROM observations WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'observations_folded_to'))",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn main() {
    let started = Instant::now();
    let scratch = Scratch::new();
    println!(
        "load average before: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let mut units = Units::new();
    // Records persisted only by the measured cha_flush: no background
    // flush, and a bound on the buffer above the rows recorded (with the
    // default bound of 1,000,000 the last record would persist the buffer
    // itself, inside the recording).
    let quiet = c"{\"flush_interval_ms\": 3600000, \"max_buffered_records\": 4000000}";

    // ---- (d) record-to-analysis -------------------------------------------
    const ROWS_D: usize = 1_000_000;
    const ROUNDS_D: usize = 3;
    let (mut anchors, mut latencies, mut recordings, mut analyses) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS_D {
        scratch.remove("latency.db");
        let h = Handle::open(&scratch, "latency.db", quiet);
        units.expose(&h);
        anchors.push(anchor(&scratch, &units, ROWS_D));
        let t = Instant::now();
        for k in 0..ROWS_D {
            let (u, m, v) = row(k);
            h.record(units.ptr(u), METRICS[m], v);
        }
        recordings.push(t.elapsed().as_secs_f64());
        // From the last record to a finished analysis.
        let t = Instant::now();
        h.flush();
        let report = h.analyze();
        latencies.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(h.analyze());
        analyses.push(t.elapsed().as_secs_f64() * 1e3);
        let json: serde_json::Value = serde_json::from_str(&report).unwrap();
        let n = json["metrics"][0]["control"]["n"].as_u64().unwrap()
            + json["metrics"][0]["comparisons"][0]["treatment"]["n"]
                .as_u64()
                .unwrap();
        assert_eq!(n, UNITS as u64, "every unit is in the analysis");
        drop(h);
        assert_eq!(pending(&scratch, "latency.db"), 0);
    }
    let (anchor_d, latency_d) = (median(anchors.clone()), median(latencies.clone()));

    // ---- (e) sustained ingest at 1M observations per second ---------------
    const RATE: f64 = 1_000_000.0;
    const SECONDS_E: f64 = 6.0;
    scratch.remove("sustained.db");
    let h = Handle::open(&scratch, "sustained.db", c"{}");
    units.expose(&h);
    let total_e = (RATE * SECONDS_E) as usize;
    let t = Instant::now();
    let mut k = 0;
    let mut behind_max = 0.0f64;
    while k < total_e {
        // Records in slices of 1 ms, paced to the target rate.
        let due = ((t.elapsed().as_secs_f64() * RATE) as usize).min(total_e);
        if due <= k {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        behind_max = behind_max.max((due - k) as f64 / RATE);
        for j in k..due {
            let (u, m, v) = row(j);
            h.record(units.ptr(u), METRICS[m], v);
        }
        k = due;
    }
    let recording_e = t.elapsed().as_secs_f64();
    let persisted_before_final = {
        let conn = Connection::open(scratch.path("sustained.db")).unwrap();
        conn.query_row(
            "SELECT (SELECT COUNT(*) FROM observations)
                 + (SELECT COALESCE(SUM(observations), 0) FROM observation_blocks)",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };
    let unfolded_before_final = pending(&scratch, "sustained.db");
    let t = Instant::now();
    h.flush();
    black_box(h.analyze());
    let drain_e = t.elapsed().as_secs_f64();
    drop(h);

    // ---- (f) what a recording process pays --------------------------------
    const ROWS_F: usize = 2_000_000;
    const ROUNDS_F: usize = 3;
    let (mut anchors_f, mut process_f) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS_F {
        scratch.remove("process.db");
        let h = Handle::open(&scratch, "process.db", c"{}");
        units.expose(&h);
        anchors_f.push(anchor(&scratch, &units, ROWS_F));
        let t = Instant::now();
        for k in 0..ROWS_F {
            let (u, m, v) = row(k);
            h.record(units.ptr(u), METRICS[m], v);
        }
        h.flush();
        process_f.push(t.elapsed().as_secs_f64());
        drop(h);
        assert_eq!(pending(&scratch, "process.db"), 0);
    }
    let (anchor_f, process) = (median(anchors_f.clone()), median(process_f.clone()));

    // ---- report --------------------------------------------------------------
    let list = |v: &[f64], scale: f64, unit: &str| {
        v.iter()
            .map(|x| format!("{:.2}{unit}", x * scale))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!();
    println!(
        "(d) {ROWS_D} observations of {UNITS} units, median of {ROUNDS_D} rounds (fresh databases)"
    );
    println!();
    println!("| | what | median s | rounds | / anchor |");
    println!("|---|---|---:|---|---:|");
    println!(
        "| d | bare rusqlite inserts of the same rows, 10,000 per transaction (anchor) | {anchor_d:.3} | {} | anchor |",
        list(&anchors, 1.0, "")
    );
    println!(
        "| d | last record to finished analysis: cha_flush (persist and fold) + cha_experiment_analyze | {latency_d:.3} | {} | {:.2}× |",
        list(&latencies, 1.0, ""),
        latency_d / anchor_d
    );
    println!(
        "| d | recording the rows (cha_experiment_record, buffering only) | {:.3} | {} | – |",
        median(recordings.clone()),
        list(&recordings, 1.0, "")
    );
    println!();
    println!("analysis afterwards: {:.3} ms", median(analyses));
    println!();
    println!(
        "(e) sustained ingest: {total_e} observations at {RATE:.0}/s for {SECONDS_E} s, default flush interval"
    );
    println!();
    println!(
        "- recording took {recording_e:.2} s (the recording thread was at most {:.0} ms behind its schedule)",
        behind_max * 1e3
    );
    println!(
        "- when recording stopped, {persisted_before_final} rows were persisted, {} were still in the buffer, {unfolded_before_final} persisted rows were not folded",
        total_e as i64 - persisted_before_final
    );
    println!("- the final cha_flush and an analysis took {drain_e:.3} s");
    println!();
    println!(
        "(f) {ROWS_F} observations for {UNITS} units, as fast as one thread records, background flush every second, until the final cha_flush; median of {ROUNDS_F} rounds"
    );
    println!();
    println!("| | what | median rows/s | rounds (s) | / anchor |");
    println!("|---|---|---:|---|---:|");
    println!(
        "| f | bare rusqlite inserts of the same rows (anchor) | {:.0} | {} | anchor |",
        ROWS_F as f64 / anchor_f,
        list(&anchors_f, 1.0, "")
    );
    println!(
        "| f | record + background flush and fold + final cha_flush | {:.0} | {} | {:.0}% |",
        ROWS_F as f64 / process,
        list(&process_f, 1.0, ""),
        100.0 * anchor_f / process
    );
    println!();
    println!(
        "targets: record-to-analysis ≤ 1.5× bare inserts: {:.2}× ({}); sustained 1M/s without backlog: at most {:.0} ms behind, {} rows left to persist and {} to fold, drained in {:.2} s ({}); recording process ≥ 70% of bare inserts: {:.0}% ({})",
        latency_d / anchor_d,
        if latency_d <= 1.5 * anchor_d {
            "met"
        } else {
            "NOT met"
        },
        behind_max * 1e3,
        total_e as i64 - persisted_before_final,
        unfolded_before_final,
        drain_e,
        // No backlog: the recorder kept its schedule (a full buffer would
        // have made it persist the batch itself), at most about one flush
        // interval of records waited when it stopped, and they drained fast.
        if behind_max < 0.1
            && total_e as i64 - persisted_before_final <= (1.2 * RATE) as i64
            && unfolded_before_final == 0
            && drain_e < 1.5
        {
            "met"
        } else {
            "NOT met"
        },
        100.0 * anchor_f / process,
        if anchor_f / process >= 0.7 {
            "met"
        } else {
            "NOT met"
        },
    );
    println!(
        "load average after: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!("the run took {:.1} s", started.elapsed().as_secs_f64());
}
