"""cha_deploy: the rollout toolkit of the CHA intelligent pipe-sizing system.

Python binding of the cha-deploy library over its C ABI (ctypes and the
standard library only). The library file is found through ``$CHA_DEPLOY_LIB``,
then this package's folder, then the repository's ``target/release`` and
``target/debug``.

    import cha_deploy

    with cha_deploy.open("cha.db") as cha:
        cha.deploy_all("configs")
        if cha.is_enabled("intelligent_pipe_sizing", user_id="planner-042"):
            ...

Every failed call raises a :class:`ChaError` subclass carrying the C status
code and the library's message.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _ffi
from ._managed import Managed
from .errors import (
    BusyError,
    ChaError,
    ClosedHandleError,
    ConfigError,
    InternalError,
    InvalidArgumentError,
    InvalidUtf8Error,
    LibraryNotFoundError,
    NotFoundError,
    NullArgumentError,
    StorageError,
)
from .experiments import AssignReason, Assignment, Correction, ExperimentStatus
from .experiments import analysis_options as _analysis_options
from .experiments import number as _number
from .flags import ErrorCode, FeatureFlagEvaluation, FlagHandle, Reason

#: The version of this package; the loaded library reports its own through
#: :func:`version`, and the two are released together.
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "version",
    "status_name",
    "open",
    "create_config_template",
    "Cha",
    "FeatureFlagEvaluation",
    "FlagHandle",
    "Reason",
    "ErrorCode",
    "Assignment",
    "AssignReason",
    "ExperimentStatus",
    "Correction",
    "ChaError",
    "NullArgumentError",
    "InvalidUtf8Error",
    "InvalidArgumentError",
    "NotFoundError",
    "ConfigError",
    "StorageError",
    "BusyError",
    "InternalError",
    "ClosedHandleError",
    "LibraryNotFoundError",
]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def version() -> str:
    """The version of the loaded library, ``"MAJOR.MINOR.PATCH"``."""
    return _ffi.version()


def status_name(code: int) -> str:
    """The name of a C status code, e.g. ``"CHA_ERR_STORAGE"``, or
    ``"CHA_UNKNOWN_STATUS"``."""
    return _ffi.status_name(code)


def create_config_template(
    template_name: str, config_type: str = "cha_intelligent_sizing"
) -> str:
    """A commented feature_flags.yml that shows every flag type and field,
    ready to edit and deploy with :meth:`Cha.deploy_all`.

    Args:
        template_name: a title for the file, written in its first comment.
        config_type: ``"cha_intelligent_sizing"`` (the CHA flags) or
            ``"minimal"`` (one flag).

    Raises:
        InvalidArgumentError: an unknown `config_type`.
    """
    return _ffi.config_template(
        _ffi.encode(template_name, "template_name"), _ffi.encode(config_type, "config_type")
    )


def open(path: PathLike, **options: Any) -> "Cha":  # noqa: A001 - the module's verb
    """Opens (creating if needed) the database at `path`.

    `options` are passed to the library as a JSON object, unchanged: see
    :class:`Cha` for the known ones. An unknown option or a value of the
    wrong type raises :class:`InvalidArgumentError`.
    """
    return Cha._open(path, options)


class Cha(Managed):
    """An open cha-deploy database: the one handle through which everything
    is done.

    Close it with :meth:`close` or a ``with`` block; an unclosed handle is
    closed when garbage-collected (a failure to flush then goes unreported).
    One handle may be used from many threads at once.

    Args:
        path: the database file; its folder must exist.
        journal_mode: ``"wal"`` (default), ``"delete"`` or ``"truncate"``
            (``"delete"`` on network file systems).
        synchronous: ``"normal"`` (default) or ``"full"``.
        busy_timeout_ms: how long a write waits for another connection's lock.
        flush_interval_ms: how often buffered records are persisted.
        refresh_interval_ms: how often changes by other processes are noticed.

    Raises:
        StorageError: the path is a directory, its folder is missing, the file
            is not a SQLite database, or its schema is newer than the library.
        InvalidArgumentError: an option has a value of the wrong type or range.
        InvalidUtf8Error: the path is not valid UTF-8.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        journal_mode: Optional[str] = None,
        synchronous: Optional[str] = None,
        busy_timeout_ms: Optional[int] = None,
        flush_interval_ms: Optional[int] = None,
        refresh_interval_ms: Optional[int] = None,
    ) -> None:
        given = {
            "journal_mode": journal_mode,
            "synchronous": synchronous,
            "busy_timeout_ms": busy_timeout_ms,
            "flush_interval_ms": flush_interval_ms,
            "refresh_interval_ms": refresh_interval_ms,
        }
        self._connect(path, {k: v for k, v in given.items() if v is not None})

    @classmethod
    def _open(cls, path: PathLike, options: Mapping[str, Any]) -> "Cha":
        """Opens with options passed through as given, known or not, so
        that the library (not this binding) decides what is valid."""
        cha = cls.__new__(cls)
        cha._connect(path, options)
        return cha

    def _connect(self, path: PathLike, options: Mapping[str, Any]) -> None:
        raw_path = os.fsencode(path)
        handle = _ffi.open_handle(raw_path, json.dumps(dict(options)).encode("utf-8"))
        self.path: str = os.fsdecode(raw_path)
        super().__init__(handle)

    def flush(self) -> None:
        """Persists everything recorded so far."""
        with self._borrow() as handle:
            _ffi.flush(handle)

    def close(self) -> None:
        """Flushes and closes the handle; calling it again does nothing.

        Raises:
            ChaError: the final flush failed (the handle is closed anyway).
        """
        super().close()

    def _release(self, handle: int) -> None:
        try:
            _ffi.flush(handle)
        finally:
            _ffi.close(handle)

    def _release_quietly(self, handle: int) -> None:
        _ffi.close(handle)

    # -- deployment --------------------------------------------------------

    def deploy_all(self, config_dir: PathLike) -> Dict[str, Any]:
        """Deploys every known config file in `config_dir`
        (``feature_flags.yml``, ``ab_tests.yml``): all are validated first,
        then applied in one transaction recorded under the login name of the
        process. The files are the truth: stored flags and tests they no
        longer have are removed.

        Returns:
            The report: ``{"config_dir", "actor", "at_ms", "files": [...],
            "flags": {"created", "updated", "unchanged", "removed"},
            "experiments": {...the same four lists...}}``.

        Raises:
            ConfigError: a file is invalid; the message lists every problem,
                each with file:line:column and field path. Nothing changed.
            NotFoundError: no such directory, or no known file in it.
            StorageError, BusyError: the database could not be written.
        """
        raw_dir = os.fsencode(config_dir)
        with self._borrow() as handle:
            return json.loads(_ffi.deploy_all(handle, raw_dir))

    # -- feature flags -----------------------------------------------------

    def is_enabled(
        self,
        flag_name: str,
        user_id: Optional[str] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Mapping[str, Any]] = None,
    ) -> FeatureFlagEvaluation:
        """Evaluates `flag_name` now, with the details: the result is truthy
        exactly when the flag is on.

        Args:
            flag_name: the flag.
            user_id: the user; percentage and a_b_test flags split on it by
                default. Without it they serve their ``default`` with reason
                ``ERROR`` and error ``INVALID_CONTEXT``.
            user_groups: the user's groups, for user_group flags.
            context: more of the evaluation context: ``session_id``,
                ``environment``, ``app_name``, ``remote_address``,
                ``properties`` (a dict), ``current_time`` (an aware
                ``datetime`` or an RFC 3339 string: evaluates as of then).
                `user_id` and `user_groups`, when given, replace its
                ``user_id`` and ``groups``.

        An unknown flag is not an exception: it evaluates off with reason
        ``ERROR`` and error ``FLAG_NOT_FOUND``.

        Raises:
            InvalidArgumentError: `context` is not a dict, has an unknown key
                or a value of the wrong type, or a bad ``current_time``.
        """
        context_json = _context_json(user_id, user_groups, context)
        raw_flag = _ffi.encode(flag_name, "flag")
        with self._borrow() as handle:
            text = _ffi.flag_evaluate(handle, raw_flag, context_json)
        return FeatureFlagEvaluation.from_json(text)

    def flag(self, name: str) -> FlagHandle:
        """A :class:`FlagHandle` for `name`: the fast path for inner loops.

        Raises:
            NotFoundError: no flag has that name now.
        """
        raw = _ffi.encode(name, "flag")
        with self._borrow() as handle:
            flag_id = _ffi.flag_lookup(handle, raw)
        return FlagHandle(self, name, flag_id)

    def update_flag(
        self, flag_name: str, updates: Mapping[str, Any], actor: Optional[str] = None
    ) -> Dict[str, Any]:
        """Changes `flag_name` with `updates`, the fields of feature_flags.yml
        (``{"percentage": 50}``, ``{"enabled": False}``), creating the flag
        when it does not exist and `updates` names a ``type``; a field set to
        None goes back to its default. Validated and
        written in one transaction with an audit entry; every open handle
        sees the change within its refresh interval, this one at once.

        Args:
            actor: who makes the change, for the audit history; the login
                name (``getpass.getuser()``) by default.

        Returns:
            ``{"flag", "version", "changed", "before", "after"}``: the flag's
            version after the change, whether anything changed, and its
            definition before (None when created) and after, taken in the
            change's own transaction.

        Raises:
            ConfigError: an invalid value (percentage 150, an unknown field, a
                wrong type), each named. Nothing changed.
            NotFoundError: no such flag and `updates` names no ``type``.
            InvalidArgumentError: `updates` is not a dict, or `actor` is empty.
        """
        if not isinstance(updates, Mapping):
            raise InvalidArgumentError(
                InvalidArgumentError.STATUS,
                f"updates must be a dict of feature_flags.yml fields such as "
                f'{{"percentage": 50}}, not {type(updates).__name__}',
            )
        raw_flag = _ffi.encode(flag_name, "flag")
        raw_updates = _ffi.encode(_to_json(dict(updates), "updates"), "updates")
        raw_actor = _ffi.encode(_actor(actor), "actor")
        with self._borrow() as handle:
            result: Dict[str, Any] = json.loads(
                _ffi.flag_change(handle, raw_flag, raw_updates, raw_actor)
            )
        return result

    def get_flag(self, name: str) -> Dict[str, Any]:
        """The stored flag `name`: ``{"definition": {...}, "version",
        "updated_at_ms", "updated_by"}``.

        Raises:
            NotFoundError: no flag has that name.
        """
        raw = _ffi.encode(name, "flag")
        with self._borrow() as handle:
            return json.loads(_ffi.flag_get(handle, raw))

    def list_flags(self) -> List[Dict[str, Any]]:
        """Every stored flag, by name, each as :meth:`get_flag` gives it."""
        with self._borrow() as handle:
            return json.loads(_ffi.flag_list(handle))

    def flag_history(self, name: str) -> List[Dict[str, Any]]:
        """Every change to flag `name`, oldest first: ``{"id", "at_ms",
        "actor", "action", "kind", "subject", "version", "before", "after"}``.

        Raises:
            NotFoundError: the flag never existed.
        """
        raw = _ffi.encode(name, "flag")
        with self._borrow() as handle:
            return json.loads(_ffi.flag_history(handle, raw))

    def restore_flag(self, name: str, version: int, actor: Optional[str] = None) -> Dict[str, Any]:
        """Restores flag `name` to its definition at `version` (a ``version``
        of :meth:`flag_history`), as a new version.

        Args:
            actor: who restores, for the audit history; the login name by
                default.

        Returns:
            ``{"flag", "version", "changed", "before", "after"}``.

        Raises:
            NotFoundError: no such flag or version.
            ConfigError: the old definition no longer fits (e.g. a
                prerequisite was removed since).
        """
        raw_name = _ffi.encode(name, "flag")
        raw_actor = _ffi.encode(_actor(actor), "actor")
        with self._borrow() as handle:
            return json.loads(_ffi.flag_restore(handle, raw_name, version, raw_actor))

    # -- A/B experiments ---------------------------------------------------

    def assign(self, experiment: str, unit_id: str) -> Optional[str]:
        """The variant of `experiment` for `unit_id`, or None when the unit
        gets none: the fast path, for inner loops (no JSON). Use
        :meth:`assignment` for the reason and the variant's configuration.

        Deterministic (the same in every process and language) and sticky:
        once exposed, a unit keeps its variant when the split changes. The
        first assignment of a unit logs its exposure, in the background.

        Raises:
            NotFoundError: no test has that id.
            InvalidArgumentError: `unit_id` is empty or too long.
        """
        raw_experiment = _ffi.encode(experiment, "experiment")
        raw_unit = _ffi.encode(unit_id, "unit_id")
        with self._borrow() as handle:
            variant = _ffi.experiment_assign(handle, raw_experiment, raw_unit)
        return None if variant is None else variant.decode("utf-8")

    def assignment(self, experiment: str, unit_id: str) -> Assignment:
        """:meth:`assign` with the details: the variant, why (an
        :class:`AssignReason`) and the variant's ``configuration`` from
        ab_tests.yml. Logs the exposure as :meth:`assign` does.

        Raises:
            NotFoundError: no test has that id.
            InvalidArgumentError: `unit_id` is empty or too long.
        """
        raw_experiment = _ffi.encode(experiment, "experiment")
        raw_unit = _ffi.encode(unit_id, "unit_id")
        with self._borrow() as handle:
            text = _ffi.experiment_assignment(handle, raw_experiment, raw_unit)
        return Assignment.from_json(text)

    def record(self, experiment: str, unit_id: str, metric: str, value: float) -> None:
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
        raw_value = _number(value, "value")
        raw_experiment = _ffi.encode(experiment, "experiment")
        raw_unit = _ffi.encode(unit_id, "unit_id")
        raw_metric = _ffi.encode(metric, "metric")
        with self._borrow() as handle:
            _ffi.experiment_record(handle, raw_experiment, raw_unit, raw_metric, raw_value)

    def list_experiments(self) -> List[Dict[str, Any]]:
        """Every stored test, by id: ``{"definition": {...}, "version",
        "updated_at_ms", "updated_by"}``, the definition in ab_tests.yml's
        fields (with ``id``)."""
        with self._borrow() as handle:
            return json.loads(_ffi.experiment_list(handle))

    def get_experiment(self, experiment_id: str) -> Dict[str, Any]:
        """The stored test `experiment_id`, as :meth:`list_experiments` gives it.

        Raises:
            NotFoundError: no test has that id.
        """
        raw_id = _ffi.encode(experiment_id, "experiment_id")
        with self._borrow() as handle:
            return json.loads(_ffi.experiment_get(handle, raw_id))

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
        raw_actor = _ffi.encode(_actor(actor), "actor")
        with self._borrow() as handle:
            text = _ffi.experiment_set_status(handle, raw_id, raw_status, raw_actor)
        return json.loads(text)

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
    ) -> Dict[str, Any]:
        """Analyses test `test_id`: per metric, every variant against the
        control (n, mean, variance; Welch's t-test with its interval; the
        relative lift with a delta-method interval; Cohen's d and Hedges' g;
        achieved power and the units still needed at the metric's MDE), the
        sample-ratio check, guardrails, and a conclusion with its reasons.
        Everything this handle recorded counts (its buffer is flushed first),
        and so does what other handles have persisted. Its cost does not
        grow with the number of observations.

        Args:
            correction: across primary and secondary metrics, ``"holm"``
                (Holm–Bonferroni, default) or ``"benjamini_hochberg"``.
            sequential: add always-valid (mSPRT) intervals and decide on
                them, so that looking every day is safe.
            mixture_variance: the mSPRT mixture variance tau^2 per metric name
                (squared metric units); by default (MDE x |control mean|)^2.

        Returns:
            The report, a dict with stable keys: ``experiment_id``,
            ``status``, ``control``, ``duration_days``, ``variants``,
            ``sample_ratio``, ``metrics`` (each with ``control`` and
            ``comparisons``: ``difference`` {estimate, std_error, t, df,
            p_value, ci_lower, ci_upper}, ``relative_lift``, ``effect_size``,
            ``power``, ``sequential``, ``p_adjusted``, ``verdict``, ...),
            ``conclusion`` (``ship``, ``keep_running``, ``stop``,
            ``invalid``, ``no_difference``), ``recommendation``, ``reasons``,
            ``winner``, ``additional_units_per_variant``,
            ``additional_days`` and ``business_impact``. Numbers that cannot
            be computed are None, with a ``status`` saying why.

        Raises:
            NotFoundError: no test has that id.
            InvalidArgumentError: an unknown correction or option value.
        """
        options = _analysis_options(correction, sequential, mixture_variance)
        raw_id = _ffi.encode(test_id, "test_id")
        raw_options = _ffi.encode(_to_json(options, "analysis options"), "options")
        with self._borrow() as handle:
            return json.loads(_ffi.experiment_analyze(handle, raw_id, raw_options))

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
        with self._borrow() as handle:
            return _ffi.experiment_export(handle, raw_id, raw_path)

    def plan_sample_size(
        self, test_id: str, metric: str, baseline_mean: float, baseline_sd: float
    ) -> Dict[str, Any]:
        """Units each variant of test `test_id` needs for `metric`, given the
        metric's unit-level `baseline_mean` and `baseline_sd` (from a pilot
        or history), at the metric's MDE, significance level and power
        (statsmodels ``TTestIndPower().solve_power``, equal arms).

        Returns:
            ``{"per_variant", "per_treatment_variant", "total", "nobs1",
            "effect_size", "absolute_effect", "baseline_mean", "baseline_sd",
            "minimum_detectable_effect", "alpha", "power", "ratio",
            "n_variants"}``.

        Raises:
            NotFoundError: no such test, or the test has no such metric.
            InvalidArgumentError: `baseline_sd` ≤ 0, `baseline_mean` 0, or
                a value that is not finite.
            TypeError: a baseline is not a number.
        """
        mean = _number(baseline_mean, "baseline_mean")
        sd = _number(baseline_sd, "baseline_sd")
        raw_id = _ffi.encode(test_id, "test_id")
        raw_metric = _ffi.encode(metric, "metric")
        with self._borrow() as handle:
            return json.loads(_ffi.experiment_plan(handle, raw_id, raw_metric, mean, sd))

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<cha_deploy.Cha {self.path!r} {state}>"


