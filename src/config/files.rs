//! The config files this version of cha-deploy knows, one entry per
//! subsystem: the file's name, its current format version, its templates
//! and how older versions are migrated. Configuration management
//! ([`template`], [`super::migrate_file`]) walks [`config_files`], so a
//! subsystem that brings a config file adds one entry to `CONFIG_FILES`
//! and the commands pick it up.

use super::{
    ConfigError, MigrationReport, ab_tests, feature_flags, performance_monitoring, user_feedback,
};
use crate::error::{Error, Result};

/// One config file of a subsystem, as configuration management knows it.
#[derive(Debug)]
pub struct ConfigFile {
    /// The subsystem's name, as deployments name it (`feature_flags`).
    pub subsystem: &'static str,
    /// Other names it answers to (the seed's `ab_testing`). `-` and `_` are
    /// the same in every name: `feature-flags` is `feature_flags`.
    pub aliases: &'static [&'static str],
    /// The file in a config directory (`feature_flags.yml`).
    pub file: &'static str,
    /// The format version this library writes.
    pub current_version: i64,
    /// The template types; the first is the default.
    pub template_types: &'static [&'static str],
    /// Top-level keys that tell this file's content under another name.
    pub(crate) top_keys: &'static [&'static str],
    /// The template of a type, headed by a title.
    template: fn(&str, &str) -> Result<String>,
    /// Reads and validates a file's text (and file name, for messages) and
    /// says which version it was and, when older, its current text.
    pub(crate) migrate: fn(&str, &str) -> Result<Upgrade, ConfigError>,
}

/// What reading a file in any version it may be in gave.
#[derive(Debug)]
pub(crate) struct Upgrade {
    /// The version the file is written in.
    pub from_version: i64,
    /// What migrating changed; `None` when the file is current.
    pub report: Option<MigrationReport>,
    /// The text in the current version; `None` when the file is current.
    pub text: Option<String>,
}

/// `feature_flags.yml`.
pub static FEATURE_FLAGS: ConfigFile = ConfigFile {
    subsystem: "feature_flags",
    aliases: &[],
    file: "feature_flags.yml",
    current_version: feature_flags::CURRENT_VERSION,
    template_types: &["cha_intelligent_sizing", "minimal"],
    top_keys: &["flags", "feature_flags"],
    template: feature_flags::create_config_template,
    migrate: migrate_feature_flags,
};

/// `ab_tests.yml`.
pub static AB_TESTS: ConfigFile = ConfigFile {
    subsystem: "ab_tests",
    aliases: &["ab_testing"],
    file: "ab_tests.yml",
    current_version: ab_tests::CURRENT_VERSION,
    template_types: &["cha_intelligent_sizing", "minimal"],
    top_keys: &["ab_tests"],
    template: ab_tests::create_template,
    migrate: migrate_ab_tests,
};

/// `performance_monitoring.yml`.
pub static PERFORMANCE_MONITORING: ConfigFile = ConfigFile {
    subsystem: "performance_monitoring",
    aliases: &["monitoring"],
    file: "performance_monitoring.yml",
    current_version: performance_monitoring::CURRENT_VERSION,
    template_types: &["cha_intelligent_sizing", "minimal"],
    top_keys: &["thresholds"],
    template: performance_monitoring::create_template,
    migrate: migrate_performance_monitoring,
};

/// `user_feedback.yml`.
pub static USER_FEEDBACK: ConfigFile = ConfigFile {
    subsystem: "user_feedback",
    aliases: &["feedback"],
    file: "user_feedback.yml",
    current_version: user_feedback::CURRENT_VERSION,
    template_types: &["cha_intelligent_sizing", "minimal"],
    top_keys: &["feedback_categories", "sentiment_keywords"],
    template: user_feedback::create_template,
    migrate: migrate_user_feedback,
};

/// The config files, in the order a deployment applies them.
static CONFIG_FILES: [&ConfigFile; 4] = [
    &FEATURE_FLAGS,
    &AB_TESTS,
    &PERFORMANCE_MONITORING,
    &USER_FEEDBACK,
];

/// Every config file this version knows, in the order a deployment
/// applies them.
pub fn config_files() -> &'static [&'static ConfigFile] {
    &CONFIG_FILES
}

/// The config file of `subsystem` (`feature_flags`, `feature-flags`,
/// `ab_tests`, `ab-tests`, ...).
///
/// # Errors
/// `InvalidArgument` naming the known subsystems.
pub fn config_file(subsystem: &str) -> Result<&'static ConfigFile> {
    let wanted = subsystem.trim().replace('-', "_");
    if let Some(file) = CONFIG_FILES
        .iter()
        .find(|f| f.subsystem == wanted || f.aliases.contains(&wanted.as_str()))
    {
        return Ok(*file);
    }
    let known: Vec<&str> = CONFIG_FILES.iter().map(|f| f.subsystem).collect();
    let message = format!(
        "unknown subsystem `{subsystem}` (known: {})",
        known.join(", ")
    );
    Err(Error::invalid_argument(message))
}

