//! `cha-deploy flags …`: list, show, evaluate and change feature flags.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use cha_deploy::AuditEntry;
use cha_deploy::common::time::parse_rfc3339_ms;
use cha_deploy::flags::{ErrorCode, FlagDefinition, FlagType, OwnedContext, ValueType};
use cha_deploy::{
    Cha, Error, FlagChange, FlagEvaluation, FlagRecord, FlagResolution, SegmentChange,
    SegmentRecord,
};

use crate::output::{Output, Style, aligned, diff, fields, inline, paint, rfc3339, table};

#[derive(Subcommand)]
pub enum FlagsCommand {
    /// Every flag: type, kill switch, rollout, version, last change.
    #[command(after_help = "Examples:\n  cha-deploy flags list\n  cha-deploy --json flags list")]
    List,
    /// One flag's definition and bookkeeping.
    #[command(after_help = "Examples:\n  cha-deploy flags show intelligent_pipe_sizing")]
    Show {
        /// The flag's name.
        name: String,
    },
    /// Evaluate a flag for a user, groups and context, as the library would.
    #[command(
        after_help = "Examples:\n  cha-deploy flags eval intelligent_pipe_sizing --user planner-042 --group beta_testers\n  cha-deploy flags eval network_analysis --context '{\"user_id\": \"u1\"}' --at 2026-01-13T00:00:00Z\n  cha-deploy flags eval intelligent_pipe_sizing --contexts engineers.jsonl"
    )]
    Eval {
        /// The flag's name (e.g. intelligent_pipe_sizing).
        name: String,
        #[command(flatten)]
        context: ContextArgs,
        /// Look without exposing: a flag linked to an A/B test answers with
        /// the user's variant, and the user is not counted in the test.
        #[arg(long)]
        peek: bool,
    },
    /// The typed value of a flag for a context: the payload of its variant
    /// (a number, a string, JSON) or whether it is on, and the reason; the
    /// default on any error or when the flag is off, as cha_flag_double
    /// and its siblings give it. An unknown flag is an error here (exit 4).
    #[command(
        after_help = "Examples:\n  cha-deploy flags value velocity_limit --type double --default 2.0 --property site=north-7 --property network_size=800\n  cha-deploy flags value pipe_catalogue --type json --user planner-001\n  cha-deploy flags value solver_v3 --user u1 --environment development"
    )]
    Value {
        /// The flag's name (e.g. velocity_limit).
        name: String,
        /// bool, string, double, int or json.
        #[arg(long = "type", value_name = "TYPE", default_value = "bool", value_parser = parse_value_type)]
        kind: ValueType,
        /// What to get when the flag has no value of that type for the
        /// context (default: false, "", 0, 0, null).
        #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
        default: Option<String>,
        #[command(flatten)]
        context: ContextArgs,
    },
    /// Segments, the named sets of constraints that flags' rules share:
    /// list, show, set, delete.
    #[command(subcommand)]
    Segments(SegmentsCommand),
    /// Change fields of a flag (or create one by giving its `type`).
    ///
    /// UPDATES is either one JSON object ('{"percentage": 50, "enabled": true}')
    /// or FIELD=VALUE pairs (percentage=50 enabled=true metadata.owner=ops).
    /// A VALUE that parses as JSON is taken as JSON (50, true, null,
    /// '["a","b"]'), anything else as a string; null resets a field.
    #[command(
        after_help = "Examples:\n  cha-deploy flags set intelligent_pipe_sizing percentage=30 metadata.owner=ops\n  cha-deploy flags set night_mode '{\"type\": \"boolean\", \"enabled\": true}'"
    )]
    Set {
        /// The flag's name (e.g. intelligent_pipe_sizing).
        name: String,
        /// The changes: one JSON object or FIELD=VALUE pairs (see above).
        #[arg(required = true, value_name = "UPDATES")]
        updates: Vec<String>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Turn the kill switch on: the flag's rules decide again.
    #[command(
        after_help = "Examples:\n  cha-deploy flags enable intelligent_pipe_sizing --actor oncall"
    )]
    Enable {
        /// The flag's name (e.g. intelligent_pipe_sizing).
        name: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Turn the kill switch off: the flag is off for everyone.
    #[command(
        after_help = "Examples:\n  cha-deploy flags disable intelligent_pipe_sizing --actor oncall"
    )]
    Disable {
        /// The flag's name (e.g. intelligent_pipe_sizing).
        name: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Set the rollout percentage of a percentage flag (0-100, steps of 0.01).
    #[command(
        after_help = "Examples:\n  cha-deploy flags rollout intelligent_pipe_sizing 50\n  cha-deploy flags rollout intelligent_pipe_sizing 12.5% --actor ops"
    )]
    Rollout {
        /// The flag's name (e.g. intelligent_pipe_sizing).
        name: String,
        /// The share of users to enable it for: 25, 12.5 or 25%.
        #[arg(value_parser = parse_percent, value_name = "PERCENT")]
        percent: f64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Hold a rollout where it is: the flag stays on for exactly the units
    /// it is on for now, until `flags resume`.
    #[command(
        after_help = "Examples:\n  cha-deploy flags pause intelligent_pipe_sizing --reason \"p95 over 5 s\" --actor oncall"
    )]
    Pause {
        /// The flag's name (e.g. intelligent_pipe_sizing).
        name: String,
        /// Why, for the flag's history and the status.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Lift the hold of a rollout (a pause, or a guardrail's pause or
    /// rollback): it follows its percentage or schedule again.
    #[command(
        after_help = "Examples:\n  cha-deploy flags resume intelligent_pipe_sizing --actor oncall"
    )]
    Resume {
        /// The flag's name (e.g. intelligent_pipe_sizing).
        name: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Check the guarded rollouts now: stop those whose alert rules fire or
    /// whose experiments' guardrail metrics are harmed (the monitoring
    /// evaluator does this every minute by itself).
    #[command(
        after_help = "Examples:\n  cha-deploy flags guardrails\n  cha-deploy flags guardrails --at 2026-01-13T00:00:00Z"
    )]
    Guardrails {
        /// Check at this instant (RFC 3339) instead of now.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
    /// Every change to a flag: version, time, actor, action, what changed.
    #[command(after_help = "Examples:\n  cha-deploy flags history intelligent_pipe_sizing")]
    History {
        /// The flag's name.
        name: String,
    },
    /// Bring back the definition a flag had at VERSION, as a new version.
    #[command(
        after_help = "Examples:\n  cha-deploy flags restore intelligent_pipe_sizing 1 --actor oncall"
    )]
    Restore {
        /// The flag's name (e.g. intelligent_pipe_sizing).
        name: String,
        /// The version to bring back, from `flags history`.
        version: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Write a commented feature_flags.yml that shows every flag type.
    #[command(
        after_help = "Examples:\n  cha-deploy flags template --type minimal --output my/feature_flags.yml"
    )]
    Template {
        /// cha_intelligent_sizing (every type and field) or minimal.
        #[arg(long = "type", default_value = "cha_intelligent_sizing")]
        config_type: String,
        /// Write to FILE instead of stdout (an existing file is not replaced).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// The context of an evaluation, from the command line.
#[derive(Args)]
pub struct ContextArgs {
    /// The user id (context `user_id`).
    #[arg(long)]
    user: Option<String>,
    /// A group of the user; repeat for several (added to context `groups`).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// The environment (context `environment`: it picks the flag's
    /// environment override).
    #[arg(long)]
    environment: Option<String>,
    /// A custom property NAME=VALUE for constraints and stickiness; repeat
    /// for several (added to context `properties`).
    #[arg(long = "property", value_name = "NAME=VALUE")]
    properties: Vec<String>,
    /// The full context as a JSON object: user_id, session_id, groups,
    /// environment, app_name, current_time, remote_address, properties.
    /// The other options are applied on top of it.
    #[arg(long, value_name = "JSON")]
    context: Option<String>,
    /// Evaluate at this instant (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Evaluate once for each line of FILE (`-`: standard input), each a
    /// context JSON object to which the other options are applied, and
    /// print one JSON object per line, in order.
    #[arg(long, value_name = "FILE", conflicts_with = "context")]
    contexts: Option<PathBuf>,
}

impl ContextArgs {
    /// The context these options describe.
    fn context(&self) -> Result<OwnedContext, Error> {
        self.apply(OwnedContext::from_json(
            self.context.as_deref().unwrap_or(""),
        )?)
    }

    /// The contexts of `--contexts`, each with the other options applied,
    /// or `None` without it. A line that is not a context is an error
    /// naming the line.
    fn each_context(&self) -> Result<Option<Vec<OwnedContext>>, Error> {
        let Some(file) = &self.contexts else {
            return Ok(None);
        };
        let text = crate::read_input("--contexts", file)?;
        let mut contexts = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let ctx = OwnedContext::from_json(line).map_err(|e| {
                Error::invalid_argument(format!("{}:{}: {}", file.display(), n + 1, e.message()))
            })?;
            contexts.push(self.apply(ctx)?);
        }
        Ok(Some(contexts))
    }

    /// `ctx` with the options given on the command line applied on top.
    fn apply(&self, mut ctx: OwnedContext) -> Result<OwnedContext, Error> {
        if let Some(user) = &self.user {
            ctx.user_id = Some(user.clone());
        }
        ctx.groups.extend(self.groups.iter().cloned());
        if let Some(environment) = &self.environment {
            ctx.environment = Some(environment.clone());
        }
        for pair in &self.properties {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                Error::invalid_argument(format!(
                    "--property {pair}: expected NAME=VALUE, e.g. site=north-7"
                ))
            })?;
            ctx.properties.retain(|(n, _)| n != name);
            ctx.properties.push((name.to_string(), value.to_string()));
        }
        if let Some(at) = &self.at {
            ctx.current_time_ms = Some(
                parse_rfc3339_ms(at)
                    .map_err(|m| Error::invalid_argument(format!("--at {at}: {m}")))?,
            );
        }
        Ok(ctx)
    }
}

