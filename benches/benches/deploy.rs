//! Deployments of cha-deploy, beside anchors measured in the same run (see
//! ../../BENCHMARKS.md, section "Deployments"):
//!
//! (a) rollback of 10,000 flags: two deployments that differ in every
//!     flag's percentage, then rollbacks to one and the other in turns, each
//!     rewriting 10,000 definitions (backup, plan, transaction, history row
//!     included); beside its anchors, bare rusqlite doing the least a
//!     rollback must do (one transaction updating 10,000 rows of the same
//!     JSON and appending 10,000 audit rows), and an online backup of a
//!     database of the same size;
//! (b) rollback of the shipped configs (10 flags, 3 tests), and a deploy of
//!     them that changes nothing.
//!
//!     cargo bench --manifest-path benches/Cargo.toml --bench deploy

use std::path::{Path, PathBuf};
use std::time::Instant;

use cha_deploy::{Cha, DeployOptions, OnDrift, OpenOptions};
use rusqlite::{Connection, params};

#[path = "common/measure.rs"]
mod measure;
use measure::median;

/// Rollbacks (or anchor rounds) timed per benchmark.
const ROUNDS: usize = 12;
const FLAGS: usize = 10_000;

/// A fresh folder, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cha-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// feature_flags.yml with `FLAGS` percentage flags at `percentage`.
fn many_flags(dir: &Path, percentage: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let mut yaml = String::from("version: 2\nflags:\n");
    for i in 0..FLAGS {
        yaml.push_str(&format!(
            "  flag_{i:05}:\n    type: percentage\n    description: Rollout {i} of the pipe-sizing method.\n    enabled: true\n    percentage: {percentage}\n    metadata: {{component: pipe_sizing, owner: network-team}}\n"
        ));
    }
    std::fs::write(dir.join("feature_flags.yml"), yaml).unwrap();
}

fn options() -> DeployOptions {
    DeployOptions {
        actor: Some("bench".into()),
        on_drift: OnDrift::Refuse,
        ..DeployOptions::default()
    }
}

