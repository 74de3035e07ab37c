//! Deployments through the handle: the plan, drift and the three choices,
//! per-subsystem deploys, files that are not files, the history, the
//! canonical export, exact rollback, backups and the status.

use std::path::{Path, PathBuf};

use cha_deploy::experiments::ExperimentStatus;
use cha_deploy::flags::Context;
use cha_deploy::{Action, Cha, DeployOptions, DriftKind, ErrorKind, OnDrift, OpenOptions};
use serde_json::json;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cha-deploy-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// A copy of the repository's configs/ with `edit` applied to one file.
    fn configs_with(&self, name: &str, file: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "feature_flags.yml",
            "ab_tests.yml",
            "performance_monitoring.yml",
        ] {
            let text = std::fs::read_to_string(configs().join(f)).unwrap();
            let text = if f == file { edit(text) } else { text };
            std::fs::write(dir.join(f), text).unwrap();
        }
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

fn options(on_drift: OnDrift) -> DeployOptions {
    DeployOptions {
        actor: Some("ci".into()),
        on_drift,
        ..DeployOptions::default()
    }
}

fn deployed(s: &Scratch) -> Cha {
    let cha = Cha::open(s.path("cha.db")).unwrap();
    cha.deploy(configs(), &options(OnDrift::Refuse)).unwrap();
    cha
}

fn percentage(cha: &Cha, flag: &str) -> Option<f64> {
    cha.flag(flag).unwrap().definition.percentage
}

/// The operator's evening: a rollout step, a paused test, a flag created at
/// runtime and a kill switch, then a deploy of the unchanged files.
fn runtime_changes(cha: &Cha) {
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 60}), "ops")
        .unwrap();
    cha.set_experiment_status("pipe_sizing_comparison", ExperimentStatus::Paused, "ops")
        .unwrap();
    cha.update_flag(
        "night_mode",
        &json!({"type": "boolean", "enabled": true}),
        "ops",
    )
    .unwrap();
    cha.update_flag("cost_optimisation", &json!({"enabled": false}), "ops")
        .unwrap();
}

#[test]
fn a_deploy_refuses_to_undo_runtime_changes_and_says_what() {
    let s = Scratch::new("refuse");
    let cha = deployed(&s);
    runtime_changes(&cha);
    let before = cha.export_configuration().unwrap();
    let history = cha.deployments(100).unwrap().len();
    let err = cha
        .deploy(configs(), &options(OnDrift::Refuse))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Drift, "{err}");
    let m = err.message();
    for line in [
        "feature_flags.yml: flag `intelligent_pipe_sizing`: undo its runtime change (percentage 60 → 25)",
        "feature_flags.yml: flag `cost_optimisation`: undo its runtime change (enabled false → true)",
        "feature_flags.yml: flag `night_mode` (created at runtime): delete it, though the target does not mention it",
        "ab_tests.yml: experiment `pipe_sizing_comparison`: undo its runtime change (status paused → running)",
    ] {
        assert!(m.contains(line), "missing {line:?} in:\n{m}");
    }
    assert!(m.contains("on_drift \"overwrite\""), "{m}");
    // Nothing changed, nothing was recorded, no backup was taken.
    assert_eq!(cha.export_configuration().unwrap(), before);
    assert_eq!(cha.deployments(100).unwrap().len(), history);
    assert_eq!(cha.backups().unwrap().len(), 1, "only the first deploy's");
}

