//! `ab_tests.yml`: the parser with its checks, then (when it accepts the
//! text) the directory loader and the cross-file checks of a deployment.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if cha_deploy::config::parse_ab_tests(text, "ab_tests.yml").is_ok() {
        cha_deploy_fuzz::validate_as_directory("ab_tests.yml", "ab_tests", text);
    }
});
