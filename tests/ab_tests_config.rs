//! `configs/ab_tests.yml`: the shipped file, every validation rule with its
//! message and location, versions, and the JSON form of the model.

use std::path::Path;

use cha_deploy::ErrorKind;
use cha_deploy::config::ab_tests::read_experiment;
use cha_deploy::config::{Issues, Node, load_ab_tests, parse_ab_tests, validate_experiment};
use cha_deploy::experiments::{
    Aggregation, ExperimentDefinition, ExperimentStatus, MetricType, TargetDirection, TestType,
};
use serde_json::json;

fn shipped() -> cha_deploy::config::AbTestsConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/ab_tests.yml");
    load_ab_tests(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A valid file; the rule tests edit single lines of it.
const BASE: &str = "\
ab_tests:
  t1:
    name: Test
    test_type: pipe_sizing
    status: running
    variants:
      - name: a
        traffic_percentage: 50
      - name: b
        traffic_percentage: 50
    metrics:
      - name: m
        metric_type: primary
        aggregation: mean
        target_direction: increase
        minimum_detectable_effect: 0.05
";

/// `BASE` with the given 1-based lines replaced (a replacement may hold
/// several lines, or none).
fn edit(lines: &[(usize, &str)]) -> String {
    let mut out = String::new();
    for (i, line) in BASE.lines().enumerate() {
        match lines.iter().find(|(n, _)| *n == i + 1) {
            Some((_, "")) => {}
            Some((_, new)) => {
                out.push_str(new);
                out.push('\n');
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Every problem of `text`, one formatted line each.
fn problems(text: &str) -> Vec<String> {
    match parse_ab_tests(text, "t.yml") {
        Ok(config) => panic!("expected problems, loaded {config:?}"),
        Err(e) => e.issues.iter().map(ToString::to_string).collect(),
    }
}

/// The single problem of `BASE` with `lines` edited.
fn problem(lines: &[(usize, &str)]) -> String {
    let all = problems(&edit(lines));
    assert_eq!(all.len(), 1, "{all:#?}");
    all.into_iter().next().unwrap()
}

#[test]
fn base_is_valid() {
    let config = parse_ab_tests(BASE, "t.yml").unwrap();
    assert_eq!(config.experiments.len(), 1);
    validate_experiment(&config.experiments[0]).unwrap();
}

#[test]
fn shipped_file_loads_with_its_three_tests() {
    let config = shipped();
    assert_eq!(config.source_version, 1);
    let ids: Vec<&str> = config.experiments.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "pipe_sizing_comparison",
            "flow_calculation_comparison",
            "network_analysis_comparison"
        ]
    );

    let pipe = config.experiment("pipe_sizing_comparison").unwrap();
    assert_eq!(pipe.name, "Pipe Sizing Method Comparison");
    assert_eq!(pipe.test_type, TestType::PipeSizing);
    assert_eq!(pipe.status, ExperimentStatus::Running);
    assert_eq!(pipe.control.as_deref(), Some("traditional"));
    assert_eq!(pipe.control_index(), 0);
    let names: Vec<&str> = pipe.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["traditional", "intelligent"]);
    assert_eq!(pipe.variants[0].traffic_percentage, 50.0);
    assert_eq!(pipe.variants[1].traffic_percentage, 50.0);
    // The seed's configurations, with their YAML types.
    assert_eq!(
        json!(pipe.variants[0].configuration),
        json!({"pipe_sizing_method": "fixed_diameter", "default_diameter_mm": 100, "enable_intelligent_sizing": false})
    );
    assert_eq!(
        json!(pipe.variants[1].configuration),
        json!({"pipe_sizing_method": "intelligent", "enable_intelligent_sizing": true, "max_velocity_ms": 2.0, "min_velocity_ms": 0.1})
    );
    assert!(pipe.variants[0].configuration["default_diameter_mm"].is_i64());
    assert!(pipe.variants[1].configuration["max_velocity_ms"].is_f64());
    let metrics: Vec<(&str, MetricType, Aggregation, TargetDirection)> = pipe
        .metrics
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.metric_type,
                m.aggregation,
                m.target_direction,
            )
        })
        .collect();
    assert_eq!(
        metrics,
        [
            (
                "pipe_cost_efficiency",
                MetricType::Primary,
                Aggregation::Mean,
                TargetDirection::Increase
            ),
            (
                "pressure_drop_pa_per_m",
                MetricType::Secondary,
                Aggregation::Mean,
                TargetDirection::Decrease
            ),
            (
                "sizing_time_ms",
                MetricType::Guardrail,
                Aggregation::Mean,
                TargetDirection::Decrease
            ),
            (
                "velocity_violations",
                MetricType::Guardrail,
                Aggregation::Proportion,
                TargetDirection::Decrease
            ),
        ]
    );
    let primary = &pipe.metrics[0];
    assert_eq!(
        (
            primary.minimum_detectable_effect,
            primary.significance_level,
            primary.power
        ),
        (0.05, 0.05, 0.8)
    );
    assert_eq!(primary.unit.as_deref(), Some("kW/kEUR"));
    assert_eq!(pipe.metrics[1].unit.as_deref(), Some("Pa/m"));
    assert_eq!(
        (pipe.minimum_sample_size, pipe.minimum_duration_days),
        (1000, 7)
    );
    assert_eq!(pipe.coverage, 100.0);
    assert_eq!(pipe.effective_seed(), "pipe_sizing_comparison");
    assert_eq!(pipe.start_time.as_deref(), Some("2026-11-02T08:00:00Z"));

    let flow = config.experiment("flow_calculation_comparison").unwrap();
    assert_eq!(flow.test_type, TestType::FlowCalculation);
    assert_eq!(flow.status, ExperimentStatus::Running);
    assert_eq!(flow.coverage, 50.0);
    assert_eq!(flow.control, None);
    assert_eq!(flow.metrics[1].aggregation, Aggregation::Sum);

    let network = config.experiment("network_analysis_comparison").unwrap();
    assert_eq!(network.test_type, TestType::NetworkAnalysis);
    assert_eq!(network.status, ExperimentStatus::Draft);
    assert_eq!(network.variants[1].traffic_percentage, 30.0);
    assert_eq!(network.effective_seed(), "network_analysis_2026");
    assert_eq!(network.minimum_duration_days, 14);
    assert_eq!(network.start_time, None);
    // pump_head_m sets neither effect, alpha nor power: the defaults apply.
    let pump = &network.metrics[1];
    assert_eq!(pump.name, "pump_head_m");
    assert_eq!(
        (
            pump.minimum_detectable_effect,
            pump.significance_level,
            pump.power
        ),
        (0.05, 0.05, 0.8)
    );

    for test in &config.experiments {
        validate_experiment(test).unwrap();
        assert!(
            test.metrics
                .iter()
                .any(|m| m.metric_type == MetricType::Primary)
        );
        assert!(
            test.metrics
                .iter()
                .any(|m| m.metric_type == MetricType::Guardrail)
        );
    }
}

