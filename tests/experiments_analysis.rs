//! The A/B-test analysis (`experiments::analyze`): every field against the
//! statistics engine (exact equality where the same function computes it)
//! and hand-computed values, each verdict, the corrections, degenerate data,
//! and large experiments.

use std::collections::BTreeMap;
use std::time::Instant;

use cha_deploy::experiments::{
    Aggregation, AnalysisInput, AnalysisOptions, AnalysisReport, ConclusionKind, Correction,
    Direction, ExperimentDefinition, ExperimentStatus, MetricDefinition, MetricType,
    SampleRatioStatus, TargetDirection, TestType, VariantDefinition, Verdict, analyze,
};
use cha_deploy::stats::{self, Summary};
use serde_json::Value;

const DAY_MS: i64 = 86_400_000;
const NOW_MS: i64 = 1_750_000_000_000;

// ------------------------------------------------------------ builders ----

fn metric(name: &str, metric_type: MetricType, target: TargetDirection) -> MetricDefinition {
    MetricDefinition {
        name: name.into(),
        description: String::new(),
        metric_type,
        aggregation: Aggregation::Mean,
        target_direction: target,
        minimum_detectable_effect: 0.05,
        significance_level: 0.05,
        power: 0.8,
        unit: None,
    }
}

fn experiment(variants: &[(&str, f64)], metrics: Vec<MetricDefinition>) -> ExperimentDefinition {
    ExperimentDefinition {
        id: "pipe_sizing_comparison".into(),
        name: "Pipe sizing comparison".into(),
        description: String::new(),
        test_type: TestType::PipeSizing,
        status: ExperimentStatus::Running,
        variants: variants
            .iter()
            .map(|(name, pct)| VariantDefinition {
                name: (*name).into(),
                description: String::new(),
                traffic_percentage: *pct,
                configuration: serde_json::Map::new(),
            })
            .collect(),
        control: None,
        metrics,
        minimum_sample_size: 1000,
        minimum_duration_days: 7,
        coverage: 100.0,
        seed: None,
        start_time: None,
        retention_days: None,
    }
}

fn two_arms(metrics: Vec<MetricDefinition>) -> ExperimentDefinition {
    experiment(&[("standard", 50.0), ("intelligent", 50.0)], metrics)
}

fn run(
    def: &ExperimentDefinition,
    summaries: &[Vec<Summary>],
    exposures: &[u64],
    days: f64,
    options: AnalysisOptions,
) -> AnalysisReport {
    analyze(&AnalysisInput::one_phase(
        def,
        summaries,
        exposures,
        Some(NOW_MS - (days * DAY_MS as f64) as i64),
        NOW_MS,
        options,
    ))
}

/// SplitMix64 and Box–Muller: deterministic normal values.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    fn sample(&mut self, n: usize, mean: f64, sd: f64) -> Summary {
        let values: Vec<f64> = (0..n).map(|_| mean + sd * self.normal()).collect();
        Summary::from_values(&values)
    }
}

fn mv(n: u64, mean: f64, variance: f64) -> Summary {
    Summary::from_mean_variance(n, mean, variance).unwrap()
}

