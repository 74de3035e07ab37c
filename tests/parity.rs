//! The same answers everywhere: for 10,000 users with varied contexts
//! (groups, environments, sites, network sizes, tool versions, e-mail
//! addresses, remote addresses), C, C++, Python and the CLI give identical
//! flag evaluations of five targeted flags, typed values (a double, an int,
//! a JSON payload's variant) and A/B assignments. The programs are in
//! `tests/parity/`; the flags are `tests/fixtures/targeting/feature_flags.yml`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TempDir, c_program, repo_root, require_tool, run, shared_library};
use serde_json::{Value, json};

const USERS: usize = 10_000;
const FLAGS: [&str; 5] = [
    "velocity_limit",
    "solver_v3",
    "pipe_catalogue",
    "max_iterations",
    "strict_report",
];

/// One user's answers, as every surface gives them.
#[derive(Debug, PartialEq)]
struct Answers {
    unit: String,
    on: [bool; 5],
    velocity: f64,
    iterations: i64,
    catalogue: String,
    assignment: String,
}

/// The tab-separated lines the programs print.
fn parse_lines(text: &str, surface: &str) -> Vec<Answers> {
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 10, "{surface}: {line}");
            Answers {
                unit: f[0].to_string(),
                on: std::array::from_fn(|i| f[1 + i] == "1"),
                velocity: f[6].parse().unwrap(),
                iterations: f[7].parse().unwrap(),
                catalogue: f[8].to_string(),
                assignment: f[9].to_string(),
            }
        })
        .collect()
}

/// The context of user `i`: a little of everything the flags target on.
fn context(i: usize) -> Value {
    let mut groups = Vec::new();
    if i.is_multiple_of(3) {
        groups.push("beta_testers");
    }
    if i.is_multiple_of(5) {
        groups.push("hydraulics_team");
    }
    let domain = if i.is_multiple_of(7) {
        "stadtwerke.EXAMPLE"
    } else {
        "other.example"
    };
    let environment = ["development", "staging", "production"][i % 3];
    let remote_address = if i.is_multiple_of(11) {
        format!("192.0.2.{}", i % 250)
    } else {
        format!("198.51.100.{}", i % 250)
    };
    let site = ["north-7", "harbour-2", "west-3", "north-7"][i % 4];
    let tool_version = ["2.3.9", "2.4.0", "2.5.1"][(i / 3) % 3];
    json!({
        "user_id": format!("user-{i}"),
        "groups": groups,
        "environment": environment,
        "remote_address": remote_address,
        "properties": {
            "site": site,
            "network_size": (i * 37) % 1500,
            "tool_version": tool_version,
            "network_id": format!("net-{}", i % 500),
            "email": format!("eng{i}@{domain}"),
        },
    })
}

fn cli(db: &Path, args: &[&str]) -> String {
    let out = run(Command::new(env!("CARGO_BIN_EXE_cha-deploy"))
        .arg("--db")
        .arg(db)
        .args(args))
    .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out.stdout).unwrap()
}

/// The JSON lines of a `--contexts` or `--units` run of the CLI.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn cli_answers(db: &Path, contexts: &Path, units: &Path, unit_ids: &[String]) -> Vec<Answers> {
    let contexts = contexts.to_str().unwrap();
    let value = |flag: &str, kind: &str, default: &str| {
        json_lines(&cli(
            db,
            &[
                "flags",
                "value",
                flag,
                "--type",
                kind,
                "--default",
                default,
                "--contexts",
                contexts,
            ],
        ))
    };
    let on: Vec<Vec<Value>> = FLAGS.iter().map(|f| value(f, "bool", "false")).collect();
    let velocity = value("velocity_limit", "double", "-1");
    let iterations = value("max_iterations", "int", "-1");
    let catalogue = value("pipe_catalogue", "json", "null");
    let assignments = json_lines(&cli(
        db,
        &[
            "ab",
            "peek",
            "pipe_sizing_comparison",
            "--units",
            units.to_str().unwrap(),
        ],
    ));
    let name = |v: &Value| v.as_str().unwrap_or("-").to_string();
    (0..unit_ids.len())
        .map(|i| Answers {
            unit: unit_ids[i].clone(),
            on: std::array::from_fn(|f| on[f][i]["value"].as_bool().unwrap()),
            velocity: velocity[i]["value"].as_f64().unwrap(),
            iterations: iterations[i]["value"].as_i64().unwrap(),
            catalogue: name(&catalogue[i]["variant"]),
            assignment: name(&assignments[i]["variant"]),
        })
        .collect()
}

