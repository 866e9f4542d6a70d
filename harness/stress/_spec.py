"""The plan of a stress run: cells, chunks of runs, and the seed of every chunk.

A stress run measures *cells* — one per (scenario, store variant, mode) —
each ``runs`` times. The runs of a cell are cut into *chunks* (a few
schedules or real runs each); a chunk is one pytest item of the stress
session, the unit that pytest-xdist hands to a worker and the unit a crash
loses. The plan is written as JSON (:func:`save_spec`) and every worker
collects the same items from it (:mod:`harness.stress._session`).

Invariants:

* the chunks of a cell, their sizes and their seeds depend only on
  ``(seed, runs, cell)`` — never on the number of workers, on which worker
  runs a chunk, or on sharding;
* :func:`shard` picks a deterministic subset (every N-th chunk of the global
  order), the N shards partition the chunks, so merging the reports of
  ``--shard 1/N`` … ``--shard N/N`` gives exactly the counts of the
  unsharded run;
* seeds come from :func:`derive_seed` (BLAKE2b), never from ``hash()``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SPEC_SUFFIX = ".harness-stress.json"
"""What the stress session's ``pytest_collect_file`` hook recognises."""
SPEC_VERSION = 1
MODES = ("sim", "real")
SIM_CHUNK = 50
"""Schedules per sim chunk: big enough for PCT to learn a schedule's length."""
REAL_CHUNK = 5
"""Real runs per chunk: a chunk of the slowest scenario stays under a second."""
MAX_CHUNKS_PER_CELL = 64
"""Chunks grow beyond the sizes above when a cell has more runs than this many chunks hold."""


def derive_seed(*parts: object) -> int:
    """A 31-bit seed mixed from ``parts`` with BLAKE2b (stable across processes)."""
    text = "\0".join(str(p) for p in parts)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def chunk_size(mode: str, runs: int) -> int:
    """Runs per chunk for a cell of ``runs`` runs in ``mode`` (a function of both only)."""
    base = SIM_CHUNK if mode == "sim" else REAL_CHUNK
    return max(base, -(-runs // MAX_CHUNKS_PER_CELL))


@dataclass(frozen=True)
class Chunk:
    """Runs ``start .. start + runs - 1`` of one cell.

    ``seed`` is the exploration seed of a sim chunk; a real chunk's run ``i``
    uses :meth:`real_seed` ``(i)``.
    """

    name: str
    store: str
    mode: str
    index: int
    start: int
    runs: int
    seed: int

    @property
    def key(self) -> tuple[str, str, str]:
        return self.name, self.store, self.mode

    @property
    def id(self) -> str:
        """``name/store/mode#index``: names the chunk in node ids, logs and test hooks."""
        return f"{self.name}/{self.store}/{self.mode}#{self.index}"

    def real_seed(self, base: int, run: int) -> int:
        """The seed of the cell's ``run``-th real run (global index within the cell)."""
        return derive_seed(base, self.name, self.store, "real-run", run)


@dataclass
class Spec:
    """Everything a worker needs to run its chunks (written as JSON)."""

    seed: int
    runs: int
    strategy: str
    timeout: float
    chunks: list[Chunk]
    controller_pid: int = field(default_factory=os.getpid)
    stop_file: str = ""
    """Created by the controller to ask workers to stop after the runs in flight."""
    version: int = SPEC_VERSION


def cells_of(names: list[str], stores: list[str], modes: list[str]) -> list[tuple[str, str, str]]:
    """The cells in report order: scenario, then store, then mode."""
    return [(n, s, m) for n in names for s in stores for m in modes]


def plan(cells: list[tuple[str, str, str]], runs: int, seed: int) -> list[Chunk]:
    """Every chunk of every cell, in the global order sharding counts in."""
    chunks: list[Chunk] = []
    for name, store, mode in cells:
        size = chunk_size(mode, runs)
        for index, start in enumerate(range(0, runs, size)):
            chunks.append(
                Chunk(
                    name=name,
                    store=store,
                    mode=mode,
                    index=index,
                    start=start,
                    runs=min(size, runs - start),
                    seed=derive_seed(seed, name, store, mode, index),
                )
            )
    return chunks


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``1 <= I <= N``; ``ValueError`` otherwise."""
    left, sep, right = text.partition("/")
    try:
        i, n = int(left), int(right)
    except ValueError:
        i = n = 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise ValueError(f"expected a shard I/N with 1 <= I <= N, got {text!r}")
    return i, n


def shard(chunks: list[Chunk], which: tuple[int, int]) -> list[Chunk]:
    """Shard ``I/N``: the chunks whose global position is ``I - 1`` modulo ``N``."""
    i, n = which
    return [c for position, c in enumerate(chunks) if position % n == i - 1]


def run_order(chunks: list[Chunk]) -> list[Chunk]:
    """The order items are handed out: real chunks (long) first, so the tail is short.

    Only scheduling depends on this order, never a result.
    """
    return sorted(chunks, key=lambda c: c.mode != "real")


def save_spec(spec: Spec, directory: Path) -> Path:
    """Write ``spec`` as ``stress.harness-stress.json`` in ``directory``; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"stress{SPEC_SUFFIX}"
    data = asdict(spec)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def load_spec(path: Path) -> Spec:
    """Read a spec written by :func:`save_spec` (same harness version on both ends)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("version") != SPEC_VERSION:
        raise ValueError(f"{path}: unknown stress spec version {data.get('version')!r}")
    chunks = [Chunk(**c) for c in data.pop("chunks")]
    return Spec(chunks=chunks, **data)
