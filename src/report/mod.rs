//! The deployment report (`generate_deployment_report`, `cha_deploy_report`,
//! `cha-deploy report`): what was deployed and rolled out, what the A/B
//! tests say, how the monitored metrics behaved against their thresholds,
//! and what the users said, gathered from the database into one structure,
//! [`DeploymentReport`], and rendered as Markdown, as JSON, or as one
//! self-contained HTML page with inline SVG charts (no script, no network).
//!
//! It reads what the subsystems already store, through their own calls:
//! the deployment history, each rollout flag's audit log (its versions,
//! the holds a guardrail or a person put on it), the analysis of every
//! A/B test that has started, the metric windows of every alert rule with
//! the alerts they raised, and the feedback analysis by period and by
//! variant. Reading it changes nothing but what an analysis itself does
//! (persisting this handle's buffered records and folding observations).

mod html;
mod markdown;
mod svg;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::experiments::{AnalysisOptions, ExperimentStatus};
use crate::feedback::report::Period;
use crate::flags::{FlagDefinition, FlagType, GuardAction};
use crate::handle::{AlertQuery, Cha, FeedbackAnalysisOptions, GUARDRAIL_ACTOR};
use crate::monitoring::model::MetricKind;
use crate::monitoring::report::window_value;
use crate::monitoring::window::{HOUR_MS, MINUTE_MS, WindowStats, window_start};
use crate::store::audit::AuditEntry;

const DAY_MS: i64 = 24 * HOUR_MS;
/// The most buckets a metric's chart draws: its bucket is the smallest of
/// [`BUCKETS`] that keeps within this.
const MAX_BUCKETS: i64 = 300;
/// The bucket widths a metric's chart may use.
const BUCKETS: [i64; 12] = [
    MINUTE_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    15 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    7 * DAY_MS,
];
/// The bucket for a span: the smallest of [`BUCKETS`] that gives at most
/// [`MAX_BUCKETS`].
fn bucket_for(span: i64) -> i64 {
    BUCKETS
        .into_iter()
        .find(|b| span / b <= MAX_BUCKETS)
        .unwrap_or(7 * DAY_MS)
}

/// Feedback periods are days up to this span, weeks beyond.
const DAILY_FEEDBACK_UP_TO_MS: i64 = 21 * DAY_MS;
/// At most this many deployments and alerts are read.
const HISTORY_LIMIT: u32 = 10_000;

/// The formats a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// One self-contained HTML page with inline SVG charts.
    Html,
    /// Markdown, with the charts' numbers as tables.
    #[serde(rename = "md")]
    Markdown,
    /// The [`DeploymentReport`] itself.
    Json,
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 3] = [
        ReportFormat::Html,
        ReportFormat::Markdown,
        ReportFormat::Json,
    ];

    /// The format named `name`: `html` (or `htm`), `md` (or `markdown`),
    /// `json`, in any case.
    ///
    /// # Errors
    /// `InvalidArgument` naming the known formats.
    pub fn parse(name: &str) -> Result<ReportFormat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "html" | "htm" => Ok(ReportFormat::Html),
            "md" | "markdown" => Ok(ReportFormat::Markdown),
            "json" => Ok(ReportFormat::Json),
            _ => Err(Error::invalid_argument(format!(
                "unknown report format `{name}` (known: html, md, json)"
            ))),
        }
    }

    /// The format a file name's extension says (`.html`, `.htm`, `.md`,
    /// `.markdown`, `.json`), if any.
    pub fn from_path(path: &Path) -> Option<ReportFormat> {
        let ext = path.extension()?.to_str()?;
        ReportFormat::parse(ext).ok()
    }

    /// `html`, `md` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Markdown => "md",
            ReportFormat::Json => "json",
        }
    }
}

/// A report written to a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportFile {
    pub path: String,
    pub format: ReportFormat,
    pub bytes: u64,
}

/// Everything the report shows, in the order it shows it. Times are Unix
/// epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentReport {
    pub title: String,
    pub library_version: String,
    /// The database file.
    pub database: String,
    pub generated_at_ms: i64,
    /// The span the charts cover: from the first deployment (or the first
    /// recorded data) to now.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The report in a few sentences.
    pub headlines: Vec<String>,
    /// Every deploy, rollback and restore, oldest first.
    pub deployments: Vec<DeploymentEvent>,
    /// Every flag that is or was a rollout (a percentage, or a time-based
    /// schedule), with its percentage over time.
    pub rollouts: Vec<Rollout>,
    /// Every A/B test that has started, analysed now.
    pub experiments: Vec<ExperimentResult>,
    /// A/B tests not started yet (drafts), by id.
    pub experiments_not_started: Vec<String>,
    /// Every alert rule whose metric has data (or that raised alerts), over time.
    pub metrics: Vec<MetricTimeline>,
    /// Every alert of the span, oldest first.
    pub alerts: Vec<AlertSpan>,
    pub feedback: FeedbackSummary,
}

