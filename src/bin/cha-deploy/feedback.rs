//! `cha-deploy feedback …`: submit, list, show, acknowledge, start, resolve,
//! close and merge feedback, and analyse it.

use clap::{Args, Subcommand, ValueEnum};

use cha_deploy::common::time::parse_rfc3339_ms;
use cha_deploy::feedback::analyze::{ArmComparison, Difference, FeedbackAnalysis, Period};
use cha_deploy::feedback::{FeedbackType, Priority, Status, Submission};
use cha_deploy::{
    Cha, Error, FeedbackAnalysisOptions, FeedbackItem, FeedbackQuery, FeedbackTransition,
};

use crate::flags::{Actor, indent};
use crate::output::{Output, aligned, name_of, num, percent, rfc3339, table};
use crate::when::{now_ms, time_or_ago};

/// The `feedback` subcommands.
#[derive(Subcommand)]
pub enum FeedbackCommand {
    /// Store feedback: its sentiment, priority, queue and response are
    /// worked out, and it is linked to the flags and variants its user saw.
    #[command(
        after_help = "Examples:\n  cha-deploy feedback submit bug-report \"Pressure drop too high on the return line\" --user planner-042\n  cha-deploy feedback submit satisfaction-survey \"Saves time on every project\" --rating 5"
    )]
    Submit(SubmitArgs),
    /// The newest items, filtered.
    #[command(
        after_help = "Examples:\n  cha-deploy feedback list --status new --priority critical\n  cha-deploy feedback list --since 7d --type bug-report"
    )]
    List(ListArgs),
    /// One item with its sentiment, priority, route, exposures and history.
    #[command(after_help = "Examples:\n  cha-deploy feedback show 17")]
    Show {
        /// The item's id, from `feedback list`.
        id: i64,
    },
    /// Acknowledge an item (new → acknowledged).
    #[command(
        after_help = "Examples:\n  cha-deploy feedback ack 17 --note \"reproduced on north-7\" --actor oncall"
    )]
    Ack(MoveArgs),
    /// Start work on an item (acknowledged → in progress; reopens a
    /// resolved one).
    #[command(after_help = "Examples:\n  cha-deploy feedback start 17 --actor oncall")]
    Start(MoveArgs),
    /// Resolve an item (in progress → resolved).
    #[command(
        after_help = "Examples:\n  cha-deploy feedback resolve 17 --note \"fixed in 0.2\" --actor oncall"
    )]
    Resolve(MoveArgs),
    /// Close an item (acknowledged, in progress or resolved → closed).
    #[command(after_help = "Examples:\n  cha-deploy feedback close 17 --actor oncall")]
    Close(MoveArgs),
    /// Merge an item into the earlier report it repeats.
    #[command(after_help = "Examples:\n  cha-deploy feedback merge 18 --into 17")]
    Merge {
        /// The item's id, from `feedback list`.
        id: i64,
        /// The report it repeats.
        #[arg(long, value_name = "ID")]
        into: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Analyse the feedback of a period: volumes, satisfaction, trend, top
    /// issues, variants and flags, success metrics, recommendations.
    #[command(after_help = "Examples:\n  cha-deploy feedback analyze --since 30d --by week")]
    Analyze(AnalyzeArgs),
}

/// `feedback submit TYPE TEXT …`.
#[derive(Args)]
pub struct SubmitArgs {
    /// bug-report, feature-request, performance-issue, usability-issue,
    /// general-feedback or satisfaction-survey.
    #[arg(value_enum)]
    kind: KindArg,
    /// What the user says.
    text: String,
    /// Who says it (default: the login name).
    #[arg(long)]
    user: Option<String>,
    /// 1 to 5 (required for a satisfaction survey).
    #[arg(long)]
    rating: Option<u8>,
    /// One of user_feedback.yml's categories (default: found from the text).
    #[arg(long)]
    category: Option<String>,
    /// A JSON object: network id, app version, ...
    #[arg(long, value_name = "JSON")]
    context: Option<String>,
    /// When it was submitted, RFC 3339 (for imports; default now).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
}

