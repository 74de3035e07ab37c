//! Running the `cha-deploy` binary as an operator would, in a scratch folder
//! of its own: shared by `cli_flags.rs` and `cli_ab.rs`.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A scratch folder that is the working directory of the commands run in
/// it, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cha-cli-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Runs the binary here with `args`; `$CHA_DB` unset, `$USER` fixed.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cha-deploy"))
            .args(args)
            .current_dir(&self.0)
            .env_remove("CHA_DB")
            .env("USER", "night-shift")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs with `--json` and expects success; returns the parsed output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// Runs and expects failure with `code`, nothing on stdout and (but for
    /// clap's usage errors, code 2) a one-line error; returns the error.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout on error");
        if code != 2 {
            assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
            assert!(err.starts_with("cha-deploy: error: "), "{err}");
        }
        err
    }

    /// Deploys the repository's configs/ into ./cha.db as `ci`.
    pub fn deployed(name: &str) -> Scratch {
        let s = Scratch::new(name);
        s.ok(&["deploy", "--config-dir", &configs(), "--actor", "ci"]);
        s
    }

    pub fn db(&self) -> PathBuf {
        self.0.join("cha.db")
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The repository's configs/ folder.
pub fn configs() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .display()
        .to_string()
}
