//! What the fuzz targets share: a scratch folder per process, the shipped
//! configuration, and the check of a config file through the loader that
//! deployments use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cha_deploy::flags::FlagSet;

/// The shipped configuration files, compiled in so that a target does not
/// depend on the folder it is started from.
pub const FEATURE_FLAGS: &str = include_str!("../../configs/feature_flags.yml");
pub const AB_TESTS: &str = include_str!("../../configs/ab_tests.yml");
pub const PERFORMANCE_MONITORING: &str = include_str!("../../configs/performance_monitoring.yml");
pub const USER_FEEDBACK: &str = include_str!("../../configs/user_feedback.yml");

/// A folder of this process's own under the temporary folder, emptied on
/// first use.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("CHA_FUZZ_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("cha-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        dir
    })
}

/// The flags of `configs/feature_flags.yml`, compiled.
pub fn shipped_flags() -> &'static FlagSet {
    static SET: OnceLock<FlagSet> = OnceLock::new();
    SET.get_or_init(|| {
        cha_deploy::config::parse_feature_flags(FEATURE_FLAGS, "feature_flags.yml")
            .expect("the shipped flags parse")
            .compile()
            .expect("the shipped flags compile")
    })
}

/// A text the parser accepted goes on through the loader a deployment uses:
/// written as `file` into a folder of its own with the other three shipped
/// files (so that cross-file checks have their partners), then validated as
/// a directory, alone and with every subsystem. Only panics matter; errors
/// are expected.
pub fn validate_as_directory(file: &str, subsystem: &str, text: &str) {
    let dir = scratch().join("config");
    if !dir.exists() {
        std::fs::create_dir_all(&dir).expect("a config folder");
    }
    for (name, shipped) in [
        ("feature_flags.yml", FEATURE_FLAGS),
        ("ab_tests.yml", AB_TESTS),
        ("performance_monitoring.yml", PERFORMANCE_MONITORING),
        ("user_feedback.yml", USER_FEEDBACK),
    ] {
        let body = if name == file { text } else { shipped };
        std::fs::write(dir.join(name), body).expect("a config file written");
    }
    let _ = cha_deploy::validate_config_dir(&dir, &[subsystem.to_owned()]);
    let _ = cha_deploy::validate_config_dir(&dir, &[]);
}
