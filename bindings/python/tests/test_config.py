"""Configuration management through the Python binding: the template of each
subsystem (``create_config_template``) makes a folder that validates and
deploys, and ``migrate_config`` brings the seed's version 1
feature_flags.yml to version 2 without writing anything.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v``.
"""

from __future__ import annotations

import sys
import tempfile
import unittest
from pathlib import Path

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "config"
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402


class ConfigTestCase(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)


class TemplateTest(ConfigTestCase):
    def test_the_positional_signature_still_gives_the_feature_flags(self) -> None:
        self.assertEqual(
            cha_deploy.create_config_template("north", "minimal"),
            cha_deploy.create_config_template(
                "north", config_type="minimal", subsystem="feature_flags"
            ),
        )
        yaml = cha_deploy.create_config_template("north")
        self.assertTrue(yaml.startswith("# north: feature flags"), yaml[:80])
        self.assertIn("config type: cha_intelligent_sizing", yaml)

    def test_both_templates_validate_and_deploy_together(self) -> None:
        for config_type in (None, "minimal"):
            with self.subTest(config_type=config_type):
                folder = self.dir / f"conf-{config_type}"
                folder.mkdir()
                for subsystem, file in (
                    ("feature_flags", "feature_flags.yml"),
                    ("ab-tests", "ab_tests.yml"),
                    ("performance-monitoring", "performance_monitoring.yml"),
                    ("user-feedback", "user_feedback.yml"),
                ):
                    yaml = cha_deploy.create_config_template(
                        file, config_type=config_type, subsystem=subsystem
                    )
                    (folder / file).write_text(yaml, encoding="utf-8")
                files = cha_deploy.validate_config(folder)
                self.assertEqual(
                    [f["file"] for f in files],
                    ["feature_flags.yml", "ab_tests.yml", "performance_monitoring.yml", "user_feedback.yml"],
                )
                with cha_deploy.open(self.dir / f"{config_type}.db") as cha:
                    report = cha.deploy_all(folder)
                    self.assertIn("pipe_sizing_comparison", report["experiments"]["created"])
                    # The template's tests are drafts: they admit no unit yet.
                    statuses = {e["definition"]["status"] for e in cha.list_experiments()}
                    self.assertEqual(statuses, {"draft"})

    def test_an_unknown_subsystem_names_the_known_ones(self) -> None:
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.create_config_template("x", subsystem="flagz")
        self.assertIn(
            "unknown subsystem `flagz` (known: feature_flags, ab_tests, "
            "performance_monitoring, user_feedback)",
            caught.exception.message,
        )
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            cha_deploy.create_config_template("x", "everything", "ab_tests")


class MigrateTest(ConfigTestCase):
    def test_the_seed_shape_migrates_without_writing(self) -> None:
        original = (FIXTURES / "feature_flags_v1.yml").read_text(encoding="utf-8")
        path = self.dir / "feature_flags.yml"
        path.write_text(original, encoding="utf-8")
        migration = cha_deploy.migrate_config(path)
        self.assertEqual(
            sorted(migration), ["file", "from_version", "report", "text", "to_version"]
        )
        self.assertEqual(migration["file"], str(path))
        self.assertEqual((migration["from_version"], migration["to_version"]), (1, 2))
        pipe = migration["report"]["flags"][1]
        self.assertEqual(pipe["flag"], "intelligent_pipe_sizing")
        self.assertIn("rollout_percentage → percentage", pipe["changes"])
        self.assertIn("version: 2\nflags:\n", migration["text"])
        self.assertEqual(path.read_text(encoding="utf-8"), original)

        # The migrated text deploys the flags the old file described.
        folder = self.dir / "migrated"
        folder.mkdir()
        (folder / "feature_flags.yml").write_text(migration["text"], encoding="utf-8")
        again = cha_deploy.migrate_config(folder / "feature_flags.yml")
        self.assertEqual((again["from_version"], again["report"]), (2, None))
        self.assertEqual(again["text"], migration["text"])
        with cha_deploy.open(self.dir / "m.db") as cha:
            report = cha.deploy_all(folder)
            self.assertEqual(
                report["flags"]["created"],
                ["flow_based_calculation", "intelligent_pipe_sizing", "sizing_test",
                 "summer_mode"],
            )
            self.assertEqual(cha.get_flag("intelligent_pipe_sizing")["definition"]["percentage"],
                             25.0)

    def test_errors_name_the_file_and_every_problem(self) -> None:
        with self.assertRaises(cha_deploy.NotFoundError):
            cha_deploy.migrate_config(self.dir / "feature_flags.yml")
        bad = self.dir / "feature_flags.yml"
        bad.write_text(
            "feature_flags:\n  a:\n    flag_type: percentage\n    rollout_percentage: 150\n"
            "  b:\n    flag_type: sometimes\n",
            encoding="utf-8",
        )
        with self.assertRaises(cha_deploy.ConfigError) as caught:
            cha_deploy.migrate_config(bad)
        message = caught.exception.message
        self.assertIn("2 configuration problems", message)
        self.assertIn("feature_flags.yml:4:25: flags.a.percentage", message)
        self.assertIn("flags.b.type: unknown flag type `sometimes`", message)
        notes = self.dir / "notes.yml"
        notes.write_text("shopping: [milk]\n", encoding="utf-8")
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            cha_deploy.migrate_config(notes)


if __name__ == "__main__":
    unittest.main()
