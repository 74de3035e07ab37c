//! `feature_flags.yml`: the flags, whose a_b_test flags may name an
//! experiment of `ab_tests.yml`, and whose rules may name the segments of
//! the same file (their own section, `segments.rs`).

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::common::time::{format_rfc3339_ms, parse_rfc3339_ms};
use crate::config::performance_monitoring::SETTINGS_NAME;
use crate::config::{self, ConfigError, ConfigFile};
use crate::deploy::plan::Definitions;
use crate::deploy::section::{Configuration, Section, SectionFile, parsed, to_items};
use crate::error::Result;
use crate::experiments::{ExperimentDefinition, MetricType};
use crate::flags::{FlagDefinition, FlagType, Hold};
use crate::handle::flags::{KIND, SEGMENT_KIND, check_experiment_links};

pub(crate) struct FeatureFlags;

impl Section for FeatureFlags {
    fn config_file(&self) -> &'static ConfigFile {
        &config::files::FEATURE_FLAGS
    }

    fn items(&self) -> &'static str {
        "flags"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn load(&self, path: &Path) -> Result<SectionFile, ConfigError> {
        let loaded = config::load_feature_flags(path)?;
        Ok(SectionFile {
            source_version: loaded.source_version,
            migration: loaded.migration,
            items: to_items(&loaded.flags, |f| &f.name),
        })
    }

    /// Every flag alone and as a set (prerequisites), every flag linked to
    /// an experiment finds it, and every guardrail names an alert rule of
    /// performance_monitoring.yml or an experiment with guardrail metrics,
    /// whichever files a deployment brings.
    fn check(&self, configuration: &Configuration) -> Result<()> {
        let flags: Vec<FlagDefinition> = parsed(configuration, KIND)?;
        let segments: Vec<crate::flags::Segment> = parsed(configuration, SEGMENT_KIND)?;
        config::compile_flag_set(flags.clone(), segments, None)?;
        let experiments: Vec<ExperimentDefinition> =
            parsed(configuration, crate::store::experiments::KIND)?;
        let ids: Vec<String> = experiments.iter().map(|e| e.id.clone()).collect();
        check_experiment_links(&flags, &ids)?;
        let rules: Vec<&String> = configuration
            .get(crate::store::monitoring::KIND)
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|n| *n != SETTINGS_NAME)
            .collect();
        let mut problems = Vec::new();
        for f in &flags {
            let Some(guard) = &f.guardrails else { continue };
            for alert in &guard.alerts {
                if !rules.contains(&alert) {
                    problems.push(format!(
                        "flags.{}.guardrails.alerts: no alert rule `{alert}` in performance_monitoring.yml",
                        f.name
                    ));
                }
            }
            for id in &guard.experiments {
                match experiments.iter().find(|e| &e.id == id) {
                    None => problems.push(format!(
                        "flags.{}.guardrails.experiments: no experiment `{id}` in ab_tests.yml",
                        f.name
                    )),
                    Some(e) if !e.metrics.iter().any(|m| m.metric_type == MetricType::Guardrail) => {
                        problems.push(format!(
                            "flags.{}.guardrails.experiments: experiment `{id}` has no guardrail metric to watch",
                            f.name
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::config(problems.join("; ")))
        }
    }

    /// The rollouts in progress: enabled percentage flags between 0 and
    /// 100%, and time-based ramps with their step in force and the next.
    fn status(
        &self,
        _conn: &rusqlite::Connection,
        running: &Definitions,
        now_ms: i64,
    ) -> Result<Value> {
        let flags: Vec<FlagDefinition> = parsed(
            &Configuration::from([(KIND.to_string(), running.clone())]),
            KIND,
        )?;
        let rollouts: Vec<Rollout> = flags.iter().filter_map(|f| rollout(f, now_ms)).collect();
        Ok(serde_json::json!({
            "enabled": flags.iter().filter(|f| f.enabled).count(),
            "disabled": flags.iter().filter(|f| !f.enabled).map(|f| &f.name).collect::<Vec<_>>(),
            "rollouts": rollouts,
        }))
    }
}

/// A flag part of the way out.
#[derive(Debug, Serialize)]
struct Rollout {
    flag: String,
    #[serde(rename = "type")]
    flag_type: FlagType,
    /// The share of units it is on for now.
    percentage: f64,
    /// The next step of a schedule: when, and to what percentage.
    next_step: Option<Step>,
    /// Stopped by a guardrail (or by hand): at what percentage, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    held: Option<Hold>,
}

#[derive(Debug, Serialize)]
struct Step {
    at: String,
    percentage: f64,
}

fn rollout(f: &FlagDefinition, now_ms: i64) -> Option<Rollout> {
    let percentage = f.rollout_percentage(now_ms)?;
    let at = |t: &str| parse_rfc3339_ms(t).ok();
    let next_step = f
        .schedule
        .iter()
        .find(|s| f.hold.is_none() && at(&s.at).is_some_and(|t| t > now_ms))
        .map(|s| Step {
            at: at(&s.at).map_or(s.at.clone(), format_rfc3339_ms),
            percentage: s.percentage,
        });
    let moving =
        next_step.is_some() || (percentage > 0.0 && percentage < 100.0) || f.hold.is_some();
    moving.then(|| Rollout {
        flag: f.name.clone(),
        flag_type: f.flag_type,
        percentage,
        next_step,
        held: f.hold.clone(),
    })
}
