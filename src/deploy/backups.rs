//! Backups: before every deploy, rollback and restore, an online copy of
//! the whole database (SQLite's backup API) goes into a folder beside it
//! (`cha.db-backups/`, or the `backup_dir` option), readable by its owner
//! only; the newest `backups_kept` are kept.
//!
//! A backup is named `<database file>.<UTC time>.<reason>.db`, e.g.
//! `cha.db.20261130T034512.345Z.deploy.db`, so that names sort by time.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::transition::{self, Record};
use super::{DeployReport, OnDrift, history};
use crate::Cha;
use crate::error::{Error, Result};
use crate::store::audit::Author;

/// One backup file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backup {
    /// Its file name in the backup folder (what `restore` takes).
    pub name: String,
    pub path: String,
    pub created_at_ms: i64,
    /// Why it was taken: `deploy`, `rollback`, `restore`, `manual`.
    pub reason: String,
    pub size_bytes: u64,
}

/// The name that restores the newest backup: no backup is named so, since
/// every backup's name starts with its database's.
const LATEST: &str = "latest";

impl Cha {
    /// The folder backups go to.
    pub fn backup_dir(&self) -> PathBuf {
        match &self.inner.options.backup_dir {
            Some(dir) => PathBuf::from(dir),
            None => {
                let mut dir = self.inner.store.path().as_os_str().to_owned();
                dir.push("-backups");
                PathBuf::from(dir)
            }
        }
    }

