//! Compiling definitions into an immutable [`FlagSet`]: every string the
//! evaluation needs (seeds, rule descriptions, variant names) is prepared
//! here once, so that evaluating never allocates.

use std::collections::HashMap;
use std::sync::Arc;

use super::context::{Context, Stickiness, Unit};
use super::model::{FlagDefinition, FlagType};
use super::rules::{CompiledConstraint, CompiledRule, CompiledSegment, Rollout, VariantSet};
use super::targeting::Segment;
use crate::common::bucket::SeededHash;
use crate::common::percent::hundredths;
use crate::common::text::same;
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
    /// Whether the parent must be on (true) or off.
    pub enabled: bool,
    /// When not empty: the parent's variant must be one of these.
    pub variants: Box<[Box<str>]>,
    /// "prerequisite flow_based_calculation is off"
    pub rule: Box<str>,
}

#[derive(Debug)]
pub(crate) struct CompiledFlag {
    pub name: Box<str>,
    pub enabled: bool,
    pub default: bool,
    pub prerequisites: Box<[Prerequisite]>,
    /// The targeting rules, in order (switched-off rules left out).
    pub rules: Box<[CompiledRule]>,
    /// A boolean flag with rules: when none matches, its `default`.
    pub rules_only: bool,
    /// The flag's type's own rule: what decides when no rule matched.
    pub rule: Rule,
    /// The variants of a flag that is no a_b_test: what a unit it is on
    /// for gets, when the rule that decided has none.
    pub variants: Option<VariantSet>,
    /// The flag as it is in some environments, by name.
    pub environments: Box<[(Box<str>, CompiledFlag)]>,
    /// No environments, prerequisites, rules or variants: its type alone
    /// decides (the short way of a check).
    pub plain: bool,
}

impl CompiledFlag {
    /// The flag as it is in the context's environment.
    #[inline]
    pub(crate) fn in_environment(&self, environment: Option<&str>) -> &CompiledFlag {
        if self.environments.is_empty() {
            return self;
        }
        environment
            .and_then(|e| self.environments.iter().find(|(name, _)| &**name == e))
            .map_or(self, |(_, flag)| flag)
    }
}

/// An immutable, compiled set of flags: build it once per configuration
/// change, share it (e.g. behind `arc_swap::ArcSwap<FlagSet>`), evaluate it
/// from any number of threads.
#[derive(Debug)]
pub struct FlagSet {
    pub(crate) flags: Box<[CompiledFlag]>,
    definitions: Box<[FlagDefinition]>,
    index: NameIndex,
    segments: Box<[Segment]>,
    /// The machine's name, for `hostname` constraints.
    pub(crate) host: Option<Box<str>>,
    /// Every variant name a flag can give, by id.
    variant_names: Box<[Box<[Arc<str>]>]>,
}

/// Flag names to ids. foldhash instead of the default SipHash: a by-name
/// check hashes the name on every call, and SipHash took longer than the
/// rest of a boolean check. The keys are the configured names, so the
/// flooding that SipHash guards against cannot happen here. hashbrown's
/// map, so that a name is compared with [`same`] (inline) rather than
/// with a call of `memcmp`.
type NameIndex = hashbrown::HashMap<Name, FlagId, foldhash::fast::RandomState>;

/// A flag name in the index: hashed by its bytes alone (one round of the
/// hasher; `str`'s own `Hash` adds a second for a terminator byte, which
/// keys of one type do not need), compared inline.
#[derive(Debug, PartialEq, Eq)]
struct Name(Box<str>);

impl std::hash::Hash for Name {
    #[inline(always)]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

/// A flag name asked for: hashed and compared as a [`Name`].
struct Asked<'a>(&'a str);

impl std::hash::Hash for Asked<'_> {
    #[inline(always)]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

impl hashbrown::Equivalent<Name> for Asked<'_> {
    #[inline(always)]
    fn equivalent(&self, key: &Name) -> bool {
        same(self.0, &key.0)
    }
}

impl Default for FlagSet {
    fn default() -> Self {
        FlagSet {
            flags: Box::new([]),
            definitions: Box::new([]),
            index: NameIndex::default(),
            segments: Box::new([]),
            host: None,
            variant_names: Box::new([]),
        }
    }
}

