//! `cha-deploy feedback …` run as an operator would: the built binary in a
//! scratch folder, one process per command.
#![cfg(feature = "cli")]

mod common;

use common::cli::Scratch;

use serde_json::Value;

/// The cells of a text-table row (columns are two or more spaces apart).
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

fn submit(s: &Scratch, args: &[&str]) -> Value {
    let mut all = vec!["feedback", "submit"];
    all.extend_from_slice(args);
    s.json(&all)
}

#[test]
fn submit_show_and_list() {
    let s = Scratch::deployed("fb-submit");
    let text = s.ok(&[
        "feedback",
        "submit",
        "bug-report",
        "Pressure drop too high on the return line, mail anna@stadtwerke.example",
        "--user",
        "anna",
        "--context",
        r#"{"network_id": "north-7"}"#,
    ]);
    assert_eq!(
        text,
        "stored feedback #1 (bug_report, pressure_drop, high priority, negative -0.56) for hydraulics-team\n\
         Thank you for reporting this bug, anna. It is #1 (high priority) and has gone to the hydraulics-team team.\n"
    );
    let item = s.json(&["feedback", "show", "1"]);
    assert_eq!(
        item["text"],
        "Pressure drop too high on the return line, mail [email]"
    );
    assert_eq!(item["sentiment"]["label"], "negative");
    assert_eq!(item["priority"], "high");
    assert_eq!(item["route"]["queue"], "hydraulics-team");
    assert_eq!(item["status"], "new");
    assert_eq!(item["context"]["network_id"], "north-7");
    assert_eq!(item["history"][0]["actor"], "anna");
    assert!(item["exposures"]["flags"]["velocity_constraints"]["enabled"] == true);

    let survey = submit(
        &s,
        &[
            "satisfaction-survey",
            "Excellent, it saves time",
            "--rating",
            "5",
        ],
    );
    assert_eq!(
        survey["user_id"], "night-shift",
        "the login name by default"
    );
    assert_eq!(survey["sentiment"]["label"], "positive");

    let text = s.ok(&["feedback", "list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        cells(lines[0]),
        [
            "ID",
            "SUBMITTED",
            "TYPE",
            "CATEGORY",
            "PRIORITY",
            "SENTIMENT",
            "STATUS",
            "QUEUE",
            "TEXT"
        ]
    );
    assert_eq!(lines.len(), 3);
    assert_eq!(cells(lines[1])[0], "2", "newest first");
    let row = cells(lines[2]);
    assert_eq!(
        row[2..8],
        [
            "bug_report",
            "pressure_drop",
            "high",
            "negative",
            "new",
            "hydraulics-team"
        ]
    );
    let only = s.json(&["feedback", "list", "--type", "satisfaction-survey"]);
    assert_eq!(only.as_array().unwrap().len(), 1);
    let none = s.ok(&["feedback", "list", "--status", "closed"]);
    assert_eq!(none, "no feedback\n");

    let show = s.ok(&["feedback", "show", "1"]);
    assert!(show.contains("priority   high (type bug_report: medium; keyword `pressure drop too high`: high; strongly negative text (-0.56): high)"), "{show}");
    assert!(show.contains("\nhistory:\n  "), "{show}");
}

#[test]
fn the_workflow_from_the_command_line() {
    let s = Scratch::deployed("fb-workflow");
    submit(
        &s,
        &[
            "usability-issue",
            "The legend hides the labels",
            "--user",
            "u1",
        ],
    );
    let err = s.fails(&["feedback", "resolve", "1"], 3);
    assert_eq!(
        err,
        "cha-deploy: error: feedback #1: cannot move from new to resolved (from new an item can move to acknowledged, duplicate)\n"
    );
    assert_eq!(
        s.ok(&["feedback", "ack", "1", "--actor", "ops", "--note", "seen"]),
        "feedback #1 is acknowledged (by ops)\n"
    );
    assert_eq!(
        s.ok(&["feedback", "start", "1"]),
        "feedback #1 is in_progress (by night-shift)\n"
    );
    s.ok(&["feedback", "resolve", "1"]);
    let closed = s.json(&["feedback", "close", "1", "--actor", "ops"]);
    assert_eq!(closed["status"], "closed");
    let moves: Vec<(&str, &str)> = closed["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["to"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moves,
        [
            ("new", "u1"),
            ("acknowledged", "ops"),
            ("in_progress", "night-shift"),
            ("resolved", "night-shift"),
            ("closed", "ops")
        ]
    );
    assert_eq!(closed["history"][1]["note"], "seen");
    s.fails(&["feedback", "start", "1"], 3);
    let err = s.fails(&["feedback", "ack", "99"], 4);
    assert_eq!(err, "cha-deploy: error: feedback #99 does not exist\n");

    submit(
        &s,
        &[
            "bug-report",
            "Wrong diameter on the school branch",
            "--user",
            "a",
        ],
    );
    submit(
        &s,
        &[
            "bug-report",
            "The cost report has no currency",
            "--user",
            "b",
        ],
    );
    assert_eq!(
        s.ok(&["feedback", "merge", "3", "--into", "2"]),
        "merged feedback #3 into #2\n"
    );
    let original = s.json(&["feedback", "show", "2"]);
    assert_eq!(
        (original["reports"].as_u64(), original["people"].as_u64()),
        (Some(2), Some(2))
    );
}

#[test]
fn bad_input_is_refused_with_its_reason_and_stores_nothing() {
    let s = Scratch::deployed("fb-refusals");
    for (args, code, message) in [
        (
            vec!["bug-report", "x", "--rating", "6"],
            3,
            "feedback.rating must be a whole number from 1 to 5, not 6",
        ),
        (
            vec!["bug-report", "x", "--rating", "0"],
            3,
            "feedback.rating must be a whole number from 1 to 5, not 0",
        ),
        (vec!["bug-report", "   "], 3, "feedback.text is empty"),
        (
            vec!["satisfaction-survey", "x"],
            3,
            "a satisfaction_survey needs a rating",
        ),
        (
            vec!["bug-report", "x", "--context", "[1]"],
            3,
            "--context must be a JSON object",
        ),
        (
            vec!["bug-report", "x", "--context", "{"],
            3,
            "--context is not JSON",
        ),
        (
            vec!["bug-report", "x", "--category", "plumbing"],
            3,
            "feedback.category `plumbing` is not a configured category",
        ),
        (
            vec!["bug-report", "x", "--at", "yesterday"],
            3,
            "--at: `yesterday` is not an RFC 3339 time",
        ),
        (vec!["complaint", "x"], 2, "invalid value 'complaint'"),
        (
            vec!["bug-report", "x", "--rating", "300"],
            2,
            "invalid value '300'",
        ),
    ] {
        let mut all = vec!["feedback", "submit"];
        all.extend_from_slice(&args);
        let err = s.fails(&all, code);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let long = "x".repeat(64 * 1024 + 1);
    let err = s.fails(&["feedback", "submit", "bug-report", &long], 3);
    assert!(err.contains("feedback.text is 65537 bytes"), "{err}");
    assert_eq!(s.ok(&["feedback", "list"]), "no feedback\n");
}

#[test]
fn analyze_reports_in_text_and_json() {
    let s = Scratch::deployed("fb-analyze");
    submit(
        &s,
        &[
            "bug-report",
            "The app crashes when importing GIS data",
            "--user",
            "a",
        ],
    );
    submit(
        &s,
        &[
            "bug-report",
            "App crashed importing the GIS data!",
            "--user",
            "b",
        ],
    );
    submit(
        &s,
        &[
            "satisfaction-survey",
            "Good results",
            "--user",
            "c",
            "--rating",
            "4",
        ],
    );
    submit(
        &s,
        &[
            "satisfaction-survey",
            "Terrible",
            "--user",
            "d",
            "--rating",
            "1",
        ],
    );
    let a = s.json(&["feedback", "analyze"]);
    assert_eq!(a["total_items"], 4);
    assert_eq!(a["volume"]["by_type"]["bug_report"], 2);
    assert_eq!(a["satisfaction"]["average_rating"], 2.5);
    assert_eq!(a["satisfaction"]["csat"], 0.5);
    assert_eq!(a["top_issues"][0]["people"], 2);
    assert_eq!(a["top_issues"][0]["reports"], 2);
    let names: Vec<&str> = a["success_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["collection_rate", "acknowledgement", "resolution"]);
    let text = s.ok(&[
        "feedback",
        "analyze",
        "--by",
        "week",
        "--users-exposed",
        "100",
    ]);
    assert!(
        text.starts_with("4 items; average rating 2.5 from 2 ratings, CSAT 50%;"),
        "{text}"
    );
    assert!(
        text.contains("collection_rate  4% (4 of 100; target 10%): MISSED"),
        "{text}"
    );
    assert!(
        text.contains("[high] Ask for feedback where the work happens"),
        "{text}"
    );
    assert!(
        text.contains("[critical] Fix issue #1 (bug_report"),
        "{text}"
    );
    let err = s.fails(
        &[
            "feedback",
            "analyze",
            "--since",
            "2026-02-01T00:00:00Z",
            "--until",
            "2026-01-01T00:00:00Z",
        ],
        3,
    );
    assert!(err.contains("the range ends"), "{err}");
    // Looking needs a database that exists.
    let empty = Scratch::new("fb-none");
    let err = empty.fails(&["feedback", "list"], 4);
    assert!(err.contains("no such database"), "{err}");
}
