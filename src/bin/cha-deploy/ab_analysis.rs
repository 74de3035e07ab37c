//! The text of an A/B-test analysis: the report as tables for people. The
//! numbers read as in the report's own sentences
//! ([`wording`](cha_deploy::experiments::wording)).

use std::fmt::Write as _;

use cha_deploy::experiments::wording::{duration, p_value, percent, significant};
use cha_deploy::experiments::{
    AnalysisReport, SampleRatioReport, SampleRatioStatus, TargetDirection,
};

use crate::output::name_of;

/// The text of `ab analyze` (and of the demo's analysis): the test, its
/// exposures and sample-ratio check, a table per metric with each variant's
/// interval and verdict, then the recommendation, its reasons and the impact.
pub fn analysis_text(report: &AnalysisReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}) [{}], control {}, {}",
        report.experiment_name,
        report.experiment_id,
        report.status.as_str(),
        report.control,
        match report.duration_days {
            Some(d) => format!("running {}", duration(d)),
            None => "no exposures yet".into(),
        }
    );
    if let Some(started) = &report.started_at {
        let _ = writeln!(
            out,
            "started {started}; estimates from {}",
            report.phase_selection
        );
    }
    for p in &report.phases {
        let _ = writeln!(
            out,
            "  phase {} ({}): {} to {}, {}; exposed {}; sample ratio {}",
            p.phase,
            p.reason.replace('_', " "),
            p.started_at,
            p.ended_at.as_deref().unwrap_or("now"),
            p.split
                .iter()
                .map(|s| format!("{} {}%", s.variant, s.traffic_percentage))
                .collect::<Vec<_>>()
                .join(", "),
            p.split
                .iter()
                .map(|s| s.exposures.to_string())
                .collect::<Vec<_>>()
                .join(" / "),
            sample_ratio(&p.sample_ratio)
        );
    }
    let exposures: Vec<String> = report
        .variants
        .iter()
        .map(|v| format!("{} {}", v.name, v.exposures))
        .collect();
    let _ = writeln!(
        out,
        "exposures: {}; sample ratio: {}",
        exposures.join(", "),
        sample_ratio(&report.sample_ratio)
    );
    for m in &report.metrics {
        let _ = writeln!(
            out,
            "\n{} ({}, {}{})",
            m.name,
            name_of(&m.metric_type),
            match m.target_direction {
                TargetDirection::Increase => "higher is better",
                TargetDirection::Decrease => "lower is better",
            },
            m.unit
                .as_deref()
                .map(|u| format!(", {u}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "  {:<16} {:>9} {:>12} {:>12} {:>30} {:>9} {:>9} {:>7}  verdict",
            "variant",
            "n",
            "mean",
            "difference",
            format!("{} CI", percent(m.confidence_level)),
            "lift",
            "p adj",
            "power"
        );
        let num = |x: Option<f64>| x.map(|v| significant(v, 4)).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  {:<16} {:>9} {:>12} {:>12} {:>30} {:>9} {:>9} {:>7}  control",
            m.control.variant,
            m.control.n,
            num(m.control.mean),
            "",
            "",
            "",
            "",
            ""
        );
        for c in &m.comparisons {
            let ci = match (c.difference.ci_lower, c.difference.ci_upper) {
                (Some(l), Some(u)) => format!("[{}, {}]", significant(l, 4), significant(u, 4)),
                _ => "-".into(),
            };
            let verdict = if c.status.is_ok() {
                name_of(&c.verdict)
            } else {
                c.status.to_string()
            };
            let _ = writeln!(
                out,
                "  {:<16} {:>9} {:>12} {:>12} {:>30} {:>9} {:>9} {:>7}  {}",
                c.variant,
                c.treatment.n,
                num(c.treatment.mean),
                num(c.difference.estimate),
                ci,
                c.relative_lift
                    .estimate
                    .map(|l| format!("{:+.2}%", 100.0 * l))
                    .unwrap_or_else(|| "-".into()),
                c.p_adjusted
                    .or(c.decision_p_value)
                    .map(p_value)
                    .unwrap_or_else(|| "-".into()),
                c.power.achieved.map(percent).unwrap_or_else(|| "-".into()),
                verdict
            );
        }
    }
    let _ = writeln!(out, "\nrecommendation: {}", report.recommendation);
    for r in &report.reasons {
        let _ = writeln!(out, "  - {r}");
    }
    if let Some(b) = &report.business_impact {
        let _ = writeln!(out, "impact ({} in {}): {}", b.metric, b.variant, b.summary);
    }
    out
}

