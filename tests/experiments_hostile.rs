//! Hostile data cannot break analysis: values beyond the magnitude bound are
//! refused when recorded; rows that reach the table anyway (an older
//! writer, a direct insert) are quarantined by the fold, counted and
//! reported, while the fold, the other experiments' analyses, retention and
//! reopening go on.

use std::path::PathBuf;

mod common;

use cha_deploy::experiments::MAX_MAGNITUDE;
use cha_deploy::{Cha, ErrorKind, OpenOptions};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cha-hostile-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("cha.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn test(id: &str) -> String {
    format!(
        "  {id}:
    name: {id}
    test_type: pipe_sizing
    status: running
    retention_days: 1
    variants:
      - {{name: a, traffic_percentage: 50}}
      - {{name: b, traffic_percentage: 50}}
    metrics:
      - {{name: cost, metric_type: primary, aggregation: mean, target_direction: increase, minimum_detectable_effect: 0.05}}
      - {{name: total, metric_type: secondary, aggregation: sum, target_direction: increase, minimum_detectable_effect: 0.05}}
"
    )
}

fn open(s: &Scratch) -> Cha {
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.db(), options).unwrap();
    let dir = s.0.join("configs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ab_tests.yml"),
        format!("ab_tests:\n{}{}", test("victim"), test("bystander")),
    )
    .unwrap();
    cha.deploy_all(&dir, "t").unwrap();
    cha
}