/// Every number in the JSON, with its path.
fn numbers(v: &Value, path: &str, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Number(n) => out.push((path.to_string(), n.as_f64().unwrap())),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                numbers(x, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                numbers(x, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// No NaN or infinity anywhere. serde_json would print a NaN as null and
/// hide it, so the check reads the Debug form, which prints them as `NaN`
/// and `inf`.
fn assert_all_finite(report: &AnalysisReport) {
    let debug = format!("{report:?}");
    for bad in ["NaN", "(inf)", "(-inf)", ": inf", ": -inf"] {
        assert!(!debug.contains(bad), "{bad} in the report: {debug}");
    }
    let json = serde_json::to_value(report).unwrap();
    let mut all = Vec::new();
    numbers(&json, "", &mut all);
    for (path, x) in all {
        assert!(x.is_finite(), "{path} = {x}");
    }
}

// ------------------------------------------------------- exact fields ----

#[test]
fn every_field_is_the_stats_engine_result() {
    let mut cost = metric(
        "cost_per_meter",
        MetricType::Primary,
        TargetDirection::Decrease,
    );
    cost.unit = Some("EUR/m".into());
    let def = two_arms(vec![cost.clone()]);
    let mut rng = Rng(42);
    let c = rng.sample(2000, 100.0, 20.0);
    let t = rng.sample(2100, 97.0, 18.0);
    let report = run(
        &def,
        &[vec![c], vec![t]],
        &[2010, 2105],
        10.0,
        Default::default(),
    );
    assert_all_finite(&report);

    let m = &report.metrics[0];
    assert_eq!(m.control.n, 2000);
    assert_eq!(m.control.mean, Some(c.mean()));
    assert_eq!(m.control.variance, c.variance());
    assert_eq!(m.control.std_dev, c.std_dev());
    assert_eq!(m.confidence_level, 0.95);
    let cmp = &m.comparisons[0];
    assert_eq!(cmp.status, "ok");
    assert_eq!(cmp.variant, "intelligent");
    assert_eq!(cmp.treatment.mean, Some(t.mean()));

    let w = stats::welch(&c, &t, 0.05).unwrap();
    assert_eq!(cmp.difference.estimate, Some(w.difference));
    assert_eq!(cmp.difference.std_error, Some(w.std_error));
    assert_eq!(cmp.difference.t, Some(w.t));
    assert_eq!(cmp.difference.df, Some(w.df));
    assert_eq!(cmp.difference.p_value, Some(w.p_value));
    assert_eq!(cmp.difference.ci_lower, Some(w.ci.lower));
    assert_eq!(cmp.difference.ci_upper, Some(w.ci.upper));

    let l = stats::relative_lift(&c, &t, 0.05).unwrap();
    assert_eq!(cmp.relative_lift.status, "ok");
    assert_eq!(cmp.relative_lift.estimate, Some(l.lift));
    assert_eq!(cmp.relative_lift.std_error, Some(l.std_error));
    assert_eq!(cmp.relative_lift.ci_lower, Some(l.ci.lower));
    assert_eq!(cmp.relative_lift.ci_upper, Some(l.ci.upper));

    let e = stats::effect_size(&c, &t).unwrap();
    assert_eq!(cmp.effect_size.pooled_std_dev, Some(e.pooled_std_dev));
    assert_eq!(cmp.effect_size.cohens_d, Some(e.cohens_d));
    assert_eq!(cmp.effect_size.hedges_g, Some(e.hedges_g));

    // Power at the MDE: d = 0.05 × |control mean| / pooled sd.
    let d = 0.05 * c.mean().abs() / e.pooled_std_dev;
    assert_eq!(cmp.power.absolute_effect, Some(0.05 * c.mean().abs()));
    assert_eq!(cmp.power.effect_size, Some(d));
    let achieved = stats::ttest_ind_power(d, 2000.0, 0.05, 2100.0 / 2000.0).unwrap();
    assert_eq!(cmp.power.achieved, Some(achieved));
    assert!(achieved > 0.99, "{achieved}");
    assert_eq!(cmp.power.additional_units, Some(0));
    assert_eq!(cmp.power.target, 0.8);

    // A single comparison: the correction leaves p as it is.
    assert_eq!(cmp.decision_p_value, Some(w.p_value));
    assert_eq!(cmp.p_adjusted, Some(w.p_value));
    assert_eq!(cmp.significant, Some(true));
    assert_eq!(cmp.direction, Some(Direction::Better)); // lower cost
    assert_eq!(cmp.verdict, Verdict::Better);
    assert_eq!(cmp.harmed, None);
    assert_eq!(cmp.sequential, None);

    let srm = stats::sample_ratio_mismatch(&[2010, 2105], &[50.0, 50.0]).unwrap();
    assert_eq!(report.sample_ratio.status, SampleRatioStatus::Ok);
    assert_eq!(report.sample_ratio.statistic, Some(srm.statistic));
    assert_eq!(report.sample_ratio.p_value, Some(srm.p_value));
    assert_eq!(report.sample_ratio.df, Some(1));
    assert_eq!(report.variants[0].expected_share, 0.5);
    assert_eq!(report.variants[1].observed_share, Some(2105.0 / 4115.0));

    assert_eq!(report.conclusion, ConclusionKind::Ship);
    assert_eq!(report.recommendation, "ship intelligent");
    assert_eq!(report.winner.as_deref(), Some("intelligent"));
    let impact = report.business_impact.as_ref().unwrap();
    assert_eq!(impact.difference, w.difference);
    assert_eq!((impact.ci_lower, impact.ci_upper), (w.ci.lower, w.ci.upper));
    assert_eq!(impact.unit.as_deref(), Some("EUR/m"));
    assert!(
        impact.summary.starts_with('-') && impact.summary.contains(" EUR/m per unit (95% CI "),
        "{}",
        impact.summary
    );
    assert_eq!(report.duration_days, Some(10.0));
}

#[test]
fn hand_computed_small_example() {
    // control 1..5: mean 3, variance 2.5; treatment 2,4,..,10: mean 6, variance 10.
    let def = two_arms(vec![metric(
        "flow",
        MetricType::Primary,
        TargetDirection::Increase,
    )]);
    let c = Summary::from_values(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    let t = Summary::from_values(&[2.0, 4.0, 6.0, 8.0, 10.0]);
    let report = run(&def, &[vec![c], vec![t]], &[5, 5], 1.0, Default::default());
    let cmp = &report.metrics[0].comparisons[0];
    let close = |got: Option<f64>, want: f64| {
        let got = got.unwrap();
        assert!((got - want).abs() <= 1e-12 * want.abs(), "{got} vs {want}");
    };
    close(report.metrics[0].control.variance, 2.5);
    close(cmp.treatment.variance, 10.0);
    close(cmp.difference.estimate, 3.0);
    // se = sqrt(2.5/5 + 10/5) = sqrt(2.5); t = 3 / sqrt(2.5).
    close(cmp.difference.std_error, 2.5f64.sqrt());
    close(cmp.difference.t, 3.0 / 2.5f64.sqrt());
    // df = 2.5² / (0.5²/4 + 2²/4) = 6.25 / 1.0625.
    close(cmp.difference.df, 6.25 / 1.0625);
    // lift = 6/3 − 1; its variance 2/9 + 4 · 0.5/9 = 4/9.
    close(cmp.relative_lift.estimate, 1.0);
    close(cmp.relative_lift.std_error, 2.0 / 3.0);
    // pooled sd = sqrt((4·2.5 + 4·10)/8) = 2.5; d = 1.2;
    // g = J(8)·d, J(8) = Γ(4) / (2 Γ(3.5)) = 6 / (2 · 3.323350970447843).
    close(cmp.effect_size.pooled_std_dev, 2.5);
    close(cmp.effect_size.cohens_d, 1.2);
    close(
        cmp.effect_size.hedges_g,
        1.2 * 6.0 / (2.0 * 3.323_350_970_447_843),
    );
    // Too few units for the chi-square approximation (expected 5 each is fine).
    assert_eq!(report.sample_ratio.status, SampleRatioStatus::Ok);
    assert_eq!(report.sample_ratio.statistic, Some(0.0));
    assert_eq!(report.sample_ratio.p_value, Some(1.0));
}

// ------------------------------------------------------------ verdicts ----

#[test]
fn sample_ratio_mismatch_beats_everything() {
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        metric(
            "violations",
            MetricType::Guardrail,
            TargetDirection::Decrease,
        ),
    ]);
    // A clear win on cost and a clear harm on the guardrail, but 5000 : 5400.
    let summaries = vec![
        vec![mv(5000, 100.0, 400.0), mv(5000, 1.0, 1.0)],
        vec![mv(5400, 90.0, 400.0), mv(5400, 2.0, 1.0)],
    ];
    let report = run(&def, &summaries, &[5000, 5400], 14.0, Default::default());
    // chi² = 2 · 200² / 5200; with one df, p = erfc(sqrt(chi²/2)).
    let chi2 = 2.0 * 200.0f64.powi(2) / 5200.0;
    let s = report.sample_ratio.statistic.unwrap();
    assert!((s - chi2).abs() < 1e-12 * chi2, "{s} vs {chi2}");
    let p = report.sample_ratio.p_value.unwrap();
    // Python: math.erfc(math.sqrt(2 * 200**2 / 5200 / 2)).
    assert!((p / 8.769_942_375_590_239e-5 - 1.0).abs() < 1e-9, "{p}");
    assert!(report.sample_ratio.mismatch);
    assert_eq!(report.sample_ratio.status, SampleRatioStatus::Mismatch);
    assert_eq!(report.conclusion, ConclusionKind::Invalid);
    assert_eq!(report.recommendation, "invalid: sample ratio mismatch");
    assert!(report.reasons[0].contains("standard 48.1% observed vs 50% expected"));
    assert_eq!(report.winner, None);
}

#[test]
fn sample_ratio_is_skipped_with_a_reason_while_counts_are_tiny() {
    let def = two_arms(vec![metric(
        "cost",
        MetricType::Primary,
        TargetDirection::Decrease,
    )]);
    let none = run(&def, &[], &[0, 0], 0.0, Default::default());
    assert_eq!(none.sample_ratio.status, SampleRatioStatus::Skipped);
    assert_eq!(
        none.sample_ratio.reason.as_deref(),
        Some("no exposures yet")
    );
    assert_eq!(none.sample_ratio.p_value, None);
    let one_arm = run(&def, &[], &[3, 0], 0.0, Default::default());
    assert_eq!(one_arm.sample_ratio.status, SampleRatioStatus::Skipped);
    assert!(
        one_arm
            .sample_ratio
            .reason
            .as_deref()
            .unwrap()
            .contains("smallest expected count is 1.50"),
        "{:?}",
        one_arm.sample_ratio.reason
    );
    // But 1,000 against 0 is tested, and is a mismatch.
    let lopsided = run(&def, &[], &[1000, 0], 8.0, Default::default());
    assert_eq!(lopsided.sample_ratio.status, SampleRatioStatus::Mismatch);
    assert_eq!(lopsided.conclusion, ConclusionKind::Invalid);
    // Without any exposure, the duration is unknown.
    let report = analyze(&AnalysisInput::one_phase(
        &def,
        &[],
        &[],
        None,
        NOW_MS,
        AnalysisOptions::default(),
    ));
    assert_eq!(report.duration_days, None);
    assert_eq!(report.conclusion, ConclusionKind::KeepRunning);
    assert_eq!(
        report.recommendation,
        "keep running: 1000 more units per variant and 7 more days needed"
    );
    assert_eq!(report.additional_units_per_variant, Some(1000));
    assert_eq!(report.additional_days, Some(7.0));
    assert_all_finite(&report);
}

#[test]
fn harmed_guardrail_stops_the_experiment() {
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        metric(
            "pressure_violations",
            MetricType::Guardrail,
            TargetDirection::Decrease,
        ),
        metric(
            "solver_success",
            MetricType::Guardrail,
            TargetDirection::Increase,
        ),
    ]);
    let summaries = vec![
        vec![
            mv(5000, 100.0, 400.0),
            mv(5000, 1.0, 1.0),
            mv(5000, 0.9, 0.09),
        ],
        // Cost much better; violations up by 0.05 sd-ish (harm); success
        // clearly up (an improvement, so no harm).
        vec![
            mv(5000, 90.0, 400.0),
            mv(5000, 1.06, 1.0),
            mv(5000, 0.95, 0.0475),
        ],
    ];
    let report = run(&def, &summaries, &[5000, 5000], 14.0, Default::default());
    assert_all_finite(&report);
    let violations = &report.metrics[1].comparisons[0];
    let w = stats::welch(&summaries[0][1], &summaries[1][1], 0.05).unwrap();
    // One-sided towards harm: P(T > t) for a metric that should decrease.
    let one_sided = stats::dist::students_t_sf(w.t, w.df).unwrap();
    assert_eq!(violations.decision_p_value, Some(one_sided));
    assert!((one_sided - 0.5 * w.p_value).abs() < 1e-15);
    assert!(w.p_value > 0.001 && one_sided < 0.05, "{one_sided}");
    assert_eq!(violations.harmed, Some(true));
    assert_eq!(violations.verdict, Verdict::Harmed);
    assert_eq!(violations.p_adjusted, None);
    assert_eq!(violations.direction, Some(Direction::Worse));

    let success = &report.metrics[2].comparisons[0];
    let w = stats::welch(&summaries[0][2], &summaries[1][2], 0.05).unwrap();
    assert_eq!(
        success.decision_p_value,
        Some(stats::dist::students_t_cdf(w.t, w.df).unwrap())
    );
    assert!(success.decision_p_value.unwrap() > 0.99);
    assert_eq!(success.harmed, Some(false));
    assert_eq!(success.verdict, Verdict::NotHarmed);

    assert_eq!(report.conclusion, ConclusionKind::Stop);
    assert_eq!(
        report.recommendation,
        "stop: guardrail harmed (pressure_violations in intelligent)"
    );
    assert!(report.reasons[0].starts_with(
        "Guardrail pressure_violations is significantly worse in intelligent than in standard"
    ));
    // The primary comparison is still reported, and its correction ignores
    // the guardrails: a family of one.
    let cost = &report.metrics[0].comparisons[0];
    assert_eq!(cost.p_adjusted, cost.difference.p_value);
    assert_eq!(report.winner, None);
}

