//! The store: the only module that speaks SQL. One SQLite file holds all state.
//!
//! Opening sets the pragmas DESIGN.md asks for and brings the schema up to date
//! with forward-only migrations indexed by `PRAGMA user_version`.

pub(crate) mod audit;
mod backup;
pub(crate) use backup::check_backup;
pub(crate) mod definitions;
pub(crate) mod deployments;
pub(crate) mod experiments;
pub(crate) mod feedback;
mod migrations;
pub(crate) mod monitoring;
pub(crate) mod observation_blocks;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::options::{FileMode, JournalMode, OpenOptions, Synchronous};

pub use migrations::SCHEMA_VERSION;

/// A connection to the database file, shared by the threads of one handle.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// What `doctor` reports about a database.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoreInfo {
    pub path: String,
    pub schema_version: i64,
    pub journal_mode: String,
    pub synchronous: String,
    pub file_size_bytes: u64,
    pub wal_size_bytes: u64,
    pub sqlite_version: String,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// Errors name the path and the reason: a directory, a missing parent
    /// folder, no permission, a file that is not SQLite, a schema newer than
    /// this library.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Store> {
        let conn = open_connection(path, options).map_err(|e| e.context(path.display()))?;
        migrations::migrate(&conn).map_err(|e| e.context(path.display()))?;
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the store's own submodules. A poisoned lock only
    /// means another thread panicked mid-call; SQLite rolled its transaction
    /// back, so the connection is still sound.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Facts about the open database, for `doctor`.
    pub fn info(&self) -> Result<StoreInfo> {
        info_of(&self.conn(), &self.path)
    }

    /// Runs `f` inside one IMMEDIATE transaction: all of it lands, or none.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

/// What `doctor` finds in a database file.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub info: StoreInfo,
    /// Per experiment, the observations kept out of its analysis (values
    /// no sum can hold); none are counted in a schema older than this
    /// library's.
    pub quarantined_observations: Vec<(String, u64)>,
    /// Why this user could not open the database to write (a read-only
    /// file or folder), or None.
    pub unwritable: Option<String>,
    /// SQLite's `PRAGMA quick_check`: "ok", or what is damaged.
    pub integrity: String,
}

/// Facts about the database at `path`, read without creating, upgrading
/// or writing it (`doctor`): a missing file is `NotFound`, a file that is
/// not SQLite is `Storage`.
pub fn inspect(path: &Path) -> Result<Inspection> {
    if !path.exists() {
        return Err(Error::not_found(format!(
            "{}: no such database",
            path.display()
        )));
    }
    let read_only = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, read_only)
        .map_err(|e| Error::from(e).context(path.display()))?;
    let (conn, info) = match info_of(&conn, path) {
        Ok(info) => (conn, info),
        // A WAL database in a folder this user cannot write: SQLite cannot
        // make the -shm file a reader needs. Read the file as it stands.
        Err(e) if e.message().contains("readonly") || e.message().contains("unable to open") => {
            drop(conn);
            let conn = Connection::open_with_flags(
                immutable_uri(path),
                read_only | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(|e| Error::from(e).context(path.display()))?;
            let info = info_of(&conn, path).map_err(|e| e.context(path.display()))?;
            (conn, info)
        }
        Err(e) => return Err(e.context(path.display())),
    };
    let quarantined_observations = if info.schema_version == SCHEMA_VERSION {
        experiments::quarantine_counts(&conn).map_err(|e| e.context(path.display()))?
    } else {
        Vec::new()
    };
    // The first problems; a page too damaged to check is
    // itself the answer.
    let integrity = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map(|lines| lines.join("; "))
        .unwrap_or_else(|e| e.to_string());
    Ok(Inspection {
        info,
        quarantined_observations,
        unwritable: unwritable(path, !writable(path)).map(|e| e.message().to_string()),
        integrity,
    })
}

/// `file:PATH?immutable=1`, the path percent-encoded where a URI needs it.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

fn info_of(conn: &Connection, path: &Path) -> Result<StoreInfo> {
    let schema_version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let journal_mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    let synchronous: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
    let synchronous = match synchronous {
        0 => "off",
        1 => "normal",
        2 => "full",
        3 => "extra",
        _ => "unknown",
    }
    .to_string();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    Ok(StoreInfo {
        path: path.display().to_string(),
        schema_version,
        journal_mode,
        synchronous,
        file_size_bytes: size(path),
        wal_size_bytes: size(Path::new(&wal)),
        sqlite_version: rusqlite::version().to_string(),
    })
}

