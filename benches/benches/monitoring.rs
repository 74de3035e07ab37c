//! Performance monitoring of cha-deploy through its C ABI, each beside an
//! anchor measured in the same run (see ../../BENCHMARKS.md, section
//! "Performance monitoring"):
//!
//! (a) one record on one thread: `cha_metric_record` (no tags),
//!     `cha_metric_record_timer` (with tags), `cha_metric_increment`,
//!     beside the anchor, a push of the same sample into a `Vec` behind an
//!     uncontended mutex (the least a buffered record can cost), and the
//!     engine's share (`WindowStats::push`, its DDSketch included);
//!     allocations per call;
//! (b) two threads recording at once, each its own series and both the same
//!     series, beside two threads pushing into one shared mutex-guarded
//!     `Vec` (the anchor);
//! (c) persisted aggregates: 10 million samples over 1,000 series recorded
//!     and flushed into windows, as samples per second, beside bare batched
//!     rusqlite inserts of raw samples (the anchor);
//! (d) quantile error on lognormal data (1 million samples, and the merge
//!     of 100 windows of 10,000) against the exact quantiles;
//! (e) the memory bound: a window's bytes, and the heap one thread holds
//!     for 10,000 series before and after a flush.
//!
//!     cargo bench --manifest-path benches/Cargo.toml --bench monitoring

use std::ffi::{CStr, CString};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use cha_deploy::ffi::{
    cha_close, cha_flush, cha_handle, cha_metric_increment, cha_metric_record,
    cha_metric_record_timer, cha_open_with_options,
};
use cha_deploy::monitoring::WindowStats;
use rusqlite::{Connection, params};

#[path = "common/measure.rs"]
mod measure;
use measure::{Bench, Timing, measure_group, median};
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{allocations, live_bytes};

/// Persisted only on `cha_flush` (and close), so that a measurement sees
/// its own work and no background flush; no alert evaluation.
const OPTIONS: &CStr = c"{\"flush_interval_ms\": 3600000, \"evaluate_alerts\": false}";

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("cha-bench-monitoring-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn db(&self, name: &str) -> CString {
        CString::new(self.0.join(name).display().to_string()).unwrap()
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

/// An open handle, shared by the threads that record.
struct Handle(*mut cha_handle);
// SAFETY: cha_handle is documented as usable from many threads at once.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

impl Handle {
    fn open(path: &CStr) -> Handle {
        let mut h = std::ptr::null_mut();
        // SAFETY: valid strings and out-pointer.
        let status = unsafe { cha_open_with_options(path.as_ptr(), OPTIONS.as_ptr(), &mut h) };
        assert_eq!(status, 0);
        Handle(h)
    }

    #[inline(always)]
    fn record(&self, name: &CStr, value: f64) -> u64 {
        // SAFETY: an open handle and valid strings.
        let status = unsafe { cha_metric_record(self.0, name.as_ptr(), value, std::ptr::null()) };
        debug_assert_eq!(status, 0);
        status as u64
    }

    #[inline(always)]
    fn timer(&self, name: &CStr, seconds: f64, tags: &CStr) -> u64 {
        // SAFETY: an open handle and valid strings.
        let status =
            unsafe { cha_metric_record_timer(self.0, name.as_ptr(), seconds, tags.as_ptr()) };
        debug_assert_eq!(status, 0);
        status as u64
    }

    #[inline(always)]
    fn increment(&self, name: &CStr) -> u64 {
        // SAFETY: an open handle and valid strings.
        let status = unsafe { cha_metric_increment(self.0, name.as_ptr(), 1.0, std::ptr::null()) };
        debug_assert_eq!(status, 0);
        status as u64
    }

    fn flush(&self) {
        // SAFETY: an open handle.
        assert_eq!(unsafe { cha_flush(self.0) }, 0);
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: open, and no other thread uses it any more.
        unsafe { cha_close(self.0) }
    }
}

const WARM_UP: Duration = Duration::from_millis(200);
const SAMPLE: Duration = Duration::from_millis(20);

fn bench<'a>(mut op: impl FnMut(usize) -> u64 + 'a) -> Bench<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        let mut acc = 0u64;
        for i in 0..n {
            acc = acc.wrapping_add(op(i));
        }
        black_box(acc);
        start.elapsed()
    })
}