#[test]
fn a_winner_waits_for_the_minimum_duration_and_sample_size() {
    let def = two_arms(vec![metric(
        "cost",
        MetricType::Primary,
        TargetDirection::Decrease,
    )]);
    let summaries = vec![vec![mv(1500, 100.0, 400.0)], vec![mv(1500, 95.0, 400.0)]];
    let early = run(&def, &summaries, &[1500, 1500], 3.25, Default::default());
    assert_eq!(early.metrics[0].comparisons[0].verdict, Verdict::Better);
    assert_eq!(early.conclusion, ConclusionKind::KeepRunning);
    assert_eq!(early.recommendation, "keep running: 4 more days needed");
    assert_eq!(early.additional_days, Some(3.75));
    assert_eq!(early.additional_units_per_variant, None);
    assert_eq!(early.winner, None);
    // The would-be winner's effect is shown already.
    assert_eq!(
        early.business_impact.as_ref().unwrap().variant,
        "intelligent"
    );

    let fewer = vec![vec![mv(950, 100.0, 400.0)], vec![mv(960, 95.0, 400.0)]];
    let small = run(&def, &fewer, &[950, 960], 9.0, Default::default());
    assert_eq!(small.metrics[0].comparisons[0].verdict, Verdict::Better);
    assert_eq!(small.conclusion, ConclusionKind::KeepRunning);
    assert_eq!(
        small.recommendation,
        "keep running: 50 more units per variant needed"
    );
    assert_eq!(small.additional_units_per_variant, Some(50));
    assert_eq!(small.additional_days, None);

    let ready = run(&def, &summaries, &[1500, 1500], 7.0, Default::default());
    assert_eq!(ready.conclusion, ConclusionKind::Ship);
    assert_eq!(ready.recommendation, "ship intelligent");
}

#[test]
fn keep_running_names_the_units_the_power_needs() {
    let def = two_arms(vec![metric(
        "cost",
        MetricType::Primary,
        TargetDirection::Decrease,
    )]);
    // The MDE is 5% of 100 = 5 EUR; with sd 80, d = 0.0625: underpowered.
    let (c, t) = (mv(1200, 100.0, 6400.0), mv(1300, 99.0, 6400.0));
    let report = run(
        &def,
        &[vec![c], vec![t]],
        &[1200, 1300],
        10.0,
        Default::default(),
    );
    let cmp = &report.metrics[0].comparisons[0];
    assert_eq!(cmp.verdict, Verdict::Inconclusive);
    let e = stats::effect_size(&c, &t).unwrap();
    let d = 5.0 / e.pooled_std_dev;
    let ratio = 1300.0 / 1200.0;
    let achieved = stats::ttest_ind_power(d, 1200.0, 0.05, ratio).unwrap();
    assert_eq!(cmp.power.achieved, Some(achieved));
    assert!(achieved < 0.8);
    let nobs1 = stats::ttest_ind_required_nobs1(d, 0.05, 0.8, ratio).unwrap();
    let (req_c, req_t) = (nobs1.ceil() as u64, (nobs1 * ratio).ceil() as u64);
    assert_eq!(cmp.power.required_control, Some(req_c));
    assert_eq!(cmp.power.required_treatment, Some(req_t));
    let need = (req_c - 1200).max(req_t - 1300);
    assert_eq!(cmp.power.additional_units, Some(need));
    // At ratio 1, 2 · (1.96 + 0.84)² / d² ≈ 4019 per arm; at 13 : 12 the
    // control needs n_eff · (1 + 12/13) ≈ 2010 · 1.92 ≈ 3865.
    assert!((3800..3950).contains(&req_c), "{req_c}");
    assert_eq!(report.conclusion, ConclusionKind::KeepRunning);
    assert_eq!(report.additional_units_per_variant, Some(need));
    assert_eq!(
        report.recommendation,
        format!("keep running: {need} more units per variant needed")
    );
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.contains("more units per variant reach it")),
        "{:?}",
        report.reasons
    );
}

