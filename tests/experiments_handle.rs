//! Experiments through the handle: deploy, deterministic sticky assignment,
//! exposures logged once, observations persisted in batches with unit-level
//! sufficient statistics.

use std::path::PathBuf;

mod common;

use cha_deploy::experiments::{AssignReason, ExperimentStatus};
use cha_deploy::{Cha, ErrorKind, OpenOptions, SCHEMA_VERSION};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cha-exp-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// A config dir holding one ab_tests.yml with `body` under `ab_tests:`.
    fn config(&self, name: &str, body: &str) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ab_tests.yml"), format!("ab_tests:\n{body}")).unwrap();
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn experiment(weights: (f64, f64), status: &str, coverage: f64) -> String {
    format!(
        "  sizing:
    name: Sizing
    test_type: pipe_sizing
    status: {status}
    coverage: {coverage}
    variants:
      - name: traditional
        traffic_percentage: {}
        configuration: {{pipe_sizing_method: fixed_diameter, default_diameter_mm: 100}}
      - name: intelligent
        traffic_percentage: {}
        configuration: {{pipe_sizing_method: intelligent, max_velocity_ms: 2.0}}
    metrics:
      - name: cost
        metric_type: primary
        aggregation: mean
        target_direction: increase
        minimum_detectable_effect: 0.05
      - name: runs
        metric_type: secondary
        aggregation: count
        target_direction: increase
        minimum_detectable_effect: 0.05
      - name: converted
        metric_type: secondary
        aggregation: proportion
        target_direction: increase
        minimum_detectable_effect: 0.05
      - name: total
        metric_type: guardrail
        aggregation: sum
        target_direction: decrease
        minimum_detectable_effect: 0.05
",
        weights.0, weights.1
    )
}

fn open(s: &Scratch) -> Cha {
    Cha::open(s.path("cha.db")).unwrap()
}

