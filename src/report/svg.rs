//! The report's charts as inline SVG: responsive (a viewBox, no fixed
//! size), labelled for screen readers (`<title>`, `<desc>`), and readable
//! without colour: every series also has its own marker, dash or pattern,
//! and every verdict, threshold and alert its words.
//!
//! The colours are the Okabe–Ito palette, which people with the common
//! colour-vision deficiencies tell apart.

use std::fmt::Write;

use super::{
    AlertSpan, ArmsOf, ExperimentResult, FeedbackPeriod, MetricSeries, MetricTimeline, Rollout,
    RolloutEventKind, number, when,
};
use crate::common::time::format_rfc3339_ms;
use crate::monitoring::window::{HOUR_MS, MINUTE_MS};

pub(crate) const BLUE: &str = "#0072B2";
pub(crate) const VERMILLION: &str = "#D55E00";
pub(crate) const GREEN: &str = "#009E73";
pub(crate) const ORANGE: &str = "#E69F00";
pub(crate) const SKY: &str = "#56B4E9";
pub(crate) const PURPLE: &str = "#CC79A7";
pub(crate) const WINE: &str = "#882255";
pub(crate) const GREY: &str = "#666666";
pub(crate) const LIGHT: &str = "#BBBBBB";
pub(crate) const INK: &str = "#222222";
const GRID: &str = "#E4E4E4";

const DAY_MS: i64 = 24 * HOUR_MS;
/// The width of every chart's viewBox.
const WIDTH: f64 = 720.0;
const FONT: f64 = 13.0;

/// Text escaped for HTML and SVG.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number in a coordinate: two decimals at most.
fn c(x: f64) -> String {
    number(x)
}

/// An SVG document being written.
struct Svg {
    id: String,
    out: String,
}

impl Svg {
    /// Opens a chart `height` units tall, titled and described for screen
    /// readers, with the hatching patterns its ids name.
    fn new(id: &str, height: f64, title: &str, desc: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {} {}\" role=\"img\" \
             aria-labelledby=\"{id}-title {id}-desc\" xmlns=\"http://www.w3.org/2000/svg\" \
             font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif\" \
             font-size=\"{FONT}\">\
             <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
            c(WIDTH),
            c(height),
            esc(title),
            esc(desc)
        );
        let _ = write!(
            out,
            "<defs>\
             <pattern id=\"{id}-alert\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
             <rect width=\"8\" height=\"8\" fill=\"#FBE3D6\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"{VERMILLION}\" stroke-width=\"2\" stroke-opacity=\"0.55\"/></pattern>\
             <pattern id=\"{id}-hold\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(-45)\">\
             <rect width=\"8\" height=\"8\" fill=\"#F2F2F2\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"{GREY}\" stroke-width=\"1.5\" stroke-opacity=\"0.6\"/></pattern>\
             <pattern id=\"{id}-negative\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
             <rect width=\"6\" height=\"6\" fill=\"{VERMILLION}\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#FFFFFF\" stroke-width=\"1.6\"/></pattern>\
             <pattern id=\"{id}-neutral\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">\
             <rect width=\"6\" height=\"6\" fill=\"{LIGHT}\"/><circle cx=\"3\" cy=\"3\" r=\"1.2\" fill=\"#FFFFFF\"/></pattern>\
             </defs>"
        );
        Svg {
            id: id.to_string(),
            out,
        }
    }

    fn pattern(&self, name: &str) -> String {
        format!("url(#{}-{name})", self.id)
    }

    fn line(
        &mut self,
        from: (f64, f64),
        to: (f64, f64),
        stroke: &str,
        width: f64,
        dash: Option<&str>,
    ) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\"{}/>",
            c(from.0),
            c(from.1),
            c(to.0),
            c(to.1),
            c(width),
            dash.map_or(String::new(), |d| format!(" stroke-dasharray=\"{d}\""))
        );
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, extra: &str) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"{extra}/>",
            c(x),
            c(y),
            c(w.max(0.0)),
            c(h.max(0.0))
        );
    }

    fn text(&mut self, x: f64, y: f64, text: &str, anchor: &str, attrs: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\"{attrs}>{}</text>",
            c(x),
            c(y),
            esc(text)
        );
    }

    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// Where a time falls across the plot.
#[derive(Clone, Copy)]
struct TimeScale {
    start: i64,
    end: i64,
    x0: f64,
    x1: f64,
}

impl TimeScale {
    fn x(&self, t: i64) -> f64 {
        let span = (self.end - self.start).max(1) as f64;
        let f = ((t - self.start) as f64 / span).clamp(0.0, 1.0);
        self.x0 + f * (self.x1 - self.x0)
    }
}

/// Where a value falls up the plot.
#[derive(Clone, Copy)]
struct Scale {
    min: f64,
    max: f64,
    /// Pixel of `min` (the bottom) and of `max` (the top).
    bottom: f64,
    top: f64,
}

impl Scale {
    fn y(&self, v: f64) -> f64 {
        let span = if self.max > self.min {
            self.max - self.min
        } else {
            1.0
        };
        let f = ((v - self.min) / span).clamp(0.0, 1.0);
        self.bottom - f * (self.bottom - self.top)
    }
}

/// Round steps for a value axis from `min` to `max`: about `n` ticks.
fn nice_ticks(min: f64, max: f64, n: usize) -> Vec<f64> {
    let span = (max - min).max(1e-12);
    let raw = span / n.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (min / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut v = first;
    while v <= max + step * 1e-9 && ticks.len() < 50 {
        ticks.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    ticks
}

/// A value with a k or M for thousands and millions.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", number(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", number(v / 1e3))
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        number(v)
    }
}