/// One deploy, rollback or restore.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentEvent {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    /// `deploy`, `rollback` or `restore`.
    pub action: String,
    pub config_dir: Option<String>,
    pub rolled_back_to: Option<i64>,
    /// Definitions it created, changed or deleted.
    pub changes: usize,
}

/// A rollout flag over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    pub flag: String,
    pub description: String,
    /// `percentage` or `time_based` (as it is now).
    pub flag_type: String,
    /// The share of units it is on for now, percent.
    pub percentage_now: f64,
    /// Why it is held now (a guardrail's reasons, or a person's), if it is.
    pub held_now: Option<String>,
    /// The percentage as a step function: from each point's time on, until
    /// the next point.
    pub points: Vec<RolloutPoint>,
    /// What happened to it: deployments, holds, resumes, other changes.
    pub events: Vec<RolloutEvent>,
}

/// A step of a rollout's percentage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RolloutPoint {
    pub at_ms: i64,
    pub percentage: f64,
    /// Whether a hold (pause or guardrail rollback) keeps it there.
    pub held: bool,
}

/// What happened to a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutEventKind {
    /// A deployment of the config files.
    Deploy,
    /// A rollback to an earlier deployment.
    Rollback,
    /// A database restored from a backup.
    Restore,
    /// A guardrail stopped the rollout where it was.
    GuardrailPause,
    /// A guardrail took the rollout back to 0%.
    GuardrailRollback,
    /// A person held the rollout.
    Pause,
    /// A hold was lifted.
    Resume,
    /// Another change of the flag at runtime.
    Change,
}

impl RolloutEventKind {
    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            RolloutEventKind::Deploy => "deploy",
            RolloutEventKind::Rollback => "rollback",
            RolloutEventKind::Restore => "restore",
            RolloutEventKind::GuardrailPause => "paused by a guardrail",
            RolloutEventKind::GuardrailRollback => "rolled back by a guardrail",
            RolloutEventKind::Pause => "paused",
            RolloutEventKind::Resume => "resumed",
            RolloutEventKind::Change => "changed",
        }
    }
}

/// One event of a rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutEvent {
    pub at_ms: i64,
    pub kind: RolloutEventKind,
    pub actor: String,
    /// What it was, in words (a deployment's id, a guardrail's reasons).
    pub detail: String,
    /// The rollout's percentage just after it.
    pub percentage: f64,
}

/// An A/B test's analysis, as far as the report shows it. Read from the
/// analysis's JSON (the same field names as `cha_experiment_analyze`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentResult {
    pub id: String,
    pub name: String,
    pub status: String,
    pub control: String,
    pub duration_days: Option<f64>,
    /// `ship`, `keep_running`, `stop`, ...
    pub conclusion: String,
    /// The verdict in one line.
    pub recommendation: String,
    pub winner: Option<String>,
    pub reasons: Vec<String>,
    pub variants: Vec<VariantCount>,
    pub metrics: Vec<MetricResult>,
}

/// Units exposed to a variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantCount {
    pub name: String,
    pub exposures: u64,
}

/// One metric of an A/B test: each variant against the control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    pub name: String,
    /// `primary`, `secondary` or `guardrail`.
    pub metric_type: String,
    pub unit: Option<String>,
    /// `increase` or `decrease`: which way is better.
    pub target_direction: String,
    pub comparisons: Vec<Comparison>,
}

/// A variant against the control on one metric: the relative lift with
/// its interval (the forest plot's row) and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub variant: String,
    /// Relative lift over the control, as a fraction (0.05 = +5%).
    pub lift: Option<f64>,
    pub lift_lower: Option<f64>,
    pub lift_upper: Option<f64>,
    /// The difference in the metric's unit, with its interval.
    pub difference: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// The p-value the verdict rests on (adjusted where corrected).
    pub p_value: Option<f64>,
    /// `better`, `worse`, `inconclusive`, `harmed`, `not_harmed`, ...
    pub verdict: String,
}