/// `--type` and the positional type of `submit`.
#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    BugReport,
    FeatureRequest,
    PerformanceIssue,
    UsabilityIssue,
    GeneralFeedback,
    SatisfactionSurvey,
}

impl From<KindArg> for FeedbackType {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::BugReport => FeedbackType::BugReport,
            KindArg::FeatureRequest => FeedbackType::FeatureRequest,
            KindArg::PerformanceIssue => FeedbackType::PerformanceIssue,
            KindArg::UsabilityIssue => FeedbackType::UsabilityIssue,
            KindArg::GeneralFeedback => FeedbackType::GeneralFeedback,
            KindArg::SatisfactionSurvey => FeedbackType::SatisfactionSurvey,
        }
    }
}

/// `feedback list …`.
#[derive(Args)]
pub struct ListArgs {
    /// Only this status (new, acknowledged, in_progress, resolved, closed, duplicate).
    #[arg(long)]
    status: Option<String>,
    /// Only this type.
    #[arg(long = "type", value_enum)]
    kind: Option<KindArg>,
    /// Only this category.
    #[arg(long)]
    category: Option<String>,
    /// Only this priority (critical, high, medium, low).
    #[arg(long)]
    priority: Option<String>,
    /// Only this queue.
    #[arg(long)]
    queue: Option<String>,
    /// Only this user's.
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    period: PeriodArgs,
    /// At most this many.
    #[arg(long, default_value = "50")]
    limit: u32,
}

/// `--since` and `--until`.
#[derive(Args)]
pub struct PeriodArgs {
    /// From this time on: RFC 3339, or a duration back from now (30m, 24h,
    /// 7d).
    #[arg(long, value_name = "TIME|DURATION")]
    since: Option<String>,
    /// Before this time: RFC 3339, or a duration back from now.
    #[arg(long, value_name = "TIME|DURATION")]
    until: Option<String>,
}

impl PeriodArgs {
    /// `(start_ms, end_ms)`, 0 for unbounded.
    fn range(&self) -> Result<(i64, i64), Error> {
        let now = now_ms();
        let time = |t: &Option<String>, flag: &str| -> Result<i64, Error> {
            t.as_deref()
                .map(|t| time_or_ago(t, flag, now))
                .transpose()
                .map(|t| t.unwrap_or(0))
        };
        Ok((time(&self.since, "since")?, time(&self.until, "until")?))
    }
}

/// The arguments of a status change.
#[derive(Args)]
pub struct MoveArgs {
    /// The item's id, from `feedback list`.
    id: i64,
    /// Why, for the history.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    actor: Actor,
}

/// `feedback analyze …`.
#[derive(Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    period: PeriodArgs,
    /// The trend per day or per week (default: days, weeks beyond 90 days).
    #[arg(long = "by", value_enum)]
    by: Option<PeriodArg>,
    /// The users exposed to the system, for the collection rate (default:
    /// the units with a stored experiment exposure, and who gave feedback).
    #[arg(long, value_name = "N")]
    users_exposed: Option<u64>,
    /// How many top issues.
    #[arg(long, default_value = "10")]
    top: usize,
}

/// `--by day|week`.
#[derive(Clone, Copy, ValueEnum)]
pub enum PeriodArg {
    Day,
    Week,
}

