"""User feedback: the feedback methods of :class:`cha_deploy.Cha`
(:class:`UserFeedback`: ``submit_feedback`` and one helper per type,
``get_feedback``, ``list_feedback``, the status changes, ``merge_feedback``
and ``analyze_feedback``), and the names of types, statuses and priorities.

Triage (sentiment, priority, category, routing, the response), the links to
flags and variants, the duplicate search and the analysis all happen in the
library; this module only passes the arguments and gives the answers a
Python shape.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, List, Mapping, Optional, Union

import json

from . import _ffi
from ._handle import Handle, Id, actor_argument, dict_argument, id_text, json_argument
from ._names import Name
from .errors import InvalidArgumentError

__all__ = ["UserFeedback", "FeedbackType", "FeedbackStatus", "Priority", "Sentiment"]

#: A time: a datetime (naive ones are UTC) or Unix epoch milliseconds.
Time = Union[_dt.datetime, int]


class FeedbackType(Name):
    """The type of a feedback item."""

    BUG_REPORT = "bug_report"
    FEATURE_REQUEST = "feature_request"
    PERFORMANCE_ISSUE = "performance_issue"
    USABILITY_ISSUE = "usability_issue"
    GENERAL_FEEDBACK = "general_feedback"
    #: Must carry a rating from 1 to 5.
    SATISFACTION_SURVEY = "satisfaction_survey"


class FeedbackStatus(Name):
    """Where an item stands in the workflow: new → acknowledged →
    in_progress → resolved → closed; duplicate when merged."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DUPLICATE = "duplicate"


class Priority(Name):
    """How urgent an item is."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Sentiment(Name):
    """The sentiment label of an item's text."""

    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


def _ms(value: Optional[Time], what: str) -> int:
    """A time as Unix epoch milliseconds; None is 0 (unbounded)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a datetime or milliseconds, not bool")
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(round(value.timestamp() * 1000))
    if isinstance(value, int):
        return _int64(value, what)
    raise TypeError(f"{what} must be a datetime or milliseconds, not {type(value).__name__}")


def _rfc3339(value: Time, what: str) -> str:
    """A time as the RFC 3339 text the library reads."""
    ms = _ms(value, what)
    moment = _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _int64(value: Any, what: str) -> int:
    """An id or time as the ``int64_t`` a C function takes: a bool or a
    non-int raises TypeError, a number outside int64 OverflowError (ctypes
    would wrap it)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not -(2**63) <= value < 2**63:
        raise OverflowError(f"{what} {value} does not fit an int64")
    return value


