//! Opening databases: pragmas, permissions, migrations, and every way a path
//! can be wrong.

use cha_deploy::{Cha, ErrorKind, JournalMode, OpenOptions, SCHEMA_VERSION, Synchronous};

fn scratch() -> tempdir::Scratch {
    tempdir::Scratch::new()
}

mod tempdir {
    /// A folder removed when dropped; no dev-dependency needed for this.
    pub struct Scratch(pub std::path::PathBuf);
    impl Scratch {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "cha-store-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
        pub fn path(&self, name: &str) -> std::path::PathBuf {
            self.0.join(name)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn a_new_database_is_created_migrated_and_private() {
    let dir = scratch();
    let db = dir.path("cha.db");
    let cha = Cha::open(&db).unwrap();
    let info = cha.info().unwrap();
    assert_eq!(info.schema_version, SCHEMA_VERSION);
    assert_eq!(info.journal_mode, "wal");
    assert_eq!(info.synchronous, "normal");
    assert!(info.file_size_bytes > 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "database file mode is {mode:o}");
    }
    cha.close().unwrap();
    // Opening again finds it up to date.
    let cha = Cha::open(&db).unwrap();
    assert_eq!(cha.info().unwrap().schema_version, SCHEMA_VERSION);
}

#[cfg(unix)]
#[test]
fn file_mode_shares_the_database_its_journal_and_backups_with_a_group() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = scratch();
    let db = dir.path("shared.db");
    // 0660 whatever the umask (the usual 022 would take the group's write
    // bit from a mode given at creation only).
    let options = OpenOptions::from_json(r#"{"file_mode": "0660"}"#).unwrap();
    let cha = Cha::open_with_options(&db, options).unwrap();
    cha.update_flag(
        "shared",
        &serde_json::json!({"type": "boolean", "enabled": true}),
        "ops",
    )
    .unwrap();
    assert_eq!(mode(&db), 0o660);
    assert_eq!(mode(&dir.path("shared.db-wal")), 0o660);
    assert_eq!(mode(&dir.path("shared.db-shm")), 0o660);
    let backup = cha.create_backup("manual").unwrap();
    assert_eq!(mode(std::path::Path::new(&backup.path)), 0o660);
    assert_eq!(mode(&dir.path("shared.db-backups")), 0o770);
    cha.close().unwrap();
    // An existing file keeps its permissions, whatever a later open says.
    let cha = Cha::open_with_options(&db, OpenOptions::default()).unwrap();
    cha.close().unwrap();
    assert_eq!(mode(&db), 0o660);
    // 0640: the group reads; its backup folder is 0750.
    let db = dir.path("readable.db");
    let cha = Cha::open_with_options(
        &db,
        OpenOptions::from_json(r#"{"file_mode": "640"}"#).unwrap(),
    )
    .unwrap();
    let backup = cha.create_backup("manual").unwrap();
    assert_eq!(mode(&db), 0o640);
    assert_eq!(mode(std::path::Path::new(&backup.path)), 0o640);
    assert_eq!(mode(&dir.path("readable.db-backups")), 0o750);
    cha.close().unwrap();
}

#[test]
fn file_mode_refuses_what_would_expose_or_lock_out() {
    for (json, says) in [
        (
            r#"{"file_mode": "0755"}"#,
            "file_mode 0755 has bits besides read and write",
        ),
        (
            r#"{"file_mode": "0440"}"#,
            "file_mode 0440 must let the owner read and write",
        ),
        (
            r#"{"file_mode": "0666"}"#,
            "would let every user of the machine write",
        ),
        (
            r#"{"file_mode": "rw-r-----"}"#,
            "file_mode `rw-r-----` is not octal permissions",
        ),
        (r#"{"file_mode": "0"}"#, "must let the owner read and write"),
        (r#"{"file_mode": ""}"#, "is not octal permissions"),
        (
            r#"{"file_mode": 640}"#,
            "`file_mode`: invalid type: integer `640`, expected a string",
        ),
    ] {
        let err = OpenOptions::from_json(json).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{json}");
        assert!(err.message().contains(says), "{json}: {err}");
    }
}

#[test]
fn options_choose_journal_and_sync() {
    let dir = scratch();
    let options = OpenOptions {
        journal_mode: JournalMode::Delete,
        synchronous: Synchronous::Full,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(dir.path("nfs.db"), options).unwrap();
    let info = cha.info().unwrap();
    assert_eq!(
        (info.journal_mode.as_str(), info.synchronous.as_str()),
        ("delete", "full")
    );
}

#[test]
fn a_directory_is_refused_with_its_path() {
    let dir = scratch();
    let e = Cha::open(&dir.0).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.message().contains(&dir.0.display().to_string()), "{e}");
    assert!(e.message().contains("is a directory"), "{e}");
}

#[test]
fn a_missing_folder_is_named() {
    let dir = scratch();
    let db = dir.path("no/such/folder/cha.db");
    let e = Cha::open(&db).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.message().contains("no/such/folder"), "{e}");
    assert!(e.message().contains("does not exist"), "{e}");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
    let dir = scratch();
    let db = dir.path("notes.txt");
    let text = "pipe diameters: DN100, DN150\n".repeat(100);
    std::fs::write(&db, &text).unwrap();
    let e = Cha::open(&db).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.message().contains("not a SQLite database"), "{e}");
    assert!(e.message().contains("notes.txt"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&db).unwrap(),
        text,
        "the file was modified"
    );
}

#[cfg(unix)]
#[test]
fn no_permission_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let db = dir.path("locked.db");
    Cha::open(&db).unwrap().close().unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o000)).unwrap();
    // root reads anything: the check only means something for other users.
    let readable_anyway = std::fs::File::open(&db).is_ok();
    let result = Cha::open(&db);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    if readable_anyway {
        assert!(result.is_ok());
    } else {
        let e = result.err().unwrap();
        assert!(e.message().contains("permission denied"), "{e}");
    }
}

