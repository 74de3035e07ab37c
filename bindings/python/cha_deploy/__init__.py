"""cha_deploy: the rollout toolkit of the CHA intelligent pipe-sizing system.

Python binding of the cha-deploy library over its C ABI (ctypes and the
standard library only). The library file is found through ``$CHA_DEPLOY_LIB``,
then this package's folder, then the repository's ``target/release`` and
``target/debug``.

    import cha_deploy

    with cha_deploy.open("cha.db") as cha:
        cha.deploy_all("configs")
        if cha.is_enabled("intelligent_pipe_sizing", user_id="planner-042"):
            ...

Every failed call raises a :class:`ChaError` subclass carrying the C status
code and the library's message.

Layout: :class:`Cha` is one mixin per subsystem over ``_handle.Handle``
(open, flush, close, and ``_call``/``_call_json``, the one way a method
reaches the library): ``flags`` (:class:`~cha_deploy.flags.FeatureFlags`),
``targeting`` (:class:`~cha_deploy.targeting.Targeting`: typed values,
segments, the Unleash import, typed experiment parameters),
``experiments`` (:class:`~cha_deploy.experiments.Experiments`), ``feedback``
(:class:`~cha_deploy.feedback.UserFeedback`), ``deploy``
(:class:`~cha_deploy.deploy.Deployment`) and ``monitoring``
(:class:`~cha_deploy.monitoring.Monitoring`), each module holding its
methods and its result types. ``_ffi`` alone touches ctypes.

A new subsystem (monitoring, ...) adds one module: declare its C
functions in ``_ffi``; write ``class Monitoring(Handle)`` whose methods
convert arguments with ``_handle``'s ``*_argument`` helpers and call
``self._call``/``self._call_json``, next to its result types; add it to the
bases of ``Cha`` in ``_cha``; and re-export its result types here, in
``__all__`` too.
"""

from __future__ import annotations

from ._cha import Cha, open, status_name, version
from ._handle import Id, PathLike
from .deploy import create_config_template, migrate_config, validate_config
from .errors import (
    BusyError,
    ChaError,
    ClosedHandleError,
    ConfigError,
    InternalError,
    DriftError,
    InvalidArgumentError,
    InvalidUtf8Error,
    LibraryNotFoundError,
    NotFoundError,
    NullArgumentError,
    StorageError,
)
from .experiments import AssignReason, Assignment, Correction, ExperimentStatus
from .feedback import FeedbackStatus, FeedbackType, Priority, Sentiment
from .flags import ErrorCode, FeatureFlagEvaluation, FlagHandle, Reason
from .monitoring import MetricKind, Timer
from .targeting import FlagResolution, PreparedContext

#: The version of this package; the loaded library reports its own through
#: :func:`version`, and the two are released together.
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "version",
    "status_name",
    "open",
    "create_config_template",
    "migrate_config",
    "validate_config",
    "Cha",
    "FeatureFlagEvaluation",
    "FlagHandle",
    "FlagResolution",
    "PreparedContext",
    "Reason",
    "ErrorCode",
    "Assignment",
    "AssignReason",
    "ExperimentStatus",
    "Correction",
    "MetricKind",
    "Timer",
    "FeedbackType",
    "FeedbackStatus",
    "Priority",
    "Sentiment",
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
]