/// A sample-ratio check in a few words.
fn sample_ratio(r: &SampleRatioReport) -> String {
    match r.status {
        SampleRatioStatus::Skipped => format!("skipped ({})", r.reason.as_deref().unwrap_or("")),
        s => format!(
            "{} (p = {})",
            if s == SampleRatioStatus::Ok {
                "ok"
            } else {
                "MISMATCH"
            },
            p_value(r.p_value.unwrap_or(1.0))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cha_deploy::experiments::{
        Aggregation, AnalysisInput, ExperimentDefinition, ExperimentStatus, MetricDefinition,
        MetricType, TestType, VariantDefinition, analyze,
    };
    use cha_deploy::stats::Summary;

    const NOW_MS: i64 = 1_750_000_000_000;

    fn metric(name: &str, metric_type: MetricType, unit: Option<&str>) -> MetricDefinition {
        MetricDefinition {
            name: name.into(),
            description: String::new(),
            metric_type,
            aggregation: Aggregation::Mean,
            target_direction: TargetDirection::Decrease,
            minimum_detectable_effect: 0.05,
            significance_level: 0.05,
            power: 0.8,
            unit: unit.map(String::from),
        }
    }

    #[test]
    fn three_variants_one_table_per_metric_then_the_verdict() {
        let variants = [
            ("aggressive", 25.0),
            ("standard", 50.0),
            ("intelligent", 25.0),
        ];
        let def = ExperimentDefinition {
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
            control: Some("standard".into()),
            metrics: vec![
                metric("cost", MetricType::Primary, Some("EUR/m")),
                metric("runtime", MetricType::Secondary, None),
                metric("failures", MetricType::Guardrail, None),
            ],
            minimum_sample_size: 1000,
            minimum_duration_days: 7,
            coverage: 100.0,
            seed: None,
            start_time: None,
            retention_days: None,
        };
        let mv = |n, mean, variance| Summary::from_mean_variance(n, mean, variance).unwrap();
        let summaries = [
            vec![
                mv(2500, 100.0, 400.0),
                mv(2500, 5.0, 1.0),
                mv(2500, 1.0, 0.0),
            ],
            vec![
                mv(5000, 100.0, 400.0),
                mv(5000, 5.1, 1.0),
                mv(5000, 1.0, 0.0),
            ],
            vec![
                mv(2500, 96.0, 400.0),
                mv(2500, 5.0, 1.0),
                mv(2500, 1.0, 0.0),
            ],
        ];
        let report = analyze(&AnalysisInput::one_phase(
            &def,
            &summaries,
            &[2500, 5000, 2500],
            Some(NOW_MS - 8 * 86_400_000),
            NOW_MS,
            Default::default(),
        ));
        let text = analysis_text(&report);
        assert_eq!(text, EXPECTED);
    }

    // The layout as the CLI prints it, to the byte.
    const EXPECTED: &str = r"Pipe sizing comparison (pipe_sizing_comparison) [running], control standard, running 8.00 days
started 2025-06-07T15:06:40Z; estimates from phase 1, the only one
  phase 1 (start): 2025-06-07T15:06:40Z to now, aggressive 25%, standard 50%, intelligent 25%; exposed 2500 / 5000 / 2500; sample ratio ok (p = 1.0000)
exposures: aggressive 2500, standard 5000, intelligent 2500; sample ratio: ok (p = 1.0000)

cost (primary, lower is better, EUR/m)
  variant                  n         mean   difference                         95% CI      lift     p adj   power  verdict
  standard              5000        100.0                                                                          control
  aggressive            2500        100.0            0              [-0.9604, 0.9604]    +0.00%    1.0000    100%  inconclusive
  intelligent           2500        96.00       -4.000               [-4.960, -3.040]    -4.00%   1.6e-15    100%  better

runtime (secondary, lower is better)
  variant                  n         mean   difference                         95% CI      lift     p adj   power  verdict
  standard              5000        5.100                                                                          control
  aggressive            2500        5.000     -0.10000            [-0.1480, -0.05198]    -1.96%    0.0001    100%  better
  intelligent           2500        5.000     -0.10000            [-0.1480, -0.05198]    -1.96%    0.0001    100%  better

failures (guardrail, lower is better)
  variant                  n         mean   difference                         95% CI      lift     p adj   power  verdict
  standard              5000        1.000                                                                          control
  aggressive            2500        1.000            -                              -         -         -       -  zero_variance
  intelligent           2500        1.000            -                              -         -         -       -  zero_variance

recommendation: ship intelligent
  - intelligent is significantly better than standard on cost: -4.00 (-4.00% lift, adjusted p = 1.6e-15 < 0.05, Holm).
  - No guardrail is harmed.
  - Every variant has at least 1000 exposed units and the experiment has run at least 7 days.
impact (cost in intelligent): -4.00 EUR/m per unit (95% CI -4.96 to -3.04)
";
}
