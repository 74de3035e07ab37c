//! Phases: a pause and a resume, and a change of the split, each begin a
//! phase; every phase is checked against its own split, the report lists
//! them with their start, end and split, and the estimates use the phases
//! selected (by default the latest with enough units).

use std::path::PathBuf;

use cha_deploy::experiments::{
    AnalysisInput, AnalysisOptions, ConclusionKind, ExperimentStatus, Phase, PhaseSelection,
    PhaseStart, SampleRatioStatus, Split, analyze,
};
use cha_deploy::{Cha, DeployOptions, ErrorKind, OnDrift, OpenOptions};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cha-phases-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn config(&self, name: &str, weights: (u32, u32)) -> PathBuf {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("ab_tests.yml"),
            format!(
                "ab_tests:
  sizing:
    name: Sizing
    test_type: pipe_sizing
    status: running
    minimum_sample_size: 100
    variants:
      - {{name: a, traffic_percentage: {}}}
      - {{name: b, traffic_percentage: {}}}
    metrics:
      - {{name: cost, metric_type: primary, aggregation: mean, target_direction: decrease, minimum_detectable_effect: 0.05}}
",
                weights.0, weights.1
            ),
        )
        .unwrap();
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn overwrite() -> DeployOptions {
    DeployOptions {
        on_drift: OnDrift::Overwrite,
        ..DeployOptions::default()
    }
}

/// Exposes units `from..to` and records a cost for each: 100 in `a`, 90
/// in `b`, plus a little spread.
fn traffic(cha: &Cha, from: usize, to: usize) {
    for i in from..to {
        let unit = format!("engineer-{i:05}");
        if let Some(v) = cha.assign("sizing", &unit).unwrap().variant {
            let base = if &*v.name == "a" { 100.0 } else { 90.0 };
            cha.record("sizing", &unit, "cost", base + (i % 7) as f64)
                .unwrap();
        }
    }
    cha.flush().unwrap();
}

