"""The package as a Python user meets it: ids given as ints, arguments of the
wrong type, one handle shared by threads, type hints and docstrings on every
public name, the files a wheel must carry, and a library older than the
binding.

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v`` (``cargo test``
does, with ``CHA_DEPLOY_LIB`` set to the library it just built), or with
pytest.
"""

from __future__ import annotations

import enum
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import typing
import unittest
from pathlib import Path
from typing import Any, List

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
CONFIGS = REPO_ROOT / "configs"
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402
from cha_deploy import _ffi  # noqa: E402

TEST = "pipe_sizing_comparison"
FLAG = "intelligent_pipe_sizing"


class Deployed(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-py-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.cha = cha_deploy.open(self.dir / "cha.db", flush_interval_ms=50)
        self.addCleanup(self.cha.close)
        self.cha.deploy_all(CONFIGS)


class NetworkId(enum.IntEnum):
    """An integral id that prints as a name: it must still be sent as digits."""

    HARBOUR = 4711


class IntIdTest(Deployed):
    def test_an_int_unit_is_its_decimal_string_in_every_call(self) -> None:
        for n in range(300):
            self.assertEqual(self.cha.peek(TEST, n), self.cha.peek(TEST, str(n)), n)
            self.assertEqual(
                self.cha.is_enabled(FLAG, user_id=n), self.cha.is_enabled(FLAG, user_id=str(n)), n
            )
            self.assertEqual(
                self.cha.flag(FLAG).enabled(user_id=n),
                self.cha.flag(FLAG).enabled(user_id=str(n)),
                n,
            )
        self.assertEqual(
            self.cha.peek(TEST, NetworkId.HARBOUR), self.cha.peek(TEST, "4711")
        )
        assigned = self.cha.assign(TEST, 4711)
        self.assertEqual(self.cha.assign(TEST, "4711"), assigned)
        self.cha.flush()
        # The int and the string are one unit, exposed once.
        exposures = self.cha.analyze_test_results(TEST)["variants"]
        self.assertEqual(sum(v["exposures"] for v in exposures), 1)

    def test_an_int_user_is_stored_and_found_as_its_digits(self) -> None:
        item = self.cha.submit_general_feedback("the sizing saves time", user_id=42)
        self.assertEqual(item["user_id"], "42")
        found = self.cha.list_feedback(user_id=42)
        self.assertEqual([f["id"] for f in found], [item["id"]])
        self.assertEqual(self.cha.list_feedback(user_id="42")[0]["id"], item["id"])

    def test_the_wrong_type_is_a_type_error_naming_the_argument(self) -> None:
        for bad in [True, 1.5, b"42", ["42"], None]:
            with self.assertRaisesRegex(TypeError, r"^unit_id must be a str or an int, not "):
                self.cha.assign(TEST, bad)  # type: ignore[arg-type]
            with self.assertRaisesRegex(TypeError, r"^unit_id must be a str or an int"):
                self.cha.record(TEST, bad, "pipe_cost_efficiency", 1.0)  # type: ignore[arg-type]
        for bad in [False, 2.0, b"7"]:
            with self.assertRaisesRegex(TypeError, r"^user_id must be a str or an int"):
                self.cha.is_enabled(FLAG, user_id=bad)  # type: ignore[arg-type]
            with self.assertRaisesRegex(TypeError, r"^user_id must be a str or an int"):
                self.cha.submit_general_feedback("text", user_id=bad)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"^experiment must be a str, not int"):
            self.cha.assign(42, "n-1")  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"^value must be a number, not str"):
            self.cha.record(TEST, 1, "pipe_cost_efficiency", "1.0")  # type: ignore[arg-type]
        # Nothing of the refused calls was stored.
        self.assertEqual(self.cha.list_feedback(), [])


