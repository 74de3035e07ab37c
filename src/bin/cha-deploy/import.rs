//! `cha-deploy import …`: flags from another flag system.

use std::path::PathBuf;

use clap::Subcommand;

use cha_deploy::{Cha, Error, ImportReport, ImportedItem};

use crate::flags::{Actor, indent};
use crate::output::Output;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import an Unleash client-features document (the JSON of
    /// /api/client/features, with its segments): features become flags and
    /// segments segments, created or replaced by name in one transaction.
    /// What cannot be translated exactly is listed by name, never dropped
    /// in silence. An import is a runtime change: a later deploy of files
    /// that say otherwise reports it as drift.
    #[command(
        after_help = "Examples:\n  cha-deploy import unleash features.json --dry-run\n  cha-deploy import unleash features.json --actor ops"
    )]
    Unleash {
        /// The Unleash client-features document (JSON).
        file: PathBuf,
        /// Check and report, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        actor: Actor,
    },
}

pub fn run(cmd: &ImportCommand, db: &std::path::Path, out: &Output) -> Result<(), Error> {
    match cmd {
        ImportCommand::Unleash {
            file,
            dry_run,
            actor,
        } => {
            let document = std::fs::read_to_string(file).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    Error::not_found(format!("{}: no such file", file.display()))
                }
                _ => Error::invalid_argument(format!("{}: {e}", file.display())),
            })?;
            let cha = Cha::open(db)?;
            let report = cha.import_unleash(&document, &actor.name(), *dry_run)?;
            out.print(&report, || report_text(&report, file));
            cha.close()
        }
    }
}

fn report_text(r: &ImportReport, file: &std::path::Path) -> String {
    let verb = if r.dry_run {
        "would import"
    } else {
        "imported"
    };
    let mut text = format!(
        "{verb} {} flag{} and {} segment{} from {} as {}\n",
        r.flags.len(),
        if r.flags.len() == 1 { "" } else { "s" },
        r.segments.len(),
        if r.segments.len() == 1 { "" } else { "s" },
        file.display(),
        r.actor
    );
    text += &items("flags", &r.flags);
    text += &items("segments", &r.segments);
    if r.untranslated.is_empty() {
        text += "everything translated exactly";
    } else {
        text += &format!("not translated exactly ({}):\n", r.untranslated.len());
        let lines: Vec<String> = r
            .untranslated
            .iter()
            .map(|u| format!("{} ({}): {}", u.item, u.path, u.message))
            .collect();
        text += &indent(&lines.join("\n"));
    }
    text
}

/// `flags\n  create  3  a, b, c\n  update ...`, the actions that occurred.
fn items(title: &str, items: &[ImportedItem]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut text = format!("{title}\n");
    for action in ["create", "update", "unchanged"] {
        let names: Vec<&str> = items
            .iter()
            .filter(|i| i.action == action)
            .map(|i| i.name.as_str())
            .collect();
        if !names.is_empty() {
            text += &format!("  {action:<10} {:>3}  {}\n", names.len(), names.join(", "));
        }
    }
    text
}
