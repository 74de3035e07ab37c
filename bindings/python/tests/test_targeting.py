"""Targeting through the Python binding: typed values of each type with the
caller's default and the reason (rules, segments, environments, variants and
prerequisites of ``tests/fixtures/targeting/feature_flags.yml``), segments
at runtime, the Unleash import, typed experiment parameters (``configs/``),
and the errors of each.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v``. The expected
answers are those of ``tests/flags_targeting.rs``; keep them in step.
"""

from __future__ import annotations

import json
import sys
import tempfile
import unittest
from pathlib import Path

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
CONFIGS = REPO_ROOT / "configs"
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "targeting"
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402
from cha_deploy import ErrorCode, FlagResolution, Reason  # noqa: E402

PILOT = {
    "properties": {
        "network_id": "n-1",
        "site": "north-7",
        "network_size": 800,
        "tool_version": "2.4.1",
    }
}
WEST = {"properties": dict(PILOT["properties"], site="west-3")}


class Scratch(unittest.TestCase):
    """A fresh database per test, deployed from the targeting fixture."""

    config_dir = FIXTURES

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.cha = cha_deploy.open(str(Path(self._tmp.name) / "cha.db"))
        self.cha.deploy_all(str(self.config_dir), actor="test")

    def tearDown(self) -> None:
        self.cha.close()
        self._tmp.cleanup()


class TypedValues(Scratch):
    def test_each_type_with_its_reason(self) -> None:
        d = self.cha.flag_details("velocity_limit", 2.0, "double", context=PILOT)
        self.assertEqual(
            d,
            FlagResolution(
                flag="velocity_limit",
                value=1.8,
                reason=Reason.TARGETING_MATCH,
                error=None,
                variant="strict",
            ),
        )
        self.assertEqual(self.cha.flag_double("velocity_limit", 2.0, context=PILOT), 1.8)
        south = {"properties": dict(PILOT["properties"], site="south-1")}
        self.assertEqual(self.cha.flag_double("velocity_limit", 2.0, context=south), 2.5)
        self.assertEqual(self.cha.flag_int("max_iterations", 1, user_id="u1"), 200)
        self.assertIsInstance(self.cha.flag_int("max_iterations", 1, user_id="u1"), int)
        self.assertEqual(
            self.cha.flag_json("pipe_catalogue", None, user_id="planner-001"),
            {"standard": "DIN EN 253", "max_dn": 1000},
        )
        # Environments pick the flag's override; groups open production.
        self.assertTrue(
            self.cha.flag_bool("solver_v3", False, user_id="u1", context={"environment": "development"})
        )
        self.assertFalse(
            self.cha.flag_bool("solver_v3", True, user_id="u1", context={"environment": "production"})
        )
        d = self.cha.flag_details(
            "solver_v3",
            False,
            user_id="u1",
            user_groups=["hydraulics_team"],
            context={"environment": "production"},
        )
        self.assertEqual((d.value, d.reason, d.error), (True, Reason.TARGETING_MATCH, None))

    def test_rules_serve_off_and_prerequisites(self) -> None:
        kiosk = {"remote_address": "192.0.2.44", "properties": PILOT["properties"]}
        d = self.cha.flag_details("velocity_limit", 9.5, "double", context=kiosk)
        self.assertEqual((d.value, d.reason, d.error, d.variant), (9.5, "TARGETING_MATCH", None, None))
        d = self.cha.flag_details(
            "strict_report", True, context={"properties": {"email": "anna@stadtwerke.example"}}
        )
        self.assertEqual((d.value, d.reason), (False, Reason.PREREQUISITE_FAILED))
        on = self.cha.flag_bool(
            "strict_report",
            False,
            context={
                "properties": {
                    "site": "harbour-2",
                    "network_size": 500,
                    "tool_version": "2.4.0",
                    "email": "anna@stadtwerke.EXAMPLE",
                }
            },
        )
        self.assertTrue(on)

    def test_the_default_on_evaluation_errors(self) -> None:
        d = self.cha.flag_details("pipe_catalogue", "none", "string", user_id="planner-001")
        self.assertEqual(
            (d.value, d.reason, d.error, d.variant),
            ("none", Reason.ERROR, ErrorCode.TYPE_MISMATCH, "din_en_253"),
        )
        self.assertEqual(self.cha.flag_int("velocity_limit", 7, context=PILOT), 7)
        d = self.cha.flag_details("velocity_limt", 4.5, "double", context=PILOT)
        self.assertEqual((d.value, d.reason, d.error), (4.5, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND))
        # A context the library cannot read: the default, not an exception.
        d = self.cha.flag_details("max_iterations", 3, "int", context={"no_such_key": 1})
        self.assertEqual((d.value, d.error), (3, ErrorCode.INVALID_CONTEXT))
        # A JSON default comes back equal.
        fallback = {"standard": "none", "max_dn": [1, 2]}
        self.assertEqual(self.cha.flag_json("nothing", fallback), fallback)

    def test_wrong_types_raise_type_error_naming_the_argument(self) -> None:
        cases = [
            (lambda: self.cha.flag_bool("solver_v3", "yes"), "default must be a bool, not str"),
            (lambda: self.cha.flag_double("velocity_limit", "2.0"), "default must be a number, not str"),
            (lambda: self.cha.flag_double("velocity_limit", True), "default must be a number, not bool"),
            (lambda: self.cha.flag_int("max_iterations", 2.0), "default must be an int, not float"),
            (lambda: self.cha.flag_string("pipe_catalogue", None), "default must be a str, not NoneType"),
            (lambda: self.cha.flag_json("pipe_catalogue", {1, 2}), "default must be JSON-serialisable, not set"),
            (lambda: self.cha.flag_bool(42, False), "flag_name must be a str, not int"),
            (lambda: self.cha.flag_bool("solver_v3", False, user_groups="team"), "user_groups must be a list"),
            (lambda: self.cha.experiment_param("e", "v", "k", list), "kind must be float, int, bool or str"),
            (lambda: self.cha.experiment_param("e", 1, "k", float), "variant must be a str, not int"),
            (lambda: self.cha.set_segment(b"x", {}), "name must be a str, not bytes"),
            (lambda: self.cha.import_unleash(42), "document must be JSON text, a dict or a path, not int"),
            (lambda: self.cha.import_unleash("{}", dry_run="yes"), "dry_run must be a bool, not str"),
        ]
        for call, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(TypeError) as caught:
                    call()
                self.assertIn(message, str(caught.exception))
        with self.assertRaises(ValueError):
            self.cha.flag_details("solver_v3", False, "boolean")
        with self.assertRaises(OverflowError):
            self.cha.flag_int("max_iterations", 2**63)
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.flag_json("pipe_catalogue", float("nan"))
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.flag_double("velocity\0limit", 1.0)
        with self.assertRaises(cha_deploy.InvalidUtf8Error) as caught:
            self.cha.flag_double("velocity\udcfflimit", 1.0)
        self.assertIn("flag", str(caught.exception))
        with self.assertRaises(cha_deploy.InvalidUtf8Error):
            self.cha.flag_string("pipe_catalogue", "bad\udcff")

    def test_closed_handle(self) -> None:
        self.cha.close()
        with self.assertRaises(cha_deploy.ClosedHandleError):
            self.cha.flag_double("velocity_limit", 1.0)


