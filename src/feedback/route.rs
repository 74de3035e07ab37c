//! Routing (which team queue gets an item) and the automatic responses,
//! templates whose `{placeholder}`s are filled from the item.

use super::model::{FeedbackType, Priority};
use super::settings::Routing;

/// The placeholders a response template may use, and what they stand for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("id", "the item's id"),
    ("user_id", "who submitted it"),
    ("type", "its type, e.g. bug report"),
    ("category", "its category, e.g. pipe_sizing"),
    ("priority", "its priority: critical, high, medium or low"),
    ("queue", "the team queue it was routed to"),
    ("sentiment", "its sentiment: positive, neutral or negative"),
    (
        "original_id",
        "the earlier item it was merged into (duplicates)",
    ),
    (
        "reports",
        "how many reports that issue has now (duplicates)",
    ),
    ("people", "how many people reported it (duplicates)"),
];

/// The queue of an item: that of the first rule that matches, else the
/// default queue.
pub fn route<'r>(
    routing: &'r Routing,
    kind: FeedbackType,
    category: &str,
    priority: Priority,
) -> &'r str {
    routing
        .rules
        .iter()
        .find(|r| r.matches(kind, category, priority))
        .map_or(routing.default_queue.as_str(), |r| r.queue.as_str())
}

/// Checks a template: every `{name}` is a known placeholder, braces are
/// balanced (`{{` and `}}` stand for a brace).
///
/// # Errors
/// What is wrong, naming the placeholder and the known ones.
pub fn check_template(template: &str) -> Result<(), String> {
    render_with(template, |name| {
        PLACEHOLDERS
            .iter()
            .any(|(p, _)| *p == name)
            .then(String::new)
            .ok_or_else(|| {
                let known: Vec<&str> = PLACEHOLDERS.iter().map(|(p, _)| *p).collect();
                format!(
                    "unknown placeholder `{{{name}}}` (known: {})",
                    known.join(", ")
                )
            })
    })
    .map(|_| ())
}

/// `template` with each `{name}` replaced by `value(name)`; a placeholder
/// without a value is left as it is written.
pub fn render(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    render_with(template, |name| {
        Ok(value(name).unwrap_or_else(|| format!("{{{name}}}")))
    })
    .unwrap_or_else(|_| template.to_owned())
}

fn render_with(
    template: &str,
    mut value: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let brace = &rest[at..at + 1];
        let after = &rest[at + 1..];
        if after.starts_with(brace) {
            out.push_str(brace);
            rest = &after[1..];
            continue;
        }
        if brace == "}" {
            return Err("a `}` without its `{` (write `}}` for a brace)".into());
        }
        let Some(close) = after.find('}') else {
            return Err("a `{` without its `}` (write `{{` for a brace)".into());
        };
        out.push_str(&value(after[..close].trim())?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::settings::RoutingRule;

    #[test]
    fn the_first_matching_rule_routes() {
        let routing = Routing {
            default_queue: "triage".into(),
            rules: vec![
                RoutingRule {
                    queue: "oncall".into(),
                    types: vec![FeedbackType::BugReport],
                    categories: vec![],
                    priorities: vec![Priority::Critical],
                },
                RoutingRule {
                    queue: "docs".into(),
                    types: vec![],
                    categories: vec!["documentation".into()],
                    priorities: vec![],
                },
            ],
        };
        let r = |t, c, p| route(&routing, t, c, p);
        assert_eq!(
            r(FeedbackType::BugReport, "documentation", Priority::Critical),
            "oncall"
        );
        assert_eq!(
            r(FeedbackType::BugReport, "documentation", Priority::High),
            "docs"
        );
        assert_eq!(
            r(FeedbackType::BugReport, "pipe_sizing", Priority::High),
            "triage"
        );
    }

    #[test]
    fn templates_fill_placeholders_and_are_checked() {
        let text = render(
            "Thanks {user_id}, #{id} {{noted}} goes to { queue }. {nope}",
            |n| match n {
                "user_id" => Some("anna".into()),
                "id" => Some("42".into()),
                "queue" => Some("sizing-team".into()),
                _ => None,
            },
        );
        assert_eq!(text, "Thanks anna, #42 {noted} goes to sizing-team. {nope}");
        assert_eq!(check_template("#{id} to {queue}, {{x}}"), Ok(()));
        assert!(
            check_template("{ticket}")
                .unwrap_err()
                .starts_with("unknown placeholder `{ticket}` (known: id, user_id,")
        );
        assert!(
            check_template("{id")
                .unwrap_err()
                .contains("without its `}`")
        );
        assert!(
            check_template("id}")
                .unwrap_err()
                .contains("without its `{`")
        );
    }
}
