//! `cha-deploy deploy`, `cha-deploy flags …` and `cha-deploy demo`, run as
//! an operator would: the built binary in a scratch folder.
#![cfg(feature = "cli")]

mod common;

use common::cli::{Scratch, configs};

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use cha_deploy::flags::{Context, Reason};
use cha_deploy::{Cha, OpenOptions};

const ALL_FLAGS: [&str; 10] = [
    "cost_optimisation",
    "flow_based_calculation",
    "intelligent_pipe_sizing",
    "network_analysis",
    "new_ui",
    "pandapipes_simulation",
    "performance_monitoring",
    "pressure_drop_check",
    "standards_compliance",
    "velocity_constraints",
];

/// `2026-01-05T09:30:00Z`: RFC 3339, UTC, to the second.
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && s.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == 'Z',
            _ => c.is_ascii_digit(),
        })
}

// ---- deploy ----------------------------------------------------------------

#[test]
fn deploy_reports_created_then_unchanged() {
    let s = Scratch::new("deploy");
    let text = s.ok(&["deploy", "--config-dir", &configs(), "--actor", "ci"]);
    assert!(
        text.starts_with(
            "deployed feature_flags.yml (version 2), ab_tests.yml (version 1), \
             performance_monitoring.yml (version 1), user_feedback.yml (version 1) from "
        ),
        "{text}"
    );
    assert!(text.contains(" as ci\n"), "{text}");
    assert!(
        text.contains("\nflags\n  created     10  cost_optimisation, flow_based_calculation"),
        "{text}"
    );
    assert!(text.contains("  unchanged    0"), "{text}");
    assert!(
        text.contains("\nexperiments\n  created      3  flow_calculation_comparison, network_analysis_comparison, pipe_sizing_comparison"),
        "{text}"
    );

    let report = s.json(&["deploy", "--config-dir", &configs()]);
    assert_eq!(report["actor"], "night-shift", "the login name by default");
    assert_eq!(report["flags"]["created"], json!([]));
    assert_eq!(report["flags"]["unchanged"], json!(ALL_FLAGS));
    assert_eq!(report["files"][0]["file"], "feature_flags.yml");
    assert_eq!(report["files"][0]["source_version"], 2);
    assert_eq!(report["files"][0]["migration"], Value::Null);
}

#[test]
fn deploy_default_dir_is_configs_and_a_migration_is_reported() {
    let s = Scratch::new("deploy-v1");
    s.write(
        "configs/feature_flags.yml",
        "version: 1\nfeature_flags:\n  sizing:\n    flag_type: percentage\n    enabled: true\n    rollout_percentage: 40\n",
    );
    let text = s.ok(&["deploy"]);
    assert!(text.contains("(version 1) from configs"), "{text}");
    assert!(
        text.contains("migrated feature flags from version 1 to 2"),
        "{text}"
    );
    assert!(text.contains("  created      1  sizing"), "{text}");
    let show = s.json(&["flags", "show", "sizing"]);
    assert_eq!(show["definition"]["percentage"], 40.0);
}

#[test]
fn an_invalid_config_dir_exits_5_and_changes_nothing() {
    let s = Scratch::deployed("deploy-bad");
    s.write(
        "bad/feature_flags.yml",
        "version: 2\nflags:\n  intelligent_pipe_sizing:\n    type: percentage\n    percentage: 150\n",
    );
    let err = s.fails(&["deploy", "--config-dir", "bad"], 5);
    assert!(
        err.contains("bad/feature_flags.yml:5:17: flags.intelligent_pipe_sizing.percentage: must be between 0 and 100, not 150"),
        "{err}"
    );
    let flags = s.json(&["flags", "list"]);
    assert_eq!(flags.as_array().unwrap().len(), 10, "nothing was removed");
    assert_eq!(flags[2]["definition"]["percentage"], 25.0);

    let err = s.fails(&["deploy", "--config-dir", "no/such/dir"], 4);
    assert!(
        err.contains("config directory no/such/dir does not exist"),
        "{err}"
    );
}

