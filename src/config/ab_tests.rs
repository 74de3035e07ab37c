//! `ab_tests.yml`: the A/B tests of the pipe-sizing rollout (the seed's
//! section 2), read into [`ExperimentDefinition`]s with every problem
//! reported at once.
//!
//! # Shape
//!
//! ```yaml
//! version: 1                       # optional; a file without it is version 1
//! ab_tests:
//!   pipe_sizing_comparison:        # the test id
//!     name: Pipe Sizing Method Comparison
//!     description: ...             # optional
//!     test_type: pipe_sizing       # pipe_sizing | flow_calculation | network_analysis
//!                                  # | cost_analysis | performance | user_experience
//!     status: running              # draft | running | paused | stopped | completed
//!     variants:                    # at least 2
//!       - name: traditional
//!         description: ...         # optional
//!         traffic_percentage: 50   # (0, 100]; the variants add up to 100
//!         configuration: {...}     # optional mapping, handed to the caller as JSON
//!     control: traditional         # optional; the first variant when absent
//!     metrics:                     # at least 1, at least 1 of them primary
//!       - name: pipe_cost_efficiency
//!         description: ...         # optional
//!         metric_type: primary     # primary | secondary | guardrail
//!         aggregation: mean        # mean | sum | count | proportion
//!         target_direction: increase   # increase | decrease
//!         minimum_detectable_effect: 0.05
//!         significance_level: 0.05
//!         power: 0.8
//!         unit: kW/kEUR            # optional
//!     minimum_sample_size: 1000
//!     minimum_duration_days: 7
//!     coverage: 100
//!     seed: ...                    # optional
//!     start_time: 2026-11-02T08:00:00Z   # optional, RFC 3339
//!     retention_days: 365          # optional: raw observations kept this long
//! ```
//!
//! # Defaults
//!
//! | field | when absent |
//! |---|---|
//! | `version` | 1 (the seed's files have none) |
//! | `description` (test, variant, metric) | empty |
//! | `configuration` | an empty object |
//! | `control` | the first variant |
//! | `minimum_detectable_effect` | required for a primary metric; 0.05 (5%) for secondary and guardrail metrics |
//! | `significance_level` | 0.05 |
//! | `power` | 0.8 |
//! | `unit` | none |
//! | `minimum_sample_size` | 1000 units per variant |
//! | `minimum_duration_days` | 7 |
//! | `coverage` | 100 (every unit enters) |
//! | `seed` | the test id |
//! | `start_time` | none |
//! | `retention_days` | none: raw observations are kept for export and re-analysis |
//!
//! Every other field is required.
//!
//! # Rules
//!
//! Test ids, variant names and metric names follow the flag-name rule
//! ([`check_flag_name`]): 1–128 characters of `A–Z a–z 0–9 _ . -`. Each
//! `traffic_percentage` is in (0, 100] and together they make 100 (within
//! 1e-9); variant and metric names are unique; `control` names a variant;
//! `significance_level` is in (0, 0.5], `power` in (0, 1),
//! `minimum_detectable_effect` finite and > 0, `coverage` in (0, 100],
//! `minimum_sample_size` ≥ 2. `configuration` keeps YAML scalar types
//! (`100` stays an integer, `2.0` a float, `false` a boolean).
//!
//! [`validate_experiment`] applies the same rules to a definition built in
//! code or from JSON.

use crate::common::limits::{MAX_DESCRIPTION_BYTES, check_bytes, excerpt};
use std::path::Path;

use super::reader::{Fields, join};
use super::{ConfigError, Issues, Node, Value, parse_yaml};
use crate::common::names::check_flag_name;
use crate::common::time::parse_rfc3339_ms;
use crate::experiments::{
    Aggregation, ExperimentDefinition, ExperimentStatus, MetricDefinition, MetricType,
    TargetDirection, TestType, VariantDefinition,
};

/// The version of `ab_tests.yml` this library reads and writes.
pub const CURRENT_VERSION: i64 = 1;

