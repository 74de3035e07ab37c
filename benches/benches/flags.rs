//! Flag checks of cha-deploy against Unleash's yggdrasil engine, side by side
//! in one run (see ../../BENCHMARKS.md):
//!
//! (a) a 25% rollout: `cha_flag_enabled` and `cha_flag_enabled_id` through
//!     the C ABI against yggdrasil's native `is_enabled` on the equivalent
//!     flexibleRollout (rollout 25, stickiness userId, groupId = flag name);
//! (b) a boolean flag (target: under 20 ns);
//! (c) a two-variant a_b_test split against yggdrasil's `get_variant`;
//! (d) allocations per evaluation, counted by this binary's global allocator;
//! (e) a flag with three constraints (app name, a site property, a network
//!     size) against yggdrasil's equivalent: the engine, `Cha::flag_bool`,
//!     `cha_flag_bool_with_context` (a context prepared once by
//!     `cha_context_new`) and `cha_flag_bool` (the context as JSON).
//!
//! The user changes every iteration (4096 precomputed ids). Each figure is
//! the median of 25 samples of about 20 ms each, after a warm-up; the
//! samples of an anchor and its rivals are taken in turns.
//!
//!     cargo bench --manifest-path benches/Cargo.toml
//!
//! A hand-written harness instead of criterion: the anchors and the ratios
//! belong in one run and one table, and the counting allocator must see
//! nothing but the code measured.

use std::ffi::{CStr, CString, c_char};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cha_deploy::ffi::{
    cha_close, cha_context, cha_context_free, cha_context_new, cha_deploy_all, cha_flag_bool,
    cha_flag_bool_with_context, cha_flag_enabled, cha_flag_enabled_id, cha_flag_evaluate,
    cha_flag_lookup, cha_handle, cha_last_error_message, cha_open, cha_string_free,
};
use unleash_yggdrasil::{ClientFeatures, Context, EngineState};

#[path = "common/measure.rs"]
mod measure;
use measure::{Bench, Timing, measure_group};
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

// ---- the flags, in both engines ------------------------------------------

const USERS: usize = 4096;

/// The cha-deploy flags: a 25% rollout, a boolean, a 50/50 two-variant split.
const FEATURE_FLAGS_YML: &str = "\
version: 2
flags:
  intelligent_pipe_sizing:
    type: percentage
    enabled: true
    percentage: 25
    stickiness: user_id
  performance_monitoring:
    type: boolean
    enabled: true
  cost_optimisation:
    type: a_b_test
    enabled: true
    stickiness: user_id
    variants:
      - {name: traditional, weight: 50}
      - {name: lifetime_cost, weight: 50}
  pressure_drop_check:
    type: user_group
    enabled: true
    include_groups: [beta_testers, hydraulics_team]
    exclude_groups: [external_consultants]
  targeted_sizing:
    type: boolean
    enabled: true
    rules:
      - name: pilot
        constraints:
          - {attribute: app_name, operator: IN, values: [sizer, planner-desk]}
          - {attribute: site, operator: IN, values: [north-7, harbour-2, west-3]}
          - {attribute: network_size, operator: NUM_GTE, value: 500}
      - name: everyone_else
        serve: false
";

/// The same flags as Unleash defines them: a flexibleRollout at 25 sticky on
/// userId with the flag's name as groupId; a flag with the default strategy;
/// a flag on for everyone (flexibleRollout 100) with two variants of equal
/// weight sticky on userId.
const UNLEASH_FEATURES_JSON: &str = r#"{
  "version": 2,
  "features": [
    {
      "name": "intelligent_pipe_sizing",
      "enabled": true,
      "strategies": [{
        "name": "flexibleRollout",
        "constraints": [],
        "parameters": {"rollout": "25", "stickiness": "userId", "groupId": "intelligent_pipe_sizing"}
      }]
    },
    {
      "name": "performance_monitoring",
      "enabled": true,
      "strategies": [{"name": "default", "constraints": [], "parameters": {}}]
    },
    {
      "name": "cost_optimisation",
      "enabled": true,
      "strategies": [{
        "name": "flexibleRollout",
        "constraints": [],
        "parameters": {"rollout": "100", "stickiness": "userId", "groupId": "cost_optimisation"}
      }],
      "variants": [
        {"name": "traditional", "weight": 500, "stickiness": "userId", "weightType": "variable"},
        {"name": "lifetime_cost", "weight": 500, "stickiness": "userId", "weightType": "variable"}
      ]
    },
    {
      "name": "targeted_sizing",
      "enabled": true,
      "strategies": [{
        "name": "default",
        "parameters": {},
        "constraints": [
          {"contextName": "appName", "operator": "IN", "values": ["sizer", "planner-desk"]},
          {"contextName": "site", "operator": "IN", "values": ["north-7", "harbour-2", "west-3"]},
          {"contextName": "network_size", "operator": "NUM_GTE", "value": "500"}
        ]
      }]
    }
  ]
}"#;

