//! `cha-deploy deploy|plan|rollback|status|export|history|backup|validate`
//! as an operator runs them: the drift scenario with each choice, exit
//! codes, and commands that only look write nothing.
#![cfg(feature = "cli")]

mod common;

use common::cli::{Scratch, configs};
use serde_json::json;

/// The scenario that used to lose runtime changes: a rollout step, a pause
/// and a flag created at runtime, then a deploy of the unchanged files.
fn drifted(name: &str) -> Scratch {
    let s = Scratch::deployed(name);
    s.ok(&[
        "flags",
        "rollout",
        "intelligent_pipe_sizing",
        "60",
        "--actor",
        "ops",
    ]);
    s.ok(&["ab", "pause", "pipe_sizing_comparison", "--actor", "ops"]);
    s.ok(&[
        "flags",
        "set",
        "night_mode",
        r#"{"type": "boolean", "enabled": true}"#,
        "--actor",
        "ops",
    ]);
    s
}

fn percentage(s: &Scratch) -> serde_json::Value {
    s.json(&["flags", "show", "intelligent_pipe_sizing"])["definition"]["percentage"].clone()
}

fn status_of_test(s: &Scratch) -> serde_json::Value {
    s.json(&["ab", "show", "pipe_sizing_comparison"])["definition"]["status"].clone()
}

#[test]
fn a_deploy_refuses_to_undo_runtime_changes() {
    let s = drifted("cli-refuse");
    let o = s.run(&["deploy", "--config-dir", &configs()]);
    assert_eq!(o.status.code(), Some(9));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.starts_with("cha-deploy: error: deploy refused:"),
        "{err}"
    );
    assert!(
        err.contains(
            "flag `intelligent_pipe_sizing`: undo its runtime change (percentage 60 → 25)"
        ),
        "{err}"
    );
    assert!(
        err.contains("flag `night_mode` (created at runtime): delete it"),
        "{err}"
    );
    assert!(err.contains("(status paused → running)"), "{err}");
    assert_eq!(percentage(&s), json!(60.0));
    assert_eq!(status_of_test(&s), "paused");
    assert!(s.json(&["flags", "show", "night_mode"])["definition"]["enabled"] == true);
}

#[test]
fn overwrite_and_keep_runtime_say_how() {
    let s = drifted("cli-keep");
    let kept = s.json(&["deploy", "--config-dir", &configs(), "--keep-runtime"]);
    assert_eq!(
        kept["flags"]["kept"],
        json!(["intelligent_pipe_sizing", "night_mode"])
    );
    assert_eq!(
        kept["experiments"]["kept"],
        json!(["pipe_sizing_comparison"])
    );
    assert_eq!(percentage(&s), json!(60.0));
    assert_eq!(status_of_test(&s), "paused");

    let text = s.ok(&[
        "deploy",
        "--config-dir",
        &configs(),
        "--overwrite",
        "--actor",
        "ops",
    ]);
    assert!(
        text.contains("  updated      1  intelligent_pipe_sizing"),
        "{text}"
    );
    assert!(text.contains("  removed      1  night_mode"), "{text}");
    assert!(text.contains("\nrecorded as deployment 3 ("), "{text}");
    assert_eq!(percentage(&s), json!(25.0));
    assert_eq!(status_of_test(&s), "running");
    // One choice at a time.
    s.fails(&["deploy", "--overwrite", "--keep-runtime"], 2);
}

#[test]
fn dry_run_and_plan_show_the_plan_and_write_nothing() {
    let s = drifted("cli-plan");
    let export = s.ok(&["export"]);
    let text = s.ok(&["deploy", "--config-dir", &configs(), "--dry-run"]);
    assert!(text.starts_with("plan: deploy of "), "{text}");
    assert!(
        text.contains(
            "  ~ intelligent_pipe_sizing  percentage 60 -> 25  [undoes a runtime change]"
        ),
        "{text}"
    );
    assert!(
        text.contains("    night_mode: created at runtime (create by ops at "),
        "{text}"
    );
    assert!(
        text.contains("\nrefused by default (nothing would change); it would:"),
        "{text}"
    );
    let plan = s.json(&["plan", "--config-dir", &configs()]);
    assert_eq!(plan["refused"].as_array().unwrap().len(), 3);
    assert_eq!(s.ok(&["export"]), export);
    assert_eq!(s.json(&["history"]).as_array().unwrap().len(), 1);
}

