//! Changing one flag with a JSON object of the same fields as the YAML.

use super::flag::read_flag;
use super::{Issues, Node};
use crate::common::limits::excerpt;
use crate::error::{Error, Result};
use crate::flags::{FlagDefinition, FlagType};

/// Applies `updates` (a JSON object with any fields of a flag definition) to
/// `existing`, or creates flag `name` when there is none and the updates
/// name a `type`. A field set to `null` goes back to its default;
/// `metadata` is merged field by field. Nothing is changed on error: the
/// result is a new definition, checked as a whole.
///
/// # Errors
/// - `InvalidArgument`: `updates` is not an object.
/// - `NotFound`: no `existing` flag and no `type` to create one.
/// - `Config`: every problem of the result, each with its field
///   (`intelligent_pipe_sizing.percentage: must be between 0 and 100, not 150`).
pub fn apply_flag_update(
    existing: Option<&FlagDefinition>,
    name: &str,
    updates: &serde_json::Value,
) -> Result<FlagDefinition> {
    let serde_json::Value::Object(changes) = updates else {
        return Err(Error::invalid_argument(format!(
            "updates of flag `{}` must be a JSON object of fields, such as {{\"percentage\": 50}}",
            excerpt(name)
        )));
    };
    let mut merged = match existing {
        Some(def) => match serde_json::to_value(def)? {
            serde_json::Value::Object(map) => map,
            _ => {
                return Err(Error::internal(
                    "a flag definition did not serialise to an object",
                ));
            }
        },
        None if changes.get("type").is_some_and(|t| !t.is_null()) => serde_json::Map::new(),
        None => {
            return Err(Error::not_found(format!(
                "flag `{}` does not exist; to create it, give its `type` ({})",
                excerpt(name),
                FlagType::ALL.map(FlagType::as_str).join(", ")
            )));
        }
    };
    merged.remove("name");
    let new_type = changes
        .get("type")
        .and_then(|t| t.as_str())
        .and_then(FlagType::parse);
    // Dropping the fields only the old type has lets `{"type": "boolean"}`
    // turn a percentage flag into a boolean one without also clearing
    // `percentage`; what both types have (stickiness, guardrails) stays.
    if let (Some(old), Some(new)) = (existing.map(|d| d.flag_type), new_type)
        && old != new
    {
        for field in old.own_fields() {
            if !new.own_fields().contains(field) {
                merged.remove(*field);
            }
        }
    }
    for (key, value) in changes {
        match (key.as_str(), value, merged.get_mut(key)) {
            (_, serde_json::Value::Null, _) => {
                merged.remove(key);
            }
            (
                "metadata",
                serde_json::Value::Object(fields),
                Some(serde_json::Value::Object(current)),
            ) => {
                for (k, v) in fields {
                    if v.is_null() {
                        current.remove(k);
                    } else {
                        current.insert(k.clone(), v.clone());
                    }
                }
            }
            _ => {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    let node = Node::from_json(&serde_json::Value::Object(merged));
    let mut issues = Issues::new("");
    let def = read_flag(name, &node, name, &mut issues);
    let def = issues.finish(def).map_err(Error::from)?;
    def.ok_or_else(|| Error::internal("flag update produced no definition"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pipe_sizing() -> FlagDefinition {
        apply_flag_update(
            None,
            "intelligent_pipe_sizing",
            &json!({"type": "percentage", "percentage": 25, "enabled": true,
                    "metadata": {"component": "pipe_sizing", "priority": 1}}),
        )
        .unwrap()
    }

    #[test]
    fn creates_only_with_a_type() {
        let err = apply_flag_update(None, "new_ui", &json!({"enabled": true})).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
        assert!(err.message().contains("give its `type`"));
        let def = pipe_sizing();
        assert_eq!(def.percentage, Some(25.0));
        assert!(def.enabled);
    }

    #[test]
    fn updates_merge_and_null_resets() {
        let before = pipe_sizing();
        let after = apply_flag_update(
            Some(&before),
            "intelligent_pipe_sizing",
            &json!({"percentage": 50, "metadata": {"owner": "network team", "priority": null}, "enabled": null}),
        )
        .unwrap();
        assert_eq!(after.percentage, Some(50.0));
        assert!(!after.enabled);
        assert_eq!(after.metadata.component.as_deref(), Some("pipe_sizing"));
        assert_eq!(after.metadata.owner.as_deref(), Some("network team"));
        assert_eq!(after.metadata.priority, None);
    }

    #[test]
    fn changing_the_type_drops_the_old_type_fields() {
        let after = apply_flag_update(
            Some(&pipe_sizing()),
            "intelligent_pipe_sizing",
            &json!({"type": "boolean"}),
        )
        .unwrap();
        assert_eq!(after.flag_type, FlagType::Boolean);
        assert_eq!(after.percentage, None);
    }

    #[test]
    fn invalid_updates_say_why_and_where() {
        let before = pipe_sizing();
        let cases = [
            (
                json!({"percentage": 150}),
                "intelligent_pipe_sizing.percentage: must be between 0 and 100, not 150",
            ),
            (
                json!({"percentage": "50"}),
                "intelligent_pipe_sizing.percentage: expected a number, found a string",
            ),
            (
                json!({"percentge": 5}),
                "intelligent_pipe_sizing.percentge: unknown field `percentge` (hint: did you mean `percentage`?)",
            ),
            (
                json!({"enabled": "yes"}),
                "intelligent_pipe_sizing.enabled: expected true or false, found a string",
            ),
            (
                json!({"type": "dial"}),
                "intelligent_pipe_sizing.type: unknown flag type `dial`",
            ),
            (
                json!({"include_groups": ["beta"]}),
                "intelligent_pipe_sizing.include_groups: `include_groups` does not apply to a percentage flag",
            ),
        ];
        for (updates, expected) in cases {
            let err =
                apply_flag_update(Some(&before), "intelligent_pipe_sizing", &updates).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Config);
            assert!(
                err.message().starts_with(expected),
                "{updates}: {}",
                err.message()
            );
        }
        let err =
            apply_flag_update(Some(&before), "intelligent_pipe_sizing", &json!([1])).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }
}
