"""metadata-lww — microsoft/vscode #311989: session config lost across a restart.

Two ``set_metadata(key, …)`` calls are made back to back without awaiting in
between (call order is submission order); the database runs them in parallel
(node-sqlite3's parallel mode; in Python a pool or thread-pool executor), so
the older value can land last. Then ``when_idle()``, a restart, and a read.

Invariants:

* last-writer-wins: after when_idle() and a restart a key holds its last successful write.
* independence: a write fails only by its own fault (one fault fails at most one write).
* other keys: a write to another key never waits for, nor fails with, this key's writes.

Variants:

* ``original`` — each write goes straight to a pool of two connections;
* ``naive-fix`` — a per-key chain that does not swallow the predecessor's
  failure: when W1 fails with ``database is locked``, W2 never runs;
* ``reference`` — ``reference_store``'s per-key sequencer (chained at call time,
  predecessor failures swallowed, entry dropped when idle).

Minimal failing order (original): submit W1, submit W2, W2 executes, W1 executes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite

import harness
from harness import checks
from harness.reference_store import ReferenceStore

from ._base import Scenario
from ._env import Env

DB = "session.db"


class PooledMetadata:
    """The original store: every write is handed to a small pool, nothing orders them."""

    chained = False

    def __init__(self, pool: list[aiosqlite.Connection]) -> None:
        self._pool = pool
        self._next = 0
        self._pending: set[asyncio.Future[None]] = set()
        self._chains: dict[str, asyncio.Future[None]] = {}

    @classmethod
    async def open(cls, env: Env) -> PooledMetadata:
        pool = [await env.connect(DB, isolation_level=None) for _ in range(2)]
        await pool[0].execute(
            "CREATE TABLE IF NOT EXISTS metadata(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        return cls(pool)

    async def _write(self, key: str, value: str) -> None:
        conn = self._pool[self._next % len(self._pool)]
        self._next += 1
        await conn.execute(
            "INSERT OR REPLACE INTO metadata(key, value) VALUES (?, ?)", (key, value)
        )

    def set_metadata(self, key: str, value: str) -> asyncio.Future[None]:
        future = asyncio.ensure_future(self._write(key, value))
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    async def when_idle(self) -> None:
        while self._pending:
            await asyncio.wait(list(self._pending))

    async def get_metadata(self, key: str) -> str | None:
        rows = await self._pool[0].execute_fetchall(
            "SELECT value FROM metadata WHERE key = ?", (key,)
        )
        found = list(rows)
        return str(found[0][0]) if found else None

    async def close(self) -> None:
        await self.when_idle()
        for conn in self._pool:
            await conn.close()


class ChainedMetadata(PooledMetadata):
    """The naive fix: chain writes per key, but let a failure break the chain."""

    def set_metadata(self, key: str, value: str) -> asyncio.Future[None]:
        previous = self._chains.get(key)

        async def run() -> None:
            if previous is not None:
                await previous  # re-raises the predecessor's failure: this write never runs
            await self._write(key, value)

        future = asyncio.ensure_future(run())
        self._chains[key] = future
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future


async def open_store(env: Env, variant: str) -> Any:
    if variant == "original":
        return await PooledMetadata.open(env)
    if variant == "naive-fix":
        return await ChainedMetadata.open(env)
    return await ReferenceStore.open(env.connect, DB)


async def workload(env: Env, variant: str) -> None:
    store = await open_store(env, variant)
    writes = [("config", "main"), ("config", "release"), ("title", "session one")]
    futures = [store.set_metadata(key, value) for key, value in writes]  # no await in between
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    await store.when_idle()
    await store.close()

    store = await open_store(env, variant)  # restart
    stored = {key: await store.get_metadata(key) for key in ("config", "title")}
    await store.close()

    errors = [e if isinstance(e, BaseException) else None for e in outcomes]
    env.notes["outcomes"] = [type(e).__name__ if e else "ok" for e in errors]
    checks.independent_failures(
        [(f"{k}={v}", e) for (k, v), e in zip(writes, errors, strict=True)], faults=1
    )
    checks.last_writer_wins(
        [(k, v, e is None) for (k, v), e in zip(writes, errors, strict=True)], stored
    )


SCENARIO = Scenario(
    name="metadata-lww",
    source="microsoft/vscode #311989",
    summary="two back-to-back writes of one key complete out of order; the older value wins",
    invariants=(
        "last-writer-wins after when_idle() and a restart",
        "a write fails only by its own fault",
        "writes to other keys are independent",
    ),
    mode="parallel",
    faults=harness.Faults(busy=1),
    workload=workload,
)