/// `flags segments ...`
#[derive(Subcommand)]
pub enum SegmentsCommand {
    /// Every segment with its constraints and the flags that name it.
    #[command(
        after_help = "Examples:\n  cha-deploy flags segments list\n  cha-deploy --json flags segments list"
    )]
    List,
    /// One segment's constraints.
    #[command(after_help = "Examples:\n  cha-deploy flags segments show pilot_sites")]
    Show {
        /// The segment's name, as in feature_flags.yml (e.g. pilot_sites).
        name: String,
    },
    /// Set a segment to a JSON object ('{"constraints": [...]}'), creating
    /// it if needed; checked with every flag that names it.
    #[command(
        after_help = "Examples:\n  cha-deploy flags segments set pilot_sites '{\"constraints\": [{\"attribute\": \"site\", \"operator\": \"IN\", \"values\": [\"north-7\", \"harbour-2\", \"west-3\"]}]}' --actor ops"
    )]
    Set {
        /// The segment's name (e.g. pilot_sites).
        name: String,
        /// The segment: a JSON object with `constraints` (a list of
        /// {attribute, operator, values or value, inverted,
        /// case_insensitive}) and an optional `description`.
        #[arg(value_name = "JSON")]
        definition: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Delete a segment no flag names.
    #[command(after_help = "Examples:\n  cha-deploy flags segments delete old_pilot --actor ops")]
    Delete {
        /// The segment's name.
        name: String,
        #[command(flatten)]
        actor: Actor,
    },
}

