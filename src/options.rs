//! Open options: how a handle talks to its database file and how often its
//! background work runs. Given as JSON through the C ABI and the CLI.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// SQLite journal mode. `wal` is the default; network file systems need
/// `delete` (or `truncate`), since WAL relies on shared memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalMode {
    Wal,
    Delete,
    Truncate,
}

/// SQLite `synchronous` level. `normal` is safe from corruption in WAL mode;
/// `full` also survives a power cut without losing the last commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

/// Options of [`crate::Cha::open_with_options`]. Every field has a default; an
/// unknown field or a value of the wrong type is an error, never ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenOptions {
    /// `"wal"` (default), `"delete"` or `"truncate"`.
    pub journal_mode: JournalMode,
    /// `"normal"` (default) or `"full"`.
    pub synchronous: Synchronous,
    /// How long a write waits for another connection's lock, in ms (default 5000).
    pub busy_timeout_ms: u32,
    /// How often buffered records are persisted, in ms (default 1000).
    pub flush_interval_ms: u64,
    /// How often the handle looks for configuration changes made by other
    /// processes, in ms (default 500).
    pub refresh_interval_ms: u64,
    /// Where backups go (default: a folder beside the database,
    /// `<database>-backups`).
    pub backup_dir: Option<String>,
    /// How many backups are kept, the newest (default 10).
    pub backups_kept: u32,
    /// The most distinct metric series (metric and tag set) the handle
    /// records (default 10000); past it, recording a new one is an error.
    pub metric_series_limit: u32,
    /// Sample system metrics every this many ms (at least 100); 0 never.
    /// Absent (the default): as `settings.system_metrics` of
    /// performance_monitoring.yml says (off unless enabled there).
    pub system_metrics_interval_ms: Option<u64>,
    /// Whether this handle's background thread evaluates the alert rules
    /// (default true). Evaluation is shared through the database, so one
    /// evaluating process is enough; tests that drive the clock turn it off.
    pub evaluate_alerts: bool,
    /// The permissions a new database file gets, with its -wal and -shm
    /// files (default `"0600"`, its owner only); `"0640"` or `"0660"` share
    /// it with a group, such as a service account's. Octal digits in a
    /// string. An existing file keeps its permissions; backups and the
    /// backup folder follow the database file's.
    pub file_mode: FileMode,
    /// The most records (exposures and observations; metric samples) the
    /// handle keeps waiting to be persisted, per subsystem (default
    /// 1000000). While flushes succeed a full buffer is flushed by the
    /// recording thread; while they fail, a record call that finds it full
    /// is refused (`Busy` while the store is locked, else `Storage`)
    /// instead of acknowledging what cannot be kept.
    pub max_buffered_records: u32,
}

/// File permissions as `"0640"`: read and write bits only, the owner's
/// read and write always, never writable by everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl FileMode {
    pub const PRIVATE: FileMode = FileMode(0o600);

    /// Parses `"0640"`, `"640"` or `"0o640"`.
    pub fn parse(text: &str) -> Result<FileMode> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        let mode = u32::from_str_radix(digits, 8)
            .ok()
            .filter(|_| !digits.is_empty() && digits.len() <= 4)
            .ok_or_else(|| {
                Error::invalid_argument(format!(
                    "file_mode `{text}` is not octal permissions such as \"0640\""
                ))
            })?;
        FileMode(mode).checked()
    }

    fn checked(self) -> Result<FileMode> {
        let FileMode(mode) = self;
        let problem = if mode & !0o666 != 0 {
            "has bits besides read and write (no execute, setuid or sticky bits on data files)"
        } else if mode & 0o600 != 0o600 {
            "must let the owner read and write"
        } else if mode & 0o002 != 0 {
            "would let every user of the machine write the database"
        } else {
            return Ok(self);
        };
        Err(Error::invalid_argument(format!(
            "file_mode {mode:04o} {problem}; use 0600, 0640 or 0660"
        )))
    }

    /// The permissions of a folder holding such files: search (x) where
    /// there is read.
    pub fn folder(self) -> u32 {
        self.0 | ((self.0 & 0o444) >> 2)
    }
}

impl Default for FileMode {
    fn default() -> Self {
        FileMode::PRIVATE
    }
}

impl std::fmt::Display for FileMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for FileMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // A number would be read in decimal (640 is 0o1200): only strings.
        let text = String::deserialize(d)?;
        FileMode::parse(&text).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            journal_mode: JournalMode::Wal,
            synchronous: Synchronous::Normal,
            busy_timeout_ms: 5000,
            flush_interval_ms: 1000,
            refresh_interval_ms: 500,
            backup_dir: None,
            backups_kept: 10,
            metric_series_limit: 10_000,
            system_metrics_interval_ms: None,
            evaluate_alerts: true,
            file_mode: FileMode::PRIVATE,
            max_buffered_records: 1_000_000,
        }
    }
}

