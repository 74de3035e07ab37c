//! A/B experiments on the handle: assignment from the live snapshot,
//! observations through the recorder ([`record`]), analysis from the
//! sufficient statistics that [`fold`] keeps.

pub(crate) mod fold;
pub(crate) mod params;
pub(crate) mod record;

use std::ffi::CStr;
use std::sync::Arc;

use serde::Serialize;

use super::Cha;
use crate::error::{Error, Result};
use crate::experiments::assign::CompiledVariant;
use crate::experiments::{
    Aggregation, AnalysisInput, AnalysisOptions, AnalysisReport, AssignReason, CompiledExperiment,
    ExperimentDefinition, ExperimentSet, ExperimentStatus, MAX_UNIT_ID, SamplePlan,
};
use crate::stats::Summary;
use crate::store::definitions::{self, Author};
use crate::store::{self, experiments::KIND};

/// The variant a unit got, or none and why.
#[derive(Debug, Clone)]
pub struct VariantAssignment {
    pub experiment: Arc<str>,
    pub variant: Option<AssignedVariant>,
    pub reason: AssignReason,
}

/// A variant handed to a caller. `c_name` stays valid until the handle closes.
#[derive(Debug, Clone)]
pub struct AssignedVariant {
    pub index: u16,
    pub name: Arc<str>,
    pub c_name: Arc<CStr>,
}

/// The JSON form of an assignment, with the variant's configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssignmentReport {
    pub experiment: String,
    pub unit: String,
    pub variant: Option<String>,
    pub reason: AssignReason,
    /// The variant's `configuration` payload (null without a variant).
    pub configuration: Option<serde_json::Value>,
}

/// A stored experiment with its bookkeeping.
pub type ExperimentRecord = super::Versioned<ExperimentDefinition>;

impl Cha {
    /// Assigns `unit` to a variant of `experiment` (deterministic and
    /// sticky) and buffers its exposure the first time this handle sees the
    /// unit. In memory: no SQL.
    ///
    /// # Errors
    /// `NotFound` for an unknown experiment; `InvalidArgument` for an empty
    /// or over-long unit id.
    pub fn assign(&self, experiment: &str, unit: &str) -> Result<VariantAssignment> {
        self.assign_with(experiment, unit, |compiled, variant, reason| {
            VariantAssignment {
                experiment: compiled.id.clone(),
                variant: variant.map(|(index, v)| AssignedVariant {
                    index,
                    name: v.name.clone(),
                    c_name: v.c_name.clone(),
                }),
                reason,
            }
        })
    }

    /// Assigns and exposes `unit`, then hands the outcome to `f` without
    /// copying anything: the C ABI's path, which needs only the variant's
    /// interned C string.
    pub(crate) fn assign_with<R>(
        &self,
        experiment: &str,
        unit: &str,
        f: impl Fn(&CompiledExperiment, Option<(u16, &CompiledVariant)>, AssignReason) -> R,
    ) -> Result<R> {
        check_unit(unit)?;
        self.inner.with_live(|live| {
            let (compiled, _) = live
                .experiments
                .get(experiment)
                .ok_or_else(|| experiment_not_found(experiment))?;
            let assignment = compiled.assign(unit);
            let variant = assignment
                .variant
                .map(|i| (i, &compiled.variants[i as usize]));
            if let Some((_, v)) = variant {
                self.inner
                    .recorder
                    .experiments
                    .expose(&compiled.id, unit, &v.name);
            }
            Ok(f(compiled, variant, assignment.reason))
        })
    }

    /// [`Cha::assign`] with the variant's configuration payload, for JSON.
    pub fn assignment(&self, experiment: &str, unit: &str) -> Result<AssignmentReport> {
        let a = self.assign(experiment, unit)?;
        let live = self.inner.live.load();
        let configuration = match (&a.variant, live.experiments.get(experiment)) {
            (Some(v), Some((_, def))) => Some(serde_json::Value::Object(
                def.variants[v.index as usize].configuration.clone(),
            )),
            _ => None,
        };
        Ok(AssignmentReport {
            experiment: experiment.to_string(),
            unit: unit.to_string(),
            variant: a.variant.map(|v| v.name.to_string()),
            reason: a.reason,
            configuration,
        })
    }

