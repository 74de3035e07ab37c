"""The base of every object that owns a library handle."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from types import TracebackType
from typing import Iterator, Optional, Type, TypeVar

from .errors import ClosedHandleError

_Self = TypeVar("_Self", bound="Managed")


class Managed:
    """Owns one handle of the C library and releases it exactly once.

    ``close()`` is idempotent; ``with`` closes on exit; garbage collection
    closes a handle that was never closed. Calling a method after ``close()``
    raises :class:`ClosedHandleError` (a ``ValueError``) instead of passing a
    dangling pointer to C. ``close()`` waits for calls running on other
    threads to return before it releases the handle.
    """

    def __init__(self, handle: int) -> None:
        self._handle: Optional[int] = handle
        self._in_use = 0
        self._state = threading.Condition()

    def _release(self, handle: int) -> None:
        """Releases `handle` (e.g. with cha_close); may raise ChaError."""
        raise NotImplementedError

    def _release_quietly(self, handle: int) -> None:
        """Releases `handle` where no exception may escape (``__del__``)."""
        raise NotImplementedError

    @contextmanager
    def _borrow(self) -> Iterator[int]:
        """The raw handle for the duration of one call into the library."""
        with self._state:
            if self._handle is None:
                raise ClosedHandleError(f"{type(self).__name__} is closed")
            self._in_use += 1
            handle = self._handle
        try:
            yield handle
        finally:
            with self._state:
                self._in_use -= 1
                self._state.notify_all()

    def _take(self) -> Optional[int]:
        """Marks the object closed and returns its handle once no call is
        using it; None when it was closed already."""
        state = getattr(self, "_state", None)
        if state is None:  # __init__ did not finish
            return None
        with state:
            handle, self._handle = self._handle, None
            while handle is not None and self._in_use:
                state.wait()
        return handle

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._handle is None

    def close(self) -> None:
        """Releases the handle. Calling it again does nothing."""
        handle = self._take()
        if handle is not None:
            self._release(handle)

    def __enter__(self: _Self) -> _Self:
        with self._borrow():
            return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            handle = self._take()
            if handle is not None:
                self._release_quietly(handle)
        except Exception:  # noqa: BLE001 - nothing may escape __del__, e.g. at interpreter exit
            pass
