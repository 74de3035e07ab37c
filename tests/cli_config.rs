//! `cha-deploy template|migrate|validate` as an operator runs them: a
//! template written to a file validates and plans, a migration shows what
//! it would write and changes nothing until `--write`, and an invalid file
//! stops everything.
#![cfg(feature = "cli")]

mod common;

use common::cli::Scratch;

const SEED_V1: &str = include_str!("fixtures/config/feature_flags_v1.yml");

fn read(s: &Scratch, rel: &str) -> String {
    std::fs::read_to_string(s.0.join(rel)).unwrap()
}

#[test]
fn templates_written_to_files_validate_and_plan_without_a_database() {
    let s = Scratch::new("cfg-template");
    std::fs::create_dir(s.0.join("conf")).unwrap();
    let text = s.ok(&["template", "ab-tests", "--output", "conf/ab_tests.yml"]);
    // The next command shown writes nothing: a plan, not a deploy.
    assert_eq!(
        text,
        "wrote conf/ab_tests.yml (cha_intelligent_sizing template; see what a deploy would change with `cha-deploy plan --config-dir conf`)\n"
    );
    let v = s.json(&[
        "template",
        "feature_flags",
        "--type",
        "minimal",
        "--output",
        "conf/feature_flags.yml",
    ]);
    assert_eq!(v["config_type"], "minimal");
    assert_eq!(v["output"], "conf/feature_flags.yml");
    assert!(read(&s, "conf/feature_flags.yml").starts_with("# feature_flags.yml: feature flags"));
    assert!(read(&s, "conf/ab_tests.yml").starts_with("# ab_tests.yml: A/B tests"));

    assert_eq!(
        s.ok(&["validate", "--config-dir", "conf"]),
        "conf: feature_flags.yml (version 2), ab_tests.yml (version 1) valid\n"
    );
    let plan = s.ok(&["plan", "--config-dir", "conf"]);
    assert!(
        plan.starts_with("plan: deploy of conf, against a new database"),
        "{plan}"
    );
    assert!(
        plan.contains("ab_tests.yml (experiments): 2 to create"),
        "{plan}"
    );
    assert!(plan.contains("  + pipe_sizing_comparison\n"), "{plan}");
    assert!(!s.db().exists(), "a plan created the database");
    // What the hint promised: the directory deploys.
    let report = s.json(&["deploy", "--config-dir", "conf"]);
    assert_eq!(
        report["flags"]["created"],
        serde_json::json!(["intelligent_pipe_sizing"])
    );

    let err = s.fails(
        &["template", "ab-tests", "--output", "conf/ab_tests.yml"],
        3,
    );
    assert!(err.contains("conf/ab_tests.yml: already exists"), "{err}");
}

#[test]
fn the_flags_template_command_suggests_a_plan_too() {
    let s = Scratch::new("cfg-flags-template");
    let text = s.ok(&[
        "flags",
        "template",
        "--type",
        "minimal",
        "--output",
        "feature_flags.yml",
    ]);
    assert_eq!(
        text,
        "wrote feature_flags.yml (minimal template; see what a deploy would change with `cha-deploy plan --config-dir .`)\n"
    );
    // The same file as `template feature-flags`.
    assert_eq!(
        s.ok(&["flags", "template"]),
        s.ok(&["template", "feature-flags"])
    );
}

#[test]
fn templates_print_and_refuse_what_this_version_has_not() {
    let s = Scratch::new("cfg-template-print");
    let text = s.ok(&["template", "ab-tests", "--type", "minimal"]);
    assert!(
        text.starts_with("# ab_tests.yml: A/B tests of the CHA"),
        "{text}"
    );
    assert!(text.contains("(config type: minimal)"), "{text}");
    let v = s.json(&["template", "ab_tests"]);
    assert_eq!(v["config_type"], "cha_intelligent_sizing");
    assert!(
        v["template"]
            .as_str()
            .unwrap()
            .contains("retention_days: 365")
    );

    // A file under another name is written, with a word on the name a deploy reads.
    let text = s.ok(&["template", "ab-tests", "--output", "tests.yml"]);
    assert!(
        text.contains("a deploy reads only ab_tests.yml: rename it, then see what"),
        "{text}"
    );
    // Paths with spaces are quoted, so the suggested command pastes as it is.
    std::fs::create_dir(s.0.join("my conf")).unwrap();
    let text = s.ok(&["template", "ab-tests", "--output", "my conf/ab_tests.yml"]);
    assert!(
        text.contains("`cha-deploy plan --config-dir 'my conf'`"),
        "{text}"
    );

    let err = s.fails(&["template", "flagz", "--output", "x.yml"], 3);
    assert!(
        err.contains("unknown subsystem `flagz` (known: feature_flags, ab_tests, performance_monitoring, user_feedback)"),
        "{err}"
    );
    let err = s.fails(&["template", "ab-tests", "--type", "huge"], 3);
    assert!(err.contains("unknown config type `huge`"), "{err}");
}

