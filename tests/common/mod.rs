//! Shared by the integration tests that drive programs in other languages
//! (`c_abi.rs`, `python.rs`): where the freshly built library is, temporary
//! folders, and running a command with its output kept for the failure message.

#![allow(dead_code)] // each test binary uses a different part

pub mod cli;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where `cargo test` leaves the C libraries of this build.
///
/// Integration-test executables live in `target/<profile>/deps/`. Before it
/// runs them, cargo builds the library in every crate type of Cargo.toml into
/// that same folder (`libcha_deploy.a`, `libcha_deploy.so`); it copies them
/// up to `target/<profile>/` only for `cargo build`, so the copies there may
/// be stale or missing, and the ones next to the test executable are used.
pub fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    exe.parent()
        .expect("the test executable lives in target/<profile>/deps/")
        .to_path_buf()
}

/// The static library `libcha_deploy.a` of this build.
pub fn static_library() -> PathBuf {
    built_library("libcha_deploy.a")
}

/// The shared library (`libcha_deploy.so` on Linux) of this build.
///
/// Its SONAME is `libcha_deploy.so.<major>`, the name a program linked
/// against it asks the loader for; cargo leaves no file of that name in
/// `deps/`, so a link to the library is made there (the build script makes
/// the same one in `target/<profile>/`).
pub fn shared_library() -> PathBuf {
    let path = built_library(&format!(
        "{}cha_deploy{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    #[cfg(target_os = "linux")]
    {
        let soname = path.with_file_name(format!(
            "libcha_deploy.so.{}",
            env!("CARGO_PKG_VERSION_MAJOR")
        ));
        if std::fs::symlink_metadata(&soname).is_err() {
            // Another test may make it at the same moment: either link will do.
            let _ = std::os::unix::fs::symlink("libcha_deploy.so", &soname);
        }
    }
    path
}

fn built_library(file: &str) -> PathBuf {
    let path = library_dir().join(file);
    assert!(
        path.is_file(),
        "{} is missing: `cargo test` builds it next to the test executables \
         as long as Cargo.toml's [lib] crate-type keeps \"cdylib\" and \"staticlib\"",
        path.display()
    );
    path
}

/// Fails with a clear message when `tool` cannot be run, instead of letting
/// a test pass without having tested anything.
pub fn require_tool(tool: &str, args: &[&str], install_hint: &str) {
    match Command::new(tool).args(args).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{tool} {}` failed ({}): {}{}\n{install_hint}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run `{tool}`: {e}\n{install_hint}"),
    }
}

/// Runs `command` and returns its output, or an error that shows the command
/// line, the exit status, stdout and stderr.
pub fn run(command: &mut Command) -> Result<Output, String> {
    let line = format!("{command:?}");
    let out = command
        .output()
        .map_err(|e| format!("cannot run {line}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{line}\nexited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A fresh folder under the system temp dir, removed with everything in it
/// when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "cha-deploy-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A command running the compiled C program `exe`, which finds the library
/// through its RUNPATH: without cargo's LD_LIBRARY_PATH, which names
/// target/<profile>/ before it, where a stale copy of the shared library
/// from an earlier `cargo build` would be loaded instead of this build's.
pub fn c_program(exe: &Path) -> Command {
    let mut command = Command::new(exe);
    command.env_remove("LD_LIBRARY_PATH");
    command
}

/// SQL counting the raw observations a database keeps: the blocks the
/// library writes and the rows of the `observations` table (older versions,
/// other tools).
pub const RAW_OBSERVATIONS: &str = "SELECT (SELECT COUNT(*) FROM observations)
     + (SELECT COALESCE(SUM(observations), 0) FROM observation_blocks)";

/// One raw observation, as the export gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawObservation {
    pub id: i64,
    pub unit: String,
    pub variant: String,
    pub metric: String,
    pub value: f64,
    pub at_ms: i64,
}

/// Every raw observation of `experiment` in the database `db`, in id
/// order, read through the library's export (blocks are binary). Unit ids
/// must not need CSV quoting.
pub fn raw_observations(db: &Path, experiment: &str) -> Vec<RawObservation> {
    let cha = cha_deploy::Cha::open(db).unwrap();
    let mut csv = Vec::new();
    cha.export_observations(experiment, &mut csv).unwrap();
    cha.close().unwrap();
    String::from_utf8(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert!(f.len() == 6 && !line.contains('"'), "{line}");
            RawObservation {
                id: f[0].parse().unwrap(),
                unit: f[1].to_string(),
                variant: f[2].to_string(),
                metric: f[3].to_string(),
                value: f[4].parse().unwrap(),
                at_ms: f[5].parse().unwrap(),
            }
        })
        .collect()
}