/// Runs a `feedback` subcommand on the database `db`.
pub fn run(cmd: &FeedbackCommand, db: &std::path::Path, out: &Output) -> Result<(), Error> {
    // Submitting to a database that is not there yet creates it: feedback
    // needs no deployment (the shipped settings apply).
    let cha = match cmd {
        FeedbackCommand::Submit(_) => Cha::open(db)?,
        _ => crate::open_existing(db)?,
    };
    match cmd {
        FeedbackCommand::Submit(args) => {
            let mut s = Submission::new(
                args.kind.into(),
                &args.user.clone().unwrap_or_else(cha_deploy::default_actor),
                &args.text,
            );
            s.rating = args.rating;
            s.category = args.category.clone();
            if let Some(context) = &args.context {
                let value: serde_json::Value = serde_json::from_str(context)
                    .map_err(|e| Error::invalid_argument(format!("--context is not JSON: {e}")))?;
                s.context = match value {
                    serde_json::Value::Object(map) => map,
                    _ => {
                        return Err(Error::invalid_argument(
                            "--context must be a JSON object such as {\"network_id\": \"north-7\"}",
                        ));
                    }
                };
            }
            if let Some(at) = &args.at {
                s.submitted_at_ms = Some(
                    parse_rfc3339_ms(at)
                        .map_err(|m| Error::invalid_argument(format!("--at: {m}")))?,
                );
            }
            let item = cha.submit_feedback(&s)?;
            out.print(&item, || submitted_text(&item));
        }
        FeedbackCommand::List(args) => {
            let (start_ms, end_ms) = args.period.range()?;
            let query = FeedbackQuery {
                status: args
                    .status
                    .as_deref()
                    .map(cha_deploy::feedback::model::Status::parse)
                    .map(|s| s.ok_or_else(|| unknown("status", args.status.as_deref())))
                    .transpose()?,
                kind: args.kind.map(Into::into),
                category: args.category.clone(),
                priority: args
                    .priority
                    .as_deref()
                    .map(Priority::parse)
                    .map(|p| p.ok_or_else(|| unknown("priority", args.priority.as_deref())))
                    .transpose()?,
                queue: args.queue.clone(),
                user_id: args.user.clone(),
                start_ms,
                end_ms,
                limit: args.limit,
            };
            let items = cha.list_feedback(&query)?;
            out.print(&items, || list_text(&items));
        }
        FeedbackCommand::Show { id } => {
            let item = cha.feedback(*id)?;
            out.print(&item, || show_text(&item));
        }
        FeedbackCommand::Ack(m) => transition(&cha, m, Status::Acknowledged, out)?,
        FeedbackCommand::Start(m) => transition(&cha, m, Status::InProgress, out)?,
        FeedbackCommand::Resolve(m) => transition(&cha, m, Status::Resolved, out)?,
        FeedbackCommand::Close(m) => transition(&cha, m, Status::Closed, out)?,
        FeedbackCommand::Merge { id, into, actor } => {
            let item = cha.merge_feedback(*id, *into, &actor.name())?;
            out.print(&item, || {
                format!(
                    "merged feedback #{id} into #{}",
                    item.duplicate_of.unwrap_or(*into)
                )
            });
        }
        FeedbackCommand::Analyze(args) => {
            let (start_ms, end_ms) = args.period.range()?;
            let options = FeedbackAnalysisOptions {
                period: args.by.map(|p| match p {
                    PeriodArg::Day => Period::Day,
                    PeriodArg::Week => Period::Week,
                }),
                users_exposed: args.users_exposed,
                top_issues: Some(args.top),
            };
            let analysis = cha.analyze_feedback_with(start_ms, end_ms, &options)?;
            out.print(&analysis, || analysis_text(&analysis));
        }
    }
    cha.close()
}

fn unknown(what: &str, given: Option<&str>) -> Error {
    Error::invalid_argument(format!("unknown {what} `{}`", given.unwrap_or_default()))
}

fn transition(cha: &Cha, m: &MoveArgs, status: Status, out: &Output) -> Result<(), Error> {
    let actor = m.actor.name();
    let item = cha.transition_feedback(
        m.id,
        &FeedbackTransition {
            status,
            actor: &actor,
            note: m.note.as_deref(),
            at_ms: None,
        },
    )?;
    out.print(&item, || {
        format!(
            "feedback #{} is {} (by {actor})",
            item.id,
            item.status.as_str()
        )
    });
    Ok(())
}

fn submitted_text(item: &FeedbackItem) -> String {
    let merged = item
        .duplicate_of
        .map(|o| format!("; merged into #{o}"))
        .unwrap_or_default();
    format!(
        "stored feedback #{} ({}, {}, {} priority, {} {}) for {}{merged}\n{}",
        item.id,
        item.kind.as_str(),
        item.category,
        item.priority.as_str(),
        item.sentiment.label.as_str(),
        num(item.sentiment.score, 2),
        item.route.queue,
        item.response
    )
}

