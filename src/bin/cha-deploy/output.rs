//! Printing: human text by default, stable JSON with `--json`, and the small
//! presentational helpers the text uses (tables, times, one-line diffs).

use std::io::{IsTerminal, Write};

use serde::Serialize;
use serde_json::Value;

/// `--color`: whether text output is coloured. `NO_COLOR` (set and not
/// empty) turns colour off whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal only.
    #[default]
    Auto,
    /// Colour even into a pipe or a file (not with NO_COLOR).
    Always,
    /// No colour.
    Never,
}

pub struct Output {
    json: bool,
    color: ColorChoice,
}

impl Output {
    pub fn new(json: bool, color: ColorChoice) -> Self {
        Output { json, color }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// Prints `value` as pretty JSON with `--json`, else the text `human`
    /// makes, with its control characters escaped and its [`paint`]ed
    /// words coloured when stdout takes colour.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        let text = if self.json {
            serde_json::to_string_pretty(value).expect("serialisable")
        } else {
            terminal_text(&human(), self.colors(&std::io::stdout()))
        };
        // A closed pipe (`cha-deploy flags list | head -3`) is not an error.
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// Prints a failed command's error on stderr: `{"error": {...}}` with
    /// `--json`, else one escaped line.
    pub fn error(&self, status: i32, code: &str, message: &str) {
        let text = if self.json {
            serde_json::json!({"error": {"status": status, "code": code, "message": message}})
                .to_string()
        } else {
            let color = self.colors(&std::io::stderr());
            terminal_text(
                &format!("cha-deploy: {}: {message}", paint(Style::Bad, "error")),
                color,
            )
        };
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// Whether `stream` takes colour: never with `NO_COLOR` or `TERM=dumb`;
    /// then as `--color` says, `auto` meaning on a terminal.
    fn colors(&self, stream: &impl IsTerminal) -> bool {
        color_allowed(
            self.color,
            |name| std::env::var_os(name),
            stream.is_terminal(),
        )
    }
}

/// The colour decision, apart from the process's environment (tested).
fn color_allowed(
    choice: ColorChoice,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
    terminal: bool,
) -> bool {
    if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    match choice {
        ColorChoice::Never => false,
        ColorChoice::Always => true,
        ColorChoice::Auto => terminal && env("TERM").is_none_or(|t| t != "dumb"),
    }
}

/// What a painted word means; the colour only repeats what the word says.
#[derive(Clone, Copy)]
pub enum Style {
    /// On, healthy, shipped: green.
    Good,
    /// A warning, a paused rollout: yellow.
    Warn,
    /// An error, an alert, harm: red.
    Bad,
    /// Critical: bold red.
    Critical,
    /// Off, none, secondary: dim.
    Dim,
}

/// The markers [`paint`] puts around a word: Unicode noncharacters, which
/// are reserved for a program's internal use, so that colour survives the
/// escaping of control characters and tables can align painted cells.
const MARK_END: char = '\u{FDDF}';

fn mark(style: Style) -> char {
    match style {
        Style::Good => '\u{FDD1}',
        Style::Warn => '\u{FDD2}',
        Style::Bad => '\u{FDD3}',
        Style::Critical => '\u{FDD4}',
        Style::Dim => '\u{FDD5}',
    }
}

fn is_mark(c: char) -> bool {
    ('\u{FDD1}'..='\u{FDD5}').contains(&c) || c == MARK_END
}

/// `text` to be shown in `style` where the output takes colour, as itself
/// elsewhere.
pub fn paint(style: Style, text: &str) -> String {
    format!("{}{text}{MARK_END}", mark(style))
}

/// The width of a cell as a terminal shows it: its characters, without
/// [`paint`]'s markers.
fn width(cell: &str) -> usize {
    cell.chars().filter(|&c| !is_mark(c)).count()
}

/// Text fit for a terminal: control characters (an escape sequence in a
/// unit id, a carriage return in a message) and the invisible characters
/// that reorder text are shown escaped, `\x1b`, `\u{202e}`, never
/// interpreted; [`paint`]ed words become ANSI colours when `color`, plain
/// words otherwise. Newlines and tabs stay.
pub fn terminal_text(text: &str, color: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if is_mark(c) => {
                if color {
                    out.push_str(match c {
                        '\u{FDD1}' => "\x1b[32m",
                        '\u{FDD2}' => "\x1b[33m",
                        '\u{FDD3}' => "\x1b[31m",
                        '\u{FDD4}' => "\x1b[1;31m",
                        '\u{FDD5}' => "\x1b[2m",
                        _ => "\x1b[0m",
                    });
                }
            }
            c if (c as u32) < 0x100 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A text table: a header row and aligned, left-justified columns separated
/// by two spaces. The last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i + 1 < widths.len() {
                s.extend(std::iter::repeat_n(' ', w - width(cell)));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push('\n');
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// Unix milliseconds as RFC 3339 UTC to the second: `2026-01-05T09:30:00Z`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A JSON value in YAML flow style, on one line: `[a, b]`, `{k: v}`.
pub fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        // 25.0 reads better as 25; the JSON form keeps the number as stored.
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", inline(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// The fields of a flag definition in the order people read them (the
/// order of `feature_flags.yml`); unknown fields follow, by name.
const FIELD_ORDER: &[&str] = &[
    "name",
    "type",
    "description",
    "enabled",
    "default",
    "percentage",
    "stickiness",
    "seed",
    "include_groups",
    "exclude_groups",
    "allow_users",
    "deny_users",
    "experiment",
    "variants",
    "start_time",
    "end_time",
    "schedule",
    "prerequisites",
    "metadata",
    "tags",
];

/// The keys of the objects `values`, in [`FIELD_ORDER`], then by name.
fn ordered_keys<'a>(values: &[&'a Value]) -> Vec<&'a str> {
    let mut keys: Vec<&str> = values
        .iter()
        .filter_map(|v| v.as_object())
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    keys.sort_by_key(|k| {
        (
            FIELD_ORDER
                .iter()
                .position(|f| f == k)
                .unwrap_or(usize::MAX),
            *k,
        )
    });
    keys.dedup();
    keys
}

