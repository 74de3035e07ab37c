//! Importing Unleash: an Unleash client-features document (what
//! `/api/client/features` serves, and what the Unleash client
//! specification's test files hold as `state`) translated into cha-deploy
//! flags and segments. Pure: it reads a document and returns definitions,
//! with everything it could not translate listed by name; the handle
//! (`Cha::import_unleash`) writes them.
//!
//! # What becomes what
//!
//! - A feature becomes a boolean flag: `enabled` is its kill switch, each
//!   strategy one rule (in order; a feature without strategies is on for
//!   everyone, as in Unleash), its variants the flag's variants (their
//!   first variant's stickiness the flag's), its dependencies
//!   prerequisites.
//! - Strategies: `default` (a rule without conditions), `userWithId`
//!   (`user_id IN`), `gradualRolloutUserId` / `gradualRolloutSessionId`
//!   (a percentage sticky on `user_id` / `session_id`, seeded by
//!   `groupId`), `gradualRolloutRandom` (a percentage sticky on `random`),
//!   `flexibleRollout` (percentage, stickiness, `groupId` as the seed),
//!   `remoteAddress` (`remote_address IN_CIDR`) and `applicationHostname`
//!   (`hostname IN`, case-insensitive). A strategy's constraints, segments
//!   and variants go with its rule.
//! - Context fields take cha-deploy's names (`userId` → `user_id`,
//!   `currentTime` → `current_time`, ...); any other is a custom property.
//! - Segments (by numeric id in Unleash) are named by their `name` when it
//!   is a valid name, else `segment-ID`.
//! - Payloads: `string` and `csv` become JSON strings, `number` a JSON
//!   number, `json` the JSON value itself.
//!
//! # What is reported
//!
//! Anything without an exact translation is listed in
//! [`UnleashImport::untranslated`] with the item, where it was in the
//! document and what was done instead, never dropped silently: a custom
//! strategy or a constraint that cannot be evaluated makes its rule
//! switched off (`enabled: false`, it never matches, as the strategy never
//! matches in Unleash); invalid addresses of a CIDR list are left out (as
//! Unleash ignores them); a feature that depends on a missing flag, or on a
//! flag with dependencies of its own, is imported switched off (Unleash
//! evaluates it off), without that dependency.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::common::names::check_flag_name;
use crate::error::{Error, Result};
use crate::flags::rules::CompiledConstraint;
use crate::flags::{
    Constraint, FlagDefinition, FlagType, Operator, Prerequisite, Rule, Segment, Variant,
    VariantOverride,
};

/// The largest Unleash document read, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 << 20;

/// An Unleash document translated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnleashImport {
    /// The flags, in the document's order.
    pub flags: Vec<FlagDefinition>,
    /// The segments, in the document's order.
    pub segments: Vec<Segment>,
    /// What could not be translated exactly, and what was done instead.
    pub untranslated: Vec<Untranslated>,
}

/// One thing of an Unleash document without an exact translation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Untranslated {
    /// The flag (`Feature.A`) or segment (`segment 4`) it belongs to.
    pub item: String,
    /// Where in the document: `features[3].strategies[1].constraints[0]`.
    pub path: String,
    /// What could not be translated, and what was done instead.
    pub message: String,
}

/// Translates an Unleash client-features document (JSON text).
///
/// # Errors
/// `InvalidArgument` when the text is not JSON or not such a document (no
/// `features` list); everything finer is reported in the result.
pub fn import_unleash(text: &str) -> Result<UnleashImport> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::invalid_argument(format!(
            "the Unleash document has {} bytes, more than the {MAX_DOCUMENT_BYTES} read",
            text.len()
        )));
    }
    let document: Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("the Unleash document is not JSON: {e}")))?;
    import_unleash_value(&document)
}

/// [`import_unleash`] for a parsed document.
///
/// # Errors
/// As [`import_unleash`].
pub fn import_unleash_value(document: &Value) -> Result<UnleashImport> {
    let features = document
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::invalid_argument(
                "not an Unleash client-features document: it has no `features` list \
                 (expected {\"version\": 2, \"features\": [...], \"segments\": [...]})",
            )
        })?;
    let mut import = Importer::default();
    import.segments(document.get("segments"));
    let mut flags = Vec::new();
    for (i, feature) in features.iter().enumerate() {
        if let Some(flag) = import.feature(feature, &format!("features[{i}]")) {
            flags.push(flag);
        }
    }
    import.dependencies(&mut flags, features);
    Ok(UnleashImport {
        flags,
        segments: import.segment_list,
        untranslated: import.untranslated,
    })
}

