"""Bodies whose bugs need particular schedules (what the quality tests measure)."""

from __future__ import annotations

import asyncio

import harness


async def long_delay(sim: harness.Sim) -> None:
    """A deferred transaction on a second connection while the first one's COMMIT is in flight.

    Connection ``b`` opens, runs three pragmas, ``BEGIN`` and a ``SELECT`` —
    all while ``a``'s COMMIT, submitted before ``b`` even connected, has not
    executed yet. Then ``b`` reads under a SHARED lock, ``a``'s COMMIT waits
    for it, and ``b``'s upgrade to write is refused at once: ``database is
    locked``. Found only by delaying one statement across about a dozen steps
    (a random walk rarely does; bounded-exhaustive search with 2 deviations
    cannot). The fix is ``BEGIN IMMEDIATE`` in ``b``.
    """
    a = await sim.connect("t.db", isolation_level=None)
    await a.execute("CREATE TABLE c(n)")
    await a.execute("INSERT INTO c VALUES (0)")
    await a.execute("BEGIN")
    await a.execute("UPDATE c SET n = n + 1")
    commit = asyncio.ensure_future(a.execute("COMMIT"))

    async def other() -> None:
        b = await sim.connect("t.db", isolation_level=None)
        for pragma in (
            "PRAGMA foreign_keys = ON",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA cache_size = -2000",
        ):
            await b.execute(pragma)
        await b.execute("BEGIN")
        rows = await b.execute_fetchall("SELECT n FROM c")
        await b.execute("UPDATE c SET n = ?", (rows[0][0] + 1,))
        await b.execute("COMMIT")
        await b.close()

    await asyncio.gather(commit, other())
    rows = await a.execute_fetchall("SELECT n FROM c")
    await a.close()
    assert rows[0][0] == 2, rows