#[test]
fn overwrite_lets_the_files_win() {
    let s = Scratch::new("overwrite");
    let cha = deployed(&s);
    runtime_changes(&cha);
    let report = cha.deploy(configs(), &options(OnDrift::Overwrite)).unwrap();
    assert_eq!(
        report.changes["flags"].updated,
        ["cost_optimisation", "intelligent_pipe_sizing"]
    );
    assert_eq!(report.changes["flags"].removed, ["night_mode"]);
    assert_eq!(
        report.changes["experiments"].updated,
        ["pipe_sizing_comparison"]
    );
    assert_eq!(percentage(&cha, "intelligent_pipe_sizing"), Some(25.0));
    assert!(cha.flag("cost_optimisation").unwrap().definition.enabled);
    assert_eq!(
        cha.experiment("pipe_sizing_comparison")
            .unwrap()
            .definition
            .status,
        ExperimentStatus::Running
    );
    // The history says which runtime changes were overwritten.
    let d = cha.deployment(report.deployment_id).unwrap();
    assert_eq!(d.on_drift, OnDrift::Overwrite);
    let outcomes: Vec<(&str, &str)> = d
        .drift
        .iter()
        .map(|x| (x.drift.name.as_str(), x.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("cost_optimisation", "overwritten"),
            ("intelligent_pipe_sizing", "overwritten"),
            ("night_mode", "overwritten"),
            ("pipe_sizing_comparison", "overwritten")
        ]
    );
}

#[test]
fn keep_runtime_keeps_runtime_changes_and_applies_what_the_files_changed() {
    let s = Scratch::new("keep");
    let cha = deployed(&s);
    runtime_changes(&cha);
    // Meanwhile the files change a description and the kill-switched flag's
    // own description: both arrive, the runtime values stay.
    let dir = s.configs_with("changed", "feature_flags.yml", |t| {
        t.replacen("description:", "description: Reworded.", 1)
    });
    let report = cha.deploy(&dir, &options(OnDrift::KeepRuntime)).unwrap();
    assert_eq!(
        report.changes["flags"].kept,
        ["cost_optimisation", "intelligent_pipe_sizing", "night_mode"]
    );
    assert_eq!(
        report.changes["experiments"].kept,
        ["pipe_sizing_comparison"]
    );
    assert_eq!(percentage(&cha, "intelligent_pipe_sizing"), Some(60.0));
    assert!(!cha.flag("cost_optimisation").unwrap().definition.enabled);
    assert!(
        !cha.is_enabled("cost_optimisation", &Context::user("planner-1"))
            .unwrap(),
        "a kill switch off at runtime stays off"
    );
    assert!(cha.flag("night_mode").is_ok());
    assert_eq!(
        cha.experiment("pipe_sizing_comparison")
            .unwrap()
            .definition
            .status,
        ExperimentStatus::Paused
    );
    // Kept drift stays drift: the next plain deploy still refuses.
    let err = cha
        .deploy(configs(), &options(OnDrift::Refuse))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Drift);
}

#[test]
fn keep_runtime_merges_field_by_field() {
    let s = Scratch::new("merge");
    let cha = deployed(&s);
    cha.update_flag("intelligent_pipe_sizing", &json!({"enabled": false}), "ops")
        .unwrap();
    // The files raise the rollout to 50%.
    let dir = s.configs_with("fifty", "feature_flags.yml", |t| {
        t.replacen("percentage: 25", "percentage: 50", 1)
    });
    let plan = cha
        .plan_deployment(&dir, &options(OnDrift::KeepRuntime))
        .unwrap();
    let change = plan.sections[0]
        .changes
        .iter()
        .find(|c| c.name == "intelligent_pipe_sizing")
        .unwrap();
    assert_eq!(change.action, Action::Update);
    assert_eq!(change.fields.len(), 1, "{change:?}");
    assert_eq!(change.fields[0].field, "percentage");
    cha.deploy(&dir, &options(OnDrift::KeepRuntime)).unwrap();
    let def = cha.flag("intelligent_pipe_sizing").unwrap().definition;
    assert_eq!((def.enabled, def.percentage), (false, Some(50.0)));
}