#[test]
fn no_difference_once_powered() {
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        metric("runtime", MetricType::Secondary, TargetDirection::Decrease),
    ]);
    let mut rng = Rng(7);
    let summaries = vec![
        vec![rng.sample(3000, 100.0, 20.0), rng.sample(3000, 5.0, 1.0)],
        vec![rng.sample(3000, 100.0, 20.0), rng.sample(3000, 5.0, 1.0)],
    ];
    let report = run(&def, &summaries, &[3000, 3000], 8.0, Default::default());
    assert_all_finite(&report);
    let cmp = &report.metrics[0].comparisons[0];
    assert_eq!(cmp.verdict, Verdict::Inconclusive);
    assert_eq!(cmp.power.additional_units, Some(0));
    assert!(cmp.power.achieved.unwrap() > 0.99);
    assert_eq!(report.conclusion, ConclusionKind::NoDifference);
    assert!(
        report
            .recommendation
            .starts_with("no difference: no variant is significantly better"),
        "{}",
        report.recommendation
    );
    // Business impact of the leading primary comparison, even without a winner.
    assert_eq!(report.business_impact.as_ref().unwrap().metric, "cost");
}

// ----------------------------------------------------------- corrections ----

/// Three comparisons with two-sided p near 0.02, 0.03 and 0.04: Holm rejects
/// none (every adjusted p is 0.06), Benjamini–Hochberg all three (0.04).
fn three_borderline() -> (ExperimentDefinition, Vec<Vec<Summary>>) {
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        metric("runtime", MetricType::Secondary, TargetDirection::Decrease),
        metric("accuracy", MetricType::Secondary, TargetDirection::Increase),
        metric(
            "violations",
            MetricType::Guardrail,
            TargetDirection::Decrease,
        ),
    ]);
    let se = (2.0f64 / 10_000.0).sqrt();
    let summaries = vec![
        vec![
            mv(10_000, 100.0, 1.0),
            mv(10_000, 50.0, 1.0),
            mv(10_000, 10.0, 1.0),
            mv(10_000, 1.0, 1.0),
        ],
        vec![
            mv(10_000, 100.0 - 2.326 * se, 1.0),
            mv(10_000, 50.0 - 2.17 * se, 1.0),
            mv(10_000, 10.0 + 2.054 * se, 1.0),
            mv(10_000, 1.0, 1.0),
        ],
    ];
    (def, summaries)
}

#[test]
fn holm_and_benjamini_hochberg_across_primary_and_secondary() {
    let (def, summaries) = three_borderline();
    let holm = run(&def, &summaries, &[10_000, 10_000], 9.0, Default::default());
    let p: Vec<f64> = holm.metrics[..3]
        .iter()
        .map(|m| m.comparisons[0].difference.p_value.unwrap())
        .collect();
    assert!(p[0] < 0.021 && p[2] > 0.039, "{p:?}");
    let want = stats::holm(&p, 0.05).unwrap();
    for (m, a) in holm.metrics.iter().zip(&want) {
        assert_eq!(m.comparisons[0].p_adjusted, Some(a.p_adjusted));
        assert_eq!(m.comparisons[0].significant, Some(false));
        assert_eq!(m.comparisons[0].verdict, Verdict::Inconclusive);
    }
    // The guardrail is not in the family.
    assert_eq!(holm.metrics[3].comparisons[0].p_adjusted, None);
    assert_eq!(holm.correction, Correction::Holm);
    assert_ne!(holm.conclusion, ConclusionKind::Ship);

    let options = AnalysisOptions {
        correction: Correction::BenjaminiHochberg,
        ..Default::default()
    };
    let bh = run(&def, &summaries, &[10_000, 10_000], 9.0, options);
    let want = stats::benjamini_hochberg(&p, 0.05).unwrap();
    for (m, a) in bh.metrics.iter().zip(&want) {
        assert_eq!(m.comparisons[0].p_adjusted, Some(a.p_adjusted));
        assert_eq!(m.comparisons[0].significant, Some(true));
        assert_eq!(m.comparisons[0].verdict, Verdict::Better);
    }
    assert_eq!(bh.conclusion, ConclusionKind::Ship);
    assert_eq!(bh.recommendation, "ship intelligent");
    // One name on every surface: "bh" (the long name is still read).
    let json = serde_json::to_value(&bh).unwrap();
    assert_eq!(json["correction"], "bh");
}

#[test]
fn options_from_json() {
    let o: AnalysisOptions = serde_json::from_str("{}").unwrap();
    assert_eq!(o, AnalysisOptions::default());
    assert_eq!(o.correction, Correction::Holm);
    let o: AnalysisOptions = serde_json::from_str(
        r#"{"correction": "benjamini_hochberg", "sequential": true, "mixture_variance": {"cost": 4.0}}"#,
    )
    .unwrap();
    assert_eq!(o.correction, Correction::BenjaminiHochberg);
    assert!(o.sequential);
    assert_eq!(o.mixture_variance["cost"], 4.0);
    assert!(serde_json::from_str::<AnalysisOptions>(r#"{"correction": "bonferroni"}"#).is_err());
}

// ------------------------------------------------------------ sequential ----

#[test]
fn sequential_intervals_and_decisions() {
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        metric(
            "violations",
            MetricType::Guardrail,
            TargetDirection::Decrease,
        ),
    ]);
    let summaries = vec![
        vec![mv(5000, 100.0, 400.0), mv(5000, 1.0, 1.0)],
        vec![mv(5000, 98.8, 400.0), mv(5000, 1.0, 1.0)],
    ];
    let options = AnalysisOptions {
        sequential: true,
        ..Default::default()
    };
    let report = run(&def, &summaries, &[5000, 5000], 9.0, options);
    assert!(report.sequential);
    let cmp = &report.metrics[0].comparisons[0];
    // Default τ² = (mde × |control mean|)² = 25.
    let av = stats::always_valid(&summaries[0][0], &summaries[1][0], 0.05, 25.0).unwrap();
    let seq = cmp.sequential.as_ref().unwrap();
    assert_eq!(seq.status, "ok");
    assert_eq!(seq.mixture_variance, Some(25.0));
    assert_eq!(
        (seq.ci_lower, seq.ci_upper),
        (Some(av.ci.lower), Some(av.ci.upper))
    );
    assert_eq!(seq.p_value, Some(av.p_value));
    assert_eq!(cmp.decision_p_value, Some(av.p_value));
    // Fixed-horizon significant (p ≈ 0.003), always-valid not yet.
    assert!(cmp.difference.p_value.unwrap() < 0.01);
    assert!(av.p_value > 0.05, "{}", av.p_value);
    assert_eq!(cmp.verdict, Verdict::Inconclusive);
    assert_eq!(report.conclusion, ConclusionKind::NoDifference);
    // The guardrail, unchanged, is not harmed.
    assert_eq!(report.metrics[1].comparisons[0].harmed, Some(false));

    // A per-metric τ² overrides the default.
    let options = AnalysisOptions {
        sequential: true,
        mixture_variance: BTreeMap::from([("cost".to_string(), 1.0)]),
        ..Default::default()
    };
    let report = run(&def, &summaries, &[5000, 5000], 9.0, options);
    let av = stats::always_valid(&summaries[0][0], &summaries[1][0], 0.05, 1.0).unwrap();
    let seq = report.metrics[0].comparisons[0]
        .sequential
        .as_ref()
        .unwrap();
    assert_eq!(seq.p_value, Some(av.p_value));
    assert_eq!(seq.mixture_variance, Some(1.0));

    // Zero control mean: no default τ², decisions fall back to fixed horizon.
    let summaries = vec![vec![mv(5000, 0.0, 1.0)], vec![mv(5000, 0.2, 1.0)]];
    let def = two_arms(vec![metric(
        "delta",
        MetricType::Primary,
        TargetDirection::Increase,
    )]);
    let options = AnalysisOptions {
        sequential: true,
        ..Default::default()
    };
    let report = run(&def, &summaries, &[5000, 5000], 9.0, options);
    let cmp = &report.metrics[0].comparisons[0];
    let seq = cmp.sequential.as_ref().unwrap();
    assert!(
        seq.status.starts_with("zero_control_mean"),
        "{}",
        seq.status
    );
    assert_eq!(seq.p_value, None);
    assert_eq!(cmp.decision_p_value, cmp.difference.p_value);
    assert_all_finite(&report);
}

