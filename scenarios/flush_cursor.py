"""flush-cursor — NousResearch/hermes-agent #19407: duplicate transcript rows after a partial flush.

An agent appends messages to a growing list and flushes them to the session
database from several exit paths. Another process writes the same database
(it holds the write lock for a while); each append has a timeout
(``asyncio.wait_for``); ``database is locked`` may strike any append; the
process may crash and restart.

Invariants:

* exactly once, in order: each message is stored once, in list order.
* cursor: after a flush, the flush cursor equals the committed prefix.
* restart: after a crash the cursor is recovered and the flush completes without duplicates.

Variants:

* ``original`` — the cursor is set to ``len(messages)`` only after the loop; a
  broad ``except`` logs and returns, so the next flush rewrites rows that did
  commit;
* ``naive-fix`` — the PR: the cursor advances per row — still duplicates when
  an append's outcome is unknown to the caller: the ``wait_for`` timeout
  cancels the await but aiosqlite still executes the queued statement, or a
  crash strikes after COMMIT took effect;
* ``reference`` — per-row cursor plus an idempotency key
  (``UNIQUE(session_id, seq)``, insert-or-ignore) and the cursor recovered from
  the database after a restart.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiosqlite

import harness
from harness import checks
from harness.reference_store import ReferenceStore

from ._base import Scenario
from ._env import Env

DB = "state.db"
SESSION = "agent-1"
MESSAGES = ("user: fix the test", "assistant: calling a tool", "tool: 3 passed", "assistant: done")
APPEND_TIMEOUT = 1.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, session_id TEXT, seq INTEGER,
                                    role TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS other(x);
"""


class SessionDB:
    """hermes' SessionDB: one autocommit INSERT per message, no idempotency key."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, env: Env) -> SessionDB:
        conn = await env.connect(DB, isolation_level=None, timeout=5)
        await conn.executescript(SCHEMA)
        return cls(conn)

    async def append_message(self, session: str, seq: int, role: str, body: str) -> bool:
        await self._conn.execute(
            "INSERT INTO messages(session_id, seq, role, body) VALUES (?, ?, ?, ?)",
            (session, seq, role, body),
        )
        return True

    async def transcript(self, session: str) -> list[tuple[int, str, str]]:
        rows = await self._conn.execute_fetchall(
            "SELECT seq, role, body FROM messages WHERE session_id = ? ORDER BY id", (session,)
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def close(self) -> None:
        await self._conn.close()


async def open_store(env: Env, variant: str) -> Any:
    if variant == "reference":
        return await ReferenceStore.open(env.connect, DB)
    return await SessionDB.open(env)


class Agent:
    """The agent's flush: messages[cursor:] go to the database on every exit path."""

    def __init__(self, env: Env, store: Any, variant: str, cursor: int = 0) -> None:
        self.env = env
        self.store = store
        self.per_row = variant != "original"
        self.cursor = cursor
        self.timeout = env.seconds(APPEND_TIMEOUT)  # each append's wait_for
        self.messages: list[str] = env.notes.setdefault("messages", [])

    def say(self, text: str) -> None:
        self.messages.append(text)  # the client sees it at once (sim.notes is the client)

    def _saved(self) -> None:
        self.env.notes["cursor"] = self.cursor  # the agent's own record of its cursor

    async def flush(self) -> None:
        try:
            for i in range(self.cursor, len(self.messages)):
                role, _, body = self.messages[i].partition(": ")
                await asyncio.wait_for(
                    self.store.append_message(SESSION, i, role, body),
                    timeout=self.timeout,
                )
                if self.per_row:
                    self.cursor = i + 1
                    self._saved()
            self.cursor = len(self.messages)
            self._saved()
        except (sqlite3.Error, TimeoutError) as exc:  # logged and ignored, as in the original
            self.env.notes.setdefault("flush_errors", []).append(type(exc).__name__)


async def _check(env: Env, store: Any, agent: Agent) -> None:
    rows = [f"{role}: {body}" for _, role, body in await store.transcript(SESSION)]
    checks.ordered_prefix(rows, agent.messages, what="message")
    if agent.cursor != len(rows):
        raise checks.Violation(f"flush cursor {agent.cursor} != committed prefix {len(rows)}")
    if len(rows) != len(agent.messages):
        raise checks.Violation(f"{len(agent.messages) - len(rows)} messages were never stored")


async def other_process(env: Env) -> None:
    """Another hermes process on the same state.db: holds the write lock for a while."""
    async with env.connect_other(DB, isolation_level=None, timeout=5) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS other(x)")
        await env.sleep(0.7)
        try:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO other VALUES (1)")
            await env.sleep(env.random.choice((0.5, 0.9, 2.0)))  # its own work takes a while
            await conn.execute("COMMIT")
        except sqlite3.OperationalError:  # that process's own problem: it logs and moves on
            if conn.in_transaction:
                await conn.execute("ROLLBACK")


async def workload(env: Env, variant: str) -> None:
    store = await open_store(env, variant)
    agent = Agent(env, store, variant)
    contention = asyncio.ensure_future(other_process(env))
    for text in MESSAGES:
        await env.sleep(0.5)
        agent.say(text)
        await agent.flush()  # exit path: end of a step
    await contention
    await env.sleep(1.0)
    await agent.flush()  # exit path: session close
    await agent.flush()  # exit path: process shutdown (retries what a transient error left)
    await _settle(env, agent)
    await _check(env, store, agent)
    await store.close()


SETTLE_ATTEMPTS = 20


async def _settle(env: Env, agent: Agent) -> None:
    """Real mode: keep the shutdown flush going while it only timed out.

    On real threads an append's timeout (10 ms at the real-mode scale) also
    fires when a loaded machine is merely slow, and a shutdown flush that timed
    out would leave the cursor behind: a failure that says nothing about the
    store. Retrying while the flush's only errors are timeouts, with the
    timeout doubled at each retry (so however slow the machine, an append gets
    the time it needs), makes the outcome structural — what the store
    committed, not how fast. (Virtual time is exact: in simulation a timeout
    means a real wait, so nothing changes.)
    """
    if env.kind != "real":
        return
    errors: list[str] = env.notes.setdefault("flush_errors", [])
    for _ in range(SETTLE_ATTEMPTS):
        before = len(errors)
        if agent.cursor >= len(agent.messages):
            return
        agent.timeout *= 2
        await agent.flush()
        if any(e != "TimeoutError" for e in errors[before:]):
            return  # a real error: the check judges it


async def recover(env: Env, variant: str) -> None:
    """The restarted agent: the conversation comes from the client, the cursor from state."""
    store = await open_store(env, variant)
    if variant == "reference":
        cursor = await store.stored_prefix(SESSION)  # recovered from the database
    else:
        cursor = int(env.notes.get("cursor", 0))  # the agent's own record
    agent = Agent(env, store, variant, cursor=cursor)
    await agent.flush()  # resume
    await agent.flush()  # and the shutdown exit path
    await _check(env, store, agent)
    await store.close()


SCENARIO = Scenario(
    name="flush-cursor",
    source="NousResearch/hermes-agent #19407",
    summary="a flush that fails halfway rewrites the rows that did commit",
    invariants=(
        "each message is stored exactly once, in order",
        "the flush cursor equals the committed prefix",
        "after a restart the cursor is recovered and no row is duplicated",
    ),
    mode="fifo",
    faults=harness.Faults(busy=1, crash=1),
    workload=workload,
    recover=recover,
)
