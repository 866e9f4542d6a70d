"""Small bodies whose failing schedules are pinned in ``tests/token_corpus.py``.

Each body has a real ordering bug that some schedules expose, and uses one of
the constructs whose internals differ between CPython versions or that
harness simulates (``wait_for``, ``timeout``, ``shield``, ``TaskGroup``,
``gather``, anyio task groups, the bus, the thread pool, faults, crashes,
``sim.random``). Never change a body: the pinned tokens replay it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio

import harness

SCHEMA = "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)"


async def _open(sim: harness.Sim, name: str = "app.db") -> Any:
    db = await sim.connect(name, isolation_level=None)
    await db.execute(SCHEMA)
    return db


async def _value(db: Any) -> str | None:
    rows = await db.execute_fetchall("SELECT v FROM kv WHERE k = 'k'")
    return rows[0][0] if rows else None


async def gather_lww(sim: harness.Sim) -> None:
    """Two saves in flight on a pool: the older one may land last (parallel mode)."""
    db = await _open(sim)

    async def save(v: str) -> None:
        await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (v,))

    await asyncio.gather(save("light"), save("dark"))
    assert await _value(db) == "dark"
    await db.close()


async def wait_for_retry(sim: harness.Sim) -> None:
    """A timed-out insert still runs; the retry inserts the row again (duplicates)."""
    db = await sim.connect("log.db", isolation_level=None)
    await db.execute("CREATE TABLE log(msg TEXT)")
    other = await sim.connect("log.db", isolation_level=None)
    await other.execute("BEGIN IMMEDIATE")

    async def release() -> None:
        await asyncio.sleep(0.2)
        await other.execute("COMMIT")

    releaser = asyncio.create_task(release())
    for _ in range(2):
        try:
            await asyncio.wait_for(db.execute("INSERT INTO log VALUES ('hello')"), 0.1)
            break
        except TimeoutError:
            continue
    await releaser
    await asyncio.sleep(0.5)
    rows = await db.execute_fetchall("SELECT count(*) FROM log")
    assert rows[0][0] == 1, f"{rows[0][0]} rows for one message"
    await other.close()
    await db.close()


async def timeout_lost_update(sim: harness.Sim) -> None:
    """Read-modify-write under ``asyncio.timeout`` from two tasks: an update is lost."""
    db = await _open(sim)
    await db.execute("INSERT INTO kv VALUES ('k', '0')")

    async def bump() -> None:
        async with asyncio.timeout(5):
            value = int((await _value(db)) or 0)
            await db.execute("UPDATE kv SET v = ? WHERE k = 'k'", (str(value + 1),))

    await asyncio.gather(bump(), bump())
    assert await _value(db) == "2"
    await db.close()


async def shielded_commit(sim: harness.Sim) -> None:
    """A shielded write and a cancelled reader: the reader may see it half done."""
    db = await _open(sim)

    async def write() -> None:
        await db.execute("BEGIN")
        await db.execute("INSERT INTO kv VALUES ('k', 'a')")
        await db.execute("INSERT INTO kv VALUES ('j', 'b')")
        await db.execute("COMMIT")

    async def read() -> int:
        rows = await db.execute_fetchall("SELECT count(*) FROM kv")
        return int(rows[0][0])

    writer = asyncio.ensure_future(asyncio.shield(write()))
    seen = await read()
    await writer
    assert seen in (0, 2), f"saw {seen} of 2 rows of one transaction"
    await db.close()


async def task_group_counter(sim: harness.Sim) -> None:
    """Three increments in a TaskGroup, each a separate read and write: updates are lost."""
    db = await _open(sim)
    await db.execute("INSERT INTO kv VALUES ('k', '0')")

    async def increment() -> None:
        value = int((await _value(db)) or 0)
        await db.execute("UPDATE kv SET v = ? WHERE k = 'k'", (str(value + 1),))

    async with asyncio.TaskGroup() as group:
        for _ in range(3):
            group.create_task(increment())
    assert await _value(db) == "3"
    await db.close()


async def anyio_group_counter(sim: harness.Sim) -> None:
    """The same lost update with an anyio task group (tasks named after their function)."""
    db = await _open(sim)
    await db.execute("INSERT INTO kv VALUES ('k', '0')")

    async def increment() -> None:
        value = int((await _value(db)) or 0)
        await anyio.sleep(0)
        await db.execute("UPDATE kv SET v = ? WHERE k = 'k'", (str(value + 1),))

    async with anyio.create_task_group() as group:
        group.start_soon(increment)
        group.start_soon(increment)
    assert await _value(db) == "2"
    await db.close()


async def notify_overtakes(sim: harness.Sim) -> None:
    """A notification may arrive before the row it announces is visible to the reader."""
    writer = await _open(sim)
    reader = await sim.connect("app.db", isolation_level=None)
    sub = sim.bus.listen("kv")

    async def produce() -> None:
        await writer.execute("INSERT OR REPLACE INTO kv VALUES ('k', 'new')")
        await sim.bus.notify("kv", "k")

    async def consume() -> str | None:
        await sub.get()
        return await _value(reader)

    _, seen = await asyncio.gather(produce(), consume())
    assert seen == "new"
    await sim.bus.notify("kv", "again")
    other = sim.bus.listen("kv")
    await sim.bus.notify("kv", "late")
    assert [await sub.get(), await sub.get()] == ["again", "late"], "notifications reordered"
    assert await other.get() == "late"
    await reader.close()
    await writer.close()


async def pool_sleep(sim: harness.Sim) -> None:
    """Work in the thread pool (one sleeps) finishes in either order."""
    done: list[str] = []

    def work(name: str, seconds: float) -> str:
        import time

        time.sleep(seconds)
        done.append(name)
        return name

    loop = asyncio.get_running_loop()
    await asyncio.gather(
        loop.run_in_executor(None, work, "slow", 0.1), asyncio.to_thread(work, "quick", 0.0)
    )
    assert sim.now() >= 0.1
    assert done == ["quick", "slow"], done


async def busy_fault(sim: harness.Sim) -> None:
    """A batch that stops at the first `database is locked` and leaves half of it written."""
    db = await _open(sim)
    written = []
    try:
        for key in ("a", "b", "c"):
            await db.execute("INSERT INTO kv VALUES (?, 'x')", (key,))
            written.append(key)
    except Exception:
        pass
    rows = await db.execute_fetchall("SELECT count(*) FROM kv")
    assert rows[0][0] in (0, 3), f"{rows[0][0]} of 3 rows written"
    await db.close()


async def crash_ack(sim: harness.Sim) -> None:
    """The caller is told "saved" before COMMIT: a crash loses an acknowledged row."""
    db = await _open(sim, "acks.db")
    await db.execute("BEGIN")
    await db.execute("INSERT INTO kv VALUES ('k', 'v')")
    sim.notes["acked"] = True
    await db.execute("COMMIT")
    await db.close()


async def crash_ack_recover(sim: harness.Sim) -> None:
    db = await _open(sim, "acks.db")
    if sim.notes.get("acked"):
        assert await _value(db) == "v", "an acknowledged row was lost"
    await db.close()


async def random_durations(sim: harness.Sim) -> None:
    """Tools finish after random durations; results are recorded in completion order."""
    db = await sim.connect("tools.db", isolation_level=None)
    await db.execute("CREATE TABLE results(n INTEGER)")

    async def tool(n: int) -> None:
        await asyncio.sleep(sim.random.uniform(0.1, 2.0))
        await db.execute("INSERT INTO results VALUES (?)", (n,))

    await asyncio.gather(*(tool(n) for n in range(3)))
    rows = await db.execute_fetchall("SELECT n FROM results ORDER BY rowid")
    assert [r[0] for r in rows] == [0, 1, 2], rows
    await db.close()


BODIES: dict[str, dict[str, Any]] = {
    # name -> explore options (the recover function, where there is one, by name)
    "gather_lww": {"mode": "parallel"},
    "wait_for_retry": {},
    "timeout_lost_update": {},
    "shielded_commit": {"mode": "parallel"},
    "task_group_counter": {},
    "anyio_group_counter": {},
    "notify_overtakes": {},
    "pool_sleep": {},
    "busy_fault": {"faults": harness.Faults(busy=1)},
    "crash_ack": {"faults": harness.Faults(crash=1), "recover": "crash_ack_recover"},
    "random_durations": {},
}
