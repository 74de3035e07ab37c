"""The :class:`Cha` handle, assembled from one mixin per subsystem, and the
module-level functions that open it or ask the library itself."""

from __future__ import annotations

from typing import Any

from . import _ffi
from ._handle import Handle, PathLike
from .deploy import Deployment
from .experiments import Experiments
from .feedback import UserFeedback
from .flags import FeatureFlags
from .monitoring import Monitoring
from .targeting import Targeting

__all__ = ["Cha", "open", "version", "status_name"]


# One base per subsystem, each a Handle subclass sharing this one handle; a new
# subsystem adds its mixin here (Handle, the common base, must come last).
class Cha(FeatureFlags, Targeting, Experiments, UserFeedback, Deployment, Monitoring, Handle):
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
        backup_dir: where backups go (default: ``<database>-backups`` beside it).
        backups_kept: how many backups are kept, the newest (default 10).
        metric_series_limit: the most distinct metric series (metric and tag
            set) recorded (default 10000).
        system_metrics_interval_ms: sample system metrics this often (0:
            never; default: as performance_monitoring.yml says).
        evaluate_alerts: whether this handle's background thread evaluates
            the alert rules (default True).
        file_mode: the permissions of a new database file and its -wal and
            -shm files, octal digits in a string: ``"0600"`` (default),
            ``"0640"`` or ``"0660"`` to share it with a group. Backups follow
            the database file's permissions.
        max_buffered_records: the most records kept waiting to be persisted
            (default 1000000). While flushes fail (a full disk), a record
            call that finds the buffer full raises StorageError (BusyError
            while the database is only locked) instead of keeping it.

    Raises:
        StorageError: the path is a directory, its folder is missing, the file
            is not a SQLite database, its schema is newer than the library,
            or the file or its folder cannot be written by this process.
        InvalidArgumentError: an option has a value of the wrong type or range.
        InvalidUtf8Error: the path is not valid UTF-8.
    """


def open(path: PathLike, **options: Any) -> Cha:  # noqa: A001 - the module's verb
    """Opens (creating if needed) the database at `path`.

    `options` are passed to the library as a JSON object, unchanged: see
    :class:`Cha` for the known ones. An unknown option or a value of the
    wrong type raises :class:`InvalidArgumentError`.
    """
    return Cha._open(path, options)


def version() -> str:
    """The version of the loaded library, ``"MAJOR.MINOR.PATCH"``."""
    return _ffi.version()


def status_name(code: int) -> str:
    """The name of a C status code, e.g. ``"CHA_ERR_STORAGE"``, or
    ``"CHA_UNKNOWN_STATUS"``."""
    return _ffi.status_name(code)
