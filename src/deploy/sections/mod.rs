//! The config sections of the subsystems, one file each.

pub(crate) mod ab_tests;
pub(crate) mod feature_flags;
