# tests/ecosystem/test_readme_databases.py
import asyncio

import pytest
from databases import Database


@pytest.mark.harness
async def test_every_signup_gets_its_own_number(sim):
    database = Database("sqlite+aiosqlite:///app.db")
    await database.connect()
    await database.execute("CREATE TABLE seq(name TEXT PRIMARY KEY, n INTEGER)")
    await database.execute("INSERT INTO seq VALUES ('signup', 0)")

    async def next_number():
        async with database.transaction():  # a deferred BEGIN: write first, then read
            await database.execute("UPDATE seq SET n = n + 1 WHERE name = 'signup'")
            return await database.fetch_val("SELECT n FROM seq WHERE name = 'signup'")

    try:
        assert sorted(await asyncio.gather(next_number(), next_number())) == [1, 2]
    finally:
        await database.disconnect()
