//! No leaks, no growth: rounds of the calls a simulation tool makes all day
//! (`tests/leaks/calls.c`, `tests/leaks/calls.py`), from C under
//! LeakSanitizer, from C without it watching resident memory, and from
//! Python watching resident memory and live objects. 20,000 rounds by
//! default (each round is about eight calls), so that the debug build
//! stays quick; `CHA_SOAK=1` makes it a million, best with the release
//! build: `CHA_SOAK=1 cargo test --release --test leaks -- --nocapture`.

mod common;

use std::process::Command;

use common::{TempDir, repo_root, require_tool, run, shared_library};

/// Memory that may come and go between the two readings (allocator
/// arenas, SQLite's page cache filling up): growth beyond it is a leak.
const GROWTH_ALLOWED_KB: i64 = 4096;

fn rounds() -> u64 {
    if std::env::var_os("CHA_SOAK").is_some() {
        1_000_000
    } else {
        20_000
    }
}

/// The two figures of a "NAME A B" line.
fn figures(output: &str, name: &str) -> (i64, i64) {
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} line in {output:?}"));
    let mut numbers = line.split(' ').map(|n| n.parse::<i64>().unwrap());
    (numbers.next().unwrap(), numbers.next().unwrap())
}

fn build_c(work: &TempDir, name: &str, flags: &[&str]) -> std::path::PathBuf {
    let lib_dir = shared_library().parent().unwrap().to_path_buf();
    let exe = work.path().join(name);
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .args(flags)
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(repo_root().join("tests/leaks/calls.c"))
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lcha_deploy")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-o")
        .arg(&exe))
    .unwrap_or_else(|e| panic!("{e}"));
    exe
}

#[test]
fn rounds_of_calls_from_c_leak_nothing_and_do_not_grow() {
    require_tool("cc", &["--version"], "apt-get install build-essential");
    let work = TempDir::new("leaks-c");
    let configs = repo_root().join("configs");
    let rounds = rounds().to_string();

    // LeakSanitizer: exits non-zero, naming the allocation, on any leak.
    let sanitized = build_c(
        &work,
        "calls-asan",
        &["-fsanitize=address", "-fno-omit-frame-pointer"],
    );
    run(common::c_program(&sanitized)
        .arg(work.path().join("asan.db"))
        .arg(&configs)
        .arg(&rounds)
        .env("ASAN_OPTIONS", "detect_leaks=1"))
    .unwrap_or_else(|e| panic!("{e}"));

    let plain = build_c(&work, "calls", &["-O2"]);
    let out = run(common::c_program(&plain)
        .arg(work.path().join("plain.db"))
        .arg(&configs)
        .arg(&rounds))
    .unwrap_or_else(|e| panic!("{e}"));
    let (after_a_fifth, at_the_end) = figures(&String::from_utf8_lossy(&out.stdout), "rss");
    println!(
        "C, {rounds} rounds: resident {after_a_fifth} KB after a fifth, {at_the_end} KB at the end"
    );
    assert!(
        at_the_end - after_a_fifth <= GROWTH_ALLOWED_KB,
        "resident memory grew from {after_a_fifth} KB to {at_the_end} KB"
    );
}

#[test]
fn rounds_of_calls_from_python_do_not_grow() {
    require_tool("python3", &["--version"], "apt-get install python3");
    let work = TempDir::new("leaks-py");
    let rounds = rounds().to_string();
    let out = run(Command::new("python3")
        .arg(repo_root().join("tests/leaks/calls.py"))
        .arg(work.path().join("py.db"))
        .arg(repo_root().join("configs"))
        .arg(&rounds)
        .env("PYTHONPATH", repo_root().join("bindings/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CHA_DEPLOY_LIB", shared_library()))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let (rss_fifth, rss_end) = figures(&text, "rss");
    let (objects_fifth, objects_end) = figures(&text, "objects");
    println!(
        "Python, {rounds} rounds: resident {rss_fifth} KB -> {rss_end} KB, \
         live objects {objects_fifth} -> {objects_end}"
    );
    assert!(
        rss_end - rss_fifth <= GROWTH_ALLOWED_KB,
        "resident memory grew from {rss_fifth} KB to {rss_end} KB"
    );
    assert!(
        objects_end - objects_fifth <= 100,
        "live Python objects grew from {objects_fifth} to {objects_end}"
    );
}
