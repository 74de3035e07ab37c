//! Disk faults: each is a clear error, never a crash, and leaves nothing
//! half-written; flag checks keep answering from the last good snapshot
//! and the handle's health says what failed; the recorder's buffer stays
//! bounded and refuses records rather than acknowledging what it cannot
//! keep.
//!
//! Faults that change the whole process (a file size limit, another user)
//! run in a child: this test binary again, with `--exact` and `--ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cha_deploy::{Cha, ErrorKind, OpenOptions, flags::Context};
use common::TempDir;
use serde_json::json;

const CHILD_ENV: &str = "CHA_FAULT_DB";
const EXPERIMENT: &str = "pipe_sizing_comparison";
const METRIC: &str = "pipe_cost_efficiency";
/// The flag the checks evaluate: a 25% rollout, so the answers differ by user.
const FLAG: &str = "intelligent_pipe_sizing";

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// A database with the repository's configuration deployed.
fn deployed(dir: &Path) -> PathBuf {
    let db = dir.join("cha.db");
    let cha = Cha::open(&db).unwrap();
    cha.deploy_all(configs(), "test").unwrap();
    cha.close().unwrap();
    db
}

/// The flag's answer for 200 users.
fn answers(cha: &Cha) -> Vec<bool> {
    (0..200)
        .map(|i| {
            let user = format!("planner-{i}");
            let ctx = Context {
                user_id: Some(&user),
                ..Context::default()
            };
            cha.is_enabled(FLAG, &ctx).unwrap()
        })
        .collect()
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Runs the ignored test `name` in a child process with `db`, as user
/// `nobody` when `as_nobody` and this process is root (root writes
/// anything, whatever its mode); panics with its output if it fails.
fn in_child(name: &str, db: &Path, as_nobody: bool) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--ignored", "--nocapture"])
        .env(CHILD_ENV, db);
    #[cfg(unix)]
    if as_nobody && is_root() {
        use std::os::unix::process::CommandExt;
        command.uid(65534).gid(65534);
    }
    if let Err(e) = common::run(&mut command) {
        panic!("{e}");
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn child_db() -> Option<PathBuf> {
    std::env::var_os(CHILD_ENV).map(PathBuf::from)
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

// ---- A read-only database or folder ----

#[test]
fn a_database_file_that_cannot_be_written_is_refused_at_open() {
    let dir = TempDir::new("faults-ro-file");
    let db = deployed(dir.path());
    chmod(dir.path(), 0o755);
    chmod(&db, 0o444);
    in_child("read_only_child", &db, true);
    // Nothing was written: the file is as deployed.
    assert_eq!(integrity(&db), "ok");
    assert_eq!(count(&db, common::RAW_OBSERVATIONS), 0);
}

#[test]
fn a_folder_that_cannot_be_written_is_refused_at_open() {
    let dir = TempDir::new("faults-ro-folder");
    let db = deployed(dir.path());
    // The file is writable by all, its folder by nobody but root: the
    // journal cannot be made beside it.
    chmod(&db, 0o666);
    chmod(dir.path(), 0o555);
    in_child("read_only_child", &db, true);
    chmod(dir.path(), 0o755);
    assert_eq!(integrity(&db), "ok");
}

/// Opening fails with a storage error that says the database cannot be
/// written; `inspect` (doctor) still reads it.
#[test]
#[ignore = "run by the read-only tests"]
fn read_only_child() {
    let Some(db) = child_db() else { return };
    let e = Cha::open(&db)
        .err()
        .expect("a read-only database is refused");
    assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    assert!(e.message().contains("cannot be written"), "{e}");
    assert!(e.message().contains(&db.display().to_string()), "{e}");
    let inspection = cha_deploy::inspect(&db).unwrap();
    assert_eq!(inspection.info.schema_version, cha_deploy::SCHEMA_VERSION);
    assert_eq!(inspection.integrity, "ok");
    let why = inspection
        .unwritable
        .expect("doctor says it cannot be written");
    assert!(why.contains("cannot be written"), "{why}");
}

// ---- A full disk ----

#[test]
fn a_full_disk_is_a_storage_error_the_buffer_stays_bounded_and_nothing_is_lost() {
    let dir = TempDir::new("faults-full");
    let db = deployed(dir.path());
    let flags_before = count(&db, "SELECT COUNT(*) FROM audit_log");
    in_child("full_disk_child", &db, false);
    assert_eq!(integrity(&db), "ok");
    // The child checked its own counts; here, what another process sees.
    let accepted: i64 = std::fs::read_to_string(dir.path().join("accepted"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        count(&db, common::RAW_OBSERVATIONS),
        accepted,
        "every accepted observation, and only those"
    );
    // The refused flag update left no trace: one audit row per update that
    // returned.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM audit_log"),
        flags_before + 1
    );
}

/// The limit on the files this process may write, in bytes (the soft one;
/// the hard one stays, so that it can be lifted again).
fn limit_file_size(bytes: u64) {
    // SAFETY: plain system calls on this process's own limits.
    unsafe {
        // Past the limit a write fails with EFBIG instead of killing us.
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes as libc::rlim_t;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

#[test]
#[ignore = "run by a_full_disk_is_a_storage_error_the_buffer_stays_bounded_and_nothing_is_lost"]
fn full_disk_child() {
    let Some(db) = child_db() else { return };
    const LIMIT: u32 = 500;
    let options = OpenOptions {
        max_buffered_records: LIMIT,
        flush_interval_ms: 20,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(&db, options).unwrap();
    let before = answers(&cha);
    // Every write at an offset past the limit fails (EFBIG): a disk with
    // no room at all, for the journal as for the database.
    limit_file_size(1);

    let mut accepted = 0u64;
    let mut flush_error = None;
    let refused = loop {
        let unit = format!("network-{accepted}");
        match cha.record(EXPERIMENT, &unit, METRIC, 1.0) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        if accepted.is_multiple_of(100)
            && let Err(e) = cha.flush()
        {
            flush_error.get_or_insert(e);
        }
        assert!(accepted < 1_000_000, "records were never refused");
    };
    let flush_error = flush_error.expect("a flush failed before records were refused");
    assert_eq!(flush_error.kind(), ErrorKind::Storage, "{flush_error}");
    assert_eq!(refused.kind(), ErrorKind::Storage, "{refused}");
    assert!(
        refused.message().contains("not recorded")
            && refused.message().contains("max_buffered_records"),
        "{refused}"
    );
    // Refused again, at once, while the failure lasts: nothing is kept.
    let again = cha.record(EXPERIMENT, "network-refused", METRIC, 1.0);
    assert_eq!(again.unwrap_err().kind(), ErrorKind::Storage);
    assert_eq!(
        cha.assign(EXPERIMENT, "network-refused")
            .unwrap_err()
            .kind(),
        ErrorKind::Storage
    );
    // Metrics too: each thread's share and the batch are bounded.
    let mut samples = 0u64;
    let metric_refused = loop {
        match cha.increment("fault_ops", 1.0, None) {
            Ok(()) => samples += 1,
            Err(e) => break e,
        }
        assert!(
            samples <= u64::from(LIMIT),
            "metric samples were never refused"
        );
    };
    assert_eq!(
        metric_refused.kind(),
        ErrorKind::Storage,
        "{metric_refused}"
    );
    // A configuration change and a feedback submission fail whole.
    let flag = cha.update_flag(FLAG, &json!({"percentage": 50}), "test");
    assert_eq!(flag.unwrap_err().kind(), ErrorKind::Storage);
    let feedback = cha.submit_feedback_json(
        &json!({"type": "general_feedback", "text": "sizing is slow", "user_id": "u1"}).to_string(),
    );
    assert_eq!(feedback.unwrap_err().kind(), ErrorKind::Storage);

    // Flag checks answer as before, from the last good snapshot; the
    // health says what fails.
    assert_eq!(answers(&cha), before);
    let health = cha.health();
    assert_eq!(health.state, "failing");
    let last = health.last_flush_error.expect("the flush failure is kept");
    assert_eq!(last.status, "CHA_ERR_STORAGE");
    assert!(last.failures >= 1);
    assert_eq!(health.buffer_limit, u64::from(LIMIT));
    assert!(
        health.buffered_records.experiments <= u64::from(LIMIT) + 2,
        "{:?}",
        health.buffered_records
    );
    assert!(health.buffered_records.experiments >= u64::from(LIMIT));
    // record, record, assign, and the metric refused above.
    assert_eq!(health.refused_records, 4);

    // Room again: everything accepted lands, once.
    limit_file_size(libc::RLIM_INFINITY);
    cha.flush().unwrap();
    let health = cha.health();
    assert_eq!(health.state, "ok");
    assert_eq!(health.last_flush_error, None);
    assert_eq!(health.buffered_records.experiments, 0);
    cha.update_flag(FLAG, &json!({"percentage": 50}), "test")
        .unwrap();
    let stored: f64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT sum FROM metric_series WHERE name = 'fault_ops'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, samples as f64, "every accepted metric sample");
    cha.close().unwrap();
    std::fs::write(db.with_file_name("accepted"), accepted.to_string()).unwrap();
}

// ---- A locked database ----

/// While another connection holds the write lock past the busy timeout, a
/// flush fails as busy, and a record that finds the buffer full is refused
/// as busy (its retry is pending); once the lock goes, all of it lands.
#[test]
fn a_locked_database_refuses_records_as_busy_once_the_buffer_is_full() {
    let dir = TempDir::new("faults-busy");
    let db = deployed(dir.path());
    let options = OpenOptions {
        // One buffered record per observation (it exposes its unit when
        // persisted).
        max_buffered_records: 200,
        busy_timeout_ms: 20,
        // Only the flushes below.
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(&db, options).unwrap();
    let before = answers(&cha);
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();

    for i in 0..200 {
        cha.record(EXPERIMENT, &format!("n-{i}"), METRIC, 2.0)
            .unwrap();
    }
    let e = cha.flush().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    let refused = cha.record(EXPERIMENT, "n-200", METRIC, 2.0).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Busy, "{refused}");
    assert!(refused.message().contains("not recorded"), "{refused}");
    assert_eq!(answers(&cha), before);
    let health = cha.health();
    assert_eq!(health.state, "failing");
    assert_eq!(
        health.last_flush_error.as_ref().map(|f| f.status),
        Some("CHA_ERR_BUSY")
    );
    assert_eq!(health.refused_records, 1);
    // Flag checks linked to an experiment still answer; their exposures
    // are counted as dropped.
    assert_eq!(health.dropped_exposures, 0);

    locker.execute_batch("COMMIT").unwrap();
    cha.flush().unwrap();
    assert_eq!(cha.health().state, "ok");
    cha.record(EXPERIMENT, "n-200", METRIC, 2.0).unwrap();
    cha.close().unwrap();
    assert_eq!(count(&db, common::RAW_OBSERVATIONS), 201);
}

/// While flushes succeed a full buffer never refuses: the recording
/// thread persists it and goes on.
#[test]
fn a_full_buffer_is_flushed_by_the_recording_thread_while_the_store_is_healthy() {
    let dir = TempDir::new("faults-backpressure");
    let db = deployed(dir.path());
    let options = OpenOptions {
        max_buffered_records: 50,
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(&db, options).unwrap();
    for i in 0..1000 {
        cha.record(EXPERIMENT, &format!("n-{i}"), METRIC, 1.0)
            .unwrap();
        cha.increment("healthy_ops", 1.0, None).unwrap();
    }
    let health = cha.health();
    assert_eq!((health.state, health.refused_records), ("ok", 0));
    assert!(health.buffered_records.experiments <= 50);
    cha.close().unwrap();
    assert_eq!(count(&db, common::RAW_OBSERVATIONS), 1000);
    assert_eq!(
        count(
            &db,
            "SELECT CAST(sum AS INTEGER) FROM metric_series WHERE name = 'healthy_ops'"
        ),
        1000
    );
}

// ---- A truncated or corrupted file ----

#[test]
fn a_truncated_file_is_a_clear_error() {
    let dir = TempDir::new("faults-truncated");
    let db = deployed(dir.path());
    let len = std::fs::metadata(&db).unwrap().len();
    for keep in [0, 50, 4096, len / 2] {
        let copy = dir.path().join(format!("truncated-{keep}.db"));
        std::fs::copy(&db, &copy).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&copy)
            .unwrap()
            .set_len(keep)
            .unwrap();
        match Cha::open(&copy) {
            // An empty file is a new database.
            Ok(cha) if keep == 0 => cha.close().unwrap(),
            Ok(_) => panic!("a file truncated to {keep} of {len} bytes opened"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Storage, "{keep}: {e}");
                assert!(
                    e.message().contains("malformed")
                        || e.message().contains("not a SQLite database"),
                    "{keep}: {e}"
                );
                assert!(e.message().contains(&copy.display().to_string()), "{e}");
            }
        }
    }
}

/// The page of `table` overwritten with garbage: reading it is a storage
/// error that says the file is malformed; flag checks answer from the
/// snapshot; nothing else breaks.
#[test]
fn a_corrupted_table_is_a_storage_error_and_flags_keep_answering() {
    let dir = TempDir::new("faults-corrupt");
    let db = deployed(dir.path());
    {
        let cha = Cha::open(&db).unwrap();
        for i in 0..200 {
            cha.record(EXPERIMENT, &format!("n-{i}"), METRIC, 1.0)
                .unwrap();
        }
        cha.close().unwrap();
    }
    let cha = Cha::open(&db).unwrap();
    let before = answers(&cha);
    corrupt(&db, "phase_metrics");
    let e = cha
        .analyze_experiment(EXPERIMENT, Default::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    assert!(e.message().contains("malformed"), "{e}");
    assert_eq!(answers(&cha), before);
    // The next open of the damaged file still succeeds, and says the same
    // where the damage is.
    drop(cha);
    let cha = Cha::open(&db).unwrap();
    let e = cha
        .analyze_experiment(EXPERIMENT, Default::default())
        .unwrap_err();
    assert!(e.message().contains("malformed"), "{e}");
    assert_eq!(answers(&cha), before);
    // doctor finds the damage without writing.
    let inspection = cha_deploy::inspect(&db).unwrap();
    assert_ne!(inspection.integrity, "ok");
    assert_eq!(inspection.unwritable, None);
}

/// Overwrites the root page of `table` with garbage, after moving
/// everything from the WAL into the file.
fn corrupt(db: &Path, table: &str) {
    let (page_size, root): (i64, i64) = {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        (
            conn.query_row("PRAGMA page_size", [], |r| r.get(0))
                .unwrap(),
            conn.query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap(),
        )
    };
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    file.seek(SeekFrom::Start(((root - 1) * page_size) as u64))
        .unwrap();
    file.write_all(&vec![0xA5; page_size as usize]).unwrap();
    file.sync_all().unwrap();
}

/// The configuration revision cannot be read any more: the reload fails,
/// flag checks keep the last good snapshot, and the refresh's failure is in
/// the health (the background thread's and an explicit refresh's alike).
#[test]
fn a_configuration_that_cannot_be_read_keeps_the_last_snapshot_and_says_so() {
    let dir = TempDir::new("faults-snapshot");
    let db = deployed(dir.path());
    let options = OpenOptions {
        refresh_interval_ms: 5,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(&db, options).unwrap();
    let before = answers(&cha);
    let revision = cha.health().snapshot_revision;
    corrupt(&db, "meta");
    let e = cha.refresh().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    assert!(e.message().contains("malformed"), "{e}");
    let health = cha.health();
    assert_eq!(health.state, "failing");
    let failure = health
        .last_refresh_error
        .expect("the failed reload is kept");
    assert_eq!(failure.status, "CHA_ERR_STORAGE");
    assert_eq!(failure.message, e.message());
    assert_eq!(health.snapshot_revision, revision);
    assert_eq!(answers(&cha), before);
}

// ---- The WAL removed while open ----

/// Someone deletes `cha.db-wal` under a running handle. SQLite keeps
/// writing to the file it has open; the handle's close checkpoints it
/// into the database, so every flushed record is there afterwards.
#[test]
fn a_wal_removed_while_open_loses_nothing_flushed() {
    let dir = TempDir::new("faults-wal");
    let db = deployed(dir.path());
    let cha = Cha::open(&db).unwrap();
    for i in 0..100 {
        cha.record(EXPERIMENT, &format!("before-{i}"), METRIC, 1.0)
            .unwrap();
    }
    cha.flush().unwrap();
    let wal = dir.path().join("cha.db-wal");
    assert!(wal.exists());
    std::fs::remove_file(&wal).unwrap();
    for i in 0..100 {
        cha.record(EXPERIMENT, &format!("after-{i}"), METRIC, 1.0)
            .unwrap();
    }
    cha.flush().unwrap();
    cha.update_flag(FLAG, &json!({"percentage": 40}), "test")
        .unwrap();
    cha.close().unwrap();
    assert_eq!(integrity(&db), "ok");
    assert_eq!(count(&db, common::RAW_OBSERVATIONS), 200);
    let cha = Cha::open(&db).unwrap();
    assert_eq!(
        cha.flag(FLAG).unwrap().definition.percentage,
        Some(40.0),
        "the flag change made after the removal"
    );
    cha.close().unwrap();
}

// ---- What doctor says ----

/// `cha-deploy doctor` names a damaged file and one this user cannot write,
/// without writing either.
#[cfg(feature = "cli")]
#[test]
fn doctor_reports_damage_and_a_database_it_cannot_write() {
    let doctor = |db: &Path, as_nobody: bool| -> serde_json::Value {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cha-deploy"));
        command.arg("--db").arg(db).args(["--json", "doctor"]);
        if as_nobody && is_root() {
            use std::os::unix::process::CommandExt;
            command.uid(65534).gid(65534);
        }
        let out = common::run(&mut command).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let dir = TempDir::new("faults-doctor");
    chmod(dir.path(), 0o755);
    let db = deployed(dir.path());
    let sound = doctor(&db, false);
    assert_eq!(
        (&sound["status"], &sound["writable"], &sound["integrity"]),
        (&json!("ok"), &json!(true), &json!("ok"))
    );

    chmod(&db, 0o444);
    let read_only = doctor(&db, true);
    assert_eq!(read_only["writable"], false);
    let status = read_only["status"].as_str().unwrap();
    assert!(status.starts_with("read-only for this user"), "{status}");

    chmod(&db, 0o644);
    corrupt(&db, "observations");
    let damaged = doctor(&db, false);
    assert_ne!(damaged["integrity"], "ok");
    let status = damaged["status"].as_str().unwrap();
    assert!(status.starts_with("damaged: "), "{status}");
}
