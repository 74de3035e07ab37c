//! cha-deploy: the rollout toolkit of the CHA intelligent pipe-sizing system.
//!
//! One embedded library keeps feature flags, A/B tests, performance metrics,
//! user feedback and deployments in one SQLite file. [`Cha`] is the handle;
//! the C ABI (`ffi`), the Python package and the `cha-deploy` CLI all go
//! through it, so they cannot disagree.

pub mod clock;
pub mod error;
pub mod ffi;
pub mod options;
pub mod stats;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Error, ErrorKind, Result};
pub use options::{JournalMode, OpenOptions, Synchronous};
pub use store::{SCHEMA_VERSION, StoreInfo};

/// The library version, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of the SQLite compiled into the library.
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// An open database: the one handle through which everything is done.
///
/// `Cha` is `Send + Sync`; one handle may be shared by many threads. Cloning
/// is cheap and gives another reference to the same handle.
#[derive(Clone)]
pub struct Cha {
    inner: Arc<Inner>,
}

struct Inner {
    store: store::Store,
    options: OpenOptions,
}

impl Cha {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Cha> {
        Self::open_with_options(path, OpenOptions::default())
    }

    /// Opens the database at `path` with `options`.
    pub fn open_with_options(path: impl AsRef<Path>, options: OpenOptions) -> Result<Cha> {
        options.validate()?;
        let store = store::Store::open(path.as_ref(), &options)?;
        Ok(Cha {
            inner: Arc::new(Inner { store, options }),
        })
    }

    /// The path the handle was opened with.
    pub fn path(&self) -> PathBuf {
        self.inner.store.path().to_path_buf()
    }

    /// The options the handle was opened with.
    pub fn options(&self) -> &OpenOptions {
        &self.inner.options
    }

    /// Persists everything recorded so far.
    pub fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Flushes and closes this reference to the handle.
    pub fn close(self) -> Result<()> {
        self.flush()
    }

    /// Facts about the database file, for `doctor`.
    pub fn info(&self) -> Result<StoreInfo> {
        self.inner.store.info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Cha>();
    }
}
