//! Hostile input where Rust is the natural place to drive it (the C side:
//! `tests/c/test_hostile.c`): the size limits of a flag read from YAML,
//! a flag of a million groups, prerequisite trees, a megabyte quoted back,
//! closed C handles beyond the kept ones, and metric series added while a
//! flush drains (a panic the hostile C test found).

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::ptr;

use cha_deploy::common::limits::{
    MAX_LIST_ITEMS, MAX_PREREQUISITE_TREE, MAX_PREREQUISITES, MAX_QUOTED_BYTES,
};
use cha_deploy::ffi::*;
use cha_deploy::{Cha, ErrorKind, OpenOptions};
use serde_json::json;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cha-hostile-input-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("cha.db")
    }
    /// A config folder holding only `feature_flags.yml` with `flags`.
    fn flags_dir(&self, name: &str, flags: &str) -> PathBuf {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("feature_flags.yml"),
            format!("version: 2\nflags:\n{flags}"),
        )
        .unwrap();
        dir
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

/// A YAML flow list of `n` items `g0, g1, …`.
fn items(prefix: &str, n: usize) -> String {
    let all: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    format!("[{}]", all.join(", "))
}

#[test]
fn a_flag_of_a_million_groups_is_refused_and_later_changes_stay_cheap() {
    let s = Scratch::new("million");
    let cha = Cha::open(s.db()).unwrap();
    cha.deploy_all(configs(), "ci").unwrap();
    let flags = cha.flags().unwrap().len();
    // From YAML: the parser's node budget stops it first.
    let dir = s.flags_dir(
        "million",
        &format!(
            "  crowd:\n    type: user_group\n    enabled: true\n    include_groups: {}\n",
            items("g", 1_000_000)
        ),
    );
    let e = cha_deploy::validate_config_dir(&dir, &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("invalid YAML: budget breached"), "{e}");
    assert!(e.message().len() < 1024, "{} bytes", e.message().len());
    // As JSON updates: a million groups is more than a JSON argument may
    // hold (tests/c/test_hostile.c); 150,000 fit and meet the list's limit.
    let groups: Vec<String> = (0..150_000).map(|i| format!("g{i}")).collect();
    let e = cha
        .update_flag(
            "crowd",
            &json!({"type": "user_group", "include_groups": groups}),
            "ops",
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(
        e.message(),
        "crowd.include_groups: 150000 items, more than the 1000 allowed (hint: target a group that holds them instead of listing each)"
    );
    // Nothing of it was stored: every later change checks the flags there
    // were.
    assert_eq!(cha.flags().unwrap().len(), flags);
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 30}), "ops")
        .unwrap();
    cha.close().unwrap();
}

#[test]
fn every_list_of_a_flag_has_its_limit_in_yaml_as_in_json() {
    let s = Scratch::new("lists");
    let cha = Cha::open(s.db()).unwrap();
    let at_limit = format!(
        "  wide:\n    type: user_group\n    description: {}\n    include_groups: {}\n    exclude_groups: {}\n    allow_users: {}\n    deny_users: {}\n    tags: {}\n    prerequisites: {}\n{}",
        "d".repeat(4096),
        items("g", MAX_LIST_ITEMS),
        items("x", MAX_LIST_ITEMS),
        items("u", MAX_LIST_ITEMS),
        items("v", MAX_LIST_ITEMS),
        items("t", MAX_LIST_ITEMS),
        items("p", MAX_PREREQUISITES),
        (0..MAX_PREREQUISITES)
            .map(|i| format!("  p{i}:\n    type: boolean\n    enabled: true\n"))
            .collect::<String>(),
    );
    let dir = s.flags_dir("at-limit", &at_limit);
    cha.deploy_all(&dir, "ci").unwrap();

    let over = format!(
        "  wide:\n    type: user_group\n    description: {}\n    include_groups: {}\n    exclude_groups: {}\n    allow_users: [{}]\n    deny_users: {}\n    tags: {}\n    prerequisites: {}\n",
        "d".repeat(4097),
        items("g", MAX_LIST_ITEMS + 1),
        items("x", MAX_LIST_ITEMS + 1),
        "u".repeat(1025),
        items("v", MAX_LIST_ITEMS + 1),
        items("t", MAX_LIST_ITEMS + 1),
        items("p", MAX_PREREQUISITES + 1),
    );
    let over = format!(
        "{over}{}",
        (0..=MAX_PREREQUISITES)
            .map(|i| format!("  p{i}:\n    type: boolean\n    enabled: true\n"))
            .collect::<String>()
    );
    let dir = s.flags_dir("over", &over);
    let e = cha_deploy::validate_config_dir(&dir, &[]).unwrap_err();
    let expected = [
        "flags.wide.description: description has 4097 bytes, more than the 4096 allowed (hint: link to a document instead)",
        "flags.wide.include_groups: 1001 items, more than the 1000 allowed (hint: target a group that holds them instead of listing each)",
        "flags.wide.exclude_groups: 1001 items, more than the 1000 allowed (hint: target a group that holds them instead of listing each)",
        "flags.wide.allow_users[0]: has 1025 bytes, more than the 1024 allowed",
        "flags.wide.deny_users: 1001 items, more than the 1000 allowed (hint: target a group that holds them instead of listing each)",
        "flags.wide.tags: 1001 items, more than the 1000 allowed (hint: target a group that holds them instead of listing each)",
        "flags.wide.prerequisites: 17 prerequisites, more than the 16 allowed (hint: require only the flags this one needs directly)",
    ];
    let message = e.message();
    assert!(message.starts_with("7 configuration problems:"), "{e}");
    for (line, expected) in message.lines().skip(1).zip(expected) {
        assert!(
            line.ends_with(expected),
            "{line}\nshould end with\n{expected}"
        );
    }
    cha.close().unwrap();
}

