//! Deterministic, sticky assignment of units to variants, in memory.
//!
//! A unit enters an experiment with seed `s` when
//! `murmur3("{s}:coverage:{unit}") % 10000 < coverage × 100`, and then gets
//! the variant whose cumulative traffic share covers
//! `murmur3("{s}:{unit}") % 10000` (the flag engine's bucketing, see
//! `common::bucket`). The two hashes are independent, so coverage does not
//! skew the split. Once a unit is exposed, its variant is persisted; when
//! the split later changes, exposed units are *pinned* to the variant they
//! had (as GrowthBook's sticky bucketing), and only new units see the new
//! weights.

use std::collections::HashMap;
use std::ffi::CStr;
use std::sync::Arc;

use serde::Serialize;

use super::model::{ExperimentDefinition, ExperimentStatus};
use crate::common::bucket::{BUCKETS, SeededHash};
use crate::common::percent::hundredths;

/// Why a unit has (or has no) variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssignReason {
    /// Bucketed into a variant now.
    Assigned,
    /// Kept the variant it was first exposed to, though the split changed.
    Sticky,
    /// The experiment is draft, stopped or completed: no variant.
    NotRunning,
    /// The experiment is paused: only units already in it keep a variant.
    Paused,
    /// The unit falls outside the experiment's coverage: no variant.
    OutsideCoverage,
}

impl AssignReason {
    /// Why a flag linked to the experiment got no variant, in a few words.
    pub fn flag_rule(self) -> &'static str {
        match self {
            AssignReason::Assigned | AssignReason::Sticky => "experiment variant",
            AssignReason::NotRunning => "experiment not running",
            AssignReason::Paused => "experiment paused: new units get no variant",
            AssignReason::OutsideCoverage => "outside the experiment's coverage",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AssignReason::Assigned => "ASSIGNED",
            AssignReason::Sticky => "STICKY",
            AssignReason::NotRunning => "NOT_RUNNING",
            AssignReason::Paused => "PAUSED",
            AssignReason::OutsideCoverage => "OUTSIDE_COVERAGE",
        }
    }
}

/// The outcome of one assignment: a variant index (into the definition's
/// variants) or none, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub variant: Option<u16>,
    pub reason: AssignReason,
}

/// A variant ready for assignment.
#[derive(Debug)]
pub struct CompiledVariant {
    pub name: Arc<str>,
    /// The same name as a C string, interned by the handle so that pointers
    /// handed to C stay valid until it closes.
    pub c_name: Arc<CStr>,
    /// Exclusive upper bucket of the variant's traffic share.
    upper: u32,
    /// The variant's `configuration`, as the payload of a linked flag.
    pub configuration: serde_json::Value,
}

/// One experiment ready for assignment.
#[derive(Debug)]
pub struct CompiledExperiment {
    pub id: Arc<str>,
    pub status: ExperimentStatus,
    pub variants: Box<[CompiledVariant]>,
    /// The index of the control variant.
    pub control: u16,
    pub metrics: Box<[Arc<str>]>,
    /// The hash state after "{seed}:" and after "{seed}:coverage:", computed
    /// once, so an assignment hashes only the unit.
    split_hash: SeededHash,
    coverage_hash: SeededHash,
    coverage: u32,
    /// Exposed units whose variant must not follow a changed split, and
    /// (while paused) every unit in the experiment.
    pins: HashMap<Box<str>, u16>,
    /// The phase whose split this compiled form assigns by (the latest one):
    /// a unit exposed through it belongs to that phase, even if the split
    /// changes before its exposure is stored.
    pub phase: u32,
}

/// The longest unit id accepted, in bytes.
pub const MAX_UNIT_ID: usize = 1024;

/// The largest magnitude of a recorded value. A unit's total of up to 2⁶³
/// such values, its square and the variances built from it all stay far
/// inside the range of a double, so no aggregate can overflow; epoch
/// nanoseconds (about 1.8e18) and any physical measurement fit.
pub const MAX_MAGNITUDE: f64 = 1e30;

