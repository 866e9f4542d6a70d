"""The shrinker: long random failing schedules come back as the one reorder that matters."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NamedTuple

import pytest

import harness
from harness._excerpt import excerpt, kept_steps
from harness._run import Program, RunRecord
from harness._run_config import RunConfig
from harness._session import Session
from harness.shrink import _one_deviation, order_key, same_failure, shrink_schedule
from harness.trace import Event, decode_token
from tests.bodies import SCHEMA, lww_two_tasks


async def noisy_lww(sim: harness.Sim) -> None:
    """lww_two_tasks among three busy connections: many choice points, one reorder matters."""
    db = await sim.connect("app.db", isolation_level=None)
    await db.execute(SCHEMA)

    async def write(value: str) -> None:
        await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))

    async def noise(i: int) -> None:
        other = await sim.connect(f"noise{i}.db", isolation_level=None)
        await other.execute("CREATE TABLE t(n)")
        for n in range(3):
            await other.execute("INSERT INTO t VALUES (?)", (n,))
        await other.close()

    tasks = [asyncio.create_task(noise(i)) for i in range(3)]
    tasks += [asyncio.create_task(write("v1")), asyncio.create_task(write("v2"))]
    await asyncio.gather(*tasks)
    async with db.execute("SELECT v FROM kv WHERE k = 'k'") as cursor:
        row = await cursor.fetchone()
    await db.close()
    assert row is not None and row[0] == "v2", f"last writer lost: stored {row}"


def _long_failure(body, seed: int = 0) -> harness.Failure:
    result = harness.explore(
        body, schedules=200, strategy=harness.Random(), seed=seed, mode="parallel", shrink=False
    )
    assert result.failed
    return result.failures[0]


class Shrunk(NamedTuple):
    failing: RunRecord  # the input
    best: RunRecord  # the result
    token: str  # the result's token
    ran: list[tuple[int, ...]]  # every candidate run, in order


def _shrink(body, token: str, **kwargs) -> Shrunk:
    """Shrink the schedule of ``token`` as explore does."""
    schedule = decode_token(token)
    ran: list[tuple[int, ...]] = []
    with Session(RunConfig(mode=schedule.mode)) as session:

        def run(choices: Sequence[int]) -> RunRecord:
            ran.append(tuple(choices))
            return session.replay(Program(body), choices, schedule.seed, strict=False)

        failing = session.replay_steps(Program(body), schedule.steps, schedule.seed)
        best = shrink_schedule(run, failing, **kwargs)
        # the shrunk schedule replays strictly (what a token promises)
        again = session.confirm(Program(body), best)
        return Shrunk(failing, best, session.token(again), ran)


@pytest.mark.parametrize("seed", [0, 3])
def test_a_long_random_schedule_shrinks_to_the_single_reorder(seed: int) -> None:
    long = _long_failure(noisy_lww, seed)
    assert long.deviations >= 20, "random exploration leaves many incidental deviations"
    failing, best, token, _ = _shrink(noisy_lww, long.token)
    assert failing.deviations == long.deviations
    assert best.deviations == 1
    assert same_failure(best.error, failing.error)
    assert order_key(best) < order_key(failing)
    timeline = harness.replay(noisy_lww, token).timeline
    (marked,) = [line for line in timeline.splitlines() if "deviation" in line]
    assert "exec" in marked and "('v2',)" in marked  # v2's INSERT overtakes v1's


def test_shrinking_is_deterministic() -> None:
    long = _long_failure(noisy_lww, 5)
    first = _shrink(noisy_lww, long.token)
    second = _shrink(noisy_lww, long.token)
    assert first.token == second.token
    assert first.ran == second.ran  # the very same candidates, in the same order


def test_explore_reports_the_shrunk_schedule_and_the_original() -> None:
    long = _long_failure(noisy_lww, 1)
    result = harness.explore(
        noisy_lww, schedules=200, strategy=harness.Random(), seed=1, mode="parallel"
    )
    f = result.failures[0]
    assert f.original_token == long.token
    assert f.deviations == 1 and long.deviations > 1
    assert isinstance(harness.replay(noisy_lww, f.token).error, AssertionError)


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_lww_two_tasks_shrinks_to_one_deviation(strategy: str) -> None:
    for seed in range(3):
        result = harness.explore(
            lww_two_tasks, schedules=200, strategy=strategy, seed=seed, mode="parallel"
        )
        assert result.failures[0].deviations == 1


def test_the_budget_bounds_the_runs() -> None:
    long = _long_failure(noisy_lww, 2)
    failing, best, _, ran = _shrink(noisy_lww, long.token, max_runs=5)
    assert len(ran) == 5
    assert order_key(best) <= order_key(failing)
    assert same_failure(best.error, failing.error)


def test_one_deviation_candidates_start_near_the_center() -> None:
    candidates = list(_one_deviation([2, 1, 3, 2], center=2))
    assert candidates == [(0, 0, 1), (0, 0, 2), (0, 0, 0, 1), (1,)]


# ---------------------------------------------------------------- excerpt
def _events(n: int, notable: dict[int, str]) -> list[Event]:
    events = []
    for i in range(n):
        kind = notable.get(i, "exec")
        events.append(
            Event(0.0, "c#1", kind if kind != "dev" else "exec", f"op {i}", kind == "dev")
        )
    return events


def test_excerpt_keeps_notable_steps_with_context_and_the_tail() -> None:
    events = _events(100, {10: "dev", 40: "block", 60: "fault"})
    keep = kept_steps(events, context=2, tail=15)
    for i in (8, 9, 10, 11, 12, 38, 40, 42, 58, 60, 62, *range(85, 100)):
        assert i in keep
    assert 0 not in keep and 30 not in keep and 84 not in keep
    text = excerpt(events)
    assert text.count("   ...") == 4  # before 9, between the groups, before the tail
    assert "op 10" in text and "<-- deviation" in text and "op 99" in text


def test_a_short_timeline_is_shown_whole() -> None:
    events = _events(30, {3: "dev"})
    assert kept_steps(events) == list(range(30))
    assert "..." not in excerpt(events)


def test_excerpt_shows_the_submits_a_deviation_overtook() -> None:
    events = [Event(0.0, "main", "spawn", "noise") for _ in range(50)]
    events[5] = Event(0.0, "t1", "submit", "app.db#1: INSERT 'v1'", fields=("app.db#1", 1, "I"))
    events[6] = Event(0.0, "t2", "submit", "app.db#1: INSERT 'v2'", fields=("app.db#1", 2, "I"))
    events[7] = Event(0.0, "t3", "submit", "other.db#1: SELECT 1", fields=("other.db#1", 1, "S"))
    events[20] = Event(0.0, "app.db#1", "exec", "INSERT 'v2' -> ok", True, (2, "ok"))
    events[21] = Event(0.0, "app.db#1", "exec", "INSERT 'v1' -> ok", fields=(1, "ok"))
    events[30] = Event(0.0, "other.db#1", "exec", "SELECT 1 -> ok", fields=(1, "ok"))
    keep = kept_steps(events)
    assert 5 in keep and 6 in keep  # both were pending on app.db#1 when v2 overtook v1
    assert 7 not in keep  # another connection's statement is not part of the story


async def deferred_upgrade(sim: harness.Sim) -> None:
    """Two read-then-write transactions: SQLite refuses one upgrade (database is locked)."""
    setup = await sim.connect("u.db", isolation_level=None)
    await setup.execute("CREATE TABLE n(v)")
    await setup.execute("INSERT INTO n VALUES (0)")
    await setup.close()

    async def bump() -> None:
        db = await sim.connect("u.db", isolation_level=None, timeout=1)
        try:
            await db.execute("BEGIN")
            rows = await db.execute_fetchall("SELECT v FROM n")
            await asyncio.sleep(0)
            await db.execute("UPDATE n SET v = ?", (rows[0][0] + 1,))
            await db.execute("COMMIT")
        finally:
            await db.close()

    await asyncio.gather(bump(), bump())


def test_a_sqlite_error_shrinks_to_the_default_order_when_that_already_fails() -> None:
    """SQLite's error is raised inside harness at lines that depend on lock waits: the
    failure is the same wherever harness raised it (type, message, the body's frame)."""
    found = harness.explore(deferred_upgrade, schedules=100, strategy="random", seed=3)
    assert found.failed
    failure = found.failures[0]
    assert "database is locked" in str(failure.error)
    assert failure.deviations == 0, failure.timeline
