//! `cha-deploy report` and `cha-deploy demo`, run as an operator would.
#![cfg(feature = "cli")]

mod common;

use common::cli::Scratch;
use serde_json::Value;

#[test]
fn report_prints_markdown_or_json_and_writes_files_by_their_extension() {
    let s = Scratch::deployed("report");
    let md = s.ok(&["report"]);
    assert!(md.starts_with("# Deployment report\n"), "{md}");
    assert!(
        md.contains("| 1 |") && md.contains("| deploy | ci |"),
        "{md}"
    );
    assert!(md.contains("### intelligent_pipe_sizing (25% now)"), "{md}");
    let json = s.json(&["report"]);
    assert_eq!(json["deployments"][0]["actor"], "ci");
    assert_eq!(json["rollouts"][0]["flag"], "intelligent_pipe_sizing");
    let html = s.ok(&["report", "--format", "html"]);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg class=\"chart\""));

    let text = s.ok(&["report", "--output", "r.html"]);
    assert!(
        text.starts_with("wrote the html report to r.html ("),
        "{text}"
    );
    let written = s.json(&["report", "--output", "r.md"]);
    assert_eq!(written["format"], "md");
    let md = std::fs::read_to_string(s.0.join("r.md")).unwrap();
    assert_eq!(written["bytes"].as_u64(), Some(md.len() as u64));
    s.ok(&["report", "--output", "r.txt", "--format", "json"]);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(s.0.join("r.txt")).unwrap()).unwrap();
    assert_eq!(json["title"], "Deployment report");
}

#[test]
fn report_errors_have_their_exit_codes() {
    let s = Scratch::deployed("report-errors");
    // An extension that names no format, without --format: invalid argument.
    let err = s.fails(&["report", "--output", "r.txt"], 3);
    assert!(err.contains(".html, .md or .json"), "{err}");
    // A folder that does not exist: storage.
    let err = s.fails(&["report", "--output", "missing/r.html"], 6);
    assert!(err.contains("missing/r.html"), "{err}");
    // A folder in the way: invalid argument.
    std::fs::create_dir(s.0.join("taken.html")).unwrap();
    s.fails(&["report", "--output", "taken.html"], 3);
    // An unknown format: a usage error that lists the formats.
    let o = s.run(&["report", "--format", "pdf"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("html, md, json"));
    // No database: not found, and none is created.
    s.fails(&["--db", "none.db", "report"], 4);
    assert!(!s.0.join("none.db").exists());
    let files: Vec<String> = std::fs::read_dir(&s.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('r') || n.contains("partial"))
        .collect();
    assert!(files.is_empty(), "nothing written: {files:?}");
}

#[test]
fn demo_simulates_a_rollout_and_writes_its_report() {
    let s = Scratch::new("demo-small");
    let o = s.run(&[
        "--db",
        "demo.db",
        "demo",
        "--users",
        "150",
        "--weeks",
        "3",
        "--seed",
        "7",
        "--output",
        "demo.html",
    ]);
    let out = String::from_utf8(o.stdout).unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(o.status.success(), "{err}");
    // Plain progress lines when stderr is no terminal, no bar.
    assert!(err.contains("week 1 of 3 (from 2026-11-02)"), "{err}");
    assert!(err.contains("week 3 of 3"), "{err}");
    assert!(!err.contains('\r'), "no bar redrawn in a pipe");
    for needle in [
        "3 simulated weeks of the intelligent pipe-sizing rollout (150 engineers, seed 7",
        "Network   ",
        "fixed DN100",
        "flow-based",
        "ci deployed",
        "release-manager scheduled intelligent_pipe_sizing: 25%, 50%, 75% weekly",
        "release 2.5.0 of the intelligent sizing",
        "A/B test  pipe_sizing_comparison: ",
        "pipe_cost_efficiency",
        "Feedback  ",
        "Report    demo.html",
    ] {
        assert!(out.contains(needle), "no `{needle}` in\n{out}");
    }
    let html = std::fs::read_to_string(s.0.join("demo.html")).unwrap();
    assert!(
        html.contains("<svg class=\"chart\" id=\"rollout-0\""),
        "the rollout chart"
    );
    assert!(html.contains("id=\"experiment-"), "a forest plot");
    assert!(html.contains("id=\"metric-"), "a metric chart");
    assert!(
        html.contains("id=\"feedback-volume\""),
        "the feedback chart"
    );
    assert!(html.matches("<svg class=\"chart\"").count() >= 6);
    // The report's times are the simulated weeks.
    assert!(
        html.contains("from 2026-11-02 07:00 UTC to 2026-11-20 19:00 UTC"),
        "{}",
        &html[..2000]
    );

    // The same seed gives the same simulation; --json has its numbers.
    let json = s.json(&[
        "--db",
        "again.db",
        "demo",
        "--users",
        "150",
        "--weeks",
        "3",
        "--seed",
        "7",
        "--output",
        "again.html",
    ]);
    assert_eq!(json["weeks"], 3);
    assert_eq!(json["users"], 150);
    assert_eq!(json["report"], "again.html");
    let sizings = json["sizings"].as_u64().unwrap();
    assert!(sizings > 500, "{sizings}");
    assert!(
        out.contains(&format!("Sizings   {sizings} in all")),
        "same seed, same sizings"
    );
    let arms = json["arms"].as_object().unwrap();
    assert!(arms.contains_key("intelligent") && arms.contains_key("traditional"));
    assert_eq!(json["analysis"]["experiment_id"], "pipe_sizing_comparison");
    assert!(json["faulty_release_sizings"].as_u64().unwrap() > 0);
    assert!(json["feedback_items"].as_u64().unwrap() > 0);
    assert!(json["network"]["consumers"].as_u64().unwrap() >= 150);

    // The database is there to look at, with the simulated history.
    let status = s.json(&["--db", "demo.db", "history"]);
    assert_eq!(status[0]["actor"], "ci");
    // A database that exists is not filled again.
    let err = s.fails(
        &["--db", "demo.db", "demo", "--users", "10", "--weeks", "1"],
        3,
    );
    assert!(err.contains("exists"), "{err}");
}

#[test]
fn demo_refuses_a_config_dir_it_cannot_deploy() {
    let s = Scratch::new("demo-bad-configs");
    s.fails(
        &[
            "--db",
            "x.db",
            "demo",
            "--users",
            "5",
            "--weeks",
            "1",
            "--config-dir",
            "nowhere",
        ],
        4,
    );
    assert!(
        !s.0.join("x.db").exists(),
        "checked before the database is made"
    );
}
