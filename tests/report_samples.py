"""Realistic flake reports in the JSON form of schema ``harness.flake-report/2`` (renderer tests).

:func:`sample_report` builds the report the issue describes: 5 bundled
scenarios x 3 stores x 2 modes = 30 cells, the 20 ``original``/``naive-fix``
cells expected to fail, simulated cells with shrunk tokens, coverage and
swimlane events (the metadata-lww timeline with its overtaken write), real
cells with rates, seeds, a crash and a timeout, ~100-character tokens and
more than three examples; gated or not. Everything is deterministic.

:func:`as_report` gives what the renderers are called with: the model's
:class:`Report` once ``harness.report.model`` reads schema 2, the dict until
then (the renderers take both).
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from harness.report import model
from harness.report.stats import wilson

SCHEMA = "harness.flake-report/2"
SCENARIOS = ("metadata-lww", "writer-contention", "subscribe-gap", "flush-cursor", "hook-batch")
STORES = ("original", "naive-fix", "reference")
ERRORS = {
    "metadata-lww": ("Violation", "last writer lost: key 'config' holds 'main', but the last "
                     "successful write submitted was 'release'"),
    "writer-contention": ("OperationalError", "database is locked"),
    "subscribe-gap": ("Violation", "message 7 above after_id 5 was never delivered"),
    "flush-cursor": ("Violation", "flush cursor 3 is ahead of the committed prefix 2"),
    "hook-batch": ("Violation", "acknowledged event e2 is missing after crash and recovery"),
}  # fmt: skip


def token(*parts: object, length: int = 100) -> str:
    """A deterministic token-shaped string of ``length`` characters (``h1.`` + base64-ish)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    seed = "/".join(map(str, parts)).encode()
    out = ""
    counter = 0
    while len(out) < length - 3:
        digest = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        out += "".join(alphabet[b % 64] for b in digest)
        counter += 1
    return "h1." + out[: length - 3]


def lww_events() -> list[dict[str, Any]]:
    """The metadata-lww failure as the engine records it: ``config='main'`` is submitted first
    (step 12) and overtaken by ``config='release'`` (step 17, the deviation)."""
    ins = "INSERT OR REPLACE INTO metadata(key, value) VALUES (?, ?)"
    sel = "SELECT value FROM metadata WHERE key = ?"
    rows: list[tuple[str, str, str, bool]] = [
        ("main", "spawn", "task-1", False),
        ("main", "spawn", "task-2", False),
        ("task-1", "submit", "session.db#1: connect", False),
        ("task-2", "submit", "session.db#2: connect", False),
        ("session.db#1", "exec", "connect -> ok", False),
        ("session.db#1", "deliver", "connect -> task-1", False),
        ("session.db#2", "exec", "connect -> ok", False),
        ("session.db#2", "deliver", "connect -> task-2", False),
        ("main", "spawn", "task-3", False),
        ("main", "spawn", "task-4", False),
        ("task-1", "submit", "session.db#1: BEGIN", False),
        ("task-1", "submit", f"session.db#1: {ins} ('config', 'main')", False),
        ("session.db#1", "exec", "BEGIN -> ok", False),
        ("session.db#1", "deliver", "BEGIN -> task-1", False),
        ("task-3", "submit", f"session.db#2: {ins} ('config', 'release')", False),
        ("task-4", "submit", f"session.db#1: {ins} ('title', 'session one')", False),
        ("session.db#2", "exec", f"{ins} ('config', 'release') -> ok, rowcount=1", True),
        ("session.db#1", "exec", f"{ins} ('config', 'main') -> ok, rowcount=1", False),
        ("session.db#1", "exec", f"{ins} ('title', 'session one') -> ok, rowcount=1", False),
        ("session.db#2", "deliver", f"{ins[:47]}… -> task-3", False),
        ("session.db#1", "deliver", f"{ins[:47]}… -> task-1", False),
        ("session.db#1", "deliver", f"{ins[:47]}… -> task-4", False),
        ("main", "submit", f"session.db#3: {sel} ('config',)", False),
        ("session.db#3", "exec", f"{sel} ('config',) -> 1 row: ('main',)", False),
        ("session.db#3", "deliver", f"{sel} ('config'… -> main", False),
        ("main", "submit", "session.db#3: close", False),
        ("session.db#3", "exec", "close -> ok", False),
        ("session.db#3", "deliver", "close -> main", False),
    ]
    return [
        {"step": i, "time": 0.0, "actor": a, "kind": k, "text": t, "deviation": d}
        for i, (a, k, t, d) in enumerate(rows, start=1)
    ]


