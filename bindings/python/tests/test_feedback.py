"""User feedback through the Python binding: the submit helpers per type,
what triage makes of an item, its links to flags and variants, refusals
that store nothing (invalid UTF-8 included), the workflow, merging, and the
analysis of a generated set whose numbers are worked out here.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v``; each test
deploys the repository's ``configs/`` (user_feedback.yml among them) into a
fresh temporary database.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Callable, Dict, List

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
CONFIGS = REPO_ROOT / "configs"
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402
from cha_deploy import FeedbackStatus, FeedbackType, Priority, Sentiment  # noqa: E402

UTC = dt.timezone.utc


class DeployedTestCase(unittest.TestCase):
    """A temporary database with the repository's configs deployed."""

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-feedback-")
        self.addCleanup(tmp.cleanup)
        self.db = Path(tmp.name) / "cha.db"
        self.cha = cha_deploy.open(self.db)
        self.addCleanup(self.cha.close)
        self.cha.deploy_all(CONFIGS)

    def count(self) -> int:
        return len(self.cha.list_feedback(limit=100000))


class SubmitTest(DeployedTestCase):
    def test_a_bug_report_is_triaged_and_linked(self) -> None:
        variant = self.cha.assign("pipe_sizing_comparison", "planner-7")
        item = self.cha.submit_bug_report(
            "The app crashes when I import a GIS network. Mail me at planner7@example.org",
            "planner-7",
            context={"network_id": "north-7", "app_version": "2.4.1"},
        )
        self.assertEqual(item["type"], FeedbackType.BUG_REPORT)
        self.assertEqual(
            item["text"], "The app crashes when I import a GIS network. Mail me at [email]"
        )
        self.assertTrue(item["redacted"])
        self.assertEqual(item["sentiment"]["label"], Sentiment.NEGATIVE)
        self.assertLess(item["sentiment"]["score"], 0)
        self.assertEqual(item["priority"], Priority.CRITICAL)
        self.assertEqual(item["route"], {"queue": "sizing-oncall"})
        self.assertEqual(item["status"], FeedbackStatus.NEW)
        self.assertEqual(item["context"], {"network_id": "north-7", "app_version": "2.4.1"})
        self.assertEqual(
            item["exposures"]["experiments"], {"pipe_sizing_comparison": variant}
        )
        flags = item["exposures"]["flags"]
        self.assertEqual(len(flags), len(self.cha.list_flags()))
        self.assertTrue(flags["flow_based_calculation"]["enabled"])
        self.assertFalse(flags["new_ui"]["enabled"])
        self.assertEqual(
            item["response"],
            f"Thank you for reporting this bug, planner-7. It is #{item['id']} "
            "(critical priority) and has gone to the sizing-oncall team.",
        )

    def test_every_helper_stores_its_type(self) -> None:
        helpers: Dict[str, Callable[[], Dict[str, Any]]] = {
            "bug_report": lambda: self.cha.submit_bug_report("The map lags", "u1"),
            "feature_request": lambda: self.cha.submit_feature_request("Please add IFC", "u1"),
            "performance_issue": lambda: self.cha.submit_performance_issue("Slow import", "u1"),
            "usability_issue": lambda: self.cha.submit_usability_issue("Hard to find", "u1"),
            "general_feedback": lambda: self.cha.submit_general_feedback("We use it", "u1"),
            "satisfaction_survey": lambda: self.cha.submit_satisfaction_survey(4, "Good", "u1"),
        }
        for name, helper in helpers.items():
            with self.subTest(type=name):
                item = helper()
                self.assertEqual(item["type"], name)
                self.assertEqual(self.cha.get_feedback(item["id"])["type"], name)
        self.assertEqual(self.cha.get_feedback(6)["rating"], 4)
        survey = self.cha.submit_satisfaction_survey(5, "Great", category="documentation")
        self.assertEqual(survey["category"], "documentation")
        import getpass

        self.assertEqual(survey["user_id"], getpass.getuser())

    def test_bad_input_says_why_and_stores_nothing(self) -> None:
        cases = [
            (lambda: self.cha.submit_feedback("complaint", "x", "u"),
             cha_deploy.InvalidArgumentError, "feedback.type `complaint` is not a feedback type"),
            (lambda: self.cha.submit_bug_report("x", "u", rating=0),
             cha_deploy.InvalidArgumentError, "not 0"),
            (lambda: self.cha.submit_satisfaction_survey(6, "x", "u"),
             cha_deploy.InvalidArgumentError, "feedback.rating must be a whole number from 1 to 5, not 6"),
            (lambda: self.cha.submit_bug_report("", "u"),
             cha_deploy.InvalidArgumentError, "feedback.text is empty"),
            (lambda: self.cha.submit_bug_report("x" * (64 * 1024 + 1), "u"),
             cha_deploy.InvalidArgumentError, "feedback.text is 65537 bytes"),
            (lambda: self.cha.submit_bug_report("broken \udc80 text", "u"),
             cha_deploy.InvalidUtf8Error, "argument `feedback_json` is not valid UTF-8"),
            (lambda: self.cha.submit_feedback(FeedbackType.SATISFACTION_SURVEY, "x", "u"),
             cha_deploy.InvalidArgumentError, "needs a rating"),
            (lambda: self.cha.submit_bug_report("x", "u", category="plumbing"),
             cha_deploy.InvalidArgumentError, "not a configured category"),
            (lambda: self.cha.submit_bug_report("x", "u", context=["network"]),  # type: ignore[arg-type]
             cha_deploy.InvalidArgumentError, "context must be a dict"),
            (lambda: self.cha.submit_bug_report("x", "u", submitted_at="yesterday"),  # type: ignore[arg-type]
             TypeError, "submitted_at must be a datetime or milliseconds"),
        ]
        for call, error, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(error) as caught:
                    call()
                self.assertIn(message, str(caught.exception))
        self.assertEqual(self.count(), 0)
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.get_feedback(1)
        with self.assertRaises(TypeError):
            self.cha.get_feedback("1")  # type: ignore[arg-type]
        with self.assertRaises(OverflowError):
            self.cha.get_feedback(2**70)


