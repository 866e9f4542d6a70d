"""The controller's account of every planned run: how each ended, and what is left.

Workers report runs as they start and end (:mod:`._worker`, :mod:`._xdist`);
pytest-xdist reports an item whose worker died. The :class:`Ledger` turns
both into one record per run — ``passed``, ``failed``, ``crashed`` or
``timed_out`` — and everything without a record *never ran*. It knows which
run each worker has in flight, so a dead worker costs exactly that run:

* the run is **timed out** when it had been in flight for at least the
  per-run timeout (the worker's watchdog kills it a little later,
  :data:`~._watchdog.KILL_GRACE`), else **crashed**, with the worker's exit
  code or signal where it is known (local workers);
* the rest of its chunk is handed out again in the next round
  (:meth:`Ledger.resumes`).

Invariants: a run is recorded at most once (the first record wins, so a
duplicate event cannot double-count); ``runs + never_ran == planned`` for
every cell; a cell's counts do not depend on which worker ran what or in
which order events arrived.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..report import Cell
from ..report.model import MAX_EXAMPLES
from ._spec import Chunk, real_seed
from ._worker import real_command
from ._xdist import RECEIVED, describe_exit

OUTCOMES = ("passed", "failed", "crashed", "timed_out")
UNKNOWN_ERROR = "unreported (its worker died)"


@dataclass
class Flight:
    """The run a worker is busy with: its chunk, its index, when we last heard of it."""

    chunk: str
    run: int
    stamp: float


@dataclass
class CellAccount:
    """Everything recorded for one cell."""

    key: tuple[str, str, str]
    planned: int = 0
    records: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    wall: float = 0.0
    distinct: int = 0
    stopped: str | None = None
    exhausted: bool = False
    bound: int | None = None
    strategy: str | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    """Examples a worker made itself (a user's harness test shrinks its own failure)."""

    def count(self, outcome: str) -> int:
        return sum(1 for o, _ in self.records.values() if o == outcome)


@dataclass
class Totals:
    runs: int = 0
    failed: int = 0
    crashed: int = 0
    timed_out: int = 0


class Ledger:
    """Run records of one stress run, across all its sessions (see the module docstring)."""

    def __init__(
        self,
        cells: Sequence[tuple[str, str, str]],
        chunks: Sequence[Chunk],
        *,
        seed: int,
        timeout: float,
        strategy: str,
        rerun: Callable[[Chunk, int], tuple[int | None, str | None]] | None = None,
    ) -> None:
        self.order = list(cells)
        self.seed = seed
        self.timeout = timeout
        self.strategy = strategy
        self.rerun = rerun or self._scenario_rerun
        self.accounts = {k: CellAccount(k) for k in cells}
        self.chunks: dict[str, Chunk] = {}
        self.flights: dict[str, Flight] = {}
        self.heard_from: set[str] = set()
        self.totals = Totals()
        self.warnings: list[str] = []
        for chunk in chunks:
            self.accounts[chunk.key].planned += chunk.runs
        self.add_chunks(chunks)

    def add_chunks(self, chunks: Sequence[Chunk], ids: Sequence[str] | None = None) -> None:
        """Know ``chunks`` by their ids (or by ``ids``: the user suite's node ids)."""
        for chunk, ident in zip(chunks, ids or [c.id for c in chunks], strict=True):
            self.chunks[ident] = chunk

    def _scenario_rerun(self, chunk: Chunk, run: int) -> tuple[int | None, str | None]:
        if chunk.mode != "real":
            return None, None
        seed = real_seed(self.seed, chunk.name, chunk.store, run)
        return seed, real_command(f"{chunk.name}/{chunk.store}", seed)

    # ------------------------------------------------------------ records
    def record(self, key: tuple[str, str, str], run: int, outcome: str, detail: Any) -> bool:
        account = self.accounts[key]
        if run in account.records:
            return False
        account.records[run] = (outcome, detail if isinstance(detail, dict) else None)
        self.totals.runs += 1
        if outcome == "failed":
            self.totals.failed += 1
        elif outcome == "crashed":
            self.totals.crashed += 1
        elif outcome == "timed_out":
            self.totals.timed_out += 1
        return True

    def ended(self, chunk: Chunk) -> list[int]:
        records = self.accounts[chunk.key].records
        return [r for r in chunk.run_indices() if r in records]

    # -------------------------------------------------------------- events
    def event(self, worker: str, payload: dict[str, Any]) -> None:
        """One run event from ``worker`` (see :mod:`._worker` for the kinds)."""
        ident = str(payload.get("chunk"))
        chunk = self.chunks.get(ident)
        if chunk is None:
            return
        self.heard_from.add(worker)
        stamp = float(payload.get(RECEIVED, time.monotonic()))
        kind = payload.get("t")
        if kind == "begin":
            self.flights[worker] = Flight(ident, chunk.start, stamp)
        elif kind == "start":
            self.flights[worker] = Flight(ident, int(payload["run"]), stamp)
        elif kind == "end":
            run, outcome = int(payload["run"]), str(payload["outcome"])
            if outcome == "skipped":  # a skipped run is not a run: it leaves the plan
                self.accounts[chunk.key].planned -= 1
            else:
                self.record(chunk.key, run, outcome, payload.get("detail"))
            self.flights[worker] = Flight(ident, run + 1, stamp)
        elif kind == "sim":
            first, outcomes = int(payload["first"]), str(payload["outcomes"])
            for offset, letter in enumerate(outcomes):
                outcome = "failed" if letter == "F" else "passed"
                self.record(chunk.key, first + offset, outcome, None)
            self.flights[worker] = Flight(ident, first + len(outcomes), stamp)
        elif kind == "done":
            self._done(chunk, payload)
            if self.flights.get(worker, Flight("", 0, 0)).chunk == ident:
                del self.flights[worker]

    def _done(self, chunk: Chunk, payload: dict[str, Any]) -> None:
        account = self.accounts[chunk.key]
        account.wall += float(payload.get("wall") or 0.0)
        coverage = payload.get("coverage")
        if isinstance(coverage, dict):
            account.distinct += int(coverage.get("distinct") or 0)
            account.exhausted = bool(coverage.get("exhausted"))
            account.bound = coverage.get("bound") if account.exhausted else None
            if account.exhausted:
                account.stopped = "exhausted"
            if coverage.get("strategy"):
                account.strategy = str(coverage["strategy"])
        if isinstance(payload.get("planned"), int):  # the strategy's space was smaller
            account.planned = min(account.planned, int(payload["planned"]))
        for example in payload.get("examples") or []:
            account.examples.append(example)
        for run, detail in payload.get("failures") or []:
            outcome, known = account.records.get(run, ("failed", None))
            if outcome == "failed" and known is None:
                account.records[run] = ("failed", detail)
            elif run not in account.records:
                self.record(chunk.key, run, "failed", detail)

    def worker_died(self, worker: str, chunk_id: str, status: int | None) -> None:
        """pytest-xdist reported ``chunk_id`` as crashed on ``worker`` (exit ``status``)."""
        chunk = self.chunks.get(chunk_id)
        if chunk is None:
            return
        flight = self.flights.pop(worker, None)
        if flight is not None and flight.chunk == chunk_id:
            run, elapsed = flight.run, time.monotonic() - flight.stamp
        else:  # it died before saying anything about this chunk
            missing = [r for r in chunk.run_indices() if r not in self.accounts[chunk.key].records]
            run, elapsed = (missing[0] if missing else chunk.start), 0.0
        if run not in chunk.run_indices():
            return
        outcome = "timed_out" if elapsed >= self.timeout else "crashed"
        self.record(chunk.key, run, outcome, self._lost_detail(chunk, run, outcome, status))

    def _lost_detail(
        self, chunk: Chunk, run: int, outcome: str, status: int | None
    ) -> dict[str, Any]:
        crash = describe_exit(status)
        how = ""
        if crash is not None and "signal" in crash:
            how = f" (killed by {crash['signal']})"
        elif crash is not None:
            how = f" (exit code {crash['exit_code']})"
        if outcome == "timed_out":
            error, message = (
                "Timeout",
                f"the run exceeded {self.timeout:g} s; its worker was killed",
            )
        else:
            error, message = "Crashed", f"the worker died during this run{how}"
        seed, command = self.rerun(chunk, run)
        return {
            "error": error,
            "message": message,
            "traceback": [],
            "crash": crash,
            "seed": seed,
            "command": command,
        }

    # -------------------------------------------------------------- rounds
    def resumes(self, chunks: Sequence[Chunk]) -> list[Chunk]:
        """The rest of every chunk of ``chunks`` that stopped before its last run."""
        rest = []
        for chunk in chunks:
            records = self.accounts[chunk.key].records
            missing = [r for r in chunk.run_indices() if r not in records]
            if missing:
                rest.append(chunk.resumed(missing[0]) if missing[0] > chunk.start else chunk)
        return rest

    # ------------------------------------------------------------- results
    def counts(self, key: tuple[str, str, str]) -> tuple[int, int]:
        """``(failing, runs)`` of a cell so far."""
        account = self.accounts[key]
        return sum(1 for o, _ in account.records.values() if o != "passed"), len(account.records)

    def failing_tokens(self, key: tuple[str, str, str]) -> list[tuple[int, str]]:
        """``(run, token)`` of a sim cell's failing schedules, first run first."""
        account = self.accounts[key]
        return [
            (run, detail["token"])
            for run, (outcome, detail) in sorted(account.records.items())
            if outcome == "failed" and detail is not None and isinstance(detail.get("token"), str)
        ]

    def cells(self) -> list[Cell]:
        return [self._cell(self.accounts[k]) for k in self.order if self.accounts[k].planned]

    def _cell(self, account: CellAccount) -> Cell:
        name, store, mode = account.key
        errors: Counter[str] = Counter()
        examples: list[dict[str, Any]] = []
        for run, (outcome, detail) in sorted(account.records.items()):
            if outcome == "passed":
                continue
            if outcome == "failed":
                errors[str((detail or {}).get("error") or UNKNOWN_ERROR)] += 1
            if detail is None or (mode == "sim" and outcome == "failed"):
                continue  # sim failures become shrunk examples later (._examples)
            if len(examples) < MAX_EXAMPLES:
                examples.append(_example(run, detail, mode))
        coverage = None
        if mode == "sim":
            coverage = {
                "strategy": account.strategy or self.strategy,
                "schedules": len(account.records),
                "distinct": account.distinct,
                "exhausted": account.exhausted,
                "bound": account.bound,
            }
            examples = [*account.examples, *examples][:MAX_EXAMPLES]
        tokens = [e["token"] for e in examples if isinstance(e.get("token"), str)]
        expected = {"original": "fail", "naive-fix": "fail", "reference": "pass"}.get(store)
        return Cell(
            name,
            store,
            mode,
            runs=len(account.records),
            failures=account.count("failed"),
            crashed=account.count("crashed"),
            timed_out=account.count("timed_out"),
            planned=account.planned,
            expected=expected,
            errors=dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
            tokens=tokens,
            coverage=coverage,
            examples=examples,
            wall_time_s=round(account.wall, 6),
            stopped=account.stopped,
        )


def _example(run: int, detail: dict[str, Any], mode: str) -> dict[str, Any]:
    """A report example from a run's detail (the schema's keys, in its order)."""
    return {
        "token": detail.get("token") if mode == "sim" else None,
        "error": detail.get("error"),
        "message": detail.get("message", ""),
        "traceback": list(detail.get("traceback") or []),
        "seed": detail.get("seed"),
        "command": detail.get("command"),
        "crash": detail.get("crash"),
        "events": [],
        "run": run,
    }