/// `significance_level` of a metric that does not set one.
pub const DEFAULT_SIGNIFICANCE_LEVEL: f64 = 0.05;
/// `power` of a metric that does not set one.
pub const DEFAULT_POWER: f64 = 0.8;
/// `minimum_detectable_effect` of a secondary or guardrail metric that does
/// not set one (a primary metric must).
pub const DEFAULT_MINIMUM_DETECTABLE_EFFECT: f64 = 0.05;
/// `minimum_sample_size` (units per variant) when absent: the seed's 1,000 users.
pub const DEFAULT_MINIMUM_SAMPLE_SIZE: u64 = 1000;
/// `minimum_duration_days` when absent: the seed's 7 days.
pub const DEFAULT_MINIMUM_DURATION_DAYS: u32 = 7;
/// `coverage` (percent of units) when absent.
pub const DEFAULT_COVERAGE: f64 = 100.0;

/// A loaded, validated `ab_tests.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct AbTestsConfig {
    /// The version the file was written in (1; a file without `version` is 1).
    pub source_version: i64,
    /// The tests, in file order.
    pub experiments: Vec<ExperimentDefinition>,
}

impl AbTestsConfig {
    /// The test with id `id`.
    pub fn experiment(&self, id: &str) -> Option<&ExperimentDefinition> {
        self.experiments.iter().find(|e| e.id == id)
    }
}

// The YAML names of the model's enums. A unit test checks them against serde.
const TEST_TYPES: [(&str, TestType); 6] = [
    ("pipe_sizing", TestType::PipeSizing),
    ("flow_calculation", TestType::FlowCalculation),
    ("network_analysis", TestType::NetworkAnalysis),
    ("cost_analysis", TestType::CostAnalysis),
    ("performance", TestType::Performance),
    ("user_experience", TestType::UserExperience),
];
const STATUSES: [(&str, ExperimentStatus); 5] = [
    ("draft", ExperimentStatus::Draft),
    ("running", ExperimentStatus::Running),
    ("paused", ExperimentStatus::Paused),
    ("stopped", ExperimentStatus::Stopped),
    ("completed", ExperimentStatus::Completed),
];
const METRIC_TYPES: [(&str, MetricType); 3] = [
    ("primary", MetricType::Primary),
    ("secondary", MetricType::Secondary),
    ("guardrail", MetricType::Guardrail),
];
const AGGREGATIONS: [(&str, Aggregation); 4] = [
    ("mean", Aggregation::Mean),
    ("sum", Aggregation::Sum),
    ("count", Aggregation::Count),
    ("proportion", Aggregation::Proportion),
];
const DIRECTIONS: [(&str, TargetDirection); 2] = [
    ("increase", TargetDirection::Increase),
    ("decrease", TargetDirection::Decrease),
];

/// How far the traffic percentages may add up from 100 (rounding of e.g. 33.33 + 33.33 + 33.34).
const TRAFFIC_TOLERANCE: f64 = 1e-9;

const MDE_HINT: &str = "the smallest relative change worth acting on, e.g. 0.05 for 5%; \
                        halving it needs about four times the units";

/// Reads and validates the A/B-test file at `path`.
///
/// # Errors
/// Every problem at once: unreadable file, invalid YAML, unknown version,
/// invalid fields.
pub fn load_ab_tests(path: &Path) -> Result<AbTestsConfig, ConfigError> {
    super::load_file(path, parse_ab_tests)
}

