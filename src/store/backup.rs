//! Online backups of the database file with SQLite's backup API: a copy
//! taken while other connections keep reading and writing, and the restore
//! of such a copy into the open database.

use std::path::Path;

use rusqlite::{Connection, MAIN_DB, OpenFlags};

use super::{Store, create_with_mode, migrations, mode_of};
use crate::error::{Error, Result};

impl Store {
    /// Copies the whole database into a new file at `path`, with the
    /// database file's permissions. Buffered records of handles are not in
    /// it: flush first.
    ///
    /// # Errors
    /// `Storage` naming the path (it exists already, or cannot be written).
    pub(crate) fn backup_to(&self, path: &Path) -> Result<()> {
        if path.exists() {
            return Err(Error::storage(format!(
                "backup {}: the file exists already",
                path.display()
            )));
        }
        // Copied under a hidden name, then renamed: a process killed during
        // the copy leaves no half-written file under a backup's name.
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let partial = path.with_file_name(format!(".{name}.partial"));
        let _ = std::fs::remove_file(&partial);
        create_with_mode(&partial, mode_of(&self.path))
            .map_err(|e| e.context(format!("backup {}", path.display())))?;
        let result = self
            .conn()
            .backup(MAIN_DB, &partial, None::<fn(rusqlite::backup::Progress)>)
            .map_err(|e| in_context(e, format!("backup {}", path.display())))
            .and_then(|()| {
                std::fs::rename(&partial, path)
                    .map_err(|e| Error::storage(format!("backup {}: {e}", path.display())))
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    /// Replaces the database's content with the backup at `path`, then
    /// brings its schema up to date. The backup is checked first (a SQLite
    /// file that passes `quick_check`, with a schema this version knows); a
    /// bad one changes nothing.
    ///
    /// # Errors
    /// `NotFound` for a missing file; `Storage` for a damaged or newer one.
    pub(crate) fn restore_from(&self, path: &Path) -> Result<()> {
        check_backup(path)?;
        let what = || format!("restore from {}", path.display());
        let source = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| in_context(e, what()))?;
        let mut conn = self.conn();
        {
            // All pages in one step, so one write lock: rusqlite's `restore`
            // gave up after three tries of 100 ms whatever the busy timeout,
            // and called that a storage error. Here the destination's busy
            // handler waits out the timeout, and what is left is `Busy`.
            let restore = rusqlite::backup::Backup::new(&source, &mut conn)
                .map_err(|e| in_context(e, what()))?;
            match restore.step(-1).map_err(|e| in_context(e, what()))? {
                rusqlite::backup::StepResult::Done => {}
                _ => {
                    return Err(Error::new(
                        crate::error::ErrorKind::Busy,
                        format!(
                            "{}: the database stayed locked by another connection past the busy timeout; nothing was restored",
                            what()
                        ),
                    ));
                }
            }
        }
        migrations::migrate(&conn).map_err(|e| e.context(path.display()))
    }
}

/// A SQLite error with `what` in front, keeping its kind (`Busy` stays
/// `Busy`).
fn in_context(e: rusqlite::Error, what: String) -> Error {
    Error::from(e).context(what)
}

/// Checks that `path` is a sound database of a schema this version reads.
///
/// # Errors
/// `NotFound` for a missing file; `Storage` for a damaged or newer one.
pub(crate) fn check_backup(path: &Path) -> Result<()> {
    if !path.is_file() {
        return Err(Error::not_found(format!(
            "backup {} does not exist",
            path.display()
        )));
    }
    let what = |e: rusqlite::Error| {
        Error::storage(format!(
            "backup {} is not a sound cha-deploy database: {e}",
            path.display()
        ))
    };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(what)?;
    let check: String = conn
        .pragma_query_value(None, "quick_check", |r| r.get(0))
        .map_err(what)?;
    if check != "ok" {
        return Err(Error::storage(format!(
            "backup {} is damaged: {check}",
            path.display()
        )));
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(what)?;
    migrations::check_not_newer(version).map_err(|e| e.context(path.display()))?;
    // An empty file, or another program's SQLite file, would replace the
    // database with nothing: only a cha-deploy database is restored.
    let ours: Option<String> = if version >= 1 {
        conn.query_row(
            "SELECT value FROM meta WHERE key = 'created_by_version'",
            [],
            |r| r.get(0),
        )
        .ok()
    } else {
        None
    };
    if ours.is_none() {
        return Err(Error::storage(format!(
            "{} is not a cha-deploy database (no schema version and no creating version in it); nothing was restored",
            path.display()
        )));
    }
    Ok(())
}
