//! `cha-deploy ab …` run as an operator would: the built binary in a
//! scratch folder, one process per command.
#![cfg(feature = "cli")]

mod common;

use common::cli::{Scratch, configs};

use std::path::Path;

use serde_json::{Value, json};

use cha_deploy::Cha;

const TEST: &str = "pipe_sizing_comparison";
const METRIC: &str = "pipe_cost_efficiency";

/// The variant the library gives `unit` in `test` on the database of `s`
/// (looked at, not exposed).
fn variant(s: &Scratch, test: &str, unit: &str) -> Option<String> {
    let cha = Cha::open(s.db()).unwrap();
    let v = cha.peek_assignment(test, unit).unwrap().variant;
    cha.close().unwrap();
    v
}

/// The cells of a text-table row (columns are two or more spaces apart).
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// The line of `text` that starts with `start` (after indentation).
fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with `{start}` in\n{text}"))
}

// ---- list and show -----------------------------------------------------------

#[test]
fn list_shows_every_test_with_its_split() {
    let s = Scratch::deployed("list");
    let text = s.ok(&["ab", "list"]);
    assert_eq!(
        cells(text.lines().next().unwrap()),
        [
            "ID", "NAME", "TYPE", "STATUS", "VARIANTS", "METRICS", "VERSION"
        ]
    );
    assert_eq!(
        cells(line(&text, TEST)),
        [
            TEST,
            "Pipe Sizing Method Comparison",
            "pipe_sizing",
            "running",
            "traditional 50%, intelligent 50%",
            "4",
            "1"
        ]
    );
    assert_eq!(
        cells(line(&text, "network_analysis_comparison"))[3..5],
        ["draft", "segment_by_segment 70%, network_solver 30%"]
    );
    assert_eq!(text.lines().count(), 4, "{text}");

    let tests = s.json(&["ab", "list"]);
    let ids: Vec<&str> = tests
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["definition"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "flow_calculation_comparison",
            "network_analysis_comparison",
            TEST
        ]
    );
    assert_eq!(tests[2]["version"], 1);
    assert_eq!(tests[2]["updated_by"], "ci");
    assert_eq!(
        tests[2]["definition"]["variants"][1]["traffic_percentage"],
        50.0
    );

    let empty = Scratch::new("list-empty");
    empty.ok(&["init"]);
    assert!(empty.ok(&["ab", "list"]).starts_with("no A/B tests"));
    assert_eq!(empty.json(&["ab", "list"]), json!([]));
}

#[test]
fn show_gives_the_definition() {
    let s = Scratch::deployed("show");
    let text = s.ok(&["ab", "show", "flow_calculation_comparison"]);
    for (field, value) in [
        ("type", "flow_calculation"),
        ("status", "running"),
        ("control", "peak_load_sum"),
        ("minimum sample", "1000 units per variant"),
        ("minimum duration", "7 days"),
        ("coverage", "50% of units"),
        ("version", "1"),
    ] {
        assert_eq!(
            line(&text, &format!("{field}  ")),
            format!("{field:<16}  {value}"),
            "{text}"
        );
    }
    // The start is the one the analysis counts from (phase 1 began with the
    // deployment); the file's start_time is shown beside it.
    let details = s.json(&["ab", "show", "flow_calculation_comparison"]);
    let started = details["started_at"].as_str().unwrap().to_string();
    assert_eq!(
        line(&text, "start time  "),
        format!(
            "start time        {started} (phase 1; the configured start_time is 2026-11-09T08:00:00Z)"
        )
    );
    assert_eq!(details["phases"][0]["started_at"], started.as_str());
    assert_eq!(details["phases"][0]["reason"], "start");
    assert_eq!(details["phases"][0]["ended_at"], Value::Null);
    assert!(
        line(&text, "updated").ends_with(" by ci"),
        "{}",
        line(&text, "updated")
    );
    let variant = cells(line(&text, "flow_based"));
    assert_eq!(variant[..2], ["flow_based", "50%"]);
    assert!(
        variant[2].contains("flow_calculation_method: flow_based")
            && variant[2].contains("simultaneity_model: winter"),
        "{variant:?}"
    );
    assert_eq!(
        cells(text.lines().find(|l| l.contains("AGGREGATION")).unwrap()),
        [
            "NAME",
            "TYPE",
            "AGGREGATION",
            "DIRECTION",
            "MDE",
            "ALPHA",
            "POWER",
            "UNIT"
        ]
    );
    assert_eq!(
        cells(line(&text, "flow_deviation_pct")),
        [
            "flow_deviation_pct",
            "primary",
            "mean",
            "decrease",
            "10%",
            "0.05",
            "80%",
            "%"
        ]
    );
    assert_eq!(
        cells(line(&text, "calculation_failures")),
        [
            "calculation_failures",
            "guardrail",
            "proportion",
            "decrease",
            "10%",
            "0.05",
            "80%",
            "-"
        ]
    );

    let record = s.json(&["ab", "show", TEST]);
    let d = &record["definition"];
    assert_eq!(d["id"], TEST);
    assert_eq!(d["minimum_sample_size"], 1000);
    assert_eq!(d["minimum_duration_days"], 7);
    assert_eq!(d["coverage"], 100.0);
    assert_eq!(
        d["variants"][1]["configuration"]["max_velocity_ms"],
        json!(2.0)
    );
    assert_eq!(d["metrics"][0]["unit"], "kW/kEUR");

    assert!(s.fails(&["ab", "show", "nope"], 4).contains("`nope`"));
}

