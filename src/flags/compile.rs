//! Compiling definitions into an immutable [`FlagSet`]: every string the
//! evaluation needs (seeds, rule descriptions, variant names) is prepared
//! here once, so that evaluating never allocates.

use std::collections::HashMap;

use super::context::{Context, Stickiness};
use super::model::{FlagDefinition, FlagType};
use crate::common::bucket::SeededHash;
use crate::common::percent::hundredths;
use crate::common::time::parse_rfc3339_ms;

/// A pre-resolved flag of one [`FlagSet`] (an index into it). An id is only
/// meaningful for the set that issued it: after a new set is swapped in,
/// resolve names again. A foreign id evaluates to `FLAG_NOT_FOUND` or to
/// another flag, never to undefined behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlagId(pub(crate) u32);

impl FlagId {
    /// The index of the flag in its set (for C handles).
    pub fn index(self) -> u32 {
        self.0
    }

    /// The id of index `i` (from [`FlagId::index`]).
    pub fn from_index(i: u32) -> FlagId {
        FlagId(i)
    }
}

/// A percentage split: `hundredths` of 10,000 buckets are on.
#[derive(Debug)]
pub(crate) struct Split {
    pub seed: SeededHash,
    pub unit: Stickiness,
    pub hundredths: u32,
    /// "25% by user_id"
    pub rule: Box<str>,
    /// "context has no user_id"
    pub missing_rule: Box<str>,
}

#[derive(Debug)]
pub(crate) struct GroupRule {
    pub group: Box<str>,
    /// "include_groups: beta_testers"
    pub rule: Box<str>,
}

#[derive(Debug)]
pub(crate) struct Groups {
    /// Sorted, for binary search.
    pub deny_users: Box<[Box<str>]>,
    pub allow_users: Box<[Box<str>]>,
    pub exclude: Box<[GroupRule]>,
    pub include: Box<[GroupRule]>,
}

#[derive(Debug)]
pub(crate) struct CompiledVariant {
    pub name: Box<str>,
    /// Buckets below this (and at or above the previous variant's) get it.
    pub upper: u32,
    pub enabled: bool,
    pub payload: Option<serde_json::Value>,
    /// "variant treatment (50%)"
    pub rule: Box<str>,
}

#[derive(Debug)]
pub(crate) struct AbTest {
    pub seed: SeededHash,
    pub unit: Stickiness,
    pub variants: Box<[CompiledVariant]>,
    pub missing_rule: Box<str>,
}

#[derive(Debug)]
pub(crate) struct Step {
    pub at_ms: i64,
    pub hundredths: u32,
    /// "schedule step 2026-01-12T00:00:00Z: 25%"
    pub rule: Box<str>,
}

#[derive(Debug)]
pub(crate) struct Window {
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub steps: Box<[Step]>,
    pub seed: SeededHash,
    pub unit: Stickiness,
    pub missing_rule: Box<str>,
}

/// An a_b_test flag whose variants come from an experiment of ab_tests.yml:
/// the handle asks the experiment for the unit's variant, so that a flag
/// check and `cha_experiment_assign` always agree (and the unit is exposed).
#[derive(Debug)]
pub(crate) struct ExperimentLink {
    pub experiment: Box<str>,
    pub unit: Stickiness,
    pub rule: Box<str>,
    pub missing_rule: Box<str>,
}

#[derive(Debug)]
pub(crate) enum Rule {
    Boolean,
    Percentage(Split),
    UserGroup(Groups),
    AbTest(AbTest),
    Experiment(ExperimentLink),
    TimeBased(Window),
}

#[derive(Debug)]
pub(crate) struct Prerequisite {
    pub id: FlagId,
    /// "prerequisite flow_based_calculation is off"
    pub rule: Box<str>,
}

#[derive(Debug)]
pub(crate) struct CompiledFlag {
    pub name: Box<str>,
    pub enabled: bool,
    pub default: bool,
    pub prerequisites: Box<[Prerequisite]>,
    pub rule: Rule,
}

/// An immutable, compiled set of flags: build it once per configuration
/// change, share it (e.g. behind `arc_swap::ArcSwap<FlagSet>`), evaluate it
/// from any number of threads.
#[derive(Debug)]
pub struct FlagSet {
    pub(crate) flags: Box<[CompiledFlag]>,
    definitions: Box<[FlagDefinition]>,
    index: NameIndex,
}

/// Flag names to ids. foldhash instead of the default SipHash: a by-name
/// check hashes the name on every call, and SipHash took longer than the
/// rest of a boolean check. The keys are the configured names, so the
/// flooding that SipHash guards against cannot happen here.
type NameIndex = HashMap<Box<str>, FlagId, foldhash::fast::RandomState>;

impl Default for FlagSet {
    fn default() -> Self {
        FlagSet {
            flags: Box::new([]),
            definitions: Box::new([]),
            index: NameIndex::default(),
        }
    }
}

