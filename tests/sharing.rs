//! One database shared at once by a C process, a Python process and the CLI,
//! for about ten seconds (`CHA_SHARING_SECONDS` changes it):
//!
//! - the CLI switches the flag `flow_based_calculation` off and on again and
//!   again; after each switch both processes must see it (each prints the
//!   changes it sees) before the next one;
//! - the C and the Python process record observations, counter increments
//!   and feedback all the while; at the end every record is in the
//!   database, by exact counts;
//! - no call in any of them fails: no "database is locked" reaches a caller;
//! - `PRAGMA integrity_check` is ok.
//!
//! The programs are `tests/sharing/writer.c` and `tests/sharing/writer.py`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use cha_deploy::{Cha, FeedbackQuery};
use common::{TempDir, repo_root, require_tool, run, shared_library};

const FLAG: &str = "flow_based_calculation";

/// A writer process and the lines it prints, as they come.
struct Writer {
    name: &'static str,
    child: Child,
    lines: Receiver<String>,
}

impl Writer {
    fn spawn(name: &'static str, command: &mut Command) -> Writer {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name} writer: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Writer { name, child, lines }
    }

    /// Waits for the line `want`; any other line but an earlier "seen" is a
    /// failure (an error the process printed before exiting).
    fn expect(&self, want: &str) -> Duration {
        let started = Instant::now();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line == want => return started.elapsed(),
                Ok(line) if line.starts_with("seen ") => continue,
                Ok(line) => panic!("the {} writer printed {line:?}", self.name),
                Err(e) => panic!("the {} writer never printed {want:?}: {e}", self.name),
            }
        }
    }

    /// Waits for the process to end; returns its "recorded" counts.
    fn finish(mut self) -> [u64; 3] {
        let status = self.child.wait().unwrap();
        let mut recorded = None;
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            if let Some(counts) = line.strip_prefix("recorded ") {
                let counts: Vec<u64> = counts.split(' ').map(|n| n.parse().unwrap()).collect();
                recorded = Some([counts[0], counts[1], counts[2]]);
            } else if !line.starts_with("seen ") {
                panic!("the {} writer printed {line:?}", self.name);
            }
        }
        assert!(
            status.success(),
            "the {} writer exited with {status}",
            self.name
        );
        recorded.unwrap_or_else(|| panic!("the {} writer printed no counts", self.name))
    }
}

fn cli(db: &Path, args: &[&str]) {
    run(Command::new(env!("CARGO_BIN_EXE_cha-deploy"))
        .arg("--db")
        .arg(db)
        .args(args))
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_c_a_python_process_and_the_cli_share_one_database() {
    require_tool("cc", &["--version"], "apt-get install build-essential");
    require_tool("python3", &["--version"], "apt-get install python3");
    let seconds: u64 = std::env::var("CHA_SHARING_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let work = TempDir::new("sharing");
    let db = work.path().join("shared.db");
    let stop = work.path().join("stop");
    cli(&db, &["init"]);
    cli(
        &db,
        &[
            "deploy",
            "--config-dir",
            repo_root().join("configs").to_str().unwrap(),
        ],
    );

    let lib = shared_library();
    let lib_dir = lib.parent().unwrap();
    let exe = work.path().join("writer");
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(repo_root().join("tests/sharing/writer.c"))
        .arg("-L")
        .arg(lib_dir)
        .arg("-lcha_deploy")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-o")
        .arg(&exe))
    .unwrap_or_else(|e| panic!("{e}"));

    let c = Writer::spawn("C", common::c_program(&exe).arg(&db).arg("c").arg(&stop));
    let python = Writer::spawn(
        "Python",
        Command::new("python3")
            .arg(repo_root().join("tests/sharing/writer.py"))
            .arg(&db)
            .arg("python")
            .arg(&stop)
            .env("PYTHONPATH", repo_root().join("bindings/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("CHA_DEPLOY_LIB", &lib),
    );
    let writers = [&c, &python];
    for w in writers {
        w.expect("seen on");
    }

    // The CLI switches the flag while both write; each switch must reach
    // both before the next.
    let started = Instant::now();
    let mut switches = 0;
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(seconds) {
        for (command, seen) in [("disable", "seen off"), ("enable", "seen on")] {
            cli(&db, &["flags", command, FLAG]);
            switches += 1;
            for w in writers {
                slowest = slowest.max(w.expect(seen));
            }
        }
    }
    std::fs::write(&stop, "").unwrap();
    let [c_observations, c_increments, c_items] = c.finish();
    let [py_observations, py_increments, py_items] = python.finish();
    println!(
        "{switches} switches seen by both (slowest {slowest:?}); C recorded \
         {c_observations} observations, {c_increments} increments, {c_items} feedback items; \
         Python {py_observations}, {py_increments}, {py_items}"
    );
    assert!(switches >= 2 && c_items > 0 && py_items > 0);

    // Every record is there, by exact counts.
    let cha = Cha::open(&db).unwrap();
    let analysis = serde_json::to_value(
        cha.analyze_experiment("pipe_sizing_comparison", Default::default())
            .unwrap(),
    )
    .unwrap();
    let exposures: u64 = analysis["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["exposures"].as_u64().unwrap())
        .sum();
    assert_eq!(exposures, c_observations + py_observations);
    let metric = analysis["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "pipe_cost_efficiency")
        .unwrap();
    let observed = metric["control"]["n"].as_u64().unwrap()
        + metric["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["treatment"]["n"].as_u64().unwrap())
            .sum::<u64>();
    assert_eq!(observed, c_observations + py_observations);

    let report = serde_json::to_value(cha.performance_report(0, 0).unwrap()).unwrap();
    let operations = report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "sharing_operations")
        .unwrap();
    assert_eq!(
        operations["sum"].as_f64().unwrap(),
        (c_increments + py_increments) as f64
    );
    for (user, items) in [("c", c_items), ("python", py_items)] {
        let query = FeedbackQuery {
            user_id: Some(user.to_string()),
            limit: 100_000,
            ..FeedbackQuery::default()
        };
        assert_eq!(
            cha.list_feedback(&query).unwrap().len() as u64,
            items,
            "{user}"
        );
    }
    drop(cha);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}
