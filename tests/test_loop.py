"""The controlled loop keeps asyncio's guarantees and runs on virtual time."""

from __future__ import annotations

import asyncio
import time

import anyio
import pytest

import harness
from tests.bodies import lock_counter


def test_lock_protected_counter_passes_every_schedule_within_bound_2() -> None:
    result = harness.explore(lock_counter, schedules=20_000, strategy=harness.Exhaustive(2))
    assert not result.failed
    assert result.exhausted
    assert result.schedules_run == result.distinct_schedules > 10


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_lock_protected_counter_passes_random_and_pct(strategy: str) -> None:
    result = harness.explore(lock_counter, schedules=300, strategy=strategy, seed=3)
    assert not result.failed
    assert result.schedules_run == 300


async def queue_pipeline(sim: harness.Sim) -> None:
    """Two producers, two consumers, an asyncio.Queue, and a database log of what was consumed."""
    db = await sim.connect("q.db", isolation_level=None)
    await db.execute("CREATE TABLE log(item TEXT)")
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=2)
    seen: list[str] = []

    async def produce(name: str) -> None:
        for i in range(3):
            await queue.put(f"{name}{i}")

    async def consume() -> None:
        while (item := await queue.get()) is not None:
            seen.append(item)
            await db.execute("INSERT INTO log VALUES (?)", (item,))

    consumers = [asyncio.create_task(consume()) for _ in range(2)]
    await asyncio.gather(produce("a"), produce("b"))
    for _ in consumers:
        await queue.put(None)
    await asyncio.gather(*consumers)
    rows = await db.execute_fetchall("SELECT item FROM log")
    await db.close()
    assert sorted(seen) == sorted(r[0] for r in rows) == [f"{p}{i}" for p in "ab" for i in range(3)]
    # the queue is FIFO: each producer's items leave it in order
    for p in "ab":
        mine = [s for s in seen if s.startswith(p)]
        assert mine == sorted(mine)


def test_queue_producers_consumers_pass_every_schedule() -> None:
    assert not harness.explore(queue_pipeline, schedules=300, strategy="random").failed
    result = harness.explore(queue_pipeline, schedules=50_000, strategy=harness.Exhaustive(1))
    assert not result.failed and result.exhausted


async def creation_order(sim: harness.Sim) -> None:
    """Tasks start in creation order, whatever the environment does meanwhile."""
    db = await sim.connect("o.db")
    started: list[int] = []

    async def worker(i: int) -> None:
        started.append(i)
        await db.execute("SELECT ?", (i,))

    pending = db.execute("SELECT 0")  # an operation in flight while tasks are created
    tasks = [asyncio.create_task(worker(i)) for i in range(4)]
    await pending
    await asyncio.gather(*tasks)
    await db.close()
    assert started == [0, 1, 2, 3]


def test_tasks_start_in_creation_order_in_every_schedule() -> None:
    result = harness.explore(creation_order, schedules=10_000, strategy=harness.Exhaustive(2))
    assert not result.failed and result.exhausted


async def long_sleeper(sim: harness.Sim) -> None:
    await asyncio.sleep(3600)
    assert sim.now() == 3600.0
    await anyio.sleep(1800)
    assert sim.now() == 5400.0
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    loop.call_later(7.5, lambda: fired.append(loop.time()))
    await asyncio.sleep(10)
    assert fired == [5407.5]
    assert time.time() == pytest.approx(1_767_225_600.0 + 5410.0)  # wall clock is virtual too


def test_an_hour_of_sleep_costs_no_wall_time() -> None:
    # the body sleeps 5400 s of virtual time; a real clock would make this test hang
    result = harness.explore(long_sleeper, schedules=3)
    assert not result.failed, result.failures


async def timeouts(sim: harness.Sim) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.sleep(10), timeout=2.5)
    assert sim.now() == 2.5
    with anyio.move_on_after(4) as scope:
        await anyio.sleep(100)
    assert scope.cancelled_caught and sim.now() == 6.5
    async with asyncio.timeout(1):
        await asyncio.sleep(0.25)
    assert sim.now() == 6.75
    # time.time / monotonic follow the virtual clock inside a simulation
    t0 = time.monotonic()
    await asyncio.sleep(2)
    assert time.monotonic() - t0 == pytest.approx(2.0)


