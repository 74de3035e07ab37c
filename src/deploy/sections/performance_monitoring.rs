//! `performance_monitoring.yml`: the threshold rules, stored one definition
//! each by rule name, and the settings, stored as the definition named
//! `settings`.

use std::path::Path;

use serde_json::{Value, json};

use crate::config::performance_monitoring::SETTINGS_NAME;
use crate::config::{self, ConfigError, ConfigFile};
use crate::deploy::plan::Definitions;
use crate::deploy::section::{Configuration, Section, SectionFile, parse};
use crate::error::{Error, Result};
use crate::monitoring::{MonitoringSettings, ThresholdRule};
use crate::store::monitoring::{self as sql, KIND};

pub(crate) struct PerformanceMonitoring;

impl Section for PerformanceMonitoring {
    fn config_file(&self) -> &'static ConfigFile {
        &config::files::PERFORMANCE_MONITORING
    }

    fn items(&self) -> &'static str {
        "monitoring"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn load(&self, path: &Path) -> Result<SectionFile, ConfigError> {
        let loaded = config::load_performance_monitoring(path)?;
        let settings = serde_json::to_value(&loaded.settings).expect("settings serialise");
        let mut items = vec![(SETTINGS_NAME.to_string(), settings)];
        items.extend(loaded.thresholds.iter().map(|r| {
            let json = serde_json::to_value(r).expect("a rule serialises");
            (r.name.clone(), json)
        }));
        Ok(SectionFile {
            source_version: loaded.source_version,
            migration: None,
            items,
        })
    }

    /// Every rule and the settings by the rules of the file.
    fn check(&self, configuration: &Configuration) -> Result<()> {
        let mut problems = Vec::new();
        for (name, v) in configuration.get(KIND).into_iter().flatten() {
            let checked = if name == SETTINGS_NAME {
                config::validate_settings(&parse::<MonitoringSettings>(KIND, name, v)?)
            } else {
                config::validate_threshold(&parse::<ThresholdRule>(KIND, name, v)?)
            };
            if let Err(e) = checked {
                problems.push(e.message().to_string());
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::config(problems.join("; ")))
        }
    }

    /// The rules, the alerts firing now by severity, and whether the system
    /// sampler is on by configuration.
    fn status(
        &self,
        conn: &rusqlite::Connection,
        running: &Definitions,
        now_ms: i64,
    ) -> Result<Value> {
        let firing = sql::alerts(conn, 0, now_ms.saturating_add(1), true, u32::MAX)?;
        let by = |s: &str| firing.iter().filter(|a| a.severity.as_str() == s).count();
        let settings: MonitoringSettings = match running.get(SETTINGS_NAME) {
            Some(v) => parse(KIND, SETTINGS_NAME, v)?,
            None => MonitoringSettings::default(),
        };
        Ok(json!({
            "rules": running.keys().filter(|n| *n != SETTINGS_NAME).count(),
            "firing": {"warning": by("warning"), "error": by("error"), "critical": by("critical")},
            "system_metrics": settings.system_metrics.enabled,
        }))
    }
}
