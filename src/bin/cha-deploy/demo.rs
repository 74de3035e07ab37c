//! `cha-deploy demo`: a guided tour on a scratch database in a temporary
//! folder, removed at the end. It uses the same library calls, and the same
//! printing, as the commands it names.

use std::path::{Path, PathBuf};

use serde::Serialize;

use cha_deploy::AuditEntry;
use cha_deploy::DeployReport;
use cha_deploy::experiments::{AnalysisOptions, AnalysisReport};
use cha_deploy::flags::Context;
use cha_deploy::{AssignmentReport, Cha, Error, FlagChange, FlagEvaluation, FlagRecord};

use crate::ab_analysis::analysis_text;
use crate::flags::{change_text, history_text, list_text, on_off};
use crate::output::{Output, inline, table};

const FLAG: &str = "intelligent_pipe_sizing";
const ACTOR: &str = "demo";
/// How many planners the share is counted over.
const SAMPLE: usize = 10_000;
/// How many planners are shown one by one.
const SHOWN: usize = 8;
const TEST: &str = "pipe_sizing_comparison";
const METRIC: &str = "pipe_cost_efficiency";
/// How many engineers are assigned on screen.
const ENGINEERS_SHOWN: usize = 4;
/// The synthetic metric: traditional mean and standard deviation (kW/kEUR),
/// and intelligent sizing's relative improvement.
const BASE_MEAN: f64 = 40.0;
const BASE_SD: f64 = 8.0;
const LIFT: f64 = 0.05;

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
    ab: AbTour,
}

/// The A/B part of the tour.
#[derive(Serialize)]
struct AbTour {
    experiment: String,
    metric: String,
    assignments: Vec<AssignmentReport>,
    /// Engineers with a recorded value.
    recorded: usize,
    analysis: AnalysisReport,
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
    let prerequisite = definition
        .prerequisites
        .first()
        .map(|p| p.flag.clone())
        .ok_or_else(|| {
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
    let ab = ab_tour(cha)?;

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
        ab,
    })
}

fn engineer(i: usize) -> String {
    format!("engineer-{i:04}")
}

