//! The tags JSON of the metric calls: what is accepted has a canonical text
//! that reads back as the same tags.
#![no_main]

use cha_deploy::monitoring::{canonical_tags, parse_tags};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(tags) = parse_tags(Some(text)) else {
        return;
    };
    let canonical = canonical_tags(&tags);
    let again = parse_tags(Some(&canonical)).expect("canonical tags parse");
    assert_eq!(again, tags);
    assert_eq!(canonical_tags(&again), canonical);
});
