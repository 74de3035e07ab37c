"""Deployments through the Python binding: drift and the three ``on_drift``
choices, the plan, per-subsystem deploys and option errors, invalid and
missing config directories, ``validate_config``, the canonical export and
exact rollback, rollback keeping the collected data, the deployment status,
backups (retention, folder, restore, damaged files) and a second handle
following deploys, rollbacks and restores.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v``; each test
works in its own temporary folder and deploys the repository's ``configs/``
(or an edited copy of it) into a fresh database.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import shutil
import sqlite3
import stat
import sys
import tempfile
import time
import unittest
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
CONFIGS = REPO_ROOT / "configs"
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402
from cha_deploy import ErrorCode, Reason  # noqa: E402

# How long a change may take to reach another handle before a test fails:
# generous, because it bounds a poll and is not a timing assertion.
ARRIVAL_TIMEOUT_S = 30.0

SHA256_HEX = re.compile(r"[0-9a-f]{64}")

FLAGS = [
    "cost_optimisation",
    "flow_based_calculation",
    "intelligent_pipe_sizing",
    "network_analysis",
    "new_ui",
    "pandapipes_simulation",
    "performance_monitoring",
    "pressure_drop_check",
    "standards_compliance",
    "velocity_constraints",
]
EXPERIMENTS = [
    "flow_calculation_comparison",
    "network_analysis_comparison",
    "pipe_sizing_comparison",
]

#: The refusal lines of a deploy of the shipped configs over the runtime
#: changes of :meth:`DeployTestCase.make_runtime_changes`.
REFUSED = [
    "feature_flags.yml: flag `intelligent_pipe_sizing`: undo its runtime change "
    "(percentage 60 \u2192 25)",
    "feature_flags.yml: flag `night_mode` (created at runtime): delete it, "
    "though the target does not mention it",
    "feature_flags.yml: flag `velocity_constraints`: undo its runtime change "
    "(enabled false \u2192 true)",
    "ab_tests.yml: experiment `pipe_sizing_comparison`: undo its runtime change "
    "(status paused \u2192 running)",
]

BAD_YAML = "version: 2\nflags:\n  a:\n    type: boolean\n   enabled: [true\n"


def now_ms() -> int:
    return int(time.time() * 1000)


class DeployTestCase(unittest.TestCase):
    """A temporary folder with a fresh database (nothing deployed yet)."""

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-deploy-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.db = self.dir / "cha.db"
        self.cha = cha_deploy.open(self.db)
        self.addCleanup(self.cha.close)

    def open_handle(self, path: Optional[Path] = None, **options: Any) -> cha_deploy.Cha:
        cha = cha_deploy.Cha(path or self.db, **options)
        self.addCleanup(cha.close)
        return cha

    def deploy_shipped(self, actor: str = "alice") -> Dict[str, Any]:
        return self.cha.deploy_all(CONFIGS, actor)

    def configs_with(self, folder: str, *edits: Tuple[str, str, str]) -> Path:
        """A copy of configs/ in `folder`, each edit (file, old, new)
        replacing exactly one occurrence of `old`."""
        path = self.dir / folder
        shutil.copytree(CONFIGS, path)
        for file, old, new in edits:
            text = (path / file).read_text(encoding="utf-8")
            self.assertEqual(text.count(old), 1, f"{old!r} must occur once in {file}")
            (path / file).write_text(text.replace(old, new), encoding="utf-8")
        return path

    def configs_at_40_percent(self, folder: str = "forty") -> Path:
        return self.configs_with(
            folder, ("feature_flags.yml", "    percentage: 25\n", "    percentage: 40\n")
        )

    def make_runtime_changes(self) -> Tuple[int, int]:
        """The drift scenario: a rollout step, a pause, a flag created at
        runtime and a kill switch, all by "ops". Returns the time span."""
        start = now_ms()
        self.cha.update_flag("intelligent_pipe_sizing", {"percentage": 60}, actor="ops")
        self.cha.pause_experiment("pipe_sizing_comparison", actor="ops")
        self.cha.update_flag("night_mode", {"type": "boolean", "enabled": True}, actor="ops")
        self.cha.update_flag("velocity_constraints", {"enabled": False}, actor="ops")
        return start, now_ms()

    def percentage(self, flag: str = "intelligent_pipe_sizing") -> float:
        return self.cha.get_flag(flag)["definition"]["percentage"]

    def status_of(self, experiment: str = "pipe_sizing_comparison") -> str:
        return self.cha.get_experiment(experiment)["definition"]["status"]

    def state(self, cha: Optional[cha_deploy.Cha] = None) -> Dict[str, Any]:
        """Everything a failed call must leave as it was."""
        cha = cha or self.cha
        return {
            "export": cha.export_configuration(),
            "history": cha.deployment_history(1000),
            "backups": [b["name"] for b in cha.list_backups()],
            "flags": cha.list_flags(),
            "experiments": cha.list_experiments(),
        }

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"{what} did not arrive within {ARRIVAL_TIMEOUT_S} s")
            time.sleep(0.01)


def changes_of(section: Dict[str, Any]) -> List[Tuple[str, str, List[Tuple[str, Any, Any]], bool]]:
    return [
        (
            c["name"],
            c["action"],
            [(f["field"], f["before"], f["after"]) for f in c["fields"]],
            c["undoes_drift"],
        )
        for c in section["changes"]
    ]


def section(report: Dict[str, Any], subsystem: str, key: str = "sections") -> Dict[str, Any]:
    found = [s for s in report[key] if s["subsystem"] == subsystem]
    assert len(found) == 1, (subsystem, report[key])
    return found[0]


class DriftTest(DeployTestCase):
    """The shipped configs deployed by "alice", then changed at runtime by
    "ops": percentage 60, a pause, a new flag and a kill switch."""

    def setUp(self) -> None:
        super().setUp()
        self.deploy_shipped()
        self.make_runtime_changes()

    def assert_runtime_state(self) -> None:
        """The four runtime changes are in force."""
        self.assertEqual(self.percentage(), 60.0)
        ips = self.cha.is_enabled("intelligent_pipe_sizing", "planner-001")
        self.assertEqual(ips.rule, "60% by user_id")
        night = self.cha.is_enabled("night_mode", "planner-001")
        self.assertEqual((night.enabled, night.reason), (True, Reason.STATIC))
        kill = self.cha.is_enabled("velocity_constraints", "planner-001")
        self.assertEqual(
            (kill.enabled, kill.reason, kill.rule), (False, Reason.DISABLED, "enabled: false")
        )
        self.assertEqual(self.status_of(), "paused")
        self.assertIsNone(self.cha.assign("pipe_sizing_comparison", "a-new-planner"))

    def test_refuse_is_the_default_and_changes_nothing(self) -> None:
        before = self.state()
        for options in ({}, {"on_drift": "refuse"}):
            with self.subTest(**options):
                with self.assertRaises(cha_deploy.DriftError) as caught:
                    self.cha.deploy_all(CONFIGS, "bob", **options)
                error = caught.exception
                self.assertEqual(error.status, 9)
                self.assertEqual(cha_deploy.status_name(error.status), "CHA_ERR_DRIFT")
                self.assertIn("nothing was changed", error.message)
                for line in REFUSED:
                    self.assertIn(f"\n  {line}\n", error.message)
                self.assertIn('on_drift "overwrite"', error.message)
                self.assertIn('"keep_runtime"', error.message)
                self.assert_runtime_state()
                self.assertEqual(self.state(), before, "a refused deploy writes nothing")

    def test_overwrite_lets_the_files_win(self) -> None:
        report = self.cha.deploy_all(CONFIGS, "bob", on_drift="overwrite")
        self.assertEqual(
            (report["action"], report["on_drift"], report["deployment_id"]),
            ("deploy", "overwrite", 2),
        )
        self.assertEqual(
            report["flags"],
            {
                "created": [],
                "updated": ["intelligent_pipe_sizing", "velocity_constraints"],
                "unchanged": [
                    f for f in FLAGS if f not in ("intelligent_pipe_sizing", "velocity_constraints")
                ],
                "removed": ["night_mode"],
            },
        )
        self.assertEqual(
            report["experiments"],
            {
                "created": [],
                "updated": ["pipe_sizing_comparison"],
                "unchanged": ["flow_calculation_comparison", "network_analysis_comparison"],
                "removed": [],
            },
        )
        self.assertEqual(self.percentage(), 25.0)
        self.assertEqual(
            self.cha.is_enabled("intelligent_pipe_sizing", "planner-001").rule, "25% by user_id"
        )
        kill = self.cha.is_enabled("velocity_constraints", "planner-001")
        self.assertEqual((kill.enabled, kill.reason), (True, Reason.STATIC))
        self.assertEqual(self.status_of(), "running")
        night = self.cha.is_enabled("night_mode", "planner-001")
        self.assertEqual((night.enabled, night.error), (False, ErrorCode.FLAG_NOT_FOUND))
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.get_flag("night_mode")
        # Back to exactly what a fresh database with the files holds.
        with cha_deploy.open(self.dir / "fresh.db") as fresh:
            fresh.deploy_all(CONFIGS)
            self.assertEqual(self.cha.export_configuration(), fresh.export_configuration())
        recorded = self.cha.get_deployment(2)
        self.assertEqual(
            [(d["subsystem"], d["name"], d["kind"], d["outcome"]) for d in recorded["drift"]],
            [
                ("feature_flags", "intelligent_pipe_sizing", "modified", "overwritten"),
                ("feature_flags", "night_mode", "created", "overwritten"),
                ("feature_flags", "velocity_constraints", "modified", "overwritten"),
                ("ab_tests", "pipe_sizing_comparison", "modified", "overwritten"),
            ],
        )
        # No drift is left: the default deploy goes through.
        self.assertEqual(self.cha.deploy_all(CONFIGS)["flags"]["unchanged"], FLAGS)

    def test_keep_runtime_keeps_every_runtime_change(self) -> None:
        report = self.cha.deploy_all(CONFIGS, "bob", on_drift="keep_runtime")
        self.assertEqual(report["on_drift"], "keep_runtime")
        self.assertEqual(
            report["flags"],
            {
                "created": [],
                "updated": [],
                "unchanged": [
                    f for f in FLAGS if f not in ("intelligent_pipe_sizing", "velocity_constraints")
                ],
                "removed": [],
                "kept": ["intelligent_pipe_sizing", "night_mode", "velocity_constraints"],
            },
        )
        self.assertEqual(
            report["experiments"],
            {
                "created": [],
                "updated": [],
                "unchanged": ["flow_calculation_comparison", "network_analysis_comparison"],
                "removed": [],
                "kept": ["pipe_sizing_comparison"],
            },
        )
        # All kept: the kill switch that is off at runtime stays off.
        self.assert_runtime_state()
        self.assertEqual(
            [d["outcome"] for d in self.cha.get_deployment(report["deployment_id"])["drift"]],
            ["kept"] * 4,
        )
        # Still drift until the files say the same: the default still refuses.
        with self.assertRaises(cha_deploy.DriftError) as caught:
            self.cha.deploy_all(CONFIGS)
        for line in REFUSED:
            self.assertIn(line, caught.exception.message)

    def changed_files(self) -> Path:
        """The files change, since the last deployment, the description and
        percentage of intelligent_pipe_sizing (whose percentage also changed
        at runtime), the description of velocity_constraints (switched off at
        runtime) and pandapipes_simulation's percentage (not touched)."""
        return self.configs_with(
            "changed",
            ("feature_flags.yml", "    percentage: 25\n", "    percentage: 30\n"),
            (
                "feature_flags.yml",
                "description: Flow-based pipe sizing with velocity limits",
                "description: Flow-based pipe sizing, second edition",
            ),
            (
                "feature_flags.yml",
                "description: Enforce per-diameter velocity limits on sized pipes",
                "description: Enforce velocity limits, second edition",
            ),
            ("feature_flags.yml", "    percentage: 10\n", "    percentage: 20\n"),
        )

    def test_keep_runtime_applies_what_the_files_changed_field_by_field(self) -> None:
        changed = self.changed_files()
        plan = self.cha.plan_deployment(changed, on_drift="keep_runtime")
        flags = section(plan, "feature_flags")
        by_name = {c["name"]: c for c in flags["changes"]}
        self.assertEqual(
            [
                (f["field"], f["before"], f["after"])
                for f in by_name["intelligent_pipe_sizing"]["fields"]
            ],
            [
                (
                    "description",
                    "Flow-based pipe sizing with velocity limits",
                    "Flow-based pipe sizing, second edition",
                )
            ],
        )
        self.assertEqual(by_name["intelligent_pipe_sizing"]["conflicts"], ["percentage"])
        self.assertEqual(
            [
                (f["field"], f["before"], f["after"])
                for f in by_name["pandapipes_simulation"]["fields"]
            ],
            [("percentage", 10.0, 20.0)],
        )
        self.assertEqual((flags["refused"], plan["refused"]), ([], []))

        report = self.cha.deploy_all(changed, "bob", on_drift="keep_runtime")
        self.assertEqual(
            report["flags"]["updated"],
            ["intelligent_pipe_sizing", "pandapipes_simulation", "velocity_constraints"],
        )
        self.assertEqual(report["flags"]["kept"], ["night_mode"])
        ips = self.cha.get_flag("intelligent_pipe_sizing")["definition"]
        self.assertEqual(
            (ips["percentage"], ips["description"]),
            (60.0, "Flow-based pipe sizing, second edition"),
            "both sides changed the percentage: the runtime value wins",
        )
        kill = self.cha.get_flag("velocity_constraints")["definition"]
        self.assertEqual(
            (kill["enabled"], kill["description"]),
            (False, "Enforce velocity limits, second edition"),
        )
        self.assertEqual(
            self.cha.is_enabled("velocity_constraints", "planner-001").reason, Reason.DISABLED
        )
        self.assertEqual(self.percentage("pandapipes_simulation"), 20.0)
        self.assertEqual(self.status_of(), "paused")

    def test_a_merge_that_keeps_runtime_values_is_not_recorded_as_overwritten(self) -> None:
        # A field-by-field merge whose runtime values survive (percentage 60,
        # the kill switch off) is recorded as "merged", not "overwritten"
        # (it once was, for every merged item).
        report = self.cha.deploy_all(self.changed_files(), "bob", on_drift="keep_runtime")
        self.assertEqual(self.percentage(), 60.0)
        outcomes = {
            d["name"]: d["outcome"]
            for d in self.cha.get_deployment(report["deployment_id"])["drift"]
        }
        self.assertEqual(
            outcomes,
            {
                "intelligent_pipe_sizing": "merged",
                "night_mode": "kept",
                "velocity_constraints": "merged",
                "pipe_sizing_comparison": "kept",
            },
        )


