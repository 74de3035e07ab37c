"""Performance monitoring through the Python binding: record_timer in
seconds stored in ms, the timer context manager and decorator, counters and
gauges, bad input that records nothing, the report's statistics against
values computed here, alerts driven by an injected clock with their
callback (kept alive by the handle), acknowledgement and resolution, the
OpenMetrics export, flag usage and the system sample.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v``.
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Any, Dict, List

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
CONFIGS = REPO_ROOT / "configs"
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402
from cha_deploy import MetricKind  # noqa: E402

#: A minute- and hour-aligned time after the real clock's retention reaches.
T0 = 1_900_000_800_000
MIN = 60_000

RULES = """\
thresholds:
  - metric_name: solve_time_ms
    aggregation: max
    comparison_operator: greater_than
    warning_threshold: 1000
    error_threshold: 5000
    recovery_threshold: 800
    window_size_minutes: 1
    evaluation_interval_seconds: 60
    for_seconds: 60
"""


class MonitoringTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)
        self.cha = cha_deploy.open(self.dir / "cha.db", evaluate_alerts=False)

    def tearDown(self) -> None:
        self.cha.close()
        self._tmp.cleanup()


class RecordTest(MonitoringTestCase):
    def test_timers_take_seconds_and_store_milliseconds(self) -> None:
        self.cha.record_timer("pipe_sizing_time_ms", 1.25, {"network": "north"})
        self.cha.record_timer("pipe_sizing_time_ms", 0.75, {"network": "north"})
        [series] = self.cha.list_metrics()
        self.assertEqual(series["metric"], "pipe_sizing_time_ms")
        self.assertEqual(series["kind"], "timer")
        self.assertEqual(series["tags"], {"network": "north"})
        self.assertEqual((series["count"], series["sum"]), (2, 2000.0))

    def test_the_timer_times_a_block_and_a_function(self) -> None:
        with self.cha.timer("block_time_ms") as t:
            time.sleep(0.01)
        self.assertGreaterEqual(t.seconds, 0.01)

        @self.cha.timer("call_time_ms", {"kind": "call"})
        def work(x: int) -> int:
            return x * 2

        self.assertEqual(work(21), 42)
        self.assertEqual(work.__name__, "work")
        with self.assertRaises(ZeroDivisionError):
            with self.cha.timer("failing_time_ms"):
                1 / 0  # noqa: B018
        counts = {s["metric"]: s["count"] for s in self.cha.list_metrics()}
        self.assertEqual(counts, {"block_time_ms": 1, "call_time_ms": 1, "failing_time_ms": 1})
        block = [s for s in self.cha.list_metrics() if s["metric"] == "block_time_ms"][0]
        self.assertAlmostEqual(block["sum"], t.seconds * 1000.0, places=6)

    def test_counters_and_gauges(self) -> None:
        self.cha.increment("sizings")
        self.cha.increment("sizings", 2)
        self.cha.gauge("memory_usage_mb", 512.5)
        self.cha.gauge("memory_usage_mb", 640)
        got = {s["metric"]: (s["kind"], s["count"], s["sum"], s["last_value"]) for s in self.cha.list_metrics()}
        self.assertEqual(
            got,
            {"sizings": ("counter", 2, 3.0, 2.0), "memory_usage_mb": ("gauge", 2, 1152.5, 640.0)},
        )

    def test_bad_input_is_refused_and_records_nothing(self) -> None:
        cases = [
            (lambda: self.cha.record_timer("t_ms", float("nan")), "not a finite number"),
            (lambda: self.cha.record_timer("t_ms", -1.0), "cannot be negative (-1)"),
            (lambda: self.cha.increment("c", -2), "an increment cannot be negative"),
            (lambda: self.cha.record_metric("h", 1.0, ["north"]), "tags must be a JSON object"),  # type: ignore[arg-type]
            (lambda: self.cha.record_metric("h", 1.0, {"a": None}), "tag `a` is null"),
            (lambda: self.cha.record_metric("h", 1.0, {"a": float("inf")}), "tags cannot be sent as JSON"),
            (lambda: self.cha.record_metric("pipe.time", 1.0), "contains `.`"),
            (
                lambda: self.cha.record_metric_at("rate", "h", 1.0, T0),
                "unknown metric kind `rate`",
            ),
        ]
        for call, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
                    call()
                self.assertIn(message, caught.exception.message)
        with self.assertRaises(TypeError):
            self.cha.record_timer("t_ms", "1.5")  # type: ignore[arg-type]
        self.cha.gauge("level", 1.0)
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.increment("level")
        self.assertIn("metric `level` is a gauge, not a counter", caught.exception.message)
        self.assertEqual([s["metric"] for s in self.cha.list_metrics()], ["level"])

    def test_the_series_limit_names_the_metric(self) -> None:
        with cha_deploy.open(self.dir / "limited.db", metric_series_limit=2, evaluate_alerts=False) as cha:
            cha.increment("requests", tags={"user": "a"})
            cha.increment("requests", tags={"user": "b"})
            with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
                cha.increment("requests", tags={"user": "c"})
            self.assertIn("metric `requests`: the limit of 2 distinct series", caught.exception.message)


class ReportTest(MonitoringTestCase):
    def test_the_report_matches_statistics_computed_here(self) -> None:
        values = [float(v) for v in (12, 15, 11, 19, 30, 14, 13, 55, 16, 12, 17, 18)]
        for i, v in enumerate(values):
            self.cha.record_metric_at(MetricKind.TIMER, "solve_time_ms", v / 1000.0, T0 + i * 1000)
        report = self.cha.generate_performance_report(T0, T0 + MIN)
        [m] = [m for m in report["metrics"] if m["metric"] == "solve_time_ms"]
        self.assertEqual(m["count"], len(values))
        self.assertAlmostEqual(m["mean"], statistics.mean(values), places=9)
        self.assertAlmostEqual(m["std_dev"], statistics.stdev(values), places=9)
        self.assertEqual((m["min"], m["max"]), (11.0, 55.0))
        ordered = sorted(values)
        for q in ("p50", "p90", "p95", "p99"):
            exact = ordered[int(float(q[1:]) / 100 * (len(values) - 1))]
            self.assertLessEqual(abs(m[q] - exact) / exact, 0.01, q)
        self.assertEqual(m["median"], m["p50"])
        self.assertEqual(m["trend"]["direction"], "no_previous_data")
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.generate_performance_report(T0 + MIN, T0)


class AlertTest(MonitoringTestCase):
    def setUp(self) -> None:
        super().setUp()
        conf = self.dir / "conf"
        conf.mkdir()
        (conf / "performance_monitoring.yml").write_text(RULES, encoding="utf-8")
        self.cha.deploy_all(conf)

    def step(self, minute: int, ms: float) -> List[str]:
        self.cha.record_metric_at(MetricKind.TIMER, "solve_time_ms", ms / 1000.0, T0 + minute * MIN + 1000)
        events = self.cha.evaluate_alerts(T0 + minute * MIN + 30_000)
        return [f"{e['kind']}:{e['severity']}" for e in events]

    def test_the_life_cycle_and_the_callback(self) -> None:
        received: List[Dict[str, Any]] = []
        arrived = threading.Event()

        def on_alert(event: Dict[str, Any]) -> None:
            received.append(event)
            if event["kind"] == "resolved":
                arrived.set()

        self.cha.set_alert_callback(on_alert)
        # The handle keeps the callback alive: nothing else refers to it.
        del on_alert
        gc.collect()
        self.assertEqual(self.step(0, 1200), ["pending:warning"])
        self.assertEqual(self.step(1, 6000), ["firing:error"])
        self.assertEqual(self.step(2, 900), ["deescalated:warning"])
        [alert] = self.cha.get_active_alerts()
        acked = self.cha.acknowledge_alert(alert["id"], actor="anna")
        self.assertEqual(acked["acknowledged_by"], "anna")
        self.assertEqual(self.step(3, 700), ["resolved:None"])
        self.assertTrue(arrived.wait(30), "the callback got no resolved event")
        kinds = [e["kind"] for e in received]
        self.assertEqual(kinds, ["pending", "firing", "deescalated", "acknowledged", "resolved"])
        self.assertEqual(received[1]["value"], 6000.0)
        history = self.cha.alert_history("solve_time_ms", limit=10)
        self.assertEqual(sorted(e["id"] for e in history), [e["id"] for e in received])
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.resolve_alert(alert["id"])
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.acknowledge_alert(12345)
        rules = self.cha.alert_rules()
        self.assertEqual([(r["name"], r["state"]) for r in rules], [("solve_time_ms", "inactive")])
        self.cha.set_alert_callback(None)
        with self.assertRaises(TypeError):
            self.cha.set_alert_callback("not callable")  # type: ignore[arg-type]

    def test_an_unknown_operator_is_a_config_error_naming_the_place(self) -> None:
        conf = self.dir / "bad"
        conf.mkdir()
        (conf / "performance_monitoring.yml").write_text(
            RULES.replace("greater_than", "more_than"), encoding="utf-8"
        )
        with self.assertRaises(cha_deploy.ConfigError) as caught:
            self.cha.deploy_all(conf)
        self.assertIn(
            "performance_monitoring.yml:4:26: thresholds[0].comparison_operator: "
            "unknown comparison_operator `more_than`",
            caught.exception.message,
        )


class ExportTest(MonitoringTestCase):
    def test_openmetrics_and_prometheus_text(self) -> None:
        self.cha.deploy_all(CONFIGS)
        self.cha.is_enabled("intelligent_pipe_sizing", user_id="u1")
        self.cha.increment("pipe_sizing_requests", 3)
        self.cha.record_timer("pipe_sizing_time_ms", 0.5, {"network": 'say "hi"'})
        text = self.cha.export_metrics()
        self.assertTrue(text.endswith("# EOF\n"), text)
        self.assertIn("# TYPE pipe_sizing_requests counter\n", text)
        self.assertIn("pipe_sizing_requests_total 3\n", text)
        self.assertIn('pipe_sizing_time_ms_sum{network="say \\"hi\\""} 500\n', text)
        self.assertIn('cha_flag_evaluations_total{flag="intelligent_pipe_sizing",result=', text)
        older = self.cha.export_metrics("prometheus")
        self.assertIn("# TYPE pipe_sizing_requests_total counter\n", older)
        self.assertNotIn("# EOF", older)
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.export_metrics("csv")

    def test_flag_usage_and_unknown_flags(self) -> None:
        self.cha.deploy_all(CONFIGS)
        for i in range(40):
            self.cha.is_enabled("intelligent_pipe_sizing", user_id=f"planner-{i}")
        for _ in range(2):
            # An unknown flag evaluates off (FLAG_NOT_FOUND), and is counted.
            self.assertFalse(self.cha.is_enabled("inteligent_pipe_sizing"))
        usage = self.cha.flag_usage()
        [flag] = [f for f in usage["flags"] if f["flag"] == "intelligent_pipe_sizing"]
        self.assertEqual(flag["evaluations"], 40)
        self.assertEqual(flag["on"] + flag["off"], 40)
        self.assertEqual([(u["name"], u["count"]) for u in usage["unknown"]], [("inteligent_pipe_sizing", 2)])

    def test_the_system_sample_names_its_metrics(self) -> None:
        values = self.cha.sample_system_metrics()
        self.assertGreaterEqual(len(values), 20)
        self.assertGreater(values["memory_usage_mb"], 0)
        self.assertTrue(all(math.isfinite(v) for v in values.values()))
