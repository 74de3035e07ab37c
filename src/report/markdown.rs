//! The report as Markdown: the same sections as the HTML page, with each
//! chart's numbers as a table.

use std::fmt::Write;

use super::{DeploymentReport, RolloutEventKind, number, percent, when};

/// The report as Markdown.
pub(super) fn render(r: &DeploymentReport) -> String {
    let mut m = String::with_capacity(16 * 1024);
    let _ = writeln!(m, "# {}\n", r.title);
    let _ = writeln!(
        m,
        "{} · from {} to {} · generated {} by cha-deploy {}\n",
        cell(&r.database),
        when(r.start_ms),
        when(r.end_ms),
        when(r.generated_at_ms),
        r.library_version
    );
    m.push_str("## Summary\n\n");
    for line in &r.headlines {
        let _ = writeln!(m, "- {}", cell(line));
    }

    m.push_str("\n## Deployments\n\n");
    if r.deployments.is_empty() {
        m.push_str("Nothing has been deployed yet.\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .deployments
            .iter()
            .map(|d| {
                vec![
                    d.id.to_string(),
                    when(d.at_ms),
                    d.action.clone(),
                    d.actor.clone(),
                    match (d.rolled_back_to, &d.config_dir) {
                        (Some(to), _) => format!("back to deployment {to}"),
                        (None, Some(dir)) => dir.clone(),
                        (None, None) => String::new(),
                    },
                    d.changes.to_string(),
                ]
            })
            .collect();
        table(
            &mut m,
            &["#", "when", "action", "by", "what", "changes"],
            &rows,
        );
    }

    m.push_str("\n## Rollouts\n");
    if r.rollouts.is_empty() {
        m.push_str("\nNo flag is a percentage or scheduled rollout.\n");
    }
    for rollout in &r.rollouts {
        let _ = writeln!(
            m,
            "\n### {} ({}% now{})\n",
            cell(&rollout.flag),
            number(rollout.percentage_now),
            if rollout.held_now.is_some() {
                ", held"
            } else {
                ""
            }
        );
        if let Some(reason) = &rollout.held_now {
            let _ = writeln!(m, "**Held:** {}\n", cell(reason));
        }
        m.push_str("Percentage over time:\n\n");
        let rows: Vec<Vec<String>> = rollout
            .points
            .iter()
            .map(|p| {
                vec![
                    when(p.at_ms),
                    format!("{}%", number(p.percentage)),
                    if p.held { "yes".into() } else { "no".into() },
                ]
            })
            .collect();
        table(&mut m, &["from", "percentage", "held"], &rows);
        m.push_str("\nEvents:\n\n");
        let rows: Vec<Vec<String>> = rollout
            .events
            .iter()
            .enumerate()
            .map(|(n, e)| {
                let label = if matches!(
                    e.kind,
                    RolloutEventKind::GuardrailPause | RolloutEventKind::GuardrailRollback
                ) {
                    format!("**{}**", e.kind.label())
                } else {
                    e.kind.label().to_string()
                };
                vec![
                    (n + 1).to_string(),
                    when(e.at_ms),
                    label,
                    e.actor.clone(),
                    format!("{}%", number(e.percentage)),
                    e.detail.clone(),
                ]
            })
            .collect();
        table(
            &mut m,
            &["#", "when", "event", "by", "after", "detail"],
            &rows,
        );
    }

    m.push_str("\n## A/B tests\n");
    if r.experiments.is_empty() {
        m.push_str("\nNo A/B test has started.\n");
    }
    for e in &r.experiments {
        let _ = writeln!(m, "\n### {} ({})\n", cell(&e.id), e.status);
        let _ = writeln!(
            m,
            "**Verdict: {}**{}\n",
            cell(&e.recommendation),
            e.duration_days
                .map_or(String::new(), |d| format!(" · {} days of data", number(d)))
        );
        let units: Vec<String> = e
            .variants
            .iter()
            .map(|v| format!("{} {}", v.name, v.exposures))
            .collect();
        let _ = writeln!(m, "Units exposed: {}.\n", cell(&units.join(", ")));
        let rows: Vec<Vec<String>> = e
            .metrics
            .iter()
            .flat_map(|mr| {
                mr.comparisons.iter().map(move |c| {
                    vec![
                        mr.name.clone(),
                        mr.metric_type.clone(),
                        c.variant.clone(),
                        c.lift
                            .map_or("n/a".into(), |v| format!("{:+.2}%", 100.0 * v)),
                        match (c.lift_lower, c.lift_upper) {
                            (Some(l), Some(u)) => {
                                format!("{:+.2}% to {:+.2}%", 100.0 * l, 100.0 * u)
                            }
                            _ => "n/a".into(),
                        },
                        c.p_value.map_or("n/a".into(), |p| {
                            if p < 1e-4 {
                                "< 0.0001".into()
                            } else {
                                format!("{p:.4}")
                            }
                        }),
                        c.verdict.replace('_', " "),
                    ]
                })
            })
            .collect();
        table(
            &mut m,
            &[
                "metric", "type", "variant", "lift", "interval", "p", "verdict",
            ],
            &rows,
        );
        if !e.reasons.is_empty() {
            m.push('\n');
            for reason in &e.reasons {
                let _ = writeln!(m, "- {}", cell(reason));
            }
        }
    }
    if !r.experiments_not_started.is_empty() {
        let _ = writeln!(
            m,
            "\nNot started: {}.",
            r.experiments_not_started.join(", ")
        );
    }

    m.push_str("\n## Monitoring\n");
    if r.metrics.is_empty() {
        m.push_str("\nNo metric with an alert rule has samples in this span.\n");
    }
    for t in &r.metrics {
        let thresholds: Vec<String> = [
            ("warning", t.warning),
            ("error", t.error),
            ("critical", t.critical),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {} {}", t.comparison, number(v))))
        .collect();
        let _ = writeln!(
            m,
            "\n### {} ({} of {}, {} now)\n\nThresholds: {}.\n",
            cell(&t.rule),
            t.aggregation,
            t.metric,
            t.state,
            thresholds.join(", ")
        );
        let alerts: Vec<&super::AlertSpan> = r
            .alerts
            .iter()
            .filter(|a| t.alerts.contains(&a.id))
            .collect();
        if !alerts.is_empty() {
            let rows: Vec<Vec<String>> = alerts
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.max_severity.clone(),
                        when(a.fired_at_ms),
                        a.resolved_at_ms.map_or("still firing".into(), when),
                        a.message.clone(),
                    ]
                })
                .collect();
            table(
                &mut m,
                &["alert", "severity", "fired", "resolved", "message"],
                &rows,
            );
            m.push('\n');
        }
        let rows: Vec<Vec<String>> = t
            .overall
            .points
            .iter()
            .map(|p| vec![when(p.start_ms), number(p.value), p.count.to_string()])
            .collect();
        if !rows.is_empty() {
            let value = format!("{} {}", t.aggregation, t.unit.as_deref().unwrap_or(""));
            table(&mut m, &["from", value.trim(), "samples"], &rows);
        }
    }

    let f = &r.feedback;
    m.push_str("\n## Feedback\n\n");
    if f.total_items == 0 {
        m.push_str("No feedback in this span.\n");
    } else {
        let _ = writeln!(
            m,
            "{} items{}{}.\n",
            f.total_items,
            f.csat
                .map_or(String::new(), |c| format!(", CSAT {}", percent(c))),
            f.sentiment_mean
                .map_or(String::new(), |s| format!(", mean sentiment {s:+.2}"))
        );
        let rows: Vec<Vec<String>> = f
            .periods
            .iter()
            .map(|p| {
                vec![
                    when(p.start_ms)[..10].to_string(),
                    p.items.to_string(),
                    p.positive.to_string(),
                    p.neutral.to_string(),
                    p.negative.to_string(),
                    p.sentiment_mean
                        .map_or("n/a".into(), |s| format!("{s:+.2}")),
                    p.csat.map_or("n/a".into(), percent),
                ]
            })
            .collect();
        table(
            &mut m,
            &[
                &f.period,
                "items",
                "positive",
                "neutral",
                "negative",
                "sentiment",
                "CSAT",
            ],
            &rows,
        );
        for arms in &f.experiments {
            let _ = writeln!(m, "\nCSAT per variant of {}:\n", cell(&arms.experiment));
            let rows: Vec<Vec<String>> = arms
                .arms
                .iter()
                .map(|a| {
                    vec![
                        if a.arm == arms.reference {
                            format!("{} (control)", a.arm)
                        } else {
                            a.arm.clone()
                        },
                        a.items.to_string(),
                        a.ratings.to_string(),
                        a.csat.map_or("n/a".into(), percent),
                        a.average_rating.map_or("n/a".into(), |v| format!("{v:.2}")),
                    ]
                })
                .collect();
            table(
                &mut m,
                &["variant", "items", "ratings", "CSAT", "mean rating"],
                &rows,
            );
        }
    }
    m
}

/// Text safe in a table cell and in running text: no line breaks, no
/// unescaped pipes, no HTML.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace(['\n', '\r'], " ")
}

fn table(m: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(
        m,
        "| {} |",
        header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(m, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(
            m,
            "| {} |",
            row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_a_table() {
        assert_eq!(cell("a|b\nc<script>"), "a\\|b c&lt;script>");
    }
}