#[test]
fn json_round_trip_of_the_model_equals_the_loaded_definitions() {
    for test in shipped().experiments {
        let json = serde_json::to_string(&test).unwrap();
        let back: ExperimentDefinition = serde_json::from_str(&json).unwrap();
        assert_eq!(back, test);
        // JSON read through the YAML reader gives the same definition.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut issues = Issues::new("");
        let path = format!("ab_tests.{}", test.id);
        let read = read_experiment(&test.id, &Node::from_json(&value), &path, &mut issues);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(read.as_ref(), Some(&test));
    }
    // An `id` field must agree with the key.
    let yaml = BASE.replace("    name: Test\n", "    id: t2\n    name: Test\n");
    assert_eq!(
        problems(&yaml),
        [
            "t.yml:3:9: ab_tests.t1.id: `t2` differs from the test's id `t1` (hint: a test's id is its key under `ab_tests`)"
        ]
    );
}

#[test]
fn versions() {
    assert_eq!(parse_ab_tests(BASE, "t.yml").unwrap().source_version, 1);
    let explicit = format!("version: 1\n{BASE}");
    assert_eq!(
        parse_ab_tests(&explicit, "t.yml").unwrap().source_version,
        1
    );
    assert_eq!(
        problems(&format!("version: 2\n{BASE}")),
        [
            "t.yml:1:10: version: version 2 is newer than this cha-deploy, which reads ab_tests.yml version 1 (hint: upgrade cha-deploy)"
        ]
    );
    assert_eq!(
        problems(&format!("version: one\n{BASE}")),
        ["t.yml:1:10: version: unknown version \"one\" (hint: use `version: 1`, or leave it out)"]
    );
}

