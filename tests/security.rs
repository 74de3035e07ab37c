//! Security: what callers hand in is data, never SQL or HTML, and the files
//! the library names stay where it put them.
//!
//! - SQL-injection strings go in through the Rust API and the CLI (C and
//!   Python: `tests/c/test_hostile.c`, `bindings/python/tests/test_security.py`)
//!   wherever text is data (feedback text, user and unit ids, actors, tag
//!   values, descriptions, the A/B test's display name) and come back byte
//!   for byte, read through the API and straight from the tables; where
//!   they would be a name (flag, experiment, metric), the naming rule
//!   refuses them. The tables are all there and whole afterwards.
//! - The HTML report escapes every string it shows: a `<script>` put into
//!   every text field of a report renders as text, and one stored through
//!   the API (a description, an A/B test's name, an actor) too.
//! - A backup is never written through a symbolic link planted at its
//!   name, nor into a default backup folder that is a link.
//! - The database, its WAL and SHM files and its backups are 0600 by
//!   default (other modes: `tests/store.rs`).

use std::path::{Path, PathBuf};

use cha_deploy::{Cha, ErrorKind, ReportFormat};
use serde_json::json;

mod common;

/// What an attacker would try, each a valid UTF-8 string a user may type.
const INJECTIONS: &[&str] = &[
    "'; DROP TABLE definitions; --",
    "\"); DELETE FROM feedback; --",
    "x' OR '1'='1",
    "Robert'); DROP TABLE audit;--",
    "a'; ATTACH DATABASE 'pwned.db' AS pwned; --",
    "%' ; UPDATE definitions SET json = '{}' WHERE '1'='1",
];

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cha-security-{}-{name}", std::process::id()));
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

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

fn deployed(s: &Scratch) -> Cha {
    let cha = Cha::open(s.db()).unwrap();
    cha.deploy_all(configs(), "ci").unwrap();
    cha
}

/// The tables of the database, by name, and the rows of `definitions`:
/// what an injection would drop or rewrite.
fn tables_and_definitions(db: &Path) -> (Vec<String>, i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap();
    let tables = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let definitions = conn
        .query_row("SELECT count(*) FROM definitions", [], |r| r.get(0))
        .unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    (tables, definitions)
}

