"""A/B experiments: the answer of an assignment, its reasons, the life-cycle
statuses, and the argument checks shared by the :class:`cha_deploy.Cha`
methods (``assign``, ``record``, ``analyze_test_results``, ...).

Assignment, recording, analysis and planning all happen in the library; this
module only gives their answers a Python shape.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Union

from ._names import Name

__all__ = ["AssignReason", "ExperimentStatus", "Correction", "Assignment"]


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
    metrics of :meth:`cha_deploy.Cha.analyze_test_results`."""

    #: Holm–Bonferroni: controls the family-wise error rate (the default).
    HOLM = "holm"
    #: Benjamini–Hochberg: controls the false discovery rate.
    BENJAMINI_HOCHBERG = "benjamini_hochberg"


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


def number(value: Any, what: str) -> float:
    """`value` as the ``double`` a C function takes. A non-number (a string,
    None) raises TypeError, as Python's own arithmetic would, rather than
    ctypes' ArgumentError; NaN and infinity pass, for the library to refuse."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    return float(value)


def analysis_options(
    correction: Union[Correction, str],
    sequential: bool,
    mixture_variance: Optional[Mapping[str, float]],
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
    }