#[test]
fn document_shape_problems() {
    assert_eq!(
        problems(""),
        ["t.yml:1:1: the file is empty (hint: start with `ab_tests:` and one entry per test)"]
    );
    assert_eq!(
        problems("- a\n- b\n"),
        [
            "t.yml:1:1: expected a mapping with `ab_tests`, found a list (hint: start with `ab_tests:` and one entry per test)"
        ]
    );
    assert_eq!(
        problems("version: 1\n"),
        ["t.yml:1:1: ab_tests: missing `ab_tests` (hint: add `ab_tests:` with one entry per test)"]
    );
    assert_eq!(
        problems("ab_tests: [t1]\n"),
        ["t.yml:1:11: ab_tests: expected a mapping of test id to fields, found a list"]
    );
    assert_eq!(
        problems(&BASE.replace("ab_tests:", "ab_test:")),
        [
            "t.yml:1:1: ab_test: unknown field `ab_test` (hint: did you mean `ab_tests`?)",
            "t.yml:1:1: ab_tests: missing `ab_tests` (hint: add `ab_tests:` with one entry per test)"
        ]
    );
    // No tests at all is a valid (empty) file.
    assert!(
        parse_ab_tests("ab_tests: {}\n", "t.yml")
            .unwrap()
            .experiments
            .is_empty()
    );
}

#[test]
fn malformed_yaml_is_located() {
    let err = parse_ab_tests(&edit(&[(7, "      - name: [a")]), "t.yml").unwrap_err();
    assert_eq!(err.issues.len(), 1);
    let issue = &err.issues[0];
    assert_eq!(issue.file, "t.yml");
    assert!(issue.line >= 7, "{issue}");
    assert!(issue.message.starts_with("invalid YAML: "), "{issue}");
    // A duplicate test id is a duplicate key.
    let twice = format!("{BASE}{}", &BASE["ab_tests:\n".len()..]);
    let err = parse_ab_tests(&twice, "t.yml").unwrap_err();
    assert_eq!(err.issues[0].line, 17, "{err}");
}

#[test]
fn names_follow_the_flag_name_rule() {
    assert_eq!(
        problem(&[(2, "  pipe sizing:")]),
        "t.yml:3:5: ab_tests.pipe sizing: test id `pipe sizing` contains ` `; use letters, digits, `_`, `.` and `-`"
    );
    assert_eq!(
        problem(&[(7, "      - name: intelligent/v2")]),
        "t.yml:7:15: ab_tests.t1.variants[0].name: variant name `intelligent/v2` contains `/`; use letters, digits, `_`, `.` and `-`"
    );
    assert_eq!(
        problem(&[(12, "      - name: cost €")]),
        "t.yml:12:15: ab_tests.t1.metrics[0].name: metric name `cost €` contains ` `; use letters, digits, `_`, `.` and `-`"
    );
    let long = format!("      - name: {}", "m".repeat(129));
    assert_eq!(
        problem(&[(12, &long)]),
        "t.yml:12:15: ab_tests.t1.metrics[0].name: a metric name has 1 to 128 bytes"
    );
    assert_eq!(
        problem(&[(7, "      - description: no name")]),
        "t.yml:7:9: ab_tests.t1.variants[0].name: a variant needs a `name`"
    );
    assert_eq!(
        problem(&[(3, "")]),
        "t.yml:3:5: ab_tests.t1.name: missing `name` (hint: a title for reports, e.g. `Pipe Sizing Method Comparison`)"
    );
    assert_eq!(
        problem(&[(3, "    name: 5")]),
        "t.yml:3:11: ab_tests.t1.name: expected a string, found a number"
    );
}

