"""A/B experiments through the Python binding: deterministic sticky
assignment against a reference hash, traffic and coverage shares, the
reasons, recording and its validation, the analysis of data recorded here
against a Welch t-test computed here, the corrections, the sample-size
planner, the life cycle, and closed handles.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v``; each test
deploys the repository's ``configs/`` (ab_tests.yml: pipe_sizing_comparison
running 50/50, flow_calculation_comparison running at coverage 50,
network_analysis_comparison draft 70/30 at coverage 20) into a fresh
temporary database.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
CONFIGS = REPO_ROOT / "configs"
sys.path.insert(0, str(BINDINGS))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cha_deploy  # noqa: E402
from cha_deploy import AssignReason, Assignment, Correction, ExperimentStatus  # noqa: E402
from test_flags import murmur3_32  # noqa: E402  (the reference hash, written once)

PIPE = "pipe_sizing_comparison"
FLOW = "flow_calculation_comparison"
NETWORK = "network_analysis_comparison"

#: The variants' ``configuration`` exactly as configs/ab_tests.yml writes them.
CONFIGURATIONS: Dict[str, Dict[str, Dict[str, Any]]] = {
    PIPE: {
        "traditional": {
            "pipe_sizing_method": "fixed_diameter",
            "default_diameter_mm": 100,
            "enable_intelligent_sizing": False,
        },
        "intelligent": {
            "pipe_sizing_method": "intelligent",
            "enable_intelligent_sizing": True,
            "max_velocity_ms": 2.0,
            "min_velocity_ms": 0.1,
        },
    },
    FLOW: {
        "peak_load_sum": {
            "flow_calculation_method": "peak_load_sum",
            "simultaneity_factor": 1.0,
            "supply_temperature_c": 80,
            "return_temperature_c": 50,
        },
        "flow_based": {
            "flow_calculation_method": "flow_based",
            "simultaneity_model": "winter",
            "supply_temperature_c": 80,
            "return_temperature_c": 50,
        },
    },
    NETWORK: {
        "segment_by_segment": {"network_analysis_method": "segment_by_segment"},
        "network_solver": {
            "network_analysis_method": "network_solver",
            "max_iterations": 200,
            "convergence_tolerance_pa": 1.0,
        },
    },
}


# -- references, written independently of the library ----------------------


def reference_assignment(
    seed: str, unit: str, coverage: float, variants: Sequence[Tuple[str, float]]
) -> Any:
    """The documented assignment (src/experiments/assign.rs): a unit enters
    when murmur3("{seed}:coverage:{unit}") % 10000 < coverage × 100, then
    takes the variant whose cumulative share covers murmur3("{seed}:{unit}")
    % 10000. None outside coverage."""
    if murmur3_32(f"{seed}:coverage:{unit}".encode()) % 10000 >= round(coverage * 100):
        return None
    bucket = murmur3_32(f"{seed}:{unit}".encode()) % 10000
    upper = 0.0
    for name, share in variants[:-1]:
        upper += share
        if bucket < round(upper * 100):
            return name
    return variants[-1][0]


class SplitMix64:
    """A deterministic uniform stream in [0, 1) (SplitMix64, as the Rust
    tests use), so the synthetic data are the same on every machine."""

    def __init__(self, seed: int) -> None:
        self.state = seed

    def uniform(self) -> float:
        mask = (1 << 64) - 1
        self.state = (self.state + 0x9E3779B97F4A7C15) & mask
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return ((z ^ (z >> 31)) >> 11) / float(1 << 53)


def welch(control: Sequence[float], treatment: Sequence[float]) -> Dict[str, float]:
    """Welch's t-test of treatment − control from the unit values: t, the
    Welch–Satterthwaite df and the two-sided p."""
    a = statistics.variance(treatment) / len(treatment)
    b = statistics.variance(control) / len(control)
    t = (statistics.fmean(treatment) - statistics.fmean(control)) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (len(treatment) - 1) + b * b / (len(control) - 1))
    return {"t": t, "df": df, "p_value": t_two_sided_p(t, df)}


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| > |t|) for Student's t with `df` degrees of freedom:
    I_x(df/2, 1/2) at x = df / (df + t²), the regularised incomplete beta."""
    t2 = t * t
    if t2 == 0.0:
        return 1.0
    log_x = -math.log1p(t2 / df)
    log_1mx = math.log(t2) - math.log(df + t2)
    return regularized_beta(df / 2.0, 0.5, log_x, log_1mx)


