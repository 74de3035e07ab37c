//! `user_feedback.yml`: how feedback is captured, scored, prioritised,
//! routed and answered (the seed's section 4), read into
//! [`FeedbackSettings`] with every problem reported at once.
//!
//! # Shape
//!
//! ```yaml
//! version: 1                          # optional; 1 is current
//! capture:                            # optional
//!   redact_personal_data: true        # default true
//!   default_category: pipe_sizing     # default: the first category
//! feedback_categories:                # required, at least one
//!   pipe_sizing: [diameter*, sizing]  # category -> phrases that detect it
//! sentiment_keywords:                 # required
//!   positive: [good, {great: 3.0}]    # `phrase` (weight 2) or `phrase: weight`
//!   negative: [bad, {crash*: 2.8}]
//!   neutral: [heat loss]              # optional
//!   functions: [save*, find*]         # optional: complaints when negated
//!   threshold: 0.05                   # optional
//! priority_keywords:                  # optional; each list optional
//!   critical: [crash*, data loss, wrong diameter]
//!   high: [...]
//!   medium: [...]
//!   low: [...]
//! routing:                            # optional
//!   default_queue: feedback-triage    # default "feedback"
//!   rules:                            # first match wins
//!     - {queue: sizing-oncall, types: [bug_report], priorities: [critical]}
//! responses:                          # optional: default, duplicate, one per type
//!   default: "Thank you, {user_id}: #{id} went to {queue}."
//! duplicates:                         # optional
//!   similarity_threshold: 0.6
//!   window_days: 30
//! success_metrics:                    # optional
//!   collection_rate: 0.10
//!   acknowledgement_hours: 24
//!   acknowledgement_rate: 0.9
//!   resolution_days: 30
//!   resolution_rate: 0.8
//! ```
//!
//! # Rules
//!
//! Category names and queue names follow the flag-name rule (1–128
//! characters of `A–Z a–z 0–9 _ . -`); every phrase has a word (see
//! [`crate::feedback::text`]); lexicon weights are in (0, 4] and no phrase
//! is both positive and negative; `threshold` is in [0, 1); the default
//! category and the categories of routing rules are configured categories;
//! response templates use known placeholders only; `similarity_threshold`
//! is in (0, 1] and `window_days` from 1 to 3650; the target rates are in
//! [0, 1] and the target times above 0.
//!
//! [`validate_feedback_settings`] applies the same rules to settings built
//! in code or read back from the store.

use std::collections::BTreeMap;
use std::path::Path;

use super::reader::{Fields, join, number};
use super::{ConfigError, Issues, Node, Value, parse_yaml};
use crate::common::names::check_flag_name;
use crate::feedback::model::{FeedbackType, Priority};
use crate::feedback::route::check_template;
use crate::feedback::settings::{
    CaptureSettings, Category, DuplicateSettings, FeedbackSettings, PriorityKeywords, Responses,
    Routing, RoutingRule, SentimentKeywords, SuccessTargets,
};
use crate::feedback::text::phrase_words;

/// The version of `user_feedback.yml` this library reads and writes.
pub const CURRENT_VERSION: i64 = 1;

/// The weight of a lexicon phrase written without one.
pub const DEFAULT_WEIGHT: f64 = 2.0;
/// The largest weight of a lexicon phrase.
pub const MAX_WEIGHT: f64 = 4.0;
/// `threshold` when absent (VADER's).
pub const DEFAULT_THRESHOLD: f64 = 0.05;
/// `default_queue` when absent.
pub const DEFAULT_QUEUE: &str = "feedback";
/// `similarity_threshold` when absent.
pub const DEFAULT_SIMILARITY: f64 = 0.6;
/// `window_days` when absent.
pub const DEFAULT_WINDOW_DAYS: u32 = 30;
/// The longest `window_days`.
pub const MAX_WINDOW_DAYS: u32 = 3650;
/// The `default` response when absent.
pub const DEFAULT_RESPONSE: &str = "Thank you for your feedback, {user_id}. We filed it as #{id}; the {queue} team reads every item.";
/// The `duplicate` response when absent.
pub const DEFAULT_DUPLICATE_RESPONSE: &str =
    "Thank you, {user_id}. This is already known as #{original_id} ({people} people reported it).";

