"""A/B experiments: the experiment methods of :class:`cha_deploy.Cha`
(:class:`Experiments`: ``assign``, ``record``, ``analyze_test_results``, ...),
the answer of an assignment, its reasons, and the life-cycle statuses.

Assignment, recording, analysis and planning all happen in the library; this
module only passes the arguments and gives the answers a Python shape.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _ffi
from ._handle import Handle, Id, actor_argument, id_argument, json_argument, number_argument
from ._names import Name

__all__ = ["Experiments", "AssignReason", "ExperimentStatus", "Correction", "Assignment"]


class AssignReason(Name):
    """Why a unit got its variant, or none. A ``str``, so
    ``assignment.reason == "STICKY"`` holds."""

    #: Bucketed into a variant now.
    ASSIGNED = "ASSIGNED"
    #: Kept the variant it was first exposed to (the split or the status
    #: changed since).
    STICKY = "STICKY"
    #: The test is draft, stopped or completed: no variant.
    NOT_RUNNING = "NOT_RUNNING"
    #: The test is paused: only units already in it keep their variant.
    PAUSED = "PAUSED"
    #: The unit is outside the test's ``coverage``: no variant.
    OUTSIDE_COVERAGE = "OUTSIDE_COVERAGE"


class ExperimentStatus(Name):
    """The life-cycle status of a test (``status`` in ab_tests.yml)."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    #: Final: a completed test cannot change status again.
    COMPLETED = "completed"


class Correction(Name):
    """The multiple-comparison correction across the primary and secondary
    metrics of :meth:`cha_deploy.Cha.analyze_test_results`: the names of
    the C options and of the CLI's ``--correction``."""

    #: Holm–Bonferroni: controls the family-wise error rate (the default).
    HOLM = "holm"
    #: Benjamini–Hochberg: controls the false discovery rate.
    BH = "bh"
    #: The same, by its long name (an alias of :attr:`BH`).
    BENJAMINI_HOCHBERG = "bh"
    #: No correction: each comparison at the family's level.
    NONE = "none"


@dataclass(frozen=True)
class Assignment:
    """The variant a unit got in a test, with the details.

    Truthy exactly when the unit has a variant.

    Attributes:
        experiment: the test id.
        unit: the unit id, as given.
        variant: the variant's name, or None (see :attr:`reason`).
        reason: an :class:`AssignReason` (a plain ``str`` for a reason this
            package does not know yet).
        configuration: the variant's ``configuration`` from ab_tests.yml
            (an empty dict when the unit has no variant or the variant has
            none).
    """

    experiment: str
    unit: str
    variant: Optional[str]
    reason: Union[AssignReason, str]
    configuration: Dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.variant is not None

    @classmethod
    def from_json(cls, text: str) -> "Assignment":
        """Builds one from the JSON of ``cha_experiment_assignment``."""
        fields: Mapping[str, Any] = json.loads(text)
        try:
            reason: Union[AssignReason, str] = AssignReason(fields["reason"])
        except ValueError:  # a reason a newer library added
            reason = fields["reason"]
        return cls(
            experiment=fields["experiment"],
            unit=fields["unit"],
            variant=fields.get("variant"),
            reason=reason,
            configuration=dict(fields.get("configuration") or {}),
        )


