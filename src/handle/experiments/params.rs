//! Typed reads of a variant's configuration (the `configuration` of a
//! variant in ab_tests.yml), for callers that want `max_velocity_ms` as a
//! number rather than JSON to parse. From the live snapshot: no SQL, and
//! looking exposes no one.

use super::live_experiment_not_found;
use crate::Cha;
use crate::common::names::did_you_mean;
use crate::error::{Error, Result};

/// The type a parameter is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Double,
    Int,
    Bool,
    String,
}

impl ParamType {
    fn noun(self) -> &'static str {
        match self {
            ParamType::Double => "a number",
            ParamType::Int => "a whole number",
            ParamType::Bool => "true or false",
            ParamType::String => "a string",
        }
    }
}

impl Cha {
    /// Key `key` of the configuration of variant `variant` of experiment
    /// `experiment`, as JSON.
    ///
    /// # Errors
    /// `NotFound` naming the experiment, variant or key that does not
    /// exist (with the ones that do).
    pub fn experiment_param(
        &self,
        experiment: &str,
        variant: &str,
        key: &str,
    ) -> Result<serde_json::Value> {
        let live = self.inner.live.load();
        let (compiled, _) = live
            .experiments
            .get(experiment)
            .ok_or_else(|| live_experiment_not_found(&live, experiment))?;
        let found = compiled
            .variants
            .iter()
            .find(|v| &*v.name == variant)
            .ok_or_else(|| {
                let names: Vec<&str> = compiled.variants.iter().map(|v| &*v.name).collect();
                Error::not_found(format!(
                    "experiment `{experiment}` has no variant `{variant}` (its variants: {})",
                    names.join(", ")
                ))
            })?;
        let configuration = found.configuration.as_object();
        configuration
            .and_then(|c| c.get(key))
            .cloned()
            .ok_or_else(|| {
                let keys: Vec<&str> = configuration
                    .into_iter()
                    .flat_map(|c| c.keys().map(String::as_str))
                    .collect();
                let known = if keys.is_empty() {
                    "it has no configuration".to_string()
                } else {
                    format!("its keys: {}", keys.join(", "))
                };
                Error::not_found(format!(
                    "variant `{variant}` of experiment `{experiment}` has no `{key}` in its configuration ({known}){}",
                    did_you_mean(key, keys.iter().copied())
                ))
            })
    }

    /// [`Cha::experiment_param`] read as `kind`.
    ///
    /// # Errors
    /// As [`Cha::experiment_param`]; `InvalidArgument` when the value has
    /// another type (`max_velocity_ms` of a variant is a string, not a
    /// number).
    pub fn experiment_param_as(
        &self,
        experiment: &str,
        variant: &str,
        key: &str,
        kind: ParamType,
    ) -> Result<serde_json::Value> {
        let value = self.experiment_param(experiment, variant, key)?;
        let fits = match kind {
            ParamType::Double => value.is_number(),
            ParamType::Int => {
                value.as_i64().is_some()
                    || value
                        .as_f64()
                        .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
            }
            ParamType::Bool => value.is_boolean(),
            ParamType::String => value.is_string(),
        };
        if !fits {
            return Err(Error::invalid_argument(format!(
                "`{key}` of variant `{variant}` of experiment `{experiment}` is {value}, not {}",
                kind.noun()
            )));
        }
        Ok(value)
    }
}
