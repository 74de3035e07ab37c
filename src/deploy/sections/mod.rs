//! The config sections of the subsystems, one file each, and the list
//! deployment walks.

mod ab_tests;
mod feature_flags;
mod performance_monitoring;
mod segments;
mod user_feedback;

use super::section::Section;

/// Every config section, in the order a deployment applies them.
pub(crate) const SECTIONS: &[&dyn Section] = &[
    &feature_flags::FeatureFlags,
    &ab_tests::AbTests,
    &performance_monitoring::PerformanceMonitoring,
    &user_feedback::UserFeedback,
    // The segments of feature_flags.yml: last, so that the other sections
    // keep their places in plans and the status.
    &segments::Segments,
];