impl OpenOptions {
    /// Parses and checks options from a JSON object; `{}` gives the defaults.
    pub fn from_json(json: &str) -> Result<OpenOptions> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::invalid_argument(format!("open options: {e}")))?;
        let serde_json::Value::Object(fields) = value else {
            return Err(Error::invalid_argument(
                "open options: expected a JSON object such as {\"journal_mode\": \"wal\"}",
            ));
        };
        // Field by field, so that a wrong type names the option it is in.
        let mut options = serde_json::Map::new();
        for (name, value) in fields {
            let single = serde_json::Value::Object([(name.clone(), value)].into_iter().collect());
            serde_json::from_value::<OpenOptions>(single.clone()).map_err(|e| {
                let e = e.to_string();
                if e.starts_with("unknown field") {
                    Error::invalid_argument(format!("open options: {e}"))
                } else {
                    Error::invalid_argument(format!("open options: `{name}`: {e}"))
                }
            })?;
            if let serde_json::Value::Object(m) = single {
                options.extend(m);
            }
        }
        let options: OpenOptions = serde_json::from_value(serde_json::Value::Object(options))?;
        options.validate()?;
        Ok(options)
    }

    /// Checks the ranges serde cannot express.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(Error::invalid_argument(format!(
                    "open options: {name} is {value}, expected {min} to {max}"
                )))
            }
        };
        check(
            "busy_timeout_ms",
            u64::from(self.busy_timeout_ms),
            0,
            600_000,
        )?;
        check("flush_interval_ms", self.flush_interval_ms, 1, 3_600_000)?;
        check("backups_kept", u64::from(self.backups_kept), 1, 100_000)?;
        check(
            "max_buffered_records",
            u64::from(self.max_buffered_records),
            1,
            100_000_000,
        )?;
        check(
            "metric_series_limit",
            u64::from(self.metric_series_limit),
            1,
            1_000_000,
        )?;
        self.file_mode
            .checked()
            .map_err(|e| Error::invalid_argument(format!("open options: {}", e.message())))?;
        if let Some(ms) = self.system_metrics_interval_ms.filter(|ms| *ms != 0) {
            check("system_metrics_interval_ms", ms, 100, 3_600_000)?;
        }
        if self
            .backup_dir
            .as_deref()
            .is_some_and(|d| d.trim().is_empty())
        {
            return Err(Error::invalid_argument(
                "open options: backup_dir is empty; leave it out for the folder beside the database",
            ));
        }
        check(
            "refresh_interval_ms",
            self.refresh_interval_ms,
            1,
            3_600_000,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_defaults() {
        assert_eq!(
            OpenOptions::from_json("{}").unwrap(),
            OpenOptions::default()
        );
    }

    #[test]
    fn every_field_is_read() {
        let o = OpenOptions::from_json(
            r#"{"journal_mode":"delete","synchronous":"full","busy_timeout_ms":10,
                "flush_interval_ms":20,"refresh_interval_ms":30}"#,
        )
        .unwrap();
        assert_eq!(o.journal_mode, JournalMode::Delete);
        assert_eq!(o.synchronous, Synchronous::Full);
        assert_eq!(
            (
                o.busy_timeout_ms,
                o.flush_interval_ms,
                o.refresh_interval_ms
            ),
            (10, 20, 30)
        );
    }

    #[test]
    fn unknown_field_is_an_error_naming_it() {
        let e = OpenOptions::from_json(r#"{"journal":"wal"}"#).unwrap_err();
        assert!(e.message().contains("unknown field `journal`"), "{e}");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let e = OpenOptions::from_json(r#"{"busy_timeout_ms":"5s"}"#).unwrap_err();
        assert!(
            e.message().contains("busy_timeout_ms") || e.message().contains("invalid type"),
            "{e}"
        );
        let e = OpenOptions::from_json(r#"{"journal_mode":"memory"}"#).unwrap_err();
        assert!(e.message().contains("unknown variant `memory`"), "{e}");
    }

    #[test]
    fn out_of_range_is_an_error() {
        let e = OpenOptions::from_json(r#"{"refresh_interval_ms":0}"#).unwrap_err();
        assert_eq!(
            e.message(),
            "open options: refresh_interval_ms is 0, expected 1 to 3600000"
        );
        let e = OpenOptions::from_json("[]").unwrap_err();
        assert!(e.message().contains("expected a JSON object"), "{e}");
        assert!(OpenOptions::from_json(r#"["delete"]"#).is_err());
        assert!(OpenOptions::from_json("not json").is_err());
    }
}
