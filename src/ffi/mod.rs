//! The C ABI. A surface only: it converts arguments, results and errors, and
//! calls [`crate::Cha`]. Every export goes through [`boundary::guard`].
//!
//! Conventions (as rustls-ffi): the handle comes first, then inputs, then
//! out-pointers; out-pointers are written only on success; every free
//! function accepts NULL; a `const cha_handle *` parameter means no mutation
//! of the configuration.

pub(crate) mod boundary;
pub mod config;
pub mod context;
pub mod core;
pub mod deploy;
pub mod experiment_params;
pub mod experiments;
pub mod feedback;
pub mod flag_values;
pub mod flags;
pub mod handle;
pub mod health;
pub mod monitoring;
pub mod report;
pub mod status;

pub use self::config::*;
pub use self::context::*;
pub use self::core::*;
pub use self::deploy::*;
pub use self::experiment_params::*;
pub use self::experiments::*;
pub use self::feedback::*;
pub use self::flag_values::*;
pub use self::flags::*;
pub use self::health::*;
pub use self::monitoring::*;
pub use self::report::*;
pub use self::status::*;
