//! Targeting from the command line, as an operator would: typed values
//! (`flags value`), segments (`flags segments …`), the Unleash import
//! (`import unleash`) and typed experiment parameters (`ab param`); every
//! error with its exit code, in text and in JSON.
#![cfg(feature = "cli")]

mod common;

use common::cli::{Scratch, configs};

use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/targeting")
        .join(name)
        .display()
        .to_string()
}

/// A scratch folder with the targeting fixture deployed into ./cha.db.
fn targeting(name: &str) -> Scratch {
    let s = Scratch::new(name);
    let yml = std::fs::read_to_string(fixture("feature_flags.yml")).unwrap();
    s.write("configs/feature_flags.yml", &yml);
    s.ok(&["deploy", "--config-dir", "configs", "--actor", "ci"]);
    s
}

const PILOT: [&str; 8] = [
    "--property",
    "site=north-7",
    "--property",
    "network_size=800",
    "--property",
    "tool_version=2.4.1",
    "--property",
    "network_id=n-1",
];

fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(tail).copied().collect()
}

// ---- flags value -------------------------------------------------------------

#[test]
fn value_gives_each_type_with_its_reason() {
    let s = targeting("value");
    let v = s.json(&args(
        &[
            "flags",
            "value",
            "velocity_limit",
            "--type",
            "double",
            "--default",
            "2.0",
        ],
        &PILOT,
    ));
    assert_eq!(
        v,
        json!({"flag": "velocity_limit", "value": 1.8, "reason": "TARGETING_MATCH",
               "error": null, "variant": "strict"})
    );
    // Text: the value, the reason, the variant.
    let text = s.ok(&args(
        &["flags", "value", "velocity_limit", "--type", "double"],
        &PILOT,
    ));
    assert_eq!(
        text,
        "velocity_limit\n  value    1.8\n  reason   TARGETING_MATCH\n  variant  strict\n"
    );
    // Without the pilot's properties: the catch-all rule's variant.
    let v = s.json(&[
        "flags",
        "value",
        "velocity_limit",
        "--type",
        "double",
        "--property",
        "network_id=n-2",
    ]);
    assert_eq!(
        (&v["value"], &v["variant"]),
        (&json!(2.5), &json!("standard"))
    );
    // A kiosk address from the context JSON: the rule serves off, the
    // default comes back with the rule's reason.
    let v = s.json(&[
        "flags",
        "value",
        "velocity_limit",
        "--type",
        "double",
        "--default",
        "9.5",
        "--context",
        r#"{"remote_address": "192.0.2.44", "properties": {"network_id": "n-1"}}"#,
    ]);
    assert_eq!(
        v,
        json!({"flag": "velocity_limit", "value": 9.5, "reason": "TARGETING_MATCH",
               "error": null, "variant": null})
    );
    // Int and JSON payloads, the override of planner-001.
    let v = s.json(&[
        "flags",
        "value",
        "max_iterations",
        "--type",
        "int",
        "--user",
        "u1",
    ]);
    assert_eq!(
        (&v["value"], &v["variant"]),
        (&json!(200), &json!("default_budget"))
    );
    let v = s.json(&[
        "flags",
        "value",
        "pipe_catalogue",
        "--type",
        "json",
        "--user",
        "planner-001",
    ]);
    assert_eq!(
        (&v["value"], &v["variant"]),
        (
            &json!({"standard": "DIN EN 253", "max_dn": 1000}),
            &json!("din_en_253")
        )
    );
    // A variant without a string payload: its name as the string.
    let v = s.json(&[
        "flags",
        "value",
        "pipe_catalogue",
        "--type",
        "string",
        "--user",
        "planner-001",
    ]);
    assert_eq!(v["reason"], "ERROR");
    assert_eq!(v["error"], "TYPE_MISMATCH");
    // Bool, by environment (the default type).
    let on = |env: &str| {
        s.json(&[
            "flags",
            "value",
            "solver_v3",
            "--user",
            "u1",
            "--environment",
            env,
        ])["value"]
            .clone()
    };
    assert_eq!(on("development"), json!(true));
    assert_eq!(on("production"), json!(false));
    let v = s.json(&[
        "flags",
        "value",
        "solver_v3",
        "--user",
        "u1",
        "--environment",
        "production",
        "--group",
        "hydraulics_team",
    ]);
    assert_eq!(
        (&v["value"], &v["reason"]),
        (&json!(true), &json!("TARGETING_MATCH"))
    );
}

