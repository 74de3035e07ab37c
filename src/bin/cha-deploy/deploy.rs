//! `cha-deploy deploy|plan|rollback|status|export|history|backup|validate`:
//! deployments as an operator runs them. Every command that changes
//! something shows what it changed; every command that only looks writes
//! nothing (and creates no database file).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::Value;

use cha_deploy::{
    Action, Backup, Cha, DeployOptions, DeployPlan, DeployReport, Deployment, DeploymentStatus,
    Drift, DriftKind, Error, ItemChange, OnDrift, SectionPlan,
};

use crate::flags::Actor;
use crate::open_existing;
use crate::output::{Output, inline, rfc3339, table};

/// What to do with runtime changes a deployment would undo.
#[derive(Args, Default, Clone)]
#[group(multiple = false)]
pub struct DriftChoice {
    /// Let the files win: undo runtime changes, delete what the files do
    /// not mention.
    #[arg(long)]
    overwrite: bool,
    /// Keep runtime changes: apply only what the files changed since the
    /// last deployment, field by field.
    #[arg(long)]
    keep_runtime: bool,
}

impl DriftChoice {
    fn on_drift(&self) -> OnDrift {
        if self.overwrite {
            OnDrift::Overwrite
        } else if self.keep_runtime {
            OnDrift::KeepRuntime
        } else {
            OnDrift::Refuse
        }
    }
}

/// Which config directory and which of its files.
#[derive(Args, Clone)]
pub struct ConfigDir {
    /// The directory holding the config files.
    #[arg(long, default_value = "configs", value_name = "DIR")]
    config_dir: PathBuf,
    /// Deploy only this subsystem (repeatable): feature_flags, ab_tests.
    #[arg(long = "subsystem", value_name = "NAME")]
    subsystems: Vec<String>,
}

#[derive(Subcommand)]
pub enum BackupCommand {
    /// The backups of the database, oldest first.
    #[command(after_help = "Examples:\n  cha-deploy backup list")]
    List,
    /// Back the database up now.
    #[command(after_help = "Examples:\n  cha-deploy backup create --reason before-repair")]
    Create {
        /// A word saying why (letters, digits, `-`).
        #[arg(long, default_value = "manual")]
        reason: String,
    },
    /// Restore the whole database from a backup (backing up the current
    /// state first).
    #[command(
        after_help = "Examples:\n  cha-deploy backup restore latest --actor oncall\n  cha-deploy backup restore cha.db.20260105T093000.000Z.deploy.db"
    )]
    Restore {
        /// The backup's file name (from `backup list`), a path, or `latest`
        /// (the newest backup).
        name: String,
        #[command(flatten)]
        actor: Actor,
    },
}

/// Deploys (or with `dry_run`, plans) `config_dir`. A deployment into a
/// database that does not exist yet validates first, so that an invalid
/// directory creates no file.
pub fn deploy(
    db: &Path,
    dir: &ConfigDir,
    drift: &DriftChoice,
    actor: &Actor,
    dry_run: bool,
    out: &Output,
) -> Result<(), Error> {
    let options = DeployOptions {
        actor: Some(actor.name()),
        subsystems: dir.subsystems.clone(),
        on_drift: drift.on_drift(),
    };
    if dry_run {
        return plan(db, dir, drift, out);
    }
    if !db.exists() {
        cha_deploy::validate_config_dir(&dir.config_dir, &dir.subsystems)?;
    }
    let cha = Cha::open(db)?;
    let report = cha.deploy(&dir.config_dir, &options)?;
    out.print(&report, || report_text(&report));
    cha.close()
}

/// Shows what a deployment of `dir` would do. Writes nothing: without a
/// database yet, the plan is against an empty one in a scratch folder.
pub fn plan(db: &Path, dir: &ConfigDir, drift: &DriftChoice, out: &Output) -> Result<(), Error> {
    let options = DeployOptions {
        actor: None,
        subsystems: dir.subsystems.clone(),
        on_drift: drift.on_drift(),
    };
    let plan = if db.exists() {
        let cha = Cha::open(db)?;
        let plan = cha.plan_deployment(&dir.config_dir, &options)?;
        cha.close()?;
        plan
    } else {
        cha_deploy::validate_config_dir(&dir.config_dir, &dir.subsystems)?;
        let scratch = ScratchDir::new()?;
        let cha = Cha::open(scratch.0.join("plan.db"))?;
        let plan = cha.plan_deployment(&dir.config_dir, &options)?;
        cha.close()?;
        plan
    };
    out.print(&plan, || plan_text(&plan, db.exists()));
    Ok(())
}