/// The seed's targets, when `success_metrics` leaves them out.
pub const DEFAULT_TARGETS: SuccessTargets = SuccessTargets {
    collection_rate: 0.10,
    acknowledgement_hours: 24.0,
    acknowledgement_rate: 0.9,
    resolution_days: 30.0,
    resolution_rate: 0.8,
};

/// A loaded, validated `user_feedback.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFeedbackConfig {
    /// The version the file was written in.
    pub source_version: i64,
    /// What it configures.
    pub settings: FeedbackSettings,
}

/// Reads and validates the file at `path`.
///
/// # Errors
/// Every problem at once: unreadable file, invalid YAML, unknown version,
/// invalid fields.
pub fn load_user_feedback(path: &Path) -> Result<UserFeedbackConfig, ConfigError> {
    super::load_file(path, parse_user_feedback)
}

/// Parses and validates `user_feedback.yml` `text`; `file` names it in
/// messages.
///
/// # Errors
/// As [`load_user_feedback`].
pub fn parse_user_feedback(text: &str, file: &str) -> Result<UserFeedbackConfig, ConfigError> {
    let root = parse_yaml(text, file)?;
    let mut issues = Issues::new(file);
    if root.entries().is_none() {
        let message = if root.value == Value::Null {
            "the file is empty".to_owned()
        } else {
            format!(
                "expected a mapping with `feedback_categories` and `sentiment_keywords`, found {}",
                root.kind()
            )
        };
        issues.push(
            root.loc,
            "",
            message,
            Some("start from `cha-deploy template user-feedback`".into()),
        );
        return Err(issues.finish(()).unwrap_err());
    }
    let Some(mut top) = Fields::new(&root, "", &mut issues) else {
        return Err(issues.finish(()).unwrap_err());
    };
    let version = read_version(top.node("version"), &mut issues);
    let capture = top.node("capture");
    let categories = top.node("feedback_categories");
    let sentiment = top.node("sentiment_keywords");
    let priority = top.node("priority_keywords");
    let routing = top.node("routing");
    let responses = top.node("responses");
    let duplicates = top.node("duplicates");
    let targets = top.node("success_metrics");
    top.finish(&mut issues);
    let Some(version) = version else {
        return Err(issues.finish(()).unwrap_err());
    };

    let categories = match categories {
        Some(node) => read_categories(node, &mut issues),
        None => {
            issues.push(
                root.loc,
                "feedback_categories",
                "missing `feedback_categories`",
                Some("a mapping of category name to the phrases that point to it".into()),
            );
            Vec::new()
        }
    };
    let capture = read_capture(capture, &categories, &mut issues);
    let sentiment = match sentiment {
        Some(node) => read_sentiment(node, &mut issues),
        None => {
            issues.push(
                root.loc,
                "sentiment_keywords",
                "missing `sentiment_keywords`",
                Some("`positive:` and `negative:` lists of phrases".into()),
            );
            empty_sentiment()
        }
    };
    let settings = FeedbackSettings {
        capture,
        feedback_categories: categories,
        sentiment_keywords: sentiment,
        priority_keywords: read_priority(priority, &mut issues),
        routing: read_routing(routing, &mut issues),
        responses: read_responses(responses, &mut issues),
        duplicates: read_duplicates(duplicates, &mut issues),
        success_metrics: read_targets(targets, &mut issues),
    };
    if issues.is_empty() {
        check_settings(&settings, &root, &mut issues);
    }
    issues.finish(UserFeedbackConfig {
        source_version: version,
        settings,
    })
}

/// Checks settings built in code or read back from the store by the rules
/// of `user_feedback.yml`.
///
/// # Errors
/// `Config` listing every problem with its field path.
pub fn validate_feedback_settings(settings: &FeedbackSettings) -> crate::Result<()> {
    let mut issues = Issues::new("");
    check_settings(settings, &Node::new(Value::Null), &mut issues);
    issues.finish(()).map_err(crate::Error::from)
}