/// Ticks of a time axis from `start` to `end`, at most about `max`, at
/// round times (UTC), each with its label.
fn time_ticks(start: i64, end: i64, max: i64) -> Vec<(i64, String)> {
    const STEPS: [i64; 12] = [
        15 * MINUTE_MS,
        30 * MINUTE_MS,
        HOUR_MS,
        3 * HOUR_MS,
        6 * HOUR_MS,
        12 * HOUR_MS,
        DAY_MS,
        2 * DAY_MS,
        7 * DAY_MS,
        14 * DAY_MS,
        28 * DAY_MS,
        91 * DAY_MS,
    ];
    let span = (end - start).max(1);
    let step = STEPS
        .into_iter()
        .find(|s| span / s <= max)
        .unwrap_or(365 * DAY_MS);
    // Weeks start on Mondays: 1970-01-01 was a Thursday, 4 days after one.
    let offset = if step % (7 * DAY_MS) == 0 {
        4 * DAY_MS
    } else {
        0
    };
    let first = (start - offset).div_euclid(step) * step + offset;
    let mut ticks = Vec::new();
    let mut t = if first < start { first + step } else { first };
    while t <= end {
        let stamp = format_rfc3339_ms(t);
        let month = &[
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][stamp[5..7]
            .parse::<usize>()
            .unwrap_or(1)
            .saturating_sub(1)
            .min(11)];
        let day = stamp[8..10].trim_start_matches('0');
        let label = if step >= DAY_MS || t.rem_euclid(DAY_MS) == 0 {
            format!("{month} {day}")
        } else {
            stamp[11..16].to_string()
        };
        ticks.push((t, label));
        t += step;
    }
    ticks
}

/// Draws the time axis under the plot, with grid lines up to `top`.
fn time_axis(svg: &mut Svg, scale: &TimeScale, bottom: f64, top: f64) {
    svg.line((scale.x0, bottom), (scale.x1, bottom), INK, 1.0, None);
    for (t, label) in time_ticks(scale.start, scale.end, 8) {
        let x = scale.x(t);
        svg.line((x, top), (x, bottom), GRID, 1.0, None);
        svg.line((x, bottom), (x, bottom + 4.0), INK, 1.0, None);
        svg.text(x, bottom + 17.0, &label, "middle", " fill=\"#333\"");
    }
}

/// Draws the value axis left of the plot, with grid lines across it.
fn value_axis(svg: &mut Svg, scale: &Scale, x0: f64, x1: f64, ticks: &[f64], suffix: &str) {
    for &v in ticks {
        let y = scale.y(v);
        svg.line((x0, y), (x1, y), GRID, 1.0, None);
        svg.text(
            x0 - 6.0,
            y + 4.0,
            &format!("{}{suffix}", short(v)),
            "end",
            " fill=\"#333\"",
        );
    }
    svg.line((x0, scale.top), (x0, scale.bottom), INK, 1.0, None);
}

/// A legend row: each entry a small drawing and its words.
fn legend(svg: &mut Svg, y: f64, entries: &[(String, String)]) {
    let mut x = 70.0;
    for (drawing, label) in entries {
        let width = 30.0 + 7.0 * label.chars().count() as f64;
        if x + width > WIDTH - 10.0 {
            break;
        }
        svg.raw(&format!(
            "<g transform=\"translate({},{})\">{drawing}</g>",
            c(x),
            c(y)
        ));
        svg.text(x + 24.0, y + 4.0, label, "start", " fill=\"#222\"");
        x += width + 14.0;
    }
}

/// The drawing of a marker for `kind` at (0, 0).
fn event_marker(kind: RolloutEventKind) -> String {
    match kind {
        RolloutEventKind::Deploy => format!(
            "<path d=\"M0,-7 L6,4 L-6,4 Z\" fill=\"{INK}\" stroke=\"#FFF\" stroke-width=\"1\"/>"
        ),
        RolloutEventKind::Rollback | RolloutEventKind::Restore => format!(
            "<path d=\"M0,7 L6,-4 L-6,-4 Z\" fill=\"{PURPLE}\" stroke=\"{INK}\" stroke-width=\"1\"/>"
        ),
        RolloutEventKind::GuardrailPause | RolloutEventKind::GuardrailRollback => format!(
            "<rect x=\"-7\" y=\"-7\" width=\"14\" height=\"14\" rx=\"2\" fill=\"{VERMILLION}\"/>\
             <rect x=\"-4\" y=\"-4.5\" width=\"2.6\" height=\"9\" fill=\"#FFF\"/><rect x=\"1.4\" y=\"-4.5\" width=\"2.6\" height=\"9\" fill=\"#FFF\"/>"
        ),
        RolloutEventKind::Pause => format!(
            "<rect x=\"-7\" y=\"-7\" width=\"14\" height=\"14\" rx=\"2\" fill=\"#FFF\" stroke=\"{VERMILLION}\" stroke-width=\"2\"/>\
             <rect x=\"-4\" y=\"-4.5\" width=\"2.6\" height=\"9\" fill=\"{VERMILLION}\"/><rect x=\"1.4\" y=\"-4.5\" width=\"2.6\" height=\"9\" fill=\"{VERMILLION}\"/>"
        ),
        RolloutEventKind::Resume => format!(
            "<circle r=\"7\" fill=\"{GREEN}\"/><path d=\"M-2.5,-4 L4,0 L-2.5,4 Z\" fill=\"#FFF\"/>"
        ),
        RolloutEventKind::Change => {
            format!("<circle r=\"4\" fill=\"#FFF\" stroke=\"{BLUE}\" stroke-width=\"2\"/>")
        }
    }
}

