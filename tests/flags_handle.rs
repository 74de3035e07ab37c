//! Feature flags through the handle: deploy, evaluate, update, history,
//! restore, and changes made by one handle reaching another.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cha_deploy::flags::Context;
use cha_deploy::{Cha, ErrorKind, OpenOptions};
use serde_json::json;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cha-flags-test-{}-{name}", std::process::id()));
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

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

fn deployed(s: &Scratch) -> Cha {
    let cha = Cha::open(s.path("cha.db")).unwrap();
    cha.deploy_all(configs(), "test").unwrap();
    cha
}

#[test]
fn deploying_the_shipped_configs_creates_ten_flags() {
    let s = Scratch::new("deploy");
    let cha = Cha::open(s.path("cha.db")).unwrap();
    let report = cha.deploy_all(configs(), "alice").unwrap();
    assert_eq!(report.changes["flags"].created.len(), 10, "{report:?}");
    assert!(
        report.changes["flags"].updated.is_empty() && report.changes["flags"].removed.is_empty()
    );
    assert_eq!(report.files[0].file, "feature_flags.yml");
    // Deploying the same files again changes nothing.
    let again = cha.deploy_all(configs(), "alice").unwrap();
    assert_eq!(again.changes["flags"].unchanged.len(), 10);
    assert!(again.changes["flags"].created.is_empty() && again.changes["flags"].updated.is_empty());
    assert_eq!(cha.flags().unwrap().len(), 10);
    let history = cha.flag_history("intelligent_pipe_sizing").unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].actor.as_str(), history[0].action.as_str()),
        ("alice", "create")
    );
}

#[test]
fn an_invalid_config_directory_changes_nothing() {
    let s = Scratch::new("invalid");
    let cha = deployed(&s);
    let bad = s.path("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("feature_flags.yml"),
        "version: 2\nflags:\n  a:\n    type: percentage\n    percentage: 150\n  b:\n    type: boolean\n    prerequisites: [nope]\n",
    )
    .unwrap();
    let e = cha.deploy_all(&bad, "test").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("feature_flags.yml:5:"), "{e}");
    assert!(e.message().contains("nope"), "{e}");
    assert_eq!(cha.flags().unwrap().len(), 10, "nothing may change");
    let empty = s.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(
        cha.deploy_all(&empty, "test").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        cha.deploy_all(s.path("missing"), "test")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

/// A directory holding one flag (say, a template) does not silently remove
/// the nine others: the deploy refuses until told to let the files win.
#[test]
fn flags_a_file_drops_are_removed_only_when_told() {
    let s = Scratch::new("removed");
    let cha = deployed(&s);
    let dir = s.path("one");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("feature_flags.yml"),
        "version: 2\nflags:\n  new_ui:\n    type: boolean\n    enabled: true\n",
    )
    .unwrap();
    let refused = cha.deploy_all(&dir, "bob").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Drift, "{refused}");
    assert!(
        refused
            .message()
            .contains("flag `intelligent_pipe_sizing` (deployed before): delete it"),
        "{refused}"
    );
    assert_eq!(cha.flags().unwrap().len(), 10, "nothing changed");
    let overwrite = cha_deploy::DeployOptions {
        actor: Some("bob".into()),
        on_drift: cha_deploy::OnDrift::Overwrite,
        ..Default::default()
    };
    let report = cha.deploy(&dir, &overwrite).unwrap();
    assert_eq!(report.changes["flags"].removed.len(), 9);
    assert_eq!(cha.flags().unwrap().len(), 1);
    assert!(
        !cha.evaluate_flag("intelligent_pipe_sizing", &Context::user("u1"))
            .enabled
    );
    let e = cha.evaluate_flag("intelligent_pipe_sizing", &Context::user("u1"));
    assert_eq!(e.error, Some(cha_deploy::flags::ErrorCode::FlagNotFound));
}

#[test]
fn updates_validate_apply_and_are_audited() {
    let s = Scratch::new("update");
    let cha = deployed(&s);
    let before = cha.flag("intelligent_pipe_sizing").unwrap();
    let change = cha
        .update_flag(
            "intelligent_pipe_sizing",
            &json!({"percentage": 50}),
            "carol",
        )
        .unwrap();
    assert!(change.changed);
    assert_eq!(change.version, before.version + 1);
    assert_eq!(change.after.percentage, Some(50.0));
    // Invalid updates change nothing and say why.
    for (updates, needle) in [
        (json!({"percentage": 150}), "percentage"),
        (json!({"percentage": "half"}), "percentage"),
        (json!({"colour": "red"}), "colour"),
        (json!({"prerequisites": ["no_such_flag"]}), "no_such_flag"),
    ] {
        let e = cha
            .update_flag("intelligent_pipe_sizing", &updates, "carol")
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Config | ErrorKind::InvalidArgument),
            "{e}"
        );
        assert!(e.message().contains(needle), "{updates}: {e}");
    }
    assert_eq!(
        cha.flag("intelligent_pipe_sizing").unwrap().version,
        change.version
    );
    // Unknown flag without a type, then created with one.
    assert_eq!(
        cha.update_flag("brand_new", &json!({"enabled": true}), "c")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let created = cha
        .update_flag(
            "brand_new",
            &json!({"type": "boolean", "enabled": true}),
            "c",
        )
        .unwrap();
    assert_eq!(created.version, 1);
    assert!(cha.is_enabled("brand_new", &Context::default()).unwrap());
    assert!(
        cha.update_flag("brand_new", &json!({}), " ").is_err(),
        "an empty actor is refused"
    );
}