class PlanTest(DeployTestCase):
    def test_the_plan_shows_field_changes_drift_and_refusals_and_writes_nothing(self) -> None:
        self.deploy_shipped()
        start, end = self.make_runtime_changes()
        before = self.state()
        plan = self.cha.plan_deployment(CONFIGS)
        self.assertEqual(self.state(), before, "a plan writes nothing")
        self.assertEqual(len(self.cha.deployment_history()), 1)

        self.assertEqual(
            (plan["config_dir"], plan["on_drift"], plan["last_deployment"], plan["rollback_to"]),
            (str(CONFIGS), "refuse", 1, None),
        )
        self.assertEqual(
            [f["file"] for f in plan["files"]],
            ["feature_flags.yml", "ab_tests.yml", "performance_monitoring.yml", "user_feedback.yml"],
        )
        self.assertEqual(
            [s["subsystem"] for s in plan["sections"]],
            ["feature_flags", "ab_tests", "performance_monitoring", "user_feedback", "segments"],
        )
        self.assertEqual(plan["refused"], REFUSED)

        flags = section(plan, "feature_flags")
        self.assertEqual(
            (flags["file"], flags["items"], flags["included"]), ("feature_flags.yml", "flags", True)
        )
        self.assertEqual(
            changes_of(flags),
            [
                ("intelligent_pipe_sizing", "update", [("percentage", 60.0, 25.0)], True),
                ("night_mode", "delete", [], True),
                ("velocity_constraints", "update", [("enabled", False, True)], True),
            ],
        )
        self.assertEqual(
            flags["unchanged"],
            [f for f in FLAGS if f not in ("intelligent_pipe_sizing", "velocity_constraints")],
        )
        self.assertEqual(flags["refused"], [line.split(": ", 1)[1] for line in REFUSED[:3]])
        self.assertEqual(
            [(d["name"], d["kind"], d["action"], d["actor"]) for d in flags["drift"]],
            [
                ("intelligent_pipe_sizing", "modified", "update", "ops"),
                ("night_mode", "created", "create", "ops"),
                ("velocity_constraints", "modified", "update", "ops"),
            ],
        )
        self.assertEqual(
            [(f["field"], f["before"], f["after"]) for f in flags["drift"][0]["fields"]],
            [("percentage", 25.0, 60.0)],
        )
        tests = section(plan, "ab_tests")
        self.assertEqual(
            changes_of(tests),
            [("pipe_sizing_comparison", "update", [("status", "paused", "running")], True)],
        )
        self.assertEqual(
            [(d["name"], d["kind"], d["action"], d["actor"]) for d in tests["drift"]],
            [("pipe_sizing_comparison", "modified", "paused", "ops")],
        )
        self.assertEqual(
            [(f["field"], f["before"], f["after"]) for f in tests["drift"][0]["fields"]],
            [("status", "running", "paused")],
        )
        for drift in flags["drift"] + tests["drift"]:
            self.assertIsInstance(drift["at_ms"], int)
            self.assertGreaterEqual(drift["at_ms"], start - 1000, drift)
            self.assertLessEqual(drift["at_ms"], end + 1000, drift)
        # Drift times follow the order the changes were made in.
        times = {d["name"]: d["at_ms"] for d in flags["drift"] + tests["drift"]}
        self.assertLessEqual(times["intelligent_pipe_sizing"], times["pipe_sizing_comparison"])
        self.assertLessEqual(times["pipe_sizing_comparison"], times["night_mode"])
        self.assertLessEqual(times["night_mode"], times["velocity_constraints"])

    def test_a_plan_under_overwrite_or_keep_runtime_refuses_nothing(self) -> None:
        self.deploy_shipped()
        self.make_runtime_changes()
        before = self.state()
        overwrite = self.cha.plan_deployment(CONFIGS, on_drift="overwrite")
        self.assertEqual(overwrite["refused"], [])
        self.assertEqual(
            [c["name"] for c in section(overwrite, "feature_flags")["changes"]],
            ["intelligent_pipe_sizing", "night_mode", "velocity_constraints"],
        )
        keep = self.cha.plan_deployment(CONFIGS, on_drift="keep_runtime")
        self.assertEqual(keep["refused"], [])
        self.assertEqual(
            {c["action"] for s in keep["sections"] for c in s["changes"]}, {"keep_runtime"}
        )
        self.assertEqual(self.state(), before)

    def test_the_first_plan_creates_everything(self) -> None:
        plan = self.cha.plan_deployment(CONFIGS)
        self.assertIsNone(plan["last_deployment"])
        flags = section(plan, "feature_flags")
        self.assertEqual(
            [(c["name"], c["action"]) for c in flags["changes"]], [(f, "create") for f in FLAGS]
        )
        self.assertEqual(
            [(c["name"], c["action"]) for c in section(plan, "ab_tests")["changes"]],
            [(e, "create") for e in EXPERIMENTS],
        )
        self.assertEqual(plan["refused"], [])
        self.assertEqual(self.cha.list_flags(), [])
        self.assertEqual(self.cha.deployment_history(), [])
        self.assertEqual(self.cha.list_backups(), [])


