//! Configuration files: parsing YAML with locations, collecting every
//! validation problem at once, version detection and migration, templates.
//!
//! Every definition enters the library here, by one convention: a reader
//! walks a located [`Node`] (from YAML, or from JSON for updates and stored
//! definitions), checks every field and records every problem in
//! [`Issues`]. The engines (`crate::flags`, `crate::experiments`) receive
//! only definitions that passed; they import nothing from here.
//!
//! The plumbing ([`Node`], [`ConfigIssue`], [`ConfigError`], [`parse_yaml`],
//! the field reader) is shared by every config file: [`feature_flags`]
//! (with [`flag`] for one definition and [`flag_update`] for JSON changes),
//! [`ab_tests`], [`performance_monitoring`] and [`user_feedback`].
//!
//! Configuration management spans the files: [`files`] lists them with
//! their versions and templates ([`template`]), [`migrate`] brings an older
//! file to the current version ([`migrate_file`]), and `yaml_writer` writes
//! the migrated text.

pub mod ab_tests;
pub mod feature_flags;
pub mod files;
pub mod flag;
pub mod flag_update;
pub mod migrate;
pub mod node;
pub mod performance_monitoring;
pub mod reader;
pub mod targeting;
pub mod unleash;
pub mod user_feedback;
mod yaml_writer;

use std::borrow::Cow;
use std::fmt;

pub use ab_tests::{AbTestsConfig, load_ab_tests, parse_ab_tests, validate_experiment};
pub use feature_flags::{
    FeatureFlagsConfig, FlagMigration, MigrationReport, create_config_template, load_feature_flags,
    parse_feature_flags,
};
pub use files::{ConfigFile, config_file, config_files, template};
pub use flag::{compile_flag_set, compile_flags, read_flag, validate_flag, validate_flag_set};
pub use flag_update::apply_flag_update;
pub use migrate::{Migration, migrate_dir, migrate_file, write_migrations};
pub use node::{Key, Loc, Node, Value};
pub use performance_monitoring::{
    PerformanceMonitoringConfig, load_performance_monitoring, parse_performance_monitoring,
    validate_settings, validate_threshold,
};
pub use targeting::{read_segment, validate_segment};
pub use user_feedback::{
    UserFeedbackConfig, load_user_feedback, parse_user_feedback, validate_feedback_settings,
};

use crate::common::limits::cut;
use crate::error::Error;

/// The largest configuration file read, in bytes. The shipped configs are a
/// few kilobytes and 10,000 flags with descriptions about 3 MB; the cap keeps
/// a wrong path (a log, a binary) from being parsed.
pub const MAX_CONFIG_BYTES: usize = 16 << 20;

/// The most YAML parser events (scalars, mapping starts, …) one file may
/// produce (10,000 flags take about 300,000), and the most aliases: bounds
/// the work an alias bomb can cause.
const MAX_YAML_EVENTS: usize = 4_000_000;
const MAX_YAML_ALIASES: usize = 1_000;

/// One problem in a configuration: where, which field, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigIssue {
    /// The file name as given to the loader; empty for JSON updates.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// The dotted field path, e.g. `flags.intelligent_pipe_sizing.percentage`.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ConfigIssue {
    /// `file:line:column: path: message (hint: …)`; the location part is left
    /// out when unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}:", self.file)?;
            if self.line > 0 {
                write!(f, "{}:{}:", self.line, self.column)?;
            }
            f.write_str(" ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Every problem found in one configuration, reported together so that a
/// user fixes a file in one pass instead of one error per run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigError {
    pub issues: Vec<ConfigIssue>,
    /// Problems found beyond the first [`MAX_ISSUES`], counted, not listed.
    pub omitted: usize,
}

/// The most problems one [`ConfigError`] lists: a file of a million bad
/// entries gets a message of a hundred lines and a count of the rest.
pub const MAX_ISSUES: usize = 100;

