//! `cha-deploy demo`: a guided tour on a scratch database in a temporary
//! folder, removed at the end. It uses the same library calls, and the same
//! printing, as the commands it names.

use std::path::{Path, PathBuf};

use serde::Serialize;

use cha_deploy::deploy::DeployReport;
use cha_deploy::flags::Context;
use cha_deploy::store::flags::AuditEntry;
use cha_deploy::{Cha, Error, FlagChange, FlagEvaluation, FlagRecord};

use crate::flags::{change_text, history_text, list_text, on_off};
use crate::output::{Output, table};

const FLAG: &str = "intelligent_pipe_sizing";
const ACTOR: &str = "demo";
/// How many planners the share is counted over.
const SAMPLE: usize = 10_000;
/// How many planners are shown one by one.
const SHOWN: usize = 8;

/// A folder under the system's temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, Error> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("cha-deploy-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::storage(format!("{}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One planner's evaluation.
#[derive(Serialize)]
struct PlannerEval {
    user_id: String,
    evaluation: FlagEvaluation,
}

/// Everything the tour did, in order: the `--json` form of the demo.
#[derive(Serialize)]
struct Tour {
    deploy: DeployReport,
    flags: Vec<FlagRecord>,
    flag: String,
    prerequisite: String,
    sample_size: usize,
    split: Vec<PlannerEval>,
    enabled_in_sample: usize,
    kill_switch: FlagChange,
    after_kill_switch: Vec<PlannerEval>,
    enabled_in_sample_after_kill_switch: usize,
    history: Vec<AuditEntry>,
    restore: FlagChange,
    after_restore: PlannerEval,
}

pub fn run(out: &Output) -> Result<(), Error> {
    let scratch = Scratch::new()?;
    let configs = match find_configs() {
        Some(dir) => dir,
        None => {
            // An installed binary far from the repository: the template has
            // intelligent_pipe_sizing and its prerequisite too.
            let dir = scratch.0.join("configs");
            let text = cha_deploy::config::create_config_template(
                "feature_flags.yml",
                "cha_intelligent_sizing",
            )?;
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join("feature_flags.yml"), text))
                .map_err(|e| Error::storage(format!("{}: {e}", dir.display())))?;
            dir
        }
    };
    let cha = Cha::open(scratch.0.join("demo.db"))?;
    let tour = tour(&cha, &configs)?;
    cha.close()?;
    drop(scratch);
    out.print(&tour, || text(&tour));
    Ok(())
}

/// `configs/` of the current folder, else of the source tree this binary
/// was built from.
fn find_configs() -> Option<PathBuf> {
    [
        PathBuf::from("configs"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs"),
    ]
    .into_iter()
    .find(|dir| dir.join("feature_flags.yml").is_file())
}

fn planner(i: usize) -> String {
    format!("planner-{i:03}")
}

fn evaluate(cha: &Cha, user: &str) -> PlannerEval {
    PlannerEval {
        user_id: user.to_string(),
        evaluation: cha.evaluate_flag(FLAG, &Context::user(user)),
    }
}

fn count_enabled(cha: &Cha) -> usize {
    (1..=SAMPLE)
        .filter(|&i| cha.evaluate_flag(FLAG, &Context::user(&planner(i))).enabled)
        .count()
}

fn tour(cha: &Cha, configs: &Path) -> Result<Tour, Error> {
    let deploy = cha.deploy_all(configs, ACTOR)?;
    let flags = cha.flags()?;
    let definition = &cha.flag(FLAG)?.definition;
    let prerequisite = definition.prerequisites.first().cloned().ok_or_else(|| {
        Error::config(format!(
            "{}: {FLAG} has no prerequisite to show",
            configs.display()
        ))
    })?;

    let mut shown: Vec<usize> = (1..=SHOWN).collect();
    // Make sure at least one planner on screen has the new sizing.
    let first_on = (1..=SAMPLE)
        .find(|&i| cha.evaluate_flag(FLAG, &Context::user(&planner(i))).enabled)
        .ok_or_else(|| Error::config(format!("{FLAG} is on for nobody in {configs:?}")))?;
    if first_on > SHOWN {
        shown.push(first_on);
    }
    let split = shown.iter().map(|&i| evaluate(cha, &planner(i))).collect();
    let enabled_in_sample = count_enabled(cha);

    let kill_switch =
        cha.update_flag(&prerequisite, &serde_json::json!({"enabled": false}), ACTOR)?;
    let on_user = planner(first_on);
    let after_kill_switch = vec![evaluate(cha, &on_user)];
    let enabled_in_sample_after_kill_switch = count_enabled(cha);

    let history = cha.flag_history(&prerequisite)?;
    let first_version = history.first().and_then(|h| h.version).unwrap_or(1);
    let restore = cha.restore_flag(&prerequisite, first_version, ACTOR)?;
    let after_restore = evaluate(cha, &on_user);

    Ok(Tour {
        deploy,
        flags,
        flag: FLAG.into(),
        prerequisite,
        sample_size: SAMPLE,
        split,
        enabled_in_sample,
        kill_switch,
        after_kill_switch,
        enabled_in_sample_after_kill_switch,
        history,
        restore,
        after_restore,
    })
}

fn evals_table(evals: &[PlannerEval]) -> String {
    let rows: Vec<Vec<String>> = evals
        .iter()
        .map(|p| {
            vec![
                p.user_id.clone(),
                on_off(p.evaluation.enabled).into(),
                p.evaluation.reason.as_str().into(),
                p.evaluation.rule.clone(),
            ]
        })
        .collect();
    table(&["PLANNER", "ENABLED", "REASON", "RULE"], &rows)
}

fn share(n: usize) -> String {
    format!(
        "{n} of {SAMPLE} planners ({:.2}%)",
        n as f64 * 100.0 / SAMPLE as f64
    )
}

/// A numbered step: its title, the command that does the same, and what happened.
fn step(title: &str, command: &str, body: &str) -> String {
    let body: Vec<String> = body
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("   {l}")
            }
        })
        .collect();
    format!("\n{title}\n   $ {command}\n{}\n", body.join("\n"))
}