/// An alert rule's metric over time, against its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricTimeline {
    pub rule: String,
    pub metric: String,
    pub description: String,
    /// The rule's aggregation (`p95`, `mean`, `sum`, ...), per bucket.
    pub aggregation: String,
    /// `>`, `<`, ...
    pub comparison: String,
    /// `ms` for timers.
    pub unit: Option<String>,
    pub warning: Option<f64>,
    pub error: Option<f64>,
    pub critical: Option<f64>,
    /// The window the rule evaluates (its buckets are the report's).
    pub window_minutes: u32,
    /// The whole span.
    pub overall: MetricSeries,
    /// A closer look around the rule's alerts, in smaller buckets.
    pub zoom: Option<MetricSeries>,
    /// The rule's alerts (their ids in `alerts`).
    pub alerts: Vec<i64>,
    /// `inactive`, `pending` or `firing` now.
    pub state: String,
}

/// A metric's values in buckets over a span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSeries {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The width of each bucket.
    pub bucket_ms: i64,
    /// The buckets with samples, oldest first.
    pub points: Vec<MetricPoint>,
}

/// One bucket of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricPoint {
    pub start_ms: i64,
    /// The rule's aggregation over the bucket.
    pub value: f64,
    /// Samples in the bucket.
    pub count: u64,
}

/// An alert from when it fired until it resolved (or now).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertSpan {
    pub id: i64,
    pub rule: String,
    pub metric: String,
    /// The most severe level it reached.
    pub max_severity: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// When the breach began (pending), when it fired, when it resolved.
    pub started_at_ms: i64,
    pub fired_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub message: String,
}

/// The feedback of the span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackSummary {
    pub total_items: u64,
    pub average_rating: Option<f64>,
    pub csat: Option<f64>,
    pub sentiment_mean: Option<f64>,
    /// `day` or `week`.
    pub period: String,
    /// Volume by sentiment and mean sentiment per period (periods with
    /// items only).
    pub periods: Vec<FeedbackPeriod>,
    /// Satisfaction per variant of each A/B test.
    pub experiments: Vec<ArmsOf>,
}

/// One period of feedback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackPeriod {
    pub start_ms: i64,
    pub end_ms: i64,
    pub items: u64,
    pub positive: u64,
    pub neutral: u64,
    pub negative: u64,
    pub sentiment_mean: Option<f64>,
    pub csat: Option<f64>,
}

/// The variants of one A/B test, with what their users said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmsOf {
    pub experiment: String,
    /// The control.
    pub reference: String,
    pub arms: Vec<ArmSatisfaction>,
}

/// One variant's satisfaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmSatisfaction {
    pub arm: String,
    pub items: u64,
    /// Items with a rating (the CSAT is of these).
    pub ratings: u64,
    pub csat: Option<f64>,
    pub average_rating: Option<f64>,
    pub sentiment_mean: Option<f64>,
}

impl Cha {
    /// Gathers the deployment report: the deployment history, every
    /// rollout flag's percentage over time with its deploys, rollbacks and
    /// holds, the analysis of every A/B test that has started, every alert
    /// rule's metric over time against its thresholds with its alerts, and
    /// the feedback per period and per variant. Persists this handle's
    /// buffered records first, as an analysis does; otherwise writes
    /// nothing.
    ///
    /// # Errors
    /// `Storage`, `Busy`.
    pub fn deployment_report(&self) -> Result<DeploymentReport> {
        self.flush()?;
        let now = crate::clock::now_ms();
        let mut deployments = self.deployments(HISTORY_LIMIT)?;
        deployments.reverse();
        let deployments: Vec<DeploymentEvent> = deployments
            .iter()
            .map(|d| DeploymentEvent {
                id: d.id,
                at_ms: d.at_ms,
                actor: d.actor.clone(),
                action: d.action.clone(),
                config_dir: d.config_dir.clone(),
                rolled_back_to: d.rolled_back_to,
                changes: d.changed(),
            })
            .collect();
        let mut alerts: Vec<AlertSpan> = self
            .alerts(AlertQuery {
                start_ms: 0,
                end_ms: 0,
                firing_only: false,
                limit: HISTORY_LIMIT,
            })?
            .into_iter()
            .map(|a| AlertSpan {
                id: a.id,
                rule: a.rule,
                metric: a.metric,
                max_severity: a.max_severity.as_str().to_string(),
                state: a.state,
                started_at_ms: a.started_at_ms,
                fired_at_ms: a.fired_at_ms,
                resolved_at_ms: a.resolved_at_ms,
                message: a.message,
            })
            .collect();
        alerts.sort_by_key(|a| (a.fired_at_ms, a.id));

        let mut histories = Vec::new();
        for record in self.flags()? {
            let history = self.flag_history(&record.definition.name)?;
            if history.iter().any(|e| is_rollout(&definition_of(e))) {
                histories.push((record.definition, history));
            }
        }
        let first_window = crate::store::monitoring::first_window_start(&self.inner.store.conn())?;
        let start = [
            deployments.first().map(|d| d.at_ms),
            histories
                .iter()
                .filter_map(|(_, h)| h.first().map(|e| e.at_ms))
                .min(),
            first_window,
            alerts.first().map(|a| a.started_at_ms),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now - 7 * DAY_MS)
        .min(now);
        // At least an hour, so that the charts have a width.
        let end = now.max(start + HOUR_MS);

        let rollouts = histories
            .iter()
            .map(|(def, history)| rollout_of(def, history, &deployments, end))
            .collect();
        let (experiments, experiments_not_started) = self.experiment_results()?;
        let metrics = self.metric_timelines(start, end, &alerts)?;
        let feedback = self.feedback_summary(start, end)?;
        let mut report = DeploymentReport {
            title: "Deployment report".into(),
            library_version: crate::VERSION.into(),
            database: self.path().display().to_string(),
            generated_at_ms: now,
            start_ms: start,
            end_ms: end,
            headlines: Vec::new(),
            deployments,
            rollouts,
            experiments,
            experiments_not_started,
            metrics,
            alerts,
            feedback,
        };
        report.headlines = headlines(&report);
        Ok(report)
    }

