//! Reading one flag definition, from YAML (`feature_flags.yml`) or from a
//! JSON update, with every problem recorded with its path and location; and
//! the checks of a whole set of flags. The flag engine (`crate::flags`)
//! only ever sees definitions that passed through here.

use std::collections::HashMap;

use super::reader::{Fields, join};
use super::targeting::{
    check_stickiness, check_variants, read_environments, read_prerequisites, read_rules,
    read_variants,
};
use super::{Issues, Node, Value};
use crate::common::limits::{
    MAX_DESCRIPTION_BYTES, MAX_LIST_ITEM_BYTES, MAX_LIST_ITEMS, MAX_PREREQUISITE_TREE,
    MAX_PREREQUISITES, check_bytes, excerpt,
};
use crate::common::names::{check_flag_name, did_you_mean};
use crate::common::percent::check_percentage;
use crate::common::time::parse_rfc3339_ms;
use crate::error::{Error, Result};
use crate::flags::{
    FlagDefinition, FlagSet, FlagType, GuardAction, Guardrails, Hold, Metadata, RiskLevel,
    ScheduleStep, Segment,
};

/// The YAML names of the risk levels.
const RISK_LEVELS: [(&str, RiskLevel); 4] = [
    ("low", RiskLevel::Low),
    ("medium", RiskLevel::Medium),
    ("high", RiskLevel::High),
    ("critical", RiskLevel::Critical),
];

/// Reads and checks the flag `name` from `node` (its fields, at `path`),
/// recording every problem in `issues`. Returns `None` only when the
/// problems leave nothing to build (not a mapping, no usable `type`).
pub fn read_flag(
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
            format!(
                "`{}` differs from the flag's name `{}`",
                excerpt(given),
                excerpt(name)
            ),
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
    if let Some(items) = f.list("prerequisites", issues) {
        def.prerequisites = read_prerequisites(items, &f.path_of("prerequisites"), issues);
    }
    if let Some(items) = f.list("rules", issues) {
        def.rules = read_rules(items, &f.path_of("rules"), issues);
    }
    if let Some(n) = f.node("environments") {
        def.environments = read_environments(n, &f.path_of("environments"), flag_type, issues);
    }
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
    if let Some(n) = f.node("guardrails") {
        def.guardrails = read_guardrails(n, &f.path_of("guardrails"), issues);
    }
    if let Some(n) = f.node("hold") {
        def.hold = read_hold(n, &f.path_of("hold"), issues);
    }
    f.finish(issues);
    let flag_type = flag_type?;
    check_applicable_fields(flag_type, node, path, issues);
    check(&def, node, path, issues);
    Some(def)
}

/// The problems of a definition that came from trusted JSON (the store).
///
/// # Errors
/// `Config` listing every problem.
pub fn validate_flag(def: &FlagDefinition) -> crate::Result<()> {
    let json = serde_json::to_value(def)?;
    let node = Node::from_json(&json);
    let mut issues = Issues::new("");
    read_flag(&def.name, &node, &def.name, &mut issues);
    issues.finish(()).map_err(crate::Error::from)
}

