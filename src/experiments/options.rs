//! The choices an analysis takes: the correction across metrics, sequential
//! decisions, the mixture variances of always-valid intervals and the
//! phases the estimates use. The names are the same on every surface: the
//! JSON options of C, Python's keyword arguments and the CLI's flags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::phases::PhaseSelection;

/// The multiple-comparison correction across primary and secondary metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Correction {
    /// Holm–Bonferroni: controls the family-wise error rate (`"holm"`).
    #[default]
    #[serde(rename = "holm")]
    Holm,
    /// Benjamini–Hochberg: controls the false discovery rate (`"bh"`;
    /// `"benjamini_hochberg"` is read too).
    #[serde(rename = "bh", alias = "benjamini_hochberg")]
    BenjaminiHochberg,
    /// No correction: each comparison at its own level (`"none"`).
    #[serde(rename = "none")]
    None,
}

impl Correction {
    /// The name in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Correction::Holm => "holm",
            Correction::BenjaminiHochberg => "bh",
            Correction::None => "none",
        }
    }

    /// The name in sentences.
    pub fn title(self) -> &'static str {
        match self {
            Correction::Holm => "Holm",
            Correction::BenjaminiHochberg => "Benjamini-Hochberg",
            Correction::None => "no correction",
        }
    }
}

/// How to analyse; `Default` is Holm, fixed-horizon, the latest phase with
/// enough units.
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
    /// The phases the estimates use: `"latest"` (the default: the latest
    /// phase with the minimum sample size in every variant), `"all"`, or a
    /// list of phase numbers.
    pub phases: PhaseSelection,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_every_surface_uses() {
        for (c, name) in [
            (Correction::Holm, "holm"),
            (Correction::BenjaminiHochberg, "bh"),
            (Correction::None, "none"),
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), name);
            assert_eq!(c.as_str(), name);
            assert_eq!(
                serde_json::from_value::<Correction>(name.into()).unwrap(),
                c
            );
        }
        assert_eq!(
            serde_json::from_value::<Correction>("benjamini_hochberg".into()).unwrap(),
            Correction::BenjaminiHochberg
        );
        let o: AnalysisOptions =
            serde_json::from_str(r#"{"correction": "none", "phases": [2]}"#).unwrap();
        assert_eq!(o.correction, Correction::None);
        assert_eq!(o.phases, PhaseSelection::Only(vec![2]));
        assert!(
            serde_json::from_str::<AnalysisOptions>(r#"{"correction": "bonferroni"}"#).is_err()
        );
    }
}
