"""The base every subsystem of :class:`cha_deploy.Cha` builds on, and the
plumbing they share.

:class:`Handle` owns the library handle (open with options, flush, close) and
is the one way a method reaches the library: :meth:`Handle._call` borrows the
handle for one C call, :meth:`Handle._call_json` also parses the JSON it
returns. The C side (the status check, the typed exception, freeing returned
strings) is in ``_ffi``; the functions below turn Python arguments into what
the C functions take, for every subsystem alike.
"""

from __future__ import annotations

import getpass
import json
import numbers
import os
from typing import Any, Callable, Dict, Mapping, Optional, Type, TypeVar, Union

from . import _ffi
from ._managed import Managed
from .errors import InvalidArgumentError

__all__ = [
    "Handle",
    "Id",
    "PathLike",
    "actor_argument",
    "dict_argument",
    "id_argument",
    "id_text",
    "json_argument",
    "number_argument",
]

#: A file-system path, as ``os.fsencode`` takes it.
PathLike = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]

#: A user or unit id: a str, or an int (pipe-sizing code numbers its
#: networks), which stands for its decimal digits, as a C caller or the CLI
#: would write it: ``42`` and ``"42"`` are the same unit everywhere.
Id = Union[str, int]

_Result = TypeVar("_Result")
_Self = TypeVar("_Self", bound="Handle")


class Handle(Managed):
    """An open database handle with no subsystem's methods: what
    :class:`cha_deploy.Cha` adds its subsystems to. Its options are
    documented on :class:`~cha_deploy.Cha`."""

    def __init__(
        self,
        path: PathLike,
        *,
        journal_mode: Optional[str] = None,
        synchronous: Optional[str] = None,
        busy_timeout_ms: Optional[int] = None,
        flush_interval_ms: Optional[int] = None,
        refresh_interval_ms: Optional[int] = None,
        backup_dir: Optional[PathLike] = None,
        backups_kept: Optional[int] = None,
        metric_series_limit: Optional[int] = None,
        system_metrics_interval_ms: Optional[int] = None,
        evaluate_alerts: Optional[bool] = None,
        file_mode: Optional[str] = None,
        max_buffered_records: Optional[int] = None,
    ) -> None:
        given = {
            "journal_mode": journal_mode,
            "synchronous": synchronous,
            "busy_timeout_ms": busy_timeout_ms,
            "flush_interval_ms": flush_interval_ms,
            "refresh_interval_ms": refresh_interval_ms,
            "backup_dir": None if backup_dir is None else os.fsdecode(backup_dir),
            "backups_kept": backups_kept,
            "metric_series_limit": metric_series_limit,
            "system_metrics_interval_ms": system_metrics_interval_ms,
            "evaluate_alerts": evaluate_alerts,
            "file_mode": file_mode,
            "max_buffered_records": max_buffered_records,
        }
        self._connect(path, {k: v for k, v in given.items() if v is not None})

    @classmethod
    def _open(cls: Type[_Self], path: PathLike, options: Mapping[str, Any]) -> _Self:
        """Opens with options passed through as given, known or not, so
        that the library (not this binding) decides what is valid."""
        opened = cls.__new__(cls)
        opened._connect(path, options)
        return opened

    def _connect(self, path: PathLike, options: Mapping[str, Any]) -> None:
        raw_path = os.fsencode(path)
        # Plain json.dumps, not json_argument: a NaN or an unserialisable
        # option has always reached (or failed before) the library this way.
        handle = _ffi.open_handle(raw_path, json.dumps(dict(options)).encode("utf-8"))
        #: The database file, as given.
        self.path: str = os.fsdecode(raw_path)
        super().__init__(handle)

    def _call(self, function: Callable[..., _Result], *args: Any) -> _Result:
        """`function(handle, *args)` with the handle borrowed for the call:
        raises ClosedHandleError once closed, and keeps :meth:`close` from
        releasing the handle under a running call."""
        with self._borrow() as handle:
            return function(handle, *args)

    def _call_json(self, function: Callable[..., str], *args: Any) -> Any:
        """:meth:`_call` of a function that returns JSON text, parsed."""
        return json.loads(self._call(function, *args))

    def flush(self) -> None:
        """Persists everything recorded so far."""
        self._call(_ffi.flush)

    def get_health(self) -> Dict[str, Any]:
        """The handle's health, from memory (it answers while the database
        fails): ``state`` ("ok" or "failing"), ``last_flush_error`` and
        ``last_refresh_error`` (None, or a dict with ``status``,
        ``message``, ``at_ms``, ``since_ms``, ``failures``),
        ``snapshot_revision``, ``buffered_records``, ``buffer_limit``,
        ``refused_records`` and ``dropped_exposures``."""
        return self._call_json(_ffi.health)

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

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<cha_deploy.{type(self).__name__} {self.path!r} {state}>"


def actor_argument(given: Optional[str]) -> bytes:
    """The ``actor`` argument of an audited change: `given`, or the login
    name of the process (as the library's own default actor, with
    ``"unknown"`` when there is none)."""
    if given is None:
        try:
            given = getpass.getuser() or "unknown"
        except (KeyError, OSError):  # no login name, no passwd entry
            given = "unknown"
    return _ffi.encode(given, "actor")


def id_text(value: Any, what: str) -> str:
    """`value`, an :data:`Id`, as the string the library takes: an int (or
    any integral number, numpy's included) as its decimal digits. A bool,
    a float or anything else raises TypeError naming `what`: ``1.0`` or
    ``True`` as a unit would silently be a different unit than ``1``."""
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    raise TypeError(f"{what} must be a str or an int, not {type(value).__name__}")


def id_argument(value: Any, what: str) -> bytes:
    """:func:`id_text` as the NUL-terminated UTF-8 a C function takes."""
    return _ffi.encode(id_text(value, what), what)


def json_argument(value: Any, what: str) -> bytes:
    """`value` as the JSON text a C function takes; a value JSON cannot hold
    (NaN, a set, an object) raises InvalidArgumentError naming `what`."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(
            InvalidArgumentError.STATUS, f"{what} cannot be sent as JSON: {e}"
        ) from None
    return _ffi.encode(text, what)


def dict_argument(value: Any, what: str, example: str) -> Mapping[str, Any]:
    """`value`, which must be a dict: anything else raises
    InvalidArgumentError saying ``"{what} must be a dict {example}"``, since
    the library would only see its JSON and name the wrong thing."""
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            InvalidArgumentError.STATUS,
            f"{what} must be a dict {example}, not {type(value).__name__}",
        )
    return value


def number_argument(value: Any, what: str) -> float:
    """`value` as the ``double`` a C function takes. A non-number (a string,
    None) raises TypeError, as Python's own arithmetic would, rather than
    ctypes' ArgumentError; NaN and infinity pass, for the library to refuse."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    return float(value)