/// Checks values and their combinations; the shape was read already.
fn check(def: &FlagDefinition, node: &Node, path: &str, issues: &mut Issues) {
    let at = |key: &str| node.locate(key).or(node.loc);
    let push = |issues: &mut Issues, key: &str, message: String, hint: Option<String>| {
        issues.push(at(key), &join(path, key), message, hint);
    };
    if let Some(p) = def.percentage
        && let Err(m) = check_percentage(p)
    {
        push(issues, "percentage", m, Some("use e.g. 25 or 12.5".into()));
    }
    // "needs X" only when X is absent; a present but wrong X was reported already.
    // An empty list counts as absent: it is not stored (a definition read
    // back from the store has no such field), so what is accepted here must
    // not need it.
    let absent = |key: &str| {
        node.get(key).is_none_or(|n| match &n.value {
            Value::Null => true,
            Value::Seq(items) => items.is_empty(),
            _ => false,
        })
    };
    match def.flag_type {
        FlagType::Percentage if absent("percentage") => push(
            issues,
            "percentage",
            "a percentage flag needs `percentage`".into(),
            Some("add e.g. `percentage: 25`".into()),
        ),
        FlagType::AbTest if absent("experiment") && absent("variants") => {
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
    if let Some(s) = &def.stickiness {
        check_stickiness(s, at("stickiness"), &join(path, "stickiness"), issues);
        if matches!(s.as_str(), "default" | "random")
            && def.flag_type == FlagType::AbTest
            && def.variants.is_empty()
            && def.experiment.is_some()
        {
            push(
                issues,
                "stickiness",
                format!("a flag linked to an experiment is sticky on an attribute, not `{s}`"),
                Some(
                    "an experiment assigns each unit once: name the attribute (user_id by default)"
                        .into(),
                ),
            );
        }
    }
    let times = [("start_time", &def.start_time), ("end_time", &def.end_time)];
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
    if let Some(list) = node.get("variants") {
        let split = def.flag_type == FlagType::AbTest;
        check_variants(&def.variants, split, list, &join(path, "variants"), issues);
    }
    check_schedule(def, node, path, issues);
    if let Err(m) = check_bytes("description", &def.description, MAX_DESCRIPTION_BYTES) {
        push(
            issues,
            "description",
            m,
            Some("link to a document instead".into()),
        );
    }
    let lists = [
        ("include_groups", &def.include_groups),
        ("exclude_groups", &def.exclude_groups),
        ("allow_users", &def.allow_users),
        ("deny_users", &def.deny_users),
        ("tags", &def.tags),
    ];
    for (key, items) in lists {
        if items.len() > MAX_LIST_ITEMS {
            push(
                issues,
                key,
                format!(
                    "{} items, more than the {MAX_LIST_ITEMS} allowed",
                    items.len()
                ),
                Some("target a group that holds them instead of listing each".into()),
            );
        } else if let Some((i, item)) = items
            .iter()
            .enumerate()
            .find(|(_, item)| item.len() > MAX_LIST_ITEM_BYTES)
        {
            push(
                issues,
                &format!("{key}[{i}]"),
                format!(
                    "has {} bytes, more than the {MAX_LIST_ITEM_BYTES} allowed",
                    item.len()
                ),
                None,
            );
        }
    }
    if def.prerequisites.len() > MAX_PREREQUISITES {
        push(
            issues,
            "prerequisites",
            format!(
                "{} prerequisites, more than the {MAX_PREREQUISITES} allowed",
                def.prerequisites.len()
            ),
            Some("require only the flags this one needs directly".into()),
        );
    }
}

fn check_schedule(def: &FlagDefinition, node: &Node, path: &str, issues: &mut Issues) {
    let mut previous: Option<i64> = None;
    for (i, step) in def.schedule.iter().enumerate() {
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
            format!("unknown flag type `{}`", excerpt(name)),
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
        m.risk_level = RISK_LEVELS
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

/// The severities an alert guardrail may name.
const SEVERITIES: [&str; 3] = ["warning", "error", "critical"];

/// What a guardrail does when it sees harm.
fn read_action(
    f: &mut Fields<'_>,
    node: &Node,
    key: &'static str,
    issues: &mut Issues,
) -> Option<GuardAction> {
    let name = f.str(key, issues)?;
    let action = match name {
        "pause" => Some(GuardAction::Pause),
        "rollback" => Some(GuardAction::Rollback),
        _ => None,
    };
    if action.is_none() {
        issues.push(
            node.get(key).and_then(|n| n.loc),
            &f.path_of(key),
            format!("unknown action `{name}`"),
            Some("pause (hold the percentage reached) or rollback (back to 0%)".into()),
        );
    }
    action
}

fn read_guardrails(node: &Node, path: &str, issues: &mut Issues) -> Option<Guardrails> {
    let mut f = Fields::new(node, path, issues)?;
    let alerts = f.strings("alerts", issues).unwrap_or_default();
    let min_severity = f.str("min_severity", issues).map(str::to_owned);
    let experiments = f.strings("experiments", issues).unwrap_or_default();
    let on_trigger = read_action(&mut f, node, "on_trigger", issues).unwrap_or_default();
    f.finish(issues);
    if let Some(s) = &min_severity
        && !SEVERITIES.contains(&s.as_str())
    {
        issues.push(
            node.get("min_severity").and_then(|n| n.loc),
            &join(path, "min_severity"),
            format!("unknown severity `{s}`"),
            Some(format!("one of {}", SEVERITIES.join(", "))),
        );
    }
    if alerts.is_empty() && experiments.is_empty() {
        issues.push(
            node.loc,
            path,
            "guardrails watch nothing",
            Some("name alert rules of performance_monitoring.yml (`alerts`) or experiments with guardrail metrics (`experiments`)".into()),
        );
    }
    Some(Guardrails {
        alerts,
        min_severity,
        experiments,
        on_trigger,
    })
}

fn read_hold(node: &Node, path: &str, issues: &mut Issues) -> Option<Hold> {
    let mut f = Fields::new(node, path, issues)?;
    let percentage = f.number("percentage", issues);
    let action = read_action(&mut f, node, "action", issues);
    let reason = f.str("reason", issues).map(str::to_owned);
    let at = f.str("at", issues).map(str::to_owned);
    f.finish(issues);
    if let Some(p) = percentage
        && let Err(m) = check_percentage(p)
    {
        issues.push(
            node.get("percentage").and_then(|n| n.loc),
            &join(path, "percentage"),
            m,
            None,
        );
    }
    if let Some(t) = &at
        && let Err(m) = parse_rfc3339_ms(t)
    {
        issues.push(
            node.get("at").and_then(|n| n.loc),
            &join(path, "at"),
            m,
            None,
        );
    }
    for (present, field) in [
        (percentage.is_some(), "percentage"),
        (reason.is_some(), "reason"),
        (at.is_some(), "at"),
    ] {
        if !present && node.get(field).is_none() {
            issues.push(
                node.loc,
                &join(path, field),
                format!("a hold needs `{field}`"),
                None,
            );
        }
    }
    Some(Hold {
        percentage: percentage?,
        action: action.unwrap_or_default(),
        reason: reason?,
        at: at?,
    })
}

/// Validates `definitions` (each one, then the set: unique names,
/// prerequisites that exist, no cycles) and compiles them into a
/// [`FlagSet`], ordered by name. Rules may name no segment: see
/// [`compile_flag_set`].
///
/// # Errors
/// `Config` listing every problem, with field paths `flags.NAME.FIELD`.
pub fn compile_flags(definitions: Vec<FlagDefinition>) -> Result<FlagSet> {
    compile_flag_set(definitions, Vec::new(), None)
}

/// [`compile_flags`] with the segments the flags' rules name, checked
/// with them; `host` is the machine's name for `hostname` constraints.
///
/// # Errors
/// `Config` listing every problem of the flags and the segments.
pub fn compile_flag_set(
    definitions: Vec<FlagDefinition>,
    segments: Vec<Segment>,
    host: Option<&str>,
) -> Result<FlagSet> {
    let mut issues = Issues::new("");
    for def in &definitions {
        if let Err(e) = validate_flag(def) {
            issues.push(
                None,
                &format!("flags.{}", def.name),
                e.message().to_owned(),
                None,
            );
        }
    }
    for segment in &segments {
        if let Err(e) = super::targeting::validate_segment(segment) {
            issues.push(None, "", e.message().to_owned(), None);
        }
    }
    check_flag_set(&definitions, &segments, None, &mut issues);
    issues.finish(()).map_err(Error::from)?;
    Ok(FlagSet::build_with(definitions, segments, host))
}

/// Checks a whole set: names are unique, prerequisites name existing flags
/// (and variants they have), prerequisites have no cycles, and rules name
/// existing segments.
///
/// # Errors
/// `Config` listing every problem.
pub fn validate_flag_set(definitions: &[FlagDefinition], segments: &[Segment]) -> Result<()> {
    let mut issues = Issues::new("");
    check_flag_set(definitions, segments, None, &mut issues);
    issues.finish(()).map_err(Error::from)
}

/// Every variant name a flag can give: its own, its rules' and its
/// environments'.
pub(crate) fn variant_names(def: &FlagDefinition) -> Vec<&str> {
    let mut lists: Vec<&[crate::flags::Variant]> = vec![&def.variants];
    lists.extend(def.rules.iter().map(|r| r.variants.as_slice()));
    for o in def.environments.values() {
        lists.push(o.variants.as_deref().unwrap_or_default());
        lists.extend(o.rules.iter().flatten().map(|r| r.variants.as_slice()));
    }
    let mut names: Vec<&str> = Vec::new();
    for v in lists.into_iter().flatten() {
        if !names.contains(&v.name.as_str()) {
            names.push(&v.name);
        }
    }
    names
}

/// [`validate_flag_set`] recording into `issues`, located through `root` (the
/// document whose `flags` mapping holds the definitions) when there is one.
pub(crate) fn check_flag_set(
    definitions: &[FlagDefinition],
    segments: &[Segment],
    root: Option<&Node>,
    issues: &mut Issues,
) {
    let locate = |path: &str| root.and_then(|r| r.locate(path));
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (i, def) in definitions.iter().enumerate() {
        if position.insert(&def.name, i).is_some() {
            let path = format!("flags.{}", def.name);
            issues.push(
                locate(&path),
                &path,
                format!("flag `{}` is defined twice", def.name),
                None,
            );
        }
    }
    let known: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    for def in definitions {
        for (k, p) in def.prerequisites.iter().enumerate() {
            let path = format!("flags.{}.prerequisites[{k}]", def.name);
            let Some(parent) = position.get(p.flag.as_str()).map(|&i| &definitions[i]) else {
                let hint = did_you_mean(&p.flag, known.iter().copied());
                issues.push(
                    locate(&path),
                    &path,
                    format!("prerequisite `{}` is not a flag", p.flag),
                    (!hint.is_empty()).then(|| hint.trim_start_matches("; ").to_string()),
                );
                continue;
            };
            if let Some(experiment) = Some(parent)
                .filter(|d| d.variants.is_empty())
                .and_then(|d| d.experiment.as_deref())
            {
                // Such a flag is decided by the experiment's sticky
                // assignment, which the pure engine cannot see.
                issues.push(
                    locate(&path),
                    &path,
                    format!("prerequisite `{}` is decided by experiment `{experiment}` and cannot be a prerequisite", p.flag),
                    Some("require the experiment's variant in code, or give the prerequisite its own variants".into()),
                );
                continue;
            }
            let offered = variant_names(parent);
            for (j, v) in p.variants.iter().enumerate() {
                if !offered.contains(&v.as_str()) {
                    let path = format!("{path}.variants[{j}]");
                    let hint = if offered.is_empty() {
                        format!("flag `{}` has no variants", p.flag)
                    } else {
                        format!("its variants: {}", offered.join(", "))
                    };
                    issues.push(
                        locate(&path),
                        &path,
                        format!("flag `{}` has no variant `{v}`", p.flag),
                        Some(hint),
                    );
                }
            }
        }
        check_segment_references(def, segments, &locate, issues);
    }
    // Depth-first search; a prerequisite edge into a flag still on the
    // stack closes a cycle, which is reported once at that edge.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut marks = vec![Mark::New; definitions.len()];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    // Flags in the order they were done: each after its prerequisites.
    let mut done = Vec::with_capacity(definitions.len());
    let mut cycles = false;
    for start in 0..definitions.len() {
        if marks[start] != Mark::New {
            continue;
        }
        marks[start] = Mark::OnStack;
        stack.push((start, 0));
        while let Some(&mut (flag, ref mut next)) = stack.last_mut() {
            let prerequisites = &definitions[flag].prerequisites;
            if *next == prerequisites.len() {
                marks[flag] = Mark::Done;
                done.push(flag);
                stack.pop();
                continue;
            }
            let k = *next;
            *next += 1;
            let Some(&target) = position.get(prerequisites[k].flag.as_str()) else {
                continue;
            };
            match marks[target] {
                Mark::New => {
                    marks[target] = Mark::OnStack;
                    stack.push((target, 0));
                }
                Mark::OnStack => {
                    cycles = true;
                    let from = stack.iter().position(|&(f, _)| f == target).unwrap_or(0);
                    let mut names: Vec<&str> = stack[from..]
                        .iter()
                        .map(|&(f, _)| definitions[f].name.as_str())
                        .collect();
                    names.push(&definitions[target].name);
                    let path = format!("flags.{}.prerequisites[{k}]", definitions[flag].name);
                    issues.push(
                        locate(&path),
                        &path,
                        format!("prerequisite cycle: {}", names.join(" → ")),
                        Some("a flag cannot depend on itself, directly or through others".into()),
                    );
                }
                Mark::Done => {}
            }
        }
    }
    if !cycles {
        check_prerequisite_trees(definitions, &position, &done, root, issues);
    }
}

/// Reports each flag whose check would evaluate more than
/// [`MAX_PREREQUISITE_TREE`] flags. `done` lists every flag after its
/// prerequisites (there are no cycles), so one pass sizes every tree.
fn check_prerequisite_trees(
    definitions: &[FlagDefinition],
    position: &HashMap<&str, usize>,
    done: &[usize],
    root: Option<&Node>,
    issues: &mut Issues,
) {
    // Saturating just above the limit: a diamond of many levels doubles at
    // each one and would overflow.
    let mut size = vec![0usize; definitions.len()];
    for &flag in done {
        size[flag] = definitions[flag]
            .prerequisites
            .iter()
            .filter_map(|p| position.get(p.flag.as_str()))
            .fold(1, |total, &p| {
                (total + size[p]).min(MAX_PREREQUISITE_TREE + 1)
            });
    }
    for (def, &n) in definitions.iter().zip(&size) {
        if n > MAX_PREREQUISITE_TREE {
            let path = format!("flags.{}.prerequisites", def.name);
            issues.push(
                root.and_then(|r| r.locate(&path)),
                &path,
                format!(
                    "a check of this flag would evaluate more than {MAX_PREREQUISITE_TREE} flags \
                     (its prerequisites, theirs and so on, once for each way they are reached)"
                ),
                Some("require only the flags this one needs directly".into()),
            );
        }
    }
}

/// Every segment a rule of `def` names (in the flag or its environments)
/// must exist.
fn check_segment_references(
    def: &FlagDefinition,
    segments: &[Segment],
    locate: &dyn Fn(&str) -> Option<super::Loc>,
    issues: &mut Issues,
) {
    let names = || segments.iter().map(|s| s.name.as_str());
    let mut lists: Vec<(String, &[crate::flags::Rule])> =
        vec![(format!("flags.{}.rules", def.name), &def.rules)];
    for (env, o) in &def.environments {
        if let Some(rules) = &o.rules {
            lists.push((
                format!("flags.{}.environments.{env}.rules", def.name),
                rules,
            ));
        }
    }
    for (base, rules) in lists {
        for (i, rule) in rules.iter().enumerate() {
            for (k, segment) in rule.segments.iter().enumerate() {
                if names().any(|n| n == segment) {
                    continue;
                }
                let path = format!("{base}[{i}].segments[{k}]");
                issues.push(
                    locate(&path),
                    &path,
                    format!(
                        "segment `{segment}` does not exist{}",
                        did_you_mean(segment, names())
                    ),
                    Some("define it under `segments:` in feature_flags.yml".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_yaml(yaml: &str) -> Result<FlagDefinition, crate::config::ConfigError> {
        let node = crate::config::parse_yaml(yaml, "t.yml")?;
        let mut issues = Issues::new("t.yml");
        let def = read_flag("f", &node, "flags.f", &mut issues);
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
        validate_flag(&back).unwrap();
        // The JSON read path gives the same definition as the YAML one.
        let mut issues = Issues::new("");
        let again = read_flag("f", &Node::from_json(&json), "f", &mut issues).unwrap();
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

    fn flag(name: &str, prerequisites: &[&str]) -> FlagDefinition {
        let mut f = FlagDefinition::new(name, FlagType::Boolean);
        f.enabled = true;
        f.prerequisites = prerequisites.iter().map(|p| (*p).into()).collect();
        f
    }

    #[test]
    fn cycles_and_unknown_prerequisites_are_rejected_together() {
        let err = compile_flags(vec![
            flag("a", &["b"]),
            flag("b", &["c"]),
            flag("c", &["a"]),
            flag("d", &["d"]),
            flag("e", &["nope"]),
        ])
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        let m = err.message();
        assert!(
            m.contains("flags.c.prerequisites[0]: prerequisite cycle: a → b → c → a"),
            "{m}"
        );
        assert!(
            m.contains("flags.d.prerequisites[0]: prerequisite cycle: d → d"),
            "{m}"
        );
        assert!(
            m.contains("flags.e.prerequisites[0]: prerequisite `nope` is not a flag"),
            "{m}"
        );
        assert!(m.starts_with("3 configuration problems"), "{m}");
    }

    #[test]
    fn diamonds_are_not_cycles() {
        let set = compile_flags(vec![
            flag("top", &["left", "right"]),
            flag("left", &["base"]),
            flag("right", &["base"]),
            flag("base", &[]),
        ])
        .unwrap();
        assert_eq!(set.len(), 4);
        assert_eq!(set.name(set.lookup("top").unwrap()), Some("top"));
        assert_eq!(set.lookup("missing"), None);
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let err = validate_flag_set(&[flag("a", &[]), flag("a", &[])], &[]).unwrap_err();
        assert!(err.message().contains("flag `a` is defined twice"));
    }
}