#[test]
fn unknown_choices_list_the_allowed_values() {
    assert_eq!(
        problem(&[(4, "    test_type: pipe-sizing")]),
        "t.yml:4:16: ab_tests.t1.test_type: unknown test_type `pipe-sizing` (hint: one of pipe_sizing, flow_calculation, network_analysis, cost_analysis, performance, user_experience)"
    );
    assert_eq!(
        problem(&[(5, "    status: active")]),
        "t.yml:5:13: ab_tests.t1.status: unknown status `active` (hint: one of draft, running, paused, stopped, completed)"
    );
    assert_eq!(
        problem(&[(13, "        metric_type: main")]),
        "t.yml:13:22: ab_tests.t1.metrics[0].metric_type: unknown metric_type `main` (hint: one of primary, secondary, guardrail)"
    );
    assert_eq!(
        problem(&[(14, "        aggregation: median")]),
        "t.yml:14:22: ab_tests.t1.metrics[0].aggregation: unknown aggregation `median` (hint: one of mean, sum, count, proportion)"
    );
    assert_eq!(
        problem(&[(15, "        target_direction: up")]),
        "t.yml:15:27: ab_tests.t1.metrics[0].target_direction: unknown target_direction `up` (hint: one of increase, decrease)"
    );
    assert_eq!(
        problem(&[(4, "")]),
        "t.yml:3:5: ab_tests.t1.test_type: missing `test_type` (hint: one of pipe_sizing, flow_calculation, network_analysis, cost_analysis, performance, user_experience)"
    );
    assert_eq!(
        problem(&[(15, "")]),
        "t.yml:12:9: ab_tests.t1.metrics[0].target_direction: missing `target_direction` (hint: one of increase, decrease)"
    );
}

#[test]
fn variants_rules() {
    assert_eq!(
        problem(&[
            (6, "    variants: {a: 50, b: 50}"),
            (7, ""),
            (8, ""),
            (9, ""),
            (10, "")
        ]),
        "t.yml:6:15: ab_tests.t1.variants: expected a list, found a mapping"
    );
    assert_eq!(
        problem(&[(8, "        traffic_percentage: 100"), (9, ""), (10, "")]),
        "t.yml:7:7: ab_tests.t1.variants: an A/B test needs at least 2 variants, found 1 (hint: a control and at least one treatment)"
    );
    assert_eq!(
        problem(&[(9, "      - name: a")]),
        "t.yml:9:15: ab_tests.t1.variants[1].name: variant `a` is listed twice"
    );
    assert_eq!(
        problem(&[(10, "        traffic_percentage: 40")]),
        "t.yml:7:7: ab_tests.t1.variants: variants' traffic_percentage add up to 90, not 100 (hint: they split the test's units; use `coverage` to let only some units in)"
    );
    // Three-way splits that round to 100 within 1e-9 are accepted.
    let thirds = edit(&[
        (8, "        traffic_percentage: 33.33"),
        (
            10,
            "        traffic_percentage: 33.33\n      - name: c\n        traffic_percentage: 33.34",
        ),
    ]);
    assert_eq!(
        parse_ab_tests(&thirds, "t.yml").unwrap().experiments[0]
            .variants
            .len(),
        3
    );
    assert_eq!(
        problems(&edit(&[
            (8, "        traffic_percentage: 0"),
            (10, "        traffic_percentage: 150"),
        ])),
        [
            "t.yml:8:29: ab_tests.t1.variants[0].traffic_percentage: must be greater than 0 and at most 100, not 0 (hint: a variant's share of the test's units, in percent)",
            "t.yml:10:29: ab_tests.t1.variants[1].traffic_percentage: must be greater than 0 and at most 100, not 150 (hint: a variant's share of the test's units, in percent)",
        ]
    );
    assert_eq!(
        problem(&[(10, "")]),
        "t.yml:9:9: ab_tests.t1.variants[1].traffic_percentage: missing `traffic_percentage` (hint: the variant's share of the test's units in percent; the variants add up to 100)"
    );
    assert_eq!(
        problem(&[(10, "        traffic_percentage: half")]),
        "t.yml:10:29: ab_tests.t1.variants[1].traffic_percentage: expected a number, found a string"
    );
    assert_eq!(
        problem(&[(10, "        traffic_percentage: 50\n    control: c")]),
        "t.yml:11:14: ab_tests.t1.control: `c` is not a variant of this test (hint: one of a, b)"
    );
    assert_eq!(
        problem(&[(
            10,
            "        traffic_percentage: 50\n        configuration: [fixed_diameter]"
        )]),
        "t.yml:11:24: ab_tests.t1.variants[1].configuration: expected a mapping of settings, found a list (hint: the settings the caller receives with the variant, e.g. `{pipe_sizing_method: intelligent}`)"
    );
    assert_eq!(
        problems(&edit(&[(10, "        traffic_percent: 50")])),
        [
            "t.yml:9:9: ab_tests.t1.variants[1].traffic_percentage: missing `traffic_percentage` (hint: the variant's share of the test's units in percent; the variants add up to 100)",
            "t.yml:10:9: ab_tests.t1.variants[1].traffic_percent: unknown field `traffic_percent` (hint: did you mean `traffic_percentage`?)",
        ]
    );
}

