"""hook-batch — ClosedLoop PR #234: SQLite write contention corrupts the agent dashboard.

Concurrent hook handlers call ``ack = await store.ingest(event)``; a batching
writer stores the events; a watchdog on a 15 s virtual timer ends idle
sessions; a second process (a sync service) writes the same database with a
``busy_timeout``. One event is bad (its second row violates a constraint).
The process may crash and restart.

Invariants:

* no ``database is locked`` reaches a hook caller.
* all-or-nothing: each hook's rows are stored whole or not at all; a bad event drops no other.
* acknowledged ⇒ durable: every acknowledged event is in the database after crash and recovery.
* the watchdog never ends a session that became active after it read it.
* no file I/O happens inside a write transaction.

Variants:

* ``original`` — ``BEGIN DEFERRED`` read-then-write transactions (the upgrade
  gets ``SQLITE_BUSY`` at once while the sync service holds the write lock;
  the busy handler is skipped), transcript extraction (file I/O) inside the
  write transaction, and a watchdog whose read, check and write are separate;
* ``naive-fix`` — the PR as first submitted: ``BEGIN IMMEDIATE`` and a batch
  queue, but a per-event ``try/except`` inside one transaction (a failing hook
  leaves half its rows) and the ack sent before the batch commits (a crash
  loses acknowledged events);
* ``reference`` — ``BEGIN IMMEDIATE``; I/O outside the transaction; one
  ``SAVEPOINT`` per event with ``ROLLBACK TO`` on error; ack after commit; the
  watchdog's check and write in one conditional ``UPDATE``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

import harness
from harness import checks
from harness.reference_store import HookEvent, ReferenceStore

from ._base import Scenario
from ._env import Env

DB = "closedloop.db"
IDLE = 15.0
GOOD = HookEvent("e-good", "s-busy", ("tool start", "tool end"), "e-good.jsonl")
BAD = HookEvent("e-bad", "s-busy", ("tool start", None), "e-bad.jsonl")  # type: ignore[arg-type]
FIRST = HookEvent("e-first", "s-idle", ("session start",), "e-first.jsonl")
LATE = HookEvent("e-late", "s-busy", ("prompt", "reply"), "e-late.jsonl")
EVENTS = (GOOD, BAD, FIRST, LATE)
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, title TEXT, model TEXT,
    last_activity REAL NOT NULL DEFAULT 0, ended INTEGER NOT NULL DEFAULT 0, ended_at REAL);
CREATE TABLE IF NOT EXISTS hook_rows(event_id TEXT NOT NULL, part INTEGER NOT NULL,
    session_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY(event_id, part));
"""


class DeferredHooks:
    """The original: one deferred transaction per hook, I/O inside it, a racy watchdog."""

    def __init__(self, env: Env, conn: aiosqlite.Connection) -> None:
        self.env = env
        self.conn = conn
        self._lock = asyncio.Lock()  # in-process handlers take turns on the connection

    @classmethod
    async def open(cls, env: Env) -> Any:
        conn = await env.connect(DB, isolation_level=None)
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.executescript(SCHEMA)
        return cls(env, conn)

    async def _rows(self, db: aiosqlite.Connection, event: HookEvent) -> None:
        for part, body in enumerate(event.parts):
            await db.execute(
                "INSERT INTO hook_rows VALUES (?, ?, ?, ?)", (event.id, part, event.session, body)
            )
        await db.execute(
            "INSERT INTO sessions(id, last_activity) VALUES (?, ?) ON CONFLICT(id) "
            "DO UPDATE SET last_activity = excluded.last_activity, ended = 0",
            (event.session, self.env.now()),
        )

    async def ingest(self, event: HookEvent) -> str:
        async with self._lock:
            db = self.conn
            await db.execute("BEGIN")  # deferred
            try:
                await db.execute_fetchall(
                    "SELECT ended FROM sessions WHERE id = ?", (event.session,)
                )
                await self.env.file_io(event.transcript_path)  # transcript extraction
                await self._rows(db, event)  # read -> write upgrade
                await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise
        return f"ack:{event.id}"

    async def end_idle_sessions(self, idle: float) -> int:
        now = self.env.now()
        rows = list(
            await self.conn.execute_fetchall(
                "SELECT id FROM sessions WHERE ended = 0 AND last_activity <= ?", (now - idle,)
            )
        )
        for (session,) in rows:  # checked above, written here: activity may land in between
            await self.conn.execute(
                "UPDATE sessions SET ended = 1, ended_at = ? WHERE id = ?", (now, session)
            )
        return len(rows)

    async def when_idle(self) -> None:
        return None

    async def close(self) -> None:
        await self.when_idle()
        await self.conn.close()


