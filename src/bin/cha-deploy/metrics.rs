//! `cha-deploy metrics …`: record metrics, show reports, alerts and flag
//! usage, export for Prometheus and serve it over HTTP.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use serde_json::json;

use cha_deploy::monitoring::MetricKind;
use cha_deploy::{AlertQuery, Cha, Error, PerformanceReport};

use crate::flags::Actor;
use crate::output::{Output, Style, num, paint, rfc3339, table};
use crate::when::{now_ms, time, time_or_ago};

#[derive(Subcommand)]
pub enum MetricsCommand {
    /// Record one sample: a timer (in seconds, stored in ms), a histogram
    /// value, a counter increment or a gauge level.
    #[command(
        after_help = "Examples:\n  cha-deploy metrics record pipe_sizing_time_ms 1.25 --kind timer --tags '{\"network\": \"north\"}'\n  cha-deploy metrics record pipe_sizing_requests 1 --kind counter"
    )]
    Record {
        /// The metric's name (e.g. pipe_sizing_time_ms).
        name: String,
        /// The sample: seconds for a timer, the increment for a counter, the
        /// level for a gauge.
        #[arg(allow_negative_numbers = true)]
        value: f64,
        /// What the metric is.
        #[arg(long, value_enum, default_value_t = KindArg::Histogram)]
        kind: KindArg,
        /// Tags as a JSON object, e.g. '{"network": "north"}'.
        #[arg(long, value_name = "JSON")]
        tags: Option<String>,
        /// When, as RFC 3339 (default: now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Every series with its totals.
    #[command(after_help = "Examples:\n  cha-deploy metrics list")]
    List,
    /// The performance report of a period: per metric count, mean, median,
    /// sd, min, max, p50/p90/p95/p99, the trend, the thresholds, the alerts
    /// and recommendations.
    #[command(
        after_help = "Examples:\n  cha-deploy metrics report --since 24h\n  cha-deploy metrics report --start 2026-01-05T00:00:00Z --end 2026-01-06T00:00:00Z"
    )]
    Report {
        #[command(flatten)]
        range: Range,
    },
    /// Alerts: those firing now, or all of a period with --all.
    #[command(
        after_help = "Examples:\n  cha-deploy metrics alerts\n  cha-deploy metrics alerts --all --since 7d"
    )]
    Alerts {
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        range: Range,
    },
    /// The alert rules of performance_monitoring.yml with their state.
    #[command(after_help = "Examples:\n  cha-deploy metrics rules")]
    Rules,
    /// The alert history: every transition and acknowledgement.
    #[command(
        after_help = "Examples:\n  cha-deploy metrics history --rule pipe_sizing_time_ms --since 7d"
    )]
    History {
        /// Of this rule only.
        #[arg(long)]
        rule: Option<String>,
        #[command(flatten)]
        range: Range,
        /// How many, newest first.
        #[arg(long, default_value = "50")]
        limit: u32,
    },
    /// Acknowledge a firing alert: someone is on it.
    #[command(after_help = "Examples:\n  cha-deploy metrics ack 12 --actor oncall")]
    Ack {
        /// The alert's id, from `metrics alerts`.
        id: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Resolve a firing alert by hand.
    #[command(after_help = "Examples:\n  cha-deploy metrics resolve 12 --actor oncall")]
    Resolve {
        /// The alert's id, from `metrics alerts`.
        id: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Evaluate every alert rule now and show what changed.
    #[command(
        after_help = "Examples:\n  cha-deploy metrics evaluate\n  cha-deploy metrics evaluate --at 2026-01-05T09:30:00Z"
    )]
    Evaluate {
        /// As of this time, RFC 3339 (default: now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Flag usage: evaluations per flag (on, off, per variant), unknown
    /// flag names asked for, stale flags.
    #[command(after_help = "Examples:\n  cha-deploy metrics flags --since 7d")]
    Flags {
        #[command(flatten)]
        range: Range,
    },
    /// Sample the system metrics once and record them.
    #[command(after_help = "Examples:\n  cha-deploy metrics system")]
    System,
    /// Print the current values for Prometheus, or write them to a file
    /// for node_exporter's textfile collector.
    #[command(
        after_help = "Examples:\n  cha-deploy metrics export\n  cha-deploy metrics export --textfile /var/lib/node_exporter/cha.prom"
    )]
    Export {
        /// openmetrics (default on standard output) or prometheus (the
        /// default with --textfile, which node_exporter reads).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Write to this file atomically (a temporary file, then renamed).
        #[arg(long, value_name = "PATH")]
        textfile: Option<PathBuf>,
    },
    /// Serve /metrics over HTTP for a Prometheus scrape.
    #[command(after_help = "Examples:\n  cha-deploy metrics serve --listen 127.0.0.1:9464")]
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:9464 (port 0: any free port).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
        listen: String,
        /// Stop after this many requests (default: serve until stopped).
        #[arg(long, value_name = "N")]
        max_requests: Option<u64>,
    },
}