// ---- assign and record -------------------------------------------------------

#[test]
fn assign_gives_the_variant_and_its_configuration() {
    let s = Scratch::deployed("assign");
    let expected = variant(&s, TEST, "engineer-7").unwrap();
    let text = s.ok(&["ab", "assign", TEST, "engineer-7"]);
    assert_eq!(text.lines().next().unwrap(), format!("{TEST} / engineer-7"));
    assert_eq!(
        cells(line(&text, "variant")),
        ["variant", expected.as_str()]
    );
    assert_eq!(cells(line(&text, "reason")), ["reason", "ASSIGNED"]);
    let method = if expected == "intelligent" {
        "pipe_sizing_method: intelligent"
    } else {
        "pipe_sizing_method: fixed_diameter"
    };
    assert!(line(&text, "configuration").contains(method), "{text}");

    let a = s.json(&["ab", "assign", TEST, "engineer-7"]);
    assert_eq!(a["experiment"], TEST);
    assert_eq!(a["unit"], "engineer-7");
    assert_eq!(a["variant"], expected.as_str());
    assert_eq!(a["reason"], "ASSIGNED");
    assert_eq!(
        a["configuration"]["enable_intelligent_sizing"],
        expected == "intelligent"
    );

    // A draft test gives no variant: an answer, not an error.
    let a = s.json(&["ab", "assign", "network_analysis_comparison", "engineer-7"]);
    assert_eq!(a["variant"], Value::Null);
    assert_eq!(a["reason"], "NOT_RUNNING");
    assert_eq!(a["configuration"], Value::Null);
    let text = s.ok(&["ab", "assign", "network_analysis_comparison", "engineer-7"]);
    assert_eq!(cells(line(&text, "variant")), ["variant", "-"]);
    assert_eq!(cells(line(&text, "reason")), ["reason", "NOT_RUNNING"]);

    assert!(
        s.fails(&["ab", "assign", "nope", "engineer-7"], 4)
            .contains("experiment `nope` does not exist")
    );
    s.fails(&["ab", "assign", TEST, ""], 3);
}