#[test]
fn sequential_guardrail_needs_the_bad_direction() {
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        metric(
            "violations",
            MetricType::Guardrail,
            TargetDirection::Decrease,
        ),
    ]);
    let options = || AnalysisOptions {
        sequential: true,
        ..Default::default()
    };
    // Violations far lower (better): always-valid p tiny, but no harm.
    let better = vec![
        vec![mv(5000, 100.0, 400.0), mv(5000, 1.0, 1.0)],
        vec![mv(5000, 100.0, 400.0), mv(5000, 0.8, 1.0)],
    ];
    let report = run(&def, &better, &[5000, 5000], 9.0, options());
    let g = &report.metrics[1].comparisons[0];
    assert!(g.decision_p_value.unwrap() < 1e-6);
    assert_eq!(g.harmed, Some(false));
    // Far higher: harmed.
    let worse = vec![
        vec![mv(5000, 100.0, 400.0), mv(5000, 1.0, 1.0)],
        vec![mv(5000, 100.0, 400.0), mv(5000, 1.2, 1.0)],
    ];
    let report = run(&def, &worse, &[5000, 5000], 9.0, options());
    assert_eq!(report.metrics[1].comparisons[0].harmed, Some(true));
    assert_eq!(report.conclusion, ConclusionKind::Stop);
}

// ------------------------------------------------------------ degenerate ----

#[test]
fn degenerate_comparisons_have_a_status_and_null_numbers() {
    let def = two_arms(vec![
        metric("one_unit", MetricType::Primary, TargetDirection::Increase),
        metric("constant", MetricType::Primary, TargetDirection::Increase),
        metric(
            "zero_mean",
            MetricType::Secondary,
            TargetDirection::Increase,
        ),
        metric("empty", MetricType::Secondary, TargetDirection::Increase),
    ]);
    let summaries = vec![
        vec![
            Summary::from_values(&[3.0]),
            Summary::from_values(&[0.0; 40]),
            Summary::from_values(&[-1.0, 1.0, -2.0, 2.0]),
            Summary::EMPTY,
        ],
        vec![
            Summary::from_values(&[1.0, 2.0, 4.0]),
            Summary::from_values(&[0.0; 50]),
            Summary::from_values(&[0.5, 1.5, 2.5]),
            Summary::EMPTY,
        ],
    ];
    let report = run(&def, &summaries, &[40, 50], 2.0, Default::default());
    assert_all_finite(&report);
    let status = |m: usize| report.metrics[m].comparisons[0].status.as_str();
    assert_eq!(status(0), "insufficient_data: control has 1 unit");
    assert_eq!(status(1), "zero_variance");
    assert_eq!(status(2), "ok");
    assert_eq!(status(3), "insufficient_data: control has 0 units");

    let one = &report.metrics[0];
    assert_eq!(one.control.n, 1);
    assert_eq!(one.control.mean, Some(3.0));
    assert_eq!(one.control.variance, None);
    let c = &one.comparisons[0];
    assert_eq!(c.difference.estimate, None);
    assert_eq!(c.difference.p_value, None);
    assert_eq!(c.effect_size.cohens_d, None);
    assert_eq!(c.power.achieved, None);
    assert_eq!(c.power.status, "insufficient_data: control has 1 unit");
    assert_eq!(
        c.relative_lift.status,
        "insufficient_data: control has 1 unit"
    );
    assert_eq!(c.p_adjusted, None);
    assert_eq!(c.significant, None);
    assert_eq!(c.verdict, Verdict::NotTested);

    // Zero control mean: only the lift (and the MDE-based power) are undefined.
    let z = &report.metrics[2].comparisons[0];
    assert_eq!(z.relative_lift.status, "zero_control_mean");
    assert_eq!(z.relative_lift.estimate, None);
    assert_eq!(z.power.status, "zero_control_mean");
    assert_eq!(z.power.achieved, None);
    assert!(z.difference.p_value.is_some());
    assert!(z.p_adjusted.is_some());

    let empty = &report.metrics[3];
    assert_eq!(empty.control.mean, None);
    assert_eq!(empty.comparisons[0].treatment.mean, None);

    // The JSON keeps every key, with explicit nulls.
    let json = serde_json::to_value(&report).unwrap();
    let c = &json["metrics"][0]["comparisons"][0];
    assert!(c["difference"].as_object().unwrap().contains_key("p_value"));
    assert!(c["difference"]["p_value"].is_null());
    assert!(c["effect_size"]["hedges_g"].is_null());
    assert!(c["p_adjusted"].is_null());
    assert_eq!(c["verdict"], "not_tested");
    assert!(json["metrics"][3]["control"]["mean"].is_null());

    // Only the zero-mean comparison is in the family: a family of one.
    assert_eq!(z.p_adjusted, z.difference.p_value);
    assert_eq!(report.conclusion, ConclusionKind::KeepRunning);
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.starts_with("Not testable yet: one_unit in intelligent")),
        "{:?}",
        report.reasons
    );
}

#[test]
fn short_or_missing_inputs_never_panic() {
    let def = experiment(
        &[("a", 34.0), ("b", 33.0), ("c", 33.0)],
        vec![metric("m", MetricType::Primary, TargetDirection::Increase)],
    );
    let report = run(
        &def,
        &[vec![mv(10, 1.0, 1.0)]],
        &[10],
        1.0,
        Default::default(),
    );
    assert_eq!(report.variants[2].exposures, 0);
    assert_eq!(report.metrics[0].comparisons.len(), 2);
    assert_eq!(
        report.metrics[0].comparisons[1].status,
        "insufficient_data: treatment has 0 units"
    );
    assert_all_finite(&report);
    // Non-finite summaries (never stored, but tolerated) give statuses.
    let bad = vec![
        vec![mv(10, 1.0, 1.0)],
        vec![Summary::from_parts(stats::SummaryParts {
            n: 10,
            shift: f64::NAN,
            s1: (0.0, 0.0),
            s2: (1.0, 0.0),
        })],
    ];
    let two = two_arms(vec![metric(
        "m",
        MetricType::Primary,
        TargetDirection::Increase,
    )]);
    let report = run(&two, &bad, &[10, 10], 1.0, Default::default());
    assert_eq!(report.metrics[0].comparisons[0].treatment.mean, None);
    assert_all_finite(&report);
}

// ------------------------------------------------------------ 3 variants ----