class ThreadsTest(Deployed):
    def test_eight_threads_share_one_handle_and_every_record_counts(self) -> None:
        per_thread, threads = 150, 8
        errors: List[BaseException] = []
        assigned: List[int] = [0] * threads

        def work(t: int) -> None:
            try:
                for i in range(per_thread):
                    unit = t * per_thread + i
                    self.cha.is_enabled(FLAG, user_id=unit)
                    if self.cha.assign(TEST, unit) is not None:
                        self.cha.record(TEST, unit, "pipe_cost_efficiency", float(i))
                        assigned[t] += 1
                    self.cha.increment("pipe_sizing_requests")
                    if i % 50 == 0:
                        self.cha.submit_general_feedback(f"thread {t} item {i}", user_id=unit)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.assertEqual(errors, [])
        self.cha.flush()

        analysis = self.cha.analyze_test_results(TEST)
        self.assertEqual(sum(v["exposures"] for v in analysis["variants"]), sum(assigned))
        metrics = {m["metric"]: m for m in self.cha.generate_performance_report()["metrics"]}
        self.assertEqual(metrics["pipe_sizing_requests"]["sum"], per_thread * threads)
        self.assertEqual(len(self.cha.list_feedback(limit=1000)), threads * 3)


def _public_callables() -> List[Any]:
    """Every public function of the package and every public method of Cha
    and of the result classes it exports."""
    found: List[Any] = []
    for name in cha_deploy.__all__:
        value = getattr(cha_deploy, name)
        if inspect.isfunction(value):
            found.append(value)
        elif inspect.isclass(value) and value.__module__.startswith("cha_deploy"):
            for attr, member in vars(value).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    found.append(member)
    for cls in cha_deploy.Cha.__mro__:
        if cls.__module__.startswith("cha_deploy"):
            for attr, member in vars(cls).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    found.append(member)
    return found


class TypedTest(unittest.TestCase):
    def test_every_public_name_has_type_hints_and_a_docstring(self) -> None:
        callables = _public_callables()
        self.assertGreater(len(callables), 80)
        missing = []
        for function in callables:
            where = f"{function.__module__}.{function.__qualname__}"
            hints = typing.get_type_hints(function)
            for parameter in inspect.signature(function).parameters.values():
                if parameter.name in ("self", "cls"):
                    continue
                if parameter.name not in hints:
                    missing.append(f"{where}: parameter {parameter.name}")
            if "return" not in hints:
                missing.append(f"{where}: return")
            if not (function.__doc__ or "").strip():
                missing.append(f"{where}: docstring")
        self.assertEqual(missing, [])

    def test_the_package_says_it_is_typed_and_ships_the_marker(self) -> None:
        self.assertTrue((BINDINGS / "cha_deploy" / "py.typed").is_file())
        pyproject = (BINDINGS / "pyproject.toml").read_text(encoding="utf-8")
        self.assertIn('cha_deploy = ["py.typed"]', pyproject)
        self.assertIn('"Typing :: Typed"', pyproject)


class OlderLibraryTest(unittest.TestCase):
    def test_a_library_older_than_the_binding_is_named_not_an_attribute_error(self) -> None:
        compiler = shutil.which("cc")
        if compiler is None:
            self.skipTest("SKIPPED LOUDLY: no C compiler (cc) to build an old library with")
        with tempfile.TemporaryDirectory(prefix="cha-deploy-py-") as tmp:
            source = Path(tmp) / "old.c"
            source.write_text('const char *cha_version(void) { return "0.0.1"; }\n')
            old = Path(tmp) / _ffi.library_file_name()
            subprocess.run(
                [compiler, "-shared", "-fPIC", "-o", str(old), str(source)], check=True
            )
            script = (
                "import cha_deploy\n"
                "try:\n"
                "    cha_deploy.version()\n"
                "except cha_deploy.LibraryNotFoundError as e:\n"
                "    print(e)\n"
                "else:\n"
                "    raise SystemExit('the old library was accepted')\n"
            )
            env = dict(os.environ, CHA_DEPLOY_LIB=str(old), PYTHONDONTWRITEBYTECODE="1")
            done = subprocess.run(
                [sys.executable, "-c", script],
                cwd=BINDINGS,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn(f"the cha_deploy library {old} is older than this binding", done.stdout)
        self.assertIn("undefined symbol: cha_", done.stdout)
        self.assertIn("cargo build --release", done.stdout)


if __name__ == "__main__":
    unittest.main()
