//! The flag definition: what a YAML file, a JSON update and the store hold.
//!
//! [`FlagDefinition`] is plain data with serde for JSON (and YAML) export.
//! Input is read through [`FlagDefinition::read`], which checks every field
//! and records every problem with its path (and location, from YAML), so
//! that a file and a JSON update are validated by the same code.

use serde::{Deserialize, Serialize};

use crate::config::reader::{Fields, join, number};
use crate::config::time::parse_rfc3339_ms;
use crate::config::{Issues, Node, Value};

/// The five kinds of flag of the seed's `FeatureFlagType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FlagType {
    /// On for everyone while `enabled`.
    #[serde(rename = "boolean")]
    Boolean,
    /// On for a sticky `percentage` of units (users by default).
    #[serde(rename = "percentage")]
    Percentage,
    /// On for listed users and groups.
    #[serde(rename = "user_group")]
    UserGroup,
    /// Splits units between weighted variants.
    #[serde(rename = "a_b_test")]
    AbTest,
    /// On inside a time window, optionally ramped by a schedule.
    #[serde(rename = "time_based")]
    TimeBased,
}

impl FlagType {
    /// Every type, in documentation order.
    pub const ALL: [FlagType; 5] = [
        FlagType::Boolean,
        FlagType::Percentage,
        FlagType::UserGroup,
        FlagType::AbTest,
        FlagType::TimeBased,
    ];

    /// The name used in YAML and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Boolean => "boolean",
            FlagType::Percentage => "percentage",
            FlagType::UserGroup => "user_group",
            FlagType::AbTest => "a_b_test",
            FlagType::TimeBased => "time_based",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<FlagType> {
        FlagType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The fields only this type uses.
    pub(crate) fn own_fields(self) -> &'static [&'static str] {
        match self {
            FlagType::Boolean => &[],
            FlagType::Percentage => &["percentage", "stickiness", "seed"],
            FlagType::UserGroup => &[
                "include_groups",
                "exclude_groups",
                "allow_users",
                "deny_users",
            ],
            FlagType::AbTest => &["experiment", "variants", "stickiness", "seed"],
            FlagType::TimeBased => &["start_time", "end_time", "schedule", "stickiness", "seed"],
        }
    }
}

/// How much harm a flag can do when it misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    const NAMES: [(&'static str, RiskLevel); 4] = [
        ("low", RiskLevel::Low),
        ("medium", RiskLevel::Medium),
        ("high", RiskLevel::High),
        ("critical", RiskLevel::Critical),
    ];
}

/// Who owns a flag and how much it matters; informational, not evaluated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<RiskLevel>,
    /// 1 is the most important.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl Metadata {
    fn is_empty(&self) -> bool {
        *self == Metadata::default()
    }
}

/// One arm of an `a_b_test` flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// Share of units in percent (0.01 steps); the weights of a flag add up to 100.
    pub weight: f64,
    /// Whether the flag counts as on for units in this variant (false for a
    /// control arm that keeps the old behaviour). Default true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Free-form data handed to the caller with the variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

/// One step of a `time_based` ramp: from `at` on, `percentage` of units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleStep {
    /// RFC 3339.
    pub at: String,
    pub percentage: f64,
}

/// A feature flag as configured. The same fields in YAML (under the flag's
/// name) and in JSON (with `name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagDefinition {
    pub name: String,
    #[serde(rename = "type")]
    pub flag_type: FlagType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The kill switch: when false the flag is off for everyone, whatever
    /// its rules say. Default false, so that a new flag starts off.
    #[serde(default)]
    pub enabled: bool,
    /// The value served when the rules cannot decide (no rule matched, or
    /// the context lacks the stickiness attribute). Default false.
    #[serde(default)]
    pub default: bool,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Flags that must be on (for the same context) for this one to be on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<String>,

    /// percentage: share of units in percent, 0–100 in 0.01 steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
    /// percentage, a_b_test, time_based: the context attribute that picks a
    /// unit (`user_id` when absent; `session_id`, `environment`, `app_name`,
    /// `remote_address`, or any property name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<String>,
    /// percentage, a_b_test, time_based: the hash seed (the flag's name when
    /// absent). Flags sharing a seed pick the same units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,

    /// user_group: on for members of any of these groups…
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_groups: Vec<String>,
    /// …unless they are in one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_groups: Vec<String>,
    /// user_group: user ids that are always on (unless denied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_users: Vec<String>,
    /// user_group: user ids that are always off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_users: Vec<String>,

    /// a_b_test: the experiment of ab_tests.yml this flag belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// a_b_test: the arms, until experiments supply them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,

    /// time_based: on from this instant (RFC 3339, inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// time_based: off from this instant (RFC 3339, exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// time_based: a ramp; the step in force is the last one whose `at` has passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduleStep>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The longest flag name accepted.
