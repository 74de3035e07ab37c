//! Reading targeting: rules, constraints, segments, variants with their
//! overrides, environment overrides and prerequisites, with every problem
//! located and named by its field path. The checks that need the compiled
//! form (a regular expression, a CIDR range, a version) compile it here,
//! once, with the code the engine runs, so that what validates is what
//! evaluates.

use std::collections::BTreeMap;

use super::reader::{Fields, join, number};
use super::{Issues, Node, Value};
use crate::common::names::check_flag_name;
use crate::common::percent::check_percentage;
use crate::flags::rules::CompiledConstraint;
use crate::flags::{
    Constraint, EnvironmentOverride, FlagType, Operator, Prerequisite, Rule, Segment, Variant,
    VariantOverride,
};

/// The context attributes with a name of their own; any other name is a
/// custom property.
pub const ATTRIBUTES: [&str; 8] = [
    "user_id",
    "session_id",
    "groups",
    "environment",
    "app_name",
    "current_time",
    "remote_address",
    "hostname",
];

/// Unleash's spellings of context fields, and ours.
const UNLEASH_SPELLINGS: [(&str, &str); 5] = [
    ("userId", "user_id"),
    ("sessionId", "session_id"),
    ("remoteAddress", "remote_address"),
    ("appName", "app_name"),
    ("currentTime", "current_time"),
];

/// A value of a constraint as text: strings as they are, numbers and
/// booleans as written.
fn text_of(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_finite() => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads the constraints of `items` (at `path`).
pub(crate) fn read_constraints(items: &[Node], path: &str, issues: &mut Issues) -> Vec<Constraint> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| read_constraint(item, &format!("{path}[{i}]"), issues))
        .collect()
}

fn read_constraint(item: &Node, path: &str, issues: &mut Issues) -> Option<Constraint> {
    let mut f = Fields::new(item, path, issues)?;
    let attribute = f.str("attribute", issues).map(str::to_owned);
    let operator_name = f.str("operator", issues);
    let mut values = Vec::new();
    if let Some(list) = f.list("values", issues) {
        for (i, v) in list.iter().enumerate() {
            match text_of(v) {
                Some(t) => values.push(t),
                None => issues.push(
                    v.loc,
                    &format!("{path}.values[{i}]"),
                    format!("expected a string, found {}", v.kind()),
                    None,
                ),
            }
        }
    }
    let value = f.node("value").and_then(|v| {
        let text = text_of(v);
        if text.is_none() {
            issues.push(
                v.loc,
                &join(path, "value"),
                format!("expected a string or a number, found {}", v.kind()),
                None,
            );
        }
        text
    });
    let case_insensitive = f.bool("case_insensitive", issues).unwrap_or(false);
    let inverted = f.bool("inverted", issues).unwrap_or(false);
    f.finish(issues);
    let at = |key: &str| item.get(key).and_then(|n| n.loc).or(item.loc);
    for field in ["attribute", "operator"] {
        if item.get(field).is_none_or(|n| n.value == Value::Null) {
            issues.push(
                item.loc,
                &join(path, field),
                format!("a constraint needs `{field}`"),
                None,
            );
        }
    }
    let attribute = attribute?;
    check_attribute(
        &attribute,
        at("attribute"),
        &join(path, "attribute"),
        issues,
    );
    let operator = match Operator::parse(operator_name?) {
        Some(op) => op,
        None => {
            let names: Vec<&str> = Operator::ALL.iter().map(|o| o.as_str()).collect();
            issues.push(
                at("operator"),
                &join(path, "operator"),
                format!("unknown operator `{}`", operator_name.unwrap_or_default()),
                Some(format!("one of {}", names.join(", "))),
            );
            return None;
        }
    };
    let constraint = Constraint {
        attribute,
        operator,
        values,
        value,
        case_insensitive,
        inverted,
    };
    let given = |key: &str| item.get(key).is_some_and(|n| n.value != Value::Null);
    let op = operator.as_str();
    if operator.takes_list() {
        if given("value") {
            issues.push(
                at("value"),
                &join(path, "value"),
                format!("{op} compares with a list of `values`, not one `value`"),
                Some("write `values: [...]`".into()),
            );
        } else if !given("values") {
            issues.push(
                item.loc,
                &join(path, "values"),
                format!("{op} compares with a list of `values`"),
                None,
            );
        }
    } else if given("values") {
        issues.push(
            at("values"),
            &join(path, "values"),
            format!("{op} compares with one `value`, not a list of `values`"),
            Some("write `value: ...`".into()),
        );
    }
    if constraint.case_insensitive && !operator.has_case() {
        issues.push(
            at("case_insensitive"),
            &join(path, "case_insensitive"),
            format!("`case_insensitive` does not apply to {op}"),
            Some(
                "it applies to IN, NOT_IN, STR_CONTAINS, STR_STARTS_WITH, STR_ENDS_WITH and REGEX"
                    .into(),
            ),
        );
    }
    // The engine's own compilation: an invalid regex, CIDR range, number,
    // time or version is refused here, with the location of the value.
    let shape_ok = operator.takes_list() || constraint.value.is_some();
    if shape_ok && let Err((field, message)) = CompiledConstraint::compile(&constraint) {
        let loc = item.locate(&field).or(item.loc);
        issues.push(loc, &join(path, &field), message, None);
    }
    Some(constraint)
}

