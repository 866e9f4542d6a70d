"""The reference store's schema: one database for every concern of the agent host."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS metadata(
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions(
    id TEXT PRIMARY KEY,
    title TEXT,
    model TEXT,
    last_activity REAL NOT NULL DEFAULT 0,
    ended INTEGER NOT NULL DEFAULT 0,
    ended_at REAL
);
CREATE TABLE IF NOT EXISTS messages(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE(session_id, seq)
);
CREATE TABLE IF NOT EXISTS assets(
    session_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY(session_id, name)
);
CREATE TABLE IF NOT EXISTS hook_rows(
    event_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY(event_id, part)
);
"""