class OptionsTest(DeployTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.deploy_shipped()

    def test_only_the_ab_tests_file_is_deployed(self) -> None:
        self.cha.update_flag("intelligent_pipe_sizing", {"percentage": 60}, actor="ops")
        self.cha.pause_experiment("pipe_sizing_comparison", actor="ops")
        report = self.cha.deploy_all(CONFIGS, "bob", subsystems=["ab_tests"], on_drift="overwrite")
        self.assertEqual([f["file"] for f in report["files"]], ["ab_tests.yml"])
        self.assertEqual(
            [(s["subsystem"], s["included"]) for s in report["plan"]],
            [
                ("feature_flags", False),
                ("ab_tests", True),
                ("performance_monitoring", False),
                ("user_feedback", False),
                ("segments", False),
            ],
        )
        self.assertEqual(report["experiments"]["updated"], ["pipe_sizing_comparison"])
        self.assertEqual((report["flags"]["updated"], report["flags"]["removed"]), ([], []))
        self.assertEqual(self.status_of(), "running", "the ab_tests file was deployed")
        self.assertEqual(self.percentage(), 60.0, "the feature_flags file was not")
        self.assertEqual(self.cha.get_deployment(2)["files"], report["files"])

    def test_a_subsystem_left_out_keeps_its_drift_without_refusing(self) -> None:
        self.cha.pause_experiment("pipe_sizing_comparison", actor="ops")
        with self.assertRaises(cha_deploy.DriftError):
            self.cha.deploy_all(CONFIGS)
        report = self.cha.deploy_all(CONFIGS, subsystems=["feature_flags"])
        self.assertEqual([f["file"] for f in report["files"]], ["feature_flags.yml"])
        self.assertEqual(self.status_of(), "paused")

    def test_bad_subsystems_and_on_drift_are_refused_and_change_nothing(self) -> None:
        self.cha.update_flag("intelligent_pipe_sizing", {"percentage": 60}, actor="ops")
        before = self.state()
        calls: List[Tuple[str, Callable[[], Any], type, Optional[str]]] = [
            (
                "str subsystems",
                lambda: self.cha.deploy_all(CONFIGS, subsystems="ab_tests"),
                TypeError,
                None,
            ),
            (
                "bytes subsystems",
                lambda: self.cha.deploy_all(CONFIGS, subsystems=b"ab_tests"),
                TypeError,
                None,
            ),
            (
                "unknown subsystem",
                lambda: self.cha.deploy_all(
                    CONFIGS, subsystems=["ab_tests", "telemetry"], on_drift="overwrite"
                ),
                cha_deploy.InvalidArgumentError,
                "unknown subsystem `telemetry` (known: feature_flags, ab_tests, "
                "performance_monitoring, user_feedback)",
            ),
            (
                "unknown on_drift",
                lambda: self.cha.deploy_all(CONFIGS, on_drift="maybe"),
                cha_deploy.InvalidArgumentError,
                "`on_drift`: unknown variant `maybe`",
            ),
            ("int on_drift", lambda: self.cha.deploy_all(CONFIGS, on_drift=3), TypeError, None),
            (
                "plan: unknown subsystem",
                lambda: self.cha.plan_deployment(CONFIGS, subsystems=["nope"]),
                cha_deploy.InvalidArgumentError,
                "unknown subsystem `nope`",
            ),
            (
                "plan: unknown on_drift",
                lambda: self.cha.plan_deployment(CONFIGS, on_drift="maybe"),
                cha_deploy.InvalidArgumentError,
                "maybe",
            ),
            (
                "plan: str subsystems",
                lambda: self.cha.plan_deployment(CONFIGS, subsystems="ab_tests"),
                TypeError,
                None,
            ),
            (
                "plan: int on_drift",
                lambda: self.cha.plan_deployment(CONFIGS, on_drift=3),
                TypeError,
                None,
            ),
            (
                "empty actor",
                lambda: self.cha.deploy_all(CONFIGS, "", on_drift="overwrite"),
                cha_deploy.InvalidArgumentError,
                "actor",
            ),
        ]
        for what, call, error, text in calls:
            with self.subTest(what):
                with self.assertRaises(error) as caught:
                    call()
                if text is not None:
                    self.assertEqual(caught.exception.status, 3)
                    self.assertIn(text, caught.exception.message)
                    self.assertIn("cha_deploy_", caught.exception.message)
                self.assertEqual(self.state(), before)
        self.assertEqual(self.percentage(), 60.0)

    def test_the_actor_is_in_the_report_the_history_and_the_status(self) -> None:
        self.cha.update_flag("intelligent_pipe_sizing", {"percentage": 60}, actor="ops")
        report = self.cha.deploy_all(CONFIGS, actor="bob", on_drift="overwrite")
        self.assertEqual(report["actor"], "bob")
        latest = self.cha.deployment_history(1)[0]
        self.assertEqual(
            (latest["id"], latest["actor"], latest["on_drift"]), (2, "bob", "overwrite")
        )
        self.assertEqual(self.cha.get_deployment(1)["actor"], "alice")
        status = self.cha.get_deployment_status()
        self.assertEqual(status["last_deployment"]["actor"], "bob")
        self.assertEqual(
            [(d["id"], d["actor"]) for d in status["recent_deployments"]],
            [(2, "bob"), (1, "alice")],
        )
        # The flag's own audit trail names the deployer too.
        last = self.cha.flag_history("intelligent_pipe_sizing")[-1]
        self.assertEqual((last["actor"], last["version"]), ("bob", 3))
        self.assertEqual(self.cha.get_flag("intelligent_pipe_sizing")["updated_by"], "bob")

    def test_the_actor_defaults_to_the_login_name(self) -> None:
        report = self.cha.deploy_all(self.configs_at_40_percent())
        self.assertEqual(report["actor"], getpass.getuser())
        self.assertEqual(self.cha.deployment_history(1)[0]["actor"], getpass.getuser())

    def test_history_and_get_deployment(self) -> None:
        self.cha.deploy_all(self.configs_at_40_percent(), "bob")
        history = self.cha.deployment_history()
        self.assertEqual(
            [(h["id"], h["action"], h["actor"]) for h in history],
            [(2, "deploy", "bob"), (1, "deploy", "alice")],
        )
        self.assertEqual([h["id"] for h in self.cha.deployment_history(1)], [2])
        self.assertEqual(self.cha.deployment_history(0), [])
        self.assertEqual(self.cha.get_deployment(1), history[1])
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.get_deployment(99)
        self.assertIn("deployment 99 does not exist", caught.exception.message)
        with self.assertRaises(TypeError):
            self.cha.get_deployment("1")
        with self.assertRaises(TypeError):
            self.cha.deployment_history("5")
        with self.assertRaises(ValueError):
            self.cha.deployment_history(-1)

    def test_get_deployment_0_is_not_a_deployment(self) -> None:
        # Ids start at 1; 0 (which cha_deploy_history reads as "the newest")
        # is refused, not answered with the newest deployment.
        with self.assertRaises((cha_deploy.NotFoundError, cha_deploy.InvalidArgumentError)):
            self.cha.get_deployment(0)


class InvalidConfigTest(DeployTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.deploy_shipped()

    def test_bad_yaml_is_a_config_error_with_its_location_and_changes_nothing(self) -> None:
        bad = self.dir / "bad"
        bad.mkdir()
        (bad / "feature_flags.yml").write_text(BAD_YAML, encoding="utf-8")
        before = self.state()
        for call in (
            lambda: self.cha.deploy_all(bad, on_drift="overwrite"),
            lambda: self.cha.plan_deployment(bad),
        ):
            with self.assertRaises(cha_deploy.ConfigError) as caught:
                call()
            self.assertEqual(caught.exception.status, 5)
            self.assertRegex(
                caught.exception.message,
                re.escape(str(bad / "feature_flags.yml")) + r":5:4: invalid YAML",
            )
        self.assertEqual(self.state(), before)
        self.assertEqual(self.percentage(), 25.0)

    def test_one_bad_file_stops_the_other_too(self) -> None:
        changed = self.configs_with(
            "half",
            ("feature_flags.yml", "    percentage: 25\n", "    percentage: 40\n"),
            ("ab_tests.yml", "    status: draft\n", "    status: draft\n    coverage: [\n"),
        )
        before = self.state()
        with self.assertRaises(cha_deploy.ConfigError) as caught:
            self.cha.deploy_all(changed, on_drift="overwrite")
        self.assertRegex(
            caught.exception.message, re.escape(str(changed / "ab_tests.yml")) + r":\d+:\d+: "
        )
        self.assertEqual(self.state(), before)
        self.assertEqual(
            self.percentage(), 25.0, "the valid feature_flags.yml was not deployed alone"
        )

    def test_a_missing_directory_is_not_found(self) -> None:
        before = self.state()
        missing = self.dir / "missing"
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.deploy_all(missing)
        self.assertEqual(caught.exception.status, 4)
        self.assertIn(f"config directory {missing} does not exist", caught.exception.message)
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.plan_deployment(missing)
        self.assertEqual(self.state(), before)


class ValidateConfigTest(unittest.TestCase):
    """validate_config needs no handle."""

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-validate-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)

    def test_the_shipped_configs_validate_with_their_sha256(self) -> None:
        files = cha_deploy.validate_config(CONFIGS)
        self.assertEqual(
            [(f["file"], f["source_version"], f["migration"]) for f in files],
            [
                ("feature_flags.yml", 2, None),
                ("ab_tests.yml", 1, None),
                ("performance_monitoring.yml", 1, None),
                ("user_feedback.yml", 1, None),
            ],
        )
        for f in files:
            self.assertRegex(f["sha256"], SHA256_HEX)
            self.assertEqual(
                f["sha256"], hashlib.sha256((CONFIGS / f["file"]).read_bytes()).hexdigest()
            )
        only = cha_deploy.validate_config(str(CONFIGS), ["ab_tests"])
        self.assertEqual(only, files[1:2])
        # The same hashes as a deployment records.
        with cha_deploy.open(self.dir / "cha.db") as cha:
            self.assertEqual(cha.deploy_all(CONFIGS)["files"], files)
            status = cha.get_deployment_status()
            # Segments live in feature_flags.yml: the same file, hashed once.
            self.assertEqual(
                [s["deployed_file"] for s in status["subsystems"]], files + files[:1]
            )

    def test_errors(self) -> None:
        bad = self.dir / "bad"
        bad.mkdir()
        (bad / "feature_flags.yml").write_text(BAD_YAML, encoding="utf-8")
        with self.assertRaises(cha_deploy.ConfigError) as caught:
            cha_deploy.validate_config(bad)
        self.assertRegex(
            caught.exception.message, re.escape(str(bad / "feature_flags.yml")) + r":5:4: "
        )
        with self.assertRaises(cha_deploy.NotFoundError):
            cha_deploy.validate_config(self.dir / "missing")
        (self.dir / "empty").mkdir()
        with self.assertRaises(cha_deploy.NotFoundError):
            cha_deploy.validate_config(self.dir / "empty")
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.validate_config(CONFIGS, ["nope"])
        self.assertIn("unknown subsystem `nope`", caught.exception.message)
        with self.assertRaises(TypeError):
            cha_deploy.validate_config(CONFIGS, "ab_tests")


class RollbackTest(DeployTestCase):
    def test_export_deploy_rollback_gives_the_same_bytes(self) -> None:
        self.deploy_shipped()
        exported = self.cha.export_configuration()
        self.assertEqual(exported, self.cha.export_configuration(), "the export is stable")
        report = self.cha.deploy_all(self.configs_at_40_percent(), "alice")
        self.assertEqual(report["flags"]["updated"], ["intelligent_pipe_sizing"])
        self.assertNotEqual(self.cha.export_configuration(), exported)
        self.assertEqual(self.percentage(), 40.0)

        before = self.state()
        plan = self.cha.plan_rollback()
        self.assertEqual(self.state(), before, "plan_rollback writes nothing")
        self.assertEqual(
            (plan["rollback_to"], plan["last_deployment"], plan["refused"]), (1, 2, [])
        )
        self.assertEqual(
            changes_of(section(plan, "feature_flags")),
            [("intelligent_pipe_sizing", "update", [("percentage", 40.0, 25.0)], False)],
        )
        self.assertEqual(section(plan, "ab_tests")["changes"], [])

        rolled = self.cha.rollback_deployment(actor="carol")
        self.assertEqual(
            (rolled["deployment_id"], rolled["action"], rolled["rolled_back_to"], rolled["actor"]),
            (3, "rollback", 1, "carol"),
        )
        self.assertLess(rolled["duration_ms"], 1000)
        self.assertGreaterEqual(rolled["duration_ms"], 0)
        self.assertEqual(rolled["flags"]["updated"], ["intelligent_pipe_sizing"])
        self.assertEqual(self.cha.export_configuration(), exported, "byte for byte")
        self.assertEqual(self.percentage(), 25.0)
        self.assertEqual(
            [(h["id"], h["action"], h["rolled_back_to"]) for h in self.cha.deployment_history()],
            [(3, "rollback", 1), (2, "deploy", None), (1, "deploy", None)],
        )
        self.assertEqual(self.cha.list_backups()[-1]["reason"], "rollback")
        self.assertEqual(rolled["backup"], self.cha.list_backups()[-1]["path"])
        # Repeated rollbacks step further back: before 1 there is nothing.
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.rollback_deployment()

    def test_rollback_to_a_given_deployment(self) -> None:
        self.deploy_shipped()
        exported = self.cha.export_configuration()
        self.cha.deploy_all(self.configs_at_40_percent())
        self.cha.deploy_all(
            self.configs_with(
                "fifty", ("feature_flags.yml", "    percentage: 25\n", "    percentage: 50\n")
            )
        )
        self.assertEqual(self.percentage(), 50.0)
        report = self.cha.rollback_deployment(1, "carol")
        self.assertEqual((report["rolled_back_to"], report["deployment_id"]), (1, 4))
        self.assertEqual(self.cha.export_configuration(), exported)
        report = self.cha.rollback_deployment(2)
        self.assertEqual((report["rolled_back_to"], report["deployment_id"]), (2, 5))
        self.assertEqual(self.percentage(), 40.0)

    def test_rollback_errors_change_nothing(self) -> None:
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.rollback_deployment()
        self.assertIn("there is no deployment to roll back", caught.exception.message)
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.plan_rollback()
        self.deploy_shipped()
        before = self.state()
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.rollback_deployment()
        self.assertIn("deployment 1 is in force", caught.exception.message)
        calls: List[Tuple[str, Callable[[], Any], type, Optional[str]]] = [
            ("str id", lambda: self.cha.rollback_deployment("1"), TypeError, None),
            ("bool id", lambda: self.cha.rollback_deployment(True), TypeError, None),
            ("float id", lambda: self.cha.rollback_deployment(1.0), TypeError, None),
            ("plan str id", lambda: self.cha.plan_rollback("1"), TypeError, None),
            (
                "negative id",
                lambda: self.cha.rollback_deployment(-1),
                cha_deploy.InvalidArgumentError,
                "deployment id -1",
            ),
            (
                "plan negative id",
                lambda: self.cha.plan_rollback(-1),
                cha_deploy.InvalidArgumentError,
                "-1",
            ),
            (
                "unknown id",
                lambda: self.cha.rollback_deployment(99),
                cha_deploy.NotFoundError,
                "deployment 99 does not exist",
            ),
            (
                "bad on_drift",
                lambda: self.cha.rollback_deployment(on_drift="maybe"),
                cha_deploy.InvalidArgumentError,
                "maybe",
            ),
            ("int on_drift", lambda: self.cha.rollback_deployment(on_drift=3), TypeError, None),
        ]
        for what, call, error, text in calls:
            with self.subTest(what):
                with self.assertRaises(error) as caught:
                    call()
                if text is not None:
                    self.assertIn(text, caught.exception.message)
                self.assertEqual(self.state(), before)

    def test_a_rollback_refuses_to_undo_drift_unless_told(self) -> None:
        self.deploy_shipped()
        self.cha.deploy_all(self.configs_at_40_percent())
        self.cha.update_flag("velocity_constraints", {"enabled": False}, actor="ops")
        before = self.state()
        with self.assertRaises(cha_deploy.DriftError) as caught:
            self.cha.rollback_deployment()
        self.assertIn(
            "feature_flags.yml: flag `velocity_constraints`: undo its runtime change "
            "(enabled false \u2192 true)",
            caught.exception.message,
        )
        self.assertEqual(self.state(), before)
        plan = self.cha.plan_rollback()
        self.assertEqual(len(plan["refused"]), 1)
        report = self.cha.rollback_deployment(on_drift="keep_runtime")
        self.assertEqual(report["flags"]["kept"], ["velocity_constraints"])
        self.assertEqual(report["flags"]["updated"], ["intelligent_pipe_sizing"])
        self.assertEqual(self.percentage(), 25.0)
        self.assertEqual(
            self.cha.is_enabled("velocity_constraints", "planner-001").reason, Reason.DISABLED
        )


class RollbackKeepsDataTest(DeployTestCase):
    UNITS = [f"planner-{i:03d}" for i in range(40)]

    def setUp(self) -> None:
        super().setUp()
        # A flush interval long enough that no background fold runs during
        # a test: each test decides when observations are folded.
        self.cha.close()
        self.cha = self.open_handle(flush_interval_ms=600_000)
        self.deploy_shipped()
        self.variants: Dict[str, Optional[str]] = {}
        for i, unit in enumerate(self.UNITS):
            self.variants[unit] = self.cha.assign("pipe_sizing_comparison", unit)
            self.cha.record("pipe_sizing_comparison", unit, "pipe_cost_efficiency", 10.0 + i)
        per_variant = {
            v: sum(1 for got in self.variants.values() if got == v)
            for v in ("traditional", "intelligent")
        }
        self.assertEqual(sum(per_variant.values()), 40, self.variants)
        self.assertGreater(min(per_variant.values()), 0)
        # One observation per unit: n per arm is the arm's exposures.
        self.expected = {"exposures": per_variant, "n": per_variant}

    def counts(self) -> Dict[str, Dict[str, int]]:
        report = self.cha.analyze_test_results("pipe_sizing_comparison")
        metric = next(m for m in report["metrics"] if m["name"] == "pipe_cost_efficiency")
        n = {metric["control"]["variant"]: metric["control"]["n"]}
        for comparison in metric["comparisons"]:
            n[comparison["treatment"]["variant"]] = comparison["treatment"]["n"]
        return {"exposures": {v["name"]: v["exposures"] for v in report["variants"]}, "n": n}

    def export_rows(self, name: str) -> Tuple[int, str]:
        path = self.dir / name
        rows = self.cha.export_observations("pipe_sizing_comparison", path)
        return rows, path.read_text(encoding="utf-8")

    def test_a_rollback_keeps_exposures_and_observations(self) -> None:
        self.assertEqual(self.counts(), self.expected)
        csv_before = self.export_rows("before.csv")
        self.assertEqual(csv_before[0], 40)
        changed = self.configs_with(
            "changed",
            ("feature_flags.yml", "    percentage: 25\n", "    percentage: 40\n"),
            ("ab_tests.yml", "    coverage: 100\n", "    coverage: 80\n"),
        )
        report = self.cha.deploy_all(changed)
        self.assertEqual(report["experiments"]["updated"], ["pipe_sizing_comparison"])
        report = self.cha.rollback_deployment()
        self.assertEqual(report["experiments"]["updated"], ["pipe_sizing_comparison"])
        self.assertEqual(self.counts(), self.expected)
        self.assertEqual(self.export_rows("after.csv"), csv_before)
        for unit, variant in self.variants.items():
            self.assertEqual(self.cha.assign("pipe_sizing_comparison", unit), variant, unit)

    def test_a_test_deleted_and_rolled_back_still_counts_its_observations(self) -> None:
        # The observations of a test whose definition is gone still count
        # once a rollback brings it back, whatever is folded in between
        # (here, through the analysis of another test): its unit totals keep
        # growing while it is archived, and its summaries are rebuilt from
        # them on its return.
        without = self.dir / "without"
        shutil.copytree(CONFIGS, without)
        text = (without / "ab_tests.yml").read_text(encoding="utf-8")
        start, end = text.index("  # The decisive test"), text.index("  # The design mass flow")
        (without / "ab_tests.yml").write_text(text[:start] + text[end:], encoding="utf-8")
        with self.assertRaises(cha_deploy.DriftError):
            self.cha.deploy_all(without)
        report = self.cha.deploy_all(without, on_drift="overwrite")
        self.assertEqual(report["experiments"]["removed"], ["pipe_sizing_comparison"])
        # Removed from the files, the test is archived: still analysed from
        # its data, listed, and not assigned any more.
        self.assertEqual(self.counts(), self.expected)
        archived = self.cha.list_archived_experiments()
        self.assertEqual([a["definition"]["id"] for a in archived], ["pipe_sizing_comparison"])
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.assign("pipe_sizing_comparison", "u")
        self.cha.analyze_test_results("flow_calculation_comparison")
        report = self.cha.rollback_deployment()
        self.assertEqual(report["experiments"]["created"], ["pipe_sizing_comparison"])
        self.assertEqual(self.export_rows("after.csv")[0], 40, "the raw rows are all there")
        self.assertEqual(self.counts(), self.expected)


class StatusTest(DeployTestCase):
    def test_an_empty_database(self) -> None:
        status = self.cha.get_deployment_status()
        self.assertEqual(status["database"], str(self.db))
        self.assertIsNone(status["last_deployment"])
        self.assertEqual(status["recent_deployments"], [])
        self.assertEqual(
            [
                (s["subsystem"], s["count"], s["deployed_file"], s["drift"])
                for s in status["subsystems"]
            ],
            [
                ("feature_flags", 0, None, []),
                ("ab_tests", 0, None, []),
                ("performance_monitoring", 0, None, []),
                ("user_feedback", 0, None, []),
                ("segments", 0, None, []),
            ],
        )

    def test_subsystems_rollouts_drift_and_recent_deployments(self) -> None:
        self.deploy_shipped()
        status = self.cha.get_deployment_status()
        flags, tests, _monitoring, _feedback, _segments = status["subsystems"]
        self.assertEqual(
            [
                (s["subsystem"], s["file"], s["items"], s["count"], s["deployed_by"])
                for s in status["subsystems"]
            ],
            [
                ("feature_flags", "feature_flags.yml", "flags", 10, 1),
                ("ab_tests", "ab_tests.yml", "experiments", 3, 1),
                # 23 rules and the settings.
                ("performance_monitoring", "performance_monitoring.yml", "monitoring", 24, 1),
                ("user_feedback", "user_feedback.yml", "feedback_settings", 8, 1),
                # The shipped feature_flags.yml defines no segments.
                ("segments", "feature_flags.yml", "segments", 0, 1),
            ],
        )
        self.assertEqual(
            flags["deployed_file"]["sha256"],
            hashlib.sha256((CONFIGS / "feature_flags.yml").read_bytes()).hexdigest(),
        )
        self.assertEqual((flags["drift"], tests["drift"]), ([], []))
        self.assertEqual(
            flags["details"]["rollouts"],
            [
                {
                    "flag": "intelligent_pipe_sizing",
                    "next_step": None,
                    "percentage": 25.0,
                    "type": "percentage",
                },
                {
                    "flag": "pandapipes_simulation",
                    "next_step": None,
                    "percentage": 10.0,
                    "type": "percentage",
                },
            ],
        )
        self.assertEqual(
            (flags["details"]["enabled"], flags["details"]["disabled"]), (9, ["new_ui"])
        )
        self.assertEqual((tests["details"]["running"], tests["details"]["paused"]), (2, 0))
        self.assertEqual([t["id"] for t in tests["details"]["tests"]], EXPERIMENTS)
        last = status["last_deployment"]
        self.assertEqual(
            (last["id"], last["action"], last["actor"], last["config_dir"], last["changed"]),
            # 10 flags, 3 tests, 23 alert rules and the monitoring settings, and
            # the 8 sections of user_feedback.yml.
            (1, "deploy", "alice", str(CONFIGS), 45),
        )
        self.assertEqual(status["recent_deployments"], [last])

        start = now_ms()
        self.cha.update_flag("intelligent_pipe_sizing", {"percentage": 60}, actor="ops")
        self.cha.pause_experiment("pipe_sizing_comparison", actor="ops")
        before = self.state()
        status = self.cha.get_deployment_status()
        self.assertEqual(self.state(), before, "the status writes nothing")
        flags, tests, _monitoring, _feedback, _segments = status["subsystems"]
        self.assertEqual(
            [(d["name"], d["kind"], d["actor"], d["action"]) for d in flags["drift"]],
            [("intelligent_pipe_sizing", "modified", "ops", "update")],
        )
        self.assertEqual(
            [(f["field"], f["before"], f["after"]) for f in flags["drift"][0]["fields"]],
            [("percentage", 25.0, 60.0)],
        )
        self.assertGreaterEqual(flags["drift"][0]["at_ms"], start - 1000)
        self.assertEqual(
            [(d["name"], d["kind"], d["actor"], d["action"]) for d in tests["drift"]],
            [("pipe_sizing_comparison", "modified", "ops", "paused")],
        )
        self.assertEqual(flags["details"]["rollouts"][0]["flag"], "intelligent_pipe_sizing")
        self.assertEqual(flags["details"]["rollouts"][0]["percentage"], 60.0)
        self.assertEqual((tests["details"]["running"], tests["details"]["paused"]), (1, 1))

        self.cha.deploy_all(CONFIGS, "bob", on_drift="overwrite")
        status = self.cha.get_deployment_status()
        self.assertEqual([s["drift"] for s in status["subsystems"]], [[], [], [], [], []])
        self.assertEqual(
            [(d["id"], d["action"], d["actor"]) for d in status["recent_deployments"]],
            [(2, "deploy", "bob"), (1, "deploy", "alice")],
        )


class BackupTest(DeployTestCase):
    def backup_dir(self) -> Path:
        return Path(f"{self.db}-backups")

    def test_a_deploy_backs_the_database_up_first(self) -> None:
        self.assertEqual(self.cha.list_backups(), [])
        report = self.deploy_shipped()
        backups = self.cha.list_backups()
        self.assertEqual(len(backups), 1)
        backup = backups[0]
        self.assertEqual(backup["reason"], "deploy")
        self.assertRegex(backup["name"], r"^cha\.db\.\d{8}T\d{6}\.\d{3}Z\.deploy\.db$")
        self.assertEqual(Path(backup["path"]), self.backup_dir() / backup["name"])
        self.assertEqual(report["backup"], backup["path"])
        self.assertEqual(self.cha.get_deployment(1)["backup"], backup["path"])
        self.assertEqual(backup["size_bytes"], os.path.getsize(backup["path"]))
        self.assertLessEqual(abs(backup["created_at_ms"] - report["at_ms"]), 60_000)
        self.assertEqual(stat.S_IMODE(os.stat(backup["path"]).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.backup_dir()).st_mode), 0o700)
        # Taken before the deploy: a copy of it holds no flag yet.
        copy = self.dir / "copy.db"
        shutil.copyfile(backup["path"], copy)
        with cha_deploy.open(copy) as old:
            self.assertEqual(old.list_flags(), [])

    def test_create_backup(self) -> None:
        self.deploy_shipped()
        manual = self.cha.create_backup()
        self.assertEqual(manual["reason"], "manual")
        self.assertTrue(manual["name"].endswith(".manual.db"))
        self.assertEqual(stat.S_IMODE(os.stat(manual["path"]).st_mode), 0o600)
        named = self.cha.create_backup("pre-upgrade")
        self.assertEqual(named["reason"], "pre-upgrade")
        self.assertEqual(
            [(b["reason"], b["name"]) for b in self.cha.list_backups()],
            [
                ("deploy", self.cha.list_backups()[0]["name"]),
                ("manual", manual["name"]),
                ("pre-upgrade", named["name"]),
            ],
        )
        before = self.state()
        for reason in ("", "has space", "a" * 33, "../escape", "x.db"):
            with self.subTest(reason=reason):
                with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
                    self.cha.create_backup(reason)
                self.assertIn(f"backup reason `{reason}`", caught.exception.message)
        self.assertEqual(self.state(), before)

    def test_a_reason_that_is_not_a_str_is_a_type_error(self) -> None:
        # A TypeError naming `reason`, not an AttributeError from deep in
        # the binding.
        for reason in (None, 3):
            with self.subTest(reason=reason):
                with self.assertRaises(TypeError):
                    self.cha.create_backup(reason)

    def test_restore_brings_back_an_earlier_state(self) -> None:
        self.deploy_shipped()
        exported = self.cha.export_configuration()
        manual = self.cha.create_backup()
        self.make_runtime_changes()
        self.cha.deploy_all(self.configs_at_40_percent(), on_drift="overwrite")
        self.assertEqual(self.percentage(), 40.0)
        report = self.cha.restore_backup(manual["name"], actor="dave")
        self.assertEqual(
            (report["action"], report["actor"], report["deployment_id"]), ("restore", "dave", 2)
        )
        self.assertEqual(report["config_dir"], manual["path"])
        self.assertTrue(Path(report["backup"]).name.endswith(".restore.db"))
        self.assertTrue(
            Path(report["backup"]).is_file(), "the state before the restore is backed up"
        )
        self.assertEqual(self.cha.export_configuration(), exported)
        self.assertEqual(self.percentage(), 25.0)
        self.assertEqual(self.status_of(), "running")
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.get_flag("night_mode")
        self.assertEqual(
            [(h["id"], h["action"], h["actor"]) for h in self.cha.deployment_history()],
            [(2, "restore", "dave"), (1, "deploy", "alice")],
        )
        self.assertEqual(self.cha.get_deployment_status()["last_deployment"]["action"], "restore")
        # By path too: back to the state the restore backed up.
        self.cha.restore_backup(report["backup"], actor="dave")
        self.assertEqual(self.percentage(), 40.0)
        # "latest": the newest backup, here the 25% state that restore took.
        self.cha.restore_backup("latest", actor="dave")
        self.assertEqual(self.percentage(), 25.0)

    def test_a_missing_backup_is_not_found(self) -> None:
        self.deploy_shipped()
        before = self.state()
        name = "cha.db.20990101T000000.000Z.deploy.db"
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.restore_backup(name, actor="dave")
        self.assertIn(str(self.backup_dir() / name), caught.exception.message)
        self.assertIn(
            before["backups"][0], caught.exception.message, "it lists the backups there are"
        )
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.restore_backup(str(self.dir / "nowhere.db"), actor="dave")
        self.assertEqual(self.state(), before)

    def assert_refused_restore(self, content: Callable[[Path], None]) -> None:
        self.deploy_shipped()
        self.cha.update_flag("intelligent_pipe_sizing", {"percentage": 60}, actor="ops")
        fake = self.backup_dir() / "cha.db.20261130T000000.000Z.manual.db"
        content(fake)
        self.assertIn(
            fake.name, [b["name"] for b in self.cha.list_backups()], "named like a backup"
        )
        before = self.state()
        with self.assertRaises(cha_deploy.StorageError) as caught:
            self.cha.restore_backup(fake.name, actor="dave")
        self.assertEqual(caught.exception.status, 6)
        self.assertIn(str(fake), caught.exception.message)
        self.assertEqual(self.state(), before, "nothing changed, no backup taken")
        self.assertEqual(self.percentage(), 60.0)

    def test_a_garbage_file_named_like_a_backup_is_a_storage_error(self) -> None:
        self.assert_refused_restore(lambda p: p.write_bytes(b"garbage, not sqlite\n" * 100))

    def test_an_empty_file_named_like_a_backup_is_a_storage_error(self) -> None:
        # A 0-byte file passes SQLite's quick_check ("ok", user_version 0):
        # the restore must still refuse it, or it would empty the database.
        self.assert_refused_restore(lambda p: p.write_bytes(b""))

    def test_another_sqlite_database_named_like_a_backup_is_a_storage_error(self) -> None:
        # As above for a SQLite database of another program (user_version 0,
        # no cha-deploy schema).
        def other(path: Path) -> None:
            with sqlite3.connect(path) as conn:
                conn.execute("CREATE TABLE notes (text TEXT)")
            conn.close()

        self.assert_refused_restore(other)

    def test_backups_kept_keeps_the_newest(self) -> None:
        self.cha.close()
        cha = self.open_handle(backups_kept=2)
        cha.deploy_all(CONFIGS)
        made = [cha.create_backup()["name"] for _ in range(3)]
        backups = cha.list_backups()
        self.assertEqual([b["name"] for b in backups], made[-2:])
        self.assertEqual(sorted(os.listdir(self.backup_dir())), made[-2:])
        cha.deploy_all(self.configs_at_40_percent())
        self.assertEqual(len(cha.list_backups()), 2)
        self.assertEqual(cha.list_backups()[-1]["reason"], "deploy")
        for bad in (0, -1, "2"):
            with self.subTest(backups_kept=bad):
                with self.assertRaises(cha_deploy.InvalidArgumentError):
                    cha_deploy.Cha(self.dir / "other.db", backups_kept=bad)

    def test_backup_dir_puts_them_elsewhere(self) -> None:
        self.cha.close()
        elsewhere = self.dir / "vault" / "cha"
        cha = self.open_handle(backup_dir=elsewhere)
        report = cha.deploy_all(CONFIGS)
        backups = cha.list_backups()
        self.assertEqual([Path(b["path"]).parent for b in backups], [elsewhere])
        self.assertEqual(report["backup"], backups[0]["path"])
        self.assertFalse(self.backup_dir().exists())
        self.assertEqual(stat.S_IMODE(os.stat(backups[0]["path"]).st_mode), 0o600)
        manual = cha.create_backup()
        self.assertEqual(Path(manual["path"]).parent, elsewhere)
        cha.update_flag("intelligent_pipe_sizing", {"percentage": 60}, actor="ops")
        cha.restore_backup(manual["name"], actor="dave")
        self.assertEqual(cha.get_flag("intelligent_pipe_sizing")["definition"]["percentage"], 25.0)