/// A flag definition (as JSON) as aligned `field  value` lines; lists of
/// objects (variants, schedule) get one line per item.
pub fn fields(definition: &Value) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for key in ordered_keys(&[definition]) {
        match &definition[key] {
            Value::Array(items) if items.iter().any(Value::is_object) => {
                for (i, item) in items.iter().enumerate() {
                    let label = if i == 0 { key } else { "" };
                    lines.push((label.to_string(), format!("- {}", inline(item))));
                }
            }
            v => lines.push((key.to_string(), inline(v))),
        }
    }
    lines
}

/// `label  value` lines with the values aligned.
pub fn aligned(lines: &[(String, String)]) -> String {
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(k, v)| format!("{k:width$}  {v}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What changed between two versions of a flag, on one line:
/// `enabled: true -> false; percentage: 25 -> 50`.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> String {
    const MAX: usize = 40;
    let short = |v: Option<&Value>| match v {
        None => "-".to_string(),
        Some(v) => {
            let s = inline(v);
            if s.chars().count() > MAX {
                format!("{}...", s.chars().take(MAX - 3).collect::<String>())
            } else {
                s
            }
        }
    };
    match (before, after) {
        (None, None) => "no change".into(),
        (None, Some(a)) => {
            let enabled = if a["enabled"] == Value::Bool(true) {
                "enabled"
            } else {
                "disabled"
            };
            format!("created: {}, {enabled}", short(a.get("type")))
        }
        (Some(_), None) => "deleted".into(),
        (Some(b), Some(a)) => {
            let mut changes = Vec::new();
            changed_fields("", b, a, &short, &mut changes);
            if changes.is_empty() {
                "no change".into()
            } else {
                changes.join("; ")
            }
        }
    }
}

/// `field: old -> new` for each field that differs, with the fields of
/// nested objects (metadata) named by a dotted path.
fn changed_fields(
    prefix: &str,
    b: &Value,
    a: &Value,
    short: &dyn Fn(Option<&Value>) -> String,
    out: &mut Vec<String>,
) {
    for k in ordered_keys(&[b, a]) {
        let (old, new) = (b.get(k), a.get(k));
        if old == new {
            continue;
        }
        let path = format!("{prefix}{k}");
        match (old, new) {
            (Some(o @ Value::Object(_)), Some(n @ Value::Object(_))) => {
                changed_fields(&format!("{path}."), o, n, short, out)
            }
            _ => out.push(format!("{path}: {} -> {}", short(old), short(new))),
        }
    }
}

/// A serde enum's name (`pipe_sizing`, `primary`, `not_harmed`, …), so the
/// text and the JSON use the same words.
pub fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => "-".into(),
    }
}