/// A constraint or override attribute: not empty, in our spelling.
fn check_attribute(name: &str, loc: Option<super::Loc>, path: &str, issues: &mut Issues) {
    if name.trim().is_empty() {
        issues.push(
            loc,
            path,
            "an attribute needs a name",
            Some(attribute_hint()),
        );
    } else if let Some((_, ours)) = UNLEASH_SPELLINGS.iter().find(|(theirs, _)| *theirs == name) {
        issues.push(
            loc,
            path,
            format!("`{name}` is Unleash's spelling"),
            Some(format!("use `{ours}`")),
        );
    }
}

fn attribute_hint() -> String {
    format!(
        "{}, or the name of a custom property",
        ATTRIBUTES.join(", ")
    )
}

/// Checks a `stickiness` value at `path`.
pub(crate) fn check_stickiness(
    value: &str,
    loc: Option<super::Loc>,
    path: &str,
    issues: &mut Issues,
) {
    if value.trim().is_empty() {
        issues.push(
            loc,
            path,
            format!("`{value}` is not a context attribute"),
            Some("use user_id, session_id, a property name, default or random".into()),
        );
    } else if let Some((_, ours)) = UNLEASH_SPELLINGS
        .iter()
        .find(|(theirs, _)| *theirs == value)
    {
        issues.push(
            loc,
            path,
            format!("`{value}` is Unleash's spelling"),
            Some(format!("use `{ours}`")),
        );
    } else if matches!(value, "groups" | "current_time") {
        issues.push(
            loc,
            path,
            format!("`{value}` cannot pick a unit"),
            Some("use user_id, session_id, a property name, default or random".into()),
        );
    }
}

/// Reads variants (an a_b_test flag's arms, or weighted values).
pub(crate) fn read_variants(items: &[Node], path: &str, issues: &mut Issues) -> Vec<Variant> {
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
        let overrides = match f.list("overrides", issues) {
            Some(list) => read_overrides(list, &f.path_of("overrides"), issues),
            None => Vec::new(),
        };
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
            overrides,
        });
    }
    out
}

fn read_overrides(items: &[Node], path: &str, issues: &mut Issues) -> Vec<VariantOverride> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(mut f) = Fields::new(item, &item_path, issues) else {
            continue;
        };
        let attribute = f.str("attribute", issues).map(str::to_owned);
        let values = f.strings("values", issues);
        f.finish(issues);
        if let Some(a) = &attribute {
            let loc = item.get("attribute").and_then(|n| n.loc);
            check_attribute(a, loc, &join(&item_path, "attribute"), issues);
        }
        for (present, field) in [
            (attribute.is_some(), "attribute"),
            (values.is_some(), "values"),
        ] {
            if !present && item.get(field).is_none() {
                issues.push(
                    item.loc,
                    &join(&item_path, field),
                    format!("an override needs `{field}`"),
                    None,
                );
            }
        }
        if let (Some(attribute), Some(values)) = (attribute, values) {
            out.push(VariantOverride { attribute, values });
        }
    }
    out
}

