"""Faults strike where the strategy chooses, with SQLite's own error codes; crashes abandon."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

import harness

MESSAGES = ["hello", "tool call", "tool result", "answer"]


def flusher(per_row: bool):
    """hermes-agent's flush: the original advances the cursor after the loop."""

    async def flush(db: Any, state: dict[str, int]) -> None:
        try:
            for i in range(state["cursor"], len(MESSAGES)):
                await db.execute("INSERT INTO msgs(body) VALUES (?)", (MESSAGES[i],))
                if per_row:
                    state["cursor"] = i + 1
            state["cursor"] = len(MESSAGES)
        except sqlite3.OperationalError:
            pass  # logged and ignored, as in the original

    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("flush.db", isolation_level=None)
        await db.execute("CREATE TABLE msgs(id INTEGER PRIMARY KEY, body TEXT)")
        state = {"cursor": 0}
        await flush(db, state)  # one exit path
        await flush(db, state)  # another exit path
        rows = [r[0] for r in await db.execute_fetchall("SELECT body FROM msgs ORDER BY id")]
        await db.close()
        assert len(rows) == len(set(rows)), f"duplicate rows: {rows}"
        assert rows == MESSAGES[: len(rows)], rows

    return body


def test_mid_batch_busy_is_found_in_the_cursor_after_loop_flush() -> None:
    result = harness.explore(
        flusher(per_row=False), schedules=500, strategy="random", faults=harness.Faults(busy=1)
    )
    assert result.failed
    failure = result.failures[0]
    assert "duplicate rows" in str(failure.error)
    assert failure.faults == ("busy",)
    assert "fault" in failure.timeline and "database is locked" in failure.timeline


def test_mid_batch_busy_is_harmless_with_a_per_row_cursor() -> None:
    result = harness.explore(
        flusher(per_row=True),
        schedules=10_000,
        strategy=harness.Exhaustive(2),
        faults=harness.Faults(busy=1),
    )
    assert not result.failed and result.exhausted


@pytest.mark.parametrize(
    ("kind", "code", "name", "message"),
    [
        ("busy", 5, "SQLITE_BUSY", "database is locked"),
        ("ioerror", 10, "SQLITE_IOERR", "disk I/O error"),
        ("full", 13, "SQLITE_FULL", "database or disk is full"),
    ],
)
def test_fault_errors_carry_sqlites_codes_and_have_no_effect(
    kind: str, code: int, name: str, message: str
) -> None:
    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("f.db")
        await db.execute("CREATE TABLE t(x)")
        await db.commit()
        try:
            await db.execute("INSERT INTO t VALUES (1)")
        except sqlite3.OperationalError as exc:
            assert (exc.sqlite_errorcode, exc.sqlite_errorname, str(exc)) == (code, name, message)
            assert db.in_transaction  # Python's implicit BEGIN ran before the failing INSERT
            await db.commit()
            assert await db.execute_fetchall("SELECT count(*) FROM t") == [(0,)]
            sim.notes["faulted"] = True
        await db.close()

    result = harness.explore(
        body, schedules=50, strategy=harness.Exhaustive(1), faults=harness.Faults(**{kind: 1})
    )
    assert not result.failed, result.failures and result.failures[0].error
    assert result.exhausted