impl CompiledExperiment {
    /// Compiles a validated definition. `intern` gives the handle's shared
    /// C string for a variant name; `pins` maps exposed units to variant names.
    pub fn compile(
        def: &ExperimentDefinition,
        pins: &[(String, String)],
        intern: &mut dyn FnMut(&str) -> Arc<CStr>,
    ) -> CompiledExperiment {
        let mut cumulative = 0.0;
        let last = def.variants.len().saturating_sub(1);
        let variants = def
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                cumulative += v.traffic_percentage;
                // The last variant closes the range exactly, whatever rounding did.
                let upper = if i == last {
                    BUCKETS
                } else {
                    hundredths(cumulative)
                };
                CompiledVariant {
                    name: v.name.as_str().into(),
                    c_name: intern(&v.name),
                    upper,
                    configuration: serde_json::Value::Object(v.configuration.clone()),
                }
            })
            .collect::<Box<[_]>>();
        let pins = pins
            .iter()
            .filter_map(|(unit, variant)| {
                let index = def.variants.iter().position(|v| &v.name == variant)?;
                Some((unit.as_str().into(), index as u16))
            })
            .collect();
        CompiledExperiment {
            id: def.id.as_str().into(),
            status: def.status,
            variants,
            control: def.control_index() as u16,
            metrics: def.metrics.iter().map(|m| m.name.as_str().into()).collect(),
            split_hash: SeededHash::new(def.effective_seed()),
            coverage_hash: SeededHash::new(&format!("{}:coverage", def.effective_seed())),
            coverage: hundredths(def.coverage),
            pins,
            phase: 1,
        }
    }

    /// The variant of `unit`, or none and why. Pure and allocation-free.
    pub fn assign(&self, unit: &str) -> Assignment {
        let none = |reason| Assignment {
            variant: None,
            reason,
        };
        match self.status {
            ExperimentStatus::Running | ExperimentStatus::Paused => {}
            _ => return none(AssignReason::NotRunning),
        }
        if let Some(&variant) = self.pins.get(unit) {
            return Assignment {
                variant: Some(variant),
                reason: AssignReason::Sticky,
            };
        }
        if self.status == ExperimentStatus::Paused {
            return none(AssignReason::Paused);
        }
        if self.coverage < BUCKETS && self.coverage_hash.bucket(unit, BUCKETS) >= self.coverage {
            return none(AssignReason::OutsideCoverage);
        }
        let b = self.split_hash.bucket(unit, BUCKETS);
        let index = self
            .variants
            .iter()
            .position(|v| b < v.upper)
            .unwrap_or(self.variants.len() - 1);
        Assignment {
            variant: Some(index as u16),
            reason: AssignReason::Assigned,
        }
    }

    /// The index of metric `name`.
    pub fn metric(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|m| &**m == name)
    }
}

/// The compiled experiments of one configuration.
#[derive(Debug, Default)]
pub struct ExperimentSet {
    experiments: Box<[CompiledExperiment]>,
    definitions: Box<[ExperimentDefinition]>,
    /// Experiment ids to positions; foldhash, as for the flag-name index.
    index: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
}