#[test]
fn a_pause_and_a_split_change_make_phases_each_checked_against_its_split() {
    let s = Scratch::new("lifecycle");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.0.join("cha.db"), options).unwrap();
    cha.deploy_all(s.config("even", (50, 50)), "ci").unwrap();
    traffic(&cha, 0, 600);
    // Paused: phase 1 ends; exposed units keep recording into it.
    cha.set_experiment_status("sizing", ExperimentStatus::Paused, "ops")
        .unwrap();
    traffic(&cha, 0, 50);
    cha.set_experiment_status("sizing", ExperimentStatus::Running, "ops")
        .unwrap();
    traffic(&cha, 600, 1200);
    // 80/20 from now on: phase 3; units of earlier phases keep their variant.
    cha.deploy(s.config("uneven", (80, 20)), &overwrite())
        .unwrap();
    traffic(&cha, 1200, 1500);

    let report = cha
        .analyze_experiment("sizing", Default::default())
        .unwrap();
    let phases = &report.phases;
    assert_eq!(phases.len(), 3);
    let reasons: Vec<&str> = phases.iter().map(|p| p.reason.as_str()).collect();
    assert_eq!(reasons, ["start", "resume", "split_change"]);
    assert!(phases[0].ended_ms.is_some() && phases[1].ended_ms.is_some());
    assert_eq!(phases[2].ended_ms, None);
    assert!(phases[0].ended_ms <= Some(phases[1].started_ms));
    assert_eq!(phases[1].ended_ms, Some(phases[2].started_ms));
    assert_eq!(report.started_ms, Some(phases[0].started_ms));
    let shares: Vec<Vec<f64>> = phases
        .iter()
        .map(|p| p.split.iter().map(|s| s.traffic_percentage).collect())
        .collect();
    assert_eq!(shares, [[50.0, 50.0], [50.0, 50.0], [80.0, 20.0]]);
    // Each phase counts the units first exposed in it, and is tested against
    // its own split: 80/20 in phase 3 is no mismatch.
    let exposed: Vec<u64> = phases
        .iter()
        .map(|p| p.split.iter().map(|s| s.exposures).sum())
        .collect();
    assert_eq!(exposed, [600, 600, 300]);
    let b3 = phases[2].split[1].exposures as f64 / 300.0;
    assert!((b3 - 0.2).abs() < 0.06, "{b3}");
    for p in phases {
        assert_eq!(
            p.sample_ratio.status,
            SampleRatioStatus::Ok,
            "phase {}",
            p.phase
        );
        assert_eq!(p.sample_ratio.df, Some(1));
    }
    // By default the latest phase with 100 units in every variant: phase 3
    // has fewer than 100 in `b`, so phase 2 is analysed.
    assert!(phases[2].split[1].exposures < 100);
    assert_eq!(report.analyzed_phases, [2]);
    assert_eq!(
        report.phase_selection,
        "phase 2, the latest with at least 100 units in every variant (phase 3 has fewer)"
    );
    assert_eq!(report.sample_ratio, phases[1].sample_ratio);
    let n = |r: &cha_deploy::AnalysisReport| {
        r.metrics[0].control.n + r.metrics[0].comparisons[0].treatment.n
    };
    assert_eq!(n(&report), 600);
    assert_eq!(report.duration_days, Some(phases[1].duration_days));

    // Selected phases, pooled.
    let all = cha
        .analyze_experiment(
            "sizing",
            AnalysisOptions {
                phases: PhaseSelection::All,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(all.analyzed_phases, [1, 2, 3]);
    assert_eq!(n(&all), 1500);
    assert!(all.phases.iter().all(|p| p.analyzed));
    let first = cha
        .analyze_experiment(
            "sizing",
            AnalysisOptions {
                phases: PhaseSelection::Only(vec![1]),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(n(&first), 600);
    assert_eq!(first.phase_selection, "phase 1 (selected)");
    let e = cha
        .analyze_experiment(
            "sizing",
            AnalysisOptions {
                phases: PhaseSelection::Only(vec![4]),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.message().contains("has no phase 4 (phases: 1, 2, 3)"),
        "{e}"
    );

    // The same phases in `ab show`'s details.
    let details = cha.experiment_details("sizing").unwrap();
    assert_eq!(details.phases.len(), 3);
    assert_eq!(details.started_ms, report.started_ms);
    assert_eq!(details.phases[2].split, report.phases[2].split);
}

#[test]
fn a_mismatch_is_judged_in_its_own_phase() {
    // Phase 1 ran 50/50 and has 1000 against 1000; phase 2 runs 80/20 and
    // has 500 against 500: a mismatch against its own split, though the
    // pooled counts would look fine against 50/50.
    let def_json = r#"{"id": "t", "name": "t", "test_type": "pipe_sizing", "status": "running",
        "variants": [{"name": "a", "traffic_percentage": 80}, {"name": "b", "traffic_percentage": 20}],
        "metrics": [], "minimum_sample_size": 100, "minimum_duration_days": 7, "coverage": 100}"#;
    let def: cha_deploy::experiments::ExperimentDefinition =
        serde_json::from_str(def_json).unwrap();
    let mut even = def.clone();
    even.variants[0].traffic_percentage = 50.0;
    even.variants[1].traffic_percentage = 50.0;
    let day = 86_400_000;
    let phase = |number, split: Split, started_ms, ended_ms, exposures: Vec<u64>| {
        cha_deploy::experiments::phases::PhaseData {
            phase: Phase {
                number,
                started_ms,
                ended_ms,
                split,
                reason: if number == 1 {
                    PhaseStart::Start
                } else {
                    PhaseStart::SplitChange
                },
                mixed: false,
            },
            exposures,
        }
    };
    let phases = vec![
        phase(1, Split::of(&even), 0, Some(10 * day), vec![1000, 1000]),
        phase(2, Split::of(&def), 10 * day, None, vec![500, 500]),
    ];
    let input = |analyzed: Vec<u32>, exposures: &'static [u64]| AnalysisInput {
        definition: &def,
        summaries: &[],
        exposures,
        phases: phases.clone(),
        analyzed,
        selection: String::new(),
        quarantined: Default::default(),
        now_ms: 20 * day,
        options: AnalysisOptions::default(),
    };
    let latest = analyze(&input(vec![2], &[500, 500]));
    assert_eq!(latest.phases[0].sample_ratio.status, SampleRatioStatus::Ok);
    assert_eq!(
        latest.phases[1].sample_ratio.status,
        SampleRatioStatus::Mismatch
    );
    assert_eq!(latest.conclusion, ConclusionKind::Invalid);
    // Phase 1 alone is sound, and the mismatch of phase 2 is still said.
    let first = analyze(&input(vec![1], &[1000, 1000]));
    assert_eq!(first.sample_ratio.status, SampleRatioStatus::Ok);
    assert_ne!(first.conclusion, ConclusionKind::Invalid);
    assert!(
        first
            .reasons
            .iter()
            .any(|r| r.starts_with("Phase 2 (not analysed) does not match its traffic split")),
        "{:?}",
        first.reasons
    );
    assert_eq!(first.duration_days, Some(10.0));
    assert_eq!(latest.duration_days, Some(10.0));
}