// ---- reading flags ---------------------------------------------------------

#[test]
fn list_shows_a_table_and_json_records() {
    let s = Scratch::deployed("list");
    let text = s.ok(&["flags", "list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 11, "{text}");
    let header: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "ENABLED",
            "ROLLOUT",
            "VERSION",
            "UPDATED BY",
            "UPDATED AT"
        ]
    );
    let row = |name: &str| -> Vec<&str> {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}: {text}"))
            .split_whitespace()
            .collect()
    };
    let ips = row("intelligent_pipe_sizing");
    assert_eq!(
        &ips[..6],
        [
            "intelligent_pipe_sizing",
            "percentage",
            "yes",
            "25%",
            "1",
            "ci"
        ]
    );
    assert!(is_rfc3339_utc(ips[6]), "{}", ips[6]);
    assert_eq!(
        &row("new_ui")[..4],
        ["new_ui", "user_group", "NO", "beta_testers"]
    );
    assert_eq!(row("cost_optimisation")[3], "50/50");
    assert_eq!(row("network_analysis")[3..6], ["ramp", "5%->100%", "(4"]);

    let flags = s.json(&["flags", "list"]);
    let names: Vec<&str> = flags
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["definition"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ALL_FLAGS);
    assert_eq!(flags[2]["version"], 1);
    assert_eq!(flags[2]["updated_by"], "ci");
    assert!(flags[2]["updated_at_ms"].as_i64().unwrap() > 0);
}

