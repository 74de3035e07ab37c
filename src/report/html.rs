//! The report as one self-contained HTML page: inline CSS and SVG, no
//! script, no font or image to fetch. Every chart has a table of the same
//! numbers after it; the page reflows on a narrow screen and prints on A4.

use std::fmt::Write;

use super::svg::{self, esc};
use super::{DeploymentReport, number, percent, when};

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: #FFFFFF; color: #1A1A1A;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #1A1A1A; }
h3 { font-size: 1.05em; margin: 24px 0 6px; }
p.meta { color: #444; margin: 0 0 16px; }
ul.headlines { padding-left: 1.2em; }
ul.headlines li { margin: 4px 0; }
figure { margin: 12px 0 8px; break-inside: avoid; page-break-inside: avoid; }
figure .scroll { overflow-x: auto; }
svg.chart { display: block; width: 100%; height: auto; min-width: 0; }
figcaption { color: #444; font-size: 0.9em; margin-top: 4px; }
.table-wrap { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #DDD; vertical-align: top; }
th { background: #F2F2F2; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-weight: bold; }
.verdict.better, .verdict.ship { color: #006B4F; }
.verdict.worse, .verdict.harmed, .verdict.stop { color: #A63F00; }
.badge { display: inline-block; padding: 0 6px; border: 1px solid currentColor; border-radius: 3px; font-size: 0.85em; }
.none { color: #555; font-style: italic; }
details { margin: 6px 0 12px; }
summary { cursor: pointer; color: #0B4F82; }
footer { margin-top: 40px; color: #555; font-size: 0.85em; }
@media (max-width: 640px) {
  body { font-size: 14px; }
  main { padding: 12px 10px 32px; }
  svg.chart { min-width: 520px; }
  th, td { padding: 3px 5px; }
}
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure, table { break-inside: avoid; page-break-inside: avoid; }
  svg.chart { min-width: 0; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// The report as HTML.
pub(super) fn render(r: &DeploymentReport) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} – cha-deploy</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(&r.title)
    );
    let _ = write!(
        h,
        "<header><h1>{}</h1><p class=\"meta\">{} · from {} to {} · generated {} by cha-deploy {}</p></header>",
        esc(&r.title),
        esc(&r.database),
        esc(&when(r.start_ms)),
        esc(&when(r.end_ms)),
        esc(&when(r.generated_at_ms)),
        esc(&r.library_version)
    );
    h.push_str("<section id=\"summary\"><h2>Summary</h2><ul class=\"headlines\">");
    for line in &r.headlines {
        let _ = write!(h, "<li>{}</li>", esc(line));
    }
    h.push_str("</ul></section>\n");

    deployments(&mut h, r);
    rollouts(&mut h, r);
    experiments(&mut h, r);
    metrics(&mut h, r);
    feedback(&mut h, r);

    let _ = write!(
        h,
        "<footer>Charts use the Okabe–Ito colours; every series also has its own marker, dash or pattern, \
         and every chart is followed by its numbers. All times UTC.</footer>\n</main>\n</body>\n</html>\n"
    );
    h
}

fn table(h: &mut String, header: &[&str], numeric: &[usize], rows: &[Vec<String>]) {
    h.push_str("<div class=\"table-wrap\"><table><thead><tr>");
    for (i, col) in header.iter().enumerate() {
        let class = if numeric.contains(&i) {
            " class=\"num\""
        } else {
            ""
        };
        let _ = write!(h, "<th scope=\"col\"{class}>{}</th>", esc(col));
    }
    h.push_str("</tr></thead><tbody>");
    for row in rows {
        h.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if numeric.contains(&i) {
                " class=\"num\""
            } else {
                ""
            };
            // Cells are already HTML (escaped text, or a span).
            let _ = write!(h, "<td{class}>{cell}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>\n");
}

fn figure(h: &mut String, chart: &str, caption: &str) {
    let _ = write!(
        h,
        "<figure><div class=\"scroll\">{chart}</div><figcaption>{}</figcaption></figure>",
        esc(caption)
    );
}

fn deployments(h: &mut String, r: &DeploymentReport) {
    h.push_str("<section id=\"deployments\"><h2>Deployments</h2>");
    if r.deployments.is_empty() {
        h.push_str("<p class=\"none\">Nothing has been deployed yet.</p></section>\n");
        return;
    }
    let rows: Vec<Vec<String>> = r
        .deployments
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                esc(&when(d.at_ms)),
                esc(&d.action),
                esc(&d.actor),
                esc(&match (d.rolled_back_to, &d.config_dir) {
                    (Some(to), _) => format!("back to deployment {to}"),
                    (None, Some(dir)) => dir.clone(),
                    (None, None) => String::new(),
                }),
                d.changes.to_string(),
            ]
        })
        .collect();
    table(
        h,
        &["#", "when", "action", "by", "what", "changes"],
        &[0, 5],
        &rows,
    );
    h.push_str("</section>\n");
}

fn rollouts(h: &mut String, r: &DeploymentReport) {
    h.push_str("<section id=\"rollouts\"><h2>Rollouts</h2>");
    if r.rollouts.is_empty() {
        h.push_str(
            "<p class=\"none\">No flag is a percentage or scheduled rollout.</p></section>\n",
        );
        return;
    }
    for (i, rollout) in r.rollouts.iter().enumerate() {
        let _ = write!(
            h,
            "<h3>{} <span class=\"badge\">{}% now</span>{}</h3>",
            esc(&rollout.flag),
            number(rollout.percentage_now),
            if rollout.held_now.is_some() {
                " <span class=\"badge verdict stop\">held</span>"
            } else {
                ""
            }
        );
        if !rollout.description.is_empty() {
            let _ = write!(h, "<p>{}</p>", esc(&rollout.description));
        }
        if let Some(reason) = &rollout.held_now {
            let _ = write!(h, "<p><strong>Held:</strong> {}</p>", esc(reason));
        }
        figure(
            h,
            &svg::rollout_chart(rollout, r.start_ms, r.end_ms, &format!("rollout-{i}")),
            &format!(
                "Share of units {} is on for. Deploys and rollbacks are marked along the top; \
                 guardrail stops, pauses and resumes on the line; the numbers match the table.",
                rollout.flag
            ),
        );
        let rows: Vec<Vec<String>> = rollout
            .events
            .iter()
            .enumerate()
            .map(|(n, e)| {
                vec![
                    (n + 1).to_string(),
                    esc(&when(e.at_ms)),
                    format!(
                        "<span class=\"verdict {}\">{}</span>",
                        if matches!(
                            e.kind,
                            super::RolloutEventKind::GuardrailPause
                                | super::RolloutEventKind::GuardrailRollback
                        ) {
                            "stop"
                        } else {
                            ""
                        },
                        esc(e.kind.label())
                    ),
                    esc(&e.actor),
                    format!("{}%", number(e.percentage)),
                    esc(&e.detail),
                ]
            })
            .collect();
        table(
            h,
            &["#", "when", "event", "by", "after", "detail"],
            &[0, 4],
            &rows,
        );
    }
    h.push_str("</section>\n");
}

fn experiments(h: &mut String, r: &DeploymentReport) {
    h.push_str("<section id=\"experiments\"><h2>A/B tests</h2>");
    if r.experiments.is_empty() {
        h.push_str("<p class=\"none\">No A/B test has started.</p>");
    }
    for (i, e) in r.experiments.iter().enumerate() {
        let _ = write!(
            h,
            "<h3>{} <span class=\"badge\">{}</span></h3><p>{}</p>\
             <p>Verdict: <span class=\"verdict {}\">{}</span>{}</p>",
            esc(&e.id),
            esc(&e.status),
            esc(&e.name),
            esc(&e.conclusion.replace('_', "-")),
            esc(&e.recommendation),
            match e.duration_days {
                Some(d) => format!(" · {} days of data", number(d)),
                None => String::new(),
            }
        );
        let units: Vec<String> = e
            .variants
            .iter()
            .map(|v| format!("{} {}", esc(&v.name), v.exposures))
            .collect();
        let _ = write!(h, "<p>Units exposed: {}.</p>", units.join(", "));
        figure(
            h,
            &svg::forest_plot(e, &format!("experiment-{i}")),
            &format!(
                "Each variant against {} on each metric: relative lift with its confidence interval, \
                 and the verdict in words.",
                e.control
            ),
        );
        let rows: Vec<Vec<String>> = e
            .metrics
            .iter()
            .flat_map(|m| {
                m.comparisons.iter().map(move |c| {
                    vec![
                        esc(&m.name),
                        esc(&m.metric_type),
                        esc(&c.variant),
                        opt(c.lift.map(|v| format!("{:+.2}%", 100.0 * v))),
                        opt(match (c.lift_lower, c.lift_upper) {
                            (Some(l), Some(u)) => {
                                Some(format!("{:+.2}% to {:+.2}%", 100.0 * l, 100.0 * u))
                            }
                            _ => None,
                        }),
                        opt(c.difference.map(|d| {
                            format!("{} {}", significant(d), m.unit.as_deref().unwrap_or(""))
                        })),
                        opt(c.p_value.map(p_value)),
                        format!(
                            "<span class=\"verdict {}\">{}</span>",
                            esc(&c.verdict),
                            esc(&c.verdict.replace('_', " "))
                        ),
                    ]
                })
            })
            .collect();
        table(
            h,
            &[
                "metric",
                "type",
                "variant",
                "lift",
                "interval",
                "difference",
                "p",
                "verdict",
            ],
            &[3, 5, 6],
            &rows,
        );
        if !e.reasons.is_empty() {
            h.push_str("<details><summary>Why</summary><ul>");
            for reason in &e.reasons {
                let _ = write!(h, "<li>{}</li>", esc(reason));
            }
            h.push_str("</ul></details>");
        }
    }
    if !r.experiments_not_started.is_empty() {
        let _ = write!(
            h,
            "<p class=\"none\">Not started: {}.</p>",
            esc(&r.experiments_not_started.join(", "))
        );
    }
    h.push_str("</section>\n");
}

fn metrics(h: &mut String, r: &DeploymentReport) {
    h.push_str("<section id=\"metrics\"><h2>Monitoring</h2>");
    if r.metrics.is_empty() {
        h.push_str("<p class=\"none\">No metric with an alert rule has samples in this span.</p>");
    }
    for (i, m) in r.metrics.iter().enumerate() {
        let alerts: Vec<&super::AlertSpan> = r
            .alerts
            .iter()
            .filter(|a| m.alerts.contains(&a.id))
            .collect();
        let _ = write!(
            h,
            "<h3>{} <span class=\"badge\">{}</span></h3>",
            esc(&m.rule),
            esc(&m.state)
        );
        if !m.description.is_empty() {
            let _ = write!(h, "<p>{}</p>", esc(&m.description));
        }
        figure(
            h,
            &svg::metric_chart(m, &m.overall, &alerts, &format!("metric-{i}"), false),
            &format!(
                "{} of {} per {}, against the rule's thresholds ({} is a breach; the rule itself looks at {} minutes at a time); alerts hatched from firing to resolved.",
                m.aggregation,
                m.metric,
                svg::duration(m.overall.bucket_ms),
                m.comparison,
                m.window_minutes
            ),
        );
        if let Some(zoom) = &m.zoom {
            figure(
                h,
                &svg::metric_chart(m, zoom, &alerts, &format!("metric-{i}-zoom"), true),
                &format!(
                    "A closer look around the alerts, from {} to {}: {} per {}.",
                    when(zoom.start_ms),
                    when(zoom.end_ms),
                    m.aggregation,
                    svg::duration(zoom.bucket_ms)
                ),
            );
        }
        if !alerts.is_empty() {
            let rows: Vec<Vec<String>> = alerts
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        esc(&a.max_severity),
                        esc(&when(a.fired_at_ms)),
                        a.resolved_at_ms
                            .map_or("<em>still firing</em>".into(), |t| esc(&when(t))),
                        esc(&a.message),
                    ]
                })
                .collect();
            table(
                h,
                &["alert", "severity", "fired", "resolved", "message"],
                &[0],
                &rows,
            );
        }
        if !m.overall.points.is_empty() {
            let rows: Vec<Vec<String>> = m
                .overall
                .points
                .iter()
                .map(|p| {
                    vec![
                        esc(&when(p.start_ms)),
                        significant(p.value),
                        p.count.to_string(),
                    ]
                })
                .collect();
            let _ = write!(
                h,
                "<details><summary>The {} buckets of {}</summary>",
                m.overall.points.len(),
                svg::duration(m.overall.bucket_ms)
            );
            table(
                h,
                &[
                    "from",
                    &format!("{} {}", m.aggregation, m.unit.as_deref().unwrap_or("")),
                    "samples",
                ],
                &[1, 2],
                &rows,
            );
            h.push_str("</details>");
        }
    }
    h.push_str("</section>\n");
}

fn feedback(h: &mut String, r: &DeploymentReport) {
    let f = &r.feedback;
    h.push_str("<section id=\"feedback\"><h2>Feedback</h2>");
    if f.total_items == 0 {
        h.push_str("<p class=\"none\">No feedback in this span.</p></section>\n");
        return;
    }
    let _ = write!(
        h,
        "<p>{} items{}{}.</p>",
        f.total_items,
        f.csat
            .map_or(String::new(), |c| format!(", CSAT {}", percent(c))),
        f.sentiment_mean
            .map_or(String::new(), |s| format!(", mean sentiment {s:+.2}"))
    );
    figure(
        h,
        &svg::feedback_chart(&f.periods, &f.period, "feedback-volume"),
        &format!(
            "Items per {} by sentiment (green positive, dotted grey neutral, hatched negative) and the mean sentiment score.",
            f.period
        ),
    );
    let rows: Vec<Vec<String>> = f
        .periods
        .iter()
        .map(|p| {
            vec![
                esc(&when(p.start_ms)[..10]),
                p.items.to_string(),
                p.positive.to_string(),
                p.neutral.to_string(),
                p.negative.to_string(),
                opt(p.sentiment_mean.map(|s| format!("{s:+.2}"))),
                opt(p.csat.map(percent)),
            ]
        })
        .collect();
    table(
        h,
        &[
            f.period.as_str(),
            "items",
            "positive",
            "neutral",
            "negative",
            "sentiment",
            "CSAT",
        ],
        &[1, 2, 3, 4, 5, 6],
        &rows,
    );
    for (i, arms) in f.experiments.iter().enumerate() {
        let _ = write!(h, "<h3>CSAT per variant of {}</h3>", esc(&arms.experiment));
        figure(
            h,
            &svg::csat_chart(arms, &format!("csat-{i}")),
            "Share of ratings of 4 or 5 per variant; the control is dashed.",
        );
        let rows: Vec<Vec<String>> = arms
            .arms
            .iter()
            .map(|a| {
                vec![
                    esc(&a.arm),
                    a.items.to_string(),
                    a.ratings.to_string(),
                    opt(a.csat.map(percent)),
                    opt(a.average_rating.map(|v| format!("{v:.2}"))),
                    opt(a.sentiment_mean.map(|s| format!("{s:+.2}"))),
                ]
            })
            .collect();
        table(
            h,
            &[
                "variant",
                "items",
                "ratings",
                "CSAT",
                "mean rating",
                "sentiment",
            ],
            &[1, 2, 3, 4, 5],
            &rows,
        );
    }
    h.push_str("</section>\n");
}

fn opt(v: Option<String>) -> String {
    v.map_or("<span class=\"none\">n/a</span>".into(), |s| esc(&s))
}

/// Four significant digits.
fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return number(x);
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(significant(1234.567), "1235");
        assert_eq!(significant(0.012345), "0.01235");
        assert_eq!(significant(-2.5), "-2.5");
        assert_eq!(p_value(0.00001), "< 0.0001");
    }
}