class BatchingHooks(DeferredHooks):
    """The naive fix: batched ``BEGIN IMMEDIATE``, but no savepoints and an early ack."""

    def __init__(self, env: Env, conn: aiosqlite.Connection) -> None:
        super().__init__(env, conn)
        self._queue: list[HookEvent] = []
        self._drain: asyncio.Future[None] | None = None

    async def ingest(self, event: HookEvent) -> str:
        await self.env.file_io(event.transcript_path)  # moved out of the transaction
        self._queue.append(event)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.ensure_future(self._write_batches())
        return f"ack:{event.id}"  # responds before the batch commits

    async def _write_batches(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            async with self._lock:
                db = self.conn
                await db.execute("BEGIN IMMEDIATE")
                try:
                    for event in batch:
                        try:
                            await self._rows(db, event)
                        except sqlite3.Error:
                            pass  # logged; the rows it wrote before failing stay
                    await db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        await db.execute("ROLLBACK")
                    raise

    async def end_idle_sessions(self, idle: float) -> int:
        async with self._lock:
            db = self.conn
            await db.execute("BEGIN IMMEDIATE")
            try:
                count = await super().end_idle_sessions(idle)
                await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise
            return count

    async def when_idle(self) -> None:
        while self._drain is not None and not self._drain.done():
            await asyncio.wait([self._drain])


async def open_store(env: Env, variant: str) -> Any:
    if variant == "original":
        return await DeferredHooks.open(env)
    if variant == "naive-fix":
        return await BatchingHooks.open(env)
    return await ReferenceStore.open(env.connect, DB, file_io=env.file_io, clock=env.now)


async def sync_service(env: Env) -> None:
    """Another process on the same file: short write transactions every 5 s."""
    async with env.connect_other(DB, isolation_level=None, timeout=5) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS sync_state(n INTEGER)")
        for _ in range(3):
            await env.sleep(5.0)
            try:
                await conn.execute("BEGIN IMMEDIATE")
                await conn.execute("INSERT INTO sync_state VALUES (1)")
                await conn.execute("COMMIT")
            except sqlite3.OperationalError:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")


async def _stored(store: Any) -> dict[str, list[str]]:
    db = store.db.reader if isinstance(store, ReferenceStore) else store.conn
    rows = await db.execute_fetchall("SELECT event_id, body FROM hook_rows ORDER BY event_id, part")
    stored: dict[str, list[str]] = {}
    for event_id, body in rows:
        stored.setdefault(str(event_id), []).append(str(body))
    return stored


async def _sessions(store: Any) -> list[tuple[Any, ...]]:
    db = store.db.reader if isinstance(store, ReferenceStore) else store.conn
    return [
        tuple(r)
        for r in await db.execute_fetchall(
            "SELECT id, ended, ended_at, last_activity FROM sessions"
        )
    ]


def _check_rows(stored: dict[str, list[str]], acked: Sequence[str]) -> None:
    checks.all_or_nothing(
        {
            e.id: [p for p in e.parts if p is not None] + ["(bad)"] * (None in e.parts)
            for e in EVENTS
        },
        stored,
    )
    checks.acknowledged_durable([a.removeprefix("ack:") for a in acked], stored)


async def workload(env: Env, variant: str) -> None:
    store = await open_store(env, variant)
    acked: list[str] = env.notes.setdefault("acked", [])
    errors: list[str] = []

    async def hook(event: HookEvent, at: float) -> None:
        await env.sleep(at)
        try:
            acked.append(await store.ingest(event))
        except sqlite3.Error as exc:
            errors.append(f"{event.id}: {type(exc).__name__}: {exc}")

    async def watchdog() -> None:
        await env.sleep(IDLE)
        await store.end_idle_sessions(IDLE)

    sync = asyncio.ensure_future(sync_service(env))
    await asyncio.gather(
        hook(FIRST, 0.0), hook(GOOD, 0.0), hook(BAD, 0.0), watchdog(), hook(LATE, IDLE)
    )
    await store.when_idle()
    await sync
    stored = await _stored(store)
    sessions = await _sessions(store)
    await store.close()

    locked = [e for e in errors if "locked" in e]
    if locked:
        raise checks.Violation(f"database is locked reached a hook caller: {locked[0]}")
    _check_rows(stored, acked)
    if "e-good" not in stored:
        raise checks.Violation("the bad event dropped a good event of its batch")
    for session, ended, ended_at, last_activity in sessions:
        if ended and last_activity > ended_at - IDLE:
            raise checks.Violation(
                f"the watchdog ended {session} at {ended_at:.3f}s although "
                f"it was active at {last_activity:.3f}s"
            )
    if env.io_in_transaction:
        raise checks.Violation(f"file I/O inside a write transaction: {env.io_in_transaction[0]}")


async def recover(env: Env, variant: str) -> None:
    store = await open_store(env, variant)
    stored = await _stored(store)
    await store.close()
    _check_rows(stored, env.notes.get("acked", []))


SCENARIO = Scenario(
    name="hook-batch",
    source="ClosedLoop PR #234",
    summary="hook writes, a watchdog and a sync service contend; acks and batches go wrong",
    invariants=(
        "no database is locked reaches a hook caller",
        "each hook's rows are all-or-nothing; a bad event does not drop its batch",
        "every acknowledged event is durable after crash and recovery",
        "the watchdog never ends a session that became active after it read it",
        "no file I/O inside a write transaction",
    ),
    mode="fifo",
    faults=harness.Faults(crash=1),
    workload=workload,
    recover=recover,
)
