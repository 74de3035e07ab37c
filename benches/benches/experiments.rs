//! A/B experiments of cha-deploy through its C ABI, each beside an anchor or
//! a reference measured in the same run (see ../../BENCHMARKS.md, section
//! "A/B experiments"):
//!
//! (a) assignment: `cha_experiment_assign` with exposure logging included,
//!     a new unit every iteration (precomputed ids, never reused) and repeat
//!     units (already exposed), beside the pure engine
//!     (`CompiledExperiment::assign`: no C boundary, no snapshot load, no
//!     exposure); allocations per call; then how fast the buffered
//!     exposures are persisted by `cha_flush`;
//! (b) persisted observations: 200,000 rows through `cha_experiment_record`
//!     + `cha_flush` (which also folds them into the statistics) against
//!     bare rusqlite batched inserts of the same rows into a table of the
//!     same shape (the anchor), rounds taken in turns;
//! (c) analysis of a test holding 10 million observations (recorded through
//!     `cha_experiment_record`): `cha_experiment_analyze`, beside the same
//!     call on the small test of (b).
//!
//!     cargo bench --manifest-path benches/Cargo.toml --bench experiments
//!
//! Hand-written harness, as in flags.rs: anchors and ratios in one run and
//! one table, and a counting allocator that sees only the code measured.

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cha_deploy::experiments::CompiledExperiment;
use cha_deploy::ffi::{
    cha_close, cha_deploy_all, cha_experiment_analyze, cha_experiment_assign,
    cha_experiment_record, cha_flush, cha_handle, cha_last_error_message, cha_open_with_options,
    cha_string_free,
};
use cha_deploy::{Cha, OpenOptions};
use rusqlite::{Connection, params};

#[path = "common/measure.rs"]
mod measure;
use measure::{Bench, measure_group, median};
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

// ---- setup -----------------------------------------------------------------

const EXPERIMENT: &CStr = c"pipe_sizing_comparison";
const METRICS: [&CStr; 4] = [
    c"pipe_cost_efficiency",
    c"pressure_drop_pa_per_m",
    c"sizing_time_ms",
    c"velocity_violations",
];

/// Handles persist only on `cha_flush` (and close) here, so that each
/// measurement sees its own work and no background flush or fold.
const OPTIONS: &CStr = c"{\"flush_interval_ms\": 3600000}";

/// A fresh folder holding the databases and the repository's ab_tests.yml.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("cha-deploy-bench-exp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("configs")).expect("create the scratch folder");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/ab_tests.yml");
        std::fs::copy(&source, dir.join("configs/ab_tests.yml"))
            .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn c_path(path: &Path) -> CString {
    CString::new(path.to_str().expect("a UTF-8 temp path")).unwrap()
}

