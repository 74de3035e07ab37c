//! A/B experiments: the model, deterministic sticky assignment, and the
//! analysis of recorded observations.

pub mod model;

pub use model::{
    Aggregation, ExperimentDefinition, ExperimentStatus, MetricDefinition, MetricType,
    TargetDirection, TestType, VariantDefinition,
};

pub mod assign;

pub use assign::{
    AssignReason, Assignment, CompiledExperiment, ExperimentSet, MAX_MAGNITUDE, MAX_UNIT_ID,
};

pub mod analyze;
pub mod options;
pub mod phases;
pub mod plan;
pub mod report;
pub mod wording;

mod compare;
mod sample_ratio;
mod verdict;

pub use analyze::{AnalysisInput, analyze};
pub use options::{AnalysisOptions, Correction};
pub use phases::{Phase, PhaseSelection, PhaseStart, Split};
pub use plan::{
    ArmPlan, PlanLevel, SamplePlan, plan_for_experiment, plan_for_metric, plan_sample_size,
};
pub use report::{
    AnalysisReport, ArmReport, BusinessImpact, ComparisonReport, ComparisonStatus, ConclusionKind,
    DifferenceReport, Direction, EffectSizeReport, LiftReport, MetricReport, PowerReport,
    SampleRatioReport, SampleRatioStatus, SequentialReport, VariantReport, Verdict,
};