impl FlagSet {
    /// Compiles definitions that passed validation (`config::compile_flags`
    /// validates and builds). A prerequisite that names no flag of the set
    /// is ignored rather than trusted.
    pub fn build(mut definitions: Vec<FlagDefinition>) -> FlagSet {
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        let index: NameIndex = definitions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.as_str().into(), FlagId(i as u32)))
            .collect();
        let flags = definitions
            .iter()
            .map(|d| compile_flag(d, &index))
            .collect();
        FlagSet {
            flags,
            definitions: definitions.into_boxed_slice(),
            index,
        }
    }

    /// The id of flag `name`, to evaluate it repeatedly without a lookup.
    pub fn lookup(&self, name: &str) -> Option<FlagId> {
        self.index.get(name).copied()
    }

    /// The number of flags.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// The definitions, ordered by name.
    pub fn definitions(&self) -> &[FlagDefinition] {
        &self.definitions
    }

    /// The definition of `id`, if the id belongs to this set.
    pub fn definition(&self, id: FlagId) -> Option<&FlagDefinition> {
        self.definitions.get(id.0 as usize)
    }

    /// The experiment that decides flag `id` for `ctx`, with the unit to
    /// assign: `Some` only for an a_b_test flag linked to an experiment,
    /// whose evaluation passed its kill switch and prerequisites (reason
    /// `SPLIT`). The caller assigns the unit and uses that variant.
    pub fn experiment_unit<'c>(&self, id: FlagId, ctx: &Context<'c>) -> Option<(&str, &'c str)> {
        match &self.flags.get(id.0 as usize)?.rule {
            Rule::Experiment(link) => Some((&link.experiment, ctx.unit(&link.unit)?)),
            _ => None,
        }
    }

    /// The name of `id`, if the id belongs to this set.
    pub fn name(&self, id: FlagId) -> Option<&str> {
        self.flags.get(id.0 as usize).map(|f| &*f.name)
    }
}

fn compile_flag(def: &FlagDefinition, index: &NameIndex) -> CompiledFlag {
    let seed = SeededHash::new(def.effective_seed());
    let unit_name = def.stickiness.as_deref().unwrap_or("user_id");
    let unit = Stickiness::parse(def.stickiness.as_deref());
    let missing_rule: Box<str> = format!("context has no {unit_name}").into();
    let rule = match def.flag_type {
        // A stopped rollout is a fixed split with the flag's own seed and
        // stickiness: exactly the units in at the moment it stopped stay in.
        FlagType::Percentage | FlagType::TimeBased if def.hold.is_some() => {
            let hold = def.hold.as_ref().expect("matched on is_some");
            Rule::Percentage(Split {
                seed,
                unit,
                hundredths: hundredths(hold.percentage),
                rule: format!(
                    "held at {}% by {} ({})",
                    hold.percentage,
                    hold.action.as_str(),
                    hold.reason
                )
                .into(),
                missing_rule,
            })
        }
        FlagType::Boolean => Rule::Boolean,
        FlagType::Percentage => {
            let p = def.percentage.unwrap_or(0.0);
            Rule::Percentage(Split {
                seed,
                unit,
                hundredths: hundredths(p),
                rule: format!("{p}% by {unit_name}").into(),
                missing_rule,
            })
        }
        FlagType::UserGroup => {
            let sorted = |users: &[String]| {
                let mut v: Vec<Box<str>> = users.iter().map(|u| u.as_str().into()).collect();
                v.sort();
                v.into_boxed_slice()
            };
            let rules = |field: &str, groups: &[String]| {
                groups
                    .iter()
                    .map(|g| GroupRule {
                        group: g.as_str().into(),
                        rule: format!("{field}: {g}").into(),
                    })
                    .collect()
            };
            Rule::UserGroup(Groups {
                deny_users: sorted(&def.deny_users),
                allow_users: sorted(&def.allow_users),
                exclude: rules("exclude_groups", &def.exclude_groups),
                include: rules("include_groups", &def.include_groups),
            })
        }
        FlagType::AbTest if def.variants.is_empty() && def.experiment.is_some() => {
            let experiment = def.experiment.as_deref().unwrap_or_default();
            Rule::Experiment(ExperimentLink {
                experiment: experiment.into(),
                unit,
                rule: format!("experiment {experiment} by {unit_name}").into(),
                missing_rule,
            })
        }
        FlagType::AbTest => {
            let mut upper = 0;
            let variants = def
                .variants
                .iter()
                .map(|v| {
                    upper += hundredths(v.weight);
                    CompiledVariant {
                        name: v.name.as_str().into(),
                        upper,
                        enabled: v.enabled,
                        payload: v.payload.clone(),
                        rule: format!("variant {} ({}%) by {unit_name}", v.name, v.weight).into(),
                    }
                })
                .collect();
            Rule::AbTest(AbTest {
                seed,
                unit,
                variants,
                missing_rule,
            })
        }
        FlagType::TimeBased => {
            let ms = |t: &Option<String>| t.as_deref().and_then(|t| parse_rfc3339_ms(t).ok());
            let steps = def
                .schedule
                .iter()
                .filter_map(|s| {
                    Some(Step {
                        at_ms: parse_rfc3339_ms(&s.at).ok()?,
                        hundredths: hundredths(s.percentage),
                        rule: format!("schedule step {}: {}%", s.at, s.percentage).into(),
                    })
                })
                .collect();
            Rule::TimeBased(Window {
                start_ms: ms(&def.start_time),
                end_ms: ms(&def.end_time),
                steps,
                seed,
                unit,
                missing_rule,
            })
        }
    };
    CompiledFlag {
        name: def.name.as_str().into(),
        enabled: def.enabled,
        default: def.default,
        prerequisites: def
            .prerequisites
            .iter()
            .filter_map(|p| {
                Some(Prerequisite {
                    id: *index.get(p.as_str())?,
                    rule: format!("prerequisite {p} is off").into(),
                })
            })
            .collect(),
        rule,
    }
}
