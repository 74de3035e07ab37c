"""The core of the Python binding: opening and closing, errors, the library
search and the version.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v`` (``cargo test``
does, with ``CHA_DEPLOY_LIB`` set to the library it just built), or with
pytest.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402
from cha_deploy import _ffi  # noqa: E402


def cargo_version() -> str:
    """The [package] version of Cargo.toml."""
    text = (REPO_ROOT / "Cargo.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        package = text.split("[package]", 1)[1].split("\n[", 1)[0]
        match = re.search(r'^version\s*=\s*"([^"]+)"', package, re.MULTILINE)
        assert match, "Cargo.toml has a [package] version"
        return match.group(1)
    return tomllib.loads(text)["package"]["version"]


def user_version(path: Path) -> int:
    """The SQLite header's user_version: big-endian, bytes 60..63."""
    with open(path, "rb") as f:
        f.seek(60)
        return struct.unpack(">I", f.read(4))[0]


def set_user_version(path: Path, value: int) -> None:
    with open(path, "r+b") as f:
        f.seek(60)
        f.write(struct.pack(">I", value))


class TempDirTestCase(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-py-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)


class OpenCloseTest(TempDirTestCase):
    def test_open_flush_close(self) -> None:
        db = self.dir / "core.db"
        cha = cha_deploy.open(db)
        self.assertFalse(cha.closed)
        self.assertEqual(cha.path, str(db))
        self.assertTrue(db.is_file())
        self.assertTrue(Path(f"{db}-wal").exists(), "opened in WAL mode")
        cha.flush()
        cha.close()
        self.assertTrue(cha.closed)
        # Closing the last connection checkpoints and removes the WAL file.
        self.assertFalse(Path(f"{db}-wal").exists())

    def test_new_file_is_private(self) -> None:
        db = self.dir / "private.db"
        cha_deploy.Cha(db).close()
        self.assertEqual(db.stat().st_mode & 0o777, 0o600)

    def test_file_mode_shares_a_new_database_with_a_group(self) -> None:
        db = self.dir / "shared.db"
        with cha_deploy.Cha(db, file_mode="0660") as cha:
            cha.update_flag("shared", {"type": "boolean", "enabled": True}, actor="ops")
            self.assertEqual(Path(f"{db}-wal").stat().st_mode & 0o777, 0o660)
            backup = cha.create_backup()
            self.assertEqual(Path(backup["path"]).stat().st_mode & 0o777, 0o660)
        self.assertEqual(db.stat().st_mode & 0o777, 0o660)
        for bad, says in (
            ("0755", "has bits besides read and write"),
            ("0666", "every user of the machine"),
            (0o640, "expected a string"),
        ):
            with self.subTest(file_mode=bad):
                with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
                    cha_deploy.Cha(self.dir / "never.db", file_mode=bad)  # type: ignore[arg-type]
                self.assertIn(says, caught.exception.message)
                self.assertFalse((self.dir / "never.db").exists())

    def test_with_closes(self) -> None:
        db = self.dir / "with.db"
        with cha_deploy.Cha(db, journal_mode="wal", busy_timeout_ms=100) as cha:
            self.assertIsInstance(cha, cha_deploy.Cha)
            cha.flush()
        self.assertTrue(cha.closed)
        self.assertFalse(Path(f"{db}-wal").exists())

    def test_with_closes_when_the_block_raises(self) -> None:
        db = self.dir / "raises.db"
        with self.assertRaises(KeyError):
            with cha_deploy.open(db) as cha:
                raise KeyError("boom")
        self.assertTrue(cha.closed)

    def test_garbage_collection_closes(self) -> None:
        db = self.dir / "gc.db"
        cha = cha_deploy.open(db)
        self.assertTrue(Path(f"{db}-wal").exists())
        del cha
        gc.collect()
        self.assertFalse(Path(f"{db}-wal").exists())

    def test_double_close_is_a_no_op(self) -> None:
        cha = cha_deploy.open(self.dir / "twice.db")
        cha.close()
        cha.close()
        self.assertTrue(cha.closed)

    def test_use_after_close_raises(self) -> None:
        cha = cha_deploy.open(self.dir / "closed.db")
        cha.close()
        with self.assertRaises(cha_deploy.ClosedHandleError) as caught:
            cha.flush()
        self.assertIsInstance(caught.exception, ValueError)
        self.assertIn("closed", str(caught.exception))
        with self.assertRaises(ValueError):
            with cha:
                pass

    def test_all_options(self) -> None:
        db = self.dir / "options.db"
        with cha_deploy.Cha(
            db,
            journal_mode="delete",
            synchronous="full",
            busy_timeout_ms=250,
            flush_interval_ms=50,
            refresh_interval_ms=20,
        ) as cha:
            cha.flush()
        self.assertFalse(Path(f"{db}-wal").exists(), "rollback journal, not WAL")

    def test_one_handle_many_threads(self) -> None:
        errors = []

        def flush_many(cha: cha_deploy.Cha) -> None:
            try:
                for _ in range(100):
                    cha.flush()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        with cha_deploy.open(self.dir / "threads.db") as cha:
            threads = [threading.Thread(target=flush_many, args=(cha,)) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])

    def test_close_waits_for_running_calls_then_refuses_new_ones(self) -> None:
        cha = cha_deploy.open(self.dir / "race.db")
        stop = threading.Event()
        outcomes = []

        def flush_until_closed() -> None:
            while not stop.is_set():
                try:
                    cha.flush()
                except cha_deploy.ClosedHandleError:
                    outcomes.append("closed")
                    return
                except Exception as e:  # noqa: BLE001 - reported below
                    outcomes.append(e)
                    return

        threads = [threading.Thread(target=flush_until_closed) for _ in range(3)]
        for t in threads:
            t.start()
        cha.close()
        for t in threads:
            t.join(timeout=10)
        stop.set()
        self.assertEqual(outcomes, ["closed"] * 3)