fn query(s: &Scratch, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(s.path("cha.db")).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Real(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                other => format!("{other:?}"),
            })
            .collect())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn assignment_is_deterministic_across_handles_and_carries_the_configuration() {
    let s = Scratch::new("determinism");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    let other = open(&s);
    for u in 0..200 {
        let unit = format!("engineer-{u}");
        let a = cha.assign("sizing", &unit).unwrap();
        let b = other.assign("sizing", &unit).unwrap();
        assert_eq!(
            a.variant.as_ref().map(|v| v.name.clone()),
            b.variant.as_ref().map(|v| v.name.clone())
        );
        assert_eq!(a.reason, AssignReason::Assigned);
    }
    let report = cha.assignment("sizing", "engineer-1").unwrap();
    let config = report.configuration.unwrap();
    match report.variant.as_deref() {
        Some("traditional") => assert_eq!(config["default_diameter_mm"], 100),
        Some("intelligent") => assert_eq!(config["max_velocity_ms"], 2.0),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        cha.assign("nope", "u").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        cha.assign("sizing", "").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn exposures_are_logged_once_per_unit_with_counts() {
    let s = Scratch::new("exposures");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    for _ in 0..3 {
        for u in 0..100 {
            cha.assign("sizing", &format!("u{u}")).unwrap();
        }
    }
    cha.flush().unwrap();
    assert_eq!(
        query(&s, "SELECT COUNT(*) FROM exposures"),
        vec![vec!["100".to_string()]]
    );
    let counts = query(
        &s,
        "SELECT SUM(units) FROM phase_exposures WHERE experiment = 'sizing'",
    );
    assert_eq!(counts, vec![vec!["100".to_string()]]);
    // A second handle exposing the same units adds nothing.
    let other = open(&s);
    for u in 0..100 {
        other.assign("sizing", &format!("u{u}")).unwrap();
    }
    other.close().unwrap();
    assert_eq!(
        query(&s, "SELECT SUM(units) FROM phase_exposures"),
        vec![vec!["100".to_string()]]
    );
}

#[test]
fn exposed_units_keep_their_variant_when_the_weights_change() {
    let s = Scratch::new("sticky");
    let cha = open(&s);
    cha.deploy_all(
        s.config("a", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    let before: Vec<_> = (0..300)
        .map(|u| {
            cha.assign("sizing", &format!("u{u}"))
                .unwrap()
                .variant
                .unwrap()
                .name
        })
        .collect();
    cha.flush().unwrap();
    cha.deploy_all(
        s.config("b", &experiment((90.0, 10.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    for (u, variant) in before.iter().enumerate() {
        let a = cha.assign("sizing", &format!("u{u}")).unwrap();
        assert_eq!(&a.variant.unwrap().name, variant, "unit u{u} moved");
        assert_eq!(a.reason, AssignReason::Sticky);
    }
    // New units follow the new weights.
    let traditional = (0..2000)
        .filter(|u| {
            &*cha
                .assign("sizing", &format!("new-{u}"))
                .unwrap()
                .variant
                .unwrap()
                .name
                == "traditional"
        })
        .count();
    assert!(
        (1740..1860).contains(&traditional),
        "{traditional} of 2000 at 90%"
    );
    // Another process sees the same pins.
    let other = open(&s);
    let a = other.assign("sizing", "u7").unwrap();
    assert_eq!(a.variant.unwrap().name, before[7]);
}

#[test]
fn status_and_coverage_decide_who_gets_a_variant() {
    let s = Scratch::new("status");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "draft", 100.0)),
        "t",
    )
    .unwrap();
    assert_eq!(
        cha.assign("sizing", "u1").unwrap().reason,
        AssignReason::NotRunning
    );
    cha.set_experiment_status("sizing", ExperimentStatus::Running, "ops")
        .unwrap();
    let first = cha.assign("sizing", "u1").unwrap();
    assert!(first.variant.is_some());
    cha.flush().unwrap();
    let record = cha
        .set_experiment_status("sizing", ExperimentStatus::Paused, "ops")
        .unwrap();
    assert!(record.definition.start_time.is_some());
    assert_eq!(
        cha.assign("sizing", "u1").unwrap().reason,
        AssignReason::Sticky
    );
    assert_eq!(
        cha.assign("sizing", "u2").unwrap().reason,
        AssignReason::Paused
    );
    let e = cha.record("sizing", "u2", "cost", 1.0).unwrap_err();
    assert!(e.message().contains("PAUSED"), "{e}");
    cha.set_experiment_status("sizing", ExperimentStatus::Completed, "ops")
        .unwrap();
    let e = cha
        .set_experiment_status("sizing", ExperimentStatus::Running, "ops")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);

    let s = Scratch::new("coverage");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 10.0)),
        "t",
    )
    .unwrap();
    let inside = (0..5000)
        .filter(|u| {
            cha.assign("sizing", &format!("u{u}")).unwrap().reason == AssignReason::Assigned
        })
        .count();
    assert!(
        (400..600).contains(&inside),
        "{inside} of 5000 at 10% coverage"
    );
}

#[test]
fn observations_form_unit_values_by_aggregation() {
    let s = Scratch::new("observations");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    // Two units in the same variant.
    let variant = |u: &str| {
        cha.assign("sizing", u)
            .unwrap()
            .variant
            .unwrap()
            .name
            .to_string()
    };
    let a = "unit-a";
    let b = (0..100)
        .map(|i| format!("unit-b{i}"))
        .find(|u| variant(u) == variant(a))
        .unwrap();
    for (unit, values) in [(a, &[1.0, 3.0][..]), (b.as_str(), &[10.0][..])] {
        for v in values {
            for metric in ["cost", "runs", "converted", "total"] {
                cha.record("sizing", unit, metric, *v).unwrap();
            }
        }
    }
    // The flush folds what it writes, in the same transaction: nothing is
    // left for a later fold, and the watermark is at the last row.
    cha.flush().unwrap();
    assert_eq!(cha.fold_observations().unwrap(), 0);
    let folded_to = || {
        query(
            &s,
            "SELECT value FROM meta WHERE key = 'observations_folded_to'",
        )
    };
    assert_eq!(folded_to(), vec![vec!["12".to_string()]]);
    // A later batch changes unit a's value again: its old value is replaced.
    for metric in ["cost", "runs", "converted", "total"] {
        cha.record("sizing", a, metric, 8.0).unwrap();
    }
    cha.flush().unwrap();
    assert_eq!(
        cha.fold_observations().unwrap(),
        0,
        "every raw row is folded once"
    );
    assert_eq!(folded_to(), vec![vec!["16".to_string()]]);
    let v = variant(a);
    let moments = |metric: &str| {
        let rows = query(
            &s,
            &format!(
                "SELECT n, shift, s1, s1_lo, s2, s2_lo FROM phase_metrics
                 WHERE phase = 1 AND variant = '{v}' AND metric = '{metric}'"
            ),
        );
        let r: Vec<f64> = rows[0].iter().map(|x| x.parse().unwrap()).collect();
        let s = cha_deploy::stats::Summary::from_parts(cha_deploy::stats::SummaryParts {
            n: r[0] as u64,
            shift: r[1],
            s1: (r[2], r[3]),
            s2: (r[4], r[5]),
        });
        (s.n, s.mean(), s.m2())
    };
    // cost (mean): a = mean(1,3,8) = 4, b = 10 → mean 7, m2 = 18.
    let (n, mean, m2) = moments("cost");
    assert_eq!(n, 2);
    assert!(
        (mean - 7.0).abs() < 1e-12 && (m2 - 18.0).abs() < 1e-9,
        "{mean} {m2}"
    );
    // runs (count): a = 3, b = 1 → mean 2, m2 = 2.
    let (n, mean, m2) = moments("runs");
    assert_eq!((n, mean), (2, 2.0));
    assert!((m2 - 2.0).abs() < 1e-12);
    // converted (proportion): both non-zero → 1, 1.
    assert_eq!(moments("converted"), (2, 1.0, 0.0));
    // total (sum): a = 12, b = 10 → mean 11, m2 = 2.
    let (_, mean, m2) = moments("total");
    assert!((mean - 11.0).abs() < 1e-12 && (m2 - 2.0).abs() < 1e-9);
    assert_eq!(
        query(&s, common::RAW_OBSERVATIONS),
        vec![vec!["16".to_string()]]
    );

    assert_eq!(
        cha.record("sizing", a, "nope", 1.0).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(
            cha.record("sizing", a, "cost", bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}

#[test]
fn close_persists_what_is_buffered() {
    let s = Scratch::new("close");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    for u in 0..50 {
        cha.record("sizing", &format!("u{u}"), "cost", f64::from(u))
            .unwrap();
    }
    cha.close().unwrap();
    assert_eq!(
        query(&s, common::RAW_OBSERVATIONS),
        vec![vec!["50".to_string()]]
    );
    assert_eq!(
        query(&s, "SELECT COUNT(*) FROM exposures"),
        vec![vec!["50".to_string()]]
    );
}

#[test]
fn a_flag_linked_to_an_experiment_follows_its_assignment() {
    let s = Scratch::new("link");
    let dir = s.config("c", &experiment((50.0, 50.0), "running", 100.0));
    std::fs::write(
        dir.join("feature_flags.yml"),
        "version: 2\nflags:\n  sizing_method:\n    type: a_b_test\n    enabled: true\n    experiment: sizing\n",
    )
    .unwrap();
    let cha = open(&s);
    cha.deploy_all(&dir, "t").unwrap();
    for u in 0..200 {
        let unit = format!("engineer-{u}");
        let e = cha.evaluate_flag("sizing_method", &cha_deploy::flags::Context::user(&unit));
        let a = cha.assign("sizing", &unit).unwrap();
        let variant = a.variant.unwrap().name.to_string();
        assert_eq!(e.variant.as_deref(), Some(variant.as_str()));
        assert_eq!(
            e.enabled,
            variant == "intelligent",
            "the control arm is off"
        );
        let payload = e.payload.unwrap();
        assert!(payload.get("pipe_sizing_method").is_some(), "{payload}");
    }
    // A flag check alone exposes the unit.
    cha.evaluate_flag(
        "sizing_method",
        &cha_deploy::flags::Context::user("only-flag-checked"),
    );
    cha.flush().unwrap();
    assert_eq!(
        query(
            &s,
            "SELECT COUNT(*) FROM exposures WHERE unit = 'only-flag-checked'"
        ),
        vec![vec!["1".to_string()]]
    );
    // Once the experiment stops, the flag serves its default.
    cha.set_experiment_status("sizing", ExperimentStatus::Stopped, "ops")
        .unwrap();
    let e = cha.evaluate_flag(
        "sizing_method",
        &cha_deploy::flags::Context::user("engineer-1"),
    );
    assert_eq!(
        (e.enabled, e.reason),
        (false, cha_deploy::flags::Reason::Default)
    );
    assert_eq!(e.rule, "experiment not running");

    // A link to an experiment that does not exist is refused, by deploy and by update.
    let bad = s.path("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("feature_flags.yml"),
        "version: 2\nflags:\n  x:\n    type: a_b_test\n    experiment: missing_test\n",
    )
    .unwrap();
    let e = cha.deploy_all(&bad, "t").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("missing_test"), "{e}");
    let e = cha
        .update_flag(
            "y",
            &serde_json::json!({"type": "a_b_test", "experiment": "missing_test"}),
            "t",
        )
        .unwrap_err();
    assert!(e.message().contains("no experiment `missing_test`"), "{e}");
}

/// A deterministic pseudo-random stream in [0, 1) (SplitMix64), so the test
/// data are the same on every machine.
fn uniform(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn analysis_reads_the_folded_statistics_and_matches_welch() {
    let s = Scratch::new("analysis");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    let mut rng = 7u64;
    let mut values: std::collections::HashMap<String, Vec<f64>> = Default::default();
    for u in 0..4000 {
        let unit = format!("network-{u}");
        let variant = cha
            .assign("sizing", &unit)
            .unwrap()
            .variant
            .unwrap()
            .name
            .to_string();
        // Intelligent sizing: cost efficiency 5% better on average.
        let base = if variant == "intelligent" {
            105.0
        } else {
            100.0
        };
        let value = base + 20.0 * (uniform(&mut rng) - 0.5);
        cha.record("sizing", &unit, "cost", value).unwrap();
        values.entry(variant).or_default().push(value);
        if u % 2 == 0 {
            cha.record("sizing", &unit, "runs", 1.0).unwrap();
        }
    }
    cha.flush().unwrap();
    let report = cha
        .analyze_experiment("sizing", Default::default())
        .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    let cost = &json["metrics"][0];
    assert_eq!(cost["name"], "cost");
    let comparison = &cost["comparisons"][0];
    let control = cha_deploy::stats::Summary::from_values(&values["traditional"]);
    let treatment = cha_deploy::stats::Summary::from_values(&values["intelligent"]);
    let welch = cha_deploy::stats::welch(&control, &treatment, 0.05).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
    assert!(
        close(comparison["difference"]["t"].as_f64().unwrap(), welch.t),
        "{comparison}"
    );
    assert!(close(
        comparison["difference"]["p_value"].as_f64().unwrap(),
        welch.p_value
    ));
    assert!(close(
        comparison["difference"]["df"].as_f64().unwrap(),
        welch.df
    ));
    assert_eq!(cost["control"]["n"], control.n);
    assert_eq!(
        json["variants"][0]["exposures"].as_u64().unwrap()
            + json["variants"][1]["exposures"].as_u64().unwrap(),
        4000
    );
    // Units that never ran count as 0 runs: every exposed unit is in the count metric.
    let runs = &json["metrics"][1];
    assert_eq!(runs["control"]["n"], json["variants"][0]["exposures"]);
    assert!((runs["control"]["mean"].as_f64().unwrap() - 0.5).abs() < 0.05);
    // The minimum duration (7 days) has not passed: keep running, not ship.
    assert_eq!(json["conclusion"], "keep_running", "{}", json["reasons"]);
    assert_eq!(comparison["verdict"], "better");
    assert_eq!(
        cha.analyze_experiment("nope", Default::default())
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    // Planned at Holm's first step over the family's 3 comparisons.
    let holm = cha_deploy::experiments::Correction::Holm;
    let plan = cha
        .plan_experiment("sizing", "cost", 100.0, 5.8, holm)
        .unwrap();
    let expected =
        cha_deploy::stats::ttest_ind_required_nobs1(0.05 * 100.0 / 5.8, 0.05 / 3.0, 0.8, 1.0)
            .unwrap();
    assert_eq!(plan.per_variant, expected.ceil() as u64);
    assert_eq!(
        cha.plan_experiment("sizing", "nope", 1.0, 1.0, holm)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert!(
        cha.plan_experiment("sizing", "cost", 100.0, 0.0, holm)
            .is_err()
    );
}

#[test]
fn a_pause_keeps_units_whose_exposure_was_still_buffered() {
    let s = Scratch::new("pause-buffered");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    let before: Vec<_> = (0..50)
        .map(|u| {
            cha.assign("sizing", &format!("u{u}"))
                .unwrap()
                .variant
                .unwrap()
                .name
        })
        .collect();
    // No flush: the exposures are only in the buffer when the pause comes.
    cha.set_experiment_status("sizing", ExperimentStatus::Paused, "ops")
        .unwrap();
    for (u, variant) in before.iter().enumerate() {
        let a = cha.assign("sizing", &format!("u{u}")).unwrap();
        assert_eq!(a.variant.map(|v| v.name), Some(variant.clone()), "u{u}");
    }
}

#[test]
fn analysis_options_naming_no_metric_or_a_bad_variance_are_refused() {
    let s = Scratch::new("options");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    for options in [
        r#"{"mixture_variance": {"cots": 1.0}}"#,
        r#"{"mixture_variance": {"cost": -1.0}}"#,
    ] {
        let options: cha_deploy::experiments::AnalysisOptions =
            serde_json::from_str(options).unwrap();
        let e = cha.analyze_experiment("sizing", options).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
}

#[test]
fn raw_observations_export_as_csv() {
    let s = Scratch::new("export");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    cha.record("sizing", "plain", "cost", 1.5).unwrap();
    cha.record("sizing", "with,comma \"quoted\"", "cost", -0.25)
        .unwrap();
    let mut out = Vec::new();
    assert_eq!(cha.export_observations("sizing", &mut out).unwrap(), 2);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,unit,variant,metric,value,at_ms");
    assert!(
        lines[1].starts_with("1,plain,") && lines[1].contains(",cost,1.5,"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("2,\"with,comma \"\"quoted\"\"\","),
        "{text}"
    );
    assert!(lines[2].contains(",cost,-0.25,"), "{text}");
    assert_eq!(
        cha.export_observations("nope", &mut Vec::new())
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn retention_drops_old_folded_rows_and_keeps_the_statistics() {
    let s = Scratch::new("retention");
    let cha = open(&s);
    let body = experiment((50.0, 50.0), "running", 100.0) + "    retention_days: 1\n";
    cha.deploy_all(s.config("c", &body), "t").unwrap();
    // Two flushes, so two blocks of ten; the first is made two days old
    // (the times of the block, which retention reads).
    for half in 0..2 {
        for u in half * 10..half * 10 + 10 {
            cha.record("sizing", &format!("u{u}"), "cost", f64::from(u))
                .unwrap();
        }
        cha.flush().unwrap();
    }
    let conn = rusqlite::Connection::open(s.path("cha.db")).unwrap();
    conn.execute(
        "UPDATE observation_blocks SET first_at_ms = first_at_ms - 2 * 86400000,
             last_at_ms = last_at_ms - 2 * 86400000 WHERE first_id = 1",
        [],
    )
    .unwrap();
    let before = cha
        .analyze_experiment("sizing", Default::default())
        .unwrap();
    assert_eq!(cha.prune_observations().unwrap(), 10);
    assert_eq!(cha.prune_observations().unwrap(), 0);
    let kept = common::raw_observations(&s.path("cha.db"), "sizing");
    assert_eq!((kept.len(), kept[0].id), (10, 11));
    let after = cha
        .analyze_experiment("sizing", Default::default())
        .unwrap();
    assert_eq!(
        serde_json::to_value(&before.metrics).unwrap(),
        serde_json::to_value(&after.metrics).unwrap(),
        "the statistics keep what the raw rows held"
    );
    // New rows still get new ids and are folded once, by their flush.
    cha.record("sizing", "late", "cost", 1.0).unwrap();
    cha.flush().unwrap();
    assert_eq!(cha.fold_observations().unwrap(), 0);
    assert_eq!(
        query(
            &s,
            "SELECT value FROM meta WHERE key = 'observations_folded_to'"
        ),
        vec![vec!["21".to_string()]]
    );
    // A retention of 0 days is refused.
    let e = cha
        .deploy_all(
            s.config(
                "zero",
                &(experiment((50.0, 50.0), "running", 100.0) + "    retention_days: 0\n"),
            ),
            "t",
        )
        .unwrap_err();
    assert!(e.message().contains("retention_days"), "{e}");
}

#[test]
fn a_handle_dropped_without_close_persists_its_buffer() {
    let s = Scratch::new("drop");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    for u in 0..30 {
        cha.record("sizing", &format!("u{u}"), "cost", 1.0).unwrap();
    }
    drop(cha);
    assert_eq!(
        query(&s, common::RAW_OBSERVATIONS),
        vec![vec!["30".to_string()]]
    );
}

#[test]
fn a_refused_observation_exposes_nobody() {
    let s = Scratch::new("refused");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    assert!(cha.record("sizing", "u1", "no_such_metric", 1.0).is_err());
    assert!(cha.record("sizing", "u2", "cost", f64::NAN).is_err());
    cha.flush().unwrap();
    assert_eq!(
        query(&s, "SELECT COUNT(*) FROM exposures"),
        vec![vec!["0".to_string()]]
    );
}

#[test]
fn units_buffered_by_one_handle_stay_sticky_when_another_changes_the_split() {
    let s = Scratch::new("cross-sticky");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        refresh_interval_ms: 50,
        ..OpenOptions::default()
    };
    let a = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    a.deploy_all(
        s.config("one", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    let before: Vec<_> = (0..200)
        .map(|u| {
            a.assign("sizing", &format!("u{u}"))
                .unwrap()
                .variant
                .unwrap()
                .name
        })
        .collect();
    // Another handle reweights while A's exposures are still in A's buffer.
    let b = open(&s);
    b.deploy_all(
        s.config("two", &experiment((10.0, 90.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    let start = std::time::Instant::now();
    while a.assign("sizing", "u0").unwrap().reason != AssignReason::Sticky {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "A never pinned its units"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for (u, variant) in before.iter().enumerate() {
        assert_eq!(
            &a.assign("sizing", &format!("u{u}"))
                .unwrap()
                .variant
                .unwrap()
                .name,
            variant,
            "u{u}"
        );
    }
    // Observations land in the arm the exposure records, whichever handle records them.
    for u in 0..200 {
        b.record("sizing", &format!("u{u}"), "cost", 1.0).unwrap();
    }
    b.flush().unwrap();
    let report = b.analyze_experiment("sizing", Default::default()).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    for (i, v) in json["variants"].as_array().unwrap().iter().enumerate() {
        let n = if i == 0 {
            &json["metrics"][0]["control"]["n"]
        } else {
            &json["metrics"][0]["comparisons"][0]["treatment"]["n"]
        };
        assert_eq!(n, &v["exposures"], "{}", v["name"]);
    }
    // Two phases, each with its own split: A's units were exposed in the
    // first (50/50), and it is the one analysed and checked against it.
    let phases = json["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2);
    assert_eq!(phases[0]["split"][1]["traffic_percentage"], 50.0);
    assert_eq!(phases[1]["split"][1]["traffic_percentage"], 90.0);
    assert_eq!(phases[1]["reason"], "split_change");
    assert_eq!(json["analyzed_phases"], serde_json::json!([1]));
    assert_eq!(json["sample_ratio"], phases[0]["sample_ratio"]);
    assert_eq!(json["sample_ratio"]["status"], "ok");
}

#[test]
fn a_deploy_keeps_a_completed_test_completed_and_its_start_time() {
    let s = Scratch::new("completed");
    let cha = open(&s);
    let dir = s.config("c", &experiment((50.0, 50.0), "running", 100.0));
    cha.deploy_all(&dir, "t").unwrap();
    cha.set_experiment_status("sizing", ExperimentStatus::Paused, "ops")
        .unwrap();
    cha.set_experiment_status("sizing", ExperimentStatus::Running, "ops")
        .unwrap();
    let started = cha.experiment("sizing").unwrap().definition.start_time;
    assert!(started.is_some());
    cha.set_experiment_status("sizing", ExperimentStatus::Completed, "ops")
        .unwrap();
    cha.deploy_all(&dir, "t").unwrap();
    let def = cha.experiment("sizing").unwrap().definition;
    assert_eq!(
        def.status,
        ExperimentStatus::Completed,
        "completed is final"
    );
    assert_eq!(def.start_time, started);
}

#[test]
fn an_export_of_an_unknown_test_leaves_the_file_alone() {
    let s = Scratch::new("export-file");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    let file = s.path("keep.csv");
    std::fs::write(&file, "precious").unwrap();
    assert_eq!(
        cha.export_observations_to_file("nope", &file)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
    cha.record("sizing", "u1", "cost", 2.0).unwrap();
    assert_eq!(cha.export_observations_to_file("sizing", &file).unwrap(), 1);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("id,unit,variant,metric,value,at_ms\n1,u1,")
    );
}

#[test]
fn removing_an_experiment_a_stored_flag_follows_is_refused() {
    let s = Scratch::new("orphan-link");
    let dir = s.config("c", &experiment((50.0, 50.0), "running", 100.0));
    std::fs::write(
        dir.join("feature_flags.yml"),
        "version: 2\nflags:\n  sizing_method:\n    type: a_b_test\n    enabled: true\n    experiment: sizing\n",
    )
    .unwrap();
    let cha = open(&s);
    cha.deploy_all(&dir, "t").unwrap();
    // An ab_tests.yml without `sizing`, alone: the stored flag would dangle.
    let other = s.config(
        "other",
        &experiment((50.0, 50.0), "running", 100.0).replace("  sizing:", "  other_test:"),
    );
    let e = cha.deploy_all(&other, "t").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("no experiment `sizing`"), "{e}");
    assert!(cha.experiment("sizing").is_ok(), "nothing changed");
    // And a flag may not depend on an experiment-decided flag.
    let e = cha
        .update_flag(
            "needs_it",
            &serde_json::json!({"type": "boolean", "prerequisites": ["sizing_method"]}),
            "t",
        )
        .unwrap_err();
    assert!(
        e.message().contains("decided by experiment `sizing`"),
        "{e}"
    );
}

#[test]
fn more_units_than_the_exposure_cache_are_still_stored_once() {
    let s = Scratch::new("many-units");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    // 70,000 units (the cache keeps 16,384 slots), each assigned three times
    // with a flush in between: evicted units are buffered again, stored once.
    for round in 0..3 {
        for u in 0..70_000 {
            cha.assign("sizing", &format!("unit-{u}")).unwrap();
        }
        cha.flush().unwrap();
        assert_eq!(
            query(
                &s,
                "SELECT COUNT(*), (SELECT SUM(units) FROM phase_exposures) FROM exposures"
            ),
            vec![vec!["70000".to_string(), "70000".to_string()]],
            "round {round}"
        );
    }
}

/// How many units are stored as exposed to `experiment`.
fn exposed(s: &Scratch, experiment: &str) -> usize {
    query(
        s,
        &format!("SELECT COUNT(*) FROM exposures WHERE experiment = '{experiment}'"),
    )[0][0]
        .parse()
        .unwrap()
}

#[test]
fn peek_answers_as_assign_would_and_exposes_no_one() {
    let s = Scratch::new("peek");
    let dir = s.config("c", &experiment((50.0, 50.0), "running", 60.0));
    std::fs::write(
        dir.join("feature_flags.yml"),
        "version: 2\nflags:\n  sizing_method:\n    type: a_b_test\n    enabled: true\n    experiment: sizing\n",
    )
    .unwrap();
    let cha = open(&s);
    cha.deploy_all(&dir, "t").unwrap();
    let units: Vec<String> = (0..300).map(|u| format!("engineer-{u}")).collect();
    // Looking, in every way, at every unit: nothing is stored.
    let peeked: Vec<_> = units
        .iter()
        .map(|u| {
            let p = cha.peek("sizing", u).unwrap();
            let report = cha.peek_assignment("sizing", u).unwrap();
            assert_eq!(
                report.variant,
                p.variant.as_ref().map(|v| v.name.to_string())
            );
            assert_eq!(report.reason, p.reason);
            let ctx = cha_deploy::flags::OwnedContext::from_json(&format!(
                r#"{{"user_id": "{u}", "peek": true}}"#
            ))
            .unwrap();
            let e = ctx.with_context(|c| cha.evaluate_flag("sizing_method", c));
            assert_eq!(e.variant, report.variant, "{u}");
            (p.variant.map(|v| v.name.to_string()), p.reason)
        })
        .collect();
    assert!(peeked.iter().any(|p| p.1 == AssignReason::OutsideCoverage));
    cha.flush().unwrap();
    assert_eq!(exposed(&s, "sizing"), 0, "peeking exposed someone");
    let report = cha
        .analyze_experiment("sizing", Default::default())
        .unwrap();
    assert!(report.variants.iter().all(|v| v.exposures == 0));

    // The answers are the ones assignment gives (which exposes).
    for (u, (variant, reason)) in units.iter().zip(&peeked) {
        let a = cha.assign("sizing", u).unwrap();
        assert_eq!(&a.variant.map(|v| v.name.to_string()), variant, "{u}");
        assert_eq!(&a.reason, reason, "{u}");
    }
    cha.flush().unwrap();
    let in_test = peeked.iter().filter(|p| p.0.is_some()).count();
    assert_eq!(exposed(&s, "sizing"), in_test);

    // Sticky pins: after the split changes, peek gives exposed units their
    // first variant, as assignment does, and still writes nothing.
    cha.deploy(
        s.config("c2", &experiment((10.0, 90.0), "running", 60.0)),
        &cha_deploy::DeployOptions {
            on_drift: cha_deploy::OnDrift::Overwrite,
            ..Default::default()
        },
    )
    .unwrap();
    for (u, (variant, _)) in units.iter().zip(&peeked) {
        let p = cha.peek("sizing", u).unwrap();
        if variant.is_some() {
            assert_eq!(&p.variant.map(|v| v.name.to_string()), variant, "{u}");
            assert_eq!(p.reason, AssignReason::Sticky);
        }
    }
    // Paused: new units get none, old ones keep theirs, and nobody new is stored.
    cha.set_experiment_status("sizing", ExperimentStatus::Paused, "ops")
        .unwrap();
    assert_eq!(
        cha.peek("sizing", "brand-new").unwrap().reason,
        AssignReason::Paused
    );
    cha.flush().unwrap();
    assert_eq!(exposed(&s, "sizing"), in_test);
    assert_eq!(
        cha.peek("nope", "u").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        cha.peek("sizing", "").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[cfg(unix)]
#[test]
fn an_export_never_follows_a_planted_link_and_keeps_the_database_mode() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("export-link");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    cha.record("sizing", "u1", "cost", 2.0).unwrap();
    let target = s.path("obs.csv");
    // The name the export once wrote to, planted by someone else as a link
    // to a file they want overwritten.
    let victim = s.path("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let planted = s.path(&format!("obs.csv.partial-{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    std::fs::set_permissions(s.path("cha.db"), std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(
        cha.export_observations_to_file("sizing", &target).unwrap(),
        1
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        std::fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    // Nothing else is left beside it.
    let mut names: Vec<String> = std::fs::read_dir(&s.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("obs.csv"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "obs.csv",
            &format!("obs.csv.partial-{}", std::process::id())
        ]
    );
}

#[cfg(unix)]
#[test]
fn an_export_refuses_a_target_that_is_not_a_regular_file() {
    let s = Scratch::new("export-special");
    let cha = open(&s);
    cha.deploy_all(
        s.config("c", &experiment((50.0, 50.0), "running", 100.0)),
        "t",
    )
    .unwrap();
    cha.record("sizing", "u1", "cost", 2.0).unwrap();
    let fifo = s.path("pipe");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let folder = s.path("folder");
    std::fs::create_dir(&folder).unwrap();
    let link = s.path("link.csv");
    std::fs::write(s.path("real.csv"), "keep").unwrap();
    std::os::unix::fs::symlink(s.path("real.csv"), &link).unwrap();
    for (target, what) in [
        (&fifo, "not a regular file"),
        (&folder, "a folder"),
        (&link, "a symbolic link"),
    ] {
        let e = cha
            .export_observations_to_file("sizing", target)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains(what), "{e}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert!(folder.is_dir());
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(s.path("real.csv")).unwrap(), "keep");
    let leftovers: Vec<String> = std::fs::read_dir(&s.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Rows in the `observations` table (left by a version before blocks, or
/// written there by another tool) and the blocks a flush writes share one
/// id space: the rows are folded before a flush's own observations, the
/// watermark moves past both, and an export and retention see both, in id
/// order.
#[test]
fn rows_of_an_older_version_and_blocks_share_ids_fold_and_export() {
    let s = Scratch::new("older-rows");
    let db = s.path("cha.db");
    let body = experiment((50.0, 50.0), "running", 100.0) + "    retention_days: 1\n";
    {
        let cha = open(&s);
        cha.deploy_all(s.config("c", &body), "t").unwrap();
        cha.close().unwrap();
    }
    // The database as the version before blocks left it: no blocks table,
    // no sequence until a row was inserted; then three rows, unfolded.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP TABLE observation_blocks;
         DELETE FROM sqlite_sequence WHERE name = 'observations';
         PRAGMA user_version = 9;",
    )
    .unwrap();
    let cha_peek = |unit: &str| {
        let cha = Cha::open_with_options(
            s.path("peek.db"),
            OpenOptions {
                flush_interval_ms: 3_600_000,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        cha.deploy_all(s.config("c", &body), "t").unwrap();
        cha.peek("sizing", unit).unwrap().variant.unwrap().name
    };
    let old_at = cha_deploy::clock::now_ms() - 3 * 86_400_000;
    for (unit, value) in [("old-a", 10.0), ("old-b", 20.0), ("old-a", 30.0)] {
        conn.execute(
            "INSERT INTO observations (experiment, unit, variant, metric, value, at_ms)
             VALUES ('sizing', ?1, ?2, 'cost', ?3, ?4)",
            rusqlite::params![unit, &*cha_peek(unit), value, old_at],
        )
        .unwrap();
    }
    drop(conn);

    let cha = open(&s);
    assert_eq!(cha.info().unwrap().schema_version, SCHEMA_VERSION);
    cha.record("sizing", "new-c", "cost", 5.0).unwrap();
    cha.record("sizing", "old-a", "cost", 2.0).unwrap();
    cha.flush().unwrap();
    // The rows first (ids 1-3), then the block (4-5); all folded.
    assert_eq!(
        query(
            &s,
            "SELECT value FROM meta WHERE key = 'observations_folded_to'"
        ),
        vec![vec!["5".to_string()]]
    );
    assert_eq!(cha.fold_observations().unwrap(), 0);
    // Another tool's row after the block, then another flush.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO observations (experiment, unit, variant, metric, value, at_ms)
             VALUES ('sizing', 'old-b', ?1, 'cost', 1.0, ?2)",
            rusqlite::params![&*cha_peek("old-b"), old_at],
        )
        .unwrap();
    cha.record("sizing", "new-c", "cost", 7.0).unwrap();
    cha.flush().unwrap();
    let rows = common::raw_observations(&db, "sizing");
    let seen: Vec<(i64, &str, f64)> = rows
        .iter()
        .map(|r| (r.id, r.unit.as_str(), r.value))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "old-a", 10.0),
            (2, "old-b", 20.0),
            (3, "old-a", 30.0),
            (4, "new-c", 5.0),
            (5, "old-a", 2.0),
            (6, "old-b", 1.0),
            (7, "new-c", 7.0),
        ]
    );
    // Unit means (the metric is a mean): old-a 14, old-b 10.5, new-c 6.
    let report = cha
        .analyze_experiment("sizing", Default::default())
        .unwrap();
    let cost = &report.metrics[0];
    assert_eq!(cost.control.n + cost.comparisons[0].treatment.n, 3);
    for arm in [&cost.control, &cost.comparisons[0].treatment] {
        let means: Vec<f64> = [("old-a", 14.0), ("old-b", 10.5), ("new-c", 6.0)]
            .into_iter()
            .filter(|(unit, _)| *cha_peek(unit) == *arm.variant)
            .map(|(_, mean)| mean)
            .collect();
        assert_eq!(arm.n, means.len() as u64);
        if !means.is_empty() {
            assert_eq!(
                arm.mean,
                Some(means.iter().sum::<f64>() / means.len() as f64)
            );
        }
    }
    // The recorded unit was exposed by its first observation.
    assert_eq!(
        query(&s, "SELECT COUNT(*) FROM exposures WHERE unit = 'new-c'"),
        vec![vec!["1".to_string()]]
    );
    // Retention: the four old rows go; the blocks (recorded now) stay.
    assert_eq!(cha.prune_observations().unwrap(), 4);
    let kept: Vec<i64> = common::raw_observations(&db, "sizing")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(kept, [4, 5, 7]);
}
