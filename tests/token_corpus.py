"""Replay tokens issued by harness 0.2 (format h2) — a promise to users, never regenerated.

Each token here must replay, in every later version of harness and on every
CPython harness supports, to the same trace (its digest is inside the token)
and the same error. ``tests/test_token_corpus.py`` replays them all. If a
change makes one of them stop replaying, the change is wrong — or it is a
deliberate format break, which bumps the token format (h3) and keeps reading
h2 (see ``harness/tokens.py``). Do not edit, regenerate or remove an entry;
add new ones at the end.

Made with harness 0.2.0 on CPython 3.11, aiosqlite 0.22.1, SQLite 3.40.
"""

from __future__ import annotations

BODY_TOKENS: dict[str, tuple[str, str]] = {
    "gather_lww": ("h2.AQACAAMLABYBAygBuMPkpAQBCGFwcC5kYiMxAQsAAAAABBykRc9KPZk", "AssertionError"),
    "wait_for_retry": ("h2.AAACAAMLABYBAygBpYK2owIAAAQAovX0Lkk", "AssertionError"),
    "timeout_lost_update": ("h2.AAACAAMLABYBAygBpYK2owIAAI8kDN7U5xM", "AssertionError"),
    "shielded_commit": (
        "h2.AQACAAMLABYBAygBw7n7TgEIYXBwLmRiIzEDCgAAAAAEAQAACAAEAgAAAAAFxMjQzoIR_Q",
        "AssertionError",
    ),
    "task_group_counter": ("h2.AAACAAMLABYBAygBpYK2owIAAC8oYQ3R1Po", "AssertionError"),
    "anyio_group_counter": ("h2.AAACAAMLABYBAygBpYK2owIAANoQz8HZJk8", "AssertionError"),
    "notify_overtakes": (
        "h2.AAACAAMLABYBAygBwdOE-QYBCHN1YjprdiMxARYAABAAAydVk1tLl-E",
        "AssertionError",
    ),
    "pool_sleep": ("h2.AAACAAMLABYBAygBpYK2owIAAMXUCqIz7eg", "AssertionError"),
    "busy_fault": (
        "h2.AgACAAMLABYBAygBk6K6rwYBAAAAAQhhcHAuZGIjMQELAAAZAASIgtlHX0EJ",
        "AssertionError",
    ),
    "crash_ack": (
        "h2.AgACAAMLABYBAygBxtuz-wYAAAABAQlhY2tzLmRiIzEBDgAAJAAF2K0IZs2Pjw",
        "AssertionError",
    ),
    "random_durations": ("h2.AAACAAMLABYBAygBpYK2owIAAOz7fGVc40k", "AssertionError"),
}
"""Body name in ``tests/corpus_bodies.py`` -> (token, the error type its replay raises)."""

SCENARIO_TOKENS: dict[tuple[str, str], tuple[str, str]] = {
    ("metadata-lww", "original"): (
        "h2.BwACAAMLABYBAygBpYK2owIBAAAAFW1ldGFkYXRhLWx3dy9vcmlnaW5hbAEMc2Vzc2lvbi5kYiMyARAAAAAAAps65CUa-PM",
        "Violation",
    ),
    ("metadata-lww", "naive-fix"): (
        "h2.BwACAAMLABYBAygB0tLD-gcBAAAAFm1ldGFkYXRhLWx3dy9uYWl2ZS1maXgBDHNlc3Npb24uZGIjMQEPAAAZAAMFePeXWPGi",
        "Violation",
    ),
    ("writer-contention", "original"): (
        "h2.BAACAAMLABYBAygBpYK2owIad3JpdGVyLWNvbnRlbnRpb24vb3JpZ2luYWwAAApjW-TTlrU",
        "Violation",
    ),
    ("writer-contention", "naive-fix"): (
        "h2.BAACAAMLABYBAygBpYK2owIbd3JpdGVyLWNvbnRlbnRpb24vbmFpdmUtZml4AAAddoyMyZv2",
        "Violation",
    ),
    ("subscribe-gap", "original"): (
        "h2.FAACAAMLABYBAygBtqjo1QMWc3Vic2NyaWJlLWdhcC9vcmlnaW5hbDd42mPiTM5ILNFLSVI25SkuTbIC8XQNlQ3Z8hkYOBiYmBiAgJkRxGYGs1nAbBYgW4CRCQBmOgeSCfNlKDjbyg",
        "Violation",
    ),
    ("subscribe-gap", "naive-fix"): (
        "h2.BAACAAMLABYBAygBpYK2owIXc3Vic2NyaWJlLWdhcC9uYWl2ZS1maXgBCWNoYXQuZGIjNQRzAAAAAAMBAAAIAAMCAAAAAAQBAAAIAATjR_Q_RUcf",
        "Violation",
    ),
    ("flush-cursor", "original"): (
        "h2.BgACAAMLABYBAygB0Oy9zgIBAAABFWZsdXNoLWN1cnNvci9vcmlnaW5hbAAA8dg8FPLqnA",
        "Violation",
    ),
    ("flush-cursor", "naive-fix"): (
        "h2.BgACAAMLABYBAygB0Oy9zgIBAAABFmZsdXNoLWN1cnNvci9uYWl2ZS1maXgAAK6J9nRjL0o",
        "Violation",
    ),
    ("hook-batch", "original"): (
        "h2.BgACAAMLABYBAygBpYK2owIAAAABE2hvb2stYmF0Y2gvb3JpZ2luYWwBD2Nsb3NlZGxvb3AuZGIjMgFbAAAAAAk6cBec2IWT",
        "Violation",
    ),
    ("hook-batch", "naive-fix"): (
        "h2.BgACAAMLABYBAygBpYK2owIAAAABFGhvb2stYmF0Y2gvbmFpdmUtZml4AADlDSD9kQ4z",
        "Violation",
    ),
}
"""(scenario, store) -> (token of its shrunk failing schedule, seed 0; error type)."""