impl UnleashImport {
    /// The definitions as the text of a `feature_flags.yml`, headed by a
    /// comment naming the source and listing what was not translated.
    pub fn to_yaml(&self, source: &str) -> String {
        let mut text = format!(
            "# feature_flags.yml, imported from the Unleash document {} by cha-deploy {}.\n",
            source
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>(),
            crate::VERSION
        );
        if !self.untranslated.is_empty() {
            text.push_str("# Not translated exactly (see `cha-deploy import unleash`):\n");
            for u in &self.untranslated {
                let line = format!("#   {} ({}): {}", u.item, u.path, u.message);
                text.extend(line.chars().filter(|c| !c.is_control()));
                text.push('\n');
            }
        }
        text.push_str("version: 2\n");
        let write = |text: &mut String, key: &str, items: Vec<(String, super::Node)>| {
            if items.is_empty() {
                text.push_str(&format!("{key}: {{}}\n"));
                return;
            }
            text.push_str(&format!("{key}:\n"));
            let entries: Vec<(super::Key, super::Node)> = items
                .into_iter()
                .map(|(name, node)| (super::Key { name, loc: None }, node))
                .collect();
            super::yaml_writer::write_entries(text, &entries, 2);
        };
        let without_name = |mut node: super::Node| {
            if let super::Value::Map(entries) = &mut node.value {
                entries.retain(|(k, _)| k.name != "name");
            }
            node
        };
        let flags = self
            .flags
            .iter()
            .map(|f| {
                let node = super::yaml_writer::to_ordered_node(f)
                    .expect("a flag definition has a YAML form");
                (f.name.clone(), without_name(node))
            })
            .collect();
        write(&mut text, "flags", flags);
        if !self.segments.is_empty() {
            let segments = self
                .segments
                .iter()
                .map(|s| {
                    let node =
                        super::yaml_writer::to_ordered_node(s).expect("a segment has a YAML form");
                    (s.name.clone(), without_name(node))
                })
                .collect();
            write(&mut text, "segments", segments);
        }
        text
    }
}

/// Unleash's context field names, and cha-deploy's.
const CONTEXT_FIELDS: [(&str, &str); 6] = [
    ("userId", "user_id"),
    ("sessionId", "session_id"),
    ("remoteAddress", "remote_address"),
    ("environment", "environment"),
    ("appName", "app_name"),
    ("currentTime", "current_time"),
];

/// Fields of a feature that change nothing in an evaluation.
const FEATURE_INFO: [&str; 10] = [
    "description",
    "type",
    "project",
    "impressionData",
    "stale",
    "createdAt",
    "lastSeenAt",
    "archivedAt",
    "favorite",
    "tags",
];

#[derive(Default)]
struct Importer {
    /// Unleash segment id → our name, or `None` for a segment whose
    /// constraints could not be translated.
    segment_names: HashMap<i64, Option<String>>,
    segment_list: Vec<Segment>,
    untranslated: Vec<Untranslated>,
}

/// Where a translation is: the item it belongs to and the path in the
/// document.
struct At<'a> {
    item: &'a str,
    path: String,
}

impl Importer {
    fn report(&mut self, at: &At<'_>, message: impl Into<String>) {
        self.untranslated.push(Untranslated {
            item: at.item.to_string(),
            path: at.path.clone(),
            message: message.into(),
        });
    }

