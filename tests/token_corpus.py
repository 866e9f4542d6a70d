"""Replay tokens issued by harness 0.2 (format h2) — a promise to users, never regenerated.

Each token here must replay, in every later version of harness and on every
CPython harness supports, to the same trace (its digest is inside the token)
and the same error. ``tests/test_token_corpus.py`` replays them all. If a
change makes one of them stop replaying, the change is wrong — or it is a
deliberate format break, which bumps the token format (h3) and keeps reading
h2 (see ``harness/tokens.py``). Do not edit, regenerate or remove an entry;
add new ones at the end.

Made with harness 0.2.0 on CPython 3.11, aiosqlite 0.22.1, anyio 4.16, SQLite 3.40.
"""

from __future__ import annotations

BODY_TOKENS: dict[str, tuple[str, str]] = {
    "gather_lww": (
        "h2.AQACAAMLABYBAygBBBAAuMPkpAQBCGFwcC5kYiMxAQsAAAAABJnkluaMnpA",
        "AssertionError",
    ),
    "wait_for_retry": ("h2.AAACAAMLABYBAygBBBAApYK2owIAAMDaZi5ft7o", "AssertionError"),
    "timeout_lost_update": ("h2.AAACAAMLABYBAygBBBAApYK2owIAAJIrNVYkEGU", "AssertionError"),
    "shielded_commit": (
        "h2.AQACAAMLABYBAygBBBAAw7n7TgEIYXBwLmRiIzEDCgAAAAAEAQAACAAEAgAAAAAFNO_devmhvA",
        "AssertionError",
    ),
    "task_group_counter": ("h2.AAACAAMLABYBAygBBBAApYK2owIAAIW39SA9CNQ", "AssertionError"),
    "anyio_group_counter": ("h2.AAACAAMLABYBAygBBBAApYK2owIAAJ8FthDWn5g", "AssertionError"),
    "notify_overtakes": (
        "h2.AAACAAMLABYBAygBBBAAwdOE-QYBCHN1YjprdiMxARYAABAAAyiLi3IdM48",
        "AssertionError",
    ),
    "pool_sleep": ("h2.AAACAAMLABYBAygBBBAApYK2owIAACeNap5Rjkw", "AssertionError"),
    "busy_fault": (
        "h2.AgACAAMLABYBAygBBBAAk6K6rwYBAAAAAQhhcHAuZGIjMQELAAAZAASckO30xPn0",
        "AssertionError",
    ),
    "crash_ack": (
        "h2.AgACAAMLABYBAygBBBAAxtuz-wYAAAABAQlhY2tzLmRiIzEBDgAAJAAFhwM-zwC6QQ",
        "AssertionError",
    ),
    "random_durations": ("h2.AAACAAMLABYBAygBBBAApYK2owIAAHjR9YD8vFE", "AssertionError"),
}
"""Body name in ``tests/corpus_bodies.py`` -> (token, the error type its replay raises)."""

SCENARIO_TOKENS: dict[tuple[str, str], tuple[str, str]] = {
    ("metadata-lww", "original"): (
        "h2.BwACAAMLABYBAygBBBAApYK2owIBAAAAFW1ldGFkYXRhLWx3dy9vcmlnaW5hbAEMc2Vzc2lvbi5kYiMyARAAAAAAAvGMbSI-Ub4",
        "Violation",
    ),
    ("metadata-lww", "naive-fix"): (
        "h2.BwACAAMLABYBAygBBBAA0tLD-gcBAAAAFm1ldGFkYXRhLWx3dy9uYWl2ZS1maXgBDHNlc3Npb24uZGIjMQEPAAAZAAOk2dBS-g8v",
        "Violation",
    ),
    ("writer-contention", "original"): (
        "h2.BAACAAMLABYBAygBBBAApYK2owIad3JpdGVyLWNvbnRlbnRpb24vb3JpZ2luYWwAAAZ0W_LLiFo",
        "Violation",
    ),
    ("writer-contention", "naive-fix"): (
        "h2.BAACAAMLABYBAygBBBAApYK2owIbd3JpdGVyLWNvbnRlbnRpb24vbmFpdmUtZml4AAD3Num-zYzv",
        "Violation",
    ),
    ("subscribe-gap", "original"): (
        "h2.FAACAAMLABYBAygBBBAAtqjo1QMWc3Vic2NyaWJlLWdhcC9vcmlnaW5hbDd42mPiTM5ILNFLSVI25SkuTbIC8XQNlQ3Z8hkYOBiYmBiAgJkRxGYGs1nAbBYgW4CRCQBmOgeSJ6AynQtPvQ",
        "Violation",
    ),
    ("subscribe-gap", "naive-fix"): (
        "h2.FAACAAMLABYBAygBBBAApYK2owIXc3Vic2NyaWJlLWdhcC9uYWl2ZS1maXg0eNpj4kzOSCzRS0lSNuUpLk2yAvF0DZUNWYsZgICZkYGBg4GZCcRmAbNZgGwBRmYAOTgHin_eEF2Qlgw",
        "Violation",
    ),
    ("flush-cursor", "original"): (
        "h2.BgACAAMLABYBAygBBBAA0Oy9zgIBAAABFWZsdXNoLWN1cnNvci9vcmlnaW5hbAAAqwihsaL2Lg",
        "Violation",
    ),
    ("flush-cursor", "naive-fix"): (
        "h2.BgACAAMLABYBAygBBBAA0Oy9zgIBAAABFmZsdXNoLWN1cnNvci9uYWl2ZS1maXgAAKsIobGHJPQ",
        "Violation",
    ),
    ("hook-batch", "original"): (
        "h2.BgACAAMLABYBAygBBBAApYK2owIAAAABE2hvb2stYmF0Y2gvb3JpZ2luYWwBD2Nsb3NlZGxvb3AuZGIjMgFbAAAAAAkWXx5tbmSE",
        "Violation",
    ),
    ("hook-batch", "naive-fix"): (
        "h2.BgACAAMLABYBAygBBBAApYK2owIAAAABFGhvb2stYmF0Y2gvbmFpdmUtZml4AABtIKb-c2WQ",
        "Violation",
    ),
}
"""(scenario, store) -> (token of its shrunk failing schedule, seed 0; error type)."""