#[test]
fn value_gives_the_default_on_a_type_mismatch_with_the_reason() {
    let s = targeting("mismatch");
    let v = s.json(&[
        "flags",
        "value",
        "max_iterations",
        "--type",
        "string",
        "--default",
        "fallback",
        "--user",
        "u1",
    ]);
    assert_eq!(
        v,
        json!({"flag": "max_iterations", "value": "fallback", "reason": "ERROR",
               "error": "TYPE_MISMATCH", "variant": "default_budget",
               "message": "flag `max_iterations` has no string value for this context: the payload of its variant `default_budget` is 200"})
    );
    let text = s.ok(&[
        "flags",
        "value",
        "max_iterations",
        "--type",
        "double",
        "--user",
        "u1",
        "--default",
        "-1",
    ]);
    // 200 is a number: a double reads it.
    assert!(text.contains("  value    200\n"), "{text}");
    let text = s.ok(&[
        "flags",
        "value",
        "pipe_catalogue",
        "--type",
        "int",
        "--default",
        "-3",
        "--user",
        "u1",
    ]);
    assert!(text.contains("  value    -3\n  reason   ERROR\n"), "{text}");
    assert!(text.contains("  error    TYPE_MISMATCH\n"), "{text}");
}

#[test]
fn value_errors_have_exit_codes_in_text_and_json() {
    let s = targeting("value-errors");
    let err = s.fails(&["flags", "value", "velocity_limt", "--type", "double"], 4);
    assert_eq!(
        err,
        "cha-deploy: error: flag `velocity_limt` does not exist; did you mean `velocity_limit`?\n"
    );
    let err = s.fails(
        &[
            "flags",
            "value",
            "max_iterations",
            "--type",
            "int",
            "--default",
            "1.5",
        ],
        3,
    );
    assert_eq!(
        err,
        "cha-deploy: error: --default 1.5: not a whole number\n"
    );
    let err = s.fails(
        &[
            "flags",
            "value",
            "max_iterations",
            "--type",
            "bool",
            "--default",
            "yes",
        ],
        3,
    );
    assert_eq!(err, "cha-deploy: error: --default yes: not true or false\n");
    let err = s.fails(
        &[
            "flags",
            "value",
            "max_iterations",
            "--type",
            "json",
            "--default",
            "{",
        ],
        3,
    );
    assert_eq!(err, "cha-deploy: error: --default {: not JSON\n");
    let err = s.fails(
        &["flags", "value", "max_iterations", "--property", "site"],
        3,
    );
    assert_eq!(
        err,
        "cha-deploy: error: --property site: expected NAME=VALUE, e.g. site=north-7\n"
    );
    let err = s.fails(&["flags", "value", "max_iterations", "--context", "[1]"], 3);
    assert!(err.starts_with("cha-deploy: error: "), "{err}");
    let err = s.fails(&["flags", "value", "max_iterations", "--type", "float"], 2);
    assert!(
        err.contains("`float` is not bool, string, double, int or json"),
        "{err}"
    );
    // The same in JSON, on stderr.
    let o = s.run(&["--json", "flags", "value", "velocity_limt"]);
    assert_eq!(o.status.code(), Some(4));
    let e: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(
        e,
        json!({"error": {"status": 4, "code": "CHA_ERR_NOT_FOUND",
               "message": "flag `velocity_limt` does not exist; did you mean `velocity_limit`?"}})
    );
    let o = s.run(&[
        "--json",
        "flags",
        "value",
        "max_iterations",
        "--type",
        "float",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(e["error"]["code"], "usage");
    // No database.
    let empty = Scratch::new("value-no-db");
    let err = empty.fails(&["flags", "value", "velocity_limit"], 4);
    assert!(err.contains("cha.db: no such database"), "{err}");
}

#[test]
fn eval_takes_the_environment_and_properties_too() {
    let s = targeting("eval");
    let e = s.json(&args(&["flags", "eval", "velocity_limit"], &PILOT));
    assert_eq!(
        (&e["enabled"], &e["variant"], &e["reason"], &e["payload"]),
        (
            &json!(true),
            &json!("strict"),
            &json!("TARGETING_MATCH"),
            &json!(1.8)
        )
    );
    let e = s.json(&[
        "flags",
        "eval",
        "solver_v3",
        "--user",
        "u1",
        "--environment",
        "development",
    ]);
    assert_eq!(e["enabled"], true);
}

// ---- flags segments --------------------------------------------------------

#[test]
fn segments_list_show_set_and_delete() {
    let s = targeting("segments");
    let text = s.ok(&["flags", "segments", "list"]);
    assert_eq!(
        text,
        "NAME            CONSTRAINTS                   USED BY         VERSION\n\
         large_networks  network_size NUM_GTE 500      velocity_limit  1\n\
         pilot_sites     site IN [north-7, harbour-2]  velocity_limit  1\n"
    );
    let list = s.json(&["flags", "segments", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["definition"]["name"], "pilot_sites");
    assert_eq!(list[1]["version"], 1);

    let text = s.ok(&["flags", "segments", "show", "pilot_sites"]);
    assert!(
        text.contains("description  The district-heating networks of the pilot\n"),
        "{text}"
    );
    assert!(text.ends_with("version      1\n"), "{text}");

    // A new site joins the pilot: the flag follows at once.
    let west = [
        "--property",
        "site=west-3",
        "--property",
        "network_size=800",
        "--property",
        "tool_version=2.4.1",
        "--property",
        "network_id=n-1",
    ];
    let before = s.json(&args(
        &["flags", "value", "velocity_limit", "--type", "double"],
        &west,
    ));
    assert_eq!(before["value"], 2.5);
    let text = s.ok(&[
        "flags", "segments", "set", "pilot_sites",
        r#"{"constraints": [{"attribute": "site", "operator": "IN", "values": ["north-7", "harbour-2", "west-3"]}]}"#,
        "--actor", "ops",
    ]);
    assert_eq!(
        text,
        "segment pilot_sites: version 2\n  before  site IN [north-7, harbour-2]\n  after   site IN [north-7, harbour-2, west-3]\n"
    );
    let after = s.json(&args(
        &["flags", "value", "velocity_limit", "--type", "double"],
        &west,
    ));
    assert_eq!(
        (&after["value"], &after["variant"]),
        (&json!(1.8), &json!("strict"))
    );
    // Again: unchanged.
    let c = s.json(&[
        "flags", "segments", "set", "pilot_sites",
        r#"{"constraints": [{"attribute": "site", "operator": "IN", "values": ["north-7", "harbour-2", "west-3"]}]}"#,
    ]);
    assert_eq!((&c["changed"], &c["version"]), (&json!(false), &json!(2)));

    // Create and delete one no flag names.
    let text = s.ok(&[
        "flags", "segments", "set", "planners",
        r#"{"constraints": [{"attribute": "role", "operator": "STR_STARTS_WITH", "values": ["PLAN"], "case_insensitive": true, "inverted": true}]}"#,
    ]);
    assert_eq!(
        text,
        "segment planners: created, version 1: NOT role STR_STARTS_WITH (any case) [PLAN]\n"
    );
    assert_eq!(
        s.ok(&["flags", "segments", "delete", "planners"]),
        "segment planners: deleted (version 2)\n"
    );
    let history = s.json(&["flags", "segments", "list"]);
    assert_eq!(history.as_array().unwrap().len(), 2);
}

#[test]
fn segment_errors_have_exit_codes_and_locations() {
    let s = targeting("segment-errors");
    assert_eq!(
        s.fails(&["flags", "segments", "show", "pilot"], 4),
        "cha-deploy: error: segment `pilot` does not exist; did you mean `pilot_sites`?\n"
    );
    assert_eq!(
        s.fails(&["flags", "segments", "delete", "nothing"], 4),
        "cha-deploy: error: segment `nothing` does not exist\n"
    );
    // One that a flag names cannot go.
    assert_eq!(
        s.fails(&["flags", "segments", "delete", "large_networks"], 5),
        "cha-deploy: error: flags.velocity_limit.rules[1].segments[1]: segment `large_networks` does not exist (hint: define it under `segments:` in feature_flags.yml)\n"
    );
    assert_eq!(
        s.fails(
            &[
                "flags",
                "segments",
                "set",
                "x",
                r#"{"constraints": [{"attribute": "site", "operator": "REGEX", "value": "("}]}"#
            ],
            5
        ),
        "cha-deploy: error: segments.x.constraints[0].value: `(` is not a valid regular expression: unclosed group\n"
    );
    assert_eq!(
        s.fails(&["flags", "segments", "set", "x", r#"{"constraints": [{"attribute": "ip", "operator": "IN_CIDR", "values": ["10.0.0.0/99"]}]}"#], 5),
        "cha-deploy: error: segments.x.constraints[0].values[0]: `10.0.0.0/99` is not an IP address or CIDR range (such as 10.0.0.0/8 or 2001:db8::/32)\n"
    );
    let err = s.fails(
        &[
            "flags",
            "segments",
            "set",
            "x",
            r#"{"constraints": [{"attribute": "a", "operator": "LIKE", "values": ["b"]}]}"#,
        ],
        5,
    );
    assert!(
        err.starts_with("cha-deploy: error: segments.x.constraints[0].operator: unknown operator `LIKE` (hint: one of IN, NOT_IN,"),
        "{err}"
    );
    assert_eq!(
        s.fails(&["flags", "segments", "set", "x", "[1]"], 3),
        "cha-deploy: error: segment `x` must be a JSON object such as {\"constraints\": [...]}, or null to delete it\n"
    );
    assert_eq!(
        s.fails(&["flags", "segments", "set", "x", "nope"], 3),
        "cha-deploy: error: the segment is not valid JSON: expected ident at line 1 column 2\n"
    );
    let o = s.run(&["--json", "flags", "segments", "show", "pilot"]);
    assert_eq!(o.status.code(), Some(4));
    let e: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(e["error"]["code"], "CHA_ERR_NOT_FOUND");
    // Nothing changed by the failures.
    let list = s.json(&["flags", "segments", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
}

// ---- import unleash ------------------------------------------------------------

#[test]
fn import_unleash_reports_what_it_could_not_translate_by_name() {
    let s = targeting("import");
    let file = fixture("unleash.json");
    let text = s.ok(&["import", "unleash", &file, "--dry-run", "--actor", "ops"]);
    assert_eq!(
        text,
        format!(
            "would import 2 flags and 1 segment from {file} as ops\n\
             flags\n  create       2  network_heatmap, export_gis\n\
             segments\n  update       1  pilot_sites\n\
             not translated exactly (1):\n  network_heatmap (features[0].strategies[1]): custom strategy `myCustomStrategy` cannot be evaluated by cha-deploy: the rule is switched off\n"
        )
    );
    // The dry run wrote nothing.
    assert_eq!(
        s.fails(&["flags", "show", "network_heatmap"], 4)
            .lines()
            .count(),
        1
    );

    let r = s.json(&["import", "unleash", &file, "--actor", "ops"]);
    assert_eq!(
        r["flags"],
        json!([{"name": "network_heatmap", "action": "create", "version": 1},
               {"name": "export_gis", "action": "create", "version": 1}])
    );
    assert_eq!(
        r["segments"],
        json!([{"name": "pilot_sites", "action": "update", "version": 2}])
    );
    assert_eq!(
        r["untranslated"],
        json!([{"item": "network_heatmap", "path": "features[0].strategies[1]",
                "message": "custom strategy `myCustomStrategy` cannot be evaluated by cha-deploy: the rule is switched off"}])
    );
    assert_eq!((&r["dry_run"], &r["actor"]), (&json!(false), &json!("ops")));
    // Imported flags evaluate at once.
    let show = s.json(&["flags", "show", "network_heatmap"]);
    assert_eq!(show["definition"]["name"], "network_heatmap");
    // Again: unchanged.
    let r = s.json(&["import", "unleash", &file]);
    assert_eq!(r["flags"][0]["action"], "unchanged");
}

#[test]
fn import_errors_have_exit_codes() {
    let s = Scratch::new("import-errors");
    assert_eq!(
        s.fails(&["import", "unleash", "missing.json"], 4),
        "cha-deploy: error: missing.json: no such file\n"
    );
    s.write("not-unleash.json", r#"{"flags": []}"#);
    assert_eq!(
        s.fails(&["import", "unleash", "not-unleash.json"], 3),
        "cha-deploy: error: not an Unleash client-features document: it has no `features` list (expected {\"version\": 2, \"features\": [...], \"segments\": [...]})\n"
    );
    s.write("text.json", "features");
    let o = s.run(&["--json", "import", "unleash", "text.json"]);
    assert_eq!(o.status.code(), Some(3));
    let e: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(
        e,
        json!({"error": {"status": 3, "code": "CHA_ERR_INVALID_ARGUMENT",
               "message": "the Unleash document is not JSON: expected ident at line 1 column 2"}})
    );
    assert_eq!(
        s.fails(&["import", "unleash"], 2).lines().next().unwrap(),
        "error: the following required arguments were not provided:"
    );
}

// ---- ab param --------------------------------------------------------------------

#[test]
fn ab_param_reads_a_variants_configuration_typed() {
    let s = Scratch::deployed("ab-param");
    let _ = configs();
    assert_eq!(
        s.ok(&[
            "ab",
            "param",
            "pipe_sizing_comparison",
            "intelligent",
            "max_velocity_ms",
            "--type",
            "double"
        ]),
        "2.0\n"
    );
    assert_eq!(
        s.json(&[
            "ab",
            "param",
            "pipe_sizing_comparison",
            "traditional",
            "default_diameter_mm",
            "--type",
            "int"
        ]),
        json!({"experiment": "pipe_sizing_comparison", "variant": "traditional",
               "key": "default_diameter_mm", "value": 100})
    );
    assert_eq!(
        s.ok(&[
            "ab",
            "param",
            "pipe_sizing_comparison",
            "traditional",
            "pipe_sizing_method"
        ]),
        "fixed_diameter\n"
    );
    assert_eq!(
        s.ok(&[
            "ab",
            "param",
            "pipe_sizing_comparison",
            "intelligent",
            "enable_intelligent_sizing",
            "--type",
            "bool"
        ]),
        "true\n"
    );
    assert_eq!(
        s.fails(
            &[
                "ab",
                "param",
                "pipe_sizing_comparison",
                "intelligent",
                "pipe_sizing_method",
                "--type",
                "double"
            ],
            3
        ),
        "cha-deploy: error: `pipe_sizing_method` of variant `intelligent` of experiment `pipe_sizing_comparison` is \"intelligent\", not a number\n"
    );
    assert_eq!(
        s.fails(&["ab", "param", "pipe_sizing_comparison", "smart", "x"], 4),
        "cha-deploy: error: experiment `pipe_sizing_comparison` has no variant `smart` (its variants: traditional, intelligent)\n"
    );
    assert_eq!(
        s.fails(
            &[
                "ab",
                "param",
                "pipe_sizing_comparison",
                "intelligent",
                "max_velocity"
            ],
            4
        ),
        "cha-deploy: error: variant `intelligent` of experiment `pipe_sizing_comparison` has no `max_velocity` in its configuration (its keys: enable_intelligent_sizing, max_velocity_ms, min_velocity_ms, pipe_sizing_method); did you mean `max_velocity_ms`?\n"
    );
    let err = s.fails(&["ab", "param", "pipe_sizing_comparisn", "a", "b"], 4);
    assert!(
        err.contains("did you mean `pipe_sizing_comparison`?"),
        "{err}"
    );
    let o = s.run(&[
        "--json",
        "ab",
        "param",
        "pipe_sizing_comparison",
        "smart",
        "x",
    ]);
    let e: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(
        (o.status.code(), &e["error"]["status"]),
        (Some(4), &json!(4))
    );
    assert!(
        s.fails(
            &[
                "ab",
                "param",
                "pipe_sizing_comparison",
                "a",
                "b",
                "--type",
                "float"
            ],
            2
        )
        .contains("`float` is not double, int, bool or string")
    );
}

// ---- validation --------------------------------------------------------------

#[test]
fn bad_rules_fail_validation_with_file_line_and_field_path() {
    let s = Scratch::new("bad-rules");
    s.write(
        "bad/feature_flags.yml",
        "version: 2\n\
         segments:\n\
         \x20 pilot:\n\
         \x20   constraints:\n\
         \x20     - {attribute: ip, operator: IN_CIDR, values: [10.0.0.0/33]}\n\
         flags:\n\
         \x20 a:\n\
         \x20   type: boolean\n\
         \x20   enabled: true\n\
         \x20   prerequisites: [b]\n\
         \x20   rules:\n\
         \x20     - constraints:\n\
         \x20         - {attribute: user_id, operator: REGEX, value: \"(unclosed\"}\n\
         \x20         - {attribute: site, operator: LIKE, values: [x]}\n\
         \x20       segments: [pilots]\n\
         \x20 b:\n\
         \x20   type: boolean\n\
         \x20   prerequisites: [{flag: a, enabled: false}]\n",
    );
    for args in [
        vec!["validate", "--config-dir", "bad"],
        vec!["deploy", "--config-dir", "bad"],
    ] {
        let o = s.run(&args);
        assert_eq!(o.status.code(), Some(5), "{args:?}");
        assert!(o.stdout.is_empty());
        let err = String::from_utf8(o.stderr).unwrap();
        for expected in [
            "bad/feature_flags.yml:5:53: segments.pilot.constraints[0].values[0]: `10.0.0.0/33` is not an IP address or CIDR range",
            "bad/feature_flags.yml:13:58: flags.a.rules[0].constraints[0].value: `(unclosed` is not a valid regular expression",
            "bad/feature_flags.yml:14:41: flags.a.rules[0].constraints[1].operator: unknown operator `LIKE`",
            "bad/feature_flags.yml:15:20: flags.a.rules[0].segments[0]: segment `pilots` does not exist; did you mean `pilot`?",
            "bad/feature_flags.yml:18:21: flags.b.prerequisites[0]: prerequisite cycle: a → b → a",
        ] {
            assert!(
                err.contains(expected),
                "{args:?}: missing {expected:?} in:\n{err}"
            );
        }
    }
    // Nothing was created by the refused deploy.
    assert!(!s.db().exists() || s.json(&["flags", "list"]) == json!([]));
}
