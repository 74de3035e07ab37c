//! `feature_flags.yml`: versions, migration of older shapes, loading, templates.
//!
//! # Versions
//!
//! - **2** (current): `version: 2`, a `flags:` mapping of flag name →
//!   fields of [`FlagDefinition`], and optionally a `segments:` mapping of
//!   segment name → `description` and `constraints`, which the flags'
//!   rules name. (Files without segments are read as they always were.)
//! - **1** (the seed's Python shape; `version: 1`, or no `version` with a
//!   top-level `feature_flags:`): per flag `flag_type`, `rollout_percentage`,
//!   `target_groups`, `excluded_groups`, `target_users`, `excluded_users`,
//!   `start_date`/`end_date` (ISO times, offset optional, read as UTC),
//!   `dependencies`, `ab_test_name`, `variants` as `{name: weight}`, flat
//!   `component`/`risk_level`/`priority`/`owner`, a display `name` and
//!   bookkeeping (`created_at`, `updated_at`, `created_by`). It is migrated
//!   to version 2 in memory; [`MigrationReport`] says what changed per flag.
//!   Migrated values keep their line and column, so problems point into the
//!   old file.
//!
//! A document without `version` but with `flags:` is refused with a hint to
//! add `version: 2`; a version newer than 2 is refused.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::flag::{check_flag_set, compile_flag_set, read_flag};
use super::reader::join;
use super::targeting::read_segment;
use super::{ConfigError, Issues, Key, Node, Value, parse_yaml};
use crate::flags::{FlagDefinition, FlagSet, FlagType, Segment};

/// The version this library writes and reads natively.
pub const CURRENT_VERSION: i64 = 2;

/// A loaded, validated `feature_flags.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureFlagsConfig {
    /// The version the file was written in (1 or 2).
    pub source_version: i64,
    /// The flags, in file order.
    pub flags: Vec<FlagDefinition>,
    /// The segments, in file order.
    pub segments: Vec<Segment>,
    /// What migration to the current version changed; `None` for a current file.
    pub migration: Option<MigrationReport>,
}

impl FeatureFlagsConfig {
    /// Compiles the flags for evaluation. Cannot fail on a loaded config
    /// (it was validated as a set), but is checked again for safety.
    ///
    /// # Errors
    /// `Config` if the definitions were changed into an invalid set.
    pub fn compile(&self) -> crate::Result<FlagSet> {
        compile_flag_set(self.flags.clone(), self.segments.clone(), None)
    }
}

/// What migrating a file to the current version did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationReport {
    pub from_version: i64,
    pub to_version: i64,
    /// Changes to the document as a whole.
    pub notes: Vec<String>,
    /// Changes per flag, in file order.
    pub flags: Vec<FlagMigration>,
}

/// What migration changed in one flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagMigration {
    pub flag: String,
    pub changes: Vec<String>,
}

impl std::fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "migrated feature flags from version {} to {}",
            self.from_version, self.to_version
        )?;
        for note in &self.notes {
            write!(f, "\n  {note}")?;
        }
        for flag in &self.flags {
            write!(f, "\n  {}:", flag.flag)?;
            for change in &flag.changes {
                write!(f, "\n    {change}")?;
            }
        }
        Ok(())
    }
}

/// Reads and validates the feature-flag file at `path`.
///
/// # Errors
/// Every problem at once: unreadable file, invalid YAML, unknown version,
/// invalid fields, unknown prerequisites, cycles.
pub fn load_feature_flags(path: &Path) -> Result<FeatureFlagsConfig, ConfigError> {
    super::load_file(path, parse_feature_flags)
}

/// Parses and validates feature-flag YAML `text`; `file` names it in messages.
///
/// # Errors
/// As [`load_feature_flags`].
pub fn parse_feature_flags(text: &str, file: &str) -> Result<FeatureFlagsConfig, ConfigError> {
    let root = parse_yaml(text, file)?;
    let mut issues = Issues::new(file);
    if root.entries().is_none() {
        let message = if root.value == Value::Null {
            "the file is empty".to_owned()
        } else {
            format!(
                "expected a mapping with `version` and `flags`, found {}",
                root.kind()
            )
        };
        issues.push(
            root.loc,
            "",
            message,
            Some(format!("start with `version: {CURRENT_VERSION}`")),
        );
        return Err(issues.finish(()).unwrap_err());
    }
    let version = detect_version(&root, &mut issues);
    let (document, migration) = match version {
        Some(1) => {
            let (doc, report) = migrate_v1(&root);
            (doc, Some(report))
        }
        Some(_) => (root, None),
        None => return Err(issues.finish(()).unwrap_err()),
    };
    let flags = read_v2(&document, &mut issues);
    let segments = read_segments(&document, &mut issues);
    check_flag_set(&flags, &segments, Some(&document), &mut issues);
    issues.finish(FeatureFlagsConfig {
        source_version: version.unwrap_or(CURRENT_VERSION),
        flags,
        segments,
        migration,
    })
}