/// Rolls back (or with `dry_run`, plans the rollback).
pub fn rollback(
    db: &Path,
    id: i64,
    drift: &DriftChoice,
    actor: &Actor,
    dry_run: bool,
    out: &Output,
) -> Result<(), Error> {
    let cha = open_existing(db)?;
    let options = DeployOptions {
        actor: Some(actor.name()),
        subsystems: Vec::new(),
        on_drift: drift.on_drift(),
    };
    if dry_run {
        let plan = cha.plan_rollback(id, &options)?;
        out.print(&plan, || plan_text(&plan, true));
    } else {
        let report = cha.rollback_deployment(id, &options)?;
        out.print(&report, || report_text(&report));
    }
    cha.close()
}

/// Prints the status once, or with `watch` every `interval` seconds, in
/// place on a terminal, until interrupted.
pub fn status(db: &Path, watch: bool, interval: f64, out: &Output) -> Result<(), Error> {
    let cha = open_existing(db)?;
    if !watch {
        let status = cha.deployment_status()?;
        out.print(&status, || status_text(&status));
        return cha.close();
    }
    if !(interval.is_finite() && interval >= 0.1) {
        return Err(Error::invalid_argument(format!(
            "--interval {interval}: give at least 0.1 seconds"
        )));
    }
    use std::io::IsTerminal;
    let terminal = std::io::stdout().is_terminal() && !out.json();
    loop {
        let status = cha.deployment_status()?;
        if terminal {
            // Home the cursor and clear the screen: the status redraws in place.
            print!("\x1b[H\x1b[2J");
        }
        out.print(&status, || status_text(&status));
        std::thread::sleep(std::time::Duration::from_secs_f64(interval));
    }
}

/// Prints (or writes to `output`) the canonical export.
pub fn export(db: &Path, output: Option<&Path>, out: &Output) -> Result<(), Error> {
    let cha = open_existing(db)?;
    let text = cha.export_configuration()?;
    match output {
        None => println!("{text}"),
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))
                .map_err(|e| Error::storage(format!("{}: {e}", path.display())))?;
            out.print(
                &serde_json::json!({"output": path, "bytes": text.len() + 1}),
                || format!("wrote {}", path.display()),
            );
        }
    }
    cha.close()
}

/// Lists the last deployments, or shows one whole.
pub fn history(db: &Path, id: Option<i64>, limit: u32, out: &Output) -> Result<(), Error> {
    let cha = open_existing(db)?;
    match id {
        Some(id) => {
            let d = cha.deployment(id)?;
            out.print(&d, || deployment_text(&d));
        }
        None => {
            let list = cha.deployments(limit)?;
            out.print(&list, || history_text(&list));
        }
    }
    cha.close()
}

pub fn backup(db: &Path, cmd: &BackupCommand, out: &Output) -> Result<(), Error> {
    let cha = open_existing(db)?;
    match cmd {
        BackupCommand::List => {
            let list = cha.backups()?;
            out.print(&list, || backups_text(&cha, &list));
        }
        BackupCommand::Create { reason } => {
            let b = cha.create_backup(reason)?;
            out.print(&b, || {
                format!("backed up to {} ({} bytes)", b.path, b.size_bytes)
            });
        }
        BackupCommand::Restore { name, actor } => {
            let report = cha.restore_backup(name, &actor.name())?;
            out.print(&report, || {
                format!(
                    "restored {} (deployment {}); the state before is in {}",
                    name,
                    report.deployment_id,
                    report.backup.as_deref().unwrap_or("-")
                )
            });
        }
    }
    cha.close()
}

/// Checks a config directory without a database.
pub fn validate(dir: &ConfigDir, out: &Output) -> Result<(), Error> {
    let files = cha_deploy::validate_config_dir(&dir.config_dir, &dir.subsystems)?;
    out.print(&files, || {
        let names: Vec<String> = files
            .iter()
            .map(|f| format!("{} (version {})", f.file, f.source_version))
            .collect();
        format!("{}: {} valid", dir.config_dir.display(), names.join(", "))
    });
    Ok(())
}