def regularized_beta(a: float, b: float, log_x: float, log_1mx: float) -> float:
    """I_x(a, b) from ln x and ln(1 − x), by the continued fraction of
    Numerical Recipes (§6.4, modified Lentz), on the side where it converges."""
    x = math.exp(log_x)
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * log_x + b * log_1mx
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, math.exp(log_1mx)) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        for aa in (
            m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            return h
    raise ArithmeticError(f"incomplete beta fraction did not converge at a={a}, b={b}, x={x}")


def holm(p: Sequence[float]) -> List[float]:
    """Holm–Bonferroni adjusted p-values, in the input order."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def benjamini_hochberg(p: Sequence[float]) -> List[float]:
    """Benjamini–Hochberg adjusted p-values, in the input order."""
    order = sorted(range(len(p)), key=lambda i: p[i], reverse=True)
    out, running = [0.0] * len(p), 1.0
    for k, i in enumerate(order):
        running = min(running, len(p) * p[i] / (len(p) - k))
        out[i] = running
    return out


def relative_error(got: float, expected: float) -> float:
    return abs(got - expected) / max(abs(expected), 1e-300)


class ReferenceTest(unittest.TestCase):
    """The test's own references, checked where a closed form exists, so that
    a wrong reference cannot pass for a right library."""

    def test_t_p_value_matches_the_closed_forms(self) -> None:
        for t in (0.1, 1.0, 2.5, 12.0, -3.0):
            # df = 1 is Cauchy; df = 2 has p = 1 − |t| / sqrt(2 + t²).
            self.assertLess(
                relative_error(t_two_sided_p(t, 1.0), 1.0 - 2.0 / math.pi * math.atan(abs(t))),
                1e-12,
            )
            self.assertLess(
                relative_error(t_two_sided_p(t, 2.0), 1.0 - abs(t) / math.sqrt(2.0 + t * t)), 1e-12
            )
        # Large df tends to the normal: P(|Z| > 1.96) = 0.04999579...
        self.assertAlmostEqual(t_two_sided_p(1.959963984540054, 1e7), 0.05, places=6)

    def test_corrections_of_a_textbook_family(self) -> None:
        p = [0.01, 0.04, 0.03, 0.005]
        self.assertEqual(holm(p), [0.03, 0.06, 0.06, 0.02])
        for got, expected in zip(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02]):
            self.assertAlmostEqual(got, expected, places=15)


# -- fixtures ----------------------------------------------------------------


class DeployedTestCase(unittest.TestCase):
    """A temporary database with the repository's configs deployed."""

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-experiments-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.db = self.dir / "cha.db"
        self.cha = cha_deploy.open(self.db)
        self.addCleanup(self.cha.close)
        self.report = self.cha.deploy_all(CONFIGS)

    def open_second(self) -> cha_deploy.Cha:
        other = cha_deploy.open(self.db)
        self.addCleanup(other.close)
        return other


def units(prefix: str, count: int) -> List[str]:
    return [f"{prefix}-{i}" for i in range(count)]


# -- assignment ----------------------------------------------------------------


class AssignmentTest(DeployedTestCase):
    UNITS = units("planner", 500)

    def test_deploy_reports_the_three_tests(self) -> None:
        self.assertEqual(
            self.report["experiments"]["created"], sorted([PIPE, FLOW, NETWORK])
        )
        self.assertEqual(
            [e["definition"]["id"] for e in self.cha.list_experiments()],
            sorted([PIPE, FLOW, NETWORK]),
        )

    def test_every_unit_where_the_reference_hash_puts_it(self) -> None:
        pipe = [("traditional", 50.0), ("intelligent", 50.0)]
        flow = [("peak_load_sum", 50.0), ("flow_based", 50.0)]
        for unit in self.UNITS:
            self.assertEqual(self.cha.assign(PIPE, unit), reference_assignment(PIPE, unit, 100, pipe))
            self.assertEqual(self.cha.assign(FLOW, unit), reference_assignment(FLOW, unit, 50, flow))

    def test_assign_and_assignment_agree(self) -> None:
        for unit in self.UNITS[:100]:
            details = self.cha.assignment(PIPE, unit)
            self.assertIsInstance(details, Assignment)
            self.assertEqual((details.experiment, details.unit), (PIPE, unit))
            self.assertEqual(details.variant, self.cha.assign(PIPE, unit))
            self.assertTrue(details)

    def test_the_same_variants_in_a_second_handle(self) -> None:
        mine = [self.cha.assign(e, u) for e in (PIPE, FLOW) for u in self.UNITS]
        other = self.open_second()
        self.assertEqual([other.assign(e, u) for e in (PIPE, FLOW) for u in self.UNITS], mine)

    def test_the_same_variants_in_another_process(self) -> None:
        script = (
            "import json, sys\n"
            f"sys.path.insert(0, {str(BINDINGS)!r})\n"
            "import cha_deploy\n"
            "units = json.loads(sys.argv[2])\n"
            "with cha_deploy.open(sys.argv[1]) as cha:\n"
            "    print(json.dumps([cha.assign(e, u) for e in sys.argv[3:] for u in units]))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(self.db), json.dumps(self.UNITS), PIPE, FLOW],
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        mine = [self.cha.assign(e, u) for e in (PIPE, FLOW) for u in self.UNITS]
        self.assertEqual(json.loads(done.stdout), mine)

    def test_variants_follow_the_traffic_within_2_percent_of_10000_units(self) -> None:
        variants = [self.cha.assign(PIPE, u) for u in units("network", 10_000)]
        self.assertEqual(set(variants), {"traditional", "intelligent"})
        self.assertLessEqual(abs(variants.count("intelligent") / 10_000 - 0.5), 0.02)

        # 70/30 at coverage 20: about 10,000 of 50,000 units enter.
        self.cha.start_experiment(NETWORK, actor="test")
        network = [self.cha.assign(NETWORK, u) for u in units("network", 50_000)]
        entered = [v for v in network if v is not None]
        self.assertLessEqual(abs(len(entered) / 50_000 - 0.20), 0.01, len(entered))
        self.assertLessEqual(
            abs(entered.count("network_solver") / len(entered) - 0.30), 0.02
        )

    def test_each_variant_carries_its_configuration_from_ab_tests_yml(self) -> None:
        self.cha.start_experiment(NETWORK, actor="test")
        for experiment, expected in CONFIGURATIONS.items():
            seen: Dict[str, Dict[str, Any]] = {}
            for unit in units("planner", 2000):
                a = self.cha.assignment(experiment, unit)
                if a.variant is not None:
                    seen.setdefault(a.variant, a.configuration)
                    self.assertEqual(a.configuration, expected[a.variant], (experiment, unit))
            self.assertEqual(seen, expected, experiment)
        # Numbers keep their YAML type: 100 stays an int, 2.0 a float.
        pipe = CONFIGURATIONS[PIPE]
        for unit in units("planner", 50):
            a = self.cha.assignment(PIPE, unit)
            for key in pipe[a.variant]:
                self.assertIs(type(a.configuration[key]), type(pipe[a.variant][key]), key)

    def test_a_draft_test_gives_no_variant(self) -> None:
        for unit in self.UNITS[:50]:
            self.assertIsNone(self.cha.assign(NETWORK, unit))
            a = self.cha.assignment(NETWORK, unit)
            self.assertEqual(a, Assignment(NETWORK, unit, None, AssignReason.NOT_RUNNING, {}))
            self.assertFalse(a)
            self.assertEqual(a.reason, "NOT_RUNNING")

    def test_coverage_50_admits_about_half(self) -> None:
        reasons = [self.cha.assignment(FLOW, u) for u in units("network", 10_000)]
        outside = [a for a in reasons if a.reason == AssignReason.OUTSIDE_COVERAGE]
        self.assertLessEqual(abs(len(outside) / 10_000 - 0.5), 0.02, len(outside))
        self.assertTrue(all(a.variant is None and a.configuration == {} for a in outside))
        inside = [a for a in reasons if a.reason != AssignReason.OUTSIDE_COVERAGE]
        self.assertEqual({a.reason for a in inside}, {AssignReason.ASSIGNED})
        self.assertEqual(self.cha.assign(FLOW, outside[0].unit), None)

    def test_pause_keeps_exposed_units_and_admits_no_new_ones(self) -> None:
        exposed = {u: self.cha.assign(PIPE, u) for u in self.UNITS[:200]}
        # Exposures are persisted in batches; a pause pins what is persisted.
        self.cha.flush()
        self.cha.pause_experiment(PIPE, actor="test")
        for cha in (self.cha, self.open_second()):
            for unit, variant in exposed.items():
                a = cha.assignment(PIPE, unit)
                self.assertEqual((a.variant, a.reason), (variant, AssignReason.STICKY), unit)
                self.assertEqual(a.configuration, CONFIGURATIONS[PIPE][variant])
            a = cha.assignment(PIPE, "never-seen")
            self.assertEqual((a.variant, a.reason), (None, AssignReason.PAUSED))
            self.assertIsNone(cha.assign(PIPE, "never-seen"))
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.record(PIPE, "never-seen", "pipe_cost_efficiency", 1.0)
        self.assertIn("PAUSED", caught.exception.message)
        # Recording for an exposed unit still works while paused.
        self.cha.record(PIPE, self.UNITS[0], "pipe_cost_efficiency", 1.0)

        self.cha.start_experiment(PIPE, actor="test")
        self.assertEqual(self.cha.assignment(PIPE, "never-seen").reason, AssignReason.ASSIGNED)
        self.cha.stop_experiment(PIPE, actor="test")
        for unit in self.UNITS[:20]:
            self.assertEqual(self.cha.assignment(PIPE, unit).reason, AssignReason.NOT_RUNNING)

    def test_pause_keeps_units_whose_exposure_is_still_buffered(self) -> None:
        # The pause stores this handle's buffered exposures before pinning.
        exposed = {u: self.cha.assign(PIPE, u) for u in self.UNITS[:50]}
        self.cha.pause_experiment(PIPE, actor="test")
        self.assertEqual({u: self.cha.assign(PIPE, u) for u in exposed}, exposed)

    def exposures(self) -> Dict[str, int]:
        report = self.cha.analyze_test_results(PIPE)
        return {v["name"]: v["exposures"] for v in report["variants"]}

    def test_peek_answers_as_assign_and_exposes_no_one(self) -> None:
        # A flag that follows the test.
        self.cha.update_flag(
            "sizing_method", {"type": "a_b_test", "enabled": True, "experiment": PIPE}, actor="t"
        )
        pipe = [("traditional", 50.0), ("intelligent", 50.0)]
        looked = {}
        for unit in self.UNITS[:200]:
            variant = self.cha.peek(PIPE, unit)
            self.assertEqual(variant, reference_assignment(PIPE, unit, 100, pipe))
            details = self.cha.assignment(PIPE, unit, peek=True)
            self.assertEqual((details.variant, details.reason), (variant, AssignReason.ASSIGNED))
            flag = self.cha.is_enabled("sizing_method", user_id=unit, peek=True)
            self.assertEqual(flag.variant, variant)
            flag = self.cha.is_enabled("sizing_method", context={"user_id": unit, "peek": True})
            self.assertEqual(flag.variant, variant)
            looked[unit] = variant
        self.cha.flush()
        self.assertEqual(self.exposures(), {"traditional": 0, "intelligent": 0})
        # Assignment answers the same, and exposes.
        self.assertEqual({u: self.cha.assign(PIPE, u) for u in looked}, looked)
        self.assertEqual(sum(self.exposures().values()), len(looked))
        # A paused test: peek keeps the exposed units' variants and gives
        # new units none, as assignment would; still nobody new is exposed.
        self.cha.pause_experiment(PIPE, actor="test")
        for unit, variant in looked.items():
            self.assertEqual(self.cha.peek(PIPE, unit), variant)
        self.assertIsNone(self.cha.peek(PIPE, "never-seen"))
        self.assertEqual(
            self.cha.assignment(PIPE, "never-seen", peek=True).reason, AssignReason.PAUSED
        )
        self.assertEqual(sum(self.exposures().values()), len(looked))
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.peek("no_such_test", "u")
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.peek(PIPE, "")

    def test_unknown_test_and_bad_unit_ids(self) -> None:
        for call in (self.cha.assign, self.cha.assignment):
            with self.subTest(call=call.__name__):
                with self.assertRaises(cha_deploy.NotFoundError) as caught:
                    call("no_such_test", "u1")
                self.assertIn("no_such_test", caught.exception.message)
                with self.assertRaises(cha_deploy.NotFoundError) as caught:
                    call("pipe_sizing_comparision", "u1")
                self.assertIn(
                    "did you mean `pipe_sizing_comparison`?", caught.exception.message
                )
                for bad in ("", "x" * 1025):
                    with self.assertRaises(cha_deploy.InvalidArgumentError):
                        call(PIPE, bad)
                with self.assertRaises(cha_deploy.InvalidArgumentError):
                    call(PIPE, "a\0b")
        self.assertIsNotNone(self.cha.assign(PIPE, "x" * 1024))


# -- recording -------------------------------------------------------------------


class RecordTest(DeployedTestCase):
    def test_values_that_are_not_finite_are_refused(self) -> None:
        for value in (math.nan, math.inf, -math.inf):
            with self.subTest(value=value):
                with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
                    self.cha.record(PIPE, "u1", "pipe_cost_efficiency", value)
                self.assertIn("finite", caught.exception.message)

    def test_a_value_that_is_not_a_number_is_a_type_error(self) -> None:
        for value in ("1.5", None, [1.0]):
            with self.assertRaises(TypeError):
                self.cha.record(PIPE, "u1", "pipe_cost_efficiency", value)  # type: ignore[arg-type]

    def test_unknown_metric_and_unknown_test(self) -> None:
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.record(PIPE, "u1", "pipe_cost", 1.0)
        # The message lists the metrics there are.
        self.assertIn("pipe_cost_efficiency", caught.exception.message)
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.record("no_such_test", "u1", "pipe_cost_efficiency", 1.0)

    def test_a_unit_without_a_variant_is_refused(self) -> None:
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.record(NETWORK, "u1", "pump_head_m", 12.0)
        self.assertIn("NOT_RUNNING", caught.exception.message)
        outside = next(
            u for u in units("network", 100) if self.cha.assign(FLOW, u) is None
        )
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.record(FLOW, outside, "flow_deviation_pct", 3.0)
        self.assertIn("OUTSIDE_COVERAGE", caught.exception.message)

    def test_ints_and_bools_are_numbers(self) -> None:
        self.cha.record(PIPE, "u1", "velocity_violations", True)
        self.cha.record(PIPE, "u1", "sizing_time_ms", 812)
        self.cha.flush()
        report = self.cha.analyze_test_results(PIPE)
        in_control = self.cha.assign(PIPE, "u1") == report["control"]
        for metric in report["metrics"]:
            arm = metric["control"] if in_control else metric["comparisons"][0]["treatment"]
            expected = {"velocity_violations": 1.0, "sizing_time_ms": 812.0}.get(metric["name"])
            if expected is not None:
                self.assertEqual((arm["n"], arm["mean"]), (1, expected), metric["name"])


# -- analysis ------------------------------------------------------------------------

PIPE_UNITS = 3000


class AnalysisTest(unittest.TestCase):
    """3,000 networks sized through Python, the intelligent variant 5%
    better on pipe_cost_efficiency; recorded once, analysed by every test."""

    values: Dict[str, Dict[str, List[float]]]

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-analysis-")
        cls.db = Path(cls.tmp.name) / "cha.db"
        # An hour between background flushes: only the explicit flush persists.
        cls.cha = cha_deploy.open(cls.db, flush_interval_ms=3_600_000)
        cls.cha.deploy_all(CONFIGS)
        rng = SplitMix64(7)
        cls.values = {"traditional": {}, "intelligent": {}}
        for unit in units("network", PIPE_UNITS):
            variant = cls.cha.assign(PIPE, unit)
            better = variant == "intelligent"
            cost = (105.0 if better else 100.0) + 20.0 * (rng.uniform() - 0.5)
            cls.cha.record(PIPE, unit, "pipe_cost_efficiency", cost)
            # Two segments per network: the unit's value is their mean.
            drops = [150.0 + 40.0 * (rng.uniform() - 0.5) for _ in range(2)]
            for drop in drops:
                cls.cha.record(PIPE, unit, "pressure_drop_pa_per_m", drop)
            # Intelligent sizing is a little faster: no guardrail harm.
            sizing_time = (790.0 if better else 800.0) + 200.0 * (rng.uniform() - 0.5)
            cls.cha.record(PIPE, unit, "sizing_time_ms", sizing_time)
            cls.cha.record(PIPE, unit, "velocity_violations", float(rng.uniform() < 0.05))
            arm = cls.values[variant]
            arm.setdefault("pipe_cost_efficiency", []).append(cost)
            arm.setdefault("pressure_drop_pa_per_m", []).append(statistics.fmean(drops))
            arm.setdefault("sizing_time_ms", []).append(sizing_time)
        # The flow test: half of 4,000 networks enter; flow_based is slightly
        # better on both metrics, each p between 0.025 and 0.05, where Holm
        # and Benjamini-Hochberg disagree. (Seed 28 was picked for that.)
        rng = SplitMix64(28)
        cls.values.update({"peak_load_sum": {}, "flow_based": {}})
        for unit in units("flow-network", 4000):
            variant = cls.cha.assign(FLOW, unit)
            if variant is None:
                continue
            better = variant == "flow_based"
            deviation = (9.75 if better else 10.0) + 8.0 * (rng.uniform() - 0.5)
            cls.cha.record(FLOW, unit, "flow_deviation_pct", deviation)
            # Two sizing runs per network: the unit's value is their sum.
            segments = [int(6.0 * rng.uniform() * (0.96 if better else 1.0)) for _ in range(2)]
            for count in segments:
                cls.cha.record(FLOW, unit, "oversized_segments", count)
            arm = cls.values[variant]
            arm.setdefault("flow_deviation_pct", []).append(deviation)
            arm.setdefault("oversized_segments", []).append(float(sum(segments)))
        cls.cha.flush()
        cls.report = cls.cha.analyze_test_results(PIPE)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.cha.close()
        cls.tmp.cleanup()

    def metric(self, name: str, report: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The report's (by default the class's report's) metric `name`."""
        chosen = self.report if report is None else report
        return next(m for m in chosen["metrics"] if m["name"] == name)

    def test_arms_hold_one_value_per_unit(self) -> None:
        exposures = {v["name"]: v["exposures"] for v in self.report["variants"]}
        self.assertEqual(sum(exposures.values()), PIPE_UNITS)
        for name in ("pipe_cost_efficiency", "pressure_drop_pa_per_m", "sizing_time_ms"):
            metric = self.metric(name)
            control, comparison = metric["control"], metric["comparisons"][0]
            treatment = comparison["treatment"]
            for arm, variant in ((control, "traditional"), (treatment, "intelligent")):
                values = self.values[variant][name]
                self.assertEqual(arm["n"], len(values), name)
                self.assertEqual(arm["n"], exposures[variant], name)
                self.assertLess(relative_error(arm["mean"], statistics.fmean(values)), 1e-12)
                self.assertLess(
                    relative_error(arm["variance"], statistics.variance(values)), 1e-9
                )

    def test_welch_t_df_and_p_match_a_computation_here(self) -> None:
        for name in ("pipe_cost_efficiency", "pressure_drop_pa_per_m", "sizing_time_ms"):
            with self.subTest(metric=name):
                expected = welch(self.values["traditional"][name], self.values["intelligent"][name])
                got = self.metric(name)["comparisons"][0]["difference"]
                for key in ("t", "df", "p_value"):
                    self.assertLess(relative_error(got[key], expected[key]), 1e-9, (key, got, expected))
        # The 5% effect is unmistakable.
        self.assertLess(self.metric("pipe_cost_efficiency")["comparisons"][0]["difference"]["p_value"], 1e-6)

    def test_the_effect_is_better_but_the_test_keeps_running_for_days(self) -> None:
        comparison = self.metric("pipe_cost_efficiency")["comparisons"][0]
        self.assertEqual(comparison["status"], "ok")
        self.assertEqual(comparison["direction"], "better")
        self.assertEqual(comparison["verdict"], "better")
        difference = comparison["difference"]
        self.assertLess(difference["ci_lower"], 5.0)
        self.assertGreater(difference["ci_upper"], 5.0)
        self.assertEqual(self.report["sample_ratio"]["status"], "ok")
        # The first exposure was moments ago: the 7-day minimum is not reached.
        self.assertEqual(self.report["conclusion"], "keep_running", self.report["reasons"])
        self.assertIsNone(self.report["winner"])
        self.assertGreater(self.report["additional_days"], 6.9)
        self.assertTrue(any("day" in r for r in self.report["reasons"]), self.report["reasons"])
        self.assertIn("day", self.report["recommendation"])
        guardrails = [
            c["verdict"]
            for m in self.report["metrics"]
            if m["metric_type"] == "guardrail"
            for c in m["comparisons"]
        ]
        self.assertEqual(guardrails, ["not_harmed", "not_harmed"])

    def test_welch_of_a_sum_metric_and_a_coverage_test(self) -> None:
        report = self.cha.analyze_test_results(FLOW)
        for name in ("flow_deviation_pct", "oversized_segments"):
            with self.subTest(metric=name):
                control = self.values["peak_load_sum"][name]
                treatment = self.values["flow_based"][name]
                metric = self.metric(name, report)
                self.assertEqual(metric["control"]["n"], len(control))
                self.assertEqual(metric["comparisons"][0]["treatment"]["n"], len(treatment))
                expected = welch(control, treatment)
                got = metric["comparisons"][0]["difference"]
                for key in ("t", "df", "p_value"):
                    self.assertLess(relative_error(got[key], expected[key]), 1e-9, (key, got, expected))

    def test_holm_is_the_default_and_benjamini_hochberg_an_option(self) -> None:
        def family(report: Dict[str, Any]) -> List[Dict[str, Any]]:
            return [
                c
                for m in report["metrics"]
                if m["metric_type"] != "guardrail"
                for c in m["comparisons"]
            ]

        holm_report = self.cha.analyze_test_results(FLOW)
        bh_report = self.cha.analyze_test_results(FLOW, correction="bh")
        self.assertEqual(holm_report["correction"], "holm")
        # One name on every surface, "bh"; the long one is still read.
        self.assertEqual(bh_report["correction"], "bh")
        for name in (Correction.BH, Correction.BENJAMINI_HOCHBERG, "benjamini_hochberg"):
            self.assertEqual(
                self.cha.analyze_test_results(FLOW, correction=name)["correction"], "bh"
            )
        p = [c["decision_p_value"] for c in family(holm_report)]
        self.assertEqual(len(p), 2)
        self.assertTrue(all(0.025 < x < 0.05 for x in p), p)
        for report, adjust, verdict in (
            (holm_report, holm, "inconclusive"),
            (bh_report, benjamini_hochberg, "better"),
        ):
            with self.subTest(correction=report["correction"]):
                comparisons = family(report)
                self.assertEqual([c["decision_p_value"] for c in comparisons], p)
                for c, expected in zip(comparisons, adjust(p)):
                    self.assertLess(relative_error(c["p_adjusted"], expected), 1e-12)
                    self.assertEqual(c["direction"], "better")
                    self.assertEqual(c["verdict"], verdict)
                # Guardrails stay outside the family.
                for m in report["metrics"]:
                    if m["metric_type"] == "guardrail":
                        self.assertIsNone(m["comparisons"][0]["p_adjusted"])

    def test_unknown_options_are_refused(self) -> None:
        bad: List[Dict[str, Any]] = [
            {"correction": "bonferroni"},
            {"sequential": "yes"},
            {"mixture_variance": {"pipe_cost_efficiency": math.nan}},
            {"mixture_variance": {"pipe_cost_efficiency": "wide"}},
            {"mixture_variance": [1.0]},
            {"mixture_variance": {"pipe_cost_efficncy": 1.0}},
            {"mixture_variance": {"pipe_cost_efficiency": -1.0}},
        ]
        for options in bad:
            with self.subTest(options=options):
                with self.assertRaises(cha_deploy.InvalidArgumentError):
                    self.cha.analyze_test_results(PIPE, **options)
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.analyze_test_results("no_such_test")

    def test_sequential_intervals_are_wider_than_fixed_ones(self) -> None:
        report = self.cha.analyze_test_results(
            PIPE, sequential=True, mixture_variance={"pipe_cost_efficiency": 4.0}
        )
        self.assertTrue(report["sequential"])
        self.assertIsNone(self.report["metrics"][0]["comparisons"][0]["sequential"])
        for name in ("pipe_cost_efficiency", "pressure_drop_pa_per_m"):
            comparison = self.metric(name, report)["comparisons"][0]
            sequential, fixed = comparison["sequential"], comparison["difference"]
            self.assertEqual(sequential["status"], "ok", name)
            self.assertLessEqual(sequential["ci_lower"], fixed["ci_lower"], name)
            self.assertGreaterEqual(sequential["ci_upper"], fixed["ci_upper"], name)
            self.assertEqual(comparison["decision_p_value"], sequential["p_value"], name)
        # No effect on pressure drop: the always-valid p is the more cautious.
        drop = self.metric("pressure_drop_pa_per_m", report)["comparisons"][0]
        self.assertGreaterEqual(drop["sequential"]["p_value"], drop["difference"]["p_value"])
        cost = self.metric("pipe_cost_efficiency", report)["comparisons"][0]["sequential"]
        self.assertEqual(cost["mixture_variance"], 4.0)
        # Without one given, tau² is (MDE × |control mean|)².
        pressure = self.metric("pressure_drop_pa_per_m", report)
        self.assertLess(
            relative_error(
                pressure["comparisons"][0]["sequential"]["mixture_variance"],
                (0.05 * pressure["control"]["mean"]) ** 2,
            ),
            1e-12,
        )


# -- sample-size planning ------------------------------------------------------------


class PlanTest(DeployedTestCase):
    def test_the_plan_follows_the_power_relation(self) -> None:
        # Planned at the level the analysis decides at: Holm over the two
        # comparisons of the family (a primary and a secondary metric).
        plan = self.cha.plan_sample_size(PIPE, "pipe_cost_efficiency", 100.0, 20.0)
        self.assertEqual((plan["alpha"], plan["level"]["comparisons"]), (0.025, 2))
        self.assertEqual(plan["level"]["correction"], "holm")
        self.assertEqual(
            [(a["variant"], a["units"]) for a in plan["arms"]],
            [("traditional", plan["per_variant"]), ("intelligent", plan["per_variant"])],
        )
        z = statistics.NormalDist()
        z_size = 2 * (z.inv_cdf(1 - 0.0125) + z.inv_cdf(0.8)) ** 2 / 0.25**2
        self.assertGreater(plan["nobs1"], z_size)
        self.assertLess(plan["nobs1"], z_size + 2)
        # Without a correction, the textbook plan of one comparison.
        plan = self.cha.plan_sample_size(PIPE, "pipe_cost_efficiency", 100.0, 20.0, correction="none")
        self.assertEqual(plan["effect_size"], 0.25)  # 5% of 100 over sd 20
        self.assertEqual(plan["absolute_effect"], 5.0)
        self.assertEqual((plan["alpha"], plan["power"], plan["ratio"]), (0.05, 0.8, 1.0))
        self.assertEqual(plan["per_variant"], math.ceil(plan["nobs1"]))
        self.assertEqual(plan["per_treatment_variant"], plan["per_variant"])
        self.assertEqual(plan["total"], 2 * plan["per_variant"])
        # The t-test needs a little more than the z-test's 2 (z_a/2 + z_b)² / d².
        z = statistics.NormalDist()
        z_size = 2 * (z.inv_cdf(0.975) + z.inv_cdf(0.8)) ** 2 / 0.25**2
        self.assertGreater(plan["nobs1"], z_size)
        self.assertLess(plan["nobs1"], z_size + 2)

    def test_more_spread_needs_more_units_and_a_bigger_mde_fewer(self) -> None:
        sizes = [
            self.cha.plan_sample_size(PIPE, "pipe_cost_efficiency", 100.0, sd)["per_variant"]
            for sd in (5.0, 10.0, 20.0, 40.0)
        ]
        self.assertEqual(sizes, sorted(set(sizes)))
        # d halves, so n about quadruples.
        self.assertTrue(all(3.5 < b / a < 4.5 for a, b in zip(sizes[1:], sizes[2:])), sizes)
        # sizing_time_ms has an MDE of 20%, pipe_cost_efficiency 5%.
        slow = self.cha.plan_sample_size(PIPE, "sizing_time_ms", 100.0, 20.0)
        self.assertLess(slow["per_variant"], sizes[2])
        # An effect of 5 sds: the fewest units a t-test can use, and no fewer.
        tiny = self.cha.plan_sample_size(PIPE, "pipe_cost_efficiency", 100.0, 1.0)
        self.assertEqual(tiny["effect_size"], 5.0)
        self.assertGreaterEqual(tiny["per_variant"], 2)
        self.assertLess(tiny["per_variant"], 5)

    def test_bad_baselines_and_names(self) -> None:
        for mean, sd in ((100.0, 0.0), (100.0, -1.0), (0.0, 1.0), (math.nan, 1.0), (1.0, math.inf)):
            with self.subTest(mean=mean, sd=sd):
                with self.assertRaises(cha_deploy.InvalidArgumentError):
                    self.cha.plan_sample_size(PIPE, "pipe_cost_efficiency", mean, sd)
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.plan_sample_size(PIPE, "no_such_metric", 1.0, 1.0)
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.plan_sample_size("no_such_test", "pipe_cost_efficiency", 1.0, 1.0)
        with self.assertRaises(TypeError):
            self.cha.plan_sample_size(PIPE, "pipe_cost_efficiency", "100", 1.0)  # type: ignore[arg-type]


# -- life cycle ----------------------------------------------------------------------


class StatusTest(DeployedTestCase):
    def test_status_changes_are_versioned_under_their_actor(self) -> None:
        before = self.cha.get_experiment(NETWORK)
        self.assertEqual(before["definition"]["status"], "draft")
        self.assertIsNone(before["definition"].get("start_time"))
        after = self.cha.start_experiment(NETWORK, actor="ops-lead")
        self.assertEqual(after["definition"]["status"], "running")
        self.assertEqual(after["updated_by"], "ops-lead")
        self.assertEqual(after["version"], before["version"] + 1)
        self.assertIsNotNone(after["definition"]["start_time"])
        self.assertEqual(self.cha.get_experiment(NETWORK), after)
        # Another handle opened now sees it, and assigns.
        other = self.open_second()
        self.assertEqual(other.get_experiment(NETWORK)["definition"]["status"], "running")

        paused = self.cha.pause_experiment(NETWORK)
        self.assertEqual(paused["definition"]["status"], "paused")
        self.assertEqual(paused["updated_by"], getpass.getuser())
        # Restarting keeps the first start time.
        again = self.cha.set_experiment_status(NETWORK, "running", actor="ops-lead")
        self.assertEqual(again["definition"]["start_time"], after["definition"]["start_time"])
        stopped = self.cha.stop_experiment(NETWORK, actor="ops-lead")
        self.assertEqual(stopped["definition"]["status"], "stopped")
        self.assertEqual(stopped["version"], before["version"] + 4)

    def test_a_completed_test_stays_completed(self) -> None:
        done = self.cha.set_experiment_status(PIPE, ExperimentStatus.COMPLETED, actor="ops")
        self.assertEqual(done["definition"]["status"], "completed")
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            self.cha.start_experiment(PIPE, actor="ops")
        self.assertIn("completed", caught.exception.message)
        self.assertEqual(self.cha.assignment(PIPE, "u1").reason, AssignReason.NOT_RUNNING)

    def test_bad_status_actor_and_id(self) -> None:
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.set_experiment_status(PIPE, "archived", actor="ops")
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            self.cha.start_experiment(NETWORK, actor="")
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.start_experiment("no_such_test", actor="ops")
        with self.assertRaises(cha_deploy.NotFoundError) as caught:
            self.cha.get_experiment("no_such_test")
        self.assertIn("no_such_test", caught.exception.message)
        self.assertEqual(self.cha.get_experiment(NETWORK)["version"], 1)


# -- closed handles ----------------------------------------------------------------------


class ExportTest(DeployedTestCase):
    def test_raw_observations_export_as_csv(self) -> None:
        import csv

        self.cha.record(PIPE, "net-a", "pipe_cost_efficiency", 1.5)
        self.cha.record(PIPE, 'net,"b"', "pipe_cost_efficiency", -0.25)
        path = self.dir / "export.csv"
        self.assertEqual(self.cha.export_observations(PIPE, path), 2)
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([r["unit"] for r in rows], ["net-a", 'net,"b"'])
        self.assertEqual([float(r["value"]) for r in rows], [1.5, -0.25])
        self.assertEqual({r["metric"] for r in rows}, {"pipe_cost_efficiency"})
        with self.assertRaises(cha_deploy.NotFoundError):
            self.cha.export_observations("no_such_test", path)
        with self.assertRaises(cha_deploy.StorageError):
            self.cha.export_observations(PIPE, self.dir / "missing" / "x.csv")


class ClosedTest(DeployedTestCase):
    def test_every_experiment_method_on_a_closed_handle_raises(self) -> None:
        self.cha.close()
        calls: Dict[str, Callable[[], Any]] = {
            "assign": lambda: self.cha.assign(PIPE, "u1"),
            "assignment": lambda: self.cha.assignment(PIPE, "u1"),
            "record": lambda: self.cha.record(PIPE, "u1", "pipe_cost_efficiency", 1.0),
            "list_experiments": self.cha.list_experiments,
            "get_experiment": lambda: self.cha.get_experiment(PIPE),
            "set_experiment_status": lambda: self.cha.set_experiment_status(PIPE, "paused", "x"),
            "start_experiment": lambda: self.cha.start_experiment(NETWORK, "x"),
            "pause_experiment": lambda: self.cha.pause_experiment(PIPE, "x"),
            "stop_experiment": lambda: self.cha.stop_experiment(PIPE, "x"),
            "analyze_test_results": lambda: self.cha.analyze_test_results(PIPE),
            "plan_sample_size": lambda: self.cha.plan_sample_size(
                PIPE, "pipe_cost_efficiency", 100.0, 20.0
            ),
        }
        for name, call in calls.items():
            with self.subTest(method=name):
                with self.assertRaises(cha_deploy.ClosedHandleError):
                    call()
        # Nothing changed.
        with cha_deploy.open(self.db) as again:
            self.assertEqual(again.get_experiment(PIPE)["definition"]["status"], "running")
            self.assertEqual(again.get_experiment(NETWORK)["version"], 1)


if __name__ == "__main__":
    unittest.main()