pub const MAX_FLAG_NAME: usize = 128;

/// Checks a flag name: 1–128 characters of `A–Z a–z 0–9 _ . -`, so that it
/// is safe in a CLI argument, a path and a log line.
pub fn check_flag_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_FLAG_NAME {
        return Err(format!("a flag name has 1 to {MAX_FLAG_NAME} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "flag name `{name}` contains `{c}`; use letters, digits, `_`, `.` and `-`"
        ));
    }
    Ok(())
}

/// Whether `p` is a percentage 0–100 with at most two decimals.
fn check_percentage(p: f64) -> Result<(), String> {
    if !(0.0..=100.0).contains(&p) {
        return Err(format!("must be between 0 and 100, not {p}"));
    }
    let hundredths = p * 100.0;
    if (hundredths - hundredths.round()).abs() > 1e-6 {
        return Err(format!("{p} has more than two decimals (steps are 0.01)"));
    }
    Ok(())
}

/// `p` percent in hundredths (25.5 → 2550). `p` must have passed validation.
pub(crate) fn hundredths(p: f64) -> u32 {
    (p * 100.0).round().clamp(0.0, 10_000.0) as u32
}

impl FlagDefinition {
    /// A flag of `flag_type` named `name`, off, with every optional field empty.
    pub fn new(name: impl Into<String>, flag_type: FlagType) -> FlagDefinition {
        FlagDefinition {
            name: name.into(),
            flag_type,
            description: String::new(),
            enabled: false,
            default: false,
            metadata: Metadata::default(),
            tags: Vec::new(),
            prerequisites: Vec::new(),
            percentage: None,
            stickiness: None,
            seed: None,
            include_groups: Vec::new(),
            exclude_groups: Vec::new(),
            allow_users: Vec::new(),
            deny_users: Vec::new(),
            experiment: None,
            variants: Vec::new(),
            start_time: None,
            end_time: None,
            schedule: Vec::new(),
        }
    }

    /// The seed bucketing uses: `seed`, or the flag's name.
    pub fn effective_seed(&self) -> &str {
        self.seed.as_deref().unwrap_or(&self.name)
    }