def test_busy_is_only_offered_where_sqlite_could_return_it() -> None:
    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("w.db", isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("CREATE TABLE t(x)")
        await db.execute("BEGIN IMMEDIATE")  # holds the write lock from here on
        for i in range(3):
            await db.execute("INSERT INTO t VALUES (?)", (i,))
        await db.execute("COMMIT")  # WAL commit never waits for a lock
        await db.close()

    # busy could strike only at CREATE TABLE? no: DDL is not a write here; at BEGIN IMMEDIATE yes
    result = harness.explore(
        body,
        schedules=100,
        strategy=harness.Exhaustive(1),
        faults=harness.Faults(busy=1),
        stop_on_first=False,
    )
    assert result.exhausted
    assert len(result.failures) == 1  # exactly one place: BEGIN IMMEDIATE
    assert (
        "BEGIN IMMEDIATE" in result.failures[0].timeline.splitlines()[-1]
        or "fault" in result.failures[0].timeline
    )


def ingest(ack_before_commit: bool):
    async def body(sim: harness.Sim) -> None:
        sim.notes["acked"] = []
        db = await sim.connect("hooks.db", isolation_level=None)
        await db.execute("CREATE TABLE IF NOT EXISTS events(id TEXT PRIMARY KEY)")

        async def handle(event: str) -> None:
            await db.execute("BEGIN IMMEDIATE")
            await db.execute("INSERT INTO events VALUES (?)", (event,))
            if ack_before_commit:
                sim.notes["acked"].append(event)
            await db.execute("COMMIT")
            if not ack_before_commit:
                sim.notes["acked"].append(event)

        for event in ("e1", "e2"):
            await handle(event)
        await db.close()

    return body


async def recover(sim: harness.Sim) -> None:
    async with sim.connect("hooks.db") as db:
        stored = {r[0] for r in await db.execute_fetchall("SELECT id FROM events")}
    lost = [e for e in sim.notes["acked"] if e not in stored]
    assert not lost, f"acknowledged but lost after the crash: {lost}"


def test_ack_before_commit_loses_an_acknowledged_row_under_a_crash() -> None:
    result = harness.explore(
        ingest(ack_before_commit=True),
        schedules=500,
        strategy="random",
        faults=harness.Faults(crash=1),
        recover=recover,
    )
    assert result.failed
    failure = result.failures[0]
    assert "acknowledged but lost" in str(failure.error)
    assert failure.faults == ("crash",)
    assert "process crashes at COMMIT (before it executed)" in failure.timeline
    assert "recover" in failure.timeline


def test_ack_after_commit_never_loses_one() -> None:
    result = harness.explore(
        ingest(ack_before_commit=False),
        schedules=10_000,
        strategy=harness.Exhaustive(2),
        faults=harness.Faults(crash=1),
        recover=recover,
    )
    assert not result.failed and result.exhausted


def test_a_crash_can_strike_after_commit_before_the_caller_hears() -> None:
    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("c.db", isolation_level=None)
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
        await db.execute("INSERT INTO t VALUES ('committed')")
        sim.notes["heard"] = True
        await db.close()

    async def check(sim: harness.Sim) -> None:
        async with sim.connect("c.db") as db:
            rows = await db.execute_fetchall("SELECT count(*) FROM t")
        assert not (rows == [(1,)] and "heard" not in sim.notes), "committed, never heard"

    result = harness.explore(
        body,
        schedules=200,
        strategy=harness.Exhaustive(1),
        faults=harness.Faults(crash=1),
        recover=check,
    )
    assert result.failed
    assert "after it committed, before its result was delivered" in result.failures[0].timeline


def test_abandoned_tasks_never_touch_the_database_again() -> None:
    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("a.db", isolation_level=None)
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")

        async def worker() -> None:
            try:
                await asyncio.sleep(10)
            finally:  # runs when the finished body's leftovers are cancelled; never after a crash
                sim.notes["finally"] = True
                await db.execute("INSERT INTO t VALUES ('finally')")

        sim.notes["worker"] = asyncio.create_task(worker())
        await asyncio.sleep(0)
        await db.execute("INSERT INTO t VALUES ('work')")  # the only crash point

    async def check(sim: harness.Sim) -> None:
        assert "finally" not in sim.notes
        async with sim.connect("a.db") as db:
            rows = await db.execute_fetchall("SELECT x FROM t WHERE x = 'finally'")
        assert rows == []

    result = harness.explore(
        body,
        schedules=100,
        strategy=harness.Exhaustive(1),
        faults=harness.Faults(crash=1),
        recover=check,
    )
    assert not result.failed, result.failures and result.failures[0].timeline


def test_faults_budget_validation() -> None:
    with pytest.raises(ValueError, match="busy"):
        harness.Faults(busy=-1)
    with pytest.raises(TypeError, match="Faults"):
        harness.explore(ingest(True), faults={"busy": 1})  # type: ignore[arg-type]