/// Checks variants read from `node` (the list, at `path`): names, weights
/// and overrides. `split` is an a_b_test flag's split, whose weights are
/// percentages of units adding up to 100; other variants have relative
/// weights, 0 or more with at most two decimals, not all 0.
pub(crate) fn check_variants(
    variants: &[Variant],
    split: bool,
    node: &Node,
    path: &str,
    issues: &mut Issues,
) {
    let mut total = 0u64;
    let mut weights_ok = true;
    for (i, v) in variants.iter().enumerate() {
        let key = format!("[{i}]");
        let locate = |field: &str| node.locate(&format!("{key}.{field}")).or(node.loc);
        let field_path = |field: &str| format!("{path}{key}.{field}");
        if v.name.is_empty() {
            if node.find(&format!("{key}.name")).is_some() {
                issues.push(
                    locate("name"),
                    &field_path("name"),
                    "a variant needs a name",
                    None,
                );
            }
        } else if variants[..i].iter().any(|w| w.name == v.name) {
            issues.push(
                locate("name"),
                &field_path("name"),
                format!("variant `{}` is listed twice", v.name),
                None,
            );
        } else if let Err(m) = check_flag_name(&v.name) {
            issues.push(
                locate("name"),
                &field_path("name"),
                m.replace("flag name", "variant name"),
                None,
            );
        }
        let weight_check = if split {
            check_percentage(v.weight)
        } else {
            check_weight(v.weight)
        };
        match weight_check {
            // In hundredths, whatever the weights mean.
            Ok(()) => total += (v.weight * 100.0).round() as u64,
            Err(m) => {
                weights_ok = false;
                issues.push(locate("weight"), &field_path("weight"), m, None);
            }
        }
        for (k, o) in v.overrides.iter().enumerate() {
            if o.values.is_empty() {
                issues.push(
                    locate(&format!("overrides[{k}].values")),
                    &field_path(&format!("overrides[{k}].values")),
                    "an override lists the units it applies to",
                    None,
                );
            }
        }
    }
    if !weights_ok || variants.is_empty() {
        return;
    }
    if split && total != 10_000 {
        issues.push(
            node.loc,
            path,
            format!(
                "variant weights add up to {}, not 100",
                total as f64 / 100.0
            ),
            Some("weights are percentages of units".into()),
        );
    } else if !split && total == 0 {
        issues.push(
            node.loc,
            path,
            "variant weights are all 0: no unit could get a variant",
            Some("weights are relative: give e.g. each variant 1".into()),
        );
    } else if !split && total > u64::from(u32::MAX) {
        // The engine counts in hundredths when a weight has decimals.
        issues.push(
            node.loc,
            path,
            "variant weights add up to more than 42,949,672".to_string(),
            None,
        );
    }
}

/// A relative weight: 0 or more, at most two decimals.
fn check_weight(w: f64) -> Result<(), String> {
    if w < 0.0 {
        return Err(format!("a weight is 0 or more, not {w}"));
    }
    let hundredths = w * 100.0;
    if (hundredths - hundredths.round()).abs() > 1e-6 {
        return Err(format!("{w} has more than two decimals (steps are 0.01)"));
    }
    Ok(())
}

/// Reads the rules of a flag (the list `items`, at `path`).
pub(crate) fn read_rules(items: &[Node], path: &str, issues: &mut Issues) -> Vec<Rule> {
    let mut rules = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let rule_path = format!("{path}[{i}]");
        let Some(mut f) = Fields::new(item, &rule_path, issues) else {
            continue;
        };
        let mut rule = Rule::new();
        rule.name = f.str("name", issues).map(str::to_owned);
        rule.enabled = f.bool("enabled", issues).unwrap_or(true);
        if let Some(list) = f.list("constraints", issues) {
            rule.constraints = read_constraints(list, &f.path_of("constraints"), issues);
        }
        rule.segments = f.strings("segments", issues).unwrap_or_default();
        rule.percentage = f.number("percentage", issues);
        rule.stickiness = f.str("stickiness", issues).map(str::to_owned);
        rule.seed = f.str("seed", issues).map(str::to_owned);
        rule.serve = f.bool("serve", issues).unwrap_or(true);
        if let Some(list) = f.list("variants", issues) {
            rule.variants = read_variants(list, &f.path_of("variants"), issues);
            if let Some(node) = item.get("variants") {
                check_variants(&rule.variants, false, node, &f.path_of("variants"), issues);
            }
        }
        f.finish(issues);
        check_rule(&rule, item, &rule_path, &rules, issues);
        rules.push(rule);
    }
    rules
}

