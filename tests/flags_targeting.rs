//! Targeting through the handle, from YAML: rules with constraints and
//! segments, environments, variants with payloads and overrides, typed
//! values with the caller's default, conditional prerequisites; bad rules
//! refused at validation with file:line and field path; segments changed
//! at runtime; the Unleash import; the export and rollback of all of it.

use std::path::{Path, PathBuf};

use cha_deploy::common::bucket::murmur3_32;
use cha_deploy::flags::{Context, ErrorCode, OwnedContext, Reason, ValueType};
use cha_deploy::{Cha, DeployOptions, ErrorKind, OnDrift, ParamType};
use serde_json::json;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cha-targeting-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/targeting")
}

/// A config folder holding only the targeting fixture's feature_flags.yml.
fn config_dir(s: &Scratch) -> PathBuf {
    let dir = s.path("configs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fixtures().join("feature_flags.yml"),
        dir.join("feature_flags.yml"),
    )
    .unwrap();
    dir
}

fn deployed(s: &Scratch) -> Cha {
    let cha = Cha::open(s.path("cha.db")).unwrap();
    cha.deploy_all(config_dir(s), "test").unwrap();
    cha
}

fn ctx(json: serde_json::Value) -> OwnedContext {
    OwnedContext::from_value(&json).unwrap()
}

#[test]
fn rules_segments_and_variants_decide_in_order() {
    let s = Scratch::new("rules");
    let cha = deployed(&s);
    let pilot = ctx(
        json!({"properties": {"network_id": "n-1", "site": "north-7",
        "network_size": 800, "tool_version": "2.4.1"}}),
    );
    let e = pilot.with_context(|c| cha.evaluate_flag("velocity_limit", c));
    assert_eq!(
        (e.enabled, e.variant.as_deref(), e.reason, e.rule.as_str()),
        (
            true,
            Some("strict"),
            Reason::TargetingMatch,
            "rule strict_pilot"
        )
    );
    assert_eq!(e.payload, Some(json!(1.8)));
    // An older tool, a smaller network, another site: the catch-all rule
    // and the flag's own variant.
    for other in [
        json!({"network_id": "n-1", "site": "north-7", "network_size": 800, "tool_version": "2.3.9"}),
        json!({"network_id": "n-1", "site": "north-7", "network_size": 499, "tool_version": "2.4.1"}),
        json!({"network_id": "n-1", "site": "south-1", "network_size": 800, "tool_version": "2.4.1"}),
    ] {
        let e = ctx(json!({ "properties": other }))
            .with_context(|c| cha.evaluate_flag("velocity_limit", c));
        assert_eq!(
            (e.variant.as_deref(), e.rule.as_str()),
            (Some("standard"), "rule everyone"),
            "{other}"
        );
    }
    // The first rule serves off for kiosk addresses, whatever comes after.
    let kiosk = ctx(
        json!({"remote_address": "192.0.2.44", "properties": {"site": "north-7",
        "network_size": 800, "tool_version": "3.0.0"}}),
    );
    let e = kiosk.with_context(|c| cha.evaluate_flag("velocity_limit", c));
    assert_eq!(
        (e.enabled, e.reason, e.rule.as_str()),
        (false, Reason::TargetingMatch, "rule kiosks")
    );
    // A prerequisite on a variant, and a case-insensitive ending.
    let report = ctx(
        json!({"properties": {"site": "harbour-2", "network_size": 500,
        "tool_version": "2.4.0", "email": "anna@stadtwerke.EXAMPLE"}}),
    );
    let e = report.with_context(|c| cha.evaluate_flag("strict_report", c));
    assert_eq!((e.enabled, e.reason), (true, Reason::TargetingMatch));
    let e = ctx(json!({"properties": {"email": "anna@stadtwerke.example"}}))
        .with_context(|c| cha.evaluate_flag("strict_report", c));
    assert_eq!(
        (e.enabled, e.reason, e.rule.as_str()),
        (
            false,
            Reason::PrerequisiteFailed,
            "prerequisite velocity_limit is not on with variant strict"
        )
    );
}