/// Parses and validates A/B-test YAML `text`; `file` names it in messages.
///
/// # Errors
/// As [`load_ab_tests`].
pub fn parse_ab_tests(text: &str, file: &str) -> Result<AbTestsConfig, ConfigError> {
    let root = parse_yaml(text, file)?;
    let mut issues = Issues::new(file);
    if root.entries().is_none() {
        let message = if root.value == Value::Null {
            "the file is empty".to_owned()
        } else {
            format!("expected a mapping with `ab_tests`, found {}", root.kind())
        };
        issues.push(
            root.loc,
            "",
            message,
            Some("start with `ab_tests:` and one entry per test".into()),
        );
        return Err(issues.finish(()).unwrap_err());
    }
    let Some(mut top) = Fields::new(&root, "", &mut issues) else {
        return Err(issues.finish(()).unwrap_err());
    };
    let version = read_version(top.node("version"), &mut issues);
    let tests = top.node("ab_tests");
    top.finish(&mut issues);
    let Some(version) = version else {
        return Err(issues.finish(()).unwrap_err());
    };
    let mut experiments = Vec::new();
    match tests.map(|t| (t, t.entries())) {
        None => issues.push(
            root.loc,
            "ab_tests",
            "missing `ab_tests`",
            Some("add `ab_tests:` with one entry per test".into()),
        ),
        Some((_, Some(entries))) => {
            for (key, node) in entries {
                let node = node.located_at(key);
                let path = join("ab_tests", &key.name);
                if let Some(def) = read_experiment(&key.name, &node, &path, &mut issues) {
                    experiments.push(def);
                }
            }
        }
        Some((node, None)) => issues.push(
            node.loc,
            "ab_tests",
            format!(
                "expected a mapping of test id to fields, found {}",
                node.kind()
            ),
            None,
        ),
    }
    issues.finish(AbTestsConfig {
        source_version: version,
        experiments,
    })
}

/// The version of the file: absent (or null) is 1.
fn read_version(node: Option<&Node>, issues: &mut Issues) -> Option<i64> {
    let Some(node) = node else {
        return Some(CURRENT_VERSION);
    };
    match node.value {
        Value::Int(CURRENT_VERSION) => Some(CURRENT_VERSION),
        Value::Int(v) if v > CURRENT_VERSION => {
            issues.push(
                node.loc,
                "version",
                format!(
                    "version {v} is newer than this cha-deploy, which reads ab_tests.yml version {CURRENT_VERSION}"
                ),
                Some("upgrade cha-deploy".into()),
            );
            None
        }
        _ => {
            issues.push(
                node.loc,
                "version",
                format!("unknown version {}", node.to_json()),
                Some(format!("use `version: {CURRENT_VERSION}`, or leave it out")),
            );
            None
        }
    }
}

/// Reads and checks the test `id` from `node` (its fields, at `path`, e.g.
/// `ab_tests.pipe_sizing_comparison`), recording every problem in `issues`.
/// The same reader serves JSON through [`Node::from_json`]. Returns `None`
/// only when `node` is not a mapping; a definition returned while `issues`
/// holds problems may contain placeholders.
pub fn read_experiment(
    id: &str,
    node: &Node,
    path: &str,
    issues: &mut Issues,
) -> Option<ExperimentDefinition> {
    let Some(mut f) = Fields::new(node, path, issues) else {
        if let Err(m) = check_name("test id", id) {
            issues.push(node.loc, path, m, None);
        }
        return None;
    };
    // Fields whose problem is already reported, so that the value checks
    // do not report their placeholders again.
    let mut unreadable = Vec::new();
    // JSON carries the id in the definition; YAML has it as the key only.
    if let Some(given) = f.str("id", issues)
        && given != id
    {
        issues.push(
            node.get("id").and_then(|n| n.loc),
            &f.path_of("id"),
            format!(
                "`{}` differs from the test's id `{}`",
                excerpt(given),
                excerpt(id)
            ),
            Some("a test's id is its key under `ab_tests`".into()),
        );
    }
    let name = read_str(&mut f, node, "name", "name", &mut unreadable, issues);
    let description = f.str("description", issues).unwrap_or_default().to_owned();
    if let Err(m) = check_bytes("description", &description, MAX_DESCRIPTION_BYTES) {
        issues.push(
            node.get("description").and_then(|n| n.loc),
            &f.path_of("description"),
            m,
            Some("link to a document instead".into()),
        );
    }
    let test_type = read_choice(&mut f, node, "test_type", &TEST_TYPES, issues);
    let status = read_choice(&mut f, node, "status", &STATUSES, issues);
    let variants = match f.list("variants", issues) {
        Some(items) => read_variants(items, &f.path_of("variants"), &mut unreadable, issues),
        None => {
            if !absent(node, "variants") {
                unreadable.push("variants".to_owned());
            }
            Vec::new()
        }
    };
    let control = f.str("control", issues).map(str::to_owned);
    let metrics = match f.list("metrics", issues) {
        Some(items) => read_metrics(items, &f.path_of("metrics"), &mut unreadable, issues),
        None => {
            if !absent(node, "metrics") {
                unreadable.push("metrics".to_owned());
            }
            Vec::new()
        }
    };
    let minimum_sample_size = f
        .unsigned("minimum_sample_size", issues)
        .map_or(DEFAULT_MINIMUM_SAMPLE_SIZE, u64::from);
    let minimum_duration_days = f
        .unsigned("minimum_duration_days", issues)
        .unwrap_or(DEFAULT_MINIMUM_DURATION_DAYS);
    let coverage = f.number("coverage", issues).unwrap_or(DEFAULT_COVERAGE);
    let seed = f.str("seed", issues).map(str::to_owned);
    let start_time = f.str("start_time", issues).map(str::to_owned);
    let retention_days = f.unsigned("retention_days", issues);
    f.finish(issues);
    let def = ExperimentDefinition {
        id: id.to_owned(),
        name: name.to_owned(),
        description,
        test_type: test_type.unwrap_or(TestType::PipeSizing),
        status: status.unwrap_or(ExperimentStatus::Draft),
        variants,
        control,
        metrics,
        minimum_sample_size,
        minimum_duration_days,
        coverage,
        seed,
        start_time,
        retention_days,
    };
    check_experiment(&def, node, path, &unreadable, issues);
    Some(def)
}