/// The values of one column, read straight from the table.
fn column(db: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn injection_strings_are_stored_verbatim_through_the_rust_api() {
    let s = Scratch::new("rust");
    let cha = deployed(&s);
    let before = tables_and_definitions(&s.db());

    for (i, text) in INJECTIONS.iter().enumerate() {
        let submission = json!({
            "type": "bug_report",
            "text": text,
            "user_id": text,
            "context": {"network_id": text},
        });
        let item = cha.submit_feedback_json(&submission.to_string()).unwrap();
        let back = cha.feedback(item.id).unwrap();
        assert_eq!((back.text.as_str(), back.user_id.as_str()), (*text, *text));
        assert_eq!(back.context["network_id"], json!(text));

        let unit = format!("{text}{i}");
        let assigned = cha.assign("pipe_sizing_comparison", &unit).unwrap();
        assert!(assigned.variant.is_some(), "{unit}: {assigned:?}");
        cha.record("pipe_sizing_comparison", &unit, "pipe_cost_efficiency", 1.5)
            .unwrap();

        cha.update_flag(
            "new_ui",
            &json!({"description": text, "enabled": i % 2 == 0}),
            text,
        )
        .unwrap();
        cha.gauge("pipes", 1.0, Some(&json!({"network": text}).to_string()))
            .unwrap();

        // As names they are refused by the naming rule, before any SQL.
        let e = cha
            .update_flag(text, &json!({"type": "boolean"}), "ops")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        let e = cha.assign(text, "u1").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        let e = cha.gauge(text, 1.0, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
    cha.flush().unwrap();

    // Through the API, in order.
    let history = cha.flag_history("new_ui").unwrap();
    let actors: Vec<&str> = history.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(&actors[actors.len() - INJECTIONS.len()..], INJECTIONS);
    assert_eq!(
        cha.flag("new_ui").unwrap().definition.description,
        INJECTIONS[5]
    );
    let mut csv = Vec::new();
    let rows = cha
        .export_observations("pipe_sizing_comparison", &mut csv)
        .unwrap();
    assert_eq!(rows, INJECTIONS.len() as u64);
    let mut tagged: Vec<String> = cha
        .metric_series()
        .unwrap()
        .into_iter()
        .filter_map(|s| s.tags.get("network").cloned())
        .collect();
    tagged.sort();
    let mut expected: Vec<String> = INJECTIONS.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(tagged, expected);

    // Straight from the tables: the same bytes.
    let mut texts = column(&s.db(), "SELECT text FROM feedback ORDER BY id");
    assert_eq!(texts, INJECTIONS);
    texts = column(&s.db(), "SELECT user_id FROM feedback ORDER BY id");
    assert_eq!(texts, INJECTIONS);

    // Nothing was dropped, rewritten or attached.
    cha.close().unwrap();
    assert_eq!(tables_and_definitions(&s.db()), before);
    assert!(!s.0.join("pwned.db").exists());
    assert!(!Path::new("pwned.db").exists());
}

#[cfg(feature = "cli")]
#[test]
fn injection_strings_are_stored_verbatim_through_the_cli() {
    let s = common::cli::Scratch::deployed("security-cli");
    let before = tables_and_definitions(&s.db());
    for (i, text) in INJECTIONS.iter().enumerate() {
        let item = s.json(&["feedback", "submit", "bug-report", text, "--user", text]);
        let id = item["id"].as_i64().unwrap().to_string();
        let shown = s.json(&["feedback", "show", &id]);
        assert_eq!(
            (&shown["text"], &shown["user_id"]),
            (&json!(text), &json!(text))
        );
        let flag = if i % 2 == 0 { "enable" } else { "disable" };
        s.ok(&["flags", flag, "new_ui", "--actor", text]);
        let unit = format!("{text}{i}");
        let assigned = s.json(&["ab", "assign", "pipe_sizing_comparison", &unit]);
        assert_eq!(assigned["unit"], json!(unit), "{assigned}");
        // As a flag name: refused (exit 5) before any SQL.
        s.fails(&["flags", "set", text, r#"{"type": "boolean"}"#], 5);
    }
    let history = s.json(&["flags", "history", "new_ui"]);
    let actors: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(&actors[actors.len() - INJECTIONS.len()..], INJECTIONS);
    assert_eq!(
        column(&s.db(), "SELECT text FROM feedback ORDER BY id"),
        INJECTIONS
    );
    assert_eq!(tables_and_definitions(&s.db()), before);
    assert!(!s.0.join("pwned.db").exists());
}

/// Every `String` in a JSON value replaced by `<script>` with a number,
/// so that each can be found escaped in the page.
fn poison(value: &mut serde_json::Value, next: &mut usize) {
    match value {
        serde_json::Value::String(s) => {
            *next += 1;
            *s = format!("<script>alert({next})</script>&\"'");
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| poison(v, next)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| poison(v, next)),
        _ => {}
    }
}

#[test]
fn the_html_report_escapes_every_string_it_shows() {
    let s = Scratch::new("html");
    let cha = deployed(&s);
    // Data behind each section: a rollout, an A/B test, metrics, feedback.
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 40}), "ops")
        .unwrap();
    for i in 0..40 {
        let unit = format!("network-{i}");
        cha.assign("pipe_sizing_comparison", &unit).unwrap();
        cha.record(
            "pipe_sizing_comparison",
            &unit,
            "pipe_cost_efficiency",
            f64::from(i),
        )
        .unwrap();
        cha.record_timer("pipe_sizing_time_ms", 0.5, None).unwrap();
    }
    cha.submit_feedback_json(
        r#"{"type": "satisfaction_survey", "text": "fine", "user_id": "u1", "rating": 4}"#,
    )
    .unwrap();
    cha.flush().unwrap();

    // Every string field of the report, whatever it holds (flag, test,
    // variant, metric and rule names, descriptions, actors, messages,
    // verdicts, the title, the database's path), made hostile.
    let report = cha.deployment_report().unwrap();
    let mut value = serde_json::to_value(&report).unwrap();
    let mut strings = 0;
    poison(&mut value, &mut strings);
    assert!(strings > 50, "only {strings} strings in the report");
    let hostile = rebuild(&report, &value);
    let html = hostile.render(ReportFormat::Html);
    assert_no_script(&html);
    // Each one is shown, escaped, or left out; the names and texts of each
    // section are among those shown.
    let shown = (1..=strings)
        .filter(|n| html.contains(&format!("&lt;script&gt;alert({n})&lt;/script&gt;")))
        .count();
    assert!(shown * 2 > strings, "{shown} of {strings} shown");
    for name in [
        &hostile.rollouts[0].flag,
        &hostile.experiments[0].name,
        &hostile.experiments[0].metrics[0].name,
        &hostile.metrics[0].metric,
        &hostile.deployments[0].actor,
    ] {
        let n = name
            .trim_start_matches("<script>alert(")
            .split(')')
            .next()
            .unwrap();
        assert!(
            html.contains(&format!("&lt;script&gt;alert({n})&lt;/script&gt;&amp;")),
            "{name} is not shown escaped"
        );
    }

    // End to end: text stored through the API, rendered by the library.
    let script = "<script>alert('stored')</script>";
    let dir = s.0.join("configs");
    std::fs::create_dir_all(&dir).unwrap();
    for file in cha_deploy::known_files() {
        let text = std::fs::read_to_string(configs().join(file)).unwrap();
        let text = text.replace(
            "name: Pipe Sizing Method Comparison",
            &format!("name: \"{script} comparison\""),
        );
        std::fs::write(dir.join(file), text).unwrap();
    }
    let options = cha_deploy::DeployOptions::from_json(Some(
        &json!({"actor": script, "on_drift": "overwrite"}).to_string(),
    ))
    .unwrap();
    cha.deploy(&dir, &options).unwrap();
    cha.update_flag(
        "intelligent_pipe_sizing",
        &json!({"description": script, "percentage": 50}),
        script,
    )
    .unwrap();
    let html = cha.render_deployment_report(ReportFormat::Html).unwrap();
    assert_no_script(&html);
    let escaped = "&lt;script&gt;alert(&#39;stored&#39;)&lt;/script&gt;";
    assert!(
        html.contains(&format!("{escaped} comparison")),
        "the test's name"
    );
    assert!(
        html.matches(escaped).count() >= 3,
        "name, description and actor"
    );
    cha.close().unwrap();
}

/// `report` with the strings of `value` (its JSON, changed) put back.
fn rebuild(
    report: &cha_deploy::DeploymentReport,
    value: &serde_json::Value,
) -> cha_deploy::DeploymentReport {
    let mut r = report.clone();
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    r.title = text(&value["title"]);
    r.database = text(&value["database"]);
    r.headlines = value["headlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    for (d, v) in r
        .deployments
        .iter_mut()
        .zip(value["deployments"].as_array().unwrap())
    {
        d.actor = text(&v["actor"]);
        d.action = text(&v["action"]);
        d.config_dir = v["config_dir"].as_str().map(str::to_string);
    }
    for (f, v) in r
        .rollouts
        .iter_mut()
        .zip(value["rollouts"].as_array().unwrap())
    {
        f.flag = text(&v["flag"]);
        f.description = text(&v["description"]);
        f.flag_type = text(&v["flag_type"]);
        f.held_now = v["held_now"].as_str().map(str::to_string);
        for (e, ev) in f.events.iter_mut().zip(v["events"].as_array().unwrap()) {
            e.actor = text(&ev["actor"]);
            e.detail = text(&ev["detail"]);
        }
    }
    for (x, v) in r
        .experiments
        .iter_mut()
        .zip(value["experiments"].as_array().unwrap())
    {
        x.id = text(&v["id"]);
        x.name = text(&v["name"]);
        x.status = text(&v["status"]);
        x.control = text(&v["control"]);
        x.conclusion = text(&v["conclusion"]);
        x.recommendation = text(&v["recommendation"]);
        x.winner = v["winner"].as_str().map(str::to_string);
        x.reasons = v["reasons"].as_array().unwrap().iter().map(text).collect();
        for (a, av) in x.variants.iter_mut().zip(v["variants"].as_array().unwrap()) {
            a.name = text(&av["name"]);
        }
        for (m, mv) in x.metrics.iter_mut().zip(v["metrics"].as_array().unwrap()) {
            m.name = text(&mv["name"]);
            m.metric_type = text(&mv["metric_type"]);
            m.unit = mv["unit"].as_str().map(str::to_string);
            m.target_direction = text(&mv["target_direction"]);
            for (c, cv) in m
                .comparisons
                .iter_mut()
                .zip(mv["comparisons"].as_array().unwrap())
            {
                c.variant = text(&cv["variant"]);
                c.verdict = text(&cv["verdict"]);
            }
        }
    }
    r.experiments_not_started = value["experiments_not_started"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    for (m, v) in r
        .metrics
        .iter_mut()
        .zip(value["metrics"].as_array().unwrap())
    {
        m.rule = text(&v["rule"]);
        m.metric = text(&v["metric"]);
        m.description = text(&v["description"]);
        m.aggregation = text(&v["aggregation"]);
        m.comparison = text(&v["comparison"]);
        m.unit = v["unit"].as_str().map(str::to_string);
        m.state = text(&v["state"]);
    }
    for (a, v) in r.alerts.iter_mut().zip(value["alerts"].as_array().unwrap()) {
        a.rule = text(&v["rule"]);
        a.metric = text(&v["metric"]);
        a.max_severity = text(&v["max_severity"]);
        a.state = text(&v["state"]);
        a.message = text(&v["message"]);
    }
    r.feedback.period = text(&value["feedback"]["period"]);
    for (a, v) in r
        .feedback
        .experiments
        .iter_mut()
        .zip(value["feedback"]["experiments"].as_array().unwrap())
    {
        a.experiment = text(&v["experiment"]);
        a.reference = text(&v["reference"]);
        for (arm, av) in a.arms.iter_mut().zip(v["arms"].as_array().unwrap()) {
            arm.arm = text(&av["arm"]);
        }
    }
    r
}

fn assert_no_script(html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a <script> tag got through");
    assert!(!lower.contains("</script"), "a </script> tag got through");
}

#[test]
fn backups_are_never_written_through_a_planted_link() {
    let s = Scratch::new("links");
    let cha = deployed(&s);
    let folder = cha.backup_dir();
    let first = cha.create_backup("manual").unwrap();
    let outside = s.0.join("outside");
    std::fs::create_dir_all(&outside).unwrap();

    // Dangling links at every name the next backups could take (the next
    // second of timestamps): each is skipped, never followed.
    // The backup names of the next half second (as the library stamps
    // them: `cha.db.20261130T034512.345Z.manual.db`).
    let now = cha_deploy::clock::now_ms();
    let name = |ms: i64| {
        let t = cha_deploy::common::time::format_rfc3339_ms(ms);
        let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
        let millis = if digits.len() >= 17 {
            &digits[14..17]
        } else {
            "000"
        };
        format!(
            "cha.db.{}T{}.{millis}Z.manual.db",
            &digits[..8],
            &digits[8..14]
        )
    };
    for ms in now..now + 500 {
        let link = folder.join(name(ms));
        // (The first backup may hold one of these names already.)
        let _ = std::os::unix::fs::symlink(outside.join(format!("stolen-{ms}.db")), link);
    }
    let second = cha.create_backup("manual").unwrap();
    assert!(
        Path::new(&second.path).starts_with(&folder),
        "{}",
        second.path
    );
    assert!(
        std::fs::symlink_metadata(&second.path)
            .unwrap()
            .file_type()
            .is_file(),
        "the backup is a file of its own"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
    assert_ne!(first.path, second.path);
    cha.close().unwrap();

    // The default folder replaced by a link: refused, with the way out.
    let s2 = Scratch::new("linked-folder");
    let cha = deployed(&s2);
    let folder = cha.backup_dir();
    std::fs::remove_dir_all(&folder).unwrap();
    let elsewhere = s2.0.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &folder).unwrap();
    let e = cha.create_backup("manual").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(
        e.message()
            .contains("is a symbolic link; name its target as the `backup_dir` option"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    cha.close().unwrap();
}

#[test]
fn the_database_its_journal_and_backups_are_private_by_default() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("modes");
    let cha = deployed(&s);
    cha.gauge("pipes", 1.0, None).unwrap();
    cha.flush().unwrap();
    let backup = cha.create_backup("manual").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for file in ["cha.db", "cha.db-wal", "cha.db-shm"] {
        assert_eq!(mode(&s.0.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(Path::new(&backup.path)), 0o600, "the backup");
    assert_eq!(mode(&cha.backup_dir()), 0o700, "the backup folder");
    cha.close().unwrap();
}
