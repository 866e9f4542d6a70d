"""README's "Test your store's API against a model" stays true: its code runs, its output is real.

The section's Python blocks (the racy store, the model and spec, the fix) are
executed as they stand; the failure report shown is compared line by line
with what ``lin.check`` reports now, and the replay token it shows is replayed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

import harness
from harness import linearizability as lin
from harness.tokens import decode_token, encode_token

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "## Test your store's API against a model"


def _section() -> str:
    text = README.read_text()
    start = text.index(HEADING)
    end = text.index("\n## ", start + len(HEADING))
    return text[start:end]


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", _section(), flags=re.S)


def _namespace(with_fix: bool = False) -> dict[str, Any]:
    store, spec, fix = _blocks("python")
    ns: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(store, "README.md (store)", "exec"), ns)
    exec(compile(spec, "README.md (spec)", "exec"), ns)
    if with_fix:
        exec(compile(fix, "README.md (fix)", "exec"), ns)
    return ns


def _shown_report() -> list[str]:
    (output,) = _blocks("text")
    lines = [
        line[8:] if line.startswith("E       ") else ""
        for line in output.splitlines()
        if line.startswith("E")
    ]
    lines[0] = lines[0].removeprefix("harness.linearizability.LinearizabilityError: ")
    return lines


def _versionless(lines: list[str]) -> list[str]:
    """Tokens in ``lines`` with their version header cleared.

    A token's header records the harness, Python, aiosqlite, SQLite and anyio
    versions that made it; the README's was made on one set of versions, the
    report compared with it on whichever this run has.  The schedule itself
    (seed, mode, faults, deviations, digest) must still be equal.
    """

    def clear(match: re.Match[str]) -> str:
        s = decode_token(match.group(0))
        bare = dataclasses.replace(
            s,
            harness=(0, 0, 0),
            python=(0, 0),
            aiosqlite=(0, 0, 0),
            sqlite=(0, 0, 0),
            anyio=(0, 0, 0),
        )
        return encode_token(bare)

    return [re.sub(r"h2\.[\w-]+", clear, line) for line in lines]


def test_the_readme_shows_the_report_lin_check_gives_for_the_racy_store() -> None:
    ns = _namespace()
    with pytest.raises(lin.LinearizabilityError) as info:
        ns["test_kv_store_is_linearizable"]()
    actual = _versionless(str(info.value).splitlines())
    shown = _versionless(_shown_report())
    assert actual[:-1] == shown[:-1]  # the last line is the pytest command of *this* test
    assert shown[-1].startswith("  pytest 'tests/test_kv.py::test_kv_store_is_linearizable'")
    assert actual[-1].startswith("  pytest 'tests/test_readme_linearizability.py::")


def test_the_readme_token_replays_the_failure_it_shows() -> None:
    ns = _namespace()
    replay_line = next(line for line in _shown_report() if "linearizability.replay(" in line)
    match = re.search(r"replay\(spec, (\".*?\"), '(h[12]\.[\w-]+)'\)", replay_line)
    assert match is not None
    scenario = match.group(1)[1:-1].replace("\\n", "\n")
    run = lin.replay(ns["spec"], scenario, match.group(2))
    assert isinstance(run.error, lin.NotLinearizable)
    assert [str(e.call) + " " + e.outcome() for e in run.history.entries] == [
        "incr('a') -> 1",
        "incr('a') -> 1",
        "get('a') -> 1",
        "get('b') -> None",
    ]


def test_the_readme_fix_passes_what_the_readme_says() -> None:
    ns = _namespace(with_fix=True)
    result = lin.check(ns["fixed"], faults=harness.Faults(crash=1))
    assert (result.scenarios_run, result.schedules_run) == (25, 25 * 40)
    assert "25\nscenarios \u00d7 40 schedules" in _section()


def test_the_readme_race_is_real_on_aiosqlite_and_so_is_the_fix() -> None:
    # both reads are queued on aiosqlite's thread before either result comes back
    ns = _namespace(with_fix=True)
    scenario = lin.Scenario.parse("actor 1: incr('a')\nactor 2: incr('a')")
    with pytest.raises(lin.NotLinearizable):
        lin.run_real(ns["spec"], scenario)
    assert len(lin.run_real(ns["fixed"], scenario, runs=3)) == 3
