"""Operation testing end to end: scenarios under harness schedules, faults, crashes, real aiosqlite.

Stores here are small and each has a known property: a racy read-modify-write
(found), its one-statement fix (passes everything we try), a store whose
writes outlive their caller's timeout (must pass: unknown outcomes), and a
write-back cache that acknowledges before anything is durable (found only
with crashes: a durability violation).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness
from harness import linearizability as lin

KEYS = st.sampled_from(["a", "b"])


class Model:
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    def put(self, key: str, value: int) -> None:
        self.data[key] = value

    def get(self, key: str) -> int | None:
        return self.data.get(key)

    def incr(self, key: str) -> int:
        self.data[key] = self.data.get(key, 0) + 1
        return self.data[key]

    def key(self) -> Any:
        return tuple(sorted(self.data.items()))

    def partition(self, op: str, key: str, *args: Any) -> str:
        return key


class RacyKV:
    """``incr`` reads, then writes: two statements, no transaction."""

    def __init__(self, db: Any) -> None:
        self.db = db

    @classmethod
    async def open(cls, sim: Any) -> Any:
        db = await sim.connect("kv.db", isolation_level=None)
        await db.execute("CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value INTEGER)")
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    async def put(self, key: str, value: int) -> None:
        await self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))

    async def get(self, key: str) -> int | None:
        rows = await self.db.execute_fetchall("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    async def incr(self, key: str) -> int:
        value = (await self.get(key) or 0) + 1
        await self.put(key, value)
        return value


class FixedKV(RacyKV):
    async def incr(self, key: str) -> int:
        rows = await self.db.execute_fetchall(
            "INSERT INTO kv VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET value = value + 1 "
            "RETURNING value",
            (key,),
        )
        return int(rows[0][0])


def kv_spec(store: type[RacyKV], **changes: Any) -> lin.Spec:
    spec = lin.Spec(
        setup=store.open,
        teardown=store.close,
        model=Model,
        operations=[
            lin.operation("put", KEYS, st.integers(0, 3)),
            lin.operation("incr", KEYS),
            lin.operation("get", KEYS),
        ],
        observe=[lin.Call("get", ("a",)), lin.Call("get", ("b",))],
        name=store.__name__,
    )
    return dataclasses.replace(spec, **changes)


RACY = kv_spec(RacyKV)
FIXED = kv_spec(FixedKV)
INCR_INCR = "actor 1: incr('a')\nactor 2: incr('a')"


def test_a_lost_update_is_found_with_its_history_contradiction_and_replay() -> None:
    result = lin.explore(RACY, scenarios=20, schedules=20)
    assert result.failed and result.scenario is not None
    # Hypothesis shrank the scenario to its core: two concurrent increments of one key
    text = str(result.scenario)
    key = result.scenario.actors[0][0].args[0]
    assert text == INCR_INCR.replace("'a'", repr(key))
    report = result.report
    assert report.startswith("linearizability violation in RacyKV")
    assert f"scenario:\n  actor 1: incr({key!r})\n  actor 2: incr({key!r})" in report
    assert f"┌ [A] incr({key!r})" in report and "└ -> 1" in report
    assert "shortest contradiction: A and B cannot both be right" in report
    assert f"A B:  B incr({key!r}) -> 1, but the model returns 2 there" in report
    assert f"replay(spec, {text!r}, {result.token!r})" in report
    assert result.token is not None
    replayed = lin.replay(RACY, text, result.token)
    assert isinstance(replayed.error, lin.NotLinearizable)
    assert replayed.history == result.history
    assert replayed.verdict.ok is False


def test_the_search_and_its_report_repeat_exactly() -> None:
    first = lin.explore(RACY, scenarios=10, schedules=10, seed=3)
    second = lin.explore(RACY, scenarios=10, schedules=10, seed=3)
    assert first.failed and second.failed
    assert first.report == second.report
    assert (first.scenarios_run, first.schedules_run) == (
        second.scenarios_run,
        second.schedules_run,
    )


def test_check_raises_an_assertion_error_carrying_the_report() -> None:
    with pytest.raises(lin.LinearizabilityError) as info:
        lin.check_one(RACY, INCR_INCR, schedules=5)
    error = info.value
    assert isinstance(error, AssertionError)
    assert str(error) == error.result.report and error.token is not None
    assert error.history is not None and len(error.history) == 4  # two incr, two reads
    assert "pytest 'tests/test_linearizability.py::test_check_raises" in str(error)


@pytest.mark.parametrize(
    "options",
    [
        {"strategy": "pct"},
        {"strategy": "random", "mode": "parallel"},
        {"strategy": "pct", "faults": harness.Faults(busy=1, ioerror=1)},
        {"strategy": "random", "faults": harness.Faults(crash=1)},
        {"strategy": "pct", "faults": harness.Faults(crash=2, full=1)},
    ],
    ids=["pct", "random-parallel", "busy-ioerror", "crash", "two-crashes"],
)
def test_a_correct_store_passes_every_scenario_and_schedule_we_try(options: dict[str, Any]) -> None:
    result = lin.explore(FIXED, scenarios=15, schedules=15, seed=1, **options)
    assert not result.failed, result.report
    assert result.scenarios_run == 15 and result.schedules_run == 15 * 15


def test_a_correct_store_passes_bounded_exhaustive_search_of_a_small_scenario() -> None:
    for scenario in (INCR_INCR + "\nsuffix: get('a')", "actor 1: put('a', 1)\nactor 2: incr('a')"):
        result = lin.explore_one(
            FIXED, scenario, strategy=harness.Exhaustive(bound=2), schedules=5_000
        )
        assert not result.failed, result.report
        assert result.outcome is not None and result.outcome.explored.exhausted
    racy = lin.explore_one(RACY, INCR_INCR, strategy=harness.Exhaustive(bound=2), schedules=500)
    assert racy.failed


def test_a_user_can_draw_scenarios_in_their_own_hypothesis_test() -> None:
    seen: list[lin.Scenario] = []

    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(lin.scenarios(FIXED, actors=2, calls=(1, 2), prefix=0, suffix=0))
    def test(scenario: lin.Scenario) -> None:
        assert len(scenario.actors) == 2 and not scenario.prefix and not scenario.suffix
        seen.append(scenario)
        lin.check_one(FIXED, scenario, schedules=5)

    test()
    assert len(seen) == 8


def test_progress_is_reported_after_each_scenario() -> None:
    calls: list[tuple[int, int, bool]] = []
    lin.explore(FIXED, scenarios=3, schedules=4, progress=lambda *a: calls.append(a))
    assert calls == [(1, 4, False), (2, 8, False), (3, 12, False)]


# ------------------------------------------------------ unknown outcomes: timeouts
class Contended(FixedKV):
    """Another process holds the write lock for 2 s; a write waits for it (busy_timeout)."""

    other: Any = None
    holder: Any = None

    @classmethod
    async def open(cls, sim: Any) -> Any:
        store = await super().open(sim)
        await store.db.execute("PRAGMA busy_timeout = 5000")
        scale = 0.05 if getattr(sim, "kind", "sim") == "real" else 1.0
        other = await sim.connect("kv.db", isolation_level=None)
        await other.execute("BEGIN IMMEDIATE")

        async def hold() -> None:
            await asyncio.sleep(2.0 * scale)
            await other.execute("COMMIT")
            await other.close()

        store.holder = asyncio.ensure_future(hold())
        return store

    async def close(self) -> None:
        await self.holder  # the other process finishes its transaction
        await super().close()


CONTENDED = kv_spec(
    Contended,
    operations=[
        lin.operation("put", KEYS, st.integers(0, 3), timeout=1.0),
        lin.operation("get", KEYS),
    ],
)


def test_a_write_that_executes_after_its_caller_timed_out_is_not_a_violation() -> None:
    # put times out after 1 s while it waits for the lock; aiosqlite (and the fake) still
    # run the queued statement when the lock is released at 2 s: the final read sees it
    result = lin.explore_one(
        CONTENDED,
        "actor 1: put('a', 1); get('a')\nactor 2: get('a')",
        schedules=30,
        strategy="random",
    )
    assert not result.failed, result.report
    assert result.outcome is not None
    histories = result.outcome.program.histories
    exercised = [
        h
        for h in histories
        if h.entries[0].note.startswith("timed out") and h.entries[-2].value == 1
    ]
    assert exercised, "no schedule showed a timed-out write taking effect later"
    for h in exercised:  # the caller gave up at 1 s; the lock, and so the write, came at 2 s
        assert h.entries[0].t_finished == 1.0
        assert h.entries[-2].t_finished is not None and h.entries[-2].t_finished >= 2.0


def test_timeouts_pass_under_generated_scenarios_faults_and_crashes() -> None:
    result = lin.explore(CONTENDED, scenarios=10, schedules=10, faults=harness.Faults(crash=1))
    assert not result.failed, result.report


def test_timeouts_pass_on_real_aiosqlite() -> None:
    # the write waits on real SQLite's busy handler in aiosqlite's thread, past its caller's
    # timeout (1 s here is never reached only if the machine stalls; either way: no violation)
    real = dataclasses.replace(
        CONTENDED,
        operations=[
            lin.operation("put", KEYS, st.integers(0, 3), timeout=0.02),
            lin.operation("get", KEYS),
        ],
    )
    histories = lin.run_real(real, lin.Scenario.parse("actor 1: put('a', 1); get('a')"), runs=3)
    assert len(histories) == 3


# ------------------------------------------------------ durability across crashes
class WriteBack(FixedKV):
    """Acknowledges a put once it is in an in-memory cache; a background task writes it."""

    cache: dict[str, int]
    flushes: list[Any]

    @classmethod
    async def open(cls, sim: Any) -> Any:
        store = await super().open(sim)
        store.cache, store.flushes = {}, []
        return store

    async def put(self, key: str, value: int) -> None:
        self.cache[key] = value
        self.flushes.append(asyncio.ensure_future(super().put(key, value)))

    async def get(self, key: str) -> int | None:
        return self.cache[key] if key in self.cache else await super().get(key)

    async def close(self) -> None:
        await asyncio.gather(*self.flushes)
        await super().close()


WRITE_BACK = kv_spec(
    WriteBack,
    operations=[
        lin.operation("put", KEYS, st.integers(0, 3)),
        lin.operation("get", KEYS, generated=False),  # only the observations read
    ],
)


def test_an_acknowledged_write_lost_in_a_crash_is_found_as_a_durability_violation() -> None:
    assert not lin.explore(WRITE_BACK, scenarios=10, schedules=10).failed  # no crash: fine
    result = lin.explore(WRITE_BACK, scenarios=10, schedules=20, faults=harness.Faults(crash=1))
    assert result.failed
    report = result.report
    assert report.startswith("durability violation in WriteBack")
    assert "── crash 1 at" in report
    assert "-> None" in report  # a read after recovery that misses the acknowledged put


def test_the_fixed_store_passes_on_real_aiosqlite() -> None:
    for text in (
        INCR_INCR,
        "prefix: put('a', 2)\nactor 1: incr('a'); get('b')\nactor 2: put('b', 1)",
    ):
        histories = lin.run_real(FIXED, lin.Scenario.parse(text), runs=3, seed=5)
        assert len(histories) == 3
        assert all(h.entries[-2].call == lin.Call("get", ("a",)) for h in histories)


def test_a_schedule_that_fails_before_its_history_is_checked_is_reported_as_such() -> None:
    async def broken(sim: Any) -> Any:
        raise RuntimeError("cannot open")

    result = lin.explore_one(dataclasses.replace(FIXED, setup=broken), INCR_INCR, schedules=2)
    assert result.failed and isinstance(result.error, RuntimeError)
    assert result.report.startswith("the scenario failed before its history could be checked")


def test_a_checker_out_of_budget_stops_the_exploration_instead_of_failing_it() -> None:
    with pytest.raises(lin.UndecidedError, match="gave up after"):
        lin.explore_one(FIXED, INCR_INCR, schedules=2, max_nodes=1)
    assert isinstance(lin.UndecidedError("x"), harness.HarnessError)
