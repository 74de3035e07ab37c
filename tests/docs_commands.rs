//! Every `cha-deploy` command shown in README.md and docs/RUNBOOK.md runs, as
//! written and in the order written, against a scratch database: the docs
//! cannot go stale without this test failing.
//!
//! A command is a line of a ```sh block that starts with `cha-deploy `. It
//! runs through bash (so `> state.json` works) with the binary under test
//! first on PATH. Commands that run until interrupted (`--watch`, `serve`)
//! run for two seconds. What the docs take for granted, the test provides
//! first: an alert firing before the first command about alerts, and
//! feedback before the first command about feedback, each made through the
//! CLI itself.
#![cfg(feature = "cli")]

mod common;

use std::path::Path;
use std::process::Command;

use common::cli::Scratch;

/// The `cha-deploy` lines of the ```sh blocks of `doc`, with their trailing
/// comments removed, and the line number of each.
fn commands(doc: &str) -> Vec<(usize, String)> {
    let mut in_sh = false;
    let mut out = Vec::new();
    for (i, line) in doc.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_sh = !in_sh && lang == "sh";
            continue;
        }
        if in_sh && trimmed.starts_with("cha-deploy ") {
            out.push((i + 1, strip_comment(trimmed).to_string()));
        }
    }
    out
}

/// `line` without a `  # comment` outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'\'' | b'"') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'#') if i > 0 && bytes[i - 1] == b' ' => return line[..i].trim_end(),
            _ => {}
        }
    }
    line
}

/// A scratch folder with `configs/`, `examples/unleash_features.json` and
/// the binary as `cha-deploy` on PATH.
fn workspace(name: &str) -> Scratch {
    let s = Scratch::new(name);
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    std::fs::create_dir_all(s.0.join("configs")).unwrap();
    for entry in std::fs::read_dir(&configs).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, s.0.join("configs").join(path.file_name().unwrap())).unwrap();
        }
    }
    // The Unleash document the import examples read.
    std::fs::create_dir_all(s.0.join("examples")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/unleash_features.json"),
        s.0.join("examples/unleash_features.json"),
    )
    .unwrap();
    std::fs::create_dir_all(s.0.join("bin")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cha-deploy"), s.0.join("bin/cha-deploy"))
        .unwrap();
    s
}

/// Runs `line` with bash in `s`; returns (exit code, stdout, stderr).
fn sh(s: &Scratch, line: &str) -> (Option<i32>, String, String) {
    let runs_until_interrupted = line.contains("--watch") || line.contains(" serve");
    let script = if runs_until_interrupted {
        format!("timeout 2 {line}")
    } else {
        line.to_string()
    };
    let path = format!(
        "{}:{}",
        s.0.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("bash")
        .args(["-c", &script])
        .current_dir(&s.0)
        .env("PATH", path)
        .env("USER", "night-shift")
        .env_remove("CHA_DB")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let code = match o.status.code() {
        Some(124) if runs_until_interrupted => Some(0),
        code => code,
    };
    (
        code,
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn must(s: &Scratch, line: &str) -> String {
    let (code, out, err) = sh(s, line);
    assert_eq!(code, Some(0), "{line}\n{out}{err}");
    out
}

/// An alert of `pipe_sizing_time_ms` firing (critical: p95 over 10 s for
/// more than its two minutes), as recorded and evaluated from the CLI.
fn fire_alert(s: &Scratch) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = |secs_ago: i64| rfc3339(now - secs_ago);
    for ago in [200, 170, 140, 100, 60, 20] {
        must(
            s,
            &format!(
                "cha-deploy metrics record pipe_sizing_time_ms 12 --kind timer --at {}",
                at(ago)
            ),
        );
    }
    must(s, &format!("cha-deploy metrics evaluate --at {}", at(150)));
    must(s, &format!("cha-deploy metrics evaluate --at {}", at(0)));
    let firing = must(s, "cha-deploy --json metrics alerts");
    assert!(firing.contains("pipe_sizing_time_ms"), "{firing}");
}

fn submit_feedback(s: &Scratch) {
    must(
        s,
        "cha-deploy feedback submit bug-report 'The pressure drop on the return line is far too high, results are wrong' --user planner-042",
    );
    must(
        s,
        "cha-deploy feedback submit bug-report 'Since Monday the results for network north-7 look off' --user planner-043",
    );
}

/// Unix seconds as RFC 3339 UTC, as the CLI prints them.
fn rfc3339(secs: i64) -> String {
    let o = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// Runs the commands of `doc` in order in a fresh workspace.
fn run_doc(name: &str, doc_path: &str, setup: impl Fn(&Scratch)) -> usize {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(doc_path))
        .unwrap_or_else(|e| panic!("{doc_path}: {e}"));
    let lines = commands(&text);
    let s = workspace(name);
    setup(&s);
    let (mut alerted, mut fed_back) = (false, false);
    for (n, line) in &lines {
        if !alerted && line.contains("metrics alerts") {
            fire_alert(&s);
            alerted = true;
        }
        if !fed_back && (line.contains("feedback list") || line.contains("feedback show")) {
            // The docs' own submissions are enough where they have some.
            let listed = must(&s, "cha-deploy --json feedback list");
            if listed.trim() == "[]" || !listed.contains("\"id\"") {
                submit_feedback(&s);
            }
            fed_back = true;
        }
        let (code, out, err) = sh(&s, line);
        assert_eq!(
            code,
            Some(0),
            "{doc_path}:{n}: `{line}` failed\nstdout:\n{out}\nstderr:\n{err}"
        );
    }
    lines.len()
}

#[test]
fn every_command_of_the_readme_runs() {
    let ran = run_doc("docs-readme", "README.md", |_| {});
    assert!(ran >= 60, "only {ran} commands found in README.md");
}

#[test]
fn every_command_of_the_runbook_runs() {
    // The release before the one the runbook deploys, so that there is a
    // deployment to roll back to.
    let ran = run_doc("docs-runbook", "docs/RUNBOOK.md", |s| {
        must(
            s,
            "cha-deploy deploy --config-dir configs --actor previous-release",
        );
        must(
            s,
            "cha-deploy flags rollout intelligent_pipe_sizing 10 --actor previous-release",
        );
        must(
            s,
            "cha-deploy deploy --config-dir configs --overwrite --actor previous-release",
        );
    });
    assert!(ran >= 30, "only {ran} commands found in docs/RUNBOOK.md");
}

#[test]
fn comments_are_cut_outside_quotes_only() {
    assert_eq!(
        strip_comment("cha-deploy status   # now"),
        "cha-deploy status"
    );
    assert_eq!(
        strip_comment("cha-deploy flags pause f --reason 'p95 # over' # why"),
        "cha-deploy flags pause f --reason 'p95 # over'"
    );
    assert_eq!(
        commands("text\n```sh\ncha-deploy a  # x\ncargo b\n```\n```c\ncha-deploy no\n```\n"),
        [(3, "cha-deploy a".to_string())]
    );
}