/// A number for people: at most `digits` decimals, no trailing zeros.
pub fn num(x: f64, digits: usize) -> String {
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// 0.05 as `5%`.
pub fn percent(fraction: f64) -> String {
    format!("{}%", num(100.0 * fraction, 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_formats_utc_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_571_200_000), "2026-01-05T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_999), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn diff_names_each_changed_field() {
        let b = json!({"name": "f", "type": "percentage", "enabled": true, "percentage": 25});
        let a = json!({"name": "f", "type": "percentage", "enabled": false, "percentage": 50});
        assert_eq!(
            diff(Some(&b), Some(&a)),
            "enabled: true -> false; percentage: 25 -> 50"
        );
        assert_eq!(diff(None, Some(&a)), "created: percentage, disabled");
        assert_eq!(diff(Some(&b), Some(&b)), "no change");
        let b = json!({"metadata": {"owner": "a", "priority": 1}});
        let a = json!({"metadata": {"owner": "b", "priority": 1}});
        assert_eq!(diff(Some(&b), Some(&a)), "metadata.owner: a -> b");
    }

    #[test]
    fn terminal_text_escapes_control_characters_and_paints_only_with_colour() {
        let red = "\x1b[31mred\r\u{202e}x";
        assert_eq!(terminal_text(red, false), "\\x1b[31mred\\x0d\\u{202e}x");
        assert_eq!(terminal_text(red, true), "\\x1b[31mred\\x0d\\u{202e}x");
        let painted = format!("flag {}\n\tnext", paint(Style::Good, "ON"));
        assert_eq!(terminal_text(&painted, false), "flag ON\n\tnext");
        assert_eq!(
            terminal_text(&painted, true),
            "flag \x1b[32mON\x1b[0m\n\tnext"
        );
        // C1 controls (CSI is U+009B) are escaped too.
        assert_eq!(terminal_text("a\u{9b}31m", true), "a\\x9b31m");
    }

    #[test]
    fn colour_never_with_no_color_and_on_a_terminal_only_by_default() {
        let env = |no_color: Option<&'static str>, term: Option<&'static str>| {
            move |name: &str| match name {
                "NO_COLOR" => no_color.map(Into::into),
                "TERM" => term.map(Into::into),
                _ => None,
            }
        };
        use ColorChoice::*;
        assert!(color_allowed(Auto, env(None, Some("xterm")), true));
        assert!(!color_allowed(Auto, env(None, Some("xterm")), false));
        assert!(!color_allowed(Auto, env(None, Some("dumb")), true));
        assert!(!color_allowed(Auto, env(Some("1"), None), true));
        assert!(!color_allowed(Always, env(Some("1"), None), true));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(color_allowed(Always, env(Some(""), None), false));
        assert!(!color_allowed(Never, env(None, None), true));
    }

    #[test]
    fn painted_cells_align_like_plain_ones() {
        let t = table(
            &["A", "B"],
            &[
                vec![paint(Style::Good, "ON"), "1".into()],
                vec!["off".into(), "2".into()],
            ],
        );
        assert_eq!(terminal_text(&t, false), "A    B\nON   1\noff  2");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&["A", "BB"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    BB\nxyz  1");
    }
}