/// `--kind`.
#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    Timer,
    Histogram,
    Counter,
    Gauge,
}

impl From<KindArg> for MetricKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Timer => MetricKind::Timer,
            KindArg::Histogram => MetricKind::Histogram,
            KindArg::Counter => MetricKind::Counter,
            KindArg::Gauge => MetricKind::Gauge,
        }
    }
}

/// `--format`.
#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Openmetrics,
    Prometheus,
}

/// A period: `--since 24h` (the default) or `--start`/`--end`.
#[derive(clap::Args)]
pub struct Range {
    /// From how far back, 30m, 24h, 7d (default 24h), or from a time,
    /// RFC 3339.
    #[arg(long, value_name = "DURATION|TIME", conflicts_with = "start")]
    since: Option<String>,
    /// From, RFC 3339.
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// To, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    end: Option<String>,
}

impl Range {
    /// (start, end) in epoch ms.
    fn resolve(&self) -> Result<(i64, i64), Error> {
        let now = now_ms();
        let end = match &self.end {
            Some(t) => time(t, "end")?,
            None => now,
        };
        let start = match (&self.start, &self.since) {
            (Some(t), _) => time(t, "start")?,
            (None, Some(d)) => time_or_ago(d, "since", end)?,
            (None, None) => end - 86_400_000,
        };
        Ok((start, end))
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| num(v, 3))
}

