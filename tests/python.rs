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

/// A new user's path: `pip install` of the package into a fresh venv, then
/// the Python example run by that venv's interpreter from a folder outside
/// the repository, loading the library the package carries; and `pip
/// wheel`, whose wheel is tagged for this platform and carries the library
/// and the `py.typed` marker; and the OpenFeature provider with the
/// package's `openfeature` extra. pip fetches the build backend
/// (setuptools) and the extra from PyPI, as it does for any source package.
#[test]
fn the_package_installs_into_a_fresh_venv_and_builds_a_wheel() {
    require_tool(
        "python3",
        &["-m", "venv", "--help"],
        "the package test needs python3 with its venv module (apt-get install python3-venv)",
    );
    let scratch = TempDir::new("python-package");
    // A copy of the package, so that the build's files (build/, *.egg-info)
    // never land in the source tree.
    let source = scratch.path().join("python");
    copy_tree(&repo_root().join("bindings/python"), &source);
    let venv = scratch.path().join("venv");
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).unwrap_or_else(|e| panic!("{e}"));
    let python = venv.join("bin/python");
    let pip = |args: &[&str]| {
        run(Command::new(&python)
            .args(["-m", "pip", "--disable-pip-version-check", "--quiet"])
            .args(args)
            .current_dir(scratch.path())
            // The library to bundle: the one this `cargo test` built.
            .env("CHA_DEPLOY_LIB", shared_library())
            .env("TMPDIR", scratch.path()))
        .unwrap_or_else(|e| panic!("{e}"))
    };
    // With the optional extra: the OpenFeature provider's SDK.
    pip(&["install", &format!("{}[openfeature]", source.display())]);

    // The example, run as a user would: no PYTHONPATH, no $CHA_DEPLOY_LIB.
    let work = scratch.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = run(Command::new(&python)
        .arg(repo_root().join("examples/python/pipe_sizing.py"))
        .arg(work.join("cha.db"))
        .arg(repo_root().join("configs"))
        .current_dir(&work)
        .env_remove("CHA_DEPLOY_LIB")
        .env_remove("PYTHONPATH")
        .env("PYTHONDONTWRITEBYTECODE", "1"))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("conclusion: "), "{text}");
    let loaded = run(Command::new(&python)
        .args([
            "-c",
            "import cha_deploy, cha_deploy._ffi as f; print(f.library_path())",
        ])
        .current_dir(&work)
        .env_remove("CHA_DEPLOY_LIB")
        .env_remove("PYTHONPATH"))
    .unwrap_or_else(|e| panic!("{e}"));
    let loaded = String::from_utf8_lossy(&loaded.stdout).trim().to_string();
    assert!(
        loaded.starts_with(venv.to_str().unwrap())
            && loaded.ends_with("/cha_deploy/libcha_deploy.so"),
        "the installed package loaded {loaded}, not the library it carries"
    );

    // The OpenFeature provider, through the installed package and its extra,
    // against OpenFeature's published evaluation features.
    let out = run(Command::new(&python)
        .arg(repo_root().join("bindings/python/tests/test_openfeature.py"))
        .arg("-v")
        .current_dir(&work)
        .env_remove("CHA_DEPLOY_LIB")
        .env_remove("PYTHONPATH")
        .env("CHA_TEST_INSTALLED_PACKAGE", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1"))
    .unwrap_or_else(|e| panic!("{e}"));
    let report = String::from_utf8_lossy(&out.stderr);
    print!("{report}");
    if std::env::var_os("CHA_REQUIRE_CONFORMANCE").is_some() {
        // Two provider states are the SDK's and skip on their own; the
        // scenarios and the provider's tests must not.
        assert!(
            !report.contains("SKIPPED LOUDLY"),
            "the OpenFeature tests were skipped:\n{report}"
        );
    }

    let wheels = scratch.path().join("dist");
    pip(&[
        "wheel",
        "--no-deps",
        "--wheel-dir",
        wheels.to_str().unwrap(),
        source.to_str().unwrap(),
    ]);
    let wheel: Vec<_> = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(wheel.len(), 1, "{wheel:?}");
    let name = wheel[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("cha_deploy-0.1.0-py3-none-linux_") && name.ends_with(".whl"),
        "{name}"
    );
    let listing = run(Command::new(&python)
        .args(["-m", "zipfile", "-l"])
        .arg(&wheel[0]))
    .unwrap_or_else(|e| panic!("{e}"));
    let listing = String::from_utf8_lossy(&listing.stdout);
    for file in [
        "cha_deploy/libcha_deploy.so",
        "cha_deploy/py.typed",
        "cha_deploy/_ffi.py",
    ] {
        assert!(
            listing.contains(file),
            "{file} is not in the wheel:\n{listing}"
        );
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == "build" || name.to_string_lossy().ends_with(".egg-info")
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
