"""The README's gate examples are ones that can pass: run them as written.

The commands between ``<!-- gate-examples -->`` markers in README.md run in a
fresh project holding the tutorial's fixed test and a plain test; every one
must exit 0 (each ``harness gate`` among them included). Slow: they are the
real thing (hundreds of real aiosqlite runs).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FIXED_TUTORIAL = """
import asyncio

import pytest

from harness.reference_store import KeySequencer


@pytest.mark.harness(mode="parallel")
async def test_the_last_click_wins(sim):
    db = await sim.connect("app.db", isolation_level=None)
    await db.execute("CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT)")
    seq = KeySequencer()

    def save(value):  # chained at call time: the fix from vscode #311989
        return seq.queue(
            "theme",
            lambda: db.execute("INSERT OR REPLACE INTO settings VALUES ('theme', ?)", (value,)),
        )

    await asyncio.gather(save("light"), save("dark"))
    rows = await db.execute_fetchall("SELECT value FROM settings")
    assert rows == [("dark",)]
    await db.close()


def test_plain_arithmetic():
    assert sum(range(10)) == 45
"""


def gate_examples() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- gate-examples -->\s*```sh\n(.*?)```", text, re.DOTALL)
    assert block is not None, "README.md lost its gate-examples block"
    lines = [line.strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.slow
def test_every_readme_gate_example_passes(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_settings.py").write_text(FIXED_TUTORIAL, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    commands = gate_examples()
    assert any(c.startswith("harness gate") for c in commands)
    for command in commands:
        argv = shlex.split(command)
        program = {"pytest": "pytest", "harness": "harness"}[argv[0]]
        done = subprocess.run(
            [sys.executable, "-m", program, *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
        if argv[:2] == ["harness", "gate"]:
            assert "gate PASSED" in done.stdout, done.stdout