/// The settings in force when no `user_feedback.yml` was deployed: those
/// of the `cha_intelligent_sizing` template (and of the shipped
/// `configs/user_feedback.yml`).
pub fn default_feedback_settings() -> FeedbackSettings {
    parse_user_feedback(TEMPLATE_FULL, "user_feedback template")
        .expect("the built-in user_feedback.yml template is valid (a unit test reads it)")
        .settings
}

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
                    "version {v} is newer than this cha-deploy, which reads user_feedback.yml version {CURRENT_VERSION}"
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

/// A list of phrases at `path`; `null` is an empty list.
fn read_phrases(node: &Node, path: &str, issues: &mut Issues) -> Vec<String> {
    match &node.value {
        Value::Null => Vec::new(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match &item.value {
                Value::Str(s) => Some(s.clone()),
                Value::Int(n) => Some(n.to_string()),
                _ => {
                    issues.push(
                        item.loc,
                        &format!("{path}[{i}]"),
                        format!("expected a phrase, found {}", item.kind()),
                        None,
                    );
                    None
                }
            })
            .collect(),
        _ => {
            issues.push(
                node.loc,
                path,
                format!("expected a list of phrases, found {}", node.kind()),
                None,
            );
            Vec::new()
        }
    }
}

fn read_categories(node: &Node, issues: &mut Issues) -> Vec<Category> {
    let Some(entries) = node.entries() else {
        issues.push(
            node.loc,
            "feedback_categories",
            format!(
                "expected a mapping of category name to phrases, found {}",
                node.kind()
            ),
            Some("e.g. `pipe_sizing: [diameter*, sizing]`".into()),
        );
        return Vec::new();
    };
    entries
        .iter()
        .map(|(key, value)| Category {
            name: key.name.clone(),
            keywords: read_phrases(
                &value.located_at(key),
                &join("feedback_categories", &key.name),
                issues,
            ),
        })
        .collect()
}

fn read_capture(
    node: Option<&Node>,
    categories: &[Category],
    issues: &mut Issues,
) -> CaptureSettings {
    let first = categories
        .first()
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let mut capture = CaptureSettings {
        redact_personal_data: true,
        default_category: first,
    };
    if let Some(node) = node
        && let Some(mut f) = Fields::new(node, "capture", issues)
    {
        if let Some(b) = f.bool("redact_personal_data", issues) {
            capture.redact_personal_data = b;
        }
        if let Some(c) = f.str("default_category", issues) {
            capture.default_category = c.to_owned();
        }
        f.finish(issues);
    }
    capture
}

fn empty_sentiment() -> SentimentKeywords {
    SentimentKeywords {
        positive: BTreeMap::new(),
        negative: BTreeMap::new(),
        neutral: Vec::new(),
        functions: Vec::new(),
        threshold: DEFAULT_THRESHOLD,
    }
}

/// A list of lexicon phrases, each `phrase` or `phrase: weight`, as a map;
/// a phrase listed twice is reported where it is listed again.
fn read_terms(node: Option<&Node>, path: &str, issues: &mut Issues) -> BTreeMap<String, f64> {
    let mut terms = BTreeMap::new();
    let Some(node) = node else {
        return terms;
    };
    let Value::Seq(items) = &node.value else {
        issues.push(
            node.loc,
            path,
            format!("expected a list of phrases, found {}", node.kind()),
            Some("`- phrase` or `- phrase: weight`".into()),
        );
        return terms;
    };
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let (term, weight) = match &item.value {
            Value::Str(s) => (s.clone(), DEFAULT_WEIGHT),
            Value::Map(entries) if entries.len() == 1 => {
                let (key, weight) = &entries[0];
                match number(weight, &item_path, issues) {
                    Some(w) => (key.name.clone(), w),
                    None => continue,
                }
            }
            _ => {
                issues.push(
                    item.loc,
                    &item_path,
                    format!(
                        "expected a phrase or `phrase: weight`, found {}",
                        item.kind()
                    ),
                    Some("e.g. `- good` or `- excellent: 3.2`".into()),
                );
                continue;
            }
        };
        if terms.insert(term.clone(), weight).is_some() {
            issues.push(
                item.loc,
                &item_path,
                format!("`{term}` is listed twice"),
                Some("a phrase has one weight".into()),
            );
        }
    }
    terms
}