    /// Reads and checks the flag `name` from `node` (its fields, at `path`),
    /// recording every problem in `issues`. Returns `None` only when the
    /// problems leave nothing to build (not a mapping, no usable `type`).
    pub fn read(
        name: &str,
        node: &Node,
        path: &str,
        issues: &mut Issues,
    ) -> Option<FlagDefinition> {
        if let Err(message) = check_flag_name(name) {
            issues.push(node.loc, path, message, None);
        }
        let mut f = Fields::new(node, path, issues)?;
        if let Some(given) = f.str("name", issues)
            && given != name
        {
            let loc = node.get("name").and_then(|n| n.loc);
            issues.push(
                loc,
                &f.path_of("name"),
                format!("`{given}` differs from the flag's name `{name}`"),
                Some("a flag's name is its key; rename by adding a new flag".into()),
            );
        }
        let flag_type = read_type(&mut f, node, issues);
        let mut def = FlagDefinition::new(name, flag_type.unwrap_or(FlagType::Boolean));
        def.description = f.str("description", issues).unwrap_or_default().to_owned();
        def.enabled = f.bool("enabled", issues).unwrap_or(false);
        def.default = f.bool("default", issues).unwrap_or(false);
        if let Some(m) = f.node("metadata") {
            def.metadata = read_metadata(m, &f.path_of("metadata"), issues);
        }
        def.tags = f.strings("tags", issues).unwrap_or_default();
        def.prerequisites = f.strings("prerequisites", issues).unwrap_or_default();
        def.percentage = f.number("percentage", issues);
        def.stickiness = f.str("stickiness", issues).map(str::to_owned);
        def.seed = f.str("seed", issues).map(str::to_owned);
        def.include_groups = f.strings("include_groups", issues).unwrap_or_default();
        def.exclude_groups = f.strings("exclude_groups", issues).unwrap_or_default();
        def.allow_users = f.strings("allow_users", issues).unwrap_or_default();
        def.deny_users = f.strings("deny_users", issues).unwrap_or_default();
        def.experiment = f.str("experiment", issues).map(str::to_owned);
        if let Some(items) = f.list("variants", issues) {
            def.variants = read_variants(items, &f.path_of("variants"), issues);
        }
        def.start_time = f.str("start_time", issues).map(str::to_owned);
        def.end_time = f.str("end_time", issues).map(str::to_owned);
        if let Some(items) = f.list("schedule", issues) {
            def.schedule = read_schedule(items, &f.path_of("schedule"), issues);
        }
        f.finish(issues);
        let flag_type = flag_type?;
        check_applicable_fields(flag_type, node, path, issues);
        def.check(node, path, issues);
        Some(def)
    }

    /// The problems of a definition that came from trusted JSON (the store).
    ///
    /// # Errors
    /// `Config` listing every problem.
    pub fn validate(&self) -> crate::Result<()> {
        let json = serde_json::to_value(self)?;
        let node = Node::from_json(&json);
        let mut issues = Issues::new("");
        FlagDefinition::read(&self.name, &node, &self.name, &mut issues);
        issues.finish(()).map_err(crate::Error::from)
    }

    /// Checks values and their combinations; the shape was read already.
    fn check(&self, node: &Node, path: &str, issues: &mut Issues) {
        let at = |key: &str| node.locate(key).or(node.loc);
        let push = |issues: &mut Issues, key: &str, message: String, hint: Option<String>| {
            issues.push(at(key), &join(path, key), message, hint);
        };
        if let Some(p) = self.percentage
            && let Err(m) = check_percentage(p)
        {
            push(issues, "percentage", m, Some("use e.g. 25 or 12.5".into()));
        }
        // "needs X" only when X is absent; a present but wrong X was reported already.
        let absent = |key: &str| node.get(key).is_none_or(|n| n.value == Value::Null);
        match self.flag_type {
            FlagType::Percentage if absent("percentage") => push(
                issues,
                "percentage",
                "a percentage flag needs `percentage`".into(),
                Some("add e.g. `percentage: 25`".into()),
            ),
            FlagType::AbTest
                if absent("experiment")
                    && (absent("variants")
                        || matches!(node.get("variants"), Some(Node { value: Value::Seq(v), .. }) if v.is_empty())) =>
            {
                push(
                    issues,
                    "variants",
                    "an a_b_test flag needs an `experiment` of ab_tests.yml or its own `variants`".into(),
                    Some("name the experiment (`experiment: pipe_sizing_comparison`), or list variants with name and weight".into()),
                )
            }
            FlagType::AbTest if !absent("experiment") && !absent("variants") => push(
                issues,
                "variants",
                "an a_b_test flag linked to an `experiment` takes its variants from ab_tests.yml".into(),
                Some("remove `variants` here, or remove `experiment` to keep the flag's own split".into()),
            ),
            FlagType::TimeBased
                if absent("start_time") && absent("end_time") && absent("schedule") =>
            {
                push(
                    issues,
                    "start_time",
                    "a time_based flag needs `start_time`, `end_time` or `schedule`".into(),
                    None,
                )
            }
            _ => {}
        }
        if let Some(s) = &self.stickiness {
            let camel = [
                ("userId", "user_id"),
                ("sessionId", "session_id"),
                ("remoteAddress", "remote_address"),
                ("appName", "app_name"),
            ];
            if s.is_empty() || s == "default" {
                push(
                    issues,
                    "stickiness",
                    format!("`{s}` is not a context attribute"),
                    Some("use user_id, session_id or a property name".into()),
                );
            } else if let Some((_, ours)) = camel.iter().find(|(theirs, _)| theirs == s) {
                push(
                    issues,
                    "stickiness",
                    format!("`{s}` is Unleash's spelling"),
                    Some(format!("use `{ours}`")),
                );
            }
        }
        let times = [
            ("start_time", &self.start_time),
            ("end_time", &self.end_time),
        ];
        let mut parsed = [None, None];
        for (slot, (key, value)) in parsed.iter_mut().zip(times) {
            if let Some(text) = value {
                match parse_rfc3339_ms(text) {
                    Ok(ms) => *slot = Some(ms),
                    Err(m) => push(issues, key, m, None),
                }
            }
        }
        if let [Some(start), Some(end)] = parsed
            && start >= end
        {
            push(
                issues,
                "end_time",
                "end_time must be after start_time".into(),
                None,
            );
        }
        self.check_variants(node, path, issues);
        self.check_schedule(node, path, issues);
        for (i, p) in self.prerequisites.iter().enumerate() {
            if let Err(m) = check_flag_name(p) {
                push(issues, &format!("prerequisites[{i}]"), m, None);
            }
        }
    }

