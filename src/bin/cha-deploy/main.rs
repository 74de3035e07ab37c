//! `cha-deploy`: the command-line tool. Thin by design: it parses arguments,
//! calls the Rust API and prints; all logic lives in the library.
//!
//! Exit codes: 0 success; 2 a usage error (bad arguments); otherwise the
//! `cha_status` value of the error: 3 invalid argument, 4 not found,
//! 5 configuration, 6 storage, 7 busy (database locked), 8 internal.

mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cha_deploy::{Cha, Error};
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.json);
    match run(&cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cha-deploy: error: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn exit_code(e: &Error) -> u8 {
    use cha_deploy::ErrorKind::*;
    match e.kind() {
        NullArgument | InvalidUtf8 | InvalidArgument => 3,
        NotFound => 4,
        Config => 5,
        Storage => 6,
        Busy => 7,
        Internal => 8,
    }
}

fn run(cli: &Cli, out: &Output) -> Result<(), Error> {
    match &cli.command {
        Command::Demo => demo(out),
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

fn rusqlite_version() -> String {
    cha_deploy::sqlite_version().to_string()
}

/// Until the full demo exists: show the tool's capabilities on a scratch database.
fn demo(out: &Output) -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("cha-deploy-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::storage(format!("{}: {e}", dir.display())))?;
    let db = dir.join("demo.db");
    let cha = Cha::open(&db)?;
    let info = cha.info()?;
    cha.close()?;
    let _ = std::fs::remove_dir_all(&dir);
    let v = serde_json::json!({"demo": "foundation", "database": info});
    out.print(&v, || {
        format!(
            "cha-deploy {} demo\n\nOpened a scratch database {} (schema {}, journal {}).\n\n\
             What the tool does today:\n  cha-deploy init      create or migrate the database (--db PATH or $CHA_DB)\n  \
             cha-deploy doctor    check the database file\n  cha-deploy version   library, schema and SQLite versions\n\n\
             Coming next: feature flags, A/B tests with a scipy-exact statistics engine,\n\
             performance monitoring, user feedback, and deploy / status / report / rollback.",
            cha_deploy::VERSION,
            info.path,
            info.schema_version,
            info.journal_mode
        )
    });
    Ok(())
}