fn detect_version(root: &Node, issues: &mut Issues) -> Option<i64> {
    match root.get("version") {
        Some(Node {
            value: Value::Int(v @ 1..=CURRENT_VERSION),
            ..
        }) => Some(*v),
        Some(
            node @ Node {
                value: Value::Int(v),
                ..
            },
        ) if *v > CURRENT_VERSION => {
            issues.push(
                node.loc,
                "version",
                format!("version {v} is newer than this cha-deploy, which reads versions 1 to {CURRENT_VERSION}"),
                Some("upgrade cha-deploy".into()),
            );
            None
        }
        Some(node) => {
            issues.push(
                node.loc,
                "version",
                format!("unknown version {}", node.to_json()),
                Some(format!("use `version: {CURRENT_VERSION}`")),
            );
            None
        }
        None if root.get("feature_flags").is_some() => Some(1),
        None => {
            issues.push(
                root.loc,
                "version",
                "missing `version`",
                Some(format!("add `version: {CURRENT_VERSION}` at the top")),
            );
            None
        }
    }
}

fn read_v2(root: &Node, issues: &mut Issues) -> Vec<FlagDefinition> {
    for (key, _) in root.entries().unwrap_or_default() {
        if !["version", "flags", "segments"].contains(&key.name.as_str()) {
            let hint = if key.name == "feature_flags" {
                "`feature_flags` is the version 1 name: use `flags`, or `version: 1`".to_owned()
            } else {
                "a version 2 file has `version`, `flags` and `segments`".to_owned()
            };
            issues.push(
                key.loc,
                &key.name,
                format!("unknown field `{}`", key.name),
                Some(hint),
            );
        }
    }
    let Some(flags) = root.get("flags") else {
        issues.push(
            root.loc,
            "flags",
            "missing `flags`",
            Some("add `flags:` with one entry per flag".into()),
        );
        return Vec::new();
    };
    let Some(entries) = flags.entries() else {
        if flags.value != Value::Null {
            issues.push(
                flags.loc,
                "flags",
                format!(
                    "expected a mapping of flag name to fields, found {}",
                    flags.kind()
                ),
                None,
            );
        }
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(key, node)| {
            let path = join("flags", &key.name);
            let node = node.located_at(key);
            read_flag(&key.name, &node, &path, issues)
        })
        .collect()
}

/// The `segments:` mapping of a document: segment name → fields.
fn read_segments(root: &Node, issues: &mut Issues) -> Vec<Segment> {
    let Some(node) = root.get("segments").filter(|n| n.value != Value::Null) else {
        return Vec::new();
    };
    let Some(entries) = node.entries() else {
        issues.push(
            node.loc,
            "segments",
            format!(
                "expected a mapping of segment name to fields, found {}",
                node.kind()
            ),
            None,
        );
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(key, value)| {
            let path = join("segments", &key.name);
            read_segment(&key.name, &value.located_at(key), &path, issues)
        })
        .collect()
}

/// v1 field → v2 field, for plain renames.
const V1_RENAMES: [(&str, &str); 10] = [
    ("flag_type", "type"),
    ("rollout_percentage", "percentage"),
    ("target_groups", "include_groups"),
    ("excluded_groups", "exclude_groups"),
    ("target_users", "allow_users"),
    ("excluded_users", "deny_users"),
    ("dependencies", "prerequisites"),
    ("ab_test_name", "experiment"),
    ("start_date", "start_time"),
    ("end_date", "end_time"),
];

const V1_METADATA: [&str; 4] = ["component", "risk_level", "priority", "owner"];
const V1_BOOKKEEPING: [&str; 4] = ["created_at", "updated_at", "created_by", "last_modified"];