fn parse_value_type(s: &str) -> Result<ValueType, String> {
    ValueType::parse(s).ok_or_else(|| format!("`{s}` is not bool, string, double, int or json"))
}

/// Who makes a change, for the audit history.
#[derive(Args)]
pub struct Actor {
    /// Who makes the change (default: the login name).
    #[arg(long)]
    actor: Option<String>,
}

impl Actor {
    pub fn name(&self) -> String {
        self.actor.clone().unwrap_or_else(cha_deploy::default_actor)
    }
}

/// `25`, `25.5` or `25%`.
fn parse_percent(s: &str) -> Result<f64, String> {
    s.trim_end_matches('%')
        .parse::<f64>()
        .map_err(|_| format!("`{s}` is not a percentage such as 25 or 12.5"))
}

pub fn run(cmd: &FlagsCommand, db: &std::path::Path, out: &Output) -> Result<(), Error> {
    if let FlagsCommand::Template {
        config_type,
        output,
    } = cmd
    {
        return template(config_type, output.as_deref(), out);
    }
    let cha = crate::open_existing(db)?;
    match cmd {
        FlagsCommand::List => {
            let flags = cha.flags()?;
            out.print(&flags, || list_text(&flags));
        }
        FlagsCommand::Show { name } => {
            let record = cha.flag(name)?;
            out.print(&record, || show_text(&record));
        }
        FlagsCommand::Eval {
            name,
            context,
            peek,
        } => {
            let evaluate = |mut ctx: OwnedContext| -> Result<FlagEvaluation, Error> {
                ctx.peek |= *peek;
                let e = ctx.with_context(|c| cha.evaluate_flag(name, c));
                if e.error == Some(ErrorCode::FlagNotFound) {
                    // The library's own NotFound, with its suggestion.
                    cha.flag_lookup(name)?;
                }
                Ok(e)
            };
            match context.each_context()? {
                Some(contexts) => {
                    for ctx in contexts {
                        json_line(&evaluate(ctx)?);
                    }
                }
                None => {
                    let e = evaluate(context.context()?)?;
                    out.print(&e, || eval_text(&e));
                }
            }
        }
        FlagsCommand::Value {
            name,
            kind,
            default,
            context,
        } => {
            let default = default_value(*kind, default.as_deref())?;
            let value = |ctx: OwnedContext| -> Result<FlagResolution<Value>, Error> {
                let context_json = context_json(&ctx);
                let v = cha.flag_value_json(name, Some(&context_json), *kind, default.clone());
                if v.error == Some(ErrorCode::FlagNotFound) {
                    // A typo on the command line is an error, as for `eval`
                    // (a program gets its default and the reason instead).
                    cha.flag_lookup(name)?;
                }
                Ok(v)
            };
            match context.each_context()? {
                Some(contexts) => {
                    for ctx in contexts {
                        json_line(&value(ctx)?);
                    }
                }
                None => {
                    let v = value(context.context()?)?;
                    out.print(&v, || value_text(&v));
                }
            }
        }
        FlagsCommand::Segments(cmd) => segments(&cha, cmd, out)?,
        FlagsCommand::Set {
            name,
            updates,
            actor,
        } => {
            let updates = parse_updates(updates)?;
            change(out, cha.update_flag(name, &updates, &actor.name())?);
        }
        FlagsCommand::Enable { name, actor } | FlagsCommand::Disable { name, actor } => {
            let on = matches!(cmd, FlagsCommand::Enable { .. });
            change(
                out,
                cha.update_flag(name, &json!({"enabled": on}), &actor.name())?,
            );
        }
        FlagsCommand::Rollout {
            name,
            percent,
            actor,
        } => change(
            out,
            cha.update_flag(name, &json!({"percentage": percent}), &actor.name())?,
        ),
        FlagsCommand::Pause {
            name,
            reason,
            actor,
        } => change(out, cha.pause_rollout(name, reason, &actor.name())?),
        FlagsCommand::Resume { name, actor } => {
            change(out, cha.resume_rollout(name, &actor.name())?)
        }
        FlagsCommand::Guardrails { at } => {
            let at_ms = match at {
                Some(at) => parse_rfc3339_ms(at)
                    .map_err(|m| Error::invalid_argument(format!("--at {at}: {m}")))?,
                None => 0,
            };
            let events = cha.check_guardrails_at(at_ms)?;
            out.print(&events, || {
                if events.is_empty() {
                    return "no guarded rollout stopped".into();
                }
                events
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {} from {}% to {}% ({})",
                            e.flag,
                            e.action.as_str(),
                            e.from_percentage,
                            e.percentage,
                            e.reasons.join("; ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        FlagsCommand::History { name } => {
            let history = cha.flag_history(name)?;
            out.print(&history, || history_text(&history));
        }
        FlagsCommand::Restore {
            name,
            version,
            actor,
        } => {
            let c = cha.restore_flag(name, *version, &actor.name())?;
            out.print(&c, || {
                format!("{} [restored version {version}]", change_text(&c))
            });
        }
        FlagsCommand::Template { .. } => unreachable!("handled above"),
    }
    cha.close()
}

/// `value` as one line of JSON on stdout: the output of `--contexts`.
fn json_line<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string(value).expect("results serialize")
    );
}

/// The caller's default of a typed value, from `--default`.
fn default_value(kind: ValueType, text: Option<&str>) -> Result<Value, Error> {
    let bad = |t: &str| {
        let noun = match kind {
            ValueType::Bool => "true or false",
            ValueType::String => "a string",
            ValueType::Double => "a number",
            ValueType::Int => "a whole number",
            ValueType::Json => "JSON",
        };
        Error::invalid_argument(format!("--default {t}: not {noun}"))
    };
    Ok(match (kind, text) {
        (ValueType::Bool, None) => json!(false),
        (ValueType::String, None) => json!(""),
        (ValueType::Double, None) => json!(0.0),
        (ValueType::Int, None) => json!(0),
        (ValueType::Json, None) => Value::Null,
        (ValueType::Bool, Some(t)) => json!(t.parse::<bool>().map_err(|_| bad(t))?),
        (ValueType::String, Some(t)) => json!(t),
        (ValueType::Double, Some(t)) => {
            let d: f64 = t.parse().map_err(|_| bad(t))?;
            serde_json::Number::from_f64(d)
                .map(Value::Number)
                .ok_or_else(|| bad(t))?
        }
        (ValueType::Int, Some(t)) => json!(t.parse::<i64>().map_err(|_| bad(t))?),
        (ValueType::Json, Some(t)) => serde_json::from_str(t).map_err(|_| bad(t))?,
    })
}

/// A context as the JSON the library reads.
fn context_json(ctx: &OwnedContext) -> String {
    let mut map = Map::new();
    let mut put = |key: &str, v: &Option<String>| {
        if let Some(v) = v {
            map.insert(key.into(), json!(v));
        }
    };
    put("user_id", &ctx.user_id);
    put("session_id", &ctx.session_id);
    put("environment", &ctx.environment);
    put("app_name", &ctx.app_name);
    put("remote_address", &ctx.remote_address);
    if let Some(ms) = ctx.current_time_ms {
        map.insert(
            "current_time".into(),
            json!(cha_deploy::common::time::format_rfc3339_ms(ms)),
        );
    }
    if !ctx.groups.is_empty() {
        map.insert("groups".into(), json!(ctx.groups));
    }
    if !ctx.properties.is_empty() {
        let props: Map<String, Value> = ctx
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        map.insert("properties".into(), Value::Object(props));
    }
    Value::Object(map).to_string()
}

fn value_text(v: &FlagResolution<'_, Value>) -> String {
    let value = match &v.value {
        Value::String(s) => s.clone(),
        other => inline(other),
    };
    let mut lines = vec![
        ("value".to_string(), value),
        ("reason".into(), v.reason.as_str().into()),
        ("variant".into(), v.variant.as_deref().unwrap_or("-").into()),
    ];
    if let Some(code) = v.error {
        lines.push(("error".into(), code.as_str().into()));
    }
    if let Some(message) = &v.message {
        lines.push(("why".into(), message.clone()));
    }
    format!("{}\n{}", v.flag, indent(&aligned(&lines)))
}

/// `flags segments ...`
fn segments(cha: &Cha, cmd: &SegmentsCommand, out: &Output) -> Result<(), Error> {
    match cmd {
        SegmentsCommand::List => {
            let list = cha.segments()?;
            let flags = cha.flags()?;
            out.print(&list, || segments_text(&list, &flags));
        }
        SegmentsCommand::Show { name } => {
            let list = cha.segments()?;
            let record = list
                .iter()
                .find(|s| s.definition.name == *name)
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "segment `{name}` does not exist{}",
                        cha_deploy::common::names::did_you_mean(
                            name,
                            list.iter().map(|s| s.definition.name.as_str())
                        )
                    ))
                })?;
            out.print(record, || {
                let mut lines =
                    fields(&serde_json::to_value(&record.definition).unwrap_or_default());
                lines.push(("version".into(), record.version.to_string()));
                aligned(&lines)
            });
        }
        SegmentsCommand::Set {
            name,
            definition,
            actor,
        } => {
            let definition: Value = serde_json::from_str(definition).map_err(|e| {
                Error::invalid_argument(format!("the segment is not valid JSON: {e}"))
            })?;
            let c = cha.set_segment(name, &definition, &actor.name())?;
            out.print(&c, || segment_change_text(&c));
        }
        SegmentsCommand::Delete { name, actor } => {
            let c = cha.set_segment(name, &Value::Null, &actor.name())?;
            out.print(&c, || segment_change_text(&c));
        }
    }
    Ok(())
}

