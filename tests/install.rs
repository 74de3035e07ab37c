//! The installed tree, as a C or C++ user meets it: `tools/install.sh` (what
//! `make install` runs) into a scratch prefix, then programs built against
//! it the ways the README shows: pkg-config (shared and static), the static
//! archive next to the system's own SQLite, a CMake consumer, and the C
//! example `examples/c/pipe_sizing_sim.c` with its Makefile.
//!
//! The installed libraries are this test build's (debug) ones, so that the
//! test costs no release build; the layout and the symbol work are the same.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{TempDir, repo_root, require_tool, run, shared_library, static_library};

/// The prefix installed into once for all tests of this file (removed when
/// the test binary ends: see `installed_tree`).
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        require_tool("ld", &["--version"], "apt-get install binutils");
        let prefix = std::env::temp_dir().join(format!("cha-install-test-{}", std::process::id()));
        let built = shared_library().parent().unwrap().to_path_buf();
        assert_eq!(static_library().parent().unwrap(), built);
        run(Command::new(repo_root().join("tools/install.sh"))
            .args(["--no-build", "--from"])
            .arg(&built)
            .arg("--prefix")
            .arg(&prefix))
        .unwrap_or_else(|e| panic!("{e}"));
        prefix
    })
}

/// Every check of the installed tree, in one test so that the tree is
/// installed once and removed at the end.
#[test]
fn installed_tree() {
    struct Remove;
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(prefix());
        }
    }
    let _remove = Remove;
    the_shared_library_has_its_soname_and_no_debug_info();
    the_static_archive_exposes_only_the_c_abi();
    pkg_config_builds_a_program_shared_and_static();
    the_static_archive_links_next_to_the_system_sqlite();
    a_cmake_project_finds_the_package();
    the_c_example_builds_with_its_makefile();
}

fn lib(name: &str) -> PathBuf {
    prefix().join("lib").join(name)
}

/// `readelf ARGS FILE`'s output.
fn readelf(args: &[&str], file: &Path) -> String {
    let out = run(Command::new("readelf").args(args).arg(file)).unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out.stdout).unwrap()
}

const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn the_shared_library_has_its_soname_and_no_debug_info() {
    let real = lib(&format!("libcha_deploy.so.{VERSION}"));
    assert!(real.is_file());
    let soname = format!("libcha_deploy.so.{MAJOR}");
    assert_eq!(
        std::fs::read_link(lib(&soname)).unwrap(),
        Path::new(&format!("libcha_deploy.so.{VERSION}"))
    );
    assert_eq!(
        std::fs::read_link(lib("libcha_deploy.so")).unwrap(),
        Path::new(&soname)
    );
    let dynamic = readelf(&["-d"], &real);
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{dynamic}"
    );
    let sections = readelf(&["-S", "-W"], &real);
    assert!(!sections.contains(".debug_info"), "not stripped");
    // Every function of the header is exported.
    let symbols = readelf(&["-W", "--dyn-syms"], &real);
    for f in [
        "cha_open",
        "cha_flag_enabled",
        "cha_deploy_all",
        "cha_feedback_submit",
    ] {
        assert!(symbols.contains(f), "{f} not exported");
    }
}

fn the_static_archive_exposes_only_the_c_abi() {
    let archive = lib("libcha_deploy.a");
    let symbols = readelf(&["-W", "-s"], &archive);
    let globals: Vec<&str> = symbols
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num: Value Size Type Bind Vis Ndx Name
            (f.len() == 8 && matches!(f[4], "GLOBAL" | "WEAK") && f[6] != "UND").then(|| f[7])
        })
        .collect();
    assert!(globals.len() > 50, "{globals:?}");
    let foreign: Vec<&&str> = globals.iter().filter(|s| !s.starts_with("cha_")).collect();
    assert!(
        foreign.is_empty(),
        "global symbols besides cha_*: {foreign:?}"
    );
    assert!(!globals.contains(&"sqlite3_open_v2"));
    let sections = readelf(&["-S", "-W"], &archive);
    assert!(!sections.contains(".debug_info"), "not stripped");
}

