//! What a deployment or a rollback would change, and the runtime changes
//! (drift) it would undo: a pure comparison of three configurations.
//!
//! - **base**: what the files said at the last deployment (the runtime state
//!   the files do not decide folded in); absent before the first one.
//! - **running**: what the database holds now.
//! - **target**: what the deployment brings (the files) or the rollback
//!   restores (an earlier deployment's configuration).
//!
//! A definition whose running form differs from its base was changed at
//! runtime: that is drift, until the files say the same. How a change that
//! meets drift is made, and whether a definition the target lacks is
//! deleted, is the caller's choice ([`OnDrift`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Definitions of one kind by name, as canonical JSON.
pub(crate) type Definitions = BTreeMap<String, Value>;

/// What to do when a deployment would undo a runtime change or delete a
/// definition the files do not mention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDrift {
    /// Change nothing and say exactly what would be undone (the default).
    #[default]
    Refuse,
    /// The target wins: runtime changes are undone, unmentioned definitions
    /// deleted.
    Overwrite,
    /// Runtime changes survive: only what the files changed since the last
    /// deployment is applied, field by field; a field changed on both sides
    /// keeps its runtime value.
    KeepRuntime,
}

impl OnDrift {
    pub fn as_str(self) -> &'static str {
        match self {
            OnDrift::Refuse => "refuse",
            OnDrift::Overwrite => "overwrite",
            OnDrift::KeepRuntime => "keep_runtime",
        }
    }
}

/// One field that differs, by its dotted path (`metadata.owner`); absent
/// values are `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// What a deployment does to one definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Nothing is written: the runtime form is kept (`keep_runtime`).
    KeepRuntime,
}

/// One definition the deployment changes (or, for `keep_runtime`, leaves
/// as changed at runtime).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemChange {
    pub name: String,
    pub action: Action,
    /// Field by field, from the running form to the one written.
    pub fields: Vec<FieldChange>,
    /// The change undoes a runtime change (drift) of this definition.
    pub undoes_drift: bool,
    /// Fields changed both at runtime and in the target since the last
    /// deployment; `keep_runtime` kept their runtime value.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub conflicts: Vec<String>,
}

/// How a definition drifted from what the files said at the last deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Created at runtime: the files do not have it.
    Created,
    Modified,
    Deleted,
}

/// A runtime change since the last deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub name: String,
    pub kind: DriftKind,
    /// From what the files said to what runs.
    pub fields: Vec<FieldChange>,
    /// Who made the last runtime change, when, and how (`update`,
    /// `paused`, ...), from the audit log.
    pub actor: Option<String>,
    pub at_ms: Option<i64>,
    pub action: Option<String>,
}

/// One section's comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The definitions written, deleted or kept, by name.
    pub changes: Vec<ItemChange>,
    /// The definitions the target leaves as they run, by name.
    pub unchanged: Vec<String>,
    /// What the target would undo or delete that `refuse` refuses, one
    /// line each.
    pub refused: Vec<String>,
    /// The configuration after the change.
    #[serde(skip)]
    pub result: Definitions,
}

/// Compares `running` with `target` under `on_drift`, knowing `base` (what
/// the files said at the last deployment; `None` before the first one).
/// `what` names the definitions in refusal lines (`flag`). Under `refuse`
/// the changes and the result are those `overwrite` would make, so that a
/// plan shows them.
pub(crate) fn compare(
    what: &str,
    base: Option<&Definitions>,
    running: &Definitions,
    target: &Definitions,
    on_drift: OnDrift,
) -> Comparison {
    let mut out = Comparison::default();
    let names: BTreeSet<&String> = running.keys().chain(target.keys()).collect();
    for name in names {
        let (r, t) = (running.get(name), target.get(name));
        let b = base.and_then(|b| b.get(name));
        let drifted = r != b;
        let mut conflicts = Vec::new();
        // What runs afterwards, and whether that keeps the runtime form.
        let (after, kept): (Option<Value>, bool) = match (r, t) {
            (Some(r), Some(t)) if r == t => {
                out.unchanged.push(name.clone());
                out.result.insert(name.clone(), r.clone());
                continue;
            }
            (_, t) if !drifted => (t.cloned(), false),
            (Some(r), t) if on_drift == OnDrift::KeepRuntime => match (b, t) {
                // Changed at runtime, and changed in the files since: merge.
                (Some(b), Some(t)) => {
                    let merged = merge(b, r, t, "", &mut conflicts);
                    let kept = merged == *r;
                    (Some(merged), kept)
                }
                // Without a base it is unknown what the files changed: the
                // runtime form wins whole.
                (None, Some(t)) => {
                    conflicts.extend(diff(Some(r), Some(t)).into_iter().map(|f| f.field));
                    (Some(r.clone()), true)
                }
                (_, None) => (Some(r.clone()), true),
            },
            // Deleted at runtime: kept deleted.
            (None, _) if on_drift == OnDrift::KeepRuntime => (None, true),
            (r, t) => {
                if on_drift == OnDrift::Refuse {
                    out.refused.push(refusal(what, name, b, r, t));
                }
                (t.cloned(), false)
            }
        };
        let action = match (r, &after) {
            _ if kept => Action::KeepRuntime,
            (None, Some(_)) => Action::Create,
            (Some(_), None) => Action::Delete,
            _ => Action::Update,
        };
        // Every deletion needs to be asked for, even one the files decided
        // since the last deployment (a directory holding only a template
        // must not remove the rest): `overwrite`, or `keep_runtime`, which
        // makes only those.
        if action == Action::Delete && !drifted && on_drift == OnDrift::Refuse {
            out.refused.push(refusal(what, name, b, r, t));
        }
        out.changes.push(ItemChange {
            name: name.clone(),
            action,
            fields: diff(r, if kept { t } else { after.as_ref() }),
            // A merge keeps every runtime value; only a change that lets
            // the target win over drift undoes it.
            undoes_drift: drifted && !kept && on_drift != OnDrift::KeepRuntime,
            conflicts,
        });
        if let Some(v) = after {
            out.result.insert(name.clone(), v);
        }
    }
    out
}