/// Exposed units per variant of `test`, as `ab analyze` counts them.
fn exposures(s: &Scratch, test: &str) -> Vec<u64> {
    s.json(&["ab", "analyze", test])["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["exposures"].as_u64().unwrap())
        .collect()
}

#[test]
fn peek_looks_without_exposing() {
    let s = Scratch::deployed("peek");
    s.ok(&[
        "flags",
        "set",
        "sizing_method",
        r#"{"type": "a_b_test", "enabled": true, "experiment": "pipe_sizing_comparison"}"#,
    ]);
    let mut seen = Vec::new();
    for unit in ["engineer-1", "engineer-2", "engineer-3", "engineer-4"] {
        let expected = variant(&s, TEST, unit).unwrap();
        let peek = s.json(&["ab", "peek", TEST, unit]);
        assert_eq!(peek["variant"], expected.as_str());
        assert_eq!(peek["reason"], "ASSIGNED");
        let text = s.ok(&["ab", "assign", "--peek", TEST, unit]);
        assert_eq!(
            cells(line(&text, "variant")),
            ["variant", expected.as_str()]
        );
        let flag = s.json(&["flags", "eval", "sizing_method", "--user", unit, "--peek"]);
        assert_eq!(flag["variant"], expected.as_str());
        let flag = s.json(&[
            "flags",
            "eval",
            "sizing_method",
            "--context",
            &format!(r#"{{"user_id": "{unit}", "peek": true}}"#),
        ]);
        assert_eq!(flag["variant"], expected.as_str());
        seen.push(expected);
    }
    assert_eq!(exposures(&s, TEST), [0, 0], "looking exposed someone");
    // Assigning does expose, and gives the same variant.
    let a = s.json(&["ab", "assign", TEST, "engineer-1"]);
    assert_eq!(a["variant"], seen[0].as_str());
    assert_eq!(exposures(&s, TEST).iter().sum::<u64>(), 1);
    s.fails(&["ab", "peek", "no_such_test", "u"], 4);
}

#[test]
fn record_rejects_what_cannot_be_recorded() {
    let s = Scratch::deployed("record-errors");
    let record = |unit: &str, metric: &str, value: &str| {
        vec![
            "ab".to_string(),
            "record".into(),
            TEST.into(),
            unit.into(),
            metric.into(),
            value.into(),
        ]
    };
    let fails = |args: Vec<String>, code| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s.fails(&args, code)
    };
    assert!(fails(record("e1", METRIC, "NaN"), 3).contains("NaN; a finite number is needed"));
    fails(record("e1", METRIC, "inf"), 3);
    assert!(fails(record("e1", "cost", "1"), 4).contains("has no metric `cost`"));
    fails(record("e1", METRIC, "cheap"), 2);
    let err = s.fails(
        &[
            "ab",
            "record",
            "network_analysis_comparison",
            "e1",
            "pump_head_m",
            "12",
        ],
        3,
    );
    assert!(
        err.contains("has no variant") && err.contains("NOT_RUNNING"),
        "{err}"
    );
    s.fails(&["ab", "record", "nope", "e1", METRIC, "1"], 4);

    // Negative values are values, not options.
    let text = s.ok(&["ab", "record", TEST, "e1", "pressure_drop_pa_per_m", "-3.5"]);
    let variant = variant(&s, TEST, "e1").unwrap();
    assert_eq!(
        text.trim_end(),
        format!("recorded pressure_drop_pa_per_m = -3.5 for e1 ({variant}) in {TEST}")
    );
    let r = s.json(&["ab", "record", TEST, "e1", METRIC, "41.25"]);
    assert_eq!(
        r,
        json!({"experiment": TEST, "unit": "e1", "variant": variant,
               "metric": METRIC, "value": 41.25})
    );

    let missing = Scratch::new("record-no-db");
    missing.fails(&["ab", "record", TEST, "e1", METRIC, "1"], 4);
    assert!(!missing.db().exists(), "no empty database is created");
}

// ---- analyze -------------------------------------------------------------------

#[test]
fn values_recorded_by_one_process_are_analysed_by_another() {
    let s = Scratch::deployed("record-analyze");
    let mut sums: std::collections::BTreeMap<String, (u64, f64)> = Default::default();
    for i in 0..12 {
        let unit = format!("engineer-{i}");
        let value = 40.0 + i as f64;
        s.ok(&["ab", "record", TEST, &unit, METRIC, &value.to_string()]);
        let entry = sums.entry(variant(&s, TEST, &unit).unwrap()).or_default();
        entry.0 += 1;
        entry.1 += value;
    }
    // Two values of one unit combine into its mean (aggregation: mean).
    s.ok(&["ab", "record", TEST, "engineer-0", METRIC, "50"]);
    let first = variant(&s, TEST, "engineer-0").unwrap();
    sums.get_mut(&first).unwrap().1 += (40.0 + 50.0) / 2.0 - 40.0;

    let report = s.json(&["ab", "analyze", TEST]);
    assert_eq!(report["experiment_id"], TEST);
    assert_eq!(report["correction"], "holm");
    assert_eq!(report["sequential"], false);
    let m = &report["metrics"][0];
    assert_eq!(m["name"], METRIC);
    let arms = [&m["control"], &m["comparisons"][0]["treatment"]];
    for arm in arms {
        let (n, sum) = sums[arm["variant"].as_str().unwrap()];
        assert_eq!(arm["n"], n, "{arm}");
        let mean = arm["mean"].as_f64().unwrap();
        assert!((mean - sum / n as f64).abs() < 1e-9, "{arm}");
    }
    let exposed: u64 = report["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["exposures"].as_u64().unwrap())
        .sum();
    assert_eq!(exposed, 12);
    assert_eq!(report["conclusion"], "keep_running");

    let text = s.ok(&["ab", "analyze", TEST]);
    assert!(
        text.starts_with(&format!(
            "Pipe Sizing Method Comparison ({TEST}) [running], control traditional"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\n{METRIC} (primary, higher is better, kW/kEUR)\n"
        )),
        "{text}"
    );
    let header = cells(line(&text, "variant "));
    assert_eq!(
        header,
        [
            "variant",
            "n",
            "mean",
            "difference",
            "95% CI",
            "lift",
            "p adj",
            "power",
            "verdict"
        ]
    );
    let treatment = m["comparisons"][0]["variant"].as_str().unwrap();
    let row = cells(line(&text, treatment));
    assert_eq!(row[1], sums[treatment].0.to_string());
    assert!(row[4].starts_with('['), "the interval: {row:?}");
    assert!(
        ["better", "worse", "inconclusive"].contains(row.last().unwrap()),
        "{row:?}"
    );
    assert!(text.contains("\nrecommendation: keep running: "), "{text}");
    assert!(text.contains("\n  - "), "reasons: {text}");
}

#[test]
fn analyze_options_and_errors() {
    let s = Scratch::deployed("analyze-options");
    for i in 0..8 {
        let unit = format!("u{i}");
        s.ok(&[
            "ab",
            "record",
            TEST,
            &unit,
            METRIC,
            &format!("{}", 30 + i * i),
        ]);
    }
    let bh = s.json(&["ab", "analyze", TEST, "--correction", "bh", "--sequential"]);
    assert_eq!(bh["correction"], "bh");
    assert_eq!(bh["sequential"], true);
    assert!(bh["metrics"][0]["comparisons"][0]["sequential"].is_object());
    let holm = s.json(&["ab", "analyze", TEST, "--correction", "holm"]);
    assert_eq!(holm["correction"], "holm");
    assert_eq!(
        holm["metrics"][0]["comparisons"][0]["sequential"],
        Value::Null
    );

    s.fails(&["ab", "analyze", TEST, "--correction", "bonferroni"], 2);
    assert!(
        s.fails(&["ab", "analyze", "nope"], 4)
            .contains("experiment `nope` does not exist")
    );
    let none = s.json(&["ab", "analyze", TEST, "--correction", "none"]);
    assert_eq!(none["correction"], "none");
    let p = &none["metrics"][0]["comparisons"][0];
    assert_eq!(p["p_adjusted"], p["decision_p_value"]);
    // A test nobody took part in is analysed, not an error; it has run
    // since its deployment started it.
    let empty = s.json(&["ab", "analyze", "flow_calculation_comparison"]);
    assert!(
        empty["duration_days"].as_f64().unwrap() < 0.01,
        "{}",
        empty["duration_days"]
    );
    assert_eq!(empty["sample_ratio"]["status"], "skipped");
}

// ---- plan ------------------------------------------------------------------------

#[test]
fn plan_gives_the_units_per_variant() {
    let s = Scratch::deployed("plan");
    let args = [
        "ab",
        "plan",
        TEST,
        METRIC,
        "--baseline-mean",
        "40",
        "--baseline-sd",
        "8",
    ];
    // d = 0.05 × 40 / 8 = 0.25, planned at the level the analysis decides
    // at: Holm over the family's 2 comparisons, alpha 0.025, so 305.4 per
    // arm (statsmodels), 306.
    let text = s.ok(&args);
    assert_eq!(text.lines().next().unwrap(), format!("{TEST} / {METRIC}"));
    assert_eq!(
        cells(line(&text, "units needed")),
        [
            "units needed",
            "612 in total: traditional 306 (50%, control), intelligent 306 (50%)"
        ]
    );
    assert_eq!(
        cells(line(&text, "alpha")),
        [
            "alpha",
            "the family's level 0.05 divided by its 2 comparisons, as Holm's strictest step applies it"
        ]
    );
    assert_eq!(
        cells(line(&text, "effect")),
        ["effect", "5% of the mean = 2 kW/kEUR (Cohen's d 0.25)"]
    );
    assert!(line(&text, "configured").contains("minimum_sample_size 1000"));

    let p = s.json(&args);
    assert_eq!(p["experiment"], TEST);
    assert_eq!(p["metric"], METRIC);
    assert_eq!(p["per_variant"], 306);
    assert_eq!(p["total"], 612);
    assert_eq!(p["effect_size"], 0.25);
    assert_eq!(p["alpha"], 0.025);
    assert_eq!(p["power"], 0.8);
    assert_eq!(p["n_variants"], 2);
    // Without a correction: the textbook 252.1 per arm, so 253.
    let mut none = args.to_vec();
    none.extend(["--correction", "none"]);
    let p = s.json(&none);
    assert_eq!(
        (p["per_variant"].as_u64(), p["total"].as_u64()),
        (Some(253), Some(506))
    );
    assert_eq!(p["alpha"], 0.05);
    // A 70/30 test is planned as 70/30: the smaller arm at 3/7 of the
    // control's units, both counted in the total.
    let p = s.json(&[
        "ab",
        "plan",
        "network_analysis_comparison",
        "differential_pressure_margin_kpa",
        "--baseline-mean",
        "40",
        "--baseline-sd",
        "8",
    ]);
    let arms = p["arms"].as_array().unwrap();
    let (control, solver) = (
        arms[0]["units"].as_u64().unwrap(),
        arms[1]["units"].as_u64().unwrap(),
    );
    assert_eq!(p["ratio"], 30.0 / 70.0);
    assert_eq!(
        solver,
        (p["nobs1"].as_f64().unwrap() * 3.0 / 7.0).ceil() as u64
    );
    assert_eq!(control, p["nobs1"].as_f64().unwrap().ceil() as u64);
    assert_eq!(p["total"].as_u64(), Some(control + solver));

    // A negative baseline is a number, not an option.
    let negative = s.json(&[
        "ab",
        "plan",
        TEST,
        METRIC,
        "--baseline-mean",
        "-40",
        "--baseline-sd",
        "8",
    ]);
    assert_eq!(negative["per_variant"], 306);

    let plan = |metric: &str, sd: &str| {
        vec![
            "ab",
            "plan",
            TEST,
            metric,
            "--baseline-mean",
            "40",
            "--baseline-sd",
        ]
        .into_iter()
        .map(String::from)
        .chain([sd.to_string()])
        .collect::<Vec<_>>()
    };
    let fails = |args: Vec<String>, code| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s.fails(&args, code)
    };
    assert!(fails(plan(METRIC, "0"), 3).contains("baseline_sd"));
    fails(plan(METRIC, "NaN"), 3);
    assert!(fails(plan("cost", "8"), 4).contains("has no metric `cost`"));
    s.fails(&["ab", "plan", TEST, METRIC, "--baseline-mean", "40"], 2);
}

// ---- start, pause, stop ------------------------------------------------------------

#[test]
fn status_changes_decide_who_gets_a_variant() {
    let s = Scratch::deployed("status");
    let early = s.json(&["ab", "assign", TEST, "early-bird"]);
    let early_variant = early["variant"].as_str().unwrap().to_string();

    let text = s.ok(&["ab", "pause", TEST, "--actor", "ops"]);
    assert_eq!(
        text.trim_end(),
        format!("{TEST}: running -> paused (version 2, by ops)")
    );
    // Units already in keep their variant; new ones get none.
    let a = s.json(&["ab", "assign", TEST, "early-bird"]);
    assert_eq!(a["variant"], early_variant.as_str());
    let a = s.json(&["ab", "assign", TEST, "late-comer"]);
    assert_eq!(a["variant"], Value::Null);
    assert_eq!(a["reason"], "PAUSED");
    let err = s.fails(&["ab", "record", TEST, "late-comer", METRIC, "1"], 3);
    assert!(err.contains("PAUSED"), "{err}");

    let c = s.json(&["ab", "stop", TEST]);
    assert_eq!(c["before"], "paused");
    assert_eq!(c["definition"]["status"], "stopped");
    assert_eq!(c["version"], 3);
    assert_eq!(c["updated_by"], "night-shift", "the login name by default");
    for unit in ["early-bird", "late-comer"] {
        let a = s.json(&["ab", "assign", TEST, unit]);
        assert_eq!(a["variant"], Value::Null);
        assert_eq!(a["reason"], "NOT_RUNNING");
    }

    let text = s.ok(&["ab", "start", TEST, "--actor", "ops"]);
    assert_eq!(
        text.trim_end(),
        format!("{TEST}: stopped -> running (version 4, by ops)")
    );
    let a = s.json(&["ab", "assign", TEST, "early-bird"]);
    assert_eq!(a["variant"], early_variant.as_str());
    assert!(a["variant"].is_string());

    // Starting a draft sets its start time.
    let c = s.json(&["ab", "start", "network_analysis_comparison"]);
    assert_eq!(c["before"], "draft");
    assert!(c["definition"]["start_time"].is_string(), "{c}");
    assert!(s.ok(&["ab", "list"]).lines().any(|l| cells(l)[..4]
        == [
            "network_analysis_comparison",
            "Network Analysis Comparison",
            "network_analysis",
            "running"
        ]));

    s.fails(&["ab", "pause", "nope"], 4);
    s.fails(&["ab", "start", TEST, "--actor", ""], 3);
}

// ---- config errors ------------------------------------------------------------------

#[test]
fn an_invalid_test_config_exits_5() {
    let s = Scratch::new("config");
    let dir = s.0.join("configs");
    std::fs::create_dir_all(&dir).unwrap();
    let yml = std::fs::read_to_string(Path::new(&configs()).join("ab_tests.yml"))
        .unwrap()
        .replacen("traffic_percentage: 50.0", "traffic_percentage: 40.0", 1);
    std::fs::write(dir.join("ab_tests.yml"), yml).unwrap();
    let o = s.run(&["deploy", "--config-dir", "configs"]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("ab_tests.yml"));
}

#[test]
fn export_writes_the_raw_observations_as_csv() {
    let s = Scratch::new("export");
    s.ok(&["deploy", "--config-dir", &configs()]);
    s.ok(&[
        "ab",
        "record",
        TEST,
        "net-1",
        "pipe_cost_efficiency",
        "41.5",
    ]);
    s.ok(&["ab", "record", TEST, "net-2", "pipe_cost_efficiency", "-2"]);
    let csv = s.ok(&["ab", "export", TEST]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,unit,variant,metric,value,at_ms");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with("1,net-1,") && lines[1].contains(",pipe_cost_efficiency,41.5,"),
        "{csv}"
    );
    let text = s.ok(&["ab", "export", TEST, "--output", "obs.csv"]);
    assert!(
        text.starts_with("wrote 2 observations of pipe_sizing_comparison to obs.csv"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(s.0.join("obs.csv")).unwrap(), csv);
    s.fails(&["ab", "export", "nope"], 4);
}

// ---- the life cycle ----------------------------------------------------------

/// The repository's configs with `pipe_sizing_comparison` left out, in `dir`.
fn configs_without_the_test(s: &Scratch, dir: &str) -> String {
    let text = std::fs::read_to_string(Path::new(&configs()).join("ab_tests.yml")).unwrap();
    let start = text.find("  pipe_sizing_comparison:").unwrap();
    let end = text.find("  flow_calculation_comparison:").unwrap();
    let without = format!("{}{}", &text[..start], &text[end..]);
    s.write(&format!("{dir}/ab_tests.yml"), &without);
    s.0.join(dir).display().to_string()
}

#[test]
fn show_and_analyze_agree_on_when_a_test_started() {
    let s = Scratch::deployed("one-time");
    s.ok(&["ab", "record", TEST, "u1", METRIC, "40"]);
    let show = s.json(&["ab", "show", TEST]);
    let analysis = s.json(&["ab", "analyze", TEST]);
    let started = show["started_at"].as_str().unwrap();
    assert_eq!(analysis["started_at"], started);
    assert_eq!(analysis["phases"][0]["started_at"], started);
    // The file's start_time (2026-11-02) is shown beside it, not counted.
    assert_eq!(show["definition"]["start_time"], "2026-11-02T08:00:00Z");
    let text = s.ok(&["ab", "show", TEST]);
    assert!(
        line(&text, "start time").contains(&format!("{started} (phase 1;")),
        "{text}"
    );
    let text = s.ok(&["ab", "analyze", TEST]);
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("started {started}; estimates from phase 1")),
        "{text}"
    );
    // The days still needed count from that same start.
    let days = analysis["duration_days"].as_f64().unwrap();
    assert!(days < 0.01, "{days}");
    assert_eq!(
        analysis["additional_days"].as_f64().unwrap(),
        7.0 - days,
        "{analysis}"
    );
}