/// The site and network size of user `i` for the targeted flag (group e):
/// four sites, three of them in the pilot; sizes from 100 to 1090.
fn site_of(i: usize) -> &'static str {
    ["north-7", "harbour-2", "west-3", "south-1"][i % 4]
}
fn network_size_of(i: usize) -> String {
    (100 + (i * 37) % 1000).to_string()
}

/// A fresh folder holding the database and the config directory.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("cha-deploy-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("configs")).expect("create the scratch folder");
        std::fs::write(dir.join("configs/feature_flags.yml"), FEATURE_FLAGS_YML)
            .expect("write the config");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn c_path(path: &std::path::Path) -> CString {
    CString::new(path.to_str().expect("a UTF-8 temp path")).unwrap()
}

fn last_error() -> String {
    // SAFETY: NULL or a NUL-terminated string owned by the library.
    let message = cha_last_error_message();
    if message.is_null() {
        "(no message)".into()
    } else {
        // SAFETY: non-NULL, NUL-terminated.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

/// An open handle with the bench flags deployed, closed on drop.
struct Handle(*mut cha_handle);

impl Handle {
    fn open(scratch: &Scratch) -> Handle {
        let db = c_path(&scratch.0.join("bench.db"));
        let configs = c_path(&scratch.0.join("configs"));
        let mut h = std::ptr::null_mut();
        // SAFETY: valid strings and out-pointers.
        unsafe {
            assert_eq!(
                cha_open(db.as_ptr(), &mut h),
                0,
                "cha_open: {}",
                last_error()
            );
            let mut report = std::ptr::null_mut();
            assert_eq!(
                cha_deploy_all(h, configs.as_ptr(), &mut report),
                0,
                "cha_deploy_all: {}",
                last_error()
            );
            cha_string_free(report);
        }
        Handle(h)
    }

    fn lookup(&self, flag: &CStr) -> u32 {
        let mut id = 0;
        // SAFETY: an open handle, a valid string and out-pointer.
        let status = unsafe { cha_flag_lookup(self.0, flag.as_ptr(), &mut id) };
        assert_eq!(status, 0, "cha_flag_lookup: {}", last_error());
        id
    }

    #[inline(always)]
    fn enabled(&self, flag: &CStr, user: &CStr) -> bool {
        let mut on = false;
        // SAFETY: an open handle, valid strings and out-pointer.
        let status = unsafe {
            cha_flag_enabled(
                self.0,
                flag.as_ptr(),
                user.as_ptr(),
                std::ptr::null(),
                0,
                &mut on,
            )
        };
        debug_assert_eq!(status, 0);
        on
    }

    #[inline(always)]
    fn enabled_in(&self, flag: &CStr, user: &CStr, groups: &[*const c_char]) -> bool {
        let mut on = false;
        // SAFETY: an open handle, valid strings and out-pointer.
        let status = unsafe {
            cha_flag_enabled(
                self.0,
                flag.as_ptr(),
                user.as_ptr(),
                groups.as_ptr(),
                groups.len(),
                &mut on,
            )
        };
        debug_assert_eq!(status, 0);
        on
    }

    #[inline(always)]
    fn enabled_id(&self, id: u32, user: &CStr) -> bool {
        let mut on = false;
        // SAFETY: an open handle, a valid string and out-pointer.
        let status =
            unsafe { cha_flag_enabled_id(self.0, id, user.as_ptr(), std::ptr::null(), 0, &mut on) };
        debug_assert_eq!(status, 0);
        on
    }

    /// `cha_flag_bool` with the context as JSON, default false, no details.
    #[inline(always)]
    fn flag_bool(&self, flag: &CStr, context: &CStr) -> bool {
        let mut on = false;
        // SAFETY: an open handle, valid strings and out-pointer; NULL details.
        let status = unsafe {
            cha_flag_bool(
                self.0,
                flag.as_ptr(),
                context.as_ptr(),
                false,
                &mut on,
                std::ptr::null_mut(),
            )
        };
        debug_assert_eq!(status, 0);
        on
    }

    /// `cha_flag_bool_with_context` with a prepared context, default false,
    /// no details.
    #[inline(always)]
    fn flag_bool_prepared(&self, flag: &CStr, context: &Prepared) -> bool {
        let mut on = false;
        // SAFETY: an open handle, a valid string, a live context and
        // out-pointer; NULL details.
        let status = unsafe {
            cha_flag_bool_with_context(
                self.0,
                flag.as_ptr(),
                context.0,
                false,
                &mut on,
                std::ptr::null_mut(),
            )
        };
        debug_assert_eq!(status, 0);
        on
    }

    /// `cha_flag_evaluate`: the detailed answer as JSON, allocated and freed.
    #[inline(always)]
    fn evaluate_json(&self, flag: &CStr, context: &CStr) -> usize {
        let mut json = std::ptr::null_mut();
        // SAFETY: an open handle, valid strings and out-pointer.
        unsafe {
            let status = cha_flag_evaluate(self.0, flag.as_ptr(), context.as_ptr(), &mut json);
            debug_assert_eq!(status, 0);
            let len = CStr::from_ptr(json).to_bytes().len();
            cha_string_free(json);
            len
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: open, and used by no other thread.
        unsafe { cha_close(self.0) }
    }
}

/// A context prepared with `cha_context_new`, freed on drop.
struct Prepared(*mut cha_context);

impl Prepared {
    fn new(json: &CStr) -> Prepared {
        let mut context = std::ptr::null_mut();
        // SAFETY: a valid string and out-pointer.
        let status = unsafe { cha_context_new(json.as_ptr(), &mut context) };
        assert_eq!(status, 0, "cha_context_new: {}", last_error());
        Prepared(context)
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // SAFETY: from cha_context_new, used by no other thread.
        unsafe { cha_context_free(self.0) }
    }
}

// ---- measuring -----------------------------------------------------------

const WARM_UP: Duration = Duration::from_millis(200);
const SAMPLE: Duration = Duration::from_millis(20);
/// Wraps `op` (one operation for iteration `i`) into a [`Bench`]; the loop
/// is compiled per benchmark, so the only indirect call is per sample.
fn bench<'a>(mut op: impl FnMut(usize) -> u64 + 'a) -> Bench<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        let mut acc = 0u64;
        for i in 0..n {
            acc = acc.wrapping_add(op(i));
        }
        black_box(acc);
        start.elapsed()
    })
}