#[test]
fn a_plan_shows_every_change_and_writes_nothing() {
    let s = Scratch::new("plan");
    let cha = deployed(&s);
    runtime_changes(&cha);
    let export = cha.export_configuration().unwrap();
    let plan = cha
        .plan_deployment(configs(), &DeployOptions::default())
        .unwrap();
    assert_eq!(plan.last_deployment, Some(1));
    assert_eq!(plan.refused.len(), 4, "{:#?}", plan.refused);
    let flags = &plan.sections[0];
    assert_eq!(flags.subsystem, "feature_flags");
    let sizing = flags
        .changes
        .iter()
        .find(|c| c.name == "intelligent_pipe_sizing")
        .unwrap();
    assert!(sizing.undoes_drift);
    assert_eq!(sizing.fields[0].field, "percentage");
    assert_eq!(sizing.fields[0].before, Some(json!(60.0)));
    assert_eq!(sizing.fields[0].after, Some(json!(25.0)));
    let drift = flags.drift.iter().find(|d| d.name == "night_mode").unwrap();
    assert_eq!(drift.kind, DriftKind::Created);
    assert_eq!(drift.actor.as_deref(), Some("ops"));
    assert_eq!(drift.action.as_deref(), Some("create"));
    assert!(drift.at_ms.is_some());
    assert_eq!(cha.export_configuration().unwrap(), export);
    assert_eq!(cha.deployments(100).unwrap().len(), 1);
}

#[test]
fn one_subsystem_at_a_time() {
    let s = Scratch::new("subsystems");
    let cha = Cha::open(s.path("cha.db")).unwrap();
    let only_tests = DeployOptions {
        subsystems: vec!["ab-testing".into()],
        ..options(OnDrift::Refuse)
    };
    let report = cha.deploy(configs(), &only_tests).unwrap();
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].file, "ab_tests.yml");
    assert_eq!(report.files[0].sha256.len(), 64);
    assert!(cha.flags().unwrap().is_empty());
    assert_eq!(cha.experiments().unwrap().len(), 3);
    let unknown = DeployOptions {
        subsystems: vec!["feature-flagz".into()],
        ..options(OnDrift::Refuse)
    };
    let err = cha.deploy(configs(), &unknown).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        err.message(),
        "unknown subsystem `feature-flagz` (known: feature_flags, ab_tests, performance_monitoring, user_feedback)"
    );
    // A chosen subsystem whose file is missing is not skipped.
    let dir = s.path("tests-only");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(configs().join("ab_tests.yml"), dir.join("ab_tests.yml")).unwrap();
    let flags = DeployOptions {
        subsystems: vec!["feature_flags".into()],
        ..options(OnDrift::Refuse)
    };
    let err = cha.deploy(&dir, &flags).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("has no feature_flags.yml"), "{err}");
}

#[test]
fn options_json_names_what_is_wrong() {
    let parse = |text: &str| {
        DeployOptions::from_json(Some(text))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        parse("[1]"),
        "deploy options: expected a JSON object such as {\"on_drift\": \"keep_runtime\"}"
    );
    assert!(
        parse("{\"on_drift\": \"maybe\"}")
            .starts_with("deploy options: `on_drift`: unknown variant `maybe`")
    );
    assert!(
        parse("{\"subsystems\": \"ab_tests\"}")
            .starts_with("deploy options: `subsystems`: invalid type")
    );
    assert!(parse("{\"force\": true}").starts_with("deploy options: unknown field `force`"));
    let ok = DeployOptions::from_json(Some(
        "{\"actor\": \"ci\", \"subsystems\": [\"ab_tests\"], \"on_drift\": \"keep_runtime\"}",
    ))
    .unwrap();
    assert_eq!(ok.on_drift, OnDrift::KeepRuntime);
    assert_eq!(
        DeployOptions::from_json(None).unwrap(),
        DeployOptions::default()
    );
}

