"""The timeline names every step a person needs to follow the interleaving."""

from __future__ import annotations

import asyncio
import sqlite3

import harness


async def everything(sim: harness.Sim) -> None:
    sub = sim.bus.listen("events")
    db = await sim.connect("t.db", isolation_level=None)
    await db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, payload TEXT)")
    long_value = "x" * 500
    await db.execute(
        "INSERT INTO t(payload) VALUES (?) -- " + "a very long comment " * 20, (long_value,)
    )
    other = await sim.connect("t.db", timeout=2, isolation_level=None)
    await db.execute("BEGIN IMMEDIATE")

    async def release() -> None:
        await asyncio.sleep(1)
        await db.execute("COMMIT")

    releaser = asyncio.create_task(release())
    await other.execute("BEGIN IMMEDIATE")  # waits for the lock
    await other.execute("INSERT INTO t(payload) VALUES ('second')")
    await sim.bus.notify("events", {"id": 2}, conn=other)
    try:
        await other.execute("COMMIT")
    except sqlite3.OperationalError:
        await other.execute("ROLLBACK")
    await releaser
    await sub.get()
    raise AssertionError("show the timeline")


def test_timeline_names_sql_locks_notifications_and_faults() -> None:
    result = harness.explore(
        everything,
        schedules=500,
        strategy="random",
        faults=harness.Faults(ioerror=1),
        stop_on_first=False,
        shrink=False,
    )
    timelines = [f.timeline for f in result.failures]
    faulted = next(t for t in timelines if " fault " in t)
    line = next(line for line in faulted.splitlines() if "submit   t.db#1: INSERT" in line)
    assert "…" in line and len(line) < 200  # SQL and parameters are cut short
    assert "disk I/O error" in faulted and "deviation" in faulted
    clean = next(t for t in timelines if " fault " not in t)
    for needle in (
        "submit",
        "exec",
        "deliver",
        "t.db#1",
        "t.db#2",
        "spawn",
        "waits for the lock",
        "wake",
        "(held until t.db#2 commits)",
        "(sent at commit)",
        "recv",
        "sub:events#1",
    ):
        assert needle in clean, needle
    header = faulted.splitlines()[0].split()
    assert header == ["step", "time", "actor", "event", "detail"]


def test_cursor_operations_are_labelled_as_such() -> None:
    async def body(sim: harness.Sim) -> None:
        async with sim.connect("c.db") as db, db.execute("SELECT 1") as cursor:
            await cursor.fetchall()
        raise AssertionError("show the timeline")

    timeline = harness.explore(body, schedules=1).failures[0].timeline
    assert "cursor.fetchall()" in timeline and "cursor.close()" in timeline
