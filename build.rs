//! Generates the C header with cbindgen into OUT_DIR on every build.
//!
//! The committed `include/cha_deploy.h` is checked against it by
//! `tests/header.rs`; to refresh the committed copy run
//! `CHA_UPDATE_HEADER=1 cargo build`.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
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
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("cha_deploy.h");
    header.write_to_file(&out);
    if env::var_os("CHA_UPDATE_HEADER").is_some() {
        header.write_to_file(crate_dir.join("include/cha_deploy.h"));
    }
}
