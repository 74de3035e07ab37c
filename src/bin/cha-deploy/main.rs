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
mod import;
mod metrics;
mod output;
mod report;
mod when;

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
    /// Database file.
    #[arg(long, global = true, env = "CHA_DB", default_value = "cha.db")]
    db: PathBuf,
    /// Print stable, machine-readable JSON instead of text; errors too, as
    /// {"error": {"status", "code", "message"}} on stderr.
    #[arg(long, global = true)]
    json: bool,
    /// Colour the text output: auto (on a terminal), always or never.
    /// NO_COLOR in the environment turns it off in any case.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    color: output::ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate weeks of a rollout of intelligent pipe sizing on a scratch
    /// database (or a new --db): deploy, a guarded schedule, engineers in
    /// the A/B test, alerts, feedback; then the analysis, a summary and the
    /// HTML deployment report.
    #[command(
        after_help = "Examples:\n  cha-deploy demo\n  cha-deploy demo --seed 7 --weeks 4 --users 12 --db rollout.db"
    )]
    Demo(demo::DemoArgs),
    /// Create the database (or bring its schema up to date).
    #[command(
        after_help = "Examples:\n  cha-deploy init\n  cha-deploy --db /srv/cha/cha.db init --file-mode 0660"
    )]
    Init {
        /// The new file's permissions, octal: 0600 (the default, its owner
        /// only), 0640 or 0660 to share it with a group. Its -wal, -shm and
        /// backups follow. An existing file keeps its own.
        #[arg(long, value_name = "MODE")]
        file_mode: Option<String>,
    },
    /// Print the library, schema and SQLite versions.
    #[command(after_help = "Examples:\n  cha-deploy version\n  cha-deploy --json version")]
    Version,
    /// Check the database: path, schema version, journal mode, size,
    /// whether this user can write it, its integrity (quick_check).
    /// Never creates or changes it. The background errors of a program's
    /// open handle (a flush that fails on a full disk) are in that
    /// program's health (cha_health, get_health), not in the file: doctor
    /// cannot see them.
    #[command(
        after_help = "Examples:\n  cha-deploy doctor\n  cha-deploy --db /srv/cha/cha.db --json doctor"
    )]
    Doctor,
    /// Print a shell completion script: bash, zsh or fish.
    #[command(
        after_help = "Examples:\n  cha-deploy completions bash > ~/.local/share/bash-completion/completions/cha-deploy\n  source <(cha-deploy completions bash)"
    )]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Deploy a config directory (feature_flags.yml, ab_tests.yml,
    /// performance_monitoring.yml, user_feedback.yml): plan, refuse to undo
    /// runtime changes unless told how, back up, apply in one transaction,
    /// record.
    #[command(
        after_help = "Examples:\n  cha-deploy deploy --config-dir configs --actor release-bot\n  cha-deploy deploy --config-dir configs --keep-runtime\n  cha-deploy deploy --subsystem ab_tests --dry-run"
    )]
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
    #[command(
        after_help = "Examples:\n  cha-deploy plan --config-dir configs\n  cha-deploy --json plan --config-dir configs --subsystem feature_flags"
    )]
    Plan {
        #[command(flatten)]
        dir: deploy::ConfigDir,
        #[command(flatten)]
        drift: deploy::DriftChoice,
    },
    /// Roll back to the deployment before the one in force, or to deployment
    /// ID: the configuration comes back exactly; collected data stays.
    #[command(
        after_help = "Examples:\n  cha-deploy rollback --dry-run\n  cha-deploy rollback 3 --keep-runtime --actor oncall"
    )]
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
    #[command(
        after_help = "Examples:\n  cha-deploy status\n  cha-deploy status --watch --interval 5"
    )]
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
    #[command(
        after_help = "Examples:\n  cha-deploy export > state.json\n  cha-deploy export --output state.json"
    )]
    Export {
        /// Write it to this file instead.
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// The deployment report: deployments, rollouts over time with their
    /// guardrail stops, A/B tests with their intervals, metrics against
    /// their thresholds with their alerts, feedback by period and variant.
    #[command(
        after_help = "Examples:\n  cha-deploy report --output report.html\n  cha-deploy report --format md\n  cha-deploy --json report > report.json"
    )]
    Report(report::ReportArgs),
    /// The deployment history, or one deployment whole.
    #[command(after_help = "Examples:\n  cha-deploy history --limit 5\n  cha-deploy history 3")]
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
    #[command(after_help = "Examples:\n  cha-deploy validate --config-dir configs")]
    Validate {
        #[command(flatten)]
        dir: deploy::ConfigDir,
    },
    /// Write a commented config file to start from: feature-flags, ab-tests
    /// or user-feedback (every field documented; valid as it is).
    #[command(
        after_help = "Examples:\n  cha-deploy template feature-flags --output conf/feature_flags.yml\n  cha-deploy template user-feedback"
    )]
    Template(config::TemplateArgs),
    /// Bring config files of an older version to the current one: the
    /// version of each file, what changes, the new text; with --write,
    /// replace them (keeping the originals as <file>.v<N>.bak).
    #[command(
        after_help = "Examples:\n  cha-deploy migrate --config-dir conf\n  cha-deploy migrate --config-dir conf --write"
    )]
    Migrate(config::MigrateArgs),
    /// Feature flags: list, show, eval, value, segments, set, enable,
    /// disable, rollout, pause, resume, guardrails, history, restore,
    /// template.
    #[command(subcommand)]
    Flags(flags::FlagsCommand),
    /// A/B tests: list, show, restore, assign, peek, param, record, analyze,
    /// plan, start, pause, stop, export.
    #[command(subcommand)]
    Ab(ab::AbCommand),
    /// Import flags from another flag system: unleash.
    #[command(subcommand)]
    Import(import::ImportCommand),
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
    let args: Vec<String> = std::env::args().collect();
    // Before parsing, so that even a usage error answers in JSON.
    let json = args.iter().skip(1).any(|a| a == "--json");
    let usage = |message: &str| {
        Output::new(json, output::ColorChoice::Auto).error(2, "usage", message);
        ExitCode::from(2)
    };
    let args = match seed_spelling(args) {
        Ok(args) => args,
        Err(message) => return usage(&message),
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // --help and --version, and usage errors as clap words them (with
        // a hint and the usage line) when no JSON was asked for.
        Err(e) if !json || !e.use_stderr() => e.exit(),
        Err(e) => return usage(e.render().to_string().trim_end()),
    };
    let out = Output::new(cli.json, cli.color);
    match run(&cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let kind = e.kind();
            out.error(kind.status_code(), kind.status_name(), e.message());
            ExitCode::from(exit_code(kind))
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
        Command::Import(cmd) => import::run(cmd, &cli.db, out),
        Command::Metrics(cmd) => metrics::run(cmd, &cli.db, out),
        Command::Feedback(cmd) => feedback::run(cmd, &cli.db, out),
        Command::Init { file_mode } => {
            let mut options = cha_deploy::OpenOptions::default();
            if let Some(mode) = file_mode {
                options.file_mode = cha_deploy::FileMode::parse(mode)?;
            }
            let cha = Cha::open_with_options(&cli.db, options)?;
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
            // A check changes nothing: it opens the file read-only, never
            // creating it or upgrading its schema.
            let found = cha_deploy::inspect(&cli.db).map_err(|e| match e.kind() {
                ErrorKind::NotFound => Error::not_found(format!(
                    "{}: no such database; create it with `cha-deploy init`, or choose one with --db or $CHA_DB",
                    cli.db.display()
                )),
                _ => e,
            })?;
            let (info, quarantined) = (&found.info, &found.quarantined_observations);
            let status = match info.schema_version.cmp(&cha_deploy::SCHEMA_VERSION) {
                std::cmp::Ordering::Less => format!(
                    "schema {} is older than this library's {}: `cha-deploy init` upgrades it (opening it from any program does too)",
                    info.schema_version,
                    cha_deploy::SCHEMA_VERSION
                ),
                std::cmp::Ordering::Greater => format!(
                    "schema {} is newer than this library's {}: use a newer cha-deploy",
                    info.schema_version,
                    cha_deploy::SCHEMA_VERSION
                ),
                _ if found.integrity != "ok" => format!(
                    "damaged: {}; restore a backup (`cha-deploy backup list`, `cha-deploy backup restore latest`)",
                    found.integrity
                ),
                _ if found.unwritable.is_some() => format!(
                    "read-only for this user: programs that record cannot open it ({})",
                    found.unwritable.as_deref().unwrap_or_default()
                ),
                std::cmp::Ordering::Equal if quarantined.is_empty() => "ok".to_string(),
                std::cmp::Ordering::Equal => format!(
                    "ok; quarantined observations (left out of the analysis, kept in the file): {}",
                    quarantined
                        .iter()
                        .map(|(e, n)| format!("{e} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let report = serde_json::json!({
                "library_version": cha_deploy::VERSION,
                "database": info,
                "status": status,
                "writable": found.unwritable.is_none(),
                "integrity": found.integrity,
                "quarantined_observations": quarantined
                    .iter()
                    .map(|(e, n)| (e.clone(), serde_json::json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
            });
            out.print(&report, || {
                format!(
                    "database        {}\nschema version  {} (this library: {})\nlibrary         cha-deploy {}\nSQLite          {}\njournal mode    {}\nsynchronous     {}\nfile size       {} bytes (+{} bytes WAL)\nwritable        {}\nintegrity       {}\nstatus          {status}",
                    info.path,
                    info.schema_version,
                    cha_deploy::SCHEMA_VERSION,
                    cha_deploy::VERSION,
                    info.sqlite_version,
                    info.journal_mode,
                    info.synchronous,
                    info.file_size_bytes,
                    info.wal_size_bytes,
                    if found.unwritable.is_none() { "yes" } else { "no" },
                    found.integrity
                )
            });
            Ok(())
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "cha-deploy",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

/// The text of the file given to `option` (`-`: standard input); an
/// unreadable one is NotFound, naming the option and the file.
pub fn read_input(option: &str, file: &std::path::Path) -> Result<String, Error> {
    if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| Error::not_found(format!("{option} {}: {e}", file.display())))
}

/// Opens a database that must exist already: reading or changing flags or
/// tests of a missing file is a wrong --db or folder, and opening would
/// create an empty file there.
pub fn open_existing(db: &std::path::Path) -> Result<Cha, Error> {
    if !db.exists() {
        return Err(Error::not_found(format!(
            "{}: no such database; create it with `cha-deploy init` or `cha-deploy deploy --config-dir configs`, or choose one with --db or $CHA_DB",
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

/// What `--help` says is held to what exists: every command has examples
/// that parse, every positional argument has help, no help repeats a
/// default clap shows, and the lists of subcommands in the top-level help
/// name exactly the subcommands there are.
#[cfg(test)]
mod help {
    use super::*;
    use clap::CommandFactory;

    /// Every command without subcommands, with its path.
    fn leaves(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        let subs: Vec<_> = cmd
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push((path.clone(), cmd.clone()));
        }
        for s in subs {
            leaves(s, format!("{path} {}", s.get_name()), out);
        }
    }

    fn all_leaves() -> Vec<(String, clap::Command)> {
        let mut out = Vec::new();
        leaves(&Cli::command(), "cha-deploy".into(), &mut out);
        out
    }

    /// A shell line's words: quotes group, and are removed.
    fn words(line: &str) -> Vec<String> {
        let (mut out, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
        for c in line.chars() {
            match (quote, c) {
                (None, '\'' | '"') => (quote, any) = (Some(c), true),
                (Some(q), c) if c == q => quote = None,
                (None, ' ') => {
                    if any {
                        out.push(std::mem::take(&mut word));
                    }
                    any = false;
                }
                (_, c) => {
                    word.push(c);
                    any = true;
                }
            }
        }
        if any {
            out.push(word);
        }
        out
    }

    #[test]
    fn every_command_has_examples_that_parse() {
        for (path, cmd) in all_leaves() {
            let after = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(after.starts_with("Examples:\n"), "{path} has no examples");
            let mut runs = 0;
            for line in after.lines().skip(1).map(str::trim) {
                // The examples that feed a shell (`> file`, `source <(...)`)
                // are parsed up to the shell's part.
                let line = line.split(" > ").next().unwrap();
                let Some(line) = line
                    .strip_prefix("source <(")
                    .map_or(Some(line), |l| l.strip_suffix(')'))
                else {
                    continue;
                };
                let matches = Cli::command()
                    .try_get_matches_from(words(line))
                    .unwrap_or_else(|e| panic!("{path}: `{line}` does not parse:\n{e}"));
                let mut ran = String::from("cha-deploy");
                let mut at = &matches;
                while let Some((name, sub)) = at.subcommand() {
                    ran = format!("{ran} {name}");
                    at = sub;
                }
                assert_eq!(ran, path, "an example of another command: {line}");
                runs += 1;
            }
            assert!(runs > 0, "{path}: no example runs it");
        }
    }

    #[test]
    fn every_argument_is_explained_once() {
        for (path, cmd) in all_leaves() {
            for arg in cmd.get_arguments() {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if arg.is_positional() {
                    assert!(!help.is_empty(), "{path}: <{}> has no help", arg.get_id());
                }
                if !arg.get_default_values().is_empty() {
                    assert!(
                        !help.to_lowercase().contains("default"),
                        "{path}: --{} repeats the default clap shows: {help}",
                        arg.get_id()
                    );
                }
            }
        }
    }

    #[test]
    fn the_subcommands_listed_are_the_subcommands_there_are() {
        let cli = Cli::command();
        for group in cli.get_subcommands().filter(|c| c.has_subcommands()) {
            let about = group.get_about().map(|a| a.to_string()).unwrap_or_default();
            let Some((_, list)) = about.split_once(": ") else {
                continue;
            };
            let listed: Vec<&str> = list
                .trim_end_matches('.')
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .collect();
            let actual: Vec<&str> = group
                .get_subcommands()
                .map(|c| c.get_name())
                .filter(|n| *n != "help")
                .collect();
            assert_eq!(
                listed,
                actual,
                "{}: its help lists {listed:?}",
                group.get_name()
            );
        }
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(words(r#"a 'b c' "d 'e'" f"#), ["a", "b c", "d 'e'", "f"]);
        assert_eq!(words("x ''"), ["x", ""]);
    }
}