    /// The deployment report rendered in `format`.
    ///
    /// # Errors
    /// As [`Cha::deployment_report`].
    pub fn render_deployment_report(&self, format: ReportFormat) -> Result<String> {
        Ok(self.deployment_report()?.render(format))
    }

    /// Writes the deployment report to `path` (`generate_deployment_report`)
    /// in `format`, or by default in the format its extension names
    /// (`.html`, `.md`, `.json`; HTML without one): to a temporary file
    /// beside it first, then renamed over it, so a reader never sees part
    /// of a report. The file gets the database file's permission bits.
    ///
    /// # Errors
    /// `InvalidArgument` for an extension that names no format (without
    /// `format`), or a `path` that is a folder, a link or a device;
    /// `Storage` when the folder is missing or cannot be written; as
    /// [`Cha::deployment_report`].
    pub fn generate_deployment_report(
        &self,
        path: impl AsRef<Path>,
        format: Option<ReportFormat>,
    ) -> Result<ReportFile> {
        let path = path.as_ref();
        let format = match format {
            Some(f) => f,
            None => match path.extension() {
                None => ReportFormat::Html,
                Some(_) => ReportFormat::from_path(path).ok_or_else(|| {
                    Error::invalid_argument(format!(
                        "{}: the extension names no report format (.html, .md or .json); give the format",
                        path.display()
                    ))
                })?,
            },
        };
        if path.as_os_str().is_empty() {
            return Err(Error::invalid_argument("the report's path is empty"));
        }
        let text = self.render_deployment_report(format)?;
        crate::files::write_atomically(path, text.as_bytes(), crate::files::mode_of(&self.path()))?;
        Ok(ReportFile {
            path: path.display().to_string(),
            format,
            bytes: text.len() as u64,
        })
    }

    /// The analysis of every A/B test that has started; the ids of drafts.
    fn experiment_results(&self) -> Result<(Vec<ExperimentResult>, Vec<String>)> {
        let mut results = Vec::new();
        let mut drafts = Vec::new();
        for record in self.experiments()? {
            let def = &record.definition;
            if def.status == ExperimentStatus::Draft {
                drafts.push(def.id.clone());
                continue;
            }
            let analysis = self.analyze_experiment(&def.id, AnalysisOptions::default())?;
            results.push(ExperimentResult::from_analysis(&serde_json::to_value(
                &analysis,
            )?));
        }
        Ok((results, drafts))
    }

