//! Crash safety: a writing process killed with SIGKILL (no flush, no
//! destructor) at random points, again and again, on one database.
//!
//! The writer (this test binary run again as a child) records observations,
//! metrics and feedback, updates a flag, deploys and rolls back, evaluates
//! the alert rules, and after every call whose return makes its work
//! durable (a flush, a feedback submit, a flag update, an alert
//! evaluation) appends what it acknowledged to a side file and fsyncs it.
//! After each kill the parent checks:
//!
//! - `PRAGMA integrity_check` is ok;
//! - every acknowledged observation is present (exact counts per flushed
//!   iteration), every acknowledged metric sample is counted, every
//!   acknowledged feedback id is stored, the flag is at least at its
//!   acknowledged version;
//! - the configuration is all of one deployment or all of another, and it
//!   is the one the deployment history says is in force;
//! - the alert rule is still pending with the `for` clock it started with;
//! - the next open succeeds (the next child opens it; the last check opens
//!   it here).
//!
//! Bounded: `KILLS` kills (100; `CHA_CRASH_KILLS` sets another number).
//! `CHA_CRASH_SEED` replays a run's random kill points.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use cha_deploy::{Cha, DeployOptions, OnDrift, OpenOptions};
use serde_json::json;

const CHILD_ENV: &str = "CHA_CRASH_CHILD_DB";
const RUN_ENV: &str = "CHA_CRASH_RUN";
const KILLS: u32 = 100;

const EXPERIMENT: &str = "pipe_sizing_comparison";
const METRIC: &str = "pipe_cost_efficiency";
/// Observations per iteration, all with the iteration as their value.
const OBSERVATIONS: u32 = 40;
/// Counter increments per iteration.
const INCREMENTS: u32 = 20;
/// The flag the writer changes at runtime (kept by its deployments).
const RUNTIME_FLAG: &str = "velocity_constraints";
/// The rule the writer keeps in breach: `for_seconds` is an hour in the
/// deployed files, so that it stays pending for the whole test.
const RULE_METRIC: &str = "pipe_sizing_time_ms";

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// A copy of the configuration with `mark` in one definition of each file,
/// and the watched rule's `for` clock at an hour.
fn marked_configs(dir: &Path, mark: &str) -> PathBuf {
    let out = dir.join(format!("configs-{mark}"));
    std::fs::create_dir_all(&out).unwrap();
    let edits: [(&str, &str, String); 4] = [
        (
            "feature_flags.yml",
            "Size pipes from the design mass flow of each segment",
            format!("Size pipes from the design mass flow of each segment crash{mark}"),
        ),
        (
            "ab_tests.yml",
            "Compare traditional vs. intelligent pipe sizing methods",
            format!("Compare traditional vs. intelligent pipe sizing methods crash{mark}"),
        ),
        (
            "performance_monitoring.yml",
            "Time to size the pipes of one network.",
            format!("Time to size the pipes of one network. crash{mark}"),
        ),
        (
            "user_feedback.yml",
            "documentation: [documentation,",
            format!("documentation: [crash{mark}, documentation,"),
        ),
    ];
    for (file, from, to) in edits {
        let text = std::fs::read_to_string(configs().join(file)).unwrap();
        assert_eq!(text.matches(from).count(), 1, "{file}: {from}");
        let mut text = text.replacen(from, &to, 1);
        if file == "performance_monitoring.yml" {
            // The first rule is the watched one.
            text = text.replacen("for_seconds: 120", "for_seconds: 3600", 1);
        }
        std::fs::write(out.join(file), text).unwrap();
    }
    out
}