/// Layer 0 is one boolean flag; each flag of layer k requires both flags of
/// layer k - 1, so a check of a flag of layer k evaluates 2^(k+1) - 1 flags.
fn diamond(layers: usize) -> String {
    let mut yaml = String::from("  l0a:\n    type: boolean\n    enabled: true\n");
    yaml.push_str("  l0b:\n    type: boolean\n    enabled: true\n");
    for k in 1..layers {
        for side in ["a", "b"] {
            yaml.push_str(&format!(
                "  l{k}{side}:\n    type: boolean\n    enabled: true\n    prerequisites: [l{}a, l{}b]\n",
                k - 1,
                k - 1
            ));
        }
    }
    yaml
}

#[test]
fn a_check_evaluates_at_most_64_flags_through_prerequisites() {
    let s = Scratch::new("tree");
    let cha = Cha::open(s.db()).unwrap();
    // Layers 0..=4: a flag of layer 4 evaluates 31 flags; 5 layers deploy.
    cha.deploy_all(s.flags_dir("five", &diamond(5)), "ci")
        .unwrap();
    assert!(
        cha.is_enabled("l4a", &cha_deploy::flags::Context::user("u"))
            .unwrap()
    );
    // Layer 5 evaluates 63, layer 6 127: over the limit, each flag of it.
    let e = cha_deploy::validate_config_dir(s.flags_dir("seven", &diamond(7)), &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let message = format!(
        "a check of this flag would evaluate more than {MAX_PREREQUISITE_TREE} flags (its prerequisites, theirs and so on, once for each way they are reached)"
    );
    let over: Vec<&str> = e
        .message()
        .lines()
        .filter(|l| l.contains(&message))
        .map(|l| l.split(": ").nth(1).unwrap())
        .collect();
    assert_eq!(
        over,
        ["flags.l6a.prerequisites", "flags.l6b.prerequisites"],
        "{e}"
    );

    // The same through an update: a flag on top of layer 5 (63) is refused.
    cha.deploy_all(s.flags_dir("six", &diamond(6)), "ci")
        .unwrap();
    let e = cha
        .update_flag(
            "top",
            &json!({"type": "boolean", "prerequisites": ["l5a", "l5b"]}),
            "ops",
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains(&message), "{e}");
    cha.update_flag(
        "top",
        &json!({"type": "boolean", "prerequisites": ["l4a"]}),
        "ops",
    )
    .unwrap();
    cha.close().unwrap();
}

#[test]
fn a_megabyte_of_input_comes_back_as_its_beginning() {
    let s = Scratch::new("megabyte");
    let cha = Cha::open(s.db()).unwrap();
    cha.deploy_all(configs(), "ci").unwrap();
    let big = "a".repeat(1 << 20);
    let quoted = format!("`{}… (1048576 bytes)`", "a".repeat(MAX_QUOTED_BYTES));
    let errors = [
        cha.flag(&big).unwrap_err(),
        cha.update_flag(&big, &json!({"percentage": 1}), "ops")
            .unwrap_err(),
        cha.assign(&big, "u").unwrap_err(),
        cha.record("pipe_sizing_comparison", "u", &big, 1.0)
            .unwrap_err(),
        cha.evaluate_flag_json("new_ui", Some(&format!("{{\"{big}\": 1}}")))
            .unwrap_err(),
        cha.submit_feedback_json(&format!(
            "{{\"type\": \"{big}\", \"text\": \"t\", \"user_id\": \"u\"}}"
        ))
        .unwrap_err(),
        cha.experiment(&big).unwrap_err(),
    ];
    for e in &errors {
        assert!(e.message().contains(&quoted), "{}", &e.message()[..200]);
        assert!(e.message().len() < 1024, "{} bytes", e.message().len());
    }
    // A path is cut at 1024 bytes.
    let e = cha.deploy_all(&big, "ci").unwrap_err();
    assert!(
        e.message()
            .contains(&format!("{}… (1048576 bytes)", "a".repeat(1024)))
    );
    assert!(e.message().len() < 2048, "{} bytes", e.message().len());
    cha.close().unwrap();
}

/// More handles opened and closed than the 256 whose shells are kept: the
/// oldest shells are reused, every handle works, and the last closed are
/// still refused.
#[test]
fn closed_handles_are_refused_and_their_shells_reused() {
    let s = Scratch::new("shells");
    let db = std::ffi::CString::new(s.db().to_str().unwrap()).unwrap();
    let options = c"{\"refresh_interval_ms\": 60000}";
    let mut seen = std::collections::HashSet::new();
    let mut last = Vec::new();
    for _ in 0..300 {
        let mut h = ptr::null_mut();
        // SAFETY: valid strings and out-pointer; `h` is closed once below.
        unsafe {
            assert_eq!(
                cha_open_with_options(db.as_ptr(), options.as_ptr(), &mut h),
                CHA_OK
            );
            assert_eq!(cha_flush(h), CHA_OK);
            cha_close(h);
        }
        seen.insert(h as usize);
        last.push(h);
    }
    // At most 257 shells for 300 handles: the rest were reused.
    assert!(seen.len() <= 257, "{} shells", seen.len());
    for h in &last[last.len() - 10..] {
        // SAFETY: a shell kept by the library (one of the last closed).
        let status = unsafe { cha_flush(*h) };
        assert_eq!(status, CHA_ERR_INVALID_ARGUMENT);
        // SAFETY: the thread's message.
        let message = unsafe { CStr::from_ptr(cha_last_error_message()) };
        assert_eq!(
            message.to_str().unwrap(),
            "cha_flush: the handle was closed by cha_close"
        );
    }
}

/// A thread adding new metric series while another flushes: the flush
/// once read a series id its copy of the index did not have yet and
/// panicked (index out of bounds) on the background thread.
#[test]
fn series_added_while_a_flush_drains_are_persisted() {
    let s = Scratch::new("drain");
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(s.db(), options).unwrap();
    let names: Vec<String> = (0..2000).map(|i| format!("series_{i}")).collect();
    std::thread::scope(|scope| {
        let recorder = scope.spawn(|| {
            for name in &names {
                cha.gauge(name, 1.0, None).unwrap();
            }
        });
        while !recorder.is_finished() {
            cha.flush().unwrap();
        }
        recorder.join().unwrap();
    });
    cha.flush().unwrap();
    let series = cha.metric_series().unwrap();
    assert_eq!(series.len(), names.len());
    assert!(series.iter().all(|s| s.count == 1));
    cha.close().unwrap();
}

#[test]
fn an_ab_test_description_has_the_flags_limit() {
    let s = Scratch::new("ab-description");
    let dir = s.0.join("configs");
    std::fs::create_dir_all(&dir).unwrap();
    let shipped = std::fs::read_to_string(configs().join("ab_tests.yml")).unwrap();
    let line = shipped
        .lines()
        .find(|l| l.trim_start().starts_with("description:"))
        .unwrap();
    let indent = &line[..line.len() - line.trim_start().len()];
    for (size, ok) in [(4096, true), (4097, false)] {
        let text = shipped.replacen(
            line,
            &format!("{indent}description: {}", "d".repeat(size)),
            1,
        );
        std::fs::write(dir.join("ab_tests.yml"), text).unwrap();
        let result = cha_deploy::validate_config_dir(&dir, &[]);
        assert_eq!(result.is_ok(), ok, "{size}: {result:?}");
        if let Err(e) = result {
            assert!(
                e.message().ends_with(
                    "ab_tests.pipe_sizing_comparison.description: description has 4097 bytes, more than the 4096 allowed (hint: link to a document instead)"
                ),
                "{e}"
            );
        }
    }
}

/// Found by the `json_update` fuzz target: `{"type": "time_based",
/// "schedule": []}` was accepted (an empty schedule counted as one) and
/// stored without its schedule (empty lists are not stored), a definition
/// that failed validation when read back: the next compile of the stored
/// flags, in this process or another, refused them all.
#[test]
fn an_accepted_update_reads_back_as_a_valid_flag() {
    let s = Scratch::new("empty-list");
    let cha = Cha::open(s.db()).unwrap();
    cha.deploy_all(configs(), "ci").unwrap();
    let e = cha
        .update_flag(
            "intelligent_pipe_sizing",
            &json!({"type": "time_based", "schedule": []}),
            "ops",
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(
        e.message(),
        "intelligent_pipe_sizing.start_time: a time_based flag needs `start_time`, `end_time` or `schedule`"
    );
    // Empty lists beside what a type needs are accepted, and read back.
    cha.update_flag(
        "window",
        &json!({"type": "time_based", "enabled": true, "schedule": [],
                "start_time": "2026-01-01T00:00:00Z"}),
        "ops",
    )
    .unwrap();
    cha.update_flag(
        "split",
        &json!({"type": "a_b_test", "experiment": "pipe_sizing_comparison", "variants": []}),
        "ops",
    )
    .unwrap();
    cha.close().unwrap();
    let cha = Cha::open(s.db()).unwrap();
    let ctx = cha_deploy::flags::Context::user("u1");
    assert!(cha.is_enabled("window", &ctx).unwrap());
    cha.flag("split").unwrap();
    cha.close().unwrap();
}
