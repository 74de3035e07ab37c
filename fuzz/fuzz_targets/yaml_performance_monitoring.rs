//! `performance_monitoring.yml`: the parser with its checks, then (when it accepts the
//! text) the directory loader and the cross-file checks of a deployment.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if cha_deploy::config::parse_performance_monitoring(text, "performance_monitoring.yml").is_ok()
    {
        cha_deploy_fuzz::validate_as_directory(
            "performance_monitoring.yml",
            "performance_monitoring",
            text,
        );
    }
});
