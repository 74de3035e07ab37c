//! The one error type of the library, and the status code each kind maps to.

use std::fmt;

/// What went wrong, in the categories a caller can act on. Each kind maps to
/// exactly one C status code (see `ffi::status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A required pointer argument was NULL (C ABI only).
    NullArgument,
    /// A string argument was not valid UTF-8 (C ABI only).
    InvalidUtf8,
    /// An argument had a value outside its domain: a NaN, a bad JSON document,
    /// an unknown option, a percentage of 150.
    InvalidArgument,
    /// A named thing (flag, experiment, deployment, feedback id) does not exist.
    NotFound,
    /// A configuration file or update failed validation.
    Config,
    /// The database could not be opened, read or written, or has a schema this
    /// version does not know.
    Storage,
    /// The database stayed locked by another connection past the busy timeout.
    Busy,
    /// A bug: a caught panic or a broken invariant.
    Internal,
}

/// An error with a message that says what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The result type of every fallible function of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message naming what and where.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Storage, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` put in front of its message, for adding
    /// the "where" (a path, a flag name) at the layer that knows it.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Error {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        let kind = match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => ErrorKind::Busy,
            _ => ErrorKind::Storage,
        };
        let message = match kind {
            ErrorKind::Busy => format!(
                "database is locked by another connection and stayed locked past the busy timeout ({e})"
            ),
            _ => format!("database error: {e}"),
        };
        Error::new(kind, message)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid_argument(format!("invalid JSON: {e}"))
    }
}
