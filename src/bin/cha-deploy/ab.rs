//! `cha-deploy ab …`: list, show, assign, record, analyse, plan and start,
//! pause or stop A/B tests.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::Value;

use cha_deploy::experiments::{
    AnalysisOptions, Correction, ExperimentStatus, PhaseSelection, SamplePlan, VariantDefinition,
};
use cha_deploy::{
    ArchivedExperiment, AssignmentReport, Cha, Error, ExperimentDetails, ExperimentRecord,
    ParamType,
};

use crate::ab_analysis::analysis_text;
use crate::flags::{Actor, indent};
use crate::output::{Output, aligned, inline, name_of, num, percent, rfc3339, table};

#[derive(Subcommand)]
pub enum AbCommand {
    /// Every test: type, status, variants with their traffic, metrics, version.
    #[command(after_help = "Examples:\n  cha-deploy ab list\n  cha-deploy ab list --archived")]
    List {
        /// The archived tests instead: removed from the config files, their
        /// data kept (show, analyze and export still work; restore brings
        /// one back).
        #[arg(long)]
        archived: bool,
    },
    /// One test, live or archived: its definition, when it started, and its
    /// phases with their split and exposed units.
    #[command(after_help = "Examples:\n  cha-deploy ab show pipe_sizing_comparison")]
    Show {
        /// The test's id, live or archived.
        id: String,
    },
    /// Bring an archived test back, with its history and data (the step a
    /// deploy naming it again asks for).
    #[command(after_help = "Examples:\n  cha-deploy ab restore pipe_sizing_comparison --actor ops")]
    Restore {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// The variant a unit gets, with its configuration; logs the unit's
    /// exposure (it counts in the analysis) unless --peek.
    #[command(
        after_help = "Examples:\n  cha-deploy ab assign pipe_sizing_comparison engineer-042\n  cha-deploy ab assign pipe_sizing_comparison engineer-042 --peek"
    )]
    Assign {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        /// The unit: a user, an engineer or a network id, whatever the test
        /// assigns by.
        unit: String,
        /// Only look: answer as an assignment would, expose no one.
        #[arg(long)]
        peek: bool,
    },
    /// The variant a unit would get (`ab assign --peek`): exposes no one,
    /// writes nothing.
    #[command(
        after_help = "Examples:\n  cha-deploy ab peek pipe_sizing_comparison engineer-042\n  cha-deploy ab peek pipe_sizing_comparison --units networks.txt"
    )]
    Peek {
        /// The test's id.
        id: String,
        /// The unit to look up.
        #[arg(required_unless_present = "units")]
        unit: Option<String>,
        /// Look up every unit of FILE instead, one per line (`-`: standard
        /// input), printing one JSON object per line, in order.
        #[arg(long, value_name = "FILE", conflicts_with = "unit")]
        units: Option<PathBuf>,
    },
    /// One setting of a variant's configuration (ab_tests.yml), typed as a
    /// program reads it with cha_experiment_param_double and its siblings;
    /// exposes no one.
    #[command(
        after_help = "Examples:\n  cha-deploy ab param pipe_sizing_comparison intelligent max_velocity_ms --type double\n  cha-deploy ab param pipe_sizing_comparison traditional pipe_sizing_method"
    )]
    Param {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        /// The variant's name (e.g. intelligent).
        variant: String,
        /// The setting's name in the variant's configuration (e.g.
        /// max_velocity_ms).
        key: String,
        /// Require this type: double, int, bool or string (any JSON
        /// value when not given).
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_param_type)]
        kind: Option<ParamType>,
    },
    /// Record VALUE of METRIC for UNIT (assigning the unit if needed).
    #[command(
        after_help = "Examples:\n  cha-deploy ab record pipe_sizing_comparison engineer-042 pipe_cost_efficiency 41.7"
    )]
    Record {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        /// The unit: a user, an engineer or a network id, whatever the test
        /// assigns by.
        unit: String,
        /// The metric's name, as the test lists it (e.g. pipe_cost_efficiency).
        metric: String,
        /// The value observed (for a sum or count metric, the amount to add).
        #[arg(allow_negative_numbers = true)]
        value: f64,
    },
    /// Analyse a test: per metric each variant against the control, with
    /// the interval and the verdict, then the recommendation.
    #[command(
        after_help = "Examples:\n  cha-deploy ab analyze pipe_sizing_comparison\n  cha-deploy ab analyze pipe_sizing_comparison --correction bh --sequential --phases all"
    )]
    Analyze {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        /// The correction across primary and secondary metrics.
        #[arg(long, value_enum, default_value_t = CorrectionArg::Holm)]
        correction: CorrectionArg,
        /// Always-valid (sequential) intervals: safe to look every day.
        #[arg(long)]
        sequential: bool,
        /// The mixture variance tau² of a metric's always-valid interval,
        /// as METRIC=TAU2 (repeatable); by default (MDE × |control mean|)².
        #[arg(long = "mixture-variance", value_name = "METRIC=TAU2")]
        mixture_variance: Vec<String>,
        /// The phases the estimates use: latest (the latest with the
        /// minimum sample size in every variant), all, or numbers such as
        /// 1,2.
        #[arg(long, default_value = "latest", value_name = "latest|all|N,N")]
        phases: String,
    },
    /// Units each variant needs to detect METRIC's minimum effect.
    #[command(
        after_help = "Examples:\n  cha-deploy ab plan pipe_sizing_comparison pipe_cost_efficiency --baseline-mean 40 --baseline-sd 8"
    )]
    Plan {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        /// The metric's name, as the test lists it (e.g. pipe_cost_efficiency).
        metric: String,
        /// The metric's mean per unit today (from a pilot or from history).
        #[arg(long, allow_negative_numbers = true, value_name = "X")]
        baseline_mean: f64,
        /// The metric's standard deviation per unit today.
        #[arg(long, allow_negative_numbers = true, value_name = "Y")]
        baseline_sd: f64,
        /// The correction the analysis will use (the plan is made at its
        /// level).
        #[arg(long, value_enum, default_value_t = CorrectionArg::Holm)]
        correction: CorrectionArg,
    },
    /// Set a test running: new units get a variant (start_time is set the
    /// first time). A running test is left alone; a paused or stopped one
    /// begins a new phase.
    #[command(after_help = "Examples:\n  cha-deploy ab start pipe_sizing_comparison --actor ops")]
    Start {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Pause a test: units already in it keep their variant, new units get none.
    #[command(after_help = "Examples:\n  cha-deploy ab pause pipe_sizing_comparison --actor ops")]
    Pause {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Stop a test: no unit gets a variant any more, until it is started
    /// again (a deploy never restarts it).
    #[command(after_help = "Examples:\n  cha-deploy ab stop pipe_sizing_comparison --actor ops")]
    Stop {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Write every raw observation of a test as CSV, for re-analysis elsewhere.
    #[command(
        after_help = "Examples:\n  cha-deploy ab export pipe_sizing_comparison --output obs.csv"
    )]
    Export {
        /// The test's id, as in ab_tests.yml (e.g. pipe_sizing_comparison).
        id: String,
        /// The file to write (created or replaced); standard output without it.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

/// `--correction holm|bh|none`: the names of the JSON options.
#[derive(Clone, Copy, ValueEnum)]
pub enum CorrectionArg {
    /// Holm–Bonferroni (family-wise error rate).
    Holm,
    /// Benjamini–Hochberg (false discovery rate).
    #[value(alias = "benjamini-hochberg", alias = "benjamini_hochberg")]
    Bh,
    /// No correction: each comparison at the family's level.
    None,
}

impl From<CorrectionArg> for Correction {
    fn from(c: CorrectionArg) -> Self {
        match c {
            CorrectionArg::Holm => Correction::Holm,
            CorrectionArg::Bh => Correction::BenjaminiHochberg,
            CorrectionArg::None => Correction::None,
        }
    }
}

/// `--phases latest|all|1,2` as the JSON option `phases`.
pub fn phase_selection(text: &str) -> Result<PhaseSelection, Error> {
    let json = match text.trim() {
        "latest" | "all" => Value::String(text.trim().into()),
        list => Value::Array(
            list.split(',')
                .map(|n| {
                    n.trim().parse::<u32>().map(Value::from).map_err(|_| {
                        Error::invalid_argument(format!(
                            "--phases {text}: expected latest, all or phase numbers such as 1,2"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    serde_json::from_value(json)
        .map_err(|e| Error::invalid_argument(format!("--phases {text}: {e}")))
}

/// `--mixture-variance METRIC=TAU2` pairs as the JSON option.
fn mixture_variances(pairs: &[String]) -> Result<std::collections::BTreeMap<String, f64>, Error> {
    pairs
        .iter()
        .map(|pair| {
            let (metric, tau2) = pair.split_once('=').ok_or_else(|| {
                Error::invalid_argument(format!("--mixture-variance {pair}: expected METRIC=TAU2"))
            })?;
            let tau2 = tau2.trim().parse::<f64>().map_err(|_| {
                Error::invalid_argument(format!(
                    "--mixture-variance {pair}: `{tau2}` is not a number"
                ))
            })?;
            Ok((metric.trim().to_string(), tau2))
        })
        .collect()
}

/// What `ab record` did.
#[derive(Serialize)]
struct Recorded {
    experiment: String,
    /// The unit: a user, an engineer or a network id, whatever the test
    /// assigns by.
    unit: String,
    variant: Option<String>,
    /// The metric's name, as the test lists it (e.g. pipe_cost_efficiency).
    metric: String,
    /// The value observed (for a sum or count metric, the amount to add).
    value: f64,
}

/// A sample-size plan for one metric of one test.
#[derive(Serialize)]
struct MetricPlan {
    experiment: String,
    /// The metric's name, as the test lists it (e.g. pipe_cost_efficiency).
    metric: String,
    unit: Option<String>,
    minimum_sample_size: u64,
    #[serde(flatten)]
    plan: SamplePlan,
}

/// A status change: the status before, and the stored test after.
#[derive(Serialize)]
struct StatusChange {
    before: ExperimentStatus,
    #[serde(flatten)]
    record: ExperimentRecord,
}

fn parse_param_type(s: &str) -> Result<ParamType, String> {
    match s {
        "double" => Ok(ParamType::Double),
        "int" => Ok(ParamType::Int),
        "bool" => Ok(ParamType::Bool),
        "string" => Ok(ParamType::String),
        _ => Err(format!("`{s}` is not double, int, bool or string")),
    }
}

pub fn run(cmd: &AbCommand, db: &std::path::Path, out: &Output) -> Result<(), Error> {
    let cha = crate::open_existing(db)?;
    match cmd {
        AbCommand::Export { id, output } => {
            let rows = match output {
                Some(path) => cha.export_observations_to_file(id, path)?,
                None => cha.export_observations(id, &mut std::io::stdout().lock())?,
            };
            if let Some(path) = output {
                let v = serde_json::json!({"experiment": id, "rows": rows, "output": path});
                out.print(&v, || {
                    format!("wrote {rows} observations of {id} to {}", path.display())
                });
            }
        }
        AbCommand::List { archived: false } => {
            let tests = cha.experiments()?;
            out.print(&tests, || list_text(&tests));
        }
        AbCommand::List { archived: true } => {
            let tests = cha.archived_experiments()?;
            out.print(&tests, || archived_text(&tests));
        }
        AbCommand::Show { id } => {
            let details = cha.experiment_details(id)?;
            out.print(&details, || show_text(&details));
        }
        AbCommand::Restore { id, actor } => {
            let record = cha.restore_experiment(id, &actor.name())?;
            out.print(&record, || {
                format!(
                    "restored {id} (version {}, by {}, status {}); deploy the files that name it again",
                    record.version,
                    record.updated_by,
                    record.definition.status.as_str()
                )
            });
        }
        AbCommand::Assign { id, unit, peek } => {
            let a = if *peek {
                cha.peek_assignment(id, unit)?
            } else {
                cha.assignment(id, unit)?
            };
            out.print(&a, || assignment_text(&a));
        }
        AbCommand::Param {
            id,
            variant,
            key,
            kind,
        } => {
            let value = match kind {
                // A whole number read as an int prints as one (2, not 2.0).
                Some(ParamType::Int) => {
                    let v = cha.experiment_param_as(id, variant, key, ParamType::Int)?;
                    v.as_i64()
                        .or_else(|| v.as_f64().map(|f| f as i64))
                        .map_or(v, Value::from)
                }
                Some(kind) => cha.experiment_param_as(id, variant, key, *kind)?,
                None => cha.experiment_param(id, variant, key)?,
            };
            let answer = serde_json::json!({
                "experiment": id,
                "variant": variant,
                "key": key,
                "value": value,
            });
            out.print(&answer, || match &value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        AbCommand::Peek { id, unit, units } => match (unit, units) {
            (Some(unit), _) => {
                let a = cha.peek_assignment(id, unit)?;
                out.print(&a, || assignment_text(&a));
            }
            (None, Some(file)) => {
                let text = crate::read_input("--units", file)?;
                for unit in text.lines().filter(|l| !l.trim().is_empty()) {
                    let a = cha.peek_assignment(id, unit)?;
                    println!(
                        "{}",
                        serde_json::to_string(&a).expect("assignments serialize")
                    );
                }
            }
            (None, None) => unreachable!("clap requires UNIT or --units"),
        },
        AbCommand::Record {
            id,
            unit,
            metric,
            value,
        } => {
            // The variant for the report only: `record` exposes the unit.
            let variant = cha.peek_assignment(id, unit)?.variant;
            cha.record(id, unit, metric, *value)?;
            // Persist now: the process ends here, and a later `ab analyze`
            // must see the value.
            cha.flush()?;
            let r = Recorded {
                experiment: id.clone(),
                unit: unit.clone(),
                variant,
                metric: metric.clone(),
                value: *value,
            };
            out.print(&r, || {
                format!(
                    "recorded {} = {} for {} ({}) in {}",
                    r.metric,
                    r.value,
                    r.unit,
                    r.variant.as_deref().unwrap_or("-"),
                    r.experiment
                )
            });
        }
        AbCommand::Analyze {
            id,
            correction,
            sequential,
            mixture_variance,
            phases,
        } => {
            let options = AnalysisOptions {
                correction: (*correction).into(),
                sequential: *sequential,
                mixture_variance: mixture_variances(mixture_variance)?,
                phases: phase_selection(phases)?,
            };
            let report = cha.analyze_experiment(id, options)?;
            out.print(&report, || analysis_text(&report).trim_end().to_string());
        }
        AbCommand::Plan {
            id,
            metric,
            baseline_mean,
            baseline_sd,
            correction,
        } => {
            let def = cha.experiment_details(id)?.record.definition;
            let plan = cha.plan_experiment(
                id,
                metric,
                *baseline_mean,
                *baseline_sd,
                (*correction).into(),
            )?;
            let p = MetricPlan {
                experiment: id.clone(),
                metric: metric.clone(),
                unit: def
                    .metrics
                    .iter()
                    .find(|m| &m.name == metric)
                    .and_then(|m| m.unit.clone()),
                minimum_sample_size: def.minimum_sample_size,
                plan,
            };
            out.print(&p, || plan_text(&p));
        }
        AbCommand::Start { id, actor } => {
            status(&cha, out, id, ExperimentStatus::Running, actor)?;
        }
        AbCommand::Pause { id, actor } => {
            status(&cha, out, id, ExperimentStatus::Paused, actor)?;
        }
        AbCommand::Stop { id, actor } => {
            status(&cha, out, id, ExperimentStatus::Stopped, actor)?;
        }
    }
    cha.close()
}

fn status(
    cha: &Cha,
    out: &Output,
    id: &str,
    to: ExperimentStatus,
    actor: &Actor,
) -> Result<(), Error> {
    let before = cha.experiment(id)?;
    let record = cha.set_experiment_status(id, to, &actor.name())?;
    let unchanged = record.version == before.version;
    let c = StatusChange {
        before: before.definition.status,
        record,
    };
    out.print(&c, || {
        if unchanged {
            format!(
                "{id} is {} already: nothing changed (version {}, by {})",
                c.record.definition.status.as_str(),
                c.record.version,
                c.record.updated_by
            )
        } else {
            format!(
                "{}: {} -> {} (version {}, by {})",
                id,
                c.before.as_str(),
                c.record.definition.status.as_str(),
                c.record.version,
                c.record.updated_by
            )
        }
    });
    Ok(())
}

fn split(variants: &[VariantDefinition]) -> String {
    variants
        .iter()
        .map(|v| format!("{} {}%", v.name, num(v.traffic_percentage, 2)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn list_text(tests: &[ExperimentRecord]) -> String {
    if tests.is_empty() {
        return "no A/B tests (deploy some with `cha-deploy deploy --config-dir configs`)".into();
    }
    let rows: Vec<Vec<String>> = tests
        .iter()
        .map(|t| {
            let d = &t.definition;
            vec![
                d.id.clone(),
                d.name.clone(),
                name_of(&d.test_type),
                d.status.as_str().into(),
                split(&d.variants),
                d.metrics.len().to_string(),
                t.version.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "NAME", "TYPE", "STATUS", "VARIANTS", "METRICS", "VERSION",
        ],
        &rows,
    )
}

fn archived_text(tests: &[ArchivedExperiment]) -> String {
    if tests.is_empty() {
        return "no archived A/B tests".into();
    }
    let rows: Vec<Vec<String>> = tests
        .iter()
        .map(|t| {
            let d = &t.definition;
            vec![
                d.id.clone(),
                d.name.clone(),
                d.status.as_str().into(),
                split(&d.variants),
                t.version.to_string(),
                format!("{} by {}", rfc3339(t.archived_at_ms), t.archived_by),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "STATUS", "VARIANTS", "VERSION", "ARCHIVED"],
        &rows,
    )
}

fn show_text(details: &ExperimentDetails) -> String {
    let r = &details.record;
    let d = &r.definition;
    let mut lines = vec![
        ("id".to_string(), d.id.clone()),
        ("name".into(), d.name.clone()),
    ];
    if !d.description.is_empty() {
        lines.push(("description".into(), d.description.clone()));
    }
    lines.extend([
        ("type".into(), name_of(&d.test_type)),
        ("status".into(), d.status.as_str().into()),
        ("control".into(), d.variants[d.control_index()].name.clone()),
        (
            "minimum sample".into(),
            format!("{} units per variant", d.minimum_sample_size),
        ),
        (
            "minimum duration".into(),
            format!("{} days", d.minimum_duration_days),
        ),
        (
            "coverage".into(),
            format!("{}% of units", num(d.coverage, 2)),
        ),
        ("seed".into(), d.effective_seed().into()),
        ("start time".into(), start_time(details)),
        ("version".into(), r.version.to_string()),
        (
            "updated".into(),
            format!("{} by {}", rfc3339(r.updated_at_ms), r.updated_by),
        ),
    ]);
    if let Some(a) = &details.archived {
        lines.push((
            "archived".into(),
            format!(
                "{} by {} (removed from the files; `ab restore {}` brings it back)",
                rfc3339(a.archived_at_ms),
                a.archived_by,
                d.id
            ),
        ));
    }
    let variants: Vec<Vec<String>> = d
        .variants
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                format!("{}%", num(v.traffic_percentage, 2)),
                inline(&Value::Object(v.configuration.clone())),
            ]
        })
        .collect();
    let metrics: Vec<Vec<String>> = d
        .metrics
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                name_of(&m.metric_type),
                name_of(&m.aggregation),
                name_of(&m.target_direction),
                percent(m.minimum_detectable_effect),
                num(m.significance_level, 4),
                percent(m.power),
                m.unit.clone().unwrap_or("-".into()),
            ]
        })
        .collect();
    let phases: Vec<Vec<String>> = details
        .phases
        .iter()
        .map(|p| {
            vec![
                p.phase.to_string(),
                p.reason.clone(),
                p.started_at.clone(),
                p.ended_at.clone().unwrap_or_else(|| "running".into()),
                p.split
                    .iter()
                    .map(|s| format!("{} {}%", s.variant, num(s.traffic_percentage, 2)))
                    .collect::<Vec<_>>()
                    .join(", "),
                p.split
                    .iter()
                    .map(|s| s.exposures.to_string())
                    .collect::<Vec<_>>()
                    .join(" / "),
            ]
        })
        .collect();
    let phases = if phases.is_empty() {
        "  none: the test has not started".to_string()
    } else {
        indent(&table(
            &["PHASE", "BEGAN", "START", "END", "SPLIT", "EXPOSED"],
            &phases,
        ))
    };
    format!(
        "{}\nphases\n{}\nvariants\n{}\nmetrics\n{}",
        aligned(&lines),
        phases,
        indent(&table(&["NAME", "TRAFFIC", "CONFIGURATION"], &variants)),
        indent(&table(
            &[
                "NAME",
                "TYPE",
                "AGGREGATION",
                "DIRECTION",
                "MDE",
                "ALPHA",
                "POWER",
                "UNIT"
            ],
            &metrics
        ))
    )
}

/// When the test started, as the analysis counts it (the start of phase
/// 1), with the file's `start_time` beside it when that says otherwise.
fn start_time(details: &ExperimentDetails) -> String {
    let configured = details.record.definition.start_time.as_deref();
    match (&details.started_at, configured) {
        (Some(started), Some(c)) if c != started => {
            format!("{started} (phase 1; the configured start_time is {c})")
        }
        (Some(started), _) => started.clone(),
        (None, Some(c)) => format!("not started (the configured start_time is {c})"),
        (None, None) => "not started".into(),
    }
}

pub fn assignment_text(a: &AssignmentReport) -> String {
    let lines = vec![
        (
            "variant".to_string(),
            a.variant.clone().unwrap_or("-".into()),
        ),
        ("reason".into(), a.reason.as_str().into()),
        (
            "configuration".into(),
            a.configuration.as_ref().map_or("-".into(), inline),
        ),
    ];
    format!(
        "{} / {}\n{}",
        a.experiment,
        a.unit,
        indent(&aligned(&lines))
    )
}

fn plan_text(p: &MetricPlan) -> String {
    let s = &p.plan;
    let unit = p
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    let mut lines = vec![
        (
            "baseline".to_string(),
            format!(
                "mean {}{unit}, sd {}{unit}",
                num(s.baseline_mean, 6),
                num(s.baseline_sd, 6)
            ),
        ),
        (
            "effect".into(),
            format!(
                "{} of the mean = {}{unit} (Cohen's d {})",
                percent(s.minimum_detectable_effect),
                num(s.absolute_effect, 6),
                num(s.effect_size, 4)
            ),
        ),
        (
            "test".into(),
            format!(
                "two-sided t-test, alpha {}, power {}, {} variants",
                num(s.alpha, 4),
                percent(s.power),
                s.n_variants
            ),
        ),
    ];
    if let Some(level) = &s.level {
        lines.push(("alpha".into(), level.explanation.clone()));
    }
    if s.arms.is_empty() {
        lines.push((
            "units needed".into(),
            format!("{} per variant, {} in total", s.per_variant, s.total),
        ));
    } else {
        lines.push((
            "units needed".into(),
            format!(
                "{} in total: {}",
                s.total,
                s.arms
                    .iter()
                    .map(|a| format!(
                        "{} {} ({}%{})",
                        a.variant,
                        a.units,
                        num(a.traffic_percentage, 2),
                        if a.is_control { ", control" } else { "" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let fewest = s
        .arms
        .iter()
        .filter(|a| a.traffic_percentage > 0.0)
        .map(|a| a.units)
        .max()
        .unwrap_or(s.per_variant);
    lines.push((
        "configured".into(),
        format!(
            "minimum_sample_size {} per variant{}",
            p.minimum_sample_size,
            if p.minimum_sample_size < fewest {
                " (below the plan)"
            } else {
                ""
            }
        ),
    ));
    format!(
        "{} / {}\n{}",
        p.experiment,
        p.metric,
        indent(&aligned(&lines))
    )
}
