"""cha_deploy: the rollout toolkit of the CHA intelligent pipe-sizing system.

Python binding of the cha-deploy library over its C ABI (ctypes and the
standard library only). The library file is found through ``$CHA_DEPLOY_LIB``,
then this package's folder, then the repository's ``target/release`` and
``target/debug``.

    import cha_deploy

    with cha_deploy.open("cha.db") as cha:
        cha.flush()

Every failed call raises a :class:`ChaError` subclass carrying the C status
code and the library's message.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional, Union

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

#: The version of this package; the loaded library reports its own through
#: :func:`version`, and the two are released together.
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "version",
    "status_name",
    "open",
    "Cha",
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

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<cha_deploy.Cha {self.path!r} {state}>"