#[cfg(unix)]
#[test]
fn a_config_name_that_is_not_a_regular_file_is_an_error() {
    let s = Scratch::new("special");
    let cha = deployed(&s);
    let export = cha.export_configuration().unwrap();
    type Make = fn(&Path);
    let cases: [(&str, Make); 3] = [
        ("folder", |p| std::fs::create_dir(p).unwrap()),
        ("dangling link", |p| {
            std::os::unix::fs::symlink("nowhere.yml", p).unwrap()
        }),
        ("fifo", |p| {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }),
    ];
    for (i, (what, make)) in cases.iter().enumerate() {
        let dir = s.path(&format!("special-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(configs().join("ab_tests.yml"), dir.join("ab_tests.yml")).unwrap();
        make(&dir.join("feature_flags.yml"));
        let err = cha.deploy(&dir, &options(OnDrift::Overwrite)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{what}: {err}");
        assert!(err.message().contains("feature_flags.yml"), "{what}: {err}");
        assert_eq!(cha.export_configuration().unwrap(), export, "{what}");
    }
}

#[test]
fn an_invalid_file_changes_nothing() {
    let s = Scratch::new("invalid");
    let cha = deployed(&s);
    let dir = s.configs_with("bad", "feature_flags.yml", |t| {
        t.replacen("percentage: 25", "percentage: 250", 1)
    });
    let err = cha.deploy(&dir, &options(OnDrift::Overwrite)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.message().contains(
            "flags.intelligent_pipe_sizing.percentage: must be between 0 and 100, not 250"
        ),
        "{err}"
    );
    assert_eq!(cha.deployments(10).unwrap().len(), 1);
    assert_eq!(percentage(&cha, "intelligent_pipe_sizing"), Some(25.0));
}

#[test]
fn rollback_restores_the_exact_bytes_and_keeps_the_data() {
    let s = Scratch::new("rollback");
    let cha = deployed(&s);
    // Data collected under the first deployment.
    for i in 0..40 {
        let unit = format!("engineer-{i:03}");
        if cha
            .assign("pipe_sizing_comparison", &unit)
            .unwrap()
            .variant
            .is_some()
        {
            cha.record(
                "pipe_sizing_comparison",
                &unit,
                "pipe_cost_efficiency",
                40.0 + f64::from(i),
            )
            .unwrap();
        }
    }
    let before = cha.export_configuration().unwrap();
    let exposed = |cha: &Cha| -> u64 {
        cha.analyze_experiment("pipe_sizing_comparison", Default::default())
            .unwrap()
            .variants
            .iter()
            .map(|v| v.exposures)
            .sum()
    };
    let units_before = exposed(&cha);
    assert!(units_before > 0);
    let dir = s.configs_with("fifty", "feature_flags.yml", |t| {
        t.replacen("percentage: 25", "percentage: 50", 1)
    });
    cha.deploy(&dir, &options(OnDrift::Refuse)).unwrap();
    assert_ne!(cha.export_configuration().unwrap(), before);
    let report = cha
        .rollback_deployment(0, &options(OnDrift::Refuse))
        .unwrap();
    assert_eq!(report.rolled_back_to, Some(1));
    assert_eq!(report.action, "rollback");
    assert!(report.duration_ms < 1000.0, "{} ms", report.duration_ms);
    assert_eq!(cha.export_configuration().unwrap(), before, "byte for byte");
    assert_eq!(percentage(&cha, "intelligent_pipe_sizing"), Some(25.0));
    assert_eq!(exposed(&cha), units_before);
    // Recorded as a deployment; another step back has nowhere to go.
    assert_eq!(cha.deployments(10).unwrap()[0].rolled_back_to, Some(1));
    let err = cha
        .rollback_deployment(0, &options(OnDrift::Refuse))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    // Forward again, to deployment 2 by its id.
    cha.rollback_deployment(2, &options(OnDrift::Refuse))
        .unwrap();
    assert_eq!(percentage(&cha, "intelligent_pipe_sizing"), Some(50.0));
}

#[test]
fn rollback_errors_name_the_deployments() {
    let s = Scratch::new("rollback-errors");
    let cha = Cha::open(s.path("cha.db")).unwrap();
    let none = cha
        .rollback_deployment(0, &DeployOptions::default())
        .unwrap_err();
    assert_eq!(none.message(), "there is no deployment to roll back");
    cha.deploy(configs(), &DeployOptions::default()).unwrap();
    let err = cha
        .rollback_deployment(7, &DeployOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.message(),
        "deployment 7 does not exist (the only one is 1)"
    );
    let err = cha
        .rollback_deployment(-1, &DeployOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // A rollback that would undo a runtime change refuses as a deploy does.
    let dir = s.configs_with("fifty", "feature_flags.yml", |t| {
        t.replacen("percentage: 25", "percentage: 50", 1)
    });
    cha.deploy(&dir, &DeployOptions::default()).unwrap();
    cha.update_flag("intelligent_pipe_sizing", &json!({"enabled": false}), "ops")
        .unwrap();
    let err = cha
        .rollback_deployment(0, &DeployOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Drift, "{err}");
    cha.rollback_deployment(0, &options(OnDrift::KeepRuntime))
        .unwrap();
    let def = cha.flag("intelligent_pipe_sizing").unwrap().definition;
    assert_eq!((def.enabled, def.percentage), (false, Some(25.0)));
}

#[test]
fn backups_are_private_restorable_and_pruned() {
    let s = Scratch::new("backups");
    let options = OpenOptions {
        backups_kept: 2,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    cha.deploy(configs(), &DeployOptions::default()).unwrap();
    let first = cha.backups().unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].reason, "deploy");
    assert_eq!(cha.backup_dir(), s.path("cha.db-backups"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first[0].path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "backup mode {mode:o}");
        let mode = std::fs::metadata(cha.backup_dir())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700, "backup folder mode {mode:o}");
    }
    // A backup taken after the deploy holds the deployed flags.
    let taken = cha.create_backup("manual").unwrap();
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 90}), "ops")
        .unwrap();
    let report = cha.restore_backup(&taken.name, "ops").unwrap();
    assert_eq!(report.action, "restore");
    assert_eq!(percentage(&cha, "intelligent_pipe_sizing"), Some(25.0));
    // The restore took a backup first: the 90% state is not lost.
    let names: Vec<String> = cha
        .backups()
        .unwrap()
        .into_iter()
        .map(|b| b.reason)
        .collect();
    assert_eq!(names, ["manual", "restore"], "two kept, oldest dropped");
    // `latest` is the newest backup: here the one the restore took, so
    // restoring it undoes the restore.
    cha.restore_backup("latest", "ops").unwrap();
    assert_eq!(percentage(&cha, "intelligent_pipe_sizing"), Some(90.0));
    let err = cha.create_backup("no spaces!").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = cha.restore_backup("cha.db.nope.db", "ops").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // A damaged backup changes nothing.
    let fake = cha
        .backup_dir()
        .join("cha.db.20260101T000000.000Z.manual.db");
    std::fs::write(&fake, "not a database").unwrap();
    let err = cha
        .restore_backup(fake.to_str().unwrap(), "ops")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert_eq!(percentage(&cha, "intelligent_pipe_sizing"), Some(90.0));
}