#[test]
fn a_newer_schema_is_refused_naming_both_versions() {
    let dir = scratch();
    let db = dir.path("future.db");
    Cha::open(&db).unwrap().close().unwrap();
    set_user_version(&db, 9999);
    let e = Cha::open(&db).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.message().contains("schema version 9999"), "{e}");
    assert!(
        e.message()
            .contains(&format!("schema version {SCHEMA_VERSION}")),
        "{e}"
    );
}

#[test]
fn concurrent_first_opens_migrate_once() {
    let dir = scratch();
    let db = dir.path("race.db");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || Cha::open(&db).map(|c| c.info().unwrap().schema_version))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), SCHEMA_VERSION);
    }
}

#[test]
fn a_locked_database_reports_busy_after_the_timeout() {
    let dir = scratch();
    let db = dir.path("busy.db");
    // A database another program is writing to, not yet migrated by us: the
    // migration needs the write lock.
    let blocker = rusqlite_connection(&db);
    blocker
        .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE other(x); BEGIN IMMEDIATE")
        .unwrap();
    let options = OpenOptions {
        busy_timeout_ms: 50,
        ..OpenOptions::default()
    };
    let e = Cha::open_with_options(&db, options).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.message().contains("locked"), "{e}");
    blocker.execute_batch("ROLLBACK").unwrap();
}

fn set_user_version(db: &std::path::Path, version: u32) {
    let conn = rusqlite_connection(db);
    conn.pragma_update(None, "user_version", version).unwrap();
}

fn rusqlite_connection(db: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).unwrap()
}

