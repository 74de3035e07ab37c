//! A/B experiments: the model, deterministic sticky assignment, and the
//! analysis of recorded observations.

pub mod model;

pub use model::{
    Aggregation, ExperimentDefinition, ExperimentStatus, MetricDefinition, MetricType,
    TargetDirection, TestType, VariantDefinition,
};

pub mod assign;

pub use assign::{AssignReason, Assignment, CompiledExperiment, ExperimentSet, MAX_UNIT_ID};

pub mod analyze;
pub mod plan;

pub use analyze::{AnalysisInput, AnalysisOptions, AnalysisReport, Correction, analyze};
pub use plan::{SamplePlan, plan_for_metric, plan_sample_size};