/// Opens the file with the configured pragmas, turning SQLite's terse
/// "unable to open database file" into the reason a person can act on.
fn open_connection(path: &Path, options: &OpenOptions) -> Result<Connection> {
    check_path(path)?;
    create_with_mode(path, options.file_mode)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(
        options.busy_timeout_ms,
    )))?;
    // The first read of the header is where a file that is not SQLite shows.
    conn.pragma_query_value(None, "schema_version", |r| r.get::<_, i64>(0))
        .map_err(|e| open_error(path, e))?;
    check_writable(path, &conn)?;
    let mode = match options.journal_mode {
        JournalMode::Wal => "WAL",
        JournalMode::Delete => "DELETE",
        JournalMode::Truncate => "TRUNCATE",
    };
    let applied = set_journal_mode(&conn, mode, options.busy_timeout_ms)?;
    if !applied.eq_ignore_ascii_case(mode) {
        return Err(Error::storage(format!(
            "journal_mode {mode} was refused (the file system left it at {applied}); \
             on a network file system open with {{\"journal_mode\": \"delete\"}}"
        )));
    }
    let sync = match options.synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Sets the journal mode, waiting out other connections as every other
/// statement does. SQLite answers a switch to WAL that races another
/// connection's switch with SQLITE_BUSY at once, without calling the busy
/// handler, so several processes opening a new file together would fail
/// here; the retry gives them the busy timeout like any other lock.
fn set_journal_mode(conn: &Connection, mode: &str, busy_timeout_ms: u32) -> Result<String> {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(u64::from(busy_timeout_ms));
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", mode, |r| r.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ffi::ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            other => return Ok(other?),
        }
    }
}

/// Refuses a database this process cannot write, at open rather than at
/// the first flush: SQLite opens a write-protected file read-only without a
/// word, and a folder that cannot be written leaves no room for the -wal
/// and -shm files (or a rollback journal) beside it. `doctor` and
/// [`inspect`] read such a database without writing.
fn check_writable(path: &Path, conn: &Connection) -> Result<()> {
    match unwritable(path, conn.is_readonly(rusqlite::MAIN_DB)?) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The error for a database that cannot be written: the file itself
/// (`file_read_only`), or the folder where its journal goes.
fn unwritable(path: &Path, file_read_only: bool) -> Option<Error> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let what = if file_read_only {
        "the database file cannot be written (a read-only file, or a read-only file system)"
            .to_string()
    } else if !writable(folder) {
        format!(
            "its folder {} cannot be written, and the journal (-wal, -shm) goes beside the database",
            folder.display()
        )
    } else {
        return None;
    };
    Some(Error::storage(format!(
        "cannot open database for writing: {what}; give this user write access, \
         or read it with `cha-deploy doctor`, which writes nothing"
    )))
}

/// Whether this process may write in `folder` (faccessat(2), which honours
/// the effective user and read-only mounts).
fn writable(folder: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
            return true;
        };
        // SAFETY: a NUL-terminated path; access only reads it.
        unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = folder;
        true
    }
}

fn check_path(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Err(Error::invalid_argument("database path is empty"));
    }
    if path.is_dir() {
        return Err(Error::storage(
            "cannot open database: the path is a directory",
        ));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent
        && !parent.is_dir()
    {
        return Err(Error::storage(format!(
            "cannot open database: the folder {} does not exist",
            parent.display()
        )));
    }
    Ok(())
}

/// Creates a missing database file with permissions `mode` exactly,
/// whatever the umask (which would take the group's write bit of 0660);
/// SQLite gives its -wal and -shm files the same permissions. An existing
/// file is left as it is.
pub(crate) fn create_with_mode(path: &Path, mode: FileMode) -> Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, mode.0);
    match open.open(path) {
        Ok(file) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(mode.0))
                    .map_err(io_error)?;
            }
            drop(file);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(e)),
    }
}

/// The permissions of the file at `path` as a [`FileMode`] (read and write
/// bits), for the files made beside it: backups follow their database.
pub(crate) fn mode_of(path: &Path) -> FileMode {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            return FileMode(meta.permissions().mode() & 0o666);
        }
    }
    FileMode::PRIVATE
}

fn io_error(e: std::io::Error) -> Error {
    let reason = match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "permission denied: the file or its folder cannot be written by this user".to_string()
        }
        _ => e.to_string(),
    };
    Error::storage(format!("cannot open database: {reason}"))
}

fn open_error(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ffi::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::storage(
            "cannot open database: the file is not a SQLite database (or is encrypted or corrupt)",
        ),
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
            {
                Err(io) => io_error(io),
                Ok(_) => unwritable(path, false)
                    .unwrap_or_else(|| Error::storage(format!("cannot open database: {e}"))),
            }
        }
        _ => Error::from(e),
    }
}