#[test]
fn any_earlier_version_can_be_restored() {
    let s = Scratch::new("restore");
    let cha = deployed(&s);
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 50}), "a")
        .unwrap();
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 75}), "b")
        .unwrap();
    let history = cha.flag_history("intelligent_pipe_sizing").unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| h.version.unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        history[2].before.as_ref().unwrap()["percentage"],
        json!(50.0)
    );
    let restored = cha
        .restore_flag("intelligent_pipe_sizing", 1, "oncall")
        .unwrap();
    assert_eq!(restored.version, 4);
    assert_eq!(restored.after.percentage, Some(25.0));
    assert_eq!(
        cha.flag_history("intelligent_pipe_sizing").unwrap()[3].action,
        "restore"
    );
    assert_eq!(
        cha.restore_flag("intelligent_pipe_sizing", 99, "x")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        cha.flag_history("no_such_flag").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_change_in_one_handle_reaches_another_within_the_refresh_interval() {
    let s = Scratch::new("cross");
    let writer = deployed(&s);
    let options = OpenOptions {
        refresh_interval_ms: 50,
        ..OpenOptions::default()
    };
    let reader = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    let ctx = Context::user("engineer-7");
    assert!(reader.is_enabled("new_ui", &ctx).is_ok());
    writer
        .update_flag("pressure_drop_check", &json!({"enabled": false}), "ops")
        .unwrap();
    let start = Instant::now();
    while reader.evaluate_flag("pressure_drop_check", &ctx).reason
        != cha_deploy::flags::Reason::Disabled
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the change never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_hot_checks_see_a_change_in_another_handle_within_the_refresh_interval() {
    // is_enabled and is_enabled_by_handle read a snapshot cached per thread;
    // the cache must still notice the watcher's reload.
    let s = Scratch::new("cross-hot");
    let writer = deployed(&s);
    let options = OpenOptions {
        refresh_interval_ms: 50,
        ..OpenOptions::default()
    };
    let reader = Cha::open_with_options(s.path("cha.db"), options).unwrap();
    let ctx = Context::user("engineer-7");
    let id = reader.flag_lookup("performance_monitoring").unwrap();
    assert!(reader.is_enabled("performance_monitoring", &ctx).unwrap());
    assert!(reader.is_enabled_by_handle(id, &ctx).unwrap());
    writer
        .update_flag("performance_monitoring", &json!({"enabled": false}), "ops")
        .unwrap();
    let start = Instant::now();
    while reader.is_enabled("performance_monitoring", &ctx).unwrap()
        || reader.is_enabled_by_handle(id, &ctx).unwrap()
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the change never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn each_handle_answers_from_its_own_configuration_in_one_thread() {
    // More handles than a thread caches snapshots for, used in turns, then
    // closed and replaced by new ones (which may reuse their addresses).
    let s = Scratch::new("many");
    let ctx = Context::user("u");
    for round in 0..2 {
        let handles: Vec<Cha> = (0..7)
            .map(|i| {
                let cha = Cha::open(s.path(&format!("cha-{round}-{i}.db"))).unwrap();
                cha.deploy_all(configs(), "test").unwrap();
                if (i + round) % 2 == 1 {
                    cha.update_flag("performance_monitoring", &json!({"enabled": false}), "ops")
                        .unwrap();
                }
                cha
            })
            .collect();
        for _ in 0..3 {
            for (i, cha) in handles.iter().enumerate() {
                let id = cha.flag_lookup("performance_monitoring").unwrap();
                let expected = (i + round) % 2 == 0;
                assert_eq!(
                    cha.is_enabled("performance_monitoring", &ctx).unwrap(),
                    expected
                );
                assert_eq!(cha.is_enabled_by_handle(id, &ctx).unwrap(), expected);
            }
        }
        for cha in handles {
            cha.close().unwrap();
        }
    }
}

#[test]
fn flag_handles_survive_reloads() {
    let s = Scratch::new("handles");
    let cha = deployed(&s);
    let id = cha.flag_lookup("pressure_drop_check").unwrap();
    let ctx = Context::user("u");
    let on = cha.is_enabled("pressure_drop_check", &ctx).unwrap();
    assert_eq!(cha.is_enabled_by_handle(id, &ctx).unwrap(), on);
    cha.update_flag("pressure_drop_check", &json!({"enabled": false}), "ops")
        .unwrap();
    assert!(!cha.is_enabled_by_handle(id, &ctx).unwrap());
    assert_eq!(
        cha.flag_lookup("pressure_drop_check").unwrap(),
        id,
        "the same name gives the same id"
    );
    assert_eq!(
        cha.flag_lookup("nope").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        cha.is_enabled_by_handle(999, &ctx).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        cha.is_enabled("nope", &ctx).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn bad_context_json_is_an_invalid_argument() {
    let s = Scratch::new("context");
    let cha = deployed(&s);
    for bad in [
        "{",
        "[]",
        r#"{"groups": "beta"}"#,
        r#"{"current_time": "yesterday"}"#,
        r#"{"colour": 1}"#,
    ] {
        let e = cha.evaluate_flag_json("new_ui", Some(bad)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
    }
    let e = cha
        .evaluate_flag_json(
            "network_analysis",
            Some(r#"{"user_id":"u1","current_time":"2025-01-01T00:00:00Z"}"#),
        )
        .unwrap();
    assert_eq!(e.reason, cha_deploy::flags::Reason::Schedule);
}