/// Rewrites a version 1 document as version 2, keeping locations.
fn migrate_v1(root: &Node) -> (Node, MigrationReport) {
    let mut report = MigrationReport {
        from_version: 1,
        to_version: CURRENT_VERSION,
        notes: Vec::new(),
        flags: Vec::new(),
    };
    if root.get("version").is_none() {
        report
            .notes
            .push("no `version`: read as version 1 (top-level `feature_flags`)".into());
    }
    report.notes.push("`feature_flags` → `flags`".into());
    for (key, _) in root.entries().unwrap_or_default() {
        if key.name != "version" && key.name != "feature_flags" {
            report.notes.push(format!(
                "dropped top-level `{}` (not used by version 2)",
                key.name
            ));
        }
    }
    let mut flags = Vec::new();
    let old_flags = root.get("feature_flags");
    if let Some(entries) = old_flags.and_then(Node::entries) {
        for (name, node) in entries {
            let mut changes = Vec::new();
            let migrated = migrate_flag_v1(node, &mut changes);
            report.flags.push(FlagMigration {
                flag: name.name.clone(),
                changes,
            });
            flags.push((name.clone(), migrated));
        }
    }
    let located = |name: &str, value: Value, loc| {
        (
            Key {
                name: name.into(),
                loc,
            },
            Node { value, loc },
        )
    };
    let version_loc = root.get("version").and_then(|n| n.loc);
    let flags_loc = old_flags.and_then(|n| n.loc);
    let document = Node {
        value: Value::Map(vec![
            located("version", Value::Int(CURRENT_VERSION), version_loc),
            (
                Key {
                    name: "flags".into(),
                    loc: flags_loc,
                },
                match old_flags {
                    Some(Node {
                        value: Value::Map(_),
                        ..
                    }) => Node {
                        value: Value::Map(flags),
                        loc: flags_loc,
                    },
                    Some(other) => other.clone(),
                    None => Node::new(Value::Null),
                },
            ),
        ]),
        loc: root.loc,
    };
    (document, report)
}

fn migrate_flag_v1(node: &Node, changes: &mut Vec<String>) -> Node {
    let Some(entries) = node.entries() else {
        return node.clone();
    };
    let mut out: Vec<(Key, Node)> = Vec::new();
    let mut metadata: Vec<(Key, Node)> = Vec::new();
    let has_description = node.get("description").is_some();
    for (key, value) in entries {
        let name = key.name.as_str();
        if let Some((_, new)) = V1_RENAMES.iter().find(|(old, _)| *old == name) {
            let mut value = value.clone();
            if let (true, Value::Str(text)) = (new.ends_with("_time"), &value.value)
                && lacks_offset(text)
            {
                let utc = format!("{text}Z");
                changes.push(format!(
                    "{name} `{text}` → {new} `{utc}` (no offset: read as UTC)"
                ));
                value.value = Value::Str(utc);
            } else {
                changes.push(format!("{name} → {new}"));
            }
            out.push((
                Key {
                    name: (*new).into(),
                    loc: key.loc,
                },
                value,
            ));
        } else if V1_METADATA.contains(&name) {
            changes.push(format!("{name} → metadata.{name}"));
            metadata.push((key.clone(), value.clone()));
        } else if V1_BOOKKEEPING.contains(&name) {
            changes.push(format!(
                "dropped {name} (the audit history records changes now)"
            ));
        } else if name == "name" {
            if has_description {
                changes.push("dropped display name (the key is the name)".into());
            } else {
                changes.push("display name → description".into());
                out.push((
                    Key {
                        name: "description".into(),
                        loc: key.loc,
                    },
                    value.clone(),
                ));
            }
        } else if name == "variants" && value.entries().is_some() {
            changes.push("variants {name: weight} → variants [{name, weight}]".into());
            let items = value
                .entries()
                .unwrap_or_default()
                .iter()
                .map(|(variant, weight)| Node {
                    value: Value::Map(vec![
                        (
                            Key {
                                name: "name".into(),
                                loc: variant.loc,
                            },
                            Node {
                                value: Value::Str(variant.name.clone()),
                                loc: variant.loc,
                            },
                        ),
                        (
                            Key {
                                name: "weight".into(),
                                loc: weight.loc,
                            },
                            weight.clone(),
                        ),
                    ]),
                    loc: variant.loc,
                })
                .collect();
            out.push((
                key.clone(),
                Node {
                    value: Value::Seq(items),
                    loc: value.loc,
                },
            ));
        } else {
            out.push((key.clone(), value.clone()));
        }
    }
    if !metadata.is_empty() {
        let loc = metadata[0].0.loc;
        out.push((
            Key {
                name: "metadata".into(),
                loc,
            },
            Node {
                value: Value::Map(metadata),
                loc,
            },
        ));
    }
    // Version 1 let any flag carry any field; version 2 refuses fields of
    // another type. Drop them, loudly, rather than fail the migration.
    let flag_type = out
        .iter()
        .find(|(k, _)| k.name == "type")
        .and_then(|(_, v)| match &v.value {
            Value::Str(t) => FlagType::parse(t),
            _ => None,
        });
    if let Some(flag_type) = flag_type {
        out.retain(|(k, v)| {
            let foreign = FlagType::ALL
                .iter()
                .any(|t| t.own_fields().contains(&k.name.as_str()))
                && !flag_type.own_fields().contains(&k.name.as_str());
            let empty =
                matches!(&v.value, Value::Seq(items) if items.is_empty()) || v.value == Value::Null;
            if foreign && !empty {
                changes.push(format!(
                    "dropped {} {} (a {} flag does not use it in version 2)",
                    k.name,
                    v.to_json(),
                    flag_type.as_str()
                ));
            }
            !foreign
        });
    }
    // A version 1 flag could name its experiment and still split by its own
    // variants; in version 2 a linked flag takes the experiment's variants.
    // Keep the split the flag had.
    if out.iter().any(|(k, _)| k.name == "variants") {
        out.retain(|(k, v)| {
            let link = k.name == "experiment";
            if link {
                changes.push(format!(
                    "dropped experiment {} (the flag keeps its own variants; link it by removing them)",
                    v.to_json()
                ));
            }
            !link
        });
    }
    Node {
        value: Value::Map(out),
        loc: node.loc,
    }
}

