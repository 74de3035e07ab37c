//! `cha-deploy template|migrate`: configuration management of the config
//! files. `validate` (in deploy.rs) checks a directory; these write a file
//! to start from, and bring older files to the current version.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use cha_deploy::Error;
use cha_deploy::config::{self, Migration};

use crate::output::Output;

/// `cha-deploy template SUBSYSTEM`.
#[derive(Args)]
pub struct TemplateArgs {
    /// Whose config file: feature-flags, ab-tests or user-feedback.
    #[arg(value_name = "SUBSYSTEM")]
    subsystem: String,
    /// cha_intelligent_sizing (every field, the CHA examples; the default)
    /// or minimal.
    #[arg(long = "type", value_name = "TYPE")]
    config_type: Option<String>,
    /// Write to FILE instead of stdout (an existing file is not replaced).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `cha-deploy migrate`.
#[derive(Args)]
pub struct MigrateArgs {
    /// The directory holding the config files.
    #[arg(long, default_value = "configs", value_name = "DIR")]
    config_dir: PathBuf,
    /// Replace each older file with its migrated text, keeping the original
    /// as <file>.v<N>.bak (without it, only show what would be written).
    #[arg(long)]
    write: bool,
}

pub fn template(args: &TemplateArgs, out: &Output) -> Result<(), Error> {
    write_template(
        &args.subsystem,
        args.config_type.as_deref(),
        args.output.as_deref(),
        out,
    )
}

/// Prints the template of `subsystem`, or writes it to a new file `output`
/// and says what to run next: a plan, which writes nothing, rather than a
/// deploy, which would delete what the file does not mention. Shared with
/// `flags template`.
pub fn write_template(
    subsystem: &str,
    config_type: Option<&str>,
    output: Option<&Path>,
    out: &Output,
) -> Result<(), Error> {
    let file = config::config_file(subsystem)?;
    let config_type = config_type.unwrap_or(file.template_types[0]);
    let title = output
        .and_then(|p| p.file_name())
        .map_or(file.file.into(), |n| n.to_string_lossy());
    let text = config::template(subsystem, &title, Some(config_type))?;
    let Some(path) = output else {
        if out.json() {
            out.print(
                &json!({"config_type": config_type, "template": text}),
                String::new,
            );
        } else {
            print!("{text}");
        }
        return Ok(());
    };
    // `--output my/feature_flags.yml` in a fresh folder makes `my/`.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::storage(format!("{}: {e}", parent.display())))?;
    }
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
    written.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::invalid_argument(format!(
            "{}: already exists; remove it or choose another --output",
            path.display()
        )),
        _ => Error::storage(format!("{}: {e}", path.display())),
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // A deploy reads each subsystem's file by its name only.
    let rename = if path.file_name().is_some_and(|n| n != file.file) {
        format!("a deploy reads only {}: rename it, then ", file.file)
    } else {
        String::new()
    };
    out.print(
        &json!({"config_type": config_type, "output": path, "bytes": text.len()}),
        || {
            format!(
                "wrote {} ({config_type} template; {rename}see what a deploy would change with `cha-deploy plan --config-dir {}`)",
                path.display(),
                shell_word(&dir.display().to_string())
            )
        },
    );
    Ok(())
}

/// Shows each known file's version and what migrating it changes, and
/// with `--write` replaces the older ones. An invalid file fails the whole
/// command before anything is written.
pub fn migrate(args: &MigrateArgs, out: &Output) -> Result<(), Error> {
    let migrations = config::migrate_dir(&args.config_dir)?;
    let backups = if args.write {
        config::write_migrations(&migrations)?
    } else {
        vec![None; migrations.len()]
    };
    let files: Vec<serde_json::Value> = migrations
        .iter()
        .zip(&backups)
        .map(|(m, backup)| {
            let mut v = serde_json::to_value(m).expect("a migration serialises");
            v["backup"] = json!(backup);
            v
        })
        .collect();
    let report = json!({
        "config_dir": args.config_dir,
        "written": args.write && migrations.iter().any(Migration::is_needed),
        "files": files,
    });
    out.print(&report, || migrate_text(args, &migrations, &backups));
    Ok(())
}

fn migrate_text(
    args: &MigrateArgs,
    migrations: &[Migration],
    backups: &[Option<PathBuf>],
) -> String {
    let dir = shell_word(&args.config_dir.display().to_string());
    let mut lines = Vec::new();
    for (m, backup) in migrations.iter().zip(backups) {
        if !m.is_needed() {
            lines.push(format!("{}: version {}, current", m.file, m.from_version));
            continue;
        }
        lines.push(format!(
            "{}: version {}, migrates to version {}",
            m.file, m.from_version, m.to_version
        ));
        if let Some(report) = &m.report {
            lines.push(report.to_string());
        }
        match backup {
            Some(backup) => lines.push(format!(
                "wrote {} in version {}; the original is {}",
                m.file,
                m.to_version,
                backup.display()
            )),
            None => lines.push(format!(
                "--- {} as it would be written ---\n{}--- end of {} ---",
                m.file, m.text, m.file
            )),
        }
    }
    let needed: Vec<&Migration> = migrations.iter().filter(|m| m.is_needed()).collect();
    if needed.is_empty() {
        lines.push("every file is current: nothing to migrate".into());
    } else if args.write {
        lines.push(format!(
            "see what a deploy would change with `cha-deploy plan --config-dir {dir}`"
        ));
    } else {
        let kept: Vec<String> = needed
            .iter()
            .map(|m| m.backup_path().display().to_string())
            .collect();
        lines.push(format!(
            "nothing written; write it with `cha-deploy migrate --config-dir {dir} --write` (keeps the original as {})",
            kept.join(", ")
        ));
    }
    lines.join("\n")
}

/// `text` as one word for a POSIX shell, quoted only when it needs to be,
/// so that a suggested command can be pasted as it is.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./,:=@%+".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("conf/prod-1"), "conf/prod-1");
        assert_eq!(shell_word("my configs"), "'my configs'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word(""), "''");
    }
}