/// Checks a definition built in code or from JSON (a change made through
/// the API) by the rules of `ab_tests.yml`.
///
/// # Errors
/// `Config` listing every problem with its field path, e.g.
/// `ab_tests.pipe_sizing_comparison.variants[1].traffic_percentage: …`.
pub fn validate_experiment(def: &ExperimentDefinition) -> crate::Result<()> {
    let mut issues = Issues::new("");
    let path = join("ab_tests", &def.id);
    check_experiment(def, &Node::new(Value::Null), &path, &[], &mut issues);
    issues.finish(()).map_err(crate::Error::from)
}

/// The value and set rules, on a definition read from `node` (only used to
/// locate problems). Fields listed in `unreadable` were reported by the
/// reader and hold placeholders.
fn check_experiment(
    def: &ExperimentDefinition,
    node: &Node,
    path: &str,
    unreadable: &[String],
    issues: &mut Issues,
) {
    let readable = |key: &str| !unreadable.iter().any(|k| k == key);
    let push = |issues: &mut Issues, key: &str, message: String, hint: Option<String>| {
        issues.push(node.locate(key), &join(path, key), message, hint);
    };
    if let Err(m) = check_name("test id", &def.id) {
        issues.push(node.loc, path, m, None);
    }
    if def.name.is_empty() && readable("name") {
        push(
            issues,
            "name",
            "missing `name`".into(),
            Some("a title for reports, e.g. `Pipe Sizing Method Comparison`".into()),
        );
    }

    if def.variants.len() < 2 && readable("variants") {
        push(
            issues,
            "variants",
            format!(
                "an A/B test needs at least 2 variants, found {}",
                def.variants.len()
            ),
            Some("a control and at least one treatment".into()),
        );
    }
    let mut traffic_ok = true;
    for (i, v) in def.variants.iter().enumerate() {
        let key = format!("variants[{i}]");
        let names = def.variants[..i].iter().map(|w| w.name.as_str());
        check_item_name(
            "variant",
            &v.name,
            names,
            &format!("{key}.name"),
            &readable,
            &push,
            issues,
        );
        let traffic_key = format!("{key}.traffic_percentage");
        if !readable(&traffic_key) {
            traffic_ok = false;
        } else if !(v.traffic_percentage > 0.0 && v.traffic_percentage <= 100.0) {
            traffic_ok = false;
            push(
                issues,
                &traffic_key,
                format!(
                    "must be greater than 0 and at most 100, not {}",
                    v.traffic_percentage
                ),
                Some("a variant's share of the test's units, in percent".into()),
            );
        }
    }
    let total: f64 = def.variants.iter().map(|v| v.traffic_percentage).sum();
    if traffic_ok && !def.variants.is_empty() && (total - 100.0).abs() > TRAFFIC_TOLERANCE {
        push(
            issues,
            "variants",
            format!("variants' traffic_percentage add up to {total}, not 100"),
            Some("they split the test's units; use `coverage` to let only some units in".into()),
        );
    }
    if let Some(control) = &def.control
        && !def.variants.iter().any(|v| &v.name == control)
    {
        let names: Vec<&str> = def.variants.iter().map(|v| v.name.as_str()).collect();
        push(
            issues,
            "control",
            format!("`{control}` is not a variant of this test"),
            Some(format!("one of {}", names.join(", "))),
        );
    }

    if !readable("metrics") {
        // Reported by the reader: `metrics` is not a list.
    } else if def.metrics.is_empty() {
        push(
            issues,
            "metrics",
            "an A/B test needs at least 1 metric".into(),
            Some("add the primary metric that decides the test".into()),
        );
    } else if !def.metrics.iter().enumerate().any(|(i, m)| {
        m.metric_type == MetricType::Primary || !readable(&format!("metrics[{i}].metric_type"))
    }) {
        push(
            issues,
            "metrics",
            "an A/B test needs a primary metric".into(),
            Some("set `metric_type: primary` on the metric that decides the test".into()),
        );
    }
    for (i, m) in def.metrics.iter().enumerate() {
        let key = format!("metrics[{i}]");
        let names = def.metrics[..i].iter().map(|n| n.name.as_str());
        check_item_name(
            "metric",
            &m.name,
            names,
            &format!("{key}.name"),
            &readable,
            &push,
            issues,
        );
        let alpha = m.significance_level;
        if !(alpha > 0.0 && alpha <= 0.5) {
            push(
                issues,
                &format!("{key}.significance_level"),
                format!("must be greater than 0 and at most 0.5, not {alpha}"),
                Some("0.05 is usual (95% confidence)".into()),
            );
        }
        if !(m.power > 0.0 && m.power < 1.0) {
            push(
                issues,
                &format!("{key}.power"),
                format!("must be between 0 and 1 (both excluded), not {}", m.power),
                Some("0.8 is usual".into()),
            );
        }
        let mde_key = format!("{key}.minimum_detectable_effect");
        let mde = m.minimum_detectable_effect;
        if readable(&mde_key) && !(mde > 0.0 && mde.is_finite()) {
            push(
                issues,
                &mde_key,
                format!("must be a finite number greater than 0, not {mde}"),
                Some(MDE_HINT.into()),
            );
        }
    }

    if def.minimum_sample_size < 2 {
        push(
            issues,
            "minimum_sample_size",
            format!("must be at least 2, not {}", def.minimum_sample_size),
            Some("units per variant before a verdict; the seed uses 1000".into()),
        );
    }
    if !(def.coverage > 0.0 && def.coverage <= 100.0) {
        push(
            issues,
            "coverage",
            format!(
                "must be greater than 0 and at most 100, not {}",
                def.coverage
            ),
            Some("the percent of units that enter the test; 100 for all".into()),
        );
    }
    if def.seed.as_deref() == Some("") {
        push(
            issues,
            "seed",
            "the seed is empty".into(),
            Some("leave `seed` out to use the test id".into()),
        );
    }
    if let Some(start) = &def.start_time
        && let Err(m) = parse_rfc3339_ms(start)
    {
        push(issues, "start_time", m, None);
    }
    if def.retention_days == Some(0) {
        push(
            issues,
            "retention_days",
            "retention_days is 0, which would drop every observation at once".into(),
            Some("keep raw observations at least a day, or leave `retention_days` out to keep them all".into()),
        );
    }
}