pub fn run(cmd: &MetricsCommand, db: &Path, out: &Output) -> Result<(), Error> {
    match cmd {
        MetricsCommand::Record {
            name,
            value,
            kind,
            tags,
            at,
        } => {
            // Recording creates the database, as the library would.
            let cha = Cha::open(db)?;
            let at_ms = match at {
                Some(t) => time(t, "at")?,
                None => now_ms(),
            };
            let kind = MetricKind::from(*kind);
            cha.record_metric_at(kind, name, *value, tags.as_deref(), at_ms)?;
            cha.flush()?;
            let v = json!({"metric": name, "kind": kind, "value": value, "tags": tags.as_deref().map(serde_json::from_str::<serde_json::Value>).transpose().ok().flatten(), "at_ms": at_ms});
            out.print(&v, || {
                format!(
                    "recorded {name} = {value}{} ({}) at {}",
                    if kind == MetricKind::Timer { " s" } else { "" },
                    kind.as_str(),
                    rfc3339(at_ms)
                )
            });
            cha.close()
        }
        MetricsCommand::List => {
            let cha = crate::open_existing(db)?;
            let series = cha.metric_series()?;
            out.print(&series, || {
                let rows: Vec<Vec<String>> = series
                    .iter()
                    .map(|s| {
                        vec![
                            s.metric.clone(),
                            s.kind.as_str().into(),
                            serde_json::to_string(&s.tags).unwrap_or_default(),
                            s.count.to_string(),
                            num(s.sum, 3),
                            num(s.last_value, 3),
                            rfc3339(s.last_at_ms),
                        ]
                    })
                    .collect();
                table(
                    &["METRIC", "KIND", "TAGS", "COUNT", "SUM", "LAST", "LAST AT"],
                    &rows,
                )
            });
            Ok(())
        }
        MetricsCommand::Report { range } => {
            let cha = crate::open_existing(db)?;
            let (start, end) = range.resolve()?;
            let report = cha.performance_report(start, end)?;
            out.print(&report, || report_text(&report));
            Ok(())
        }
        MetricsCommand::Alerts { all, range } => {
            let cha = crate::open_existing(db)?;
            let (start, end) = if *all { range.resolve()? } else { (0, 0) };
            let alerts = cha.alerts(AlertQuery {
                start_ms: start,
                end_ms: end,
                firing_only: !*all,
                limit: 1000,
            })?;
            out.print(&alerts, || {
                if alerts.is_empty() {
                    return if *all {
                        "no alerts in the period"
                    } else {
                        "no alert is firing"
                    }
                    .into();
                }
                let rows: Vec<Vec<String>> = alerts
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.to_string(),
                            a.rule.clone(),
                            severity(a.severity),
                            a.state.clone(),
                            rfc3339(a.fired_at_ms),
                            a.acknowledged_by.clone().unwrap_or_else(|| "-".into()),
                            a.message.clone(),
                        ]
                    })
                    .collect();
                table(
                    &["ID", "RULE", "SEVERITY", "STATE", "FIRED", "ACK", "MESSAGE"],
                    &rows,
                )
            });
            Ok(())
        }
        MetricsCommand::Rules => {
            let cha = crate::open_existing(db)?;
            let rules = cha.alert_rules()?;
            out.print(&rules, || {
                let rows: Vec<Vec<String>> = rules
                    .iter()
                    .map(|r| {
                        let t = |x: Option<f64>| opt(x);
                        vec![
                            r.rule.name.clone(),
                            r.rule.aggregation.as_str().into(),
                            r.rule.comparison_operator.symbol().into(),
                            format!(
                                "{} / {} / {}",
                                t(r.rule.warning_threshold),
                                t(r.rule.error_threshold),
                                t(r.rule.critical_threshold)
                            ),
                            format!("{} min", r.rule.window_size_minutes),
                            r.state.as_str().into(),
                            r.severity.map_or("-".into(), severity),
                            opt(r.value),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "RULE",
                        "AGG",
                        "OP",
                        "WARN / ERROR / CRITICAL",
                        "WINDOW",
                        "STATE",
                        "SEVERITY",
                        "VALUE",
                    ],
                    &rows,
                )
            });
            Ok(())
        }
        MetricsCommand::History { rule, range, limit } => {
            let cha = crate::open_existing(db)?;
            let (start, end) = range.resolve()?;
            let events = cha.alert_history(
                rule.as_deref(),
                AlertQuery {
                    start_ms: start,
                    end_ms: end,
                    firing_only: false,
                    limit: *limit,
                },
            )?;
            out.print(&events, || {
                if events.is_empty() {
                    return "no alert events in the period".into();
                }
                let rows: Vec<Vec<String>> = events
                    .iter()
                    .map(|e| {
                        vec![
                            rfc3339(e.at_ms),
                            e.kind.clone(),
                            e.severity.map_or("-".into(), severity),
                            e.alert.map_or("-".into(), |a| a.to_string()),
                            e.message.clone(),
                        ]
                    })
                    .collect();
                table(&["AT", "EVENT", "SEVERITY", "ALERT", "MESSAGE"], &rows)
            });
            Ok(())
        }
        MetricsCommand::Ack { id, actor } | MetricsCommand::Resolve { id, actor } => {
            let cha = crate::open_existing(db)?;
            let resolve = matches!(cmd, MetricsCommand::Resolve { .. });
            let who = actor.name();
            let a = if resolve {
                cha.resolve_alert(*id, &who)?
            } else {
                cha.acknowledge_alert(*id, &who)?
            };
            out.print(&a, || {
                format!(
                    "alert {} ({}, {}) {} by {who}",
                    a.id,
                    a.rule,
                    severity(a.severity),
                    if resolve { "resolved" } else { "acknowledged" }
                )
            });
            cha.close()
        }
        MetricsCommand::Evaluate { at } => {
            let cha = crate::open_existing(db)?;
            let at_ms = match at {
                Some(t) => time(t, "at")?,
                None => 0,
            };
            let events = cha.evaluate_alerts_at(at_ms)?;
            out.print(&events, || {
                if events.is_empty() {
                    "no alert changed".into()
                } else {
                    events
                        .iter()
                        .map(|e| e.message.clone())
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
            cha.close()
        }
        MetricsCommand::Flags { range } => {
            let cha = crate::open_existing(db)?;
            let (start, end) = range.resolve()?;
            let usage = cha.flag_usage(start, end)?;
            out.print(&usage, || {
                let rows: Vec<Vec<String>> = usage
                    .flags
                    .iter()
                    .map(|f| {
                        let variants: Vec<String> = f
                            .variants
                            .iter()
                            .map(|(v, n)| format!("{v}: {n}"))
                            .collect();
                        vec![
                            f.flag.clone(),
                            f.evaluations.to_string(),
                            f.on.to_string(),
                            f.off.to_string(),
                            if variants.is_empty() {
                                "-".into()
                            } else {
                                variants.join(", ")
                            },
                            f.last_evaluated_hour_ms.map_or("never".into(), rfc3339),
                            if f.stale {
                                "stale".into()
                            } else {
                                String::new()
                            },
                        ]
                    })
                    .collect();
                let mut text = table(
                    &[
                        "FLAG",
                        "EVALUATIONS",
                        "ON",
                        "OFF",
                        "VARIANTS",
                        "LAST HOUR",
                        "",
                    ],
                    &rows,
                );
                if !usage.unknown.is_empty() {
                    text.push_str("\n\nunknown flags asked for:");
                    for u in &usage.unknown {
                        text.push_str(&format!(
                            "\n  {}  {} times, last {}",
                            u.name,
                            u.count,
                            rfc3339(u.last_seen_ms)
                        ));
                    }
                }
                text
            });
            Ok(())
        }
        MetricsCommand::System => {
            let cha = crate::open_existing(db)?;
            let values = cha.sample_system_metrics()?;
            out.print(&values, || {
                let rows: Vec<Vec<String>> = cha_deploy::SYSTEM_METRICS
                    .iter()
                    .filter_map(|(name, unit, _)| {
                        let v = values.get(*name)?;
                        Some(vec![name.to_string(), num(*v, 3), unit.to_string()])
                    })
                    .collect();
                table(&["METRIC", "VALUE", "UNIT"], &rows)
            });
            cha.close()
        }
        MetricsCommand::Export { format, textfile } => {
            let cha = crate::open_existing(db)?;
            let format = format.unwrap_or(if textfile.is_some() {
                FormatArg::Prometheus
            } else {
                FormatArg::Openmetrics
            });
            let text = match format {
                FormatArg::Openmetrics => cha.export_openmetrics()?,
                FormatArg::Prometheus => cha.export_prometheus_text()?,
            };
            match textfile {
                Some(path) => {
                    write_atomically(path, text.as_bytes())?;
                    let v = json!({"textfile": path, "bytes": text.len()});
                    out.print(&v, || {
                        format!("wrote {} bytes to {}", text.len(), path.display())
                    });
                }
                None => {
                    let _ = std::io::stdout().lock().write_all(text.as_bytes());
                }
            }
            Ok(())
        }
        MetricsCommand::Serve {
            listen,
            max_requests,
        } => serve(db, listen, *max_requests),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder,
/// synced, then renamed over it: a reader sees the old file or the new one,
/// never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::storage(format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        Error::invalid_argument(format!("--textfile {}: not a file name", path.display()))
    })?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// Serves `GET /metrics` (OpenMetrics) until stopped or `max_requests`.
fn serve(db: &Path, listen: &str, max_requests: Option<u64>) -> Result<(), Error> {
    let cha = crate::open_existing(db)?;
    let server = tiny_http::Server::http(listen)
        .map_err(|e| Error::invalid_argument(format!("--listen {listen}: {e}")))?;
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| listen.to_string(), |a| a.to_string());
    println!("serving http://{addr}/metrics");
    let _ = std::io::stdout().flush();
    for (served, request) in (1u64..).zip(server.incoming_requests()) {
        let response = match (request.method(), request.url()) {
            (tiny_http::Method::Get, "/metrics") => match cha.export_openmetrics() {
                Ok(text) => tiny_http::Response::from_string(text).with_header(
                    tiny_http::Header::from_bytes(
                        "Content-Type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )
                    .expect("a valid header"),
                ),
                Err(e) => tiny_http::Response::from_string(format!("{e}\n")).with_status_code(500),
            },
            (tiny_http::Method::Get, _) => {
                tiny_http::Response::from_string("not found: the metrics are at /metrics\n")
                    .with_status_code(404)
            }
            _ => tiny_http::Response::from_string("only GET\n").with_status_code(405),
        };
        let _ = request.respond(response);
        if max_requests.is_some_and(|n| served >= n) {
            break;
        }
    }
    cha.close()
}

/// The report as text: a table of the metrics, then the thresholds that
/// are not ok, the alerts and the recommendations.
fn report_text(r: &PerformanceReport) -> String {
    let mut text = format!(
        "performance report {} to {} (trend against {} to {})\n\n",
        rfc3339(r.start_ms),
        rfc3339(r.end_ms),
        rfc3339(r.previous_start_ms),
        rfc3339(r.start_ms)
    );
    let rows: Vec<Vec<String>> = r
        .metrics
        .iter()
        .map(|m| {
            let s = &m.statistics;
            let trend = match m.trend.mean_change_percent {
                Some(c) => format!(
                    "{}{}% {}",
                    if c >= 0.0 { "+" } else { "" },
                    num(c, 1),
                    crate::output::name_of(&m.trend.direction)
                ),
                None => crate::output::name_of(&m.trend.direction),
            };
            let status = m
                .thresholds
                .iter()
                .map(|t| t.level.clone())
                .max_by_key(|l| {
                    ["ok", "no_data", "warning", "error", "critical"]
                        .iter()
                        .position(|x| x == l)
                })
                .unwrap_or_else(|| "-".into());
            vec![
                m.metric.clone(),
                m.unit.clone().unwrap_or_default(),
                s.count.to_string(),
                opt(s.mean),
                opt(s.median),
                opt(s.std_dev),
                opt(s.min),
                opt(s.max),
                opt(s.p90),
                opt(s.p95),
                opt(s.p99),
                trend,
                status,
            ]
        })
        .collect();
    text.push_str(&table(
        &[
            "METRIC", "UNIT", "COUNT", "MEAN", "MEDIAN", "SD", "MIN", "MAX", "P90", "P95", "P99",
            "TREND", "STATUS",
        ],
        &rows,
    ));
    if !r.alerts.is_empty() {
        text.push_str("\n\nalerts:");
        for a in &r.alerts {
            text.push_str(&format!(
                "\n  {} {} {} ({}): {}",
                a.id,
                a.state,
                a.rule,
                severity(a.severity),
                a.message
            ));
        }
    }
    if !r.recommendations.is_empty() {
        text.push_str("\n\nrecommendations:");
        for rec in &r.recommendations {
            text.push_str(&format!("\n  - {rec}"));
        }
    }
    text
}

/// A severity's name, coloured by its urgency where the output takes colour.
fn severity(s: cha_deploy::monitoring::Severity) -> String {
    use cha_deploy::monitoring::Severity;
    let style = match s {
        Severity::Warning => Style::Warn,
        Severity::Error => Style::Bad,
        Severity::Critical => Style::Critical,
    };
    paint(style, s.as_str())
}
