"""Cancellation, timeouts and task groups replay exactly (issue: nondeterministic confirmation).

The cause was set iteration: asyncio's ``TaskGroup`` and anyio's cancel
scopes keep tasks in sets and cancel them in set order, which for plain
tasks follows memory addresses. Harness numbers the hashes of the tasks and
futures of a schedule (``harness._loop.SimTask``), so that order replays.
Each body below ends with a failing assertion, so that *every* schedule
explored is confirmed by a replay (a divergence raises NondeterminismError).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import anyio
import pytest

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def anyio_holder_and_timeout(sim: harness.Sim) -> None:
    """The issue's body: a lock held across anyio.sleep, a 0.1 s timeout, a cancelled group."""
    async with sim.connect("app.db", isolation_level=None) as setup:
        await setup.execute("CREATE TABLE IF NOT EXISTS t(x)")

    async def holder() -> None:
        async with sim.connect("app.db", isolation_level=None) as db:
            await db.execute("BEGIN IMMEDIATE")
            await db.execute("INSERT INTO t VALUES (1)")
            await anyio.sleep(1)
            await db.execute("COMMIT")

    async def other() -> None:
        async with sim.connect("app.db", isolation_level=None, timeout=0.1) as db:
            await db.execute("INSERT INTO t VALUES (2)")

    async with anyio.create_task_group() as group:
        group.start_soon(holder)
        group.start_soon(other)


async def cancelled_group(sim: harness.Sim) -> None:
    """Eight workers cancelled by a failing sibling write in the order they are cancelled."""
    db = await sim.connect("c.db", isolation_level=None)
    await db.execute("CREATE TABLE IF NOT EXISTS t(x)")

    async def worker(i: int) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await db.execute("INSERT INTO t VALUES (?)", (i,))
            raise

    async def boom() -> None:
        await asyncio.sleep(1)
        raise ValueError("boom")

    with pytest.raises(ExceptionGroup):
        async with asyncio.TaskGroup() as group:
            for i in range(8):
                group.create_task(worker(i))
            group.create_task(boom())

    async def idle(i: int) -> None:
        try:
            await anyio.sleep(10)
        finally:
            await db.execute("INSERT INTO t VALUES (?)", (100 + i,))

    async with anyio.create_task_group() as group:
        for i in range(6):
            group.start_soon(idle, i)
        await anyio.sleep(1)
        group.cancel_scope.cancel()
    rows = await db.execute_fetchall("SELECT x FROM t ORDER BY rowid")
    await db.close()
    raise AssertionError(f"cancelled in this order: {[r[0] for r in rows]}")


async def cancel_at_every_step(sim: harness.Sim) -> None:
    """A statement's awaiting task is cancelled while it is queued, executed or waiting."""
    db = await sim.connect("s.db", isolation_level=None)
    await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
    other = await sim.connect("s.db", isolation_level=None)
    await other.execute("BEGIN IMMEDIATE")  # the first insert waits for this lock
    inserts = [asyncio.create_task(db.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(3)]
    for delay in (0, 0, 0.05):
        await asyncio.sleep(delay)
        inserts.pop(0).cancel()
    await other.execute("COMMIT")
    shielded = asyncio.shield(db.execute("INSERT INTO t VALUES (9)"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(shielded, 0)
    try:
        async with asyncio.timeout(0.01):
            await db.execute("SELECT count(*) FROM t")
    except TimeoutError:
        pass
    pending = asyncio.ensure_future(db.execute("INSERT INTO t VALUES (7)"))
    await db.close()  # queued work completes before close
    await asyncio.gather(pending, return_exceptions=True)
    await other.close()
    raise AssertionError("every schedule of this body is replayed")


async def anyio_issue_body_then_fail(sim: harness.Sim) -> None:
    try:
        await anyio_holder_and_timeout(sim)
    except BaseExceptionGroup as group:
        raise AssertionError(f"the group failed: {group.exceptions!r}") from None
    raise AssertionError("the group passed")


BODIES = [anyio_issue_body_then_fail, cancelled_group, cancel_at_every_step]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: b.__name__)
@pytest.mark.parametrize("strategy", ["pct", "random"])
def test_every_schedule_confirms(body, strategy: str) -> None:
    result = harness.explore(
        body, schedules=25, strategy=strategy, stop_on_first=False, shrink=False
    )
    assert result.failed and len(result.failures) == result.schedules_run


def test_the_issue_body_replays_in_a_fresh_process_fifty_times_with_one_digest() -> None:
    failure = harness.explore(anyio_holder_and_timeout, schedules=50, seed=0).failures[0]
    code = (
        "import harness, tests.test_cancellation as t\n"
        f"token = {failure.token!r}\n"
        "runs = [harness.replay(t.anyio_holder_and_timeout, token) for _ in range(50)]\n"
        "print(len({r.trace_digest for r in runs}), runs[0].trace_digest, "
        "type(runs[0].error).__name__)"
    )
    digests = set()
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, out.stderr
        count, digest, error = out.stdout.split()
        assert count == "1" and error == type(failure.error).__name__
        digests.add(digest)
    assert digests == {failure.trace_digest}