def _text_json(value: Any, what: str) -> bytes:
    """`value` as JSON bytes with its text as written: a lone surrogate
    reaches the library as the invalid UTF-8 it is (InvalidUtf8Error), not
    as a JSON escape."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(
            InvalidArgumentError.STATUS, f"{what} cannot be sent as JSON: {e}"
        ) from None
    return _ffi.encode(text, what)


def _name(value: Union[Name, str]) -> str:
    return value.value if isinstance(value, Name) else value


class UserFeedback(Handle):
    """The feedback methods of :class:`cha_deploy.Cha`."""

    def submit_feedback(
        self,
        feedback_type: Union[FeedbackType, str],
        text: str,
        user_id: Optional[Id] = None,
        *,
        rating: Optional[int] = None,
        category: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
        submitted_at: Optional[Time] = None,
    ) -> Dict[str, Any]:
        """Stores one piece of feedback and returns it as
        :meth:`get_feedback` does: with its ``sentiment`` (``score``,
        ``label``), ``priority``, ``route`` (``queue``), ``response``,
        ``status``, ``duplicate_of`` (when merged into an earlier report on
        arrival) and the flags and variants its user saw (``exposures``).

        Stored when this returns. Looks at flags without exposing anyone.

        Args:
            feedback_type: a :class:`FeedbackType` or its name.
            text: what the user says (up to 64 KiB; e-mail addresses and
                phone numbers are redacted when user_feedback.yml says so).
            user_id: who says it; the login name by default.
            rating: 1 to 5; required for a satisfaction survey.
            category: one of user_feedback.yml's categories; found from the
                text when None.
            context: a dict of where it was written from (``network_id``,
                ``app_version``, ...).
            submitted_at: when, for importing feedback collected elsewhere;
                now by default.

        Raises:
            InvalidArgumentError: an unknown type or category, a rating
                outside 1..5 (or none for a survey), empty or too long text,
                a context that is not a dict; nothing is stored.
            InvalidUtf8Error: text with lone surrogates.
        """
        if user_id is None:
            user_id = actor_argument(None).decode("utf-8")
        submission: Dict[str, Any] = {
            "type": _name(feedback_type),
            "text": text,
            "user_id": id_text(user_id, "user_id"),
        }
        if rating is not None:
            submission["rating"] = rating
        if category is not None:
            submission["category"] = category
        if context is not None:
            submission["context"] = dict(
                dict_argument(context, "context", "such as {\"network_id\": \"north-7\"}")
            )
        if submitted_at is not None:
            submission["submitted_at"] = _rfc3339(submitted_at, "submitted_at")
        raw = _text_json(submission, "feedback_json")
        feedback_id = self._call(_ffi.feedback_submit, raw)
        return self.get_feedback(feedback_id)

    def submit_bug_report(self, text: str, user_id: Optional[Id] = None, **kw: Any) -> Dict[str, Any]:
        """:meth:`submit_feedback` of a bug report."""
        return self.submit_feedback(FeedbackType.BUG_REPORT, text, user_id, **kw)

    def submit_feature_request(
        self, text: str, user_id: Optional[Id] = None, **kw: Any
    ) -> Dict[str, Any]:
        """:meth:`submit_feedback` of a feature request."""
        return self.submit_feedback(FeedbackType.FEATURE_REQUEST, text, user_id, **kw)

    def submit_performance_issue(
        self, text: str, user_id: Optional[Id] = None, **kw: Any
    ) -> Dict[str, Any]:
        """:meth:`submit_feedback` of a performance issue."""
        return self.submit_feedback(FeedbackType.PERFORMANCE_ISSUE, text, user_id, **kw)

    def submit_usability_issue(
        self, text: str, user_id: Optional[Id] = None, **kw: Any
    ) -> Dict[str, Any]:
        """:meth:`submit_feedback` of a usability issue."""
        return self.submit_feedback(FeedbackType.USABILITY_ISSUE, text, user_id, **kw)

    def submit_general_feedback(
        self, text: str, user_id: Optional[Id] = None, **kw: Any
    ) -> Dict[str, Any]:
        """:meth:`submit_feedback` of general feedback."""
        return self.submit_feedback(FeedbackType.GENERAL_FEEDBACK, text, user_id, **kw)

    def submit_satisfaction_survey(
        self, rating: int, text: str, user_id: Optional[Id] = None, **kw: Any
    ) -> Dict[str, Any]:
        """:meth:`submit_feedback` of a survey answer with its `rating` (1 to 5)."""
        return self.submit_feedback(
            FeedbackType.SATISFACTION_SURVEY, text, user_id, rating=rating, **kw
        )

    def get_feedback(self, feedback_id: int) -> Dict[str, Any]:
        """Item `feedback_id`: ``id``, ``type``, ``text``, ``rating``,
        ``category``, ``user_id``, ``context``, ``submitted_at_ms``,
        ``sentiment`` {``score``, ``label``}, ``priority``,
        ``priority_reasons``, ``route`` {``queue``}, ``response``,
        ``status``, ``status_at_ms``, ``acknowledged_at_ms``,
        ``done_at_ms``, ``duplicate_of``, ``reports``, ``people``,
        ``redacted``, ``exposures`` {``flags``, ``experiments``} and
        ``history``.

        Raises:
            NotFoundError: there is no such item.
        """
        return self._call_json(_ffi.feedback_get, _int64(feedback_id, "feedback_id"))

    def list_feedback(
        self,
        *,
        status: Optional[Union[FeedbackStatus, str]] = None,
        feedback_type: Optional[Union[FeedbackType, str]] = None,
        category: Optional[str] = None,
        priority: Optional[Union[Priority, str]] = None,
        queue: Optional[str] = None,
        user_id: Optional[Id] = None,
        start: Optional[Time] = None,
        end: Optional[Time] = None,
        limit: int = 100,
    ) -> List[Dict[str, Any]]:
        """The items that match every given filter, newest first, as
        :meth:`get_feedback` gives them without ``exposures`` and
        ``history``.

        Raises:
            InvalidArgumentError: an unknown status, type or priority.
        """
        query: Dict[str, Any] = {
            "start_ms": _ms(start, "start"),
            "end_ms": _ms(end, "end"),
            "limit": limit,
        }
        for key, value in (
            ("status", status),
            ("type", feedback_type),
            ("category", category),
            ("priority", priority),
            ("queue", queue),
            ("user_id", None if user_id is None else id_text(user_id, "user_id")),
        ):
            if value is not None:
                query[key] = _name(value)
        return self._call_json(_ffi.feedback_list, json_argument(query, "feedback query"))

    def set_feedback_status(
        self,
        feedback_id: int,
        status: Union[FeedbackStatus, str],
        actor: Optional[str] = None,
        *,
        note: Optional[str] = None,
        at: Optional[Time] = None,
    ) -> Dict[str, Any]:
        """Moves item `feedback_id` to `status`, recorded with the time,
        `actor` (the login name by default) and `note`, and returns it.
        `at` (not before the item's last change) is for importing a
        workflow kept elsewhere.

        Raises:
            NotFoundError: there is no such item.
            InvalidArgumentError: a move the workflow does not allow (the
                message lists the allowed ones), ``duplicate`` (use
                :meth:`merge_feedback`), an unknown status.
        """
        change: Dict[str, Any] = {
            "status": _name(status),
            "actor": actor_argument(actor).decode("utf-8", "surrogatepass"),
        }
        if note is not None:
            change["note"] = note
        if at is not None:
            change["at"] = _rfc3339(at, "at")
        return self._call_json(
            _ffi.feedback_transition,
            _int64(feedback_id, "feedback_id"),
            _text_json(change, "change_json"),
        )

    def acknowledge_feedback(
        self, feedback_id: int, actor: Optional[str] = None, *, note: Optional[str] = None
    ) -> Dict[str, Any]:
        """:meth:`set_feedback_status` to ``acknowledged``."""
        return self.set_feedback_status(feedback_id, FeedbackStatus.ACKNOWLEDGED, actor, note=note)

    def start_feedback(
        self, feedback_id: int, actor: Optional[str] = None, *, note: Optional[str] = None
    ) -> Dict[str, Any]:
        """:meth:`set_feedback_status` to ``in_progress`` (also reopens a
        resolved item)."""
        return self.set_feedback_status(feedback_id, FeedbackStatus.IN_PROGRESS, actor, note=note)

    def resolve_feedback(
        self, feedback_id: int, actor: Optional[str] = None, *, note: Optional[str] = None
    ) -> Dict[str, Any]:
        """:meth:`set_feedback_status` to ``resolved``."""
        return self.set_feedback_status(feedback_id, FeedbackStatus.RESOLVED, actor, note=note)

    def close_feedback(
        self, feedback_id: int, actor: Optional[str] = None, *, note: Optional[str] = None
    ) -> Dict[str, Any]:
        """:meth:`set_feedback_status` to ``closed``."""
        return self.set_feedback_status(feedback_id, FeedbackStatus.CLOSED, actor, note=note)

    def merge_feedback(
        self, feedback_id: int, into_id: int, actor: Optional[str] = None
    ) -> Dict[str, Any]:
        """Merges item `feedback_id` into the report `into_id` it repeats
        (into that report's original, when it is itself a copy) and returns
        it: it becomes a ``duplicate``, and the original counts its reports
        and the different people again.

        Raises:
            NotFoundError: either item does not exist.
            InvalidArgumentError: an item into itself, or one whose status
                cannot become ``duplicate``.
        """
        self._call(
            _ffi.feedback_merge,
            _int64(feedback_id, "feedback_id"),
            _int64(into_id, "into_id"),
            actor_argument(actor),
        )
        return self.get_feedback(feedback_id)

    def analyze_feedback(
        self,
        start_date: Optional[Time] = None,
        end_date: Optional[Time] = None,
        *,
        period: Optional[str] = None,
        users_exposed: Optional[int] = None,
        top_issues: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Analyses the feedback submitted from `start_date` to `end_date`
        (excluded; None: unbounded): ``total_items``, ``volume`` by type,
        category, priority and sentiment, ``satisfaction`` (average rating,
        CSAT, sentiment), ``categories``, the ``trend`` per day or week
        with its slope, the ``top_issues`` (counted by people, not copies),
        satisfaction and sentiment per variant of each experiment
        (``experiments``) and per flag state (``flags``), each tested
        against the control with Welch's t-test, the seed's
        ``success_metrics`` against their targets and ``recommendations``
        naming their numbers.

        Args:
            period: ``"day"`` or ``"week"``; by default days, or weeks for a
                span of more than 90 days.
            users_exposed: the users exposed to the system, for the
                collection rate, when the library cannot know them.
            top_issues: how many top issues (default 10).

        Raises:
            InvalidArgumentError: a range that ends before it starts, an
                unknown period.
        """
        options: Dict[str, Any] = {}
        if period is not None:
            options["period"] = period
        if users_exposed is not None:
            options["users_exposed"] = users_exposed
        if top_issues is not None:
            options["top_issues"] = top_issues
        return self._call_json(
            _ffi.feedback_analyze,
            _ms(start_date, "start_date"),
            _ms(end_date, "end_date"),
            json_argument(options, "analysis options"),
        )
