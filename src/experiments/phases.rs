//! Phases: the stretches of time in which a test admits new units under one
//! split. A change of the split while the test runs, or a pause and a
//! resume, starts a new phase; a unit belongs to the phase of its first
//! exposure. Each phase is checked against its own split (the sample-ratio
//! check, as GrowthBook does), and the estimates use the phases the caller
//! selects: by default the latest one with enough units.

use serde::{Deserialize, Serialize};

use super::model::{ExperimentDefinition, ExperimentStatus};

/// How a phase shares its new units out: what an assignment depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// The hash seed of the assignment.
    pub seed: String,
    /// Percent of units that enter at all.
    pub coverage: f64,
    /// Each variant's share of the units that enter, in percent.
    pub variants: Vec<Share>,
}

/// One variant's share of a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub name: String,
    pub traffic_percentage: f64,
}

impl Split {
    /// The split `def` gives new units.
    pub fn of(def: &ExperimentDefinition) -> Split {
        Split {
            seed: def.effective_seed().to_string(),
            coverage: def.coverage,
            variants: def
                .variants
                .iter()
                .map(|v| Share {
                    name: v.name.clone(),
                    traffic_percentage: v.traffic_percentage,
                })
                .collect(),
        }
    }

    /// The share of `variant`, 0 when the split does not name it.
    pub fn share(&self, variant: &str) -> f64 {
        self.variants
            .iter()
            .find(|s| s.name == variant)
            .map_or(0.0, |s| s.traffic_percentage)
    }
}

/// Why a phase began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStart {
    /// The test's first start.
    Start,
    /// A paused test resumed.
    Resume,
    /// A stopped (or otherwise halted) test started again.
    Restart,
    /// The split changed while the test ran.
    SplitChange,
    /// The phase holds what was recorded before phases were (one phase).
    Migrated,
}

impl PhaseStart {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStart::Start => "start",
            PhaseStart::Resume => "resume",
            PhaseStart::Restart => "restart",
            PhaseStart::SplitChange => "split_change",
            PhaseStart::Migrated => "migrated",
        }
    }

    /// The name back from [`PhaseStart::as_str`]; unknown names read as
    /// `Migrated` (a newer library's reason, the least specific one).
    pub fn parse(name: &str) -> PhaseStart {
        match name {
            "start" => PhaseStart::Start,
            "resume" => PhaseStart::Resume,
            "restart" => PhaseStart::Restart,
            "split_change" => PhaseStart::SplitChange,
            _ => PhaseStart::Migrated,
        }
    }
}

/// One phase of a test, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// 1, 2, ... in order.
    pub number: u32,
    pub started_ms: i64,
    /// None while it runs.
    pub ended_ms: Option<i64>,
    pub split: Split,
    pub reason: PhaseStart,
    /// Its units were bucketed under more than one split (recorded before
    /// phases were): no sample-ratio check applies.
    pub mixed: bool,
}

impl Phase {
    /// How long the phase admitted units, in days, up to `now_ms` while it
    /// runs.
    pub fn duration_days(&self, now_ms: i64) -> f64 {
        let end = self.ended_ms.unwrap_or(now_ms);
        end.saturating_sub(self.started_ms).max(0) as f64 / 86_400_000.0
    }
}

/// What a change of a test's definition does to its phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseChange {
    /// Nothing.
    None,
    /// Open a new phase for this reason.
    Open(PhaseStart),
    /// Close the phase that runs.
    Close,
    /// Close the phase that runs and open the next (the split changed).
    Next,
}

/// The change to the phases when a test goes from `before` (None: new)
/// with `open` (the split of the phase that runs, if one does) to `after`.
/// Only a running test admits new units, so only it has an open phase.
pub fn phase_change(
    before: Option<&ExperimentDefinition>,
    open: Option<&Split>,
    any_phase: bool,
    after: &ExperimentDefinition,
) -> PhaseChange {
    let running = after.status == ExperimentStatus::Running;
    match (open, running) {
        (None, true) => PhaseChange::Open(if !any_phase {
            PhaseStart::Start
        } else if before.is_some_and(|b| b.status == ExperimentStatus::Paused) {
            PhaseStart::Resume
        } else {
            PhaseStart::Restart
        }),
        (Some(_), false) => PhaseChange::Close,
        (Some(split), true) if *split != Split::of(after) => PhaseChange::Next,
        _ => PhaseChange::None,
    }
}

/// Which phases the estimates use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PhaseSelection {
    /// The latest phase in which every variant with traffic has at least
    /// the minimum sample size, else the latest phase with exposures (the
    /// default; JSON `"latest"`).
    #[default]
    Latest,
    /// Every phase, pooled (JSON `"all"`).
    All,
    /// These phases, pooled (JSON `[1, 3]`).
    Only(Vec<u32>),
}