#[test]
fn three_variants_compare_each_with_the_named_control() {
    let mut def = experiment(
        &[
            ("aggressive", 25.0),
            ("standard", 50.0),
            ("intelligent", 25.0),
        ],
        vec![
            metric("cost", MetricType::Primary, TargetDirection::Decrease),
            metric("runtime", MetricType::Secondary, TargetDirection::Decrease),
        ],
    );
    def.control = Some("standard".into());
    let mut rng = Rng(3);
    let summaries = vec![
        vec![rng.sample(2500, 100.0, 20.0), rng.sample(2500, 5.0, 1.0)],
        vec![rng.sample(5000, 100.0, 20.0), rng.sample(5000, 5.0, 1.0)],
        vec![rng.sample(2500, 96.0, 20.0), rng.sample(2500, 5.0, 1.0)],
    ];
    let exposures = [2500, 5000, 2500];
    let report = run(&def, &summaries, &exposures, 8.0, Default::default());
    assert_all_finite(&report);
    assert_eq!(report.control, "standard");
    assert!(report.variants[1].is_control);
    assert_eq!(report.variants[0].expected_share, 0.25);
    assert_eq!(report.sample_ratio.df, Some(2));
    assert_eq!(report.sample_ratio.statistic, Some(0.0));

    let names: Vec<&str> = report.metrics[0]
        .comparisons
        .iter()
        .map(|c| c.variant.as_str())
        .collect();
    assert_eq!(names, ["aggressive", "intelligent"]);
    // The family: 2 metrics × 2 variants, in definition order.
    let mut p = Vec::new();
    for (m, control) in summaries[1].iter().enumerate() {
        for v in [0, 2] {
            p.push(
                stats::welch(control, &summaries[v][m], 0.05)
                    .unwrap()
                    .p_value,
            );
        }
    }
    let want = stats::holm(&p, 0.05).unwrap();
    let got: Vec<f64> = report
        .metrics
        .iter()
        .flat_map(|m| m.comparisons.iter().map(|c| c.p_adjusted.unwrap()))
        .collect();
    assert_eq!(got, want.iter().map(|a| a.p_adjusted).collect::<Vec<_>>());
    // Power with the arms' actual ratio (2500 : 5000), at the level of
    // Holm's first step over the family's 4 comparisons.
    let c = &report.metrics[0].comparisons[1];
    let d = c.power.effect_size.unwrap();
    assert_eq!(c.power.alpha, 0.05 / 4.0);
    assert_eq!(
        c.power.achieved,
        Some(stats::ttest_ind_power(d, 5000.0, 0.05 / 4.0, 0.5).unwrap())
    );
    assert_eq!(report.winner.as_deref(), Some("intelligent"));
    assert_eq!(report.recommendation, "ship intelligent");
    assert_eq!(
        report.metrics[0].comparisons[0].verdict,
        Verdict::Inconclusive
    );
    // The CLI's table of this report is tested with the CLI
    // (src/bin/cha-deploy/ab_analysis.rs).
}

// ------------------------------------------------------------ large n ----

#[test]
fn half_a_million_units_per_arm() {
    let mut cost = metric("cost", MetricType::Primary, TargetDirection::Decrease);
    cost.minimum_detectable_effect = 0.001;
    let def = two_arms(vec![cost]);
    let mut rng = Rng(500_000);
    let c = rng.sample(500_000, 100.0, 20.0);
    let t = rng.sample(500_000, 99.95, 20.0);
    let report = run(
        &def,
        &[vec![c], vec![t]],
        &[500_000, 500_000],
        14.0,
        Default::default(),
    );
    assert_all_finite(&report);
    let cmp = &report.metrics[0].comparisons[0];
    let w = stats::welch(&c, &t, 0.05).unwrap();
    assert!(w.df > 9e5);
    assert_eq!(cmp.difference.df, Some(w.df));
    assert_eq!(cmp.difference.ci_lower, Some(w.ci.lower));
    assert_eq!(cmp.difference.p_value, Some(w.p_value));
    // The MDE in metric units is 0.001 × |control mean| ≈ 0.1.
    let d = 0.001 * c.mean().abs() / stats::effect_size(&c, &t).unwrap().pooled_std_dev;
    let achieved = stats::ttest_ind_power(d, 500_000.0, 0.05, 1.0).unwrap();
    assert_eq!(cmp.power.achieved, Some(achieved));
    // d ≈ 0.005: about 628,000 per arm for 80% (z-approximation 2·(2.8/0.005)²).
    let nobs1 = stats::ttest_ind_required_nobs1(d, 0.05, 0.8, 1.0).unwrap();
    assert_eq!(cmp.power.required_control, Some(nobs1.ceil() as u64));
    let need = cmp.power.additional_units.unwrap();
    assert_eq!(need, nobs1.ceil() as u64 - 500_000);
    assert!(
        achieved < 0.8 && (100_000..150_000).contains(&need),
        "{achieved} {need}"
    );
}

#[test]
fn timing_three_variants_five_metrics_at_a_million_units() {
    let metrics: Vec<MetricDefinition> = (0..5)
        .map(|i| {
            let kind = match i {
                0 => MetricType::Primary,
                4 => MetricType::Guardrail,
                _ => MetricType::Secondary,
            };
            let mut m = metric(&format!("m{i}"), kind, TargetDirection::Increase);
            m.minimum_detectable_effect = 0.0005; // underpowered: the solver runs
            m
        })
        .collect();
    let def = experiment(&[("a", 34.0), ("b", 33.0), ("c", 33.0)], metrics);
    let summaries: Vec<Vec<Summary>> = (0..3)
        .map(|v| {
            (0..5)
                .map(|m| mv(1_000_000 + v * 17, 50.0 + m as f64, 100.0 + v as f64))
                .collect()
        })
        .collect();
    let exposures = [1_000_000, 1_000_017, 1_000_034];
    for sequential in [false, true] {
        let options = AnalysisOptions {
            sequential,
            ..Default::default()
        };
        let input = AnalysisInput::one_phase(
            &def,
            &summaries,
            &exposures,
            Some(NOW_MS - 10 * DAY_MS),
            NOW_MS,
            options,
        );
        let report = analyze(&input);
        assert_all_finite(&report);
        assert!(
            report.metrics[0].comparisons[0]
                .power
                .additional_units
                .unwrap()
                > 0
        );
        let runs = 20;
        let start = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(analyze(std::hint::black_box(&input)));
        }
        // Printed, never asserted (see STYLE.md).
        println!(
            "analyze, 3 variants x 5 metrics, n = 1e6, sequential = {sequential}: {:?} per call",
            start.elapsed() / runs
        );
    }
}

// ------------------------------------------------------------ JSON shape ----

#[test]
fn json_field_names_are_stable() {
    let def = two_arms(vec![metric(
        "cost",
        MetricType::Primary,
        TargetDirection::Decrease,
    )]);
    let summaries = vec![vec![mv(1500, 100.0, 400.0)], vec![mv(1500, 95.0, 400.0)]];
    let report = run(&def, &summaries, &[1500, 1500], 8.0, Default::default());
    let json = serde_json::to_value(&report).unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let mut top = keys(&json);
    top.sort();
    assert_eq!(
        top,
        [
            "additional_days",
            "additional_units_per_variant",
            "analyzed_phases",
            "business_impact",
            "conclusion",
            "control",
            "correction",
            "duration_days",
            "experiment_id",
            "experiment_name",
            "family_alpha",
            "family_size",
            "metrics",
            "minimum_duration_days",
            "minimum_sample_size",
            "phase_selection",
            "phases",
            "quarantined",
            "reasons",
            "recommendation",
            "sample_ratio",
            "sequential",
            "started_at",
            "started_ms",
            "status",
            "variants",
            "winner",
        ]
    );
    let c = &json["metrics"][0]["comparisons"][0];
    let mut ck = keys(c);
    ck.sort();
    assert_eq!(
        ck,
        [
            "decision_p_value",
            "difference",
            "direction",
            "effect_size",
            "harmed",
            "p_adjusted",
            "power",
            "relative_lift",
            "sequential",
            "significant",
            "status",
            "treatment",
            "variant",
            "verdict",
        ]
    );
    assert_eq!(json["conclusion"], "ship");
    assert_eq!(json["status"], "running");
    assert_eq!(json["metrics"][0]["metric_type"], "primary");
    assert_eq!(c["direction"], "better");
    assert_eq!(c["verdict"], "better");
    println!("{}", serde_json::to_string_pretty(&json).unwrap());
}

