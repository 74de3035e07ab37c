//! Guarded rollouts, with the clock driven by the test: an alert that
//! fires pauses a rollout where it is, a harmed experiment guardrail rolls
//! one back, a schedule stops advancing, the stop is drift a deploy does not
//! undo silently, and `resume` lifts it.

use std::path::{Path, PathBuf};

use cha_deploy::flags::{Context, GuardAction, Reason};
use cha_deploy::monitoring::MetricKind;
use cha_deploy::{Cha, DeployOptions, ErrorKind, OnDrift, OpenOptions};
use serde_json::json;

/// 2026-01-05T00:00:00Z.
const T0: i64 = 1_767_571_200_000;
const MINUTE: i64 = 60_000;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cha-guard-test-{}-{name}", std::process::id()));
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

/// The repository's configs with `guardrails` (YAML lines, indented for a
/// flag's fields) given to intelligent_pipe_sizing.
fn guarded_configs(s: &Scratch, guardrails: &str) -> PathBuf {
    let dir = s.path("configs");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(configs()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let flags = std::fs::read_to_string(dir.join("feature_flags.yml")).unwrap();
    let flags = flags.replacen(
        "    tags: [sizing, rollout]\n",
        &format!("    tags: [sizing, rollout]\n    guardrails:\n{guardrails}"),
        1,
    );
    std::fs::write(dir.join("feature_flags.yml"), flags).unwrap();
    dir
}

/// A handle whose background evaluator stays out of the test's clock.
fn open(s: &Scratch) -> Cha {
    let options = OpenOptions {
        evaluate_alerts: false,
        ..OpenOptions::default()
    };
    Cha::open_with_options(s.path("cha.db"), options).unwrap()
}

fn deploy(cha: &Cha, dir: &Path) {
    let options = DeployOptions {
        actor: Some("ci".into()),
        ..DeployOptions::default()
    };
    cha.deploy(dir, &options).unwrap();
}

/// Which of 400 planners the flag is on for.
fn on_for(cha: &Cha, flag: &str) -> Vec<bool> {
    (0..400)
        .map(|i| {
            cha.is_enabled(flag, &Context::user(&format!("planner-{i:03}")))
                .unwrap()
        })
        .collect()
}

/// Sizings taking `ms` milliseconds, every 10 s from `from` to `to`.
fn slow_sizings(cha: &Cha, from: i64, to: i64, ms: f64) {
    let mut t = from;
    while t <= to {
        cha.record_metric_at(
            MetricKind::Timer,
            "pipe_sizing_time_ms",
            ms / 1000.0,
            None,
            t,
        )
        .unwrap();
        t += 10_000;
    }
    cha.flush().unwrap();
}

#[test]
fn a_firing_alert_pauses_the_rollout_where_it_is() {
    let s = Scratch::new("pause");
    let dir = guarded_configs(
        &s,
        "      alerts: [pipe_sizing_time_ms]\n      min_severity: error\n      on_trigger: pause\n",
    );
    let cha = open(&s);
    deploy(&cha, &dir);
    let before = on_for(&cha, "intelligent_pipe_sizing");
    let in_before = before.iter().filter(|&&on| on).count();
    assert!((60..140).contains(&in_before), "{in_before} of 400 at 25%");

    // Nothing fires: nothing stops.
    assert!(cha.check_guardrails_at(T0).unwrap().is_empty());
    // Sizings at 6 s (error threshold 5 s) for 5 minutes: pending, then
    // firing once `for_seconds` (120) has passed.
    slow_sizings(&cha, T0, T0 + 5 * MINUTE, 6000.0);
    for minute in 1..=5 {
        cha.evaluate_alerts_at(T0 + minute * MINUTE).unwrap();
    }
    let firing = cha
        .alerts(cha_deploy::AlertQuery {
            firing_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(firing.len(), 1, "{firing:?}");
    let events = cha.check_guardrails_at(T0 + 5 * MINUTE).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (e.flag.as_str(), e.action),
        ("intelligent_pipe_sizing", GuardAction::Pause)
    );
    assert_eq!((e.from_percentage, e.percentage), (25.0, 25.0));
    assert!(
        e.reasons[0].starts_with("alert pipe_sizing_time_ms firing (error: "),
        "{:?}",
        e.reasons
    );
    // Checking again stops nothing more.
    assert!(cha.check_guardrails_at(T0 + 6 * MINUTE).unwrap().is_empty());

    // The same planners keep it; a rollout step does not move it while held.
    assert_eq!(on_for(&cha, "intelligent_pipe_sizing"), before);
    cha.update_flag("intelligent_pipe_sizing", &json!({"percentage": 60}), "ops")
        .unwrap();
    assert_eq!(on_for(&cha, "intelligent_pipe_sizing"), before);
    let why = cha.evaluate_flag("intelligent_pipe_sizing", &Context::user("planner-001"));
    assert_eq!(why.reason, Reason::Split);
    assert!(
        why.rule
            .starts_with("held at 25% by pause (alert pipe_sizing_time_ms firing"),
        "{}",
        why.rule
    );

    // The stop is recorded as a change by the guardrail, and is drift: a
    // deploy of the files refuses to undo it.
    let history = cha.flag_history("intelligent_pipe_sizing").unwrap();
    let stop = history.iter().find(|h| h.actor == "guardrail").unwrap();
    assert_eq!(stop.action, "pause");
    let err = cha.deploy(&dir, &DeployOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Drift, "{err}");
    assert!(
        err.message()
            .contains("flag `intelligent_pipe_sizing`: undo its runtime change"),
        "{err}"
    );
    let status = cha.deployment_status().unwrap();
    let rollout = status.subsystems[0].details["rollouts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["flag"] == "intelligent_pipe_sizing")
        .unwrap()
        .clone();
    assert_eq!(rollout["percentage"], json!(25.0));
    assert_eq!(rollout["held"]["action"], "pause");

    // Resumed by hand: the 60% step applies.
    cha.resume_rollout("intelligent_pipe_sizing", "ops")
        .unwrap();
    let after = on_for(&cha, "intelligent_pipe_sizing");
    assert!(after.iter().filter(|&&on| on).count() > in_before + 60);
    let err = cha
        .resume_rollout("intelligent_pipe_sizing", "ops")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn a_harmed_experiment_guardrail_rolls_the_rollout_back() {
    let s = Scratch::new("rollback");
    let dir = guarded_configs(
        &s,
        "      experiments: [pipe_sizing_comparison]\n      on_trigger: rollback\n",
    );
    let cha = open(&s);
    deploy(&cha, &dir);
    assert!(
        cha.check_guardrails_at(T0).unwrap().is_empty(),
        "no data, no harm"
    );
    // The intelligent arm sizes twice as slowly: a guardrail (lower is
    // better) significantly harmed.
    for i in 0..400 {
        let unit = format!("network-{i:04}");
        let Some(variant) = cha.assign("pipe_sizing_comparison", &unit).unwrap().variant else {
            continue;
        };
        let base = if &*variant.name == "intelligent" {
            240.0
        } else {
            120.0
        };
        let noise = f64::from(i % 17) - 8.0;
        cha.record(
            "pipe_sizing_comparison",
            &unit,
            "sizing_time_ms",
            base + noise,
        )
        .unwrap();
    }
    let events = cha.check_guardrails_at(T0).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].action, GuardAction::Rollback);
    assert_eq!(
        (events[0].from_percentage, events[0].percentage),
        (25.0, 0.0)
    );
    assert_eq!(
        events[0].reasons,
        ["experiment pipe_sizing_comparison: guardrail sizing_time_ms harmed in intelligent"]
    );
    assert!(
        on_for(&cha, "intelligent_pipe_sizing")
            .iter()
            .all(|&on| !on)
    );
}

#[test]
fn a_paused_schedule_stops_advancing() {
    let s = Scratch::new("schedule");
    let dir = guarded_configs(&s, "      alerts: [pipe_sizing_time_ms]\n");
    let cha = open(&s);
    deploy(&cha, &dir);
    // A scheduled ramp made at runtime: 10% from T0, 50% a week later.
    cha.update_flag(
        "intelligent_pipe_sizing",
        &json!({"type": "time_based", "schedule": [
            {"at": "2026-01-05T00:00:00Z", "percentage": 10},
            {"at": "2026-01-12T00:00:00Z", "percentage": 50}]}),
        "ops",
    )
    .unwrap();
    slow_sizings(&cha, T0, T0 + 5 * MINUTE, 2000.0);
    for minute in 1..=5 {
        cha.evaluate_alerts_at(T0 + minute * MINUTE).unwrap();
    }
    let events = cha.check_guardrails_at(T0 + 5 * MINUTE).unwrap();
    assert_eq!(
        events.len(),
        1,
        "a warning fires at the default min_severity"
    );
    assert_eq!(events[0].percentage, 10.0);
    // Two weeks later, still at 10%.
    let later = T0 + 14 * 24 * 60 * MINUTE;
    let on = (0..1000)
        .filter(|i| {
            let user = format!("planner-{i:04}");
            let ctx = Context {
                user_id: Some(&user),
                current_time_ms: Some(later),
                ..Context::default()
            };
            cha.is_enabled("intelligent_pipe_sizing", &ctx).unwrap()
        })
        .count();
    assert!((60..140).contains(&on), "{on} of 1000 at 10%");
}

#[test]
fn pause_and_resume_by_hand() {
    let s = Scratch::new("manual");
    let cha = open(&s);
    deploy(&cha, &configs());
    let change = cha
        .pause_rollout(
            "intelligent_pipe_sizing",
            "waiting for the winter peak",
            "ops",
        )
        .unwrap();
    let hold = change.after.hold.unwrap();
    assert_eq!((hold.percentage, hold.action), (25.0, GuardAction::Pause));
    assert_eq!(hold.reason, "waiting for the winter peak");
    let err = cha
        .pause_rollout("intelligent_pipe_sizing", "", "ops")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = cha.pause_rollout("new_ui", "", "ops").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("no rollout in progress"), "{err}");
    // keep_runtime keeps the hold.
    let keep = DeployOptions {
        on_drift: OnDrift::KeepRuntime,
        ..DeployOptions::default()
    };
    cha.deploy(configs(), &keep).unwrap();
    assert!(
        cha.flag("intelligent_pipe_sizing")
            .unwrap()
            .definition
            .hold
            .is_some()
    );
    cha.resume_rollout("intelligent_pipe_sizing", "ops")
        .unwrap();
    assert!(
        cha.flag("intelligent_pipe_sizing")
            .unwrap()
            .definition
            .hold
            .is_none()
    );
}

#[test]
fn guardrails_name_what_exists() {
    let s = Scratch::new("invalid");
    let cha = open(&s);
    let bad = guarded_configs(
        &s,
        "      alerts: [pipe_sizing_tme_ms]\n      experiments: [nope]\n      on_trigger: explode\n      min_severity: loud\n",
    );
    let err = cha.deploy(&bad, &DeployOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let m = err.message();
    assert!(
        m.contains("flags.intelligent_pipe_sizing.guardrails.on_trigger: unknown action `explode`"),
        "{m}"
    );
    assert!(
        m.contains(
            "flags.intelligent_pipe_sizing.guardrails.min_severity: unknown severity `loud`"
        ),
        "{m}"
    );
    let s2 = Scratch::new("invalid-refs");
    let cha = open(&s2);
    let refs = guarded_configs(
        &s2,
        "      alerts: [pipe_sizing_tme_ms]\n      experiments: [nope]\n",
    );
    let err = cha.deploy(&refs, &DeployOptions::default()).unwrap_err();
    let m = err.message();
    assert!(
        m.contains("flags.intelligent_pipe_sizing.guardrails.alerts: no alert rule `pipe_sizing_tme_ms` in performance_monitoring.yml"),
        "{m}"
    );
    assert!(
        m.contains("flags.intelligent_pipe_sizing.guardrails.experiments: no experiment `nope` in ab_tests.yml"),
        "{m}"
    );
    let s3 = Scratch::new("empty");
    let cha = open(&s3);
    let empty = guarded_configs(&s3, "      on_trigger: pause\n");
    let err = cha.deploy(&empty, &DeployOptions::default()).unwrap_err();
    assert!(err.message().contains("guardrails watch nothing"), "{err}");
}

/// The monitoring evaluator thread checks the guarded rollouts by itself.
#[test]
fn the_background_evaluator_stops_a_harmed_rollout() {
    let s = Scratch::new("background");
    let dir = guarded_configs(
        &s,
        "      experiments: [pipe_sizing_comparison]\n      on_trigger: rollback\n",
    );
    let cha = open(&s);
    deploy(&cha, &dir);
    for i in 0..400 {
        let unit = format!("network-{i:04}");
        let Some(variant) = cha.assign("pipe_sizing_comparison", &unit).unwrap().variant else {
            continue;
        };
        let base = if &*variant.name == "intelligent" {
            240.0
        } else {
            120.0
        };
        cha.record(
            "pipe_sizing_comparison",
            &unit,
            "sizing_time_ms",
            base + f64::from(i % 17),
        )
        .unwrap();
    }
    cha.flush().unwrap();
    // A handle whose evaluator runs: its first tick checks the rollouts.
    let watcher = Cha::open(s.path("cha.db")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while watcher
        .flag("intelligent_pipe_sizing")
        .unwrap()
        .definition
        .hold
        .is_none()
    {
        assert!(std::time::Instant::now() < deadline, "no stop within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let hold = watcher
        .flag("intelligent_pipe_sizing")
        .unwrap()
        .definition
        .hold
        .unwrap();
    assert_eq!((hold.action, hold.percentage), (GuardAction::Rollback, 0.0));
}