    fn segments(&mut self, segments: Option<&Value>) {
        let Some(list) = segments.and_then(Value::as_array) else {
            return;
        };
        for (i, s) in list.iter().enumerate() {
            let path = format!("segments[{i}]");
            let Some(id) = s.get("id").and_then(Value::as_i64) else {
                let at = At {
                    item: "segment",
                    path,
                };
                self.report(
                    &at,
                    "a segment without a numeric `id` cannot be referenced: left out",
                );
                continue;
            };
            let given = s.get("name").and_then(Value::as_str);
            let name = match given {
                Some(n)
                    if check_flag_name(n).is_ok()
                        && !self.segment_list.iter().any(|x| x.name == n) =>
                {
                    n.to_string()
                }
                _ => format!("segment-{id}"),
            };
            let item = format!("segment {id}");
            let at = At {
                item: &item,
                path: path.clone(),
            };
            let mut constraints = Vec::new();
            let mut broken = false;
            for (k, c) in s
                .get("constraints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = At {
                    item: &item,
                    path: format!("{path}.constraints[{k}]"),
                };
                match self.constraint(c, &at) {
                    Translated::Exact(c) => constraints.push(c),
                    Translated::AlwaysTrue => {}
                    Translated::Never => broken = true,
                }
            }
            if broken {
                self.report(
                    &at,
                    "the segment has a constraint that cannot be evaluated: the rules that name it are switched off",
                );
                self.segment_names.insert(id, None);
                continue;
            }
            let description = match given {
                Some(n) if n != name => format!("Unleash segment {id}, {n:?}"),
                _ => String::new(),
            };
            self.segment_names.insert(id, Some(name.clone()));
            self.segment_list.push(Segment {
                name,
                description,
                constraints,
            });
        }
    }

    fn feature(&mut self, feature: &Value, path: &str) -> Option<FlagDefinition> {
        let Some(name) = feature.get("name").and_then(Value::as_str) else {
            let at = At {
                item: "feature",
                path: path.to_string(),
            };
            self.report(&at, "a feature without a `name`: left out");
            return None;
        };
        let at = At {
            item: name,
            path: path.to_string(),
        };
        if let Err(m) = check_flag_name(name) {
            self.report(&at, format!("{m}: the feature is left out"));
            return None;
        }
        let mut def = FlagDefinition::new(name, FlagType::Boolean);
        def.enabled = feature
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        def.description = feature
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(project) = feature.get("project").and_then(Value::as_str) {
            def.metadata.component = Some(project.to_string());
        }
        if let Some(kind) = feature.get("type").and_then(Value::as_str) {
            def.tags.push(kind.to_string());
        }
        if let Some(object) = feature.as_object() {
            for key in object.keys() {
                let known = ["name", "enabled", "strategies", "variants", "dependencies"]
                    .contains(&key.as_str())
                    || FEATURE_INFO.contains(&key.as_str());
                if !known {
                    let at = At {
                        item: name,
                        path: format!("{path}.{key}"),
                    };
                    self.report(
                        &at,
                        format!("unknown feature field `{key}`: not translated"),
                    );
                }
            }
        }
        for (i, strategy) in feature
            .get("strategies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = At {
                item: name,
                path: format!("{path}.strategies[{i}]"),
            };
            def.rules.push(self.strategy(strategy, name, &at));
        }
        let variants = feature.get("variants").and_then(Value::as_array);
        if let Some(variants) = variants.filter(|v| !v.is_empty()) {
            let at = At {
                item: name,
                path: format!("{path}.variants"),
            };
            def.variants = self.variants(variants, true, &at);
            let stickiness = variants[0].get("stickiness").and_then(Value::as_str);
            def.stickiness = Some(stickiness_of(stickiness));
        }
        Some(def)
    }

    /// A strategy as a rule; one that cannot be evaluated is kept switched
    /// off.
    fn strategy(&mut self, strategy: &Value, flag: &str, at: &At<'_>) -> Rule {
        let mut rule = Rule::new();
        let kind = strategy.get("name").and_then(Value::as_str).unwrap_or("");
        let param = |key: &str| {
            strategy
                .get("parameters")
                .and_then(|p| p.get(key))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        };
        let off = |this: &mut Importer, rule: &mut Rule, why: String| {
            this.report(at, format!("{why}: the rule is switched off"));
            rule.enabled = false;
        };
        let percentage = |key: &str| -> std::result::Result<f64, String> {
            match param(key) {
                None => Err(format!("strategy `{kind}` has no `{key}`")),
                Some(p) => match p.trim().parse::<u32>() {
                    Ok(p) if p <= 100 => Ok(f64::from(p)),
                    _ => Err(format!(
                        "strategy `{kind}`: `{key}` {p:?} is not a whole percentage 0–100"
                    )),
                },
            }
        };
        let group_id = param("groupId");
        match kind {
            "default" => {}
            "userWithId" => match param("userIds") {
                Some(ids) => rule.constraints.push(list_constraint(
                    "user_id",
                    Operator::In,
                    ids.split(',').map(|s| s.trim().to_string()).collect(),
                )),
                None => off(
                    self,
                    &mut rule,
                    "strategy `userWithId` has no `userIds`".into(),
                ),
            },
            "gradualRolloutUserId" | "gradualRolloutSessionId" => {
                let unit = if kind == "gradualRolloutUserId" {
                    "user_id"
                } else {
                    "session_id"
                };
                match (percentage("percentage"), &group_id) {
                    (Ok(p), Some(_)) => {
                        rule.percentage = Some(p);
                        rule.stickiness = Some(unit.into());
                    }
                    (Err(why), _) => off(self, &mut rule, why),
                    (Ok(_), None) => off(
                        self,
                        &mut rule,
                        format!("strategy `{kind}` has no `groupId`"),
                    ),
                }
            }
            "gradualRolloutRandom" => match percentage("percentage") {
                Ok(p) => {
                    rule.percentage = Some(p);
                    rule.stickiness = Some("random".into());
                }
                Err(why) => off(self, &mut rule, why),
            },
            "flexibleRollout" => match percentage("rollout") {
                Ok(p) => {
                    rule.percentage = Some(p);
                    rule.stickiness = Some(stickiness_of(param("stickiness").as_deref()));
                }
                Err(why) => off(self, &mut rule, why),
            },
            "remoteAddress" => match param("IPs") {
                Some(ips) => {
                    let mut valid = Vec::new();
                    for ip in ips.split(',').map(str::trim) {
                        if cidr_ok(ip) {
                            valid.push(ip.to_string());
                        } else {
                            self.report(
                                at,
                                format!("`{ip}` is not an IP address or CIDR range: left out of the list (Unleash ignores it too)"),
                            );
                        }
                    }
                    rule.constraints.push(list_constraint(
                        "remote_address",
                        Operator::InCidr,
                        valid,
                    ));
                }
                None => off(
                    self,
                    &mut rule,
                    "strategy `remoteAddress` has no `IPs`".into(),
                ),
            },
            "applicationHostname" => {
                let hosts = param("hostNames").unwrap_or_default();
                let mut c = list_constraint(
                    "hostname",
                    Operator::In,
                    hosts.split(',').map(|s| s.trim().to_lowercase()).collect(),
                );
                c.case_insensitive = true;
                rule.constraints.push(c);
            }
            other => off(
                self,
                &mut rule,
                format!("custom strategy `{other}` cannot be evaluated by cha-deploy"),
            ),
        }
        if let Some(g) = group_id.filter(|g| g != flag && !g.is_empty()) {
            rule.seed = Some(g);
        }
        if strategy.get("disabled").and_then(Value::as_bool) == Some(true) {
            rule.enabled = false;
        }
        for (k, c) in strategy
            .get("constraints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = At {
                item: at.item,
                path: format!("{}.constraints[{k}]", at.path),
            };
            match self.constraint(c, &at) {
                Translated::Exact(c) => rule.constraints.push(c),
                Translated::AlwaysTrue => {}
                Translated::Never => rule.enabled = false,
            }
        }
        for (k, id) in strategy
            .get("segments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = At {
                item: at.item,
                path: format!("{}.segments[{k}]", at.path),
            };
            match id
                .as_i64()
                .and_then(|id| self.segment_names.get(&id).cloned())
            {
                Some(Some(name)) => rule.segments.push(name),
                Some(None) => rule.enabled = false,
                None => {
                    rule.enabled = false;
                    self.report(
                        &at,
                        format!("segment {id} does not exist: the rule is switched off"),
                    );
                }
            }
        }
        if let Some(variants) = strategy
            .get("variants")
            .and_then(Value::as_array)
            .filter(|v| !v.is_empty())
        {
            let at = At {
                item: at.item,
                path: format!("{}.variants", at.path),
            };
            rule.variants = self.variants(variants, false, &at);
            // Unleash picks a strategy's variants by its `stickiness`
            // parameter; a percentage strategy's unit is its own.
            let wanted = stickiness_of(param("stickiness").as_deref());
            match &rule.stickiness {
                None => rule.stickiness = Some(wanted),
                Some(s) if *s != wanted => self.report(
                    &at,
                    format!("the variants are sticky on `{wanted}` in Unleash and on `{s}` (the rollout's) here"),
                ),
                Some(_) => {}
            }
        }
        if rule.stickiness.is_some() && rule.percentage.is_none() && rule.variants.is_empty() {
            rule.stickiness = None;
            rule.seed = None;
        }
        if rule.percentage.is_none() && rule.variants.is_empty() {
            rule.seed = None;
        }
        rule
    }

    /// A constraint: translated, always true (an inverted one that never
    /// holds), or never holding (its rule is switched off).
    fn constraint(&mut self, c: &Value, at: &At<'_>) -> Translated {
        let field = c.get("contextName").and_then(Value::as_str).unwrap_or("");
        let attribute = attribute_of(field);
        if field.is_empty() {
            self.report(
                at,
                "a constraint without `contextName`: its rule is switched off",
            );
            return Translated::Never;
        }
        // A custom property with the name of one of cha-deploy's own
        // attributes would read that attribute instead.
        let unleash_field = CONTEXT_FIELDS.iter().any(|(theirs, _)| *theirs == field);
        if !unleash_field
            && field != "environment"
            && crate::config::targeting::ATTRIBUTES.contains(&field)
        {
            self.report(
                at,
                format!("the custom property `{field}` has the name of cha-deploy's own attribute `{field}`, which is compared instead"),
            );
        }
        let inverted = c.get("inverted").and_then(Value::as_bool).unwrap_or(false);
        let name = c.get("operator").and_then(Value::as_str).unwrap_or("");
        let Some(operator) = Operator::parse(name) else {
            self.report(
                at,
                format!(
                    "unknown operator `{name}`: its rule is switched off (Unleash evaluates it off)"
                ),
            );
            return Translated::Never;
        };
        let case_insensitive = c
            .get("caseInsensitive")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            && operator.has_case()
            && !matches!(operator, Operator::In | Operator::NotIn);
        let mut constraint = Constraint {
            attribute: attribute.clone(),
            operator,
            values: Vec::new(),
            value: None,
            case_insensitive,
            inverted,
        };
        if operator.takes_list() {
            constraint.values = c
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .collect();
            if operator == Operator::InCidr {
                let (valid, invalid): (Vec<String>, Vec<String>) =
                    constraint.values.drain(..).partition(|v| cidr_ok(v));
                for v in invalid {
                    self.report(
                        at,
                        format!("`{v}` is not an IP address or CIDR range: left out of the list (Unleash ignores it too)"),
                    );
                }
                constraint.values = valid;
            }
        } else {
            let value = match c.get("value") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let Some(value) = value else {
                self.report(
                    at,
                    format!("{name} without a `value`: its rule is switched off (Unleash evaluates it off)"),
                );
                return Translated::Never;
            };
            constraint.value = Some(value);
        }
        if attribute == "current_time"
            && !matches!(operator, Operator::DateAfter | Operator::DateBefore)
        {
            self.report(
                at,
                format!("currentTime compared with {name}: its rule is switched off"),
            );
            return Translated::Never;
        }
        match CompiledConstraint::compile(&constraint) {
            Ok(_) => Translated::Exact(constraint),
            // Unleash evaluates an invalid regex as not matching, before
            // the inversion.
            Err((_, message)) if operator == Operator::Regex && inverted => {
                self.report(
                    at,
                    format!("{message}: an inverted constraint that always holds, left out"),
                );
                Translated::AlwaysTrue
            }
            Err((_, message)) => {
                self.report(
                    at,
                    format!("{message}: its rule is switched off (Unleash evaluates it off)"),
                );
                Translated::Never
            }
        }
    }

    fn variants(&mut self, variants: &[Value], feature_level: bool, at: &At<'_>) -> Vec<Variant> {
        let mut out = Vec::new();
        for (i, v) in variants.iter().enumerate() {
            let vat = At {
                item: at.item,
                path: format!("{}[{i}]", at.path),
            };
            let Some(name) = v.get("name").and_then(Value::as_str) else {
                self.report(&vat, "a variant without a `name`: left out");
                continue;
            };
            if let Err(m) = check_flag_name(name) {
                self.report(
                    &vat,
                    format!("{}: left out", m.replace("flag name", "variant name")),
                );
                continue;
            }
            let weight = v
                .get("weight")
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
                .max(0.0);
            let payload = v.get("payload").and_then(|p| self.payload(p, &vat));
            let mut overrides = Vec::new();
            for o in v
                .get("overrides")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(field) = o.get("contextName").and_then(Value::as_str) else {
                    continue;
                };
                let values: Vec<String> = o
                    .get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                if !values.is_empty() {
                    overrides.push(VariantOverride {
                        attribute: attribute_of(field),
                        values,
                    });
                }
            }
            if !feature_level && !overrides.is_empty() {
                overrides.clear();
                self.report(
                    &vat,
                    "overrides of a strategy's variant (Unleash ignores them): left out",
                );
            }
            out.push(Variant {
                name: name.to_string(),
                weight: weight.round(),
                enabled: true,
                payload,
                overrides,
            });
        }
        if !out.is_empty() && out.iter().all(|v| v.weight == 0.0) {
            self.report(at, "every variant has weight 0: each is given weight 1");
            out.iter_mut().for_each(|v| v.weight = 1.0);
        }
        out
    }

    fn payload(&mut self, p: &Value, at: &At<'_>) -> Option<Value> {
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("string");
        let value = match p.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return None,
        };
        match kind {
            "string" | "csv" => Some(Value::String(value)),
            "number" => match value.trim().parse::<serde_json::Number>() {
                Ok(n) => Some(Value::Number(n)),
                Err(_) => {
                    self.report(
                        at,
                        format!("number payload {value:?} is not a number: kept as a string"),
                    );
                    Some(Value::String(value))
                }
            },
            "json" => match serde_json::from_str(&value) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.report(at, "json payload is not valid JSON: kept as a string");
                    Some(Value::String(value))
                }
            },
            other => {
                self.report(at, format!("payload type `{other}`: kept as a string"));
                Some(Value::String(value))
            }
        }
    }

    /// Dependencies become prerequisites; those Unleash evaluates off (a
    /// parent that is missing, or that has dependencies of its own: one
    /// level only) switch their flag off instead.
    fn dependencies(&mut self, flags: &mut [FlagDefinition], features: &[Value]) {
        let with_dependencies: Vec<&str> = features
            .iter()
            .filter(|f| {
                f.get("dependencies")
                    .and_then(Value::as_array)
                    .is_some_and(|d| !d.is_empty())
            })
            .filter_map(|f| f.get("name").and_then(Value::as_str))
            .collect();
        let variants_of: BTreeMap<String, Vec<String>> = flags
            .iter()
            .map(|f| {
                let names = super::flag::variant_names(f)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                (f.name.clone(), names)
            })
            .collect();
        for (i, feature) in features.iter().enumerate() {
            let Some(name) = feature.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(flag) = flags.iter_mut().find(|f| f.name == name) else {
                continue;
            };
            for (k, d) in feature
                .get("dependencies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = At {
                    item: name,
                    path: format!("features[{i}].dependencies[{k}]"),
                };
                let parent = d.get("feature").and_then(Value::as_str).unwrap_or("");
                let enabled = d.get("enabled").and_then(Value::as_bool).unwrap_or(true);
                let mut variants: Vec<String> = d
                    .get("variants")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                let Some(offered) = variants_of.get(parent) else {
                    flag.enabled = false;
                    self.report(
                        &at,
                        format!("depends on `{parent}`, which does not exist: imported switched off (Unleash evaluates it off)"),
                    );
                    continue;
                };
                if with_dependencies.contains(&parent) {
                    flag.enabled = false;
                    self.report(
                        &at,
                        format!("depends on `{parent}`, which has dependencies of its own (Unleash follows one level and evaluates it off): imported switched off, without this dependency"),
                    );
                    continue;
                }
                // Unleash compares variants only when the parent gives
                // one: a parent without variants meets any variant list
                // (the `disabled` variant included).
                if offered.is_empty() {
                    variants.clear();
                } else if let Some(pos) = variants.iter().position(|v| v == "disabled") {
                    variants.remove(pos);
                    self.report(
                        &at,
                        "`disabled` (the parent on without a variant) cannot be required here: left out of the variants",
                    );
                }
                if !enabled && !variants.is_empty() {
                    self.report(&at, "variants of a parent that must be off: left out");
                    variants.clear();
                }
                let unknown: Vec<String> = variants
                    .iter()
                    .filter(|v| !offered.contains(v))
                    .cloned()
                    .collect();
                if !unknown.is_empty() {
                    // Unleash compares names: a variant the parent never
                    // gives never matches.
                    variants.retain(|v| offered.contains(v));
                    if variants.is_empty() {
                        flag.enabled = false;
                        self.report(
                            &at,
                            format!("`{parent}` has no variant {}: imported switched off, without this dependency (it can never be met)", unknown.join(", ")),
                        );
                        continue;
                    }
                    self.report(
                        &at,
                        format!(
                            "`{parent}` has no variant {}: left out of the variants",
                            unknown.join(", ")
                        ),
                    );
                }
                flag.prerequisites.push(Prerequisite {
                    flag: parent.to_string(),
                    enabled,
                    variants,
                });
            }
        }
    }
}

