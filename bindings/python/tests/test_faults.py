"""Disk faults from Python: a database this process cannot write raises
StorageError at open; on a full disk (a file size limit) record calls raise
StorageError once the bounded buffer is full, flag checks keep answering
and get_health() says what fails; a locked database raises BusyError; once
the fault is gone, everything accepted is persisted.

Faults that change the whole process (another user, a file size limit) run
in a child Python.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
CONFIGS = REPO_ROOT / "configs"
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402

EXPERIMENT = "pipe_sizing_comparison"
METRIC = "pipe_cost_efficiency"
# The raw observations a database keeps: the blocks the library writes and
# the rows of the table older versions wrote.
RAW_OBSERVATIONS = (
    "SELECT (SELECT COUNT(*) FROM observations)"
    " + (SELECT COALESCE(SUM(observations), 0) FROM observation_blocks)"
)


#: Holds the write lock of the database argv[1] until its stdin closes.
LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("COMMIT")
"""


def run_child(code: str, db: Path, **kwargs) -> None:
    """Runs `code` in a child Python with `db` as DB; fails with its output."""
    env = dict(os.environ, PYTHONPATH=str(BINDINGS), DB=str(db))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        **kwargs,
    )
    if done.returncode != 0:
        raise AssertionError(f"the child failed:\n{done.stdout}\n{done.stderr}")


class FaultsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cha-py-faults-"))
        os.chmod(self.dir, 0o755)
        self.db = self.dir / "cha.db"
        with cha_deploy.open(self.db) as cha:
            cha.deploy_all(CONFIGS, actor="test")

    def tearDown(self) -> None:
        os.chmod(self.dir, 0o755)
        shutil.rmtree(self.dir)

    def count(self, sql: str) -> int:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchone()[0]

    def test_health_of_a_sound_handle(self) -> None:
        with cha_deploy.open(self.db, max_buffered_records=1000) as cha:
            health = cha.get_health()
        self.assertEqual(health["state"], "ok")
        self.assertIsNone(health["last_flush_error"])
        self.assertIsNone(health["last_refresh_error"])
        self.assertEqual(health["buffer_limit"], 1000)
        self.assertEqual(health["refused_records"], 0)
        with self.assertRaises(cha_deploy.InvalidArgumentError):
            cha_deploy.open(self.db, max_buffered_records=0)

    def test_a_database_that_cannot_be_written_is_refused_at_open(self) -> None:
        os.chmod(self.db, 0o444)
        run_child(
            """
            import os, cha_deploy
            if os.geteuid() == 0:
                # Root writes any file, whatever its mode: be nobody.
                os.setgid(65534)
                os.setuid(65534)
            try:
                cha_deploy.open(os.environ["DB"])
            except cha_deploy.StorageError as e:
                assert "cannot be written" in str(e), e
                assert e.status == cha_deploy.StorageError.STATUS
            else:
                raise AssertionError("a read-only database opened")
            """,
            self.db,
        )

    def test_a_full_disk_refuses_records_once_the_buffer_is_full(self) -> None:
        run_child(
            """
            import os, resource, signal, cha_deploy
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            cha = cha_deploy.open(os.environ["DB"], max_buffered_records=100)
            before = [cha.is_enabled("intelligent_pipe_sizing", f"u{i}") for i in range(100)]
            # Every write past the first byte fails: no room at all.
            resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))
            accepted = 0
            try:
                while accepted < 100000:
                    cha.record("pipe_sizing_comparison", f"n{accepted}", "pipe_cost_efficiency", 1.0)
                    accepted += 1
            except cha_deploy.StorageError as e:
                assert "not recorded" in str(e), e
            # One buffered record per observation: 100 in the buffer.
            assert accepted == 100, accepted
            try:
                cha.flush()
            except cha_deploy.StorageError:
                pass
            else:
                raise AssertionError("a flush on a full disk succeeded")
            after = [cha.is_enabled("intelligent_pipe_sizing", f"u{i}") for i in range(100)]
            assert after == before
            health = cha.get_health()
            assert health["state"] == "failing", health
            assert health["last_flush_error"]["status"] == "CHA_ERR_STORAGE", health
            assert health["refused_records"] == 1, health
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            cha.flush()
            assert cha.get_health()["state"] == "ok"
            cha.close()
            open(os.environ["DB"] + ".accepted", "w").write(str(accepted))
            """,
            self.db,
        )
        accepted = int((self.dir / "cha.db.accepted").read_text())
        self.assertEqual(self.count(RAW_OBSERVATIONS), accepted)
        with sqlite3.connect(self.db) as conn:
            self.assertEqual(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok")

    def test_a_locked_database_raises_busy_once_the_buffer_is_full(self) -> None:
        with cha_deploy.open(
            self.db, max_buffered_records=20, busy_timeout_ms=20, flush_interval_ms=3600000
        ) as cha:
            # The lock is held by another process: SQLite's locks are POSIX
            # locks, which do not exclude each other within one process, and
            # the sqlite3 module is another SQLite than the library's.
            locker = subprocess.Popen(
                [sys.executable, "-c", LOCKER, str(self.db)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                self.assertEqual(locker.stdout.readline().strip(), "locked")
                for i in range(20):
                    cha.record(EXPERIMENT, f"n{i}", METRIC, 1.0)
                with self.assertRaises(cha_deploy.BusyError) as caught:
                    cha.record(EXPERIMENT, "n20", METRIC, 1.0)
                self.assertIn("not recorded", str(caught.exception))
                health = cha.get_health()
                self.assertEqual(health["last_flush_error"]["status"], "CHA_ERR_BUSY")
            finally:
                locker.communicate("")
            self.assertEqual(locker.returncode, 0)
            # Refused until a flush succeeds (the background thread's
            # retry, or this one).
            with self.assertRaises(cha_deploy.BusyError):
                cha.record(EXPERIMENT, "n20", METRIC, 1.0)
            cha.flush()
            self.assertEqual(cha.get_health()["state"], "ok")
            cha.record(EXPERIMENT, "n20", METRIC, 1.0)
        self.assertEqual(self.count(RAW_OBSERVATIONS), 21)


if __name__ == "__main__":
    unittest.main()