/// [`measure_group`] with this benchmark's warm-up and sample length.
fn measure(benches: &mut [Bench<'_>]) -> Vec<Timing> {
    measure_group(benches, WARM_UP, SAMPLE)
}

/// Allocations per call of `op` on this thread, over `n` calls after a warm-up.
fn allocations_per_op(n: usize, mut op: impl FnMut(usize) -> u64) -> f64 {
    for i in 0..1000 {
        black_box(op(i));
    }
    let before = allocations();
    for i in 0..n {
        black_box(op(i));
    }
    (allocations() - before) as f64 / n as f64
}

struct Row {
    group: &'static str,
    name: &'static str,
    timing: Timing,
    /// The anchor's median divided by this row's (None for the anchor itself).
    ratio_to: Option<f64>,
}

fn main() -> ExitCode {
    // Setup allocates freely; only the measured loops are counted.
    let scratch = Scratch::new();
    let h = Handle::open(&scratch);

    let users: Vec<CString> = (0..USERS)
        .map(|i| CString::new(format!("planner-{i:06}")).unwrap())
        .collect();
    let contexts_json: Vec<CString> = (0..USERS)
        .map(|i| CString::new(format!("{{\"user_id\":\"planner-{i:06}\"}}")).unwrap())
        .collect();
    let unleash_contexts: Vec<Context> = (0..USERS)
        .map(|i| Context {
            user_id: Some(format!("planner-{i:06}")),
            ..Context::default()
        })
        .collect();
    // Group e: the app, a site and a network size, in each engine's form.
    let sizes: Vec<String> = (0..USERS).map(network_size_of).collect();
    let properties: Vec<[(&str, &str); 2]> = (0..USERS)
        .map(|i| [("site", site_of(i)), ("network_size", sizes[i].as_str())])
        .collect();
    let targeted_contexts: Vec<cha_deploy::flags::Context<'_>> = (0..USERS)
        .map(|i| cha_deploy::flags::Context {
            user_id: unleash_contexts[i].user_id.as_deref(),
            app_name: Some("sizer"),
            properties: &properties[i],
            ..cha_deploy::flags::Context::default()
        })
        .collect();
    let targeted_unleash: Vec<Context> = (0..USERS)
        .map(|i| Context {
            user_id: Some(format!("planner-{i:06}")),
            app_name: Some("sizer".into()),
            properties: Some(
                [
                    ("site".to_string(), site_of(i).to_string()),
                    ("network_size".to_string(), sizes[i].clone()),
                ]
                .into_iter()
                .collect(),
            ),
            ..Context::default()
        })
        .collect();
    let targeted_json: Vec<CString> = (0..USERS)
        .map(|i| {
            CString::new(format!(
                "{{\"user_id\":\"planner-{i:06}\",\"app_name\":\"sizer\",\"properties\":{{\"site\":\"{}\",\"network_size\":{}}}}}",
                site_of(i),
                sizes[i]
            ))
            .unwrap()
        })
        .collect();
    // The same contexts prepared once for C, as a C program keeps them.
    let targeted_prepared: Vec<Prepared> = targeted_json.iter().map(|j| Prepared::new(j)).collect();
    let user = |i: usize| users[i % USERS].as_c_str();
    let unleash_context = |i: usize| &unleash_contexts[i % USERS];

    let rollout = c"intelligent_pipe_sizing";
    let boolean = c"performance_monitoring";
    let split = c"cost_optimisation";
    let groups_flag = c"pressure_drop_check";
    let rollout_id = h.lookup(rollout);
    let boolean_id = h.lookup(boolean);
    let split_id = h.lookup(split);

    // The engine alone, for the variant name without JSON (the C ABI has no
    // such call yet: cha_flag_evaluate answers in JSON).
    let engine = cha_deploy::config::parse_feature_flags(FEATURE_FLAGS_YML, "bench")
        .expect("the bench config parses")
        .compile()
        .expect("the bench config compiles");
    let engine_split = engine.lookup("cost_optimisation").unwrap();
    let now = cha_deploy::flags::Now::System;
    let engine_context = |i: usize| {
        cha_deploy::flags::Context::user(unleash_contexts[i % USERS].user_id.as_deref().unwrap())
    };

    let yggdrasil = EngineState::default();
    let features: ClientFeatures =
        serde_json::from_str(UNLEASH_FEATURES_JSON).expect("the Unleash features parse");
    if let Some(warnings) = yggdrasil.apply_client_features(features) {
        eprintln!("yggdrasil warnings: {warnings:?}");
    }
    let no_external = None;

    // Both engines must agree on what they compute before they are timed.
    let share =
        |f: &dyn Fn(usize) -> bool| (0..USERS).filter(|&i| f(i)).count() as f64 / USERS as f64;
    let ours_on = share(&|i| h.enabled_id(rollout_id, user(i)));
    let theirs_on = share(&|i| {
        yggdrasil.is_enabled("intelligent_pipe_sizing", unleash_context(i), &no_external)
    });
    let ours_variant = share(&|i| {
        engine
            .evaluate_variant(engine_split, &engine_context(i), now)
            .variant
            == Some("lifetime_cost")
    });
    let theirs_variant = share(&|i| {
        yggdrasil
            .get_variant("cost_optimisation", unleash_context(i), &no_external)
            .name
            == "lifetime_cost"
    });
    let boolean_on = share(&|i| h.enabled_id(boolean_id, user(i)));
    println!(
        "sanity: 25% rollout on for {:.1}% (cha-deploy) and {:.1}% (yggdrasil) of {USERS} users",
        ours_on * 100.0,
        theirs_on * 100.0
    );
    println!(
        "sanity: variant lifetime_cost for {:.1}% (cha-deploy) and {:.1}% (yggdrasil); boolean on for {:.0}%",
        ours_variant * 100.0,
        theirs_variant * 100.0,
        boolean_on * 100.0
    );
    assert!((0.22..0.28).contains(&ours_on) && (0.22..0.28).contains(&theirs_on));
    assert!((0.45..0.55).contains(&ours_variant) && (0.45..0.55).contains(&theirs_variant));
    assert_eq!(boolean_on, 1.0);
    // Group e: no hashing, so both engines answer alike for every user.
    let engine_targeted = engine.lookup("targeted_sizing").unwrap();
    let rust = cha_deploy::Cha::open(scratch.0.join("bench.db")).expect("the bench database opens");
    let mut targeted_on = 0;
    for i in 0..USERS {
        let ours = engine.is_enabled(engine_targeted, &targeted_contexts[i], now);
        let theirs = yggdrasil.is_enabled("targeted_sizing", &targeted_unleash[i], &no_external);
        let through_c = h.flag_bool(c"targeted_sizing", &targeted_json[i]);
        let through_c_prepared = h.flag_bool_prepared(c"targeted_sizing", &targeted_prepared[i]);
        let through_rust = rust
            .flag_bool("targeted_sizing", &targeted_contexts[i], false)
            .value;
        assert_eq!(
            (ours, through_c, through_c_prepared, through_rust),
            (theirs, theirs, theirs, theirs),
            "user {i}"
        );
        targeted_on += ours as usize;
    }
    println!(
        "sanity: three constraints on for {:.1}% of {USERS} users in both engines, user by user",
        targeted_on as f64 * 100.0 / USERS as f64
    );

    let started = Instant::now();
    let mut rows = Vec::new();

    // Each group: the anchor first, then cha-deploy's calls.
    let engine_boolean = engine.lookup("performance_monitoring").unwrap();
    let groups: Vec<(&'static str, Vec<(&'static str, Bench<'_>)>)> = vec![
        (
            "a",
            vec![
                (
                    "yggdrasil is_enabled, flexibleRollout 25% (anchor)",
                    bench(|i| {
                        yggdrasil.is_enabled(
                            "intelligent_pipe_sizing",
                            unleash_context(i),
                            &no_external,
                        ) as u64
                    }),
                ),
                (
                    "cha_flag_enabled (C ABI, by name)",
                    bench(|i| h.enabled(rollout, user(i)) as u64),
                ),
                (
                    "cha_flag_enabled_id (C ABI, pre-resolved)",
                    bench(|i| h.enabled_id(rollout_id, user(i)) as u64),
                ),
            ],
        ),
        (
            "b",
            vec![
                (
                    "yggdrasil is_enabled, default strategy (anchor)",
                    bench(|i| {
                        yggdrasil.is_enabled(
                            "performance_monitoring",
                            unleash_context(i),
                            &no_external,
                        ) as u64
                    }),
                ),
                (
                    "cha_flag_enabled (C ABI, by name)",
                    bench(|i| h.enabled(boolean, user(i)) as u64),
                ),
                (
                    "cha_flag_enabled_id (C ABI, pre-resolved)",
                    bench(|i| h.enabled_id(boolean_id, user(i)) as u64),
                ),
                (
                    "FlagSet::is_enabled (Rust engine, no C boundary, no snapshot load)",
                    bench(|i| engine.is_enabled(engine_boolean, &engine_context(i), now) as u64),
                ),
            ],
        ),
        (
            "c",
            vec![
                (
                    "yggdrasil get_variant, 2 variants (anchor)",
                    bench(|i| {
                        yggdrasil
                            .get_variant("cost_optimisation", unleash_context(i), &no_external)
                            .name
                            .len() as u64
                    }),
                ),
                (
                    "cha_flag_enabled_id on the a_b_test flag (C ABI)",
                    bench(|i| h.enabled_id(split_id, user(i)) as u64),
                ),
                (
                    "FlagSet::evaluate_variant (Rust engine, variant name)",
                    bench(|i| {
                        engine
                            .evaluate_variant(engine_split, &engine_context(i), now)
                            .variant
                            .map_or(0, str::len) as u64
                    }),
                ),
                (
                    "cha_flag_evaluate (C ABI, JSON in and out)",
                    bench(|i| h.evaluate_json(split, &contexts_json[i % USERS]) as u64),
                ),
            ],
        ),
        (
            "e",
            vec![
                (
                    "yggdrasil is_enabled, 3 constraints (anchor)",
                    bench(|i| {
                        yggdrasil.is_enabled(
                            "targeted_sizing",
                            &targeted_unleash[i % USERS],
                            &no_external,
                        ) as u64
                    }),
                ),
                (
                    "Cha::flag_bool (Rust API: snapshot, rules, the default)",
                    bench(|i| {
                        rust.flag_bool("targeted_sizing", &targeted_contexts[i % USERS], false)
                            .value as u64
                    }),
                ),
                (
                    "FlagSet::is_enabled by name (Rust engine, no snapshot load)",
                    bench(|i| {
                        // By name, as yggdrasil's is_enabled is called.
                        let id = engine.lookup("targeted_sizing").unwrap();
                        engine.is_enabled(id, &targeted_contexts[i % USERS], now) as u64
                    }),
                ),
                (
                    "cha_flag_bool_with_context (C ABI, prepared context)",
                    bench(|i| {
                        h.flag_bool_prepared(c"targeted_sizing", &targeted_prepared[i % USERS])
                            as u64
                    }),
                ),
                (
                    "cha_flag_bool (C ABI, context as JSON)",
                    bench(|i| h.flag_bool(c"targeted_sizing", &targeted_json[i % USERS]) as u64),
                ),
            ],
        ),
    ];
    for (group, benches) in groups {
        let (names, mut runs): (Vec<_>, Vec<_>) = benches.into_iter().unzip();
        let timings = measure(&mut runs);
        let anchor = timings[0].median_ns;
        for (k, (name, timing)) in names.into_iter().zip(timings).enumerate() {
            rows.push(Row {
                group,
                name,
                timing,
                ratio_to: (k > 0).then_some(anchor),
            });
        }
    }

    let elapsed = started.elapsed();

    // (d) allocations per evaluation
    let beta = [c"beta_testers".as_ptr()];
    let many: Vec<CString> = (0..17)
        .map(|g| CString::new(format!("team-{g:02}")).unwrap())
        .collect();
    let many: Vec<*const c_char> = many.iter().map(|g| g.as_ptr()).collect();
    const N: usize = 100_000;
    let allocation_rows: Vec<(&str, f64, bool)> = vec![
        (
            "cha_flag_enabled, 25% rollout",
            allocations_per_op(N, |i| h.enabled(rollout, user(i)) as u64),
            true,
        ),
        (
            "cha_flag_enabled_id, 25% rollout",
            allocations_per_op(N, |i| h.enabled_id(rollout_id, user(i)) as u64),
            true,
        ),
        (
            "cha_flag_enabled, boolean",
            allocations_per_op(N, |i| h.enabled(boolean, user(i)) as u64),
            true,
        ),
        (
            "cha_flag_enabled_id, boolean",
            allocations_per_op(N, |i| h.enabled_id(boolean_id, user(i)) as u64),
            true,
        ),
        (
            "cha_flag_enabled_id, a_b_test",
            allocations_per_op(N, |i| h.enabled_id(split_id, user(i)) as u64),
            true,
        ),
        (
            "cha_flag_enabled, user_group, 1 group",
            allocations_per_op(N, |i| h.enabled_in(groups_flag, user(i), &beta) as u64),
            true,
        ),
        (
            "cha_flag_enabled, user_group, 17 groups (over the 16 kept on the stack)",
            allocations_per_op(N, |i| h.enabled_in(groups_flag, user(i), &many) as u64),
            false,
        ),
        (
            "FlagSet::evaluate_variant",
            allocations_per_op(N, |i| {
                engine
                    .evaluate_variant(engine_split, &engine_context(i), now)
                    .variant
                    .map_or(0, str::len) as u64
            }),
            true,
        ),
        (
            "cha_flag_evaluate (JSON)",
            allocations_per_op(N / 10, |i| {
                h.evaluate_json(split, &contexts_json[i % USERS]) as u64
            }),
            false,
        ),
        (
            "Cha::flag_bool, 3 constraints",
            allocations_per_op(N, |i| {
                rust.flag_bool("targeted_sizing", &targeted_contexts[i % USERS], false)
                    .value as u64
            }),
            true,
        ),
        (
            "cha_flag_bool_with_context, 3 constraints (prepared context)",
            allocations_per_op(N, |i| {
                h.flag_bool_prepared(c"targeted_sizing", &targeted_prepared[i % USERS]) as u64
            }),
            true,
        ),
        (
            "FlagSet::is_enabled, 3 constraints",
            allocations_per_op(N, |i| {
                engine.is_enabled(engine_targeted, &targeted_contexts[i % USERS], now) as u64
            }),
            true,
        ),
        (
            "cha_flag_bool, 3 constraints (context as JSON)",
            allocations_per_op(N / 10, |i| {
                h.flag_bool(c"targeted_sizing", &targeted_json[i % USERS]) as u64
            }),
            false,
        ),
        (
            "yggdrasil is_enabled, 3 constraints",
            allocations_per_op(N, |i| {
                yggdrasil.is_enabled(
                    "targeted_sizing",
                    &targeted_unleash[i % USERS],
                    &no_external,
                ) as u64
            }),
            false,
        ),
        (
            "yggdrasil is_enabled, flexibleRollout",
            allocations_per_op(N, |i| {
                yggdrasil.is_enabled("intelligent_pipe_sizing", unleash_context(i), &no_external)
                    as u64
            }),
            false,
        ),
        (
            "yggdrasil get_variant",
            allocations_per_op(N, |i| {
                yggdrasil
                    .get_variant("cost_optimisation", unleash_context(i), &no_external)
                    .name
                    .len() as u64
            }),
            false,
        ),
    ];

    drop(targeted_prepared);
    drop(h);
    drop(rust);

    println!();
    println!("| | benchmark | median ns/op | fastest sample ns/op | anchor / this |");
    println!("|---|---|---:|---:|---:|");
    for row in &rows {
        let ratio = row.ratio_to.map_or("anchor".to_string(), |anchor| {
            format!("{:.1}×", anchor / row.timing.median_ns)
        });
        println!(
            "| {} | {} | {:.1} | {:.1} | {} |",
            row.group, row.name, row.timing.median_ns, row.timing.min_ns, ratio
        );
    }
    println!();
    println!("| | evaluation | allocations per call | must be 0 |");
    println!("|---|---|---:|---|");
    let mut failures = Vec::new();
    for (name, per_call, must_be_zero) in &allocation_rows {
        println!(
            "| d | {name} | {per_call:.3} | {} |",
            if *must_be_zero { "yes" } else { "no" }
        );
        if *must_be_zero && *per_call != 0.0 {
            failures.push(*name);
        }
    }
    println!();
    println!("timed benchmarks took {:.1} s", elapsed.as_secs_f64());

    let target = |group: &str, name_part: &str| {
        rows.iter()
            .find(|r| r.group == group && r.name.contains(name_part))
            .unwrap()
    };
    let anchor = target("a", "anchor").timing.median_ns;
    let rollout_ratio = anchor / target("a", "cha_flag_enabled_id").timing.median_ns;
    let rollout_ratio_by_name = anchor / target("a", "cha_flag_enabled (").timing.median_ns;
    let boolean_ns = target("b", "cha_flag_enabled_id").timing.median_ns;
    let targeted_anchor = target("e", "anchor").timing.median_ns;
    println!(
        "targets: 3 constraints ≥3× yggdrasil: {:.1}× through Cha::flag_bool, {:.1}× for the engine, {:.1}× through cha_flag_bool_with_context, {:.1}× through cha_flag_bool with JSON",
        targeted_anchor / target("e", "Cha::flag_bool").timing.median_ns,
        targeted_anchor / target("e", "FlagSet::is_enabled").timing.median_ns,
        targeted_anchor / target("e", "cha_flag_bool_with_context").timing.median_ns,
        targeted_anchor / target("e", "cha_flag_bool (").timing.median_ns,
    );
    let boolean_ns_by_name = target("b", "cha_flag_enabled (").timing.median_ns;
    println!(
        "targets: 25% rollout ≥3× yggdrasil: {:.1}× by id, {:.1}× by name; boolean < 20 ns: {:.1} ns by id, {:.1} ns by name; no allocation: {}",
        rollout_ratio,
        rollout_ratio_by_name,
        boolean_ns,
        boolean_ns_by_name,
        if failures.is_empty() {
            "yes".to_string()
        } else {
            format!("NO ({})", failures.join(", "))
        }
    );
    // Timings vary by machine and are reported, not enforced; an allocation
    // on the hot path is a defect on every machine.
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
