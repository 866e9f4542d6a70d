"""writer-contention — 1024XEngineer/neo-code #631: session writes hit ``database is locked``.

Tool workers finish in any order (durations from ``sim.random``) and persist
their results; a gateway mutation (rename) runs at the same time; an asset
save does slow file I/O; a metadata write is issued during that save.

Invariants:

* no write fails with ``database is locked`` (no store call raises).
* transcript tool messages appear in tool-call order.
* each tool's result event is emitted at the virtual instant that tool finished.
* a metadata write issued during an asset save does not wait for the save's file I/O.

Variants:

* ``original`` — a pool of 4 connections, one deferred read-then-write
  transaction per write (the upgrade fails at once, without the busy
  handler); each worker persists on completion, so the transcript follows
  completion order;
* ``naive-fix`` — the PR's first commit: one writer lock and ordered
  persistence, but result events are emitted only in the ordered step (the UI
  waits for the slowest tool) and the lock is held across the asset's file I/O;
* ``reference`` — one writer connection, lock only around SQL, ordered
  persistence, events as each tool finishes, file I/O outside the lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiosqlite

from harness import checks
from harness.reference_store import ReferenceStore, ToolEvent

from ._base import Scenario
from ._env import Env

DB = "workspace.db"
SESSION = "s1"
TOOLS = ("read_file", "grep", "run_tests")
ASSET = "diagram.png"
ASSET_IO_SECONDS = 2.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, title TEXT, model TEXT);
CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, session_id TEXT, seq INTEGER,
                                    role TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS assets(session_id TEXT, name TEXT, size INTEGER,
                                  PRIMARY KEY(session_id, name));
CREATE TABLE IF NOT EXISTS metadata(key TEXT PRIMARY KEY, value TEXT);
"""
Tx = Callable[[aiosqlite.Connection], Awaitable[None]]


