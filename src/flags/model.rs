//! The flag definition: what a YAML file, a JSON update and the store hold.
//!
//! [`FlagDefinition`] is plain data with serde for JSON (and YAML) export.
//! Input is read and checked by `crate::config` (`config::flag`), which
//! records every problem with its path (and location, from YAML), so that a
//! file and a JSON update are validated by the same code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::targeting::Variant;
use super::targeting::{EnvironmentOverride, Prerequisite, Rule};

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
            FlagType::Percentage => &["percentage", "guardrails", "hold"],
            FlagType::UserGroup => &[
                "include_groups",
                "exclude_groups",
                "allow_users",
                "deny_users",
            ],
            FlagType::AbTest => &["experiment"],
            FlagType::TimeBased => &["start_time", "end_time", "schedule", "guardrails", "hold"],
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
    /// Flags that must be on (for the same context) for this one to be on;
    /// or off, or on with one of some variants, in the mapping form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<Prerequisite>,
    /// Targeting rules, tried in order before the flag's type decides:
    /// the first that matches decides. A boolean flag with rules is on for
    /// the units they serve and its `default` for the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// What the flag is in some environments (by the context's
    /// `environment`): fields that replace the flag's own there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, EnvironmentOverride>,

    /// percentage: share of units in percent, 0–100 in 0.01 steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
    /// The context attribute that picks a unit for splits and variants
    /// (`user_id` when absent; `session_id`, `environment`, `app_name`,
    /// `remote_address`, or any property name), or `default` (user_id,
    /// else session_id, else random) or `random`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<String>,
    /// The hash seed of splits and variants (the flag's name when absent).
    /// Flags sharing a seed pick the same units.
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
    /// a_b_test: the arms, until experiments supply them. Other types: the
    /// values the units the flag is on for get (when the rule that turned
    /// it on has none of its own).
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

    /// percentage, time_based: what watches the rollout, and what happens
    /// when it sees harm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<Guardrails>,
    /// percentage, time_based: the rollout stopped by a guardrail (or by
    /// hand): while set, the flag is on for exactly this percentage of
    /// units, whatever `percentage` or `schedule` say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
}

/// The guardrails of a rollout: alert rules of performance_monitoring.yml
/// and experiments whose guardrail metrics must not be harmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Alert rules (their names in performance_monitoring.yml) that stop
    /// the rollout when they fire at `min_severity` or above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
    /// `warning` (the default), `error` or `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<String>,
    /// Experiments of ab_tests.yml whose guardrail metrics stop the rollout
    /// when one is significantly harmed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<String>,
    /// What happens then: `pause` (the default) or `rollback`.
    #[serde(default)]
    pub on_trigger: GuardAction,
}

/// What a guardrail does to a rollout that shows harm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// Hold the rollout at the percentage it has reached.
    #[default]
    Pause,
    /// Take it back to 0%: off for every unit.
    Rollback,
}

impl GuardAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Pause => "pause",
            GuardAction::Rollback => "rollback",
        }
    }
}

/// A stopped rollout: at what percentage it holds, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// The share of units it stays on for (0 after a rollback).
    pub percentage: f64,
    pub action: GuardAction,
    /// What fired, or what was harmed, in words.
    pub reason: String,
    /// When it stopped (RFC 3339).
    pub at: String,
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
            rules: Vec::new(),
            environments: BTreeMap::new(),
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
            guardrails: None,
            hold: None,
        }
    }

    /// The share of units a rollout (a percentage flag, or a time-based
    /// flag with a schedule) is on for at `now_ms`, held or not; `None` for
    /// a flag that is no rollout, is off, or whose window has ended.
    pub fn rollout_percentage(&self, now_ms: i64) -> Option<f64> {
        if !self.enabled {
            return None;
        }
        let at = |t: &str| crate::common::time::parse_rfc3339_ms(t).ok();
        let running = match self.flag_type {
            FlagType::Percentage => self.percentage?,
            FlagType::TimeBased if !self.schedule.is_empty() => {
                if self
                    .end_time
                    .as_deref()
                    .and_then(at)
                    .is_some_and(|end| now_ms >= end)
                {
                    return None;
                }
                self.schedule
                    .iter()
                    .rev()
                    .find(|s| at(&s.at).is_some_and(|t| t <= now_ms))
                    .map_or(0.0, |s| s.percentage)
            }
            _ => return None,
        };
        Some(self.hold.as_ref().map_or(running, |h| h.percentage))
    }

    /// The seed bucketing uses: `seed`, or the flag's name.
    pub fn effective_seed(&self) -> &str {
        self.seed.as_deref().unwrap_or(&self.name)
    }
}
