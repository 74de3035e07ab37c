"""Deployment: the deploy methods of :class:`cha_deploy.Cha`
(:class:`Deployment`), which apply config files to the database, and the
config templates to start those files from.

Validation and the transaction happen in the library; this module only
passes the folder and parses the report.
"""

from __future__ import annotations

import os
from typing import Any, Dict

from . import _ffi
from ._handle import Handle, PathLike

__all__ = ["Deployment", "create_config_template"]


class Deployment(Handle):
    """The deployment methods of :class:`cha_deploy.Cha`: config files in,
    stored flags and tests out."""

    def deploy_all(self, config_dir: PathLike) -> Dict[str, Any]:
        """Deploys every known config file in `config_dir`
        (``feature_flags.yml``, ``ab_tests.yml``): all are validated first,
        then applied in one transaction recorded under the login name of the
        process. The files are the truth: stored flags and tests they no
        longer have are removed.

        Returns:
            The report: ``{"config_dir", "actor", "at_ms", "files": [...],
            "flags": {"created", "updated", "unchanged", "removed"},
            "experiments": {...the same four lists...}}``.

        Raises:
            ConfigError: a file is invalid; the message lists every problem,
                each with file:line:column and field path. Nothing changed.
            NotFoundError: no such directory, or no known file in it.
            StorageError, BusyError: the database could not be written.
        """
        return self._call_json(_ffi.deploy_all, os.fsencode(config_dir))


def create_config_template(
    template_name: str, config_type: str = "cha_intelligent_sizing"
) -> str:
    """A commented feature_flags.yml that shows every flag type and field,
    ready to edit and deploy with :meth:`Cha.deploy_all`.

    Args:
        template_name: a title for the file, written in its first comment.
        config_type: ``"cha_intelligent_sizing"`` (the CHA flags) or
            ``"minimal"`` (one flag).

    Raises:
        InvalidArgumentError: an unknown `config_type`.
    """
    return _ffi.config_template(
        _ffi.encode(template_name, "template_name"), _ffi.encode(config_type, "config_type")
    )