/// A C program using the library: opens a database, deploys the shipped
/// configs, evaluates a flag; prints `ok`.
const APP: &str = r#"
#include <stdio.h>
#include "cha_deploy.h"
int main(int argc, char **argv) {
    cha_handle *h = NULL;
    if (argc < 3 || cha_open(argv[1], &h) != CHA_OK) return 1;
    char *report = NULL;
    if (cha_deploy_all(h, argv[2], &report) != CHA_OK) {
        fprintf(stderr, "%s\n", cha_last_error_message());
        return 2;
    }
    cha_string_free(report);
    bool on = false;
    if (cha_flag_enabled(h, "flow_based_calculation", "planner-1", NULL, 0, &on) != CHA_OK) return 3;
    cha_close(h);
    printf("ok %s %d\n", cha_version(), on);
    return 0;
}
"#;

fn pkg_config(args: &[&str]) -> Vec<String> {
    let out = run(Command::new("pkg-config")
        .args(args)
        .arg("cha_deploy")
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig")))
    .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Compiles `source` with `args` and runs it; returns its stdout.
fn build_and_run(work: &TempDir, name: &str, source: &str, args: &[String]) -> String {
    let src = work.path().join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = work.path().join(name);
    run(Command::new("cc").arg(&src).args(args).arg("-o").arg(&exe))
        .unwrap_or_else(|e| panic!("{e}"));
    let db = work.path().join(format!("{name}.db"));
    let out = run(common::c_program(&exe)
        .arg(&db)
        .arg(repo_root().join("configs")))
    .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out.stdout).unwrap()
}

fn pkg_config_builds_a_program_shared_and_static() {
    require_tool("pkg-config", &["--version"], "apt-get install pkg-config");
    assert_eq!(pkg_config(&["--modversion"]), [VERSION]);
    assert_eq!(
        pkg_config(&["--static", "--libs"]),
        [
            format!("-L{}", prefix().join("lib").display()),
            "-lcha_deploy".into(),
            "-lpthread".into(),
            "-ldl".into(),
            "-lm".into()
        ]
    );
    let work = TempDir::new("pkg-config-app");
    let rpath = format!("-Wl,-rpath,{}", prefix().join("lib").display());
    let mut shared = pkg_config(&["--cflags", "--libs"]);
    shared.push(rpath.clone());
    let text = build_and_run(&work, "app_shared", APP, &shared);
    assert!(text.starts_with(&format!("ok {VERSION}")), "{text}");
    let needed = readelf(&["-d"], &work.path().join("app_shared"));
    assert!(
        needed.contains(&format!("[libcha_deploy.so.{MAJOR}]")),
        "{needed}"
    );

    // pkg-config --static, the archive chosen over the shared library.
    let mut static_args = pkg_config(&["--static", "--cflags", "--libs"]);
    let at = static_args
        .iter()
        .position(|a| a == "-lcha_deploy")
        .unwrap();
    static_args[at] = "-l:libcha_deploy.a".into();
    let text = build_and_run(&work, "app_static", APP, &static_args);
    assert!(text.starts_with(&format!("ok {VERSION}")), "{text}");
    let needed = readelf(&["-d"], &work.path().join("app_static"));
    assert!(!needed.contains("libcha_deploy"), "{needed}");
}

fn the_static_archive_links_next_to_the_system_sqlite() {
    let Some(system) = system_sqlite() else {
        return;
    };
    // The program uses its own SQLite (the system's) and cha-deploy (with
    // the bundled one, hidden) side by side.
    let source = format!(
        "{}\n{}",
        r#"#include <sqlite3.h>
#include <string.h>"#,
        APP.replace(
            "    printf(\"ok %s %d\\n\", cha_version(), on);",
            r#"    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 4;
    if (sqlite3_exec(db, "CREATE TABLE pipes(dn INTEGER); INSERT INTO pipes VALUES (100);", 0, 0, 0) != SQLITE_OK) return 5;
    sqlite3_close(db);
    printf("ok %s %d system sqlite %s\n", cha_version(), on, sqlite3_libversion());"#
        )
    );
    let work = TempDir::new("system-sqlite");
    let args: Vec<String> = vec![
        format!("-I{}", prefix().join("include").display()),
        lib("libcha_deploy.a").display().to_string(),
        "-lsqlite3".into(),
        "-lpthread".into(),
        "-ldl".into(),
        "-lm".into(),
    ];
    let text = build_and_run(&work, "app_sqlite", &source, &args);
    assert!(text.starts_with(&format!("ok {VERSION}")), "{text}");
    assert!(
        text.trim_end()
            .ends_with(&format!("system sqlite {system}")),
        "the program's sqlite3_* must be the system's: {text}"
    );
}

/// The system SQLite's version, where its development files are installed;
/// otherwise says loudly that the test did not run.
fn system_sqlite() -> Option<String> {
    let out = Command::new("pkg-config")
        .args(["--modversion", "sqlite3"])
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8(o.stdout).unwrap().trim().into()),
        _ => {
            eprintln!(
                "SKIPPED: the system SQLite's development files are missing (apt-get install libsqlite3-dev pkg-config); the link beside it was not tested"
            );
            None
        }
    }
}

