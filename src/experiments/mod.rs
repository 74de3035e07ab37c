//! A/B experiments: the model, deterministic sticky assignment, and the
//! analysis of recorded observations.

pub mod model;

pub use model::{
    Aggregation, ExperimentDefinition, ExperimentStatus, MetricDefinition, MetricType,
    TargetDirection, TestType, VariantDefinition,
};

pub mod assign;

pub use assign::{AssignReason, Assignment, CompiledExperiment, ExperimentSet, MAX_UNIT_ID};