fn last_error() -> String {
    let message = cha_last_error_message();
    if message.is_null() {
        "(no message)".into()
    } else {
        // SAFETY: non-NULL, NUL-terminated, owned by the library.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

/// An open C handle with the repository's ab_tests.yml deployed, closed on drop.
struct Handle(*mut cha_handle);

impl Handle {
    fn open(scratch: &Scratch, db: &str) -> Handle {
        let db = c_path(&scratch.path(db));
        let configs = c_path(&scratch.path("configs"));
        let mut h = std::ptr::null_mut();
        // SAFETY: valid strings and out-pointers.
        unsafe {
            let status = cha_open_with_options(db.as_ptr(), OPTIONS.as_ptr(), &mut h);
            assert_eq!(status, 0, "cha_open_with_options: {}", last_error());
            let mut report = std::ptr::null_mut();
            let status = cha_deploy_all(h, configs.as_ptr(), &mut report);
            assert_eq!(status, 0, "cha_deploy_all: {}", last_error());
            cha_string_free(report);
        }
        Handle(h)
    }

    /// The variant of `unit` (NULL: none), exposing it.
    #[inline(always)]
    fn assign(&self, unit: *const c_char) -> *const c_char {
        let mut variant = std::ptr::null();
        // SAFETY: an open handle, a valid string and out-pointer.
        let status =
            unsafe { cha_experiment_assign(self.0, EXPERIMENT.as_ptr(), unit, &mut variant) };
        debug_assert_eq!(status, 0);
        variant
    }

    #[inline(always)]
    fn record(&self, unit: *const c_char, metric: &CStr, value: f64) {
        // SAFETY: an open handle and valid strings.
        let status = unsafe {
            cha_experiment_record(self.0, EXPERIMENT.as_ptr(), unit, metric.as_ptr(), value)
        };
        debug_assert_eq!(status, 0, "{}", last_error());
    }

    fn flush(&self) {
        // SAFETY: an open handle.
        let status = unsafe { cha_flush(self.0) };
        assert_eq!(status, 0, "cha_flush: {}", last_error());
    }

    /// `cha_experiment_analyze`: the report as JSON, read and freed.
    fn analyze(&self) -> String {
        let mut json = std::ptr::null_mut();
        // SAFETY: an open handle, a valid string and out-pointer.
        unsafe {
            let status = cha_experiment_analyze(self.0, EXPERIMENT.as_ptr(), &mut json);
            assert_eq!(status, 0, "cha_experiment_analyze: {}", last_error());
            let text = CStr::from_ptr(json).to_string_lossy().into_owned();
            cha_string_free(json);
            text
        }
    }

    /// `cha_experiment_analyze`, timed, the JSON only measured.
    fn analyze_len(&self) -> usize {
        let mut json = std::ptr::null_mut();
        // SAFETY: an open handle, a valid string and out-pointer.
        unsafe {
            let status = cha_experiment_analyze(self.0, EXPERIMENT.as_ptr(), &mut json);
            debug_assert_eq!(status, 0);
            let len = CStr::from_ptr(json).to_bytes().len();
            cha_string_free(json);
            len
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: open, and used by no other thread.
        unsafe { cha_close(self.0) }
    }
}

/// A Rust handle on the same file, for `Cha::fold_observations`.
fn rust_handle(scratch: &Scratch, db: &str) -> Cha {
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    Cha::open_with_options(scratch.path(db), options).expect("open the Rust handle")
}

/// `count` unit ids, NUL-terminated, at a fixed stride in one buffer, so
/// that a benchmark can take a new one each iteration without formatting.
struct UnitIds {
    bytes: Vec<u8>,
    count: usize,
}

const ID_STRIDE: usize = 24;

impl UnitIds {
    fn new(prefix: &str, count: usize) -> UnitIds {
        let mut bytes = vec![0u8; count * ID_STRIDE];
        for i in 0..count {
            let id = format!("{prefix}-{i:010}");
            assert!(id.len() < ID_STRIDE);
            bytes[i * ID_STRIDE..i * ID_STRIDE + id.len()].copy_from_slice(id.as_bytes());
        }
        UnitIds { bytes, count }
    }

    #[inline(always)]
    fn ptr(&self, i: usize) -> *const c_char {
        assert!(
            i < self.count,
            "ran out of precomputed unit ids ({})",
            self.count
        );
        // SAFETY: in bounds, checked above.
        unsafe { self.bytes.as_ptr().add(i * ID_STRIDE) }.cast()
    }

    fn str(&self, i: usize) -> &str {
        // SAFETY: each id is NUL-terminated ASCII inside the buffer.
        unsafe { CStr::from_ptr(self.ptr(i)) }.to_str().unwrap()
    }
}

/// A deterministic pseudo-random stream (splitmix64) for synthetic values.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Normal(mean, sd), Box–Muller.
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        mean + sd * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// A synthetic observation of metric `m` for a unit of `treated` arm: the
/// intelligent variant is 2% more cost-efficient, as a real effect would be.
fn synthetic_value(rng: &mut Rng, m: usize, treated: bool) -> f64 {
    let lift = if treated { 1.02 } else { 1.0 };
    match m {
        0 => rng.normal(100.0 * lift, 15.0),
        1 => rng.normal(120.0, 20.0),
        2 => rng.normal(800.0, 120.0).max(1.0),
        _ => f64::from(u8::from(rng.unit() < 0.1)),
    }
}

// ---- measuring -----------------------------------------------------------

/// Wraps `op` (one operation) into a [`Bench`].
fn bench<'a>(mut op: impl FnMut() -> u64 + 'a) -> Bench<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        let mut acc = 0u64;
        for _ in 0..n {
            acc = acc.wrapping_add(op());
        }
        black_box(acc);
        start.elapsed()
    })
}

fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// Allocations per call of `op` on this thread, over `n` calls after a warm-up.
fn allocations_per_op(n: usize, mut op: impl FnMut() -> u64) -> f64 {
    for _ in 0..1000 {
        black_box(op());
    }
    let before = allocations();
    for _ in 0..n {
        black_box(op());
    }
    (allocations() - before) as f64 / n as f64
}

// ---- the anchor of (b): bare rusqlite --------------------------------------

/// Counts the raw observations the library keeps (blocks, and rows of the
/// table older versions wrote).
const RAW_OBSERVATIONS: &str = "SELECT (SELECT COUNT(*) FROM observations)
     + (SELECT COALESCE(SUM(observations), 0) FROM observation_blocks)";

/// The `observations` table of src/store/schema_0003_experiments.sql.
const OBSERVATIONS_TABLE: &str = "CREATE TABLE observations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    experiment TEXT NOT NULL,
    unit       TEXT NOT NULL,
    variant    TEXT NOT NULL,
    metric     TEXT NOT NULL,
    value      REAL NOT NULL,
    at_ms      INTEGER NOT NULL
) STRICT";

const INSERT_OBSERVATION: &str = "INSERT INTO observations (experiment, unit, variant, metric, value, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Rows per transaction of the anchor.
const ANCHOR_BATCH: usize = 10_000;

fn open_anchor(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open the anchor database");
    conn.pragma_update(None, "journal_mode", "wal").unwrap();
    conn.pragma_update(None, "synchronous", "normal").unwrap();
    conn.execute(OBSERVATIONS_TABLE, []).unwrap();
    conn
}

/// One observation of (b): unit index, metric index, value.
struct Row {
    unit: usize,
    metric: usize,
    value: f64,
}