impl FlagSet {
    /// Compiles definitions that passed validation (`config::compile_flags`
    /// validates and builds), without segments.
    pub fn build(definitions: Vec<FlagDefinition>) -> FlagSet {
        FlagSet::build_with(definitions, Vec::new(), None)
    }

    /// Compiles definitions and the segments their rules name, that passed
    /// validation together (`config::compile_flag_set`). `host` is the
    /// machine's name, which `hostname` constraints compare (when the
    /// context has no `hostname` property). A prerequisite that names no
    /// flag of the set is ignored rather than trusted; a rule that names
    /// no segment of the set, or whose constraint does not compile, never
    /// matches.
    pub fn build_with(
        mut definitions: Vec<FlagDefinition>,
        mut segments: Vec<Segment>,
        host: Option<&str>,
    ) -> FlagSet {
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        segments.sort_by(|a, b| a.name.cmp(&b.name));
        let index: NameIndex = definitions
            .iter()
            .enumerate()
            .map(|(i, d)| (Name(d.name.as_str().into()), FlagId(i as u32)))
            .collect();
        let compiled_segments: HashMap<&str, Option<Arc<CompiledSegment>>> = segments
            .iter()
            .map(|s| {
                let constraints: Option<Box<[CompiledConstraint]>> = s
                    .constraints
                    .iter()
                    .map(|c| CompiledConstraint::compile(c).ok())
                    .collect();
                (
                    s.name.as_str(),
                    constraints.map(|constraints| Arc::new(CompiledSegment { constraints })),
                )
            })
            .collect();
        let flags: Box<[CompiledFlag]> = definitions
            .iter()
            .map(|d| compile_flag(d, &index, &compiled_segments))
            .collect();
        let variant_names = flags.iter().map(variant_names).collect();
        FlagSet {
            flags,
            definitions: definitions.into_boxed_slice(),
            index,
            segments: segments.into_boxed_slice(),
            host: host.map(Into::into),
            variant_names,
        }
    }

    /// The id of flag `name`, to evaluate it repeatedly without a lookup.
    #[inline]
    pub fn lookup(&self, name: &str) -> Option<FlagId> {
        self.index.get(&Asked(name)).copied()
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

    /// The segments, ordered by name.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Every variant name flag `id` can give (its own, its rules' and its
    /// environments'), without repeats; empty for an unknown id.
    #[inline]
    pub fn variant_names(&self, id: FlagId) -> &[Arc<str>] {
        self.variant_names.get(id.0 as usize).map_or(&[], |v| v)
    }

    /// The shared name of variant `name` of flag `id` (one of
    /// [`FlagSet::variant_names`]): a result that keeps it clones an `Arc`
    /// instead of allocating.
    #[inline]
    pub fn variant_name(&self, id: FlagId, name: &str) -> Option<&Arc<str>> {
        self.variant_names(id).iter().find(|n| same(n, name))
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
            Rule::Experiment(link) => match ctx.unit(&link.unit)? {
                Unit::Key(unit) => Some((&link.experiment, unit)),
                Unit::Random => None,
            },
            _ => None,
        }
    }

    /// The name of `id`, if the id belongs to this set.
    pub fn name(&self, id: FlagId) -> Option<&str> {
        self.flags.get(id.0 as usize).map(|f| &*f.name)
    }
}

type SegmentIndex<'s> = HashMap<&'s str, Option<Arc<CompiledSegment>>>;

fn compile_flag(
    def: &FlagDefinition,
    index: &NameIndex,
    segments: &SegmentIndex<'_>,
) -> CompiledFlag {
    let mut flag = compile_one(def, index, segments, "");
    flag.environments = def
        .environments
        .iter()
        .map(|(name, o)| {
            let mut there = def.clone();
            there.environments.clear();
            there.enabled = o.enabled.unwrap_or(def.enabled);
            there.default = o.default.unwrap_or(def.default);
            if o.percentage.is_some() {
                there.percentage = o.percentage;
            }
            if let Some(rules) = &o.rules {
                there.rules.clone_from(rules);
            }
            if let Some(variants) = &o.variants {
                there.variants.clone_from(variants);
            }
            let prefix = format!("environments.{name}.");
            (
                name.as_str().into(),
                compile_one(&there, index, segments, &prefix),
            )
        })
        .collect();
    flag.plain = flag.environments.is_empty()
        && flag.prerequisites.is_empty()
        && flag.rules.is_empty()
        && !flag.rules_only
        && flag.variants.is_none();
    flag
}