#[test]
fn environments_pick_the_flag_of_their_environment() {
    let s = Scratch::new("environments");
    let cha = deployed(&s);
    let on = |json: serde_json::Value| {
        ctx(json).with_context(|c| cha.evaluate_flag("solver_v3", c).enabled)
    };
    assert!(on(json!({"user_id": "u1", "environment": "development"})));
    assert!(!on(json!({"user_id": "u1"})));
    assert!(!on(json!({"user_id": "u1", "environment": "production"})));
    assert!(on(
        json!({"user_id": "u1", "environment": "production", "groups": ["hydraulics_team"]})
    ));
    // Staging: the flag's own 50% split, by the documented bucket.
    let in_staging = (0..400)
        .filter(|i| on(json!({"user_id": format!("planner-{i}"), "environment": "staging"})))
        .count();
    let expected = (0..400)
        .filter(|i| murmur3_32(format!("solver_v3:planner-{i}").as_bytes(), 0) % 10_000 < 5_000)
        .count();
    assert_eq!(in_staging, expected);
    let e =
        ctx(json!({"user_id": "u1", "environment": "production", "groups": ["hydraulics_team"]}))
            .with_context(|c| cha.evaluate_flag("solver_v3", c));
    assert_eq!(e.rule, "environments.production.rule hydraulics_team");
}

#[test]
fn variants_follow_unleash_weights_and_overrides() {
    let s = Scratch::new("variants");
    let cha = deployed(&s);
    let mut counts = [0usize; 2];
    for i in 0..1_000 {
        let user = format!("planner-{i:03}");
        let e = cha.evaluate_flag("pipe_catalogue", &Context::user(&user));
        // planner-001 is pinned by an override; the others by weight 3:1.
        let expected = if user == "planner-001" {
            "din_en_253"
        } else {
            let target =
                murmur3_32(format!("pipe_catalogue:{user}").as_bytes(), 86_028_157) % 4 + 1;
            if target <= 3 { "din_en_253" } else { "legacy" }
        };
        assert_eq!(e.variant.as_deref(), Some(expected), "{user}");
        counts[usize::from(expected == "legacy")] += 1;
    }
    assert!((700..800).contains(&counts[0]), "{counts:?}");
}

