# tests/ecosystem/test_readme_fixtures.py
import asyncio
import sqlite3

import aiosqlite
import pytest
from sqlalchemy import create_engine, text


@pytest.fixture
def migrated(tmp_path, monkeypatch):
    """Migrations applied once, outside the simulation: each schedule starts from a copy."""
    monkeypatch.chdir(tmp_path)
    engine = create_engine("sqlite:///app.db")  # or alembic.command.upgrade(config, "head")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO users(email) VALUES ('admin@example.com')"))
    engine.dispose()
    return "app.db"


@pytest.mark.harness
async def test_signing_up_twice_keeps_one_user(sim, migrated):
    with sqlite3.connect(migrated) as db:  # a migration in the body: the same private copy
        db.execute("CREATE INDEX IF NOT EXISTS users_email ON users(email)")
    db.close()

    async def sign_up(email):
        async with aiosqlite.connect(migrated) as db:
            await db.execute("INSERT OR IGNORE INTO users(email) VALUES (?)", (email,))
            await db.commit()

    await asyncio.gather(sign_up("ann@example.com"), sign_up("ann@example.com"))
    async with aiosqlite.connect(migrated) as db:
        rows = await db.execute_fetchall("SELECT email FROM users ORDER BY id")
    assert [email for (email,) in rows] == ["admin@example.com", "ann@example.com"]