/// What became of a constraint.
enum Translated {
    Exact(Constraint),
    /// It always holds: left out.
    AlwaysTrue,
    /// It can never hold (or cannot be evaluated): the rule is switched off.
    Never,
}

fn list_constraint(attribute: &str, operator: Operator, values: Vec<String>) -> Constraint {
    Constraint {
        attribute: attribute.into(),
        operator,
        values,
        value: None,
        case_insensitive: false,
        inverted: false,
    }
}

/// cha-deploy's name of an Unleash context field.
fn attribute_of(field: &str) -> String {
    CONTEXT_FIELDS
        .iter()
        .find(|(theirs, _)| *theirs == field)
        .map_or(field, |(_, ours)| ours)
        .to_string()
}

/// cha-deploy's stickiness for an Unleash one: `default` (and absent)
/// stays Unleash's `default`.
fn stickiness_of(stickiness: Option<&str>) -> String {
    match stickiness {
        None | Some("") | Some("default") => "default".into(),
        Some("random") => "random".into(),
        Some(field) => attribute_of(field),
    }
}

fn cidr_ok(text: &str) -> bool {
    CompiledConstraint::compile(&list_constraint(
        "remote_address",
        Operator::InCidr,
        vec![text.to_string()],
    ))
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategies_become_rules() {
        let import = import_unleash_value(&json!({
            "version": 2,
            "features": [{
                "name": "velocity_limits",
                "enabled": true,
                "strategies": [
                    {"name": "userWithId", "parameters": {"userIds": "1, 2"}},
                    {"name": "flexibleRollout", "parameters": {"rollout": "25", "stickiness": "userId", "groupId": "g"},
                     "constraints": [{"contextName": "appName", "operator": "STR_STARTS_WITH", "values": ["Sizer"], "caseInsensitive": true}],
                     "segments": [7]},
                    {"name": "myCustom", "parameters": {}}
                ],
                "variants": [{"name": "strict", "weight": 1, "stickiness": "sessionId", "payload": {"type": "number", "value": "1.8"}}]
            }],
            "segments": [{"id": 7, "name": "pilot_sites", "constraints": [{"contextName": "site", "operator": "IN", "values": ["north"]}]}]
        }))
        .unwrap();
        let f = &import.flags[0];
        assert_eq!(f.rules.len(), 3);
        assert_eq!(f.rules[0].constraints[0].values, ["1", "2"]);
        assert_eq!(f.rules[1].percentage, Some(25.0));
        assert_eq!(f.rules[1].stickiness.as_deref(), Some("user_id"));
        assert_eq!(f.rules[1].seed.as_deref(), Some("g"));
        assert_eq!(f.rules[1].constraints[0].attribute, "app_name");
        assert!(f.rules[1].constraints[0].case_insensitive);
        assert_eq!(f.rules[1].segments, ["pilot_sites"]);
        assert!(!f.rules[2].enabled);
        assert_eq!(f.variants[0].payload, Some(json!(1.8)));
        assert_eq!(f.stickiness.as_deref(), Some("session_id"));
        assert_eq!(import.segments[0].name, "pilot_sites");
        assert_eq!(import.untranslated.len(), 1);
        assert_eq!(import.untranslated[0].item, "velocity_limits");
        assert_eq!(import.untranslated[0].path, "features[0].strategies[2]");
        assert!(
            import.untranslated[0]
                .message
                .contains("custom strategy `myCustom`")
        );
        crate::config::compile_flag_set(import.flags.clone(), import.segments.clone(), None)
            .unwrap();
        let yaml = import.to_yaml("unleash.json");
        let back = crate::config::parse_feature_flags(&yaml, "imported.yml").unwrap();
        assert_eq!(back.flags, import.flags);
        assert_eq!(back.segments, import.segments);
    }

    #[test]
    fn not_a_document_is_refused() {
        let err = import_unleash("[1]").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert!(err.message().contains("no `features` list"));
        assert!(
            import_unleash("{")
                .unwrap_err()
                .message()
                .contains("not JSON")
        );
    }
}