fn compile(work: &TempDir, compiler: &str, source: &str, flags: &[&str]) -> PathBuf {
    let lib_dir = shared_library().parent().unwrap().to_path_buf();
    let exe = work.path().join(source.replace('.', "_"));
    run(Command::new(compiler)
        .args(flags)
        .args(["-Wall", "-Wextra", "-Werror", "-O1"])
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(repo_root().join("tests/parity").join(source))
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
fn c_cpp_python_and_the_cli_give_the_same_answers_for_10000_users() {
    require_tool("cc", &["--version"], "apt-get install build-essential");
    require_tool("c++", &["--version"], "apt-get install g++");
    require_tool("python3", &["--version"], "apt-get install python3");
    let work = TempDir::new("parity");
    let configs = work.path().join("configs");
    std::fs::create_dir(&configs).unwrap();
    std::fs::copy(
        repo_root().join("tests/fixtures/targeting/feature_flags.yml"),
        configs.join("feature_flags.yml"),
    )
    .unwrap();
    std::fs::copy(
        repo_root().join("configs/ab_tests.yml"),
        configs.join("ab_tests.yml"),
    )
    .unwrap();
    let db = work.path().join("parity.db");
    cli(&db, &["init"]);
    cli(&db, &["deploy", "--config-dir", configs.to_str().unwrap()]);

    let unit_ids: Vec<String> = (0..USERS).map(|i| format!("user-{i}")).collect();
    let contexts = work.path().join("contexts.jsonl");
    let units = work.path().join("units.txt");
    let lines: Vec<String> = (0..USERS).map(|i| context(i).to_string()).collect();
    std::fs::write(&contexts, lines.join("\n") + "\n").unwrap();
    std::fs::write(&units, unit_ids.join("\n") + "\n").unwrap();

    let c = compile(&work, "cc", "answers.c", &["-std=c11"]);
    let cpp = compile(&work, "c++", "answers.cpp", &["-std=c++17"]);
    let program = |exe: &Path| {
        let out = run(c_program(exe).arg(&db).arg(&contexts).arg(&units))
            .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out.stdout).unwrap()
    };
    let from_c = parse_lines(&program(&c), "C");
    let from_cpp = parse_lines(&program(&cpp), "C++");
    let python = run(Command::new("python3")
        .arg(repo_root().join("tests/parity/answers.py"))
        .arg(&db)
        .arg(&contexts)
        .arg(&units)
        .env("PYTHONPATH", repo_root().join("bindings/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CHA_DEPLOY_LIB", shared_library()))
    .unwrap_or_else(|e| panic!("{e}"));
    let from_python = parse_lines(&String::from_utf8(python.stdout).unwrap(), "Python");
    let from_cli = cli_answers(&db, &contexts, &units, &unit_ids);

    assert_eq!(from_c.len(), USERS);
    for (surface, answers) in [
        ("C++", &from_cpp),
        ("Python", &from_python),
        ("the CLI", &from_cli),
    ] {
        assert_eq!(answers.len(), USERS, "{surface}");
        for (a, b) in from_c.iter().zip(answers.iter()) {
            assert_eq!(a, b, "C and {surface} differ");
        }
    }

    // The answers vary, so that agreeing means something.
    // The targeted flags vary (pipe_catalogue and max_iterations are on for all).
    for f in [0, 1, 4] {
        let on = from_c.iter().filter(|a| a.on[f]).count();
        assert!(
            on > 0 && on < USERS,
            "{} is on for {on} of {USERS}",
            FLAGS[f]
        );
    }
    let distinct = |get: &dyn Fn(&Answers) -> String| {
        let mut values: Vec<String> = from_c.iter().map(get).collect();
        values.sort();
        values.dedup();
        values
    };
    assert!(distinct(&|a| a.velocity.to_string()).len() >= 2);
    assert!(distinct(&|a| a.catalogue.clone()).len() >= 2);
    assert_eq!(
        distinct(&|a| a.assignment.clone()),
        ["intelligent", "traditional"]
    );
}