#[test]
fn an_invalid_directory_creates_no_database() {
    let s = Scratch::new("cli-nofile");
    s.write(
        "bad/feature_flags.yml",
        "version: 2\nflags:\n  a:\n    type: percentage\n    percentage: 150\n",
    );
    let err = s.fails(&["deploy", "--config-dir", "bad"], 5);
    assert!(
        err.contains(
            "bad/feature_flags.yml:5:17: flags.a.percentage: must be between 0 and 100, not 150"
        ),
        "{err}"
    );
    assert!(!s.db().exists(), "a failed deploy left a database file");
    s.fails(&["plan", "--config-dir", "bad"], 5);
    assert!(!s.db().exists());
    // A plan against no database at all writes none either.
    let text = s.ok(&["plan", "--config-dir", &configs()]);
    assert!(text.contains("against a new database"), "{text}");
    assert!(
        text.contains("feature_flags.yml (flags): 10 to create, 0 unchanged"),
        "{text}"
    );
    assert!(!s.db().exists());
    let err = s.fails(&["status"], 4);
    assert!(err.contains("no such database"), "{err}");
    assert!(!s.db().exists());
}

#[test]
fn validate_checks_without_a_database() {
    let s = Scratch::new("cli-validate");
    let text = s.ok(&["validate", "--config-dir", &configs()]);
    assert!(
        text.ends_with(
            ": feature_flags.yml (version 2), ab_tests.yml (version 1), \
             performance_monitoring.yml (version 1), user_feedback.yml (version 1) valid\n"
        ),
        "{text}"
    );
    let files = s.json(&[
        "validate",
        "--config-dir",
        &configs(),
        "--subsystem",
        "ab_tests",
    ]);
    assert_eq!(files.as_array().unwrap().len(), 1);
    assert!(!s.db().exists());
    let err = s.fails(
        &[
            "validate",
            "--subsystem",
            "nope",
            "--config-dir",
            &configs(),
        ],
        3,
    );
    assert!(err.contains("unknown subsystem `nope`"), "{err}");
}

#[test]
fn rollback_restores_the_export_byte_for_byte() {
    let s = Scratch::deployed("cli-rollback");
    let before = s.ok(&["export"]);
    let yaml = std::fs::read_to_string(format!("{}/feature_flags.yml", configs()))
        .unwrap()
        .replacen("percentage: 25", "percentage: 50", 1);
    s.write("next/feature_flags.yml", &yaml);
    s.ok(&["deploy", "--config-dir", "next"]);
    assert_ne!(s.ok(&["export"]), before);
    let plan = s.ok(&["rollback", "--dry-run"]);
    assert!(plan.starts_with("plan: rollback to deployment 1"), "{plan}");
    let text = s.ok(&["rollback", "--actor", "ops"]);
    assert!(
        text.starts_with("rolled back to deployment 1 as ops\n"),
        "{text}"
    );
    assert_eq!(s.ok(&["export"]), before);
    let history = s.json(&["history"]);
    assert_eq!(history[0]["rolled_back_to"], 1);
    assert_eq!(history[0]["action"], "rollback");
    let one = s.ok(&["history", "2"]);
    assert!(
        one.contains("~ intelligent_pipe_sizing  percentage 25 -> 50"),
        "{one}"
    );
    let err = s.fails(&["rollback", "42"], 4);
    assert!(
        err.contains("deployment 42 does not exist (they are 1 to 3)"),
        "{err}"
    );
    s.fails(&["rollback"], 4);
}