class GuardedRolloutTest(DeployTestCase):
    """A rollout stopped by a guardrail, and held and lifted by hand."""

    def guarded(self, guardrails: str) -> Path:
        return self.configs_with(
            "guarded",
            (
                "feature_flags.yml",
                "    tags: [sizing, rollout]\n",
                "    tags: [sizing, rollout]\n    guardrails:\n" + guardrails,
            ),
        )

    def test_a_harmed_guardrail_rolls_the_rollout_back(self) -> None:
        cha = self.open_handle(self.dir / "guarded.db", evaluate_alerts=False)
        cha.deploy_all(
            self.guarded("      experiments: [pipe_sizing_comparison]\n      on_trigger: rollback\n"),
            "ci",
        )
        self.assertEqual(cha.check_guardrails(), [])
        for i in range(400):
            unit = f"network-{i:04d}"
            variant = cha.assign("pipe_sizing_comparison", unit)
            if variant is None:
                continue
            base = 240.0 if variant == "intelligent" else 120.0
            cha.record("pipe_sizing_comparison", unit, "sizing_time_ms", base + (i % 17) - 8)
        events = cha.check_guardrails()
        self.assertEqual(len(events), 1, events)
        self.assertEqual(
            (events[0]["flag"], events[0]["action"], events[0]["from_percentage"], events[0]["percentage"]),
            ("intelligent_pipe_sizing", "rollback", 25.0, 0.0),
        )
        self.assertEqual(
            events[0]["reasons"],
            ["experiment pipe_sizing_comparison: guardrail sizing_time_ms harmed in intelligent"],
        )
        self.assertFalse(any(cha.is_enabled("intelligent_pipe_sizing", f"planner-{i}") for i in range(200)))
        history = cha.flag_history("intelligent_pipe_sizing")
        self.assertEqual((history[-1]["actor"], history[-1]["action"]), ("guardrail", "rollback"))
        with self.assertRaises(TypeError):
            cha.check_guardrails("now")  # type: ignore[arg-type]

    def test_pause_and_resume_by_hand(self) -> None:
        self.deploy_shipped()
        before = [self.cha.is_enabled("intelligent_pipe_sizing", f"planner-{i}").enabled for i in range(300)]
        change = self.cha.pause_rollout("intelligent_pipe_sizing", "winter peak", actor="ops")
        self.assertEqual(change["after"]["hold"]["percentage"], 25.0)
        self.assertEqual(change["after"]["hold"]["reason"], "winter peak")
        self.cha.update_flag("intelligent_pipe_sizing", {"percentage": 60}, actor="ops")
        held = [self.cha.is_enabled("intelligent_pipe_sizing", f"planner-{i}").enabled for i in range(300)]
        self.assertEqual(held, before)
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.pause_rollout("intelligent_pipe_sizing")
        with self.assertRaises(cha_deploy.DriftError):
            self.cha.deploy_all(CONFIGS)
        self.cha.resume_rollout("intelligent_pipe_sizing", actor="ops")
        after = [self.cha.is_enabled("intelligent_pipe_sizing", f"planner-{i}").enabled for i in range(300)]
        self.assertGreater(sum(after), sum(before))
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.resume_rollout("intelligent_pipe_sizing")
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.pause_rollout("nope")