fn segment_change_text(c: &SegmentChange) -> String {
    let name = &c.segment;
    let version = c.version;
    let constraints = |s: &cha_deploy::flags::Segment| constraints_text(&s.constraints);
    match (&c.before, &c.after) {
        _ if !c.changed => format!("segment {name}: unchanged (version {version})"),
        (_, None) => format!("segment {name}: deleted (version {version})"),
        (None, Some(after)) => {
            format!(
                "segment {name}: created, version {version}: {}",
                constraints(after)
            )
        }
        (Some(before), Some(after)) => format!(
            "segment {name}: version {version}\n  before  {}\n  after   {}",
            constraints(before),
            constraints(after)
        ),
    }
}

/// `site IN [north-7, harbour-2] AND NOT network_size NUM_LT 500`.
fn constraints_text(constraints: &[cha_deploy::flags::Constraint]) -> String {
    if constraints.is_empty() {
        return "(no constraints: everyone)".into();
    }
    constraints
        .iter()
        .map(|c| {
            let values = match &c.value {
                Some(v) => v.clone(),
                None => format!("[{}]", c.values.join(", ")),
            };
            format!(
                "{}{} {}{} {values}",
                if c.inverted { "NOT " } else { "" },
                c.attribute,
                c.operator.as_str(),
                if c.case_insensitive {
                    " (any case)"
                } else {
                    ""
                },
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn segments_text(list: &[SegmentRecord], flags: &[FlagRecord]) -> String {
    if list.is_empty() {
        return "no segments (define them under `segments:` in feature_flags.yml)".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let d = &s.definition;
            let used: Vec<&str> = flags
                .iter()
                .filter(|f| {
                    let f = &f.definition;
                    f.rules
                        .iter()
                        .chain(
                            f.environments
                                .values()
                                .flat_map(|o| o.rules.iter().flatten()),
                        )
                        .any(|r| r.segments.contains(&d.name))
                })
                .map(|f| f.definition.name.as_str())
                .collect();
            vec![
                d.name.clone(),
                constraints_text(&d.constraints),
                if used.is_empty() {
                    "-".into()
                } else {
                    used.join(", ")
                },
                s.version.to_string(),
            ]
        })
        .collect();
    table(&["NAME", "CONSTRAINTS", "USED BY", "VERSION"], &rows)
}

/// UPDATES as one JSON object, or FIELD=VALUE pairs (a dotted FIELD sets a
/// field of an object: `metadata.owner=ops`).
fn parse_updates(args: &[String]) -> Result<Value, Error> {
    if let [one] = args
        && one.trim_start().starts_with('{')
    {
        return serde_json::from_str(one)
            .map_err(|e| Error::invalid_argument(format!("updates are not valid JSON: {e}")));
    }
    let mut updates = Map::new();
    for arg in args {
        let (path, text) = arg.split_once('=').ok_or_else(|| {
            Error::invalid_argument(format!(
                "`{arg}` is not FIELD=VALUE (e.g. percentage=50) or a JSON object"
            ))
        })?;
        let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()));
        let mut keys = path.split('.').peekable();
        let mut map = &mut updates;
        while let Some(key) = keys.next() {
            if keys.peek().is_none() {
                map.insert(key.to_string(), value);
                break;
            }
            let entry = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            map = entry.as_object_mut().ok_or_else(|| {
                Error::invalid_argument(format!("`{path}`: `{key}` is set twice"))
            })?;
        }
    }
    Ok(Value::Object(updates))
}

/// `flags template`: the feature-flag template, as `template feature-flags`.
fn template(
    config_type: &str,
    output: Option<&std::path::Path>,
    out: &Output,
) -> Result<(), Error> {
    crate::config::write_template("feature_flags", Some(config_type), output, out)
}

/// Prints what a change did.
fn change(out: &Output, c: FlagChange) {
    out.print(&c, || change_text(&c));
}

pub fn change_text(c: &FlagChange) -> String {
    if !c.changed {
        return format!("{}: unchanged (version {})", c.flag, c.version);
    }
    let before = c.before.as_ref().map(to_value);
    format!(
        "{}: version {} ({})",
        c.flag,
        c.version,
        diff(before.as_ref(), Some(&to_value(&c.after)))
    )
}

fn to_value(def: &FlagDefinition) -> Value {
    serde_json::to_value(def).expect("a definition serialises")
}

/// The rollout column of `flags list`: who gets the flag, in a few characters.
fn rollout(d: &FlagDefinition) -> String {
    let pct = |p: f64| format!("{p}%");
    match d.flag_type {
        FlagType::Boolean => "everyone".into(),
        FlagType::Percentage => d.percentage.map_or("-".into(), pct),
        FlagType::UserGroup => {
            let mut s = d.include_groups.join(",");
            if !d.allow_users.is_empty() {
                s.push_str(&format!(" +{} users", d.allow_users.len()));
            }
            s
        }
        FlagType::AbTest => d
            .variants
            .iter()
            .map(|v| v.weight.to_string())
            .collect::<Vec<_>>()
            .join("/"),
        FlagType::TimeBased => match (d.schedule.first(), d.schedule.last()) {
            (Some(first), Some(last)) => format!(
                "ramp {}->{} ({} steps)",
                pct(first.percentage),
                pct(last.percentage),
                d.schedule.len()
            ),
            _ => "time window".into(),
        },
    }
}

pub fn list_text(flags: &[FlagRecord]) -> String {
    if flags.is_empty() {
        return "no flags (deploy some with `cha-deploy deploy --config-dir configs`)".into();
    }
    let rows: Vec<Vec<String>> = flags
        .iter()
        .map(|f| {
            let d = &f.definition;
            vec![
                d.name.clone(),
                d.flag_type.as_str().into(),
                if d.enabled {
                    paint(Style::Good, "yes")
                } else {
                    paint(Style::Bad, "NO")
                },
                rollout(d),
                f.version.to_string(),
                f.updated_by.clone(),
                rfc3339(f.updated_at_ms),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "TYPE",
            "ENABLED",
            "ROLLOUT",
            "VERSION",
            "UPDATED BY",
            "UPDATED AT",
        ],
        &rows,
    )
}

fn show_text(r: &FlagRecord) -> String {
    let mut lines = fields(&to_value(&r.definition));
    lines.push(("version".into(), r.version.to_string()));
    lines.push((
        "updated".into(),
        format!("{} by {}", rfc3339(r.updated_at_ms), r.updated_by),
    ));
    aligned(&lines)
}

/// ON / off, for a column or a headline.
/// `ON` or `off`, coloured where the output takes colour.
pub fn on_off(enabled: bool) -> String {
    if enabled {
        paint(Style::Good, "ON")
    } else {
        paint(Style::Dim, "off")
    }
}

fn eval_text(e: &FlagEvaluation) -> String {
    let mut lines = vec![
        ("enabled".to_string(), on_off(e.enabled)),
        ("reason".into(), e.reason.as_str().into()),
        ("rule".into(), e.rule.clone()),
        ("variant".into(), e.variant.clone().unwrap_or("-".into())),
    ];
    if let Some(payload) = &e.payload {
        lines.push(("payload".into(), inline(payload)));
    }
    if let Some(code) = e.error {
        lines.push(("error".into(), code.as_str().into()));
    }
    format!("{}\n{}", e.flag, indent(&aligned(&lines)))
}

pub fn history_text(history: &[AuditEntry]) -> String {
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|h| {
            vec![
                h.version.map_or("-".into(), |v| v.to_string()),
                rfc3339(h.at_ms),
                h.actor.clone(),
                h.action.clone(),
                diff(h.before.as_ref(), h.after.as_ref()),
            ]
        })
        .collect();
    table(&["VERSION", "TIME", "ACTOR", "ACTION", "CHANGES"], &rows)
}

/// Every line of `text` indented by two spaces.
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_from_pairs_and_json() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_updates(&args(&[
                "percentage=50",
                "description=Pipe sizing",
                "metadata.owner=ops",
                "tags=[\"a\"]"
            ]))
            .unwrap(),
            json!({"percentage": 50, "description": "Pipe sizing",
                   "metadata": {"owner": "ops"}, "tags": ["a"]})
        );
        assert_eq!(
            parse_updates(&args(&["{\"enabled\": false}"])).unwrap(),
            json!({"enabled": false})
        );
        assert!(parse_updates(&args(&["percentage"])).is_err());
        assert!(parse_updates(&args(&["{oops"])).is_err());
    }
}
