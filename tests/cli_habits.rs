//! The CLI as an operator's habits expect it: JSON errors with `--json`,
//! completions, colour only where it belongs, checks that write nothing,
//! suggestions for unknown names, terminal-safe output.
#![cfg(feature = "cli")]

mod common;

use std::process::Command;

use common::cli::Scratch;
use serde_json::Value;

/// The parsed `{"error": {...}}` on stderr of a failed `--json` command,
/// with its exit code checked.
fn json_error(s: &Scratch, args: &[&str], code: i32) -> Value {
    let o = s.run(args);
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?} printed to stdout on error");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    let v: Value = serde_json::from_str(&err).unwrap_or_else(|e| panic!("{e}: {err}"));
    v["error"].clone()
}

#[test]
fn with_json_errors_are_json_too() {
    let s = Scratch::deployed("json-errors");
    let e = json_error(&s, &["--json", "flags", "show", "no_such_flag"], 4);
    assert_eq!(e["status"], 4);
    assert_eq!(e["code"], "CHA_ERR_NOT_FOUND");
    assert_eq!(e["message"], "flag `no_such_flag` does not exist");
    // A usage error, found before any command runs, answers in JSON as well.
    let e = json_error(
        &s,
        &["flags", "rollout", "intelligent_pipe_sizing", "--json"],
        2,
    );
    assert_eq!(e["status"], 2);
    assert_eq!(e["code"], "usage");
    assert!(e["message"].as_str().unwrap().contains("required"), "{e}");
    let e = json_error(&s, &["--json", "--db", "nowhere/cha.db", "init"], 6);
    assert_eq!(e["code"], "CHA_ERR_STORAGE");
    // Without --json the same error is one line of text.
    let err = s.fails(&["flags", "show", "no_such_flag"], 4);
    assert_eq!(
        err,
        "cha-deploy: error: flag `no_such_flag` does not exist\n"
    );
}

#[test]
fn unknown_flag_and_test_names_get_a_suggestion() {
    let s = Scratch::deployed("did-you-mean");
    for args in [
        &["flags", "show", "intelligent_pipe_sizng"][..],
        &["flags", "eval", "intelligent_pipe_sizng", "--user", "u1"],
        &["flags", "disable", "intelligent_pipe_sizng"],
        &["flags", "history", "intelligent_pipe_sizng"],
    ] {
        let err = s.fails(args, 4);
        assert!(
            err.contains("did you mean `intelligent_pipe_sizing`?"),
            "{args:?}: {err}"
        );
    }
    for args in [
        &["ab", "show", "pipe_sizing_comparision"][..],
        &["ab", "assign", "pipe_sizing_comparision", "engineer-7"],
        &["ab", "analyze", "Pipe_Sizing_Comparison"],
        &[
            "ab",
            "plan",
            "pipe_sizing",
            "pipe_cost_efficiency",
            "--baseline-mean",
            "40",
            "--baseline-sd",
            "8",
        ],
    ] {
        let err = s.fails(args, 4);
        assert!(
            err.contains("did you mean `pipe_sizing_comparison`?"),
            "{args:?}: {err}"
        );
    }
    let err = s.fails(&["flags", "show", "velocity_limit"], 4);
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let s = Scratch::new("completions");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef cha-deploy"),
        ("fish", "complete -c cha-deploy"),
    ] {
        let text = s.ok(&["completions", shell]);
        assert!(text.contains(marker), "{shell}: {text}");
        for word in ["rollback", "flags", "feedback", "metrics"] {
            assert!(text.contains(word), "{shell} lacks {word}");
        }
    }
    s.fails(&["completions", "powershell-classic"], 2);
    assert!(!s.db().exists(), "completions must not create a database");
}