/// Values of a timer in seconds, varied so that the sketch sees many bins.
fn seconds(i: usize) -> f64 {
    0.05 + (i % 997) as f64 * 0.001
}

/// A deterministic lognormal sample (μ = 0, σ = 1): xorshift64* and
/// Box–Muller.
struct Lognormal(u64);

impl Lognormal {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()).exp()
    }
}

fn print_timings(title: &str, rows: &[(&str, Timing)], anchor: usize) {
    println!("\n{title}\n");
    println!("| benchmark | median ns/op | fastest sample ns/op | anchor / this |");
    println!("|---|---:|---:|---:|");
    for (k, (name, t)) in rows.iter().enumerate() {
        let ratio = if k == anchor {
            "anchor".to_string()
        } else {
            format!("{:.2}×", rows[anchor].1.median_ns / t.median_ns)
        };
        println!(
            "| {name} | {:.1} | {:.1} | {ratio} |",
            t.median_ns, t.min_ns
        );
    }
}

/// Two threads each running `op(thread, i)` `n` times, started together;
/// the wall time of both, per operation of one thread.
fn two_threads(n: usize, op: &(dyn Fn(usize, usize) -> u64 + Sync)) -> f64 {
    let barrier = Barrier::new(2);
    let start = Mutex::new(None::<Instant>);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let (barrier, start) = (&barrier, &start);
                s.spawn(move || {
                    barrier.wait();
                    start.lock().unwrap().get_or_insert_with(Instant::now);
                    let mut acc = 0u64;
                    for i in 0..n {
                        acc = acc.wrapping_add(op(t, i));
                    }
                    black_box(acc);
                    Instant::now()
                })
            })
            .collect();
        let ends: Vec<Instant> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let begun = start.lock().unwrap().unwrap();
        let last = ends.into_iter().max().unwrap();
        last.duration_since(begun).as_secs_f64() * 1e9 / n as f64
    })
}