class ErrorTest(TempDirTestCase):
    def test_directory_is_a_storage_error_naming_the_path(self) -> None:
        with self.assertRaises(cha_deploy.StorageError) as caught:
            cha_deploy.open(self.dir)
        e = caught.exception
        self.assertEqual(e.status, 6)
        self.assertIn(str(self.dir), e.message)
        self.assertIn("directory", e.message)
        self.assertIsInstance(e, cha_deploy.ChaError)

    def test_missing_folder_is_a_storage_error_naming_the_path(self) -> None:
        db = self.dir / "no-such-folder" / "x.db"
        with self.assertRaises(cha_deploy.StorageError) as caught:
            cha_deploy.open(db)
        self.assertIn(str(db), caught.exception.message)
        self.assertIn("does not exist", caught.exception.message)

    def test_not_sqlite_is_a_storage_error(self) -> None:
        db = self.dir / "notes.db"
        db.write_text("DN150 supply line, 42 m\n" * 100, encoding="utf-8")
        with self.assertRaises(cha_deploy.StorageError) as caught:
            cha_deploy.open(db)
        self.assertIn(str(db), caught.exception.message)
        self.assertIn("not a SQLite database", caught.exception.message)

    def test_unknown_option_is_an_invalid_argument(self) -> None:
        db = self.dir / "unknown-option.db"
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.open(db, journal="wal")
        self.assertEqual(caught.exception.status, 3)
        self.assertIn("unknown field `journal`", caught.exception.message)
        self.assertFalse(db.exists(), "options are checked before the file is touched")

    def test_wrong_option_type_is_an_invalid_argument(self) -> None:
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            cha_deploy.Cha(self.dir / "x.db", busy_timeout_ms="5s")  # type: ignore[arg-type]
        with self.assertRaises(cha_deploy.InvalidArgumentError) as caught:
            cha_deploy.Cha(self.dir / "x.db", journal_mode="memory")
        self.assertIn("unknown variant `memory`", caught.exception.message)

    def test_cha_keywords_are_checked_by_python(self) -> None:
        with self.assertRaises(TypeError):
            cha_deploy.Cha(self.dir / "x.db", journal="wal")  # type: ignore[call-arg]

    def test_non_utf8_path_is_an_invalid_utf8_error(self) -> None:
        with self.assertRaises(cha_deploy.InvalidUtf8Error) as caught:
            cha_deploy.open(os.fsencode(self.dir) + b"/bad-\xff.db")
        self.assertEqual(caught.exception.status, 2)
        self.assertIn("`db_path` is not valid UTF-8", caught.exception.message)

    def test_too_new_schema_is_refused_naming_both_versions(self) -> None:
        db = self.dir / "too-new.db"
        cha_deploy.open(db).close()
        self.assertFalse(Path(f"{db}-wal").exists(), "the header is all in the main file")
        current = user_version(db)
        self.assertGreaterEqual(current, 1)
        set_user_version(db, 9999)
        with self.assertRaises(cha_deploy.StorageError) as caught:
            cha_deploy.open(db)
        message = caught.exception.message
        self.assertIn(str(db), message)
        self.assertIn("schema version 9999", message)
        self.assertIn(f"schema version {current}", message)
        self.assertEqual(user_version(db), 9999, "refusing leaves the file alone")

    def test_every_status_has_its_class(self) -> None:
        classes = {
            1: cha_deploy.NullArgumentError,
            2: cha_deploy.InvalidUtf8Error,
            3: cha_deploy.InvalidArgumentError,
            4: cha_deploy.NotFoundError,
            5: cha_deploy.ConfigError,
            6: cha_deploy.StorageError,
            7: cha_deploy.BusyError,
            8: cha_deploy.InternalError,
        }
        for status, cls in classes.items():
            error = cha_deploy.errors.error_for_status(status, "m")
            self.assertIs(type(error), cls)
            self.assertEqual((error.status, error.message, str(error)), (status, "m", "m"))
            # The class name is the library's name for the code, in CamelCase.
            words = cha_deploy.status_name(status).removeprefix("CHA_ERR_").split("_")
            expected = "".join(w.capitalize() for w in words) + "Error"
            self.assertEqual(cls.__name__, expected)
        self.assertIs(type(cha_deploy.errors.error_for_status(99, "m")), cha_deploy.ChaError)

    def test_status_names(self) -> None:
        self.assertEqual(cha_deploy.status_name(0), "CHA_OK")
        self.assertEqual(cha_deploy.status_name(6), "CHA_ERR_STORAGE")
        self.assertEqual(cha_deploy.status_name(9), "CHA_ERR_DRIFT")
        self.assertEqual(cha_deploy.status_name(10), "CHA_UNKNOWN_STATUS")
        self.assertEqual(cha_deploy.status_name(-1), "CHA_UNKNOWN_STATUS")
        # Not wrapped around onto CHA_ERR_STORAGE by ctypes.
        with self.assertRaises(OverflowError):
            cha_deploy.status_name(2**32 + 6)