/// Rollout percentage over time: a step line with the held stretches
/// hatched, deploys and rollbacks marked along the top, holds and resumes
/// on the line, each marker numbered as in the events table.
pub(crate) fn rollout_chart(r: &Rollout, start: i64, end: i64, id: &str) -> String {
    let height = 300.0;
    let (top, bottom) = (46.0, 230.0);
    let scale = TimeScale {
        start,
        end,
        x0: 70.0,
        x1: WIDTH - 20.0,
    };
    let y = Scale {
        min: 0.0,
        max: 100.0,
        bottom,
        top,
    };
    let stops = r
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                RolloutEventKind::GuardrailPause | RolloutEventKind::GuardrailRollback
            )
        })
        .count();
    let desc = format!(
        "The share of units {} is on for, from {} to {}: {}% now{}. {} events are marked: {}.",
        r.flag,
        when(start),
        when(end),
        number(r.percentage_now),
        if stops > 0 {
            format!("; stopped {stops} time(s) by a guardrail")
        } else {
            String::new()
        },
        r.events.len(),
        r.events
            .iter()
            .map(|e| format!(
                "{} {} ({}%)",
                when(e.at_ms),
                e.kind.label(),
                number(e.percentage)
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let mut svg = Svg::new(
        id,
        height,
        &format!("Rollout of {} over time", r.flag),
        &desc,
    );
    value_axis(
        &mut svg,
        &y,
        scale.x0,
        scale.x1,
        &[0.0, 25.0, 50.0, 75.0, 100.0],
        "%",
    );
    time_axis(&mut svg, &scale, bottom, top);

    // Held stretches, hatched, with the word.
    let mut held_from: Option<i64> = None;
    let mut spans = Vec::new();
    for p in &r.points {
        match (held_from, p.held) {
            (None, true) => held_from = Some(p.at_ms),
            (Some(from), false) => {
                spans.push((from, p.at_ms));
                held_from = None;
            }
            _ => {}
        }
    }
    if let Some(from) = held_from {
        spans.push((from, end));
    }
    for (from, to) in spans {
        let (x0, x1) = (scale.x(from), scale.x(to));
        let fill = svg.pattern("hold");
        svg.rect(x0, top, x1 - x0, bottom - top, &fill, " class=\"held\"");
        svg.text(
            x0 + 4.0,
            bottom - 6.0,
            "held",
            "start",
            " fill=\"#444\" font-style=\"italic\"",
        );
    }

    // The step line and the area under it.
    let mut d = String::new();
    let mut area = String::new();
    for (i, p) in r.points.iter().enumerate() {
        if p.at_ms > end {
            break;
        }
        let x = scale.x(p.at_ms);
        let yv = y.y(p.percentage);
        if i == 0 {
            let _ = write!(d, "M{},{}", c(x), c(yv));
            let _ = write!(area, "M{},{} L{},{}", c(x), c(bottom), c(x), c(yv));
        } else {
            let _ = write!(d, " H{} V{}", c(x), c(yv));
            let _ = write!(area, " H{} V{}", c(x), c(yv));
        }
    }
    if !r.points.is_empty() {
        let _ = write!(d, " H{}", c(scale.x1));
        let _ = write!(area, " H{} V{} Z", c(scale.x1), c(bottom));
        svg.raw(&format!(
            "<path d=\"{area}\" fill=\"{BLUE}\" fill-opacity=\"0.12\"/>"
        ));
        svg.raw(&format!(
            "<path class=\"rollout-line\" d=\"{d}\" fill=\"none\" stroke=\"{BLUE}\" stroke-width=\"3\" stroke-linejoin=\"round\"/>"
        ));
    }

    // Events: deploys and rollbacks along the top, the rest on the line;
    // numbered as in the table.
    for (n, e) in r.events.iter().enumerate() {
        let x = scale.x(e.at_ms);
        let on_top = matches!(
            e.kind,
            RolloutEventKind::Deploy | RolloutEventKind::Rollback | RolloutEventKind::Restore
        );
        let my = if on_top {
            top - 16.0
        } else {
            y.y(e.percentage)
        };
        if on_top {
            svg.line((x, top - 8.0), (x, bottom), INK, 1.0, Some("2 3"));
        }
        svg.raw(&format!(
            "<g class=\"event {}\" transform=\"translate({},{})\"><title>{}</title>{}</g>",
            name(e.kind),
            c(x),
            c(my),
            esc(&format!(
                "{} {}: {}",
                when(e.at_ms),
                e.kind.label(),
                e.detail
            )),
            event_marker(e.kind)
        ));
        let label_y = if on_top { my - 10.0 } else { my - 11.0 };
        svg.text(
            x + 9.0,
            label_y + 4.0,
            &(n + 1).to_string(),
            "start",
            " font-weight=\"bold\" fill=\"#111\" font-size=\"12\"",
        );
    }

    let hold = svg.pattern("hold");
    legend(
        &mut svg,
        height - 30.0,
        &[
            (
                format!(
                    "<line x1=\"0\" y1=\"0\" x2=\"18\" y2=\"0\" stroke=\"{BLUE}\" stroke-width=\"3\"/>"
                ),
                "percentage".into(),
            ),
            (
                format!(
                    "<g transform=\"translate(9,0)\">{}</g>",
                    event_marker(RolloutEventKind::Deploy)
                ),
                "deploy".into(),
            ),
            (
                format!(
                    "<g transform=\"translate(9,0)\">{}</g>",
                    event_marker(RolloutEventKind::Rollback)
                ),
                "rollback".into(),
            ),
            (
                format!(
                    "<g transform=\"translate(9,0)\">{}</g>",
                    event_marker(RolloutEventKind::GuardrailPause)
                ),
                "guardrail stop".into(),
            ),
            (
                format!(
                    "<g transform=\"translate(9,0)\">{}</g>",
                    event_marker(RolloutEventKind::Resume)
                ),
                "resume".into(),
            ),
            (
                format!("<rect x=\"0\" y=\"-7\" width=\"18\" height=\"14\" fill=\"{hold}\"/>"),
                "held".into(),
            ),
        ],
    );
    svg.finish()
}

fn name(kind: RolloutEventKind) -> String {
    super::name_of(&kind)
}

/// How a verdict is drawn: marker, colour, whether it is filled.
fn verdict_style(verdict: &str) -> (&'static str, &'static str, bool) {
    match verdict {
        "better" => ("circle", GREEN, true),
        "worse" => ("square", VERMILLION, true),
        "harmed" => ("diamond", VERMILLION, true),
        "not_harmed" => ("circle", BLUE, false),
        _ => ("circle", GREY, false),
    }
}

fn marker_shape(shape: &str, x: f64, y: f64, color: &str, filled: bool) -> String {
    let fill = if filled { color } else { "#FFFFFF" };
    match shape {
        "square" => format!(
            "<rect x=\"{}\" y=\"{}\" width=\"11\" height=\"11\" fill=\"{fill}\" stroke=\"{color}\" stroke-width=\"2\"/>",
            c(x - 5.5),
            c(y - 5.5)
        ),
        "diamond" => format!(
            "<path d=\"M{},{} l7,7 l-7,7 l-7,-7 Z\" fill=\"{fill}\" stroke=\"{color}\" stroke-width=\"2\"/>",
            c(x),
            c(y - 7.0)
        ),
        _ => format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"{fill}\" stroke=\"{color}\" stroke-width=\"2\"/>",
            c(x),
            c(y)
        ),
    }
}

/// An experiment's forest plot: per metric and variant the relative lift
/// over the control with its interval, the verdict in words at the right,
/// and which way is better.
pub(crate) fn forest_plot(e: &ExperimentResult, id: &str) -> String {
    let rows: Vec<(&super::MetricResult, &super::Comparison)> = e
        .metrics
        .iter()
        .flat_map(|m| m.comparisons.iter().map(move |c| (m, c)))
        .collect();
    let row_h = 34.0;
    let top = 40.0;
    let height = top + row_h * rows.len().max(1) as f64 + 70.0;
    let (x0, x1) = (250.0, WIDTH - 200.0);
    // The axis covers every interval and 0, in percent, from -100% to
    // +200% at most: a lift beyond is drawn at the edge with an arrow (its
    // number is in the verdict and the table).
    let mut lo: f64 = 0.0;
    let mut hi: f64 = 0.0;
    for (_, cmp) in &rows {
        for v in [cmp.lift_lower, cmp.lift, cmp.lift_upper]
            .into_iter()
            .flatten()
        {
            lo = lo.min(100.0 * v);
            hi = hi.max(100.0 * v);
        }
    }
    let (lo, hi) = ((lo * 1.1).clamp(-100.0, -1.0), (hi * 1.1).clamp(1.0, 200.0));
    let x_of = |v: f64| x0 + ((100.0 * v).clamp(lo, hi) - lo) / (hi - lo) * (x1 - x0);
    let off_scale = |v: f64| 100.0 * v < lo || 100.0 * v > hi;
    let desc = format!(
        "Relative lift of each variant over {} with its confidence interval, per metric. Verdict: {}. {}",
        e.control,
        e.recommendation,
        rows.iter()
            .map(|(m, cmp)| format!(
                "{} {}: {} [{}, {}], {}",
                m.name,
                cmp.variant,
                opt_percent(cmp.lift),
                opt_percent(cmp.lift_lower),
                opt_percent(cmp.lift_upper),
                cmp.verdict.replace('_', " ")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let mut svg = Svg::new(
        id,
        height,
        &format!("Forest plot of A/B test {}", e.id),
        &desc,
    );
    let bottom = top + row_h * rows.len().max(1) as f64;
    // The axis: ticks in percent, and the line of no difference.
    for t in nice_ticks(lo, hi, 6) {
        let x = x0 + (t - lo) / (hi - lo) * (x1 - x0);
        svg.line((x, top - 6.0), (x, bottom), GRID, 1.0, None);
        svg.text(
            x,
            bottom + 18.0,
            &format!("{}%", short(t)),
            "middle",
            " fill=\"#333\"",
        );
    }
    let zero = x_of(0.0);
    svg.line(
        (zero, top - 10.0),
        (zero, bottom + 4.0),
        INK,
        1.5,
        Some("5 4"),
    );
    svg.text(
        zero,
        top - 14.0,
        "no difference",
        "middle",
        " fill=\"#333\" font-size=\"12\"",
    );
    svg.text(
        (x0 + x1) / 2.0,
        bottom + 38.0,
        &format!("relative lift over {} (confidence interval)", e.control),
        "middle",
        " fill=\"#222\"",
    );
    svg.text(
        x1 + 16.0,
        top - 14.0,
        "verdict",
        "start",
        " font-weight=\"bold\" fill=\"#222\"",
    );
    for (i, (m, cmp)) in rows.iter().enumerate() {
        let yc = top + row_h * (i as f64 + 0.5);
        if i % 2 == 0 {
            svg.rect(8.0, yc - row_h / 2.0, WIDTH - 16.0, row_h, "#F6F6F6", "");
        }
        let better = if m.target_direction == "decrease" {
            "lower is better"
        } else {
            "higher is better"
        };
        svg.text(
            12.0,
            yc - 2.0,
            &m.name,
            "start",
            " font-weight=\"bold\" fill=\"#111\"",
        );
        svg.text(
            12.0,
            yc + 12.0,
            &format!("{} · {} · {better}", m.metric_type, cmp.variant),
            "start",
            " fill=\"#444\" font-size=\"11\"",
        );
        let (shape, color, filled) = verdict_style(&cmp.verdict);
        if let (Some(l), Some(u)) = (cmp.lift_lower, cmp.lift_upper) {
            let (xl, xu) = (x_of(l), x_of(u));
            svg.line((xl, yc), (xu, yc), color, 2.5, None);
            svg.line((xl, yc - 6.0), (xl, yc + 6.0), color, 2.0, None);
            svg.line((xu, yc - 6.0), (xu, yc + 6.0), color, 2.0, None);
        }
        if let Some(v) = cmp.lift.filter(|v| off_scale(*v)) {
            // An arrow out of the plot at the edge it passes.
            let (x, dir) = if v > 0.0 {
                (x1 + 4.0, 1.0)
            } else {
                (x0 - 4.0, -1.0)
            };
            svg.raw(&format!(
                "<path class=\"off-scale\" d=\"M{},{} l{},{} l{},{} Z\" fill=\"{color}\"/>",
                c(x),
                c(yc - 6.0),
                c(dir * 9.0),
                c(6.0),
                c(-dir * 9.0),
                c(6.0)
            ));
        }
        match cmp.lift {
            Some(v) => svg.raw(&format!(
                "<g class=\"estimate {}\"><title>{}</title>{}</g>",
                esc(&cmp.verdict),
                esc(&format!(
                    "{} {}: {} [{}, {}] {}",
                    m.name,
                    cmp.variant,
                    opt_percent(cmp.lift),
                    opt_percent(cmp.lift_lower),
                    opt_percent(cmp.lift_upper),
                    cmp.verdict
                )),
                marker_shape(shape, x_of(v), yc, color, filled)
            )),
            None => svg.text(
                x0 + 6.0,
                yc + 4.0,
                "not computed",
                "start",
                " fill=\"#666\" font-style=\"italic\"",
            ),
        }
        let words = match cmp.lift {
            Some(_) => format!(
                "{} {}",
                cmp.verdict.replace('_', " "),
                opt_percent(cmp.lift)
            ),
            None => cmp.verdict.replace('_', " "),
        };
        svg.text(
            x1 + 16.0,
            yc + 4.0,
            &words,
            "start",
            &format!(
                " fill=\"{}\" font-weight=\"bold\"",
                if color == GREY { "#444" } else { color }
            ),
        );
    }
    legend(
        &mut svg,
        height - 14.0,
        &[
            (
                marker_shape("circle", 9.0, 0.0, GREEN, true),
                "better".into(),
            ),
            (
                marker_shape("square", 9.0, 0.0, VERMILLION, true),
                "worse".into(),
            ),
            (
                marker_shape("diamond", 9.0, 0.0, VERMILLION, true),
                "harmed".into(),
            ),
            (
                marker_shape("circle", 9.0, 0.0, BLUE, false),
                "not harmed".into(),
            ),
            (
                marker_shape("circle", 9.0, 0.0, GREY, false),
                "inconclusive".into(),
            ),
        ],
    );
    svg.finish()
}

fn opt_percent(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{}{}%", if v > 0.0 { "+" } else { "" }, number(100.0 * v)),
        None => "n/a".into(),
    }
}

/// The severities' colours, dash patterns and names.
const SEVERITIES: [(&str, &str, &str); 3] = [
    ("warning", ORANGE, "8 5"),
    ("error", VERMILLION, "12 4 3 4"),
    ("critical", WINE, "3 3"),
];

/// A metric over time against its thresholds, with its alerts shaded:
/// `series` is its whole span or a closer look (`zoomed`).
pub(crate) fn metric_chart(
    m: &MetricTimeline,
    series: &MetricSeries,
    alerts: &[&AlertSpan],
    id: &str,
    zoomed: bool,
) -> String {
    let (start, end) = (series.start_ms, series.end_ms);
    let alerts: Vec<&AlertSpan> = alerts
        .iter()
        .copied()
        .filter(|a| a.fired_at_ms < end && a.resolved_at_ms.is_none_or(|r| r > start))
        .collect();
    let height = 300.0;
    let (top, bottom) = (40.0, 230.0);
    let scale = TimeScale {
        start,
        end,
        x0: 70.0,
        x1: WIDTH - 110.0,
    };
    let thresholds: Vec<(usize, f64)> = [m.warning, m.error, m.critical]
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| t.map(|t| (i, t)))
        .collect();
    let values = series.points.iter().map(|p| p.value);
    let data_max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    let data_min = values.fold(f64::INFINITY, f64::min);
    // The plot shows the data and the least severe threshold; more severe
    // thresholds only when the data comes near them.
    let mut max = if data_max.is_finite() { data_max } else { 1.0 };
    let mut min = if data_min.is_finite() {
        data_min.min(0.0)
    } else {
        0.0
    };
    for (i, (_, t)) in thresholds.iter().enumerate() {
        if i == 0 || *t <= max * 1.5 {
            max = max.max(*t);
            min = min.min(*t);
        }
    }
    let ticks = nice_ticks(min, max * 1.08, 5);
    let y = Scale {
        min: ticks.first().copied().unwrap_or(min).min(min),
        max: ticks.last().copied().unwrap_or(max).max(max),
        bottom,
        top,
    };
    let unit = m.unit.as_deref().unwrap_or("");
    let desc = format!(
        "{}{} of {} per {} from {} to {}: {} buckets with samples, from {} to {}{}. Thresholds: {}. Alerts: {}.",
        if zoomed {
            "A closer look at the alerts: "
        } else {
            ""
        },
        m.aggregation,
        m.metric,
        duration(series.bucket_ms),
        when(start),
        when(end),
        series.points.len(),
        if data_min.is_finite() {
            short(data_min)
        } else {
            "-".into()
        },
        if data_max.is_finite() {
            short(data_max)
        } else {
            "-".into()
        },
        if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        },
        thresholds
            .iter()
            .map(|(i, t)| format!("{} {} {}", SEVERITIES[*i].0, m.comparison, short(*t)))
            .collect::<Vec<_>>()
            .join(", "),
        if alerts.is_empty() {
            "none".to_string()
        } else {
            alerts
                .iter()
                .map(|a| {
                    format!(
                        "#{} {} from {} to {}",
                        a.id,
                        a.max_severity,
                        when(a.fired_at_ms),
                        a.resolved_at_ms.map_or("now".into(), when)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
    );
    let title = if zoomed {
        format!(
            "{} around its alerts ({} of {})",
            m.rule, m.aggregation, m.metric
        )
    } else {
        format!("{} ({} of {})", m.rule, m.aggregation, m.metric)
    };
    let mut svg = Svg::new(id, height, &title, &desc);

    // Alerts first, under everything: hatched from firing to resolved;
    // labels that would overlap are merged.
    let mut labels: Vec<(f64, Vec<i64>, String)> = Vec::new();
    for a in &alerts {
        let x0 = scale.x(a.fired_at_ms);
        let x1 = scale.x(a.resolved_at_ms.unwrap_or(end)).max(x0 + 3.0);
        let fill = svg.pattern("alert");
        svg.raw(&format!(
            "<g class=\"alert-span\"><title>{}</title>",
            esc(&format!(
                "alert #{} {} from {} to {}",
                a.id,
                a.max_severity,
                when(a.fired_at_ms),
                a.resolved_at_ms.map_or("now".into(), when)
            ))
        ));
        svg.rect(x0, top, x1 - x0, bottom - top, &fill, "");
        svg.raw("</g>");
        match labels.last_mut() {
            Some((x, ids, severity)) if x0 - *x < 130.0 => {
                ids.push(a.id);
                if rank(&a.max_severity) > rank(severity) {
                    *severity = a.max_severity.clone();
                }
            }
            _ => labels.push((x0, vec![a.id], a.max_severity.clone())),
        }
    }
    for (x, ids, severity) in &labels {
        let names = match ids.as_slice() {
            [one] => format!("alert #{one}"),
            [first, .., last] => format!("alerts #{first}–#{last}"),
            [] => continue,
        };
        svg.text(
            (*x + 3.0).min(scale.x1 - 120.0),
            top - 6.0,
            &format!("{names} ({severity})"),
            "start",
            &format!(" fill=\"{VERMILLION}\" font-size=\"12\" font-weight=\"bold\""),
        );
    }
    let ticks: Vec<f64> = ticks
        .into_iter()
        .filter(|t| *t >= y.min && *t <= y.max)
        .collect();
    value_axis(&mut svg, &y, scale.x0, scale.x1, &ticks, "");
    if !unit.is_empty() {
        svg.text(scale.x0 - 6.0, top - 12.0, unit, "end", " fill=\"#333\"");
    }
    time_axis(&mut svg, &scale, bottom, top);

    // Thresholds: colour, dash and words.
    for (i, t) in &thresholds {
        if *t < y.min || *t > y.max {
            continue;
        }
        let (label, color, dash) = SEVERITIES[*i];
        let yt = y.y(*t);
        svg.line((scale.x0, yt), (scale.x1, yt), color, 2.0, Some(dash));
        svg.text(
            scale.x1 + 6.0,
            yt + 4.0,
            &format!("{label} {}", short(*t)),
            "start",
            &format!(" fill=\"{color}\" font-weight=\"bold\" font-size=\"12\""),
        );
    }

    // The series: a line through consecutive buckets, a dot on each.
    let bucket = series.bucket_ms;
    let mut d = String::new();
    let mut previous: Option<i64> = None;
    for p in &series.points {
        let (x, yv) = (scale.x(p.start_ms + bucket / 2), y.y(p.value));
        let joined = previous.is_some_and(|t| p.start_ms - t <= bucket);
        let _ = write!(d, "{}{},{} ", if joined { "L" } else { "M" }, c(x), c(yv));
        previous = Some(p.start_ms);
    }
    if !d.is_empty() {
        svg.raw(&format!(
            "<path class=\"metric-line\" d=\"{}\" fill=\"none\" stroke=\"{BLUE}\" stroke-width=\"2.5\" stroke-linejoin=\"round\"/>",
            d.trim_end()
        ));
    }
    for p in &series.points {
        let (x, yv) = (scale.x(p.start_ms + bucket / 2), y.y(p.value));
        let over = thresholds
            .iter()
            .rev()
            .find(|(_, t)| match m.comparison.as_str() {
                "<" | "<=" => p.value < *t,
                _ => p.value > *t,
            });
        let (fill, r) = match over {
            Some((i, _)) => (SEVERITIES[*i].1, 3.6),
            None => (BLUE, 2.6),
        };
        let _ = write!(
            svg.out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fill}\" stroke=\"#FFF\" stroke-width=\"0.8\"/>",
            c(x),
            c(yv),
            c(r)
        );
    }
    if series.points.is_empty() {
        svg.text(
            (scale.x0 + scale.x1) / 2.0,
            (top + bottom) / 2.0,
            "no samples in this span",
            "middle",
            " fill=\"#666\" font-style=\"italic\"",
        );
    }
    let mut entries = vec![(
        format!(
            "<line x1=\"0\" y1=\"0\" x2=\"18\" y2=\"0\" stroke=\"{BLUE}\" stroke-width=\"2.5\"/><circle cx=\"9\" cy=\"0\" r=\"2.6\" fill=\"{BLUE}\"/>"
        ),
        format!("{} per {}", m.aggregation, duration(bucket)),
    )];
    for (i, _) in &thresholds {
        let (label, color, dash) = SEVERITIES[*i];
        entries.push((
            format!("<line x1=\"0\" y1=\"0\" x2=\"18\" y2=\"0\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/>"),
            label.to_string(),
        ));
    }
    entries.push((
        format!(
            "<rect x=\"0\" y=\"-7\" width=\"18\" height=\"14\" fill=\"{}\"/>",
            svg.pattern("alert")
        ),
        "alert firing".into(),
    ));
    legend(&mut svg, height - 30.0, &entries);
    svg.finish()
}

/// The order of severities, for merging labels.
fn rank(severity: &str) -> usize {
    SEVERITIES.iter().position(|s| s.0 == severity).unwrap_or(0)
}

/// A bucket's width in words.
pub(crate) fn duration(ms: i64) -> String {
    if ms % (7 * DAY_MS) == 0 {
        format!(
            "{} week{}",
            ms / (7 * DAY_MS),
            if ms == 7 * DAY_MS { "" } else { "s" }
        )
    } else if ms % DAY_MS == 0 {
        format!("{} day{}", ms / DAY_MS, if ms == DAY_MS { "" } else { "s" })
    } else if ms % HOUR_MS == 0 {
        format!("{} h", ms / HOUR_MS)
    } else {
        format!("{} min", ms / MINUTE_MS)
    }
}

/// Feedback volume per period, stacked by sentiment (each with its own
/// pattern), and the mean sentiment as a line with its own scale.
pub(crate) fn feedback_chart(periods: &[FeedbackPeriod], period: &str, id: &str) -> String {
    let height = 350.0;
    let (top, bottom) = (30.0, 200.0);
    let (s_top, s_bottom) = (222.0, 290.0);
    let (x0, x1) = (70.0, WIDTH - 60.0);
    let max = periods.iter().map(|p| p.items).max().unwrap_or(0).max(1) as f64;
    let ticks = nice_ticks(0.0, max, 4);
    let y = Scale {
        min: 0.0,
        max: ticks.last().copied().unwrap_or(max).max(max),
        bottom,
        top,
    };
    let desc = format!(
        "Feedback items per {period}, stacked by sentiment, and the mean sentiment score per {period} (from -1 to 1): {}.",
        periods
            .iter()
            .map(|p| format!(
                "{}: {} items ({} positive, {} neutral, {} negative), mean sentiment {}",
                when(p.start_ms),
                p.items,
                p.positive,
                p.neutral,
                p.negative,
                p.sentiment_mean.map_or("n/a".into(), |s| format!("{s:.2}"))
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let mut svg = Svg::new(
        id,
        height,
        &format!("Feedback per {period} and its sentiment"),
        &desc,
    );
    value_axis(&mut svg, &y, x0, x1, &ticks, "");
    svg.text(x0 - 6.0, top - 12.0, "items", "end", " fill=\"#333\"");
    let n = periods.len().max(1) as f64;
    let slot = (x1 - x0) / n;
    let bar = (slot * 0.7).min(60.0);
    let negative = svg.pattern("negative");
    let neutral = svg.pattern("neutral");
    for (i, p) in periods.iter().enumerate() {
        let cx = x0 + slot * (i as f64 + 0.5);
        let mut base = bottom;
        for (count, fill, label) in [
            (p.positive, GREEN, "positive"),
            (p.neutral, neutral.as_str(), "neutral"),
            (p.negative, negative.as_str(), "negative"),
        ] {
            if count == 0 {
                continue;
            }
            let h = bottom - y.y(count as f64);
            svg.raw(&format!(
                "<g class=\"bar {label}\"><title>{} {label}: {count}</title>",
                esc(&when(p.start_ms))
            ));
            svg.rect(
                cx - bar / 2.0,
                base - h,
                bar,
                h,
                fill,
                " stroke=\"#FFF\" stroke-width=\"0.8\"",
            );
            svg.raw("</g>");
            base -= h;
        }
        svg.text(
            cx,
            base - 4.0,
            &p.items.to_string(),
            "middle",
            " fill=\"#222\" font-size=\"11\"",
        );
        if periods.len() <= 16 || i % (periods.len() / 8).max(1) == 0 {
            let stamp = format_rfc3339_ms(p.start_ms);
            svg.text(
                cx,
                s_bottom + 18.0,
                &stamp[5..10],
                "middle",
                " fill=\"#333\" font-size=\"11\"",
            );
        }
    }
    svg.line((x0, bottom), (x1, bottom), INK, 1.0, None);
    // Mean sentiment under the bars, on a scale symmetric about 0 that
    // fits the means (in quarters, at most -1 to 1).
    let reach = periods
        .iter()
        .filter_map(|p| p.sentiment_mean)
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let reach = ((reach / 0.25).ceil() * 0.25).clamp(0.25, 1.0);
    let s = Scale {
        min: -reach,
        max: reach,
        bottom: s_bottom,
        top: s_top,
    };
    svg.line((x0, s.y(0.0)), (x1, s.y(0.0)), GREY, 1.0, Some("4 3"));
    for v in [-reach, 0.0, reach] {
        svg.text(
            x0 - 6.0,
            s.y(v) + 4.0,
            &number(v),
            "end",
            " fill=\"#333\" font-size=\"11\"",
        );
    }
    svg.text(
        x1 + 4.0,
        s.y(0.0) + 4.0,
        "sentiment",
        "start",
        " fill=\"#333\" font-size=\"11\"",
    );
    let mut d = String::new();
    for (i, p) in periods.iter().enumerate() {
        if let Some(v) = p.sentiment_mean {
            let cx = x0 + slot * (i as f64 + 0.5);
            let _ = write!(
                d,
                "{}{},{} ",
                if d.is_empty() { "M" } else { "L" },
                c(cx),
                c(s.y(v))
            );
            let _ = write!(
                svg.out,
                "<rect x=\"{}\" y=\"{}\" width=\"7\" height=\"7\" fill=\"{PURPLE}\"/>",
                c(cx - 3.5),
                c(s.y(v) - 3.5)
            );
        }
    }
    if !d.is_empty() {
        svg.raw(&format!(
            "<path d=\"{}\" fill=\"none\" stroke=\"{PURPLE}\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/>",
            d.trim_end()
        ));
    }
    legend(
        &mut svg,
        height - 14.0,
        &[
            (
                format!("<rect x=\"0\" y=\"-7\" width=\"18\" height=\"14\" fill=\"{GREEN}\"/>"),
                "positive".into(),
            ),
            (
                format!("<rect x=\"0\" y=\"-7\" width=\"18\" height=\"14\" fill=\"{neutral}\"/>"),
                "neutral".into(),
            ),
            (
                format!("<rect x=\"0\" y=\"-7\" width=\"18\" height=\"14\" fill=\"{negative}\"/>"),
                "negative".into(),
            ),
            (
                format!(
                    "<line x1=\"0\" y1=\"0\" x2=\"18\" y2=\"0\" stroke=\"{PURPLE}\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/><rect x=\"5.5\" y=\"-3.5\" width=\"7\" height=\"7\" fill=\"{PURPLE}\"/>"
                ),
                "mean sentiment".into(),
            ),
        ],
    );
    svg.finish()
}

/// CSAT per variant of an A/B test: a bar each, with the share and the
/// count in words, the control marked.
pub(crate) fn csat_chart(arms: &ArmsOf, id: &str) -> String {
    let row_h = 36.0;
    let top = 20.0;
    let height = top + row_h * arms.arms.len().max(1) as f64 + 40.0;
    let (x0, x1) = (170.0, WIDTH - 170.0);
    let desc = format!(
        "Share of ratings of 4 or 5 (CSAT) per variant of {}: {}.",
        arms.experiment,
        arms.arms
            .iter()
            .map(|a| format!(
                "{} {} of {} ratings",
                a.arm,
                a.csat.map_or("n/a".into(), super::percent),
                a.ratings
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let mut svg = Svg::new(
        id,
        height,
        &format!("CSAT per variant of {}", arms.experiment),
        &desc,
    );
    let bottom = top + row_h * arms.arms.len().max(1) as f64;
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = x0 + t * (x1 - x0);
        svg.line((x, top), (x, bottom), GRID, 1.0, None);
        svg.text(
            x,
            bottom + 16.0,
            &format!("{}%", number(100.0 * t)),
            "middle",
            " fill=\"#333\" font-size=\"11\"",
        );
    }
    for (i, a) in arms.arms.iter().enumerate() {
        let yc = top + row_h * (i as f64 + 0.5);
        let control = a.arm == arms.reference;
        let label = if control {
            format!("{} (control)", a.arm)
        } else {
            a.arm.clone()
        };
        svg.text(
            x0 - 8.0,
            yc + 4.0,
            &label,
            "end",
            " fill=\"#111\" font-weight=\"bold\"",
        );
        let (fill, extra) = if control {
            (
                SKY,
                format!(" stroke=\"{BLUE}\" stroke-width=\"1.5\" stroke-dasharray=\"4 2\""),
            )
        } else {
            (BLUE, String::new())
        };
        match a.csat {
            Some(v) => {
                svg.raw(&format!(
                    "<g class=\"csat-bar\"><title>{}</title>",
                    esc(&format!("{} CSAT {}", a.arm, super::percent(v)))
                ));
                svg.rect(x0, yc - 11.0, v * (x1 - x0), 22.0, fill, &extra);
                svg.raw("</g>");
                svg.text(
                    x0 + v * (x1 - x0) + 6.0,
                    yc + 4.0,
                    &format!("{} of {} ratings", super::percent(v), a.ratings),
                    "start",
                    " fill=\"#222\"",
                );
            }
            None => svg.text(
                x0 + 4.0,
                yc + 4.0,
                "no ratings",
                "start",
                " fill=\"#666\" font-style=\"italic\"",
            ),
        }
    }
    svg.line((x0, top), (x0, bottom), INK, 1.0, None);
    svg.text(
        (x0 + x1) / 2.0,
        bottom + 34.0,
        "CSAT: ratings of 4 or 5",
        "middle",
        " fill=\"#222\"",
    );
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_ticks(0.0, 100.0, 4), [0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(
            nice_ticks(0.0, 1080.0, 5),
            [0.0, 250.0, 500.0, 750.0, 1000.0]
        );
        let weeks = time_ticks(1_793_577_600_000, 1_793_577_600_000 + 42 * DAY_MS, 8);
        // 2026-11-02 is a Monday: weekly ticks fall on Mondays.
        assert_eq!(weeks[0].1, "Nov 2");
        assert!(
            weeks
                .iter()
                .all(|(t, _)| (t - 1_793_577_600_000) % (7 * DAY_MS) == 0)
        );
        let hours = time_ticks(0, 6 * HOUR_MS, 8);
        assert_eq!(hours[1].1, "01:00");
        assert_eq!(hours[0].1, "Jan 1");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