/// Where the lexicon phrase `term` of list `list` (`positive`) is written
/// in the file, for the value checks.
fn term_loc(root: &Node, list: &str, term: &str) -> Option<super::Loc> {
    let Value::Seq(items) = &root.find(&join("sentiment_keywords", list))?.value else {
        return None;
    };
    items.iter().find_map(|item| match &item.value {
        Value::Str(s) if s == term => item.loc,
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.name == term)
            .and_then(|(k, _)| k.loc),
        _ => None,
    })
}

fn read_sentiment(node: &Node, issues: &mut Issues) -> SentimentKeywords {
    let mut sentiment = empty_sentiment();
    let Some(mut f) = Fields::new(node, "sentiment_keywords", issues) else {
        return sentiment;
    };
    sentiment.positive = read_terms(f.node("positive"), "sentiment_keywords.positive", issues);
    sentiment.negative = read_terms(f.node("negative"), "sentiment_keywords.negative", issues);
    if let Some(n) = f.node("neutral") {
        sentiment.neutral = read_phrases(n, "sentiment_keywords.neutral", issues);
    }
    if let Some(n) = f.node("functions") {
        sentiment.functions = read_phrases(n, "sentiment_keywords.functions", issues);
    }
    if let Some(t) = f.number("threshold", issues) {
        sentiment.threshold = t;
    }
    f.finish(issues);
    sentiment
}

fn read_priority(node: Option<&Node>, issues: &mut Issues) -> PriorityKeywords {
    let mut k = PriorityKeywords {
        critical: Vec::new(),
        high: Vec::new(),
        medium: Vec::new(),
        low: Vec::new(),
    };
    if let Some(node) = node
        && let Some(mut f) = Fields::new(node, "priority_keywords", issues)
    {
        for (key, list) in [
            ("critical", &mut k.critical),
            ("high", &mut k.high),
            ("medium", &mut k.medium),
            ("low", &mut k.low),
        ] {
            if let Some(n) = f.node(key) {
                *list = read_phrases(n, &join("priority_keywords", key), issues);
            }
        }
        f.finish(issues);
    }
    k
}

/// A list of names of `what`, each parsed by `parse`; unknown names are
/// reported with the known ones.
fn read_names<T>(
    f: &mut Fields<'_>,
    key: &'static str,
    what: &str,
    known: &[&str],
    parse: impl Fn(&str) -> Option<T>,
    issues: &mut Issues,
) -> Vec<T> {
    let Some(node) = f.node(key) else {
        return Vec::new();
    };
    let path = f.path_of(key);
    read_phrases(node, &path, issues)
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let parsed = parse(name);
            if parsed.is_none() {
                let loc = match &node.value {
                    Value::Seq(items) => items.get(i).and_then(|n| n.loc),
                    _ => node.loc,
                };
                issues.push(
                    loc,
                    &format!("{path}[{i}]"),
                    format!("unknown {what} `{name}`"),
                    Some(format!("one of {}", known.join(", "))),
                );
            }
            parsed
        })
        .collect()
}