/// One line of what `refuse` refuses.
fn refusal(
    what: &str,
    name: &str,
    base: Option<&Value>,
    running: Option<&Value>,
    target: Option<&Value>,
) -> String {
    match (running, target) {
        (Some(r), Some(t)) => format!(
            "{what} `{name}`: undo its runtime change ({})",
            describe(&diff(Some(r), Some(t)))
        ),
        (None, _) => format!("{what} `{name}`: re-create it, though it was deleted at runtime"),
        (Some(r), None) => {
            let why = match base {
                None => "created at runtime",
                Some(b) if b != r => "changed at runtime",
                Some(_) => "deployed before",
            };
            format!("{what} `{name}` ({why}): delete it, though the target does not mention it")
        }
    }
}

/// The runtime changes of `running` since `base`, without who made them.
pub(crate) fn drift(base: Option<&Definitions>, running: &Definitions) -> Vec<Drift> {
    let empty = Definitions::new();
    let base = base.unwrap_or(&empty);
    let names: BTreeSet<&String> = base.keys().chain(running.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (b, r) = (base.get(name), running.get(name));
            let kind = match (b, r) {
                (None, Some(_)) => DriftKind::Created,
                (Some(_), None) => DriftKind::Deleted,
                (Some(b), Some(r)) if b != r => DriftKind::Modified,
                _ => return None,
            };
            Some(Drift {
                name: name.clone(),
                kind,
                fields: diff(b, r),
                actor: None,
                at_ms: None,
                action: None,
            })
        })
        .collect()
}

/// The fields in which `before` and `after` differ, by dotted path, going
/// into objects; arrays and scalars compare whole.
pub(crate) fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_into(before, after, "", &mut out);
    out
}

fn diff_into(
    before: Option<&Value>,
    after: Option<&Value>,
    path: &str,
    out: &mut Vec<FieldChange>,
) {
    if before == after {
        return;
    }
    if let (Some(Value::Object(b)), Some(Value::Object(a))) = (before, after) {
        let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        for key in keys {
            diff_into(b.get(key), a.get(key), &join(path, key), out);
        }
        return;
    }
    // A definition created or deleted is one change of the whole.
    if path.is_empty() && (before.is_none() || after.is_none()) {
        return;
    }
    out.push(FieldChange {
        field: path.to_string(),
        before: before.cloned(),
        after: after.cloned(),
    });
}