class PoolStore:
    """The original: a pool of connections, a deferred transaction per write."""

    def __init__(self, env: Env, pool: list[aiosqlite.Connection]) -> None:
        self._env = env
        self._pool = pool
        self._next = 0

    @classmethod
    async def open(cls, env: Env, size: int = 4) -> PoolStore:
        pool = []
        for _ in range(size):
            conn = await env.connect(DB, isolation_level=None)
            await conn.execute("PRAGMA busy_timeout = 5000")
            pool.append(conn)
        await pool[0].executescript(SCHEMA)
        return cls(env, pool)

    async def close(self) -> None:
        for conn in self._pool:
            await conn.close()

    async def _tx(self, work: Tx) -> None:
        conn = self._pool[self._next % len(self._pool)]
        self._next += 1
        await conn.execute("BEGIN")  # deferred: the read below takes SHARED, the write upgrades
        try:
            await work(conn)
            await conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise

    async def append_message(self, session: str, role: str, body: str) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            rows = await db.execute_fetchall(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session_id = ?", (session,)
            )
            await db.execute(
                "INSERT INTO messages(session_id, seq, role, body) VALUES (?, ?, ?, ?)",
                (session, next(iter(rows))[0], role, body),
            )

        await self._tx(work)

    async def update_session(self, session: str, **fields: Any) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute_fetchall("SELECT id FROM sessions WHERE id = ?", (session,))
            await db.execute("INSERT OR IGNORE INTO sessions(id) VALUES (?)", (session,))
            for name in sorted(fields):
                await db.execute(
                    f"UPDATE sessions SET {name} = ? WHERE id = ?", (fields[name], session)
                )

        await self._tx(work)

    async def set_metadata(self, key: str, value: str) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute_fetchall("SELECT value FROM metadata WHERE key = ?", (key,))
            await db.execute("INSERT OR REPLACE INTO metadata VALUES (?, ?)", (key, value))

        await self._tx(work)

    async def save_asset(self, session: str, name: str, path: str) -> None:
        data = await self._env.file_io(path, ASSET_IO_SECONDS)

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT OR REPLACE INTO assets VALUES (?, ?, ?)", (session, name, len(data))
            )

        await self._tx(work)

    async def run_tool_calls(
        self,
        session: str,
        calls: Sequence[str],
        execute: Callable[[int, str], Awaitable[str]],
        emit: Callable[[ToolEvent], None],
    ) -> None:
        async def worker(index: int, name: str) -> None:
            result = await execute(index, name)
            emit(ToolEvent(index, name, result, self._env.now()))
            await self.append_message(session, "tool", f"{name}: {result}")  # completion order

        await asyncio.gather(*(worker(i, name) for i, name in enumerate(calls)))

    async def transcript(self, session: str) -> list[tuple[int, str, str]]:
        rows = await self._pool[0].execute_fetchall(
            "SELECT seq, role, body FROM messages WHERE session_id = ? ORDER BY seq", (session,)
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


class LockedStore(PoolStore):
    """The naive fix: one connection behind a write lock, held too long and too wide."""

    @classmethod
    async def open(cls, env: Env, size: int = 1) -> PoolStore:
        store = await super().open(env, size=1)
        store._lock = asyncio.Lock()  # type: ignore[attr-defined]
        return store

    async def _tx(self, work: Tx) -> None:
        lock: asyncio.Lock = self._lock  # type: ignore[attr-defined]
        if lock.locked() and getattr(self, "_holder", None) is asyncio.current_task():
            await super()._tx(work)  # already held by this task (save_asset)
            return
        async with lock:
            await super()._tx(work)

    async def save_asset(self, session: str, name: str, path: str) -> None:
        lock: asyncio.Lock = self._lock  # type: ignore[attr-defined]
        async with lock:  # the write lock is held across the asset's file I/O
            self._holder = asyncio.current_task()
            try:
                await PoolStore.save_asset(self, session, name, path)
            finally:
                self._holder = None

    async def run_tool_calls(
        self,
        session: str,
        calls: Sequence[str],
        execute: Callable[[int, str], Awaitable[str]],
        emit: Callable[[ToolEvent], None],
    ) -> None:
        results = await asyncio.gather(*(execute(i, name) for i, name in enumerate(calls)))
        for index, (name, result) in enumerate(zip(calls, results, strict=True)):
            emit(ToolEvent(index, name, result, self._env.now()))  # only now: after the slowest
            await self.append_message(session, "tool", f"{name}: {result}")


async def open_store(env: Env, variant: str) -> Any:
    if variant == "original":
        return await PoolStore.open(env)
    if variant == "naive-fix":
        return await LockedStore.open(env)
    return await ReferenceStore.open(
        env.connect, DB, file_io=lambda p: env.file_io(p, ASSET_IO_SECONDS), clock=env.now
    )


async def workload(env: Env, variant: str) -> None:
    store = await open_store(env, variant)
    await store.update_session(SESSION, title="new session", model="model-a")
    durations: dict[int, float] = {}
    finished: dict[int, float] = {}
    emitted: dict[int, float] = {}
    metadata_done = False

    def shorter(index: int) -> list[int]:
        return [k for k, d in durations.items() if d < durations[index]]

    async def execute(index: int, name: str) -> str:
        durations[index] = env.random.choice((0.5, 1.0, 1.5))
        await env.sleep(durations[index])
        # real time: a tool that started late must not finish before a shorter one
        await env.until(lambda: all(k in finished for k in shorter(index)))
        finished[index] = env.now()
        env.mark(f"tool {index} finished")
        return f"result {index}"

    def emit(event: ToolEvent) -> None:
        emitted[event.index] = env.now()
        env.mark(f"tool {event.index} emitted")

    async def gateway() -> None:
        await env.sleep(0.75)
        await store.update_session(SESSION, title="renamed")

    async def metadata_during_save() -> tuple[float, float]:
        nonlocal metadata_done
        await env.sleep(0.25)  # the asset save's file I/O takes 2 s from t = 0
        issued = env.now()
        env.mark("metadata issued")
        try:
            await store.set_metadata(f"{SESSION}.model", "model-b")
        finally:
            metadata_done = True
            env.mark("metadata done")
        return issued, env.now()

    env.hold_io(ASSET, lambda: metadata_done)
    outcomes = await asyncio.gather(
        store.run_tool_calls(SESSION, TOOLS, execute, emit),
        gateway(),
        store.save_asset(SESSION, "diagram.png", ASSET),
        metadata_during_save(),
        return_exceptions=True,
    )
    transcript = [body for _, role, body in await store.transcript(SESSION) if role == "tool"]
    await store.close()

    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        raise checks.Violation(
            f"a store call failed: {type(failures[0]).__name__}: {failures[0]}"
        ) from failures[0]
    checks.ordered_prefix(
        transcript, [f"{name}: result {i}" for i, name in enumerate(TOOLS)], what="tool message"
    )
    if len(transcript) != len(TOOLS):
        raise checks.Violation(f"{len(TOOLS) - len(transcript)} tool results were not persisted")
    _check_events_on_time(env, durations, finished, emitted)
    _check_metadata_not_held(env, outcomes[3])  # type: ignore[arg-type]


def _check_events_on_time(
    env: Env, durations: dict[int, float], finished: dict[int, float], emitted: dict[int, float]
) -> None:
    """Each tool's result event is emitted when that tool finishes.

    In simulation: at the same virtual instant. On real threads (structural, no clock):
    before any tool that takes longer finishes — an event held back for the slowest
    tool is emitted after it. Tools finish in the order of their durations there too
    (``Env.until`` in the workload), whatever the machine's load.
    """
    if env.kind == "sim":
        checks.within(
            [(f"result event of tool {i}", finished[i], emitted[i]) for i in finished],
            bound=env.tolerance,
        )
        return
    late = [
        f"result event of tool {i} emitted after tool {j} (which takes longer) finished"
        for i in durations
        for j in durations
        if durations[j] > durations[i] and env.before(f"tool {j} finished", f"tool {i} emitted")
    ]
    if late:
        raise checks.Violation(f"a result event waited for other tools: {late[0]}")


def _check_metadata_not_held(env: Env, times: tuple[float, float]) -> None:
    """A metadata write issued during the asset save does not wait for its file I/O.

    In simulation the write takes no virtual time at all. On real threads (structural):
    the save's I/O is held until the write is done or until only that I/O can make
    progress (``Env.hold_io``), so a write that waits for the I/O ends after it.
    """
    io_done = f"io done: {ASSET}"
    if not env.before("metadata issued", io_done):
        raise checks.Violation("the metadata write was not issued during the asset save")
    if env.kind == "sim":
        issued, done = times
        checks.within([("metadata write during the asset save", issued, done)], env.tolerance)
    elif not env.before("metadata done", io_done):
        raise checks.Violation(
            "the metadata write issued during the asset save waited for the save's file I/O"
        )


SCENARIO = Scenario(
    name="writer-contention",
    source="1024XEngineer/neo-code #631",
    summary="tool results, a rename and an asset save race for the write lock",
    invariants=(
        "no write fails with database is locked",
        "transcript tool messages in tool-call order",
        "each result event is emitted when its tool finishes",
        "a metadata write does not wait for an asset save's file I/O",
    ),
    mode="fifo",
    faults=None,
    workload=workload,
)
