//! `cha-deploy metrics …` as an operator runs it: record, list, report,
//! alerts with an injected time, acknowledge and resolve, history, flag
//! usage, the system sample, the export (parsed by an OpenMetrics and a
//! Prometheus text parser, the textfile written atomically) and the HTTP
//! endpoint.
#![cfg(feature = "cli")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use common::cli::Scratch;

/// A time in the hour from 2030-03-17T15:00:00Z, later than the real
/// clock's retention can reach.
fn at(minute: u32, second: u32) -> String {
    format!("2030-03-17T15:{minute:02}:{second:02}Z")
}

const RULES: &str = "\
thresholds:
  - metric_name: solve_time_ms
    aggregation: max
    comparison_operator: greater_than
    warning_threshold: 1000
    critical_threshold: 5000
    window_size_minutes: 1
    evaluation_interval_seconds: 60
";

#[test]
fn record_list_and_report() {
    let s = Scratch::deployed("metrics-report");
    s.ok(&[
        "metrics",
        "record",
        "solve_time_ms",
        "0.5",
        "--kind",
        "timer",
        "--at",
        &at(0, 1),
    ]);
    s.ok(&[
        "metrics",
        "record",
        "solve_time_ms",
        "1.5",
        "--kind",
        "timer",
        "--at",
        &at(0, 2),
        "--tags",
        "{\"network\": \"north\"}",
    ]);
    let text = s.ok(&[
        "metrics",
        "record",
        "sizings",
        "2",
        "--kind",
        "counter",
        "--at",
        &at(0, 3),
    ]);
    assert_eq!(
        text,
        "recorded sizings = 2 (counter) at 2030-03-17T15:00:03Z\n"
    );
    let list = s.json(&["metrics", "list"]);
    let rows: Vec<(String, String, u64, f64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"].as_str().unwrap().to_string(),
                r["kind"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
                r["sum"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("sizings".into(), "counter".into(), 1, 2.0),
            ("solve_time_ms".into(), "timer".into(), 1, 1500.0),
            ("solve_time_ms".into(), "timer".into(), 1, 500.0),
        ]
    );
    let report = s.json(&[
        "metrics",
        "report",
        "--start",
        &at(0, 0),
        "--end",
        &at(1, 0),
    ]);
    let solve = report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "solve_time_ms")
        .unwrap();
    assert_eq!(
        (solve["count"].as_u64(), solve["mean"].as_f64()),
        (Some(2), Some(1000.0))
    );
    assert_eq!(
        (
            solve["min"].as_f64(),
            solve["max"].as_f64(),
            solve["series"].as_u64()
        ),
        (Some(500.0), Some(1500.0), Some(2))
    );
    let text = s.ok(&[
        "metrics",
        "report",
        "--start",
        &at(0, 0),
        "--end",
        &at(1, 0),
    ]);
    assert!(
        text.starts_with("performance report 2030-03-17T15:00:00Z to 2030-03-17T15:01:00Z"),
        "{text}"
    );
    assert!(text.contains("\nsolve_time_ms "), "{text}");
}

#[test]
fn bad_input_exits_3_and_records_nothing() {
    let s = Scratch::deployed("metrics-bad");
    let err = s.fails(&["metrics", "record", "t_ms", "-1", "--kind", "timer"], 3);
    assert!(
        err.contains("metric `t_ms`: a duration in seconds cannot be negative (-1)"),
        "{err}"
    );
    let err = s.fails(&["metrics", "record", "h", "NaN"], 3);
    assert!(err.contains("not a finite number"), "{err}");
    let err = s.fails(&["metrics", "record", "h", "1", "--tags", "[\"north\"]"], 3);
    assert!(err.contains("tags must be a JSON object"), "{err}");
    let err = s.fails(&["metrics", "report", "--since", "soon"], 3);
    assert!(
        err.contains("--since `soon` is neither a duration"),
        "{err}"
    );
    assert_eq!(s.json(&["metrics", "list"]), serde_json::json!([]));
    let dir = s.write(
        "bad/performance_monitoring.yml",
        &RULES.replace("greater_than", "above"),
    );
    let err = s.fails(
        &[
            "deploy",
            "--config-dir",
            dir.parent().unwrap().to_str().unwrap(),
        ],
        5,
    );
    assert!(err.contains("unknown comparison_operator `above`"), "{err}");
}

