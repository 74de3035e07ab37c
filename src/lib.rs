//! cha-deploy: the rollout toolkit of the CHA intelligent pipe-sizing system.
//!
//! One embedded library keeps feature flags, A/B tests, performance metrics,
//! user feedback and deployments in one SQLite file. [`Cha`] is the handle;
//! the C ABI (`ffi`), the Python package and the `cha-deploy` CLI all go
//! through it, so they cannot disagree.
//!
//! ```
//! use cha_deploy::{Cha, flags::Context};
//!
//! # let dir = std::env::temp_dir().join(format!("cha-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let cha = Cha::open(dir.join("cha.db"))?;
//! cha.deploy_all(concat!(env!("CARGO_MANIFEST_DIR"), "/configs"), "ops")?;
//!
//! // A flag check: in memory, no SQL, no allocation.
//! let planner = Context { user_id: Some("planner-042"), ..Context::default() };
//! let on = cha.is_enabled("intelligent_pipe_sizing", &planner)?;
//!
//! // An A/B test: a sticky variant, then an observation of its metric.
//! let variant = cha.assign("pipe_sizing_comparison", "network-17")?.variant;
//! cha.record("pipe_sizing_comparison", "network-17", "pipe_cost_efficiency", 0.87)?;
//! let report = cha.analyze_experiment("pipe_sizing_comparison", Default::default())?;
//! assert_eq!(report.experiment_id, "pipe_sizing_comparison");
//! # let _ = (on, variant);
//! cha.close()?;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), cha_deploy::Error>(())
//! ```

// The engines and the configuration readers are public: they are pure and
// useful alone (evaluate a flag set, analyse summaries, check a file).
pub mod common;
pub mod config;
pub mod experiments;
pub mod feedback;
pub mod flags;
pub mod monitoring;
pub mod stats;

/// The C ABI; its functions are the exports of `libcha_deploy`.
pub mod ffi;

/// The deployment report: its data ([`DeploymentReport`]) and its
/// Markdown, JSON and HTML forms; gathered by
/// [`Cha::deployment_report`](crate::Cha::deployment_report).
pub mod report;

/// The library's clock, and the simulated time of `cha-deploy demo`.
pub mod clock;

// The handle and what it stands on are reached through `Cha` and the
// re-exports below, not as modules.
mod deploy;
mod error;
mod files;
mod handle;
mod options;
mod store;

pub use deploy::backups::Backup;
pub use deploy::history::Deployment;
pub use deploy::status::{DeploymentStatus, DeploymentSummary, SubsystemStatus};
pub use deploy::{
    Action, Changes, DeployOptions, DeployPlan, DeployReport, DeployedFile, Drift, DriftKind,
    DriftRecord, FieldChange, ItemChange, OnDrift, SectionChanges, SectionPlan, known_files,
    subsystems, validate_config_dir,
};
pub use error::{Error, ErrorKind, Result};
pub use experiments::{AnalysisOptions, AnalysisReport, SamplePlan};
pub use handle::experiments::params::ParamType;
pub use handle::{
    AlertCallback, AlertQuery, Archived, ArchivedExperiment, AssignedVariant, AssignmentReport,
    BackgroundError, BufferedRecords, Cha, ExperimentDetails, ExperimentRecord, FlagChange,
    FlagEvaluation, FlagRecord, GUARDRAIL_ACTOR, GuardEvent, Health, MetricSeries,
    PerformanceReport, RawSample, Retained, RuleStatus, SYSTEM_METRICS, VariantAssignment,
    Versioned, default_actor,
};
pub use handle::{
    FeedbackAnalysisOptions, FeedbackEvent, FeedbackExposures, FeedbackItem, FeedbackQuery,
    FeedbackRoute, FeedbackSentiment, FeedbackTransition, FlagExposure,
};
pub use handle::{FlagResolution, ImportReport, ImportedItem, SegmentChange, SegmentRecord};
pub use options::{FileMode, JournalMode, OpenOptions, Synchronous};
pub use report::{DeploymentReport, ReportFile, ReportFormat};
pub use store::audit::AuditEntry;
pub use store::{Inspection, SCHEMA_VERSION, StoreInfo, inspect};

/// The library version, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of the SQLite compiled into the library.
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}