class WorkflowTest(DeployedTestCase):
    def test_statuses_move_with_times_actors_and_notes(self) -> None:
        t0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        item = self.cha.submit_bug_report("Wrong diameter on the school branch", "anna",
                                          submitted_at=t0)
        fid = item["id"]
        self.assertEqual(item["submitted_at_ms"], 1_767_600_000_000)
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.resolve_feedback(fid, "ops")
        self.assertIn("cannot move from new to resolved", str(caught.exception))
        self.cha.acknowledge_feedback(fid, "ops", note="seen")
        self.cha.start_feedback(fid, "dev")
        self.cha.resolve_feedback(fid, "dev", note="fixed in 2.4.2")
        closed = self.cha.close_feedback(fid, "ops")
        self.assertEqual(closed["status"], "closed")
        history = [(e["from"], e["to"], e["actor"], e["note"]) for e in closed["history"]]
        self.assertEqual(history, [
            (None, "new", "anna", None),
            ("new", "acknowledged", "ops", "seen"),
            ("acknowledged", "in_progress", "dev", None),
            ("in_progress", "resolved", "dev", "fixed in 2.4.2"),
            ("resolved", "closed", "ops", None),
        ])
        self.assertIsNotNone(closed["acknowledged_at_ms"])
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.start_feedback(fid, "ops")
        self.assertIn("closed is final", str(caught.exception))
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.set_feedback_status(fid, "done", "ops")
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.acknowledge_feedback(999, "ops")

    def test_imported_times_must_follow_the_last_change(self) -> None:
        t0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        fid = self.cha.submit_usability_issue("The legend hides labels", "u", submitted_at=t0)["id"]
        acked = self.cha.set_feedback_status(fid, FeedbackStatus.ACKNOWLEDGED, "ops",
                                             at=t0 + dt.timedelta(hours=2))
        self.assertEqual(acked["acknowledged_at_ms"], 1_767_600_000_000 + 2 * 3_600_000)
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.set_feedback_status(fid, "in_progress", "ops", at=t0)
        self.assertIn("cannot come before the item's last change", str(caught.exception))

    def test_near_duplicates_merge_and_count_people(self) -> None:
        first = self.cha.submit_bug_report("The app crashes when importing GIS data", "a")
        copy = self.cha.submit_bug_report("App crashed importing the GIS data!", "b")
        again = self.cha.submit_bug_report("the app crashes when importing gis data", "a")
        self.assertEqual(copy["duplicate_of"], first["id"])
        self.assertEqual(again["status"], "duplicate")
        original = self.cha.get_feedback(first["id"])
        self.assertEqual((original["reports"], original["people"]), (3, 2))
        other = self.cha.submit_bug_report("The cost report has no currency", "c")
        merged = self.cha.merge_feedback(other["id"], copy["id"], "triager")
        self.assertEqual(merged["duplicate_of"], first["id"])
        original = self.cha.get_feedback(first["id"])
        self.assertEqual((original["reports"], original["people"]), (4, 3))
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.merge_feedback(first["id"], first["id"], "triager")
        self.assertEqual(len(self.cha.list_feedback(status="duplicate")), 3)
        self.assertEqual(len(self.cha.list_feedback(feedback_type=FeedbackType.BUG_REPORT)), 4)
        self.assertEqual(self.cha.list_feedback(user_id="c")[0]["id"], other["id"])