class PreparedContexts(Scratch):
    """A context parsed once (``cha_context_new``) answers as the same dict
    does, through every typed getter, with any handle."""

    def test_the_same_answers_as_the_dict(self) -> None:
        with cha_deploy.PreparedContext(context=PILOT) as pilot:
            d = self.cha.flag_details("velocity_limit", 2.0, "double", context=pilot)
            self.assertEqual(
                d,
                FlagResolution(
                    flag="velocity_limit",
                    value=1.8,
                    reason=Reason.TARGETING_MATCH,
                    error=None,
                    variant="strict",
                ),
            )
            self.assertEqual(d, self.cha.flag_details("velocity_limit", 2.0, "double", context=PILOT))
            self.assertEqual(self.cha.flag_double("velocity_limit", 2.0, context=pilot), 1.8)
            # A payload that is no whole number, and no such flag: the default.
            d = self.cha.flag_details("velocity_limit", 7, "int", context=pilot)
            self.assertEqual((d.value, d.reason, d.error), (7, Reason.ERROR, ErrorCode.TYPE_MISMATCH))
            d = self.cha.flag_details("velocity_limt", True, context=pilot)
            self.assertEqual((d.value, d.error), (True, ErrorCode.FLAG_NOT_FOUND))
            # Another handle on the same database answers the same.
            with cha_deploy.open(self.cha.path) as other:
                self.assertEqual(other.flag_double("velocity_limit", 2.0, context=pilot), 1.8)

        production = cha_deploy.PreparedContext(
            user_id="u1", user_groups=["hydraulics_team"], context={"environment": "production"}
        )
        d = self.cha.flag_details("solver_v3", False, context=production)
        self.assertEqual((d.value, d.reason, d.error), (True, Reason.TARGETING_MATCH, None))
        production.close()

        planner = cha_deploy.PreparedContext(user_id="planner-001")
        self.assertEqual(self.cha.flag_int("max_iterations", 1, context=planner), 200)
        self.assertEqual(
            self.cha.flag_json("pipe_catalogue", None, context=planner),
            {"standard": "DIN EN 253", "max_dn": 1000},
        )
        d = self.cha.flag_details("pipe_catalogue", "none", "string", context=planner)
        self.assertEqual(
            (d.value, d.reason, d.error, d.variant),
            ("none", Reason.ERROR, ErrorCode.TYPE_MISMATCH, "din_en_253"),
        )
        # A whole-number id is its digits, as in a dict.
        self.assertEqual(
            self.cha.flag_int("max_iterations", 1, context=cha_deploy.PreparedContext(user_id=42)), 200
        )
        # The empty context: solver_v3 is at 0% outside its environments.
        empty = cha_deploy.PreparedContext()
        d = self.cha.flag_details("solver_v3", True, context=empty)
        self.assertEqual((d.value, d.reason), (False, Reason.SPLIT))
        self.assertEqual(repr(empty), "<cha_deploy.PreparedContext open>")

    def test_errors(self) -> None:
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.PreparedContext(context={"userId": "u1"})
        self.assertIn("unknown key `userId`", str(caught.exception))
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.PreparedContext(context={"properties": {"site": [1]}})
        self.assertIn("context.properties.site", str(caught.exception))
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.PreparedContext(context={"current_time": "yesterday"})
        self.assertIn("context.current_time", str(caught.exception))
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.PreparedContext(context=[("site", "north-7")])
        self.assertIn("context must be a dict", str(caught.exception))
        # JSON carries a lone surrogate as an escape, which the library refuses.
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.PreparedContext(user_id="bad\udcff")
        self.assertIn("lone leading surrogate", str(caught.exception))
        cases = [
            (lambda: cha_deploy.PreparedContext(user_id=1.5), "user_id must be a str or an int, not float"),
            (lambda: cha_deploy.PreparedContext(user_groups="team"), "user_groups must be a list"),
        ]
        pilot = cha_deploy.PreparedContext(context=PILOT)
        cases += [
            (
                lambda: self.cha.flag_bool("solver_v3", False, user_id="u1", context=pilot),
                "user_id cannot be given with a PreparedContext",
            ),
            (
                lambda: self.cha.flag_double("velocity_limit", 1.0, user_groups=["a"], context=pilot),
                "user_groups cannot be given with a PreparedContext",
            ),
            (lambda: self.cha.flag_bool("solver_v3", "yes", context=pilot), "default must be a bool, not str"),
            (lambda: self.cha.flag_bool(42, False, context=pilot), "flag_name must be a str, not int"),
        ]
        for call, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(TypeError) as caught:
                    call()
                self.assertIn(message, str(caught.exception))
        with self.assertRaises(cha_deploy.InvalidUtf8Error):
            self.cha.flag_string("pipe_catalogue", "bad\udcff", context=pilot)
        # Closed: refused before it reaches the library; closing twice is fine.
        pilot.close()
        pilot.close()
        self.assertTrue(pilot.closed)
        self.assertEqual(repr(pilot), "<cha_deploy.PreparedContext closed>")
        with self.assertRaises(cha_deploy.ClosedHandleError):
            self.cha.flag_double("velocity_limit", 1.0, context=pilot)
        # A closed Cha is refused too.
        planner = cha_deploy.PreparedContext(user_id="planner-001")
        self.cha.close()
        with self.assertRaises(cha_deploy.ClosedHandleError):
            self.cha.flag_int("max_iterations", 1, context=planner)