/// A variant or metric name: present, well formed and not listed before.
fn check_item_name<'a>(
    what: &str,
    name: &str,
    mut earlier: impl Iterator<Item = &'a str>,
    key: &str,
    readable: &impl Fn(&str) -> bool,
    push: &impl Fn(&mut Issues, &str, String, Option<String>),
    issues: &mut Issues,
) {
    if !readable(key) {
        return;
    }
    if name.is_empty() {
        push(issues, key, format!("a {what} needs a `name`"), None);
    } else if let Err(m) = check_name(&format!("{what} name"), name) {
        push(issues, key, m, None);
    } else if earlier.any(|n| n == name) {
        push(
            issues,
            key,
            format!("{what} `{name}` is listed twice"),
            None,
        );
    }
}

/// The flag-name rule, worded for `what` ("test id", "variant name").
fn check_name(what: &str, name: &str) -> Result<(), String> {
    check_flag_name(name).map_err(|m| m.replace("flag name", what))
}

/// A string field that the value checks need: a wrong type is reported here
/// and marked unreadable; absence is left to the checks.
fn read_str<'n>(
    f: &mut Fields<'n>,
    node: &Node,
    field: &'static str,
    key: &str,
    unreadable: &mut Vec<String>,
    issues: &mut Issues,
) -> &'n str {
    match f.str(field, issues) {
        Some(s) => s,
        None => {
            if !absent(node, field) {
                unreadable.push(key.to_owned());
            }
            ""
        }
    }
}