def long_events(n: int, with_ops: bool = True) -> list[dict[str, Any]]:
    """``n`` events of two tasks writing through two connections, with ``op`` ids."""
    events: list[dict[str, Any]] = []
    op = 0
    while len(events) < n:
        op += 1
        conn = f"app.db#{op % 2 + 1}"
        sql = f"UPDATE counters SET n = n + 1 WHERE id = ? ({op},)"
        base = {"time": round(op * 0.01, 3), "deviation": op % 9 == 0}
        for actor, kind, text in (
            (f"task-{op % 2 + 1}", "submit", f"{conn}: {sql}"),
            (conn, "exec", f"{sql} -> ok, rowcount=1"),
            (conn, "deliver", f"UPDATE counters SET n = n + 1 WHERE id = ? ({op},… -> task"),
        ):
            event = {**base, "step": len(events) + 1, "actor": actor, "kind": kind, "text": text}
            if with_ops:
                event["op"] = op
            events.append(event)
    return events[:n]


def _sim_cell(name: str, store: str, runs: int, fails: bool, index: int) -> dict[str, Any]:
    failures = 20 + index if fails else 0
    error, message = ERRORS[name]
    tokens = [token(name, store, "sim", k) for k in range(3)] if fails else []
    examples = []
    for k in range(3 if fails and name == "metadata-lww" else (1 if fails else 0)):
        events = lww_events() if name == "metadata-lww" else long_events(30 + 17 * index)
        examples.append(
            {
                "token": tokens[k],
                "error": error,
                "message": message + ("" if k == 0 else f" (schedule {k})"),
                "traceback": [
                    f'File "scenarios/{name.replace("-", "_")}.py", line {80 + k}, in workload',
                    f"    raise {error}(message)",
                ],
                "seed": None,
                "command": f"harness replay {tokens[k]}",
                "crash": None,
                "events": events,
            }
        )
    exhausted = name == "subscribe-gap" and store == "reference"
    return {
        "name": name, "store": store, "mode": "sim", "kind": "simulated",
        "expected": "pass" if store == "reference" else "fail",
        "planned": runs, "runs": runs, "passed": runs - failures, "failures": failures,
        "crashed": 0, "timed_out": 0, "never_ran": 0,
        "rate": failures / runs, "ci_low": 0.0, "ci_high": 0.0,
        "errors": {error: failures} if fails else {},
        "tokens": tokens,
        "coverage": {
            "strategy": "pct", "schedules": runs, "distinct": runs - 3 - index % 5,
            "exhausted": exhausted, "bound": 2 if exhausted else None,
        },
        "examples": examples,
        "wall_time_s": 1.5 + index / 10,
    }  # fmt: skip


def _real_cell(name: str, store: str, runs: int, index: int) -> dict[str, Any]:
    buggy = store != "reference"
    failures = (index * 7) % 23 + 1 if buggy and index % 4 != 3 else 0
    crashed = 1 if (name, store) == ("hook-batch", "original") else 0
    timed_out = 1 if (name, store) == ("writer-contention", "naive-fix") else 0
    if (name, store) == ("flush-cursor", "reference"):
        failures = 2  # an unexpected real failure: the reference store must never fail
    error, message = ERRORS[name]
    examples = []
    if failures:
        seed = 1145002104 + index
        examples.append(
            {
                "token": None, "error": error, "message": message,
                "traceback": [f'File "scenarios/{name.replace("-", "_")}.py", line 90, in check'],
                "seed": seed,
                "command": f"harness stress --scenarios {name} --stores {store} --mode real "
                           f"--runs 1 --seed {seed}",
                "crash": None, "events": [],
            }
        )  # fmt: skip
    if crashed:
        examples.append(
            {
                "token": None, "error": "WorkerCrashed", "message": "the worker died mid-run",
                "traceback": [], "seed": 99, "command": None,
                "crash": {"signal": "SIGKILL"}, "events": [],
            }
        )  # fmt: skip
    failing = failures + crashed + timed_out
    low, high = wilson(failing, runs)
    errors = {error: failures} if failures else {}
    if crashed:
        errors["crash"] = crashed
    return {
        "name": name, "store": store, "mode": "real", "kind": "real",
        "expected": "pass" if store == "reference" else "fail",
        "planned": runs, "runs": runs, "passed": runs - failing, "failures": failures,
        "crashed": crashed, "timed_out": timed_out, "never_ran": 0,
        "rate": failing / runs, "ci_low": low, "ci_high": high,
        "errors": errors, "tokens": [], "coverage": None, "examples": examples,
        "wall_time_s": 4.25 + index,
    }  # fmt: skip


