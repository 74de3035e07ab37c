"""Performance monitoring: the monitoring methods of :class:`cha_deploy.Cha`
(:class:`Monitoring`: ``record_timer``, ``timer``, ``increment``, ``gauge``,
``generate_performance_report``, alerts and their callback, the
OpenMetrics export, flag usage), and the timer helper.

Recording, windows, alert evaluation and reports all happen in the
library; this module only passes the arguments and gives the answers a
Python shape.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar, Union

from . import _ffi
from ._handle import Handle, actor_argument, json_argument, number_argument

__all__ = ["Monitoring", "Timer", "MetricKind"]

#: A point in time: a datetime (naive ones are taken as UTC) or epoch ms.
Time = Union[_dt.datetime, int, None]

_F = TypeVar("_F", bound=Callable[..., Any])


class MetricKind:
    """The kinds of metric, as :meth:`Monitoring.record_metric_at` takes them."""

    TIMER = "timer"
    HISTOGRAM = "histogram"
    COUNTER = "counter"
    GAUGE = "gauge"


def _epoch_ms(value: Time, what: str) -> int:
    """`value` in epoch milliseconds; None is 0 (the library's "unbounded")."""
    if value is None:
        return 0
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a datetime or epoch milliseconds, not {type(value).__name__}")
    return value


def _tags_argument(tags: Optional[Mapping[str, Any]]) -> Optional[bytes]:
    """Tags as the JSON text the library takes (None: no tags). What is not
    a JSON object reaches the library as it is, for it to refuse."""
    return None if tags is None else json_argument(tags, "tags")


class Timer:
    """Times a block or a function into a timer metric: a context manager
    (``with cha.timer("pipe_sizing_time_ms"):``) and a decorator
    (``@cha.timer("pipe_sizing_time_ms")``). The duration is measured with
    ``time.perf_counter`` and recorded in seconds (stored in ms) when the
    block ends, also when it raises.

    Attributes:
        seconds: the last duration recorded, or None.
    """

    def __init__(self, owner: "Monitoring", name: str, tags: Optional[Mapping[str, Any]]) -> None:
        self._owner = owner
        self._name = name
        self._tags = tags
        self._started: List[float] = []
        self.seconds: Optional[float] = None

    def __enter__(self) -> "Timer":
        self._started.append(time.perf_counter())
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self._started.pop()
        self._owner.record_timer(self._name, self.seconds, self._tags)

    def __call__(self, function: _F) -> _F:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with Timer(self._owner, self._name, self._tags):
                return function(*args, **kwargs)

        return timed  # type: ignore[return-value]


class Monitoring(Handle):
    """The monitoring methods of :class:`cha_deploy.Cha`: record metrics,
    read reports, alerts and flag usage, export for Prometheus."""

    _alert_callback: Any = None

    def record_timer(
        self, name: str, duration_seconds: float, tags: Optional[Mapping[str, Any]] = None
    ) -> None:
        """Records a duration of `duration_seconds` of the timer `name`,
        stored in milliseconds (as the seed's ``record_timer``), with `tags`
        (a dict of strings, numbers or booleans). In memory; persisted within
        ``flush_interval_ms``.

        Raises:
            InvalidArgumentError: a negative or non-finite duration, a name
                other than letters, digits and ``_``, tags that are not a
                dict of scalars, a metric of another kind, or a new series
                past ``metric_series_limit``. Nothing is recorded then.
            TypeError: the duration is not a number.
        """
        self._record("timer", name, duration_seconds, tags)

    def timer(self, name: str, tags: Optional[Mapping[str, Any]] = None) -> Timer:
        """A :class:`Timer` of `name`: ``with cha.timer(name): ...`` or
        ``@cha.timer(name)``."""
        return Timer(self, name, tags)

    def record_metric(
        self, name: str, value: float, tags: Optional[Mapping[str, Any]] = None
    ) -> None:
        """Records `value` of the histogram `name` (any distribution).

        Raises:
            InvalidArgumentError: as :meth:`record_timer`.
        """
        self._record("histogram", name, value, tags)

    def increment(
        self, name: str, by: float = 1.0, tags: Optional[Mapping[str, Any]] = None
    ) -> None:
        """Adds `by` (≥ 0) to the counter `name`.

        Raises:
            InvalidArgumentError: as :meth:`record_timer`.
        """
        self._record("counter", name, by, tags)

    def gauge(self, name: str, value: float, tags: Optional[Mapping[str, Any]] = None) -> None:
        """Sets the gauge `name` to `value`.

        Raises:
            InvalidArgumentError: as :meth:`record_timer`.
        """
        self._record("gauge", name, value, tags)

    def _record(self, kind: str, name: str, value: float, tags: Optional[Mapping[str, Any]]) -> None:
        raw_value = number_argument(value, "value")
        raw_name = _ffi.encode(name, "name")
        self._call(_ffi.metric_record, kind, raw_name, raw_value, _tags_argument(tags))

    def record_metric_at(
        self,
        kind: str,
        name: str,
        value: float,
        at: Time,
        tags: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Records a sample of `kind` (a :class:`MetricKind`) at `at` instead
        of now: to import samples, or to drive the clock in tests. `value`
        is as the kind's own method takes it (seconds for a timer).

        Raises:
            InvalidArgumentError: an unknown kind, or as :meth:`record_timer`.
        """
        raw_value = number_argument(value, "value")
        self._call(
            _ffi.metric_record_at,
            _ffi.encode(kind, "kind"),
            _ffi.encode(name, "name"),
            raw_value,
            _tags_argument(tags),
            _epoch_ms(at, "at"),
        )

    def set_alert_callback(self, callback: Optional[Callable[[Dict[str, Any]], None]]) -> None:
        """Calls `callback` with every alert event (a dict: ``id``,
        ``alert``, ``rule``, ``metric``, ``kind`` — pending, cleared,
        firing, escalated, deescalated, resolved, acknowledged,
        manually_resolved — ``severity``, ``previous_severity``, ``value``,
        ``threshold``, ``at_ms``, ``actor``, ``no_data``, ``message``) stored
        from now on, by any process; None removes it.

        The callback runs on the library's evaluator thread, one event at a
        time; it may call this handle's methods (not :meth:`close`) and
        should return quickly. An exception it raises is printed and
        otherwise ignored. The handle keeps the callback alive until it is
        replaced or the handle is closed.
        """
        if callback is None:
            self._call(_ffi.alerts_set_callback, None)
            self._alert_callback = None
            return
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")

        def deliver(event_json: bytes, _user_data: Any) -> None:
            callback(json.loads(event_json.decode("utf-8")))

        c_callback = _ffi.ALERT_CALLBACK(deliver)
        self._call(_ffi.alerts_set_callback, c_callback)
        # Kept alive: the library calls it until it is replaced.
        self._alert_callback = c_callback

    def evaluate_alerts(self, now: Time = None) -> List[Dict[str, Any]]:
        """Evaluates every alert rule as of `now` (default: the clock), due
        or not, and returns the events it made. The library does this by
        itself for the rules that are due."""
        return self._call_json(_ffi.alerts_evaluate, _epoch_ms(now, "now"))

    def get_alerts(
        self,
        start_time: Time = None,
        end_time: Time = None,
        firing_only: bool = False,
        limit: int = 0,
    ) -> List[Dict[str, Any]]:
        """The alerts (incidents) active between `start_time` and `end_time`
        (None: unbounded), newest first, at most `limit` (0: 100); only
        those firing now with `firing_only`."""
        return self._call_json(
            _ffi.alerts_list,
            _epoch_ms(start_time, "start_time"),
            _epoch_ms(end_time, "end_time"),
            bool(firing_only),
            limit,
        )

    def get_active_alerts(self) -> List[Dict[str, Any]]:
        """The alerts firing now."""
        return self.get_alerts(firing_only=True, limit=1000)

    def alert_history(
        self,
        rule: Optional[str] = None,
        start_time: Time = None,
        end_time: Time = None,
        limit: int = 0,
    ) -> List[Dict[str, Any]]:
        """Every alert event (of `rule` only, when given) between the times,
        newest first, at most `limit` (0: 100)."""
        raw_rule = None if rule is None else _ffi.encode(rule, "rule")
        return self._call_json(
            _ffi.alerts_history,
            raw_rule,
            _epoch_ms(start_time, "start_time"),
            _epoch_ms(end_time, "end_time"),
            limit,
        )

    def alert_rules(self) -> List[Dict[str, Any]]:
        """Every deployed alert rule with its state now."""
        return self._call_json(_ffi.alerts_rules)

    def acknowledge_alert(self, alert_id: int, actor: Optional[str] = None) -> Dict[str, Any]:
        """Acknowledges the firing alert `alert_id` (as `actor`, the login
        name by default); returns the alert.

        Raises:
            NotFoundError: no alert has that id.
            InvalidArgumentError: it is resolved already.
        """
        return self._call_json(_ffi.alert_acknowledge, alert_id, actor_argument(actor))

    def resolve_alert(self, alert_id: int, actor: Optional[str] = None) -> Dict[str, Any]:
        """Resolves the firing alert `alert_id` by hand; returns the alert.

        Raises:
            NotFoundError: no alert has that id.
            InvalidArgumentError: it is resolved already.
        """
        return self._call_json(_ffi.alert_resolve, alert_id, actor_argument(actor))

    def generate_performance_report(
        self, start_time: Time = None, end_time: Time = None
    ) -> Dict[str, Any]:
        """The performance report between `start_time` (None: the first
        stored data) and `end_time` (None: now): per metric ``count``,
        ``mean``, ``median``, ``std_dev``, ``min``, ``max``, ``p50``,
        ``p90``, ``p95``, ``p99``, ``trend`` (against the previous period of
        the same length), ``thresholds``, ``alerts``,
        ``recommendations``; the alerts; flag usage; every recommendation.

        Raises:
            InvalidArgumentError: the end is before the start.
        """
        return self._call_json(
            _ffi.performance_report,
            _epoch_ms(start_time, "start_time"),
            _epoch_ms(end_time, "end_time"),
        )

    def export_metrics(self, format: str = "openmetrics") -> str:  # noqa: A002 - the CLI's word
        """The current values as text for Prometheus: ``"openmetrics"`` (the
        default) or ``"prometheus"`` (text format 0.0.4)."""
        return self._call(_ffi.metrics_export, _ffi.encode(format, "format"))

    def list_metrics(self) -> List[Dict[str, Any]]:
        """Every stored series with its all-time totals."""
        return self._call_json(_ffi.metrics_list)

    def flag_usage(self, start_time: Time = None, end_time: Time = None) -> Dict[str, Any]:
        """Flag evaluations between the times, as Unleash clients report
        them: per flag ``evaluations``, ``on``, ``off``, ``variants``,
        ``stale``; ``unknown`` flag names asked for with their counts."""
        return self._call_json(
            _ffi.flag_usage, _epoch_ms(start_time, "start_time"), _epoch_ms(end_time, "end_time")
        )

    def sample_system_metrics(self) -> Dict[str, float]:
        """Samples the system metrics once (about 0.2 s), records them as
        gauges and returns them by name."""
        return self._call_json(_ffi.system_metrics_sample)

    def _release(self, handle: int) -> None:
        try:
            super()._release(handle)
        finally:
            self._alert_callback = None