#[test]
fn typed_values_give_the_payload_or_the_default_with_the_reason() {
    let s = Scratch::new("typed");
    let cha = deployed(&s);
    let pilot = ctx(
        json!({"properties": {"network_id": "n-1", "site": "north-7",
        "network_size": 800, "tool_version": "2.4.1"}}),
    );
    pilot.with_context(|c| {
        let v = cha.flag_double("velocity_limit", c, 9.9);
        assert_eq!(
            (v.value, v.reason, v.error),
            (1.8, Reason::TargetingMatch, None)
        );
        assert_eq!(v.variant.as_deref(), Some("strict"));
        // A number is not a string: the default, TYPE_MISMATCH.
        let v = cha.flag_string("velocity_limit", c, "none");
        assert_eq!(
            (v.value.as_str(), v.reason, v.error),
            ("none", Reason::Error, Some(ErrorCode::TypeMismatch))
        );
        assert!(v.message.unwrap().contains("has no string value"));
        assert!(cha.flag_bool("velocity_limit", c, false).value);
    });
    let anyone = Context::user("planner-001");
    assert_eq!(cha.flag_int("max_iterations", &anyone, 7).value, 200);
    assert_eq!(cha.flag_double("max_iterations", &anyone, 7.0).value, 200.0);
    let catalogue = cha.flag_json("pipe_catalogue", &anyone, json!(null));
    assert_eq!(
        catalogue.value,
        json!({"standard": "DIN EN 253", "max_dn": 1000})
    );
    assert_eq!(
        cha.flag_string("pipe_catalogue", &anyone, "x").error,
        Some(ErrorCode::TypeMismatch)
    );
    // Off: the default with the reason it is off.
    let kiosk = ctx(json!({"remote_address": "192.0.2.1"}));
    kiosk.with_context(|c| {
        let v = cha.flag_double("velocity_limit", c, 2.0);
        assert_eq!(
            (v.value, v.reason, v.error),
            (2.0, Reason::TargetingMatch, None)
        );
    });
    // Unknown: the default, FLAG_NOT_FOUND, with a suggestion.
    let v = cha.flag_double("velocity_limt", &anyone, 3.0);
    assert_eq!(
        (v.value, v.reason, v.error),
        (3.0, Reason::Error, Some(ErrorCode::FlagNotFound))
    );
    assert!(
        v.message
            .unwrap()
            .contains("did you mean `velocity_limit`?")
    );
    // JSON in and out, as the CLI and Python use it; a context that does
    // not read is an evaluation error, not a failure.
    let v = cha.flag_value_json(
        "velocity_limit",
        Some(r#"{"properties": {"network_id": "x"}}"#),
        ValueType::Double,
        json!(1.0),
    );
    assert_eq!(v.value, json!(2.5));
    let v = cha.flag_value_json("velocity_limit", Some("{"), ValueType::Double, json!(1.0));
    assert_eq!(
        (v.value, v.error),
        (json!(1.0), Some(ErrorCode::InvalidContext))
    );
}

#[test]
fn a_variant_sticky_on_a_missing_attribute_leaves_the_flag_on_without_a_value() {
    let s = Scratch::new("sticky");
    let cha = deployed(&s);
    cha.update_flag(
        "split_values",
        &json!({"type": "boolean", "enabled": true, "stickiness": "network_id",
                "variants": [{"name": "a", "weight": 1, "payload": 1}, {"name": "b", "weight": 1, "payload": 2}]}),
        "test",
    )
    .unwrap();
    let e = cha.evaluate_flag("split_values", &Context::user("u1"));
    assert_eq!(
        (e.enabled, e.variant, e.error),
        (true, None, Some(ErrorCode::InvalidContext))
    );
    assert_eq!(e.rule, "context has no network_id for the variants");
    let v = cha.flag_int("split_values", &Context::user("u1"), -1);
    assert_eq!(
        (v.value, v.reason, v.error),
        (-1, Reason::Error, Some(ErrorCode::InvalidContext))
    );
    assert!(
        cha.is_enabled("split_values", &Context::user("u1"))
            .unwrap()
    );
}

/// Writes `yaml` as the feature_flags.yml of a fresh folder and deploys it.
fn deploy_text(s: &Scratch, yaml: &str) -> cha_deploy::Error {
    let dir = s.path("bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("feature_flags.yml"), yaml).unwrap();
    let cha = Cha::open(s.path("bad.db")).unwrap();
    cha.deploy_all(&dir, "test").unwrap_err()
}

#[test]
fn bad_rules_are_refused_with_file_line_and_field_path() {
    let s = Scratch::new("bad");
    let err = deploy_text(
        &s,
        "version: 2\n\
         segments:\n\
         \x20 pilot:\n\
         \x20   constraints:\n\
         \x20     - {attribute: site, operator: IN_CIDR, values: [10.0.0.0/33]}\n\
         flags:\n\
         \x20 a:\n\
         \x20   type: boolean\n\
         \x20   enabled: true\n\
         \x20   prerequisites: [b]\n\
         \x20   rules:\n\
         \x20     - constraints:\n\
         \x20         - {attribute: user_id, operator: REGEX, value: \"(unclosed\"}\n\
         \x20         - {attribute: site, operator: NOT_AN_OPERATOR, values: [x]}\n\
         \x20       segments: [pilots]\n\
         \x20 b:\n\
         \x20   type: boolean\n\
         \x20   prerequisites: [{flag: a, enabled: false}]\n",
    );
    assert_eq!(err.kind(), ErrorKind::Config);
    let m = err.message();
    for expected in [
        "feature_flags.yml:5:55: segments.pilot.constraints[0].values[0]: `10.0.0.0/33` is not an IP address or CIDR range",
        "feature_flags.yml:13:58: flags.a.rules[0].constraints[0].value: `(unclosed` is not a valid regular expression",
        "feature_flags.yml:14:41: flags.a.rules[0].constraints[1].operator: unknown operator `NOT_AN_OPERATOR` (hint: one of IN, NOT_IN,",
        "feature_flags.yml:15:20: flags.a.rules[0].segments[0]: segment `pilots` does not exist; did you mean `pilot`?",
        "feature_flags.yml:18:21: flags.b.prerequisites[0]: prerequisite cycle: a → b → a",
    ] {
        assert!(m.contains(expected), "missing {expected:?} in:\n{m}");
    }
}

#[test]
fn the_export_and_a_rollback_keep_rules_segments_and_environments_byte_for_byte() {
    let s = Scratch::new("export");
    let cha = deployed(&s);
    let first = cha.export_configuration().unwrap();
    let exported: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        exported["segments"]["pilot_sites"]["constraints"][0],
        json!({"attribute": "site", "operator": "IN", "values": ["north-7", "harbour-2"]})
    );
    assert_eq!(
        exported["flags"]["solver_v3"]["environments"]["staging"],
        json!({"percentage": 50.0})
    );
    assert_eq!(
        exported["flags"]["strict_report"]["prerequisites"],
        json!([{"flag": "velocity_limit", "variants": ["strict"]}])
    );
    // Deploying the same files again changes nothing.
    let again = cha.deploy_all(config_dir(&s), "test").unwrap();
    assert!(
        again.changes["flags"].updated.is_empty(),
        "{:?}",
        again.changes
    );
    assert!(again.changes["segments"].updated.is_empty());
    // A second deployment changes a segment and a rule; a runtime change
    // adds a segment; rolling back brings the first export back exactly.
    let dir = config_dir(&s);
    let text = std::fs::read_to_string(dir.join("feature_flags.yml"))
        .unwrap()
        .replace("value: 500}", "value: 800}")
        .replace("name: strict_pilot", "name: strict_pilots");
    std::fs::write(dir.join("feature_flags.yml"), text).unwrap();
    let second = cha.deploy_all(&dir, "test").unwrap();
    assert_eq!(second.changes["segments"].updated, ["large_networks"]);
    assert!(cha.export_configuration().unwrap() != first);
    cha.set_segment(
        "night_shift",
        &json!({"constraints": [{"attribute": "shift", "operator": "IN", "values": ["night"]}]}),
        "ops",
    )
    .unwrap();
    let options = DeployOptions {
        on_drift: OnDrift::Overwrite,
        ..DeployOptions::default()
    };
    cha.rollback_deployment(second.deployment_id - 1, &options)
        .unwrap();
    assert_eq!(cha.export_configuration().unwrap(), first);
}

#[test]
fn segments_change_at_runtime_only_when_every_flag_still_compiles() {
    let s = Scratch::new("segments");
    let cha = deployed(&s);
    assert_eq!(cha.segments().unwrap().len(), 2);
    let err = cha
        .set_segment("pilot_sites", &serde_json::Value::Null, "ops")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.message().contains(
            "flags.velocity_limit.rules[1].segments[0]: segment `pilot_sites` does not exist"
        ),
        "{}",
        err.message()
    );
    let err = cha
        .set_segment(
            "pilot_sites",
            &json!({"constraints": [{"attribute": "site", "operator": "REGEX", "value": "["}]}),
            "ops",
        )
        .unwrap_err();
    assert!(
        err.message()
            .starts_with("segments.pilot_sites.constraints[0].value:"),
        "{}",
        err.message()
    );
    let change = cha
        .set_segment(
            "pilot_sites",
            &json!({"constraints": [{"attribute": "site", "operator": "STR_STARTS_WITH", "values": ["north-"]}]}),
            "ops",
        )
        .unwrap();
    assert!(change.changed);
    let pilot = ctx(
        json!({"properties": {"site": "north-9", "network_size": 800,
        "tool_version": "2.4.1", "network_id": "n"}}),
    );
    let e = pilot.with_context(|c| cha.evaluate_flag("velocity_limit", c));
    assert_eq!(e.variant.as_deref(), Some("strict"));
    let history = cha.flag_history("velocity_limit").unwrap();
    assert_eq!(history.len(), 1, "a segment's change is the segment's");
}