/// The longest field path and message of one issue, in bytes; a longer one
/// (a name of a megabyte in it) is cut.
const MAX_ISSUE_TEXT: usize = 1024;

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.issues.as_slice(), self.omitted) {
            ([one], 0) => write!(f, "{one}"),
            (issues, omitted) => {
                write!(f, "{} configuration problems:", issues.len() + omitted)?;
                for issue in issues {
                    write!(f, "\n  {issue}")?;
                }
                if omitted > 0 {
                    write!(f, "\n  … and {omitted} more")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::config(e.to_string())
    }
}

/// A collector of problems for one source. Readers push into it and keep
/// going, so that one pass finds everything.
#[derive(Debug)]
pub struct Issues {
    file: String,
    list: Vec<ConfigIssue>,
    omitted: usize,
}

impl Issues {
    /// A collector for problems in `file` (empty for JSON updates).
    pub fn new(file: impl Into<String>) -> Issues {
        Issues {
            file: file.into(),
            list: Vec::new(),
            omitted: 0,
        }
    }

    /// Records a problem at `loc` (the node it concerns).
    pub fn push(
        &mut self,
        loc: Option<Loc>,
        path: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        if self.list.len() >= MAX_ISSUES {
            self.omitted += 1;
            return;
        }
        let loc = loc.unwrap_or(Loc { line: 0, column: 0 });
        let message = message.into();
        self.list.push(ConfigIssue {
            file: self.file.clone(),
            line: loc.line,
            column: loc.column,
            path: cut(path, MAX_ISSUE_TEXT).into_owned(),
            message: match cut(&message, MAX_ISSUE_TEXT) {
                Cow::Borrowed(_) => message,
                Cow::Owned(shorter) => shorter,
            },
            hint: hint.map(|h| cut(&h, MAX_ISSUE_TEXT).into_owned()),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `Ok(value)` when no problem was found, otherwise every problem.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError {
                issues: self.list,
                omitted: self.omitted,
            })
        }
    }
}

/// Parses YAML `text` into a located tree. Syntax errors, duplicate keys and
/// budget overruns come back as one located [`ConfigIssue`], never a panic.
pub fn parse_yaml(text: &str, file: &str) -> Result<Node, ConfigError> {
    let mut issues = Issues::new(file);
    if text.len() > MAX_CONFIG_BYTES {
        issues.push(
            None,
            "",
            format!(
                "file is {} bytes, more than the {} bytes a configuration may have",
                text.len(),
                MAX_CONFIG_BYTES
            ),
            Some("is this the right file?".into()),
        );
        return issues.finish(Node::new(Value::Null));
    }
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = MAX_YAML_EVENTS;
    budget.max_aliases = MAX_YAML_ALIASES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // YAML 1.2 core schema: a group named `no` or `y` stays a string (the
    // "Norway problem"), and ids such as `007` keep their leading zeros.
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.with_snippet = false;
    match serde_saphyr::from_str_with_options::<Node>(text, options) {
        Ok(node) => Ok(node),
        Err(e) => {
            let loc = e.location().and_then(|l| {
                (l.line() > 0).then(|| Loc {
                    line: u32::try_from(l.line()).unwrap_or(u32::MAX),
                    column: u32::try_from(l.column()).unwrap_or(u32::MAX),
                })
            });
            // The library's message may repeat the location; keep only its first line.
            let message = e.to_string();
            let message = message.lines().next().unwrap_or("invalid YAML").to_owned();
            issues.push(loc, "", format!("invalid YAML: {message}"), None);
            issues.finish(Node::new(Value::Null))
        }
    }
}

/// Reads the config file at `path` and parses it with `parse` (which gets the
/// text and the file name for messages); an unreadable file is one issue.
pub(crate) fn load_file<T>(
    path: &std::path::Path,
    parse: impl FnOnce(&str, &str) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let file = path.display().to_string();
    match read_config_file(path) {
        Ok(text) => parse(&text, &file),
        Err(e) => {
            let mut issues = Issues::new(file);
            issues.push(None, "", e.message().to_owned(), None);
            Err(issues.finish(()).unwrap_err())
        }
    }
}

/// Whether a config file is there to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileState {
    Regular,
    Missing,
    /// There, but not a file that can be read: why.
    Unusable(String),
}