#[test]
fn show_prints_aligned_fields_and_the_stored_record() {
    let s = Scratch::deployed("show");
    let text = s.ok(&["flags", "show", "intelligent_pipe_sizing"]);
    for line in [
        "name           intelligent_pipe_sizing",
        "type           percentage",
        "description    Flow-based pipe sizing with velocity limits",
        "enabled        true",
        "percentage     25",
        "stickiness     user_id",
        "prerequisites  [flow_based_calculation]",
        "tags           [sizing, rollout]",
        "version        1",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    assert!(text.contains("updated        20"), "{text}");
    assert!(text.trim_end().ends_with(" by ci"), "{text}");

    let variants = s.ok(&["flags", "show", "cost_optimisation"]);
    assert!(
        variants.contains("variants       - {enabled: false, name: traditional, weight: 50}\n               - {name: lifetime_cost,"),
        "{variants}"
    );

    let record = s.json(&["flags", "show", "intelligent_pipe_sizing"]);
    assert_eq!(record["definition"]["type"], "percentage");
    assert_eq!(
        record["definition"]["prerequisites"],
        json!(["flow_based_calculation"])
    );
    assert_eq!(record["version"], 1);
    assert_eq!(record["updated_by"], "ci");

    let err = s.fails(&["flags", "show", "no_such_flag"], 4);
    assert_eq!(
        err,
        "cha-deploy: error: flag `no_such_flag` does not exist\n"
    );
}

#[test]
fn eval_agrees_with_the_library_for_every_flag() {
    let s = Scratch::deployed("eval-agree");
    let cha = Cha::open(s.db()).unwrap();
    for flag in ALL_FLAGS {
        for user in ["planner-001", "planner-006", "planner-042", "kiosk-01"] {
            let got = s.json(&[
                "flags",
                "eval",
                flag,
                "--user",
                user,
                "--group",
                "beta_testers",
            ]);
            let want = cha.evaluate_flag(
                flag,
                &Context {
                    user_id: Some(user),
                    groups: &["beta_testers"],
                    ..Context::default()
                },
            );
            assert_eq!(got, serde_json::to_value(&want).unwrap(), "{flag} {user}");
        }
    }
}

#[test]
fn eval_prints_enabled_reason_rule_and_variant() {
    let s = Scratch::deployed("eval");
    let text = s.ok(&[
        "flags",
        "eval",
        "pressure_drop_check",
        "--user",
        "u1",
        "--group",
        "staff",
        "--group",
        "beta_testers",
    ]);
    assert_eq!(
        text,
        "pressure_drop_check\n  enabled  ON\n  reason   TARGETING_MATCH\n  rule     include_groups: beta_testers\n  variant  -\n"
    );

    let e = s.json(&[
        "flags",
        "eval",
        "pressure_drop_check",
        "--user",
        "kiosk-01",
        "--group",
        "beta_testers",
    ]);
    assert_eq!(
        e,
        json!({"flag": "pressure_drop_check", "enabled": false, "variant": null,
               "reason": "TARGETING_MATCH", "rule": "deny_users", "error": null})
    );

    // --context carries any attribute; --at moves the clock.
    let e = s.json(&[
        "flags",
        "eval",
        "pandapipes_simulation",
        "--context",
        r#"{"session_id": "run-7"}"#,
    ]);
    assert_eq!(e["reason"], "SPLIT");
    assert_eq!(e["rule"], "10% by session_id");
    let e = s.json(&[
        "flags",
        "eval",
        "network_analysis",
        "--user",
        "u1",
        "--at",
        "2026-01-13T00:00:00Z",
    ]);
    assert_eq!(e["reason"], "SCHEDULE");
    assert_eq!(e["rule"], "schedule step 2026-01-12T00:00:00Z: 25%");
    let e = s.json(&[
        "flags",
        "eval",
        "network_analysis",
        "--user",
        "u1",
        "--at",
        "2025-12-31T00:00:00Z",
    ]);
    assert_eq!(
        (e["enabled"].clone(), e["reason"].clone()),
        (json!(false), json!("SCHEDULE"))
    );
    // --user overrides the context's user_id.
    let e = s.json(&[
        "flags",
        "eval",
        "pressure_drop_check",
        "--context",
        r#"{"user_id": "kiosk-01"}"#,
        "--user",
        "planner-017",
    ]);
    assert_eq!(
        (e["enabled"].clone(), e["rule"].clone()),
        (json!(true), json!("allow_users"))
    );

    // A variant and its payload.
    let cha = Cha::open(s.db()).unwrap();
    let user = (1..)
        .map(|i| format!("planner-{i:03}"))
        .find(|u| {
            cha.evaluate_flag("cost_optimisation", &Context::user(u))
                .variant
                .as_deref()
                == Some("lifetime_cost")
        })
        .unwrap();
    let text = s.ok(&["flags", "eval", "cost_optimisation", "--user", &user]);
    assert!(text.contains("  variant  lifetime_cost\n"), "{text}");
    assert!(
        text.contains("  payload  {discount_rate: 0.04, horizon_years: 30}\n"),
        "{text}"
    );

    // Without the stickiness attribute: the default, with the error code.
    let text = s.ok(&["flags", "eval", "intelligent_pipe_sizing"]);
    assert!(text.contains("  reason   ERROR\n"), "{text}");
    assert!(
        text.contains("  rule     context has no user_id\n"),
        "{text}"
    );
    assert!(text.contains("  error    INVALID_CONTEXT"), "{text}");
}

#[test]
fn eval_errors_have_their_exit_codes() {
    let s = Scratch::deployed("eval-errors");
    let err = s.fails(&["flags", "eval", "no_such_flag", "--user", "u"], 4);
    assert_eq!(
        err,
        "cha-deploy: error: flag `no_such_flag` does not exist\n"
    );
    let err = s.fails(&["flags", "eval", "new_ui", "--context", "{not json"], 3);
    assert!(err.contains("context is not valid JSON"), "{err}");
    let err = s.fails(&["flags", "eval", "new_ui", "--context", "[1, 2]"], 3);
    assert!(err.contains("context must be a JSON object"), "{err}");
    let err = s.fails(
        &["flags", "eval", "new_ui", "--context", r#"{"user": "u"}"#],
        3,
    );
    assert!(err.contains("unknown key `user`"), "{err}");
    let err = s.fails(&["flags", "eval", "new_ui", "--at", "yesterday"], 3);
    assert!(err.contains("--at yesterday: "), "{err}");
}

// ---- changing flags --------------------------------------------------------

#[test]
fn enable_disable_rollout_set_history_restore() {
    let s = Scratch::deployed("change");
    let flag = "intelligent_pipe_sizing";

    let text = s.ok(&["flags", "disable", flag, "--actor", "alice"]);
    assert_eq!(
        text,
        "intelligent_pipe_sizing: version 2 (enabled: true -> false)\n"
    );
    let e = s.json(&["flags", "eval", flag, "--user", "planner-006"]);
    assert_eq!(
        (e["enabled"].clone(), e["reason"].clone()),
        (json!(false), json!("DISABLED"))
    );
    assert_eq!(
        s.ok(&["flags", "disable", flag, "--actor", "alice"]),
        "intelligent_pipe_sizing: unchanged (version 2)\n"
    );

    let c = s.json(&["flags", "enable", flag, "--actor", "bob"]);
    assert_eq!(c["flag"], flag);
    assert_eq!(c["version"], 3);
    assert_eq!(c["changed"], true);
    assert_eq!(c["before"]["enabled"], false);
    assert_eq!(c["after"]["enabled"], true);

    assert_eq!(
        s.ok(&["flags", "rollout", flag, "50"]),
        "intelligent_pipe_sizing: version 4 (percentage: 25 -> 50)\n"
    );
    let c = s.json(&["flags", "rollout", flag, "12.5%"]);
    assert_eq!(c["after"]["percentage"], 12.5);

    let text = s.ok(&[
        "flags",
        "set",
        flag,
        "percentage=30",
        "metadata.owner=ops",
        r#"tags=["a","b"]"#,
    ]);
    assert_eq!(
        text,
        "intelligent_pipe_sizing: version 6 (percentage: 12.5 -> 30; metadata.owner: network-modelling -> ops; tags: [sizing, rollout] -> [a, b])\n"
    );
    let c = s.json(&[
        "flags",
        "set",
        flag,
        r#"{"description": "Velocity-limited sizing", "tags": null}"#,
    ]);
    assert_eq!(c["version"], 7);
    assert_eq!(c["after"]["description"], "Velocity-limited sizing");
    assert_eq!(c["after"].get("tags"), None, "null resets a field");
    assert_eq!(
        c["after"]["metadata"]["component"], "pipe_sizing",
        "metadata is merged"
    );

    // A new flag, created by naming its type.
    let c = s.json(&[
        "flags",
        "set",
        "night_mode",
        "type=boolean",
        "enabled=true",
        "--actor",
        "carol",
    ]);
    assert_eq!(
        (c["version"].clone(), c["before"].clone()),
        (json!(1), Value::Null)
    );
    assert_eq!(s.json(&["flags", "eval", "night_mode"])["reason"], "STATIC");

    let text = s.ok(&["flags", "history", flag]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "{text}");
    assert!(lines[0].starts_with("VERSION  TIME"), "{text}");
    let cells = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
    assert_eq!(cells(1)[0], "1");
    assert!(is_rfc3339_utc(cells(1)[1]), "{text}");
    assert_eq!(
        cells(1)[2..],
        ["ci", "create", "created:", "percentage,", "enabled"]
    );
    assert_eq!(
        cells(2)[2..],
        ["alice", "update", "enabled:", "true", "->", "false"]
    );
    assert_eq!(cells(3)[2..4], ["bob", "update"]);
    assert_eq!(
        cells(4)[2..4],
        ["night-shift", "update"],
        "the login name by default"
    );

    let history = s.json(&["flags", "history", flag]);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 7);
    assert_eq!(history[1]["actor"], "alice");
    assert_eq!(history[1]["version"], 2);
    assert_eq!(history[1]["before"]["enabled"], true);
    assert_eq!(history[1]["after"]["enabled"], false);

    let text = s.ok(&["flags", "restore", flag, "1", "--actor", "alice"]);
    assert!(
        text.starts_with("intelligent_pipe_sizing: version 8 ("),
        "{text}"
    );
    assert!(text.contains("percentage: 30 -> 25"), "{text}");
    assert!(text.ends_with(" [restored version 1]\n"), "{text}");
    let record = s.json(&["flags", "show", flag]);
    assert_eq!(record["version"], 8);
    assert_eq!(record["definition"]["percentage"], 25.0);
    assert_eq!(record["definition"]["tags"], json!(["sizing", "rollout"]));
    let last = &s.json(&["flags", "history", flag])[7];
    assert_eq!(
        (last["action"].clone(), last["actor"].clone()),
        (json!("restore"), json!("alice"))
    );
    let c = s.json(&["flags", "restore", flag, "2"]);
    assert_eq!(c["after"]["enabled"], false);
}

#[test]
fn invalid_changes_exit_with_their_codes_and_change_nothing() {
    let s = Scratch::deployed("invalid");
    let flag = "intelligent_pipe_sizing";
    let err = s.fails(&["flags", "rollout", flag, "150"], 5);
    assert_eq!(
        err,
        "cha-deploy: error: intelligent_pipe_sizing.percentage: must be between 0 and 100, not 150 (hint: use e.g. 25 or 12.5)\n"
    );
    let err = s.fails(&["flags", "set", flag, "percentage=10.001"], 5);
    assert!(err.contains("more than two decimals"), "{err}");
    let err = s.fails(&["flags", "set", flag, "bogus=1"], 5);
    assert!(err.contains("unknown field `bogus`"), "{err}");
    let err = s.fails(&["flags", "rollout", "flow_based_calculation", "50"], 5);
    assert!(err.contains("does not apply to a boolean flag"), "{err}");
    let err = s.fails(&["flags", "set", flag, "prerequisites=[\"nope\"]"], 5);
    assert!(err.contains("nope"), "{err}");

    s.fails(&["flags", "disable", "no_such_flag"], 4);
    s.fails(&["flags", "history", "no_such_flag"], 4);
    let err = s.fails(&["flags", "restore", flag, "99"], 4);
    assert!(err.contains("has no version 99 (versions: 1)"), "{err}");
    let err = s.fails(&["flags", "set", flag, "percentage"], 3);
    assert!(err.contains("`percentage` is not FIELD=VALUE"), "{err}");
    let err = s.fails(&["flags", "set", flag, "{oops"], 3);
    assert!(err.contains("updates are not valid JSON"), "{err}");
    let err = s.fails(&["flags", "set", flag, "enabled=false", "--actor", " "], 3);
    assert!(err.contains("actor is empty"), "{err}");

    let history = s.json(&["flags", "history", flag]);
    assert_eq!(history.as_array().unwrap().len(), 1, "nothing was changed");
    assert_eq!(s.json(&["flags", "show", flag])["version"], 1);
}

#[test]
fn usage_errors_exit_2() {
    let s = Scratch::deployed("usage");
    for args in [
        &["flags"][..],
        &["flags", "frobnicate"],
        &["flags", "eval"],
        &["flags", "rollout", "intelligent_pipe_sizing", "lots"],
        &["flags", "restore", "intelligent_pipe_sizing", "latest"],
        &["flags", "set", "intelligent_pipe_sizing"],
        &["deploy", "--config-dir"],
    ] {
        let o = s.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn flags_on_a_missing_database_exit_4_without_creating_it() {
    let s = Scratch::new("nodb");
    let err = s.fails(&["flags", "list"], 4);
    assert!(err.contains("cha.db: no such database"), "{err}");
    s.fails(&["--db", "elsewhere.db", "flags", "disable", "new_ui"], 4);
    assert_eq!(
        std::fs::read_dir(&s.0).unwrap().count(),
        0,
        "no file was created"
    );
}

// ---- template ----------------------------------------------------------------

#[test]
fn template_prints_writes_and_deploys() {
    let s = Scratch::new("template");
    let text = s.ok(&["flags", "template", "--type", "minimal"]);
    assert!(
        text.starts_with("# feature_flags.yml: feature flags"),
        "{text}"
    );
    assert!(text.contains("version: 2\n"), "{text}");
    let v = s.json(&["flags", "template"]);
    assert_eq!(v["config_type"], "cha_intelligent_sizing");
    for t in [
        "percentage",
        "user_group",
        "a_b_test",
        "time_based",
        "boolean",
    ] {
        assert!(
            v["template"]
                .as_str()
                .unwrap()
                .contains(&format!("type: {t}")),
            "{t}"
        );
    }

    // A missing folder is made.
    let text = s.ok(&["flags", "template", "--output", "conf/feature_flags.yml"]);
    assert_eq!(
        text,
        "wrote conf/feature_flags.yml (cha_intelligent_sizing template; see what a deploy would change with `cha-deploy plan --config-dir conf`)\n"
    );
    let err = s.fails(
        &["flags", "template", "--output", "conf/feature_flags.yml"],
        3,
    );
    assert!(
        err.contains("conf/feature_flags.yml: already exists"),
        "{err}"
    );
    let report = s.json(&["deploy", "--config-dir", "conf"]);
    assert!(!report["flags"]["created"].as_array().unwrap().is_empty());

    let err = s.fails(&["flags", "template", "--type", "huge"], 3);
    assert!(err.contains("unknown config type `huge`"), "{err}");
}

// ---- other processes -------------------------------------------------------

#[test]
fn an_open_handle_sees_a_cli_kill_switch_within_its_refresh_interval() {
    let s = Scratch::deployed("cross");
    let options = OpenOptions {
        refresh_interval_ms: 50,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.db(), options).unwrap();
    let ctx = Context::user("planner-017");
    assert_eq!(
        cha.evaluate_flag("pressure_drop_check", &ctx).reason,
        Reason::TargetingMatch
    );
    assert!(cha.evaluate_flag("pressure_drop_check", &ctx).enabled);

    s.ok(&["flags", "disable", "pressure_drop_check", "--actor", "ops"]);
    let start = Instant::now();
    while cha.evaluate_flag("pressure_drop_check", &ctx).reason != Reason::Disabled {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the kill switch never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!cha.evaluate_flag("pressure_drop_check", &ctx).enabled);

    s.ok(&["flags", "enable", "pressure_drop_check"]);
    let start = Instant::now();
    while !cha.evaluate_flag("pressure_drop_check", &ctx).enabled {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the enable never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `--contexts` and `--units`: one JSON line per context or unit, in order;
/// a line that is not a context is refused naming the file and line, a
/// missing file naming the option.
#[test]
fn many_contexts_and_units_at_once() {
    let s = Scratch::deployed("many-contexts");
    let file = s.write(
        "contexts.jsonl",
        "{\"user_id\": \"planner-017\"}\n\n{\"user_id\": 4711, \"groups\": [\"beta_testers\"]}\n",
    );
    let out = s.ok(&[
        "flags",
        "eval",
        "pressure_drop_check",
        "--contexts",
        file.to_str().unwrap(),
    ]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["enabled"], true);
    assert_eq!(lines[1]["enabled"], true);
    let units = s.write("units.txt", "n-1\nn-2\nn-3\n");
    let out = s.ok(&[
        "ab",
        "peek",
        "pipe_sizing_comparison",
        "--units",
        units.to_str().unwrap(),
    ]);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().all(|l| l.starts_with('{')), "{out}");

    let bad = s.write("bad.jsonl", "{\"user_id\": \"u\"}\n{\"user_id\": 1.5}\n");
    let err = s.fails(
        &[
            "flags",
            "eval",
            "pressure_drop_check",
            "--contexts",
            bad.to_str().unwrap(),
        ],
        3,
    );
    assert!(
        err.contains("bad.jsonl:2: context.user_id: expected a string or a whole number"),
        "{err}"
    );
    let err = s.fails(
        &[
            "flags",
            "value",
            "pressure_drop_check",
            "--contexts",
            "no-such.jsonl",
        ],
        4,
    );
    assert!(err.contains("--contexts no-such.jsonl"), "{err}");
    let err = s.fails(
        &[
            "ab",
            "peek",
            "pipe_sizing_comparison",
            "--units",
            "no-such.txt",
        ],
        4,
    );
    assert!(err.contains("--units no-such.txt"), "{err}");
}