/// SplitMix64: a tiny deterministic generator, so every run shows the same numbers.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits in (0, 1].
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next_f64(), self.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Assigns engineers in the pipe-sizing test until every variant has its
/// minimum sample size, records synthetic results for each (intelligent
/// sizing about 5% more cost-efficient, the rest alike) and analyses.
fn ab_tour(cha: &Cha) -> Result<AbTour, Error> {
    let assignments = (1..=ENGINEERS_SHOWN)
        .map(|i| cha.assignment(TEST, &engineer(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let definition = cha.experiment(TEST)?.definition;
    let mut per_variant = vec![0u64; definition.variants.len()];
    let mut rng = SplitMix(2026);
    let mut recorded = 0;
    while per_variant
        .iter()
        .any(|&n| n < definition.minimum_sample_size)
    {
        recorded += 1;
        let unit = engineer(recorded);
        let variant = cha.assign(TEST, &unit)?.variant.ok_or_else(|| {
            Error::config(format!("{unit} has no variant in {TEST}: is it running?"))
        })?;
        per_variant[usize::from(variant.index)] += 1;
        let lift = if &*variant.name == "intelligent" {
            LIFT
        } else {
            0.0
        };
        let efficiency = BASE_MEAN * (1.0 + lift) + BASE_SD * rng.normal();
        cha.record(TEST, &unit, METRIC, efficiency)?;
        cha.record(
            TEST,
            &unit,
            "pressure_drop_pa_per_m",
            100.0 + 15.0 * rng.normal(),
        )?;
        cha.record(TEST, &unit, "sizing_time_ms", 250.0 + 40.0 * rng.normal())?;
        let violation = f64::from(u8::from(rng.next_f64() < 0.03));
        cha.record(TEST, &unit, "velocity_violations", violation)?;
    }
    // Analysis reads what is persisted.
    cha.flush()?;
    let analysis = cha.analyze_experiment(TEST, AnalysisOptions::default())?;
    Ok(AbTour {
        experiment: TEST.into(),
        metric: METRIC.into(),
        assignments,
        recorded,
        analysis,
    })
}

fn evals_table(evals: &[PlannerEval]) -> String {
    let rows: Vec<Vec<String>> = evals
        .iter()
        .map(|p| {
            vec![
                p.user_id.clone(),
                on_off(p.evaluation.enabled),
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
        "cha-deploy {} demo: feature flags and A/B tests of the CHA pipe-sizing system\n\
         (on a scratch database in a temporary folder, removed at the end)\n",
        cha_deploy::VERSION
    );
    let created_of = |items: &str| t.deploy.changes.get(items).map_or(0, |c| c.created.len());
    s += &step(
        "1. Deploy the config directory",
        "cha-deploy deploy --config-dir configs",
        &format!(
            "{} flags and {} A/B tests from {}, validated, in one transaction.",
            created_of("flags"),
            created_of("experiments"),
            t.deploy.config_dir.as_deref().unwrap_or("")
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
    s += &ab_text(&t.ab);
    s += &format!(
        "\nOn your own database (./cha.db, or --db PATH, or $CHA_DB):\n\
         \x20  cha-deploy deploy --config-dir configs\n\
         \x20  cha-deploy flags eval {FLAG} --user planner-042\n\
         \x20  cha-deploy flags disable {FLAG}       # kill switch: off for everyone\n\
         \x20  cha-deploy flags rollout {FLAG} 50    # widen the split\n\
         \x20  cha-deploy flags history {FLAG}\n\
         \x20  cha-deploy ab assign {TEST} engineer-0042\n\
         \x20  cha-deploy ab record {TEST} engineer-0042 {METRIC} 41.7\n\
         \x20  cha-deploy ab analyze {TEST}\n\
         Add --json to any command for machine-readable output."
    );
    s
}

fn ab_text(ab: &AbTour) -> String {
    let rows: Vec<Vec<String>> = ab
        .assignments
        .iter()
        .map(|a| {
            vec![
                a.unit.clone(),
                a.variant.clone().unwrap_or("-".into()),
                a.reason.as_str().into(),
            ]
        })
        .collect();
    let mut configurations: Vec<String> = Vec::new();
    for a in &ab.assignments {
        if let (Some(v), Some(c)) = (&a.variant, &a.configuration) {
            let line = format!("{v}: {}", inline(c));
            if !configurations.contains(&line) {
                configurations.push(line);
            }
        }
    }
    let first = &ab.assignments[0].unit;
    let a = &ab.analysis;
    let mut s = step(
        &format!("6. A/B test: which sizing does an engineer get in {TEST}?"),
        &format!("cha-deploy ab assign {TEST} {first}"),
        &format!(
            "Deterministic and sticky, like the flags; each variant comes with the\n\
             configuration the sizing code runs with.\n\n{}\n\n{}",
            table(&["ENGINEER", "VARIANT", "REASON"], &rows),
            configurations.join("\n")
        ),
    );
    s += &step(
        "7. Record results and analyse",
        &format!("cha-deploy ab record {TEST} {first} {METRIC} 41.7"),
        &format!(
            "Synthetic results of {} engineers, until each variant has its minimum sample:\n\
             {METRIC} about {BASE_MEAN} kW/kEUR with traditional sizing and {}% more with\n\
             intelligent sizing; pressure drop, sizing time and velocity violations alike.\n\n\
             $ cha-deploy ab analyze {TEST}\n{}\n\n\
             The test has run for seconds, not the minimum {} days (weekday and weekend\n\
             planning both count), so the verdict is: {}.",
            ab.recorded,
            LIFT * 100.0,
            analysis_text(a).trim_end(),
            a.minimum_duration_days,
            a.recommendation
        ),
    );
    s
}
