//! `cha-deploy report`: the deployment report, as Markdown, JSON or one
//! self-contained HTML page with inline SVG charts.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use cha_deploy::{Error, ReportFormat};

use crate::output::Output;

#[derive(Args)]
pub struct ReportArgs {
    /// The format (default: the extension of --output, HTML without one;
    /// Markdown on stdout, JSON with --json).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Write the report to this file (atomically: a reader never sees a
    /// part) instead of stdout.
    #[arg(long, value_name = "PATH")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Html,
    Md,
    Json,
}

impl From<FormatArg> for ReportFormat {
    fn from(f: FormatArg) -> ReportFormat {
        match f {
            FormatArg::Html => ReportFormat::Html,
            FormatArg::Md => ReportFormat::Markdown,
            FormatArg::Json => ReportFormat::Json,
        }
    }
}

pub fn run(args: &ReportArgs, db: &Path, out: &Output) -> Result<(), Error> {
    let cha = crate::open_existing(db)?;
    let format = args.format.map(ReportFormat::from);
    match &args.output {
        None => {
            let format = format.unwrap_or(if out.json() {
                ReportFormat::Json
            } else {
                ReportFormat::Markdown
            });
            let text = cha.render_deployment_report(format)?;
            // A closed pipe (`cha-deploy report | head`) is not an error.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
        Some(path) => {
            let written = cha.generate_deployment_report(path, format)?;
            out.print(&written, || {
                format!(
                    "wrote the {} report to {} ({} bytes)",
                    written.format.as_str(),
                    written.path,
                    written.bytes
                )
            });
        }
    }
    cha.close()
}