/// Three-way merge of objects: a field the target changed since `base` and
/// runtime did not takes the target's value; any other keeps the runtime
/// value. Fields changed on both sides to different values are conflicts.
fn merge(
    base: &Value,
    running: &Value,
    target: &Value,
    path: &str,
    conflicts: &mut Vec<String>,
) -> Value {
    let (Value::Object(b), Value::Object(r), Value::Object(t)) = (base, running, target) else {
        return if target == base {
            running.clone()
        } else if running == base || running == target {
            target.clone()
        } else {
            conflicts.push(if path.is_empty() {
                "(whole)".into()
            } else {
                path.to_string()
            });
            running.clone()
        };
    };
    let keys: BTreeSet<&String> = b.keys().chain(r.keys()).chain(t.keys()).collect();
    let mut merged = serde_json::Map::new();
    for key in keys {
        let (bk, rk, tk) = (b.get(key), r.get(key), t.get(key));
        let field = join(path, key);
        let value = match (bk, rk, tk) {
            (Some(bv), Some(rv), Some(tv)) => Some(merge(bv, rv, tv, &field, conflicts)),
            _ if tk == bk => rk.cloned(),
            _ if rk == bk || rk == tk => tk.cloned(),
            _ => {
                conflicts.push(field);
                rk.cloned()
            }
        };
        if let Some(v) = value {
            merged.insert(key.clone(), v);
        }
    }
    Value::Object(merged)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `percentage 60 → 25, enabled false → true`, for one-line messages.
pub(crate) fn describe(fields: &[FieldChange]) -> String {
    fn show(v: &Option<Value>) -> String {
        match v {
            None => "(none)".into(),
            Some(Value::String(s)) => s.clone(),
            // 25.0 reads as 25; the JSON keeps the number as stored.
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
                _ => n.to_string(),
            },
            Some(other) => other.to_string(),
        }
    }
    fields
        .iter()
        .map(|f| format!("{} {} → {}", f.field, show(&f.before), show(&f.after)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs(items: &[(&str, Value)]) -> Definitions {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn diffs_go_into_objects() {
        let before =
            json!({"percentage": 25, "metadata": {"owner": "a", "priority": 1}, "tags": ["x"]});
        let after = json!({"percentage": 60, "metadata": {"owner": "b"}, "tags": ["x", "y"]});
        let fields = diff(Some(&before), Some(&after));
        let paths: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            paths,
            ["metadata.owner", "metadata.priority", "percentage", "tags"]
        );
        assert_eq!(describe(&fields[2..3]), "percentage 25 → 60");
        assert!(
            diff(Some(&before), None).is_empty(),
            "a deletion is one change"
        );
    }

    #[test]
    fn drift_is_what_runs_differently_from_the_files() {
        let base = defs(&[
            ("a", json!({"p": 25})),
            ("b", json!({"p": 1})),
            ("gone", json!({})),
        ]);
        let running = defs(&[
            ("a", json!({"p": 60})),
            ("b", json!({"p": 1})),
            ("new", json!({})),
        ]);
        let d = drift(Some(&base), &running);
        let kinds: Vec<(&str, DriftKind)> = d.iter().map(|d| (d.name.as_str(), d.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a", DriftKind::Modified),
                ("gone", DriftKind::Deleted),
                ("new", DriftKind::Created)
            ]
        );
        assert!(drift(Some(&base), &base).is_empty());
    }

    /// The operator's scenario: a rollout step and a flag created at
    /// runtime meet a deploy of the unchanged files.
    #[test]
    fn each_choice_on_drift() {
        let files = defs(&[("sizing", json!({"enabled": true, "percentage": 25}))]);
        let running = defs(&[
            ("sizing", json!({"enabled": true, "percentage": 60})),
            ("night", json!({"enabled": true})),
        ]);
        let refuse = compare("flag", Some(&files), &running, &files, OnDrift::Refuse);
        assert_eq!(
            refuse.refused,
            [
                "flag `night` (created at runtime): delete it, though the target does not mention it",
                "flag `sizing`: undo its runtime change (percentage 60 → 25)"
            ]
        );
        let overwrite = compare("flag", Some(&files), &running, &files, OnDrift::Overwrite);
        assert!(overwrite.refused.is_empty());
        assert_eq!(overwrite.result, files);
        let keep = compare("flag", Some(&files), &running, &files, OnDrift::KeepRuntime);
        assert!(keep.refused.is_empty());
        assert_eq!(keep.result, running);
        assert!(keep.changes.iter().all(|c| c.action == Action::KeepRuntime));
    }

    #[test]
    fn keep_runtime_applies_what_the_files_changed_field_by_field() {
        let base = defs(&[(
            "f",
            json!({"enabled": true, "percentage": 25, "description": "old"}),
        )]);
        // At runtime: the kill switch. In the files: a new description and a
        // new percentage.
        let running = defs(&[(
            "f",
            json!({"enabled": false, "percentage": 25, "description": "old"}),
        )]);
        let files = defs(&[(
            "f",
            json!({"enabled": true, "percentage": 50, "description": "new"}),
        )]);
        let keep = compare("flag", Some(&base), &running, &files, OnDrift::KeepRuntime);
        assert_eq!(
            keep.result["f"],
            json!({"enabled": false, "percentage": 50, "description": "new"}),
            "the kill switch stays off"
        );
        assert!(
            !keep.changes[0].undoes_drift,
            "a merge keeps the runtime value"
        );
        // Both sides changed the percentage: runtime wins, and it is said.
        let running = defs(&[(
            "f",
            json!({"enabled": true, "percentage": 60, "description": "old"}),
        )]);
        let keep = compare("flag", Some(&base), &running, &files, OnDrift::KeepRuntime);
        assert_eq!(keep.result["f"]["percentage"], json!(60));
        assert_eq!(keep.changes[0].conflicts, ["percentage"]);
    }

    #[test]
    fn without_drift_the_files_apply_and_deletions_still_need_a_choice() {
        let base = defs(&[("a", json!({"p": 1})), ("b", json!({"p": 2}))]);
        let files = defs(&[("a", json!({"p": 3}))]);
        let refuse = compare("flag", Some(&base), &base, &files, OnDrift::Refuse);
        assert_eq!(
            refuse.refused,
            ["flag `b` (deployed before): delete it, though the target does not mention it"]
        );
        assert!(
            !refuse
                .changes
                .iter()
                .find(|c| c.name == "a")
                .unwrap()
                .undoes_drift
        );
        let keep = compare("flag", Some(&base), &base, &files, OnDrift::KeepRuntime);
        assert_eq!(
            keep.result, files,
            "the files dropped `b` since the last deployment"
        );
    }
}