class AnalysisTest(DeployedTestCase):
    def test_numbers_of_a_generated_set(self) -> None:
        base = dt.datetime(2025, 9, 1, tzinfo=UTC)
        ratings: Dict[int, List[int]] = {}
        all_ratings: List[int] = []
        for day in range(14):
            for j in range(12):
                rating = 1 + (day // 4 + j) % 5
                self.cha.submit_satisfaction_survey(
                    rating, "We used it for the district plan.", f"user-{j}",
                    submitted_at=base + dt.timedelta(days=day, hours=j),
                )
                ratings.setdefault(day, []).append(rating)
                all_ratings.append(rating)
        a = self.cha.analyze_feedback()
        self.assertEqual(a["total_items"], 14 * 12)
        self.assertEqual(a["volume"]["by_type"]["satisfaction_survey"], 14 * 12)
        self.assertAlmostEqual(a["satisfaction"]["average_rating"],
                               statistics.fmean(all_ratings), places=12)
        self.assertAlmostEqual(a["satisfaction"]["csat"],
                               sum(r >= 4 for r in all_ratings) / len(all_ratings), places=12)
        points = a["trend"]["points"]
        self.assertEqual(len(points), 14)
        means = [statistics.fmean(ratings[d]) for d in range(14)]
        for point, mean in zip(points, means):
            self.assertAlmostEqual(point["average_rating"], mean, places=12)
        xs = list(range(14))
        mx, my = statistics.fmean(xs), statistics.fmean(means)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, means)) / sum((x - mx) ** 2 for x in xs)
        self.assertAlmostEqual(a["trend"]["rating_slope"]["per_period"], slope, places=12)
        # A range that cuts days in two.
        part = self.cha.analyze_feedback(base + dt.timedelta(days=2, hours=5),
                                         base + dt.timedelta(days=6, hours=3))
        expected = sum(1 for d in range(14) for j in range(12)
                       if (2, 5) <= (d, j) < (6, 3))
        self.assertEqual(part["total_items"], expected)
        weekly = self.cha.analyze_feedback(period="week", users_exposed=1000, top_issues=1)
        self.assertEqual(weekly["trend"]["period"], "week")
        self.assertEqual(weekly["success_metrics"][0]["denominator"], 1000)
        self.assertEqual(weekly["success_metrics"][0]["numerator"], 12)
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.analyze_feedback(base + dt.timedelta(days=2), base)
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.analyze_feedback(period="month")


class ClosedTest(DeployedTestCase):
    def test_every_feedback_method_on_a_closed_handle_raises(self) -> None:
        fid = self.cha.submit_general_feedback("We use it daily", "u")["id"]
        self.cha.close()
        calls: Dict[str, Callable[[], Any]] = {
            "submit_feedback": lambda: self.cha.submit_feedback("bug_report", "x", "u"),
            "get_feedback": lambda: self.cha.get_feedback(fid),
            "list_feedback": self.cha.list_feedback,
            "acknowledge_feedback": lambda: self.cha.acknowledge_feedback(fid, "x"),
            "merge_feedback": lambda: self.cha.merge_feedback(fid, fid, "x"),
            "analyze_feedback": self.cha.analyze_feedback,
        }
        for name, call in calls.items():
            with self.subTest(method=name):
                with self.assertRaises(cha_deploy.ClosedHandleError):
                    call()
        with cha_deploy.open(self.db) as again:
            self.assertEqual(again.get_feedback(fid)["status"], "new")


if __name__ == "__main__":
    unittest.main()