fn check_rule(rule: &Rule, item: &Node, path: &str, earlier: &[Rule], issues: &mut Issues) {
    let at = |key: &str| item.locate(key).or(item.loc);
    if let Some(name) = &rule.name {
        if let Err(m) = check_flag_name(name) {
            issues.push(
                at("name"),
                &join(path, "name"),
                m.replace("flag name", "rule name"),
                None,
            );
        } else if earlier.iter().any(|r| r.name.as_deref() == Some(name)) {
            issues.push(
                at("name"),
                &join(path, "name"),
                format!("rule `{name}` is named twice"),
                None,
            );
        }
    }
    for (k, s) in rule.segments.iter().enumerate() {
        if let Err(m) = check_flag_name(s) {
            let key = format!("segments[{k}]");
            issues.push(
                at(&key),
                &join(path, &key),
                m.replace("flag name", "segment name"),
                None,
            );
        }
    }
    if let Some(p) = rule.percentage
        && let Err(m) = check_percentage(p)
    {
        issues.push(at("percentage"), &join(path, "percentage"), m, None);
    }
    if let Some(s) = &rule.stickiness {
        check_stickiness(s, at("stickiness"), &join(path, "stickiness"), issues);
    }
    if rule.seed.as_deref().is_some_and(|s| s.is_empty()) {
        issues.push(at("seed"), &join(path, "seed"), "an empty seed", None);
    }
    let splits = rule.percentage.is_some() || !rule.variants.is_empty();
    for key in ["stickiness", "seed"] {
        let given = item.get(key).is_some_and(|n| n.value != Value::Null);
        if given && !splits {
            issues.push(
                at(key),
                &join(path, key),
                format!("`{key}` applies to a rule's `percentage` or `variants`, and this rule has neither"),
                None,
            );
        }
    }
    if !rule.serve && !rule.variants.is_empty() {
        issues.push(
            at("variants"),
            &join(path, "variants"),
            "a rule that serves off gives no variant",
            Some("remove `variants`, or `serve: false`".into()),
        );
    }
}

/// Reads a flag's `environments` (the mapping `node`, at `path`).
pub(crate) fn read_environments(
    node: &Node,
    path: &str,
    flag_type: Option<FlagType>,
    issues: &mut Issues,
) -> BTreeMap<String, EnvironmentOverride> {
    let mut out = BTreeMap::new();
    let Some(entries) = node.entries() else {
        issues.push(
            node.loc,
            path,
            format!(
                "expected a mapping of environment name to fields, found {}",
                node.kind()
            ),
            Some("e.g. `production: {enabled: false}`".into()),
        );
        return out;
    };
    for (key, value) in entries {
        let env_path = join(path, &key.name);
        if let Err(m) = check_flag_name(&key.name) {
            issues.push(
                key.loc,
                &env_path,
                m.replace("flag name", "environment name"),
                None,
            );
        }
        let value = value.located_at(key);
        let Some(mut f) = Fields::new(&value, &env_path, issues) else {
            continue;
        };
        let mut o = EnvironmentOverride {
            enabled: f.bool("enabled", issues),
            default: f.bool("default", issues),
            percentage: f.number("percentage", issues),
            ..EnvironmentOverride::default()
        };
        if let Some(list) = f.list("rules", issues) {
            o.rules = Some(read_rules(list, &f.path_of("rules"), issues));
        } else if value.get("rules").is_some_and(|n| n.value == Value::Null) {
            // `rules: null` is no override, as for any field.
        }
        if let Some(list) = f.list("variants", issues) {
            let variants = read_variants(list, &f.path_of("variants"), issues);
            if let Some(n) = value.get("variants") {
                let split = flag_type == Some(FlagType::AbTest);
                check_variants(&variants, split, n, &f.path_of("variants"), issues);
            }
            o.variants = Some(variants);
        }
        f.finish(issues);
        if let Some(p) = o.percentage {
            let loc = value.get("percentage").and_then(|n| n.loc);
            if flag_type.is_some_and(|t| t != FlagType::Percentage) {
                issues.push(
                    loc,
                    &join(&env_path, "percentage"),
                    "`percentage` applies to a percentage flag".to_string(),
                    None,
                );
            } else if let Err(m) = check_percentage(p) {
                issues.push(loc, &join(&env_path, "percentage"), m, None);
            }
        }
        if o == EnvironmentOverride::default() {
            issues.push(
                value.loc,
                &env_path,
                "an environment overrides nothing",
                Some(format!(
                    "give any of {}",
                    EnvironmentOverride::FIELDS.join(", ")
                )),
            );
        }
        out.insert(key.name.clone(), o);
    }
    out
}

