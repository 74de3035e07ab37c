//! One vocabulary on every surface: the same analysis, asked for with the
//! same options, through the C ABI (its JSON), the Python binding (keyword
//! arguments) and the CLI (flags), gives the same JSON; the options have
//! the same names everywhere (`correction`: `holm`, `bh`, `none`;
//! `sequential`; `mixture_variance`; `phases`), and so do the verdicts.
#![cfg(feature = "cli")]

mod common;

use std::ffi::{CStr, CString, c_char};
use std::process::Command;

use serde_json::{Value, json};

use cha_deploy::Cha;
use cha_deploy::ffi::core::{cha_close, cha_handle, cha_open, cha_string_free};
use cha_deploy::ffi::experiments::cha_experiment_analyze_with_options;
use common::cli::Scratch;
use common::{repo_root, require_tool, run, shared_library};

const TEST: &str = "pipe_sizing_comparison";

/// Records a little of everything into the test: two metrics, both arms.
fn record(s: &Scratch) {
    let cha = Cha::open(s.db()).unwrap();
    for i in 0..300u32 {
        let unit = format!("network-{i:04}");
        let Some(v) = cha.assign(TEST, &unit).unwrap().variant else {
            continue;
        };
        let lift = if &*v.name == "intelligent" { 1.5 } else { 0.0 };
        cha.record(
            TEST,
            &unit,
            "pipe_cost_efficiency",
            40.0 + lift + f64::from(i % 9),
        )
        .unwrap();
        cha.record(
            TEST,
            &unit,
            "velocity_violations",
            f64::from(u8::from(i % 5 == 0)),
        )
        .unwrap();
    }
    cha.close().unwrap();
}

/// The analysis through the C ABI, with `options` as its JSON.
fn through_c(s: &Scratch, options: &Value) -> Value {
    let path = CString::new(s.db().to_str().unwrap()).unwrap();
    let experiment = CString::new(TEST).unwrap();
    let options = CString::new(options.to_string()).unwrap();
    let mut h: *mut cha_handle = std::ptr::null_mut();
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: valid C strings and out-pointers; the handle is closed and
    // the string freed below.
    unsafe {
        assert_eq!(cha_open(path.as_ptr(), &mut h), 0);
        let status =
            cha_experiment_analyze_with_options(h, experiment.as_ptr(), options.as_ptr(), &mut out);
        assert_eq!(status, 0);
        let json = CStr::from_ptr(out).to_str().unwrap().to_string();
        cha_string_free(out);
        cha_close(h);
        serde_json::from_str(&json).unwrap()
    }
}

/// The analysis through the Python binding, with `kwargs` as its keyword
/// arguments.
fn through_python(s: &Scratch, kwargs: &str) -> Value {
    let script = format!(
        "import json, sys, inspect\n\
         import cha_deploy\n\
         names = list(inspect.signature(cha_deploy.Cha.analyze_test_results).parameters)\n\
         assert names[2:] == ['correction', 'sequential', 'mixture_variance', 'phases'], names\n\
         with cha_deploy.open(sys.argv[1]) as cha:\n\
         \x20   print(json.dumps(cha.analyze_test_results({TEST:?}, {kwargs})))\n"
    );
    let out = run(Command::new("python3")
        .args(["-c", &script, s.db().to_str().unwrap()])
        .env("PYTHONPATH", repo_root().join("bindings/python"))
        .env("CHA_DEPLOY_LIB", shared_library())
        .env("PYTHONDONTWRITEBYTECODE", "1"))
    .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The report without what moves with the clock between the three calls.
fn timeless(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.remove("duration_days");
                o.remove("additional_days");
                if let Some(Value::Array(reasons)) = o.get_mut("reasons") {
                    reasons.retain(|r| !r.as_str().unwrap_or("").contains("has run"));
                }
                o.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn c_python_and_the_cli_give_the_same_analysis_for_the_same_options() {
    require_tool("python3", &["--version"], "the surface test needs python3");
    let s = Scratch::deployed("surfaces");
    record(&s);
    let cases: [(Value, &str, Vec<&str>); 4] = [
        (json!({}), "", vec![]),
        (
            json!({"correction": "bh", "sequential": true,
                   "mixture_variance": {"pipe_cost_efficiency": 4.0}, "phases": "all"}),
            "correction='bh', sequential=True, mixture_variance={'pipe_cost_efficiency': 4.0}, phases='all'",
            vec![
                "--correction",
                "bh",
                "--sequential",
                "--mixture-variance",
                "pipe_cost_efficiency=4",
                "--phases",
                "all",
            ],
        ),
        (
            json!({"correction": "none", "phases": [1]}),
            "correction='none', phases=[1]",
            vec!["--correction", "none", "--phases", "1"],
        ),
        (
            json!({"correction": "holm", "phases": "latest"}),
            "correction=cha_deploy.Correction.HOLM, phases='latest'",
            vec!["--correction", "holm", "--phases", "latest"],
        ),
    ];
    for (options, kwargs, flags) in cases {
        let c = through_c(&s, &options);
        let python = through_python(&s, kwargs);
        let mut args = vec!["ab", "analyze", TEST];
        args.extend(flags.iter().copied());
        let cli = s.json(&args);
        let want = options["correction"].as_str().unwrap_or("holm");
        for (surface, report) in [("C", &c), ("Python", &python), ("CLI", &cli)] {
            assert_eq!(report["correction"], want, "{surface} {options}");
        }
        assert_eq!(
            timeless(c.clone()),
            timeless(python),
            "C and Python, {options}"
        );
        assert_eq!(timeless(c), timeless(cli), "C and the CLI, {options}");
    }
    // The CLI's flags are the options' names.
    let help = s.ok(&["ab", "analyze", "--help"]);
    for flag in [
        "--correction",
        "--sequential",
        "--mixture-variance",
        "--phases",
    ] {
        assert!(help.contains(flag), "{help}");
    }
    for name in ["holm", "bh", "none"] {
        assert!(help.contains(name), "{help}");
    }
    // A name that is not in the vocabulary is refused by every surface.
    assert!(
        s.fails(&["ab", "analyze", TEST, "--correction", "bonferroni"], 2)
            .contains("bonferroni")
    );
}
