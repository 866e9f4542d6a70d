"""A body whose SQL follows PYTHONHASHSEED still replays its failure in another process.

ORMs build column lists by iterating sets of field names (Tortoise does), so
the same schedule issues ``SELECT "id","n"`` in one process and ``SELECT
"n","id"`` in the next: the trace differs, the schedule does not. The replay
takes every recorded decision, reproduces the failure and says why the trace
differs; a passing replay of such a token is never accepted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

BODY = textwrap.dedent(
    """
    import asyncio
    import harness

    COLUMNS = {"id", "n"}  # iterated in PYTHONHASHSEED's order, as an ORM does

    async def lost_update(sim):
        db = await sim.connect("c.db", isolation_level=None)
        await db.execute("CREATE TABLE IF NOT EXISTS counter(id, n)")
        await db.execute("INSERT INTO counter VALUES (1, 0)")
        columns = ",".join(COLUMNS)

        async def bump():
            rows = await db.execute_fetchall(f"SELECT {columns} FROM counter")
            n = dict(zip(list(COLUMNS), rows[0]))["n"]
            await asyncio.sleep(0)
            await db.execute("UPDATE counter SET n = ?", (n + 1,))

        await asyncio.gather(bump(), bump())
        (row,) = await db.execute_fetchall("SELECT n FROM counter")
        await db.close()
        assert row[0] == 2, f"lost update: n = {row[0]}"
    """
)

MINT = "import body, harness; print(harness.explore(body.lost_update, seed=1).failures[0].token)"
REPLAY = (
    "import sys, body, harness\n"
    "run = harness.replay(body.lost_update, sys.argv[1])\n"
    "print(type(run.error).__name__)\n"
    "print(run.note)\n"
)


def _python(tmp_path: Path, seed: int, code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _order(tmp_path: Path, seed: int) -> str:
    return _python(tmp_path, seed, "import body; print(list(body.COLUMNS))").strip()


def test_a_token_replays_its_failure_where_sets_of_strings_iterate_otherwise(
    tmp_path: Path,
) -> None:
    (tmp_path / "body.py").write_text(BODY)
    first = _order(tmp_path, 0)
    other = next(seed for seed in range(1, 50) if _order(tmp_path, seed) != first)
    token = _python(tmp_path, 0, MINT).strip()

    same = _python(tmp_path, 0, REPLAY, token).splitlines()
    assert same == ["AssertionError", ""]  # identical trace: no note

    error, note = _python(tmp_path, other, REPLAY, token).splitlines()
    assert error == "AssertionError"
    assert "every recorded decision was taken" in note and "PYTHONHASHSEED" in note
