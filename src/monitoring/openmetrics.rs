//! The OpenMetrics text exposition (what Prometheus scrapes): counters as
//! `<name>_total`, gauges as their last value, timers and histograms as
//! summaries (quantiles of a recent window, with the all-time `_sum` and
//! `_count`), one family per metric, ended by `# EOF`. And the same values
//! in Prometheus's older text format (0.0.4), which node_exporter's
//! textfile collector reads: counters typed under their `_total` name, no
//! `# EOF`.

use std::collections::BTreeSet;
use std::fmt::Write;

/// The type of a metric family in the exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyType {
    Counter,
    Gauge,
    Summary,
}

impl FamilyType {
    fn as_str(self) -> &'static str {
        match self {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Summary => "summary",
        }
    }
}

/// The value of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesValue {
    /// A counter's total.
    Counter(f64),
    /// A gauge's level.
    Gauge(f64),
    /// A summary: all-time count and sum, and quantiles (q, value) of a
    /// recent window (none when the window is empty).
    Summary {
        count: u64,
        sum: f64,
        quantiles: Vec<(f64, f64)>,
    },
}

/// One series: its labels (sorted by name) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub value: SeriesValue,
}

/// A metric family: a name, a type, a help text and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub family_type: FamilyType,
    pub help: String,
    pub series: Vec<Series>,
}

impl Family {
    /// A counter family of the counter metric `metric`: its name without a
    /// trailing `_total`, which the exposition adds to the sample.
    pub fn counter(metric: &str, help: impl Into<String>) -> Family {
        let name = metric.strip_suffix("_total").unwrap_or(metric);
        Family {
            name: name.to_string(),
            family_type: FamilyType::Counter,
            help: help.into(),
            series: Vec::new(),
        }
    }

    /// A gauge family.
    pub fn gauge(metric: &str, help: impl Into<String>) -> Family {
        Family {
            name: metric.to_string(),
            family_type: FamilyType::Gauge,
            help: help.into(),
            series: Vec::new(),
        }
    }

    /// A summary family.
    pub fn summary(metric: &str, help: impl Into<String>) -> Family {
        Family {
            name: metric.to_string(),
            family_type: FamilyType::Summary,
            help: help.into(),
            series: Vec::new(),
        }
    }

    /// The names of the samples it writes.
    fn sample_names(&self) -> Vec<String> {
        match self.family_type {
            FamilyType::Counter => vec![
                format!("{}_total", self.name),
                format!("{}_created", self.name),
            ],
            FamilyType::Gauge => vec![self.name.clone()],
            FamilyType::Summary => vec![
                self.name.clone(),
                format!("{}_sum", self.name),
                format!("{}_count", self.name),
                format!("{}_created", self.name),
            ],
        }
    }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes a help text: backslash, double quote and line feed.
fn escape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_label(text, &mut out);
    out
}

/// A number as OpenMetrics writes it: `NaN`, `+Inf`, `-Inf`, or the float.
fn number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x == f64::INFINITY {
        "+Inf".into()
    } else if x == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{x}")
    }
}

fn sample(
    out: &mut String,
    name: &str,
    labels: &[(String, String)],
    extra: Option<(&str, String)>,
    value: &str,
) {
    out.push_str(name);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        let mut first = true;
        for (k, v) in labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.as_ref().map(|(k, v)| (*k, v.as_str())))
        {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            escape_label(v, out);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// The exposition of `families`, in their order, ended by `# EOF`. A family
/// whose sample names clash with an earlier family's is left out, since a
/// parser would reject the whole text; so is one without series, which
/// some parsers refuse.
pub fn render(families: &[Family]) -> String {
    let mut out = render_families(families, false);
    out.push_str("# EOF\n");
    out
}

/// The Prometheus text format (0.0.4) of `families`: what node_exporter's
/// textfile collector reads.
pub fn render_prometheus(families: &[Family]) -> String {
    render_families(families, true)
}

fn render_families(families: &[Family], prometheus: bool) -> String {
    let mut out = String::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for family in families.iter().filter(|f| !f.series.is_empty()) {
        let names = family.sample_names();
        if taken.contains(&family.name) || names.iter().any(|n| taken.contains(n)) {
            continue;
        }
        taken.insert(family.name.clone());
        taken.extend(names);
        let name = &family.name;
        // Prometheus 0.0.4 types a counter under its sample's name.
        let typed = if prometheus && family.family_type == FamilyType::Counter {
            format!("{name}_total")
        } else {
            name.clone()
        };
        let _ = writeln!(out, "# TYPE {typed} {}", family.family_type.as_str());
        if !family.help.is_empty() {
            let help = if prometheus {
                family.help.replace('\\', "\\\\").replace('\n', "\\n")
            } else {
                escape_help(&family.help)
            };
            let _ = writeln!(out, "# HELP {typed} {help}");
        }
        for s in &family.series {
            match &s.value {
                SeriesValue::Counter(v) => sample(
                    &mut out,
                    &format!("{name}_total"),
                    &s.labels,
                    None,
                    &number(*v),
                ),
                SeriesValue::Gauge(v) => sample(&mut out, name, &s.labels, None, &number(*v)),
                SeriesValue::Summary {
                    count,
                    sum,
                    quantiles,
                } => {
                    for (q, v) in quantiles {
                        sample(
                            &mut out,
                            name,
                            &s.labels,
                            Some(("quantile", number(*q))),
                            &number(*v),
                        );
                    }
                    sample(
                        &mut out,
                        &format!("{name}_sum"),
                        &s.labels,
                        None,
                        &number(*sum),
                    );
                    sample(
                        &mut out,
                        &format!("{name}_count"),
                        &s.labels,
                        None,
                        &count.to_string(),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_in_the_openmetrics_shape() {
        let mut c = Family::counter("requests_total", "Requests.");
        c.series.push(Series {
            labels: vec![("network".into(), "north \"7\"\n".into())],
            value: SeriesValue::Counter(42.0),
        });
        let mut s = Family::summary("pipe_sizing_time_ms", "Timer, in milliseconds.");
        s.series.push(Series {
            labels: vec![],
            value: SeriesValue::Summary {
                count: 3,
                sum: 12.5,
                quantiles: vec![(0.5, 4.0), (0.99, 6.5)],
            },
        });
        let mut g = Family::gauge("memory_usage_mb", "");
        g.series.push(Series {
            labels: vec![],
            value: SeriesValue::Gauge(f64::INFINITY),
        });
        // Its sample name clashes with the summary's: left out.
        let clash = Family::gauge("pipe_sizing_time_ms_count", "");
        assert_eq!(
            render(&[c, s, g, clash, Family::gauge("empty", "")]),
            "# TYPE requests counter\n# HELP requests Requests.\n\
             requests_total{network=\"north \\\"7\\\"\\n\"} 42\n\
             # TYPE pipe_sizing_time_ms summary\n# HELP pipe_sizing_time_ms Timer, in milliseconds.\n\
             pipe_sizing_time_ms{quantile=\"0.5\"} 4\npipe_sizing_time_ms{quantile=\"0.99\"} 6.5\n\
             pipe_sizing_time_ms_sum 12.5\npipe_sizing_time_ms_count 3\n\
             # TYPE memory_usage_mb gauge\nmemory_usage_mb +Inf\n# EOF\n"
        );
    }
}