class VersionTest(unittest.TestCase):
    def test_library_package_and_cargo_versions_agree(self) -> None:
        expected = cargo_version()
        self.assertEqual(cha_deploy.version(), expected)
        self.assertEqual(cha_deploy.__version__, expected)

    def test_the_library_under_test_is_the_one_cargo_built(self) -> None:
        wanted = os.environ.get(_ffi.LIBRARY_ENV)
        if wanted:
            self.assertEqual(_ffi.library_path(), Path(wanted))


class LibrarySearchTest(TempDirTestCase):
    def test_not_found_lists_every_place_searched(self) -> None:
        # A copy of the package in an empty tree, so that neither its folder
        # nor a target/ next to it holds a library.
        package = self.dir / "bindings" / "python" / "cha_deploy"
        shutil.copytree(
            BINDINGS / "cha_deploy",
            package,
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.dylib", "*.dll"),
        )
        missing = self.dir / "nowhere" / _ffi.library_file_name()
        env = dict(os.environ, CHA_DEPLOY_LIB=str(missing), PYTHONDONTWRITEBYTECODE="1")
        script = (
            "import cha_deploy\n"
            "try:\n"
            "    cha_deploy.version()\n"
            "except cha_deploy.LibraryNotFoundError as e:\n"
            "    print(e)\n"
            "else:\n"
            "    raise SystemExit('the library was found')\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=package.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        message = done.stdout
        name = _ffi.library_file_name()
        root = package.parent.parent.parent.resolve()
        for place in [
            str(missing),
            str(package.resolve() / name),
            str(root / "target" / "release" / name),
            str(root / "target" / "debug" / name),
        ]:
            self.assertIn(place, message)
        self.assertIn("$CHA_DEPLOY_LIB", message)
        self.assertIn("cargo build --release", message)


if __name__ == "__main__":
    unittest.main()