impl Serialize for PhaseSelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PhaseSelection::Latest => s.serialize_str("latest"),
            PhaseSelection::All => s.serialize_str("all"),
            PhaseSelection::Only(numbers) => numbers.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for PhaseSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Numbers(Vec<u32>),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "phases: expected \"latest\", \"all\" or a list of phase numbers such as [1, 2]",
            )
        })? {
            Raw::Name(n) if n == "latest" => Ok(PhaseSelection::Latest),
            Raw::Name(n) if n == "all" => Ok(PhaseSelection::All),
            Raw::Name(n) => Err(serde::de::Error::custom(format!(
                "phases: `{n}` is not \"latest\", \"all\" or a list of phase numbers"
            ))),
            Raw::Numbers(v) if v.is_empty() => Err(serde::de::Error::custom(
                "phases: the list of phase numbers is empty",
            )),
            Raw::Numbers(v) => Ok(PhaseSelection::Only(v)),
        }
    }
}

/// A phase with its exposed units, one count per variant of its split.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseData {
    pub phase: Phase,
    /// Exposed units, in the order of `phase.split.variants`.
    pub exposures: Vec<u64>,
}

impl PhaseData {
    /// The exposed units of `variant` in this phase.
    pub fn exposures_of(&self, variant: &str) -> u64 {
        self.phase
            .split
            .variants
            .iter()
            .zip(&self.exposures)
            .find(|(s, _)| s.name == variant)
            .map_or(0, |(_, &n)| n)
    }
}