/// Reads a flag's `prerequisites`: names, or mappings
/// `{flag, enabled, variants}`.
pub(crate) fn read_prerequisites(
    items: &[Node],
    path: &str,
    issues: &mut Issues,
) -> Vec<Prerequisite> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let prerequisite = match &item.value {
            Value::Str(name) => Prerequisite::on(name.as_str()),
            Value::Map(_) => {
                let Some(mut f) = Fields::new(item, &item_path, issues) else {
                    continue;
                };
                let flag = f.str("flag", issues).map(str::to_owned);
                let enabled = f.bool("enabled", issues).unwrap_or(true);
                let variants = f.strings("variants", issues).unwrap_or_default();
                f.finish(issues);
                let Some(flag) = flag else {
                    if item.get("flag").is_none() {
                        issues.push(
                            item.loc,
                            &join(&item_path, "flag"),
                            "a prerequisite needs `flag`",
                            None,
                        );
                    }
                    continue;
                };
                if !enabled && !variants.is_empty() {
                    issues.push(
                        item.get("variants").and_then(|n| n.loc).or(item.loc),
                        &join(&item_path, "variants"),
                        "a prerequisite that must be off has no variant",
                        Some("remove `variants`, or `enabled: false`".into()),
                    );
                }
                Prerequisite {
                    flag,
                    enabled,
                    variants,
                }
            }
            _ => {
                issues.push(
                    item.loc,
                    &item_path,
                    format!("expected a flag name or a mapping with `flag`, found {}", item.kind()),
                    Some("e.g. `- flow_based_calculation` or `- {flag: new_solver, variants: [fast]}`".into()),
                );
                continue;
            }
        };
        if let Err(m) = check_flag_name(&prerequisite.flag) {
            let loc = item.get("flag").and_then(|n| n.loc).or(item.loc);
            let p = if matches!(item.value, Value::Map(_)) {
                join(&item_path, "flag")
            } else {
                item_path.clone()
            };
            issues.push(loc, &p, m, None);
        }
        out.push(prerequisite);
    }
    out
}

/// Reads segment `name` from `node` (its fields, at `path`).
pub fn read_segment(name: &str, node: &Node, path: &str, issues: &mut Issues) -> Option<Segment> {
    if let Err(m) = check_flag_name(name) {
        issues.push(node.loc, path, m.replace("flag name", "segment name"), None);
    }
    let mut f = Fields::new(node, path, issues)?;
    if let Some(given) = f.str("name", issues)
        && given != name
    {
        issues.push(
            node.get("name").and_then(|n| n.loc),
            &f.path_of("name"),
            format!("`{given}` differs from the segment's name `{name}`"),
            None,
        );
    }
    let description = f.str("description", issues).unwrap_or_default().to_owned();
    let constraints = match f.list("constraints", issues) {
        Some(list) => read_constraints(list, &f.path_of("constraints"), issues),
        None => {
            if node.get("constraints").is_none() {
                issues.push(
                    node.loc,
                    &f.path_of("constraints"),
                    "a segment needs `constraints`",
                    Some("list the conditions a context must meet to be in it".into()),
                );
            }
            Vec::new()
        }
    };
    f.finish(issues);
    Some(Segment {
        name: name.to_owned(),
        description,
        constraints,
    })
}

/// The problems of a segment that came from trusted JSON (the store, an
/// update).
///
/// # Errors
/// `Config` listing every problem.
pub fn validate_segment(segment: &Segment) -> crate::Result<()> {
    let json = serde_json::to_value(segment)?;
    let node = Node::from_json(&json);
    let mut issues = Issues::new("");
    read_segment(
        &segment.name,
        &node,
        &format!("segments.{}", segment.name),
        &mut issues,
    );
    issues.finish(()).map_err(crate::Error::from)
}
