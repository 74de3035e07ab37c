//! Configuration management through the library: the templates of every
//! subsystem make a directory that validates and deploys, and a migration
//! written in place keeps the original, replaces the file whole, and
//! refuses what could lose a file.

mod common;

use std::path::Path;

use cha_deploy::config::{self, migrate_dir, migrate_file, template, write_migrations};
use cha_deploy::{Cha, ErrorKind};
use common::TempDir;

const SEED_V1: &str = include_str!("fixtures/config/feature_flags_v1.yml");

/// The config files configuration management knows are the ones a
/// deployment reads, in the same order: a subsystem that brings a file
/// adds it to both.
#[test]
fn the_known_files_are_the_ones_a_deployment_reads() {
    let files: Vec<&str> = config::config_files().iter().map(|f| f.file).collect();
    let subsystems: Vec<&str> = config::config_files().iter().map(|f| f.subsystem).collect();
    assert_eq!(files, cha_deploy::known_files());
    assert_eq!(subsystems, cha_deploy::subsystems());
}

#[test]
fn a_directory_of_the_templates_validates_and_deploys() {
    for config_type in ["cha_intelligent_sizing", "minimal"] {
        let dir = TempDir::new("templates");
        for file in config::config_files() {
            let text = template(file.subsystem, file.file, Some(config_type)).unwrap();
            std::fs::write(dir.path().join(file.file), text).unwrap();
        }
        let validated = cha_deploy::validate_config_dir(dir.path(), &[]).unwrap();
        let names: Vec<&str> = validated.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(
            names,
            [
                "feature_flags.yml",
                "ab_tests.yml",
                "performance_monitoring.yml",
                "user_feedback.yml"
            ],
            "{config_type}"
        );

        let cha = Cha::open(dir.path().join("cha.db")).unwrap();
        let report = cha.deploy_all(dir.path(), "ci").unwrap();
        assert!(!report.changes["flags"].created.is_empty(), "{config_type}");
        assert!(
            !report.changes["experiments"].created.is_empty(),
            "{config_type}"
        );
        // The template's tests are drafts: deployed, they admit no unit.
        let first = &report.changes["experiments"].created[0];
        let assigned = cha.assign(first, "planner-042").unwrap();
        assert!(assigned.variant.is_none(), "{config_type}: {first}");
        cha.close().unwrap();
    }
}

#[test]
fn templates_by_either_spelling_and_unknown_subsystems() {
    assert_eq!(
        template("ab-tests", "t", None).unwrap(),
        template("ab_tests", "t", Some("cha_intelligent_sizing")).unwrap()
    );
    // `flags template` and the seed's create_config_template give the same file.
    assert_eq!(
        template("feature-flags", "t", Some("minimal")).unwrap(),
        config::create_config_template("t", "minimal").unwrap()
    );
    let err = template("telemetry", "t", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.message()
            .contains("(known: feature_flags, ab_tests, performance_monitoring, user_feedback)"),
        "{err}"
    );
}

fn seed_dir() -> TempDir {
    let dir = TempDir::new("migrate");
    std::fs::write(dir.path().join("feature_flags.yml"), SEED_V1).unwrap();
    std::fs::write(
        dir.path().join("ab_tests.yml"),
        template("ab_tests", "ab_tests.yml", Some("minimal")).unwrap(),
    )
    .unwrap();
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_written_migration_keeps_the_original_and_deploys() {
    let dir = seed_dir();
    let flags = dir.path().join("feature_flags.yml");
    let migrations = migrate_dir(dir.path()).unwrap();
    assert_eq!(
        migrations
            .iter()
            .map(|m| (m.from_version, m.to_version, m.is_needed()))
            .collect::<Vec<_>>(),
        [(1, 2, true), (1, 1, false)]
    );
    // Nothing is written until asked.
    assert_eq!(read(&flags), SEED_V1);

    let backups = write_migrations(&migrations).unwrap();
    let backup = dir.path().join("feature_flags.yml.v1.bak");
    assert_eq!(backups, [Some(backup.clone()), None]);
    assert_eq!(read(&backup), SEED_V1);
    assert_eq!(read(&flags), migrations[0].text);
    // No temporary file is left beside it.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ab_tests.yml",
            "feature_flags.yml",
            "feature_flags.yml.v1.bak"
        ]
    );

    // Migrated, the file is current, and deploys the same flags the old one did.
    let again = migrate_file(&flags).unwrap();
    assert_eq!((again.from_version, again.report), (2, None));
    let old = config::parse_feature_flags(SEED_V1, "old").unwrap();
    let new = config::load_feature_flags(&flags).unwrap();
    assert_eq!(new.flags, old.flags);
    let cha = Cha::open(dir.path().join("cha.db")).unwrap();
    let report = cha.deploy_all(dir.path(), "ci").unwrap();
    assert_eq!(report.files[0].source_version, 2);
    assert_eq!(report.changes["flags"].created.len(), old.flags.len());
    cha.close().unwrap();
}