    fn check_variants(&self, node: &Node, path: &str, issues: &mut Issues) {
        let mut total = 0;
        let mut weights_ok = true;
        for (i, v) in self.variants.iter().enumerate() {
            let key = format!("variants[{i}]");
            if v.name.is_empty() {
                issues.push(
                    node.locate(&format!("{key}.name")),
                    &join(path, &format!("{key}.name")),
                    "a variant needs a name",
                    None,
                );
            } else if self.variants[..i].iter().any(|w| w.name == v.name) {
                issues.push(
                    node.locate(&format!("{key}.name")),
                    &join(path, &format!("{key}.name")),
                    format!("variant `{}` is listed twice", v.name),
                    None,
                );
            }
            match check_percentage(v.weight) {
                Ok(()) => total += hundredths(v.weight),
                Err(m) => {
                    weights_ok = false;
                    issues.push(
                        node.locate(&format!("{key}.weight")),
                        &join(path, &format!("{key}.weight")),
                        m,
                        None,
                    );
                }
            }
        }
        if weights_ok && !self.variants.is_empty() && total != 10_000 {
            issues.push(
                node.locate("variants"),
                &join(path, "variants"),
                format!(
                    "variant weights add up to {}, not 100",
                    f64::from(total) / 100.0
                ),
                Some("weights are percentages of units".into()),
            );
        }
    }

    fn check_schedule(&self, node: &Node, path: &str, issues: &mut Issues) {
        let mut previous: Option<i64> = None;
        for (i, step) in self.schedule.iter().enumerate() {
            let key = format!("schedule[{i}]");
            let locate = |field: &str| node.locate(&format!("{key}.{field}"));
            let field_path = |field: &str| join(path, &format!("{key}.{field}"));
            match parse_rfc3339_ms(&step.at) {
                Ok(at) => {
                    if previous.is_some_and(|p| at <= p) {
                        issues.push(
                            locate("at"),
                            &field_path("at"),
                            "schedule steps must be in increasing time order",
                            None,
                        );
                    }
                    previous = Some(at);
                }
                Err(m) => issues.push(locate("at"), &field_path("at"), m, None),
            }
            if let Err(m) = check_percentage(step.percentage) {
                issues.push(locate("percentage"), &field_path("percentage"), m, None);
            }
        }
    }
}

fn read_type(f: &mut Fields<'_>, node: &Node, issues: &mut Issues) -> Option<FlagType> {
    let path = f.path_of("type");
    let Some(name) = f.str("type", issues) else {
        if node.get("type").is_none_or(|n| n.value == Value::Null) {
            issues.push(node.loc, &path, "missing `type`", Some(type_hint()));
        }
        return None;
    };
    let parsed = FlagType::parse(name);
    if parsed.is_none() {
        let loc = node.get("type").and_then(|n| n.loc);
        issues.push(
            loc,
            &path,
            format!("unknown flag type `{name}`"),
            Some(type_hint()),
        );
    }
    parsed
}

