//! The experiment definition: what `ab_tests.yml`, the store and the JSON
//! API hold. Plain data; input is checked by `config::ab_tests`.

use serde::{Deserialize, Serialize};

/// What kind of comparison an experiment is (the seed's test types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestType {
    PipeSizing,
    FlowCalculation,
    NetworkAnalysis,
    CostAnalysis,
    Performance,
    UserExperience,
}

/// Where an experiment is in its life. Only a `running` experiment admits
/// new units; `paused` keeps assigning units already in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    Draft,
    Running,
    Paused,
    Stopped,
    Completed,
}

impl ExperimentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentStatus::Draft => "draft",
            ExperimentStatus::Running => "running",
            ExperimentStatus::Paused => "paused",
            ExperimentStatus::Stopped => "stopped",
            ExperimentStatus::Completed => "completed",
        }
    }
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Share of the experiment's units, in percent; the variants add up to 100.
    pub traffic_percentage: f64,
    /// The payload the caller receives with the variant (the sizing method,
    /// velocity limits, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub configuration: serde_json::Map<String, serde_json::Value>,
}

/// How a metric is used in the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// Decides the experiment.
    Primary,
    /// Informs it (corrected for multiple comparisons with the primaries).
    Secondary,
    /// Must not get significantly worse.
    Guardrail,
}

/// How a unit's several observations of a metric combine into the unit's
/// one value, the unit of analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The mean of the unit's observations.
    Mean,
    /// Their sum.
    Sum,
    /// Their number (the values are ignored).
    Count,
    /// 1 if any observation is non-zero, else 0: the share of units that
    /// converted.
    Proportion,
}

impl Aggregation {
    /// The name in YAML and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Mean => "mean",
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
            Aggregation::Proportion => "proportion",
        }
    }
}

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetDirection {
    Increase,
    Decrease,
}

/// A metric an experiment measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub metric_type: MetricType,
    pub aggregation: Aggregation,
    pub target_direction: TargetDirection,
    /// The smallest relative change worth detecting (0.05 = 5%), for power
    /// and the sample size still needed.
    pub minimum_detectable_effect: f64,
    /// Alpha of the tests and of the (1 − alpha) intervals.
    pub significance_level: f64,
    /// The power the sample-size plan aims at.
    pub power: f64,
    /// The unit of the metric's values, for the business impact ("EUR/m").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// An A/B test as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentDefinition {
    /// The test id, the key under `ab_tests:`.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub test_type: TestType,
    pub status: ExperimentStatus,
    /// The arms; the first is the control unless `control` names another.
    pub variants: Vec<VariantDefinition>,
    /// The variant every other is compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    pub metrics: Vec<MetricDefinition>,
    /// Units each variant needs before a verdict (the seed: 1,000).
    pub minimum_sample_size: u64,
    /// Days the experiment must run before a verdict (the seed: 7).
    pub minimum_duration_days: u32,
    /// Percent of units that enter the experiment at all (default 100).
    pub coverage: f64,
    /// Hash seed of the assignment (the id when absent). Changing it
    /// reshuffles new units only: exposed units keep their variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// When the experiment was first started (RFC 3339), set by
    /// `set_experiment_status`; for people. The minimum-duration rule counts
    /// from the first exposure, which the store records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Days raw observations are kept once folded into the statistics; the
    /// analysis is unaffected. None (the default): kept for export and
    /// re-analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

impl ExperimentDefinition {
    /// The hash seed of the assignment.
    pub fn effective_seed(&self) -> &str {
        self.seed.as_deref().unwrap_or(&self.id)
    }

    /// The index of the control variant.
    pub fn control_index(&self) -> usize {
        self.control
            .as_deref()
            .and_then(|c| self.variants.iter().position(|v| v.name == c))
            .unwrap_or(0)
    }
}