#[test]
fn a_restore_reaches_another_handle() {
    let s = Scratch::new("restore-other");
    let cha = deployed(&s);
    let taken = cha.create_backup("manual").unwrap();
    cha.update_flag("intelligent_pipe_sizing", &json!({"enabled": false}), "ops")
        .unwrap();
    let other = Cha::open(s.path("cha.db")).unwrap();
    let planner = Context::user("planner-042");
    other.refresh().unwrap();
    assert!(
        !other
            .is_enabled("intelligent_pipe_sizing", &planner)
            .unwrap()
    );
    cha.restore_backup(&taken.name, "ops").unwrap();
    other.refresh().unwrap();
    assert!(
        other
            .flag("intelligent_pipe_sizing")
            .unwrap()
            .definition
            .enabled
    );
    assert_eq!(
        other
            .evaluate_flag("intelligent_pipe_sizing", &planner)
            .reason,
        cha.evaluate_flag("intelligent_pipe_sizing", &planner)
            .reason
    );
}

#[test]
fn the_status_shows_rollouts_tests_drift_and_history() {
    let s = Scratch::new("status");
    let cha = deployed(&s);
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 60}), "ops")
        .unwrap();
    let status = cha.deployment_status().unwrap();
    assert_eq!(status.last_deployment.as_ref().unwrap().id, 1);
    let flags = &status.subsystems[0];
    assert_eq!(
        (flags.subsystem.as_str(), flags.count),
        ("feature_flags", 10)
    );
    assert_eq!(flags.deployed_by, Some(1));
    assert_eq!(flags.deployed_file.as_ref().unwrap().source_version, 2);
    let rollouts = flags.details["rollouts"].as_array().unwrap();
    let sizing = rollouts
        .iter()
        .find(|r| r["flag"] == "intelligent_pipe_sizing")
        .unwrap();
    assert_eq!(sizing["percentage"], json!(60.0));
    assert_eq!(flags.drift.len(), 1);
    assert_eq!(flags.drift[0].actor.as_deref(), Some("ops"));
    let tests = &status.subsystems[1];
    let running = cha
        .experiments()
        .unwrap()
        .iter()
        .filter(|e| e.definition.status == ExperimentStatus::Running)
        .count();
    assert_eq!(tests.details["running"], json!(running));
    assert_eq!(tests.details["tests"].as_array().unwrap().len(), 3);
    assert_eq!(status.recent_deployments.len(), 1);
}