class Experiments(Handle):
    """The A/B experiment methods of :class:`cha_deploy.Cha`: assign units,
    record metrics, change a test's status, analyse and plan."""

    def assign(self, experiment: str, unit_id: Id) -> Optional[str]:
        """The variant of `experiment` for `unit_id`, or None when the unit
        gets none: the fast path, for inner loops (no JSON). Use
        :meth:`assignment` for the reason and the variant's configuration.

        Deterministic (the same in every process and language) and sticky:
        once exposed, a unit keeps its variant when the split changes.
        **Exposes** the unit: its first assignment logs its exposure, in the
        background, and it counts in the analysis from then on. To look
        without exposing, use :meth:`peek`.

        Raises:
            NotFoundError: no test has that id.
            InvalidArgumentError: `unit_id` is empty or too long.
        """
        raw_experiment = _ffi.encode(experiment, "experiment")
        raw_unit = id_argument(unit_id, "unit_id")
        variant = self._call(_ffi.experiment_assign, raw_experiment, raw_unit)
        return None if variant is None else variant.decode("utf-8")

    def peek(self, experiment: str, unit_id: Id) -> Optional[str]:
        """The variant :meth:`assign` would give `unit_id` now, sticky pins
        included, without exposing the unit: nothing is logged or written,
        so a check by an operator or a dashboard never changes the analysis.

        Raises:
            NotFoundError: no test has that id.
            InvalidArgumentError: `unit_id` is empty or too long.
        """
        raw_experiment = _ffi.encode(experiment, "experiment")
        raw_unit = id_argument(unit_id, "unit_id")
        variant = self._call(_ffi.experiment_peek, raw_experiment, raw_unit)
        return None if variant is None else variant.decode("utf-8")

    def assignment(self, experiment: str, unit_id: Id, peek: bool = False) -> Assignment:
        """:meth:`assign` with the details: the variant, why (an
        :class:`AssignReason`) and the variant's ``configuration`` from
        ab_tests.yml. Exposes the unit as :meth:`assign` does, unless
        `peek` is true (then as :meth:`peek`: nothing is written).

        Raises:
            NotFoundError: no test has that id.
            InvalidArgumentError: `unit_id` is empty or too long.
        """
        raw_experiment = _ffi.encode(experiment, "experiment")
        raw_unit = id_argument(unit_id, "unit_id")
        call = _ffi.experiment_peek_assignment if peek else _ffi.experiment_assignment
        return Assignment.from_json(self._call(call, raw_experiment, raw_unit))

    def record(self, experiment: str, unit_id: Id, metric: str, value: float) -> None:
        """Records `value` of `metric` for `unit_id` in `experiment`.

        The unit is assigned (and exposed) as by :meth:`assign`. A unit is
        the unit of analysis: its several values of one metric combine into
        its one value by the metric's ``aggregation`` (mean, sum, count, or
        proportion: 1 if any value is non-zero). Buffered: persisted within
        ``flush_interval_ms``, by :meth:`flush` or on :meth:`close`.

        Raises:
            NotFoundError: no such test, or the test has no such metric.
            InvalidArgumentError: `value` is NaN or infinite, `unit_id` is
                empty or too long, or the unit has no variant (the test is
                not running, or the unit is outside its coverage).
            TypeError: `value` is not a number.
        """
        raw_value = number_argument(value, "value")
        raw_experiment = _ffi.encode(experiment, "experiment")
        raw_unit = id_argument(unit_id, "unit_id")
        raw_metric = _ffi.encode(metric, "metric")
        self._call(_ffi.experiment_record, raw_experiment, raw_unit, raw_metric, raw_value)

    def list_experiments(self) -> List[Dict[str, Any]]:
        """Every stored test, by id: ``{"definition": {...}, "version",
        "updated_at_ms", "updated_by"}``, the definition in ab_tests.yml's
        fields (with ``id``)."""
        return self._call_json(_ffi.experiment_list)

    def list_archived_experiments(self) -> List[Dict[str, Any]]:
        """Every archived test (removed from the config files; its data is
        kept, and :meth:`analyze_test_results` and
        :meth:`export_observations` still work for it): ``{"definition":
        {...}, "version", "archived_at_ms", "archived_by"}``."""
        return self._call_json(_ffi.experiment_list_archived)

    def restore_experiment(self, experiment_id: str, actor: Optional[str] = None) -> Dict[str, Any]:
        """Brings the archived test `experiment_id` back, with its history
        and data, as a new version recorded under `actor` (the login name by
        default): the explicit step a deployment whose files name it again
        asks for.

        Returns:
            The test after the restore, as :meth:`get_experiment` gives it.

        Raises:
            NotFoundError: no archived test has that id.
            InvalidArgumentError: the test is live, or `actor` is empty.
        """
        raw_id = _ffi.encode(experiment_id, "experiment_id")
        return self._call_json(_ffi.experiment_restore, raw_id, actor_argument(actor))

    def get_experiment(self, experiment_id: str) -> Dict[str, Any]:
        """The stored test `experiment_id`, as :meth:`list_experiments` gives it.

        Raises:
            NotFoundError: no test has that id.
        """
        return self._call_json(_ffi.experiment_get, _ffi.encode(experiment_id, "experiment_id"))

    def set_experiment_status(
        self,
        experiment_id: str,
        status: Union[ExperimentStatus, str],
        actor: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Sets the status of test `experiment_id` (an
        :class:`ExperimentStatus` or its name), as a new version recorded
        under `actor`; every open handle sees it within its refresh interval,
        this one at once. Starting sets ``start_time`` the first time.

        Args:
            actor: who makes the change, for the audit history; the login
                name by default.

        Returns:
            The test after the change, as :meth:`get_experiment` gives it.

        Raises:
            NotFoundError: no test has that id.
            InvalidArgumentError: an unknown status, a move out of
                ``completed``, or an empty `actor`.
        """
        name = status.value if isinstance(status, ExperimentStatus) else status
        raw_id = _ffi.encode(experiment_id, "experiment")
        raw_status = _ffi.encode(name, "status")
        raw_actor = actor_argument(actor)
        return self._call_json(_ffi.experiment_set_status, raw_id, raw_status, raw_actor)

    def start_experiment(self, experiment_id: str, actor: Optional[str] = None) -> Dict[str, Any]:
        """:meth:`set_experiment_status` to ``running``: new units enter."""
        return self.set_experiment_status(experiment_id, ExperimentStatus.RUNNING, actor)

    def pause_experiment(self, experiment_id: str, actor: Optional[str] = None) -> Dict[str, Any]:
        """:meth:`set_experiment_status` to ``paused``: units already in the
        test keep their variant, new units get none."""
        return self.set_experiment_status(experiment_id, ExperimentStatus.PAUSED, actor)

    def stop_experiment(self, experiment_id: str, actor: Optional[str] = None) -> Dict[str, Any]:
        """:meth:`set_experiment_status` to ``stopped``: no unit gets a variant."""
        return self.set_experiment_status(experiment_id, ExperimentStatus.STOPPED, actor)

    def analyze_test_results(
        self,
        test_id: str,
        correction: Union[Correction, str] = Correction.HOLM,
        sequential: bool = False,
        mixture_variance: Optional[Mapping[str, float]] = None,
        phases: Union[str, Sequence[int]] = "latest",
    ) -> Dict[str, Any]:
        """Analyses test `test_id`: per metric, every variant against the
        control (n, mean, variance; Welch's t-test with its interval; the
        relative lift with a delta-method interval; Cohen's d and Hedges' g;
        achieved power and the units still needed at the metric's MDE), the
        sample-ratio check, guardrails, and a conclusion with its reasons.
        Everything this handle recorded counts (its buffer is flushed first),
        and so does what other handles have persisted. Its cost does not
        grow with the number of observations.

        The keyword arguments are the options of the C function and the
        CLI's flags, by the same names.

        Args:
            correction: across primary and secondary metrics, ``"holm"``
                (Holm–Bonferroni, default), ``"bh"`` (Benjamini–Hochberg)
                or ``"none"``.
            sequential: add always-valid (mSPRT) intervals and decide on
                them, so that looking every day is safe.
            mixture_variance: the mSPRT mixture variance tau^2 per metric name
                (squared metric units); by default (MDE x |control mean|)^2.
            phases: the phases the estimates use: ``"latest"`` (the latest
                with the minimum sample size in every variant; the default),
                ``"all"``, or phase numbers such as ``[1, 2]``. Every phase
                is checked against its own split either way.

        Returns:
            The report, a dict with stable keys: ``experiment_id``,
            ``status``, ``control``, ``duration_days``, ``variants``,
            ``sample_ratio``, ``metrics`` (each with ``control`` and
            ``comparisons``: ``difference`` {estimate, std_error, t, df,
            p_value, ci_lower, ci_upper}, ``relative_lift``, ``effect_size``,
            ``power``, ``sequential``, ``p_adjusted``, ``verdict``, ...),
            ``phases`` (each with its start, end, split and sample-ratio
            check), ``analyzed_phases``, ``phase_selection``,
            ``conclusion`` (``invalid``, ``stop``, ``harm``, ``trade_off``,
            ``ship``, ``untestable``, ``keep_running``, ``no_difference``),
            ``recommendation``, ``reasons``,
            ``winner``, ``additional_units_per_variant``,
            ``additional_days`` and ``business_impact``. Numbers that cannot
            be computed are None, with a ``status`` saying why.

        Raises:
            NotFoundError: no test has that id.
            InvalidArgumentError: an unknown correction or option value.
        """
        options = _analysis_options(correction, sequential, mixture_variance, phases)
        raw_id = _ffi.encode(test_id, "test_id")
        raw_options = json_argument(options, "analysis options")
        return self._call_json(_ffi.experiment_analyze, raw_id, raw_options)

    def export_observations(self, test_id: str, path: "os.PathLike[str] | str") -> int:
        """Writes every raw observation of test `test_id` to the file `path`
        as CSV (header ``id,unit,variant,metric,value,at_ms``; created or
        replaced), for re-analysis elsewhere, and returns the row count.
        Buffered records are flushed first.

        Raises:
            NotFoundError: no such test.
            StorageError: the file cannot be written.
        """
        raw_id = _ffi.encode(test_id, "test_id")
        raw_path = _ffi.encode(os.fspath(path), "path")
        return self._call(_ffi.experiment_export, raw_id, raw_path)

    def plan_sample_size(
        self,
        test_id: str,
        metric: str,
        baseline_mean: float,
        baseline_sd: float,
        correction: Union[Correction, str] = Correction.HOLM,
    ) -> Dict[str, Any]:
        """Units each variant of test `test_id` needs for `metric`, given the
        metric's unit-level `baseline_mean` and `baseline_sd` (from a pilot
        or history), at the metric's MDE and power (statsmodels
        ``TTestIndPower().solve_power``), planned as the analysis decides:
        at the family's level divided by its comparisons under `correction`
        (a guardrail at its own level), with every arm at its configured
        share of the traffic.

        Returns:
            ``{"per_variant", "per_treatment_variant", "total", "nobs1",
            "effect_size", "absolute_effect", "baseline_mean", "baseline_sd",
            "minimum_detectable_effect", "alpha", "power", "ratio",
            "n_variants", "arms": [{"variant", "traffic_percentage",
            "is_control", "units"}], "level": {"nominal_alpha",
            "correction", "comparisons", "explanation"}}``.

        Raises:
            NotFoundError: no such test, or the test has no such metric.
            InvalidArgumentError: `baseline_sd` ≤ 0, `baseline_mean` 0, a
                value that is not finite, or an unknown correction.
            TypeError: a baseline is not a number.
        """
        mean = number_argument(baseline_mean, "baseline_mean")
        sd = number_argument(baseline_sd, "baseline_sd")
        raw_id = _ffi.encode(test_id, "test_id")
        raw_metric = _ffi.encode(metric, "metric")
        options = json_argument(
            {"correction": correction.value if isinstance(correction, Correction) else correction},
            "plan options",
        )
        return self._call_json(
            _ffi.experiment_plan_with_options, raw_id, raw_metric, mean, sd, options
        )


def _analysis_options(
    correction: Union[Correction, str],
    sequential: bool,
    mixture_variance: Optional[Mapping[str, float]],
    phases: Union[str, Sequence[int]] = "latest",
) -> Dict[str, Any]:
    """The options object of ``cha_experiment_analyze_with_options``. Values
    are passed as given: the library, not this binding, judges them (an
    unknown correction is its InvalidArgumentError)."""
    if mixture_variance is None:
        mixture_variance = {}
    return {
        "correction": correction.value if isinstance(correction, Correction) else correction,
        "sequential": sequential,
        "mixture_variance": (
            dict(mixture_variance) if isinstance(mixture_variance, Mapping) else mixture_variance
        ),
        "phases": phases if isinstance(phases, str) else list(phases),
    }