fn read_routing(node: Option<&Node>, issues: &mut Issues) -> Routing {
    let mut routing = Routing {
        default_queue: DEFAULT_QUEUE.to_owned(),
        rules: Vec::new(),
    };
    let Some(node) = node else {
        return routing;
    };
    let Some(mut f) = Fields::new(node, "routing", issues) else {
        return routing;
    };
    if let Some(q) = f.str("default_queue", issues) {
        routing.default_queue = q.to_owned();
    }
    let types: Vec<&str> = FeedbackType::ALL.iter().map(|t| t.as_str()).collect();
    let priorities: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    if let Some(items) = f.list("rules", issues) {
        for (i, item) in items.iter().enumerate() {
            let path = format!("routing.rules[{i}]");
            let Some(mut r) = Fields::new(item, &path, issues) else {
                continue;
            };
            let queue = r.str("queue", issues).map(str::to_owned);
            if queue.is_none() && item.get("queue").is_none() {
                issues.push(
                    item.loc,
                    &join(&path, "queue"),
                    "missing `queue`",
                    Some("the team queue the matching items go to".into()),
                );
            }
            let rule = RoutingRule {
                queue: queue.unwrap_or_default(),
                types: read_names(&mut r, "types", "type", &types, FeedbackType::parse, issues),
                categories: read_names(
                    &mut r,
                    "categories",
                    "category",
                    &[],
                    |c| Some(c.to_owned()),
                    issues,
                ),
                priorities: read_names(
                    &mut r,
                    "priorities",
                    "priority",
                    &priorities,
                    Priority::parse,
                    issues,
                ),
            };
            r.finish(issues);
            routing.rules.push(rule);
        }
    }
    f.finish(issues);
    routing
}

fn read_responses(node: Option<&Node>, issues: &mut Issues) -> Responses {
    let mut responses = Responses {
        default: DEFAULT_RESPONSE.to_owned(),
        duplicate: DEFAULT_DUPLICATE_RESPONSE.to_owned(),
        by_type: BTreeMap::new(),
    };
    let Some(node) = node else {
        return responses;
    };
    let Some(entries) = node.entries() else {
        issues.push(
            node.loc,
            "responses",
            format!("expected a mapping of templates, found {}", node.kind()),
            None,
        );
        return responses;
    };
    for (key, value) in entries {
        let path = join("responses", &key.name);
        let Value::Str(text) = &value.value else {
            issues.push(
                value.loc.or(key.loc),
                &path,
                format!("expected a template (a string), found {}", value.kind()),
                None,
            );
            continue;
        };
        match key.name.as_str() {
            "default" => responses.default = text.clone(),
            "duplicate" => responses.duplicate = text.clone(),
            name => match FeedbackType::parse(name) {
                Some(t) => {
                    responses.by_type.insert(t, text.clone());
                }
                None => {
                    let types: Vec<&str> = FeedbackType::ALL.iter().map(|t| t.as_str()).collect();
                    issues.push(
                        key.loc,
                        &path,
                        format!("unknown response `{name}`"),
                        Some(format!(
                            "default, duplicate, or a type: {}",
                            types.join(", ")
                        )),
                    );
                }
            },
        }
    }
    responses
}

fn read_duplicates(node: Option<&Node>, issues: &mut Issues) -> DuplicateSettings {
    let mut d = DuplicateSettings {
        similarity_threshold: DEFAULT_SIMILARITY,
        window_days: DEFAULT_WINDOW_DAYS,
    };
    if let Some(node) = node
        && let Some(mut f) = Fields::new(node, "duplicates", issues)
    {
        if let Some(t) = f.number("similarity_threshold", issues) {
            d.similarity_threshold = t;
        }
        if let Some(w) = f.unsigned("window_days", issues) {
            d.window_days = w;
        }
        f.finish(issues);
    }
    d
}

fn read_targets(node: Option<&Node>, issues: &mut Issues) -> SuccessTargets {
    let mut t = DEFAULT_TARGETS;
    if let Some(node) = node
        && let Some(mut f) = Fields::new(node, "success_metrics", issues)
    {
        for (key, value) in [
            ("collection_rate", &mut t.collection_rate),
            ("acknowledgement_hours", &mut t.acknowledgement_hours),
            ("acknowledgement_rate", &mut t.acknowledgement_rate),
            ("resolution_days", &mut t.resolution_days),
            ("resolution_rate", &mut t.resolution_rate),
        ] {
            if let Some(x) = f.number(key, issues) {
                *value = x;
            }
        }
        f.finish(issues);
    }
    t
}