/// A database of schema version 3 (flags and experiments in tables of their
/// own) opens with its flags, experiments, history and exposures intact.
#[test]
fn a_schema_3_database_is_migrated_with_everything_in_it() {
    let dir = scratch();
    let db = dir.path("old.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        for sql in [
            include_str!("../src/store/schema_0001_foundation.sql"),
            include_str!("../src/store/schema_0002_flags.sql"),
            include_str!("../src/store/schema_0003_experiments.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        let flag = r#"{"name":"night_mode","type":"boolean","enabled":true}"#;
        let test = serde_json::to_string(&serde_json::json!({
            "id": "t", "name": "T", "description": "", "test_type": "pipe_sizing",
            "status": "running", "variants": [
                {"name": "a", "description": "", "traffic_percentage": 50.0, "configuration": {}},
                {"name": "b", "description": "", "traffic_percentage": 50.0, "configuration": {}}],
            "control": "a", "metrics": [{"name": "m", "metric_type": "primary",
                "aggregation": "mean", "target_direction": "increase",
                "minimum_detectable_effect": 0.05, "significance_level": 0.05, "power": 0.8}],
            "minimum_sample_size": 10, "minimum_duration_days": 1, "coverage": 100.0
        }))
        .unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO flags VALUES ('night_mode', '{flag}', 2, 5, 'ops');
             INSERT INTO audit_log (at_ms, actor, action, kind, subject, version, before_json, after_json)
                 VALUES (1, 'ops', 'create', 'flag', 'night_mode', 1, NULL, '{flag}'),
                        (5, 'ops', 'update', 'flag', 'night_mode', 2, '{flag}', '{flag}');
             INSERT INTO experiments VALUES ('t', '{test}', 1, 7, 'ops', '[\"t\",100.0,[]]', 1);
             INSERT INTO exposures VALUES ('t', 'u1', 'b', 9);
             PRAGMA user_version = 3;"
        ))
        .unwrap();
    }
    let cha = Cha::open(&db).unwrap();
    assert_eq!(cha.info().unwrap().schema_version, SCHEMA_VERSION);
    let flag = cha.flag("night_mode").unwrap();
    assert_eq!((flag.version, flag.updated_by.as_str()), (2, "ops"));
    assert_eq!(cha.flag_history("night_mode").unwrap().len(), 2);
    assert!(cha.is_enabled("night_mode", &Default::default()).unwrap());
    let test = cha.experiment("t").unwrap();
    assert_eq!((test.version, test.updated_at_ms), (1, 7));
    // The split had changed with units exposed: u1 stays pinned to b.
    let assignment = cha.assign("t", "u1").unwrap();
    assert_eq!(assignment.variant.unwrap().name.as_ref(), "b");
    assert_eq!(
        format!("{:?}", assignment.reason),
        "Sticky",
        "a pinned unit is STICKY"
    );
}

/// A stored definition that no longer reads is the store's fault (a
/// storage error), never the caller's.
#[test]
fn a_damaged_definition_is_a_storage_error() {
    let dir = scratch();
    let db = dir.path("cha.db");
    let cha = Cha::open(&db).unwrap();
    cha.update_flag(
        "night_mode",
        &serde_json::json!({"type": "boolean", "enabled": true}),
        "ops",
    )
    .unwrap();
    cha.close().unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE definitions SET definition_json = '{\"name\": 7}' WHERE name = 'night_mode'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Cha::open(&db)
        .err()
        .expect("a damaged flag does not compile");
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(
        err.message()
            .contains("stored flag `night_mode` cannot be read"),
        "{err}"
    );
}