/// The flag's variant names, each once.
fn variant_names(flag: &CompiledFlag) -> Box<[Arc<str>]> {
    let mut names: Vec<Arc<str>> = Vec::new();
    let mut add = |name: &str| {
        if !names.iter().any(|n| &**n == name) {
            names.push(name.into());
        }
    };
    let mut visit = |f: &CompiledFlag| {
        if let Rule::AbTest(test) = &f.rule {
            test.variants.iter().for_each(|v| add(&v.name));
        }
        if let Some(set) = &f.variants {
            set.names().for_each(&mut add);
        }
        for rule in &f.rules {
            if let Some(set) = &rule.variants {
                set.names().for_each(&mut add);
            }
        }
    };
    visit(flag);
    for (_, there) in &flag.environments {
        visit(there);
    }
    names.into()
}

/// Compiles `def` as it is (its environments aside); `prefix` names where
/// its rules come from in reasons (`environments.production.`).
fn compile_one(
    def: &FlagDefinition,
    index: &NameIndex,
    segments: &SegmentIndex<'_>,
    prefix: &str,
) -> CompiledFlag {
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
    let variants = (def.flag_type != FlagType::AbTest && !def.variants.is_empty()).then(|| {
        VariantSet::new(
            &def.variants,
            def.effective_seed(),
            def.stickiness.as_deref(),
            format!("context has no {unit_name} for the variants").into(),
        )
    });
    let rules = def
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.enabled)
        .filter_map(|(i, r)| {
            let rule_name = match &r.name {
                Some(name) => format!("{prefix}rule {name}"),
                None => format!("{prefix}rules[{i}]"),
            };
            let constraints: Box<[CompiledConstraint]> = r
                .constraints
                .iter()
                .map(|c| CompiledConstraint::compile(c).ok())
                .collect::<Option<_>>()?;
            let named: Box<[Arc<CompiledSegment>]> = r
                .segments
                .iter()
                .map(|s| segments.get(s.as_str()).cloned().flatten())
                .collect::<Option<_>>()?;
            // A rule's rollout and variants follow the flag's seed and
            // stickiness unless it names its own.
            let seed = r.seed.as_deref().unwrap_or(def.effective_seed());
            let stickiness = r.stickiness.as_deref().or(def.stickiness.as_deref());
            let unit = stickiness.unwrap_or("user_id");
            Some(CompiledRule {
                constraints,
                segments: named,
                rollout: r
                    .percentage
                    .map(|p| Rollout::new(seed, stickiness, hundredths(p))),
                serve: r.serve,
                variants: (!r.variants.is_empty()).then(|| {
                    VariantSet::new(
                        &r.variants,
                        seed,
                        stickiness,
                        format!("context has no {unit} for the variants of {rule_name}").into(),
                    )
                }),
                rule: rule_name.into(),
            })
        })
        .collect();
    CompiledFlag {
        plain: false,
        name: def.name.as_str().into(),
        enabled: def.enabled,
        default: def.default,
        prerequisites: def
            .prerequisites
            .iter()
            .filter_map(|p| {
                let rule = match (p.enabled, p.variants.is_empty()) {
                    (true, true) => format!("prerequisite {} is off", p.flag),
                    (false, _) => format!("prerequisite {} is on", p.flag),
                    (true, false) => format!(
                        "prerequisite {} is not on with variant {}",
                        p.flag,
                        p.variants.join(" or ")
                    ),
                };
                Some(Prerequisite {
                    id: *index.get(&Asked(&p.flag))?,
                    enabled: p.enabled,
                    variants: p.variants.iter().map(|v| v.as_str().into()).collect(),
                    rule: rule.into(),
                })
            })
            .collect(),
        rules_only: def.flag_type == FlagType::Boolean && !def.rules.is_empty(),
        rules,
        rule,
        variants,
        environments: Box::new([]),
    }
}
