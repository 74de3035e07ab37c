//! `feature_flags.yml`: the parser with its checks (versions 1 and 2), then,
//! for a text it accepts: the flags compile (a loaded file cannot fail
//! to), the migrated text of a version 1 file reads back as the same
//! flags, and the directory loader and cross-file checks of a deployment
//! take it without a panic.
#![no_main]

use cha_deploy::config::{migrate_file, parse_feature_flags};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(config) = parse_feature_flags(text, "feature_flags.yml") else {
        return;
    };
    if let Err(e) = config.compile() {
        panic!("an accepted file did not compile: {e}");
    }
    cha_deploy_fuzz::validate_as_directory("feature_flags.yml", "feature_flags", text);
    let path = cha_deploy_fuzz::scratch().join("config/feature_flags.yml");
    let migration = migrate_file(&path).expect("an accepted file migrates");
    let again = parse_feature_flags(&migration.text, "migrated.yml")
        .unwrap_or_else(|e| panic!("the migrated text does not parse: {e}\n{}", migration.text));
    assert_eq!(again.flags, config.flags, "migrating changed the flags");
});