#[test]
fn an_unleash_import_reports_what_it_cannot_translate() {
    let s = Scratch::new("import");
    let cha = Cha::open(s.path("cha.db")).unwrap();
    let document = std::fs::read_to_string(fixtures().join("unleash.json")).unwrap();
    let dry = cha.import_unleash(&document, "ops", true).unwrap();
    assert!(dry.dry_run);
    assert!(cha.flags().unwrap().is_empty(), "a dry run writes nothing");
    let report = cha.import_unleash(&document, "ops", false).unwrap();
    let names: Vec<(&str, &str)> = report
        .flags
        .iter()
        .map(|f| (f.name.as_str(), f.action.as_str()))
        .collect();
    assert_eq!(
        names,
        [("network_heatmap", "create"), ("export_gis", "create")]
    );
    assert_eq!(report.segments[0].name, "pilot_sites");
    assert_eq!(report.untranslated.len(), 1, "{:?}", report.untranslated);
    let u = &report.untranslated[0];
    assert_eq!(
        (u.item.as_str(), u.path.as_str()),
        ("network_heatmap", "features[0].strategies[1]")
    );
    assert!(u.message.contains("custom strategy `myCustomStrategy`"));
    let heat = ctx(json!({"user_id": "planner-001", "app_name": "sizer",
        "properties": {"site": "north-7", "toolVersion": "2.1.0"}}));
    let e = heat.with_context(|c| cha.evaluate_flag("network_heatmap", c));
    assert_eq!((e.enabled, e.variant.as_deref()), (true, Some("blue")));
    assert_eq!(e.payload, Some(json!("blues")));
    assert!(heat.with_context(|c| cha.evaluate_flag("export_gis", c).enabled));
    assert!(
        !cha.evaluate_flag("export_gis", &Context::user("planner-001"))
            .enabled
    );
    let history = cha.flag_history("export_gis").unwrap();
    assert_eq!(
        (history[0].actor.as_str(), history[0].action.as_str()),
        ("ops", "import")
    );
    // Again: nothing changes.
    let again = cha.import_unleash(&document, "ops", false).unwrap();
    assert!(again.flags.iter().all(|f| f.action == "unchanged"));
    let err = cha
        .import_unleash("{\"version\": 1}", "ops", false)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn experiment_parameters_arrive_typed() {
    let s = Scratch::new("params");
    let cha = Cha::open(s.path("cha.db")).unwrap();
    cha.deploy_all(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs"),
        "test",
    )
    .unwrap();
    let v = cha
        .experiment_param_as(
            "pipe_sizing_comparison",
            "intelligent",
            "max_velocity_ms",
            ParamType::Double,
        )
        .unwrap();
    assert_eq!(v, json!(2.0));
    assert_eq!(
        cha.experiment_param(
            "pipe_sizing_comparison",
            "traditional",
            "default_diameter_mm"
        )
        .unwrap(),
        json!(100)
    );
    let err = cha
        .experiment_param_as(
            "pipe_sizing_comparison",
            "intelligent",
            "pipe_sizing_method",
            ParamType::Double,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.message().contains("is \"intelligent\", not a number"),
        "{}",
        err.message()
    );
    let err = cha
        .experiment_param("pipe_sizing_comparison", "intelligent", "max_velocity")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.message().contains("did you mean `max_velocity_ms`?"),
        "{}",
        err.message()
    );
    let err = cha
        .experiment_param("pipe_sizing_comparison", "smart", "x")
        .unwrap_err();
    assert!(
        err.message()
            .contains("its variants: traditional, intelligent"),
        "{}",
        err.message()
    );
}