// ------------------------------------------- verdicts, case by case ----

/// A comparison's verdicts and the report's conclusion, for constructed data.
fn decide(
    def: &ExperimentDefinition,
    summaries: &[Vec<Summary>],
    exposures: &[u64],
) -> AnalysisReport {
    let report = run(def, summaries, exposures, 10.0, Default::default());
    assert_all_finite(&report);
    report
}

#[test]
fn a_primary_metric_made_significantly_worse_is_harm_not_no_difference() {
    // Lower cost is better; the treatment costs 5 EUR more (p ≈ 1e-11).
    let def = two_arms(vec![metric(
        "cost",
        MetricType::Primary,
        TargetDirection::Decrease,
    )]);
    let summaries = vec![vec![mv(1500, 100.0, 400.0)], vec![mv(1500, 105.0, 400.0)]];
    let report = decide(&def, &summaries, &[1500, 1500]);
    assert_eq!(report.metrics[0].comparisons[0].verdict, Verdict::Worse);
    assert_eq!(report.conclusion, ConclusionKind::Harm);
    assert_eq!(
        report.recommendation,
        "keep the control: intelligent is significantly worse on cost"
    );
    assert!(
        report.reasons[0]
            .starts_with("intelligent is significantly worse than standard on cost: 5.00"),
        "{:?}",
        report.reasons
    );
    assert_eq!(report.winner, None);
    assert_eq!(serde_json::to_value(&report).unwrap()["conclusion"], "harm");
    // The same data before the minimum duration: harm does not wait.
    let early = run(&def, &summaries, &[1500, 1500], 1.0, Default::default());
    assert_eq!(early.conclusion, ConclusionKind::Harm);
}

#[test]
fn better_on_one_primary_and_worse_on_another_is_a_trade_off() {
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        metric("accuracy", MetricType::Primary, TargetDirection::Increase),
    ]);
    let summaries = vec![
        vec![mv(1500, 100.0, 400.0), mv(1500, 0.90, 0.01)],
        vec![mv(1500, 95.0, 400.0), mv(1500, 0.88, 0.01)],
    ];
    let report = decide(&def, &summaries, &[1500, 1500]);
    let verdicts: Vec<Verdict> = report
        .metrics
        .iter()
        .map(|m| m.comparisons[0].verdict)
        .collect();
    assert_eq!(verdicts, [Verdict::Better, Verdict::Worse]);
    assert_eq!(report.conclusion, ConclusionKind::TradeOff);
    assert_eq!(
        report.recommendation,
        "decide the trade-off: intelligent is better on cost and worse on accuracy"
    );
    assert_eq!(
        serde_json::to_value(&report).unwrap()["conclusion"],
        "trade_off"
    );
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.contains("weigh what each metric is worth"))
    );
}

#[test]
fn zero_variance_with_different_means_cannot_be_tested() {
    // 3 on every unit of the control, 4 on every unit of the treatment.
    let def = two_arms(vec![metric(
        "runs",
        MetricType::Primary,
        TargetDirection::Increase,
    )]);
    let summaries = vec![
        vec![Summary::from_values(&[3.0; 1200])],
        vec![Summary::from_values(&[4.0; 1200])],
    ];
    let report = decide(&def, &summaries, &[1200, 1200]);
    assert_eq!(report.metrics[0].comparisons[0].status, "zero_variance");
    assert_eq!(report.conclusion, ConclusionKind::Untestable);
    assert_eq!(
        report.recommendation,
        "cannot test: runs in intelligent (4.000 in intelligent against 3.000 in standard, every unit alike)"
    );
    // Equal constants are no difference at all.
    let same = vec![
        vec![Summary::from_values(&[3.0; 1200])],
        vec![Summary::from_values(&[3.0; 1200])],
    ];
    let report = decide(&def, &same, &[1200, 1200]);
    assert_ne!(report.conclusion, ConclusionKind::Untestable);
}

#[test]
fn the_lift_interval_uses_the_t_quantile_of_the_difference() {
    // c = [10, 11, 12, 13], t = [12, 13, 14, 15.5]: the difference's interval
    // [-0.302, 4.552] (p = 0.0757) holds 0, and so must the lift's; with the
    // normal quantile it was [+0.26%, +36.7%].
    let mut m = metric("efficiency", MetricType::Primary, TargetDirection::Increase);
    m.minimum_detectable_effect = 0.05;
    let def = two_arms(vec![m]);
    let c = Summary::from_values(&[10.0, 11.0, 12.0, 13.0]);
    let t = Summary::from_values(&[12.0, 13.0, 14.0, 15.5]);
    let report = decide(&def, &[vec![c], vec![t]], &[4, 4]);
    let cmp = &report.metrics[0].comparisons[0];
    let d = &cmp.difference;
    assert!((d.ci_lower.unwrap() - -0.3021).abs() < 1e-4, "{d:?}");
    assert!((d.ci_upper.unwrap() - 4.5521).abs() < 1e-4, "{d:?}");
    assert!((d.p_value.unwrap() - 0.0757).abs() < 1e-4, "{d:?}");
    let lift = &cmp.relative_lift;
    let q = stats::dist::students_t_isf(0.025, d.df.unwrap()).unwrap();
    assert_eq!(
        lift.ci_lower,
        Some(lift.estimate.unwrap() - q * lift.std_error.unwrap())
    );
    assert_eq!(
        lift.ci_upper,
        Some(lift.estimate.unwrap() + q * lift.std_error.unwrap())
    );
    assert!(
        lift.ci_lower.unwrap() < 0.0 && lift.ci_upper.unwrap() > 0.0,
        "{lift:?}"
    );
    assert_eq!(cmp.verdict, Verdict::Inconclusive);
}

#[test]
fn a_negative_control_mean_keeps_the_lift_on_the_side_of_the_effect() {
    // Higher is better; the control averages -3.04, the treatment -2.406:
    // +0.634 is an improvement, and so is its lift (+20.86%, not -20.86%).
    let def = two_arms(vec![metric(
        "margin",
        MetricType::Primary,
        TargetDirection::Increase,
    )]);
    let summaries = vec![vec![mv(1500, -3.04, 1.2)], vec![mv(1500, -2.406, 0.9)]];
    let report = decide(&def, &summaries, &[1500, 1500]);
    let cmp = &report.metrics[0].comparisons[0];
    assert!((cmp.difference.estimate.unwrap() - 0.634).abs() < 1e-12);
    let lift = cmp.relative_lift.estimate.unwrap();
    assert!((lift - 0.634 / 3.04).abs() < 1e-12, "{lift}");
    assert_eq!(cmp.direction, Some(Direction::Better));
    assert_eq!(cmp.verdict, Verdict::Better);
    assert!(
        report.reasons[0].contains("(+20.86% lift"),
        "{:?}",
        report.reasons
    );
    assert_eq!(report.conclusion, ConclusionKind::Ship);
}

