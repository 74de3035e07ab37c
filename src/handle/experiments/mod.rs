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
use crate::experiments::phases::{PhaseChange, PhaseData, phase_change};
use crate::experiments::report::{PhaseReport, QuarantineReason, QuarantineReport};
use crate::experiments::{
    Aggregation, AnalysisInput, AnalysisOptions, AnalysisReport, AssignReason, CompiledExperiment,
    Correction, ExperimentDefinition, ExperimentSet, ExperimentStatus, MAX_MAGNITUDE, MAX_UNIT_ID,
    Phase, PhaseStart, SamplePlan, Split,
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

/// When and by whom an experiment was archived.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Archived {
    pub archived_at_ms: i64,
    pub archived_by: String,
}

/// An archived experiment: removed from the config files; its data is kept
/// and `restore_experiment` brings it back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchivedExperiment {
    pub definition: ExperimentDefinition,
    /// Its last version.
    pub version: i64,
    pub archived_at_ms: i64,
    pub archived_by: String,
}

/// An experiment, live or archived, with its phases: what `ab show` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentDetails {
    #[serde(flatten)]
    pub record: ExperimentRecord,
    /// Set when the test was removed from the files.
    pub archived: Option<Archived>,
    /// When it first started admitting units (phase 1; RFC 3339), the
    /// instant the analysis counts from; null before it has.
    pub started_at: Option<String>,
    pub started_ms: Option<i64>,
    /// Every phase, with its start, end, split and exposed units.
    pub phases: Vec<PhaseReport>,
}

fn archived_experiment(
    id: &str,
    row: store::experiments::ArchivedRow,
) -> Result<ArchivedExperiment> {
    let definition = serde_json::from_str(&row.definition_json)
        .map_err(|e| Error::storage(format!("archived experiment `{id}` cannot be read: {e}")))?;
    Ok(ArchivedExperiment {
        definition,
        version: row.version,
        archived_at_ms: row.archived_at_ms,
        archived_by: row.archived_by,
    })
}

/// Whether an assignment exposes the unit (counts it in the analysis) or
/// only looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exposure {
    /// Log the unit's exposure (the first time): `assign`, `record`.
    Expose,
    /// Answer as an assignment would and write nothing: `peek`.
    Peek,
}

/// The owned answer of an assignment.
fn variant_assignment(
    compiled: &CompiledExperiment,
    variant: Option<(u16, &CompiledVariant)>,
    reason: AssignReason,
) -> VariantAssignment {
    VariantAssignment {
        experiment: compiled.id.clone(),
        variant: variant.map(|(index, v)| AssignedVariant {
            index,
            name: v.name.clone(),
            c_name: v.c_name.clone(),
        }),
        reason,
    }
}

impl Cha {
    /// Assigns `unit` to a variant of `experiment` (deterministic and
    /// sticky) and buffers its exposure the first time this handle sees the
    /// unit. In memory: no SQL. **Exposes** the unit: it counts in the
    /// analysis from now on (see [`Cha::peek`] to look without exposing).
    ///
    /// # Errors
    /// `NotFound` for an unknown experiment; `InvalidArgument` for an empty
    /// or over-long unit id.
    pub fn assign(&self, experiment: &str, unit: &str) -> Result<VariantAssignment> {
        self.assign_with(experiment, unit, Exposure::Expose, variant_assignment)
    }

    /// The variant [`Cha::assign`] would give `unit` now, sticky pins
    /// included, without exposing it: nothing is buffered or written, so
    /// looking (an operator, a dashboard) never biases the analysis.
    ///
    /// # Errors
    /// As [`Cha::assign`].
    pub fn peek(&self, experiment: &str, unit: &str) -> Result<VariantAssignment> {
        self.assign_with(experiment, unit, Exposure::Peek, variant_assignment)
    }

