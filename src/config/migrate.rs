//! Migration of config files to the current version of their format: the
//! file's version, what migrating it changes and its new text
//! ([`migrate_file`], [`migrate_dir`]), and writing that text in place
//! ([`Migration::write`]), atomically and after keeping the original.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::files::{ConfigFile, config_files};
use super::{ConfigError, ConfigIssue, MigrationReport, parse_yaml, read_config_file};
use crate::error::{Error, Result};

/// A config file read in whatever version it was written, and its text in
/// the current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// The file, as given.
    pub file: String,
    /// The version the file is written in.
    pub from_version: i64,
    /// The current version of its format: what `text` is written in.
    pub to_version: i64,
    /// What migrating changed; `None` for a file already current.
    pub report: Option<MigrationReport>,
    /// The file in the current version; for a current file, its text
    /// unchanged.
    pub text: String,
    /// The text as read, so that [`Migration::write`] can tell a file
    /// changed since.
    #[serde(skip)]
    original: String,
}

impl Migration {
    /// Whether the file is in an older version (and `text` differs from it).
    pub fn is_needed(&self) -> bool {
        self.from_version != self.to_version
    }

    /// Where [`Migration::write`] keeps the original: `<file>.v<from>.bak`
    /// beside it (`feature_flags.yml.v1.bak`).
    pub fn backup_path(&self) -> PathBuf {
        PathBuf::from(format!("{}.v{}.bak", self.file, self.from_version))
    }

    /// Replaces the file with `text`: keeps the original as
    /// [`Migration::backup_path`], writes the new text beside the file,
    /// then renames it over the file, so that a crash leaves the old file or
    /// the new one, never a mix. The new file keeps the old one's
    /// permissions. Returns the backup's path, or `None` (and writes
    /// nothing) when the file is current.
    ///
    /// # Errors
    /// `InvalidArgument` if the backup exists already (a migration was
    /// written before: move it away first) or the file is a symbolic link
    /// (migrate the file it points to); `Config` if the file changed since
    /// it was read; `Storage` if a file cannot be written. On error the
    /// file is as it was.
    pub fn write(&self) -> Result<Option<PathBuf>> {
        if !self.is_needed() {
            return Ok(None);
        }
        let path = Path::new(&self.file);
        let backup = self.backup_path();
        let link = std::fs::symlink_metadata(path).map_err(|e| io_error(path, &e))?;
        if link.file_type().is_symlink() {
            // A rename would replace the link, and leave the file it
            // points to (often in another checkout) unmigrated.
            return Err(Error::invalid_argument(format!(
                "{}: is a symbolic link; migrate the file it points to",
                self.file
            )));
        }
        if read_config_file(path)? != self.original {
            return Err(Error::config(format!(
                "{}: changed since it was read; migrate it again",
                self.file
            )));
        }
        write_new(&backup, &self.original, &link.permissions()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                backup_exists(&backup, &self.file)
            } else {
                io_error(&backup, &e)
            }
        })?;
        let replaced = replace(path, &self.text, &link.permissions());
        if let Err(e) = replaced {
            // The file is untouched: leave no backup that would block the
            // next attempt.
            let _ = std::fs::remove_file(&backup);
            return Err(e);
        }
        Ok(Some(backup))
    }
}

/// Writes every migration that is needed ([`Migration::write`]), after
/// checking that none of their backups exists, so that a leftover backup
/// stops the whole run before any file changes. Returns each migration's
/// backup path (`None` for a file already current), in order.
///
/// # Errors
/// As [`Migration::write`]; files written before a failure stay migrated,
/// each with its backup.
pub fn write_migrations(migrations: &[Migration]) -> Result<Vec<Option<PathBuf>>> {
    for m in migrations.iter().filter(|m| m.is_needed()) {
        let backup = m.backup_path();
        if std::fs::symlink_metadata(&backup).is_ok() {
            return Err(backup_exists(&backup, &m.file));
        }
    }
    migrations.iter().map(Migration::write).collect()
}

/// Writes `text` to a new file at `path` (failing if it exists) with
/// `permissions`, and flushes it to disk.
fn write_new(path: &Path, text: &str, permissions: &std::fs::Permissions) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.set_permissions(permissions.clone()))
        .and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Replaces the file at `path` with `text` by a rename of a file written