class SecondHandleTest(DeployTestCase):
    def test_a_second_handle_follows_deploys_rollbacks_and_restores(self) -> None:
        reader = self.open_handle(refresh_interval_ms=50)
        args = ("pressure_drop_check", "planner-001", ["beta_testers"])
        self.assertEqual(reader.is_enabled(*args).error, ErrorCode.FLAG_NOT_FOUND)

        self.deploy_shipped()
        self.wait_for(lambda: reader.is_enabled(*args).enabled, "the first deploy")
        self.assertEqual(
            reader.is_enabled("intelligent_pipe_sizing", "planner-001").rule, "25% by user_id"
        )

        switched_off = self.configs_with(
            "off",
            (
                "feature_flags.yml",
                "    enabled: true\n    include_groups: [beta_testers, hydraulics_team]\n",
                "    enabled: false\n    include_groups: [beta_testers, hydraulics_team]\n",
            ),
        )
        self.cha.deploy_all(switched_off)
        self.wait_for(
            lambda: reader.is_enabled(*args).reason == Reason.DISABLED, "the second deploy"
        )

        self.cha.rollback_deployment()
        self.wait_for(lambda: reader.is_enabled(*args).enabled, "the rollback")
        self.assertEqual(reader.export_configuration(), self.cha.export_configuration())

        before_rollback = self.cha.list_backups()[-1]
        self.assertEqual(before_rollback["reason"], "rollback")
        self.cha.restore_backup(before_rollback["name"], actor="dave")
        self.wait_for(lambda: reader.is_enabled(*args).reason == Reason.DISABLED, "the restore")
        self.assertEqual(reader.export_configuration(), self.cha.export_configuration())
        self.assertEqual(reader.get_deployment_status()["last_deployment"]["action"], "restore")

    def test_a_second_handle_follows_a_deploy_that_resumes_a_paused_test(self) -> None:
        self.deploy_shipped()
        reader = self.open_handle(refresh_interval_ms=50)
        fresh = (f"fresh-unit-{i}" for i in range(1_000_000))

        def admits_new_units() -> bool:
            # A new unit each time: an admitted unit would stay in the test.
            return reader.assign("pipe_sizing_comparison", next(fresh)) is not None

        self.assertTrue(admits_new_units())
        self.cha.pause_experiment("pipe_sizing_comparison", actor="ops")
        self.wait_for(lambda: not admits_new_units(), "the pause")
        self.cha.deploy_all(CONFIGS, on_drift="overwrite")
        self.wait_for(admits_new_units, "the deploy")
        self.assertEqual(
            reader.get_experiment("pipe_sizing_comparison")["definition"]["status"], "running"
        )


if __name__ == "__main__":
    unittest.main()
