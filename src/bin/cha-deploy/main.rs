//! `cha-deploy`: the command-line tool. Thin by design: it parses arguments,
//! calls the Rust API and prints; all logic lives in the library.
//!
//! Exit codes: 0 success; 2 a usage error (bad arguments); otherwise the
//! `cha_status` value of the error (`ErrorKind::status_code`): 3 invalid
//! argument, 4 not found, 5 configuration, 6 storage, 7 busy (database
//! locked), 8 internal, 9 drift (a deployment that would undo runtime
//! changes, refused).

mod ab;
mod ab_analysis;
mod config;
mod demo;
mod deploy;
mod feedback;
mod flags;
mod metrics;
mod output;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cha_deploy::{Cha, Error, ErrorKind};
use output::Output;

#[derive(Parser)]
#[command(
    name = "cha-deploy",
    version,
    about = "Feature flags, A/B tests, monitoring, feedback and deployment for the CHA pipe-sizing system"
)]
struct Cli {
    /// Database file (default ./cha.db).
    #[arg(long, global = true, env = "CHA_DB", default_value = "cha.db")]
    db: PathBuf,
    /// Print stable, machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate weeks of a rollout of intelligent pipe sizing on a scratch
    /// database (or a new --db): deploy, a guarded schedule, engineers in
    /// the A/B test, alerts, feedback; then the analysis, a summary and the
    /// HTML deployment report.
    Demo(demo::DemoArgs),
    /// Create the database (or bring its schema up to date).
    Init,
    /// Print the library, schema and SQLite versions.
    Version,
    /// Check the database: path, schema version, journal mode, size.
    Doctor,
    /// Deploy a config directory (feature_flags.yml, ab_tests.yml,
    /// performance_monitoring.yml, user_feedback.yml): plan, refuse to undo
    /// runtime changes unless told how, back up, apply in one transaction,
    /// record.
    Deploy {
        #[command(flatten)]
        dir: deploy::ConfigDir,
        #[command(flatten)]
        drift: deploy::DriftChoice,
        /// Show the plan and change nothing (as `plan`).
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        actor: flags::Actor,
    },
    /// What a deploy would change, field by field, and the runtime changes
    /// (drift) it would undo. Writes nothing.
    Plan {
        #[command(flatten)]
        dir: deploy::ConfigDir,
        #[command(flatten)]
        drift: deploy::DriftChoice,
    },
    /// Roll back to the deployment before the one in force, or to deployment
    /// ID: the configuration comes back exactly; collected data stays.
    Rollback {
        /// The deployment to bring back (default: the one before).
        id: Option<i64>,
        #[command(flatten)]
        drift: deploy::DriftChoice,
        /// Show the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        actor: flags::Actor,
    },
    /// What is deployed: per subsystem the file's version, rollouts, running
    /// tests, drift; the last deployments.
    Status {
        /// Refresh in place until interrupted.
        #[arg(long)]
        watch: bool,
        /// Seconds between refreshes with --watch.
        #[arg(long, default_value = "2", value_name = "SECONDS")]
        interval: f64,
    },
    /// Print the whole deployed configuration as canonical JSON (byte for
    /// byte comparable).
    Export {
        /// Write it to this file instead.
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// The deployment report: deployments, rollouts over time with their
    /// guardrail stops, A/B tests with their intervals, metrics against
    /// their thresholds with their alerts, feedback by period and variant.
    Report(report::ReportArgs),
    /// The deployment history, or one deployment whole.
    History {
        /// Show this deployment with its plan.
        id: Option<i64>,
        /// How many to list.
        #[arg(long, default_value = "20")]
        limit: u32,
    },
    /// Backups of the database: list, create, restore.
    #[command(subcommand)]
    Backup(deploy::BackupCommand),
    /// Check a config directory without deploying (no database needed).
    Validate {
        #[command(flatten)]
        dir: deploy::ConfigDir,
    },
    /// Write a commented config file to start from: feature-flags, ab-tests
    /// or user-feedback (every field documented; valid as it is).
    Template(config::TemplateArgs),
    /// Bring config files of an older version to the current one: the
    /// version of each file, what changes, the new text; with --write,
    /// replace them (keeping the originals as <file>.v<N>.bak).
    Migrate(config::MigrateArgs),
    /// Feature flags: list, show, eval, set, enable, disable, rollout,
    /// history, restore, template.
    #[command(subcommand)]
    Flags(flags::FlagsCommand),
    /// A/B tests: list, show, assign, record, analyze, plan, start, pause,
    /// stop.
    #[command(subcommand)]
    Ab(ab::AbCommand),
    /// Performance monitoring: record, list, report, alerts, rules,
    /// history, ack, resolve, evaluate, flags, system, export, serve.
    #[command(subcommand)]
    Metrics(metrics::MetricsCommand),
    /// User feedback: submit, list, show, ack, start, resolve, close, merge,
    /// analyze.
    #[command(subcommand)]
    Feedback(feedback::FeedbackCommand),
}

fn main() -> ExitCode {
    let args = match seed_spelling(std::env::args().collect()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("cha-deploy: error: {message}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    let out = Output::new(cli.json);
    match run(&cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cha-deploy: error: {e}");
            ExitCode::from(exit_code(e.kind()))
        }
    }
}

/// The exit code of a failed command: the status code of the error's kind,
/// so that the CLI and the C ABI number their errors alike.
///
/// The two C-only kinds are folded into an invalid argument (3): their codes
/// would collide with what a shell reads in 1 (failed, no detail) and with
/// clap's usage error (2), and the CLI cannot meet them anyway, since its
/// arguments arrive as Rust strings, never NULL or invalid UTF-8.
fn exit_code(kind: ErrorKind) -> u8 {
    let kind = match kind {
        ErrorKind::NullArgument | ErrorKind::InvalidUtf8 => ErrorKind::InvalidArgument,
        kind => kind,
    };
    // Status codes are 1 to 8; the test below keeps them within an exit code.
    u8::try_from(kind.status_code()).unwrap_or(u8::MAX)
}

fn run(cli: &Cli, out: &Output) -> Result<(), Error> {
    match &cli.command {
        Command::Demo(args) => demo::run(args, &cli.db, out),
        Command::Deploy {
            dir,
            drift,
            dry_run,
            actor,
        } => deploy::deploy(&cli.db, dir, drift, actor, *dry_run, out),
        Command::Plan { dir, drift } => deploy::plan(&cli.db, dir, drift, out),
        Command::Rollback {
            id,
            drift,
            dry_run,
            actor,
        } => deploy::rollback(&cli.db, id.unwrap_or(0), drift, actor, *dry_run, out),
        Command::Status { watch, interval } => deploy::status(&cli.db, *watch, *interval, out),
        Command::Export { output } => deploy::export(&cli.db, output.as_deref(), out),
        Command::Report(args) => report::run(args, &cli.db, out),
        Command::History { id, limit } => deploy::history(&cli.db, *id, *limit, out),
        Command::Backup(cmd) => deploy::backup(&cli.db, cmd, out),
        Command::Validate { dir } => deploy::validate(dir, out),
        Command::Template(args) => config::template(args, out),
        Command::Migrate(args) => config::migrate(args, out),
        Command::Flags(cmd) => flags::run(cmd, &cli.db, out),
        Command::Ab(cmd) => ab::run(cmd, &cli.db, out),
        Command::Metrics(cmd) => metrics::run(cmd, &cli.db, out),
        Command::Feedback(cmd) => feedback::run(cmd, &cli.db, out),
        Command::Init => {
            let cha = Cha::open(&cli.db)?;
            let info = cha.info()?;
            out.print(&info, || {
                format!(
                    "initialised {} (schema version {})",
                    info.path, info.schema_version
                )
            });
            cha.close()
        }
        Command::Version => {
            let v = serde_json::json!({
                "version": cha_deploy::VERSION,
                "schema_version": cha_deploy::SCHEMA_VERSION,
                "sqlite_version": rusqlite_version(),
            });
            out.print(&v, || {
                format!(
                    "cha-deploy {} (schema {}, SQLite {})",
                    cha_deploy::VERSION,
                    cha_deploy::SCHEMA_VERSION,
                    rusqlite_version()
                )
            });
            Ok(())
        }
        Command::Doctor => {
            let cha = Cha::open(&cli.db)?;
            let info = cha.info()?;
            let report = serde_json::json!({
                "library_version": cha_deploy::VERSION,
                "database": info,
            });
            out.print(&report, || {
                format!(
                    "database        {}\nschema version  {} (this library: {})\nlibrary         cha-deploy {}\nSQLite          {}\njournal mode    {}\nsynchronous     {}\nfile size       {} bytes (+{} bytes WAL)\nstatus          ok",
                    info.path,
                    info.schema_version,
                    cha_deploy::SCHEMA_VERSION,
                    cha_deploy::VERSION,
                    info.sqlite_version,
                    info.journal_mode,
                    info.synchronous,
                    info.file_size_bytes,
                    info.wal_size_bytes
                )
            });
            cha.close()
        }
    }
}

/// Opens a database that must exist already: reading or changing flags or
/// tests of a missing file is a wrong --db or folder, and opening would
/// create an empty file there.
pub fn open_existing(db: &std::path::Path) -> Result<Cha, Error> {
    if !db.exists() {
        return Err(Error::not_found(format!(
            "{}: no such database (create it with `cha-deploy deploy --config-dir configs`, or choose one with --db or $CHA_DB)",
            db.display()
        )));
    }
    Cha::open(db)
}

fn rusqlite_version() -> String {
    cha_deploy::sqlite_version().to_string()
}

/// The seed's spelling, `cha-deploy --action deploy-all`, as the subcommand
/// it stands for, in place: `--action status --db x` is `status --db x`.
fn seed_spelling(mut args: Vec<String>) -> Result<Vec<String>, String> {
    let Some(at) = args
        .iter()
        .position(|a| a == "--action" || a.starts_with("--action="))
    else {
        return Ok(args);
    };
    let action = match args[at].strip_prefix("--action=") {
        Some(value) => value.to_string(),
        None if at + 1 < args.len() => args.remove(at + 1),
        None => return Err("--action needs a value, such as deploy-all".into()),
    };
    let words = deploy::action_words(&action)?;
    args.splice(at..=at, words.into_iter().map(String::from));
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_status_codes_with_the_c_only_kinds_folded_into_3() {
        let codes: Vec<(ErrorKind, u8)> =
            ErrorKind::ALL.iter().map(|&k| (k, exit_code(k))).collect();
        assert_eq!(
            codes,
            [
                (ErrorKind::NullArgument, 3),
                (ErrorKind::InvalidUtf8, 3),
                (ErrorKind::InvalidArgument, 3),
                (ErrorKind::NotFound, 4),
                (ErrorKind::Config, 5),
                (ErrorKind::Storage, 6),
                (ErrorKind::Busy, 7),
                (ErrorKind::Internal, 8),
                (ErrorKind::Drift, 9),
            ]
        );
        for kind in ErrorKind::ALL {
            if !matches!(kind, ErrorKind::NullArgument | ErrorKind::InvalidUtf8) {
                assert_eq!(i32::from(exit_code(kind)), kind.status_code(), "{kind:?}");
            }
        }
    }
}