/// A database of schema version 6 (moments kept Welford's way, one row of
/// totals per unit and metric) opens with its exposures in phase 1 and its
/// moments rebuilt exactly from the unit totals.
#[test]
fn a_schema_6_database_is_migrated_with_exact_moments_and_one_phase() {
    let dir = scratch();
    let db = dir.path("six.db");
    let test = serde_json::to_string(&serde_json::json!({
        "id": "t", "name": "T", "test_type": "pipe_sizing", "status": "running",
        "variants": [{"name": "a", "traffic_percentage": 50.0}, {"name": "b", "traffic_percentage": 50.0}],
        "control": "a", "metrics": [{"name": "m", "metric_type": "primary", "aggregation": "sum",
            "target_direction": "increase", "minimum_detectable_effect": 0.05,
            "significance_level": 0.05, "power": 0.8}],
        "minimum_sample_size": 10, "minimum_duration_days": 1, "coverage": 100.0
    }))
    .unwrap();
    // Values around 1e9: each unit's total, and the arms' exact moments.
    let totals: Vec<(String, &str, f64)> = (0..40)
        .map(|i| {
            let variant = if i % 2 == 0 { "a" } else { "b" };
            (
                format!("u{i}"),
                variant,
                1e9 + 0.125 * f64::from(i % 7) + f64::from(i % 2),
            )
        })
        .collect();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        for sql in [
            include_str!("../src/store/schema_0001_foundation.sql"),
            include_str!("../src/store/schema_0002_flags.sql"),
            include_str!("../src/store/schema_0003_experiments.sql"),
            include_str!("../src/store/schema_0004_definitions.sql"),
            include_str!("../src/store/schema_0005_deployments.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute(
            "INSERT INTO definitions VALUES ('experiment', 't', ?1, 1, 7, 'ops')",
            [&test],
        )
        .unwrap();
        conn.execute_batch(include_str!(
            "../src/store/schema_0006_metric_aggregations.sql"
        ))
        .unwrap();
        conn.execute(
            "INSERT INTO experiment_allocations VALUES ('t', '[\"t\",100.0,[]]', 0)",
            [],
        )
        .unwrap();
        for (unit, variant, total) in &totals {
            conn.execute(
                "INSERT INTO exposures VALUES ('t', ?1, ?2, 1000)",
                rusqlite::params![unit, variant],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO unit_metrics VALUES ('t', 'm', ?1, ?2, 1, ?3, 1)",
                rusqlite::params![unit, variant, total],
            )
            .unwrap();
        }
        // Moments that are off, as a long run of Welford downdates leaves them.
        conn.execute_batch(
            "INSERT INTO variant_exposures VALUES ('t', 'a', 20, 1000), ('t', 'b', 20, 1000);
             INSERT INTO variant_metrics VALUES ('t', 'a', 'm', 20, 1000000000.3, 9.0),
                                                ('t', 'b', 'm', 20, 1000000001.3, 9.0);
             PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    let cha = Cha::open(&db).unwrap();
    assert_eq!(cha.info().unwrap().schema_version, SCHEMA_VERSION);
    let report = cha.analyze_experiment("t", Default::default()).unwrap();
    assert_eq!(report.phases.len(), 1);
    assert_eq!(report.phases[0].reason, "migrated");
    assert_eq!(report.phases[0].started_ms, 1000, "from the first exposure");
    assert_eq!(
        report.phases[0]
            .split
            .iter()
            .map(|s| s.exposures)
            .collect::<Vec<_>>(),
        [20, 20]
    );
    let m = &report.metrics[0];
    for (arm, want) in [(&m.control, "a"), (&m.comparisons[0].treatment, "b")] {
        let values: Vec<f64> = totals.iter().filter(|t| t.1 == want).map(|t| t.2).collect();
        let exact = cha_deploy::stats::Summary::from_values(&values);
        assert_eq!(arm.n, 20);
        assert_eq!(arm.mean, Some(exact.mean()), "rebuilt, not carried over");
        assert_eq!(arm.variance, exact.variance());
    }
    // New observations go on from the carried-over totals.
    cha.record("t", "u0", "m", 2.0).unwrap();
    cha.flush().unwrap();
    let report = cha.analyze_experiment("t", Default::default()).unwrap();
    let mut values: Vec<f64> = totals.iter().filter(|t| t.1 == "a").map(|t| t.2).collect();
    values[0] += 2.0;
    assert_eq!(
        report.metrics[0].control.mean,
        Some(cha_deploy::stats::Summary::from_values(&values).mean())
    );
}