#[test]
fn a_config_directory_validates_without_a_database() {
    let files = cha_deploy::validate_config_dir(configs(), &[]).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(
        names,
        [
            "feature_flags.yml",
            "ab_tests.yml",
            "performance_monitoring.yml",
            "user_feedback.yml"
        ]
    );
    assert!(files.iter().all(|f| f.sha256.len() == 64));
    let s = Scratch::new("validate");
    // A flag linked to an experiment the directory does not hold.
    let dir = s.path("flags-only");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        configs().join("feature_flags.yml"),
        dir.join("feature_flags.yml"),
    )
    .unwrap();
    let linked = std::fs::read_to_string(dir.join("feature_flags.yml"))
        .unwrap()
        .contains("experiment:");
    let result = cha_deploy::validate_config_dir(&dir, &[]);
    assert_eq!(result.is_err(), linked, "{result:?}");
}

/// Observations recorded while an experiment is deleted, or before a
/// deleted one comes back, are not lost: its summaries are rebuilt from the
/// unit totals the fold kept.
#[test]
fn an_experiment_rolled_back_into_existence_keeps_its_observations() {
    let s = Scratch::new("fold-rollback");
    let cha = deployed(&s);
    let mut recorded = 0;
    for i in 0..40 {
        let unit = format!("engineer-{i:03}");
        if cha
            .assign("pipe_sizing_comparison", &unit)
            .unwrap()
            .variant
            .is_some()
        {
            cha.record(
                "pipe_sizing_comparison",
                &unit,
                "pipe_cost_efficiency",
                40.0 + f64::from(i),
            )
            .unwrap();
            recorded += 1;
        }
    }
    cha.flush().unwrap();
    // A deployment without the test, then a fold (by analysing another
    // test), then the rollback that brings it back.
    let dir = s.configs_with("without", "ab_tests.yml", |t| {
        let start = t.find("  pipe_sizing_comparison:").unwrap();
        let end = t[start + 3..]
            .find("\n  flow_calculation_comparison:")
            .map_or(t.len(), |e| start + 3 + e);
        format!("{}{}", &t[..start], &t[end + 1..])
    });
    let without = std::fs::read_to_string(dir.join("feature_flags.yml"))
        .unwrap()
        .replace(
            "experiment: pipe_sizing_comparison",
            "variants: [{name: a, weight: 100}]",
        );
    std::fs::write(dir.join("feature_flags.yml"), without).unwrap();
    cha.deploy(&dir, &options(OnDrift::Overwrite)).unwrap();
    assert!(cha.experiment("pipe_sizing_comparison").is_err());
    cha.analyze_experiment("flow_calculation_comparison", Default::default())
        .unwrap();
    cha.rollback_deployment(0, &options(OnDrift::Overwrite))
        .unwrap();
    let report = cha
        .analyze_experiment("pipe_sizing_comparison", Default::default())
        .unwrap();
    let metric = &report.metrics[0];
    let n: u64 = metric.control.n
        + metric
            .comparisons
            .iter()
            .map(|c| c.treatment.n)
            .sum::<u64>();
    assert_eq!(n, recorded, "{:#?}", report.metrics[0]);
}