class Segments(Scratch):
    def test_list_set_and_delete(self) -> None:
        names = [s["definition"]["name"] for s in self.cha.list_segments()]
        self.assertEqual(names, ["large_networks", "pilot_sites"])
        pilot = self.cha.list_segments()[1]
        self.assertEqual(
            pilot["definition"]["constraints"],
            [{"attribute": "site", "operator": "IN", "values": ["north-7", "harbour-2"]}],
        )
        self.assertEqual(pilot["version"], 1)

        self.assertEqual(self.cha.flag_double("velocity_limit", 0.0, context=WEST), 2.5)
        change = self.cha.set_segment(
            "pilot_sites",
            {"constraints": [{"attribute": "site", "operator": "IN",
                              "values": ["north-7", "harbour-2", "west-3"]}]},
            actor="py-test",
        )
        self.assertEqual((change["segment"], change["version"], change["changed"]), ("pilot_sites", 2, True))
        self.assertEqual(self.cha.flag_double("velocity_limit", 0.0, context=WEST), 1.8)

        self.cha.set_segment("roles", {"constraints": [
            {"attribute": "role", "operator": "REGEX", "value": "^plan(ner)?$"}]})
        deleted = self.cha.delete_segment("roles", actor="py-test")
        self.assertEqual((deleted["changed"], deleted["after"]), (True, None))

    def test_errors_name_the_field(self) -> None:
        with self.assertRaises(cha_deploy.ConfigError) as caught:
            self.cha.set_segment("bad", {"constraints": [
                {"attribute": "role", "operator": "REGEX", "value": "("}]})
        self.assertEqual(
            caught.exception.message,
            "cha_segment_set: segments.bad.constraints[0].value: "
            "`(` is not a valid regular expression: unclosed group",
        )
        with self.assertRaises(cha_deploy.ConfigError) as caught:
            self.cha.set_segment("bad", {"constraints": [
                {"attribute": "ip", "operator": "IN_CIDR", "values": ["10.0.0.0/99"]}]})
        self.assertIn("segments.bad.constraints[0].values[0]", caught.exception.message)
        with self.assertRaises(cha_deploy.ConfigError) as caught:
            self.cha.set_segment("bad", {"constraints": [
                {"attribute": "a", "operator": "LIKE", "values": ["b"]}]})
        self.assertIn("unknown operator `LIKE`", caught.exception.message)
        with self.assertRaises(cha_deploy.ConfigError) as caught:
            self.cha.delete_segment("large_networks")
        self.assertIn(
            "flags.velocity_limit.rules[1].segments[1]: segment `large_networks` does not exist",
            caught.exception.message,
        )
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.delete_segment("nothing")
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.set_segment("bad", [1])  # type: ignore[arg-type]
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.set_segment("bad", {"constraints": []}, actor="")
        self.assertEqual(len(self.cha.list_segments()), 2)