fn a_cmake_project_finds_the_package() {
    if Command::new("cmake").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED: cmake is not installed (apt-get install cmake); find_package(cha_deploy) was not tested"
        );
        return;
    }
    let work = TempDir::new("cmake-consumer");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("app.c"), APP).unwrap();
    std::fs::write(
        src.join("CMakeLists.txt"),
        r#"cmake_minimum_required(VERSION 3.16)
project(pipe_sizing_app C)
find_package(cha_deploy 0.1 REQUIRED)
add_executable(app_shared app.c)
target_link_libraries(app_shared PRIVATE cha_deploy::cha_deploy)
add_executable(app_static app.c)
target_link_libraries(app_static PRIVATE cha_deploy::cha_deploy_static)
"#,
    )
    .unwrap();
    let build = work.path().join("build");
    run(Command::new("cmake")
        .arg("-S")
        .arg(&src)
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix().display())))
    .unwrap_or_else(|e| panic!("{e}"));
    run(Command::new("cmake").arg("--build").arg(&build)).unwrap_or_else(|e| panic!("{e}"));
    for exe in ["app_shared", "app_static"] {
        let out = run(Command::new(build.join(exe))
            .arg(work.path().join(format!("{exe}.db")))
            .arg(repo_root().join("configs")))
        .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(&format!("ok {VERSION}")), "{exe}: {text}");
    }
}

/// `examples/c` as a user builds it: `make` with the installed tree on
/// `PKG_CONFIG_PATH` links the simulation tool statically, and it runs:
/// a flag, typed variant parameters, timers, alerts paged through the
/// callback, feedback and the analysis.
fn the_c_example_builds_with_its_makefile() {
    require_tool("make", &["--version"], "apt-get install make");
    let work = TempDir::new("c-example");
    for file in ["Makefile", "pipe_sizing_sim.c"] {
        std::fs::copy(
            repo_root().join("examples/c").join(file),
            work.path().join(file),
        )
        .unwrap();
    }
    run(Command::new("make")
        .current_dir(work.path())
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig")))
    .unwrap_or_else(|e| panic!("{e}"));
    let exe = work.path().join("pipe_sizing_sim");
    let needed = readelf(&["-d"], &exe);
    assert!(
        !needed.contains("libcha_deploy"),
        "linked statically: {needed}"
    );
    let out = run(common::c_program(&exe)
        .arg(work.path().join("sim.db"))
        .arg(repo_root().join("configs"))
        .arg("600"))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "intelligent sizing keeps velocities at or below 2.0 m/s; traditional uses DN 100",
        "alert: pipe_sizing_time_ms firing warning",
        "alert: pipe_sizing_time_ms resolved -",
        "600 networks sized, ",
        "\"recommendation\":",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
}