#[test]
fn only_a_cha_deploy_database_is_restored() {
    let s = Scratch::new("restore-foreign");
    let cha = deployed(&s);
    let dir = cha.backup_dir();
    // An empty SQLite file and another program's database, named as backups.
    let empty = dir.join("cha.db.20260101T000000.000Z.manual.db");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = cha
        .restore_backup(empty.to_str().unwrap(), "ops")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(
        err.message().contains("is not a cha-deploy database"),
        "{err}"
    );
    assert_eq!(cha.flags().unwrap().len(), 10, "nothing was restored");
}

/// Drift a deployment kept is still drift, and still names who made it.
#[test]
fn kept_drift_keeps_its_author() {
    let s = Scratch::new("kept-author");
    let cha = deployed(&s);
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 60}), "ops")
        .unwrap();
    cha.deploy(configs(), &options(OnDrift::KeepRuntime))
        .unwrap();
    let status = cha.deployment_status().unwrap();
    let drift = &status.subsystems[0].drift;
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].actor.as_deref(), Some("ops"));
    assert_eq!(drift[0].action.as_deref(), Some("update"));
    assert!(drift[0].at_ms.is_some());
}

#[test]
fn a_rollback_of_one_subsystem_leaves_the_others() {
    let s = Scratch::new("rollback-one");
    let cha = deployed(&s);
    let dir = s.configs_with("changed", "feature_flags.yml", |t| {
        t.replacen("percentage: 25", "percentage: 50", 1)
    });
    let dir = {
        let tests = std::fs::read_to_string(dir.join("ab_tests.yml"))
            .unwrap()
            .replacen("minimum_sample_size: 1000", "minimum_sample_size: 2000", 1);
        std::fs::write(dir.join("ab_tests.yml"), tests).unwrap();
        dir
    };
    cha.deploy(&dir, &options(OnDrift::Refuse)).unwrap();
    let only_tests = DeployOptions {
        subsystems: vec!["ab_tests".into()],
        ..options(OnDrift::Refuse)
    };
    let report = cha.rollback_deployment(1, &only_tests).unwrap();
    assert!(report.changes["flags"].updated.is_empty());
    assert_eq!(
        percentage(&cha, "intelligent_pipe_sizing"),
        Some(50.0),
        "flags stay"
    );
    let bad = DeployOptions {
        subsystems: vec!["nonsense".into()],
        ..options(OnDrift::Refuse)
    };
    let err = cha.rollback_deployment(1, &bad).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let blank = DeployOptions {
        actor: Some("  ".into()),
        ..DeployOptions::default()
    };
    assert_eq!(
        cha.plan_deployment(configs(), &blank).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // The flags' drift-free state: a plain deploy of the changed files
    // changes nothing now, and the tests' rollback is drift of the files.
    let plan = cha
        .plan_deployment(&dir, &DeployOptions::default())
        .unwrap();
    assert!(plan.sections[0].changes.is_empty());
}

/// The status shows what needs attention in monitoring and feedback: the
/// alerts firing and the open feedback by status and priority.
#[test]
fn the_status_shows_firing_alerts_and_the_feedback_backlog() {
    let s = Scratch::new("status-backlog");
    let cha = deployed(&s);
    for (user, text) in [
        ("u1", "The sizing crashed and we lost data"),
        ("u2", "Great tool, it saves time"),
    ] {
        cha.submit_feedback_json(
            &json!({"type": "general_feedback", "text": text, "user_id": user}).to_string(),
        )
        .unwrap();
    }
    let status = cha.deployment_status().unwrap();
    let monitoring = &status.subsystems[2];
    assert_eq!(monitoring.subsystem, "performance_monitoring");
    assert_eq!(
        monitoring.details["firing"],
        json!({"warning": 0, "error": 0, "critical": 0})
    );
    let feedback = &status.subsystems[3];
    assert_eq!(feedback.subsystem, "user_feedback");
    let backlog = &feedback.details["backlog"];
    assert_eq!(backlog["open"], json!(2));
    assert_eq!(backlog["by_status"]["new"], json!(2));
    assert!(backlog["oldest_new_hours"].as_f64().unwrap() < 1.0);
}
