//! Runs the Python binding's tests (`bindings/python/tests`) against the
//! library this `cargo test` just built, so that one command runs them all.

mod common;

use std::process::Command;

use common::{TempDir, repo_root, require_tool, run, shared_library};

#[test]
fn python_binding_tests_pass() {
    require_tool(
        "python3",
        &["--version"],
        "the Python binding's tests need python3 (3.9 or newer) on PATH",
    );
    let library = shared_library();
    // Python's own temp files and any stray database land here, not in the tree.
    let scratch = TempDir::new("python");
    let result = run(Command::new("python3")
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "bindings/python/tests",
            "-v",
        ])
        .current_dir(repo_root())
        .env("CHA_DEPLOY_LIB", &library)
        .env("TMPDIR", scratch.path())
        // No __pycache__ folders in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    match result {
        // unittest reports on stderr; shown with `cargo test -- --nocapture`.
        Ok(out) => print!("{}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => panic!("the Python tests failed:\n{e}"),
    }
}