/// The writer. Runs until killed; every line of the side file is
/// something that returned (and so must survive):
/// `obs <iteration>` (all observations of iterations up to it flushed),
/// `metric <increments>`, `feedback <id>`, `flag <version>`,
/// `alert <since_ms>`.
#[test]
#[ignore = "run by killed_at_random_points_the_database_stays_sound"]
fn crash_writer() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let db = PathBuf::from(db);
    let run: u32 = std::env::var(RUN_ENV).unwrap().parse().unwrap();
    let dir = db.parent().unwrap();
    let options = OpenOptions {
        flush_interval_ms: 15,
        refresh_interval_ms: 15,
        evaluate_alerts: false,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(&db, options).unwrap();
    let mut acks = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("acks-{run}")))
        .unwrap();
    let mut ack = |line: String| {
        writeln!(acks, "{line}").unwrap();
        acks.sync_data().unwrap();
    };
    let keep = DeployOptions {
        actor: Some("crash".into()),
        on_drift: OnDrift::KeepRuntime,
        ..DeployOptions::default()
    };
    let tags = format!("{{\"run\":\"{run}\"}}");
    let mut increments = 0u64;
    for i in 0u32.. {
        for j in 0..OBSERVATIONS {
            cha.record(EXPERIMENT, &format!("r{run}-{i}-{j}"), METRIC, f64::from(i))
                .unwrap();
        }
        for _ in 0..INCREMENTS {
            cha.increment("crash_ops", 1.0, Some(&tags)).unwrap();
        }
        increments += u64::from(INCREMENTS);
        cha.record_timer(RULE_METRIC, 2.5, None).unwrap();
        cha.flush().unwrap();
        ack(format!("obs {i}"));
        ack(format!("metric {increments}"));
        let item = cha
            .submit_feedback_json(
                &json!({"type": "general_feedback", "user_id": format!("u{run}"),
                        "text": format!("run {run} iteration {i}: the sizing of loop {i} looks fine")})
                .to_string(),
            )
            .unwrap();
        ack(format!("feedback {}", item.id));
        let change = cha
            .update_flag(RUNTIME_FLAG, &json!({"enabled": i % 2 == 0}), "crash")
            .unwrap();
        ack(format!("flag {}", change.version));
        cha.evaluate_alerts_at(0).unwrap();
        let since = rule_since(&db);
        if let Some(since) = since {
            ack(format!("alert {since}"));
        }
        match i % 3 {
            0 => drop(cha.deploy(marked_dir(dir, "B"), &keep).unwrap()),
            1 => drop(cha.rollback_deployment(0, &keep).unwrap()),
            _ => drop(cha.deploy(marked_dir(dir, "A"), &keep).unwrap()),
        }
    }
}

fn marked_dir(dir: &Path, mark: &str) -> PathBuf {
    dir.join(format!("configs-{mark}"))
}

