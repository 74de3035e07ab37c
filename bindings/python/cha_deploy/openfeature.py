"""An OpenFeature provider backed by cha-deploy, for code written against
the vendor-neutral OpenFeature API (the ``openfeature-sdk`` package, the
optional extra ``openfeature``: ``pip install "./bindings/python[openfeature]"``).

    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    from cha_deploy.openfeature import ChaProvider

    api.set_provider(ChaProvider("cha.db"))
    client = api.get_client()
    limit = client.get_float_value(
        "velocity_limit", 2.0, EvaluationContext("planner-7", {"site": "north-7"})
    )

How OpenFeature's words map onto cha-deploy's:

- The evaluation context's targeting key is the ``user_id``; the attributes
  ``session_id``, ``groups``, ``environment``, ``app_name``,
  ``remote_address`` and ``current_time`` are the context fields of those
  names, and every other attribute is a custom property that rules'
  constraints and stickiness read (strings, numbers and booleans).
- A boolean is the payload of the variant served when it is a boolean, and
  otherwise whether the flag is on; strings, integers, floats and objects
  are the variant's payload (a variant without one is its name, as a
  string). A payload of another type is ``TYPE_MISMATCH``.
- The reasons (``STATIC``, ``TARGETING_MATCH``, ``SPLIT``, ``DEFAULT``,
  ``DISABLED``, ``ERROR``, and cha-deploy's own ``SCHEDULE`` and
  ``PREREQUISITE_FAILED``) and the error codes (``FLAG_NOT_FOUND``,
  ``TYPE_MISMATCH``, ``INVALID_CONTEXT``) are passed through by name.
- A database that cannot be opened fails initialisation: the provider is
  FATAL for a database that is not cha-deploy's or is too new, in ERROR
  otherwise (a lock, a missing folder), and the SDK serves the defaults.

Evaluation never raises: an error is the caller's default with the reason
``ERROR`` and its code, as OpenFeature requires.
"""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping, Sequence as AbcSequence
from typing import Any, Dict, List, Optional, Sequence, Union

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode as OFErrorCode
from openfeature.exception import ProviderFatalError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
from openfeature.provider import AbstractProvider, Metadata

from ._cha import Cha, open as open_cha
from ._handle import PathLike
from .errors import ChaError, StorageError

__all__ = ["ChaProvider"]

#: Attributes of an OpenFeature context that are fields of cha-deploy's
#: context; any other attribute is a custom property.
CONTEXT_FIELDS = ("session_id", "groups", "environment", "app_name", "remote_address", "current_time")

_Object = Union[Sequence[FlagValueType], Dict[str, FlagValueType]]