/// Milliseconds of each of `ROUNDS` calls of `f(round)`.
fn timed(mut f: impl FnMut(usize)) -> Vec<f64> {
    (0..ROUNDS)
        .map(|round| {
            let started = Instant::now();
            f(round);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

/// The anchor: the rows a rollback of `FLAGS` definitions must write, with
/// nothing else, in one transaction per round.
fn bare_sqlite(dir: &Path, json: &[String; 2]) -> Vec<f64> {
    let conn = Connection::open(dir.join("bare.db")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE definitions (kind TEXT NOT NULL, name TEXT NOT NULL, definition_json TEXT NOT NULL,
             version INTEGER NOT NULL, PRIMARY KEY (kind, name)) STRICT, WITHOUT ROWID;
         CREATE TABLE audit_log (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL,
             before_json TEXT, after_json TEXT) STRICT;",
    )
    .unwrap();
    {
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..FLAGS {
            tx.execute(
                "INSERT INTO definitions VALUES ('flag', ?1, ?2, 1)",
                params![format!("flag_{i:05}"), json[0]],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    timed(|round| {
        let (before, after) = (&json[round % 2], &json[(round + 1) % 2]);
        let tx = conn.unchecked_transaction().unwrap();
        let mut update = tx
            .prepare_cached(
                "UPDATE definitions SET definition_json = ?2, version = version + 1 WHERE kind = 'flag' AND name = ?1",
            )
            .unwrap();
        let mut audit = tx
            .prepare_cached(
                "INSERT INTO audit_log (kind, subject, before_json, after_json) VALUES ('flag', ?1, ?2, ?3)",
            )
            .unwrap();
        for i in 0..FLAGS {
            let name = format!("flag_{i:05}");
            update.execute(params![name, after]).unwrap();
            audit.execute(params![name, before, after]).unwrap();
        }
        drop((update, audit));
        tx.commit().unwrap();
    })
}

fn main() {
    let s = Scratch::new("deploy");
    let (a, b) = (s.0.join("a"), s.0.join("b"));
    many_flags(&a, 25);
    many_flags(&b, 50);
    let cha = Cha::open_with_options(
        s.0.join("cha.db"),
        OpenOptions {
            backups_kept: 3,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    cha.deploy(&a, &options()).unwrap();
    let first_deploy_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    cha.deploy(&b, &options()).unwrap();
    let changing_deploy_ms = started.elapsed().as_secs_f64() * 1000.0;

    // (a) Rollbacks in turns: to deployment 1 (25%), then 2 (50%), ...
    let mut reported = Vec::new();
    let rollbacks = timed(|round| {
        let target = if round % 2 == 0 { 1 } else { 2 };
        let report = cha.rollback_deployment(target, &options()).unwrap();
        assert_eq!(report.changes["flags"].updated.len(), FLAGS);
        reported.push(report.duration_ms);
    });
    let db_bytes = std::fs::metadata(s.0.join("cha.db")).map_or(0, |m| m.len());

    // The anchors.
    let json = [25, 50].map(|p| {
        serde_json::json!({"description": "Rollout 0 of the pipe-sizing method.", "enabled": true,
            "metadata": {"component": "pipe_sizing", "owner": "network-team"}, "name": "flag_00000",
            "percentage": f64::from(p), "type": "percentage"})
        .to_string()
    });
    let bare = bare_sqlite(&s.0, &json);
    let backups = timed(|round| {
        let conn = Connection::open(s.0.join("cha.db")).unwrap();
        conn.backup(
            "main",
            s.0.join(format!("copy-{round}.db")),
            None::<fn(rusqlite::backup::Progress)>,
        )
        .unwrap();
    });
    let export = {
        let started = Instant::now();
        let text = cha.export_configuration().unwrap();
        (started.elapsed().as_secs_f64() * 1000.0, text.len())
    };
    cha.close().unwrap();

    // (b) The shipped configs.
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let shipped = Scratch::new("shipped");
    let changed = shipped.0.join("changed");
    std::fs::create_dir_all(&changed).unwrap();
    for file in ["feature_flags.yml", "ab_tests.yml"] {
        let text = std::fs::read_to_string(configs.join(file)).unwrap();
        std::fs::write(
            changed.join(file),
            text.replacen("percentage: 25", "percentage: 50", 1),
        )
        .unwrap();
    }
    let cha = Cha::open(shipped.0.join("cha.db")).unwrap();
    cha.deploy(&configs, &options()).unwrap();
    cha.deploy(&changed, &options()).unwrap();
    let small = timed(|round| {
        cha.rollback_deployment(if round % 2 == 0 { 1 } else { 2 }, &options())
            .unwrap();
    });
    cha.deploy(
        &configs,
        &DeployOptions {
            on_drift: OnDrift::Overwrite,
            ..options()
        },
    )
    .unwrap();
    let noop = timed(|_| {
        cha.deploy(&configs, &options()).unwrap();
    });
    cha.close().unwrap();

    let row = |name: &str, ms: &[f64]| {
        let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
        format!("| {name} | {:.1} | {:.1} |", median(ms.to_vec()), min)
    };
    println!("## Deployments ({FLAGS} flags; {ROUNDS} rounds each, in ms)\n");
    println!("| what | median | fastest |");
    println!("|---|---|---|");
    println!(
        "{}",
        row(
            &format!("rollback of {FLAGS} flags (cha-deploy, total)"),
            &rollbacks
        )
    );
    println!(
        "{}",
        row("  as the rollback reports it (backup included)", &reported)
    );
    println!(
        "{}",
        row(
            &format!("anchor: bare SQLite, {FLAGS} updates + {FLAGS} audit rows"),
            &bare
        )
    );
    println!(
        "{}",
        row(
            &format!(
                "anchor: online backup of the database ({:.1} MB)",
                db_bytes as f64 / 1e6
            ),
            &backups
        )
    );
    println!(
        "{}",
        row(
            "rollback of the shipped configs (10 flags, 3 tests)",
            &small
        )
    );
    println!(
        "{}",
        row("deploy of the shipped configs that changes nothing", &noop)
    );
    println!(
        "\nrollback / bare SQLite writes: {:.2}x; first deploy of {FLAGS} flags {:.0} ms, a deploy changing all of them {:.0} ms; export {:.1} ms ({} bytes)",
        median(rollbacks.clone()) / median(bare.clone()),
        first_deploy_ms,
        changing_deploy_ms,
        export.0,
        export.1
    );
}