/// The flags as the text of a current `feature_flags.yml`, headed by a
/// comment saying it was migrated from `from_version`: each flag under its
/// name, its fields in the order of [`FlagDefinition`] and without `name`
/// (the key is the name). Reading the text back gives `flags` exactly.
///
/// # Panics
/// If a definition had no YAML form, which cannot happen: definitions hold
/// only strings, numbers, booleans, lists and string-keyed mappings.
pub(crate) fn migrated_text(flags: &[FlagDefinition], from_version: i64) -> String {
    let mut text = format!(
        "# feature_flags.yml, migrated from version {from_version} to version {CURRENT_VERSION} by\n\
         # cha-deploy {}. The comments of the old file are not carried over.\n\
         version: {CURRENT_VERSION}\n",
        crate::VERSION
    );
    if flags.is_empty() {
        text.push_str("flags: {}\n");
        return text;
    }
    text.push_str("flags:\n");
    for (i, flag) in flags.iter().enumerate() {
        let mut fields =
            super::yaml_writer::to_ordered_node(flag).expect("a flag definition has a YAML form");
        if let Value::Map(entries) = &mut fields.value {
            // The key is the name. `default: false` is what no `default`
            // means, and version 1 had none: left out, as people write it.
            entries.retain(|(k, v)| {
                k.name != "name" && !(k.name == "default" && v.value == Value::Bool(false))
            });
        }
        let key = Key {
            name: flag.name.clone(),
            loc: None,
        };
        if i > 0 {
            // A blank line between flags, as people write them.
            text.push('\n');
        }
        super::yaml_writer::write_entries(&mut text, &[(key, fields)], 2);
    }
    text
}

/// Whether an ISO time has no zone (`2024-01-01T00:00:00`), as Python's
/// `datetime.isoformat()` writes for naive times.
fn lacks_offset(text: &str) -> bool {
    let time = text.get(11..).unwrap_or("");
    text.len() >= 19 && !time.contains(['Z', 'z', '+', '-'])
}

/// A commented `feature_flags.yml` for `config_type`, headed by
/// `template_name`. Types: `cha_intelligent_sizing` (every flag type and
/// every field, with the CHA pipe-sizing flags) and `minimal` (one flag).
/// The result loads and validates as it is.
///
/// # Errors
/// `InvalidArgument` for an unknown `config_type`.
pub fn create_config_template(template_name: &str, config_type: &str) -> crate::Result<String> {
    let body = match config_type {
        "cha_intelligent_sizing" => TEMPLATE_FULL,
        "minimal" => TEMPLATE_MINIMAL,
        other => {
            return Err(crate::Error::invalid_argument(format!(
                "unknown config type `{other}` (known: cha_intelligent_sizing, minimal)"
            )));
        }
    };
    let title: String = template_name.chars().filter(|c| !c.is_control()).collect();
    Ok(format!(
        "# {title}: feature flags of the CHA intelligent pipe-sizing system\n\
         # Generated by cha-deploy {} (config type: {config_type}).\n{body}",
        crate::VERSION
    ))
}