#[cfg(unix)]
#[test]
fn the_migrated_file_keeps_the_permissions_of_the_old_one() {
    use std::os::unix::fs::PermissionsExt;
    let dir = seed_dir();
    let flags = dir.path().join("feature_flags.yml");
    std::fs::set_permissions(&flags, std::fs::Permissions::from_mode(0o640)).unwrap();
    migrate_file(&flags).unwrap().write().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&flags), 0o640);
    assert_eq!(mode(&dir.path().join("feature_flags.yml.v1.bak")), 0o640);
}

#[test]
fn an_existing_backup_stops_the_migration_before_any_file_changes() {
    let dir = seed_dir();
    let flags = dir.path().join("feature_flags.yml");
    let backup = dir.path().join("feature_flags.yml.v1.bak");
    std::fs::write(&backup, "an older backup").unwrap();
    let migrations = migrate_dir(dir.path()).unwrap();
    let err = write_migrations(&migrations).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.message()
            .contains("feature_flags.yml.v1.bak: already exists"),
        "{err}"
    );
    let err = migrations[0].write().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(read(&flags), SEED_V1);
    assert_eq!(read(&backup), "an older backup");
}

#[test]
fn a_file_changed_since_it_was_read_is_not_replaced() {
    let dir = seed_dir();
    let flags = dir.path().join("feature_flags.yml");
    let m = migrate_file(&flags).unwrap();
    let edited = format!("{SEED_V1}# edited meanwhile\n");
    std::fs::write(&flags, &edited).unwrap();
    let err = m.write().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("changed since it was read"), "{err}");
    assert_eq!(read(&flags), edited);
    assert!(!dir.path().join("feature_flags.yml.v1.bak").exists());
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_not_replaced_by_a_file() {
    let dir = seed_dir();
    let real = dir.path().join("real_flags.yml");
    std::fs::write(&real, SEED_V1).unwrap();
    let link = dir.path().join("feature_flags.yml");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let m = migrate_file(&link).unwrap();
    assert_eq!(m.from_version, 1);
    let err = m.write().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("is a symbolic link"), "{err}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The file it points to migrates under its own name, told by its content.
    let m = migrate_file(&real).unwrap();
    assert_eq!((m.from_version, m.to_version), (1, 2));
}

#[test]
fn what_cannot_be_migrated_says_why() {
    let dir = TempDir::new("migrate-errors");
    let err = migrate_file(dir.path().join("feature_flags.yml")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = migrate_dir(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.message()
            .contains("holds none of the known config files"),
        "{err}"
    );
    let err = migrate_dir(dir.path().join("nowhere")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    let other = dir.path().join("notes.yml");
    std::fs::write(&other, "shopping: [milk]\n").unwrap();
    let err = migrate_file(&other).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.message().contains("not a config file cha-deploy knows"),
        "{err}"
    );

    std::fs::create_dir(dir.path().join("ab_tests.yml")).unwrap();
    let err = migrate_file(dir.path().join("ab_tests.yml")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().ends_with("is a folder, not a file"), "{err}");

    // Every problem of every file at once.
    std::fs::write(
        dir.path().join("feature_flags.yml"),
        "feature_flags:\n  a:\n    flag_type: sometimes\n",
    )
    .unwrap();
    let err = migrate_dir(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let message = err.message();
    assert!(
        message.starts_with("2 configuration problems:"),
        "{message}"
    );
    assert!(
        message.contains("feature_flags.yml:3:16: flags.a.type: unknown flag type `sometimes`"),
        "{message}"
    );
    assert!(
        message.contains("ab_tests.yml: is a folder, not a file"),
        "{message}"
    );
}