#[test]
fn bash_completion_script_loads_in_bash() {
    let s = Scratch::new("completions-bash");
    let script = s.ok(&["completions", "bash"]);
    let path = s.write("cha-deploy.bash", &script);
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p cha-deploy",
            path.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Runs `cha-deploy ARGS` on a pseudo-terminal (util-linux `script`), as an
/// operator at a terminal would; `None` where `script` is missing.
fn on_terminal(s: &Scratch, env: &[(&str, &str)], args: &str) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED: `script` (util-linux) is not installed; the terminal colour test did not run"
        );
        return None;
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_cha-deploy")))
        .arg("/dev/null")
        .current_dir(&s.0)
        .env_remove("NO_COLOR")
        .env_remove("CHA_DB")
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{args}: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    Some(String::from_utf8(o.stdout).unwrap())
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let s = Scratch::deployed("colour");
    let Some(terminal) = on_terminal(&s, &[], "flags list") else {
        return;
    };
    assert!(terminal.contains("\x1b[32myes\x1b[0m"), "{terminal:?}");
    let no_color = on_terminal(&s, &[("NO_COLOR", "1")], "flags list").unwrap();
    assert!(!no_color.contains('\x1b'), "{no_color:?}");
    let forced = on_terminal(&s, &[("NO_COLOR", "1")], "--color always flags list").unwrap();
    assert!(
        !forced.contains('\x1b'),
        "NO_COLOR wins over --color: {forced:?}"
    );
    let never = on_terminal(&s, &[], "--color never flags list").unwrap();
    assert!(!never.contains('\x1b'), "{never:?}");
    // Into a pipe: no colour unless asked for.
    let piped = s.ok(&["flags", "list"]);
    assert!(!piped.contains('\x1b'), "{piped:?}");
    let asked = s.ok(&["--color", "always", "flags", "list"]);
    assert!(asked.contains("\x1b[32myes\x1b[0m"), "{asked:?}");
}

#[test]
fn doctor_never_creates_a_database() {
    let s = Scratch::new("doctor-missing");
    let err = s.fails(&["doctor"], 4);
    assert!(err.contains("no such database"), "{err}");
    assert!(err.contains("cha-deploy init"), "{err}");
    assert!(!s.db().exists(), "doctor created {}", s.db().display());
    let e = json_error(&s, &["--json", "doctor"], 4);
    assert_eq!(e["code"], "CHA_ERR_NOT_FOUND");
    assert!(!s.db().exists());
}

#[test]
fn doctor_does_not_write_to_a_database() {
    let s = Scratch::deployed("doctor-readonly");
    let before = std::fs::read(s.db()).unwrap();
    let v = s.json(&["doctor"]);
    assert_eq!(v["status"], "ok");
    assert_eq!(std::fs::read(s.db()).unwrap(), before);
    // A read-only reader of a WAL database may leave SQLite's empty -wal
    // and -shm files behind for the next writer; never a frame in the WAL.
    let wal = std::fs::metadata(s.0.join("cha.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0);
    // Not a database: a clear storage error, and the file is left alone.
    s.write("notes.db", "pipe sizes, not SQLite\n");
    let err = s.fails(&["--db", "notes.db", "doctor"], 6);
    assert!(err.contains("notes.db"), "{err}");
    assert_eq!(
        std::fs::read_to_string(s.0.join("notes.db")).unwrap(),
        "pipe sizes, not SQLite\n"
    );
}

#[test]
fn template_output_creates_its_folder() {
    let s = Scratch::new("template-folder");
    let text = s.ok(&["flags", "template", "--output", "my/feature_flags.yml"]);
    assert!(text.starts_with("wrote my/feature_flags.yml"), "{text}");
    assert!(s.0.join("my/feature_flags.yml").is_file());
    s.ok(&["validate", "--config-dir", "my"]);
}

#[test]
fn control_characters_are_escaped_in_terminal_output() {
    let s = Scratch::deployed("escapes");
    let text = s.ok(&["ab", "assign", "pipe_sizing_comparison", "\x1b[31mred"]);
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(text.contains("\\x1b[31mred"), "{text:?}");
    // The error names the unknown flag escaped, too.
    let err = s.fails(&["flags", "show", "\x1b]0;owned\x07"], 4);
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    assert!(err.contains("\\x1b]0;owned\\x07"), "{err:?}");
    // JSON keeps the exact value, escaped the JSON way.
    let v = s.json(&["ab", "assign", "pipe_sizing_comparison", "\x1b[31mred"]);
    assert_eq!(v["unit"], "\x1b[31mred");
}