#[test]
fn alerts_fire_are_acknowledged_resolved_and_kept_in_the_history() {
    let s = Scratch::new("metrics-alerts");
    s.write("conf/performance_monitoring.yml", RULES);
    s.ok(&["deploy", "--config-dir", "conf"]);
    s.ok(&[
        "metrics",
        "record",
        "solve_time_ms",
        "2",
        "--kind",
        "timer",
        "--at",
        &at(0, 1),
    ]);
    let events = s.json(&["metrics", "evaluate", "--at", &at(0, 30)]);
    assert_eq!(events[0]["kind"], "firing");
    assert_eq!(events[0]["severity"], "warning");
    let firing = s.json(&["metrics", "alerts"]);
    let id = firing[0]["id"].as_i64().unwrap().to_string();
    let text = s.ok(&["metrics", "ack", &id, "--actor", "anna"]);
    assert_eq!(
        text,
        format!("alert {id} (solve_time_ms, warning) acknowledged by anna\n")
    );
    s.ok(&[
        "metrics",
        "record",
        "solve_time_ms",
        "6",
        "--kind",
        "timer",
        "--at",
        &at(1, 1),
    ]);
    let events = s.json(&["metrics", "evaluate", "--at", &at(1, 30)]);
    assert_eq!(
        (events[0]["kind"].as_str(), events[0]["severity"].as_str()),
        (Some("escalated"), Some("critical"))
    );
    // The escalation asks for a new acknowledgement.
    assert_eq!(
        s.json(&["metrics", "alerts"])[0]["acknowledged_by"],
        serde_json::Value::Null
    );
    let text = s.ok(&["metrics", "resolve", &id]);
    assert_eq!(
        text,
        format!("alert {id} (solve_time_ms, critical) resolved by night-shift\n")
    );
    assert_eq!(s.ok(&["metrics", "alerts"]), "no alert is firing\n");
    let err = s.fails(&["metrics", "resolve", &id], 3);
    assert!(
        err.contains("is resolved already (by night-shift)"),
        "{err}"
    );
    assert!(
        s.fails(&["metrics", "ack", "9999"], 4)
            .contains("no alert has id 9999")
    );
    // The manual events carry the real time, the others the injected one:
    // in the order they happened, by id.
    let history = s.json(&[
        "metrics",
        "history",
        "--start",
        "2020-01-01T00:00:00Z",
        "--end",
        &at(2, 0),
    ]);
    let mut history = history.as_array().unwrap().clone();
    history.sort_by_key(|e| e["id"].as_i64());
    let kinds: Vec<&str> = history
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["firing", "acknowledged", "escalated", "manually_resolved"]
    );
    let rules = s.json(&["metrics", "rules"]);
    assert_eq!(
        (rules[0]["name"].as_str(), rules[0]["state"].as_str()),
        (Some("solve_time_ms"), Some("inactive"))
    );
}

#[test]
fn flag_usage_and_the_system_sample() {
    let s = Scratch::deployed("metrics-flags");
    s.ok(&[
        "flags",
        "eval",
        "intelligent_pipe_sizing",
        "--user",
        "planner-7",
    ]);
    let usage = s.json(&["metrics", "flags"]);
    let f = usage["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flag"] == "intelligent_pipe_sizing")
        .unwrap();
    assert_eq!(f["evaluations"], 1);
    let system = s.json(&["metrics", "system"]);
    let names: Vec<&str> = system
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(names.len() >= 20, "{names:?}");
    assert!(
        names.contains(&"memory_usage_mb") && names.contains(&"database_size_mb"),
        "{names:?}"
    );
    assert!(system["memory_usage_mb"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_export_parses_and_the_textfile_is_written_whole() {
    let s = Scratch::deployed("metrics-export");
    s.ok(&[
        "metrics",
        "record",
        "pipe_sizing_time_ms",
        "0.25",
        "--kind",
        "timer",
        "--tags",
        "{\"network\": \"n\\\\1\"}",
    ]);
    s.ok(&[
        "metrics",
        "record",
        "pipe_sizing_requests",
        "3",
        "--kind",
        "counter",
    ]);
    s.ok(&[
        "metrics",
        "record",
        "memory_usage_mb",
        "512",
        "--kind",
        "gauge",
    ]);
    let text = s.ok(&["metrics", "export", "--format", "openmetrics"]);
    assert_eq!(text, s.ok(&["metrics", "export"]));
    let parsed = openmetrics_parser::openmetrics::parse_openmetrics(&text)
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert!(
        parsed.families.contains_key("pipe_sizing_requests"),
        "{text}"
    );
    assert!(
        text.contains("pipe_sizing_time_ms_sum{network=\"n\\\\1\"} 250\n"),
        "{text}"
    );
}

#[test]
fn the_textfile_is_in_prometheus_format() {
    let s = Scratch::deployed("metrics-textfile");
    std::fs::create_dir_all(s.0.join("node")).unwrap();
    s.ok(&[
        "metrics",
        "record",
        "pipe_sizing_requests",
        "3",
        "--kind",
        "counter",
    ]);
    s.ok(&[
        "metrics",
        "record",
        "memory_usage_mb",
        "512",
        "--kind",
        "gauge",
    ]);
    let out = s.ok(&["metrics", "export", "--textfile", "node/cha.prom"]);
    assert!(
        out.starts_with("wrote ") && out.ends_with(" bytes to node/cha.prom\n"),
        "{out}"
    );
    let text = std::fs::read_to_string(s.0.join("node/cha.prom")).unwrap();
    assert!(
        text.contains("# TYPE pipe_sizing_requests_total counter\n"),
        "{text}"
    );
    assert!(text.contains("\npipe_sizing_requests_total 3\n"), "{text}");
    assert!(!text.contains("# EOF"), "{text}");
    openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    // Nothing else is left in the folder (no temporary file).
    let names: Vec<String> = std::fs::read_dir(s.0.join("node"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["cha.prom"]);
    let err = s.fails(&["metrics", "export", "--textfile", "missing/cha.prom"], 6);
    assert!(err.contains("missing/cha.prom"), "{err}");
}

#[test]
fn serve_answers_a_scrape() {
    let s = Scratch::deployed("metrics-serve");
    s.ok(&[
        "metrics",
        "record",
        "memory_usage_mb",
        "512",
        "--kind",
        "gauge",
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cha-deploy"))
        .args([
            "metrics",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-requests",
            "2",
        ])
        .current_dir(&s.0)
        .env_remove("CHA_DB")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("serving http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let get = |path: &str| {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let metrics = get("/metrics");
    let missing = get("/nothing");
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics
            .to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{metrics}"
    );
    let body = metrics.split("\r\n\r\n").nth(1).unwrap();
    assert!(
        body.contains("memory_usage_mb 512\n") && body.ends_with("# EOF\n"),
        "{body}"
    );
    openmetrics_parser::openmetrics::parse_openmetrics(body).unwrap();
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}
