//! The targeting model: rules with constraints, reusable segments,
//! environment overrides, variant overrides and conditional prerequisites.
//! Plain data with serde, as [`super::FlagDefinition`]; read and checked by
//! `crate::config`, compiled by [`super::compile`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a constraint compares a context attribute with its values: the
/// operators of Unleash's constraints, under the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    /// The attribute is one of `values`.
    In,
    /// The attribute is none of `values` (true when it is absent).
    NotIn,
    /// The attribute contains one of `values`.
    StrContains,
    /// The attribute starts with one of `values`.
    StrStartsWith,
    /// The attribute ends with one of `values`.
    StrEndsWith,
    /// The attribute, as a number, equals `value`.
    NumEq,
    NumGt,
    NumGte,
    NumLt,
    NumLte,
    /// The attribute, an RFC 3339 time, is after `value` (exclusive).
    DateAfter,
    /// The attribute, an RFC 3339 time, is before `value` (exclusive).
    DateBefore,
    /// The attribute, a semantic version, equals `value` (by precedence).
    SemverEq,
    SemverGt,
    SemverGte,
    SemverLt,
    SemverLte,
    /// The attribute matches the regular expression `value` (anywhere in
    /// it, unless anchored).
    Regex,
    /// The attribute, an IP address, is in one of the CIDR ranges (or is
    /// one of the addresses) of `values`.
    InCidr,
}

impl Operator {
    /// Every operator, in documentation order.
    pub const ALL: [Operator; 19] = [
        Operator::In,
        Operator::NotIn,
        Operator::StrContains,
        Operator::StrStartsWith,
        Operator::StrEndsWith,
        Operator::NumEq,
        Operator::NumGt,
        Operator::NumGte,
        Operator::NumLt,
        Operator::NumLte,
        Operator::DateAfter,
        Operator::DateBefore,
        Operator::SemverEq,
        Operator::SemverGt,
        Operator::SemverGte,
        Operator::SemverLt,
        Operator::SemverLte,
        Operator::Regex,
        Operator::InCidr,
    ];

    /// The name used in YAML and JSON (`STR_STARTS_WITH`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "IN",
            Operator::NotIn => "NOT_IN",
            Operator::StrContains => "STR_CONTAINS",
            Operator::StrStartsWith => "STR_STARTS_WITH",
            Operator::StrEndsWith => "STR_ENDS_WITH",
            Operator::NumEq => "NUM_EQ",
            Operator::NumGt => "NUM_GT",
            Operator::NumGte => "NUM_GTE",
            Operator::NumLt => "NUM_LT",
            Operator::NumLte => "NUM_LTE",
            Operator::DateAfter => "DATE_AFTER",
            Operator::DateBefore => "DATE_BEFORE",
            Operator::SemverEq => "SEMVER_EQ",
            Operator::SemverGt => "SEMVER_GT",
            Operator::SemverGte => "SEMVER_GTE",
            Operator::SemverLt => "SEMVER_LT",
            Operator::SemverLte => "SEMVER_LTE",
            Operator::Regex => "REGEX",
            Operator::InCidr => "IN_CIDR",
        }
    }

    /// The operator named `name`.
    pub fn parse(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Whether it compares with a list (`values`) rather than one `value`.
    pub fn takes_list(self) -> bool {
        matches!(
            self,
            Operator::In
                | Operator::NotIn
                | Operator::StrContains
                | Operator::StrStartsWith
                | Operator::StrEndsWith
                | Operator::InCidr
        )
    }

    /// Whether `case_insensitive` means anything to it.
    pub fn has_case(self) -> bool {
        matches!(
            self,
            Operator::In
                | Operator::NotIn
                | Operator::StrContains
                | Operator::StrStartsWith
                | Operator::StrEndsWith
                | Operator::Regex
        )
    }
}

/// One condition on a context attribute.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// `user_id`, `session_id`, `groups`, `environment`, `app_name`,
    /// `current_time`, `remote_address`, `hostname`, or any other name: a
    /// custom property of the context.
    pub attribute: String,
    pub operator: Operator,
    /// The list of list operators (IN, NOT_IN, STR_*, IN_CIDR).
    #[serde(default)]
    pub values: Vec<String>,
    /// The one value of the other operators (a number, a time, a version,
    /// a regular expression).
    #[serde(default)]
    pub value: Option<String>,
    /// Compare without regard to case (IN, NOT_IN, STR_*, REGEX).
    #[serde(default)]
    pub case_insensitive: bool,
    /// Negates the result, after everything else.
    #[serde(default)]
    pub inverted: bool,
}

/// A list operator keeps its `values` even when the list is empty (IN of
/// nothing never holds, NOT_IN of nothing always does), so that the stored
/// form reads back as written.
impl Serialize for Constraint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            attribute: &'a str,
            operator: Operator,
            #[serde(skip_serializing_if = "Option::is_none")]
            values: Option<&'a [String]>,
            #[serde(skip_serializing_if = "Option::is_none")]
            value: Option<&'a str>,
            #[serde(skip_serializing_if = "is_false")]
            case_insensitive: bool,
            #[serde(skip_serializing_if = "is_false")]
            inverted: bool,
        }
        Fields {
            attribute: &self.attribute,
            operator: self.operator,
            values: (self.operator.takes_list() || !self.values.is_empty())
                .then_some(self.values.as_slice()),
            value: self.value.as_deref(),
            case_insensitive: self.case_insensitive,
            inverted: self.inverted,
        }
        .serialize(serializer)
    }
}

