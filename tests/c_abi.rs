//! Runs the C and C++ programs of `tests/c/` against the library as C tools
//! use it: compiled against `include/`, under AddressSanitizer (with
//! LeakSanitizer) and UndefinedBehaviorSanitizer, linked once to the static
//! library and once to the shared library.
//!
//! Each program takes one argument, an empty folder for its databases, and
//! exits non-zero when one of its checks fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TempDir, repo_root, require_tool, run, shared_library, static_library};

const SANITIZERS: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-g",
];

const C_FLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror"];
/// As strict as an old C tool's build may be.
const C99_STRICT_FLAGS: &[&str] = &[
    "-std=c99",
    "-pedantic-errors",
    "-Wall",
    "-Wextra",
    "-Werror",
];
const CXX_FLAGS: &[&str] = &["-std=c++17", "-Wall", "-Wextra", "-Werror"];

/// What the Rust standard library and the bundled SQLite need from the
/// system when the static library is linked.
const STATIC_SYSTEM_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm"];

#[test]
fn c_programs_pass_with_the_static_and_the_shared_library() {
    run_programs("cc", "c", C_FLAGS);
}

#[test]
fn cpp_programs_pass_with_the_static_and_the_shared_library() {
    run_programs("c++", "cpp", CXX_FLAGS);
}

/// The header declares only `cha_`/`CHA_` names: a strict C99 file that
/// defines `BUCKETS`, `FlagType`, `Summary` and the other names the header
/// used to leak compiles with it. (`c_programs_pass_with_the_static_and_the_shared_library`
/// also links and runs it.)
#[test]
fn header_compiles_in_strict_c99_next_to_a_legacy_files_own_names() {
    require_tool(
        "cc",
        &["--version"],
        "the C tests need a C compiler (on Debian/Ubuntu: apt-get install build-essential)",
    );
    let source = repo_root().join("tests/c/test_legacy_names.c");
    let compiled = run(Command::new("cc")
        .args(C99_STRICT_FLAGS)
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg("-fsyntax-only")
        .arg(&source));
    if let Err(e) = compiled {
        panic!("include/cha_deploy.h breaks a legacy C99 file:\n{e}");
    }
}

/// Compiles, links (static and shared) and runs every `tests/c/*.<extension>`,
/// then fails with the output of every program that failed.
fn run_programs(compiler: &str, extension: &str, language_flags: &[&str]) {
    require_tool(
        compiler,
        &["--version"],
        "the C/C++ tests need a C and a C++ compiler with AddressSanitizer \
         (on Debian/Ubuntu: apt-get install build-essential)",
    );
    let sources = sources(extension);
    assert!(
        !sources.is_empty(),
        "no tests/c/*.{extension} programs found"
    );
    let static_lib = static_library();
    let shared_lib = shared_library();
    let shared_dir = shared_lib.parent().expect("the library is in a folder");
    let build = TempDir::new(&format!("{extension}-build"));

    let mut failures = Vec::new();
    for source in &sources {
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let compiler_with_flags = || {
            let mut command = Command::new(compiler);
            command.args(language_flags).args(SANITIZERS);
            command
        };
        let object = build.path().join(format!("{name}.o"));
        let compiled = run(compiler_with_flags()
            .arg("-I")
            .arg(repo_root().join("include"))
            .arg("-c")
            .arg(source)
            .arg("-o")
            .arg(&object));
        if let Err(e) = compiled {
            failures.push(format!("{name}: compiling failed:\n{e}"));
            continue;
        }

        let static_exe = build.path().join(format!("{name}-static"));
        let linked = run(compiler_with_flags()
            .arg(&object)
            .arg(&static_lib)
            .args(STATIC_SYSTEM_LIBS)
            .arg("-o")
            .arg(&static_exe));
        match linked {
            Ok(_) => failures.extend(run_program(&static_exe, "static")),
            Err(e) => failures.push(format!("{name}: linking (static) failed:\n{e}")),
        }

        let shared_exe = build.path().join(format!("{name}-shared"));
        let linked = run(compiler_with_flags()
            .arg(&object)
            .arg("-L")
            .arg(shared_dir)
            .arg("-lcha_deploy")
            .arg(format!("-Wl,-rpath,{}", shared_dir.display()))
            .arg("-o")
            .arg(&shared_exe));
        match linked {
            Ok(_) => failures.extend(run_program(&shared_exe, "shared")),
            Err(e) => failures.push(format!("{name}: linking (shared) failed:\n{e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n\n{}",
        failures.len(),
        sources.len() * 2,
        failures.join("\n\n")
    );
}

/// `tests/c/*.<extension>`, sorted.
fn sources(extension: &str) -> Vec<PathBuf> {
    let dir = repo_root().join("tests/c");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    sources.sort();
    sources
}

/// Runs one program in a fresh work folder; `Some(report)` if it failed.
fn run_program(exe: &Path, linkage: &str) -> Option<String> {
    let work = TempDir::new("c-work");
    let result = run(Command::new(exe)
        .arg(work.path())
        // cargo puts target/<profile>/ on LD_LIBRARY_PATH, which the loader
        // searches before the program's RUNPATH: a stale copy of the shared
        // library there (from an earlier `cargo build`) would be tested
        // instead of this build's.
        .env_remove("LD_LIBRARY_PATH")
        // LeakSanitizer runs here (its stop-the-world step needs ptrace, which
        // this sandbox allows), so a leak fails the run like any other error.
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:halt_on_error=1:abort_on_error=0",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"));
    match result {
        Ok(out) => {
            // Shown with `cargo test -- --nocapture`.
            print!(
                "{} ({linkage}): {}",
                exe.display(),
                String::from_utf8_lossy(&out.stdout)
            );
            None
        }
        Err(e) => Some(format!(
            "{} ({linkage} library) failed:\n{e}",
            exe.display()
        )),
    }
}
