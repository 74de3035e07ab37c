//! `user_feedback.yml`: the parser with its checks, then (when it accepts the
//! text) the directory loader and the cross-file checks of a deployment.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if cha_deploy::config::parse_user_feedback(text, "user_feedback.yml").is_ok() {
        cha_deploy_fuzz::validate_as_directory("user_feedback.yml", "user_feedback", text);
    }
});