/// The first `max` characters of `text` on one line.
fn short(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        format!("{}...", line.chars().take(max - 3).collect::<String>())
    }
}

fn list_text(items: &[FeedbackItem]) -> String {
    if items.is_empty() {
        return "no feedback".into();
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.id.to_string(),
                rfc3339(i.submitted_at_ms),
                i.kind.as_str().into(),
                i.category.clone(),
                i.priority.as_str().into(),
                i.sentiment.label.as_str().into(),
                i.status.as_str().into(),
                i.route.queue.clone(),
                short(&i.text, 50),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "SUBMITTED",
            "TYPE",
            "CATEGORY",
            "PRIORITY",
            "SENTIMENT",
            "STATUS",
            "QUEUE",
            "TEXT",
        ],
        &rows,
    )
}

fn show_text(item: &FeedbackItem) -> String {
    let mut lines = vec![
        ("id".to_string(), item.id.to_string()),
        ("type".into(), item.kind.as_str().into()),
        ("user".into(), item.user_id.clone()),
        ("submitted".into(), rfc3339(item.submitted_at_ms)),
        ("category".into(), item.category.clone()),
        (
            "rating".into(),
            item.rating.map_or("-".into(), |r| r.to_string()),
        ),
        (
            "sentiment".into(),
            format!(
                "{} ({})",
                item.sentiment.label.as_str(),
                num(item.sentiment.score, 3)
            ),
        ),
        (
            "priority".into(),
            format!(
                "{} ({})",
                item.priority.as_str(),
                item.priority_reasons.join("; ")
            ),
        ),
        ("queue".into(), item.route.queue.clone()),
        ("status".into(), item.status.as_str().into()),
    ];
    if let Some(o) = item.duplicate_of {
        lines.push(("duplicate of".into(), format!("#{o}")));
    } else if item.reports > 1 {
        lines.push((
            "reports".into(),
            format!("{} by {} people", item.reports, item.people),
        ));
    }
    if item.redacted {
        lines.push((
            "redacted".into(),
            "e-mail addresses or phone numbers".into(),
        ));
    }
    if !item.context.as_object().is_some_and(|c| c.is_empty()) {
        lines.push(("context".into(), item.context.to_string()));
    }
    let mut text = aligned(&lines);
    text.push_str(&format!("\n\n{}\n", indent(&item.text)));
    text.push_str(&format!("\nresponse: {}", item.response));
    if let Some(e) = &item.exposures {
        let flags: Vec<String> = e
            .flags
            .iter()
            .map(|(name, f)| {
                let state = if f.enabled { "on" } else { "off" };
                match &f.variant {
                    Some(v) => format!("{name} {state} ({v})"),
                    None => format!("{name} {state}"),
                }
            })
            .collect();
        let experiments: Vec<String> = e
            .experiments
            .iter()
            .map(|(name, v)| format!("{name}: {v}"))
            .collect();
        text.push_str(&format!(
            "\nflags: {}\nexperiments: {}",
            if flags.is_empty() {
                "-".into()
            } else {
                flags.join(", ")
            },
            if experiments.is_empty() {
                "-".into()
            } else {
                experiments.join(", ")
            }
        ));
    }
    if let Some(history) = &item.history {
        text.push_str("\nhistory:");
        for e in history {
            let from = e.from.map_or("-".to_string(), |s| s.as_str().to_string());
            let note = e
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            text.push_str(&format!(
                "\n  {}  {from} -> {}  by {}{note}",
                rfc3339(e.at_ms),
                e.to.as_str(),
                e.actor
            ));
        }
    }
    text
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |x| num(x, digits))
}

fn difference(d: &Difference) -> String {
    match (d.difference, d.p_value) {
        (Some(diff), Some(p)) => format!(
            "{}{} (p = {}{})",
            if diff >= 0.0 { "+" } else { "" },
            num(diff, 2),
            num(p, 4),
            if d.significant { ", significant" } else { "" }
        ),
        _ => d.status.replace('_', " "),
    }
}