/// The watched rule's state and the start of its `for` clock.
fn rule_state(conn: &rusqlite::Connection) -> Option<(String, Option<i64>)> {
    conn.query_row(
        "SELECT state, since_ms FROM alert_rules WHERE rule = ?1",
        [RULE_METRIC],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

fn rule_since(db: &Path) -> Option<i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    match rule_state(&conn) {
        Some((state, since)) if state == "pending" => since,
        _ => None,
    }
}

/// Everything the writers acknowledged, over all runs.
#[derive(Default)]
struct Acknowledged {
    /// Per run, the last iteration whose observations were flushed.
    observations: BTreeMap<u32, u32>,
    /// Per run, the increments flushed.
    increments: BTreeMap<u32, u64>,
    feedback: Vec<i64>,
    flag_version: i64,
    alert_since: Option<i64>,
}

impl Acknowledged {
    /// Reads run `run`'s side file; a last line cut by the kill is ignored
    /// (it was never acknowledged: the fsync had not returned).
    fn read(&mut self, dir: &Path, run: u32) {
        let Ok(text) = std::fs::read_to_string(dir.join(format!("acks-{run}"))) else {
            return;
        };
        let whole = text.split_inclusive('\n').filter(|l| l.ends_with('\n'));
        for line in whole.map(str::trim_end) {
            let Some((what, value)) = line.split_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<i64>() else {
                continue;
            };
            match what {
                "obs" => {
                    self.observations.insert(run, value as u32);
                }
                "metric" => {
                    self.increments.insert(run, value as u64);
                }
                "feedback" => self.feedback.push(value),
                "flag" => self.flag_version = self.flag_version.max(value),
                "alert" => {
                    if let Some(since) = self.alert_since {
                        assert_eq!(since, value, "run {run}: the `for` clock started anew");
                    }
                    self.alert_since = Some(value);
                }
                _ => {}
            }
        }
    }

    fn records(&self) -> u64 {
        let observations: u64 = self
            .observations
            .values()
            .map(|i| u64::from(i + 1) * u64::from(OBSERVATIONS))
            .sum();
        let increments: u64 = self.increments.values().sum();
        observations + increments + self.feedback.len() as u64
    }
}

/// Tiny xorshift: the kill points, reproducible from the seed printed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn killed_at_random_points_the_database_stays_sound() {
    let kills: u32 = std::env::var("CHA_CRASH_KILLS")
        .ok()
        .map(|k| k.parse().expect("CHA_CRASH_KILLS is a number"))
        .unwrap_or(KILLS);
    let seed: u64 = std::env::var("CHA_CRASH_SEED")
        .ok()
        .map(|s| s.parse().expect("CHA_CRASH_SEED is a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("CHA_CRASH_SEED={seed} CHA_CRASH_KILLS={kills}");
    let mut rng = Rng(seed);

    let dir = std::env::temp_dir().join(format!("cha-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("cha.db");
    marked_configs(&dir, "A");
    marked_configs(&dir, "B");
    let cha = Cha::open(&db).unwrap();
    cha.deploy(marked_dir(&dir, "A"), &DeployOptions::default())
        .unwrap();
    cha.close().unwrap();

    let mut acked = Acknowledged::default();
    let mut survived = 0;
    let mut last = (0, 0);
    for run in 0..kills {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["crash_writer", "--exact", "--ignored", "--nocapture"])
            .env(CHILD_ENV, &db)
            .env(RUN_ENV, run.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // From the middle of the open to a few iterations in.
        let delay = Duration::from_millis(10 + rng.below(400));
        let start = Instant::now();
        while start.elapsed() < delay {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("run {run}: the writer ended by itself ({status}):\n{err}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL: no flush, no destructors.
        child.wait().unwrap();
        acked.read(&dir, run);
        last = check(&db, &dir, &acked, run);
        survived += 1;
    }

    // The next open succeeds, and the handle sees everything.
    let cha = Cha::open(&db).unwrap();
    let report = cha
        .analyze_experiment(EXPERIMENT, Default::default())
        .unwrap();
    let exposed: u64 = report.variants.iter().map(|v| v.exposures).sum();
    let units: u64 = acked
        .observations
        .values()
        .map(|i| u64::from(i + 1) * u64::from(OBSERVATIONS))
        .sum();
    assert!(
        exposed >= units,
        "{exposed} units exposed, {units} acknowledged"
    );
    cha.close().unwrap();
    println!(
        "kills survived: {survived}; acknowledged records checked after the last: {} \
         ({} runs flushed observations, {} feedback items, flag at version {}, alert pending since {:?}); \
         {} deployments in the history, {} backups whole",
        acked.records(),
        acked.observations.len(),
        acked.feedback.len(),
        acked.flag_version,
        acked.alert_since,
        last.0,
        last.1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The checks after one kill.
/// Returns how many deployments (deploys and rollbacks) are in the history
/// and how many backups were checked.
fn check(db: &Path, dir: &Path, acked: &Acknowledged, run: u32) -> (i64, usize) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "run {run}");

    // Every flushed observation, exactly: iteration i's all have value i.
    let observations = common::raw_observations(db, EXPERIMENT);
    for (r, last) in &acked.observations {
        let prefix = format!("r{r}-");
        let n = observations
            .iter()
            .filter(|o| o.unit.starts_with(&prefix) && o.value <= f64::from(*last))
            .count() as i64;
        assert_eq!(
            n,
            i64::from(last + 1) * i64::from(OBSERVATIONS),
            "run {run}: observations of writer {r} up to its flushed iteration {last}"
        );
    }
    // Nothing half-written: every observation has its exposure.
    let exposed: std::collections::HashSet<String> = conn
        .prepare("SELECT unit FROM exposures WHERE experiment = ?1")
        .unwrap()
        .query_map([EXPERIMENT], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let orphans = observations
        .iter()
        .filter(|o| !exposed.contains(&o.unit))
        .count();
    assert_eq!(orphans, 0, "run {run}");
    for (r, increments) in &acked.increments {
        let sum: f64 = conn
            .query_row(
                "SELECT COALESCE(SUM(sum), 0) FROM metric_series WHERE name = 'crash_ops' AND tags = ?1",
                [format!("{{\"run\":\"{r}\"}}")],
                |row| row.get(0),
            )
            .unwrap();
        assert!(
            sum >= *increments as f64,
            "run {run}: writer {r} flushed {increments} increments, {sum} are stored"
        );
    }
    for id in &acked.feedback {
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM feedback WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "run {run}: acknowledged feedback {id} is missing");
    }
    let version: i64 = conn
        .query_row(
            "SELECT version FROM definitions WHERE kind = 'flag' AND name = ?1",
            [RUNTIME_FLAG],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        version >= acked.flag_version,
        "run {run}: flag at version {version}, {} acknowledged",
        acked.flag_version
    );

    // All or nothing: one mark in all four kinds, the one in force.
    let mut marks = BTreeMap::new();
    for mark in ["A", "B"] {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM definitions WHERE definition_json LIKE ?1",
                [format!("%crash{mark}%")],
                |r| r.get(0),
            )
            .unwrap();
        marks.insert(mark, n);
    }
    let expected = in_force(&conn, dir);
    let other = if expected == "A" { "B" } else { "A" };
    assert_eq!(
        (marks[expected], marks[other]),
        (4, 0),
        "run {run}: the history says {expected} is in force; marks found {marks:?}"
    );

    // Every backup (taken before each deploy and rollback) is whole: a
    // kill during the copy leaves none at a backup's name.
    let mut backups = 0;
    for entry in std::fs::read_dir(dir.join("cha.db-backups")).unwrap() {
        let path = entry.unwrap().path();
        // Not their -wal and -shm files (this check makes those too).
        if path.extension().is_none_or(|e| e != "db") {
            continue;
        }
        let backup = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let check: Result<String, _> = backup.query_row("PRAGMA quick_check", [], |r| r.get(0));
        assert_eq!(
            check.as_deref().ok(),
            Some("ok"),
            "run {run}: backup {} is not whole: {check:?}",
            path.display()
        );
        backups += 1;
    }

    // The alert and its `for` clock.
    if let Some(since) = acked.alert_since {
        let (state, stored) = rule_state(&conn).expect("the rule's state is stored");
        assert_eq!(
            (state.as_str(), stored),
            ("pending", Some(since)),
            "run {run}: the `for` clock"
        );
    }
    let deployments: i64 = conn
        .query_row("SELECT COUNT(*) FROM deployments", [], |r| r.get(0))
        .unwrap();
    (deployments, backups)
}

/// The mark of the configuration the latest deployment left, following
/// rollbacks to the deployment they restored.
fn in_force(conn: &rusqlite::Connection, dir: &Path) -> &'static str {
    let mut row: (Option<String>, Option<i64>) = conn
        .query_row(
            "SELECT config_dir, rolled_back_to FROM deployments ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    loop {
        match row {
            (_, Some(to)) => {
                row = conn
                    .query_row(
                        "SELECT config_dir, rolled_back_to FROM deployments WHERE id = ?1",
                        [to],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap();
            }
            (Some(config_dir), None) => {
                return if Path::new(&config_dir) == marked_dir(dir, "B") {
                    "B"
                } else {
                    assert_eq!(Path::new(&config_dir), marked_dir(dir, "A"));
                    "A"
                };
            }
            other => panic!("a deployment without a folder: {other:?}"),
        }
    }
}