/// Whether the config file at `path` is there to read. A name that exists
/// but is not a readable regular file (a folder, a FIFO, a dangling link) is
/// an error to report, not a file to skip: skipping would report success
/// while the old definitions stay live, and reading a FIFO would wait for a
/// writer forever.
pub(crate) fn file_state(path: &std::path::Path) -> FileState {
    let Ok(link) = std::fs::symlink_metadata(path) else {
        return FileState::Missing;
    };
    match std::fs::metadata(path) {
        Err(e) if link.file_type().is_symlink() => FileState::Unusable(format!(
            "is a symbolic link to {}, which cannot be followed ({e})",
            std::fs::read_link(path).map_or_else(|_| "?".into(), |t| t.display().to_string())
        )),
        Err(e) => FileState::Unusable(format!("cannot be read: {e}")),
        Ok(m) if m.is_file() => FileState::Regular,
        Ok(m) if m.is_dir() => FileState::Unusable("is a folder, not a file".into()),
        Ok(_) => FileState::Unusable("is not a regular file (a FIFO, socket or device)".into()),
    }
}

/// Reads the file at `path` (at most [`MAX_CONFIG_BYTES`]) as UTF-8 text.
pub(crate) fn read_config_file(path: &std::path::Path) -> crate::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| Error::config(format!("{}: cannot open: {e}", path.display())))?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| Error::config(format!("{}: cannot read: {e}", path.display())))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_format_names_file_line_column_path_and_hint() {
        let mut issues = Issues::new("feature_flags.yml");
        issues.push(
            Some(Loc {
                line: 7,
                column: 17,
            }),
            "flags.a.percentage",
            "must be between 0 and 100, not 150",
            Some("use 100 for everyone".into()),
        );
        issues.push(None, "flags.b", "unknown", None);
        let err = issues.finish(()).unwrap_err();
        let text = Error::from(err.clone()).to_string();
        assert_eq!(
            text,
            "2 configuration problems:\n  feature_flags.yml:7:17: flags.a.percentage: must be between 0 and 100, not 150 (hint: use 100 for everyone)\n  feature_flags.yml: flags.b: unknown"
        );
        assert_eq!(Error::from(err).kind(), crate::error::ErrorKind::Config);
    }

    #[test]
    fn a_hundred_problems_are_listed_and_the_rest_counted() {
        let mut issues = Issues::new("f.yml");
        for i in 0..250 {
            issues.push(None, &format!("flags.f{i}"), "unknown", None);
        }
        issues.push(None, &"p".repeat(5000), "m".repeat(5000), None);
        let err = issues.finish(()).unwrap_err();
        assert_eq!((err.issues.len(), err.omitted), (MAX_ISSUES, 151));
        let text = err.to_string();
        assert!(text.starts_with("251 configuration problems:\n  f.yml: flags.f0: unknown"));
        assert!(
            text.ends_with("\n  f.yml: flags.f99: unknown\n  … and 151 more"),
            "{text}"
        );
        // A path or message of a megabyte is cut when recorded.
        let mut issues = Issues::new("f.yml");
        issues.push(None, &"p".repeat(1 << 20), "m".repeat(1 << 20), None);
        let issue = &issues.finish(()).unwrap_err().issues[0];
        assert_eq!(issue.path, format!("{}… (1048576 bytes)", "p".repeat(1024)));
        assert_eq!(
            issue.message,
            format!("{}… (1048576 bytes)", "m".repeat(1024))
        );
    }

    #[test]
    fn malformed_yaml_is_located() {
        let err = parse_yaml("flags:\n  a: [1, 2\n  b: 3\n", "f.yml").unwrap_err();
        let issue = &err.issues[0];
        assert_eq!(issue.file, "f.yml");
        assert!(issue.line >= 2, "{issue}");
        assert!(issue.message.starts_with("invalid YAML"), "{issue}");
    }

    #[test]
    fn duplicate_keys_are_rejected_with_a_location() {
        let err = parse_yaml("a: 1\na: 2\n", "f.yml").unwrap_err();
        assert_eq!(err.issues[0].line, 2, "{}", err);
    }

    #[test]
    fn oversized_input_is_refused() {
        let text = "#".repeat(MAX_CONFIG_BYTES + 1);
        let err = parse_yaml(&text, "big.yml").unwrap_err();
        assert!(err.to_string().contains("more than"));
    }
}
