"""The deployment report through the Python binding:
``generate_deployment_report`` returns the report, or writes it to a file
in the format its extension names (or the one given) and returns the path;
bad formats, paths and arguments raise typed errors and write nothing.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v``.
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
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402


class ReportTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-report-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.cha = cha_deploy.open(self.dir / "cha.db")
        self.addCleanup(self.cha.close)
        self.cha.deploy_all(CONFIGS, "ci")
        self.cha.pause_rollout("intelligent_pipe_sizing", "waiting for the pilot", actor="ops")
        self.cha.submit_satisfaction_survey(5, "The new sizing saves time", "planner-042")

    def test_the_report_comes_back_as_json_markdown_or_html(self) -> None:
        report = json.loads(self.cha.generate_deployment_report())
        self.assertEqual(report["title"], "Deployment report")
        self.assertEqual(report["deployments"][0]["actor"], "ci")
        sizing = next(r for r in report["rollouts"] if r["flag"] == "intelligent_pipe_sizing")
        self.assertEqual(sizing["held_now"], "waiting for the pilot")
        self.assertEqual([e["kind"] for e in sizing["events"]], ["deploy", "pause"])
        self.assertEqual(report["feedback"]["total_items"], 1)
        markdown = self.cha.generate_deployment_report(format="md")
        self.assertTrue(markdown.startswith("# Deployment report\n"))
        self.assertIn("### intelligent_pipe_sizing (25% now, held)", markdown)
        html = self.cha.generate_deployment_report(format="html")
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertIn('<svg class="chart"', html)
        self.assertNotIn("<script", html)

    def test_a_file_is_written_in_the_format_of_its_extension(self) -> None:
        for name, start in [("r.html", "<!DOCTYPE html>"), ("r.md", "# Deployment"), ("r.json", "{")]:
            path = self.dir / name
            self.assertEqual(self.cha.generate_deployment_report(path), str(path))
            self.assertTrue(path.read_text(encoding="utf-8").startswith(start), name)
        path = self.dir / "r.html"
        self.cha.generate_deployment_report(str(path), format="json")
        self.assertEqual(json.loads(path.read_text(encoding="utf-8"))["title"], "Deployment report")

    def test_errors_are_typed_and_write_nothing(self) -> None:
        before = sorted(p.name for p in self.dir.iterdir())
        with self.assertRaises(cha_deploy.InvalidArgumentError) as e:
            self.cha.generate_deployment_report(format="pdf")
        self.assertIn("known: html, md, json", str(e.exception))
        with self.assertRaises(cha_deploy.InvalidArgumentError) as e:
            self.cha.generate_deployment_report(self.dir / "r.txt")
        self.assertIn(".html, .md or .json", str(e.exception))
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.generate_deployment_report(self.dir)
        with self.assertRaises(cha_deploy.StorageError) as e:
            self.cha.generate_deployment_report(self.dir / "missing" / "r.html")
        self.assertIn("missing", str(e.exception))
        with self.assertRaises(cha_deploy.InvalidUtf8Error):
            self.cha.generate_deployment_report(format="ht\udcffml")
        with self.assertRaises(TypeError):
            self.cha.generate_deployment_report(format=3)  # type: ignore[arg-type]
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), before)
        self.cha.close()
        with self.assertRaises(cha_deploy.ClosedHandleError):
            self.cha.generate_deployment_report()


if __name__ == "__main__":
    unittest.main()