/// The phases the estimates of `experiment` use, in order, and why, in a
/// sentence: by default the latest phase in which every variant with
/// traffic has `minimum_sample_size` units.
///
/// # Errors
/// The message for a selection naming a phase the test does not have.
pub fn select(
    experiment: &str,
    minimum_sample_size: u64,
    phases: &[PhaseData],
    selection: &PhaseSelection,
) -> Result<(Vec<u32>, String), String> {
    match selection {
        PhaseSelection::All => Ok((
            phases.iter().map(|p| p.phase.number).collect(),
            "every phase, pooled (selected)".into(),
        )),
        PhaseSelection::Only(wanted) => {
            let mut chosen = Vec::new();
            for n in wanted {
                if !phases.iter().any(|p| p.phase.number == *n) {
                    return Err(format!(
                        "phases: experiment `{experiment}` has no phase {n} (phases: {})",
                        if phases.is_empty() {
                            "none yet".to_string()
                        } else {
                            phases
                                .iter()
                                .map(|p| p.phase.number.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ));
                }
                if !chosen.contains(n) {
                    chosen.push(*n);
                }
            }
            chosen.sort_unstable();
            let what = if chosen.len() == 1 {
                format!("phase {} (selected)", chosen[0])
            } else {
                format!(
                    "phases {}, pooled (selected)",
                    chosen
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            Ok((chosen, what))
        }
        PhaseSelection::Latest => {
            let m = minimum_sample_size;
            let enough = |p: &PhaseData| {
                p.phase
                    .split
                    .variants
                    .iter()
                    .zip(&p.exposures)
                    .all(|(share, &n)| share.traffic_percentage <= 0.0 || n >= m)
            };
            if let Some(p) = phases.iter().rev().find(|p| enough(p)) {
                let n = p.phase.number;
                let why = match phases.last() {
                    Some(last) if last.phase.number != n => format!(
                        "phase {n}, the latest with at least {m} units in every variant \
                         (phase {} has fewer)",
                        last.phase.number
                    ),
                    _ => format!("phase {n}, the latest, with at least {m} units in every variant"),
                };
                return Ok((vec![n], why));
            }
            if let Some(p) = phases
                .iter()
                .rev()
                .find(|p| p.exposures.iter().any(|&n| n > 0))
            {
                return Ok((
                    vec![p.phase.number],
                    format!(
                        "phase {}, the latest with exposures (no phase has {m} units in every variant yet)",
                        p.phase.number
                    ),
                ));
            }
            match phases.last() {
                Some(p) => Ok((
                    vec![p.phase.number],
                    format!("phase {}, the latest (no exposures yet)", p.phase.number),
                )),
                None => Ok((Vec::new(), "no phase yet: the test has not started".into())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::model::{TestType, VariantDefinition};

    fn def(status: ExperimentStatus, weights: (f64, f64)) -> ExperimentDefinition {
        ExperimentDefinition {
            id: "t".into(),
            name: "t".into(),
            description: String::new(),
            test_type: TestType::PipeSizing,
            status,
            variants: [("a", weights.0), ("b", weights.1)]
                .iter()
                .map(|(n, w)| VariantDefinition {
                    name: (*n).into(),
                    description: String::new(),
                    traffic_percentage: *w,
                    configuration: Default::default(),
                })
                .collect(),
            control: None,
            metrics: vec![],
            minimum_sample_size: 100,
            minimum_duration_days: 7,
            coverage: 100.0,
            seed: None,
            start_time: None,
            retention_days: None,
        }
    }

    fn phase(number: u32, weights: (f64, f64), exposures: [u64; 2]) -> PhaseData {
        PhaseData {
            phase: Phase {
                number,
                started_ms: 0,
                ended_ms: None,
                split: Split::of(&def(ExperimentStatus::Running, weights)),
                reason: PhaseStart::Start,
                mixed: false,
            },
            exposures: exposures.to_vec(),
        }
    }

    #[test]
    fn what_a_status_or_split_change_does() {
        use ExperimentStatus::*;
        let run = def(Running, (50.0, 50.0));
        let split = Split::of(&run);
        assert_eq!(
            phase_change(None, None, false, &run),
            PhaseChange::Open(PhaseStart::Start)
        );
        assert_eq!(
            phase_change(None, None, false, &def(Draft, (50.0, 50.0))),
            PhaseChange::None
        );
        let paused = def(Paused, (50.0, 50.0));
        assert_eq!(
            phase_change(Some(&run), Some(&split), true, &paused),
            PhaseChange::Close
        );
        assert_eq!(
            phase_change(Some(&paused), None, true, &run),
            PhaseChange::Open(PhaseStart::Resume)
        );
        assert_eq!(
            phase_change(Some(&def(Stopped, (50.0, 50.0))), None, true, &run),
            PhaseChange::Open(PhaseStart::Restart)
        );
        assert_eq!(
            phase_change(Some(&run), Some(&split), true, &def(Running, (70.0, 30.0))),
            PhaseChange::Next
        );
        assert_eq!(
            phase_change(Some(&run), Some(&split), true, &run),
            PhaseChange::None
        );
    }

    #[test]
    fn the_latest_phase_with_enough_units_by_default() {
        let pick = |a: [u64; 2], b: [u64; 2], selection: &PhaseSelection| {
            let phases = [phase(1, (50.0, 50.0), a), phase(2, (70.0, 30.0), b)];
            select("t", 100, &phases, selection)
        };
        let latest = PhaseSelection::Latest;
        let (chosen, why) = pick([150, 160], [90, 40], &latest).unwrap();
        assert_eq!(chosen, [1]);
        assert_eq!(
            why,
            "phase 1, the latest with at least 100 units in every variant (phase 2 has fewer)"
        );
        let (chosen, why) = pick([150, 160], [300, 120], &latest).unwrap();
        assert_eq!(chosen, [2]);
        assert_eq!(
            why,
            "phase 2, the latest, with at least 100 units in every variant"
        );
        let (chosen, why) = pick([10, 10], [3, 0], &latest).unwrap();
        assert_eq!(chosen, [2]);
        assert!(
            why.starts_with("phase 2, the latest with exposures"),
            "{why}"
        );
        let (chosen, _) = pick([0, 0], [0, 0], &PhaseSelection::All).unwrap();
        assert_eq!(chosen, [1, 2]);
        let (chosen, why) = pick([0, 0], [0, 0], &PhaseSelection::Only(vec![2, 1, 2])).unwrap();
        assert_eq!(
            (chosen, why.as_str()),
            (vec![1, 2], "phases 1, 2, pooled (selected)")
        );
        let e = pick([0, 0], [0, 0], &PhaseSelection::Only(vec![3])).unwrap_err();
        assert_eq!(e, "phases: experiment `t` has no phase 3 (phases: 1, 2)");
        // A variant with no traffic in a phase needs no units there.
        let phases = [phase(1, (100.0, 0.0), [120, 0])];
        assert_eq!(select("t", 100, &phases, &latest).unwrap().0, [1]);
        assert!(
            select("t", 100, &phases[..0], &latest)
                .unwrap()
                .0
                .is_empty()
        );
    }

    #[test]
    fn selection_json() {
        let read = |t: &str| serde_json::from_str::<PhaseSelection>(t);
        assert_eq!(read("\"latest\"").unwrap(), PhaseSelection::Latest);
        assert_eq!(read("\"all\"").unwrap(), PhaseSelection::All);
        assert_eq!(read("[2, 3]").unwrap(), PhaseSelection::Only(vec![2, 3]));
        assert!(read("\"first\"").is_err());
        assert!(read("[]").is_err());
        assert_eq!(
            serde_json::to_string(&PhaseSelection::Only(vec![1])).unwrap(),
            "[1]"
        );
    }
}