const TEMPLATE_MINIMAL: &str = "\
# Format version; 2 is current.
version: 2
flags:
  # The flag's name is its key: letters, digits, `_`, `.` and `-`.
  intelligent_pipe_sizing:
    description: Flow-based pipe sizing with velocity limits
    # boolean | percentage | user_group | a_b_test | time_based
    type: boolean
    # The kill switch: false turns the flag off for everyone.
    enabled: false
";

const TEMPLATE_FULL: &str = include_str!("feature_flags_template.yml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_load_and_validate() {
        for config_type in ["cha_intelligent_sizing", "minimal"] {
            let text = create_config_template("Pilot network", config_type).unwrap();
            assert!(text.starts_with("# Pilot network: "));
            let config = parse_feature_flags(&text, "template.yml")
                .unwrap_or_else(|e| panic!("{config_type}: {e}"));
            config.compile().unwrap();
        }
        let full = parse_feature_flags(
            &create_config_template("t", "cha_intelligent_sizing").unwrap(),
            "t",
        )
        .unwrap();
        for flag_type in FlagType::ALL {
            assert!(
                full.flags.iter().any(|f| f.flag_type == flag_type),
                "{flag_type:?} missing"
            );
        }
        let err = create_config_template("t", "spreadsheet").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn version_detection() {
        let err = parse_feature_flags("flags: {}\n", "f.yml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.yml:1:1: version: missing `version` (hint: add `version: 2` at the top)"
        );
        let err = parse_feature_flags("version: 3\nflags: {}\n", "f.yml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("f.yml:1:10: version: version 3 is newer"),
            "{err}"
        );
        let err = parse_feature_flags("version: 2\nfeature_flags: {}\n", "f.yml").unwrap_err();
        assert!(
            err.to_string()
                .contains("`feature_flags` is the version 1 name"),
            "{err}"
        );
        let empty = parse_feature_flags("version: 2\nflags:\n", "f.yml").unwrap();
        assert!(empty.flags.is_empty() && empty.migration.is_none());
        let err = parse_feature_flags("", "f.yml").unwrap_err();
        assert!(err.to_string().contains("the file is empty"), "{err}");
    }

    #[test]
    fn version_1_is_migrated_with_a_report() {
        let v1 = include_str!("../../tests/fixtures/config/feature_flags_v1.yml");
        let config = parse_feature_flags(v1, "old.yml").unwrap();
        assert_eq!(config.source_version, 1);
        let pipe = &config.flags[1];
        assert_eq!(pipe.name, "intelligent_pipe_sizing");
        assert_eq!(pipe.flag_type, FlagType::Percentage);
        assert_eq!(pipe.percentage, Some(25.0));
        assert_eq!(pipe.prerequisites, ["flow_based_calculation"]);
        assert_eq!(pipe.metadata.component.as_deref(), Some("pipe_sizing"));
        assert!(pipe.include_groups.is_empty());
        assert_eq!(config.flags[0].description, "Flow-based calculation");
        assert_eq!(
            config.flags[2].start_time.as_deref(),
            Some("2025-06-01T00:00:00Z")
        );
        assert_eq!(
            config.flags[2].end_time.as_deref(),
            Some("2025-09-01T00:00:00+02:00")
        );
        assert_eq!(config.flags[3].variants[1].name, "intelligent");
        let report = config.migration.unwrap();
        assert_eq!(
            report.notes[0],
            "no `version`: read as version 1 (top-level `feature_flags`)"
        );
        assert!(
            report.notes.contains(
                &"dropped top-level `global_settings` (not used by version 2)".to_owned()
            )
        );
        let pipe_changes = &report.flags[1].changes;
        assert!(
            pipe_changes.contains(&"rollout_percentage → percentage".to_owned()),
            "{pipe_changes:?}"
        );
        assert!(pipe_changes.contains(&"risk_level → metadata.risk_level".to_owned()));
        assert!(
            pipe_changes.contains(&"dropped include_groups [\"beta_testers\"] (a percentage flag does not use it in version 2)".to_owned()),
            "{pipe_changes:?}"
        );
        assert!(report.flags[2].changes.contains(
            &"start_date `2025-06-01T00:00:00` → start_time `2025-06-01T00:00:00Z` (no offset: read as UTC)".to_owned()
        ));
        assert!(
            report
                .to_string()
                .starts_with("migrated feature flags from version 1 to 2")
        );
    }

    #[test]
    fn version_1_problems_point_into_the_old_file() {
        let err = parse_feature_flags(
            "version: 1\nfeature_flags:\n  a:\n    flag_type: percentage\n    rollout_percentage: 150\n",
            "old.yml",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("old.yml:5:25: flags.a.percentage: must be between 0 and 100"),
            "{err}"
        );
    }
}