/// The seed's `--action` spelling, as the subcommand it stands for.
pub fn action_words(action: &str) -> Result<Vec<&'static str>, String> {
    Ok(match action {
        "deploy-all" => vec!["deploy"],
        "deploy-feature-flags" => vec!["deploy", "--subsystem", "feature_flags"],
        "deploy-ab-testing" => vec!["deploy", "--subsystem", "ab_tests"],
        "plan" => vec!["plan"],
        "status" => vec!["status"],
        "rollback" => vec!["rollback"],
        other => {
            return Err(format!(
                "unknown --action `{other}` (actions: deploy-all, deploy-feature-flags, deploy-ab-testing, plan, status, rollback)"
            ));
        }
    })
}

/// A folder removed when dropped, for a plan against an empty database.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<ScratchDir, Error> {
        let dir = std::env::temp_dir().join(format!(
            "cha-deploy-plan-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::storage(format!("{}: {e}", dir.display())))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn when(ms: Option<i64>) -> String {
    ms.map_or("-".into(), rfc3339)
}

/// `percentage 60 -> 25, enabled false -> true`.
fn fields_text(change: &ItemChange) -> String {
    let show = |v: &Option<Value>| v.as_ref().map_or("-".into(), inline);
    change
        .fields
        .iter()
        .map(|f| format!("{} {} -> {}", f.field, show(&f.before), show(&f.after)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn drift_line(d: &Drift) -> String {
    let what = match d.kind {
        DriftKind::Created => "created at runtime".to_string(),
        DriftKind::Deleted => "deleted at runtime".to_string(),
        DriftKind::Modified => {
            let show = |v: &Option<Value>| v.as_ref().map_or("-".into(), inline);
            d.fields
                .iter()
                .map(|f| format!("{} {} -> {}", f.field, show(&f.before), show(&f.after)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let who = match (&d.action, &d.actor) {
        (Some(action), Some(actor)) => format!(" ({action} by {actor} at {})", when(d.at_ms)),
        _ => String::new(),
    };
    format!("{}: {what}{who}", d.name)
}

fn section_text(s: &SectionPlan, verb_future: bool) -> String {
    let count = |a: Action| s.changes.iter().filter(|c| c.action == a).count();
    let (create, update, delete, keep) = (
        count(Action::Create),
        count(Action::Update),
        count(Action::Delete),
        count(Action::KeepRuntime),
    );
    let mut text = format!("{} ({})", s.file, s.items);
    if !s.included {
        text.push_str(": not in this deployment");
    } else if s.changes.is_empty() {
        text.push_str(&format!(": no change, {} unchanged", s.unchanged.len()));
    } else {
        let (c, u, d) = if verb_future {
            ("to create", "to update", "to delete")
        } else {
            ("created", "updated", "deleted")
        };
        let mut parts = Vec::new();
        for (n, word) in [
            (create, c),
            (update, u),
            (delete, d),
            (keep, "runtime changes kept"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        parts.push(format!("{} unchanged", s.unchanged.len()));
        text.push_str(&format!(": {}", parts.join(", ")));
        for c in &s.changes {
            let (mark, detail) = match c.action {
                Action::Create => ("+", String::new()),
                Action::Delete => ("-", String::new()),
                Action::Update => ("~", fields_text(c)),
                Action::KeepRuntime => (
                    "=",
                    format!("kept as changed at runtime ({})", fields_text(c)),
                ),
            };
            text.push_str(&format!("\n  {mark} {}", c.name));
            if !detail.is_empty() {
                text.push_str(&format!("  {detail}"));
            }
            if c.undoes_drift {
                text.push_str("  [undoes a runtime change]");
            }
            if !c.conflicts.is_empty() {
                text.push_str(&format!(
                    "  [changed on both sides, runtime kept: {}]",
                    c.conflicts.join(", ")
                ));
            }
        }
    }
    if !s.drift.is_empty() {
        text.push_str("\n  drift (runtime changes since the last deployment):");
        for d in &s.drift {
            text.push_str(&format!("\n    {}", drift_line(d)));
        }
    }
    text
}

fn plan_text(p: &DeployPlan, database_exists: bool) -> String {
    let against = match (p.last_deployment, database_exists) {
        (_, false) => "a new database".to_string(),
        (Some(id), true) => format!("deployment {id} in force"),
        (None, true) => "a database never deployed to".to_string(),
    };
    let what = match (&p.config_dir, p.rollback_to) {
        (_, Some(id)) => format!("rollback to deployment {id}"),
        (Some(dir), None) => format!("deploy of {dir}"),
        _ => "deploy".into(),
    };
    let mut text = format!(
        "plan: {what}, against {against} (on drift: {})",
        p.on_drift.as_str()
    );
    for s in &p.sections {
        text.push('\n');
        text.push_str(&section_text(s, true));
    }
    if p.refused.is_empty() {
        if p.changes_anything() {
            text.push_str("\nnothing refused: it can be applied as it is");
        } else {
            text.push_str("\nnothing to change");
        }
    } else {
        text.push_str("\nrefused by default (nothing would change); it would:");
        for r in &p.refused {
            text.push_str(&format!("\n  {r}"));
        }
        text.push_str("\ngo ahead with --overwrite (the files win) or --keep-runtime (runtime changes survive)");
    }
    text
}

fn report_text(r: &DeployReport) -> String {
    let mut text = match (r.action.as_str(), r.rolled_back_to) {
        ("rollback", Some(to)) => format!("rolled back to deployment {to} as {}", r.actor),
        _ => {
            let files: Vec<String> = r
                .files
                .iter()
                .map(|f| format!("{} (version {})", f.file, f.source_version))
                .collect();
            format!(
                "deployed {} from {} as {}",
                files.join(", "),
                r.config_dir.as_deref().unwrap_or("-"),
                r.actor
            )
        }
    };
    for (kind, changes) in &r.changes.0 {
        let total = changes.created.len()
            + changes.updated.len()
            + changes.unchanged.len()
            + changes.removed.len()
            + changes.kept.len();
        if total == 0 {
            continue;
        }
        text.push_str(&format!("\n{kind}"));
        for (what, names) in [
            ("created", &changes.created),
            ("updated", &changes.updated),
            ("unchanged", &changes.unchanged),
            ("removed", &changes.removed),
            ("kept", &changes.kept),
        ] {
            if what == "kept" && names.is_empty() {
                continue;
            }
            text.push_str(&format!("\n  {what:<10} {:>3}", names.len()));
            if !names.is_empty() && what != "unchanged" {
                text.push_str(&format!("  {}", names.join(", ")));
            }
        }
    }
    for migration in r.files.iter().filter_map(|f| f.migration.as_ref()) {
        text.push_str(&format!("\n{migration}"));
    }
    text.push_str(&format!(
        "\nrecorded as deployment {} ({:.0} ms); backup before: {}",
        r.deployment_id,
        r.duration_ms,
        r.backup.as_deref().unwrap_or("-")
    ));
    text
}

fn status_text(s: &DeploymentStatus) -> String {
    let mut text = format!("database {} (schema {})", s.database, s.schema_version);
    match &s.last_deployment {
        Some(d) => text.push_str(&format!(
            "\nin force: deployment {} ({}) by {} at {}",
            d.id,
            d.action,
            d.actor,
            rfc3339(d.at_ms)
        )),
        None => {
            text.push_str("\nnever deployed (deploy with `cha-deploy deploy --config-dir configs`)")
        }
    }
    for sub in &s.subsystems {
        let file = match &sub.deployed_file {
            Some(f) => format!(
                "version {}, sha256 {}, deployment {}",
                f.source_version,
                f.sha256.get(..12).unwrap_or(&f.sha256),
                sub.deployed_by.map_or("-".into(), |id| id.to_string())
            ),
            None => "never deployed".into(),
        };
        text.push_str(&format!(
            "\n\n{} ({}): {} {}; {file}",
            sub.subsystem, sub.file, sub.count, sub.items
        ));
        if let Some(rollouts) = sub.details.get("rollouts").and_then(Value::as_array) {
            for r in rollouts {
                let next = match r.get("next_step") {
                    Some(Value::Object(n)) => format!(
                        ", next {}% at {}",
                        inline(&n["percentage"]),
                        n["at"].as_str().unwrap_or("-")
                    ),
                    _ => String::new(),
                };
                let held = match r.get("held") {
                    Some(Value::Object(h)) => format!(
                        ", held ({} by guardrail or hand at {}: {})",
                        h["action"].as_str().unwrap_or("-"),
                        h["at"].as_str().unwrap_or("-"),
                        h["reason"].as_str().unwrap_or("-")
                    ),
                    _ => String::new(),
                };
                text.push_str(&format!(
                    "\n  rollout {}: {}%{next}{held}",
                    r["flag"].as_str().unwrap_or("-"),
                    inline(&r["percentage"])
                ));
            }
        }
        if let Some(disabled) = sub.details.get("disabled").and_then(Value::as_array)
            && !disabled.is_empty()
        {
            let names: Vec<String> = disabled.iter().map(inline).collect();
            text.push_str(&format!("\n  off (kill switch): {}", names.join(", ")));
        }
        if let Some(tests) = sub.details.get("tests").and_then(Value::as_array) {
            for t in tests {
                let exposed = t["exposed_units"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k} {}", inline(v)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                text.push_str(&format!(
                    "\n  test {}: {} ({exposed})",
                    t["id"].as_str().unwrap_or("-"),
                    t["status"].as_str().unwrap_or("-")
                ));
            }
        }
        if let Some(firing) = sub.details.get("firing").and_then(Value::as_object) {
            let n = |k: &str| firing.get(k).and_then(Value::as_u64).unwrap_or(0);
            text.push_str(&format!(
                "\n  alerts firing: {} (critical {}, error {}, warning {})",
                n("critical") + n("error") + n("warning"),
                n("critical"),
                n("error"),
                n("warning")
            ));
        }
        if let Some(backlog) = sub.details.get("backlog").and_then(Value::as_object) {
            let n =
                |group: &str, k: &str| backlog[group].get(k).and_then(Value::as_u64).unwrap_or(0);
            let oldest = backlog
                .get("oldest_new_hours")
                .and_then(Value::as_f64)
                .map_or(String::new(), |h| {
                    format!("; the oldest new one waits {h:.0} h")
                });
            text.push_str(&format!(
                "\n  feedback backlog: {} open (new {}, acknowledged {}, in progress {}; critical {}, high {}){oldest}",
                backlog.get("open").and_then(Value::as_u64).unwrap_or(0),
                n("by_status", "new"),
                n("by_status", "acknowledged"),
                n("by_status", "in_progress"),
                n("by_priority", "critical"),
                n("by_priority", "high")
            ));
        }
        if !sub.drift.is_empty() {
            text.push_str("\n  drift since the last deployment:");
            for d in &sub.drift {
                text.push_str(&format!("\n    {}", drift_line(d)));
            }
        }
    }
    if !s.recent_deployments.is_empty() {
        text.push_str("\n\nlast deployments:\n");
        let rows: Vec<Vec<String>> = s
            .recent_deployments
            .iter()
            .map(|d| {
                vec![
                    d.id.to_string(),
                    rfc3339(d.at_ms),
                    d.actor.clone(),
                    match d.rolled_back_to {
                        Some(to) => format!("rollback to {to}"),
                        None => d.action.clone(),
                    },
                    d.changed.to_string(),
                    format!("{:.0} ms", d.duration_ms),
                ]
            })
            .collect();
        text.push_str(&table(
            &["id", "at", "actor", "action", "changed", "took"],
            &rows,
        ));
    }
    text
}

fn history_text(list: &[Deployment]) -> String {
    if list.is_empty() {
        return "no deployments yet".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                rfc3339(d.at_ms),
                d.actor.clone(),
                match d.rolled_back_to {
                    Some(to) => format!("rollback to {to}"),
                    None => d.action.clone(),
                },
                d.config_dir.clone().unwrap_or_else(|| "-".into()),
                d.on_drift.as_str().to_string(),
                d.changed().to_string(),
                format!("{:.0} ms", d.duration_ms),
            ]
        })
        .collect();
    table(
        &[
            "id", "at", "actor", "action", "from", "on drift", "changed", "took",
        ],
        &rows,
    )
}

fn deployment_text(d: &Deployment) -> String {
    let mut text = format!(
        "deployment {}: {} by {} at {} (on drift: {}, {:.0} ms)",
        d.id,
        match d.rolled_back_to {
            Some(to) => format!("rollback to {to}"),
            None => d.action.clone(),
        },
        d.actor,
        rfc3339(d.at_ms),
        d.on_drift.as_str(),
        d.duration_ms
    );
    if let Some(dir) = &d.config_dir {
        text.push_str(&format!("\nfrom {dir}"));
    }
    for f in &d.files {
        text.push_str(&format!(
            "\n  {} version {} sha256 {}",
            f.file, f.source_version, f.sha256
        ));
    }
    for s in &d.plan {
        text.push('\n');
        text.push_str(&section_text(s, false));
    }
    if let Some(b) = &d.backup {
        text.push_str(&format!("\nbackup before: {b}"));
    }
    text
}

fn backups_text(cha: &Cha, list: &[Backup]) -> String {
    if list.is_empty() {
        return format!("no backups in {}", cha.backup_dir().display());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            vec![
                b.name.clone(),
                rfc3339(b.created_at_ms),
                b.reason.clone(),
                b.size_bytes.to_string(),
            ]
        })
        .collect();
    format!(
        "{}\n{}",
        cha.backup_dir().display(),
        table(&["name", "created", "reason", "bytes"], &rows)
    )
}