/// One targeting rule of a flag. Rules are tried in order; the first whose
/// constraints and segments all hold for the context (and whose rollout
/// takes the unit) decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for reports (`rule pilot_sites`); the position when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A switched-off rule is kept but never matches.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// All must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    /// Segments (by name) whose constraints must all hold too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// A rollout inside the rule: the share of the matching units it
    /// takes, 0–100 in 0.01 steps. Absent: every matching unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
    /// The unit of the rollout and of the rule's variants: a context
    /// attribute, `default` (user_id, else session_id, else random) or
    /// `random`; the flag's stickiness when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<String>,
    /// The hash seed of the rollout and the variants (the flag's seed when
    /// absent); Unleash's `groupId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// What the flag is for the units the rule takes: on (the default) or
    /// off.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub serve: bool,
    /// The variants the units it takes get, by whole-number weight; the
    /// flag's own variants when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
}

impl Rule {
    /// A rule that matches everyone.
    pub fn new() -> Rule {
        Rule {
            name: None,
            enabled: true,
            constraints: Vec::new(),
            segments: Vec::new(),
            percentage: None,
            stickiness: None,
            seed: None,
            serve: true,
            variants: Vec::new(),
        }
    }
}

impl Default for Rule {
    fn default() -> Rule {
        Rule::new()
    }
}

/// A named set of constraints that rules of many flags reference, the
/// `segments:` section of feature_flags.yml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// All must hold for a context to be in the segment.
    #[serde(default)]
    pub constraints: Vec<Constraint>,
}

/// What a flag is in one environment (chosen by the context's
/// `environment`): the fields given replace the flag's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// percentage flags: the share of units in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<Variant>>,
}

impl EnvironmentOverride {
    /// The fields an override may replace.
    pub const FIELDS: [&'static str; 5] = ["enabled", "default", "percentage", "rules", "variants"];
}

/// A variant forced for listed units, before any weight is looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantOverride {
    /// The context attribute compared (`user_id`, a property, ...).
    pub attribute: String,
    /// The units of that attribute that get the variant.
    pub values: Vec<String>,
}

/// A flag this one depends on. Written as the flag's name alone when it
/// must simply be on; as a mapping for the other conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prerequisite {
    pub flag: String,
    /// Whether the parent must be on (true) or off (false).
    pub enabled: bool,
    /// When not empty: the parent must be on with one of these variants.
    pub variants: Vec<String>,
}

impl Prerequisite {
    /// The parent `flag` must be on.
    pub fn on(flag: impl Into<String>) -> Prerequisite {
        Prerequisite {
            flag: flag.into(),
            enabled: true,
            variants: Vec::new(),
        }
    }

    /// Whether it is the plain form: the parent must be on.
    pub fn is_plain(&self) -> bool {
        self.enabled && self.variants.is_empty()
    }
}

impl From<&str> for Prerequisite {
    fn from(flag: &str) -> Prerequisite {
        Prerequisite::on(flag)
    }
}

impl PartialEq<&str> for Prerequisite {
    fn eq(&self, other: &&str) -> bool {
        self.is_plain() && self.flag == *other
    }
}

/// The mapping form of a prerequisite.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrerequisiteFields {
    flag: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    variants: Vec<String>,
}

impl Serialize for Prerequisite {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_plain() {
            serializer.serialize_str(&self.flag)
        } else {
            PrerequisiteFields {
                flag: self.flag.clone(),
                enabled: self.enabled,
                variants: self.variants.clone(),
            }
            .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Prerequisite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Name(String),
            Fields(PrerequisiteFields),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Name(flag) => Prerequisite::on(flag),
            Form::Fields(f) => Prerequisite {
                flag: f.flag,
                enabled: f.enabled,
                variants: f.variants,
            },
        })
    }
}

/// A variant: an arm of an `a_b_test` flag, or a value (its payload) that
/// the units a flag or a rule is on for get by weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// The variant's share (0.01 steps): of an a_b_test flag, a percentage
    /// of units (the weights add up to 100); elsewhere relative to the
    /// other variants' weights.
    pub weight: f64,
    /// Whether the flag counts as on for units in this variant (false for a
    /// control arm that keeps the old behaviour). Default true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// The variant's value, handed to the caller with it: a string, a
    /// number or any JSON (what `cha_flag_string`, `cha_flag_double`,
    /// `cha_flag_int` and `cha_flag_json` return).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// Units that get this variant whatever the weights say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<VariantOverride>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prerequisites_keep_their_short_form() {
        let list: Vec<Prerequisite> = serde_json::from_value(serde_json::json!([
            "a",
            {"flag": "b", "enabled": false},
            {"flag": "c", "variants": ["x"]},
            {"flag": "d"}
        ]))
        .unwrap();
        assert_eq!(list[0], "a");
        assert!(!list[1].enabled);
        assert_eq!(list[2].variants, ["x"]);
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            serde_json::json!(["a", {"flag": "b", "enabled": false}, {"flag": "c", "variants": ["x"]}, "d"])
        );
    }

    #[test]
    fn operators_have_their_unleash_names() {
        for op in Operator::ALL {
            assert_eq!(Operator::parse(op.as_str()), Some(op));
            assert_eq!(
                serde_json::to_value(op).unwrap(),
                serde_json::json!(op.as_str())
            );
        }
        assert_eq!(Operator::parse("NOT_A_VALID_OPERATOR"), None);
    }
}