    /// Assigns `unit`, exposing it unless `exposure` is [`Exposure::Peek`],
    /// then hands the outcome to `f` without copying anything: the C ABI's
    /// path, which needs only the variant's interned C string.
    pub(crate) fn assign_with<R>(
        &self,
        experiment: &str,
        unit: &str,
        exposure: Exposure,
        f: impl Fn(&CompiledExperiment, Option<(u16, &CompiledVariant)>, AssignReason) -> R,
    ) -> Result<R> {
        check_unit(unit)?;
        if exposure == Exposure::Expose {
            self.inner
                .room_for_experiments(|| format!("the exposure of `{unit}` to `{experiment}`"))?;
        }
        self.inner.with_live(|live| {
            let (compiled, _) = live
                .experiments
                .get(experiment)
                .ok_or_else(|| live_experiment_not_found(live, experiment))?;
            let assignment = compiled.assign(unit);
            let variant = assignment
                .variant
                .map(|i| (i, &compiled.variants[i as usize]));
            if let (Some((_, v)), Exposure::Expose) = (variant, exposure) {
                self.inner
                    .recorder
                    .experiments
                    .expose(&compiled.id, unit, &v.name, compiled.phase);
            }
            Ok(f(compiled, variant, assignment.reason))
        })
    }

    /// [`Cha::assign`] with the variant's configuration payload, for JSON.
    /// Exposes the unit.
    pub fn assignment(&self, experiment: &str, unit: &str) -> Result<AssignmentReport> {
        self.assignment_report(experiment, unit, Exposure::Expose)
    }

    /// [`Cha::peek`] with the variant's configuration payload, for JSON.
    /// Writes nothing.
    pub fn peek_assignment(&self, experiment: &str, unit: &str) -> Result<AssignmentReport> {
        self.assignment_report(experiment, unit, Exposure::Peek)
    }

