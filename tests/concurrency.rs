//! Concurrency: 8 threads in each of 2 processes evaluate flags, assign,
//! record observations and metrics, submit feedback and update a flag on
//! one database, with exact counts afterwards; no call fails (a lock held
//! by the other process is waited out within the busy timeout, never
//! handed to the caller as "database is locked"), nothing deadlocks, and
//! the background threads stop when the handle closes, also when the last
//! reference is dropped by a thread racing the others' calls.
//!
//! Bounded: 5 seconds of load; `CHA_CONCURRENCY_SECONDS=60` runs the
//! minute of the issue (`.ci/run` sets it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cha_deploy::{Cha, OpenOptions, flags::Context};
use common::TempDir;
use serde_json::json;

const CHILD_ENV: &str = "CHA_CONCURRENCY_DB";
const THREADS: u32 = 8;
const EXPERIMENT: &str = "pipe_sizing_comparison";
const METRIC: &str = "pipe_cost_efficiency";
/// Enabled for everyone: every check must say so.
const ALWAYS_ON: &str = "flow_based_calculation";
/// The flag the threads change at runtime: a new description each time.
const CHANGED: &str = "new_ui";
const FEEDBACK_EVERY: u64 = 50;
const UPDATE_EVERY: u64 = 100;

/// Tests here look at this process's threads (every test's handle has
/// some): one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

fn seconds() -> u64 {
    std::env::var("CHA_CONCURRENCY_SECONDS")
        .ok()
        .map(|s| s.parse().expect("CHA_CONCURRENCY_SECONDS is a number"))
        .unwrap_or(5)
}

fn options() -> OpenOptions {
    OpenOptions {
        // Short intervals: the background threads run often during the load.
        flush_interval_ms: 10,
        refresh_interval_ms: 10,
        system_metrics_interval_ms: Some(100),
        ..OpenOptions::default()
    }
}

/// What one process did.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Done {
    iterations: u64,
    feedback: u64,
    updates: u64,
}

impl Done {
    fn add(self, o: Done) -> Done {
        Done {
            iterations: self.iterations + o.iterations,
            feedback: self.feedback + o.feedback,
            updates: self.updates + o.updates,
        }
    }
}

