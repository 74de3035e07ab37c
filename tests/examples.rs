//! The sample programs of `examples/` build and run as their comments say:
//! the C one against the shared library with the sanitizers on, the Python
//! one against the package. They are documentation, so they must not rot.

mod common;

use std::process::Command;

use common::{TempDir, repo_root, require_tool, run, shared_library};

#[test]
fn the_c_example_sizes_networks_and_prints_the_analysis() {
    require_tool("cc", &["--version"], "apt-get install build-essential");
    let lib_dir = shared_library().parent().unwrap().to_path_buf();
    let work = TempDir::new("example-c");
    let exe = work.path().join("pipe_sizing");
    run(Command::new("cc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsanitize=address,undefined",
            "-g",
        ])
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(repo_root().join("examples/c/pipe_sizing.c"))
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lcha_deploy")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-o")
        .arg(&exe))
    .unwrap_or_else(|e| panic!("{e}"));
    let out = run(common::c_program(&exe)
        .arg(work.path().join("cha.db"))
        .arg(repo_root().join("configs"))
        .env("ASAN_OPTIONS", "detect_leaks=1"))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("networks sized traditionally"), "{text}");
    assert!(text.contains("\"recommendation\""), "{text}");
}

#[test]
fn the_python_example_runs() {
    require_tool("python3", &["--version"], "apt-get install python3");
    let work = TempDir::new("example-py");
    let out = run(Command::new("python3")
        .arg(repo_root().join("examples/python/pipe_sizing.py"))
        .arg(work.path().join("cha.db"))
        .arg(repo_root().join("configs"))
        .env("PYTHONPATH", repo_root().join("bindings/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CHA_DEPLOY_LIB", shared_library()))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in ["sizing time: ", "feedback: ", "conclusion: "] {
        assert!(text.contains(line), "{text}");
    }
}