#[test]
fn migrate_without_write_shows_everything_and_changes_nothing() {
    let s = Scratch::new("cfg-migrate-dry");
    s.write("old/feature_flags.yml", SEED_V1);
    s.ok(&["template", "ab-tests", "--output", "old/ab_tests.yml"]);
    let text = s.ok(&["migrate", "--config-dir", "old"]);
    assert!(
        text.starts_with(
            "old/feature_flags.yml: version 1, migrates to version 2\n\
             migrated feature flags from version 1 to 2\n  \
             no `version`: read as version 1 (top-level `feature_flags`)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("    rollout_percentage → percentage\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "--- old/feature_flags.yml as it would be written ---\n\
             # feature_flags.yml, migrated from version 1 to version 2 by\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nold/ab_tests.yml: version 1, current\n"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "nothing written; write it with `cha-deploy migrate --config-dir old --write` (keeps the original as old/feature_flags.yml.v1.bak)\n"
        ),
        "{text}"
    );
    assert_eq!(read(&s, "old/feature_flags.yml"), SEED_V1);
    assert!(!s.0.join("old/feature_flags.yml.v1.bak").exists());

    let v = s.json(&["migrate", "--config-dir", "old"]);
    assert_eq!(v["written"], false);
    let flags = &v["files"][0];
    assert_eq!(
        (flags["from_version"].as_i64(), flags["to_version"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        flags["report"]["flags"][1]["flag"],
        "intelligent_pipe_sizing"
    );
    assert_eq!(flags["backup"], serde_json::Value::Null);
    assert_eq!(v["files"][1]["report"], serde_json::Value::Null);
    assert_eq!(
        v["files"][1]["text"].as_str().unwrap(),
        read(&s, "old/ab_tests.yml")
    );
    assert_eq!(read(&s, "old/feature_flags.yml"), SEED_V1);
}

#[test]
fn migrate_write_keeps_a_backup_and_the_new_file_deploys() {
    let s = Scratch::new("cfg-migrate-write");
    s.write("old/feature_flags.yml", SEED_V1);
    let shown = s.json(&["migrate", "--config-dir", "old"])["files"][0]["text"].clone();
    let text = s.ok(&["migrate", "--config-dir", "old", "--write"]);
    assert!(
        text.contains(
            "wrote old/feature_flags.yml in version 2; the original is old/feature_flags.yml.v1.bak\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("see what a deploy would change with `cha-deploy plan --config-dir old`\n"),
        "{text}"
    );
    assert_eq!(read(&s, "old/feature_flags.yml.v1.bak"), SEED_V1);
    assert_eq!(read(&s, "old/feature_flags.yml"), shown.as_str().unwrap());

    assert_eq!(
        s.ok(&["migrate", "--config-dir", "old"]),
        "old/feature_flags.yml: version 2, current\nevery file is current: nothing to migrate\n"
    );
    // Nothing to write: a second --write is no error and touches nothing.
    s.ok(&["migrate", "--config-dir", "old", "--write"]);
    assert_eq!(read(&s, "old/feature_flags.yml.v1.bak"), SEED_V1);

    let report = s.json(&["deploy", "--config-dir", "old"]);
    assert_eq!(report["files"][0]["source_version"], 2);
    assert_eq!(report["files"][0]["migration"], serde_json::Value::Null);
    assert_eq!(
        report["flags"]["created"],
        serde_json::json!([
            "flow_based_calculation",
            "intelligent_pipe_sizing",
            "sizing_test",
            "summer_mode"
        ])
    );
}

#[test]
fn migrate_write_refuses_to_replace_an_earlier_backup() {
    let s = Scratch::new("cfg-migrate-bak");
    s.write("old/feature_flags.yml", SEED_V1);
    s.write("old/feature_flags.yml.v1.bak", "from last time\n");
    let err = s.fails(&["migrate", "--config-dir", "old", "--write"], 3);
    assert!(
        err.contains(
            "old/feature_flags.yml.v1.bak: already exists (a migration was written before)"
        ),
        "{err}"
    );
    assert_eq!(read(&s, "old/feature_flags.yml"), SEED_V1);
    assert_eq!(read(&s, "old/feature_flags.yml.v1.bak"), "from last time\n");
}

#[test]
fn an_invalid_file_reports_every_problem_and_nothing_is_written() {
    let s = Scratch::new("cfg-migrate-bad");
    s.write(
        "old/feature_flags.yml",
        "feature_flags:\n  a:\n    flag_type: percentage\n    rollout_percentage: 150\n",
    );
    s.write("old/ab_tests.yml", "ab_tests:\n  t:\n    name: T\n");
    let o = s.run(&["migrate", "--config-dir", "old", "--write"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.starts_with("cha-deploy: error: "), "{err}");
    assert!(
        err.contains(
            "old/feature_flags.yml:4:25: flags.a.percentage: must be between 0 and 100, not 150"
        ),
        "{err}"
    );
    assert!(err.contains("old/ab_tests.yml:"), "{err}");
    assert!(err.contains("ab_tests.t.variants"), "{err}");
    assert!(!s.0.join("old/feature_flags.yml.v1.bak").exists());
    assert!(read(&s, "old/feature_flags.yml").starts_with("feature_flags:\n"));

    let err = s.fails(&["migrate", "--config-dir", "nowhere"], 4);
    assert!(
        err.contains("config directory nowhere does not exist"),
        "{err}"
    );
}
