"""SQL-injection strings through the Python binding: where text is data
(feedback text and user, unit ids, actors, tag values, descriptions) it is
stored and read back byte for byte, and straight from the tables too; as a
name (flag, experiment, metric) it is refused by the naming rule. Nothing is
dropped, rewritten or attached. (The Rust API and the CLI: tests/security.rs;
C: tests/c/test_hostile.c.)

Run from the repository root with
``python3 -m unittest discover -s bindings/python/tests -v``.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import unittest
from pathlib import Path

BINDINGS = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS.parent.parent
CONFIGS = REPO_ROOT / "configs"
sys.path.insert(0, str(BINDINGS))

import cha_deploy  # noqa: E402

INJECTIONS = [
    "'; DROP TABLE definitions; --",
    '"); DELETE FROM feedback; --',
    "x' OR '1'='1",
    "Robert'); DROP TABLE audit;--",
    "a'; ATTACH DATABASE 'pwned.db' AS pwned; --",
    "%' ; UPDATE definitions SET json = '{}' WHERE '1'='1",
]


def tables_and_definitions(db: Path):
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]
        definitions = conn.execute("SELECT count(*) FROM definitions").fetchone()[0]
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
    assert ok == "ok", ok
    return tables, definitions


class InjectionTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="cha-deploy-security-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.db = self.dir / "cha.db"

    def test_injection_strings_are_stored_verbatim(self) -> None:
        with cha_deploy.open(self.db) as cha:
            cha.deploy_all(str(CONFIGS))
            cha.flush()
            before = tables_and_definitions(self.db)
            ids = []
            for i, text in enumerate(INJECTIONS):
                item = cha.submit_feedback("bug_report", text, user_id=text,
                                           context={"network_id": text})
                back = cha.get_feedback(item["id"])
                self.assertEqual((back["text"], back["user_id"]), (text, text))
                self.assertEqual(back["context"], {"network_id": text})
                ids.append(item["id"])

                unit = f"{text}{i}"
                self.assertIsNotNone(cha.assign("pipe_sizing_comparison", unit))
                cha.record("pipe_sizing_comparison", unit, "pipe_cost_efficiency", 1.5)
                cha.update_flag("new_ui", {"description": text, "enabled": i % 2 == 0},
                                actor=text)
                cha.gauge("pipes", 1.0, tags={"network": text})

                # As names: refused by the naming rule.
                with self.assertRaises(cha_deploy.ConfigError):
                    cha.update_flag(text, {"type": "boolean"}, actor="ops")
                with self.assertRaises(cha_deploy.NotFoundError):
                    cha.assign(text, "u1")
                with self.assertRaises(cha_deploy.InvalidArgumentError):
                    cha.gauge(text, 1.0)
            cha.flush()

            actors = [e["actor"] for e in cha.flag_history("new_ui")]
            self.assertEqual(actors[-len(INJECTIONS):], INJECTIONS)
            csv_path = self.dir / "observations.csv"
            self.assertEqual(cha.export_observations("pipe_sizing_comparison", csv_path),
                             len(INJECTIONS))
            networks = sorted(m["tags"]["network"] for m in cha.list_metrics()
                              if "network" in m.get("tags", {}))
            self.assertEqual(networks, sorted(INJECTIONS))

        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT text, user_id FROM feedback ORDER BY id").fetchall()
        self.assertEqual(rows, [(t, t) for t in INJECTIONS])
        self.assertEqual(tables_and_definitions(self.db), before)
        self.assertFalse((self.dir / "pwned.db").exists())


if __name__ == "__main__":
    unittest.main()