#[test]
fn the_seed_spelling_works() {
    let s = Scratch::new("cli-action");
    let report = s.json(&[
        "--action",
        "deploy-feature-flags",
        "--config-dir",
        &configs(),
    ]);
    assert_eq!(report["files"].as_array().unwrap().len(), 1);
    assert_eq!(report["files"][0]["file"], "feature_flags.yml");
    s.json(&["--action=deploy-ab-testing", "--config-dir", &configs()]);
    let status = s.json(&["--action", "status"]);
    assert_eq!(status["subsystems"][1]["count"], 3);
    let o = s.run(&["--action", "reboot"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown --action `reboot`"));
}

#[test]
fn status_shows_rollouts_and_drift() {
    let s = drifted("cli-status");
    let text = s.ok(&["status"]);
    assert!(
        text.contains("in force: deployment 1 (deploy) by ci at "),
        "{text}"
    );
    assert!(
        text.contains("rollout intelligent_pipe_sizing: 60%"),
        "{text}"
    );
    assert!(
        text.contains("test pipe_sizing_comparison: paused"),
        "{text}"
    );
    assert!(
        text.contains("intelligent_pipe_sizing: percentage 25 -> 60 (update by ops at "),
        "{text}"
    );
    assert!(text.contains("\nlast deployments:\nid  at"), "{text}");
    let json = s.json(&["status"]);
    assert_eq!(json["subsystems"][0]["drift"].as_array().unwrap().len(), 2);
}

#[test]
fn backups_list_create_and_restore() {
    let s = Scratch::deployed("cli-backup");
    let list = s.json(&["backup", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["reason"], "deploy");
    let made = s.json(&["backup", "create", "--reason", "before-maintenance"]);
    let name = made["name"].as_str().unwrap().to_string();
    s.ok(&[
        "flags",
        "disable",
        "intelligent_pipe_sizing",
        "--actor",
        "ops",
    ]);
    let text = s.ok(&["backup", "restore", &name, "--actor", "ops"]);
    assert!(
        text.starts_with(&format!("restored {name} (deployment 2)")),
        "{text}"
    );
    assert_eq!(
        s.json(&["flags", "show", "intelligent_pipe_sizing"])["definition"]["enabled"],
        true
    );
    let err = s.fails(&["backup", "restore", "nope.db"], 4);
    assert!(err.contains("does not exist (backups: "), "{err}");
    s.fails(&["backup", "create", "--reason", "two words"], 3);
}

#[test]
fn a_rollout_pauses_and_resumes_from_the_cli() {
    let s = Scratch::deployed("cli-pause");
    let text = s.ok(&[
        "flags",
        "pause",
        "intelligent_pipe_sizing",
        "--reason",
        "winter peak",
        "--actor",
        "ops",
    ]);
    assert!(text.contains("intelligent_pipe_sizing"), "{text}");
    let status = s.ok(&["status"]);
    assert!(
        status
            .contains("rollout intelligent_pipe_sizing: 25%, held (pause by guardrail or hand at "),
        "{status}"
    );
    assert!(status.contains(": winter peak)"), "{status}");
    // A hold is drift: a plain deploy refuses to lift it.
    let o = s.run(&["deploy", "--config-dir", &configs()]);
    assert_eq!(o.status.code(), Some(9));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("flag `intelligent_pipe_sizing`: undo its runtime change (hold "),
        "{err}"
    );
    s.fails(&["flags", "pause", "intelligent_pipe_sizing"], 3);
    s.ok(&[
        "flags",
        "resume",
        "intelligent_pipe_sizing",
        "--actor",
        "ops",
    ]);
    s.fails(&["flags", "resume", "intelligent_pipe_sizing"], 3);
    assert_eq!(
        s.ok(&["flags", "guardrails", "--at", "2026-01-05T00:00:00Z"]),
        "no guarded rollout stopped\n"
    );
    let events = s.json(&["flags", "guardrails"]);
    assert_eq!(events, json!([]));
    s.fails(&["flags", "guardrails", "--at", "yesterday"], 3);
}
