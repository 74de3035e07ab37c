"""Bundles the compiled cha-deploy library into the package.

The metadata is in pyproject.toml. This file only adds the one step that
setuptools cannot declare: copying ``libcha_deploy.so`` (built by
``cargo build --release``) beside the package's modules, where ``_ffi``
looks for it, and tagging the wheel for this platform, since it carries
native code.

The library is taken from ``$CHA_DEPLOY_LIB`` when set, else from the
repository's ``target/release``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:  # setuptools 70.1 and newer carry bdist_wheel themselves
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # older ones use the wheel package's
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent


def library_name() -> str:
    if sys.platform == "darwin":
        return "libcha_deploy.dylib"
    if sys.platform == "win32":
        return "cha_deploy.dll"
    return "libcha_deploy.so"


def library_source() -> Path:
    given = os.environ.get("CHA_DEPLOY_LIB")
    if given:
        path = Path(given)
        path = path / library_name() if path.is_dir() else path
        where = f"$CHA_DEPLOY_LIB ({given})"
    else:
        path = REPO_ROOT / "target" / "release" / library_name()
        where = "the repository's release build"
    if not path.is_file():
        raise SystemExit(
            f"cha-deploy: no library to bundle: {path} does not exist ({where}).\n"
            "Build it first with `cargo build --release` in the repository, "
            "or set CHA_DEPLOY_LIB to the library file."
        )
    return path


class BuildWithLibrary(build_py):
    """build_py that also copies the library into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "cha_deploy" / library_name()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library_source(), target)
        target.chmod(0o755)


class PlatformWheel(bdist_wheel):
    """A wheel for this platform and any Python 3: the package is pure
    Python, but the library it carries is not."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
