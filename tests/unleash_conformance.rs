//! The Unleash client specification (v6.1.0), run through the Unleash
//! import and the flag engine: every `tests` and `variantTests` case of the
//! required files must pass.
//!
//! The specification is not part of this repository: it is read from
//! `../shared/conformance/unleash-client-specification/` beside the
//! repository (as CI has it). When that folder is absent the test says so
//! on the terminal and does nothing; set `CHA_REQUIRE_CONFORMANCE=1` to make
//! its absence a failure.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use cha_deploy::config::{compile_flag_set, unleash};
use cha_deploy::flags::{FlagSet, OwnedContext};
use serde_json::{Value, json};

/// Files 19 and 20 describe Unleash's streaming delta protocol, which the
/// import does not apply (it reads whole documents).
const OPTIONAL: [&str; 2] = ["19-delta-api-hydration.json", "20-delta-api-events.json"];

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/unleash-client-specification")
}

/// Writes past the test harness's capture, so that a skip is seen.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The Unleash context of a case as cha-deploy's context JSON.
fn context(unleash: &Value) -> OwnedContext {
    let mut ours = serde_json::Map::new();
    for (theirs, key) in [
        ("userId", "user_id"),
        ("sessionId", "session_id"),
        ("remoteAddress", "remote_address"),
        ("environment", "environment"),
        ("appName", "app_name"),
        ("currentTime", "current_time"),
    ] {
        if let Some(v) = unleash.get(theirs).filter(|v| !v.is_null()) {
            ours.insert(key.into(), v.clone());
        }
    }
    if let Some(p) = unleash.get("properties") {
        ours.insert("properties".into(), p.clone());
    }
    OwnedContext::from_value(&Value::Object(ours)).expect("a spec context reads")
}

/// Unleash's payload (`{"type", "value"}`) matches ours by meaning.
fn same_payload(expected: Option<&Value>, ours: Option<&Value>) -> bool {
    match (expected, ours) {
        (None, None) => true,
        (Some(e), Some(o)) => {
            let text = e["value"].as_str().unwrap_or_default();
            match e["type"].as_str() {
                Some("number") => o.as_f64().is_some() && text.parse::<f64>().ok() == o.as_f64(),
                Some("json") => serde_json::from_str::<Value>(text).ok().as_ref() == Some(o),
                _ => o.as_str() == Some(text),
            }
        }
        _ => false,
    }
}

struct Outcome {
    passed: usize,
    failures: Vec<String>,
}

fn run_file(path: &Path) -> Outcome {
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let imported = unleash::import_unleash_value(&spec["state"]).expect("the state imports");
    let flags: FlagSet = compile_flag_set(imported.flags, imported.segments, Some("spec-host"))
        .unwrap_or_else(|e| panic!("{}: the import does not compile: {e}", path.display()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut outcome = Outcome {
        passed: 0,
        failures: Vec::new(),
    };
    for case in spec["tests"].as_array().into_iter().flatten() {
        let ctx = context(&case["context"]);
        let name = case["toggleName"].as_str().unwrap();
        let got = ctx.with_context(|c| flags.evaluate_name(name, c, now).enabled);
        if got == case["expectedResult"].as_bool().unwrap() {
            outcome.passed += 1;
        } else {
            outcome
                .failures
                .push(format!("{}: got {got}", case["description"]));
        }
    }
    for case in spec["variantTests"].as_array().into_iter().flatten() {
        let ctx = context(&case["context"]);
        let name = case["toggleName"].as_str().unwrap();
        let expected = &case["expectedResult"];
        let got = ctx.with_context(|c| {
            let e = flags.evaluate_name(name, c, now);
            let variant = e.variant.filter(|_| e.enabled);
            json!({
                "name": variant.unwrap_or("disabled"),
                "enabled": variant.is_some(),
                "feature_enabled": e.enabled,
                "payload": variant.and(e.payload),
            })
        });
        let ok = got["name"] == expected["name"]
            && got["enabled"] == expected["enabled"]
            && got["feature_enabled"] == expected["feature_enabled"]
            && same_payload(
                expected.get("payload"),
                Some(&got["payload"]).filter(|p| !p.is_null()),
            );
        if ok {
            outcome.passed += 1;
        } else {
            outcome.failures.push(format!(
                "{}: got {got}, expected {expected}",
                case["description"]
            ));
        }
    }
    outcome
}

#[test]
fn unleash_client_specification() {
    let dir = spec_dir();
    if !dir.is_dir() {
        let banner = format!(
            "\n########################################################################\n\
             ## SKIPPED: the Unleash client specification is absent.\n\
             ## Expected at {}\n\
             ## (the shared folder beside the repository). Nothing was checked.\n\
             ########################################################################\n",
            dir.display()
        );
        say(&banner);
        assert!(
            std::env::var_os("CHA_REQUIRE_CONFORMANCE").is_none(),
            "CHA_REQUIRE_CONFORMANCE is set and the specification is absent"
        );
        return;
    }
    let index: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index.len(), 22, "the v6.1.0 specification has 22 files");
    let mut report = BTreeMap::new();
    let mut failures = Vec::new();
    for file in &index {
        if OPTIONAL.contains(&file.as_str()) {
            report.insert(
                file.clone(),
                "not applied (delta protocol, optional)".to_string(),
            );
            continue;
        }
        let outcome = run_file(&dir.join(file));
        let total = outcome.passed + outcome.failures.len();
        assert!(total > 0, "{file} has no cases");
        report.insert(file.clone(), format!("{}/{total}", outcome.passed));
        failures.extend(outcome.failures.into_iter().map(|f| format!("{file}: {f}")));
    }
    let mut summary = String::from("Unleash client specification v6.1.0, passed/cases per file:");
    for (file, line) in &report {
        summary.push_str(&format!("\n  {file}: {line}"));
    }
    say(&summary);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same cases through a database: imported with `Cha::import_unleash`,
/// stored, reloaded into the live snapshot and evaluated by the handle.
#[test]
fn unleash_client_specification_through_the_handle() {
    let dir = spec_dir();
    if !dir.is_dir() {
        say(
            "SKIPPED: the Unleash client specification is absent (see unleash_client_specification)",
        );
        assert!(std::env::var_os("CHA_REQUIRE_CONFORMANCE").is_none());
        return;
    }
    let scratch = std::env::temp_dir().join(format!("cha-unleash-spec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let index: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let mut checked = 0;
    for file in index.iter().filter(|f| !OPTIONAL.contains(&f.as_str())) {
        let spec: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let cha = cha_deploy::Cha::open(scratch.join(format!("{file}.db"))).unwrap();
        cha.import_unleash(&spec["state"].to_string(), "conformance", false)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        for case in spec["tests"].as_array().into_iter().flatten() {
            let name = case["toggleName"].as_str().unwrap();
            let got = context(&case["context"]).with_context(|c| cha.evaluate_flag(name, c));
            assert_eq!(
                got.enabled,
                case["expectedResult"].as_bool().unwrap(),
                "{file}: {}",
                case["description"]
            );
            checked += 1;
        }
        for case in spec["variantTests"].as_array().into_iter().flatten() {
            let name = case["toggleName"].as_str().unwrap();
            let got = context(&case["context"]).with_context(|c| cha.evaluate_flag(name, c));
            let variant = got.variant.as_deref().filter(|_| got.enabled);
            assert_eq!(
                variant.unwrap_or("disabled"),
                case["expectedResult"]["name"],
                "{file}: {}",
                case["description"]
            );
            checked += 1;
        }
        cha.close().unwrap();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(checked, 275, "every case of the 20 required files");
}