/// The value rules, on settings read from `root` (used only to locate
/// problems).
fn check_settings(s: &FeedbackSettings, root: &Node, issues: &mut Issues) {
    let push = |issues: &mut Issues, path: &str, message: String, hint: Option<String>| {
        issues.push(root.locate(path), path, message, hint);
    };
    let check_phrase = |issues: &mut Issues, path: &str, phrase: &str| {
        if let Err(m) = phrase_words(phrase) {
            issues.push(root.locate(path), path, m, None);
        }
    };

    if s.feedback_categories.is_empty() {
        push(
            issues,
            "feedback_categories",
            "no category is configured".into(),
            Some("every item is filed under one; the seed has ten".into()),
        );
    }
    for c in &s.feedback_categories {
        let path = join("feedback_categories", &c.name);
        if let Err(m) = check_flag_name(&c.name) {
            push(issues, &path, m.replace("flag name", "category name"), None);
        }
        for (i, k) in c.keywords.iter().enumerate() {
            check_phrase(issues, &format!("{path}[{i}]"), k);
        }
    }
    let categories: Vec<&str> = s
        .feedback_categories
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let unknown_category = |name: &str| {
        (!categories.contains(&name)).then(|| {
            (
                format!("`{name}` is not a configured category"),
                Some(format!("one of {}", categories.join(", "))),
            )
        })
    };
    if let Some((m, hint)) = unknown_category(&s.capture.default_category) {
        push(issues, "capture.default_category", m, hint);
    }

    let k = &s.sentiment_keywords;
    let mut seen: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for (list, terms) in [("positive", &k.positive), ("negative", &k.negative)] {
        for (term, weight) in terms {
            let path = format!("sentiment_keywords.{list}.{term}");
            let loc = term_loc(root, list, term).or_else(|| root.locate("sentiment_keywords"));
            match phrase_words(term) {
                Err(m) => issues.push(loc, &path, m, None),
                Ok(words) => {
                    if let Some(first) = seen.get(&words) {
                        issues.push(
                            loc,
                            &path,
                            format!("`{term}` is listed twice (also as {first})"),
                            Some("a phrase has one weight and one direction".into()),
                        );
                    } else {
                        seen.insert(words, format!("{list} `{term}`"));
                    }
                }
            }
            if !(*weight > 0.0 && *weight <= MAX_WEIGHT) {
                issues.push(
                    loc,
                    &path,
                    format!("the weight of `{term}` must be greater than 0 and at most {MAX_WEIGHT}, not {weight}"),
                    Some("about 1 for \"works\", 2 for \"good\", 3 for \"excellent\"".into()),
                );
            }
        }
    }
    for (i, n) in k.neutral.iter().enumerate() {
        check_phrase(issues, &format!("sentiment_keywords.neutral[{i}]"), n);
    }
    for (i, n) in k.functions.iter().enumerate() {
        check_phrase(issues, &format!("sentiment_keywords.functions[{i}]"), n);
    }
    if !(k.threshold >= 0.0 && k.threshold < 1.0) {
        push(
            issues,
            "sentiment_keywords.threshold",
            format!("must be at least 0 and below 1, not {}", k.threshold),
            Some("0.05 is VADER's".into()),
        );
    }

    for p in Priority::ALL {
        for (i, phrase) in s.priority_keywords.of(p).iter().enumerate() {
            check_phrase(
                issues,
                &format!("priority_keywords.{}[{i}]", p.as_str()),
                phrase,
            );
        }
    }

    let queue_rule = |issues: &mut Issues, path: &str, queue: &str| {
        if let Err(m) = check_flag_name(queue) {
            issues.push(
                root.locate(path),
                path,
                m.replace("flag name", "queue name"),
                None,
            );
        }
    };
    queue_rule(issues, "routing.default_queue", &s.routing.default_queue);
    for (i, r) in s.routing.rules.iter().enumerate() {
        let path = format!("routing.rules[{i}]");
        queue_rule(issues, &join(&path, "queue"), &r.queue);
        for (j, c) in r.categories.iter().enumerate() {
            if let Some((m, hint)) = unknown_category(c) {
                push(issues, &format!("{path}.categories[{j}]"), m, hint);
            }
        }
    }

    let r = &s.responses;
    let templates = [("default", &r.default), ("duplicate", &r.duplicate)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(r.by_type.iter().map(|(t, v)| (t.as_str().to_owned(), v)));
    for (key, template) in templates {
        if let Err(m) = check_template(template) {
            push(issues, &join("responses", &key), m, None);
        }
    }

    let d = &s.duplicates;
    if !(d.similarity_threshold > 0.0 && d.similarity_threshold <= 1.0) {
        push(
            issues,
            "duplicates.similarity_threshold",
            format!(
                "must be greater than 0 and at most 1, not {}",
                d.similarity_threshold
            ),
            Some("the share of content words two reports share; 0.6 is a good start".into()),
        );
    }
    if !(1..=MAX_WINDOW_DAYS).contains(&d.window_days) {
        push(
            issues,
            "duplicates.window_days",
            format!("must be from 1 to {MAX_WINDOW_DAYS}, not {}", d.window_days),
            None,
        );
    }

    let t = &s.success_metrics;
    for (key, rate) in [
        ("collection_rate", t.collection_rate),
        ("acknowledgement_rate", t.acknowledgement_rate),
        ("resolution_rate", t.resolution_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            push(
                issues,
                &join("success_metrics", key),
                format!("must be a share from 0 to 1, not {rate}"),
                Some("0.1 is 10%".into()),
            );
        }
    }
    for (key, time) in [
        ("acknowledgement_hours", t.acknowledgement_hours),
        ("resolution_days", t.resolution_days),
    ] {
        if !(time > 0.0 && time.is_finite()) {
            push(
                issues,
                &join("success_metrics", key),
                format!("must be greater than 0, not {time}"),
                None,
            );
        }
    }
}

/// A commented `user_feedback.yml` for `config_type`, headed by
/// `template_name`: `cha_intelligent_sizing` (the shipped configuration:
/// ten categories, the full lexicon, routing and responses) or `minimal`
/// (the seed's categories and lexicon, defaults for the rest). Both load
/// and validate as they are.
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
        "# {title}: user feedback of the CHA intelligent pipe-sizing system\n\
         # Generated by cha-deploy {} (config type: {config_type}).\n{body}",
        crate::VERSION
    ))
}

