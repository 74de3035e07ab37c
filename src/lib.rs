//! cha-deploy: the rollout toolkit of the CHA intelligent pipe-sizing system.
//!
//! One embedded library keeps feature flags, A/B tests, performance metrics,
//! user feedback and deployments in one SQLite file. [`Cha`] is the handle;
//! the C ABI (`ffi`), the Python package and the `cha-deploy` CLI all go
//! through it, so they cannot disagree.

pub mod clock;
pub mod config;
pub mod deploy;
pub mod error;
pub mod experiments;
pub mod ffi;
pub mod flags;
pub(crate) mod handle;
pub mod options;
pub mod stats;
pub mod store;

pub use error::{Error, ErrorKind, Result};
pub use handle::{
    AssignedVariant, AssignmentReport, Cha, ExperimentRecord, FlagChange, FlagEvaluation,
    FlagRecord, VariantAssignment, default_actor,
};
pub use options::{JournalMode, OpenOptions, Synchronous};
pub use store::{SCHEMA_VERSION, StoreInfo};

/// The library version, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of the SQLite compiled into the library.
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}