    /// Takes a backup now (after flushing this handle's buffered records),
    /// then drops the oldest beyond `backups_kept`.
    ///
    /// # Errors
    /// `Storage` naming the folder or file; `InvalidArgument` for a reason
    /// that is not a short word.
    pub fn create_backup(&self, reason: &str) -> Result<Backup> {
        if reason.is_empty()
            || reason.len() > 32
            || !reason
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::invalid_argument(format!(
                "backup reason `{reason}`: use 1 to 32 letters, digits and `-`"
            )));
        }
        let backup = self.take_backup(reason)?;
        self.prune_backups()?;
        Ok(backup)
    }

    /// A backup without pruning: a restore prunes only once done, so that
    /// the backup it restores is never the one pruned.
    fn take_backup(&self, reason: &str) -> Result<Backup> {
        self.flush()?;
        let dir = self.backup_dir();
        // The folder the library chose (beside the database) is a folder of
        // its own: a symbolic link there would send the copies of the whole
        // database elsewhere. A folder named in the options is the caller's.
        if self.inner.options.backup_dir.is_none()
            && std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(Error::storage(format!(
                "backup folder {} is a symbolic link; name its target as the `backup_dir` option to back up there",
                dir.display()
            )));
        }
        create_backup_dir(&dir, crate::store::mode_of(self.inner.store.path()))?;
        // Two backups in one millisecond get the next free one. A name taken
        // by anything, a dangling link included, is not free: the copy is
        // never written through a link planted at a name it could guess.
        let now = crate::clock::now_ms();
        let path = (now..now + 1000)
            .map(|ms| dir.join(format!("{}.{}.{reason}.db", self.db_name(), stamp(ms))))
            .find(|p| std::fs::symlink_metadata(p).is_err())
            .ok_or_else(|| {
                Error::storage(format!("backup folder {}: no free name", dir.display()))
            })?;
        self.inner.store.backup_to(&path)?;
        self.read_backup(&path)
    }

    /// Every backup of this database, oldest first.
    ///
    /// # Errors
    /// `Storage` if the folder cannot be read.
    pub fn backups(&self) -> Result<Vec<Backup>> {
        let dir = self.backup_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::storage(format!(
                    "backup folder {}: {e}",
                    dir.display()
                )));
            }
        };
        let mut backups: Vec<Backup> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| self.read_backup(&e.path()).ok())
            .collect();
        backups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(backups)
    }

    /// Restores the database from backup `name` (a file name in the backup
    /// folder, a path, or `latest`: the newest backup of the folder, of any
    /// reason), taking a backup of the current state first. The
    /// whole database comes back as it was, collected data included: what
    /// was recorded since is in the backup taken first. Recorded as a
    /// deployment (`restore`) under `actor`.
    ///
    /// # Errors
    /// `NotFound` for no such backup; `Storage` for a damaged one or one of
    /// a newer schema (nothing is changed then); `Busy`.
    pub fn restore_backup(&self, name: &str, actor: &str) -> Result<DeployReport> {
        let started = std::time::Instant::now();
        crate::handle::check_actor(actor)?;
        let newest;
        let name = if name == LATEST {
            newest = self.backups()?.pop().map(|b| b.name).ok_or_else(|| {
                Error::not_found(format!(
                    "there is no backup in {} to restore",
                    self.backup_dir().display()
                ))
            })?;
            newest.as_str()
        } else {
            name
        };
        let path = if Path::new(name).components().count() > 1 {
            PathBuf::from(name)
        } else {
            self.backup_dir().join(name)
        };
        if !path.is_file() {
            let known: Vec<String> = self.backups()?.into_iter().map(|b| b.name).collect();
            return Err(Error::not_found(format!(
                "backup {} does not exist (backups: {})",
                path.display(),
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        }
        // A damaged backup is found before anything is done.
        crate::store::check_backup(&path)?;
        let before = self.take_backup("restore")?;
        let revision = crate::store::audit::config_revision(&self.inner.store.conn())?;
        self.inner.store.restore_from(&path)?;
        let at_ms = crate::clock::now_ms();
        let by = Author {
            actor,
            action: "restore",
            at_ms,
        };
        let (id, changes, sections) = self.inner.store.write(|tx| {
            // Every handle must reload: the revision goes past any it has seen.
            crate::store::audit::raise_revision_above(tx, revision)?;
            // What the files said at the restored database's last deployment
            // stays the base of drift.
            let intended = super::snapshot::base(tx)?.1.unwrap_or_default();
            let running = transition::running_configuration(tx)?;
            let t = transition::prepare(tx, &running, false, OnDrift::Overwrite)?;
            let record = Record {
                action: "restore",
                config_dir: Some(path.display().to_string()),
                rolled_back_to: None,
                on_drift: OnDrift::Overwrite,
                files: &[],
                intended,
                backup_path: Some(before.path.clone()),
            };
            let (id, changes) = transition::commit(tx, &t, by, &record)?;
            Ok((id, changes, t.sections))
        })?;
        self.inner.reload_after_commit();
        self.prune_backups()?;
        let duration_ms = history::finish(&self.inner.store, id, started)?;
        Ok(DeployReport {
            deployment_id: id,
            action: "restore".into(),
            config_dir: Some(path.display().to_string()),
            rolled_back_to: None,
            actor: actor.to_string(),
            at_ms,
            on_drift: OnDrift::Overwrite,
            files: Vec::new(),
            changes,
            plan: sections,
            backup: Some(before.path),
            duration_ms,
        })
    }

    /// The backup taken before a deploy or rollback: its path.
    pub(crate) fn backup_before(&self, reason: &str) -> Result<Option<String>> {
        Ok(Some(self.create_backup(reason)?.path))
    }

    /// The database's file name, which every backup name starts with.
    fn db_name(&self) -> String {
        self.inner
            .store
            .path()
            .file_name()
            .map_or_else(|| "cha.db".into(), |n| n.to_string_lossy().into_owned())
    }

    /// The backup at `path`, if its name is one of this database's.
    fn read_backup(&self, path: &Path) -> Result<Backup> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let not_ours = || {
            Error::not_found(format!(
                "{} is not a backup of this database",
                path.display()
            ))
        };
        let rest = name
            .strip_prefix(&format!("{}.", self.db_name()))
            .and_then(|r| r.strip_suffix(".db"))
            .ok_or_else(not_ours)?;
        let (time, reason) = rest
            .split_once('.')
            .and_then(|(date, more)| {
                let (millis, reason) = more.split_once('.')?;
                Some((format!("{date}.{millis}"), reason.to_string()))
            })
            .ok_or_else(not_ours)?;
        let created_at_ms = parse_stamp(&time).ok_or_else(not_ours)?;
        let size_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Ok(Backup {
            name,
            path: path.display().to_string(),
            created_at_ms,
            reason,
            size_bytes,
        })
    }

    /// Deletes the oldest backups beyond `backups_kept`.
    fn prune_backups(&self) -> Result<()> {
        let backups = self.backups()?;
        let keep = self.inner.options.backups_kept as usize;
        for old in backups.iter().take(backups.len().saturating_sub(keep)) {
            std::fs::remove_file(&old.path)
                .map_err(|e| Error::storage(format!("removing old backup {}: {e}", old.path)))?;
        }
        Ok(())
    }
}

/// `20261130T034512.345Z`: UTC to the millisecond, sortable as text.
fn stamp(ms: i64) -> String {
    let t = crate::common::time::format_rfc3339_ms(ms);
    // 2026-11-30T03:45:12.345Z
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    let millis = if digits.len() >= 17 {
        &digits[14..17]
    } else {
        "000"
    };
    format!("{}T{}.{millis}Z", &digits[..8], &digits[8..14])
}

/// The time of a [`stamp`].
fn parse_stamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[8] != b'T' || b[15] != b'.' || b[19] != b'Z' {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}.{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15],
        &s[16..19]
    );
    crate::common::time::parse_rfc3339_ms(&rfc).ok()
}

/// Creates the backup folder, open to those the database is open to
/// (0700 for a 0600 database, 0750 for 0640). An existing folder is left
/// as it is.
fn create_backup_dir(dir: &Path, mode: crate::FileMode) -> Result<()> {
    let io = |e: std::io::Error| Error::storage(format!("backup folder {}: {e}", dir.display()));
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode.folder());
    builder.create(dir).map_err(io)?;
    // Exactly, whatever the umask; the folder is new, so nobody else's.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode.folder()))
            .map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_sort_and_read_back() {
        let ms = 1_796_009_112_345;
        let s = stamp(ms);
        assert_eq!(s.len(), 20, "{s}");
        assert_eq!(parse_stamp(&s), Some(ms));
        assert!(stamp(ms) < stamp(ms + 1));
        assert_eq!(parse_stamp("2026"), None);
    }
}
