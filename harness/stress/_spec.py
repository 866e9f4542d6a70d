"""The plan of a stress run: cells, chunks of runs, their seeds, shards and the plan id.

A stress run measures *cells* — one per (scenario, store variant, mode) —
each ``runs`` times. The runs of a cell are numbered ``0 .. runs - 1`` and
cut into *chunks* (a few schedules or real runs each); a chunk is one
pytest item of the stress session, the unit pytest-xdist hands to a worker.
Every run reports how it ended on its own (:mod:`._events`), so a chunk is
only a unit of scheduling: a crash loses no run but the one in flight, and
the rest of the chunk is *resumed* (:meth:`Chunk.resumed`) in a later round.

The plan travels to workers as data (:meth:`Spec.to_data`, in pytest-xdist's
``workerinput``), never as a file, so remote workers need only harness
installed.

Invariants:

* the chunks of a cell, their sizes and their seeds depend only on
  ``(seed, runs, cell)`` — never on the number of workers, on which worker
  runs a chunk, or on sharding;
* a real run's seed depends only on its cell and index (:func:`real_seed`),
  so a resumed chunk, a shard and an ``--until-decided`` prefix run exactly
  the runs the whole plan would;
* :func:`shard` picks every N-th chunk of the global order; the N shards
  partition the chunks, so merging ``--shard 1/N`` … ``N/N`` gives exactly
  the counts of the unsharded run; :func:`plan_id` is the same for all of
  them;
* seeds come from :func:`derive_seed` (BLAKE2b), never from ``hash()``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

SPEC_VERSION = 2
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


def real_seed(base: int, name: str, store: str, run: int) -> int:
    """The seed of real run ``run`` of cell ``name``/``store`` (``harness replay real:…``)."""
    return derive_seed(base, name, store, "real-run", run)


def chunk_size(mode: str, runs: int) -> int:
    """Runs per chunk for a cell of ``runs`` runs in ``mode`` (a function of both only)."""
    base = SIM_CHUNK if mode == "sim" else REAL_CHUNK
    return max(base, -(-runs // MAX_CHUNKS_PER_CELL))


@dataclass(frozen=True)
class Chunk:
    """Runs ``start .. start + runs - 1`` of one cell.

    ``seed`` is the exploration seed of a sim chunk (a resumed sim chunk
    explores with a seed derived from it and its start); a real run ``i``
    uses :func:`real_seed`. ``part`` counts resumptions (0: as planned).
    """

    name: str
    store: str
    mode: str
    index: int
    start: int
    runs: int
    seed: int
    part: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return self.name, self.store, self.mode

    @property
    def cell_id(self) -> str:
        return f"{self.name}/{self.store}/{self.mode}"

    @property
    def id(self) -> str:
        """``name/store/mode#index`` (``.part`` when resumed): names it in logs and hooks."""
        suffix = f".{self.part}" if self.part else ""
        return f"{self.cell_id}#{self.index}{suffix}"

    @property
    def item_name(self) -> str:
        """The pytest item's name: unique within a session, readable in pytest's log."""
        suffix = f":from{self.start}" if self.part else ""
        return f"{self.name}[{self.store}:{self.mode}:{self.index}{suffix}]"

    def run_indices(self) -> range:
        return range(self.start, self.start + self.runs)

    def explore_seed(self) -> int:
        return self.seed if not self.part else derive_seed(self.seed, "resume", self.start)

    def resumed(self, start: int) -> Chunk:
        """The rest of this chunk from run ``start`` on (a run in between ended the worker)."""
        end = self.start + self.runs
        return replace(self, start=start, runs=end - start, part=self.part + 1)


@dataclass
class Spec:
    """Everything a worker needs to run its chunks (sent as plain data)."""

    seed: int
    strategy: str
    timeout: float
    chunks: list[Chunk]
    controller_pid: int = field(default_factory=os.getpid)
    version: int = SPEC_VERSION

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunks"] = [list(asdict(c).values()) for c in self.chunks]
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Spec:
        if data.get("version") != SPEC_VERSION:
            raise ValueError(
                f"this worker's harness reads stress plans of version {SPEC_VERSION}, "
                f"the controller sent {data.get('version')!r}: install the same harness on "
                f"every machine"
            )
        values = dict(data)
        chunks = [Chunk(*c) for c in values.pop("chunks")]
        return cls(chunks=chunks, **values)


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


def plan_id(**decisive: Any) -> str:
    """A short digest of everything that decides a stress run's results (not the shard)."""
    text = json.dumps(decisive, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``1 <= I <= N <= 10000``; ``ValueError`` otherwise."""
    left, sep, right = text.partition("/")
    try:
        i, n = int(left), int(right)
    except ValueError:
        i = n = 0
    if not sep or not 1 <= n <= 10_000 or not 1 <= i <= n:
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