fn scalar(s: &Scratch, sql: &str) -> i64 {
    rusqlite::Connection::open(s.db())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn values_beyond_the_bound_are_refused_when_recorded() {
    let s = Scratch::new("bound");
    let cha = open(&s);
    for value in [
        f64::MAX,
        -f64::MAX,
        1e308,
        -1e308,
        1.000_000_1e30,
        f64::INFINITY,
    ] {
        let e = cha.record("victim", "u1", "cost", value).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{value:e}: {e}");
    }
    let e = cha.record("victim", "u1", "cost", f64::MAX).unwrap_err();
    assert!(e.message().contains("at most 1e30"), "{e}");
    // The bound itself, and everything inside it, is fine.
    cha.record("victim", "u1", "cost", MAX_MAGNITUDE).unwrap();
    cha.record("victim", "u1", "cost", -MAX_MAGNITUDE).unwrap();
    cha.record("victim", "u2", "total", 1.7e18).unwrap();
    cha.flush().unwrap();
    let report = cha
        .analyze_experiment("victim", Default::default())
        .unwrap();
    assert_eq!(report.quarantined.observations, 0);
    // Refused values left no trace: 3 rows only.
    assert_eq!(scalar(&s, common::RAW_OBSERVATIONS), 3);
}

#[test]
fn poisoned_rows_are_quarantined_and_nothing_else_stops() {
    let s = Scratch::new("poison");
    let cha = open(&s);
    // Good data in both experiments.
    for i in 0..40 {
        for id in ["victim", "bystander"] {
            cha.record(id, &format!("u{i}"), "cost", 10.0 + f64::from(i % 7))
                .unwrap();
        }
    }
    cha.flush().unwrap();
    // What an older writer (or another tool) could leave in the table of
    // rows: DBL_MAX twice for one unit of a mean
    // metric, ±1e308 for two units of one arm of a sum metric, an infinity.
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    let variant_of = |unit: &str| cha.peek("victim", unit).unwrap().variant.unwrap().name;
    let same_arm: Vec<String> = (0..100)
        .map(|i| format!("u{i}"))
        .filter(|u| *variant_of(u) == *"a")
        .take(2)
        .collect();
    let rows = [
        ("u1", "cost", f64::MAX),
        ("u1", "cost", f64::MAX),
        (same_arm[0].as_str(), "total", 1e308),
        (same_arm[1].as_str(), "total", -1e308),
        ("u2", "cost", f64::INFINITY),
    ];
    for (unit, metric, value) in rows {
        conn.execute(
            "INSERT INTO observations (experiment, unit, variant, metric, value, at_ms)
             VALUES ('victim', ?1, ?2, ?3, ?4, 0)",
            rusqlite::params![unit, &*variant_of(unit), metric, value],
        )
        .unwrap();
    }
    let last_id = scalar(&s, "SELECT MAX(id) FROM observations");
    // An unknown experiment is not found, before anything is folded.
    let e = cha
        .analyze_experiment("no_such_test", Default::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        scalar(
            &s,
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'observations_folded_to'"
        ),
        last_id - 5,
        "nothing was folded for an unknown name"
    );
    // The other experiment analyses, and so does the poisoned one.
    let bystander = cha
        .analyze_experiment("bystander", Default::default())
        .unwrap();
    assert_eq!(bystander.quarantined.observations, 0);
    assert_eq!(
        bystander.metrics[0].control.n + bystander.metrics[0].comparisons[0].treatment.n,
        40
    );
    let victim = cha
        .analyze_experiment("victim", Default::default())
        .unwrap();
    assert_eq!(victim.quarantined.observations, 5);
    let reasons: Vec<(&str, u64)> = victim
        .quarantined
        .reasons
        .iter()
        .map(|q| (q.reason.as_str(), q.observations))
        .collect();
    assert_eq!(
        reasons,
        [("value_beyond_magnitude_bound", 4), ("value_not_finite", 1)]
    );
    assert_eq!(victim.quarantined.reasons[0].first_observation, last_id - 4);
    assert!(
        victim
            .reasons
            .iter()
            .any(|r| r.contains("5 observations are left out")),
        "{:?}",
        victim.reasons
    );
    // The good values are analysed as before; every number is finite.
    let cost = &victim.metrics[0];
    assert_eq!(cost.control.n + cost.comparisons[0].treatment.n, 40);
    assert!(cost.comparisons[0].difference.t.is_some());
    let json = serde_json::to_string(&victim).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
    // The watermark moved on; the rows are kept (for export) and counted.
    assert_eq!(
        scalar(
            &s,
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'observations_folded_to'"
        ),
        last_id
    );
    assert_eq!(scalar(&s, common::RAW_OBSERVATIONS), 85);
    assert_eq!(
        cha.quarantined_observations().unwrap(),
        [("victim".to_string(), 5)]
    );
    let mut csv = Vec::new();
    assert_eq!(cha.export_observations("victim", &mut csv).unwrap(), 45);
    // New data still folds, retention still runs, and a reopened handle
    // analyses both.
    cha.record("victim", "late", "cost", 12.0).unwrap();
    cha.flush().unwrap();
    assert_eq!(
        cha.prune_observations().unwrap(),
        5,
        "the rows at time 0 are old"
    );
    drop(cha);
    let cha = Cha::open(s.db()).unwrap();
    for id in ["victim", "bystander"] {
        cha.analyze_experiment(id, Default::default()).unwrap();
    }
}

#[test]
fn a_unit_whose_stored_total_is_not_finite_cannot_block_the_fold() {
    // An older version could leave a unit's total infinite. Its new
    // observations are quarantined; everyone else's fold on, in the same
    // flush.
    let s = Scratch::new("legacy-total");
    let cha = open(&s);
    for i in 0..20 {
        cha.record("victim", &format!("u{i}"), "total", 5.0)
            .unwrap();
    }
    cha.flush().unwrap();
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    // The text form of a unit's totals (as schema 9 carries them over):
    // metric, n, sum, sum_lo, nonzero.
    conn.execute(
        "UPDATE unit_totals SET totals = 'total' || char(31) || '1' || char(31) || 'inf'
             || char(31) || '0' || char(31) || '1'
         WHERE experiment = 'victim' AND unit = 'u3'",
        [],
    )
    .unwrap();
    for i in 0..20 {
        cha.record("victim", &format!("u{i}"), "total", 1.0)
            .unwrap();
    }
    cha.flush().unwrap();
    let report = cha
        .analyze_experiment("victim", Default::default())
        .unwrap();
    assert_eq!(report.quarantined.observations, 1);
    assert_eq!(
        report.quarantined.reasons[0].reason,
        "unit_total_not_finite"
    );
    let total = &report.metrics[1];
    let mean = |arm: &cha_deploy::experiments::ArmReport| arm.mean.unwrap();
    // Every other unit has 5 + 1; u3 keeps its old value in the summary.
    assert_eq!(total.control.n + total.comparisons[0].treatment.n, 20);
    assert!(mean(&total.control) > 5.9 && mean(&total.comparisons[0].treatment) > 5.9);
    assert!(
        serde_json::to_string(&report)
            .unwrap()
            .find("NaN")
            .is_none()
    );
}

/// A block of raw observations damaged on disk fails its export with a
/// storage error naming the block; the analysis (which reads the folded
/// statistics) and the other experiment's export go on.
#[test]
fn a_damaged_block_fails_its_export_and_nothing_else() {
    let s = Scratch::new("damaged-block");
    let cha = open(&s);
    for i in 0..10 {
        cha.record("victim", &format!("u{i}"), "cost", 1.0).unwrap();
        cha.record("bystander", &format!("u{i}"), "cost", 2.0)
            .unwrap();
    }
    cha.flush().unwrap();
    rusqlite::Connection::open(s.db())
        .unwrap()
        .execute(
            "UPDATE observation_blocks SET data = substr(data, 1, length(data) - 3)
             WHERE experiment = 'victim'",
            [],
        )
        .unwrap();
    let first_id = scalar(
        &s,
        "SELECT first_id FROM observation_blocks WHERE experiment = 'victim'",
    );
    let e = cha
        .export_observations("victim", &mut Vec::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    assert!(
        e.message().contains(&format!(
            "observation block {first_id} of `victim` cannot be read at byte "
        )) && e.message().contains("it ends early"),
        "{e}"
    );
    assert_eq!(
        cha.export_observations("bystander", &mut Vec::new())
            .unwrap(),
        10
    );
    let report = cha
        .analyze_experiment("victim", Default::default())
        .unwrap();
    assert_eq!(
        report.metrics[0].control.n + report.metrics[0].comparisons[0].treatment.n,
        10
    );
}
