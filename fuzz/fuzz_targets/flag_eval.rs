//! Flag evaluation with arbitrary contexts and clocks, over the shipped
//! flags plus one flag made from arbitrary fields (when they form a valid
//! definition). Evaluation never fails: every answer has a reason, by id and
//! by name alike, and a flag whose kill switch is off is off.
#![no_main]

use arbitrary::Arbitrary;
use cha_deploy::config::{apply_flag_update, compile_flags};
use cha_deploy::flags::{Context, Reason};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    user_id: Option<&'a str>,
    session_id: Option<&'a str>,
    groups: Vec<&'a str>,
    environment: Option<&'a str>,
    app_name: Option<&'a str>,
    current_time_ms: Option<i64>,
    remote_address: Option<&'a str>,
    properties: Vec<(&'a str, &'a str)>,
    now_ms: i64,
    /// The fields of one more flag, as `cha_flag_update` takes them.
    extra_flag: Option<&'a str>,
}

fuzz_target!(|input: Input<'_>| {
    let shipped = cha_deploy_fuzz::shipped_flags();
    let mut definitions = shipped.definitions().to_vec();
    if let Some(Ok(updates)) = input
        .extra_flag
        .map(serde_json::from_str::<serde_json::Value>)
        && let Ok(def) = apply_flag_update(None, "fuzzed_flag", &updates)
    {
        definitions.push(def);
    }
    let flags = compile_flags(definitions)
        .or_else(|_| compile_flags(shipped.definitions().to_vec()))
        .expect("the shipped flags compile");
    let ctx = Context {
        user_id: input.user_id,
        session_id: input.session_id,
        groups: &input.groups,
        environment: input.environment,
        app_name: input.app_name,
        current_time_ms: input.current_time_ms,
        remote_address: input.remote_address,
        properties: &input.properties,
        peek: true,
    };
    for def in flags.definitions() {
        let id = flags.lookup(&def.name).expect("a listed flag is found");
        let e = flags.evaluate(id, &ctx, input.now_ms);
        let again = flags.evaluate_name(&def.name, &ctx, input.now_ms);
        assert_eq!((e.enabled, e.reason), (again.enabled, again.reason));
        if !def.enabled {
            assert_eq!((e.enabled, e.reason), (false, Reason::Disabled));
        }
        let _ = flags.evaluate_variant(id, &ctx, input.now_ms);
    }
});