    fn assignment_report(
        &self,
        experiment: &str,
        unit: &str,
        exposure: Exposure,
    ) -> Result<AssignmentReport> {
        let a = self.assign_with(experiment, unit, exposure, variant_assignment)?;
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
    /// is not finite or whose magnitude exceeds [`MAX_MAGNITUDE`] (1e30), a
    /// bad unit id, or a unit without a variant (the experiment is not
    /// running, or the unit is outside its coverage).
    pub fn record(&self, experiment: &str, unit: &str, metric: &str, value: f64) -> Result<()> {
        if !value.is_finite() {
            return Err(Error::invalid_argument(format!(
                "value of metric `{metric}` in experiment `{experiment}` is {value}; a finite number is needed"
            )));
        }
        if value.abs() > MAX_MAGNITUDE {
            return Err(Error::invalid_argument(format!(
                "value of metric `{metric}` in experiment `{experiment}` is {value:e}; \
                 its magnitude may be at most {MAX_MAGNITUDE:e}, so that no total or variance can overflow"
            )));
        }
        check_unit(unit)?;
        self.inner.room_for_experiments(|| {
            format!("observation of `{metric}` for `{unit}` in `{experiment}`")
        })?;
        // Everything is checked before the unit is exposed: a refused
        // observation leaves no trace.
        self.inner.with_live(|live| {
            let (compiled, _) = live
                .experiments
                .get(experiment)
                .ok_or_else(|| live_experiment_not_found(live, experiment))?;
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
            // The observation exposes the unit when it is persisted.
            self.inner
                .recorder
                .experiments
                .observe(&compiled.id, unit, &variant.name, compiled.phase, &compiled.metrics[index], value);
            Ok(())
        })
    }

    /// Folds the persisted observations not yet folded into the statistics
    /// that analysis reads: those written other than by a flush of this
    /// library (an older version, a direct insert), since a flush folds what
    /// it writes. The background thread does this after its flushes, and
    /// analysis first. Returns how many it folded.
    pub fn fold_observations(&self) -> Result<usize> {
        fold::fold(&self.inner.store, usize::MAX)
    }

    /// Analyses experiment `id` (`analyze_test_results`): flushes this
    /// handle's buffer (which folds it) and folds whatever else is pending,
    /// then reads one summary per phase, variant and metric, so the cost
    /// does not grow with the number of observations. Units exposed but
    /// never observed count as 0 for count, sum and proportion metrics
    /// (they ran no calculation, summed nothing, did not convert), and are
    /// left out of mean metrics. Every phase is checked against its own
    /// split; the estimates use the phases `options.phases` selects.
    ///
    /// # Errors
    /// `NotFound` for an unknown experiment (before anything is flushed or
    /// folded); `InvalidArgument` for options naming an unknown metric or
    /// phase; `Storage`, `Busy`.
    pub fn analyze_experiment(&self, id: &str, options: AnalysisOptions) -> Result<AnalysisReport> {
        // An unknown name is the caller's mistake, whatever the state of
        // the data: it is refused before any work. An archived test is
        // still analysed, from its last definition.
        let def = self.experiment_or_archived(id)?;
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
        // This handle's buffered records first, so a record-then-analyze
        // sequence sees its own values.
        self.flush()?;
        self.fold_observations()?;
        // One read transaction: a fold by another process cannot slip in
        // between the counts and the summaries.
        let (def, phases, moments, quarantined) = {
            let mut conn = self.inner.store.conn();
            let tx = conn.transaction()?;
            // Read again: another process may have changed it meanwhile.
            let def: ExperimentDefinition = match definitions::get(&tx, KIND, id)? {
                Some(stored) => stored.parse()?,
                None => def,
            };
            let phases = phase_data(&tx, id)?;
            let moments = store::experiments::phase_moments(&tx, id)?;
            let quarantined = store::experiments::quarantined(&tx, id)?;
            (def, phases, moments, quarantined)
        };
        let (analyzed, selection) = crate::experiments::phases::select(
            id,
            def.minimum_sample_size,
            &phases,
            &options.phases,
        )
        .map_err(Error::invalid_argument)?;
        let chosen = |phase: u32| analyzed.contains(&phase);
        let exposures: Vec<u64> = def
            .variants
            .iter()
            .map(|v| {
                phases
                    .iter()
                    .filter(|p| chosen(p.phase.number))
                    .map(|p| p.exposures_of(&v.name))
                    .sum()
            })
            .collect();
        let summaries: Vec<Vec<Summary>> = def
            .variants
            .iter()
            .zip(&exposures)
            .map(|(v, &exposed)| {
                def.metrics
                    .iter()
                    .map(|m| {
                        let mut summary = Summary::EMPTY;
                        for (&(phase, ref variant, ref metric), parts) in &moments {
                            if chosen(phase) && *variant == v.name && *metric == m.name {
                                summary.merge(&Summary::from_parts(*parts));
                            }
                        }
                        if m.aggregation != Aggregation::Mean && exposed > summary.n {
                            summary.merge(&Summary::zeros(exposed - summary.n));
                        }
                        summary
                    })
                    .collect()
            })
            .collect();
        let quarantined = QuarantineReport {
            observations: quarantined.iter().map(|q| q.1).sum(),
            reasons: quarantined
                .into_iter()
                .map(
                    |(reason, observations, first_observation)| QuarantineReason {
                        reason,
                        observations,
                        first_observation,
                    },
                )
                .collect(),
        };
        Ok(crate::experiments::analyze(&AnalysisInput {
            definition: &def,
            summaries: &summaries,
            exposures: &exposures,
            phases: phases.to_vec(),
            analyzed,
            selection,
            quarantined,
            now_ms: crate::clock::now_ms(),
            options,
        }))
    }

    /// Units each variant of experiment `id` needs for `metric`, given the
    /// metric's unit-level baseline mean and standard deviation (from a pilot
    /// or from history): at the metric's MDE and power, at the level the
    /// analysis will decide at under `correction` (the family's level
    /// divided by its comparisons; a guardrail's own), with every arm at
    /// its configured share of the traffic.
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
        correction: Correction,
    ) -> Result<SamplePlan> {
        let def = self.experiment_or_archived(id)?;
        let m = def
            .metrics
            .iter()
            .find(|m| m.name == metric)
            .ok_or_else(|| {
                no_such_metric(id, metric, def.metrics.iter().map(|m| m.name.as_str()))
            })?;
        Ok(crate::experiments::plan_for_experiment(
            &def,
            m,
            baseline_mean,
            baseline_sd,
            correction,
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
        self.experiment_or_archived(id)?;
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
    /// replaced only once the export is complete, so a failed export never
    /// leaves a truncated file. The rows go first to a temporary file beside
    /// `path`, created exclusively under an unpredictable name (a link
    /// planted there is never followed) with the database file's mode, then
    /// renamed over `path`.
    ///
    /// # Errors
    /// As [`Cha::export_observations`]; `InvalidArgument` when `path` exists
    /// and is not a regular file (a device, a folder, a symbolic link);
    /// `Storage` if the file cannot be written.
    pub fn export_observations_to_file(&self, id: &str, path: &std::path::Path) -> Result<u64> {
        self.experiment_or_archived(id)?;
        check_export_target(path)?;
        let io =
            |e: std::io::Error| Error::storage(format!("cannot write {}: {e}", path.display()));
        let (file, partial) = create_partial(path, database_mode(&self.path())).map_err(io)?;
        let written = (|| {
            let mut out = std::io::BufWriter::new(file);
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
        let conn = self.inner.store.conn();
        let stored = definitions::get(&conn, KIND, id)?;
        ExperimentRecord::from_stored(stored.ok_or_else(|| experiment_not_found(&conn, id))?)
    }

    /// Starts, pauses or stops experiment `id` (recorded under `actor`).
    /// Starting sets `start_time` the first time. A status the test has
    /// already changes nothing: no new version, nothing credited to `actor`.
    /// A stopped test stays stopped until it is started again (a restart,
    /// which begins a new phase, as a resume after a pause does); it cannot
    /// be paused.
    ///
    /// # Errors
    /// `NotFound`; `InvalidArgument` for a move out of `completed` or from
    /// `stopped` to `paused`.
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
            if def.status == status {
                return Ok(None);
            }
            if def.status == ExperimentStatus::Completed {
                return Err(Error::invalid_argument(format!(
                    "experiment `{id}` is completed; a completed experiment cannot change status"
                )));
            }
            if def.status == ExperimentStatus::Stopped && status == ExperimentStatus::Paused {
                return Err(Error::invalid_argument(format!(
                    "experiment `{id}` is stopped; pausing would give its units their variants again: \
                     start it to run it again (a new phase), or leave it stopped"
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

    /// The definition of experiment `id`, live or archived (export and
    /// analysis still work for a test removed from the files).
    ///
    /// # Errors
    /// `NotFound` if there is neither.
    pub(crate) fn experiment_or_archived(&self, id: &str) -> Result<ExperimentDefinition> {
        Ok(self.experiment_details(id)?.record.definition)
    }

    /// Every archived experiment (removed from the config files, its data
    /// kept), by id.
    pub fn archived_experiments(&self) -> Result<Vec<ArchivedExperiment>> {
        let conn = self.inner.store.conn();
        store::experiments::archived(&conn)?
            .into_iter()
            .map(|(id, row)| archived_experiment(&id, row))
            .collect()
    }

    /// Experiment `id`, live or archived, with its phases (start, end,
    /// split and the units exposed in each): what `ab show` shows. Its
    /// `started_at` is the start of phase 1, the same instant the
    /// analysis counts from.
    ///
    /// # Errors
    /// `NotFound` if there is no such experiment, live or archived.
    pub fn experiment_details(&self, id: &str) -> Result<ExperimentDetails> {
        let conn = self.inner.store.conn();
        let (record, archived) = match definitions::get(&conn, KIND, id)? {
            Some(stored) => (ExperimentRecord::from_stored(stored)?, None),
            None => {
                let row = store::experiments::archived_one(&conn, id)?
                    .ok_or_else(|| experiment_not_found(&conn, id))?;
                let a = archived_experiment(id, row)?;
                let at = Archived {
                    archived_at_ms: a.archived_at_ms,
                    archived_by: a.archived_by.clone(),
                };
                (
                    ExperimentRecord {
                        definition: a.definition,
                        version: a.version,
                        updated_at_ms: a.archived_at_ms,
                        updated_by: a.archived_by,
                    },
                    Some(at),
                )
            }
        };
        let now = crate::clock::now_ms();
        let phases: Vec<PhaseReport> = phase_data(&conn, id)?
            .iter()
            .map(|p| crate::experiments::analyze::phase_report(p, false, now))
            .collect();
        let started_ms = phases.first().map(|p| p.started_ms);
        Ok(ExperimentDetails {
            record,
            archived,
            started_at: started_ms.map(crate::common::time::format_rfc3339_ms),
            started_ms,
            phases,
        })
    }

    /// Brings archived experiment `id` back, with its history and data: its
    /// last definition becomes the live one again (a new version recorded
    /// under `actor`), and its summaries are rebuilt from every observation
    /// kept meanwhile. The explicit step a deployment whose files name the
    /// test again asks for. A running test starts a new phase.
    ///
    /// # Errors
    /// `NotFound` if `id` is not archived; `InvalidArgument` if it is live
    /// (nothing to restore) or `actor` is empty; `Storage`, `Busy`.
    pub fn restore_experiment(&self, id: &str, actor: &str) -> Result<ExperimentRecord> {
        super::check_actor(actor)?;
        self.inner.store.write(|tx| {
            if definitions::get(tx, KIND, id)?.is_some() {
                return Err(Error::invalid_argument(format!(
                    "experiment `{id}` is not archived: it is live already"
                )));
            }
            let row = store::experiments::archived_one(tx, id)?
                .ok_or_else(|| Error::not_found(format!("experiment `{id}` is not archived")))?;
            let def = archived_experiment(id, row)?.definition;
            let by = Author {
                actor,
                action: "restore",
                at_ms: crate::clock::now_ms(),
            };
            put_definition(tx, &def, by)
        })?;
        self.inner.reload_after_commit();
        self.experiment(id)
    }

    /// Every change to experiment `id`, oldest first (its whole history,
    /// across archiving and restores): actor, time, action, before, after.
    ///
    /// # Errors
    /// `NotFound` if the experiment never existed.
    pub fn experiment_history(&self, id: &str) -> Result<Vec<crate::store::audit::AuditEntry>> {
        let conn = self.inner.store.conn();
        let history = crate::store::audit::history(&conn, KIND, id)?;
        if history.is_empty() {
            return Err(experiment_not_found(&conn, id));
        }
        Ok(history)
    }

    /// Observations the fold quarantined, per experiment: `doctor` shows them.
    pub fn quarantined_observations(&self) -> Result<Vec<(String, u64)>> {
        store::experiments::quarantine_counts(&self.inner.store.conn())
    }

    fn experiment_in(&self, conn: &rusqlite::Connection, id: &str) -> Result<ExperimentDefinition> {
        definitions::get(conn, KIND, id)?
            .ok_or_else(|| experiment_not_found(conn, id))?
            .parse()
    }
}

impl super::Inner {
    /// Compiles the stored experiments for the live snapshot, with the
    /// exposed units pinned where the split changed since they were exposed,
    /// or the experiment is paused.
    pub(crate) fn compile_experiments(&self, conn: &rusqlite::Connection) -> Result<ExperimentSet> {
        let mut pins = std::collections::HashMap::new();
        let mut phases = std::collections::HashMap::new();
        let definitions: Vec<ExperimentDefinition> = definitions::load_parsed(conn, KIND)?;
        for def in &definitions {
            if let Some(phase) = store::experiments::latest_phase(conn, &def.id)? {
                phases.insert(def.id.clone(), phase);
            }
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
        Ok(ExperimentSet::build(
            definitions,
            &pins,
            &phases,
            &mut intern,
        ))
    }
}

/// The recorded phases of `experiment` with their exposures.
pub(crate) fn phase_data(conn: &rusqlite::Connection, experiment: &str) -> Result<Vec<PhaseData>> {
    let counts = store::experiments::phase_exposure_counts(conn, experiment)?;
    store::experiments::phases(conn, experiment)?
        .into_iter()
        .map(|row| {
            let split: Split = serde_json::from_str(&row.split_json).map_err(|e| {
                Error::storage(format!(
                    "phase {} of experiment `{experiment}` cannot be read: {e}",
                    row.phase
                ))
            })?;
            let exposures = split
                .variants
                .iter()
                .map(|s| {
                    counts
                        .get(&(row.phase, s.name.clone()))
                        .copied()
                        .unwrap_or(0)
                })
                .collect();
            Ok(PhaseData {
                phase: Phase {
                    number: row.phase,
                    started_ms: row.started_ms,
                    ended_ms: row.ended_ms,
                    split,
                    reason: PhaseStart::parse(&row.reason),
                    mixed: row.mixed,
                },
                exposures,
            })
        })
        .collect()
}

/// Writes one experiment definition with its allocation fingerprint.
pub(crate) fn put_definition(
    tx: &rusqlite::Transaction<'_>,
    def: &ExperimentDefinition,
    by: Author<'_>,
) -> Result<Option<i64>> {
    let json = serde_json::to_value(def)?;
    // What runs before the change, for the phases: a stored definition that
    // no longer reads counts as none.
    let before: Option<ExperimentDefinition> =
        definitions::get(tx, KIND, &def.id)?.and_then(|stored| stored.parse().ok());
    let phases = store::experiments::phases(tx, &def.id)?;
    let open: Option<Split> = phases
        .iter()
        .rfind(|p| p.ended_ms.is_none())
        .and_then(|p| serde_json::from_str(&p.split_json).ok());
    let allocation = serde_json::to_string(&(
        def.effective_seed(),
        def.coverage,
        def.variants
            .iter()
            .map(|v| (&v.name, v.traffic_percentage))
            .collect::<Vec<_>>(),
    ))?;
    let written = store::experiments::put_experiment(tx, &def.id, &json, &allocation, by)?;
    if written.is_some() {
        let split = || serde_json::to_string(&Split::of(def));
        match phase_change(before.as_ref(), open.as_ref(), !phases.is_empty(), def) {
            PhaseChange::None => {}
            PhaseChange::Open(reason) => {
                store::experiments::open_phase(tx, &def.id, by.at_ms, &split()?, reason.as_str())?;
            }
            PhaseChange::Close => store::experiments::close_phase(tx, &def.id, by.at_ms)?,
            PhaseChange::Next => {
                store::experiments::close_phase(tx, &def.id, by.at_ms)?;
                store::experiments::open_phase(
                    tx,
                    &def.id,
                    by.at_ms,
                    &split()?,
                    PhaseStart::SplitChange.as_str(),
                )?;
            }
        }
    }
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

/// Refuses an export target that exists and is not a regular file: the
/// rename would replace a device node, and a folder or a link is not what
/// the caller meant to overwrite.
fn check_export_target(path: &std::path::Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            let what = if meta.file_type().is_symlink() {
                "a symbolic link"
            } else if meta.is_dir() {
                "a folder"
            } else {
                "not a regular file (a device, a pipe or a socket)"
            };
            Err(Error::invalid_argument(format!(
                "{} exists and is {what}: an export only creates or replaces a regular file",
                path.display()
            )))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::storage(format!(
            "cannot check {}: {e}",
            path.display()
        ))),
    }
}

/// The permission bits of the database file, which an export of its data
/// takes too (owner-only by default); 0600 when they cannot be read.
fn database_mode(db: &std::path::Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(db).map_or(0o600, |m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = db;
        0o600
    }
}

/// Creates the temporary file of an export beside `path`: exclusively (an
/// existing file or link at the name is an error, never followed), under a
/// name no other process can guess, with permission bits `mode`.
fn create_partial(
    path: &std::path::Path,
    mode: u32,
) -> std::io::Result<(std::fs::File, std::path::PathBuf)> {
    use std::hash::{BuildHasher, Hasher};
    let mut attempt = 0u32;
    loop {
        // std's RandomState is seeded from the OS's randomness per process.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(crate::clock::now_ms() as u128);
        h.write_u32(attempt);
        let mut name = path.as_os_str().to_owned();
        name.push(format!(
            ".partial-{}-{:016x}",
            std::process::id(),
            h.finish()
        ));
        let partial = std::path::PathBuf::from(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        match options.open(&partial) {
            Ok(file) => {
                // The umask may have taken bits away; the database's mode is
                // what the data had.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                return Ok((file, partial));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
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

/// `NotFound` for experiment `id`, with a stored test close to it.
pub(crate) fn experiment_not_found(conn: &rusqlite::Connection, id: &str) -> Error {
    let known = definitions::names(conn, KIND).unwrap_or_default();
    not_found_among(id, known.iter().map(String::as_str))
}

/// `NotFound` for experiment `id`, with a deployed test close to it: the
/// snapshot's names, without the store's lock.
pub(super) fn live_experiment_not_found(live: &super::Live, id: &str) -> Error {
    not_found_among(
        id,
        live.experiments.definitions().iter().map(|d| d.id.as_str()),
    )
}

fn not_found_among<'a>(id: &str, known: impl IntoIterator<Item = &'a str>) -> Error {
    Error::not_found(format!(
        "experiment `{}` does not exist{}",
        crate::common::limits::excerpt(id),
        crate::common::names::did_you_mean(id, known)
    ))
}