#[test]
fn configuration_keeps_yaml_types() {
    let text = edit(&[(
        10,
        "        traffic_percentage: 50\n        configuration:\n          method: intelligent\n          diameter_mm: 100\n          max_velocity_ms: 2.0\n          enabled: false\n          limits: {dn100: [0.5, 1.8]}\n          note: ~",
    )]);
    let config = parse_ab_tests(&text, "t.yml").unwrap();
    let conf = &config.experiments[0].variants[1].configuration;
    assert_eq!(
        serde_json::Value::Object(conf.clone()),
        json!({"method": "intelligent", "diameter_mm": 100, "max_velocity_ms": 2.0, "enabled": false, "limits": {"dn100": [0.5, 1.8]}, "note": null})
    );
    assert!(conf["diameter_mm"].is_i64());
    assert!(conf["max_velocity_ms"].is_f64());
    assert_eq!(
        serde_json::to_string(&conf["max_velocity_ms"]).unwrap(),
        "2.0"
    );
}

#[test]
fn metrics_rules() {
    // A wrong type is one problem, not also "needs at least 1 metric".
    assert_eq!(
        problem(&[
            (11, "    metrics: pipe_cost_efficiency"),
            (12, ""),
            (13, ""),
            (14, ""),
            (15, ""),
            (16, "")
        ]),
        "t.yml:11:14: ab_tests.t1.metrics: expected a list, found a string"
    );
    assert_eq!(
        problem(&[(11, ""), (12, ""), (13, ""), (14, ""), (15, ""), (16, "")]),
        "t.yml:3:5: ab_tests.t1.metrics: an A/B test needs at least 1 metric (hint: add the primary metric that decides the test)"
    );
    assert_eq!(
        problem(&[(13, "        metric_type: secondary")]),
        "t.yml:12:7: ab_tests.t1.metrics: an A/B test needs a primary metric (hint: set `metric_type: primary` on the metric that decides the test)"
    );
    assert_eq!(
        problem(&[(
            16,
            "        minimum_detectable_effect: 0.05\n      - {name: m, metric_type: guardrail, aggregation: count, target_direction: decrease}"
        )]),
        "t.yml:17:16: ab_tests.t1.metrics[1].name: metric `m` is listed twice"
    );
    assert_eq!(
        problems(&edit(&[(
            16,
            "        minimum_detectable_effect: 0.05\n        significance_level: 0\n        power: 1"
        )])),
        [
            "t.yml:17:29: ab_tests.t1.metrics[0].significance_level: must be greater than 0 and at most 0.5, not 0 (hint: 0.05 is usual (95% confidence))",
            "t.yml:18:16: ab_tests.t1.metrics[0].power: must be between 0 and 1 (both excluded), not 1 (hint: 0.8 is usual)",
        ]
    );
    assert_eq!(
        problems(&edit(&[(
            16,
            "        minimum_detectable_effect: 0.05\n        significance_level: 0.6\n        power: 0"
        )])),
        [
            "t.yml:17:29: ab_tests.t1.metrics[0].significance_level: must be greater than 0 and at most 0.5, not 0.6 (hint: 0.05 is usual (95% confidence))",
            "t.yml:18:16: ab_tests.t1.metrics[0].power: must be between 0 and 1 (both excluded), not 0 (hint: 0.8 is usual)",
        ]
    );
    // 0.5 is the largest alpha accepted.
    parse_ab_tests(
        &edit(&[(
            16,
            "        minimum_detectable_effect: 0.05\n        significance_level: 0.5",
        )]),
        "t.yml",
    )
    .unwrap();
    assert_eq!(
        problem(&[(16, "        minimum_detectable_effect: 0")]),
        "t.yml:16:36: ab_tests.t1.metrics[0].minimum_detectable_effect: must be a finite number greater than 0, not 0 (hint: the smallest relative change worth acting on, e.g. 0.05 for 5%; halving it needs about four times the units)"
    );
    assert_eq!(
        problem(&[(16, "        minimum_detectable_effect: -0.1")]),
        "t.yml:16:36: ab_tests.t1.metrics[0].minimum_detectable_effect: must be a finite number greater than 0, not -0.1 (hint: the smallest relative change worth acting on, e.g. 0.05 for 5%; halving it needs about four times the units)"
    );
    // The YAML parser itself refuses non-finite numbers, with their location.
    let inf = problems(&edit(&[(16, "        minimum_detectable_effect: .inf")]));
    assert!(
        inf.len() == 1 && inf[0].starts_with("t.yml:16:36: invalid YAML: non-finite float `.inf`"),
        "{inf:?}"
    );
    assert_eq!(
        problem(&[(16, "")]),
        "t.yml:12:9: ab_tests.t1.metrics[0].minimum_detectable_effect: missing `minimum_detectable_effect` (hint: a primary metric needs one to plan its sample size: the smallest relative change worth acting on, e.g. 0.05 for 5%; halving it needs about four times the units)"
    );
    // A secondary metric without one gets the default, 0.05.
    let text = edit(&[(
        16,
        "        minimum_detectable_effect: 0.1\n      - {name: s, metric_type: secondary, aggregation: mean, target_direction: decrease, unit: Pa/m}",
    )]);
    let config = parse_ab_tests(&text, "t.yml").unwrap();
    let s = &config.experiments[0].metrics[1];
    assert_eq!(
        (s.minimum_detectable_effect, s.significance_level, s.power),
        (0.05, 0.05, 0.8)
    );
    assert_eq!(s.unit.as_deref(), Some("Pa/m"));
}