#[test]
fn start_on_a_running_test_changes_nothing() {
    let s = Scratch::deployed("start-running");
    let before = s.json(&["ab", "show", TEST]);
    let text = s.ok(&["ab", "start", TEST, "--actor", "someone-else"]);
    assert_eq!(
        text.trim_end(),
        format!("{TEST} is running already: nothing changed (version 1, by ci)")
    );
    let after = s.json(&["ab", "show", TEST]);
    assert_eq!(after["version"], before["version"]);
    assert_eq!(
        after["updated_by"], "ci",
        "nothing is credited to the actor"
    );
    assert_eq!(after["updated_at_ms"], before["updated_at_ms"]);
    let phases = |v: &Value| {
        v["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["phase"].clone(),
                    p["started_ms"].clone(),
                    p["ended_ms"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(phases(&after), phases(&before), "no new phase");
    // The audit log holds no change by that actor either.
    let cha = Cha::open(s.db()).unwrap();
    let history = cha.experiment_history(TEST).unwrap();
    assert!(
        history.iter().all(|h| h.actor != "someone-else"),
        "{history:?}"
    );
}

#[test]
fn a_stopped_test_stays_stopped_until_started_and_then_begins_a_new_phase() {
    let s = Scratch::deployed("stopped");
    let unit = "early-bird";
    let variant = s.json(&["ab", "assign", TEST, unit])["variant"].clone();
    s.ok(&["ab", "stop", TEST, "--actor", "ops"]);
    // A deploy of the files (which say running) leaves it stopped, with
    // either drift choice.
    let dir = configs();
    for extra in [&[][..], &["--keep-runtime"][..], &["--overwrite"][..]] {
        let mut args = vec!["deploy", "--config-dir", dir.as_str()];
        args.extend_from_slice(extra);
        s.ok(&args);
        assert_eq!(
            s.json(&["ab", "show", TEST])["definition"]["status"],
            "stopped",
            "{extra:?}"
        );
    }
    let a = s.json(&["ab", "assign", TEST, unit]);
    assert_eq!(a["reason"], "NOT_RUNNING");
    // Pausing would hand its units their variants again: refused.
    assert!(
        s.fails(&["ab", "pause", TEST], 3)
            .contains("is stopped; pausing would give its units their variants again")
    );
    // Started explicitly: a restart, in a new phase.
    let text = s.ok(&["ab", "start", TEST, "--actor", "ops"]);
    assert!(text.contains("stopped -> running"), "{text}");
    let show = s.json(&["ab", "show", TEST]);
    let phases = show["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2);
    assert_eq!(phases[0]["reason"], "start");
    assert!(phases[0]["ended_at"].is_string());
    assert_eq!(phases[1]["reason"], "restart");
    assert_eq!(phases[1]["ended_at"], Value::Null);
    assert_eq!(s.json(&["ab", "assign", TEST, unit])["variant"], variant);
}

#[test]
fn a_test_removed_from_the_files_is_archived_and_restored_explicitly() {
    let s = Scratch::deployed("archive");
    for i in 0..6 {
        s.ok(&[
            "ab",
            "record",
            TEST,
            &format!("u{i}"),
            METRIC,
            &format!("{}", 40 + i),
        ]);
    }
    let without = configs_without_the_test(&s, "without");
    // Removing it needs to be asked for, as any deletion does.
    assert_eq!(
        s.run(&["deploy", "--config-dir", &without]).status.code(),
        Some(9)
    );
    s.ok(&[
        "deploy",
        "--config-dir",
        &without,
        "--overwrite",
        "--actor",
        "ci",
    ]);
    // Gone from the list of live tests, there in the archive.
    assert!(!s.ok(&["ab", "list"]).contains(TEST));
    let archived = s.json(&["ab", "list", "--archived"]);
    assert_eq!(archived[0]["definition"]["id"], TEST);
    assert_eq!(archived[0]["archived_by"], "ci");
    let text = s.ok(&["ab", "list", "--archived"]);
    assert!(cells(line(&text, TEST))[5].ends_with("by ci"), "{text}");
    // Still shown, analysed and exported; no longer assigned.
    let text = s.ok(&["ab", "show", TEST]);
    assert!(
        line(&text, "archived").contains("ab restore pipe_sizing_comparison"),
        "{text}"
    );
    let analysis = s.json(&["ab", "analyze", TEST]);
    let n = analysis["metrics"][0]["control"]["n"].as_u64().unwrap()
        + analysis["metrics"][0]["comparisons"][0]["treatment"]["n"]
            .as_u64()
            .unwrap();
    assert_eq!(n, 6);
    s.ok(&["ab", "export", TEST, "--output", "obs.csv"]);
    assert_eq!(
        std::fs::read_to_string(s.0.join("obs.csv"))
            .unwrap()
            .lines()
            .count(),
        7
    );
    s.fails(&["ab", "assign", TEST, "u1"], 4);
    // Named again by the files: refused until restored, which keeps the
    // history.
    let err = s.fails(&["deploy", "--config-dir", &configs()], 5);
    assert!(err.contains("ab restore pipe_sizing_comparison"), "{err}");
    s.fails(&["ab", "restore", "flow_calculation_comparison"], 3);
    s.fails(&["ab", "restore", "nope"], 4);
    let restored = s.json(&["ab", "restore", TEST, "--actor", "ops"]);
    assert_eq!(restored["updated_by"], "ops");
    assert!(restored["version"].as_i64().unwrap() > 1);
    assert_eq!(s.json(&["ab", "list", "--archived"]), json!([]));
    s.ok(&["deploy", "--config-dir", &configs()]);
    let analysis = s.json(&["ab", "analyze", TEST, "--phases", "all"]);
    let n = analysis["metrics"][0]["control"]["n"].as_u64().unwrap()
        + analysis["metrics"][0]["comparisons"][0]["treatment"]["n"]
            .as_u64()
            .unwrap();
    assert_eq!(n, 6, "the data recorded before the removal is kept");
    // The restore started a new phase, after the archive closed the first.
    let phases = analysis["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2);
    assert_eq!(phases[1]["reason"], "restart");
    let cha = Cha::open(s.db()).unwrap();
    let actions: Vec<String> = cha
        .experiment_history(TEST)
        .unwrap()
        .iter()
        .map(|h| h.action.clone())
        .collect();
    assert!(actions.contains(&"restore".to_string()), "{actions:?}");
}

#[test]
fn doctor_reports_quarantined_observations() {
    let s = Scratch::deployed("doctor-quarantine");
    s.ok(&["ab", "record", TEST, "u1", METRIC, "40"]);
    // A row an older writer could have left: beyond the magnitude bound.
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.execute(
        "INSERT INTO observations (experiment, unit, variant, metric, value, at_ms)
         SELECT experiment, unit, variant, ?1, 1e308, first_seen_ms FROM exposures LIMIT 1",
        [METRIC],
    )
    .unwrap();
    drop(conn);
    let analysis = s.json(&["ab", "analyze", TEST]);
    assert_eq!(analysis["quarantined"]["observations"], 1);
    let doctor = s.json(&["doctor"]);
    assert_eq!(doctor["quarantined_observations"][TEST], 1);
    let text = s.ok(&["doctor"]);
    assert!(
        line(&text, "status").contains("quarantined observations"),
        "{text}"
    );
    s.fails(&["ab", "record", TEST, "u1", METRIC, "1e31"], 3);
}