def test_timeouts_fire_at_the_right_virtual_instant() -> None:
    result = harness.explore(timeouts, schedules=2)
    assert not result.failed, result.failures and result.failures[0].error


async def executor_work(sim: harness.Sim) -> None:
    loop = asyncio.get_running_loop()
    a = loop.run_in_executor(None, lambda: "pool")
    b = asyncio.to_thread(lambda: "to_thread")
    c = anyio.to_thread.run_sync(lambda: "anyio")
    assert await asyncio.gather(a, b, c) == ["pool", "to_thread", "anyio"]


def test_executor_work_is_an_environment_step_not_a_thread() -> None:
    result = harness.explore(executor_work, schedules=50, strategy="random")
    assert not result.failed
    assert result.distinct_schedules > 1  # the pool's completions are ordered by the strategy


async def deadlocked(sim: harness.Sim) -> None:
    ready = asyncio.Event()

    async def waiter() -> None:
        await ready.wait()

    await asyncio.gather(waiter(), waiter())


def test_a_deadlocked_body_ends_with_a_clear_error_naming_the_stuck_tasks() -> None:
    result = harness.explore(deadlocked, schedules=3)
    assert result.failed
    error = result.failures[0].error
    assert isinstance(error, harness.DeadlockError)
    message = str(error)
    assert "deadlock" in message and "task-2" in message and "task-3" in message
    assert "Event.wait" in message


async def runaway(sim: harness.Sim) -> None:
    async def spinner() -> None:
        while True:
            await asyncio.sleep(0)

    await spinner()


def test_a_runaway_body_hits_the_step_budget() -> None:
    result = harness.explore(runaway, schedules=2, max_steps=2_000)
    error = result.failures[0].error
    assert isinstance(error, harness.LivelockError)
    assert "step budget of 2000" in str(error) and "main" in str(error)


async def ticking_forever(sim: harness.Sim) -> None:
    while True:
        await asyncio.sleep(1)


def test_virtual_time_does_not_save_a_runaway_from_the_budget() -> None:
    result = harness.explore(ticking_forever, schedules=1, max_steps=500)
    assert isinstance(result.failures[0].error, harness.LivelockError)


@pytest.mark.parametrize("what", ["sleep", "thread", "socket"])
def test_escapes_are_reported_naming_what_escaped(what: str) -> None:
    async def body(sim: harness.Sim) -> None:
        if what == "sleep":
            time.sleep(0.01)
        elif what == "thread":
            import threading

            threading.Thread(target=print).start()
        else:
            import socket

            with socket.socket() as s:
                s.connect(("127.0.0.1", 9))

    with pytest.raises(harness.EscapeError) as info:
        harness.explore(body, schedules=1)
    assert {"sleep": "time.sleep", "thread": "thread", "socket": "socket"}[what] in str(info.value)


def test_escape_is_reported_even_if_the_body_swallows_it() -> None:
    async def body(sim: harness.Sim) -> None:
        try:
            time.sleep(1)
        except Exception:
            pass

    with pytest.raises(harness.EscapeError):
        harness.explore(body, schedules=1)


def test_patches_are_restored_after_exploration() -> None:
    before = (time.time, time.sleep, asyncio.get_event_loop_policy())
    harness.explore(long_sleeper, schedules=1)
    assert (time.time, time.sleep, asyncio.get_event_loop_policy()) == before
    assert abs(time.time() - 1_767_225_600.0) > 1_000  # the real clock, not the virtual one


async def fifo_dependent(sim: harness.Sim) -> None:
    """Correct on asyncio (callbacks run in FIFO order), wrong on a loop that reorders them."""
    order: list[int] = []
    loop = asyncio.get_running_loop()
    for i in range(4):
        loop.call_soon(order.append, i)
    await asyncio.sleep(0)
    assert order == [0, 1, 2, 3], order


def test_chaos_mode_perturbs_callback_order_but_the_default_never_does() -> None:
    assert not harness.explore(fifo_dependent, schedules=200, strategy="random").failed
    result = harness.explore(fifo_dependent, schedules=200, strategy="random", chaos=True)
    assert result.failed
    run = harness.replay(fifo_dependent, result.failures[0].token)  # chaos is in the token
    assert isinstance(run.error, AssertionError)