fn text(t: &Tour) -> String {
    let pre = &t.prerequisite;
    let on_user = &t.after_restore.user_id;
    let mut s = format!(
        "cha-deploy {} demo: feature flags of the CHA pipe-sizing system\n\
         (on a scratch database in a temporary folder, removed at the end)\n",
        cha_deploy::VERSION
    );
    let created = &t.deploy.flags.created;
    s += &step(
        "1. Deploy the config directory",
        "cha-deploy deploy --config-dir configs",
        &format!(
            "{} flags from {}/feature_flags.yml, validated, in one transaction.",
            created.len(),
            t.deploy.config_dir
        ),
    );
    s += &step(
        "2. The flags",
        "cha-deploy flags list",
        &list_text(&t.flags),
    );
    s += &step(
        &format!("3. Who gets {FLAG}?"),
        &format!("cha-deploy flags eval {FLAG} --user {on_user}"),
        &format!(
            "A 25% split by user id, sticky: the same planners on every run, in C, Python\n\
             and here. It requires {pre}, which is on for everyone.\n\n{}\n\n\
             {} get it.",
            evals_table(&t.split),
            share(t.enabled_in_sample)
        ),
    );
    s += &step(
        "4. Kill switch on the prerequisite",
        &format!("cha-deploy flags disable {pre}"),
        &format!(
            "{}\n\n{}\n\n{FLAG} is now off for everyone: {} get it.\n\
             Every open handle, in every process, sees this within 500 ms.",
            change_text(&t.kill_switch),
            evals_table(&t.after_kill_switch),
            share(t.enabled_in_sample_after_kill_switch)
        ),
    );
    s += &step(
        "5. History and restore",
        &format!("cha-deploy flags history {pre}"),
        &format!(
            "{}\n\n$ cha-deploy flags restore {pre} 1\n{}\n{on_user} has {FLAG} {} again ({}).",
            history_text(&t.history),
            change_text(&t.restore),
            on_off(t.after_restore.evaluation.enabled),
            t.after_restore.evaluation.reason.as_str()
        ),
    );
    s += &format!(
        "\nOn your own database (./cha.db, or --db PATH, or $CHA_DB):\n\
         \x20  cha-deploy deploy --config-dir configs\n\
         \x20  cha-deploy flags eval {FLAG} --user planner-042\n\
         \x20  cha-deploy flags disable {FLAG}       # kill switch: off for everyone\n\
         \x20  cha-deploy flags rollout {FLAG} 50    # widen the split\n\
         \x20  cha-deploy flags history {FLAG}\n\
         Add --json to any command for machine-readable output."
    );
    s
}