/// A number field that the value checks need and has no default: absence
/// and a wrong type are reported here and marked unreadable.
fn read_required_number(
    f: &mut Fields<'_>,
    node: &Node,
    field: &'static str,
    key: &str,
    hint: &str,
    unreadable: &mut Vec<String>,
    issues: &mut Issues,
) -> f64 {
    if let Some(n) = f.number(field, issues) {
        return n;
    }
    if absent(node, field) {
        issues.push(
            node.loc,
            &f.path_of(field),
            format!("missing `{field}`"),
            Some(hint.to_owned()),
        );
    }
    unreadable.push(key.to_owned());
    f64::NAN
}

fn absent(node: &Node, key: &str) -> bool {
    node.get(key).is_none_or(|n| n.value == Value::Null)
}

/// One of the names in `choices`; a missing or unknown name is reported
/// with the list of allowed ones.
fn read_choice<T: Copy>(
    f: &mut Fields<'_>,
    node: &Node,
    key: &'static str,
    choices: &[(&str, T)],
    issues: &mut Issues,
) -> Option<T> {
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let hint = || Some(format!("one of {}", names.join(", ")));
    let path = f.path_of(key);
    let Some(name) = f.str(key, issues) else {
        if absent(node, key) {
            issues.push(node.loc, &path, format!("missing `{key}`"), hint());
        }
        return None;
    };
    let found = choices.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    if found.is_none() {
        let loc = node.get(key).and_then(|n| n.loc);
        issues.push(loc, &path, format!("unknown {key} `{name}`"), hint());
    }
    found
}

fn read_variants(
    items: &[Node],
    path: &str,
    unreadable: &mut Vec<String>,
    issues: &mut Issues,
) -> Vec<VariantDefinition> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = format!("variants[{i}]");
        let (name_key, traffic_key) = (format!("{key}.name"), format!("{key}.traffic_percentage"));
        let item_path = format!("{path}[{i}]");
        let mut variant = VariantDefinition {
            name: String::new(),
            description: String::new(),
            traffic_percentage: f64::NAN,
            configuration: serde_json::Map::new(),
        };
        // A broken item keeps its place, so that later indices stay right.
        let Some(mut f) = Fields::new(item, &item_path, issues) else {
            unreadable.extend([name_key, traffic_key]);
            out.push(variant);
            continue;
        };
        variant.name = read_str(&mut f, item, "name", &name_key, unreadable, issues).to_owned();
        variant.description = f.str("description", issues).unwrap_or_default().to_owned();
        variant.traffic_percentage = read_required_number(
            &mut f,
            item,
            "traffic_percentage",
            &traffic_key,
            "the variant's share of the test's units in percent; the variants add up to 100",
            unreadable,
            issues,
        );
        if let Some(conf) = f.node("configuration") {
            match conf.to_json() {
                serde_json::Value::Object(map) => variant.configuration = map,
                _ => issues.push(
                    conf.loc,
                    &f.path_of("configuration"),
                    format!("expected a mapping of settings, found {}", conf.kind()),
                    Some(
                        "the settings the caller receives with the variant, e.g. \
                         `{pipe_sizing_method: intelligent}`"
                            .into(),
                    ),
                ),
            }
        }
        f.finish(issues);
        out.push(variant);
    }
    out
}