#[test]
fn a_boolean_flag_on_by_default_serves_its_own_variant_when_no_rule_matches() {
    let s = Scratch::new("default-variant");
    let dir = s.path("configs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("feature_flags.yml"),
        "version: 2\n\
         flags:\n\
         \x20 max_pressure_bar:\n\
         \x20   type: boolean\n\
         \x20   enabled: true\n\
         \x20   default: true\n\
         \x20   variants: [{name: standard, weight: 1, payload: 16}]\n\
         \x20   rules:\n\
         \x20     - constraints: [{attribute: site, operator: IN, values: [harbour-2]}]\n\
         \x20       variants: [{name: harbour, weight: 1, payload: 10}]\n",
    )
    .unwrap();
    let cha = Cha::open(s.path("cha.db")).unwrap();
    cha.deploy_all(&dir, "test").unwrap();
    let harbour = ctx(json!({"properties": {"site": "harbour-2"}}));
    let v = harbour.with_context(|c| cha.flag_int("max_pressure_bar", c, 0));
    assert_eq!(
        (v.value, v.reason, v.variant.as_deref()),
        (10, Reason::TargetingMatch, Some("harbour"))
    );
    // No rule matches: the flag's default (on), with its own variant.
    let v = cha.flag_int("max_pressure_bar", &Context::default(), 0);
    assert_eq!(
        (v.value, v.reason, v.error, v.variant.as_deref()),
        (16, Reason::Default, None, Some("standard"))
    );
}