class ChaProvider(AbstractProvider):
    """An OpenFeature provider that evaluates cha-deploy's flags.

    Args:
        database: an open :class:`cha_deploy.Cha` (used as it is, and left
            open at shutdown), or the path of a database, opened when the
            SDK initialises the provider and closed at its shutdown.
        **options: open options of :func:`cha_deploy.open` for a path.
    """

    def __init__(self, database: Union[Cha, PathLike], **options: Any) -> None:
        super().__init__()
        self._owned = not isinstance(database, Cha)
        self._path = None if isinstance(database, Cha) else database
        self._options = options
        self._cha: Optional[Cha] = database if isinstance(database, Cha) else None

    def get_metadata(self) -> Metadata:
        """The provider's name, ``cha-deploy``."""
        return Metadata(name="cha-deploy")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Opens the database given as a path.

        Raises:
            ProviderFatalError: the file is not a cha-deploy database, or
                one of a newer schema: no retry will help.
            ChaError: any other failure to open (a lock, a missing folder).
        """
        if self._cha is not None:
            return
        assert self._path is not None
        try:
            self._cha = open_cha(self._path, **self._options)
        except StorageError as e:
            if "not a SQLite database" in e.message or "newer" in e.message:
                raise ProviderFatalError(e.message) from e
            raise

    def shutdown(self) -> None:
        """Closes the database the provider opened."""
        if self._owned and self._cha is not None:
            self._cha.close()
            self._cha = None

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[bool]:
        """The payload of the variant served when it is a boolean, else
        whether the flag is on; `default_value` on any error."""
        as_json = self._resolve(flag_key, default_value, "json", evaluation_context)
        if as_json.error_code is not None and as_json.error_code != OFErrorCode.TYPE_MISMATCH:
            return as_json
        if as_json.error_code is None and isinstance(as_json.value, bool):
            return as_json
        if as_json.error_code is None and as_json.value != as_json.variant:
            if as_json.variant is None:
                return as_json  # off: the default, with the reason it is off
            return _mismatch(default_value, as_json, "boolean")
        # A variant without a payload, or no variant: whether the flag is on.
        return self._resolve(flag_key, default_value, "bool", evaluation_context)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[str]:
        """The variant's string payload (or its name); `default_value` on any error."""
        return self._resolve(flag_key, default_value, "string", evaluation_context)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[int]:
        """The variant's whole-number payload; `default_value` on any error."""
        return self._resolve(flag_key, default_value, "int", evaluation_context)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[float]:
        """The variant's number payload; `default_value` on any error."""
        return self._resolve(flag_key, float(default_value), "double", evaluation_context)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: _Object,
        evaluation_context: Optional[EvaluationContext] = None,
    ) -> FlagResolutionDetails[_Object]:
        """The variant's object or list payload; `default_value` on any error."""
        details = self._resolve(flag_key, default_value, "json", evaluation_context)
        if details.error_code is None and not isinstance(details.value, (AbcMapping, list)):
            return _mismatch(default_value, details, "object")
        return details

    def _resolve(
        self, flag_key: str, default: Any, kind: str, context: Optional[EvaluationContext]
    ) -> FlagResolutionDetails[Any]:
        if self._cha is None:
            return FlagResolutionDetails(
                value=default,
                reason="ERROR",
                error_code=OFErrorCode.PROVIDER_NOT_READY,
                error_message="the cha-deploy provider is not initialised",
            )
        try:
            user_id, groups, fields = _context(context)
            resolved = self._cha.flag_details(
                flag_key, default, kind, user_id=user_id, user_groups=groups, context=fields
            )
        except (ChaError, TypeError, ValueError, OverflowError) as e:
            return FlagResolutionDetails(
                value=default, reason="ERROR", error_code=OFErrorCode.GENERAL, error_message=str(e)
            )
        error = None if resolved.error is None else _error_code(str(resolved.error))
        return FlagResolutionDetails(
            value=resolved.value,
            variant=resolved.variant,
            reason=str(resolved.reason),
            error_code=error,
            error_message=None if error is None else f"{flag_key}: {resolved.error}",
        )


def _mismatch(default: Any, found: FlagResolutionDetails[Any], wanted: str) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(
        value=default,
        reason="ERROR",
        error_code=OFErrorCode.TYPE_MISMATCH,
        error_message=f"the variant {found.variant!r} holds {found.value!r}, not a {wanted}",
    )


def _error_code(name: str) -> OFErrorCode:
    try:
        return OFErrorCode(name)
    except ValueError:
        return OFErrorCode.GENERAL


def _context(
    context: Optional[EvaluationContext],
) -> "tuple[Optional[str], Optional[List[str]], Dict[str, Any]]":
    """(user_id, groups, other fields with the custom properties) of an
    OpenFeature evaluation context."""
    if context is None:
        return None, None, {}
    fields: Dict[str, Any] = {}
    properties: Dict[str, Any] = {}
    groups: Optional[List[str]] = None
    for key, value in (context.attributes or {}).items():
        if key == "groups":
            if isinstance(value, str) or not isinstance(value, AbcSequence):
                raise TypeError("the context attribute groups must be a list of strings")
            groups = list(value)
        elif key in CONTEXT_FIELDS:
            fields[key] = value
        else:
            properties[key] = value
    if properties:
        fields["properties"] = properties
    return context.targeting_key, groups, fields