    /// Records `value` of `metric` for `unit` in `experiment`. The unit is
    /// assigned (and exposed) as by [`Cha::assign`]; its observations of a
    /// metric combine into one unit value by the metric's aggregation.
    /// Buffered: persisted within `flush_interval_ms`, or by [`Cha::flush`].
    ///
    /// # Errors
    /// `NotFound` (experiment or metric); `InvalidArgument` for a value that
    /// is not finite, a bad unit id, or a unit without a variant (the
    /// experiment is not running, or the unit is outside its coverage).
    pub fn record(&self, experiment: &str, unit: &str, metric: &str, value: f64) -> Result<()> {
        if !value.is_finite() {
            return Err(Error::invalid_argument(format!(
                "value of metric `{metric}` in experiment `{experiment}` is {value}; a finite number is needed"
            )));
        }
        check_unit(unit)?;
        // Everything is checked before the unit is exposed: a refused
        // observation leaves no trace.
        self.inner.with_live(|live| {
            let (compiled, _) = live
                .experiments
                .get(experiment)
                .ok_or_else(|| experiment_not_found(experiment))?;
            let index = compiled
                .metric(metric)
                .ok_or_else(|| no_such_metric(experiment, metric, compiled.metrics.iter().map(|m| &**m)))?;
            let assignment = compiled.assign(unit);
            let Some(variant) = assignment.variant.map(|i| &compiled.variants[i as usize]) else {
                return Err(Error::invalid_argument(format!(
                    "unit `{unit}` has no variant in experiment `{experiment}` ({}): its observation is not recorded",
                    assignment.reason.as_str()
                )));
            };
            self.inner.recorder.experiments.expose(&compiled.id, unit, &variant.name);
            self.inner
                .recorder
                .experiments
                .observe(&compiled.id, unit, &variant.name, &compiled.metrics[index], value);
            Ok(())
        })
    }

    /// Folds the persisted observations not yet folded into the per-variant
    /// statistics that analysis reads (the background thread does this every
    /// flush interval; analysis does it first). Returns how many it folded.
    pub fn fold_observations(&self) -> Result<usize> {
        fold::fold(&self.inner.store, usize::MAX)
    }

    /// Analyses experiment `id` (`analyze_test_results`): flushes this
    /// handle's buffer and folds whatever observations are still pending, then reads one summary per variant
    /// and metric, so the cost does not grow with the number of
    /// observations. Units exposed but never observed count as 0 for count,
    /// sum and proportion metrics (they ran no calculation, summed nothing,
    /// did not convert), and are left out of mean metrics.
    ///
    /// # Errors
    /// `NotFound` for an unknown experiment; `Storage`, `Busy`.
    pub fn analyze_experiment(&self, id: &str, options: AnalysisOptions) -> Result<AnalysisReport> {
        // This handle's buffered records first, so a record-then-analyze
        // sequence sees its own values.
        self.flush()?;
        self.fold_observations()?;
        // One read transaction: a fold by another process cannot slip in
        // between the counts and the summaries.
        let (stored, moments, counts, first_exposure_ms) = {
            let mut conn = self.inner.store.conn();
            let tx = conn.transaction()?;
            let stored =
                definitions::get(&tx, KIND, id)?.ok_or_else(|| experiment_not_found(id))?;
            let split_changed = store::experiments::allocation_changed(&tx, id)?;
            let moments = store::experiments::variant_moments(&tx, id)?;
            let counts = store::experiments::exposure_counts(&tx, id)?;
            let first = store::experiments::first_exposure_ms(&tx, id)?;
            ((stored, split_changed), moments, counts, first)
        };
        let (stored, split_changed) = stored;
        let def: ExperimentDefinition = stored.parse()?;
        for (metric, tau2) in &options.mixture_variance {
            if !def.metrics.iter().any(|m| &m.name == metric) {
                return Err(Error::invalid_argument(format!(
                    "analysis options: mixture_variance names `{metric}`, not a metric of experiment `{id}`"
                )));
            }
            if !(tau2.is_finite() && *tau2 > 0.0) {
                return Err(Error::invalid_argument(format!(
                    "analysis options: mixture_variance of `{metric}` is {tau2}; a positive number is needed"
                )));
            }
        }
        let exposures: Vec<u64> = def
            .variants
            .iter()
            .map(|v| counts.get(&v.name).copied().unwrap_or(0))
            .collect();
        let summaries: Vec<Vec<Summary>> = def
            .variants
            .iter()
            .zip(&exposures)
            .map(|(v, &exposed)| {
                def.metrics
                    .iter()
                    .map(|m| {
                        let (n, mean, m2) = moments
                            .get(&(v.name.clone(), m.name.clone()))
                            .copied()
                            .unwrap_or((0, 0.0, 0.0));
                        let mut summary = Summary { n, mean, m2 };
                        if m.aggregation != Aggregation::Mean && exposed > n {
                            summary.merge(&Summary {
                                n: exposed - n,
                                mean: 0.0,
                                m2: 0.0,
                            });
                        }
                        summary
                    })
                    .collect()
            })
            .collect();
        Ok(crate::experiments::analyze(&AnalysisInput {
            definition: &def,
            summaries: &summaries,
            exposures: &exposures,
            first_exposure_ms,
            now_ms: crate::clock::now_ms(),
            options,
            split_changed,
        }))
    }