fn type_hint() -> String {
    let names: Vec<&str> = FlagType::ALL.iter().map(|t| t.as_str()).collect();
    format!("one of {}", names.join(", "))
}

/// Fields that belong to another type are an error, not silently ignored:
/// `percentage: 50` on a user_group flag is a mistake someone should see.
fn check_applicable_fields(flag_type: FlagType, node: &Node, path: &str, issues: &mut Issues) {
    for other in FlagType::ALL {
        for field in other.own_fields() {
            if flag_type.own_fields().contains(field) {
                continue;
            }
            if let Some(n) = node.get(field).filter(|n| n.value != Value::Null) {
                let owners: Vec<&str> = FlagType::ALL
                    .iter()
                    .filter(|t| t.own_fields().contains(field))
                    .map(|t| t.as_str())
                    .collect();
                issues.push(
                    n.loc,
                    &join(path, field),
                    format!("`{field}` does not apply to a {} flag", flag_type.as_str()),
                    Some(format!("it applies to: {}", owners.join(", "))),
                );
            }
        }
    }
}

fn read_metadata(node: &Node, path: &str, issues: &mut Issues) -> Metadata {
    let Some(mut f) = Fields::new(node, path, issues) else {
        return Metadata::default();
    };
    let mut m = Metadata {
        component: f.str("component", issues).map(str::to_owned),
        ..Metadata::default()
    };
    if let Some(level) = f.str("risk_level", issues) {
        m.risk_level = RiskLevel::NAMES
            .iter()
            .find(|(n, _)| *n == level)
            .map(|(_, l)| *l);
        if m.risk_level.is_none() {
            let loc = node.get("risk_level").and_then(|n| n.loc);
            issues.push(
                loc,
                &f.path_of("risk_level"),
                format!("unknown risk level `{level}`"),
                Some("one of low, medium, high, critical".into()),
            );
        }
    }
    m.priority = f.unsigned("priority", issues);
    m.owner = f.str("owner", issues).map(str::to_owned);
    f.finish(issues);
    m
}

fn read_variants(items: &[Node], path: &str, issues: &mut Issues) -> Vec<Variant> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(mut f) = Fields::new(item, &item_path, issues) else {
            continue;
        };
        let name = f.str("name", issues);
        let weight = f
            .node("weight")
            .and_then(|n| number(n, &f.path_of("weight"), issues));
        let enabled = f.bool("enabled", issues).unwrap_or(true);
        let payload = f.node("payload").map(Node::to_json);
        f.finish(issues);
        for (present, field) in [(name.is_some(), "name"), (weight.is_some(), "weight")] {
            if !present && item.get(field).is_none() {
                issues.push(
                    item.loc,
                    &join(&item_path, field),
                    format!("a variant needs `{field}`"),
                    None,
                );
            }
        }
        out.push(Variant {
            name: name.unwrap_or_default().to_owned(),
            weight: weight.unwrap_or(0.0),
            enabled,
            payload,
        });
    }
    out
}