    /// Every alert rule's metric over [`start`, `end`), bucketed; with a
    /// closer look around its alerts.
    fn metric_timelines(
        &self,
        start: i64,
        end: i64,
        alerts: &[AlertSpan],
    ) -> Result<Vec<MetricTimeline>> {
        let mut out = Vec::new();
        for status in self.alert_rules()? {
            let rule = &status.rule;
            let (windows, series) = {
                let conn = self.inner.store.conn();
                (
                    crate::store::monitoring::timed_windows_of(
                        &conn,
                        &rule.metric_name,
                        start,
                        end,
                    )?,
                    crate::store::monitoring::series_of(&conn, &rule.metric_name)?,
                )
            };
            let kind = series
                .first()
                .and_then(|s| MetricKind::from_name(&s.kind))
                .unwrap_or(MetricKind::Histogram);
            let tags: HashMap<i64, BTreeMap<String, String>> = series
                .iter()
                .map(|s| {
                    (
                        s.id,
                        crate::monitoring::model::parse_tags(Some(&s.tags)).unwrap_or_default(),
                    )
                })
                .collect();
            // The rule's series only (its tags).
            let windows: Vec<(i64, WindowStats)> = windows
                .into_iter()
                .filter(|(id, ..)| tags.get(id).is_some_and(|t| rule.matches(t)))
                .map(|(_, at, _, w)| (at, w))
                .collect();
            let rule_alerts: Vec<&AlertSpan> =
                alerts.iter().filter(|a| a.rule == rule.name).collect();
            if windows.is_empty() && rule_alerts.is_empty() {
                continue;
            }
            let series_over = |from: i64, to: i64| -> MetricSeries {
                let bucket = bucket_for(to - from);
                let mut buckets: BTreeMap<i64, WindowStats> = BTreeMap::new();
                for (at, w) in windows.iter().filter(|(at, _)| (from..to).contains(at)) {
                    buckets
                        .entry(window_start(*at, bucket))
                        .or_default()
                        .merge(w);
                }
                let seconds = bucket as f64 / 1000.0;
                MetricSeries {
                    start_ms: from,
                    end_ms: to,
                    bucket_ms: bucket,
                    points: buckets
                        .iter()
                        .filter(|(_, w)| w.count() > 0)
                        .filter_map(|(&at, w)| {
                            let value = window_value(w, kind, rule.aggregation, seconds)?;
                            value.is_finite().then_some(MetricPoint {
                                start_ms: at,
                                value,
                                count: w.count(),
                            })
                        })
                        .collect(),
                }
            };
            let overall = series_over(start, end);
            // Around the alerts: from an hour before the first fired to an
            // hour after the last resolved, when that is a closer look.
            let zoom = match (
                rule_alerts.iter().map(|a| a.started_at_ms).min(),
                rule_alerts
                    .iter()
                    .map(|a| a.resolved_at_ms.unwrap_or(end))
                    .max(),
            ) {
                (Some(first), Some(last)) => {
                    let (from, to) = ((first - HOUR_MS).max(start), (last + HOUR_MS).min(end));
                    let zoomed = series_over(from, to);
                    (zoomed.bucket_ms < overall.bucket_ms).then_some(zoomed)
                }
                _ => None,
            };
            out.push(MetricTimeline {
                rule: rule.name.clone(),
                metric: rule.metric_name.clone(),
                description: rule.description.clone(),
                aggregation: rule.aggregation.as_str().to_string(),
                comparison: rule.comparison_operator.symbol().to_string(),
                unit: kind.unit().map(str::to_string),
                warning: rule.warning_threshold,
                error: rule.error_threshold,
                critical: rule.critical_threshold,
                window_minutes: rule.window_size_minutes,
                overall,
                zoom,
                alerts: rule_alerts.iter().map(|a| a.id).collect(),
                state: name_of(&status.state),
            });
        }
        Ok(out)
    }