    /// Units each variant of experiment `id` needs for `metric`, given the
    /// metric's unit-level baseline mean and standard deviation (from a pilot
    /// or from history): the metric's MDE, significance level and power, equal
    /// arms.
    ///
    /// # Errors
    /// `NotFound` (experiment or metric); `InvalidArgument` for a baseline
    /// the plan cannot use (sd ≤ 0, mean 0, not finite).
    pub fn plan_experiment(
        &self,
        id: &str,
        metric: &str,
        baseline_mean: f64,
        baseline_sd: f64,
    ) -> Result<SamplePlan> {
        let def = self.experiment(id)?.definition;
        let m = def
            .metrics
            .iter()
            .find(|m| m.name == metric)
            .ok_or_else(|| {
                no_such_metric(id, metric, def.metrics.iter().map(|m| m.name.as_str()))
            })?;
        Ok(crate::experiments::plan_for_metric(
            m,
            baseline_mean,
            baseline_sd,
            def.variants.len() as u32,
        )?)
    }

    /// Writes every raw observation of experiment `id` to `out` as CSV
    /// (RFC 4180, header `id,unit,variant,metric,value,at_ms`), in the order
    /// they were recorded, for re-analysis elsewhere. Returns the row count.
    /// Records still buffered are flushed first.
    ///
    /// # Errors
    /// `NotFound` for an unknown experiment; `Storage` (also for a failed
    /// write to `out`).
    pub fn export_observations(&self, id: &str, out: &mut dyn std::io::Write) -> Result<u64> {
        self.flush()?;
        self.experiment(id)?;
        let io = |e: std::io::Error| Error::storage(format!("writing the export of `{id}`: {e}"));
        writeln!(out, "id,unit,variant,metric,value,at_ms").map_err(io)?;
        let mut rows = 0;
        let conn = self.inner.store.conn();
        store::experiments::for_each_observation(
            &conn,
            id,
            |row, unit, variant, metric, value, at_ms| {
                rows += 1;
                writeln!(
                    out,
                    "{row},{},{},{},{value:?},{at_ms}",
                    csv(unit),
                    csv(variant),
                    csv(metric)
                )
                .map_err(io)
            },
        )?;
        Ok(rows)
    }

    /// Applies every experiment's `retention_days` now (the background thread
    /// does it hourly): deletes raw observations older than that which are
    /// already folded into the statistics. Returns how many rows went.
    pub fn prune_observations(&self) -> Result<usize> {
        self.flush()?;
        self.fold_observations()?;
        fold::prune(&self.inner.store, crate::clock::now_ms())
    }