class UnleashImport(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.cha = cha_deploy.open(str(Path(self._tmp.name) / "cha.db"))

    def tearDown(self) -> None:
        self.cha.close()
        self._tmp.cleanup()

    def test_import_reports_what_it_could_not_translate(self) -> None:
        path = FIXTURES / "unleash.json"
        dry = self.cha.import_unleash(path, dry_run=True, actor="py-test")
        self.assertEqual(
            dry["flags"],
            [{"name": "network_heatmap", "action": "create", "version": 0},
             {"name": "export_gis", "action": "create", "version": 0}],
        )
        self.assertEqual(self.cha.list_flags(), [])
        report = self.cha.import_unleash(path.read_text(encoding="utf-8"), actor="py-test")
        self.assertEqual((report["dry_run"], report["actor"], report["source"]), (False, "py-test", "unleash"))
        self.assertEqual(report["segments"], [{"name": "pilot_sites", "action": "create", "version": 1}])
        self.assertEqual(
            report["untranslated"],
            [{"item": "network_heatmap", "path": "features[0].strategies[1]",
              "message": "custom strategy `myCustomStrategy` cannot be evaluated by cha-deploy: "
                         "the rule is switched off"}],
        )
        sizer = {"app_name": "sizer", "properties": {"site": "north-7", "toolVersion": "2.1.0"}}
        d = self.cha.flag_details("network_heatmap", "none", "string", user_id="planner-001", context=sizer)
        self.assertEqual((d.value, d.variant), ("blues", "blue"))
        self.assertTrue(self.cha.flag_bool("export_gis", False, user_id="planner-001", context=sizer))
        self.assertFalse(self.cha.flag_bool("export_gis", True, user_id="planner-001"))
        # A dict works too; again, nothing changes.
        again = self.cha.import_unleash(json.loads(path.read_text(encoding="utf-8")))
        self.assertEqual([f["action"] for f in again["flags"]], ["unchanged", "unchanged"])

    def test_errors(self) -> None:
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.import_unleash({"flags": []})
        self.assertIn("not an Unleash client-features document", caught.exception.message)
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.import_unleash("features")
        self.assertIn("not JSON", caught.exception.message)
        with self.assertRaises(FileNotFoundError):
            self.cha.import_unleash(Path(self._tmp.name) / "missing.json")


class ExperimentParams(Scratch):
    config_dir = CONFIGS

    def test_typed_reads(self) -> None:
        e = "pipe_sizing_comparison"
        self.assertEqual(self.cha.experiment_param(e, "intelligent", "max_velocity_ms", float), 2.0)
        self.assertEqual(self.cha.experiment_param(e, "traditional", "default_diameter_mm", int), 100)
        self.assertIs(self.cha.experiment_param(e, "intelligent", "enable_intelligent_sizing", bool), True)
        self.assertEqual(
            self.cha.experiment_param(e, "traditional", "pipe_sizing_method", str), "fixed_diameter"
        )
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.experiment_param(e, "intelligent", "pipe_sizing_method", float)
        self.assertEqual(
            caught.exception.message,
            "cha_experiment_param_double: `pipe_sizing_method` of variant `intelligent` of experiment "
            '`pipe_sizing_comparison` is "intelligent", not a number',
        )
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.experiment_param(e, "smart", "x", float)
        self.assertIn("(its variants: traditional, intelligent)", caught.exception.message)
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.experiment_param(e, "intelligent", "max_velocity", float)
        self.assertIn("did you mean `max_velocity_ms`?", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
