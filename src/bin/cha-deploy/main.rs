//! `cha-deploy`: the command-line tool. Thin by design: it parses arguments,
//! calls the Rust API and prints; all logic lives in the library.
//!
//! Exit codes: 0 success; 2 a usage error (bad arguments); otherwise the
//! `cha_status` value of the error (`ErrorKind::status_code`): 3 invalid
//! argument, 4 not found, 5 configuration, 6 storage, 7 busy (database
//! locked), 8 internal.

mod ab;
mod ab_analysis;
mod demo;
mod flags;
mod output;

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
    /// Show what the tool does, end to end, on a scratch database.
    Demo,
    /// Create the database (or bring its schema up to date).
    Init,
    /// Print the library, schema and SQLite versions.
    Version,
    /// Check the database: path, schema version, journal mode, size.
    Doctor,
    /// Deploy a config directory (feature_flags.yml, …) in one transaction.
    Deploy {
        /// The directory holding the config files.
        #[arg(long, default_value = "configs", value_name = "DIR")]
        config_dir: PathBuf,
        #[command(flatten)]
        actor: flags::Actor,
    },
    /// Feature flags: list, show, eval, set, enable, disable, rollout,
    /// history, restore, template.
    #[command(subcommand)]
    Flags(flags::FlagsCommand),
    /// A/B tests: list, show, assign, record, analyze, plan, start, pause,
    /// stop.
    #[command(subcommand)]
    Ab(ab::AbCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Demo => demo::run(out),
        Command::Deploy { config_dir, actor } => {
            let cha = Cha::open(&cli.db)?;
            let report = cha.deploy_all(config_dir, &actor.name())?;
            out.print(&report, || deploy_text(&report));
            cha.close()
        }
        Command::Flags(cmd) => flags::run(cmd, &cli.db, out),
        Command::Ab(cmd) => ab::run(cmd, &cli.db, out),
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

/// The deploy report: what happened to each flag, and any migration.
fn deploy_text(r: &cha_deploy::DeployReport) -> String {
    let files: Vec<String> = r
        .files
        .iter()
        .map(|f| format!("{} (version {})", f.file, f.source_version))
        .collect();
    let mut text = format!(
        "deployed {} from {} as {}",
        files.join(", "),
        r.config_dir,
        r.actor
    );
    for (kind, changes) in &r.changes.0 {
        let total = changes.created.len()
            + changes.updated.len()
            + changes.unchanged.len()
            + changes.removed.len();
        if total == 0 {
            continue;
        }
        text.push_str(&format!("\n{kind}"));
        for (what, names) in [
            ("created", &changes.created),
            ("updated", &changes.updated),
            ("unchanged", &changes.unchanged),
            ("removed", &changes.removed),
        ] {
            text.push_str(&format!("\n  {what:<10} {:>3}", names.len()));
            if !names.is_empty() && what != "unchanged" {
                text.push_str(&format!("  {}", names.join(", ")));
            }
        }
    }
    for migration in r.files.iter().filter_map(|f| f.migration.as_ref()) {
        text.push_str(&format!("\n{migration}"));
    }
    text
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
            ]
        );
        for kind in ErrorKind::ALL {
            if !matches!(kind, ErrorKind::NullArgument | ErrorKind::InvalidUtf8) {
                assert_eq!(i32::from(exit_code(kind)), kind.status_code(), "{kind:?}");
            }
        }
    }
}