fn read_metrics(
    items: &[Node],
    path: &str,
    unreadable: &mut Vec<String>,
    issues: &mut Issues,
) -> Vec<MetricDefinition> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = format!("metrics[{i}]");
        let item_path = format!("{path}[{i}]");
        let (name_key, type_key) = (format!("{key}.name"), format!("{key}.metric_type"));
        let mde_key = format!("{key}.minimum_detectable_effect");
        let mut metric = MetricDefinition {
            name: String::new(),
            description: String::new(),
            metric_type: MetricType::Secondary,
            aggregation: Aggregation::Mean,
            target_direction: TargetDirection::Increase,
            minimum_detectable_effect: DEFAULT_MINIMUM_DETECTABLE_EFFECT,
            significance_level: DEFAULT_SIGNIFICANCE_LEVEL,
            power: DEFAULT_POWER,
            unit: None,
        };
        let Some(mut f) = Fields::new(item, &item_path, issues) else {
            unreadable.extend([name_key, type_key]);
            out.push(metric);
            continue;
        };
        metric.name = read_str(&mut f, item, "name", &name_key, unreadable, issues).to_owned();
        metric.description = f.str("description", issues).unwrap_or_default().to_owned();
        let metric_type = read_choice(&mut f, item, "metric_type", &METRIC_TYPES, issues);
        match metric_type {
            Some(t) => metric.metric_type = t,
            None => unreadable.push(type_key),
        }
        if let Some(a) = read_choice(&mut f, item, "aggregation", &AGGREGATIONS, issues) {
            metric.aggregation = a;
        }
        if let Some(d) = read_choice(&mut f, item, "target_direction", &DIRECTIONS, issues) {
            metric.target_direction = d;
        }
        if metric_type == Some(MetricType::Primary) {
            metric.minimum_detectable_effect = read_required_number(
                &mut f,
                item,
                "minimum_detectable_effect",
                &mde_key,
                &format!("a primary metric needs one to plan its sample size: {MDE_HINT}"),
                unreadable,
                issues,
            );
        } else if let Some(mde) = f.number("minimum_detectable_effect", issues) {
            metric.minimum_detectable_effect = mde;
        }
        if let Some(alpha) = f.number("significance_level", issues) {
            metric.significance_level = alpha;
        }
        if let Some(power) = f.number("power", issues) {
            metric.power = power;
        }
        metric.unit = f.str("unit", issues).map(str::to_owned);
        f.finish(issues);
        out.push(metric);
    }
    out
}

/// A commented `ab_tests.yml` for `config_type`, headed by `template_name`.
/// Types: `cha_intelligent_sizing` (every field documented and used, with a
/// CHA pipe-sizing test and a test of the least a test needs) and `minimal`
/// (one test). The result loads and validates as it is, and its tests are
/// drafts: deployed as they are, they admit no unit.
///
/// # Errors
/// `InvalidArgument` for an unknown `config_type`.
pub fn create_template(template_name: &str, config_type: &str) -> crate::Result<String> {
    let body = match config_type {
        "cha_intelligent_sizing" => TEMPLATE_FULL,
        "minimal" => TEMPLATE_MINIMAL,
        other => {
            return Err(crate::Error::invalid_argument(format!(
                "unknown config type `{other}` (known: cha_intelligent_sizing, minimal)"
            )));
        }
    };
    // A title with a line break would end the comment and start YAML.
    let title: String = template_name.chars().filter(|c| !c.is_control()).collect();
    Ok(format!(
        "# {title}: A/B tests of the CHA intelligent pipe-sizing system\n\
         # Generated by cha-deploy {} (config type: {config_type}).\n{body}",
        crate::VERSION
    ))
}