/// One process's load: `THREADS` threads on one handle for `seconds`.
/// Every call must succeed; the first failure ends the run with its message.
fn load(db: &Path, process: u32, seconds: u64) -> Done {
    let cha = Cha::open_with_options(db, options()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let failed = AtomicBool::new(false);
    let done = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let cha = cha.clone();
                let failed = &failed;
                s.spawn(move || {
                    let mut done = Done::default();
                    let tags = format!("{{\"process\":\"{process}\"}}");
                    while Instant::now() < deadline && !failed.load(Ordering::Relaxed) {
                        let i = done.iterations;
                        let unit = format!("p{process}-t{t}-{i}");
                        let result = (|| -> cha_deploy::Result<()> {
                            let ctx = Context {
                                user_id: Some(&unit),
                                ..Context::default()
                            };
                            assert!(cha.is_enabled(ALWAYS_ON, &ctx)?, "{unit}");
                            let variant = cha.assign(EXPERIMENT, &unit)?;
                            assert!(variant.variant.is_some(), "{unit}: no variant");
                            cha.record(EXPERIMENT, &unit, METRIC, 1.0)?;
                            cha.increment("concurrent_ops", 1.0, Some(&tags))?;
                            if i % FEEDBACK_EVERY == 0 {
                                cha.submit_feedback_json(
                                    &json!({"type": "general_feedback", "user_id": unit,
                                            "text": format!("sizing run {unit} was fine")})
                                    .to_string(),
                                )?;
                                done.feedback += 1;
                            }
                            if i % UPDATE_EVERY == 0 {
                                let change = cha.update_flag(
                                    CHANGED,
                                    &json!({"description": format!("changed by {unit}")}),
                                    "load",
                                )?;
                                assert!(change.changed);
                                done.updates += 1;
                            }
                            Ok(())
                        })();
                        if let Err(e) = result {
                            failed.store(true, Ordering::Relaxed);
                            panic!("process {process}, thread {t}, iteration {i}: {e:?}");
                        }
                        done.iterations += 1;
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker failed"))
            .fold(Done::default(), Done::add)
    });
    cha.close().unwrap();
    done
}

/// The second process: runs the load and writes what it did.
#[test]
#[ignore = "run by two_processes_of_eight_threads_lose_nothing"]
fn load_child() {
    let Some(db) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let done = load(&db, 1, seconds());
    std::fs::write(
        db.with_file_name("child-done"),
        format!("{} {} {}", done.iterations, done.feedback, done.updates),
    )
    .unwrap();
}

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect()
}

fn library_threads() -> Vec<String> {
    thread_names()
        .into_iter()
        .filter(|n| n.starts_with("cha-"))
        .collect()
}

#[test]
fn two_processes_of_eight_threads_lose_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("concurrency");
    let db = dir.path().join("cha.db");
    let cha = Cha::open(&db).unwrap();
    cha.deploy_all(configs(), "test").unwrap();
    let version = cha.flag(CHANGED).unwrap().version;
    cha.close().unwrap();

    let seconds = seconds();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["load_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_ENV, &db)
        .env("CHA_CONCURRENCY_SECONDS", seconds.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let here = load(&db, 0, seconds);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the second process failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let numbers: Vec<u64> = std::fs::read_to_string(dir.path().join("child-done"))
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let there = Done {
        iterations: numbers[0],
        feedback: numbers[1],
        updates: numbers[2],
    };
    let all = here.add(there);
    assert!(here.iterations > 0 && there.iterations > 0);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(
        count("SELECT COUNT(*) FROM exposures WHERE unit GLOB 'p*-t*-*'") as u64,
        all.iterations,
        "one exposure per unit"
    );
    assert_eq!(
        common::raw_observations(&db, EXPERIMENT)
            .iter()
            .filter(|o| o.unit.starts_with('p') && o.unit.contains("-t"))
            .count() as u64,
        all.iterations,
        "one observation per unit"
    );
    for (process, done) in [(0, here), (1, there)] {
        let sum: f64 = conn
            .query_row(
                "SELECT sum FROM metric_series WHERE name = 'concurrent_ops' AND tags = ?1",
                [format!("{{\"process\":\"{process}\"}}")],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            sum, done.iterations as f64,
            "process {process}'s increments"
        );
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM feedback") as u64,
        all.feedback,
        "feedback items"
    );
    let now: i64 = conn
        .query_row(
            "SELECT version FROM definitions WHERE kind = 'flag' AND name = ?1",
            [CHANGED],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((now - version) as u64, all.updates, "flag versions");
    // The analysis sees every unit, once.
    let cha = Cha::open(&db).unwrap();
    let report = cha
        .analyze_experiment(EXPERIMENT, Default::default())
        .unwrap();
    let exposed: u64 = report.variants.iter().map(|v| v.exposures).sum();
    assert_eq!(exposed, all.iterations);
    cha.close().unwrap();
    assert_eq!(
        library_threads(),
        Vec::<String>::new(),
        "threads left running"
    );
    println!(
        "{seconds} s, 2 processes x {THREADS} threads: {} iterations ({} + {}), \
         {} feedback items, {} flag updates; records checked: {}",
        all.iterations,
        here.iterations,
        there.iterations,
        all.feedback,
        all.updates,
        all.iterations * 3 + all.feedback + all.updates
    );
}

/// A handle shared by threads that keep calling while one of them closes
/// its reference and the others drop theirs mid-flight: the background
/// threads (refresh, flush, alert evaluation, sampling) end with the last
/// reference, whichever thread drops it, and nothing hangs. (In C,
/// `cha_close` must not race other calls on the handle: one handle is one
/// reference there.)
#[test]
fn the_background_threads_stop_when_the_last_reference_goes_mid_call() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("concurrency-close");
    let db = dir.path().join("cha.db");
    Cha::open(&db)
        .unwrap()
        .deploy_all(configs(), "test")
        .unwrap();
    for round in 0..20u32 {
        let cha = Cha::open_with_options(&db, options()).unwrap();
        // A thread names itself once it runs: wait for both.
        let started = Instant::now();
        while !["cha-watcher", "cha-monitor"]
            .iter()
            .all(|n| library_threads().iter().any(|t| t == n))
        {
            assert!(started.elapsed() < Duration::from_secs(30), "never started");
            std::thread::sleep(Duration::from_millis(1));
        }
        let workers: Vec<_> = (0..4u32)
            .map(|t| {
                let cha = cha.clone();
                std::thread::spawn(move || {
                    // Each stops after its own number of calls: the last
                    // reference goes from a different thread each round.
                    for i in 0..(50 + 37 * ((t + round) % 4)) {
                        let unit = format!("r{round}-t{t}-{i}");
                        cha.record(EXPERIMENT, &unit, METRIC, 1.0).unwrap();
                        cha.increment("closing_ops", 1.0, None).unwrap();
                    }
                })
            })
            .collect();
        cha.close().unwrap();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(library_threads(), Vec::<String>::new(), "round {round}");
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row(common::RAW_OBSERVATIONS, [], |r| r.get(0))
        .unwrap();
    let expected: u32 = (0..20u32)
        .map(|round| (0..4u32).map(|t| 50 + 37 * ((t + round) % 4)).sum::<u32>())
        .sum();
    assert_eq!(n, i64::from(expected), "every record of every round");
}

/// A restore needs the write lock for the whole copy: while another
/// connection holds it, the restore waits out the busy timeout and then
/// fails as busy, having changed nothing; once the lock goes, it works.
#[test]
fn a_restore_waits_out_a_lock_and_then_reports_busy() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("concurrency-restore");
    let db = dir.path().join("cha.db");
    let options = OpenOptions {
        busy_timeout_ms: 100,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(&db, options).unwrap();
    cha.deploy_all(configs(), "test").unwrap();
    let deployments = cha.deployments(100).unwrap().len();
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let e = cha.restore_backup("latest", "test").unwrap_err();
    assert_eq!(e.kind(), cha_deploy::ErrorKind::Busy, "{e}");
    assert!(e.message().contains("nothing was restored"), "{e}");
    locker.execute_batch("COMMIT").unwrap();
    assert_eq!(cha.deployments(100).unwrap().len(), deployments);
    cha.restore_backup("latest", "test").unwrap();
    assert_eq!(cha.deployments(100).unwrap().len(), deployments + 1);
    cha.close().unwrap();
}