fn arms_text(title: &str, list: &[ArmComparison]) -> String {
    let mut text = String::new();
    // What everyone saw alike compares nothing: named on one line.
    let alike: Vec<String> = list
        .iter()
        .filter(|c| c.arms.len() < 2)
        .map(|c| match c.arms.first() {
            Some(a) => format!("{} {}", c.name, a.arm),
            None => c.name.clone(),
        })
        .collect();
    if !alike.is_empty() {
        text.push_str(&format!(
            "
{title}s alike for everyone: {}
",
            alike.join(", ")
        ));
    }
    for c in list.iter().filter(|c| c.arms.len() >= 2) {
        text.push_str(&format!(
            "\n{title} {} (against {}):\n",
            c.name, c.reference
        ));
        let rows: Vec<Vec<String>> = c
            .arms
            .iter()
            .map(|a| {
                let test = c.tests.iter().find(|t| t.arm == a.arm);
                vec![
                    a.arm.clone(),
                    a.items.to_string(),
                    opt(a.average_rating, 2),
                    a.csat.map_or("-".into(), percent),
                    opt(a.sentiment_mean, 3),
                    test.map_or("reference".into(), |t| difference(&t.rating)),
                ]
            })
            .collect();
        text.push_str(&indent(&table(
            &[
                "ARM",
                "ITEMS",
                "RATING",
                "CSAT",
                "SENTIMENT",
                "RATING VS REFERENCE",
            ],
            &rows,
        )));
        text.push('\n');
    }
    text
}

fn analysis_text(a: &FeedbackAnalysis) -> String {
    let s = &a.satisfaction;
    let mut text = format!(
        "{} items; average rating {} from {} ratings, CSAT {}; sentiment {} ({} negative)\n",
        a.total_items,
        opt(s.average_rating, 2),
        s.ratings,
        s.csat.map_or("-".into(), percent),
        opt(s.sentiment_mean, 3),
        s.negative
    );
    let counts = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    text.push_str(&format!(
        "\nby type: {}\nby priority: {}\nby sentiment: {}\nby category: {}\n",
        counts(&a.volume.by_type),
        counts(&a.volume.by_priority),
        counts(&a.volume.by_sentiment),
        counts(&a.volume.by_category)
    ));
    let unit = name_of(&a.trend.period);
    match a.trend.rating_slope {
        Some(slope) => text.push_str(&format!(
            "\ntrend: {} ({} per {unit} over {} {unit}s{})\n",
            a.trend.direction,
            num(slope.per_period, 4),
            slope.periods,
            slope
                .p_value
                .map(|p| format!(", p = {}", num(p, 4)))
                .unwrap_or_default()
        )),
        None => text.push_str(&format!("\ntrend: {}\n", a.trend.direction)),
    }
    if !a.top_issues.is_empty() {
        text.push_str("\ntop issues:\n");
        let rows: Vec<Vec<String>> = a
            .top_issues
            .iter()
            .map(|t| {
                vec![
                    format!("#{}", t.id),
                    t.people.to_string(),
                    t.reports.to_string(),
                    t.priority.as_str().into(),
                    t.status.as_str().into(),
                    short(t.examples.first().map(String::as_str).unwrap_or(""), 60),
                ]
            })
            .collect();
        text.push_str(&indent(&table(
            &[
                "ISSUE", "PEOPLE", "REPORTS", "PRIORITY", "STATUS", "EXAMPLE",
            ],
            &rows,
        )));
        text.push('\n');
    }
    text.push_str(&arms_text("experiment", &a.experiments));
    text.push_str(&arms_text("flag", &a.flags));
    text.push_str("\nsuccess metrics:\n");
    for m in &a.success_metrics {
        let verdict = match m.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "nothing to measure",
        };
        text.push_str(&format!(
            "  {:<16} {} ({} of {}; target {}): {verdict}\n",
            m.name,
            m.value.map_or("-".into(), percent),
            m.numerator,
            m.denominator,
            percent(m.target)
        ));
    }
    if !a.recommendations.is_empty() {
        text.push_str("\nrecommendations:\n");
        for r in &a.recommendations {
            text.push_str(&format!("  [{}] {}\n", r.priority.as_str(), r.message));
        }
    }
    text.trim_end().to_string()
}