fn main() {
    let started = Instant::now();
    let scratch = Scratch::new();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load_before.trim());

    // ---- (a) assignment ----------------------------------------------------
    const NEW_UNITS: usize = 6_000_000;
    const REPEAT_UNITS: usize = 4096;
    let h = Handle::open(&scratch, "assign.db");
    let new_ids = UnitIds::new("unit", NEW_UNITS);
    let repeat_ids = UnitIds::new("planner", REPEAT_UNITS);
    for i in 0..REPEAT_UNITS {
        h.assign(repeat_ids.ptr(i));
    }
    h.flush();

    // The pure engine, compiled from the same file, for reference.
    let yaml = std::fs::read_to_string(scratch.path("configs/ab_tests.yml")).unwrap();
    let config = cha_deploy::config::parse_ab_tests(&yaml, "ab_tests.yml").expect("parses");
    let definition = config
        .experiments
        .iter()
        .find(|d| d.id == "pipe_sizing_comparison")
        .unwrap();
    let mut intern = |name: &str| -> Arc<CStr> { CString::new(name).unwrap().into() };
    let engine = CompiledExperiment::compile(definition, &[], &mut intern);

    // The C ABI and the engine agree before anything is timed.
    let mut agree = 0;
    for i in 0..REPEAT_UNITS {
        let ours = h.assign(repeat_ids.ptr(i));
        // SAFETY: a variant name owned by the handle.
        let ours = unsafe { CStr::from_ptr(ours) }.to_str().unwrap();
        let theirs = engine.assign(repeat_ids.str(i)).variant.unwrap();
        agree += usize::from(ours == &*engine.variants[theirs as usize].name);
    }
    assert_eq!(agree, REPEAT_UNITS, "the C ABI and the engine disagree");

    let next_new = Cell::new(0usize);
    let next_repeat = Cell::new(0usize);
    let next_engine = Cell::new(0usize);
    let take = |c: &Cell<usize>| {
        let i = c.get();
        c.set(i + 1);
        i
    };
    let group_a: Vec<(&str, Bench<'_>)> = vec![
        (
            "CompiledExperiment::assign (Rust engine: no C boundary, no exposure; reference)",
            bench(|| {
                let i = take(&next_engine) % REPEAT_UNITS;
                engine
                    .assign(repeat_ids.str(i))
                    .variant
                    .map_or(0, u64::from)
            }),
        ),
        (
            "cha_experiment_assign, repeat unit (already exposed)",
            bench(|| h.assign(repeat_ids.ptr(take(&next_repeat) % REPEAT_UNITS)) as u64),
        ),
        (
            "cha_experiment_assign, new unit each call (exposure buffered)",
            bench(|| h.assign(new_ids.ptr(take(&next_new))) as u64),
        ),
    ];
    let (names_a, mut runs_a): (Vec<_>, Vec<_>) = group_a.into_iter().unzip();
    let timings_a = measure_group(
        &mut runs_a,
        Duration::from_millis(50),
        Duration::from_millis(4),
    );
    drop(runs_a);
    let new_assigned = next_new.get();

    let repeat_allocs = allocations_per_op(100_000, || {
        h.assign(repeat_ids.ptr(take(&next_repeat) % REPEAT_UNITS)) as u64
    });
    let new_allocs = allocations_per_op(100_000, || h.assign(new_ids.ptr(take(&next_new))) as u64);
    let exposures = next_new.get();
    let flush_started = Instant::now();
    h.flush();
    let exposure_flush = flush_started.elapsed();
    drop(h);
    drop(new_ids);

    // ---- (b) persisted observations ----------------------------------------
    const UNITS_B: usize = 10_000;
    const ROWS_B: usize = 200_000;
    const ROUNDS_B: usize = 5;
    let h = Handle::open(&scratch, "observations.db");
    let units_b = UnitIds::new("site", UNITS_B);
    let mut variants_b = Vec::with_capacity(UNITS_B);
    for i in 0..UNITS_B {
        let v = h.assign(units_b.ptr(i));
        // SAFETY: a variant name owned by the handle.
        variants_b.push(unsafe { CStr::from_ptr(v) }.to_str().unwrap().to_string());
    }
    h.flush();
    let cha = rust_handle(&scratch, "observations.db");
    assert_eq!(cha.fold_observations().unwrap(), 0);
    let mut rng = Rng(42);
    let rows: Vec<Row> = (0..ROWS_B)
        .map(|k| {
            let unit = k % UNITS_B;
            let metric = (k / UNITS_B) % METRICS.len();
            let treated = variants_b[unit] == "intelligent";
            Row {
                unit,
                metric,
                value: synthetic_value(&mut rng, metric, treated),
            }
        })
        .collect();
    let metric_names: Vec<&str> = METRICS.iter().map(|m| m.to_str().unwrap()).collect();
    let anchor = open_anchor(&scratch.path("anchor.db"));
    let anchor_at_ms = 1_795_000_000_000i64;

    let mut anchor_rates = Vec::new();
    let mut api_rates = Vec::new();
    let mut record_ns = Vec::new();
    let mut flush_rates = Vec::new();
    for _ in 0..ROUNDS_B {
        // The anchor: prepared statement, 10,000 rows per transaction.
        let t = Instant::now();
        for chunk in rows.chunks(ANCHOR_BATCH) {
            let tx = anchor.unchecked_transaction().unwrap();
            {
                let mut insert = tx.prepare_cached(INSERT_OBSERVATION).unwrap();
                for r in chunk {
                    insert
                        .execute(params![
                            "pipe_sizing_comparison",
                            units_b.str(r.unit),
                            variants_b[r.unit],
                            metric_names[r.metric],
                            r.value,
                            anchor_at_ms
                        ])
                        .unwrap();
                }
            }
            tx.commit().unwrap();
        }
        anchor_rates.push(ROWS_B as f64 / t.elapsed().as_secs_f64());

        // cha-deploy: record through the C ABI, then cha_flush.
        let t = Instant::now();
        for r in &rows {
            h.record(units_b.ptr(r.unit), METRICS[r.metric], r.value);
        }
        let recorded = t.elapsed();
        h.flush();
        let total = t.elapsed();
        api_rates.push(ROWS_B as f64 / total.as_secs_f64());
        record_ns.push(recorded.as_secs_f64() * 1e9 / ROWS_B as f64);
        flush_rates.push(ROWS_B as f64 / (total - recorded).as_secs_f64());
        // The flush folded them already: nothing is left.
        assert_eq!(cha.fold_observations().unwrap(), 0);
    }
    let anchor_rate = median(anchor_rates.clone());
    let api_rate = median(api_rates.clone());
    let stored: i64 = Connection::open(scratch.path("observations.db"))
        .unwrap()
        .query_row(RAW_OBSERVATIONS, [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        stored as usize,
        ROWS_B * ROUNDS_B,
        "every recorded row is stored once"
    );

    // The small test of (b), analysed, for comparison with (c).
    let small_samples: Vec<f64> = (0..220)
        .map(|_| {
            let t = Instant::now();
            black_box(h.analyze_len());
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(20)
        .collect();
    let small_observations = stored;
    drop(cha);
    drop(h);
    drop(anchor);

    // ---- (c) analysis of a test holding 10 million observations -----------
    const UNITS_C: usize = 500_000;
    const ROWS_C: usize = 10_000_000;
    let build_started = Instant::now();
    let h = Handle::open(&scratch, "big.db");
    let units_c = UnitIds::new("network", UNITS_C);
    let mut treated_c = Vec::with_capacity(UNITS_C);
    let t = Instant::now();
    for i in 0..UNITS_C {
        let v = h.assign(units_c.ptr(i));
        // SAFETY: a variant name owned by the handle.
        treated_c.push(unsafe { CStr::from_ptr(v) }.to_bytes() == b"intelligent");
    }
    h.flush();
    let expose_c = t.elapsed();
    // The 10 million observations go through cha_experiment_record, as a
    // program records them: each flush (here, whenever the buffer reaches
    // its bound) persists and folds them.
    let t = Instant::now();
    {
        let mut rng = Rng(7);
        for k in 0..ROWS_C {
            // Every unit gets 5 observations of each of the 4 metrics.
            let unit = k % UNITS_C;
            let metric = (k / UNITS_C) % METRICS.len();
            let value = synthetic_value(&mut rng, metric, treated_c[unit]);
            h.record(units_c.ptr(unit), METRICS[metric], value);
        }
        h.flush();
    }
    let record_c = t.elapsed();
    let cha = rust_handle(&scratch, "big.db");
    assert_eq!(cha.fold_observations().unwrap(), 0, "the flushes folded all");
    drop(cha);
    let build_c = build_started.elapsed();

    // Sanity: the analysis sees every unit, from the summaries alone.
    let report: serde_json::Value = serde_json::from_str(&h.analyze()).unwrap();
    let primary = &report["metrics"][0];
    let n_control = primary["control"]["n"].as_u64().unwrap();
    let n_treatment = primary["comparisons"][0]["treatment"]["n"]
        .as_u64()
        .unwrap();
    assert_eq!(n_control + n_treatment, UNITS_C as u64);
    let big_observations: i64 = Connection::open(scratch.path("big.db"))
        .unwrap()
        .query_row(RAW_OBSERVATIONS, [], |r| r.get(0))
        .unwrap();
    assert_eq!(big_observations as usize, ROWS_C);

    let big_samples: Vec<f64> = (0..220)
        .map(|_| {
            let t = Instant::now();
            black_box(h.analyze_len());
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(20)
        .collect();
    drop(h);
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    // ---- report ----------------------------------------------------------------
    println!();
    println!("(a) assignment of pipe_sizing_comparison (50/50), ns per call");
    println!();
    println!("| | benchmark | median ns/op | fastest sample ns/op | allocations per call |");
    println!("|---|---|---:|---:|---:|");
    for (k, (name, timing)) in names_a.iter().zip(&timings_a).enumerate() {
        let allocs = match k {
            1 => format!("{repeat_allocs:.3}"),
            2 => format!("{new_allocs:.3}"),
            _ => "–".into(),
        };
        println!(
            "| a | {name} | {:.1} | {:.1} | {allocs} |",
            timing.median_ns, timing.min_ns
        );
    }
    println!();
    println!(
        "new units assigned while timing: {new_assigned}; {exposures} exposures persisted by one cha_flush in {:.2} s ({:.0} exposures/s, off the hot path)",
        exposure_flush.as_secs_f64(),
        exposures as f64 / exposure_flush.as_secs_f64()
    );

    println!();
    println!(
        "(b) {ROWS_B} observations ({UNITS_B} pre-exposed units, 4 metrics), median of {ROUNDS_B} rounds taken in turns"
    );
    println!();
    println!("| | benchmark | median rows/s | rounds (rows/s) | / anchor |");
    println!("|---|---|---:|---|---:|");
    let rounds = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{:.0}k", r / 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| b | bare rusqlite, prepared INSERT, 10,000 rows per transaction (anchor) | {anchor_rate:.0} | {} | anchor |",
        rounds(&anchor_rates)
    );
    println!(
        "| b | cha_experiment_record × {ROWS_B} + cha_flush (persist and fold) | {api_rate:.0} | {} | {:.0}% |",
        rounds(&api_rates),
        100.0 * api_rate / anchor_rate
    );
    println!(
        "| b | of which cha_flush alone (one transaction: persist and fold) | {:.0} | {} | {:.0}% |",
        median(flush_rates.clone()),
        rounds(&flush_rates),
        100.0 * median(flush_rates.clone()) / anchor_rate
    );
    println!();
    println!(
        "cha_experiment_record alone (buffering, no SQL): median {:.0} ns per call",
        median(record_ns.clone())
    );

    println!();
    println!("(c) cha_experiment_analyze, ms per call (200 calls after 20 warm-up calls)");
    println!();
    println!("| | test | observations | units | median ms | p95 ms | fastest ms |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    println!(
        "| c | the test of (b) | {small_observations} | {UNITS_B} | {:.3} | {:.3} | {:.3} |",
        median(small_samples.clone()),
        percentile(small_samples.clone(), 0.95),
        small_samples.iter().copied().fold(f64::INFINITY, f64::min)
    );
    println!(
        "| c | 10 million observations | {big_observations} | {UNITS_C} | {:.3} | {:.3} | {:.3} |",
        median(big_samples.clone()),
        percentile(big_samples.clone(), 0.95),
        big_samples.iter().copied().fold(f64::INFINITY, f64::min)
    );
    println!();
    println!(
        "building (c) took {:.1} s: {UNITS_C} units exposed through cha_experiment_assign + cha_flush in {:.1} s, {ROWS_C} observations recorded through cha_experiment_record, persisted and folded (flushes at the buffer's bound and a final cha_flush) in {:.1} s ({:.0} observations/s)",
        build_c.as_secs_f64(),
        expose_c.as_secs_f64(),
        record_c.as_secs_f64(),
        ROWS_C as f64 / record_c.as_secs_f64(),
    );
    println!(
        "(c) conclusion: {}; control n {n_control}, treatment n {n_treatment}",
        report["recommendation"]
    );

    let new_ns = timings_a[2].median_ns;
    let repeat_ns = timings_a[1].median_ns;
    let analyze_ms = median(big_samples);
    println!();
    println!(
        "targets: assignment < 100 ns: {:.1} ns new units ({}), {:.1} ns repeat units ({}); persisted observations ≥ 70% of the anchor: {:.0}% ({}); analysis of 10M observations < 5 ms: {:.3} ms ({})",
        new_ns,
        if new_ns < 100.0 { "met" } else { "NOT met" },
        repeat_ns,
        if repeat_ns < 100.0 { "met" } else { "NOT met" },
        100.0 * api_rate / anchor_rate,
        if api_rate >= 0.7 * anchor_rate {
            "met"
        } else {
            "NOT met"
        },
        analyze_ms,
        if analyze_ms < 5.0 { "met" } else { "NOT met" },
    );
    println!("load average after: {}", load_after.trim());
    println!("the run took {:.1} s", started.elapsed().as_secs_f64());
}