const TEMPLATE_MINIMAL: &str = "\
# Format version; 1 is current.
version: 1
# Category -> phrases that file an item under it when the submitter names
# none (`crash*` matches crash, crashes, crashed).
feedback_categories:
  pipe_sizing: [accuracy, performance, usability, reliability, documentation]
# The sentiment lexicon: `- phrase` (weight 2) or `- phrase: weight`.
sentiment_keywords:
  positive: [good, great, excellent, amazing, fantastic, love, perfect, awesome]
  negative: [bad, terrible, awful, horrible, hate, disappointing, frustrating, annoying]
";

const TEMPLATE_FULL: &str = include_str!("user_feedback_template.yml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_are_valid_and_the_full_one_is_the_default() {
        let full = parse_user_feedback(TEMPLATE_FULL, "t.yml").unwrap();
        assert_eq!(full.settings, default_feedback_settings());
        assert_eq!(full.settings.feedback_categories.len(), 10);
        let minimal = parse_user_feedback(TEMPLATE_MINIMAL, "t.yml").unwrap();
        let s = minimal.settings;
        assert_eq!(s.capture.default_category, "pipe_sizing");
        assert!(s.capture.redact_personal_data);
        assert_eq!(s.routing.default_queue, DEFAULT_QUEUE);
        assert_eq!(s.success_metrics, DEFAULT_TARGETS);
        assert_eq!(s.sentiment_keywords.positive["good"], DEFAULT_WEIGHT);
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = "\
version: 1
capture: {default_category: nowhere, redact: yes}
feedback_categories:
  pipe sizing: [diameter]
  flow: ['!!', 3]
sentiment_keywords:
  positive: [good, {great: 7}, [x]]
  negative: [good]
  functions: [save*, '??']
  threshold: 1.5
routing:
  rules:
    - {types: [complaint], categories: [heat], priorities: [urgent]}
responses:
  default: \"#{ticket}\"
  praise: hi
duplicates: {similarity_threshold: 0, window_days: 0}
success_metrics: {collection_rate: 10}
";
        let err = parse_user_feedback(text, "uf.yml").unwrap_err();
        let found: Vec<String> = err
            .issues
            .iter()
            .map(|i| format!("{}:{} {}: {}", i.line, i.column, i.path, i.message))
            .collect();
        let expected = [
            "2:38 capture.redact: unknown field `redact`",
            "7:32 sentiment_keywords.positive[2]: expected a phrase or `phrase: weight`, found a list",
            "13:7 routing.rules[0].queue: missing `queue`",
            "13:16 routing.rules[0].types[0]: unknown type `complaint`",
            "13:61 routing.rules[0].priorities[0]: unknown priority `urgent`",
            "16:3 responses.praise: unknown response `praise`",
        ];
        assert_eq!(found, expected, "{err}");
        // The value rules run once the shape is right.
        let text = text
            .replace(", redact: yes", "")
            .replace(", [x]", "")
            .replace("complaint", "bug_report")
            .replace("urgent", "high")
            .replace("{types", "{queue: q, types")
            .replace("  praise: hi\n", "");
        let err = parse_user_feedback(&text, "uf.yml").unwrap_err();
        let found: Vec<String> = err
            .issues
            .iter()
            .map(|i| format!("{} {}: {}", i.line, i.path, i.message))
            .collect();
        let expected = [
            "4 feedback_categories.pipe sizing: category name `pipe sizing` contains ` `; use letters, digits, `_`, `.` and `-`",
            "5 feedback_categories.flow[0]: `!!` has no word to match (a phrase needs at least one word of letters or digits)",
            "2 capture.default_category: `nowhere` is not a configured category",
            "7 sentiment_keywords.positive.great: the weight of `great` must be greater than 0 and at most 4, not 7",
            "8 sentiment_keywords.negative.good: `good` is listed twice (also as positive `good`)",
            "9 sentiment_keywords.functions[1]: `??` has no word to match (a phrase needs at least one word of letters or digits)",
            "10 sentiment_keywords.threshold: must be at least 0 and below 1, not 1.5",
            "13 routing.rules[0].categories[0]: `heat` is not a configured category",
            "15 responses.default: unknown placeholder `{ticket}` (known: id, user_id, type, category, priority, queue, sentiment, original_id, reports, people)",
            "16 duplicates.similarity_threshold: must be greater than 0 and at most 1, not 0",
            "16 duplicates.window_days: must be from 1 to 3650, not 0",
            "17 success_metrics.collection_rate: must be a share from 0 to 1, not 10",
        ];
        assert_eq!(found, expected, "{err}");
    }

    #[test]
    fn a_phrase_twice_in_one_list_is_reported_where_it_repeats() {
        let text = TEMPLATE_MINIMAL.replace("positive: [good,", "positive: [good, good,");
        let err = parse_user_feedback(&text, "uf.yml").unwrap_err();
        assert_eq!(err.issues.len(), 1, "{err}");
        assert_eq!(err.issues[0].path, "sentiment_keywords.positive[1]");
        assert_eq!(err.issues[0].message, "`good` is listed twice");
        assert_eq!((err.issues[0].line, err.issues[0].column), (9, 20));
    }

    #[test]
    fn the_settings_of_a_file_validate_as_json() {
        let s = default_feedback_settings();
        validate_feedback_settings(&s).unwrap();
        let mut bad = s.clone();
        bad.routing.rules[0].categories = vec!["nowhere".into()];
        bad.duplicates.window_days = 0;
        let err = validate_feedback_settings(&bad).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(
            err.message().starts_with("2 configuration problems:"),
            "{err}"
        );
        assert!(
            err.message()
                .contains("routing.rules[0].categories[0]: `nowhere`"),
            "{err}"
        );
    }
}