#[test]
fn test_level_rules() {
    let after = |extra: &str| format!("{BASE}{extra}");
    assert_eq!(
        problems(&after("    coverage: 0\n")),
        [
            "t.yml:17:15: ab_tests.t1.coverage: must be greater than 0 and at most 100, not 0 (hint: the percent of units that enter the test; 100 for all)"
        ]
    );
    assert_eq!(
        problems(&after("    coverage: 100.5\n")),
        [
            "t.yml:17:15: ab_tests.t1.coverage: must be greater than 0 and at most 100, not 100.5 (hint: the percent of units that enter the test; 100 for all)"
        ]
    );
    assert_eq!(
        problems(&after("    minimum_sample_size: 1\n")),
        [
            "t.yml:17:26: ab_tests.t1.minimum_sample_size: must be at least 2, not 1 (hint: units per variant before a verdict; the seed uses 1000)"
        ]
    );
    assert_eq!(
        problems(&after("    minimum_sample_size: -5\n")),
        [
            "t.yml:17:26: ab_tests.t1.minimum_sample_size: expected a whole number ≥ 0, found a number"
        ]
    );
    assert_eq!(
        problems(&after("    start_time: next monday\n")),
        [
            "t.yml:17:17: ab_tests.t1.start_time: `next monday` is not an RFC 3339 time (expected e.g. 2026-01-05T08:00:00Z)"
        ]
    );
    assert_eq!(
        problems(&after("    seed: ''\n")),
        [
            "t.yml:17:11: ab_tests.t1.seed: the seed is empty (hint: leave `seed` out to use the test id)"
        ]
    );
    assert_eq!(
        problems(&after("    minimum_duration: 7\n")),
        [
            "t.yml:17:5: ab_tests.t1.minimum_duration: unknown field `minimum_duration` (hint: did you mean `minimum_duration_days`?)"
        ]
    );
    let ok = parse_ab_tests(
        &after("    coverage: 12.5\n    minimum_sample_size: 2\n    minimum_duration_days: 0\n    seed: s1\n    start_time: 2026-11-02T09:00:00+01:00\n"),
        "t.yml",
    )
    .unwrap();
    let t = &ok.experiments[0];
    assert_eq!(
        (t.coverage, t.minimum_sample_size, t.minimum_duration_days),
        (12.5, 2, 0)
    );
    assert_eq!(t.effective_seed(), "s1");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "\
version: 1
ab_tests:
  pipe_sizing_comparison:
    name: Pipe Sizing
    test_type: sizing
    status: running
    variants:
      - name: traditional
        traffic_percentage: 50
      - name: traditional
        traffic_percentage: 40
        configuration: intelligent
    control: baseline
    metrics:
      - name: pipe_cost_efficiency
        metric_type: secondary
        aggregation: mean
        target_direction: increase
        significance_level: 0.9
        powr: 0.8
    coverage: 0
  flow_calculation_comparison:
    name: Flow
    test_type: flow_calculation
    status: draft
    variants:
      - {name: a, traffic_percentage: 50}
      - {name: b, traffic_percentage: 50}
    metrics:
      - {name: m, metric_type: primary, aggregation: mean, target_direction: decrease}
";
    let got = problems(text);
    let expected = [
        "t.yml:5:16: ab_tests.pipe_sizing_comparison.test_type: unknown test_type `sizing` (hint: one of pipe_sizing, flow_calculation, network_analysis, cost_analysis, performance, user_experience)",
        "t.yml:12:24: ab_tests.pipe_sizing_comparison.variants[1].configuration: expected a mapping of settings, found a string (hint: the settings the caller receives with the variant, e.g. `{pipe_sizing_method: intelligent}`)",
        "t.yml:20:9: ab_tests.pipe_sizing_comparison.metrics[0].powr: unknown field `powr` (hint: did you mean `power`?)",
        "t.yml:10:15: ab_tests.pipe_sizing_comparison.variants[1].name: variant `traditional` is listed twice",
        "t.yml:8:7: ab_tests.pipe_sizing_comparison.variants: variants' traffic_percentage add up to 90, not 100 (hint: they split the test's units; use `coverage` to let only some units in)",
        "t.yml:13:14: ab_tests.pipe_sizing_comparison.control: `baseline` is not a variant of this test (hint: one of traditional, traditional)",
        "t.yml:15:7: ab_tests.pipe_sizing_comparison.metrics: an A/B test needs a primary metric (hint: set `metric_type: primary` on the metric that decides the test)",
        "t.yml:19:29: ab_tests.pipe_sizing_comparison.metrics[0].significance_level: must be greater than 0 and at most 0.5, not 0.9 (hint: 0.05 is usual (95% confidence))",
        "t.yml:21:15: ab_tests.pipe_sizing_comparison.coverage: must be greater than 0 and at most 100, not 0 (hint: the percent of units that enter the test; 100 for all)",
        "t.yml:30:9: ab_tests.flow_calculation_comparison.metrics[0].minimum_detectable_effect: missing `minimum_detectable_effect` (hint: a primary metric needs one to plan its sample size: the smallest relative change worth acting on, e.g. 0.05 for 5%; halving it needs about four times the units)",
    ];
    assert_eq!(got, expected, "{got:#?}");
}