/// A commented config file of `subsystem` to start from: every field
/// documented, valid and deployable as it is. `config_type` picks the
/// template (`cha_intelligent_sizing`, the default, or `minimal`);
/// `template_name` is a title written in its first comment.
///
/// # Errors
/// `InvalidArgument` for an unknown subsystem or config type.
pub fn template(subsystem: &str, template_name: &str, config_type: Option<&str>) -> Result<String> {
    let file = config_file(subsystem)?;
    let config_type = config_type.unwrap_or(file.template_types[0]);
    (file.template)(template_name, config_type)
}

fn migrate_feature_flags(text: &str, file: &str) -> Result<Upgrade, ConfigError> {
    let config = feature_flags::parse_feature_flags(text, file)?;
    let text = config
        .migration
        .is_some()
        .then(|| feature_flags::migrated_text(&config.flags, config.source_version));
    Ok(Upgrade {
        from_version: config.source_version,
        report: config.migration,
        text,
    })
}

/// `user_feedback.yml` has had one version so far: a valid file is current.
fn migrate_user_feedback(text: &str, file: &str) -> Result<Upgrade, ConfigError> {
    let config = user_feedback::parse_user_feedback(text, file)?;
    Ok(Upgrade {
        from_version: config.source_version,
        report: None,
        text: None,
    })
}

/// `ab_tests.yml` has had one version so far: a valid file is current.
fn migrate_ab_tests(text: &str, file: &str) -> Result<Upgrade, ConfigError> {
    let config = ab_tests::parse_ab_tests(text, file)?;
    Ok(Upgrade {
        from_version: config.source_version,
        report: None,
        text: None,
    })
}

/// `performance_monitoring.yml` has had one version so far: a valid file is current.
fn migrate_performance_monitoring(text: &str, file: &str) -> Result<Upgrade, ConfigError> {
    let config = performance_monitoring::parse_performance_monitoring(text, file)?;
    Ok(Upgrade {
        from_version: config.source_version,
        report: None,
        text: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn subsystems_are_found_by_either_spelling() {
        for (name, file) in [
            ("feature_flags", "feature_flags.yml"),
            ("feature-flags", "feature_flags.yml"),
            ("ab_tests", "ab_tests.yml"),
            ("ab-tests", "ab_tests.yml"),
            ("ab_testing", "ab_tests.yml"),
            ("performance-monitoring", "performance_monitoring.yml"),
            ("monitoring", "performance_monitoring.yml"),
            ("user-feedback", "user_feedback.yml"),
            ("feedback", "user_feedback.yml"),
        ] {
            assert_eq!(config_file(name).unwrap().file, file, "{name}");
        }
        let err = config_file("flagz").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            err.message(),
            "unknown subsystem `flagz` (known: feature_flags, ab_tests, performance_monitoring, user_feedback)"
        );
    }

    #[test]
    fn every_template_of_every_file_is_valid_and_headed_by_its_title() {
        for file in config_files() {
            assert_eq!(
                template(file.subsystem, "North", None).unwrap(),
                template(file.subsystem, "North", Some(file.template_types[0])).unwrap()
            );
            for config_type in file.template_types {
                let text = template(file.subsystem, "North\nnetwork", Some(config_type)).unwrap();
                assert!(text.starts_with("# Northnetwork: "), "{text}");
                let upgrade = (file.migrate)(&text, file.file)
                    .unwrap_or_else(|e| panic!("{} {config_type}: {e}", file.subsystem));
                assert_eq!(upgrade.from_version, file.current_version);
                assert!(upgrade.text.is_none() && upgrade.report.is_none());
            }
            let err = template(file.subsystem, "t", Some("spreadsheet")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().contains("unknown config type `spreadsheet`"));
        }
    }

    #[test]
    fn ab_tests_templates_use_every_field_and_are_drafts() {
        let full = ab_tests::parse_ab_tests(
            &template("ab_tests", "t", Some("cha_intelligent_sizing")).unwrap(),
            "ab_tests.yml",
        )
        .unwrap();
        let json = serde_json::to_value(&full.experiments).unwrap();
        let test = &json[0];
        // Every field of a test, a variant and a metric is set in the
        // first test but start_time, which starting the test records.
        for field in [
            "description",
            "control",
            "seed",
            "retention_days",
            "minimum_sample_size",
            "coverage",
        ] {
            assert!(!test[field].is_null(), "{field} missing");
        }
        assert!(test["variants"][0]["configuration"].is_object());
        assert!(
            !test["variants"][0]["description"]
                .as_str()
                .unwrap()
                .is_empty()
        );
        for field in ["significance_level", "power", "unit", "description"] {
            assert!(
                !test["metrics"][0][field].is_null(),
                "metric {field} missing"
            );
        }
        let minimal = ab_tests::parse_ab_tests(
            &template("ab-tests", "t", Some("minimal")).unwrap(),
            "ab_tests.yml",
        )
        .unwrap();
        assert_eq!(minimal.experiments.len(), 1);
        for config in [&full, &minimal] {
            for e in &config.experiments {
                assert_eq!(e.status, crate::experiments::ExperimentStatus::Draft);
            }
        }
    }
}
