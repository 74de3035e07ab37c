//! `feature_flags.yml`: the flags, whose a_b_test flags may name an
//! experiment of `ab_tests.yml`.

use std::path::Path;

use crate::config::{self, ConfigError};
use crate::deploy::section::{Configuration, Section, SectionFile, parsed, to_items};
use crate::error::Result;
use crate::flags::FlagDefinition;
use crate::handle::flags::{KIND, check_experiment_links};

pub(crate) struct FeatureFlags;

impl Section for FeatureFlags {
    fn file(&self) -> &'static str {
        "feature_flags.yml"
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

    /// Every flag linked to an experiment must find it, whichever of the
    /// two files a deployment brings.
    fn check(&self, configuration: &Configuration) -> Result<()> {
        let flags = parsed::<FlagDefinition>(configuration.get(KIND))?;
        let experiments: Vec<String> = configuration
            .get(crate::store::experiments::KIND)
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default();
        check_experiment_links(&flags, &experiments)
    }
}
