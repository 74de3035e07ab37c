"""Feature flags: the flag methods of :class:`cha_deploy.Cha`
(:class:`FeatureFlags`), the result of an evaluation, its reasons and error
codes, and the pre-resolved :class:`FlagHandle` for inner loops.

The evaluation itself happens in the library; this module only passes the
question and gives the answer a Python shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from . import _ffi
from ._handle import Handle, Id, actor_argument, dict_argument, id_argument, id_text, json_argument
from ._names import Name
from .errors import InvalidArgumentError

__all__ = ["FeatureFlags", "Reason", "ErrorCode", "FeatureFlagEvaluation", "FlagHandle"]


class Reason(Name):
    """Why an evaluation came out as it did (after OpenFeature). A ``str``, so
    ``evaluation.reason == "SPLIT"`` holds."""

    #: The flag's kill switch (``enabled: false``) is off.
    DISABLED = "DISABLED"
    #: A boolean flag: on for everyone.
    STATIC = "STATIC"
    #: A user or group rule of a user_group flag decided.
    TARGETING_MATCH = "TARGETING_MATCH"
    #: A percentage or a_b_test split placed the unit.
    SPLIT = "SPLIT"
    #: A time_based flag's window or schedule step decided.
    SCHEDULE = "SCHEDULE"
    #: A prerequisite flag was off for the same context.
    PREREQUISITE_FAILED = "PREREQUISITE_FAILED"
    #: No rule matched: the flag's ``default``.
    DEFAULT = "DEFAULT"
    #: The flag could not be evaluated; see the error code.
    ERROR = "ERROR"


class ErrorCode(Name):
    """What went wrong when the reason is :attr:`Reason.ERROR`."""

    #: No flag has that name: the evaluation is off.
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    #: The flag is of a type the question does not fit.
    TYPE_MISMATCH = "TYPE_MISMATCH"
    #: The context lacks the flag's stickiness attribute (e.g. no user_id for
    #: a percentage flag): the flag's ``default`` is served.
    INVALID_CONTEXT = "INVALID_CONTEXT"


@dataclass(frozen=True)
class FeatureFlagEvaluation:
    """The outcome of one evaluation, as the library reports it.

    Truthy exactly when :attr:`enabled`, so ``if cha.is_enabled(...):`` reads
    as it should.

    Attributes:
        flag: the flag's name, as asked for.
        enabled: whether the feature is on for this context.
        variant: the a_b_test variant picked, else None.
        reason: why (a :class:`Reason`; a plain ``str`` for a reason this
            package does not know yet).
        rule: which rule decided, in a few words (``"include_groups: beta_testers"``).
        error: an :class:`ErrorCode` when ``reason`` is ``ERROR``, else None.
        payload: the variant's payload (any JSON value), else None.
    """

    flag: str
    enabled: bool
    variant: Optional[str]
    reason: Union[Reason, str]
    rule: str
    error: Optional[Union[ErrorCode, str]]
    payload: Any = None

    def __bool__(self) -> bool:
        return self.enabled

    @classmethod
    def from_json(cls, text: str) -> "FeatureFlagEvaluation":
        """Builds one from the JSON of ``cha_flag_evaluate``."""
        fields: Mapping[str, Any] = json.loads(text)
        error = fields.get("error")
        return cls(
            flag=fields["flag"],
            enabled=bool(fields["enabled"]),
            variant=fields.get("variant"),
            reason=_known(Reason, fields["reason"]),
            rule=fields.get("rule", ""),
            error=None if error is None else _known(ErrorCode, error),
            payload=fields.get("payload"),
        )


def _known(enum: Any, value: str) -> Any:
    """`value` as a member of `enum`; a value a newer library added stays a
    plain ``str`` rather than failing every evaluation."""
    try:
        return enum(value)
    except ValueError:
        return value


class FlagHandle:
    """A flag resolved once by name, for checks in inner loops (a simulation
    sizing every pipe of a network): :meth:`enabled` skips the name lookup
    and the JSON of :meth:`cha_deploy.Cha.is_enabled`.

    Get one with :meth:`cha_deploy.Cha.flag`. It stays valid for the life of
    its :class:`~cha_deploy.Cha` and follows changes to the flag; if the flag
    is removed later, it evaluates off. Using it after the ``Cha`` is closed
    raises :class:`~cha_deploy.ClosedHandleError`.
    """

    __slots__ = ("_cha", "_id", "name")

    def __init__(self, cha: Handle, name: str, flag_id: int) -> None:
        self._cha = cha
        self._id = flag_id
        #: The flag's name.
        self.name = name

    def enabled(self, user_id: Optional[Id] = None, groups: Iterable[str] = ()) -> bool:
        """Whether the flag is on now for `user_id` in `groups`.

        Without a `user_id`, a percentage or a_b_test flag serves its
        ``default`` (use :meth:`cha_deploy.Cha.is_enabled` to see why).

        Raises:
            ClosedHandleError: the ``Cha`` is closed.
            TypeError: `groups` is a single string.
            InvalidUtf8Error: a string is not valid UTF-8 (lone surrogates).
            InvalidArgumentError: a string contains a NUL character.
        """
        if isinstance(groups, (str, bytes)):
            raise TypeError("groups must be a list of group names, not a single string")
        raw_user = None if user_id is None else id_argument(user_id, "user_id")
        raw_groups = [_ffi.encode(g, "groups[i]") for g in groups]
        return self._cha._call(_ffi.flag_enabled_id, self._id, raw_user, raw_groups)

    def __repr__(self) -> str:
        return f"<cha_deploy.FlagHandle {self.name!r} id={self._id}>"


class FeatureFlags(Handle):
    """The feature-flag methods of :class:`cha_deploy.Cha`: evaluate, look
    up, change, list, audit and restore flags."""

    def is_enabled(
        self,
        flag_name: str,
        user_id: Optional[Id] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Mapping[str, Any]] = None,
        peek: bool = False,
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
            peek: look without exposing. An a_b_test flag linked to an A/B
                test answers with the user's variant in it and exposes the
                user (as :meth:`assign`); with ``peek=True`` (or
                ``"peek": True`` in `context`) it answers the same and
                exposes no one.

        An unknown flag is not an exception: it evaluates off with reason
        ``ERROR`` and error ``FLAG_NOT_FOUND``.

        Raises:
            InvalidArgumentError: `context` is not a dict, has an unknown key
                or a value of the wrong type, or a bad ``current_time``.
        """
        context_json = _context_json(user_id, user_groups, context, peek)
        raw_flag = _ffi.encode(flag_name, "flag")
        text = self._call(_ffi.flag_evaluate, raw_flag, context_json)
        return FeatureFlagEvaluation.from_json(text)

    def flag(self, name: str) -> FlagHandle:
        """A :class:`FlagHandle` for `name`: the fast path for inner loops.

        Raises:
            NotFoundError: no flag has that name now.
        """
        flag_id = self._call(_ffi.flag_lookup, _ffi.encode(name, "flag"))
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
        fields = dict_argument(
            updates, "updates", 'of feature_flags.yml fields such as {"percentage": 50}'
        )
        raw_flag = _ffi.encode(flag_name, "flag")
        raw_updates = json_argument(dict(fields), "updates")
        return self._call_json(_ffi.flag_change, raw_flag, raw_updates, actor_argument(actor))

    def pause_rollout(
        self, flag_name: str, reason: str = "", actor: Optional[str] = None
    ) -> Dict[str, Any]:
        """Holds the rollout of `flag_name` (a percentage flag, or a
        time_based flag with a schedule, that is on) where it is: the flag
        stays on for exactly the units it is on for now, until
        :meth:`resume_rollout`. A hold is a runtime change: a deploy refuses
        to undo it unless told to.

        Returns:
            The change, as :meth:`update_flag` returns it.

        Raises:
            InvalidArgumentError: no rollout in progress, or held already.
            NotFoundError: no such flag.
        """
        return self._call_json(
            _ffi.flag_pause_rollout,
            _ffi.encode(flag_name, "flag"),
            _ffi.encode(reason, "reason"),
            actor_argument(actor),
        )

    def resume_rollout(self, flag_name: str, actor: Optional[str] = None) -> Dict[str, Any]:
        """Lifts the hold of `flag_name`'s rollout (a pause, or a
        guardrail's pause or rollback): it follows its percentage or
        schedule again.

        Raises:
            InvalidArgumentError: it is not held.
            NotFoundError: no such flag.
        """
        return self._call_json(
            _ffi.flag_resume_rollout, _ffi.encode(flag_name, "flag"), actor_argument(actor)
        )

    def check_guardrails(self, now_ms: int = 0) -> List[Dict[str, Any]]:
        """Checks the guarded rollouts at `now_ms` (epoch milliseconds; 0:
        now) and stops those whose guardrails fire: an alert rule they name
        firing, or a guardrail metric of an experiment they name
        significantly harmed. The monitoring evaluator does this every
        minute by itself.

        Returns:
            The rollouts it stopped: ``{"flag", "action", "from_percentage",
            "percentage", "reasons", "at_ms", "version"}`` each.
        """
        if isinstance(now_ms, bool) or not isinstance(now_ms, int):
            raise TypeError(f"now_ms must be an int, not {type(now_ms).__name__}")
        return self._call_json(_ffi.guardrails_check, now_ms)

    def get_flag(self, name: str) -> Dict[str, Any]:
        """The stored flag `name`: ``{"definition": {...}, "version",
        "updated_at_ms", "updated_by"}``.

        Raises:
            NotFoundError: no flag has that name.
        """
        return self._call_json(_ffi.flag_get, _ffi.encode(name, "flag"))

    def list_flags(self) -> List[Dict[str, Any]]:
        """Every stored flag, by name, each as :meth:`get_flag` gives it."""
        return self._call_json(_ffi.flag_list)

    def flag_history(self, name: str) -> List[Dict[str, Any]]:
        """Every change to flag `name`, oldest first: ``{"id", "at_ms",
        "actor", "action", "kind", "subject", "version", "before", "after"}``.

        Raises:
            NotFoundError: the flag never existed.
        """
        return self._call_json(_ffi.flag_history, _ffi.encode(name, "flag"))

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
        return self._call_json(_ffi.flag_restore, raw_name, version, actor_argument(actor))


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
    user_id: Optional[Id],
    user_groups: Optional[Sequence[str]],
    context: Optional[Mapping[str, Any]],
    peek: bool = False,
) -> Optional[bytes]:
    """The context JSON of :meth:`FeatureFlags.is_enabled`, or None for an
    empty one. Only the shape is settled here; the library checks keys and
    values."""
    if context is not None:
        dict_argument(context, "context", 'such as {"session_id": "s1"}')
    if isinstance(user_groups, (str, bytes)):
        raise TypeError("user_groups must be a list of group names, not a single string")
    fields: Dict[str, Any] = dict(context or {})
    if user_id is not None:
        fields["user_id"] = id_text(user_id, "user_id")
    if user_groups is not None:
        fields["groups"] = list(user_groups)
    if peek:
        fields["peek"] = True
    if isinstance(fields.get("current_time"), datetime):
        fields["current_time"] = _rfc3339(fields["current_time"])
    if not fields:
        return None
    return json_argument(fields, "context")
