//! The updates JSON of `cha_flag_update` (`cha-deploy flags set`): applied
//! to nothing (a creation) and to each shipped flag; an update that is
//! accepted gives a definition that validates alone and compiles with the
//! other shipped flags unless it breaks the set (prerequisites).
#![no_main]

use cha_deploy::config::{apply_flag_update, compile_flags, validate_flag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (u8, &str)| {
    let (which, text) = data;
    let Ok(updates) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let flags = cha_deploy_fuzz::shipped_flags().definitions();
    let existing = flags.get(usize::from(which) % (flags.len() + 1));
    let name = existing.map_or("fuzzed_flag", |d| d.name.as_str());
    let Ok(after) = apply_flag_update(existing, name, &updates) else {
        return;
    };
    validate_flag(&after).expect("an accepted update validates");
    let mut set: Vec<_> = flags.iter().filter(|d| d.name != name).cloned().collect();
    set.push(after);
    let _ = compile_flags(set);
});