/// beside it (same folder, so the rename is atomic).
fn replace(path: &Path, text: &str, permissions: &std::fs::Permissions) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.migrating-{}", std::process::id()));
    write_new(&temporary, text, permissions).map_err(|e| io_error(&temporary, &e))?;
    if let Err(e) = std::fs::rename(&temporary, path) {
        let _ = std::fs::remove_file(&temporary);
        return Err(io_error(path, &e));
    }
    // The rename itself survives a crash only once the folder is on disk;
    // some file systems cannot sync a folder, and the file is in place.
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(folder) = std::fs::File::open(folder)
    {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// A backup from an earlier migration is in the way: it is never replaced.
fn backup_exists(backup: &Path, file: &str) -> Error {
    Error::invalid_argument(format!(
        "{}: already exists (a migration was written before); move it away to migrate {file} again",
        backup.display()
    ))
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::storage(format!("{}: {e}", path.display()))
}

/// Reads the config file at `path`, tells which file it is (by its name,
/// else by its top-level keys), detects its version and gives its text in
/// the current version with what migrating changed. A current file comes
/// back unchanged, without a report. Writes nothing.
///
/// # Errors
/// `NotFound` if there is no file at `path`; `InvalidArgument` if it is not
/// a config file cha-deploy knows; `Config` with every problem of an
/// invalid file (file:line:column, field path, hint).
pub fn migrate_file(path: impl AsRef<Path>) -> Result<Migration> {
    let path = path.as_ref();
    let text = read_regular(path)?;
    let kind = kind_of(path, &text)?;
    Ok(migrate_text(kind, &path.display().to_string(), text)?)
}

/// The text of the config file at `path`, a regular file or a link to one.
fn read_regular(path: &Path) -> Result<String> {
    match super::file_state(path) {
        super::FileState::Regular => read_config_file(path),
        super::FileState::Missing => Err(Error::not_found(format!(
            "{}: no such config file",
            path.display()
        ))),
        super::FileState::Unusable(why) => Err(Error::config(format!("{}: {why}", path.display()))),
    }
}

/// [`migrate_file`] for every known config file in the directory `dir`, in
/// the order a deployment applies them. Writes nothing.
///
/// # Errors
/// `NotFound` if `dir` is not a directory or holds none of the known files;
/// `Config` with every problem of every file at once.
pub fn migrate_dir(dir: impl AsRef<Path>) -> Result<Vec<Migration>> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(Error::not_found(format!(
            "config directory {} does not exist",
            dir.display()
        )));
    }
    let mut problems = ConfigError::default();
    let mut migrations = Vec::new();
    let mut found = false;
    for kind in config_files() {
        let path = dir.join(kind.file);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        found = true;
        let file = path.display().to_string();
        let migrated = match read_regular(&path) {
            Ok(text) => migrate_text(kind, &file, text),
            Err(e) => {
                // One problem of this file among those of the others.
                let message = e.message();
                let message = message
                    .strip_prefix(&format!("{file}: "))
                    .unwrap_or(message);
                Err(ConfigError {
                    issues: vec![ConfigIssue {
                        file: file.clone(),
                        line: 0,
                        column: 0,
                        path: String::new(),
                        message: message.to_owned(),
                        hint: None,
                    }],
                    omitted: 0,
                })
            }
        };
        match migrated {
            Ok(m) => migrations.push(m),
            Err(e) => {
                problems.issues.extend(e.issues);
                problems.omitted += e.omitted;
            }
        }
    }
    if !found {
        let names: Vec<&str> = config_files().iter().map(|f| f.file).collect();
        return Err(Error::not_found(format!(
            "config directory {} holds none of the known config files ({})",
            dir.display(),
            names.join(", ")
        )));
    }
    if !problems.issues.is_empty() {
        return Err(problems.into());
    }
    Ok(migrations)
}