def sample_report(*, gated: bool = False, runs: int = 100) -> dict[str, Any]:
    """The 30-cell report (see the module docstring), as schema-2 JSON."""
    cells = []
    index = 0
    for name in SCENARIOS:
        for store in STORES:
            fails = store != "reference" and (name, store) != ("hook-batch", "naive-fix")
            cells.append(_sim_cell(name, store, runs, fails, index))
            index += 1
    for name in SCENARIOS:
        for store in STORES:
            cells.append(_real_cell(name, store, runs, index))
            index += 1
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "created": "2026-12-01T12:00:00Z",
        "harness_version": "0.2.0",
        "meta": {
            "command": "harness stress --runs 100 --mode both --workers 2 --out reports/nightly",
            "seed": 0, "runs": runs, "workers": 2, "strategy": "pct", "mode": "both",
            "timeout": 30.0, "python": "3.11.2", "sqlite": "3.40.1", "aiosqlite": "0.22.1",
            "hostname": "ci-runner-7", "wall_time_s": 33.926,
            "scenarios": list(SCENARIOS), "stores": list(STORES),
            "shard": None, "chunks": 12,
        },
        "plan": {
            "id": "3f2a9c0d1e2b", "runs_per_cell": runs,
            "cells": [[c["name"], c["store"], c["mode"]] for c in cells], "shard": None,
        },
        "interrupted": False, "interrupted_by": None,
        "cells": cells,
        "gate": gate_of(cells) if gated else None,
    }  # fmt: skip
    return data


def gate_of(cells: list[dict[str, Any]], max_rate: float = 0.001) -> dict[str, Any]:
    """A gate verdict shaped as ``harness gate`` writes it (simple rules, for rendering only)."""
    verdicts = []
    for c in cells:
        failing = c["failures"] + c["crashed"] + c["timed_out"]
        if c["kind"] == "simulated":
            verdict = "fail" if failing else "pass"
            reason = "confirmed failing schedule" if failing else "no failing schedule"
            needed = None
        elif c["ci_low"] > max_rate:
            verdict, reason, needed = "fail", "lower bound above the max rate", None
        else:
            verdict, reason, needed = "unproven", "upper bound above the max rate", 2995
        replay = f"harness replay {c['tokens'][0]}" if c["tokens"] else None
        verdicts.append(
            {"name": c["name"], "store": c["store"], "mode": c["mode"], "verdict": verdict,
             "reason": reason, "runs_needed": needed, "replay": replay}
        )  # fmt: skip
    return {
        "max_rate": max_rate, "confidence": 0.95, "strict": False,
        "allow_crashes": False, "allow_partial": False,
        "passed": not any(v["verdict"] == "fail" for v in verdicts), "cells": verdicts,
    }  # fmt: skip


def as_report(data: dict[str, Any]) -> Any:
    """What a renderer gets: ``from_json(data)`` once the model reads schema 2, else the dict."""
    if getattr(model, "SCHEMA", None) == SCHEMA:
        return model.from_json(copy.deepcopy(data))
    return data


def all_tokens(data: dict[str, Any]) -> list[str]:
    """Every replay token in the report's cells and examples."""
    found = []
    for cell in data["cells"]:
        found += cell["tokens"]
        found += [e["token"] for e in cell["examples"] if e["token"]]
    return list(dict.fromkeys(found))


def example_count(data: dict[str, Any]) -> int:
    return sum(len(c["examples"]) for c in data["cells"])
