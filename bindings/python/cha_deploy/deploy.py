"""Deployment: the deploy methods of :class:`cha_deploy.Cha`
(:class:`Deployment`): plan and deploy config directories, roll back,
status, the canonical export, the history and backups; and the config
templates and validation that need no database.

The config files are the intended state, the database the running state. A
change made at runtime (a kill switch, a rollout step, a pause) is *drift*
until the files say the same: a deployment that would undo drift, or delete
what the files do not mention, raises :class:`~cha_deploy.DriftError`
unless told how with ``on_drift``:

- ``"refuse"`` (the default): change nothing and list what would be undone;
- ``"overwrite"``: the files win;
- ``"keep_runtime"``: runtime changes survive; only what the files changed
  since the last deployment is applied, field by field.

Validation, the plan and the transaction happen in the library; this module
only passes arguments and parses the JSON it returns.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence

from . import _ffi
from ._handle import Handle, PathLike, actor_argument, json_argument

__all__ = ["Deployment", "create_config_template", "migrate_config", "validate_config"]

#: The choices of ``on_drift``.
ON_DRIFT = ("refuse", "overwrite", "keep_runtime")


def _options(
    actor: Optional[str] = None,
    on_drift: Optional[str] = None,
    subsystems: Optional[Sequence[str]] = None,
) -> bytes:
    """The options JSON of the deploy functions; the library checks values."""
    if on_drift is not None and not isinstance(on_drift, str):
        raise TypeError(f"on_drift must be a str, not {type(on_drift).__name__}")
    if isinstance(subsystems, (str, bytes)):
        raise TypeError("subsystems must be a list of names, not a single string")
    options: Dict[str, Any] = {}
    if actor is not None:
        options["actor"] = actor_argument(actor).decode("utf-8")
    if on_drift is not None:
        options["on_drift"] = on_drift
    if subsystems is not None:
        options["subsystems"] = list(subsystems)
    return json_argument(options, "deploy options")


def _deployment_id(deployment_id: int) -> int:
    if isinstance(deployment_id, bool) or not isinstance(deployment_id, int):
        raise TypeError(f"deployment_id must be an int, not {type(deployment_id).__name__}")
    return deployment_id


class Deployment(Handle):
    """The deployment methods of :class:`cha_deploy.Cha`."""

    def deploy_all(
        self,
        config_dir: PathLike,
        actor: Optional[str] = None,
        *,
        on_drift: str = "refuse",
        subsystems: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """Deploys the config files of `config_dir` (``feature_flags.yml``,
        ``ab_tests.yml``): validates all of them, works out the plan,
        refuses (by default) to undo runtime changes or delete definitions
        the files do not mention, backs the database up, then applies the
        plan in one transaction recorded in the deployment history.

        Args:
            config_dir: the folder holding the files.
            actor: who deploys (default: the login name).
            on_drift: ``"refuse"``, ``"overwrite"`` or ``"keep_runtime"``.
            subsystems: deploy only these (``"feature_flags"``,
                ``"ab_tests"``); default every file present.

        Returns:
            The report: ``{"deployment_id", "action", "config_dir", "actor",
            "at_ms", "on_drift", "files": [...], "flags": {"created",
            "updated", "unchanged", "removed"}, "experiments": {...},
            "plan": [...], "backup", "duration_ms"}``.

        Raises:
            DriftError: it would undo runtime changes; the message lists each.
            ConfigError: a file is invalid; the message lists every problem,
                each with file:line:column and field path.
            NotFoundError: no such directory, or no known file in it.
            InvalidArgumentError: an unknown subsystem or ``on_drift``.
            StorageError, BusyError: the database could not be written.
            Nothing is changed on error.
        """
        options = _options(actor, on_drift, subsystems)
        return self._call_json(_ffi.deploy_all_with_options, os.fsencode(config_dir), options)

    def plan_deployment(
        self,
        config_dir: PathLike,
        *,
        on_drift: str = "refuse",
        subsystems: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """What :meth:`deploy_all` would do, without doing it: per section
        every change field by field (``before``/``after``), the drift with
        its actor and time, and under ``"refused"`` what the default
        refuses. Writes nothing.

        Raises:
            As :meth:`deploy_all`, except DriftError.
        """
        options = _options(None, on_drift, subsystems)
        return self._call_json(_ffi.deploy_plan, os.fsencode(config_dir), options)

    def rollback_deployment(
        self,
        deployment_id: int = 0,
        actor: Optional[str] = None,
        *,
        on_drift: str = "refuse",
    ) -> Dict[str, Any]:
        """Rolls back to deployment `deployment_id`, or with 0 to the one
        before the deployment in force (repeated rollbacks step further
        back). The configuration comes back exactly; exposures and
        observations stay. Backed up first and recorded as a deployment; the
        report has ``"rolled_back_to"`` and ``"duration_ms"``.

        Raises:
            NotFoundError: no such deployment, or none to go back to.
            DriftError: it would undo runtime changes (see ``on_drift``).
        """
        options = _options(actor, on_drift)
        return self._call_json(_ffi.deploy_rollback, _deployment_id(deployment_id), options)

    def plan_rollback(self, deployment_id: int = 0, *, on_drift: str = "refuse") -> Dict[str, Any]:
        """What :meth:`rollback_deployment` would do. Writes nothing."""
        options = _options(None, on_drift)
        return self._call_json(_ffi.deploy_rollback_plan, _deployment_id(deployment_id), options)

    def get_deployment_status(self) -> Dict[str, Any]:
        """Per subsystem: the file as last deployed (version, SHA-256), how
        many definitions run, active rollouts with their percentage and next
        step, running tests, and the drift since the last deployment; and
        the last deployments. Writes nothing."""
        return self._call_json(_ffi.deploy_status)

    def generate_deployment_report(
        self, output_path: Optional[PathLike] = None, format: Optional[str] = None
    ) -> str:
        """The deployment report: the deployment history, every rollout's
        percentage over time with its deploys, rollbacks and guardrail
        stops, every started A/B test's intervals and verdict, every alert
        rule's metric against its thresholds with its alerts, and the
        feedback per period and per variant.

        Args:
            output_path: write the report to this file (whole: a reader
                never sees a part) and return its path; None returns the
                report itself.
            format: ``"html"`` (one self-contained page with inline SVG
                charts, no script), ``"md"`` or ``"json"``; by default the
                extension of `output_path` says (``.html``, ``.md``,
                ``.json``; HTML without one), or JSON without a path.

        Returns:
            The report's text, or the path it was written to.

        Raises:
            InvalidArgumentError: an unknown format, an extension that
                names none, or a path that is a folder, link or device.
            StorageError: the folder is missing or cannot be written.
        """
        if format is not None and not isinstance(format, str):
            raise TypeError(f"format must be a str, not {type(format).__name__}")
        fmt = None if format is None else _ffi.encode(format, "format")
        if output_path is None:
            return self._call(_ffi.deploy_report, fmt, None)
        path = _ffi.encode(os.fsdecode(output_path), "output_path")
        written = json.loads(self._call(_ffi.deploy_report, fmt, path))
        return str(written["path"])

    def export_configuration(self) -> str:
        """The whole deployed configuration as canonical JSON text (sorted
        keys, two-space indentation): two states compare byte for byte."""
        return self._call(_ffi.deploy_export)

    def deployment_history(self, limit: int = 20) -> List[Dict[str, Any]]:
        """The last `limit` deployments, newest first, each with its files,
        plan, drift, backup and duration."""
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an int, not {type(limit).__name__}")
        if not 0 <= limit < 2**32:
            raise ValueError(f"limit must be between 0 and {2**32 - 1}, not {limit}")
        return self._call_json(_ffi.deploy_history, limit)

    def get_deployment(self, deployment_id: int) -> Dict[str, Any]:
        """Deployment `deployment_id`, as :meth:`deployment_history` lists it.

        Raises:
            NotFoundError: no such deployment.
            InvalidArgumentError: an id below 1.
        """
        return self._call_json(_ffi.deploy_get, _deployment_id(deployment_id))

    def create_backup(self, reason: str = "manual") -> Dict[str, Any]:
        """Backs the database up now into the backup folder (beside the
        database, or the ``backup_dir`` option): ``{"name", "path",
        "created_at_ms", "reason", "size_bytes"}``."""
        return self._call_json(_ffi.backup_create, _ffi.encode(reason, "reason"))

    def list_backups(self) -> List[Dict[str, Any]]:
        """Every backup of the database, oldest first."""
        return self._call_json(_ffi.backup_list)

    def restore_backup(self, name: str, actor: Optional[str] = None) -> Dict[str, Any]:
        """Restores the whole database from backup `name` (a file name in
        the backup folder, a path, or ``"latest"``: the newest backup),
        after backing up the current state;
        recorded as a deployment (``"action": "restore"``).

        Raises:
            NotFoundError: no such backup.
            StorageError: a damaged backup, or one of a newer schema.
        """
        return self._call_json(
            _ffi.backup_restore, _ffi.encode(os.fsdecode(name), "name"), actor_argument(actor)
        )


def validate_config(
    config_dir: PathLike, subsystems: Optional[Sequence[str]] = None
) -> List[Dict[str, Any]]:
    """Checks the config directory `config_dir` without a database: every
    file (or those of `subsystems`), alone and together. Returns the files
    with their SHA-256 and version.

    Raises:
        ConfigError: every problem at once, with file:line:column.
        NotFoundError: no such directory, or no known file in it.
    """
    return json.loads(
        _ffi.config_validate(os.fsencode(config_dir), _options(None, None, subsystems))
    )


def create_config_template(
    template_name: str,
    config_type: Optional[str] = None,
    subsystem: str = "feature_flags",
) -> str:
    """A commented config file of `subsystem` that documents every field,
    valid as it is and ready to edit and deploy with :meth:`Cha.deploy_all`
    (see first what it would change with :meth:`Cha.plan_deployment`).

    Args:
        template_name: a title for the file, written in its first comment.
        config_type: ``"cha_intelligent_sizing"`` (every field, with the
            CHA examples; the default) or ``"minimal"``.
        subsystem: ``"feature_flags"`` (feature_flags.yml), ``"ab_tests"``
            (ab_tests.yml) or ``"performance_monitoring"``
            (performance_monitoring.yml); ``-`` spellings work too.

    Raises:
        InvalidArgumentError: an unknown `subsystem` or `config_type`; for
            ``"user_feedback"``, the message says this version has no such
            subsystem yet.
    """
    return _ffi.config_template_for(
        _ffi.encode(subsystem, "subsystem"),
        _ffi.encode(template_name, "template_name"),
        None if config_type is None else _ffi.encode(config_type, "config_type"),
    )


def migrate_config(path: PathLike) -> Dict[str, Any]:
    """Reads the config file at `path` (feature_flags.yml or ab_tests.yml,
    told by its name or else its content), detects its version and returns
    it in the current version, without writing anything.

    Returns:
        ``{"file", "from_version", "to_version", "report", "text"}``:
        ``text`` is the file in the current version and ``report`` what
        migrating changed (``{"from_version", "to_version", "notes",
        "flags": [{"flag", "changes"}]}``). A file already current has
        ``from_version == to_version``, ``report`` None and its text
        unchanged.

    Raises:
        NotFoundError: no file at `path`.
        InvalidArgumentError: not a config file cha-deploy knows.
        ConfigError: every problem of an invalid file, with file:line:column.
    """
    return json.loads(_ffi.config_migrate(os.fsencode(path)))
