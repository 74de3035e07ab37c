"""Exceptions of cha_deploy: one class per C status code.

Every failed library call raises a :class:`ChaError` subclass carrying the C
status code and the library's message, which says what was wrong and where.
"""

from __future__ import annotations

from typing import Dict, Type

__all__ = [
    "ChaError",
    "NullArgumentError",
    "InvalidUtf8Error",
    "InvalidArgumentError",
    "NotFoundError",
    "ConfigError",
    "StorageError",
    "BusyError",
    "InternalError",
    "DriftError",
    "ClosedHandleError",
    "LibraryNotFoundError",
    "error_for_status",
]


class ChaError(Exception):
    """A failed call into the cha_deploy library.

    Attributes:
        status: the C status code (``CHA_ERR_*``).
        message: the library's message (``cha_last_error_message``).
    """

    #: The status code this class stands for; 0 on the base class.
    STATUS = 0

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"


class NullArgumentError(ChaError):
    """A required argument was NULL (``CHA_ERR_NULL_ARGUMENT``)."""

    STATUS = 1


class InvalidUtf8Error(ChaError):
    """A string argument was not valid UTF-8 (``CHA_ERR_INVALID_UTF8``)."""

    STATUS = 2


class InvalidArgumentError(ChaError):
    """An argument was outside its domain: bad JSON, an unknown option
    (``CHA_ERR_INVALID_ARGUMENT``)."""

    STATUS = 3


class NotFoundError(ChaError):
    """The named flag, experiment, deployment or record does not exist
    (``CHA_ERR_NOT_FOUND``)."""

    STATUS = 4


class ConfigError(ChaError):
    """A configuration failed validation; nothing was changed (``CHA_ERR_CONFIG``)."""

    STATUS = 5


class StorageError(ChaError):
    """The database could not be opened, read or written (``CHA_ERR_STORAGE``)."""

    STATUS = 6


class BusyError(ChaError):
    """The database stayed locked past the busy timeout (``CHA_ERR_BUSY``)."""

    STATUS = 7


class InternalError(ChaError):
    """A bug inside the library, caught at the boundary (``CHA_ERR_INTERNAL``)."""

    STATUS = 8


class DriftError(ChaError):
    """A deployment or rollback would undo runtime changes or delete
    definitions its target does not mention; nothing was changed
    (``CHA_ERR_DRIFT``). Pass ``on_drift="overwrite"`` or
    ``"keep_runtime"`` to go ahead."""

    STATUS = 9


class ClosedHandleError(ValueError):
    """A method was called on a handle that is already closed.

    A ``ValueError``, as for a closed Python file: the call never reaches the
    library.
    """


class LibraryNotFoundError(OSError):
    """The cha_deploy shared library was not found; the message lists every
    place that was searched."""


_BY_STATUS: Dict[int, Type[ChaError]] = {
    cls.STATUS: cls
    for cls in (
        NullArgumentError,
        InvalidUtf8Error,
        InvalidArgumentError,
        NotFoundError,
        ConfigError,
        StorageError,
        BusyError,
        InternalError,
        DriftError,
    )
}


def error_for_status(status: int, message: str) -> ChaError:
    """The exception for a status code; an unknown code gives a plain ChaError."""
    return _BY_STATUS.get(status, ChaError)(status, message)