    /// [`Cha::export_observations`] into the file `path`, created or
    /// replaced only once the export is complete (written beside it, then
    /// renamed), so a failed export never leaves a truncated file.
    ///
    /// # Errors
    /// As [`Cha::export_observations`]; `Storage` if the file cannot be written.
    pub fn export_observations_to_file(&self, id: &str, path: &std::path::Path) -> Result<u64> {
        self.experiment(id)?;
        let io =
            |e: std::io::Error| Error::storage(format!("cannot write {}: {e}", path.display()));
        let mut partial = path.as_os_str().to_owned();
        partial.push(format!(".partial-{}", std::process::id()));
        let partial = std::path::PathBuf::from(partial);
        let written = (|| {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(io)?);
            let rows = self.export_observations(id, &mut out)?;
            out.into_inner()
                .map_err(|e| io(e.into_error()))?
                .sync_all()
                .map_err(io)?;
            std::fs::rename(&partial, path).map_err(io)?;
            Ok(rows)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written
    }

    /// Every stored experiment, by id.
    pub fn experiments(&self) -> Result<Vec<ExperimentRecord>> {
        let conn = self.inner.store.conn();
        definitions::load(&conn, KIND)?
            .into_iter()
            .map(ExperimentRecord::from_stored)
            .collect()
    }

    /// The stored experiment `id`.
    ///
    /// # Errors
    /// `NotFound` if there is none.
    pub fn experiment(&self, id: &str) -> Result<ExperimentRecord> {
        let stored = definitions::get(&self.inner.store.conn(), KIND, id)?;
        ExperimentRecord::from_stored(stored.ok_or_else(|| experiment_not_found(id))?)
    }

    /// Starts, pauses or stops experiment `id` (recorded under `actor`).
    /// Starting sets `start_time` the first time.
    ///
    /// # Errors
    /// `NotFound`; `InvalidArgument` for a move out of `completed`.
    pub fn set_experiment_status(
        &self,
        id: &str,
        status: ExperimentStatus,
        actor: &str,
    ) -> Result<ExperimentRecord> {
        super::check_actor(actor)?;
        // Exposures still buffered must be stored first: a pause keeps
        // exactly the units whose exposure is stored.
        self.flush()?;
        self.inner.store.write(|tx| {
            let mut def = self.experiment_in(tx, id)?;
            if def.status == ExperimentStatus::Completed && status != ExperimentStatus::Completed {
                return Err(Error::invalid_argument(format!(
                    "experiment `{id}` is completed; a completed experiment cannot change status"
                )));
            }
            def.status = status;
            if status == ExperimentStatus::Running && def.start_time.is_none() {
                def.start_time = Some(crate::common::time::format_rfc3339_ms(
                    crate::clock::now_ms(),
                ));
            }
            let by = Author {
                actor,
                action: status.as_str(),
                at_ms: crate::clock::now_ms(),
            };
            put_definition(tx, &def, by)
        })?;
        self.inner.reload_after_commit();
        self.experiment(id)
    }

    fn experiment_in(&self, conn: &rusqlite::Connection, id: &str) -> Result<ExperimentDefinition> {
        definitions::get(conn, KIND, id)?
            .ok_or_else(|| experiment_not_found(id))?
            .parse()
    }
}

impl super::Inner {
    /// Compiles the stored experiments for the live snapshot, with the
    /// exposed units pinned where the split changed since they were exposed,
    /// or the experiment is paused.
    pub(crate) fn compile_experiments(&self, conn: &rusqlite::Connection) -> Result<ExperimentSet> {
        let mut pins = std::collections::HashMap::new();
        let definitions: Vec<ExperimentDefinition> = definitions::load_parsed(conn, KIND)?;
        for def in &definitions {
            if def.status == ExperimentStatus::Paused
                || store::experiments::allocation_changed(conn, &def.id)?
            {
                pins.insert(
                    def.id.clone(),
                    store::experiments::exposed_units(conn, &def.id)?,
                );
            }
        }
        let mut interned = self.interned.lock().unwrap_or_else(|p| p.into_inner());
        let mut intern = |name: &str| -> Arc<std::ffi::CStr> {
            interned
                .entry(name.into())
                .or_insert_with(|| std::ffi::CString::new(name).unwrap_or_default().into())
                .clone()
        };
        Ok(ExperimentSet::build(definitions, &pins, &mut intern))
    }
}

/// Writes one experiment definition with its allocation fingerprint.
pub(crate) fn put_definition(
    tx: &rusqlite::Transaction<'_>,
    def: &ExperimentDefinition,
    by: Author<'_>,
) -> Result<Option<i64>> {
    let json = serde_json::to_value(def)?;
    let allocation = serde_json::to_string(&(
        def.effective_seed(),
        def.coverage,
        def.variants
            .iter()
            .map(|v| (&v.name, v.traffic_percentage))
            .collect::<Vec<_>>(),
    ))?;
    let written = store::experiments::put_experiment(tx, &def.id, &json, &allocation, by)?;
    // Summaries folded with another aggregation, or not at all (a metric
    // that is new or back), are rebuilt from the unit totals.
    let folded_with = store::experiments::metric_aggregations(tx, &def.id)?;
    let mut now = Vec::new();
    for m in &def.metrics {
        let aggregation = m.aggregation.as_str();
        if folded_with.get(&m.name).map(String::as_str) != Some(aggregation) {
            fold::rebuild_metric(tx, &def.id, &m.name, m.aggregation)?;
        }
        now.push((m.name.as_str(), aggregation));
    }
    store::experiments::set_metric_aggregations(tx, &def.id, &now)?;
    Ok(written)
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn csv(field: &str) -> std::borrow::Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
    } else {
        field.into()
    }
}

/// Not found: `experiment` has no metric `metric` (the message lists its metrics).
fn no_such_metric<'a>(
    experiment: &str,
    metric: &str,
    metrics: impl Iterator<Item = &'a str>,
) -> Error {
    Error::not_found(format!(
        "experiment `{experiment}` has no metric `{metric}` (metrics: {})",
        metrics.collect::<Vec<_>>().join(", ")
    ))
}

fn check_unit(unit: &str) -> Result<()> {
    if unit.is_empty() || unit.len() > MAX_UNIT_ID {
        return Err(Error::invalid_argument(format!(
            "unit id must have 1 to {MAX_UNIT_ID} bytes, not {}",
            unit.len()
        )));
    }
    Ok(())
}

pub(crate) fn experiment_not_found(id: &str) -> Error {
    Error::not_found(format!("experiment `{id}` does not exist"))
}
