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
}
