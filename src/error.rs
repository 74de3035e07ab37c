//! The one error type of the library, and the status code each kind maps to.

use std::fmt;

/// What went wrong, in the categories a caller can act on. Each kind has
/// exactly one status code, [`ErrorKind::status_code`].
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
    /// A deployment or rollback would undo changes made at runtime, or
    /// delete definitions its target does not mention, and was not told how
    /// (`on_drift`); nothing was changed.
    Drift,
}

impl ErrorKind {
    /// Every kind, in the order of their status codes.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::NullArgument,
        ErrorKind::InvalidUtf8,
        ErrorKind::InvalidArgument,
        ErrorKind::NotFound,
        ErrorKind::Config,
        ErrorKind::Storage,
        ErrorKind::Busy,
        ErrorKind::Internal,
        ErrorKind::Drift,
    ];

    /// The status code of this kind: the `cha_status` a C function returns
    /// (`CHA_ERR_*`), the `STATUS` of the Python exception and the base of
    /// the CLI's exit code. Never 0, which is `CHA_OK`.
    ///
    /// The one place the kind-to-status mapping is written. The values are
    /// the C ABI's constants in `ffi::status`, written there as literals
    /// because cbindgen can put only literals into the header. Tests hold
    /// the rest to it: the header's codes and `cha_status_name`
    /// (`tests/header.rs`), the Python exceptions
    /// (`bindings/python/tests/test_header.py`) and the status names the C++
    /// wrapper mentions.
    pub const fn status_code(self) -> i32 {
        use crate::ffi::status::*;
        match self {
            ErrorKind::NullArgument => CHA_ERR_NULL_ARGUMENT,
            ErrorKind::InvalidUtf8 => CHA_ERR_INVALID_UTF8,
            ErrorKind::InvalidArgument => CHA_ERR_INVALID_ARGUMENT,
            ErrorKind::NotFound => CHA_ERR_NOT_FOUND,
            ErrorKind::Config => CHA_ERR_CONFIG,
            ErrorKind::Storage => CHA_ERR_STORAGE,
            ErrorKind::Busy => CHA_ERR_BUSY,
            ErrorKind::Internal => CHA_ERR_INTERNAL,
            ErrorKind::Drift => CHA_ERR_DRIFT,
        }
    }

    /// The name of this kind's status code, `CHA_ERR_NOT_FOUND`: the same
    /// words in C (`cha_status_name`) and in the CLI's JSON errors.
    pub fn status_name(self) -> &'static str {
        crate::ffi::status::status_name(self.status_code())
            .to_str()
            .expect("status names are ASCII")
    }
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
    /// An error of `kind` with a message naming what and where. A long
    /// message has the input it quotes cut short (`` `quoted` `` input to
    /// 128 bytes, bare words such as paths to 1024, the whole to 64 KiB).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message = message.into();
        Error {
            kind,
            message: if message.len() > LONG_MESSAGE_BYTES {
                shorten(&message)
            } else {
                message
            },
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

    pub fn drift(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Drift, message)
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
        Error::new(self.kind, format!("{context}: {}", self.message))
    }
}

/// Past this many bytes a message is looked at by [`shorten`]; the
/// messages of ordinary mistakes are far shorter.
const LONG_MESSAGE_BYTES: usize = 4096;

/// The most bytes of a whitespace-free run (a path, a value) a message
/// keeps whole.
const LONG_WORD_BYTES: usize = 1024;

/// The most bytes of any message (a configuration's list of problems can be
/// long; a megabyte of input quoted back cannot).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// `message` with what it quotes cut short: each `` `quoted` `` span to
/// [`limits::MAX_QUOTED_BYTES`](crate::common::limits::MAX_QUOTED_BYTES),
/// each run without spaces to [`LONG_WORD_BYTES`], and the whole to
/// [`MAX_MESSAGE_BYTES`], each with its size said. Messages quote names and
/// values in backticks, and paths bare: a caller who passed a megabyte
/// gets its beginning back, not all of it, on every surface.
fn shorten(message: &str) -> String {
    use crate::common::limits::{cut, excerpt};
    let mut quoted = String::with_capacity(LONG_MESSAGE_BYTES);
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            quoted.push('`');
        }
        // Odd parts are inside backticks.
        if i % 2 == 1 {
            quoted.push_str(&excerpt(part));
        } else {
            quoted.push_str(part);
        }
    }
    let mut words = String::with_capacity(quoted.len().min(MAX_MESSAGE_BYTES));
    for (i, word) in quoted.split(' ').enumerate() {
        if i > 0 {
            words.push(' ');
        }
        words.push_str(&cut(word, LONG_WORD_BYTES));
    }
    cut(&words, MAX_MESSAGE_BYTES).into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_has_what_it_quotes_cut_short() {
        let name = "n".repeat(1 << 20);
        let e = Error::not_found(format!(
            "flag `{name}` does not exist; did you mean `new_ui`?"
        ));
        assert_eq!(
            e.message(),
            format!(
                "flag `{}… (1048576 bytes)` does not exist; did you mean `new_ui`?",
                "n".repeat(128)
            )
        );
        let path = format!("/tmp/{}", "p".repeat(1 << 20));
        let e = Error::storage(format!("cannot write {path}: No such file"));
        assert_eq!(
            e.message(),
            // The word is the path and its colon.
            format!(
                "cannot write {}… (1048582 bytes) No such file",
                &path[..1024]
            )
        );
        // Many short words: the whole is cut.
        let e = Error::config("w ".repeat(1 << 20));
        assert!(e.message().len() < 66 * 1024, "{}", e.message().len());
        assert!(e.message().ends_with(" bytes)"));
        // Short messages are left alone, backticks and all.
        let e = Error::invalid_argument("a `b` c");
        assert_eq!(e.message(), "a `b` c");
        assert_eq!(
            e.context("cha_x").message(),
            "cha_x: a `b` c",
            "context keeps the message"
        );
    }
}
