//! The `cha-deploy` command-line tool, run as a user would.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cha-cli-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("cha.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cha(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cha-deploy"))
        .args(args)
        .current_dir(dir)
        .env_remove("CHA_DB")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn init_creates_the_default_database_in_the_working_folder() {
    let s = Scratch::new("init");
    let o = cha(&s.0, &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("initialised cha.db (schema version"),
        "{}",
        stdout(&o)
    );
    assert!(s.db().exists());
}

#[test]
fn db_flag_and_env_choose_the_file() {
    let s = Scratch::new("dbflag");
    let o = cha(&s.0, &["--db", "other.db", "init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s.0.join("other.db").exists());
    let o = Command::new(env!("CARGO_BIN_EXE_cha-deploy"))
        .args(["init"])
        .current_dir(&s.0)
        .env("CHA_DB", "from-env.db")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s.0.join("from-env.db").exists());
}

#[test]
fn doctor_reports_in_json() {
    let s = Scratch::new("doctor");
    assert!(cha(&s.0, &["init"]).status.success());
    let o = cha(&s.0, &["--json", "doctor"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["library_version"], cha_deploy::VERSION);
    assert_eq!(v["database"]["schema_version"], cha_deploy::SCHEMA_VERSION);
    assert_eq!(v["database"]["journal_mode"], "wal");
    assert!(v["database"]["file_size_bytes"].as_u64().unwrap() > 0);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["writable"], true);
    assert_eq!(v["integrity"], "ok");
    let o = cha(&s.0, &["doctor"]);
    assert!(stdout(&o).contains("journal mode    wal"), "{}", stdout(&o));
    assert!(stdout(&o).contains("status          ok"), "{}", stdout(&o));
}

#[test]
fn version_prints_library_and_schema() {
    let s = Scratch::new("version");
    let o = cha(&s.0, &["--json", "version"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["version"], cha_deploy::VERSION);
    assert_eq!(v["schema_version"], cha_deploy::SCHEMA_VERSION);
    assert!(!s.db().exists(), "version must not create a database");
}

#[test]
fn errors_are_one_line_with_a_documented_exit_code() {
    let s = Scratch::new("errors");
    let o = cha(&s.0, &["--db", "missing/folder/cha.db", "init"]);
    assert_eq!(o.status.code(), Some(6), "storage errors exit with 6");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("cha-deploy: error: missing/folder/cha.db: "),
        "{err}"
    );
    let o = cha(&s.0, &["no-such-command"]);
    assert_eq!(o.status.code(), Some(2), "usage errors exit with 2");
}

#[test]
fn demo_runs_without_touching_the_working_folder() {
    let s = Scratch::new("demo");
    let o = cha(&s.0, &["demo", "--users", "30", "--weeks", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("cha-deploy"));
    assert!(!s.db().exists());
    assert_eq!(
        std::fs::read_dir(&s.0).unwrap().count(),
        0,
        "the working folder is untouched"
    );
    // The database and the report are kept in a folder of their own.
    let report = out
        .lines()
        .find_map(|l| l.strip_prefix("Report    "))
        .unwrap_or_else(|| panic!("no report path in\n{out}"));
    let folder = Path::new(report).parent().unwrap().to_path_buf();
    assert!(
        folder.starts_with(std::env::temp_dir()),
        "{}",
        folder.display()
    );
    assert!(folder.join("cha.db").is_file() && Path::new(report).is_file());
    std::fs::remove_dir_all(folder).unwrap();
}

#[cfg(unix)]
#[test]
fn init_file_mode_shares_the_database_with_a_group() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("file-mode");
    let o = cha(&s.0, &["init", "--file-mode", "0660"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = std::fs::metadata(s.db()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let o = cha(&s.0, &["--db", "other.db", "init", "--file-mode", "0606"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("every user of the machine"),
        "{}",
        stderr(&o)
    );
    assert!(!s.0.join("other.db").exists());
}
