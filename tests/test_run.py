"""One schedule as a program: setup and teardown per schedule, and what passes through."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import aiosqlite
import pytest

import harness


def _recorder(log: list[str], name: str):
    async def step(sim: harness.Sim) -> None:
        log.append(f"{name}@{sim.crashes}")

    return step


def test_setup_and_teardown_run_once_in_every_schedule() -> None:
    log: list[str] = []

    async def body(sim: harness.Sim) -> None:
        log.append("body")

    result = harness.explore(
        body,
        schedules=3,
        strategy="random",
        setup=_recorder(log, "setup"),
        teardown=_recorder(log, "teardown"),
    )
    assert result.schedules_run == 3
    assert log == ["setup@0", "body", "teardown@0"] * 3


def test_teardown_runs_when_the_body_fails_and_the_failure_is_the_bodys() -> None:
    log: list[str] = []

    async def body(sim: harness.Sim) -> None:
        raise ValueError("boom")

    result = harness.explore(body, schedules=2, teardown=_recorder(log, "teardown"))
    assert result.failed
    assert isinstance(result.failures[0].error, ValueError)
    assert "teardown@0" in log


def test_a_teardown_closes_what_a_module_level_cache_kept() -> None:
    cache: dict[str, object] = {}

    async def get_db(sim: harness.Sim):
        if "db" not in cache:
            cache["db"] = await sim.connect("app.db", isolation_level=None)
        return cache["db"]

    async def body(sim: harness.Sim) -> None:
        db = await get_db(sim)
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")  # type: ignore[attr-defined]

    async def dispose(sim: harness.Sim) -> None:
        db = cache.pop("db", None)
        if db is not None:
            await db.close()  # type: ignore[attr-defined]

    result = harness.explore(body, schedules=4, strategy="random", teardown=dispose)
    assert not result.failed, result.failures and result.failures[0].timeline
    assert result.schedules_run == 4


def test_setup_runs_again_in_the_incarnation_after_a_crash() -> None:
    log: list[str] = []

    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("app.db", isolation_level=None)
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
        await db.execute("INSERT INTO t VALUES (1)")
        await db.close()

    async def recover(sim: harness.Sim) -> None:
        log.append("recover")

    harness.explore(
        body,
        schedules=30,
        strategy="random",
        faults=harness.Faults(crash=1),
        recover=recover,
        setup=_recorder(log, "setup"),
        stop_on_first=False,
    )
    assert "recover" in log, "some schedule crashed"
    for i, entry in enumerate(log):
        if entry == "recover":
            assert log[i - 1] == "setup@1"  # process start, before recover(sim)


@pytest.mark.parametrize(
    "outcome",
    [pytest.skip.Exception, pytest.xfail.Exception, pytest.fail.Exception, KeyboardInterrupt],
    ids=["skip", "xfail", "fail", "KeyboardInterrupt"],
)
def test_pytest_outcomes_and_interrupts_end_the_exploration_unchanged(
    outcome: type[BaseException],
) -> None:
    ran = []

    async def body(sim: harness.Sim) -> None:
        ran.append(1)
        raise outcome("from the body")

    with pytest.raises(outcome, match="from the body"):
        harness.explore(body, schedules=10)
    assert ran == [1]


def test_setup_must_be_callable() -> None:
    async def body(sim: harness.Sim) -> None:
        pass

    with pytest.raises(TypeError, match="setup= must be an async function"):
        harness.explore(body, setup="nope")  # type: ignore[arg-type]


def test_a_recover_with_the_wrong_signature_is_one_clear_type_error() -> None:
    async def body(sim: harness.Sim) -> None:
        pass

    async def recover() -> None:  # forgot the sim
        pass

    with pytest.raises(TypeError) as info:
        harness.explore(body, recover=recover)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("recover= must be an async function taking one argument")


def test_the_collector_is_off_in_a_schedule_and_the_heap_frozen_only_for_the_exploration() -> None:
    import gc

    seen: list[tuple[bool, int]] = []

    async def body(sim: harness.Sim) -> None:
        seen.append((gc.isenabled(), gc.get_freeze_count()))

    before = gc.get_freeze_count()  # 0, but CPython 3.12's start-up freezes some objects
    assert gc.isenabled()
    harness.explore(body, schedules=3, strategy="random")
    assert gc.isenabled()
    assert seen and all(not enabled for enabled, _ in seen)
    if before == 0:
        assert all(frozen > 0 for _, frozen in seen)
        assert gc.get_freeze_count() == 0  # unfrozen when it ended
    else:  # something froze objects already: left as it was, never unfrozen
        assert gc.get_freeze_count() > 0


def test_a_program_that_froze_its_heap_itself_keeps_it_frozen() -> None:
    import gc

    async def body(sim: harness.Sim) -> None:
        await asyncio.sleep(0)

    gc.freeze()
    try:
        assert not harness.explore(body, schedules=2, strategy="random").failed
        assert gc.get_freeze_count() > 0  # harness's gc.unfreeze() would have emptied it
    finally:
        gc.unfreeze()


def test_a_schedule_leaves_no_cyclic_garbage() -> None:
    """Loops, tasks, workers and connections are freed by reference counting at the end.

    (Otherwise every schedule's world waits for the cyclic collector, which
    then scans it, and what the records still hold, again and again.)
    """
    import gc

    async def body(sim: harness.Sim) -> None:
        db = await sim.connect("kv.db", isolation_level=None)
        await db.execute("CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT)")

        async def write(value: str) -> None:
            await db.execute("INSERT OR REPLACE INTO kv VALUES ('k', ?)", (value,))

        await asyncio.gather(write("v1"), write("v2"))
        assert await db.execute_fetchall("SELECT v FROM kv")
        await db.close()

    assert not harness.explore(body, schedules=3, strategy="random").failed  # warm caches
    gc.collect()
    gc.disable()
    try:
        assert not harness.explore(body, schedules=5, strategy="random").failed
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_connection_open_at_a_crash_does_not_keep_its_schedule_alive() -> None:
    """Connections open when a process crashes or a schedule ends: their worlds are freed.

    The ended process's ``aiosqlite.Connection`` is kept until nothing refers
    to it (so a later use is a clean stale-connection error). It must not
    refer, through its queue, its worker and a job's future, to its own world:
    that kept every such schedule's loop, tasks and SQLite state for the rest
    of the process (flush-cursor's crashes: 13 worlds in 20 schedules, each
    exploration slower than the last). And it is let go once nothing else
    refers to it, however often it was kept (a crash, then the schedule's end).
    """
    import gc

    from harness._world import World
    from harness.scenarios import get

    def worlds() -> int:
        gc.collect()
        return sum(1 for obj in gc.get_objects() if type(obj) is World)

    def connections() -> set[weakref.ref[Any]]:
        gc.collect()
        return {weakref.ref(o) for o in gc.get_objects() if isinstance(o, aiosqlite.Connection)}

    before = worlds()
    older = {ref() for ref in connections()}
    left: list[set[weakref.ref[Any]]] = []
    for _ in range(3):
        result = get("flush-cursor").explore("reference", schedules=20, strategy="random")
        assert not result.failed and result.schedules_run == 20
        del result
        left.append({ref for ref in connections() if ref() not in older})
    assert worlds() == before
    # what an exploration left is let go by the next one (a crash and the end
    # of its schedule both put a connection in the graveyard: it is kept once)
    assert left[0] and not [ref for ref in left[0] | left[1] if ref() is not None]
