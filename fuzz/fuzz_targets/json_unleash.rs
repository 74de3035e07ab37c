//! The Unleash import: a client-features document translated into flags
//! and segments (what it cannot translate is reported, never a panic), and
//! the flags it gives checked as every flag is.
#![no_main]

use cha_deploy::config::unleash::import_unleash;
use cha_deploy::config::validate_flag;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(import) = import_unleash(text) else {
        return;
    };
    for flag in &import.flags {
        // Whether each is valid alone is reported, not assumed: only a panic
        // fails here.
        let _ = validate_flag(flag);
    }
});
