//! The option objects that come in as JSON: open options, deploy options
//! and analysis options.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(options) = cha_deploy::OpenOptions::from_json(text) {
        // What was accepted is valid.
        options.validate().expect("accepted open options validate");
    }
    let _ = cha_deploy::DeployOptions::from_json(Some(text));
    let _ = serde_json::from_str::<cha_deploy::AnalysisOptions>(text);
});