fn migrate_text(
    kind: &ConfigFile,
    file: &str,
    original: String,
) -> std::result::Result<Migration, ConfigError> {
    let upgrade = (kind.migrate)(&original, file)?;
    Ok(Migration {
        file: file.to_owned(),
        from_version: upgrade.from_version,
        to_version: kind.current_version,
        report: upgrade.report,
        text: upgrade.text.unwrap_or_else(|| original.clone()),
        original,
    })
}

/// Which config file `text` (read from `path`) is: the one of that name,
/// else the one whose top-level keys it has.
fn kind_of(path: &Path, text: &str) -> Result<&'static ConfigFile> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let Some(kind) = config_files().iter().find(|f| f.file == name) {
        return Ok(*kind);
    }
    let file = path.display().to_string();
    let root = parse_yaml(text, &file)?;
    let keys: Vec<&str> = root
        .entries()
        .unwrap_or_default()
        .iter()
        .map(|(k, _)| k.name.as_str())
        .collect();
    config_files()
        .iter()
        .copied()
        .find(|f| f.top_keys.iter().any(|k| keys.contains(k)))
        .ok_or_else(|| {
            let names: Vec<&str> = config_files().iter().map(|f| f.file).collect();
            Error::invalid_argument(format!(
                "{file}: not a config file cha-deploy knows by its name ({}) or its content",
                names.join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::feature_flags::parse_feature_flags;
    use crate::config::files::config_file;

    const SEED_V1: &str = include_str!("../../tests/fixtures/config/feature_flags_v1.yml");
    const AWKWARD_V1: &str =
        include_str!("../../tests/fixtures/config/feature_flags_v1_awkward.yml");
    // tests/cli_flags.rs deploys this one.
    const CLI_V1: &str = "version: 1\nfeature_flags:\n  sizing:\n    flag_type: percentage\n    enabled: true\n    rollout_percentage: 40\n";

    fn migrate(text: &str) -> Migration {
        let kind = config_file("feature_flags").unwrap();
        migrate_text(kind, "feature_flags.yml", text.to_owned()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_report_of_the_seed_shape_says_what_changed_flag_by_flag() {
        let m = migrate(SEED_V1);
        assert_eq!((m.from_version, m.to_version), (1, 2));
        assert!(m.is_needed());
        assert_eq!(
            m.report.unwrap().to_string().lines().collect::<Vec<_>>(),
            [
                "migrated feature flags from version 1 to 2",
                "  no `version`: read as version 1 (top-level `feature_flags`)",
                "  `feature_flags` → `flags`",
                "  dropped top-level `global_settings` (not used by version 2)",
                "  flow_based_calculation:",
                "    display name → description",
                "    flag_type → type",
                "    dropped created_at (the audit history records changes now)",
                "  intelligent_pipe_sizing:",
                "    dropped display name (the key is the name)",
                "    flag_type → type",
                "    rollout_percentage → percentage",
                "    target_groups → include_groups",
                "    dependencies → prerequisites",
                "    component → metadata.component",
                "    risk_level → metadata.risk_level",
                "    priority → metadata.priority",
                "    dropped include_groups [\"beta_testers\"] (a percentage flag does not use it in version 2)",
                "  summer_mode:",
                "    flag_type → type",
                "    start_date `2025-06-01T00:00:00` → start_time `2025-06-01T00:00:00Z` (no offset: read as UTC)",
                "    end_date → end_time",
                "  sizing_test:",
                "    flag_type → type",
                "    ab_test_name → experiment",
                "    variants {name: weight} → variants [{name, weight}]",
                "    dropped experiment \"pipe_sizing_comparison\" (the flag keeps its own variants; link it by removing them)",
            ]
        );
    }

    #[test]
    fn the_seed_shape_becomes_clean_version_2_yaml() {
        let m = migrate(SEED_V1);
        assert_eq!(
            m.text,
            format!(
                "\
# feature_flags.yml, migrated from version 1 to version 2 by
# cha-deploy {}. The comments of the old file are not carried over.
version: 2
flags:
  flow_based_calculation:
    type: boolean
    description: Flow-based calculation
    enabled: true

  intelligent_pipe_sizing:
    type: percentage
    description: Flow-based pipe sizing
    enabled: true
    metadata:
      component: pipe_sizing
      risk_level: high
      priority: 1
    prerequisites: [flow_based_calculation]
    percentage: 25.0

  summer_mode:
    type: time_based
    enabled: true
    start_time: \"2025-06-01T00:00:00Z\"
    end_time: \"2025-09-01T00:00:00+02:00\"

  sizing_test:
    type: a_b_test
    enabled: true
    variants:
      - name: traditional
        weight: 50.0
      - name: intelligent
        weight: 50.0
",
                crate::VERSION
            )
        );
    }

    #[test]
    fn migrated_text_reads_back_as_exactly_the_migrated_flags() {
        for (fixture, text) in [
            ("feature_flags_v1.yml", SEED_V1),
            ("feature_flags_v1_awkward.yml", AWKWARD_V1),
            ("cli_flags.rs", CLI_V1),
            ("empty", "version: 1\nfeature_flags: {}\n"),
        ] {
            let migrated = parse_feature_flags(text, fixture).unwrap();
            let m = migrate(text);
            let again = parse_feature_flags(&m.text, "migrated.yml")
                .unwrap_or_else(|e| panic!("{fixture}: {e}\n{}", m.text));
            assert_eq!(again.source_version, 2, "{fixture}");
            assert_eq!(again.migration, None, "{fixture}");
            assert_eq!(again.flags, migrated.flags, "{fixture}:\n{}", m.text);
            // A flag's name is its key only: the v2 reader refuses a differing `name`.
            assert!(!m.text.contains("\n    name:"), "{fixture}:\n{}", m.text);
            // Migrating the migrated text changes nothing.
            let current = migrate(&m.text);
            assert!(!current.is_needed() && current.report.is_none());
            assert_eq!(current.text, m.text);
        }
    }

    #[test]
    fn strings_that_would_read_as_something_else_stay_strings() {
        let m = migrate(AWKWARD_V1);
        for quoted in [
            "description: \"no\"",
            "include_groups: [\"no\", \"on\", \"007\", \"1e3\", beta testers]",
            "allow_users: [\"1017\", \"planner: 017\", \"#42\", \"-x\"]",
            "deny_users: [\" padded \"]",
            "owner: \"null\"",
            "tags: [\"true\", \"~\", \"2026-01-05\"]",
            "component: \"2026-01-05\"",
            "description: \"Line one\\nline two\\ttabbed \\\"quoted\\\" \\\\ backslash: yes # no\"",
        ] {
            assert!(m.text.contains(quoted), "{quoted}\n{}", m.text);
        }
        let new_ui = &parse_feature_flags(&m.text, "m.yml").unwrap().flags[0];
        assert_eq!(
            new_ui.include_groups,
            ["no", "on", "007", "1e3", "beta testers"]
        );
        assert_eq!(new_ui.allow_users[0], "1017");
    }

    #[test]
    fn a_current_file_comes_back_unchanged_without_a_report() {
        let text = crate::config::template("feature_flags", "t", None).unwrap();
        let m = migrate(&text);
        assert_eq!((m.from_version, m.to_version), (2, 2));
        assert!(!m.is_needed());
        assert_eq!(m.report, None);
        assert_eq!(m.text, text);
        assert_eq!(m.write().unwrap(), None);

        let ab = crate::config::template("ab_tests", "t", Some("minimal")).unwrap();
        let kind = config_file("ab_tests").unwrap();
        let m = migrate_text(kind, "ab_tests.yml", ab.clone()).unwrap();
        assert_eq!((m.from_version, m.to_version, m.text), (1, 1, ab));
    }

    #[test]
    fn an_invalid_file_reports_every_problem() {
        let kind = config_file("feature_flags").unwrap();
        let err = migrate_text(
            kind,
            "old.yml",
            "feature_flags:\n  a:\n    flag_type: percentage\n    rollout_percentage: 150\n  b:\n    flag_type: sometimes\n".into(),
        )
        .unwrap_err();
        assert_eq!(err.issues.len(), 2, "{err}");
        assert!(
            err.issues[0]
                .to_string()
                .starts_with("old.yml:4:25: flags.a.percentage"),
            "{err}"
        );
        assert!(
            err.issues[1]
                .to_string()
                .starts_with("old.yml:6:16: flags.b.type: unknown flag type"),
            "{err}"
        );
    }
}