#[test]
fn power_and_the_units_still_needed_follow_the_correction() {
    // Five comparisons in the family: Holm's first step runs at 0.05 / 5,
    // where 80% nominal power is far less. The plan and the verdict use
    // the corrected level, and say so.
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        metric("s1", MetricType::Secondary, TargetDirection::Decrease),
        metric("s2", MetricType::Secondary, TargetDirection::Decrease),
        metric("s3", MetricType::Secondary, TargetDirection::Decrease),
        metric("s4", MetricType::Secondary, TargetDirection::Decrease),
    ]);
    // d = 5 / sd: with sd 45, 1300 units per arm give about 80% at 0.05.
    let arm = |mean: f64| -> Vec<Summary> {
        (0..5)
            .map(|i| {
                if i == 0 {
                    mv(1300, mean, 2025.0)
                } else {
                    mv(1300, 10.0, 4.0)
                }
            })
            .collect()
    };
    let summaries = vec![arm(100.0), arm(100.0)];
    let report = decide(&def, &summaries, &[1300, 1300]);
    assert_eq!((report.family_alpha, report.family_size), (Some(0.05), 5));
    let cmp = &report.metrics[0].comparisons[0];
    assert_eq!(cmp.power.alpha, 0.01);
    let d = cmp.power.effect_size.unwrap();
    let nominal = stats::ttest_ind_power(d, 1300.0, 0.05, 1.0).unwrap();
    let real = stats::ttest_ind_power(d, 1300.0, 0.01, 1.0).unwrap();
    assert!(nominal > 0.8 && real < 0.65, "{nominal} {real}");
    assert_eq!(cmp.power.achieved, Some(real));
    let nobs1 = stats::ttest_ind_required_nobs1(d, 0.01, 0.8, 1.0).unwrap();
    assert_eq!(cmp.power.additional_units, Some(nobs1.ceil() as u64 - 1300));
    // Not "every primary comparison has reached its power": more units.
    assert_eq!(report.conclusion, ConclusionKind::KeepRunning);
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.contains("(target 80%, at alpha 0.0100)")),
        "{:?}",
        report.reasons
    );
    // Without a correction, the same data are powered at 0.05.
    let none = run(
        &def,
        &summaries,
        &[1300, 1300],
        10.0,
        AnalysisOptions {
            correction: Correction::None,
            ..Default::default()
        },
    );
    assert_eq!(none.metrics[0].comparisons[0].power.alpha, 0.05);
    assert_eq!(none.conclusion, ConclusionKind::NoDifference);
}

#[test]
fn one_level_for_the_family_the_smallest_alpha() {
    // cost is configured at 0.05, runtime at 0.01: the family is controlled
    // at 0.01, so an adjusted p of about 0.03 is not significant, whatever
    // the metric's own level.
    let mut strict = metric("runtime", MetricType::Secondary, TargetDirection::Decrease);
    strict.significance_level = 0.01;
    let def = two_arms(vec![
        metric("cost", MetricType::Primary, TargetDirection::Decrease),
        strict,
    ]);
    let summaries = vec![
        vec![mv(2000, 100.0, 400.0), mv(2000, 5.0, 1.0)],
        vec![mv(2000, 98.4, 400.0), mv(2000, 5.0, 1.0)],
    ];
    let report = decide(&def, &summaries, &[2000, 2000]);
    assert_eq!(report.family_alpha, Some(0.01));
    let cost = &report.metrics[0].comparisons[0];
    let adjusted = cost.p_adjusted.unwrap();
    assert!(adjusted > 0.01 && adjusted < 0.05, "{adjusted}");
    assert_eq!(cost.significant, Some(false));
    assert_eq!(cost.verdict, Verdict::Inconclusive);
    // Each interval keeps its metric's own level.
    assert_eq!(report.metrics[0].confidence_level, 0.95);
    assert_eq!(report.metrics[1].confidence_level, 0.99);
}

#[test]
fn the_plan_honours_the_split_the_arms_and_the_correction() {
    use cha_deploy::experiments::{plan_for_experiment, plan_sample_size};
    // 70/30, one primary and one secondary metric: Holm over 2 comparisons.
    let def = experiment(
        &[("segment", 70.0), ("solver", 30.0)],
        vec![
            metric("margin", MetricType::Primary, TargetDirection::Increase),
            metric("head", MetricType::Secondary, TargetDirection::Decrease),
        ],
    );
    let plan = plan_for_experiment(&def, &def.metrics[0], 100.0, 20.0, Correction::Holm).unwrap();
    let reference = plan_sample_size(100.0, 20.0, 0.05, 0.025, 0.8, 30.0 / 70.0, 2).unwrap();
    assert_eq!(plan.nobs1, reference.nobs1);
    assert_eq!(plan.alpha, 0.025);
    let units: Vec<(&str, u64)> = plan
        .arms
        .iter()
        .map(|a| (a.variant.as_str(), a.units))
        .collect();
    assert_eq!(
        units,
        [
            ("segment", reference.nobs1.ceil() as u64),
            ("solver", (reference.nobs1 * 30.0 / 70.0).ceil() as u64)
        ]
    );
    assert_eq!(plan.total, units[0].1 + units[1].1);
    // A 50/50 plan of the same numbers would have been different.
    let even = plan_sample_size(100.0, 20.0, 0.05, 0.025, 0.8, 1.0, 2).unwrap();
    assert_ne!(plan.per_variant, even.per_variant);
    let level = plan.level.as_ref().unwrap();
    assert_eq!((level.nominal_alpha, level.comparisons), (0.05, 2));

    // Three arms (the control at 50%): four comparisons, each treatment at
    // its share of the control's units.
    let three = experiment(
        &[("standard", 50.0), ("a", 25.0), ("b", 25.0)],
        vec![
            metric("margin", MetricType::Primary, TargetDirection::Increase),
            metric("head", MetricType::Secondary, TargetDirection::Decrease),
        ],
    );
    let plan =
        plan_for_experiment(&three, &three.metrics[0], 100.0, 20.0, Correction::Holm).unwrap();
    assert_eq!(plan.alpha, 0.05 / 4.0);
    let reference = plan_sample_size(100.0, 20.0, 0.05, 0.0125, 0.8, 0.5, 3).unwrap();
    assert_eq!(plan.nobs1, reference.nobs1);
    let half = (reference.nobs1 * 0.5).ceil() as u64;
    assert_eq!(
        plan.arms.iter().map(|a| a.units).collect::<Vec<_>>(),
        [reference.nobs1.ceil() as u64, half, half]
    );
    assert_eq!(plan.total, reference.nobs1.ceil() as u64 + 2 * half);
    // A guardrail is planned at its own level, outside the family.
    let mut guard = metric("failures", MetricType::Guardrail, TargetDirection::Decrease);
    guard.minimum_detectable_effect = 0.1;
    let plan = plan_for_experiment(&three, &guard, 100.0, 20.0, Correction::Holm).unwrap();
    assert_eq!(plan.alpha, 0.05);
    // No correction: the family's level as is.
    let plan = plan_for_experiment(&def, &def.metrics[0], 100.0, 20.0, Correction::None).unwrap();
    assert_eq!(plan.alpha, 0.05);
}
