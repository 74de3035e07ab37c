//! The choices an analysis takes: the correction across metrics, sequential
//! decisions and the mixture variances of always-valid intervals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The multiple-comparison correction across primary and secondary metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Holm–Bonferroni: controls the family-wise error rate.
    #[default]
    Holm,
    /// Benjamini–Hochberg: controls the false discovery rate.
    BenjaminiHochberg,
}

/// How to analyse; `Default` is Holm, fixed-horizon.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisOptions {
    /// The correction across primary and secondary comparisons.
    pub correction: Correction,
    /// Add always-valid intervals and decide on them (see the module docs).
    pub sequential: bool,
    /// τ² of the always-valid mixture per metric name, in squared metric
    /// units of the difference. A metric not named here uses
    /// `(minimum_detectable_effect × |control mean|)²`.
    pub mixture_variance: BTreeMap<String, f64>,
}
