//! Generates the C header with cbindgen into OUT_DIR on every build.
//!
//! cbindgen reads only the `src/ffi/` module tree (from `src/ffi/mod.rs`,
//! following its `mod` declarations), not the whole crate: the header then
//! holds only what the C ABI declares, and a public constant or type added to
//! any other module (`flags::bucket::BUCKETS`, `stats::Summary`) can never
//! leak into it as an unprefixed name that clashes with a legacy C file's own.
//!
//! The committed `include/cha_deploy.h` is checked against it by
//! `tests/header.rs`; to refresh the committed copy run
//! `CHA_UPDATE_HEADER=1 cargo build`.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=CHA_UPDATE_HEADER");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).unwrap();
    config.after_includes = Some(format!(
        "\n#define CHA_VERSION_MAJOR {}\n#define CHA_VERSION_MINOR {}\n#define CHA_VERSION_PATCH {}\n\
         #define CHA_VERSION_STRING \"{}\"",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
        env::var("CARGO_PKG_VERSION").unwrap()
    ));
    let header = cbindgen::Builder::new()
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("cha_deploy.h");
    header.write_to_file(&out);
    if env::var_os("CHA_UPDATE_HEADER").is_some() {
        header.write_to_file(crate_dir.join("include/cha_deploy.h"));
    }
    shared_library_name(&version("MAJOR"));
}

/// The shared library's SONAME carries the ABI's major version,
/// `libcha_deploy.so.0`: a program linked against it refuses, at start, a
/// library of another major version instead of misbehaving.
///
/// The loader looks for that name, so it is made to exist beside the
/// library in `target/<profile>/` too, as a link to `libcha_deploy.so`
/// (dangling until the library is linked, moments later): a program linked
/// in the tree with `-L target/release -lcha_deploy` then runs as it is.
/// The installed layout (`make install`) has the usual chain of names.
fn shared_library_name(major: &str) {
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let soname = format!("libcha_deploy.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // OUT_DIR is target/<profile>/build/cha-deploy-<hash>/out.
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    if let Some(profile_dir) = out.ancestors().nth(3) {
        let link = profile_dir.join(&soname);
        if std::fs::symlink_metadata(&link).is_err() {
            #[cfg(unix)]
            let _ = std::os::unix::fs::symlink("libcha_deploy.so", &link);
        }
    }
}
