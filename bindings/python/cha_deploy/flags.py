"""Feature flags: the result of an evaluation, its reasons and error codes,
and the pre-resolved :class:`FlagHandle` for inner loops.

The evaluation itself happens in the library (see :meth:`cha_deploy.Cha.is_enabled`);
this module only gives its answer a Python shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Union

from . import _ffi
from ._names import Name

if TYPE_CHECKING:  # only for type hints: __init__ imports this module
    from . import Cha

__all__ = ["Reason", "ErrorCode", "FeatureFlagEvaluation", "FlagHandle"]


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

    def __init__(self, cha: "Cha", name: str, flag_id: int) -> None:
        self._cha = cha
        self._id = flag_id
        #: The flag's name.
        self.name = name

    def enabled(self, user_id: Optional[str] = None, groups: Iterable[str] = ()) -> bool:
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
        raw_user = None if user_id is None else _ffi.encode(user_id, "user_id")
        raw_groups = [_ffi.encode(g, "groups[i]") for g in groups]
        with self._cha._borrow() as handle:
            return _ffi.flag_enabled_id(handle, self._id, raw_user, raw_groups)

    def __repr__(self) -> str:
        return f"<cha_deploy.FlagHandle {self.name!r} id={self._id}>"