fn read_schedule(items: &[Node], path: &str, issues: &mut Issues) -> Vec<ScheduleStep> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(mut f) = Fields::new(item, &item_path, issues) else {
            continue;
        };
        let at = f.str("at", issues);
        let percentage = f.number("percentage", issues);
        f.finish(issues);
        match (at, percentage) {
            (Some(at), Some(percentage)) => out.push(ScheduleStep {
                at: at.to_owned(),
                percentage,
            }),
            _ => {
                for field in ["at", "percentage"] {
                    if item.get(field).is_none() {
                        issues.push(
                            item.loc,
                            &join(&item_path, field),
                            format!("a schedule step needs `{field}`"),
                            None,
                        );
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_yaml(yaml: &str) -> Result<FlagDefinition, crate::config::ConfigError> {
        let node = crate::config::parse_yaml(yaml, "t.yml")?;
        let mut issues = Issues::new("t.yml");
        let def = FlagDefinition::read("f", &node, "flags.f", &mut issues);
        issues.finish(def.unwrap())
    }

    #[test]
    fn reads_every_field_and_round_trips_through_json() {
        let def = read_yaml(
            "type: a_b_test\ndescription: d\nenabled: true\ndefault: true\n\
             metadata: {component: c, risk_level: high, priority: 1, owner: o}\n\
             tags: [t]\nprerequisites: [g]\nstickiness: session_id\nseed: s\n\
             variants:\n  - {name: a, weight: 50, enabled: false}\n  - {name: b, weight: 50, payload: {k: 1}}\n",
        )
        .unwrap();
        assert_eq!(def.metadata.risk_level, Some(RiskLevel::High));
        assert_eq!(def.variants[1].payload, Some(serde_json::json!({"k": 1})));
        assert!(!def.variants[0].enabled);
        let json = serde_json::to_value(&def).unwrap();
        let back: FlagDefinition = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, def);
        back.validate().unwrap();
        // The JSON read path gives the same definition as the YAML one.
        let mut issues = Issues::new("");
        let again = FlagDefinition::read("f", &Node::from_json(&json), "f", &mut issues).unwrap();
        assert!(issues.is_empty());
        assert_eq!(again, def);
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let err = read_yaml(
            "type: percentage\npercentage: 150\nstickiness: userId\ninclude_groups: [a]\nenabeld: true\nmetadata: {risk_level: extreme}\n",
        )
        .unwrap_err();
        let text: Vec<String> = err.issues.iter().map(ToString::to_string).collect();
        let expect = [
            "t.yml:5:1: flags.f.enabeld: unknown field `enabeld` (hint: did you mean `enabled`?)",
            "t.yml:6:24: flags.f.metadata.risk_level: unknown risk level `extreme` (hint: one of low, medium, high, critical)",
            "t.yml:4:17: flags.f.include_groups: `include_groups` does not apply to a percentage flag (hint: it applies to: user_group)",
            "t.yml:2:13: flags.f.percentage: must be between 0 and 100, not 150 (hint: use e.g. 25 or 12.5)",
            "t.yml:3:13: flags.f.stickiness: `userId` is Unleash's spelling (hint: use `user_id`)",
        ];
        let mut sorted = text.clone();
        sorted.sort();
        let mut expected: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(sorted, expected, "{text:#?}");
    }

    #[test]
    fn percentages_have_two_decimals_at_most() {
        assert!(check_percentage(12.34).is_ok());
        assert!(check_percentage(0.01).is_ok());
        assert!(check_percentage(12.345).is_err());
        assert!(check_percentage(-0.01).is_err());
        assert!(check_percentage(f64::NAN).is_err());
        assert_eq!(hundredths(12.34), 1234);
        assert_eq!(hundredths(0.29), 29);
    }

    #[test]
    fn schedules_and_windows_are_checked() {
        let err = read_yaml(
            "type: time_based\nstart_time: 2026-02-01T00:00:00Z\nend_time: 2026-01-01T00:00:00Z\n\
             schedule:\n  - {at: 2026-01-08T00:00:00Z, percentage: 5}\n  - {at: 2026-01-01T00:00:00Z, percentage: 101}\n  - {at: soon, percentage: 5}\n",
        )
        .unwrap_err();
        let paths: Vec<&str> = err.issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "flags.f.end_time",
                "flags.f.schedule[1].at",
                "flags.f.schedule[1].percentage",
                "flags.f.schedule[2].at"
            ]
        );
    }

    #[test]
    fn variant_weights_must_add_up() {
        let err = read_yaml(
            "type: a_b_test\nvariants:\n  - {name: a, weight: 50}\n  - {name: a, weight: 40}\n",
        )
        .unwrap_err();
        let messages: Vec<&str> = err.issues.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "variant `a` is listed twice",
                "variant weights add up to 90, not 100"
            ]
        );
    }
}