def _actor(actor: Optional[str]) -> str:
    """`actor`, or the login name of the process (as the library's own
    default actor, with ``"unknown"`` when there is none)."""
    if actor is not None:
        return actor
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):  # no login name, no passwd entry
        return "unknown"


def _to_json(value: Any, what: str) -> str:
    """`value` as JSON; a value JSON cannot hold raises InvalidArgumentError."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(
            InvalidArgumentError.STATUS, f"{what} cannot be sent as JSON: {e}"
        ) from None


def _rfc3339(moment: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC, to the millisecond."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidArgumentError(
            InvalidArgumentError.STATUS,
            f"context.current_time: {moment.isoformat()} has no time zone; "
            "give it one, e.g. datetime.now(timezone.utc)",
        )
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _context_json(
    user_id: Optional[str],
    user_groups: Optional[Sequence[str]],
    context: Optional[Mapping[str, Any]],
) -> Optional[bytes]:
    """The context JSON of :meth:`Cha.is_enabled`, or None for an empty one.
    Only the shape is settled here; the library checks keys and values."""
    if context is not None and not isinstance(context, Mapping):
        raise InvalidArgumentError(
            InvalidArgumentError.STATUS,
            f"context must be a dict such as {{\"session_id\": \"s1\"}}, "
            f"not {type(context).__name__}",
        )
    if isinstance(user_groups, (str, bytes)):
        raise TypeError("user_groups must be a list of group names, not a single string")
    fields: Dict[str, Any] = dict(context or {})
    if user_id is not None:
        fields["user_id"] = user_id
    if user_groups is not None:
        fields["groups"] = list(user_groups)
    if isinstance(fields.get("current_time"), datetime):
        fields["current_time"] = _rfc3339(fields["current_time"])
    if not fields:
        return None
    return _ffi.encode(_to_json(fields, "context"), "context")