    /// The feedback of [`start`, `end`) by period and by variant.
    fn feedback_summary(&self, start: i64, end: i64) -> Result<FeedbackSummary> {
        let (period, period_ms) = if end - start <= DAILY_FEEDBACK_UP_TO_MS {
            (Period::Day, DAY_MS)
        } else {
            (Period::Week, 7 * DAY_MS)
        };
        let all = self.analyze_feedback_with(
            start,
            end,
            &FeedbackAnalysisOptions {
                period: Some(period),
                ..FeedbackAnalysisOptions::default()
            },
        )?;
        let mut periods = Vec::new();
        for p in &all.trend.points {
            let (from, to) = (p.start_ms.max(start), (p.start_ms + period_ms).min(end));
            let volume = if from < to {
                self.analyze_feedback(from, to)?.volume.by_sentiment
            } else {
                BTreeMap::new()
            };
            let count = |label: &str| volume.get(label).copied().unwrap_or(0);
            periods.push(FeedbackPeriod {
                start_ms: p.start_ms,
                end_ms: p.start_ms + period_ms,
                items: p.items,
                positive: count("positive"),
                neutral: count("neutral"),
                negative: count("negative"),
                sentiment_mean: p.sentiment_mean,
                csat: p.csat,
            });
        }
        Ok(FeedbackSummary {
            total_items: all.total_items,
            average_rating: all.satisfaction.average_rating,
            csat: all.satisfaction.csat,
            sentiment_mean: all.satisfaction.sentiment_mean,
            period: name_of(&period),
            periods,
            experiments: all
                .experiments
                .iter()
                .map(|e| ArmsOf {
                    experiment: e.name.clone(),
                    reference: e.reference.clone(),
                    arms: e
                        .arms
                        .iter()
                        .map(|a| ArmSatisfaction {
                            arm: a.arm.clone(),
                            items: a.items,
                            ratings: a.ratings,
                            csat: a.csat,
                            average_rating: a.average_rating,
                            sentiment_mean: a.sentiment_mean,
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}

impl DeploymentReport {
    /// The report in `format`.
    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Html => html::render(self),
            ReportFormat::Markdown => markdown::render(self),
            ReportFormat::Json => {
                let mut text = serde_json::to_string_pretty(self).expect("serialisable");
                text.push('\n');
                text
            }
        }
    }
}

impl ExperimentResult {
    /// The report's part of an analysis, read from its JSON by the field
    /// names of `cha_experiment_analyze` (what is missing stays empty).
    fn from_analysis(a: &Value) -> ExperimentResult {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let number = |v: &Value| v.as_f64().filter(|x| x.is_finite());
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|s| s.as_str())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
        ExperimentResult {
            id: text(&a["experiment_id"]),
            name: text(&a["experiment_name"]),
            status: text(&a["status"]),
            control: text(&a["control"]),
            duration_days: number(&a["duration_days"]),
            conclusion: text(&a["conclusion"]),
            recommendation: text(&a["recommendation"]),
            winner: a["winner"].as_str().map(str::to_string),
            reasons: strings(&a["reasons"]),
            variants: list(&a["variants"])
                .iter()
                .map(|v| VariantCount {
                    name: text(&v["name"]),
                    exposures: v["exposures"].as_u64().unwrap_or(0),
                })
                .collect(),
            metrics: list(&a["metrics"])
                .iter()
                .map(|m| MetricResult {
                    name: text(&m["name"]),
                    metric_type: text(&m["metric_type"]),
                    unit: m["unit"].as_str().map(str::to_string),
                    target_direction: text(&m["target_direction"]),
                    comparisons: list(&m["comparisons"])
                        .iter()
                        .map(|c| Comparison {
                            variant: text(&c["variant"]),
                            lift: number(&c["relative_lift"]["estimate"]),
                            lift_lower: number(&c["relative_lift"]["ci_lower"]),
                            lift_upper: number(&c["relative_lift"]["ci_upper"]),
                            difference: number(&c["difference"]["estimate"]),
                            ci_lower: number(&c["difference"]["ci_lower"]),
                            ci_upper: number(&c["difference"]["ci_upper"]),
                            p_value: number(&c["p_adjusted"])
                                .or_else(|| number(&c["decision_p_value"]))
                                .or_else(|| number(&c["difference"]["p_value"])),
                            verdict: text(&c["verdict"]),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A serde enum's name.
fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The flag definition an audit entry left (None: deleted, or unreadable).
fn definition_of(entry: &AuditEntry) -> Option<FlagDefinition> {
    entry
        .after
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// A percentage flag, or a time-based one with a schedule.
fn is_rollout(def: &Option<FlagDefinition>) -> bool {
    def.as_ref().is_some_and(|d| {
        d.flag_type == FlagType::Percentage
            || (d.flag_type == FlagType::TimeBased && !d.schedule.is_empty())
    })
}

/// The share of units `def` is on for at `at`, percent.
fn share(def: &Option<FlagDefinition>, at: i64) -> f64 {
    match def {
        Some(d) if d.enabled => match d.rollout_percentage(at) {
            Some(p) => p,
            None if d.flag_type == FlagType::Boolean => 100.0,
            None => 0.0,
        },
        _ => 0.0,
    }
}

/// A rollout flag's percentage over time and its events, from its audit
/// log (oldest first) and the deployments.
fn rollout_of(
    now: &FlagDefinition,
    history: &[AuditEntry],
    deployments: &[DeploymentEvent],
    end: i64,
) -> Rollout {
    let versions: Vec<(i64, Option<FlagDefinition>)> = history
        .iter()
        .map(|e| (e.at_ms, definition_of(e)))
        .collect();
    let mut points: Vec<RolloutPoint> = Vec::new();
    let mut push = |at: i64, def: &Option<FlagDefinition>| {
        let point = RolloutPoint {
            at_ms: at,
            percentage: share(def, at),
            held: def.as_ref().is_some_and(|d| d.hold.is_some()),
        };
        match points.last_mut() {
            Some(last) if last.at_ms == at => *last = point,
            Some(last) if last.percentage == point.percentage && last.held == point.held => {}
            _ => points.push(point),
        }
    };
    for (i, (at, def)) in versions.iter().enumerate() {
        let until = versions.get(i + 1).map_or(end, |v| v.0);
        push(*at, def);
        // The schedule's steps (and its end) while this version is in force.
        if let Some(d) = def {
            let mut steps: Vec<i64> = d
                .schedule
                .iter()
                .filter_map(|s| crate::common::time::parse_rfc3339_ms(&s.at).ok())
                .chain(
                    d.end_time
                        .as_deref()
                        .and_then(|t| crate::common::time::parse_rfc3339_ms(t).ok()),
                )
                .filter(|t| *t > *at && *t < until)
                .collect();
            steps.sort_unstable();
            for t in steps {
                push(t, def);
            }
        }
    }

    let mut events: Vec<RolloutEvent> = deployments
        .iter()
        .map(|d| RolloutEvent {
            at_ms: d.at_ms,
            kind: match d.action.as_str() {
                "rollback" => RolloutEventKind::Rollback,
                "restore" => RolloutEventKind::Restore,
                _ => RolloutEventKind::Deploy,
            },
            actor: d.actor.clone(),
            detail: match d.rolled_back_to {
                Some(to) => format!("deployment {} (back to {to})", d.id),
                None => format!("deployment {}", d.id),
            },
            percentage: share(&version_at(&versions, d.at_ms), d.at_ms),
        })
        .collect();
    for (i, entry) in history.iter().enumerate() {
        if matches!(
            entry.action.as_str(),
            "deploy" | "rollback" | "restore" | "create"
        ) {
            continue;
        }
        let before = if i == 0 {
            None
        } else {
            versions[i - 1].1.clone()
        };
        let after = &versions[i].1;
        let hold_before = before.as_ref().and_then(|d| d.hold.clone());
        let hold_after = after.as_ref().and_then(|d| d.hold.clone());
        let (kind, detail) = match (&hold_before, &hold_after) {
            (None, Some(h)) if entry.actor == GUARDRAIL_ACTOR => (
                match h.action {
                    GuardAction::Pause => RolloutEventKind::GuardrailPause,
                    GuardAction::Rollback => RolloutEventKind::GuardrailRollback,
                },
                h.reason.clone(),
            ),
            (None, Some(h)) => (RolloutEventKind::Pause, h.reason.clone()),
            (Some(_), None) => (RolloutEventKind::Resume, "the hold is lifted".to_string()),
            _ => {
                let (a, b) = (share(&before, entry.at_ms), share(after, entry.at_ms));
                let previous = i.checked_sub(1).and_then(|p| history[p].after.as_ref());
                let mut fields = changed_fields(previous, entry.after.as_ref());
                if a != b {
                    fields.retain(|f| f != "percentage");
                }
                let detail = match (a != b, fields.is_empty()) {
                    (true, true) => format!("{}% → {}%", number(a), number(b)),
                    (true, false) => {
                        format!("{}% → {}%; {}", number(a), number(b), fields.join(", "))
                    }
                    (false, false) => fields.join(", "),
                    (false, true) => format!("version {}", entry.version.unwrap_or(0)),
                };
                (RolloutEventKind::Change, detail)
            }
        };
        events.push(RolloutEvent {
            at_ms: entry.at_ms,
            kind,
            actor: entry.actor.clone(),
            detail,
            percentage: share(after, entry.at_ms),
        });
    }
    events.sort_by_key(|e| e.at_ms);
    Rollout {
        flag: now.name.clone(),
        description: now.description.clone(),
        flag_type: now.flag_type.as_str().to_string(),
        percentage_now: share(&Some(now.clone()), end),
        held_now: now.hold.as_ref().map(|h| h.reason.clone()),
        points,
        events,
    }
}

/// The top-level fields of a flag definition that differ between two
/// versions, by name.
fn changed_fields(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let empty = serde_json::Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut names: Vec<String> = b
        .keys()
        .chain(a.keys())
        .filter(|k| b.get(*k) != a.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The version of a flag in force at `at`.
fn version_at(versions: &[(i64, Option<FlagDefinition>)], at: i64) -> Option<FlagDefinition> {
    versions
        .iter()
        .rev()
        .find(|(t, _)| *t <= at)
        .and_then(|(_, d)| d.clone())
}

/// A number for text: at most two decimals, no trailing zeros.
pub(crate) fn number(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// A share as a percentage: `12.5%`.
pub(crate) fn percent(share: f64) -> String {
    format!("{}%", number(100.0 * share))
}

/// A time for people, to the minute: `2026-11-17 09:40 UTC`.
pub(crate) fn when(ms: i64) -> String {
    let t = crate::common::time::format_rfc3339_ms(ms);
    format!("{} {} UTC", &t[..10], &t[11..16])
}

/// The report's first lines: what a reader wants to know first.
fn headlines(r: &DeploymentReport) -> Vec<String> {
    let mut lines = Vec::new();
    match r.deployments.last() {
        Some(last) => {
            let count = |a: &str| r.deployments.iter().filter(|d| d.action == a).count();
            lines.push(format!(
                "{} deployment{} ({} deploy{}, {} rollback{}, {} restore{}); the last, {}, on {} by {}.",
                r.deployments.len(),
                plural(r.deployments.len()),
                count("deploy"),
                plural(count("deploy")),
                count("rollback"),
                plural(count("rollback")),
                count("restore"),
                plural(count("restore")),
                last.id,
                when(last.at_ms),
                last.actor
            ));
        }
        None => lines.push("Nothing has been deployed yet.".into()),
    }
    for rollout in &r.rollouts {
        let stops: Vec<&RolloutEvent> = rollout
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    RolloutEventKind::GuardrailPause | RolloutEventKind::GuardrailRollback
                )
            })
            .collect();
        let mut line = format!(
            "Rollout of {}: {}% now",
            rollout.flag,
            number(rollout.percentage_now)
        );
        if let Some(reason) = &rollout.held_now {
            line += &format!(", held ({reason})");
        }
        match stops.as_slice() {
            [] => line.push('.'),
            [one] => {
                line += &format!(
                    "; {} on {}: {}.",
                    one.kind.label(),
                    when(one.at_ms),
                    one.detail
                );
            }
            many => line += &format!("; stopped {} times by guardrails.", many.len()),
        }
        lines.push(line);
    }
    for e in &r.experiments {
        lines.push(format!("A/B test {}: {}.", e.id, e.recommendation));
    }
    if !r.alerts.is_empty() {
        let firing = r.alerts.iter().filter(|a| a.state == "firing").count();
        let rules: Vec<String> = {
            let mut names: Vec<String> = r.alerts.iter().map(|a| a.rule.clone()).collect();
            names.dedup();
            names
        };
        lines.push(format!(
            "{} alert{} ({} firing now) of {}.",
            r.alerts.len(),
            plural(r.alerts.len()),
            firing,
            rules.join(", ")
        ));
    }
    let f = &r.feedback;
    if f.total_items > 0 {
        let mut line = format!(
            "{} feedback item{}",
            f.total_items,
            plural(f.total_items as usize)
        );
        if let Some(csat) = f.csat {
            line += &format!(", CSAT {}", percent(csat));
        }
        for arms in &f.experiments {
            let parts: Vec<String> = arms
                .arms
                .iter()
                .filter_map(|a| a.csat.map(|c| format!("{} {}", a.arm, percent(c))))
                .collect();
            if !parts.is_empty() {
                line += &format!("; {}: {}", arms.experiment, parts.join(" vs "));
            }
        }
        line.push('.');
        lines.push(line);
    }
    lines
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_and_told_by_extension() {
        assert_eq!(ReportFormat::parse("HTML").unwrap(), ReportFormat::Html);
        assert_eq!(
            ReportFormat::parse("markdown").unwrap(),
            ReportFormat::Markdown
        );
        let e = ReportFormat::parse("pdf").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(e.message().contains("known: html, md, json"), "{e}");
        assert_eq!(
            ReportFormat::from_path(Path::new("out/r.md")),
            Some(ReportFormat::Markdown)
        );
        assert_eq!(ReportFormat::from_path(Path::new("r.txt")), None);
        for f in ReportFormat::ALL {
            assert_eq!(ReportFormat::parse(f.as_str()).unwrap(), f);
            assert_eq!(name_of(&f), f.as_str());
        }
    }

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(number(25.0), "25");
        assert_eq!(number(12.345), "12.35");
        assert_eq!(percent(0.8125), "81.25%");
        assert_eq!(when(1_767_571_200_000), "2026-01-05 00:00 UTC");
    }
}