#[test]
fn validate_experiment_checks_definitions_built_from_json() {
    let def: ExperimentDefinition = serde_json::from_value(json!({
        "id": "pipe_sizing_comparison",
        "name": "Pipe Sizing Method Comparison",
        "test_type": "pipe_sizing",
        "status": "running",
        "variants": [
            {"name": "traditional", "traffic_percentage": 50.0},
            {"name": "intelligent", "traffic_percentage": 150.0}
        ],
        "control": "baseline",
        "metrics": [
            {"name": "pipe_cost_efficiency", "metric_type": "guardrail", "aggregation": "mean",
             "target_direction": "increase", "minimum_detectable_effect": 0.0,
             "significance_level": 0.05, "power": 0.8},
            {"name": "pipe_cost_efficiency", "metric_type": "secondary", "aggregation": "mean",
             "target_direction": "increase", "minimum_detectable_effect": 0.05,
             "significance_level": 0.7, "power": 1.5}
        ],
        "minimum_sample_size": 0,
        "minimum_duration_days": 7,
        "coverage": 100.0
    }))
    .unwrap();
    let err = validate_experiment(&def).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.message(),
        "8 configuration problems:\n  \
         ab_tests.pipe_sizing_comparison.variants[1].traffic_percentage: must be greater than 0 and at most 100, not 150 (hint: a variant's share of the test's units, in percent)\n  \
         ab_tests.pipe_sizing_comparison.control: `baseline` is not a variant of this test (hint: one of traditional, intelligent)\n  \
         ab_tests.pipe_sizing_comparison.metrics: an A/B test needs a primary metric (hint: set `metric_type: primary` on the metric that decides the test)\n  \
         ab_tests.pipe_sizing_comparison.metrics[0].minimum_detectable_effect: must be a finite number greater than 0, not 0 (hint: the smallest relative change worth acting on, e.g. 0.05 for 5%; halving it needs about four times the units)\n  \
         ab_tests.pipe_sizing_comparison.metrics[1].name: metric `pipe_cost_efficiency` is listed twice\n  \
         ab_tests.pipe_sizing_comparison.metrics[1].significance_level: must be greater than 0 and at most 0.5, not 0.7 (hint: 0.05 is usual (95% confidence))\n  \
         ab_tests.pipe_sizing_comparison.metrics[1].power: must be between 0 and 1 (both excluded), not 1.5 (hint: 0.8 is usual)\n  \
         ab_tests.pipe_sizing_comparison.minimum_sample_size: must be at least 2, not 0 (hint: units per variant before a verdict; the seed uses 1000)"
    );

    // Values JSON cannot carry are caught on the typed definition.
    let mut def = shipped().experiments.remove(0);
    def.metrics[1].minimum_detectable_effect = f64::NAN;
    def.variants[0].traffic_percentage = 40.0;
    def.id = "pipe sizing".into();
    let err = validate_experiment(&def).unwrap_err();
    assert_eq!(
        err.message(),
        "3 configuration problems:\n  \
         ab_tests.pipe sizing: test id `pipe sizing` contains ` `; use letters, digits, `_`, `.` and `-`\n  \
         ab_tests.pipe sizing.variants: variants' traffic_percentage add up to 90, not 100 (hint: they split the test's units; use `coverage` to let only some units in)\n  \
         ab_tests.pipe sizing.metrics[1].minimum_detectable_effect: must be a finite number greater than 0, not NaN (hint: the smallest relative change worth acting on, e.g. 0.05 for 5%; halving it needs about four times the units)"
    );
}

#[test]
fn an_unreadable_file_is_reported_with_its_path() {
    let err = load_ab_tests(Path::new("/nonexistent/ab_tests.yml")).unwrap_err();
    assert_eq!(err.issues.len(), 1);
    assert!(
        err.to_string()
            .starts_with("/nonexistent/ab_tests.yml: /nonexistent/ab_tests.yml: cannot open:"),
        "{err}"
    );
}