const TEMPLATE_MINIMAL: &str = "\
# Format version; 1 is current.
version: 1
ab_tests:
  # The test id is its key: letters, digits, `_`, `.` and `-`.
  pipe_sizing_comparison:
    name: Pipe Sizing Method Comparison
    # pipe_sizing | flow_calculation | network_analysis | cost_analysis |
    # performance | user_experience
    test_type: pipe_sizing
    # draft admits no unit; running starts the test.
    status: draft
    # At least 2; the traffic percentages add up to 100.
    variants:
      - {name: traditional, traffic_percentage: 50}
      - {name: intelligent, traffic_percentage: 50}
    # At least 1 primary metric: the one that decides the test.
    metrics:
      - name: pipe_cost_efficiency
        metric_type: primary
        # mean | sum | count | proportion
        aggregation: mean
        target_direction: increase
        # The smallest relative change worth acting on (0.05 = 5%).
        minimum_detectable_effect: 0.05
";

const TEMPLATE_FULL: &str = include_str!("ab_tests_template.yml");

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_names_match_serde<T: serde::Serialize>(choices: &[(&str, T)]) {
        for (name, value) in choices {
            assert_eq!(
                serde_json::to_value(value).unwrap(),
                serde_json::json!(name)
            );
        }
    }

    #[test]
    fn choice_names_are_the_serde_names() {
        assert_names_match_serde(&TEST_TYPES);
        assert_names_match_serde(&STATUSES);
        assert_names_match_serde(&METRIC_TYPES);
        assert_names_match_serde(&AGGREGATIONS);
        assert_names_match_serde(&DIRECTIONS);
        for (name, status) in STATUSES {
            assert_eq!(status.as_str(), name);
        }
    }

    const MINIMAL: &str = "\
ab_tests:
  t:
    name: T
    test_type: performance
    status: draft
    variants:
      - {name: a, traffic_percentage: 50}
      - {name: b, traffic_percentage: 50}
    metrics:
      - {name: m, metric_type: primary, aggregation: mean, target_direction: increase, minimum_detectable_effect: 0.1}
      - {name: g, metric_type: guardrail, aggregation: count, target_direction: decrease}
";

    #[test]
    fn defaults_are_applied() {
        let config = parse_ab_tests(MINIMAL, "t.yml").unwrap();
        assert_eq!(config.source_version, 1);
        let t = config.experiment("t").unwrap();
        assert_eq!(t.minimum_sample_size, 1000);
        assert_eq!(t.minimum_duration_days, 7);
        assert_eq!(t.coverage, 100.0);
        assert_eq!((t.control.as_deref(), t.control_index()), (None, 0));
        assert_eq!(t.effective_seed(), "t");
        assert!(t.variants[0].configuration.is_empty());
        let (m, g) = (&t.metrics[0], &t.metrics[1]);
        assert_eq!(
            (m.minimum_detectable_effect, m.significance_level, m.power),
            (0.1, 0.05, 0.8)
        );
        assert_eq!(g.minimum_detectable_effect, 0.05);
        assert_eq!(g.unit, None);
    }

    #[test]
    fn broken_items_keep_later_indices_right() {
        let text = MINIMAL.replace(
            "      - {name: a, traffic_percentage: 50}\n",
            "      - just a string\n      - {name: a, traffic_percentage: 150}\n",
        );
        let err = parse_ab_tests(&text, "t.yml").unwrap_err();
        let paths: Vec<&str> = err.issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "ab_tests.t.variants[0]",
                "ab_tests.t.variants[1].traffic_percentage"
            ],
            "{err}"
        );
    }
}
