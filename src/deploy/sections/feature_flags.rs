//! `feature_flags.yml`: the flags, whose a_b_test flags may name an
//! experiment of `ab_tests.yml`.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::common::time::{format_rfc3339_ms, parse_rfc3339_ms};
use crate::config::{self, ConfigError, ConfigFile};
use crate::deploy::plan::Definitions;
use crate::deploy::section::{Configuration, Section, SectionFile, parsed, to_items};
use crate::error::Result;
use crate::flags::{FlagDefinition, FlagType};
use crate::handle::flags::{KIND, check_experiment_links};

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

    /// Every flag alone and as a set (prerequisites), and every flag linked
    /// to an experiment finds it, whichever file a deployment brings.
    fn check(&self, configuration: &Configuration) -> Result<()> {
        let flags: Vec<FlagDefinition> = parsed(configuration, KIND)?;
        config::compile_flags(flags.clone())?;
        let experiments: Vec<String> = configuration
            .get(crate::store::experiments::KIND)
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default();
        check_experiment_links(&flags, &experiments)
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
}

#[derive(Debug, Serialize)]
struct Step {
    at: String,
    percentage: f64,
}

fn rollout(f: &FlagDefinition, now_ms: i64) -> Option<Rollout> {
    if !f.enabled {
        return None;
    }
    let at = |t: &str| parse_rfc3339_ms(t).ok();
    let (percentage, next_step) = match f.flag_type {
        FlagType::Percentage => (f.percentage?, None),
        FlagType::TimeBased if !f.schedule.is_empty() => {
            let ended = f
                .end_time
                .as_deref()
                .and_then(at)
                .is_some_and(|end| now_ms >= end);
            if ended {
                return None;
            }
            let current = f
                .schedule
                .iter()
                .rev()
                .find(|s| at(&s.at).is_some_and(|t| t <= now_ms))
                .map_or(0.0, |s| s.percentage);
            let next = f
                .schedule
                .iter()
                .find(|s| at(&s.at).is_some_and(|t| t > now_ms))
                .map(|s| Step {
                    at: at(&s.at).map_or(s.at.clone(), format_rfc3339_ms),
                    percentage: s.percentage,
                });
            (current, next)
        }
        _ => return None,
    };
    let moving = next_step.is_some() || (percentage > 0.0 && percentage < 100.0);
    moving.then(|| Rollout {
        flag: f.name.clone(),
        flag_type: f.flag_type,
        percentage,
        next_step,
    })
}
