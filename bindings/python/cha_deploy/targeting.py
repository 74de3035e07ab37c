"""Targeting: the typed-value, segment and import methods of
:class:`cha_deploy.Cha` (:class:`Targeting`), and :class:`FlagResolution`,
how a typed value was resolved.

Typed values follow OpenFeature's typed evaluation: the caller gives a
default, and gets it back on any evaluation error (an unknown flag, a
context that cannot be read, a payload of another type) with the reason,
never an exception. The rules, segments, environments and variants that
decide are in feature_flags.yml and the library; this module only passes the
question and gives the answer a Python shape.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Generic, List, Mapping, Optional, Sequence, TypeVar, Union

from . import _ffi
from ._handle import Handle, Id, actor_argument, dict_argument, json_argument
from ._managed import Managed
from .errors import InvalidArgumentError
from .flags import ErrorCode, Reason, _context_json, _known

__all__ = ["Targeting", "FlagResolution", "PreparedContext"]

_T = TypeVar("_T")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: The types :meth:`Targeting.experiment_param` reads, by the Python type asked for.
_PARAM_KINDS = {float: "double", int: "int", bool: "bool", str: "string"}


@dataclass(frozen=True)
class FlagResolution(Generic[_T]):
    """A typed value of a flag and how it was resolved (``cha_flag_details``).

    Attributes:
        flag: the flag's name, as asked for.
        value: the flag's value for the context, or the caller's default.
        reason: why (a :class:`~cha_deploy.Reason`: ``TARGETING_MATCH`` when
            a rule decided, ``ERROR`` when the default was served for an
            error, ...).
        error: with reason ``ERROR``, an :class:`~cha_deploy.ErrorCode`
            (``FLAG_NOT_FOUND``, ``TYPE_MISMATCH``, ``INVALID_CONTEXT``);
            else None.
        variant: the variant the value came from, else None.
    """

    flag: str
    value: _T
    reason: Union[Reason, str]
    error: Optional[Union[ErrorCode, str]]
    variant: Optional[str]


class PreparedContext(Managed):
    """A context parsed and checked once by the library (``cha_context_new``),
    for the typed getters of :class:`Targeting`: pass it as their
    ``context`` and they evaluate without building and parsing JSON on every
    call. For a simulation that asks many flags about the same engineer,
    site and network.

    It belongs to no :class:`~cha_deploy.Cha`: use it with any open one,
    from any thread, until :meth:`close` (or the end of a ``with`` block, or
    garbage collection). Using it after ``close()`` raises
    :class:`~cha_deploy.ClosedHandleError`.

    Args:
        user_id: the user, as for :meth:`~cha_deploy.Cha.is_enabled`.
        user_groups: the user's groups.
        context: the rest of the context: ``session_id``, ``environment``,
            ``app_name``, ``remote_address``, ``properties`` (a dict),
            ``current_time`` (an aware ``datetime`` or an RFC 3339 string).

    Raises:
        TypeError: `user_id` is neither a str nor an int, `user_groups` is a
            single string.
        InvalidArgumentError: `context` is not a dict, or the library
            refuses it (an unknown key, a value of the wrong type, a lone
            surrogate in a string), saying which.
    """

    def __init__(
        self,
        user_id: Optional[Id] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Mapping[str, Any]] = None,
    ) -> None:
        context_json = _context_json(user_id, user_groups, context) or b"{}"
        super().__init__(_ffi.context_new(context_json))

    def _release(self, handle: int) -> None:
        _ffi.context_free(handle)

    def _release_quietly(self, handle: int) -> None:
        _ffi.context_free(handle)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<cha_deploy.PreparedContext {state}>"


class Targeting(Handle):
    """Typed flag values with the caller's default, segments, the Unleash
    import and typed experiment parameters."""

    def flag_bool(
        self,
        flag_name: str,
        default: bool,
        user_id: Optional[str] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Union[Mapping[str, Any], PreparedContext]] = None,
    ) -> bool:
        """Whether `flag_name` is on for the context, or `default` on any
        evaluation error. `user_id`, `user_groups` and `context` are those
        of :meth:`is_enabled` (``environment`` picks the flag's environment
        override, ``properties`` feed the rules' constraints); `context`
        may also be a :class:`PreparedContext` (then without `user_id` and
        `user_groups`, which it holds), the fast way for many calls.

        Raises:
            TypeError: `default` is not a bool, a string argument not a str.
        """
        return self.flag_details(flag_name, default, "bool", user_id, user_groups, context).value

    def flag_string(
        self,
        flag_name: str,
        default: str,
        user_id: Optional[str] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Union[Mapping[str, Any], PreparedContext]] = None,
    ) -> str:
        """The string payload of the variant `flag_name` gives the context
        (a variant without payload: its name), or `default`."""
        return self.flag_details(flag_name, default, "string", user_id, user_groups, context).value

    def flag_double(
        self,
        flag_name: str,
        default: float,
        user_id: Optional[str] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Union[Mapping[str, Any], PreparedContext]] = None,
    ) -> float:
        """The number payload of the variant `flag_name` gives the context
        (``max_velocity_ms`` as a float), or `default`."""
        return self.flag_details(flag_name, default, "double", user_id, user_groups, context).value

    def flag_int(
        self,
        flag_name: str,
        default: int,
        user_id: Optional[str] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Union[Mapping[str, Any], PreparedContext]] = None,
    ) -> int:
        """The whole-number payload of the variant `flag_name` gives the
        context, or `default`."""
        return self.flag_details(flag_name, default, "int", user_id, user_groups, context).value

    def flag_json(
        self,
        flag_name: str,
        default: Any,
        user_id: Optional[str] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Union[Mapping[str, Any], PreparedContext]] = None,
    ) -> Any:
        """The payload (any JSON value, decoded) of the variant `flag_name`
        gives the context, or `default`."""
        return self.flag_details(flag_name, default, "json", user_id, user_groups, context).value

    def flag_details(
        self,
        flag_name: str,
        default: Any,
        type: str = "bool",  # noqa: A002 - the word the CLI and docs use
        user_id: Optional[str] = None,
        user_groups: Optional[Sequence[str]] = None,
        context: Optional[Union[Mapping[str, Any], PreparedContext]] = None,
    ) -> FlagResolution[Any]:
        """The value of `flag_name` as `type` (``"bool"``, ``"string"``,
        ``"double"``, ``"int"`` or ``"json"``) with how it was resolved: the
        reason, the error code when `default` was served for an error, the
        variant.

        A payload of another type gives `default` with reason ``ERROR`` and
        error ``TYPE_MISMATCH``; an unknown flag, ``FLAG_NOT_FOUND``; a
        context the library cannot read, ``INVALID_CONTEXT``.

        `context` may be a :class:`PreparedContext`: the context parsed
        once, for many calls (then `user_id` and `user_groups` stay None).

        Raises:
            TypeError: `default` is not of `type` (a bool for ``"bool"``, a
                str for ``"string"``, a number for ``"double"``, an int for
                ``"int"``, a JSON-serialisable value for ``"json"``),
                `flag_name` is not a str, or `user_id` or `user_groups` is
                given with a :class:`PreparedContext`.
            ClosedHandleError: the :class:`PreparedContext` is closed.
            ValueError: `type` is none of those.
            OverflowError: an ``"int"`` default outside 64 bits.
            InvalidUtf8Error: a string is not valid UTF-8 (lone surrogates).
        """
        raw_default = _default_argument(type, default)
        raw_flag = _ffi.encode(flag_name, "flag_name")
        if isinstance(context, PreparedContext):
            for given, name in ((user_id, "user_id"), (user_groups, "user_groups")):
                if given is not None:
                    raise TypeError(
                        f"{name} cannot be given with a PreparedContext: prepare it into the context"
                    )
            with context._borrow() as raw_context:
                value, reason, error, variant = self._call(
                    _ffi.flag_with_context, type, raw_flag, raw_context, raw_default
                )
        else:
            context_json = _context_json(user_id, user_groups, context)
            function = {
                "bool": _ffi.flag_bool,
                "string": _ffi.flag_string,
                "double": _ffi.flag_double,
                "int": _ffi.flag_int,
                "json": _ffi.flag_json,
            }[type]
            value, reason, error, variant = self._call(function, raw_flag, context_json, raw_default)
        if type == "json":
            value = json.loads(value)
        return FlagResolution(
            flag=flag_name,
            value=value,
            reason=_known(Reason, reason),
            error=None if error is None else _known(ErrorCode, error),
            variant=variant,
        )

    def experiment_param(self, experiment: str, variant: str, key: str, kind: type) -> Any:
        """Key `key` of the configuration of `variant` of `experiment`
        (ab_tests.yml), as `kind`: ``float``, ``int``, ``bool`` or ``str``
        (``cha.experiment_param("pipe_sizing_comparison", "intelligent",
        "max_velocity_ms", float)`` is ``2.0``). Exposes no one.

        Raises:
            TypeError: `kind` is not one of those types, or a name is not a str.
            NotFoundError: no such experiment, variant or key (the message
                lists those there are).
            InvalidArgumentError: the value is of another type.
        """
        if not isinstance(kind, type) or kind not in _PARAM_KINDS:
            raise TypeError(f"kind must be float, int, bool or str, not {kind!r}")
        return self._call(
            _ffi.experiment_param,
            _PARAM_KINDS[kind],
            _ffi.encode(experiment, "experiment"),
            _ffi.encode(variant, "variant"),
            _ffi.encode(key, "key"),
        )

    def list_segments(self) -> List[Dict[str, Any]]:
        """Every stored segment, by name: ``{"definition": {"name",
        "description", "constraints"}, "version", "updated_at_ms",
        "updated_by"}`` each."""
        return self._call_json(_ffi.segment_list)

    def set_segment(
        self, name: str, definition: Mapping[str, Any], actor: Optional[str] = None
    ) -> Dict[str, Any]:
        """Sets segment `name` to `definition` (``{"description",
        "constraints": [...]}``, the fields under ``segments:`` in
        feature_flags.yml), creating it if needed. Every flag whose rules
        name it follows at once.

        Returns:
            ``{"segment", "version", "changed", "before", "after"}``.

        Raises:
            ConfigError: an invalid constraint (a bad regex or CIDR, an
                unknown operator), named with its field path.
            InvalidArgumentError: `definition` is not a dict, `actor` empty.
        """
        fields = dict_argument(definition, "definition", '{"constraints": [...]}')
        return self._call_json(
            _ffi.segment_set,
            _ffi.encode(name, "name"),
            json_argument(dict(fields), "definition"),
            actor_argument(actor),
        )

    def delete_segment(self, name: str, actor: Optional[str] = None) -> Dict[str, Any]:
        """Deletes segment `name`, which no flag may name any more.

        Raises:
            NotFoundError: no such segment.
            ConfigError: a flag's rule still names it.
        """
        return self._call_json(
            _ffi.segment_set, _ffi.encode(name, "name"), None, actor_argument(actor)
        )

    def import_unleash(
        self,
        document: Union[str, Mapping[str, Any], "os.PathLike[str]"],
        dry_run: bool = False,
        actor: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Imports an Unleash client-features document: its features become
        flags and its segments segments, created or replaced by name in one
        transaction. What cannot be translated exactly is reported by name,
        never dropped in silence.

        Args:
            document: the document as JSON text, as a dict, or the path
                (a ``pathlib.Path``) of a JSON file.
            dry_run: check and report, write nothing.

        Returns:
            ``{"source", "dry_run", "actor", "flags": [{"name", "action",
            "version"}], "segments": [...], "untranslated": [{"item",
            "path", "message"}]}``.

        Raises:
            TypeError: `document` is none of those, `dry_run` not a bool.
            InvalidArgumentError: not an Unleash client-features document.
            ConfigError: the flags would not fit those already there.
        """
        if isinstance(document, os.PathLike):
            with open(document, encoding="utf-8") as f:
                text = f.read()
        elif isinstance(document, str):
            text = document
        elif isinstance(document, Mapping):
            text = json.dumps(dict(document))
        else:
            raise TypeError(
                "document must be JSON text, a dict or a path, not " f"{type(document).__name__}"
            )
        if not isinstance(dry_run, bool):
            raise TypeError(f"dry_run must be a bool, not {type(dry_run).__name__}")
        options = {"dry_run": dry_run, "actor": actor_argument(actor).decode("utf-8")}
        return self._call_json(
            _ffi.import_unleash,
            _ffi.encode(text, "document"),
            json_argument(options, "options"),
        )


def _default_argument(kind: str, default: Any) -> Any:
    """`default` as the C function of `kind` takes it; TypeError naming
    ``default`` when it is not of that type."""
    def wrong(expected: str) -> TypeError:
        return TypeError(f"default must be {expected}, not {type(default).__name__}")

    if kind == "bool":
        if not isinstance(default, bool):
            raise wrong("a bool")
        return default
    if kind == "string":
        if not isinstance(default, str):
            raise wrong("a str")
        return _ffi.encode(default, "default")
    if kind == "double":
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise wrong("a number")
        return float(default)
    if kind == "int":
        if isinstance(default, bool) or not isinstance(default, int):
            raise wrong("an int")
        if not _INT64_MIN <= default <= _INT64_MAX:
            raise OverflowError(f"default {default} does not fit 64 bits")
        return default
    if kind == "json":
        try:
            text = json.dumps(default, allow_nan=False)
        except TypeError:
            raise wrong("JSON-serialisable") from None
        except ValueError as e:
            raise InvalidArgumentError(
                InvalidArgumentError.STATUS, f"default cannot be sent as JSON: {e}"
            ) from None
        return _ffi.encode(text, "default")
    raise ValueError(f"type must be bool, string, double, int or json, not {kind!r}")
