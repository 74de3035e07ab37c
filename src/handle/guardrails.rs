//! Guarded rollouts: a percentage or scheduled rollout that names
//! guardrails (alert rules of performance_monitoring.yml, experiments
//! whose guardrail metrics must not be harmed) stops by itself when one
//! fires or shows significant harm. It holds at the percentage it reached
//! (`pause`) or goes back to 0% (`rollback`), as its `on_trigger` says, and
//! the stop is written like any runtime change, by the actor `guardrail`
//! with its reasons: it shows in the flag's history and as drift, so no
//! deploy undoes it silently. `flags resume` lifts it.
//!
//! The check runs in the monitoring evaluator's thread, at most once per
//! [`CHECK_EVERY_MS`]; [`Cha::check_guardrails_at`] runs it at any instant,
//! which is how tests drive its clock.

use std::collections::HashMap;

use serde::Serialize;

use super::AlertQuery;
use super::Cha;
use crate::error::{Error, Result};
use crate::experiments::{AnalysisOptions, MetricType, Verdict};
use crate::flags::{GuardAction, Hold};
use crate::monitoring::Severity;

/// How often the background check looks, at most: an experiment's analysis
/// (a fold and a read) is not worth doing every second.
pub(crate) const CHECK_EVERY_MS: i64 = 60_000;

/// The actor of the changes the guardrails make.
pub const GUARDRAIL_ACTOR: &str = "guardrail";

/// A rollout a guardrail stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardEvent {
    pub flag: String,
    pub action: GuardAction,
    /// The percentage the rollout had reached.
    pub from_percentage: f64,
    /// The percentage it holds at now (0 after a rollback).
    pub percentage: f64,
    /// What fired or was harmed, one line each.
    pub reasons: Vec<String>,
    pub at_ms: i64,
    /// The flag's version with the hold.
    pub version: i64,
}

impl Cha {
    /// Checks every guarded rollout at `now_ms` (0: now) and stops those
    /// whose guardrails fire or show harm: a firing alert of the rules they
    /// name at their `min_severity` or above, or a guardrail metric of the
    /// experiments they name significantly harmed. Returns what it stopped.
    /// Rollouts already held, at 0%, or over are left alone.
    ///
    /// # Errors
    /// `Storage`, `Busy`; an experiment that cannot be analysed is skipped,
    /// not an error (its rollout is then watched by its other guardrails).
    pub fn check_guardrails_at(&self, now_ms: i64) -> Result<Vec<GuardEvent>> {
        crate::common::time::check_time_ms("now_ms", now_ms)?;
        let now = if now_ms == 0 {
            crate::clock::now_ms()
        } else {
            now_ms
        };
        let live = self.inner.live.load();
        let guarded: Vec<_> = live
            .flags
            .definitions()
            .iter()
            .filter(|d| d.guardrails.is_some() && d.hold.is_none())
            .filter(|d| d.rollout_percentage(now).is_some_and(|p| p > 0.0))
            .cloned()
            .collect();
        drop(live);
        if guarded.is_empty() {
            return Ok(Vec::new());
        }
        let firing = self.alerts(AlertQuery {
            firing_only: true,
            ..AlertQuery::default()
        })?;
        let mut harmed: HashMap<String, Vec<String>> = HashMap::new();
        let mut events = Vec::new();
        for def in guarded {
            let guard = def.guardrails.as_ref().expect("filtered on guardrails");
            let min = guard
                .min_severity
                .as_deref()
                .and_then(Severity::from_name)
                .unwrap_or(Severity::Warning);
            let mut reasons = Vec::new();
            for rule in &guard.alerts {
                if let Some(a) = firing.iter().find(|a| &a.rule == rule && a.severity >= min) {
                    let value = a.value.map_or("no data".into(), |v| format!("{v}"));
                    let threshold = a
                        .threshold
                        .map_or(String::new(), |t| format!(" against {t}"));
                    reasons.push(format!(
                        "alert {rule} firing ({}: {value}{threshold})",
                        a.severity.as_str()
                    ));
                }
            }
            for experiment in &guard.experiments {
                let metrics = match harmed.get(experiment) {
                    Some(m) => m,
                    None => {
                        let found = self.harmed_guardrails(experiment).unwrap_or_default();
                        harmed.entry(experiment.clone()).or_insert(found)
                    }
                };
                for m in metrics {
                    reasons.push(format!("experiment {experiment}: {m}"));
                }
            }
            if reasons.is_empty() {
                continue;
            }
            let from = def.rollout_percentage(now).unwrap_or(0.0);
            let percentage = match guard.on_trigger {
                GuardAction::Pause => from,
                GuardAction::Rollback => 0.0,
            };
            let hold = Hold {
                percentage,
                action: guard.on_trigger,
                reason: reasons.join("; "),
                at: crate::common::time::format_rfc3339_ms(now),
            };
            if let Some(change) = self.hold_rollout(&def.name, hold, GUARDRAIL_ACTOR)? {
                events.push(GuardEvent {
                    flag: def.name.clone(),
                    action: guard.on_trigger,
                    from_percentage: from,
                    percentage,
                    reasons,
                    at_ms: now,
                    version: change.version,
                });
            }
        }
        Ok(events)
    }

