//! The context JSON of `cha_flag_evaluate` and the CLI's `--context`: the
//! parser, then every shipped flag evaluated for what it accepted.
#![no_main]

use cha_deploy::flags::OwnedContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(context) = OwnedContext::from_json(text) else {
        return;
    };
    let flags = cha_deploy_fuzz::shipped_flags();
    context.with_context(|ctx| {
        for def in flags.definitions() {
            let id = flags.lookup(&def.name).expect("a listed flag is found");
            let by_id = flags.evaluate(id, ctx, 1_767_225_600_000_i64);
            let by_name = flags.evaluate_name(&def.name, ctx, 1_767_225_600_000_i64);
            assert_eq!(by_id.enabled, by_name.enabled);
        }
    });
});