fn main() -> ExitCode {
    let scratch = Scratch::new();
    let mut ok = true;

    // (a) one record, one thread.
    let h = Handle::open(&scratch.db("a.db"));
    let name = c"pipe_sizing_iterations";
    let timer = c"pipe_sizing_time_ms";
    let counter = c"pipe_sizing_requests";
    let tags = c"{\"network\": \"north\", \"method\": \"intelligent\"}";
    let anchor: Mutex<Vec<(u32, f64, i64)>> = Mutex::new(Vec::with_capacity(1 << 20));
    let mut window = WindowStats::new();
    let mut benches: Vec<Bench<'_>> = vec![
        bench(|i| {
            let mut v = anchor.lock().unwrap();
            if v.len() == v.capacity() {
                v.clear();
            }
            v.push((7, i as f64, i as i64));
            v.len() as u64
        }),
        bench(|i| {
            window.push(seconds(i) * 1000.0, i as i64);
            window.count()
        }),
        bench(|i| h.record(name, seconds(i) * 100.0)),
        bench(|i| h.timer(timer, seconds(i), tags)),
        bench(|_| h.increment(counter)),
    ];
    let timings = measure_group(&mut benches, WARM_UP, SAMPLE);
    drop(benches);
    let names = [
        "Vec push behind an uncontended mutex (anchor)",
        "WindowStats::push (the engine: Welford + DDSketch)",
        "cha_metric_record (C ABI, no tags)",
        "cha_metric_record_timer (C ABI, 2 tags)",
        "cha_metric_increment (C ABI, no tags)",
    ];
    let rows: Vec<(&str, Timing)> = names.iter().copied().zip(timings.iter().copied()).collect();
    print_timings("(a) one record, one thread", &rows, 0);
    let record_median = timings[2].median_ns;
    println!(
        "\ncha_metric_record median {record_median:.1} ns: {} the 50 ns target",
        if record_median < 50.0 {
            "under"
        } else {
            "OVER"
        }
    );

    let per_call = |f: &dyn Fn(usize) -> u64| {
        for i in 0..1000 {
            black_box(f(i));
        }
        let before = allocations();
        for i in 0..100_000 {
            black_box(f(i));
        }
        (allocations() - before) as f64 / 100_000.0
    };
    let allocs = [
        (
            "cha_metric_record",
            per_call(&|i| h.record(name, seconds(i))),
        ),
        (
            "cha_metric_record_timer, 2 tags",
            per_call(&|i| h.timer(timer, seconds(i), tags)),
        ),
        ("cha_metric_increment", per_call(&|_| h.increment(counter))),
    ];
    println!("\n| call | allocations per call (100,000 calls, one minute's window) |\n|---|---:|");
    for (n, a) in allocs {
        println!("| {n} | {a:.4} |");
        // A new minute opens a window (one allocation per series per
        // minute): anything more is a regression.
        ok &= a < 0.001;
    }
    drop(h);

    // (b) two threads.
    let h = Handle::open(&scratch.db("b.db"));
    let shared: Mutex<Vec<(u32, f64, i64)>> = Mutex::new(Vec::with_capacity(1 << 20));
    let own = [c"thread_0_iterations", c"thread_1_iterations"];
    const N: usize = 2_000_000;
    let two = |op: &(dyn Fn(usize, usize) -> u64 + Sync)| {
        let samples: Vec<f64> = (0..7).map(|_| two_threads(N, op)).collect();
        median(samples)
    };
    let one = |op: &dyn Fn(usize) -> u64| {
        let samples: Vec<f64> = (0..7)
            .map(|_| {
                let start = Instant::now();
                for i in 0..N {
                    black_box(op(i));
                }
                start.elapsed().as_secs_f64() * 1e9 / N as f64
            })
            .collect();
        median(samples)
    };
    let push = |i: usize| {
        let mut v = shared.lock().unwrap();
        if v.len() == v.capacity() {
            v.clear();
        }
        v.push((1, i as f64, 0));
        1
    };
    let rows2 = [
        (
            "Vec push behind one shared mutex (anchor)",
            one(&push),
            two(&|_, i| push(i)),
        ),
        (
            "cha_metric_record, a series per thread",
            one(&|i| h.record(own[0], seconds(i))),
            two(&|t, i| h.record(own[t], seconds(i))),
        ),
        (
            "cha_metric_record, both threads the same series",
            one(&|i| h.record(name, seconds(i))),
            two(&|_, i| h.record(name, seconds(i))),
        ),
    ];
    println!("\n(b) two threads at once ({N} records each, median of 7)\n");
    println!(
        "| benchmark | one thread, ns/op | two threads, ns/op per thread | throughput, two threads over one |"
    );
    println!("|---|---:|---:|---:|");
    for (label, single, double) in &rows2 {
        println!(
            "| {label} | {single:.1} | {double:.1} | {:.2}× |",
            2.0 * single / double
        );
    }
    drop(h);

    // (c) persisted aggregates against raw inserts.
    let h = Handle::open(&scratch.db("c.db"));
    let series: Vec<CString> = (0..1000)
        .map(|i| CString::new(format!("series_{i:04}")).unwrap())
        .collect();
    const TOTAL: usize = 10_000_000;
    let start = Instant::now();
    for i in 0..TOTAL {
        black_box(h.record(&series[i % 1000], seconds(i)));
    }
    let recorded = start.elapsed();
    let flush_start = Instant::now();
    h.flush();
    let flushed = flush_start.elapsed();
    let total = recorded + flushed;
    drop(h);
    let raw = {
        let conn = Connection::open(scratch.path("raw.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             CREATE TABLE samples (id INTEGER PRIMARY KEY, series INTEGER NOT NULL, value REAL NOT NULL, at_ms INTEGER NOT NULL);",
        )
        .unwrap();
        const ROWS: usize = 1_000_000;
        let start = Instant::now();
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO samples (series, value, at_ms) VALUES (?1, ?2, ?3)")
                .unwrap();
            for i in 0..ROWS {
                stmt.execute(params![(i % 1000) as i64, seconds(i), i as i64])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        ROWS as f64 / start.elapsed().as_secs_f64()
    };
    let rate = TOTAL as f64 / total.as_secs_f64();
    println!("\n(c) persisted aggregates\n");
    println!("| what | samples/s | time |");
    println!("|---|---:|---:|");
    println!(
        "| bare rusqlite: 1,000,000 raw samples inserted in one transaction (anchor) | {:.2} M | {:.2} s |",
        raw / 1e6,
        1e6 / raw
    );
    println!(
        "| cha_metric_record × 10,000,000 over 1,000 series, then cha_flush of their windows | {:.2} M | {:.2} s (record {:.2} s + flush {:.3} s) |",
        rate / 1e6,
        total.as_secs_f64(),
        recorded.as_secs_f64(),
        flushed.as_secs_f64()
    );
    ok &= rate >= 1e6;

    // (d) quantile error on lognormal data.
    let mut lognormal = Lognormal(0x9e37_79b9_7f4a_7c15);
    let values: Vec<f64> = (0..1_000_000).map(|_| lognormal.next()).collect();
    let mut whole = WindowStats::new();
    let mut merged = WindowStats::new();
    for chunk in values.chunks(10_000) {
        let mut part = WindowStats::new();
        for (i, v) in chunk.iter().enumerate() {
            whole.push(*v, i as i64);
            part.push(*v, i as i64);
        }
        merged.merge(&part);
    }
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "\n(d) quantiles of 1,000,000 lognormal(0, 1) samples against the exact value of rank ⌊q (n − 1)⌋\n"
    );
    println!(
        "| quantile | exact | sketch | relative error | merged from 100 windows | relative error |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut worst: f64 = 0.0;
    for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
        let exact = sorted[(q * (sorted.len() - 1) as f64) as usize];
        let (a, b) = (whole.quantile(q).unwrap(), merged.quantile(q).unwrap());
        let (ea, eb) = ((a - exact).abs() / exact, (b - exact).abs() / exact);
        worst = worst.max(ea).max(eb);
        println!(
            "| p{} | {exact:.5} | {a:.5} | {:.3}% | {b:.5} | {:.3}% |",
            q * 100.0,
            ea * 100.0,
            eb * 100.0
        );
    }
    println!("\nworst relative error {:.3}% (bound: 1%)", worst * 100.0);
    ok &= worst <= 0.01;

    // (e) memory.
    println!("\n(e) memory\n");
    println!("| what | bytes |");
    println!("|---|---:|");
    println!(
        "| one window of 1,000,000 lognormal samples (struct + sketch bins) | {} |",
        whole.memory_bytes()
    );
    let mut narrow = WindowStats::new();
    for i in 0..100_000 {
        narrow.push(seconds(i) * 1000.0, i as i64);
    }
    println!(
        "| one window of timer values from 50 to 1046 ms | {} |",
        narrow.memory_bytes()
    );
    // Heap held for the series of one thread, counted by the allocator:
    // the handle's index (name and tags once per series), the thread's
    // index and slots, and each series' open window.
    let h = Handle::open(&scratch.db("e.db"));
    let names: Vec<CString> = (0..10_000)
        .map(|i| CString::new(format!("m_{i:05}")).unwrap())
        .collect();
    let before = live_bytes();
    for (i, n) in names.iter().enumerate() {
        for k in 0..10 {
            h.record(n, seconds(i * 10 + k));
        }
    }
    let held = live_bytes() - before;
    h.flush();
    let after_flush = live_bytes() - before;
    println!(
        "| heap held by one thread for 10,000 series × 10 samples, before the flush | {held} ({} per series) |",
        held / 10_000
    );
    println!(
        "| the same after the flush (the windows persisted; the indexes stay) | {after_flush} ({} per series) |",
        after_flush / 10_000
    );
    drop(h);

    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("a bound was not met (allocations, 1M samples/s or the 1% quantile error)");
        ExitCode::FAILURE
    }
}