impl ExperimentSet {
    /// Compiles validated definitions; `pins` holds, per experiment id, the
    /// exposed units to keep on their variant, and `phases` the number of
    /// its latest phase (1 when absent).
    pub fn build(
        definitions: Vec<ExperimentDefinition>,
        pins: &HashMap<String, Vec<(String, String)>>,
        phases: &HashMap<String, u32>,
        intern: &mut dyn FnMut(&str) -> Arc<CStr>,
    ) -> ExperimentSet {
        let experiments = definitions
            .iter()
            .map(|d| {
                let mut e = CompiledExperiment::compile(
                    d,
                    pins.get(&d.id).map_or(&[], Vec::as_slice),
                    intern,
                );
                e.phase = phases.get(&d.id).copied().unwrap_or(1);
                e
            })
            .collect::<Box<[_]>>();
        let index = definitions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str().into(), i))
            .collect();
        ExperimentSet {
            experiments,
            definitions: definitions.into_boxed_slice(),
            index,
        }
    }

    /// The experiment `id` with its definition.
    pub fn get(&self, id: &str) -> Option<(&CompiledExperiment, &ExperimentDefinition)> {
        let &i = self.index.get(id)?;
        Some((&self.experiments[i], &self.definitions[i]))
    }

    /// Every definition, in stored order.
    pub fn definitions(&self) -> &[ExperimentDefinition] {
        &self.definitions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::model::*;
    use std::ffi::CString;

    pub(crate) fn definition(
        weights: &[f64],
        coverage: f64,
        status: ExperimentStatus,
    ) -> ExperimentDefinition {
        ExperimentDefinition {
            id: "pipe_sizing_comparison".into(),
            name: "Pipe sizing".into(),
            description: String::new(),
            test_type: TestType::PipeSizing,
            status,
            variants: weights
                .iter()
                .enumerate()
                .map(|(i, w)| VariantDefinition {
                    name: format!("v{i}"),
                    description: String::new(),
                    traffic_percentage: *w,
                    configuration: Default::default(),
                })
                .collect(),
            control: None,
            metrics: vec![],
            minimum_sample_size: 1000,
            minimum_duration_days: 7,
            coverage,
            seed: None,
            start_time: None,
            retention_days: None,
        }
    }

    fn intern(name: &str) -> Arc<CStr> {
        CString::new(name).unwrap().into()
    }

    fn compile(def: &ExperimentDefinition, pins: &[(String, String)]) -> CompiledExperiment {
        CompiledExperiment::compile(def, pins, &mut intern)
    }

    #[test]
    fn splits_follow_the_weights() {
        let e = compile(
            &definition(&[50.0, 30.0, 20.0], 100.0, ExperimentStatus::Running),
            &[],
        );
        let mut counts = [0u32; 3];
        for u in 0..100_000 {
            let a = e.assign(&format!("user-{u}"));
            assert_eq!(a.reason, AssignReason::Assigned);
            counts[a.variant.unwrap() as usize] += 1;
        }
        for (count, expected) in counts.iter().zip([50_000.0, 30_000.0, 20_000.0]) {
            assert!((f64::from(*count) - expected).abs() < 1_000.0, "{counts:?}");
        }
    }

    #[test]
    fn assignment_is_deterministic() {
        let def = definition(&[50.0, 50.0], 100.0, ExperimentStatus::Running);
        let (a, b) = (compile(&def, &[]), compile(&def, &[]));
        for u in 0..1000 {
            let unit = format!("u{u}");
            assert_eq!(a.assign(&unit), b.assign(&unit));
        }
        // The bucket is the flag engine's: the variant is fixed by murmur3("seed:unit").
        let unit = "engineer-42";
        let expected =
            if crate::common::bucket::bucket("pipe_sizing_comparison", unit, BUCKETS) < 5000 {
                0
            } else {
                1
            };
        assert_eq!(a.assign(unit).variant, Some(expected));
    }

    #[test]
    fn coverage_admits_its_share_without_skewing_the_split() {
        let e = compile(
            &definition(&[50.0, 50.0], 20.0, ExperimentStatus::Running),
            &[],
        );
        let (mut inside, mut first) = (0u32, 0u32);
        for u in 0..100_000 {
            let a = e.assign(&format!("user-{u}"));
            match a.reason {
                AssignReason::Assigned => {
                    inside += 1;
                    first += u32::from(a.variant == Some(0));
                }
                AssignReason::OutsideCoverage => assert_eq!(a.variant, None),
                other => panic!("{other:?}"),
            }
        }
        assert!((f64::from(inside) - 20_000.0).abs() < 600.0, "{inside}");
        assert!(
            (f64::from(first) / f64::from(inside) - 0.5).abs() < 0.015,
            "{first}/{inside}"
        );
    }

    #[test]
    fn status_gates_new_units_and_pins_keep_old_ones() {
        for status in [
            ExperimentStatus::Draft,
            ExperimentStatus::Stopped,
            ExperimentStatus::Completed,
        ] {
            let e = compile(&definition(&[50.0, 50.0], 100.0, status), &[]);
            assert_eq!(e.assign("u").reason, AssignReason::NotRunning);
        }
        let pins = vec![("old-unit".to_string(), "v1".to_string())];
        let paused = compile(
            &definition(&[50.0, 50.0], 100.0, ExperimentStatus::Paused),
            &pins,
        );
        assert_eq!(
            paused.assign("old-unit"),
            Assignment {
                variant: Some(1),
                reason: AssignReason::Sticky
            }
        );
        assert_eq!(paused.assign("new-unit").reason, AssignReason::Paused);
        // After a reweighting to 100/0 a pinned unit stays in v1.
        let reweighted = compile(
            &definition(&[100.0, 0.0], 100.0, ExperimentStatus::Running),
            &pins,
        );
        assert_eq!(reweighted.assign("old-unit").variant, Some(1));
        assert_eq!(reweighted.assign("new-unit").variant, Some(0));
    }

    #[test]
    fn fractional_weights_close_the_range() {
        let e = compile(
            &definition(&[33.33, 33.33, 33.34], 100.0, ExperimentStatus::Running),
            &[],
        );
        assert_eq!(e.variants.last().unwrap().upper, BUCKETS);
        assert_eq!(e.variants[0].upper, 3333);
    }
}