    /// Holds the rollout of flag `name` where it is now (`pause`), by hand,
    /// as a guardrail would: the flag stays on for the units it is on for.
    ///
    /// # Errors
    /// `NotFound`; `InvalidArgument` for a flag that is no rollout (not a
    /// percentage or scheduled time-based flag, off, or over), or one held
    /// already.
    pub fn pause_rollout(
        &self,
        name: &str,
        reason: &str,
        actor: &str,
    ) -> Result<crate::FlagChange> {
        let def = self.flag(name)?.definition;
        if def.hold.is_some() {
            return Err(Error::invalid_argument(format!(
                "the rollout of flag `{name}` is held already; resume it first"
            )));
        }
        let now = crate::clock::now_ms();
        let percentage = def.rollout_percentage(now).ok_or_else(|| {
            Error::invalid_argument(format!(
                "flag `{name}` is no rollout in progress (a percentage or scheduled time_based flag that is on)"
            ))
        })?;
        let hold = Hold {
            percentage,
            action: GuardAction::Pause,
            reason: if reason.trim().is_empty() {
                format!("paused by {actor}")
            } else {
                reason.to_string()
            },
            at: crate::common::time::format_rfc3339_ms(now),
        };
        match self.hold_rollout(name, hold, actor)? {
            Some(change) => Ok(change),
            None => Err(Error::invalid_argument(format!(
                "the rollout of flag `{name}` is held already; resume it first"
            ))),
        }
    }

    /// Lifts the hold of flag `name`'s rollout: it follows its percentage
    /// or schedule again.
    ///
    /// # Errors
    /// `NotFound`; `InvalidArgument` when it is not held.
    pub fn resume_rollout(&self, name: &str, actor: &str) -> Result<crate::FlagChange> {
        if self.flag(name)?.definition.hold.is_none() {
            return Err(Error::invalid_argument(format!(
                "the rollout of flag `{name}` is not held"
            )));
        }
        self.update_flag(name, &serde_json::json!({"hold": null}), actor)
    }

    /// The guardrail metrics of `experiment` significantly harmed in any
    /// variant, one line each.
    fn harmed_guardrails(&self, experiment: &str) -> Result<Vec<String>> {
        let report = self.analyze_experiment(experiment, AnalysisOptions::default())?;
        Ok(report
            .metrics
            .iter()
            .filter(|m| m.metric_type == MetricType::Guardrail)
            .flat_map(|m| {
                m.comparisons
                    .iter()
                    .filter(|c| c.verdict == Verdict::Harmed)
                    .map(move |c| format!("guardrail {} harmed in {}", m.name, c.variant))
            })
            .collect())
    }
}
